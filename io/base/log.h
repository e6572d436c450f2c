// One-line structured logs to stderr (journald captures them):
//   time=2026-11-27T21:40:00.123Z level=info component=engine msg="..." k=v
//
// Thread-safety: thread-safe; each line is written with a single write(2).
#ifndef STRATA_IO_BASE_LOG_H_
#define STRATA_IO_BASE_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace strata {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug", "info", "warn"/"warning", "error"; false on anything else.
bool ParseLogLevel(std::string_view s, LogLevel& out);
// "debug", "info", "warn" or "error": what ParseLogLevel reads and logs print.
std::string_view LogLevelName(LogLevel level);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

using LogField = std::pair<std::string_view, std::string_view>;
void Log(LogLevel level, std::string_view component, std::string_view msg,
         std::initializer_list<LogField> fields = {});

}  // namespace strata

#endif  // STRATA_IO_BASE_LOG_H_
