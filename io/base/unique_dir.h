// UniqueDir: sole owner of a DIR* stream (and so of its fd), closed on
// destruction.
//
// Thread-safety: not shared; move between threads freely.
#ifndef STRATA_IO_BASE_UNIQUE_DIR_H_
#define STRATA_IO_BASE_UNIQUE_DIR_H_

#include <dirent.h>

#include <utility>

namespace strata {

class UniqueDir {
 public:
  UniqueDir() = default;
  explicit UniqueDir(DIR* dir) : dir_(dir) {}
  UniqueDir(UniqueDir&& o) noexcept : dir_(std::exchange(o.dir_, nullptr)) {}
  UniqueDir& operator=(UniqueDir&& o) noexcept {
    if (this != &o) reset(std::exchange(o.dir_, nullptr));
    return *this;
  }
  UniqueDir(const UniqueDir&) = delete;
  UniqueDir& operator=(const UniqueDir&) = delete;
  ~UniqueDir() { reset(); }

  DIR* get() const { return dir_; }
  bool valid() const { return dir_ != nullptr; }
  // The stream's descriptor, owned by the stream. REQUIRES: valid().
  int fd() const { return ::dirfd(dir_); }
  void reset(DIR* dir = nullptr) {
    if (dir_ != nullptr) ::closedir(dir_);
    dir_ = dir;
  }

 private:
  DIR* dir_ = nullptr;
};

}  // namespace strata

#endif  // STRATA_IO_BASE_UNIQUE_DIR_H_
