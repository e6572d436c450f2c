// Tiny JSON text builders for the benchmark result files (bench/report.py's
// schema): values are rendered to strings and nested by the caller.
//
// Thread-safety: pure functions.
#ifndef STRATA_BENCH_HARNESS_JSON_H_
#define STRATA_BENCH_HARNESS_JSON_H_

#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::json {

inline std::string Str(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// A number, or null when NaN/inf (a cell that has no value).
inline std::string Num(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  // Integers (byte counts) exactly; measurements to 6 significant digits.
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  } else {
    std::snprintf(buf, sizeof(buf), "%.6g", v);
  }
  return buf;
}

inline std::string Arr(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out + "]";
}

inline std::string Obj(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    out += (i ? ", " : "") + Str(fields[i].first) + ": " + fields[i].second;
  }
  return out + "}";
}

}  // namespace strata::json

#endif  // STRATA_BENCH_HARNESS_JSON_H_
