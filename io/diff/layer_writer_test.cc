// LayerWriter and WriteLayer: the layer a change set becomes, read back
// with Strata's TarReader: parents before their changes with the upper
// tree's metadata, whiteouts and the opaque marker in containerd's form,
// hard links kept (an unchanged peer becomes a link to the changed name),
// only security.capability among xattrs, sockets skipped, mtimes clamped
// to SOURCE_DATE_EPOCH; the DiffID and blob digest are the SHA-256 of the
// tar and of the compressed bytes.
#include "io/diff/layer_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/base/sha256.h"
#include "io/base/source.h"
#include "io/base/unique_fd.h"
#include "io/decompress/source.h"
#include "io/diff/diff_test_util.h"
#include "io/fs/fs_util.h"
#include "io/tar/tar_reader.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

struct Read {
  TarEntry e;
  std::string data;
};

std::vector<Read> ReadLayer(const std::string& blob, std::string* tar_out) {
  auto src = OpenDecompressed(std::make_unique<MemorySource>(blob));
  EXPECT_TRUE(src.ok());
  std::string tar;
  char buf[1 << 16];
  for (;;) {
    auto n = (*src)->Read(buf, sizeof(buf));
    EXPECT_TRUE(n.ok());
    if (!n.ok() || *n == 0) break;
    tar.append(buf, *n);
  }
  *tar_out = tar;
  MemorySource in(tar);
  TarReader reader(in);
  std::vector<Read> out;
  for (;;) {
    Read r;
    auto more = reader.Next(&r.e);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    for (;;) {
      auto n = reader.ReadData(buf, sizeof(buf));
      EXPECT_TRUE(n.ok());
      if (!n.ok() || *n == 0) break;
      r.data.append(buf, *n);
    }
    out.push_back(std::move(r));
  }
  return out;
}

class LayerWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    lower_ = tmp_ / "lower";
    upper_ = tmp_ / "upper";
    for (const std::string& root : {lower_, upper_}) {
      ASSERT_TRUE(MakeDirs(root + "/etc/ssl").ok());
      ASSERT_TRUE(MakeDirs(root + "/old/sub").ok());
      WriteFileAt(root + "/etc/ssl/cert", "cert");
      WriteFileAt(root + "/etc/keep", "keep");
      ASSERT_EQ(link((root + "/etc/keep").c_str(), (root + "/a-peer").c_str()),
                0);
    }
    ASSERT_EQ(chmod((upper_ + "/etc").c_str(), 0750), 0);
    ASSERT_EQ(chmod((upper_ + "/etc/ssl").c_str(), 0700), 0);
    WriteFileAt(upper_ + "/etc/ssl/cert", "CERT!", 1800000000);
    // Changing one name of a linked pair in place keeps the inode: the
    // unchanged peer must come out as a link to it.
    { std::ofstream(upper_ + "/etc/keep", std::ios::app) << "+"; }
    ASSERT_TRUE(RemoveAll(upper_ + "/old").ok());
    WriteFileAt(upper_ + "/new", std::string(3 << 20, 'n'));
    if (setxattr((upper_ + "/new").c_str(), "user.dropped", "x", 1, 0) == 0)
      has_user_xattr_ = true;
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a {};
    a.sun_family = AF_UNIX;
    std::string sp = upper_ + "/sock";
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", sp.c_str());
    ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    close(s);
  }

  Result<WrittenLayer> Layer(Compression c, std::string* blob,
                             LayerOptions opts = {}) {
    UniqueFd l = OpenTree(lower_), u = OpenTree(upper_);
    StringSink out;
    auto w = WriteLayer(
        [&](const ChangeVisitor& v) {
          return TreeChanges(l.get(), u.get(), v);
        },
        c, out, opts);
    *blob = out.str();
    return w;
  }

  TempDir tmp_;
  std::string lower_, upper_;
  bool has_user_xattr_ = false;
};

TEST_F(LayerWriterTest, EntriesAsContainerdWritesThem) {
  std::string blob, tar;
  auto w = Layer(Compression::kNone, &blob);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  std::vector<Read> got = ReadLayer(blob, &tar);
  std::vector<std::string> names;
  for (const Read& r : got) names.push_back(r.e.path);
  EXPECT_EQ(names,
            (std::vector<std::string>{"a-peer", "etc/", "etc/keep", "etc/ssl/",
                                      "etc/ssl/cert", "new", ".wh.old"}));
  ASSERT_EQ(got.size(), 7u);
  // The unchanged peer came first: it is written as a link right after its
  // changed name.
  EXPECT_EQ(got[0].e.type, TarEntry::Type::kFile);
  EXPECT_EQ(got[0].data, "keep+");
  EXPECT_EQ(got[2].e.type, TarEntry::Type::kHardlink);
  EXPECT_EQ(got[2].e.link_target, "a-peer");
  EXPECT_EQ(got[1].e.mode, 0750u);
  EXPECT_EQ(got[3].e.mode, 0700u);
  EXPECT_EQ(got[4].data, "CERT!");
  EXPECT_EQ(got[4].e.mtime_sec, 1800000000);
  EXPECT_EQ(got[5].data.size(), 3u << 20);
  EXPECT_TRUE(got[5].e.xattrs.empty());  // user.* is not carried
  EXPECT_EQ(got[6].e.mode, 0u);
  EXPECT_EQ(got[6].e.mtime_sec, 0);
  EXPECT_EQ(got[6].e.size, 0);
  EXPECT_EQ(w->entries, 7);
  EXPECT_EQ(w->diff_id, Sha256::Of(tar));
  EXPECT_EQ(w->digest, w->diff_id);
  EXPECT_EQ(w->tar_bytes, static_cast<int64_t>(tar.size()));
}

