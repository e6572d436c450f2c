#include "snapshotter/meta/metastore.h"

#include <gtest/gtest.h>

#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

TEST(MetaStoreTest, UpdateCommitsOnOkAndAbortsOnError) {
  TempDir dir;
  auto store = MetaStore::Open(dir.path(), {.map_size = 64 << 20, .sync = false});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Update([](WriteTxn& t) { return t.Put(Table::kMeta, "a", "1"); }).ok());
  Status failed = (*store)->Update([](WriteTxn& t) -> Status {
    STRATA_RETURN_IF_ERROR(t.Put(Table::kMeta, "a", "2"));
    STRATA_RETURN_IF_ERROR(t.Put(Table::kMeta, "b", "2"));
    return AlreadyExists("stop");
  });
  EXPECT_EQ(failed.code(), Code::kAlreadyExists) << "fn's status must come back unchanged";
  ASSERT_TRUE((*store)->View([](ReadTxn& t) -> Status {
    auto a = t.Get(Table::kMeta, "a");
    EXPECT_TRUE(a.ok());
    EXPECT_EQ(a->value_or("missing"), "1");
    auto b = t.Get(Table::kMeta, "b");
    EXPECT_FALSE(b->has_value()) << "aborted write is visible";
    return Status::Ok();
  }).ok());
}

TEST(MetaStoreTest, DataSurvivesReopen) {
  TempDir dir;
  {
    auto store = MetaStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Update([](WriteTxn& t) { return t.Put(Table::kSnapshots, "k", "v"); }).ok());
  }
  auto store = MetaStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  std::string got;
  ASSERT_TRUE((*store)->View([&](ReadTxn& t) -> Status {
    auto v = t.Get(Table::kSnapshots, "k");
    if (v.ok() && v->has_value()) got = std::string(**v);
    return Status::Ok();
  }).ok());
  EXPECT_EQ(got, "v");
}

TEST(MetaStoreTest, DupsortScanAndPairDelete) {
  TempDir dir;
  auto store = MetaStore::Open(dir.path(), {.map_size = 64 << 20, .sync = false});
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Update([](WriteTxn& t) -> Status {
    STRATA_RETURN_IF_ERROR(t.Put(Table::kChildren, "p1", "c1"));
    STRATA_RETURN_IF_ERROR(t.Put(Table::kChildren, "p1", "c2"));
    STRATA_RETURN_IF_ERROR(t.Put(Table::kChildren, "p1", "c2"));  // idempotent
    STRATA_RETURN_IF_ERROR(t.Put(Table::kChildren, "p2", "c3"));
    return t.Delete(Table::kChildren, "p1", std::string_view("c1"));
  }).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE((*store)->View([&](ReadTxn& t) {
    return t.Scan(Table::kChildren, "p1", [&](std::string_view k, std::string_view v) {
      seen.push_back(std::string(k) + "=" + std::string(v));
      return true;
    });
  }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"p1=c2"}));
  Status missing = (*store)->Update(
      [](WriteTxn& t) { return t.Delete(Table::kChildren, "p9"); });
  EXPECT_EQ(missing.code(), Code::kNotFound);
}

TEST(MetaStoreTest, MapFullIsResourceExhausted) {
  TempDir dir;
  auto store = MetaStore::Open(dir.path(), {.map_size = 1 << 20, .sync = false});
  ASSERT_TRUE(store.ok());
  std::string big(64 << 10, 'x');
  Status s;
  for (int i = 0; i < 64 && s.ok(); ++i) {
    s = (*store)->Update([&](WriteTxn& t) {
      return t.Put(Table::kSnapshots, "k" + std::to_string(i), big);
    });
  }
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.ToString();
  // What was committed before the store filled up is intact.
  ASSERT_TRUE((*store)->View([](ReadTxn& t) -> Status {
    auto v = t.Get(Table::kSnapshots, "k0");
    EXPECT_TRUE(v.ok() && v->has_value());
    return Status::Ok();
  }).ok());
}

}  // namespace
}  // namespace strata
