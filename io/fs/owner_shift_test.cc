// Owner shifts: every entry re-owned through the map, set-ID bits and file
// capabilities kept, v3 capabilities rewritten, symlinks never followed,
// and a journal that finishes or undoes a shift idempotently whatever the
// map (a swap of IDs included).
#include "io/fs/owner_shift.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "tests/testutil/temp_dir.h"
#include "tests/testutil/tree_state.h"

namespace strata {
namespace {

// container 0..65535 <-> host 100000..165535, the others unchanged.
uint32_t ToContainer(uint32_t id) {
  return id >= 100000 && id < 165536 ? id - 100000 : id;
}

OwnerMap Unmap() { return {ToContainer, ToContainer}; }

// 0 <-> 1, the others unchanged: host and container sets overlap, so a
// shift applied twice would undo itself.
uint32_t Swap(uint32_t id) { return id == 0 ? 1 : id == 1 ? 0 : id; }

struct stat Lstat(const std::string& p) {
  struct stat st;
  EXPECT_EQ(lstat(p.c_str(), &st), 0) << p;
  return st;
}

void Touch(const std::string& p, mode_t mode, uid_t u, gid_t g) {
  int fd = open(p.c_str(), O_CREAT | O_WRONLY, mode);
  ASSERT_GE(fd, 0) << p;
  ASSERT_EQ(write(fd, "x", 1), 1);
  close(fd);
  ASSERT_EQ(lchown(p.c_str(), u, g), 0);
  ASSERT_EQ(chmod(p.c_str(), mode), 0);
}

class OwnerShiftTest : public testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "chown to other IDs needs root";
    tree_ = tmp_.path() + "/fs";
    journal_ = tmp_.path() + "/owners.journal";
    ASSERT_EQ(mkdir(tree_.c_str(), 0755), 0);
    ASSERT_EQ(chown(tree_.c_str(), 100000, 100000), 0);
  }
  TempDir tmp_;
  std::string tree_, journal_;
};

TEST_F(OwnerShiftTest, ReownsEveryEntryAndKeepsSetIdBitsAndCapabilities) {
  ASSERT_EQ(mkdir((tree_ + "/d").c_str(), 02775), 0);
  ASSERT_EQ(chown((tree_ + "/d").c_str(), 101000, 101000), 0);
  ASSERT_EQ(chmod((tree_ + "/d").c_str(), 02775), 0);
  Touch(tree_ + "/d/suid", 04755, 100000, 100000);
  Touch(tree_ + "/caps", 0755, 100000, 100000);
  // v2 capability (cap_net_bind_service, effective).
  uint8_t v2[20] = {};
  uint32_t magic = 0x02000001, perm = 1u << 10;
  memcpy(v2, &magic, 4);
  memcpy(v2 + 4, &perm, 4);
  ASSERT_EQ(setxattr((tree_ + "/caps").c_str(), "security.capability", v2,
                     sizeof(v2), 0),
            0);
  Touch(tree_ + "/host", 0644, 5, 6);  // outside the map: left alone
  ASSERT_EQ(symlink("/etc/passwd", (tree_ + "/link").c_str()), 0);
  ASSERT_EQ(lchown((tree_ + "/link").c_str(), 100002, 100003), 0);
  ASSERT_EQ(mkfifo((tree_ + "/fifo").c_str(), 0600), 0);
  ASSERT_EQ(lchown((tree_ + "/fifo").c_str(), 100004, 100005), 0);
  ASSERT_EQ(link((tree_ + "/caps").c_str(), (tree_ + "/d/caps2").c_str()), 0);
  struct stat etc_before = Lstat("/etc/passwd");

  auto stats = ShiftOwners(tree_, Unmap(), journal_);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->changed, 6u);  // fs, d, suid, caps (x2 links), link, fifo
  EXPECT_EQ(Lstat(tree_).st_uid, 0u);
  EXPECT_EQ(Lstat(tree_ + "/d").st_uid, 1000u);
  EXPECT_EQ(Lstat(tree_ + "/d").st_mode & 07777, 02775u);
  EXPECT_EQ(Lstat(tree_ + "/d/suid").st_uid, 0u);
  EXPECT_EQ(Lstat(tree_ + "/d/suid").st_mode & 07777, 04755u);
  EXPECT_EQ(Lstat(tree_ + "/host").st_uid, 5u);
  EXPECT_EQ(Lstat(tree_ + "/host").st_gid, 6u);
  EXPECT_EQ(Lstat(tree_ + "/link").st_uid, 2u);
  EXPECT_EQ(Lstat(tree_ + "/link").st_gid, 3u);
  EXPECT_EQ(Lstat(tree_ + "/fifo").st_uid, 4u);
  uint8_t got[24];
  ASSERT_EQ(getxattr((tree_ + "/caps").c_str(), "security.capability", got,
                     sizeof(got)),
            20);
  EXPECT_EQ(memcmp(got, v2, 20), 0);
  struct stat etc_after = Lstat("/etc/passwd");
  EXPECT_EQ(etc_after.st_uid, etc_before.st_uid);
  EXPECT_EQ(etc_after.st_ctim.tv_nsec, etc_before.st_ctim.tv_nsec)
      << "the symlink's target was touched";

  // Rolled back from the journal: the owners before, bits and caps kept.
  ASSERT_TRUE(ReplayShiftJournal(tree_, journal_, ShiftDirection::kBack).ok());
  EXPECT_EQ(Lstat(tree_).st_uid, 100000u);
  EXPECT_EQ(Lstat(tree_ + "/d").st_uid, 101000u);
  EXPECT_EQ(Lstat(tree_ + "/d/suid").st_mode & 07777, 04755u);
  EXPECT_EQ(Lstat(tree_ + "/link").st_uid, 100002u);
  ASSERT_EQ(getxattr((tree_ + "/caps").c_str(), "security.capability", got,
                     sizeof(got)),
            20);
  ASSERT_TRUE(RemoveShiftJournal(journal_).ok());
  EXPECT_NE(access(journal_.c_str(), F_OK), 0);
}

