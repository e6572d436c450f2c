#include "bench/harness/cow_ops.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>

#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::set<std::string> Names(const std::string& dir) {
  std::set<std::string> out;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = d ? readdir(d) : nullptr) {
    if (e->d_name[0] != '.') out.insert(e->d_name);
  }
  if (d) closedir(d);
  return out;
}

TEST(BenchCowOps, RandomFileHasItsSizeAndNoZeroRuns) {
  TempDir dir;
  ASSERT_TRUE(WriteRandomFile(dir / "f", (1 << 20) + 3, 7).ok());
  std::string data = Slurp(dir / "f");
  ASSERT_EQ(data.size(), (1u << 20) + 3);
  EXPECT_EQ(data.find(std::string(64, '\0')), std::string::npos);
  ASSERT_TRUE(WriteRandomFile(dir / "g", 4096, 8).ok());
  EXPECT_NE(Slurp(dir / "g"), data.substr(0, 4096));
}

TEST(BenchCowOps, EachOpDoesWhatItSays) {
  TempDir dir;
  std::string f = dir / "f";
  ASSERT_TRUE(WriteRandomFile(f, 8192, 1).ok());
  std::string before = Slurp(f);

  auto us = TimeCowOp(CowOp::kWriteMid, f, 8192);
  ASSERT_TRUE(us.ok()) << us.status().ToString();
  EXPECT_GE(*us, 0);
  std::string after = Slurp(f);
  ASSERT_EQ(after.size(), 8192u);
  EXPECT_EQ(after.substr(4096, 4), "cow!");
  EXPECT_EQ(after.substr(0, 4096), before.substr(0, 4096));
  EXPECT_EQ(after.substr(4100), before.substr(4100));

  ASSERT_TRUE(TimeCowOp(CowOp::kAppend, f, 8192).ok());
  EXPECT_EQ(Slurp(f).size(), 8196u);

  ASSERT_TRUE(TimeCowOp(CowOp::kChmod, f, 8196).ok());
  struct stat st;
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  ASSERT_TRUE(TimeCowOp(CowOp::kRename, f, 8196).ok());
  EXPECT_EQ(Names(dir.path()), std::set<std::string>{"f.renamed"});

  std::string g = dir / "f.renamed";
  ASSERT_TRUE(TimeCowOp(CowOp::kDelete, g, 8196).ok());
  EXPECT_TRUE(Names(dir.path()).empty());

  // A missing file is an error naming it, not a time.
  auto missing = TimeCowOp(CowOp::kWriteMid, f, 8192);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find(f), std::string::npos);
}

// containerd's 16 layers applied in sequence to one tree (what a full-tree
// snapshot sees): every update and remove finds its file, and the end state
// is benchmark.go's.
TEST(BenchCowOps, BenchsuiteLayersApplyInSequence) {
  TempDir dir;
  for (int l = 1; l <= 16; ++l) {
    Status s = ApplyBenchsuiteLayer(dir.path(), l, 4096, l);
    ASSERT_TRUE(s.ok()) << "layer " << l << ": " << s.ToString();
  }
  // Layer 16 (even) removes c and f; layer 15 (multiple of 3) removed g and
  // layer 16 created it again.
  EXPECT_EQ(Names(dir.path()),
            (std::set<std::string>{"a", "b", "d", "e", "g", "h", "i", "j"}));
}

TEST(BenchCowOps, SyncedUsedBytesReadsTheFilesystem) {
  TempDir dir;
  auto before = SyncedUsedBytes(dir.path());
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_GT(*before, 0);
  EXPECT_FALSE(SyncedUsedBytes(dir / "missing").ok());
}

}  // namespace
}  // namespace strata
