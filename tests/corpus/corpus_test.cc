// Reads every archive of tests/corpus/make_corpus.sh through OpenDecompressed
// and TarReader and checks the outcome MANIFEST.tsv expects: the malformed
// ones fail with the right code and message, the hostile-but-well-formed ones
// parse (the extractor must contain them; that is tested there).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "io/decompress/source.h"
#include "io/tar/tar_reader.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

struct Row {
  std::string file, outcome, needle, what;
};

struct Result_ {
  Status status;
  std::vector<TarEntry> entries;
};

Result_ ReadCorpusFile(const std::string& path) {
  Result_ out;
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    out.status = Internal("cannot open " + path);
    return out;
  }
  DecompressOptions opts;
  opts.max_output_bytes = 256 << 20;  // the zip bomb must trip this
  auto src = OpenDecompressed(std::make_unique<FdSource>(fd), opts);
  if (!src.ok()) {
    out.status = src.status();
  } else {
    TarReader reader(**src);
    std::string buf(65536, '\0');
    while (true) {
      TarEntry e;
      auto more = reader.Next(&e);
      if (!more.ok()) {
        out.status = more.status();
        break;
      }
      if (!*more) break;
      Status data;
      while (true) {
        auto got = reader.ReadData(buf.data(), buf.size());
        if (!got.ok()) data = got.status();
        if (!got.ok() || *got == 0) break;
      }
      if (!data.ok()) {
        out.status = data;
        break;
      }
      out.entries.push_back(std::move(e));
    }
  }
  close(fd);
  return out;
}

TEST(CorpusTest, EveryFileHasItsExpectedOutcome) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string script =
      std::string(STRATA_SOURCE_DIR) + "/tests/corpus/make_corpus.sh";
  if (system("command -v zstd >/dev/null") != 0)
    GTEST_SKIP() << "zstd CLI not installed";
  ASSERT_EQ(system((script + " " + dir.path() + " >/dev/null").c_str()), 0);

  std::ifstream manifest(dir / "MANIFEST.tsv");
  std::vector<Row> rows;
  std::string line;
  while (std::getline(manifest, line)) {
    std::istringstream fields(line);
    Row r;
    std::getline(fields, r.file, '\t');
    std::getline(fields, r.outcome, '\t');
    std::getline(fields, r.needle, '\t');
    std::getline(fields, r.what, '\t');
    rows.push_back(r);
  }
  ASSERT_GE(rows.size(), 30u);

  std::map<std::string, std::vector<TarEntry>> parsed;
  for (const Row& r : rows) {
    SCOPED_TRACE(r.file + ": " + r.what);
    Result_ got = ReadCorpusFile(dir / r.file);
    if (r.outcome == "ok") {
      EXPECT_TRUE(got.status.ok()) << got.status.ToString();
      EXPECT_FALSE(got.entries.empty());
      parsed[r.file] = got.entries;
      continue;
    }
    ASSERT_FALSE(got.status.ok());
    EXPECT_EQ(CodeName(got.status.code()), r.outcome) << got.status.ToString();
    EXPECT_NE(got.status.message().find(r.needle), std::string::npos)
        << got.status.ToString();
  }

  // Paths and link targets come out as written, unsanitized.
  EXPECT_EQ(parsed["traversal_dotdot.tar"].at(0).path, "../../etc/x");
  EXPECT_EQ(parsed["traversal_abs.tar"].at(0).path, "/abs/x");
  EXPECT_EQ(parsed["symlink_then_write.tar"].at(0).link_target, "/etc");
  EXPECT_EQ(parsed["symlink_then_write.tar"].at(1).path, "a/passwd");
  EXPECT_EQ(parsed["hardlink_outside.tar"].at(0).type,
            TarEntry::Type::kHardlink);
  EXPECT_EQ(parsed["hardlink_outside.tar"].at(0).link_target, "../x");
  const auto& opaque = parsed["overlay_opaque_xattr.tar"].at(0).xattrs;
  ASSERT_EQ(opaque.size(), 1u);
  EXPECT_EQ(opaque[0].first, "trusted.overlay.opaque");
  const auto& devs = parsed["device_nodes.tar"];
  ASSERT_EQ(devs.size(), 3u);
  EXPECT_EQ(devs[0].type, TarEntry::Type::kCharDevice);
  EXPECT_EQ(devs[1].dev_major, 8u);
  EXPECT_EQ(parsed["setuid_root.tar"].at(0).mode, 04755u);
}

}  // namespace
}  // namespace strata
