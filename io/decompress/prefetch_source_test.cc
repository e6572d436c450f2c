#include "io/decompress/prefetch_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

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

}  // namespace
}  // namespace strata
