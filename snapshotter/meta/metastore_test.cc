#include "snapshotter/meta/metastore.h"

#include <gtest/gtest.h>

#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

TEST(MetaStoreTest, UpdateCommitsOnOkAndAbortsOnError) {
  TempDir dir;
  auto store =
      MetaStore::Open(dir.path(), {.map_size = 64 << 20, .sync = false});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE(
      (*store)
          ->Update([](WriteTxn& t) { return t.Put(Table::kMeta, "a", "1"); })
          .ok());
  Status failed = (*store)->Update([](WriteTxn& t) -> Status {
    STRATA_RETURN_IF_ERROR(t.Put(Table::kMeta, "a", "2"));
    STRATA_RETURN_IF_ERROR(t.Put(Table::kMeta, "b", "2"));
    return AlreadyExists("stop");
  });
  EXPECT_EQ(failed.code(), Code::kAlreadyExists)
      << "fn's status must come back unchanged";
  ASSERT_TRUE((*store)
                  ->View([](ReadTxn& t) -> Status {
                    auto a = t.Get(Table::kMeta, "a");
                    EXPECT_TRUE(a.ok());
                    EXPECT_EQ(a->value_or("missing"), "1");
                    auto b = t.Get(Table::kMeta, "b");
                    EXPECT_FALSE(b->has_value()) << "aborted write is visible";
                    return Status::Ok();
                  })
                  .ok());
}

TEST(MetaStoreTest, DataSurvivesReopen) {
  TempDir dir;
  {
    auto store = MetaStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)
                    ->Update([](WriteTxn& t) {
                      return t.Put(Table::kSnapshots, "k", "v");
                    })
                    .ok());
  }
  auto store = MetaStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  std::string got;
  ASSERT_TRUE((*store)
                  ->View([&](ReadTxn& t) -> Status {
                    auto v = t.Get(Table::kSnapshots, "k");
                    if (v.ok() && v->has_value()) got = std::string(**v);
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(got, "v");
}

TEST(MetaStoreTest, DupsortScanAndPairDelete) {
  TempDir dir;
  auto store =
      MetaStore::Open(dir.path(), {.map_size = 64 << 20, .sync = false});
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)
                  ->Update([](WriteTxn& t) -> Status {
                    STRATA_RETURN_IF_ERROR(t.Put(Table::kChildren, "p1", "c1"));
                    STRATA_RETURN_IF_ERROR(t.Put(Table::kChildren, "p1", "c2"));
                    STRATA_RETURN_IF_ERROR(
                        t.Put(Table::kChildren, "p1", "c2"));  // idempotent
                    STRATA_RETURN_IF_ERROR(t.Put(Table::kChildren, "p2", "c3"));
                    return t.Delete(Table::kChildren, "p1",
                                    std::string_view("c1"));
                  })
                  .ok());
  std::vector<std::string> seen;
  ASSERT_TRUE((*store)
                  ->View([&](ReadTxn& t) {
                    return t.Scan(
                        Table::kChildren, "p1",
                        [&](std::string_view k, std::string_view v) {
                          seen.push_back(std::string(k) + "=" + std::string(v));
                          return true;
                        });
                  })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"p1=c2"}));
  Status missing = (*store)->Update(
      [](WriteTxn& t) { return t.Delete(Table::kChildren, "p9"); });
  EXPECT_EQ(missing.code(), Code::kNotFound);
}

