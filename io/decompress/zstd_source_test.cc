#include "io/decompress/zstd_source.h"

#include <gtest/gtest.h>

#include <string>

#include "io/decompress/test_util.h"

namespace strata {
namespace {

Result<std::string> Decode(std::string_view z, size_t trickle = 0,
                           size_t chunk = 64 << 10) {
  STRATA_ASSIGN_OR_RETURN(auto src, NewZstdSource(TestSource(z, trickle)));
  return ReadAll(*src, chunk);
}

// A skippable frame (magic 0x184D2A50, little-endian length, payload).
std::string SkippableFrame(std::string_view payload) {
  std::string f("\x50\x2a\x4d\x18", 4);
  uint32_t n = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) f.push_back(static_cast<char>(n >> (8 * i)));
  return f + std::string(payload);
}

TEST(ZstdSourceTest, RoundTrip) {
  std::string data = TestPayload(3 << 20);
  auto got = Decode(ZstdFrame(data));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == data);
}

TEST(ZstdSourceTest, TrickledInputAndTinyReads) {
  std::string data = TestPayload(200 << 10, 2);
  std::string z = ZstdFrame(data);
  for (size_t trickle : {1, 7, 512}) {
    auto got = Decode(z, trickle, 13);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == data);
  }
}

TEST(ZstdSourceTest, MultiFrameAndSkippable) {
  std::string a = TestPayload(100 << 10, 3), b = TestPayload(50 << 10, 4);
  std::string z =
      SkippableFrame("meta") + ZstdFrame(a) + ZstdFrame("") + ZstdFrame(b);
  for (size_t trickle : {0, 1}) {
    auto got = Decode(z, trickle);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == a + b);
  }
}

TEST(ZstdSourceTest, TruncationAnywhereIsDataLoss) {
  std::string z = ZstdFrame(TestPayload(20 << 10, 5)) + ZstdFrame("second");
  std::string first = ZstdFrame(TestPayload(20 << 10, 5));
  for (size_t cut = 0; cut < z.size(); ++cut) {
    if (cut == first.size()) continue;  // a frame boundary: a complete stream
    auto got = Decode(std::string_view(z).substr(0, cut));
    ASSERT_FALSE(got.ok()) << "cut at " << cut;
    EXPECT_EQ(got.status().code(), Code::kDataLoss)
        << cut << ": " << got.status().ToString();
  }
}

TEST(ZstdSourceTest, TrailingGarbageIsInvalidArgument) {
  auto got = Decode(ZstdFrame("hello") + "garbage!");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kInvalidArgument)
      << got.status().ToString();
}

TEST(ZstdSourceTest, CorruptDataIsInvalidArgument) {
  std::string z = ZstdFrame(TestPayload(10000, 6));
  for (size_t i = 6; i < z.size(); i += 97) z[i] ^= 0x5a;
  auto got = Decode(z);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kInvalidArgument)
      << got.status().ToString();
}

}  // namespace
}  // namespace strata
