#include "bench/harness/common.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace strata {

std::string ExeDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

std::string FindReportScript() {
  std::string dir = ExeDir();
  for (const char* rel :
       {"/../../bench/report.py", "/../share/strata/bench/report.py"}) {
    std::string p = dir + rel;
    if (access(p.c_str(), R_OK) == 0) return p;
  }
  return "";
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

std::vector<double> SyncLatencies(const std::string& dir, int n,
                                  bool datasync) {
  std::vector<double> us;
  std::string path = dir + "/.strata-bench-fsync-probe";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return us;
  char buf[4096] = {};
  // The first write allocates; the floor is an overwrite.
  bool ok = pwrite(fd, buf, sizeof(buf), 0) == sizeof(buf) && fsync(fd) == 0;
  for (int i = 0; i < n && ok; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    ok = pwrite(fd, buf, sizeof(buf), 0) == sizeof(buf) &&
         (datasync ? fdatasync(fd) : fsync(fd)) == 0;
    if (ok) {
      us.push_back(std::chrono::duration<double, std::micro>(
                       std::chrono::steady_clock::now() - t0)
                       .count());
    }
  }
  close(fd);
  unlink(path.c_str());
  return us;
}

}  // namespace strata
