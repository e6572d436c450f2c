#include "io/sink/content_share.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "io/base/errno.h"
#include "io/clone/reflink.h"
#include "io/fs/fs_util.h"

namespace strata {

void ShareLog::Digested(std::string digest, int64_t size,
                        const std::string& path, int fd) {
  auto id = IdentityOf(fd);
  if (!id.ok() || id->size != size) return;
  std::string handle = FileHandleOf(fd);
  std::lock_guard<std::mutex> l(mu_);
  bytes_ += path.size() + digest.size() + handle.size() + sizeof(DigestedFile);
  if (bytes_ > max_bytes_) return;
  files_.push_back({std::move(digest), path, *id, std::move(handle)});
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
  // A path written twice keeps its last content only.
  std::unordered_map<std::string, size_t> last;
  for (size_t i = 0; i < files_.size(); ++i) last[files_[i].path] = i;
  std::vector<DigestedFile> out;
  out.reserve(last.size());
  for (size_t i = 0; i < files_.size(); ++i) {
    if (last[files_[i].path] == i) out.push_back(std::move(files_[i]));
  }
  files_.clear();
  return out;
}

Result<bool> CloneStored(int src, int64_t size, int fd, ShareLog& log) {
  struct stat st;
  if (CloneFileData(src, fd, size, DataMode::kReflink).ok() &&
      fstat(fd, &st) == 0 && st.st_size == size) {
    log.Shared(size);
    return true;
  }
  log.Refused();
  if (ftruncate(fd, 0) != 0) return PosixError("truncate", errno);
  return false;
}

Status WriteOrShare(int fd, std::string_view data, std::string_view digest,
                    ContentShare* share, ShareLog* log) {
  const auto size = static_cast<int64_t>(data.size());
  if (share != nullptr) {
    if (UniqueFd src = share->Open(digest, size); src.valid()) {
      STRATA_ASSIGN_OR_RETURN(bool cloned,
                              CloneStored(src.get(), size, fd, *log));
      if (cloned) return Status::Ok();
    }
  }
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("write", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace strata
