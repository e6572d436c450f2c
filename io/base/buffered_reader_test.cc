#include "io/base/buffered_reader.h"

#include <gtest/gtest.h>

#include <string>

#include "io/decompress/test_util.h"

namespace strata {
namespace {

TEST(BufferedReaderTest, ReadFullReadSomeSkip) {
  std::string data = TestPayload(100000);
  TrickleSource src(data, 333);
  BufferedReader r(src, 1024);
  std::string a(10, '\0');
  ASSERT_EQ(*r.ReadFull(a.data(), a.size()), 10u);
  EXPECT_EQ(a, data.substr(0, 10));
  ASSERT_EQ(*r.Skip(5000), 5000u);
  std::string big(4096, '\0');  // >= capacity: bypasses the buffer
  ASSERT_EQ(*r.ReadFull(big.data(), big.size()), big.size());
  EXPECT_EQ(big, data.substr(5010, 4096));
  EXPECT_EQ(r.consumed(), 9106u);
  ASSERT_EQ(*r.Skip(UINT64_MAX), data.size() - 9106);
  EXPECT_TRUE(r.eof());
  EXPECT_EQ(*r.ReadSome(a.data(), a.size()), 0u);
  EXPECT_EQ(r.consumed(), data.size());
}

TEST(BufferedReaderTest, PeekInterface) {
  std::string data = "0123456789";
  TrickleSource src(data, 3);
  BufferedReader r(src, 8);
  ASSERT_TRUE(*r.Ensure(5));
  EXPECT_EQ(std::string(r.data(), 5), "01234");
  r.Consume(4);
  ASSERT_TRUE(*r.Ensure(6));  // compacts to make room
  EXPECT_EQ(std::string(r.data(), 6), "456789");
  r.Consume(6);
  EXPECT_FALSE(*r.Ensure(1));
  EXPECT_TRUE(r.eof());
  EXPECT_EQ(r.consumed(), 10u);
}

}  // namespace
}  // namespace strata
