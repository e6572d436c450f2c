// libFuzzer target: TarReader over arbitrary bytes (see README.md).
// Reads every entry and its data; any crash, sanitizer report, leak or
// timeout is a bug. Errors are fine: they are the reader saying no.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "io/decompress/source.h"
#include "io/tar/tar_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  strata::MemorySource src(
      std::string_view(reinterpret_cast<const char*>(data), size));
  strata::TarReader reader(src);
  char buf[700];  // odd size: reads straddle blocks
  for (int entries = 0; entries < 100000; ++entries) {
    strata::TarEntry e;
    auto more = reader.Next(&e);
    if (!more.ok() || !*more) break;
    // Invariants the extractor relies on.
    if (e.path.empty() || e.path.size() > strata::kMaxTarPathBytes)
      __builtin_trap();
    if (e.size < 0 || e.size > strata::kMaxTarEntryBytes) __builtin_trap();
    int64_t stored = 0, end = 0;
    for (auto [off, len] : e.sparse) {
      if (off < end || len < 0 || off + len > e.size) __builtin_trap();
      end = off + len;
      stored += len;
    }
    int64_t read = 0;
    while (true) {
      auto got = reader.ReadData(buf, sizeof buf);
      if (!got.ok() || *got == 0) break;
      read += static_cast<int64_t>(*got);
    }
    if (read > (e.sparse.empty() ? e.size : stored)) __builtin_trap();
  }
  return 0;
}
