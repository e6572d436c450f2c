#include "snapshotter/meta/codec.h"

#include <gtest/gtest.h>

namespace strata {
namespace {

SnapshotRecord Sample() {
  SnapshotRecord r;
  r.id = 42;
  r.kind = Kind::kCommitted;
  r.parent_id = 7;
  r.key = std::string("default/12/sha256:ab\0cd", 23);
  r.created_ns = 1700000000123456789;
  r.updated_ns = 1700000000987654321;
  r.usage = {123456, 78};
  r.labels = {{"containerd.io/snapshot.ref", "sha256:ab"},
              {"empty-key-next", "v"}};
  return r;
}

TEST(CodecTest, RoundTrip) {
  SnapshotRecord r = Sample();
  auto back = DecodeRecord(42, EncodeRecord(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, 42u);
  EXPECT_EQ(back->kind, r.kind);
  EXPECT_EQ(back->parent_id, 7u);
  EXPECT_EQ(back->key, r.key);
  EXPECT_EQ(back->key.size(), 23u) << "NUL byte truncated the key";
  EXPECT_EQ(back->created_ns, r.created_ns);
  EXPECT_EQ(back->updated_ns, r.updated_ns);
  EXPECT_EQ(back->usage.size, 123456);
  EXPECT_EQ(back->usage.inodes, 78);
  EXPECT_EQ(back->labels, r.labels);
}

TEST(CodecTest, EveryTruncationIsDataLoss) {
  std::string data = EncodeRecord(Sample());
  for (size_t n = 0; n < data.size(); ++n) {
    auto r = DecodeRecord(1, std::string_view(data).substr(0, n));
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(r.status().code(), Code::kDataLoss);
  }
  EXPECT_FALSE(DecodeRecord(1, data + "x").ok()) << "trailing byte accepted";
}

TEST(CodecTest, BadVersionAndKind) {
  std::string data = EncodeRecord(Sample());
  std::string bad = data;
  bad[0] = 9;
  EXPECT_EQ(DecodeRecord(1, bad).status().code(), Code::kDataLoss);
  bad = data;
  bad[1] = 0;
  EXPECT_EQ(DecodeRecord(1, bad).status().code(), Code::kDataLoss);
}

TEST(CodecTest, IdsSortNumerically) {
  EXPECT_LT(EncodeId(255), EncodeId(256));
  EXPECT_LT(EncodeId(1), EncodeId(1ull << 40));
  EXPECT_EQ(*DecodeId(EncodeId(0x0102030405060708ull)), 0x0102030405060708ull);
  EXPECT_FALSE(DecodeId("short").ok());
}

TEST(CodecTest, KeyHashIsStable) {
  // FNV-1a 64 reference values: the on-disk index depends on them.
  EXPECT_EQ(KeyHash(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(KeyHash("a"), 0xaf63dc4c8601ec8cull);
}

}  // namespace
}  // namespace strata
