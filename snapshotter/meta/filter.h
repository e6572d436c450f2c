// containerd's filter language for List: `fieldpath [op value]` selectors,
// `,` for AND inside one filter string, several strings OR-ed.
//
//   fieldpath := field ('.' field)*     field := [A-Za-z0-9_]+ | "quoted"
//   op        := '==' | '!=' | '~='     value := quoted | [^\s,]+
//
// Quoted strings use Go's double-quote escapes; after `~=` a value may also be
// quoted with /.../ or |...|. A bare fieldpath tests presence. `~=` takes a
// regular expression searched anywhere in the value (ECMAScript syntax here,
// RE2 in containerd: the common subset behaves alike).
//
// Fields of a snapshot: name, parent, kind (active|view|committed),
// labels.<key>.
//
// Thread-safety: a parsed Filter is immutable and may be shared.
#ifndef STRATA_SNAPSHOTTER_META_FILTER_H_
#define STRATA_SNAPSHOTTER_META_FILTER_H_

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "io/base/result.h"
#include "snapshotter/types.h"

namespace strata {

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
    std::shared_ptr<const std::regex> re;
  };
  using All = std::vector<Selector>;

  static Result<All> ParseOne(const std::string& s);
  static bool Field(const Info& info, const std::vector<std::string>& path,
                    std::string& value);

  std::vector<All> any_;
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_META_FILTER_H_
