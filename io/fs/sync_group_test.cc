#include "io/fs/sync_group.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace strata {
namespace {

// SyncFs takes a while and numbers itself; WriteFile marks "data written".
class SlowSyncFs final : public FsOps {
 public:
  Status MakeDir(const std::string&, unsigned) override { return Status::Ok(); }
  Status MakeTempDir(std::string&) override { return Status::Ok(); }
  Status Rename(const std::string&, const std::string&) override {
    return Status::Ok();
  }
  Status RemoveTree(const std::string&) override { return Status::Ok(); }
  Status Unlink(const std::string&) override { return Status::Ok(); }
  Status WriteFile(const std::string&, std::string_view, unsigned) override {
    return Status::Ok();
  }
  Status SyncDir(const std::string&) override { return Status::Ok(); }
  Status SyncFs(int) override {
    int64_t started = ++clock;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    calls++;
    last_start = started;
    if (fail_next.exchange(false))
      return Internal("syncfs: Input/output error");
    return Status::Ok();
  }
  std::atomic<int64_t> clock{0};  // ticks at each write and each sync start
  std::atomic<int64_t> last_start{0};
  std::atomic<int> calls{0};
  std::atomic<bool> fail_next{false};
};

TEST(SyncGroupTest, ConcurrentCallersShareSyncsStartedAfterTheyCalled) {
  SlowSyncFs fs;
  SyncGroup group(fs, -1);
  constexpr int kThreads = 16, kRounds = 20;
  std::atomic<int> violations{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        int64_t wrote = ++fs.clock;  // this caller's data, before Sync
        ASSERT_TRUE(group.Sync().ok());
        // Some sync that started after the write has finished by now.
        if (fs.last_start.load() < wrote) violations++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_LT(fs.calls.load(), kThreads * kRounds / 2)
      << "concurrent callers should share syncfs calls";
  EXPECT_EQ(group.syncs(), static_cast<uint64_t>(fs.calls.load()));
}

TEST(SyncGroupTest, EveryCallerCoveredByAFailedSyncGetsItsError) {
  SlowSyncFs fs;
  SyncGroup group(fs, -1);
  ASSERT_TRUE(group.Sync().ok());
  fs.fail_next = true;
  Status s = group.Sync();
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_TRUE(group.Sync().ok()) << "a later sync covers later callers";
}

}  // namespace
}  // namespace strata
