#include "io/sink/content_share.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace strata {

void ShareLog::Digested(std::string digest, int64_t size,
                        const std::string& path, int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != size) return;
  std::lock_guard<std::mutex> l(mu_);
  bytes_ += path.size() + digest.size() + sizeof(DigestedFile);
  if (bytes_ > max_bytes_) return;
  files_.push_back({std::move(digest), size, path, st.st_ino,
                    st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec});
}

void ShareLog::Shared(int64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  totals_.shared_files++;
  totals_.shared_bytes += bytes;
}

void ShareLog::Refused() {
  std::lock_guard<std::mutex> l(mu_);
  totals_.refused++;
}

ShareLog::Totals ShareLog::totals() const {
  std::lock_guard<std::mutex> l(mu_);
  return totals_;
}

std::vector<DigestedFile> ShareLog::TakeFiles() {
  std::lock_guard<std::mutex> l(mu_);
  return std::move(files_);
}

}  // namespace strata