TEST(MetaStoreTest, MapFullIsResourceExhausted) {
  TempDir dir;
  auto store =
      MetaStore::Open(dir.path(), {.map_size = 1 << 20, .sync = false});
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
  ASSERT_TRUE((*store)
                  ->View([](ReadTxn& t) -> Status {
                    auto v = t.Get(Table::kSnapshots, "k0");
                    EXPECT_TRUE(v.ok() && v->has_value());
                    return Status::Ok();
                  })
                  .ok());
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

// Group commit: a leader whose fn blocks until `followers` more Update calls
// are queued behind it, so those join one group deterministically.
class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = MetaStore::Open(dir_.path(), {.map_size = 64 << 20, .sync = true});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  // Runs leader_fn's Update on a thread, then each of fns on its own thread
  // once the leader is inside its txn; releases the leader when all are queued.
  std::vector<Status> RunGroup(
      const std::vector<std::function<Status(WriteTxn&)>>& fns) {
    std::promise<void> entered, release;
    auto release_f = release.get_future().share();
    std::thread leader([&] {
      EXPECT_TRUE(store_
                      ->Update([&](WriteTxn& t) {
                        entered.set_value();
                        release_f.wait();
                        return t.Put(Table::kMeta, "leader", "1");
                      })
                      .ok());
    });
    entered.get_future().wait();
    std::vector<Status> out(fns.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < fns.size(); ++i) {
      threads.emplace_back([&, i] { out[i] = store_->Update(fns[i]); });
    }
    while (store_->TEST_QueuedWriters() < fns.size() + 1)
      std::this_thread::yield();
    release.set_value();
    leader.join();
    for (auto& t : threads) t.join();
    return out;
  }
  std::optional<std::string> Get(std::string_view key) {
    std::optional<std::string> got;
    EXPECT_TRUE(store_
                    ->View([&](ReadTxn& t) -> Status {
                      STRATA_ASSIGN_OR_RETURN(auto v, t.Get(Table::kMeta, key));
                      if (v) got = std::string(*v);
                      return Status::Ok();
                    })
                    .ok());
    return got;
  }

  TempDir dir_;
  std::unique_ptr<MetaStore> store_;
};

TEST_F(GroupCommitTest, QueuedUpdatesShareOneCommit) {
  std::vector<std::function<Status(WriteTxn&)>> fns;
  for (int i = 0; i < 15; ++i) {
    fns.push_back([i](WriteTxn& t) {
      return t.Put(Table::kMeta, "k" + std::to_string(i), "v");
    });
  }
  uint64_t before = store_->TEST_Commits();
  for (const Status& s : RunGroup(fns)) EXPECT_TRUE(s.ok()) << s.ToString();
  // The leader's commit, then one for all 15 followers.
  EXPECT_EQ(store_->TEST_Commits() - before, 2u);
  for (int i = 0; i < 15; ++i)
    EXPECT_EQ(Get("k" + std::to_string(i)), "v") << i;
  // Durable: a reopened store sees every member's write.
  store_.reset();
  auto s = MetaStore::Open(dir_.path());
  ASSERT_TRUE(s.ok());
  store_ = std::move(*s);
  EXPECT_EQ(Get("k14"), "v");
  EXPECT_EQ(Get("leader"), "1");
}

TEST_F(GroupCommitTest, FailingMemberRollsBackOnlyItsOwnWrites) {
  std::vector<std::function<Status(WriteTxn&)>> fns;
  fns.push_back([](WriteTxn& t) { return t.Put(Table::kMeta, "a", "1"); });
  fns.push_back([](WriteTxn& t) -> Status {
    STRATA_RETURN_IF_ERROR(t.Put(Table::kMeta, "bad", "1"));
    STRATA_RETURN_IF_ERROR(t.Put(Table::kMeta, "a", "overwritten"));
    return AlreadyExists("snapshot \"x\": already exists");
  });
  fns.push_back([](WriteTxn& t) { return t.Put(Table::kMeta, "c", "1"); });
  std::vector<Status> got = RunGroup(fns);
  int failed = 0;
  for (const Status& s : got) {
    if (!s.ok()) {
      failed++;
      EXPECT_EQ(s.code(), Code::kAlreadyExists);
      EXPECT_EQ(s.message(), "snapshot \"x\": already exists");
    }
  }
  EXPECT_EQ(failed, 1);
  EXPECT_TRUE(got[0].ok());
  EXPECT_FALSE(got[1].ok());
  EXPECT_EQ(Get("bad"), std::nullopt)
      << "a failed member's write became visible";
  EXPECT_EQ(Get("a"), "1") << "a failed member's overwrite became visible";
  EXPECT_EQ(Get("c"), "1");
}

TEST_F(GroupCommitTest, MembersSeeEarlierMembersLikeASerialOrder) {
  // Read-modify-write of one counter by 12 members: no update is lost.
  std::vector<std::function<Status(WriteTxn&)>> fns;
  for (int i = 0; i < 12; ++i) {
    fns.push_back([](WriteTxn& t) -> Status {
      STRATA_ASSIGN_OR_RETURN(auto v, t.Get(Table::kMeta, "n"));
      int n = v ? std::stoi(std::string(*v)) : 0;
      return t.Put(Table::kMeta, "n", std::to_string(n + 1));
    });
  }
  for (const Status& s : RunGroup(fns)) EXPECT_TRUE(s.ok());
  EXPECT_EQ(Get("n"), "12");
}

}  // namespace
}  // namespace strata