TEST_F(LayerWriterTest, CompressedLayersCarryBothDigests) {
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    std::string blob, tar, plain_blob, plain_tar;
    auto w = Layer(c, &blob);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    auto plain = Layer(Compression::kNone, &plain_blob);
    ASSERT_TRUE(plain.ok());
    ReadLayer(blob, &tar);
    EXPECT_EQ(tar, plain_blob) << CompressionName(c);
    EXPECT_EQ(w->diff_id, plain->diff_id);
    EXPECT_EQ(w->digest, Sha256::Of(blob));
    EXPECT_EQ(w->size, static_cast<int64_t>(blob.size()));
    EXPECT_LT(w->size, w->tar_bytes / 10);  // 3 MiB of 'n'
  }
}

TEST_F(LayerWriterTest, SourceDateEpochClampsMtimes) {
  std::string blob, tar;
  LayerOptions opts;
  opts.source_date_epoch = 1750000000;
  auto w = Layer(Compression::kNone, &blob, opts);
  ASSERT_TRUE(w.ok());
  for (const Read& r : ReadLayer(blob, &tar))
    EXPECT_LE(r.e.mtime_sec, 1750000000) << r.e.path;
}

TEST_F(LayerWriterTest, CapabilityXattrIsCarried) {
  const char cap[20] = {0, 0, 0, 2, 0, 4, 0, 0, 0, 4, 0, 0};
  if (setxattr((upper_ + "/new").c_str(), "security.capability", cap,
               sizeof(cap), 0) != 0) {
    GTEST_SKIP() << "cannot set security.capability (needs root)";
  }
  std::string blob, tar;
  ASSERT_TRUE(Layer(Compression::kNone, &blob).ok());
  for (const Read& r : ReadLayer(blob, &tar)) {
    if (r.e.path != "new") continue;
    ASSERT_EQ(r.e.xattrs.size(), 1u);
    EXPECT_EQ(r.e.xattrs[0].first, "security.capability");
    EXPECT_EQ(r.e.xattrs[0].second, std::string(cap, sizeof(cap)));
  }
}

TEST_F(LayerWriterTest, AV3CapabilityRootIsMappedWithTheOwners) {
  // Set inside a user namespace whose root is host 100000: a v3 capability
  // naming that root. Through the owner maps it is written as the
  // container's own, a v2 capability.
  uint8_t v3[24] = {};
  uint32_t magic = 0x03000001, perm = 1u << 13, root = 100000;
  memcpy(v3, &magic, 4);
  memcpy(v3 + 4, &perm, 4);
  memcpy(v3 + 20, &root, 4);
  if (setxattr((upper_ + "/new").c_str(), "security.capability", v3, sizeof(v3),
               0) != 0) {
    GTEST_SKIP() << "cannot set security.capability (needs root)";
  }
  LayerOptions opts;
  opts.uid_map = [](uint32_t u) { return u >= 100000 ? u - 100000 : u; };
  opts.gid_map = opts.uid_map;
  std::string blob, tar;
  ASSERT_TRUE(Layer(Compression::kNone, &blob, opts).ok());
  bool seen = false;
  for (const Read& r : ReadLayer(blob, &tar)) {
    if (r.e.path != "new") continue;
    seen = true;
    ASSERT_EQ(r.e.xattrs.size(), 1u);
    const std::string& cap = r.e.xattrs[0].second;
    ASSERT_EQ(cap.size(), 20u);
    uint32_t got;
    memcpy(&got, cap.data(), 4);
    EXPECT_EQ(got, 0x02000001u);
    EXPECT_EQ(cap.substr(4), std::string(reinterpret_cast<char*>(v3) + 4, 16));
  }
  EXPECT_TRUE(seen);
  // Without maps the value is carried as it is.
  ASSERT_TRUE(Layer(Compression::kNone, &blob).ok());
  for (const Read& r : ReadLayer(blob, &tar)) {
    if (r.e.path != "new") continue;
    EXPECT_EQ(r.e.xattrs[0].second,
              std::string(reinterpret_cast<char*>(v3), sizeof(v3)));
  }
}

