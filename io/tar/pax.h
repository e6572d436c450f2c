// POSIX pax extended headers ('x' per entry, 'g' global): record parsing
// (and encoding, for TarWriter) and the keywords Strata uses, applied onto
// PaxOverrides. Also the value decoders for them: decimal, time with fraction,
// base64, %-escapes.
//
// Every error is InvalidArgument with a bare message; TarReader names the
// entry.
//
// Thread-safety: pure functions over caller-owned values.
#ifndef STRATA_IO_TAR_PAX_H_
#define STRATA_IO_TAR_PAX_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/base/result.h"
#include "io/base/status.h"

namespace strata {

struct PaxRecord {
  std::string_view key;
  std::string_view value;  // may hold any byte, NUL and newline included
};

// One record as a writer puts it: "<length> <key>=<value>\n", the length
// counting its own digits.
std::string EncodePaxRecord(std::string_view key, std::string_view value);

// Splits a pax header body into "<length> <key>=<value>\n" records, checking
// every length against the bytes that are there. The views point into data.
Status ParsePaxRecords(std::string_view data, std::vector<PaxRecord>* out);

// A non-negative decimal with no sign, blanks or leading '+'.
Result<int64_t> ParsePaxDecimal(std::string_view s);

struct TarTime {
  int64_t sec = 0;
  int32_t nsec = 0;  // 0..999999999, also for times before 1970
};
// "[-]seconds[.fraction]"; digits past nanoseconds are dropped.
Result<TarTime> ParsePaxTime(std::string_view s);

// RFC 4648 base64, padding optional.
Result<std::string> DecodeBase64(std::string_view s);
// %XX escapes (LIBARCHIVE.xattr names).
Result<std::string> DecodePercentEscapes(std::string_view s);

// GNU sparse keywords of one entry (GNU tar's PAX sparse formats 0.0, 0.1 and
// 1.0).
struct PaxSparse {
  bool present = false;
  std::optional<int64_t> major, minor;  // 1.0: major=1, minor=0
  std::optional<int64_t> size;          // 0.x logical size
  std::optional<int64_t> realsize;      // 1.0 logical size
  std::optional<int64_t> numblocks;     // 0.x segment count
  std::optional<std::string> name;      // the real path
  std::optional<std::string> map;       // 0.1: "offset,length,..."
  std::vector<std::pair<int64_t, int64_t>> segments;  // 0.0: offset/numbytes
};

// What pax records say about an entry; unset fields keep the header's value.
struct PaxOverrides {
  std::optional<std::string> path, linkpath;
  std::optional<int64_t> size;
  std::optional<uint32_t> uid, gid;
  std::optional<TarTime> mtime, atime;
  std::vector<std::pair<std::string, std::string>> xattrs;  // may repeat names
  PaxSparse sparse;
};

// Applies one record. A global record ('g') never sets path, linkpath, size
// or sparse keywords: they describe one file. An empty value clears a
// keyword (back to the header's value), except for xattrs, where empty is a
// value. Unknown keywords, uname, gname, ctime, charset and comment are
// ignored.
Status ApplyPaxRecord(const PaxRecord& r, bool global, PaxOverrides* o);

// Keeps one entry per xattr name, at its first position with its last value.
void DedupXattrs(std::vector<std::pair<std::string, std::string>>* xattrs);

}  // namespace strata

#endif  // STRATA_IO_TAR_PAX_H_
