// Extractor: applies an OCI layer (a stream of tar entries) to a directory, as
// if extracted in a chroot.
//
// - Paths are cleaned lexically against "/" and directories are resolved with
//   RESOLVE_IN_ROOT (root_dir.h): nothing is ever written outside the root.
//   Hardlink targets resolve inside the root too.
// - No final component is ever followed: entries are created with calls that
//   do not follow (mkdirat, symlinkat, mknodat, linkat, O_EXCL|O_NOFOLLOW),
//   whatever is in the way is replaced (an existing directory kept for a
//   directory entry), and ownership, mode, xattrs and times are set through
//   an O_NOFOLLOW descriptor of the entry itself (io/fs/path_fd.h). What the
//   extractor remembers about entries is keyed by canonical path, so an alias
//   ("l/x" with `l -> .`) is the same entry as "x".
// - OCI whiteouts: `.wh.<name>` and `.wh..wh..opq` become overlayfs whiteouts
//   (0/0 character device, trusted.overlay.opaque=y) in kOverlay mode, or
//   delete the named entries (lower entries of the directory, for opaque) in
//   kDelete mode (a full-tree snapshot).
// - Later entries replace earlier ones (a file over a directory and back).
// - Ownership is applied when running as root; device nodes only as root
//   (otherwise skipped and counted); trusted.overlay.* xattrs from the archive
//   are refused. Directory times are fixed up after their contents.
// - Small regular files go to a FileSink (io_uring batches); large and sparse
//   ones stream through one buffer, so memory does not grow with the layer.
//
// The first error stops extraction and names the entry. The caller removes the
// partial tree (the snapshot) on error.
//
// Thread-safety: one Apply at a time per Extractor.
#ifndef STRATA_IO_EXTRACT_EXTRACTOR_H_
#define STRATA_IO_EXTRACT_EXTRACTOR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

#include "io/base/result.h"
#include "io/base/sha256.h"
#include "io/fs/fs_util.h"
#include "io/fs/root_dir.h"
#include "io/sink/content_share.h"
#include "io/sink/file_sink.h"
#include "io/tar/tar_reader.h"

namespace strata {

// A pull stream of archive entries and their data (TarReader's shape).
class EntryStream {
 public:
  virtual ~EntryStream() = default;
  virtual Result<bool> Next(TarEntry* entry) = 0;
  virtual Result<size_t> ReadData(char* buf, size_t n) = 0;
};

enum class WhiteoutMode { kOverlay, kDelete };

struct ExtractOptions {
  WhiteoutMode whiteouts = WhiteoutMode::kOverlay;
  // Defaults follow the effective uid: root applies owners and makes devices.
  bool same_owner;
  bool allow_devices;
  // Memory for what the extractor remembers by path: the entries it created
  // (over the budget they are forgotten, and later entries look before they
  // create) and the directories whose times it sets last (over the budget
  // the layer is refused, ResourceExhausted).
  size_t max_tracked_bytes = 64 << 20;
  // Deepest directory level an entry may sit at (0: no limit). An entry
  // whose depth cannot be known (its directory's path is longer than the
  // kernel names) counts as too deep.
  int max_depth = 0;
  // Called after every entry with the running totals (progress display).
  std::function<void(const struct ExtractStats&)> progress;
  // Content sharing (content_share.h): regular files of at least
  // share_min_bytes are digested (SHA-256), listed in digested(), and share
  // the extents of an equal file `share` proposes. Null: no digests.
  ContentShare* share = nullptr;
  int64_t share_min_bytes = 1;
  ExtractOptions();
};

struct ExtractStats {
  int64_t entries = 0;
  int64_t files = 0;
  int64_t dirs = 0;
  int64_t links = 0;      // symlinks and hardlinks
  int64_t whiteouts = 0;  // both kinds
  int64_t skipped_devices = 0;
  int64_t file_bytes = 0;
  // Content sharing: files created as clones of an equal stored file and
  // their bytes; proposals that could not be cloned.
  int64_t shared_files = 0;
  int64_t shared_bytes = 0;
  int64_t share_refused = 0;
};

class ChunkHasher;

class Extractor {
 public:
  // Extracts into the directory open at root_fd (any open mode, O_PATH
  // included), which the caller keeps open until Apply returns: the target
  // is never looked up by path again, so a rename of it or of its parents
  // cannot redirect the extraction. REQUIRES: sink outlives the extractor.
  Extractor(int root_fd, FileSink& sink, ExtractOptions opts = {});
  // Opens root now (O_DIRECTORY|O_NOFOLLOW); Apply returns any open error.
  Extractor(const std::string& root, FileSink& sink, ExtractOptions opts = {});
  ~Extractor();
  Result<ExtractStats> Apply(EntryStream& in);
  // The regular files Apply digested (ExtractOptions::share), in no
  // particular order; a path written twice appears twice. Bounded: past
  // max_tracked_bytes of paths the rest are not listed.
  std::vector<DigestedFile>& digested() { return digested_; }

