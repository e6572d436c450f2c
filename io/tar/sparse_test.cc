#include "io/tar/sparse.h"

#include <gtest/gtest.h>

#include <string>

#include "io/tar/tar_header.h"

namespace strata {
namespace {

TEST(SparseTest, ListAndValidate) {
  SparseMap map;
  ASSERT_TRUE(ParseSparseMapList("0,10,100,5", &map).ok());
  ASSERT_EQ(map.size(), 2u);
  EXPECT_TRUE(ValidateSparseMap(200, 15, &map).ok());
  EXPECT_FALSE(ValidateSparseMap(200, 16, &map).ok());  // stored bytes differ
  EXPECT_FALSE(ValidateSparseMap(104, 15, &map).ok());  // past the end
  SparseMap overlap = {{0, 10}, {5, 5}};
  EXPECT_FALSE(ValidateSparseMap(100, 15, &overlap).ok());
  SparseMap negative = {{-1, 1}};
  EXPECT_FALSE(ValidateSparseMap(100, 1, &negative).ok());
  SparseMap empty;
  ASSERT_TRUE(ValidateSparseMap(100, 0, &empty).ok());
  EXPECT_EQ(empty, (SparseMap{{100, 0}}));
  SparseMap bad;
  EXPECT_FALSE(ParseSparseMapList("", &bad).ok());
  EXPECT_FALSE(ParseSparseMapList("1,", &bad).ok());
  EXPECT_FALSE(ParseSparseMapList("1,2,3", &bad).ok());
}

TEST(SparseTest, DecoderAcrossBlocks) {
  // 60 segments with long offsets: the text spans two blocks, and a number
  // straddles the boundary.
  std::string text = "60\n";
  SparseMap want;
  for (int64_t i = 0; i < 60; ++i) {
    want.emplace_back(i * 1000000000000 + 123, 7);
    text += std::to_string(want.back().first) + "\n7\n";
  }
  ASSERT_GT(text.size(), kTarBlockSize);
  ASSERT_NE(text[kTarBlockSize - 1], '\n');
  text.resize(2 * kTarBlockSize, '\0');
  SparseMapDecoder d;
  auto first = d.Feed(text.data());
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(*first);
  auto second = d.Feed(text.data() + kTarBlockSize);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(*second);
  EXPECT_EQ(d.Take(), want);
}

}  // namespace
}  // namespace strata
