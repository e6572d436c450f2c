#include "snapshotter/meta/snapshot_store.h"

#include <gtest/gtest.h>

#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

class SnapshotStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s =
        MetaStore::Open(dir_.path(), {.map_size = 256 << 20, .sync = false});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  Result<SnapshotRecord> Create(Kind kind, std::string key, std::string parent,
                                Labels labels = {}) {
    Result<SnapshotRecord> out = Internal("unset");
    Status s = store_->Update([&](WriteTxn& t) -> Status {
      out = CreateSnapshot(t, kind, key, parent, labels, ++clock_);
      return out.status();
    });
    if (!s.ok()) return s;
    return out;
  }
  Status Commit(std::string key, std::string name, Labels labels = {}) {
    return store_->Update([&](WriteTxn& t) {
      return CommitActive(t, key, name, Usage{4096, 2}, labels, ++clock_)
          .status();
    });
  }
  Status Remove(std::string key) {
    return store_->Update(
        [&](WriteTxn& t) { return RemoveSnapshot(t, key).status(); });
  }
  Result<Info> Stat(std::string key) {
    Result<Info> out = Internal("unset");
    Status s = store_->View([&](ReadTxn& t) -> Status {
      auto r = GetSnapshot(t, key);
      if (!r.ok()) return r.status();
      out = ToInfo(t, *r);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  TempDir dir_;
  std::unique_ptr<MetaStore> store_;
  int64_t clock_ = 1000;
};

TEST_F(SnapshotStoreTest, CreateCommitStatChain) {
  auto base =
      Create(Kind::kActive, "default/1/extract base", "", {{"l", "prepare"}});
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(base->id, 1u);
  ASSERT_TRUE(Commit("default/1/extract base", "default/1/sha256:base",
                     {{"l", "commit"}})
                  .ok());
  auto info = Stat("default/1/sha256:base");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->kind, Kind::kCommitted);
  EXPECT_EQ(info->labels, (Labels{{"l", "commit"}}))
      << "commit must not inherit labels";
  EXPECT_EQ(Stat("default/1/extract base").status().code(), Code::kNotFound);

  auto child = Create(Kind::kActive, "c", "default/1/sha256:base");
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->id, 2u);
  EXPECT_EQ(Stat("c")->parent, "default/1/sha256:base");
  std::vector<uint64_t> parents;
  ASSERT_TRUE(store_
                  ->View([&](ReadTxn& t) -> Status {
                    STRATA_ASSIGN_OR_RETURN(parents, ParentIds(t, *child));
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(parents, std::vector<uint64_t>{1});
}

TEST_F(SnapshotStoreTest, ErrorClassesMatchContainerd) {
  ASSERT_TRUE(Create(Kind::kActive, "a", "").ok());
  EXPECT_EQ(Create(Kind::kActive, "a", "").status().code(),
            Code::kAlreadyExists);
  EXPECT_EQ(Create(Kind::kView, "a", "").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(Create(Kind::kActive, "b", "missing").status().code(),
            Code::kNotFound);
  EXPECT_EQ(Create(Kind::kActive, "b", "a").status().code(),
            Code::kInvalidArgument)
      << "parent not committed";
  ASSERT_TRUE(Create(Kind::kView, "v", "").ok());
  EXPECT_EQ(Commit("v", "v-committed").code(), Code::kFailedPrecondition)
      << "commit a view";
  EXPECT_EQ(Commit("nope", "n").code(), Code::kNotFound);
  ASSERT_TRUE(Commit("a", "a-committed").ok());
  EXPECT_EQ(Commit("a-committed", "again").code(), Code::kFailedPrecondition);
  ASSERT_TRUE(Create(Kind::kActive, "x", "").ok());
  EXPECT_EQ(Commit("x", "a-committed").code(), Code::kAlreadyExists);
  EXPECT_EQ(Commit("nope", "a-committed").code(), Code::kAlreadyExists)
      << "name is checked first: containerd's unpacker relies on it";
  ASSERT_TRUE(Create(Kind::kActive, "child", "a-committed").ok());
  Status rm = Remove("a-committed");
  EXPECT_EQ(rm.code(), Code::kFailedPrecondition);
  EXPECT_NE(rm.message().find("a-committed"), std::string::npos)
      << rm.message();
  EXPECT_EQ(Remove("nope").code(), Code::kNotFound);
  // The failed operations changed nothing.
  EXPECT_EQ(Stat("x")->kind, Kind::kActive);
  EXPECT_EQ(Stat("a-committed")->kind, Kind::kCommitted);
  ASSERT_TRUE(Remove("child").ok());
  ASSERT_TRUE(Remove("a-committed").ok());
}

TEST_F(SnapshotStoreTest, KeysOfAnyBytesAndLength) {
  std::string nul("a\0b", 3);
  std::string huge(10 * 1024, 'k');
  ASSERT_TRUE(Create(Kind::kActive, "a", "").ok());
  ASSERT_TRUE(Create(Kind::kActive, nul, "").ok());
  ASSERT_TRUE(Create(Kind::kActive, huge, "").ok())
      << "LMDB's 511-byte key limit leaked";
  EXPECT_EQ(Stat(nul)->name, nul);
  EXPECT_EQ(Stat(huge)->name.size(), huge.size());
  EXPECT_EQ(Stat(std::string("a\0c", 3)).status().code(), Code::kNotFound);
  ASSERT_TRUE(Remove(nul).ok());
  EXPECT_TRUE(Stat("a").ok()) << "removing \"a\\0b\" touched \"a\"";
}

TEST_F(SnapshotStoreTest, UpdateFieldPaths) {
  ASSERT_TRUE(Create(Kind::kActive, "k", "", {{"a", "1"}, {"b", "2"}}).ok());
  auto update = [&](Labels labels, std::vector<std::string> paths) {
    Result<SnapshotRecord> out = Internal("unset");
    Status s = store_->Update([&](WriteTxn& t) {
      Info in;
      in.name = "k";
      in.labels = labels;
      out = UpdateInfo(t, in, paths, ++clock_);
      return out.status();
    });
    return s.ok() ? out : Result<SnapshotRecord>(s);
  };
  auto r = update({{"a", "9"}, {"c", "3"}}, {"labels.a"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->labels, (Labels{{"a", "9"}, {"b", "2"}}))
      << "only labels.a may change";
  r = update({}, {"labels.b"});
  EXPECT_EQ(r->labels, (Labels{{"a", "9"}})) << "absent value deletes";
  r = update({{"z", "1"}}, {"labels"});
  EXPECT_EQ(r->labels, (Labels{{"z", "1"}}));
  r = update({{"y", "2"}}, {});
  EXPECT_EQ(r->labels, (Labels{{"y", "2"}})) << "no paths: all labels";
  EXPECT_GT(r->updated_ns, r->created_ns);
  EXPECT_EQ(update({}, {"name"}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(update({}, {"parent"}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Stat("k")->labels, (Labels{{"y", "2"}}))
      << "rejected update changed labels";
}

// containerd's WriteLabels: an empty value is "no such label", whichever
// operation writes it (Prepare, View, Commit, Update by path or in full).
TEST_F(SnapshotStoreTest, EmptyLabelValuesAreNotStored) {
  const Labels in = {{"keep", "v"}, {"empty", ""}};
  const Labels kept = {{"keep", "v"}};
  auto a = Create(Kind::kActive, "a", "", in);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->labels, kept) << "Prepare";
  EXPECT_EQ(Stat("a")->labels, kept) << "Prepare";
  ASSERT_TRUE(Commit("a", "c", in).ok());
  EXPECT_EQ(Stat("c")->labels, kept) << "Commit";
  auto v = Create(Kind::kView, "v", "c", in);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(Stat("v")->labels, kept) << "View";

  auto update = [&](Labels labels, std::vector<std::string> paths) {
    return store_->Update([&](WriteTxn& t) {
      Info info;
      info.name = "v";
      info.labels = std::move(labels);
      return UpdateInfo(t, info, paths, ++clock_).status();
    });
  };
  ASSERT_TRUE(update({{"x", "1"}, {"empty", ""}}, {}).ok());
  EXPECT_EQ(Stat("v")->labels, (Labels{{"x", "1"}})) << "Update, all labels";
  ASSERT_TRUE(update({{"y", ""}, {"keep", "v"}}, {"labels"}).ok());
  EXPECT_EQ(Stat("v")->labels, kept) << "Update, labels";
  ASSERT_TRUE(
      update({{"keep", ""}, {"z", "2"}}, {"labels.keep", "labels.z"}).ok());
  EXPECT_EQ(Stat("v")->labels, (Labels{{"z", "2"}})) << "Update, labels.<k>";
}

TEST_F(SnapshotStoreTest, AbortedCreateLeavesNoRecordAndItsIdIsNotDrawnAgain) {
  Status s = store_->Update([&](WriteTxn& t) -> Status {
    STRATA_RETURN_IF_ERROR(
        CreateSnapshot(t, Kind::kActive, "gone", "", {}, 1).status());
    return Internal("crash");
  });
  ASSERT_FALSE(s.ok());
  auto r = Create(Kind::kActive, "next", "");
  ASSERT_TRUE(r.ok());
  // The counter rolled back with the transaction, but the failed caller may
  // still be removing a directory named after id 1: the store skips it.
  EXPECT_EQ(r->id, 2u);
  EXPECT_EQ(Stat("gone").status().code(), Code::kNotFound);
}

TEST_F(SnapshotStoreTest, WalkVisitsAllInIdOrder) {
  for (int i = 0; i < 300; ++i)
    ASSERT_TRUE(Create(Kind::kActive, "k" + std::to_string(i), "").ok());
  std::vector<uint64_t> ids;
  ASSERT_TRUE(store_
                  ->View([&](ReadTxn& t) {
                    return WalkSnapshots(t, [&](const SnapshotRecord& r) {
                      ids.push_back(r.id);
                      return true;
                    });
                  })
                  .ok());
  ASSERT_EQ(ids.size(), 300u);
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], i + 1);
}

}  // namespace
}  // namespace strata
