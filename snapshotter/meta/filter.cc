#include "snapshotter/meta/filter.h"

#include <re2/re2.h>

#include <cctype>
#include <utility>

namespace strata {
namespace {

class Parser {
 public:
  explicit Parser(const std::string& in) : in_(in) {}

  // containerd's shape ("[before >|after]"), with at most 64 bytes of
  // the filter on each side of the position.
  Status Error(const std::string& msg) const {
    size_t from = pos_ > 64 ? pos_ - 64 : 0;
    std::string before =
        (from > 0 ? "..." : "") + in_.substr(from, pos_ - from);
    std::string after =
        in_.substr(pos_, 64) + (in_.size() - pos_ > 64 ? "..." : "");
    return InvalidArgument("filters: parse error: [" + before + " >|" + after +
                           "]: " + msg);
  }
  void SkipSpace() {
    while (pos_ < in_.size() &&
           std::isspace(static_cast<unsigned char>(in_[pos_])))
      ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= in_.size();
  }
  char Peek() {
    SkipSpace();
    return pos_ < in_.size() ? in_[pos_] : '\0';
  }
  static bool IsFieldChar(char c) {
    return c == '_' || std::isalnum(static_cast<unsigned char>(c));
  }

  Result<std::string> Field() {
    char c = Peek();
    if (c == '"') return Quoted('"');
    size_t start = pos_;
    while (pos_ < in_.size() && IsFieldChar(in_[pos_])) ++pos_;
    if (start == pos_) return Error("expected field or quoted");
    return in_.substr(start, pos_ - start);
  }

  Result<std::string> Value(bool allow_alt_quotes) {
    char c = Peek();
    if (c == '"' || ((c == '/' || c == '|') && allow_alt_quotes))
      return Quoted(c);
    if (c == '/' || c == '|') return Error("invalid quote encountered");
    size_t start = pos_;
    while (pos_ < in_.size() && in_[pos_] != ',' &&
           !std::isspace(static_cast<unsigned char>(in_[pos_]))) {
      ++pos_;
    }
    if (start == pos_) return Error("expected value or quoted");
    return in_.substr(start, pos_ - start);
  }

  // Reads a literal quoted with q, Go escapes for '"'; for the regex quotes
  // only an escaped quote character is unescaped.
  Result<std::string> Quoted(char q) {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= in_.size() || in_[pos_] == '\n') {
        return Error("quoted literal not terminated");
      }
      char c = in_[pos_++];
      if (c == q) return out;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= in_.size()) return Error("quoted literal not terminated");
      char e = in_[pos_++];
      if (e == q) {
        out.push_back(q);
        continue;
      }
      if (q != '"') {  // regex: keep the escape for the regex engine
        out.push_back('\\');
        out.push_back(e);
        continue;
      }
      switch (e) {
        case 'a':
          out.push_back('\a');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'v':
          out.push_back('\v');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case 'x': {
          if (pos_ + 2 > in_.size() ||
              !std::isxdigit(static_cast<unsigned char>(in_[pos_])) ||
              !std::isxdigit(static_cast<unsigned char>(in_[pos_ + 1]))) {
            return Error("illegal numeric escape sequence");
          }
          out.push_back(
              static_cast<char>(std::stoi(in_.substr(pos_, 2), nullptr, 16)));
          pos_ += 2;
          break;
        }
        default:
          return Error("illegal escape sequence");
      }
    }
  }

  Result<std::string> Operator() {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < in_.size() &&
           (in_[pos_] == '=' || in_[pos_] == '!' || in_[pos_] == '~')) {
      ++pos_;
    }
    if (start == pos_)
      return Error("expected an operator (\"==\"|\"!=\"|\"~=\")");
    std::string op = in_.substr(start, pos_ - start);
    if (op != "==" && op != "!=" && op != "~=") {
      pos_ = start;
      return Error("unsupported operator \"" + op + "\"");
    }
    return op;
  }

  size_t pos() const { return pos_; }
  void Advance() { ++pos_; }

 private:
  const std::string& in_;
  size_t pos_ = 0;
};

// A pattern as error messages quote it: at most its first 64 bytes.
std::string Shown(const std::string& pattern) {
  return pattern.size() > 64 ? pattern.substr(0, 64) + "..." : pattern;
}

}  // namespace

