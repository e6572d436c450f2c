#include "io/decompress/prefetch_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string_view>
#include <thread>

namespace strata {
namespace {

// Yields `data` in odd-sized pieces, then optionally fails.
class Pieces final : public Source {
 public:
  Pieces(std::string data, Status end)
      : data_(std::move(data)), end_(std::move(end)) {}
  Result<size_t> Read(char* buf, size_t n) override {
    if (pos_ == data_.size()) {
      if (!end_.ok()) return end_;
      return size_t{0};
    }
    size_t k = std::min({n, size_t{777}, data_.size() - pos_});
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  Status end_;
  size_t pos_ = 0;
};

std::string Drain(Source& s, Status* status) {
  std::string out;
  char buf[5000];
  while (true) {
    auto n = s.Read(buf, sizeof(buf));
    if (!n.ok()) {
      *status = n.status();
      return out;
    }
    if (*n == 0) return out;
    out.append(buf, *n);
  }
}

TEST(PrefetchSourceTest, SameBytesInOrder) {
  std::string data;
  for (int i = 0; i < 300000; ++i) data.push_back(static_cast<char>(i * 7));
  PrefetchSource s(std::make_unique<Pieces>(data, Status()), 4096, 3);
  Status st;
  EXPECT_EQ(Drain(s, &st), data);
  EXPECT_TRUE(st.ok());
}

TEST(PrefetchSourceTest, ErrorArrivesAfterTheBytesBeforeIt) {
  std::string data(10000, 'x');
  PrefetchSource s(
      std::make_unique<Pieces>(data, DataLoss("gzip: stream truncated")), 4096,
      2);
  Status st;
  EXPECT_EQ(Drain(s, &st), data);
  EXPECT_EQ(st.code(), Code::kDataLoss);
}

TEST(PrefetchSourceTest, DestroyedBeforeTheEnd) {
  PrefetchSource s(
      std::make_unique<Pieces>(std::string(1 << 20, 'y'), Status()), 1024, 2);
  char buf[10];
  ASSERT_TRUE(s.Read(buf, sizeof(buf)).ok());
  // The destructor must stop the blocked reader thread.
}

// The tap sees every byte in order, and the consumer sees the end only after
// the tap has finished (a slow tap, so the consumer would otherwise win).
TEST(PrefetchSourceTest, TheTapSeesEveryByteBeforeTheEnd) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>(i * 13));
  std::string tapped;
  std::atomic<bool> tapping_done{false};
  {
    PrefetchSource s(
        std::make_unique<Pieces>(data, Status()), 4096, 2,
        [&](std::string_view chunk) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          tapped.append(chunk);
        });
    Status st;
    EXPECT_EQ(Drain(s, &st), data);
    EXPECT_TRUE(st.ok());
    // Read returned 0: the tap must have seen everything by now.
    EXPECT_EQ(tapped.size(), data.size());
    EXPECT_EQ(tapped, data);
  }
}

TEST(PrefetchSourceTest, WithATapTheErrorStillFollowsTheBytes) {
  std::string data(10000, 'z');
  size_t tapped = 0;
  PrefetchSource s(
      std::make_unique<Pieces>(data, DataLoss("zstd: stream truncated")), 4096,
      2, [&](std::string_view chunk) { tapped += chunk.size(); });
  Status st;
  EXPECT_EQ(Drain(s, &st), data);
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_EQ(tapped, data.size());
}

TEST(PrefetchSourceTest, DestroyedBeforeTheEndWithATap) {
  PrefetchSource s(
      std::make_unique<Pieces>(std::string(1 << 20, 'y'), Status()), 1024, 2,
      [](std::string_view) {});
  char buf[10];
  ASSERT_TRUE(s.Read(buf, sizeof(buf)).ok());
  // The destructor must stop both threads.
}

}  // namespace
}  // namespace strata
