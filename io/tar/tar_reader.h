// PLACEHOLDER until branch `tar` lands: only the TarEntry type.
#ifndef STRATA_IO_TAR_TAR_READER_H_
#define STRATA_IO_TAR_TAR_READER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace strata {

struct TarEntry {
  enum class Type { kFile, kDirectory, kSymlink, kHardlink, kCharDevice, kBlockDevice, kFifo };
  Type type = Type::kFile;
  std::string path;
  std::string link_target;
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
  int64_t size = 0;
  int64_t mtime_sec = 0;
  int32_t mtime_nsec = 0;
  int64_t atime_sec = 0;
  int32_t atime_nsec = 0;
  uint32_t dev_major = 0, dev_minor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
  std::vector<std::pair<int64_t, int64_t>> sparse;
};

}  // namespace strata

#endif  // STRATA_IO_TAR_TAR_READER_H_
