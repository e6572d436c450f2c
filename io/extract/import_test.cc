// Real archives through the whole read path (OpenDecompressed -> TarReader ->
// Extractor), compared with GNU tar extracting the same archive (the oracle),
// on both file sinks; and the hostile corpus, which must never write outside
// the layer root.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "io/base/errno.h"
#include "io/extract/extractor.h"
#include "io/extract/layer_stream.h"
#include "io/extract/tar_entry_stream.h"
#include "io/sink/sink_test_util.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

int Sh(const std::string& cmd) { return system(cmd.c_str()); }

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A comparable description of every path under root: type, mode, owner,
// size, mtime, link target, content digest of small files, user xattrs.
std::map<std::string, std::string> Describe(const std::string& root) {
  std::map<std::string, std::string> out;
  std::vector<std::string> stack{""};
  while (!stack.empty()) {
    std::string rel = stack.back();
    stack.pop_back();
    DIR* d = opendir((root + "/" + rel).c_str());
    if (!d) continue;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      std::string p = rel.empty() ? n : rel + "/" + n;
      std::string full = root + "/" + p;
      struct stat st;
      lstat(full.c_str(), &st);
      std::ostringstream desc;
      desc << std::oct << st.st_mode << std::dec << " " << st.st_uid << ":"
           << st.st_gid;
      if (!S_ISDIR(st.st_mode)) desc << " mtime=" << st.st_mtime;
      if (S_ISREG(st.st_mode)) {
        desc << " size=" << st.st_size << " nlink=" << st.st_nlink;
        desc << " data=" << std::hash<std::string>()(Slurp(full));
      }
      if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        ssize_t k = readlink(full.c_str(), buf, sizeof(buf));
        desc << " -> " << std::string(buf, k > 0 ? k : 0);
      }
      char names[4096];
      ssize_t len = llistxattr(full.c_str(), names, sizeof(names));
      for (ssize_t i = 0; i < len;
           i += static_cast<ssize_t>(strlen(names + i)) + 1) {
        if (std::string(names + i).rfind("user.", 0) == 0)
          desc << " xattr:" << (names + i);
      }
      out[p] = desc.str();
      if (S_ISDIR(st.st_mode)) stack.push_back(p);
    }
    closedir(d);
  }
  return out;
}

Result<ExtractStats> ExtractFile(const std::string& file,
                                 const std::string& root, FileSink& sink,
                                 std::string* diff_id = nullptr) {
  int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError("open " + file, errno);
  UniqueFd owned(fd);
  STRATA_ASSIGN_OR_RETURN(auto plain,
                          OpenDecompressed(std::make_unique<FdSource>(fd)));
  LayerStream digest(std::move(plain));
  TarReader reader(digest);
  TarEntryStream entries(reader);
  Extractor x(root, sink);
  STRATA_ASSIGN_OR_RETURN(ExtractStats stats, x.Apply(entries));
  STRATA_ASSIGN_OR_RETURN(std::string d, digest.Finish());
  if (diff_id) *diff_id = d;
  return stats;
}

class OracleTest : public ::testing::TestWithParam<SinkKind> {};

