#include "io/tar/sparse.h"

#include "io/tar/pax.h"
#include "io/tar/tar_header.h"

namespace strata {
namespace {

Status TooMany() {
  return InvalidArgument("more than " + std::to_string(kMaxSparseSegments) +
                         " sparse segments");
}

}  // namespace

Status AppendGnuSparseEntries(const char* p, size_t count, SparseMap* map) {
  for (size_t i = 0; i < count; ++i, p += kGnuSparseEntryBytes) {
    if (p[0] == '\0') break;
    if (map->size() >= kMaxSparseSegments) return TooMany();
    auto offset = ParseTarNumber(std::string_view(p, 12));
    auto length = ParseTarNumber(std::string_view(p + 12, 12));
    if (!offset.ok() || !length.ok()) {
      return InvalidArgument("bad old GNU sparse entry " +
                             std::to_string(map->size()));
    }
    map->emplace_back(*offset, *length);
  }
  return Status();
}

Status ParseSparseMapList(std::string_view list, SparseMap* map) {
  int64_t offset = -1;
  while (true) {
    size_t comma = list.find(',');
    STRATA_ASSIGN_OR_RETURN(int64_t n, ParsePaxDecimal(list.substr(0, comma)));
    if (offset < 0) {
      if (map->size() >= kMaxSparseSegments) return TooMany();
      offset = n;
    } else {
      map->emplace_back(offset, n);
      offset = -1;
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (offset >= 0)
    return InvalidArgument("GNU.sparse.map has an odd number of values");
  return Status();
}

Status SparseMapDecoder::EndNumber() {
  STRATA_ASSIGN_OR_RETURN(int64_t n, ParsePaxDecimal(digits_));
  digits_.clear();
  if (count_ < 0) {
    if (n > static_cast<int64_t>(kMaxSparseSegments)) return TooMany();
    count_ = n;
    map_.reserve(static_cast<size_t>(n));
  } else if (offset_ < 0) {
    offset_ = n;
  } else {
    map_.emplace_back(offset_, n);
    offset_ = -1;
  }
  return Status();
}

Result<bool> SparseMapDecoder::Feed(const char* block) {
  for (size_t i = 0; i < kTarBlockSize; ++i) {
    if (count_ >= 0 && map_.size() == static_cast<size_t>(count_)) return true;
    const char c = block[i];
    if (c == '\n') {
      STRATA_RETURN_IF_ERROR(EndNumber());
    } else if (c >= '0' && c <= '9' && digits_.size() < 19) {
      digits_.push_back(c);
    } else {
      return InvalidArgument("bad pax 1.0 sparse map");
    }
  }
  return count_ >= 0 && map_.size() == static_cast<size_t>(count_);
}

Status ValidateSparseMap(int64_t logical_size, int64_t packed_size,
                         SparseMap* map) {
  if (logical_size < 0 || logical_size > kMaxTarEntryBytes) {
    return InvalidArgument("sparse file size " + std::to_string(logical_size) +
                           " is outside [0, 1 TiB]");
  }
  int64_t end = 0;
  int64_t stored = 0;
  for (size_t i = 0; i < map->size(); ++i) {
    const auto [offset, length] = (*map)[i];
    if (offset < end || length < 0 || offset > logical_size ||
        length > logical_size - offset) {
      return InvalidArgument("sparse segment " + std::to_string(i) +
                             " (offset " + std::to_string(offset) +
                             ", length " + std::to_string(length) +
                             ") is out of order or outside the file's " +
                             std::to_string(logical_size) + " bytes");
    }
    end = offset + length;
    stored += length;  // <= logical_size: segments are disjoint
  }
  if (stored != packed_size) {
    return InvalidArgument("sparse segments hold " + std::to_string(stored) +
                           " bytes but the entry stores " +
                           std::to_string(packed_size));
  }
  if (map->empty()) map->emplace_back(logical_size, 0);
  return Status();
}

}  // namespace strata
