// The compressing sinks: what each writes decompresses (through Strata's
// own decoders, which GNU gzip and zstd also read) to what went in, in one
// piece or many, empty or several MiB; DigestSink counts and hashes.
#include "io/compress/compress_sink.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>

#include "io/base/source.h"
#include "io/decompress/source.h"

namespace strata {
namespace {

std::string Decompress(const std::string& blob, Compression* detected) {
  auto src =
      OpenDecompressed(std::make_unique<MemorySource>(blob), {}, detected);
  EXPECT_TRUE(src.ok()) << src.status().ToString();
  if (!src.ok()) return "";
  std::string out;
  char buf[1 << 16];
  for (;;) {
    auto n = (*src)->Read(buf, sizeof(buf));
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (!n.ok() || *n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

std::string Payload(size_t n) {
  std::mt19937 rng(7);
  std::string s;
  s.reserve(n);
  while (s.size() < n) {
    // Half compressible text, half noise.
    s += "layer-" + std::to_string(s.size() % 977) + "\n";
    s.push_back(static_cast<char>(rng()));
  }
  s.resize(n);
  return s;
}

class CompressSinkTest : public ::testing::TestWithParam<Compression> {};

TEST_P(CompressSinkTest, RoundTripsInPieces) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{700000}, size_t{5u << 20}}) {
    const std::string in = Payload(size);
    StringSink out;
    auto c = NewCompressSink(GetParam(), out);
    for (size_t off = 0; off < in.size();) {
      size_t n = std::min<size_t>(in.size() - off, 1 + off % 70001);
      ASSERT_TRUE(c->Write(std::string_view(in).substr(off, n)).ok());
      off += n;
    }
    ASSERT_TRUE(c->Finish().ok());
    Compression detected = Compression::kNone;
    EXPECT_EQ(Decompress(out.str(), &detected), in) << size;
    if (size > 0) {
      EXPECT_EQ(detected, GetParam()) << size;
    }
    if (size > 1000 && GetParam() != Compression::kNone) {
      EXPECT_LT(out.str().size(), in.size()) << size;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, CompressSinkTest,
                         ::testing::Values(Compression::kNone,
                                           Compression::kGzip,
                                           Compression::kZstd),
                         [](const auto& info) {
                           return std::string(CompressionName(info.param));
                         });

TEST(DigestSinkTest, HashesAndCountsWhatPasses) {
  StringSink out;
  DigestSink d(out);
  ASSERT_TRUE(d.Write("hello ").ok());
  ASSERT_TRUE(d.Write("world").ok());
  EXPECT_EQ(d.bytes(), 11);
  EXPECT_EQ(out.str(), "hello world");
  EXPECT_EQ(d.Digest(),
            "sha256:"
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
}

TEST(AsyncSinkTest, KeepsOrderAcrossItsThread) {
  StringSink out;
  const std::string in = Payload(3u << 20);
  {
    AsyncSink async(out, 4096, 2);
    for (size_t off = 0; off < in.size(); off += 1000)
      ASSERT_TRUE(async.Write(std::string_view(in).substr(off, 1000)).ok());
    ASSERT_TRUE(async.Finish().ok());
  }
  EXPECT_EQ(out.str(), in);
}

// Fails its third write.
class FailingSink final : public ByteSink {
 public:
  Status Write(std::string_view) override {
    return ++writes_ >= 3 ? ResourceExhausted("no space left") : Status::Ok();
  }

 private:
  int writes_ = 0;
};

TEST(AsyncSinkTest, TheFirstErrorIsStickyAndStopsTheProducer) {
  FailingSink out;
  AsyncSink async(out, 10, 1);
  Status s;
  int i = 0;
  for (; i < 1000 && s.ok(); ++i) s = async.Write(std::string(10, 'x'));
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.ToString();
  EXPECT_LT(i, 10) << "the producer ran on past the failure";
  EXPECT_EQ(async.Finish().code(), Code::kResourceExhausted);
}

TEST(AsyncSinkTest, AbandonedWithoutFinishStopsItsThread) {
  StringSink out;
  AsyncSink async(out, 10, 4);
  ASSERT_TRUE(async.Write(std::string(35, 'y')).ok());
}

}  // namespace
}  // namespace strata