TEST_F(OwnerShiftTest, RewritesV3CapabilityRootThroughTheMap) {
  Touch(tree_ + "/ping", 0755, 100000, 100000);
  uint8_t v3[24] = {};
  uint32_t magic = 0x03000001, perm = 1u << 13, root = 100000;
  memcpy(v3, &magic, 4);
  memcpy(v3 + 4, &perm, 4);
  memcpy(v3 + 20, &root, 4);
  ASSERT_EQ(setxattr((tree_ + "/ping").c_str(), "security.capability", v3,
                     sizeof(v3), 0),
            0);
  ASSERT_TRUE(ShiftOwners(tree_, Unmap(), journal_).ok());
  uint8_t got[24];
  // Its namespace root maps to 0: stored as a plain v2 capability.
  ASSERT_EQ(getxattr((tree_ + "/ping").c_str(), "security.capability", got,
                     sizeof(got)),
            20);
  uint32_t got_magic;
  memcpy(&got_magic, got, 4);
  EXPECT_EQ(got_magic, 0x02000001u);
  EXPECT_EQ(memcmp(got + 4, v3 + 4, 16), 0);
}

// A v2 POSIX ACL xattr: user::rwx, user:<u>:r-x, group::r-x,
// group:<g>:r-x, mask::r-x, other::r-x.
std::string Acl(uint32_t u, uint32_t g) {
  std::string acl(4, '\0');
  uint32_t version = 2;
  memcpy(acl.data(), &version, 4);
  auto add = [&](uint16_t tag, uint16_t perm, uint32_t id) {
    char e[8];
    memcpy(e, &tag, 2);
    memcpy(e + 2, &perm, 2);
    memcpy(e + 4, &id, 4);
    acl.append(e, 8);
  };
  add(0x01, 7, ~0u);
  add(0x02, 5, u);
  add(0x04, 5, ~0u);
  add(0x08, 5, g);
  add(0x10, 5, ~0u);
  add(0x20, 5, ~0u);
  return acl;
}

std::string GetXattr(const std::string& path, const char* name) {
  std::string v(4096, '\0');
  ssize_t n = lgetxattr(path.c_str(), name, v.data(), v.size());
  return n < 0 ? "(none)" : v.substr(0, static_cast<size_t>(n));
}

