// libFuzzer target: OpenDecompressed (sniffing, gzip via the default engine
// and zlib, zstd) then TarReader, over arbitrary bytes (see README.md).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "io/decompress/source.h"
#include "io/tar/tar_reader.h"

namespace {

void Run(std::string_view input, strata::GzipEngine engine) {
  strata::DecompressOptions opts;
  opts.max_output_bytes = 8 << 20;  // keeps bombs from timing out
  opts.gzip_engine = engine;
  auto src = strata::OpenDecompressed(
      std::make_unique<strata::MemorySource>(input), opts);
  if (!src.ok()) return;
  strata::TarReader reader(**src);
  char buf[4096];
  while (true) {
    strata::TarEntry e;
    auto more = reader.Next(&e);
    if (!more.ok() || !*more) break;
    while (true) {
      auto got = reader.ReadData(buf, sizeof buf);
      if (!got.ok() || *got == 0) break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Run(input, strata::GzipEngine::kDefault);
  Run(input, strata::GzipEngine::kZlib);
  return 0;
}
