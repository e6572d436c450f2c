// Extractor: applies an OCI layer (a stream of tar entries) to a directory, as
// if extracted in a chroot.
//
// - Paths are cleaned lexically against "/" and directories are resolved with
//   RESOLVE_IN_ROOT (root_dir.h): nothing is ever written outside the root.
//   Hardlink targets resolve inside the root too.
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
#include "io/extract/file_sink.h"
#include "io/extract/root_dir.h"
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
  // Called after every entry with the running totals (progress display).
  std::function<void(const struct ExtractStats&)> progress;
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
};

class Extractor {
 public:
  // REQUIRES: root exists and is a directory; sink outlives the extractor.
  Extractor(std::string root, FileSink& sink, ExtractOptions opts = {});
  Result<ExtractStats> Apply(EntryStream& in);

 private:
  struct DirTimes {
    std::string path;
    timespec times[2];
  };

  Status ApplyEntry(TarEntry& e, EntryStream& in);
  Result<SharedFd> MakeParents(const std::string& dir);
  Status ClearPath(const SharedFd& parent, const std::string& name, const std::string& path,
                   bool keep_dir);
  Status RemoveAt(const SharedFd& parent, const std::string& name);
  Status Whiteout(const std::string& dir, const std::string& name);
  Status Opaque(const std::string& dir);
  Status WriteFile(const TarEntry& e, FileJob job, EntryStream& in);
  Status SetMetadata(const TarEntry& e, const SharedFd& parent, const std::string& name,
                     bool is_symlink);
  Status FixupDirTimes();

  std::string root_path_;
  FileSink& sink_;
  ExtractOptions opts_;
  std::unique_ptr<RootDir> root_;
  bool fresh_ = false;  // root was empty: paths not created by us do not exist
  std::unordered_set<std::string> created_;
  std::vector<DirTimes> dir_times_;
  std::vector<char> big_buf_;
  ExtractStats stats_;
};

}  // namespace strata

#endif  // STRATA_IO_EXTRACT_EXTRACTOR_H_
