// TempDir: a fresh directory under /tmp (or $TMPDIR), removed with its
// contents when the object dies. Unmounts nothing: tests that mount must
// unmount before the TempDir goes away.
#ifndef STRATA_TESTS_TESTUTIL_TEMP_DIR_H_
#define STRATA_TESTS_TESTUTIL_TEMP_DIR_H_

#include <stdlib.h>

#include <cstdlib>
#include <string>

#include "io/fs/fs_util.h"

namespace strata {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base && *base ? base : "/tmp") + "/strata-test-XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (!path_.empty()) RemoveAll(path_).IgnoreError();
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const {
    return path_ + "/" + rel;
  }

 private:
  std::string path_;
};

// Entries in dir, without . and .. (0 for a missing dir, -1 if unreadable).
inline int CountEntries(const std::string& dir) {
  auto names = ListDir(dir);
  return names.ok() ? static_cast<int>(names->size()) : -1;
}

}  // namespace strata

#endif  // STRATA_TESTS_TESTUTIL_TEMP_DIR_H_
