// FakeStream: an EntryStream of hand-made tar entries and their data, for
// extractor tests and for tests that extract a layer into a snapshot.
#ifndef STRATA_TESTS_TESTUTIL_FAKE_STREAM_H_
#define STRATA_TESTS_TESTUTIL_FAKE_STREAM_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "io/extract/extractor.h"

namespace strata {

// Entries and their data, in order, as a tar reader would yield them.
class FakeStream : public EntryStream {
 public:
  FakeStream& Dir(std::string path, uint32_t mode = 0755) {
    return Add(TarEntry::Type::kDirectory, std::move(path), mode, "");
  }
  FakeStream& File(std::string path, std::string data, uint32_t mode = 0644) {
    return Add(TarEntry::Type::kFile, std::move(path), mode, std::move(data));
  }
  FakeStream& Symlink(std::string path, std::string target) {
    Add(TarEntry::Type::kSymlink, std::move(path), 0777, "");
    items_.back().entry.link_target = std::move(target);
    return *this;
  }
  FakeStream& Hardlink(std::string path, std::string target) {
    Add(TarEntry::Type::kHardlink, std::move(path), 0644, "");
    items_.back().entry.link_target = std::move(target);
    return *this;
  }
  FakeStream& Add(TarEntry::Type type, std::string path, uint32_t mode,
                  std::string data) {
    Item it;
    it.entry.type = type;
    it.entry.path = std::move(path);
    it.entry.mode = mode;
    it.entry.uid = it.entry.gid = 0;
    it.entry.size = static_cast<int64_t>(data.size());
    it.entry.mtime_sec = it.entry.atime_sec = 1500000000;
    it.data = std::move(data);
    items_.push_back(std::move(it));
    return *this;
  }
  TarEntry& Last() { return items_.back().entry; }
  // Pretend the archive is cut after `bytes` of the last entry's data.
  void TruncateLast(size_t bytes) { truncate_ = bytes; }

  Result<bool> Next(TarEntry* e) override {
    if (++pos_ >= static_cast<int>(items_.size())) return false;
    *e = items_[pos_].entry;
    off_ = 0;
    return true;
  }
  Result<size_t> ReadData(char* buf, size_t n) override {
    const std::string& d = items_[pos_].data;
    size_t end = d.size();
    if (pos_ == static_cast<int>(items_.size()) - 1)
      end = std::min(end, truncate_);
    size_t k = std::min(n, end - off_);
    std::memcpy(buf, d.data() + off_, k);
    off_ += k;
    return k;
  }

 private:
  struct Item {
    TarEntry entry;
    std::string data;
  };
  std::vector<Item> items_;
  int pos_ = -1;
  size_t off_ = 0;
  size_t truncate_ = SIZE_MAX;
};

}  // namespace strata

#endif  // STRATA_TESTS_TESTUTIL_FAKE_STREAM_H_