 private:
  struct DirTimes {
    std::string path;
    timespec times[2];
  };

  Status ApplyEntry(TarEntry& e, EntryStream& in);
  Result<ResolvedDir> OpenParent(const std::string& dir);
  Result<ResolvedDir> MakeParents(const std::string& dir);
  Status ClearPath(const ResolvedDir& parent, const std::string& name,
                   const std::string& path, bool keep_dir);
  Status ForceClear(const ResolvedDir& parent, const std::string& name,
                    const std::string& path);
  Status CreateAt(const ResolvedDir& parent, const std::string& name,
                  const std::string& path, const std::function<int()>& make,
                  const char* what);
  Result<UniqueFd> OpenCreated(const ResolvedDir& parent,
                               const std::string& name, mode_t type);
  Status RemoveAt(const ResolvedDir& parent, const std::string& name);
  Status Whiteout(const std::string& dir, const std::string& name);
  Status Opaque(const std::string& dir);
  Status WriteFile(const TarEntry& e, FileJob job, EntryStream& in);
  Status WriteBig(const TarEntry& e, const FileJob& job, EntryStream& in);
  Status WriteHeld(const TarEntry& e, const FileJob& job, EntryStream& in);
  ChunkHasher& Hasher();  // hasher_, made at first use
  bool Digests(const TarEntry& e) const;
  void RefreshLinkedIdentities();
  Status SetMetadataFd(const TarEntry& e, int fd);
  Status FixupDirTimes();
  void Remember(const std::string& path);
  Status RememberTimes(DirTimes t);

  int root_fd_ = -1;
  UniqueFd owned_root_;  // when constructed from a path
  Status open_error_;
  FileSink& sink_;
  ExtractOptions opts_;
  std::unique_ptr<RootDir> root_;
  // The root was empty: a path this layer did not create does not exist.
  bool fresh_ = false;
  std::unordered_set<std::string> created_;  // canonical paths
  size_t tracked_bytes_ = 0;                 // of created_
  bool forgot_created_ = false;              // created_ outgrew its budget
  size_t times_bytes_ = 0;                   // of dir_times_
  std::vector<DirTimes> dir_times_;
  std::vector<char> big_buf_;  // kBigRing chunks of kBigBuffer
  // Digests a streamed large file's chunks on its own thread while this one
  // writes them (made at the first such file).
  std::unique_ptr<ChunkHasher> hasher_;
  // A large file held whole until its digest is known (kMaxHeldFile).
  std::unique_ptr<char[]> held_;
  size_t held_size_ = 0;
  ShareLog share_log_{opts_.max_tracked_bytes};
  std::vector<DigestedFile> digested_;
  bool hardlinked_ = false;  // the layer made a hardlink
  ExtractStats stats_;
};

}  // namespace strata

#endif  // STRATA_IO_EXTRACT_EXTRACTOR_H_