TEST_P(OracleTest, SameTreeAsGnuTar) {
  if (geteuid() != 0)
    GTEST_SKIP() << "owners and devices need root (CI runs as root)";
  auto sink = MakeTestSink(GetParam());
  if (!sink)
    GTEST_SKIP() << "io_uring unavailable here (io_uring_setup failed)";
  TempDir dir;
  std::string src = dir / "src";
  // A tree with what layers hold: nested dirs, many small files, a large
  // file, symlinks, a hardlink, a fifo, setuid, other owners, xattrs, a
  // sparse file and a long name.
  std::string long_name(150, 'n');
  ASSERT_EQ(Sh("set -e; mkdir -p " + src + "/usr/bin " + src +
               "/etc/deep/er/est " + src + "/var/empty; cd " + src +
               "; for i in $(seq 200); do echo file$i > etc/deep/f$i; done;"
               " head -c 3000000 /dev/urandom > usr/bin/big; echo tool > "
               "usr/bin/tool;"
               " chmod 4755 usr/bin/tool; ln -s ../usr/bin/tool etc/link;"
               " ln usr/bin/tool usr/bin/hard; mkfifo var/fifo; chown 1234:567 "
               "etc/deep/f7;"
               " echo long > " +
               long_name +
               "; setfattr -n user.k -v v etc/deep/f1;"
               " truncate -s 10M var/sparse; echo tail >> var/sparse;"
               " mkdir sg; chown 0:567 sg; chmod 2775 sg; echo g > sg/f; chown "
               "0:0 sg/f;"
               " echo o > sg/own; chown 1:567 sg/own; echo m > etc/ro; chmod "
               "0444 etc/ro;"
               " echo w > etc/gw; chmod 0664 etc/gw;"
               " touch -d @1600000000 etc/deep etc var usr usr/bin sg"),
            0);
  for (const char* fmt : {"gnu", "posix"}) {
    for (const char* z : {"", "gzip", "zstd"}) {
      SCOPED_TRACE(std::string(fmt) + " " + z);
      std::string tar = dir / (std::string("layer-") + fmt + ".tar");
      ASSERT_EQ(Sh("tar -C " + src + " --format=" + fmt +
                   " --xattrs --sparse -cf " + tar + " ."),
                0);
      if (std::string(z) == "gzip") {
        ASSERT_EQ(Sh("gzip -f " + tar), 0);
        tar += ".gz";
      } else if (std::string(z) == "zstd") {
        ASSERT_EQ(Sh("zstd -q -f --rm " + tar), 0);
        tar += ".zst";
      }
      std::string want = dir / "gnu", got = dir / "strata";
      ASSERT_EQ(
          Sh("rm -rf " + want + " " + got + " && mkdir " + want + " " + got),
          0);
      ASSERT_EQ(Sh("tar -C " + want + " --xattrs --same-owner -xpf " + tar), 0);
      std::string diff_id;
      auto r = ExtractFile(tar, got, *sink, &diff_id);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      auto a = Describe(want), b = Describe(got);
      EXPECT_EQ(a.size(), b.size());
      for (const auto& [path, desc] : a) EXPECT_EQ(b[path], desc) << path;
      // The DiffID is the sha256 of the uncompressed tar.
      std::string plain = dir / "plain.tar";
      Sh("rm -f " + plain + "; (zstd -dcq " + tar +
         " 2>/dev/null || gzip -dc " + tar + " 2>/dev/null || cat " + tar +
         ") > " + plain);
      FILE* p = popen(("sha256sum " + plain + " | cut -d' ' -f1").c_str(), "r");
      char hex[65] = {};
      ASSERT_EQ(fread(hex, 1, 64, p), 64u);
      pclose(p);
      EXPECT_EQ(diff_id, "sha256:" + std::string(hex));
      Sh("rm -f " + tar);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sinks, OracleTest, ::testing::ValuesIn(kAllSinks),
                         [](const auto& info) { return SinkName(info.param); });

// Every corpus archive, extracted into a root inside a sandbox: malformed ones
// fail with an error naming the entry, hostile ones succeed or fail, and
// nothing outside the root changes.
class CorpusExtractTest : public ::testing::TestWithParam<SinkKind> {};

TEST_P(CorpusExtractTest, NothingOutsideTheRootChanges) {
  if (geteuid() != 0)
    GTEST_SKIP() << "whiteouts and devices need root (CI runs as root)";
  if (Sh("command -v zstd >/dev/null") != 0)
    GTEST_SKIP() << "zstd CLI not installed";
  TempDir dir;
  std::string corpus = dir / "corpus";
  ASSERT_EQ(Sh(std::string(STRATA_SOURCE_DIR) +
               "/tests/corpus/make_corpus.sh " + corpus + " >/dev/null"),
            0);
  std::ifstream manifest(corpus + "/MANIFEST.tsv");
  std::string line;
  int n = 0;
  while (std::getline(manifest, line)) {
    std::string file = line.substr(0, line.find('\t'));
    std::string outcome = line.substr(
        file.size() + 1, line.find('\t', file.size() + 1) - file.size() - 1);
    if (file == "zip_bomb.tar.gz")
      continue;  // 4 GiB of zeros: covered by the reader test
    SCOPED_TRACE(file);
    std::string sandbox = dir / ("sandbox-" + std::to_string(n++));
    std::string root = sandbox + "/root";
    ASSERT_EQ(Sh("mkdir -p " + root + " " + sandbox + "/etc && echo keep > " +
                 sandbox + "/x && echo keep > " + sandbox + "/etc/passwd"),
              0);
    auto before = Describe(sandbox + "/etc");
    auto sink = MakeTestSink(GetParam());
    if (!sink)
      GTEST_SKIP() << "io_uring unavailable here (io_uring_setup failed)";
    auto r = ExtractFile(corpus + "/" + file, root, *sink);
    if (outcome != "ok") {
      EXPECT_FALSE(r.ok()) << "malformed archive extracted";
      if (!r.ok()) {
        EXPECT_TRUE(r.status().message().find("entry") != std::string::npos ||
                    r.status().message().find("tar") != std::string::npos)
            << r.status().ToString();
      }
    }
    EXPECT_EQ(Slurp(sandbox + "/x"), "keep\n");
    EXPECT_EQ(Slurp(sandbox + "/etc/passwd"), "keep\n");
    EXPECT_EQ(Describe(sandbox + "/etc"), before);
    struct stat st;
    EXPECT_NE(lstat((sandbox + "/tmp").c_str(), &st), 0);
    EXPECT_NE(lstat((sandbox + "/abs").c_str(), &st), 0);
    if (file == "overlay_opaque_xattr.tar") {
      EXPECT_FALSE(r.ok())
          << "trusted.overlay.* from an archive must be refused";
    }
    if (file == "whiteouts.tar") {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(lstat((root + "/d/gone").c_str(), &st), 0);
      EXPECT_TRUE(S_ISCHR(st.st_mode));
    }
  }
  EXPECT_GE(n, 30);
}

INSTANTIATE_TEST_SUITE_P(Sinks, CorpusExtractTest,
                         ::testing::ValuesIn(kAllSinks),
                         [](const auto& info) { return SinkName(info.param); });

}  // namespace
}  // namespace strata
