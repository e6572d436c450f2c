#include "snapshotter/meta/content_index.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

std::string D(char c) { return std::string(kContentDigestBytes, c); }

class ContentIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s =
        MetaStore::Open(dir_.path(), {.map_size = 64 << 20, .sync = false});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  ContentCounts Counts() {
    ContentCounts c;
    EXPECT_TRUE(store_
                    ->View([&](ReadTxn& t) -> Status {
                      STRATA_ASSIGN_OR_RETURN(c, CountContent(t));
                      return Status::Ok();
                    })
                    .ok());
    return c;
  }
  std::vector<uint64_t> Holders(const std::string& digest) {
    std::vector<uint64_t> ids;
    EXPECT_TRUE(store_
                    ->View([&](ReadTxn& t) {
                      return FindContent(t, digest,
                                         [&](uint64_t id, const ContentFile&) {
                                           ids.push_back(id);
                                           return true;
                                         });
                    })
                    .ok());
    return ids;
  }
  Status Update(const std::function<Status(WriteTxn&)>& fn) {
    return store_->Update(fn);
  }

  TempDir dir_;
  std::unique_ptr<MetaStore> store_;
};

TEST_F(ContentIndexTest, PublishedAtCommitDroppedAtRemoveCountedExactly) {
  ASSERT_TRUE(Update([](WriteTxn& t) {
                return AddSnapshotContent(
                    t, 7,
                    {{D('a'), "x", {.size = 100}, ""},
                     {D('b'), "y", {.size = 200}, ""},
                     {D('a'), "again", {.size = 100}, ""}});
              }).ok());
  EXPECT_TRUE(Holders(D('a')).empty()) << "an active snapshot is proposed";
  EXPECT_EQ(Counts().pending, 2);
  ASSERT_TRUE(Update([](WriteTxn& t) { return PublishContent(t, 7); }).ok());
  ASSERT_TRUE(Update([](WriteTxn& t) {
                STRATA_RETURN_IF_ERROR(AddSnapshotContent(
                    t, 9, {{D('a'), "z", {.size = 100}, ""}}));
                return PublishContent(t, 9);
              }).ok());
  EXPECT_EQ(Holders(D('a')), (std::vector<uint64_t>{7, 9}));
  ContentCounts c = Counts();
  EXPECT_EQ(c.digests, 2);
  EXPECT_EQ(c.holders, 3);
  EXPECT_EQ(c.shared_bytes, 100);
  EXPECT_EQ(c.pending, 0);
  std::string path;
  ASSERT_TRUE(store_
                  ->View([&](ReadTxn& t) {
                    return FindContent(t, D('a'),
                                       [&](uint64_t, const ContentFile& f) {
                                         path = f.path;
                                         return false;
                                       });
                  })
                  .ok());
  EXPECT_EQ(path, "x") << "a digest recorded twice keeps its first path";
  ASSERT_TRUE(Update([](WriteTxn& t) { return DropContent(t, 7); }).ok());
  EXPECT_EQ(Holders(D('a')), (std::vector<uint64_t>{9}));
  EXPECT_TRUE(Holders(D('b')).empty());
  c = Counts();
  EXPECT_EQ(c.digests, 1);
  EXPECT_EQ(c.holders, 1);
}

TEST_F(ContentIndexTest, PruneDropsRowsOfIdsWithoutARecord) {
  ASSERT_TRUE(
      Update([](WriteTxn& t) {
        STRATA_RETURN_IF_ERROR(
            AddSnapshotContent(t, 1, {{D('a'), "a", {.size = 1}, ""}}));
        STRATA_RETURN_IF_ERROR(PublishContent(t, 1));
        return AddSnapshotContent(t, 2, {{D('b'), "b", {.size = 1}, ""}});
      }).ok());
  int64_t pruned = -1;
  ASSERT_TRUE(Update([&](WriteTxn& t) -> Status {
                STRATA_ASSIGN_OR_RETURN(pruned, PruneContent(t, {2}));
                return Status::Ok();
              }).ok());
  EXPECT_EQ(pruned, 2);  // id 1's row and its published row
  EXPECT_TRUE(Holders(D('a')).empty());
  EXPECT_EQ(Counts().pending, 1);
}

TEST_F(ContentIndexTest, ADigestOfTheWrongLengthIsRefused) {
  Status s = Update([](WriteTxn& t) {
    return AddSnapshotContent(t, 1, {{"short", "a", {.size = 1}, ""}});
  });
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
}

TEST_F(ContentIndexTest, ASnapshotsRowsAreListedAndTheirIdentityRewritten) {
  ASSERT_TRUE(
      Update([](WriteTxn& t) {
        return AddSnapshotContent(
            t, 3,
            {{D('b'), "b", {.size = 2, .ino = 20, .ctime_ns = 200}, ""},
             {D('a'), "a", {.size = 1, .ino = 10, .ctime_ns = 100}, ""}});
      }).ok());
  ASSERT_TRUE(Update([](WriteTxn& t) {
                STRATA_RETURN_IF_ERROR(SetContentIdentity(
                    t, 3, D('a'), {.size = 1, .ino = 11, .ctime_ns = 111}));
                // No such row: nothing written.
                return SetContentIdentity(t, 4, D('a'), {.size = 1});
              }).ok());
  std::vector<ContentFile> files;
  ASSERT_TRUE(store_
                  ->View([&](ReadTxn& t) -> Status {
                    STRATA_ASSIGN_OR_RETURN(files, SnapshotContent(t, 3));
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path, "a");
  EXPECT_EQ(files[0].id.ino, 11u);
  EXPECT_EQ(files[0].id.ctime_ns, 111);
  EXPECT_EQ(files[1].path, "b");
  EXPECT_EQ(files[1].id.ino, 20u);
  EXPECT_EQ(Counts().pending, 2);
}

}  // namespace
}  // namespace strata
