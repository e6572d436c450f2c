// Layer read throughput: gzip with zlib vs ISA-L, zstd, tar parsing, and the
// whole OpenDecompressed + TarReader pipeline, all from memory so the disk
// does not count. Rates are of uncompressed bytes per CPU second.
//
//   STRATA_BENCH_GZ=/path/layer.tar.gz build/bin/decompress_bench
//     --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
//     --benchmark_report_aggregates_only=true
//
// io/decompress/README.md has the numbers and how the input was made.
#include <benchmark/benchmark.h>
#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "io/decompress/gzip_source.h"
#include "io/decompress/source.h"
#include "io/tar/tar_reader.h"

namespace strata {
namespace {

constexpr size_t kReadBytes = 256 << 10;

struct Inputs {
  std::string gz;    // the file named by STRATA_BENCH_GZ
  std::string tar;   // its decompressed bytes
  std::string zstd;  // tar compressed with zstd -3
};

const Inputs* LoadInputs() {
  static const Inputs* inputs = []() -> const Inputs* {
    const char* path = std::getenv("STRATA_BENCH_GZ");
    if (path == nullptr) return nullptr;
    auto* in = new Inputs;
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    in->gz = ss.str();
    auto src = NewGzipSource(std::make_unique<MemorySource>(in->gz),
                             GzipEngine::kZlib);
    std::string buf(kReadBytes, '\0');
    while (src.ok()) {
      auto got = (*src)->Read(buf.data(), buf.size());
      if (!got.ok() || *got == 0) break;
      in->tar.append(buf.data(), *got);
    }
    in->zstd.resize(ZSTD_compressBound(in->tar.size()));
    in->zstd.resize(ZSTD_compress(in->zstd.data(), in->zstd.size(),
                                  in->tar.data(), in->tar.size(), 3));
    std::fprintf(stderr,
                 "input: %zu bytes gzip, %zu bytes tar, %zu bytes zstd -3\n",
                 in->gz.size(), in->tar.size(), in->zstd.size());
    return in;
  }();
  return inputs;
}

const Inputs* InputsOrSkip(benchmark::State& state) {
  const Inputs* in = LoadInputs();
  if (in == nullptr) state.SkipWithError("set STRATA_BENCH_GZ to a .tar.gz");
  return in;
}

// Drains src; fails the benchmark on error.
void Drain(benchmark::State& state, Source& src, std::string& buf) {
  while (true) {
    auto got = src.Read(buf.data(), buf.size());
    if (!got.ok()) {
      state.SkipWithError(got.status().ToString().c_str());
      return;
    }
    if (*got == 0) return;
  }
}

void Report(benchmark::State& state, size_t compressed, size_t uncompressed) {
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * uncompressed));
  state.counters["in_MB/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * compressed) / 1e6,
      benchmark::Counter::kIsRate);
}

void BM_Gunzip(benchmark::State& state, GzipEngine engine) {
  const Inputs* in = InputsOrSkip(state);
  if (in == nullptr) return;
  std::string buf(kReadBytes, '\0');
  for (auto _ : state) {
    auto src = NewGzipSource(std::make_unique<MemorySource>(in->gz), engine);
    if (!src.ok()) return state.SkipWithError(src.status().ToString().c_str());
    Drain(state, **src, buf);
  }
  Report(state, in->gz.size(), in->tar.size());
}
BENCHMARK_CAPTURE(BM_Gunzip, zlib, GzipEngine::kZlib)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Gunzip, isal, GzipEngine::kIsal)
    ->Unit(benchmark::kMillisecond);

void BM_Unzstd(benchmark::State& state) {
  const Inputs* in = InputsOrSkip(state);
  if (in == nullptr) return;
  std::string buf(kReadBytes, '\0');
  for (auto _ : state) {
    auto src = OpenDecompressed(std::make_unique<MemorySource>(in->zstd));
    if (!src.ok()) return state.SkipWithError(src.status().ToString().c_str());
    Drain(state, **src, buf);
  }
  Report(state, in->zstd.size(), in->tar.size());
}
BENCHMARK(BM_Unzstd)->Unit(benchmark::kMillisecond);

// TarReader alone over the uncompressed tar, reading every entry's data.
void ReadLayer(benchmark::State& state, Source& src, std::string& buf) {
  TarReader reader(src);
  TarEntry e;
  while (true) {
    auto more = reader.Next(&e);
    if (!more.ok())
      return state.SkipWithError(more.status().ToString().c_str());
    if (!*more) return;
    while (true) {
      auto got = reader.ReadData(buf.data(), buf.size());
      if (!got.ok())
        return state.SkipWithError(got.status().ToString().c_str());
      if (*got == 0) break;
    }
  }
}

void BM_TarParse(benchmark::State& state) {
  const Inputs* in = InputsOrSkip(state);
  if (in == nullptr) return;
  std::string buf(kReadBytes, '\0');
  for (auto _ : state) {
    MemorySource src(in->tar);
    ReadLayer(state, src, buf);
  }
  Report(state, in->tar.size(), in->tar.size());
}
BENCHMARK(BM_TarParse)->Unit(benchmark::kMillisecond);

// What the extractor sees: sniff, default gzip engine, TarReader.
void BM_LayerRead(benchmark::State& state, bool zstd) {
  const Inputs* in = InputsOrSkip(state);
  if (in == nullptr) return;
  const std::string& blob = zstd ? in->zstd : in->gz;
  std::string buf(kReadBytes, '\0');
  for (auto _ : state) {
    auto src = OpenDecompressed(std::make_unique<MemorySource>(blob));
    if (!src.ok()) return state.SkipWithError(src.status().ToString().c_str());
    ReadLayer(state, **src, buf);
  }
  Report(state, blob.size(), in->tar.size());
}
BENCHMARK_CAPTURE(BM_LayerRead, gzip, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LayerRead, zstd, true)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace strata

BENCHMARK_MAIN();
