#include "io/decompress/gzip_source.h"

#include <gtest/gtest.h>

#include <string>

#include "io/decompress/test_util.h"

namespace strata {
namespace {

class GzipSourceTest : public ::testing::TestWithParam<GzipEngine> {
 protected:
  void SetUp() override {
    if (GetParam() == GzipEngine::kIsal &&
        DefaultGzipEngine() != GzipEngine::kIsal) {
      GTEST_SKIP() << "built without ISA-L";
    }
  }
  Result<std::string> Decode(std::string_view gz, size_t trickle = 0,
                             size_t chunk = 64 << 10) {
    STRATA_ASSIGN_OR_RETURN(auto src,
                            NewGzipSource(TestSource(gz, trickle), GetParam()));
    return ReadAll(*src, chunk);
  }
};

TEST_P(GzipSourceTest, RoundTrip) {
  std::string data = TestPayload(3 << 20);
  auto got = Decode(GzipMember(data));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == data);
}

TEST_P(GzipSourceTest, TinyReadsAndTrickledInput) {
  std::string data = TestPayload(200 << 10, 2);
  std::string gz = GzipMember(data);
  for (size_t trickle : {1, 7, 512}) {
    auto got = Decode(gz, trickle, 13);
    ASSERT_TRUE(got.ok()) << trickle << ": " << got.status().ToString();
    EXPECT_TRUE(*got == data) << trickle;
  }
}

TEST_P(GzipSourceTest, MultiMember) {
  std::string a = TestPayload(100 << 10, 3), b = TestPayload(70 << 10, 4);
  std::string gz = GzipMember(a) + GzipMember("") + GzipMember(b);
  for (size_t trickle : {0, 1, 3}) {
    auto got = Decode(gz, trickle);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == a + b);
  }
}

TEST_P(GzipSourceTest, EmptyMember) {
  auto got = Decode(GzipMember(""));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "");
}

TEST_P(GzipSourceTest, TruncationAnywhereIsDataLoss) {
  std::string first = GzipMember(TestPayload(20 << 10, 5));
  std::string gz = first + GzipMember("second");
  for (size_t cut = 1; cut < gz.size(); ++cut) {
    if (cut == first.size()) continue;  // a member boundary: a complete stream
    auto got = Decode(std::string_view(gz).substr(0, cut));
    ASSERT_FALSE(got.ok()) << "cut at " << cut << " of " << gz.size();
    if (cut == 1) {
      EXPECT_EQ(got.status().code(), Code::kDataLoss);
      continue;
    }
    EXPECT_EQ(got.status().code(), Code::kDataLoss)
        << cut << ": " << got.status().ToString();
    EXPECT_NE(got.status().message().find("truncated"), std::string::npos);
  }
}

TEST_P(GzipSourceTest, TrailingGarbageIsInvalidArgument) {
  std::string gz = GzipMember("hello");
  for (std::string junk : {std::string("x"), std::string(512, '\0'),
                           std::string("garbage after the member")}) {
    auto got = Decode(gz + junk);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), Code::kInvalidArgument)
        << got.status().ToString();
    EXPECT_NE(got.status().message().find("trailing garbage"),
              std::string::npos)
        << got.status().ToString();
  }
}

TEST_P(GzipSourceTest, BadCrcAndSizeAreInvalidArgument) {
  std::string gz = GzipMember(TestPayload(10000, 6));
  for (size_t back : {8, 4}) {  // CRC-32, then ISIZE
    std::string bad = gz;
    bad[bad.size() - back] ^= 0x01;
    auto got = Decode(bad);
    ASSERT_FALSE(got.ok()) << back;
    EXPECT_EQ(got.status().code(), Code::kInvalidArgument)
        << got.status().ToString();
  }
}

TEST_P(GzipSourceTest, CorruptDeflateIsInvalidArgument) {
  std::string gz = GzipMember(TestPayload(10000, 7));
  gz[10] = static_cast<char>(0xff);  // first deflate block: BTYPE 11 (reserved)
  auto got = Decode(gz);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kInvalidArgument)
      << got.status().ToString();
}

TEST_P(GzipSourceTest, NotGzipIsInvalidArgument) {
  auto got = Decode("plain text, no magic");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Engines, GzipSourceTest,
                         ::testing::Values(GzipEngine::kZlib,
                                           GzipEngine::kIsal),
                         [](const auto& info) {
                           return info.param == GzipEngine::kZlib ? "zlib"
                                                                  : "isal";
                         });

}  // namespace
}  // namespace strata
