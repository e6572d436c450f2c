// TarWriter: every entry type, long paths and link targets, large ids and
// xattrs round-trip through Strata's TarReader, and GNU tar reads the same
// archive to the same entries.
#include "io/tar/tar_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "io/base/source.h"
#include "io/tar/tar_reader.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

TarEntry Entry(TarEntry::Type type, std::string path, int64_t size = 0) {
  TarEntry e;
  e.type = type;
  e.path = std::move(path);
  e.size = size;
  e.mode = type == TarEntry::Type::kDirectory ? 0755 : 0644;
  e.mtime_sec = 1700000000;
  return e;
}

std::vector<TarEntry> ReadAll(const std::string& tar,
                              std::vector<std::string>* data) {
  MemorySource src(tar);
  TarReader reader(src);
  std::vector<TarEntry> out;
  TarEntry e;
  for (;;) {
    auto more = reader.Next(&e);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    std::string bytes;
    char buf[4096];
    for (;;) {
      auto n = reader.ReadData(buf, sizeof(buf));
      EXPECT_TRUE(n.ok());
      if (!n.ok() || *n == 0) break;
      bytes.append(buf, *n);
    }
    data->push_back(bytes);
    out.push_back(e);
  }
  return out;
}

TEST(TarWriterTest, EveryEntryTypeRoundTrips) {
  const std::string deep = std::string(120, 'd') + "/" + std::string(90, 'f');
  const std::string longest =
      std::string(300, 'p') + "/" + std::string(200, 'q');  // needs PAX
  std::vector<TarEntry> in;
  in.push_back(Entry(TarEntry::Type::kDirectory, "dir"));
  TarEntry f = Entry(TarEntry::Type::kFile, "dir/file", 1000);
  f.mode = 04755;
  f.uid = 3000000;  // beyond 7 octal digits: PAX
  f.gid = 42;
  f.xattrs = {{"security.capability", std::string("\x01\x00\x00\x02", 4)}};
  in.push_back(f);
  in.push_back(Entry(TarEntry::Type::kFile, deep, 513));
  in.push_back(Entry(TarEntry::Type::kFile, longest, 0));
  TarEntry sym = Entry(TarEntry::Type::kSymlink, "link");
  sym.link_target = std::string(200, 't');
  in.push_back(sym);
  TarEntry hard = Entry(TarEntry::Type::kHardlink, "hard");
  hard.link_target = "dir/file";
  in.push_back(hard);
  TarEntry chr = Entry(TarEntry::Type::kCharDevice, "dev/null");
  chr.dev_major = 1;
  chr.dev_minor = 3;
  in.push_back(chr);
  TarEntry blk = Entry(TarEntry::Type::kBlockDevice, "dev/loop0");
  blk.dev_major = 7;
  in.push_back(blk);
  in.push_back(Entry(TarEntry::Type::kFifo, "fifo"));
  TarEntry wh = Entry(TarEntry::Type::kFile, "dir/.wh.gone");
  wh.mode = 0;
  wh.mtime_sec = 0;
  in.push_back(wh);

  StringSink sink;
  TarWriter w(sink);
  for (const TarEntry& e : in) {
    ASSERT_TRUE(w.Add(e).ok()) << e.path;
    if (e.size > 0) {
      std::string bytes(static_cast<size_t>(e.size), 'x');
      bytes[0] = 'a';
      ASSERT_TRUE(w.Data(bytes.substr(0, 10)).ok());
      ASSERT_TRUE(w.Data(bytes.substr(10)).ok());
    }
  }
  ASSERT_TRUE(w.Close().ok());
  EXPECT_EQ(sink.str().size() % 512, 0u);
  EXPECT_EQ(w.bytes_written(), static_cast<int64_t>(sink.str().size()));

  std::vector<std::string> data;
  std::vector<TarEntry> out = ReadAll(sink.str(), &data);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    SCOPED_TRACE(in[i].path);
    std::string want = in[i].path;
    if (in[i].type == TarEntry::Type::kDirectory) want += "/";
    EXPECT_EQ(out[i].path, want);
    EXPECT_EQ(out[i].type, in[i].type);
    EXPECT_EQ(out[i].mode, in[i].mode);
    EXPECT_EQ(out[i].uid, in[i].uid);
    EXPECT_EQ(out[i].gid, in[i].gid);
    EXPECT_EQ(out[i].size, in[i].size);
    EXPECT_EQ(out[i].mtime_sec, in[i].mtime_sec);
    EXPECT_EQ(out[i].link_target, in[i].link_target);
    EXPECT_EQ(out[i].dev_major, in[i].dev_major);
    EXPECT_EQ(out[i].dev_minor, in[i].dev_minor);
    EXPECT_EQ(out[i].xattrs, in[i].xattrs);
    EXPECT_EQ(data[i].size(), static_cast<size_t>(in[i].size));
  }

  // GNU tar lists the same paths.
  TempDir dir;
  const std::string file = dir / "layer.tar";
  std::ofstream(file, std::ios::binary) << sink.str();
  std::string cmd = "tar -tf " + file + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string listed;
  char line[8192];
  while (fgets(line, sizeof(line), p) != nullptr) listed += line;
  EXPECT_EQ(pclose(p), 0) << listed;
  std::string want;
  for (const TarEntry& e : in) {
    want += e.path + (e.type == TarEntry::Type::kDirectory ? "/" : "") + "\n";
  }
  EXPECT_EQ(listed, want);
}

TEST(TarWriterTest, MisuseIsRefused) {
  StringSink sink;
  TarWriter w(sink);
  EXPECT_FALSE(w.Add(Entry(TarEntry::Type::kFile, "")).ok());
  EXPECT_FALSE(
      w.Add(Entry(TarEntry::Type::kFile, std::string(5000, 'a'))).ok());
  EXPECT_FALSE(
      w.Add(Entry(TarEntry::Type::kFile, std::string("a\0b", 3))).ok());
  EXPECT_FALSE(w.Add(Entry(TarEntry::Type::kDirectory, "d", 10)).ok());
  ASSERT_TRUE(w.Add(Entry(TarEntry::Type::kFile, "f", 4)).ok());
  EXPECT_EQ(w.Data("12345").code(), Code::kFailedPrecondition);
  ASSERT_TRUE(w.Data("12").ok());
  EXPECT_EQ(w.Add(Entry(TarEntry::Type::kFile, "g")).code(),
            Code::kFailedPrecondition)
      << "the last file's data is short";
  EXPECT_EQ(w.Close().code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace strata
