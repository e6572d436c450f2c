// Test helpers: every extraction test runs on each file sink.
#ifndef STRATA_IO_SINK_SINK_TEST_UTIL_H_
#define STRATA_IO_SINK_SINK_TEST_UTIL_H_

#include <memory>
#include <string>

#include "io/sink/file_sink.h"
#include "io/sink/threaded_file_sink.h"
#include "io/sink/uring_file_sink.h"

namespace strata {

inline constexpr SinkKind kAllSinks[] = {SinkKind::kUring, SinkKind::kThreads,
                                         SinkKind::kSync};

inline std::string SinkName(SinkKind k) {
  switch (k) {
    case SinkKind::kUring:
      return "uring";
    case SinkKind::kThreads:
      return "threads";
    case SinkKind::kSync:
      return "sync";
  }
  return "unknown";
}

// Exactly the sink asked for (no fallback); nullptr when io_uring is
// unavailable here, so the test can skip saying why.
inline std::unique_ptr<FileSink> MakeTestSink(SinkKind k) {
  switch (k) {
    case SinkKind::kUring: {
      auto u = UringFileSink::Create();
      if (!u.ok()) return nullptr;
      return std::move(*u);
    }
    case SinkKind::kThreads:
      return std::make_unique<ThreadedFileSink>(3);
    case SinkKind::kSync:
      return std::make_unique<SyncFileSink>();
  }
  return nullptr;
}

}  // namespace strata

#endif  // STRATA_IO_SINK_SINK_TEST_UTIL_H_
