#include "io/tar/pax.h"

#include <gtest/gtest.h>

#include <string>

#include "io/tar/tar_test_util.h"

namespace strata {
namespace {

TEST(PaxTest, Records) {
  std::string body =
      PaxRecordText("path", "a b=c") +
      PaxRecordText("k", std::string("\0\n", 2)) +
      PaxRecordText(std::string(200, 'x'), std::string(1000, 'y'));
  std::vector<PaxRecord> records;
  ASSERT_TRUE(ParsePaxRecords(body, &records).ok());
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].key, "path");
  EXPECT_EQ(records[0].value, "a b=c");
  EXPECT_EQ(records[1].value, std::string_view("\0\n", 2));
  EXPECT_EQ(records[2].value.size(), 1000u);
  records.clear();
  EXPECT_TRUE(ParsePaxRecords("", &records).ok());
  EXPECT_FALSE(ParsePaxRecords(body + "x", &records).ok());
  EXPECT_FALSE(ParsePaxRecords(std::string("8 k\0=v\n", 8), &records).ok());
}

// Encoded records parse back, including lengths that gain a digit from
// their own length (9 -> 10, 99 -> 100) and values with any byte.
TEST(PaxTest, EncodedRecordsParseBack) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{3}, size_t{4}, size_t{89},
                   size_t{90}, size_t{93}, size_t{94}, size_t{995}}) {
    std::string value(n, 'v');
    if (n > 2) value[1] = '\n', value[2] = '\0';
    std::string r = EncodePaxRecord("k", value);
    std::vector<PaxRecord> out;
    ASSERT_TRUE(ParsePaxRecords(r, &out).ok()) << n << ": " << r;
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].key, "k");
    EXPECT_EQ(out[0].value, value);
  }
}

TEST(PaxTest, Times) {
  struct Case {
    const char* text;
    int64_t sec;
    int32_t nsec;
  } cases[] = {{"0", 0, 0},
               {"1700000000.5", 1700000000, 500000000},
               {"1.123456789999", 1, 123456789},
               {"7.", 7, 0},
               {"-1.25", -2, 750000000},
               {"-3", -3, 0},
               {"-0.000000001", -1, 999999999}};
  for (const Case& c : cases) {
    auto t = ParsePaxTime(c.text);
    ASSERT_TRUE(t.ok()) << c.text;
    EXPECT_EQ(t->sec, c.sec) << c.text;
    EXPECT_EQ(t->nsec, c.nsec) << c.text;
  }
  for (const char* bad : {"", "-", ".5", "1.2.3", "1e9", " 1", "+1", "1.x",
                          "99999999999999999999"}) {
    EXPECT_FALSE(ParsePaxTime(bad).ok()) << bad;
  }
}

TEST(PaxTest, Decoders) {
  EXPECT_EQ(*DecodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(*DecodeBase64("aGVsbG8"), "hello");
  EXPECT_EQ(*DecodeBase64(""), "");
  EXPECT_EQ(*DecodeBase64("AP8="), std::string("\0\xff", 2));
  EXPECT_FALSE(DecodeBase64("a").ok());
  EXPECT_FALSE(DecodeBase64("a$b=").ok());
  EXPECT_EQ(*DecodePercentEscapes("user.a%3Db%25"), "user.a=b%");
  EXPECT_FALSE(DecodePercentEscapes("%4").ok());
  EXPECT_FALSE(DecodePercentEscapes("%zz").ok());
}

TEST(PaxTest, DedupXattrsKeepsFirstPositionLastValue) {
  std::vector<std::pair<std::string, std::string>> x = {
      {"a", "1"}, {"b", "2"}, {"a", "3"}, {"c", "4"}, {"b", "5"}};
  DedupXattrs(&x);
  ASSERT_EQ(x.size(), 3u);
  EXPECT_EQ(x[0], std::make_pair(std::string("a"), std::string("3")));
  EXPECT_EQ(x[1], std::make_pair(std::string("b"), std::string("5")));
  EXPECT_EQ(x[2], std::make_pair(std::string("c"), std::string("4")));
}

}  // namespace
}  // namespace strata
