// LayerWriter: a change set (changes.h) as an OCI layer tar, entry for
// entry as containerd's walking differ writes it (its ChangeWriter):
// - a deletion is a whiteout `dir/.wh.<name>` (regular, size 0, mode 0,
//   owner 0:0, mtime 0 as containerd 2.x writes them); an opaque directory
//   is its entry followed by `dir/.wh..wh..opq`;
// - every other entry carries the upper tree's mode (permission bits with
//   setuid/setgid/sticky), numeric owner, whole-second mtime (clamped to
//   SOURCE_DATE_EPOCH when given), device numbers, link target and only the
//   security.capability xattr; sockets are skipped;
// - a file with links is written once; its other names in the change set
//   (changed or not: kUnmodifiedLink) become hard links to it, so applying
//   the layer keeps them linked.
// File data is read from the descriptors the walk handed over, checked
// against the inode it listed; a file that shrinks while read is an error
// naming it, one that grows is written at its listed size.
//
// Thread-safety: one writer per layer.
#ifndef STRATA_IO_DIFF_LAYER_WRITER_H_
#define STRATA_IO_DIFF_LAYER_WRITER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/base/result.h"
#include "io/decompress/source.h"
#include "io/diff/changes.h"
#include "io/tar/tar_writer.h"

namespace strata {

struct LayerOptions {
  // SOURCE_DATE_EPOCH in seconds: later mtimes are written as it. < 0: none.
  int64_t source_date_epoch = -1;
  // Owners as written, from the owners on disk (unset: as on disk): an
  // ID-mapped container's upper holds host IDs, its layer container IDs.
  std::function<uint32_t(uint32_t)> uid_map, gid_map;
};

class LayerWriter {
 public:
  // Does not own out; out must outlive the writer.
  explicit LayerWriter(ByteSink& out, LayerOptions opts = {});
  LayerWriter(const LayerWriter&) = delete;
  LayerWriter& operator=(const LayerWriter&) = delete;

  // A ChangeVisitor: writes what `c` puts in the layer.
  Status Handle(const Change& c);
  // Ends the archive.
  Status Close();

  int64_t entries() const { return entries_; }
  int64_t tar_bytes() const { return tar_.bytes_written(); }

 private:
  using Inode = std::pair<dev_t, ino_t>;
  Status Whiteout(std::string_view path, std::string_view base_name);
  Result<TarEntry> Header(const Change& c);
  Status CopyData(const Change& c);

  TarWriter tar_;
  LayerOptions opts_;
  int64_t entries_ = 0;
  std::map<Inode, std::string> link_source_;
  // Unchanged names of an inode whose changed name has not come yet.
  std::map<Inode, std::vector<TarEntry>> pending_links_;
  std::unique_ptr<char[]> buf_;
};

// What WriteLayer wrote: the tar's digest (the layer's DiffID) and length,
// the blob's (compressed) digest and length, and the tar's entries.
struct WrittenLayer {
  std::string diff_id;
  int64_t tar_bytes = 0;
  std::string digest;
  int64_t size = 0;
  int64_t entries = 0;
};

// The OCI layer media types a layer can be written as, and their
// compression: application/vnd.oci.image.layer.v1.tar, +gzip, +zstd. An
// empty type is +gzip (containerd's default) and is replaced by it.
// Unimplemented (naming the type) for any other.
Result<Compression> LayerCompression(std::string* media_type);

// Runs `walk` (OverlayChanges or TreeChanges, bound to their trees) into a
// LayerWriter and writes the layer to `out` compressed as `c`.
Result<WrittenLayer> WriteLayer(
    const std::function<Status(const ChangeVisitor&)>& walk, Compression c,
    ByteSink& out, LayerOptions opts = {});

}  // namespace strata

#endif  // STRATA_IO_DIFF_LAYER_WRITER_H_
