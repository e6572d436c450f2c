// TarReader on archives GNU tar writes at test time (gnu, posix with each
// sparse version, ustar), compared field by field with lstat(2) of the tree
// they were made from.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "io/decompress/source.h"
#include "io/tar/tar_reader.h"
#include "io/tar/tar_test_util.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

using Type = TarEntry::Type;

int Sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(write(fd, data.data(), data.size()),
            static_cast<ssize_t>(data.size()));
  close(fd);
  ASSERT_EQ(chmod(path.c_str(), mode), 0);  // no umask
}

struct Times {
  timespec atime, mtime;
};

// The tree GNU tar archives; remembers what it set that stat cannot tell
// later (atimes change as tar reads).
class Tree {
 public:
  Tree(const std::string& root, bool ustar) : root_(root) { Make(ustar); }
  const std::map<std::string, Times>& times() const { return times_; }
  const std::map<std::string, std::map<std::string, std::string>>& xattrs()
      const {
    return xattrs_;
  }
  bool devices() const { return devices_; }

 private:
  std::string P(const std::string& rel) const { return root_ + "/" + rel; }

  void SetTimes(const std::string& rel, long sec, long nsec) {
    // atime after mtime and recent: relatime leaves it alone when tar reads.
    Times t{{sec + 3600, nsec / 2}, {sec, nsec}};
    timespec ts[2] = {t.atime, t.mtime};
    ASSERT_EQ(utimensat(AT_FDCWD, P(rel).c_str(), ts, AT_SYMLINK_NOFOLLOW), 0)
        << rel;
    times_[rel] = t;
  }

  void SetXattr(const std::string& rel, const std::string& name,
                const std::string& value) {
    if (lsetxattr(P(rel).c_str(), name.c_str(), value.data(), value.size(),
                  0) == 0) {
      xattrs_[rel][name] = value;
    }
  }

