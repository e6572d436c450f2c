// Helpers the io/diff tests share: files with a fixed whole-second mtime
// (what a tar extraction leaves) and directories opened for the walkers.
#ifndef STRATA_IO_DIFF_DIFF_TEST_UTIL_H_
#define STRATA_IO_DIFF_DIFF_TEST_UTIL_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "io/base/unique_fd.h"

namespace strata {

// Writes `data` to `path` and sets its mtime to `mtime` seconds, 0 ns.
inline void WriteFileAt(const std::string& path, const std::string& data,
                        int64_t mtime = 1700000000) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0)
      << path;
}

inline UniqueFd OpenTree(const std::string& dir) {
  return UniqueFd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

}  // namespace strata

#endif  // STRATA_IO_DIFF_DIFF_TEST_UTIL_H_
