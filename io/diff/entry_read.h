// Reading entries of a tree a container may be changing, for the change
// walkers and the layer writer: no symlink followed, every open checked
// against the inode the walk listed (FailedPrecondition "changed while
// compared" otherwise), paths shortened for messages.
//
// Thread-safety: reentrant.
#ifndef STRATA_IO_DIFF_ENTRY_READ_H_
#define STRATA_IO_DIFF_ENTRY_READ_H_

#include <sys/stat.h>

#include <string>
#include <string_view>

#include "io/base/result.h"
#include "io/base/unique_fd.h"

namespace strata {

// "/<path>", or its last 160 bytes after "/...".
std::string ShownPath(std::string_view path);

// FailedPrecondition naming `path`: it changed while read.
Status ChangedWhileRead(std::string_view path);

// Reads the xattr `key` of dirfd/name (the name's symlink not followed)
// into *value (when not null): false when it has none.
Result<bool> XattrAt(int dirfd, const char* name, const char* key,
                     std::string* value = nullptr);
Result<bool> XattrFd(int fd, const char* key, std::string* value = nullptr);

// dirfd/name opened as a directory (O_RDONLY) / a regular file for reading,
// checked to be the inode `want` is.
Result<UniqueFd> OpenDirChecked(int dirfd, const char* name,
                                const struct stat& want, std::string_view path);
Result<UniqueFd> OpenFileChecked(int dirfd, const char* name,
                                 const struct stat& want,
                                 std::string_view path);

}  // namespace strata

#endif  // STRATA_IO_DIFF_ENTRY_READ_H_
