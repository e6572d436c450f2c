#include "bench/harness/cow_results.h"

#include <gtest/gtest.h>

#include "bench/harness/json.h"

namespace strata {
namespace {

TEST(BenchCowResults, SizesRoundTrip) {
  EXPECT_EQ(ParseSize("4K"), 4096u);
  EXPECT_EQ(ParseSize("1M"), 1u << 20);
  EXPECT_EQ(ParseSize("64MiB"), 64u << 20);
  EXPECT_EQ(ParseSize("1G"), 1u << 30);
  EXPECT_EQ(ParseSize("4096"), 4096u);
  EXPECT_EQ(ParseSize("4X"), 0u);
  EXPECT_EQ(ParseSize("M"), 0u);
  EXPECT_EQ(ParseSize(""), 0u);
  EXPECT_EQ(SizeName(4096), "4 KiB");
  EXPECT_EQ(SizeName(64u << 20), "64 MiB");
  EXPECT_EQ(SizeName(1u << 30), "1 GiB");
  EXPECT_EQ(SizeName(1000), "1000 B");
}

TEST(BenchCowResults, MedianOfOddEvenAndEmpty) {
  EXPECT_EQ(Median(std::vector<double>{3, 1, 2}), 2);
  EXPECT_EQ(Median(std::vector<int64_t>{4, 1, 3, 2}), 2.5);
  EXPECT_TRUE(std::isnan(Median(std::vector<double>{})));
}

TEST(BenchCowResults, JsonEscapesAndKeepsIntegersExact) {
  EXPECT_EQ(json::Str("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
  EXPECT_EQ(json::Num(1048576), "1048576");
  EXPECT_EQ(json::Num(-65536), "-65536");
  EXPECT_EQ(json::Num(0.25), "0.25");
  EXPECT_EQ(json::Num(0.0 / 0.0), "null");
}

TEST(BenchCowResults, TablesCarryEveryCellAndTheSamples) {
  CowResults r;
  r.configs = {"overlay-ext4", "copy-ext4"};
  r.sizes = {4096};
  r.reps = 1;
  r.cells.push_back({"overlay-ext4", 4096, "write-mid", {1500}, {200}, {8192}});
  r.cells.push_back({"copy-ext4", 4096, "write-mid", {30}, {100}, {0}});
  r.suites.push_back(
      {"strata copy", "ext4", "copy-ext4", 0, {1}, {2}, {3}, 2e6, 5});
  r.suites.push_back(
      {"peer overlayfs", "ext4", "copy-ext4", 0, {1}, {2}, {3}, 4e6, 5});
  std::string j = CowResultsJson(r);
  // Milliseconds in the latency table, KiB in the bytes table.
  EXPECT_NE(j.find("[\"overlay-ext4\", \"4 KiB\", 1.5, null"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("[\"overlay-ext4\", \"4 KiB\", 8, null"), std::string::npos)
      << j;
  // Raw samples, exact.
  EXPECT_NE(j.find("\"op_us\": [1500]"), std::string::npos);
  EXPECT_NE(j.find("\"bytes\": [8192]"), std::string::npos);
  // Strata's total over the peer's of the same rep: 2 s / 4 s.
  EXPECT_NE(j.find("[\"copy-ext4\", \"strata copy\", 2, 0.5,"),
            std::string::npos)
      << j;
}

}  // namespace
}  // namespace strata
