// The changes between a snapshot and its parent, with containerd's
// semantics (continuity's fs.Changes, the walking differ's double walk):
// what a layer made of them must rebuild the upper tree when applied onto
// the lower one.
//
// Two walkers, one per way a backend stores a snapshot:
// - OverlayChanges walks only an overlay upper directory (the snapshot's own
//   layer) and looks names up in its lower layers, nearest first, as
//   overlayfs does: the change set is the upper directory itself. Overlay
//   whiteouts (char 0/0) are deletions (of what the lowers still show), an
//   opaque directory (trusted.overlay.opaque=y) hides everything below it,
//   metacopy files (trusted.overlay.metacopy) take their data from the
//   lowers. A renamed directory (trusted.overlay.redirect: redirect_dir=on,
//   which Strata's mounts never ask for) is Unimplemented: its content lives
//   under another lower path.
// - TreeChanges walks two full trees side by side (reflink and copy
//   backends), merging each directory's sorted names. A file whose extents
//   are the same physical extents as its counterpart's (a reflink clone
//   nobody wrote since) is equal without its bytes being read (FIEMAP).
//
// Both apply containerd's test for "the same entry": same inode, or equal
// type and permission bits, owner, device number and security.capability
// xattr; for non-directories also equal size and mtime seconds, and then
// equal nanoseconds (non-zero), or equal content when both are zero (tar
// extraction leaves zero nanoseconds). A directory's mtime alone is no
// change. An unchanged non-directory with more than one link is reported as
// kUnmodifiedLink, so a writer can keep the links of a changed peer.
//
// Order: pre-order, each directory's names sorted bytewise; deletions in
// place. Before any change, every ancestor directory not itself changed is
// reported once as kParent (a layer must carry a changed entry's parents,
// with the upper tree's metadata). A kUnmodifiedLink comes without them:
// a writer that writes it at once calls Change::parents first.
//
// Hostile trees (a container shapes its upper directory): no symlink is
// followed, no mount crossed (a mount point is reported, never entered),
// depth and directory sizes are bounded (ChangeLimits), and an entry that
// changes type or inode while walked is an error naming it
// (FailedPrecondition), never a wrong answer.
//
// Thread-safety: reentrant; the descriptors are borrowed and only read.
#ifndef STRATA_IO_DIFF_CHANGES_H_
#define STRATA_IO_DIFF_CHANGES_H_

#include <sys/stat.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "io/base/status.h"

namespace strata {

enum class ChangeKind {
  kAdd,             // absent below
  kModify,          // present below, different (or of another type)
  kDelete,          // present below, absent above
  kOpaque,          // overlay: a directory that hides everything below it
  kParent,          // an unchanged directory above a change
  kUnmodifiedLink,  // an unchanged file with links (see above)
};

// 'A', 'C', 'D' as `docker diff` prints them ('C' for kOpaque, ' ' for the
// kinds a listing omits).
char ChangeLetter(ChangeKind kind);

struct Change {
  ChangeKind kind = ChangeKind::kAdd;
  std::string_view path;  // relative, no leading or trailing '/' ("" root)
  // kDelete only: implied by an opaque directory already reported (a
  // listing shows it; a layer's opaque marker already deletes it).
  bool implied = false;
  // Every kind but kDelete: the entry in the upper tree, as `name` in the
  // open directory `dir` (borrowed for the call), and its lstat.
  int dir = -1;
  const char* name = nullptr;
  const struct stat* st = nullptr;
  // Regular files: the directory to open `name` in for the data (a metacopy
  // file's lower); == dir otherwise. data_size: the data's length.
  int data_dir = -1;
  int64_t data_size = 0;
  // kUnmodifiedLink only: reports the ancestors not reported yet (as
  // kParent, through the same visitor). Valid during the call.
  const std::function<Status()>* parents = nullptr;
};

using ChangeVisitor = std::function<Status(const Change&)>;

struct ChangeLimits {
  // Directories below the root (a deeper one is ResourceExhausted).
  int max_depth = 1024;
  // Entries one directory may hold.
  size_t max_dir_entries = size_t{1} << 20;
};

// The upper directory `upper` over `lowers` (nearest first; all borrowed,
// opened O_RDONLY|O_DIRECTORY or O_PATH|O_DIRECTORY).
Status OverlayChanges(int upper, const std::vector<int>& lowers,
                      const ChangeVisitor& visit, ChangeLimits limits = {});

// Full tree `upper` against full tree `lower` (-1: an empty tree).
Status TreeChanges(int lower, int upper, const ChangeVisitor& visit,
                   ChangeLimits limits = {});

}  // namespace strata

#endif  // STRATA_IO_DIFF_CHANGES_H_