Result<Filter::All> Filter::ParseOne(const std::string& s, Counts& counts) {
  Parser p(s);
  All all;
  while (true) {
    if (++counts.selectors > kMaxSelectors) {
      return p.Error("more than " + std::to_string(kMaxSelectors) +
                     " selectors in one request");
    }
    Selector sel;
    STRATA_ASSIGN_OR_RETURN(std::string f, p.Field());
    sel.fieldpath.push_back(std::move(f));
    while (p.Peek() == '.') {
      p.Advance();
      STRATA_ASSIGN_OR_RETURN(std::string next, p.Field());
      sel.fieldpath.push_back(std::move(next));
    }
    if (!p.AtEnd() && p.Peek() != ',') {
      STRATA_ASSIGN_OR_RETURN(std::string op, p.Operator());
      sel.op = op == "=="   ? Op::kEqual
               : op == "!=" ? Op::kNotEqual
                            : Op::kMatches;
      STRATA_ASSIGN_OR_RETURN(sel.value, p.Value(sel.op == Op::kMatches));
      if (sel.op == Op::kMatches) {
        if (++counts.regexps > kMaxRegexps) {
          return p.Error("more than " + std::to_string(kMaxRegexps) +
                         " regular expressions in one request");
        }
        if (sel.value.size() > kMaxRegexBytes) {
          return p.Error(
              "regular expression of " + std::to_string(sel.value.size()) +
              " bytes is over the limit of " + std::to_string(kMaxRegexBytes));
        }
        RE2::Options opts;
        opts.set_log_errors(false);
        opts.set_max_mem(kMaxRegexMemory);
        // Only match or no match is asked for: without capture instructions
        // the program is smaller and the match faster.
        opts.set_never_capture(true);
        auto re = std::make_shared<const RE2>(sel.value, opts);
        if (!re->ok()) {
          std::string why = re->error().substr(0, 128);
          return p.Error("bad regular expression \"" + Shown(sel.value) +
                         "\": " + why);
        }
        if (re->ProgramSize() > kMaxRegexProgram) {
          return p.Error("regular expression \"" + Shown(sel.value) +
                         "\" compiles to " + std::to_string(re->ProgramSize()) +
                         " instructions, over the limit of " +
                         std::to_string(kMaxRegexProgram));
        }
        sel.re = std::move(re);
      }
    }
    all.push_back(std::move(sel));
    if (p.AtEnd()) break;
    if (p.Peek() != ',') return p.Error("expected a separator");
    p.Advance();
  }
  return all;
}

Result<Filter> Filter::Parse(const std::vector<std::string>& filters) {
  Filter f;
  Counts counts;
  for (const std::string& s : filters) {
    if (s.empty()) return Filter();  // containerd: "" matches everything
    if (s.size() > kMaxFilterBytes) {
      return InvalidArgument("filter of " + std::to_string(s.size()) +
                             " bytes is over the limit of " +
                             std::to_string(kMaxFilterBytes));
    }
    auto all = ParseOne(s, counts);
    if (!all.ok()) return all.status();
    f.any_.push_back(std::move(*all));
  }
  return f;
}

bool Filter::Field(const Info& info, const std::vector<std::string>& path,
                   std::string& value) {
  const std::string& head = path[0];
  if (head == "kind") {
    if (info.kind == Kind::kUnknown) return false;
    value = std::string(KindName(info.kind));
    return true;
  }
  if (head == "name") {
    value = info.name;
    return true;
  }
  if (head == "parent") {
    value = info.parent;
    return true;
  }
  if (head == "labels" && path.size() > 1) {
    std::string key = path[1];
    for (size_t i = 2; i < path.size(); ++i) key += "." + path[i];
    auto it = info.labels.find(key);
    if (it == info.labels.end()) return false;
    value = it->second;
    return true;
  }
  return false;
}

bool Filter::Matches(const Info& info) const {
  if (any_.empty()) return true;
  for (const All& all : any_) {
    bool ok = true;
    for (const Selector& sel : all) {
      std::string value;
      bool present = Field(info, sel.fieldpath, value);
      switch (sel.op) {
        case Op::kPresent:
          ok = present;
          break;
        case Op::kEqual:
          ok = present && value == sel.value;
          break;
        case Op::kNotEqual:
          ok = value != sel.value;
          break;
        case Op::kMatches:
          ok = RE2::PartialMatch(value, *sel.re);
          break;
      }
      if (!ok) break;
    }
    if (ok) return true;
  }
  return false;
}

}  // namespace strata