TEST_F(LayerWriterTest, SymlinksOutOfTheTreeAreWrittenNeverFollowed) {
  // A container's upper tree pointing at host files: the layer holds the
  // links themselves, never a byte of what they point at.
  TempDir host;
  WriteFileAt(host / "secret", "host secret");
  ASSERT_EQ(symlink(host.path().c_str(), (upper_ + "/escape").c_str()), 0);
  ASSERT_EQ(symlink((host / "secret").c_str(), (upper_ + "/file-link").c_str()),
            0);
  ASSERT_TRUE(RemoveAll(upper_ + "/etc/ssl").ok());
  ASSERT_EQ(symlink(host.path().c_str(), (upper_ + "/etc/ssl").c_str()), 0);
  std::string blob, tar;
  ASSERT_TRUE(Layer(Compression::kNone, &blob).ok());
  EXPECT_EQ(blob.find("host secret"), std::string::npos);
  int links = 0;
  for (const Read& r : ReadLayer(blob, &tar)) {
    if (r.e.path == "escape" || r.e.path == "file-link" ||
        r.e.path == "etc/ssl") {
      EXPECT_EQ(r.e.type, TarEntry::Type::kSymlink) << r.e.path;
      ++links;
    }
    EXPECT_NE(r.e.path.rfind("etc/ssl/", 0), 0u) << r.e.path;
  }
  EXPECT_EQ(links, 3);
}

TEST_F(LayerWriterTest, OwnerMapsRewriteEveryOwnerButWhiteouts) {
  // An ID-mapped container's upper holds host IDs; its layer carries the
  // container's (LayerOptions::uid_map/gid_map).
  LayerOptions opts;
  opts.uid_map = [](uint32_t u) { return u + 7; };
  opts.gid_map = [](uint32_t g) { return g + 9; };
  std::string blob, tar;
  ASSERT_TRUE(Layer(Compression::kNone, &blob, opts).ok());
  int owned = 0;
  for (const Read& r : ReadLayer(blob, &tar)) {
    struct stat st {};
    std::string base = r.e.path.substr(r.e.path.rfind('/') + 1);
    if (base.rfind(".wh.", 0) == 0) {
      EXPECT_EQ(r.e.uid, 0u) << r.e.path;  // whiteouts: always 0:0
      EXPECT_EQ(r.e.gid, 0u) << r.e.path;
      continue;
    }
    ASSERT_EQ(lstat((upper_ + "/" + r.e.path).c_str(), &st), 0) << r.e.path;
    EXPECT_EQ(r.e.uid, st.st_uid + 7) << r.e.path;
    EXPECT_EQ(r.e.gid, st.st_gid + 9) << r.e.path;
    ++owned;
  }
  EXPECT_GT(owned, 3);
}

TEST(LayerWriterLinksTest, UnchangedLinkedPairAddsNothing) {
  // containerd writes an unchanged link peer (and its parents) only when
  // another name of its inode is written: a tree with nothing changed but
  // a linked pair is an empty layer.
  TempDir tmp;
  for (const char* side : {"lower", "upper"}) {
    std::string root = tmp / side;
    ASSERT_TRUE(MakeDirs(root + "/var/lib").ok());
    WriteFileAt(root + "/var/lib/one", "linked");
    ASSERT_EQ(
        link((root + "/var/lib/one").c_str(), (root + "/var/lib/two").c_str()),
        0);
  }
  UniqueFd l = OpenTree(tmp / "lower"), u = OpenTree(tmp / "upper");
  StringSink out;
  auto w = WriteLayer(
      [&](const ChangeVisitor& v) { return TreeChanges(l.get(), u.get(), v); },
      Compression::kNone, out);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->entries, 0);
  EXPECT_EQ(w->tar_bytes, 1024);  // the end-of-archive blocks alone
}

TEST(LayerWriterOpaqueTest, OpaqueMarkerFollowsItsDirectory) {
  StringSink out;
  LayerWriter w(out);
  TempDir tmp;
  ASSERT_TRUE(MakeDirs(tmp / "d").ok());
  UniqueFd root = OpenTree(tmp.path());
  struct stat st;
  ASSERT_EQ(stat((tmp / "d").c_str(), &st), 0);
  Change dir;
  dir.kind = ChangeKind::kParent;
  dir.path = "d";
  dir.dir = root.get();
  dir.name = "d";
  dir.st = &st;
  dir.data_dir = root.get();
  ASSERT_TRUE(w.Handle(dir).ok());
  Change opq;
  opq.kind = ChangeKind::kOpaque;
  opq.path = "d";
  ASSERT_TRUE(w.Handle(opq).ok());
  Change hidden;
  hidden.kind = ChangeKind::kDelete;
  hidden.path = "d/x";
  hidden.implied = true;
  ASSERT_TRUE(w.Handle(hidden).ok());
  ASSERT_TRUE(w.Close().ok());
  std::string tar;
  std::vector<Read> got = ReadLayer(out.str(), &tar);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].e.path, "d/");
  EXPECT_EQ(got[1].e.path, "d/.wh..wh..opq");
}

}  // namespace
}  // namespace strata