TEST_F(OwnerShiftTest, RewritesNamedEntriesOfAccessAndDefaultAcls) {
  Touch(tree_ + "/shared", 0755, 100000, 100000);
  std::string acl = Acl(101000, 101005);
  if (setxattr((tree_ + "/shared").c_str(), "system.posix_acl_access",
               acl.data(), acl.size(), 0) != 0) {
    GTEST_SKIP() << "no POSIX ACLs on " << tmp_.path() << ": "
                 << strerror(errno);
  }
  ASSERT_EQ(setxattr(tree_.c_str(), "system.posix_acl_default", acl.data(),
                     acl.size(), 0),
            0);
  ASSERT_TRUE(ShiftOwners(tree_, Unmap(), journal_).ok());
  EXPECT_EQ(GetXattr(tree_ + "/shared", "system.posix_acl_access"),
            Acl(1000, 1005));
  EXPECT_EQ(GetXattr(tree_, "system.posix_acl_default"), Acl(1000, 1005));
  EXPECT_EQ(Lstat(tree_ + "/shared").st_mode & 07777, 0755u);
  ASSERT_TRUE(ReplayShiftJournal(tree_, journal_, ShiftDirection::kBack).ok());
  EXPECT_EQ(GetXattr(tree_ + "/shared", "system.posix_acl_access"), acl);
  EXPECT_EQ(GetXattr(tree_, "system.posix_acl_default"), acl);
  EXPECT_EQ(Lstat(tree_ + "/shared").st_uid, 100000u);
}

TEST_F(OwnerShiftTest, NeverReownsWhatIsMountedInsideTheTree) {
  // A host directory and a host file bind-mounted into the tree (owned by
  // IDs the map would change) are left exactly as they were.
  TempDir host;
  std::string dir = host.path() + "/dir", file = host.path() + "/file";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  Touch(dir + "/inside", 0644, 100000, 100000);
  ASSERT_EQ(chown(dir.c_str(), 100000, 100000), 0);
  Touch(file, 0644, 100000, 100000);
  TreeState before = TreeState::Capture(host.path());
  ASSERT_EQ(mkdir((tree_ + "/mnt").c_str(), 0755), 0);
  Touch(tree_ + "/file", 0644, 0, 0);
  ASSERT_EQ(
      mount(dir.c_str(), (tree_ + "/mnt").c_str(), nullptr, MS_BIND, nullptr),
      0);
  ASSERT_EQ(
      mount(file.c_str(), (tree_ + "/file").c_str(), nullptr, MS_BIND, nullptr),
      0);
  auto stats = ShiftOwners(tree_, Unmap(), journal_);
  umount2((tree_ + "/mnt").c_str(), MNT_DETACH);
  umount2((tree_ + "/file").c_str(), MNT_DETACH);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->changed, 1u);  // the tree's root alone
  TreeState after = TreeState::Capture(host.path());
  EXPECT_TRUE(after == before) << after.DiffFrom(before);
}

TEST_F(OwnerShiftTest, ReplayIsIdempotentEvenForASwap) {
  Touch(tree_ + "/a", 0644, 0, 0);
  Touch(tree_ + "/b", 0644, 1, 1);
  ASSERT_EQ(chown(tree_.c_str(), 0, 0), 0);
  OwnerMap swap{Swap, Swap};
  ASSERT_TRUE(ShiftOwners(tree_, swap, journal_).ok());
  // A crash could stop anywhere and the shift be finished again: replaying
  // forward any number of times gives the same owners.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        ReplayShiftJournal(tree_, journal_, ShiftDirection::kForward).ok());
  }
  EXPECT_EQ(Lstat(tree_ + "/a").st_uid, 1u);
  EXPECT_EQ(Lstat(tree_ + "/b").st_uid, 0u);
  EXPECT_EQ(Lstat(tree_).st_uid, 1u);
  // A second shift is refused while the journal stands.
  EXPECT_EQ(ShiftOwners(tree_, swap, journal_).status().code(),
            Code::kFailedPrecondition);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        ReplayShiftJournal(tree_, journal_, ShiftDirection::kBack).ok());
  }
  EXPECT_EQ(Lstat(tree_ + "/a").st_uid, 0u);
  EXPECT_EQ(Lstat(tree_ + "/b").st_uid, 1u);
}

TEST_F(OwnerShiftTest, NothingToChangeWritesNoJournalAndACorruptOneIsRefused) {
  ASSERT_EQ(chown(tree_.c_str(), 0, 0), 0);
  Touch(tree_ + "/a", 0644, 0, 0);
  auto stats = ShiftOwners(tree_, Unmap(), journal_);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->changed, 0u);
  EXPECT_NE(access(journal_.c_str(), F_OK), 0);
  EXPECT_TRUE(ReplayShiftJournal(tree_, journal_, ShiftDirection::kBack).ok());
  int fd = open(journal_.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "STRSHFT1", 8), 8);
  close(fd);
  EXPECT_EQ(
      ReplayShiftJournal(tree_, journal_, ShiftDirection::kForward).code(),
      Code::kDataLoss);
}

}  // namespace
}  // namespace strata
