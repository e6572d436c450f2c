// Content sharing at write time: a regular file about to be written shares
// the extents of an already stored file with the same content instead
// (README "Storage efficiency").
//
// The sink digests the bytes (SHA-256, collision-resistant) and asks
// ContentShare for a committed file with that digest; a proposal is a file
// whose digest was taken by the writer that wrote it, from the bytes it
// wrote, and whose inode still has the identity recorded then (same inode,
// same ctime: unchanged since). The new file is then created as a FICLONE
// of it: no byte is read or written. After writing, the sink records the
// file's digest and identity (ShareLog), which is what makes it a proposal
// for later layers once its snapshot is committed.
//
// Thread-safety: ContentShare implementations and ShareLog are called from
// the sink's worker threads concurrently.
#ifndef STRATA_IO_SINK_CONTENT_SHARE_H_
#define STRATA_IO_SINK_CONTENT_SHARE_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "io/base/result.h"
#include "io/base/sha256.h"
#include "io/base/unique_fd.h"
#include "io/fs/fs_util.h"

namespace strata {

class ContentShare {
 public:
  virtual ~ContentShare() = default;
  // A read-only descriptor of a regular file of `size` bytes whose SHA-256
  // (raw) is `digest`, unchanged since it was digested; invalid when none.
  virtual UniqueFd Open(std::string_view digest, int64_t size) = 0;
  // A hint, asked before a large file's bytes arrive: false when no stored
  // file can have `size` bytes, so the file is streamed to disk as it comes;
  // true makes the extractor hold it in memory (bounded) until its digest is
  // known, so a shared file is never written at all.
  virtual bool MayHave(int64_t size) { return size > 0; }
};

// What one extraction's sharing did: the files it digested (for the content
// index) and the counts. Bounded: past max_bytes of paths the digests are
// no longer listed (the counts go on).
class ShareLog {
 public:
  explicit ShareLog(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Records a file just written: its digest and, from fd, its identity.
  void Digested(std::string digest, int64_t size, const std::string& path,
                int fd);
  void Shared(int64_t bytes);
  void Refused();

  struct Totals {
    int64_t shared_files = 0;
    int64_t shared_bytes = 0;
    int64_t refused = 0;  // proposals that could not be cloned
  };
  Totals totals() const;
  std::vector<DigestedFile> TakeFiles();

 private:
  mutable std::mutex mu_;
  size_t max_bytes_;
  size_t bytes_ = 0;                 // GUARDED_BY(mu_)
  std::vector<DigestedFile> files_;  // GUARDED_BY(mu_)
  Totals totals_;                    // GUARDED_BY(mu_)
};

// Makes the empty file open at fd a clone of src (size bytes, FICLONE):
// true, counted as shared, when fd then holds exactly size bytes (a holder
// that changed size meanwhile does not count); false, counted as refused,
// with fd emptied again (an error if it cannot be).
Result<bool> CloneStored(int src, int64_t size, int fd, ShareLog& log);

// Fills the empty file open at fd with data, whose digest is `digest`: a
// clone of the stored file share proposes for it, where there is one and it
// clones, else data written. share (and log) null: written.
Status WriteOrShare(int fd, std::string_view data, std::string_view digest,
                    ContentShare* share, ShareLog* log);

}  // namespace strata

#endif  // STRATA_IO_SINK_CONTENT_SHARE_H_