  void Make(bool ustar) {
    ASSERT_EQ(mkdir(P("t").c_str(), 0755), 0);
    WriteFile(P("t/file"), "hello\n", 0644);
    WriteFile(P("t/empty"), "", 0600);
    std::string big(1 << 20, '\0');
    for (size_t i = 0; i < big.size(); ++i)
      big[i] = static_cast<char>(i * 7919 % 251);
    WriteFile(P("t/big"), big + "end", 0640);
    WriteFile(P("t/suid"), "#!/bin/sh\n", 04755);
    WriteFile(P("t/sgid"), "x", 02750);
    ASSERT_EQ(mkdir(P("t/sticky").c_str(), 0), 0);
    ASSERT_EQ(chmod(P("t/sticky").c_str(), 01777), 0);
    WriteFile(P("t/owned"), "o", 0644);
    ASSERT_EQ(lchown(P("t/owned").c_str(), 1234, 5678), 0);
    ASSERT_EQ(symlink("file", P("t/sym").c_str()), 0);
    ASSERT_EQ(link(P("t/file").c_str(), P("t/hard").c_str()), 0);
    ASSERT_EQ(mkfifo(P("t/fifo").c_str(), 0620), 0);
    devices_ =
        mknod(P("t/chr").c_str(), S_IFCHR | 0600, makedev(1, 3)) == 0 &&
        mknod(P("t/blk").c_str(), S_IFBLK | 0640, makedev(259, 70000)) == 0;
    WriteFile(P("t/\xc3\xbc"
                "n\xc3\xaf"
                "code name"),
              "u", 0644);
    WriteFile(P("t/xattr"), "x", 0644);
    SetXattr("t/xattr", "user.foo", "bar");
    SetXattr("t/xattr", "user.bin", std::string("\0\x01\xff\n=", 5));
    SetXattr("t/xattr", "trusted.overlay.opaque", "y");
    // ustar splits names of up to 255 bytes into prefix + name.
    std::string d1 = "t/" + std::string(80, 'd');
    ASSERT_EQ(mkdir(P(d1).c_str(), 0755), 0);
    WriteFile(P(d1 + "/" + std::string(90, 'f')), "split", 0644);
    if (!ustar) {
      std::string d2 = d1 + "/" + std::string(200, 'e');
      ASSERT_EQ(mkdir(P(d2).c_str(), 0755), 0);
      WriteFile(P(d2 + "/" + std::string(200, 'g')), "long", 0644);
      ASSERT_EQ(symlink(std::string(150, 'L').c_str(), P("t/longsym").c_str()),
                0);
    }
    // Sparse: 30 islands of data (more than the old GNU header's 4 entries
    // plus one extension block's 21), then a trailing hole.
    int fd = open(P("t/sparse").c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    for (int i = 0; i < 30; ++i) {
      std::string chunk(1000, static_cast<char>('A' + i % 26));
      ASSERT_EQ(pwrite(fd, chunk.data(), chunk.size(), off_t{i} * 256 * 1024),
                1000);
    }
    ASSERT_EQ(ftruncate(fd, off_t{31} * 256 * 1024), 0);
    close(fd);
    SetTimes("t/file", 1600000000, 123456789);
    SetTimes("t/big", 1500000000, 999999999);
    SetTimes("t/sym", 1400000000, 5);
    SetTimes("t/sparse", 1300000000, 500);
  }

  std::string root_;
  std::map<std::string, Times> times_;
  std::map<std::string, std::map<std::string, std::string>> xattrs_;
  bool devices_ = false;
};

struct FormatCase {
  std::string name;
  std::string args;
  bool pax;    // pax headers: nanosecond times, atime, xattrs
  bool ustar;  // no long names
};

class TarGnuTest : public ::testing::TestWithParam<FormatCase> {};

std::string Stripped(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

TEST_P(TarGnuTest, MatchesStat) {
  const FormatCase& fc = GetParam();
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string root = dir / "root";
  ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
  Tree tree(root, fc.ustar);
  if (HasFatalFailure()) return;
  std::string archive = dir / "out.tar";
  ASSERT_EQ(Sh("tar " + fc.args + " -C " + root + " -cf " + archive + " t"), 0);

  int fd = open(archive.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  FdSource src(fd);
  int64_t consumed = 0;
  auto entries = ReadAllEntries(src, 1000, &consumed);
  close(fd);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  struct stat ast;
  ASSERT_EQ(stat(archive.c_str(), &ast), 0);
  EXPECT_EQ(consumed, ast.st_size);

  std::set<std::string> seen;
  int sparse_files = 0;
  for (const ReadEntry& r : *entries) {
    const TarEntry& e = r.entry;
    SCOPED_TRACE(e.path);
    std::string rel = Stripped(e.path);
    seen.insert(rel);
    std::string full = root + "/" + rel;
    struct stat st;
    ASSERT_EQ(lstat(full.c_str(), &st), 0);

    EXPECT_EQ(e.mode, st.st_mode & 07777);
    EXPECT_EQ(e.uid, st.st_uid);
    EXPECT_EQ(e.gid, st.st_gid);
    if (!S_ISDIR(st.st_mode)) {  // tar reading a directory may touch it
      EXPECT_EQ(e.mtime_sec, st.st_mtim.tv_sec);
      EXPECT_EQ(e.mtime_nsec, fc.pax ? st.st_mtim.tv_nsec : 0);
    }
    if (auto t = tree.times().find(rel); t != tree.times().end()) {
      EXPECT_EQ(e.mtime_sec, t->second.mtime.tv_sec);
      if (fc.pax) {
        EXPECT_EQ(e.atime_sec, t->second.atime.tv_sec);
        EXPECT_EQ(e.atime_nsec, t->second.atime.tv_nsec);
      } else {
        EXPECT_EQ(e.atime_sec, e.mtime_sec);
      }
    }

    switch (e.type) {
      case Type::kFile: {
        ASSERT_TRUE(S_ISREG(st.st_mode));
        EXPECT_EQ(e.size, st.st_size);
        std::string content = r.data;
        if (!e.sparse.empty()) {
          ++sparse_files;
          content.assign(static_cast<size_t>(e.size), '\0');
          size_t pos = 0;
          for (auto [off, len] : e.sparse) {
            ASSERT_LE(pos + len, r.data.size());
            content.replace(static_cast<size_t>(off), static_cast<size_t>(len),
                            r.data, pos, static_cast<size_t>(len));
            pos += static_cast<size_t>(len);
          }
          EXPECT_EQ(pos, r.data.size());
        }
        EXPECT_TRUE(content == ReadFile(full)) << "content differs";
        break;
      }
      case Type::kHardlink: {
        ASSERT_TRUE(S_ISREG(st.st_mode));
        struct stat target;
        ASSERT_EQ(lstat((root + "/" + e.link_target).c_str(), &target), 0);
        EXPECT_EQ(target.st_ino, st.st_ino);
        EXPECT_EQ(e.size, 0);
        break;
      }
      case Type::kSymlink: {
        ASSERT_TRUE(S_ISLNK(st.st_mode));
        char buf[4096];
        ssize_t n = readlink(full.c_str(), buf, sizeof buf);
        ASSERT_GT(n, 0);
        EXPECT_EQ(e.link_target, std::string(buf, static_cast<size_t>(n)));
        break;
      }
      case Type::kDirectory:
        EXPECT_TRUE(S_ISDIR(st.st_mode));
        break;
      case Type::kFifo:
        EXPECT_TRUE(S_ISFIFO(st.st_mode));
        break;
      case Type::kCharDevice:
      case Type::kBlockDevice:
        EXPECT_TRUE(e.type == Type::kCharDevice ? S_ISCHR(st.st_mode)
                                                : S_ISBLK(st.st_mode));
        EXPECT_EQ(e.dev_major, major(st.st_rdev));
        EXPECT_EQ(e.dev_minor, minor(st.st_rdev));
        break;
    }
    if (e.type != Type::kFile) {
      EXPECT_TRUE(r.data.empty());
    }

    auto want = tree.xattrs().find(rel);
    if (fc.pax && want != tree.xattrs().end()) {
      std::map<std::string, std::string> got;
      for (const auto& [k, v] : e.xattrs) got[k] = v;
      for (const auto& [k, v] : want->second) {
        EXPECT_EQ(got[k], v) << k;
      }
    }
  }

  // Every node of the tree came out.
  std::string listing = dir / "list";
  ASSERT_EQ(Sh("cd " + root + " && find t > " + listing), 0);
  std::istringstream lines(ReadFile(listing));
  std::string line;
  size_t nodes = 0;
  while (std::getline(lines, line)) {
    ++nodes;
    EXPECT_TRUE(seen.count(line)) << "missing " << line;
  }
  EXPECT_EQ(seen.size(), nodes);
  if (fc.args.find("--sparse") != std::string::npos) {
    EXPECT_EQ(sparse_files, 1);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Formats, TarGnuTest,
    ::testing::Values(
        FormatCase{"gnu", "--format=gnu --sparse", false, false},
        FormatCase{"posix_sparse00",
                   "--format=posix --sparse --sparse-version=0.0 --xattrs "
                   "--xattrs-include='*'",
                   true, false},
        FormatCase{"posix_sparse01",
                   "--format=posix --sparse --sparse-version=0.1 --xattrs "
                   "--xattrs-include='*'",
                   true, false},
        FormatCase{"posix_sparse10",
                   "--format=posix --sparse --sparse-version=1.0 --xattrs "
                   "--xattrs-include='*'",
                   true, false},
        FormatCase{"ustar", "--format=ustar", false, true}),
    [](const auto& info) { return info.param.name; });

// The same archive through gzip and zstd reads the same as plain.
TEST(TarGnuCompressedTest, GzipAndZstdMatchPlain) {
  TempDir dir;
  std::string root = dir / "root";
  ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
  Tree tree(root, false);
  if (HasFatalFailure()) return;
  const std::string base = "tar --format=posix --sparse -C " + root;
  ASSERT_EQ(Sh(base + " -cf " + (dir / "a.tar") + " t"), 0);
  ASSERT_EQ(Sh(base + " -czf " + (dir / "a.tar.gz") + " t"), 0);
  ASSERT_EQ(Sh(base + " --zstd -cf " + (dir / "a.tar.zst") + " t"), 0);

  auto read = [&](const std::string& path, Compression want) {
    std::vector<ReadEntry> out;
    int fd = open(path.c_str(), O_RDONLY);
    EXPECT_GE(fd, 0);
    Compression got = Compression::kNone;
    auto src = OpenDecompressed(std::make_unique<FdSource>(fd), {}, &got);
    EXPECT_TRUE(src.ok());
    EXPECT_EQ(got, want);
    auto entries = ReadAllEntries(**src, 65536);
    close(fd);
    EXPECT_TRUE(entries.ok()) << entries.status().ToString();
    return entries.ok() ? *entries : out;
  };
  auto plain = read(dir / "a.tar", Compression::kNone);
  ASSERT_FALSE(plain.empty());
  for (auto [file, c] : {std::pair{"a.tar.gz", Compression::kGzip},
                         std::pair{"a.tar.zst", Compression::kZstd}}) {
    auto other = read(dir / file, c);
    ASSERT_EQ(other.size(), plain.size()) << file;
    for (size_t i = 0; i < plain.size(); ++i) {
      EXPECT_EQ(other[i].entry.path, plain[i].entry.path);
      EXPECT_TRUE(other[i].data == plain[i].data) << plain[i].entry.path;
    }
  }
}

}  // namespace
}  // namespace strata
