// containerd's filter language for List: `fieldpath [op value]` selectors,
// `,` for AND inside one filter string, several strings OR-ed.
//
//   fieldpath := field ('.' field)*     field := [A-Za-z0-9_]+ | "quoted"
//   op        := '==' | '!=' | '~='     value := quoted | [^\s,]+
//
// Quoted strings use Go's double-quote escapes; after `~=` a value may also be
// quoted with /.../ or |...|. A bare fieldpath tests presence. `~=` takes a
// regular expression searched anywhere in the value, in RE2 syntax like Go's
// regexp that containerd uses; RE2 runs in time linear in the input and
// memory bounded per pattern (kMaxRegexMemory), so no filter can exhaust the
// daemon's stack. The parser is a loop over the string, never recursive.
//
// Limits, per List call (containerd has none; its clients send at most a few
// selectors): a filter string is at most kMaxFilterBytes, all strings together
// hold at most kMaxSelectors selectors and kMaxRegexps `~=` patterns, and a
// pattern is at most kMaxRegexBytes and compiles to at most kMaxRegexProgram
// RE2 instructions. The program limit bounds the time of one match: RE2 falls
// back from its DFA to an NFA whose time grows with program size times input
// (`(.*a){999}b` took seconds against a 64 KiB name; at 2,000 instructions
// such shapes take milliseconds). Anything over a limit is InvalidArgument.
//
// Fields of a snapshot: name, parent, kind (active|view|committed),
// labels.<key>.
//
// Thread-safety: a parsed Filter is immutable and may be shared.
#ifndef STRATA_SNAPSHOTTER_META_FILTER_H_
#define STRATA_SNAPSHOTTER_META_FILTER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "io/base/result.h"
#include "snapshotter/types.h"

namespace re2 {
class RE2;
}

namespace strata {

inline constexpr size_t kMaxFilterBytes = 64 << 10;
inline constexpr size_t kMaxRegexBytes = 4 << 10;
inline constexpr int64_t kMaxRegexMemory = 1 << 20;
inline constexpr int kMaxRegexProgram = 2000;
inline constexpr size_t kMaxSelectors = 1024;
inline constexpr size_t kMaxRegexps = 32;

class Filter {
 public:
  // Parses filter strings; an empty list matches everything. Syntax errors are
  // InvalidArgument with the position shown.
  static Result<Filter> Parse(const std::vector<std::string>& filters);

  bool Matches(const Info& info) const;
  bool MatchesAll() const { return any_.empty(); }

 private:
  enum class Op { kPresent, kEqual, kNotEqual, kMatches };
  struct Selector {
    std::vector<std::string> fieldpath;
    Op op = Op::kPresent;
    std::string value;
    std::shared_ptr<const re2::RE2> re;
  };
  using All = std::vector<Selector>;
  // What the strings parsed so far used, against the per-call limits.
  struct Counts {
    size_t selectors = 0;
    size_t regexps = 0;
  };

  static Result<All> ParseOne(const std::string& s, Counts& counts);
  static bool Field(const Info& info, const std::vector<std::string>& path,
                    std::string& value);

  std::vector<All> any_;
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_META_FILTER_H_
