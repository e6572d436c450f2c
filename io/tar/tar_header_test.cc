#include "io/tar/tar_header.h"

#include <gtest/gtest.h>

#include <string>

#include "io/tar/tar_test_util.h"

namespace strata {
namespace {

int64_t Num(std::string_view field) {
  auto r = ParseTarNumber(field);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : -999;
}

TEST(ParseTarNumberTest, Octal) {
  EXPECT_EQ(Num(std::string_view("0000644\0", 8)), 0644);
  EXPECT_EQ(Num("   755  "), 0755);
  EXPECT_EQ(Num(std::string_view("\0\0\0\0", 4)), 0);
  EXPECT_EQ(Num("        "), 0);
  EXPECT_EQ(Num("77777777777"), 077777777777);
  EXPECT_FALSE(ParseTarNumber("12 34").ok());
  EXPECT_FALSE(ParseTarNumber("0x1f").ok());
  EXPECT_FALSE(ParseTarNumber("-1").ok());
  EXPECT_FALSE(ParseTarNumber("8").ok());
  EXPECT_FALSE(ParseTarNumber(std::string(30, '7')).ok());  // overflows
}

TEST(ParseTarNumberTest, Base256) {
  std::string b(12, '\0');
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{8589934592}, int64_t{-1},
                    int64_t{-86400}, INT64_MAX, INT64_MIN}) {
    PutBase256(&b, {0, 12}, v);
    EXPECT_EQ(Num(b), v);
  }
  std::string big(12, '\x7f');
  big[0] = static_cast<char>(0x80);
  EXPECT_FALSE(ParseTarNumber(big).ok());
  std::string eight("\x80\0\0\0\0\0\0\x05", 8);
  EXPECT_EQ(Num(eight), 5);
}

TEST(TarHeaderTest, FormatsAndChecksum) {
  HeaderSpec h;
  std::string ustar = MakeHeader(h);
  EXPECT_EQ(DetectTarFormat(ustar.data()), TarFormat::kUstar);
  EXPECT_TRUE(VerifyTarChecksum(ustar.data()).ok());
  h.gnu = true;
  std::string gnu = MakeHeader(h);
  EXPECT_EQ(DetectTarFormat(gnu.data()), TarFormat::kGnu);
  std::memset(gnu.data() + kTarMagic.offset, 0, 8);
  EXPECT_EQ(DetectTarFormat(gnu.data()), TarFormat::kV7);
  EXPECT_FALSE(VerifyTarChecksum(gnu.data()).ok());
  FixChecksum(&gnu);
  EXPECT_TRUE(VerifyTarChecksum(gnu.data()).ok());
  EXPECT_TRUE(IsZeroBlock(std::string(512, '\0').data()));
  EXPECT_FALSE(IsZeroBlock(gnu.data()));
  EXPECT_EQ(TarString(std::string_view("ab\0cd", 5)), "ab");
  EXPECT_EQ(TarString("abcd"), "abcd");
}

}  // namespace
}  // namespace strata
