// TarReader on hand-built archives: format corners and hostile headers.
// Archives written by GNU tar are in tar_gnu_test.cc.
#include "io/tar/tar_reader.h"

#include <gtest/gtest.h>

#include <string>

#include "io/tar/tar_test_util.h"

namespace strata {
namespace {

using Type = TarEntry::Type;

// Reads archive to its end and returns the first error.
Status ReadError(std::string_view archive) {
  auto r = ReadAllEntries(archive);
  return r.ok() ? Status() : r.status();
}

void ExpectError(std::string_view archive, Code code, std::string_view needle,
                 std::string_view entry = "") {
  Status s = ReadError(archive);
  ASSERT_FALSE(s.ok()) << "expected " << CodeName(code) << " with \"" << needle
                       << "\"";
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.ToString();
  if (!entry.empty()) {
    EXPECT_NE(s.message().find("\"" + std::string(entry) + "\""),
              std::string::npos)
        << s.ToString();
  }
}

TEST(TarReaderTest, EmptyStreamAndBareEndMarker) {
  auto r = ReadAllEntries("");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->empty());
  // GNU tar pads to a 10 KiB record: the reader drains it.
  std::string archive = std::string(10240, '\0');
  MemorySource src(archive);
  int64_t consumed = 0;
  auto r2 = ReadAllEntries(src, 4096, &consumed);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(consumed, 10240);
  // One zero block then end of stream, and end of stream at a block boundary.
  EXPECT_TRUE(ReadError(MakeEntry({}, "x") + std::string(512, '\0')).ok());
  EXPECT_TRUE(ReadError(MakeEntry({}, "x")).ok());
}

TEST(TarReaderTest, RegularFileFieldsAndData) {
  HeaderSpec h;
  h.name = "dir/file.txt";
  h.mode = 04755;
  h.uid = 1000;
  h.gid = 2000;
  h.mtime = 1234567890;
  std::string data(1000, 'z');
  std::string archive = MakeEntry(h, data) + EndOfArchive();
  MemorySource src(archive);
  int64_t consumed = 0;
  auto r = ReadAllEntries(src, 7, &consumed);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  const TarEntry& e = (*r)[0].entry;
  EXPECT_EQ(e.type, Type::kFile);
  EXPECT_EQ(e.path, "dir/file.txt");
  EXPECT_EQ(e.mode, 04755u);
  EXPECT_EQ(e.uid, 1000u);
  EXPECT_EQ(e.gid, 2000u);
  EXPECT_EQ(e.size, 1000);
  EXPECT_EQ(e.mtime_sec, 1234567890);
  EXPECT_EQ(e.atime_sec, 1234567890);  // no atime: = mtime
  EXPECT_EQ(e.mtime_nsec, 0);
  EXPECT_TRUE(e.sparse.empty());
  EXPECT_EQ((*r)[0].data, data);
  EXPECT_EQ(consumed, static_cast<int64_t>(archive.size()));
}

TEST(TarReaderTest, TypeFlags) {
  struct Case {
    char flag;
    Type type;
  } cases[] = {{'0', Type::kFile},        {'\0', Type::kFile},
               {'7', Type::kFile},        {'1', Type::kHardlink},
               {'2', Type::kSymlink},     {'3', Type::kCharDevice},
               {'4', Type::kBlockDevice}, {'5', Type::kDirectory},
               {'6', Type::kFifo}};
  for (const Case& c : cases) {
    HeaderSpec h;
    h.type = c.flag;
    h.linkname = "target";
    h.devmajor = 8;
    h.devminor = 17;
    auto r = ReadAllEntries(MakeHeader(h) + EndOfArchive());
    ASSERT_TRUE(r.ok()) << c.flag << r.status().ToString();
    ASSERT_EQ(r->size(), 1u);
    const TarEntry& e = (*r)[0].entry;
    EXPECT_EQ(e.type, c.type) << c.flag;
    bool link = c.type == Type::kSymlink || c.type == Type::kHardlink;
    EXPECT_EQ(e.link_target, link ? "target" : "");
    bool dev = c.type == Type::kCharDevice || c.type == Type::kBlockDevice;
    EXPECT_EQ(e.dev_major, dev ? 8u : 0u);
    EXPECT_EQ(e.dev_minor, dev ? 17u : 0u);
  }
}

TEST(TarReaderTest, OldStyleDirectoryBySlash) {
  HeaderSpec h;
  h.name = "olddir/";
  h.type = '\0';
  auto r = ReadAllEntries(MakeHeader(h) + EndOfArchive());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].entry.type, Type::kDirectory);
}

TEST(TarReaderTest, HeaderOnlyTypesCarryNoData) {
  // Like Go's archive/tar: a directory's or link's size field is ignored.
  HeaderSpec dir;
  dir.name = "d/";
  dir.type = '5';
  dir.size = 5;
  auto r =
      ReadAllEntries(MakeHeader(dir) + MakeEntry({}, "data") + EndOfArchive());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].entry.size, 0);
  EXPECT_EQ((*r)[0].data, "");
  EXPECT_EQ((*r)[1].data, "data");
}

TEST(TarReaderTest, UstarPrefix) {
  HeaderSpec h;
  h.prefix = std::string(150, 'p');
  h.name = std::string(99, 'n');
  auto r = ReadAllEntries(MakeHeader(h) + EndOfArchive());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].entry.path, h.prefix + "/" + h.name);
  // GNU headers keep atime etc. where ustar has its prefix.
  h.gnu = true;
  r = ReadAllEntries(MakeHeader(h) + EndOfArchive());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].entry.path, h.name);
}

TEST(TarReaderTest, GnuLongNamesAndPaxPrecedence) {
  std::string long_name(300, 'a');
  std::string long_link(200, 'b');
  HeaderSpec ln;
  ln.name = "././@LongLink";
  ln.type = 'L';
  ln.gnu = true;
  HeaderSpec lk = ln;
  lk.type = 'K';
  HeaderSpec sym;
  sym.type = '2';
  sym.gnu = true;
  sym.name = "short";
  sym.linkname = "shortlink";
  // Long names with their NUL and extra NUL padding.
  std::string archive = MakeEntry(ln, long_name + '\0') +
                        MakeEntry(lk, long_link + std::string(3, '\0')) +
                        MakeHeader(sym) + EndOfArchive();
  auto r = ReadAllEntries(archive);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].entry.path, long_name);
  EXPECT_EQ((*r)[0].entry.link_target, long_link);

  // pax path beats the GNU long name; a second 'x' replaces the first.
  archive =
      MakeEntry(ln, long_name) + PaxEntry(PaxBody({{"path", "first"}})) +
      PaxEntry(PaxBody({{"path", "pax/path"}, {"linkpath", "pax/link"}})) +
      MakeHeader(sym) + EndOfArchive();
  r = ReadAllEntries(archive);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].entry.path, "pax/path");
  EXPECT_EQ((*r)[0].entry.link_target, "pax/link");
  // The metadata applies to one entry only.
  r = ReadAllEntries(PaxEntry(PaxBody({{"path", "p"}})) + MakeHeader(sym) +
                     MakeHeader(sym) + EndOfArchive());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].entry.path, "p");
  EXPECT_EQ((*r)[1].entry.path, "short");
}

TEST(TarReaderTest, PaxFields) {
  std::string body =
      PaxBody({{"uid", "4000000000"},
               {"gid", "77"},
               {"size", "3"},
               {"mtime", "1700000000.123456789"},
               {"atime", "-1.25"},
               {"uname", "ignored"},
               {"ctime", "1.5"},
               {"SCHILY.xattr.user.a", std::string("v\0al\n", 5)},
               {"LIBARCHIVE.xattr.user.b%3D", "aGVsbG8"},  // "hello"
               {"SCHILY.xattr.user.a", "second"},
               {"some.unknown", "x"}});
  HeaderSpec h;
  h.size = 0;  // pax size wins
  std::string archive =
      PaxEntry(body) + MakeHeader(h) + Padded("abc") + EndOfArchive();
  auto r = ReadAllEntries(archive);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const TarEntry& e = (*r)[0].entry;
  EXPECT_EQ(e.uid, 4000000000u);
  EXPECT_EQ(e.gid, 77u);
  EXPECT_EQ(e.size, 3);
  EXPECT_EQ((*r)[0].data, "abc");
  EXPECT_EQ(e.mtime_sec, 1700000000);
  EXPECT_EQ(e.mtime_nsec, 123456789);
  EXPECT_EQ(e.atime_sec, -2);
  EXPECT_EQ(e.atime_nsec, 750000000);
  ASSERT_EQ(e.xattrs.size(), 2u);
  EXPECT_EQ(e.xattrs[0].first, "user.a");
  EXPECT_EQ(e.xattrs[0].second, "second");
  EXPECT_EQ(e.xattrs[1].first, "user.b=");
  EXPECT_EQ(e.xattrs[1].second, "hello");
}

TEST(TarReaderTest, PaxGlobalHeaders) {
  std::string g = PaxEntry(PaxBody({{"uid", "5"},
                                    {"mtime", "99.5"},
                                    {"path", "ignored-in-global"},
                                    {"SCHILY.xattr.user.g", "global"}}),
                           'g');
  HeaderSpec a;
  a.name = "a";
  HeaderSpec b;
  b.name = "b";
  std::string archive =
      g + MakeHeader(a) +
      PaxEntry(PaxBody({{"uid", "6"}, {"SCHILY.xattr.user.g", "local"}})) +
      MakeHeader(b) + PaxEntry(PaxBody({{"uid", ""}})) + MakeHeader(a) +
      EndOfArchive();
  auto r = ReadAllEntries(archive);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].entry.path, "a");
  EXPECT_EQ((*r)[0].entry.uid, 5u);
  EXPECT_EQ((*r)[0].entry.mtime_sec, 99);
  EXPECT_EQ((*r)[0].entry.mtime_nsec, 500000000);
  EXPECT_EQ((*r)[0].entry.xattrs.at(0).second, "global");
  EXPECT_EQ((*r)[1].entry.uid, 6u);
  EXPECT_EQ((*r)[1].entry.xattrs.size(), 1u);
  EXPECT_EQ((*r)[1].entry.xattrs.at(0).second, "local");
  EXPECT_EQ((*r)[2].entry.uid, 0u);  // "uid=" clears back to the header
}

TEST(TarReaderHostileTest, GlobalXattrsAreCapped) {
  std::string g =
      PaxEntry(PaxBody({{"SCHILY.xattr.user.a", std::string(5000, 'a')}}), 'g');
  EXPECT_TRUE(ReadError(g + MakeHeader({}) + EndOfArchive()).ok());
  std::string g2 =
      PaxEntry(PaxBody({{"SCHILY.xattr.user.b", std::string(5000, 'b')}}), 'g');
  ExpectError(g + g2 + MakeHeader({}) + EndOfArchive(), Code::kInvalidArgument,
              "global pax xattrs exceed 8192 bytes");
}

TEST(TarReaderTest, Base256Fields) {
  HeaderSpec h;
  h.gnu = true;
  std::string header = MakeHeader(h);
  PutBase256(&header, kTarUid, 3000000000);
  PutBase256(&header, kTarMtime, -86400);
  PutBase256(&header, kTarSize, 10);
  FixChecksum(&header);
  auto r = ReadAllEntries(header + Padded("0123456789") + EndOfArchive());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].entry.uid, 3000000000u);
  EXPECT_EQ((*r)[0].entry.mtime_sec, -86400);
  EXPECT_EQ((*r)[0].data, "0123456789");
}

TEST(TarReaderTest, SignedChecksumAccepted) {
  HeaderSpec h;
  h.name =
      "\xe9t\xe9";  // bytes >= 0x80 make the signed and unsigned sums differ
  std::string header = MakeHeader(h);
  std::memset(header.data() + kTarChecksum.offset, ' ', kTarChecksum.size);
  int sum = 0;
  for (char c : header) sum += static_cast<signed char>(c);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06o", sum);
  std::memcpy(header.data() + kTarChecksum.offset, buf, 7);
  auto r = ReadAllEntries(header + EndOfArchive());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].entry.path, h.name);
}

TEST(TarReaderTest, PartialReadThenNextSkipsTheRest) {
  std::string archive = MakeEntry({}, std::string(5000, 'a')) +
                        MakeEntry(Spec("second"), "bbb") + EndOfArchive();
  MemorySource src(archive);
  TarReader reader(src);
  TarEntry e;
  ASSERT_TRUE(*reader.Next(&e));
  char buf[10];
  ASSERT_EQ(*reader.ReadData(buf, sizeof buf), 10u);
  ASSERT_TRUE(*reader.Next(&e));
  EXPECT_EQ(e.path, "second");
  ASSERT_EQ(*reader.ReadData(buf, sizeof buf), 3u);
  EXPECT_EQ(std::string(buf, 3), "bbb");
  EXPECT_EQ(*reader.ReadData(buf, sizeof buf), 0u);
  EXPECT_FALSE(*reader.Next(&e));
  EXPECT_FALSE(*reader.Next(&e));
  EXPECT_EQ(reader.bytes_consumed(), static_cast<int64_t>(archive.size()));
}

// --- Malformed archives: each is an error naming the entry. ---

TEST(TarReaderHostileTest, BadChecksum) {
  std::string header = MakeHeader(Spec("victim"));
  header[0] = 'V';
  ExpectError(header + EndOfArchive(), Code::kInvalidArgument, "checksum",
              "Victim");
  std::string no_sum = MakeHeader(Spec("victim"));
  std::memset(no_sum.data() + kTarChecksum.offset, 0, kTarChecksum.size);
  ExpectError(no_sum + EndOfArchive(), Code::kInvalidArgument, "checksum",
              "victim");
}

TEST(TarReaderHostileTest, Truncation) {
  std::string entry = MakeEntry(Spec("f"), std::string(1000, 'x'));
  ExpectError(entry.substr(0, 300), Code::kDataLoss,
              "truncated inside a header");
  ExpectError(entry.substr(0, 512 + 100), Code::kDataLoss, "truncated", "f");
  // Missing padding after complete data.
  ExpectError(entry.substr(0, 512 + 1000), Code::kDataLoss, "padding", "f");
  // Through ReadData (not skipping).
  MemorySource src(std::string_view(entry).substr(0, 700));
  TarReader reader(src);
  TarEntry e;
  ASSERT_TRUE(*reader.Next(&e));
  char buf[4096];
  ASSERT_EQ(*reader.ReadData(buf, sizeof buf), 188u);
  auto r = reader.ReadData(buf, sizeof buf);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kDataLoss);
  // Sticky.
  EXPECT_EQ(reader.Next(&e).status().code(), Code::kDataLoss);
  // Extended headers at the end of the stream.
  ExpectError(PaxEntry(PaxBody({{"path", "p"}})), Code::kDataLoss,
              "after an extended header");
  ExpectError(PaxEntry(PaxBody({{"path", "p"}})) + EndOfArchive(),
              Code::kInvalidArgument, "end-of-archive marker");
  ExpectError(MakeHeader(Spec("file", 'x', false, 100)), Code::kDataLoss,
              "pax header");
}

TEST(TarReaderHostileTest, AbsurdSizes) {
  std::string header = MakeHeader(Spec("huge"));
  PutBase256(&header, kTarSize, int64_t{1} << 50);
  FixChecksum(&header);
  ExpectError(header + EndOfArchive(), Code::kInvalidArgument, "1 TiB", "huge");
  PutBase256(&header, kTarSize, -512);
  FixChecksum(&header);
  ExpectError(header + EndOfArchive(), Code::kInvalidArgument, "size", "huge");
  // Every 12 bytes 0xff...: -1.
  std::memset(header.data() + kTarSize.offset, 0xff, kTarSize.size);
  FixChecksum(&header);
  ExpectError(header + EndOfArchive(), Code::kInvalidArgument, "size", "huge");
  // Overflowing base-256.
  std::memset(header.data() + kTarSize.offset, 0x7f, kTarSize.size);
  header[kTarSize.offset] = static_cast<char>(0x80);
  FixChecksum(&header);
  ExpectError(header + EndOfArchive(), Code::kInvalidArgument, "overflows",
              "huge");
  ExpectError(PaxEntry(PaxBody({{"size", "1099511627777"}})) + MakeHeader({}) +
                  EndOfArchive(),
              Code::kInvalidArgument, "1 TiB");
  ExpectError(
      PaxEntry(PaxBody({{"size", "99999999999999999999999"}})) + MakeHeader({}),
      Code::kInvalidArgument, "decimal");
}

TEST(TarReaderHostileTest, BadNumericFields) {
  std::string header = MakeHeader(Spec("m"));
  PutField(&header, kTarMode, "07x4");
  FixChecksum(&header);
  ExpectError(header + EndOfArchive(), Code::kInvalidArgument, "mode", "m");
  header = MakeHeader(Spec("u"));
  PutBase256(&header, kTarUid, -5);
  FixChecksum(&header);
  ExpectError(header + EndOfArchive(), Code::kInvalidArgument, "uid", "u");
  ExpectError(PaxEntry(PaxBody({{"uid", "4294967296"}})) + MakeHeader({}),
              Code::kInvalidArgument, "32 bits");
  ExpectError(PaxEntry(PaxBody({{"mtime", "12x"}})) + MakeHeader({}),
              Code::kInvalidArgument, "bad time");
  ExpectError(PaxEntry(PaxBody({{"gid", "-1"}})) + MakeHeader({}),
              Code::kInvalidArgument, "decimal");
}

TEST(TarReaderHostileTest, HugePaxHeaderIsRejectedBeforeReading) {
  // The size alone decides: nothing is allocated or read.
  std::string header = MakeHeader(Spec("PaxHeaders/big", 'x'));
  PutOctal(&header, kTarSize, (1 << 20) + 1);
  FixChecksum(&header);
  ExpectError(header, Code::kInvalidArgument, "pax header of 1048577 bytes");
  header = MakeHeader(Spec("PaxHeaders/big", 'g'));
  PutBase256(&header, kTarSize, int64_t{1} << 40);
  FixChecksum(&header);
  ExpectError(header, Code::kInvalidArgument, "global pax header");
}

TEST(TarReaderHostileTest, BogusPaxRecords) {
  const char* bodies[] = {
      "999 path=x\n",           // length past the data
      "0 path=x\n",             // too short
      "abc path=x\n",           // no length
      "10 path=xy\n",           // length does not end at the newline
      "9 pathx\n\n",            // no '='
      "7 =xy\n",                // empty keyword
      "10path=xy\n",            // no space
      "1234567890123 path=x\n"  // absurd length
  };
  for (const char* body : bodies) {
    SCOPED_TRACE(body);
    ExpectError(PaxEntry(body) + MakeHeader(Spec("target")) + EndOfArchive(),
                Code::kInvalidArgument, "pax record", "target");
  }
}

TEST(TarReaderHostileTest, NamesTooLongOrWithNul) {
  std::string long_name(5000, 'n');
  ExpectError(PaxEntry(PaxBody({{"path", long_name}})) + MakeHeader({}) +
                  EndOfArchive(),
              Code::kInvalidArgument, "PATH_MAX");
  ExpectError(
      PaxEntry(PaxBody({{"path", std::string(4096, 'n')}})) + MakeHeader({}),
      Code::kInvalidArgument, "PATH_MAX");
  EXPECT_TRUE(ReadError(PaxEntry(PaxBody({{"path", std::string(4095, 'n')}})) +
                        MakeHeader({}) + EndOfArchive())
                  .ok());
  HeaderSpec ln = Spec("././@LongLink", 'L', true);
  ExpectError(MakeEntry(ln, long_name) + MakeHeader({}), Code::kInvalidArgument,
              "GNU long name of 5000 bytes");
  ExpectError(
      PaxEntry(PaxBody({{"path", std::string("a\0b", 3)}})) + MakeHeader({}),
      Code::kInvalidArgument, "NUL");
  ExpectError(PaxEntry(PaxBody({{"linkpath", std::string("a\0b", 3)}})) +
                  MakeHeader(Spec("file", '2')),
              Code::kInvalidArgument, "NUL");
  ExpectError(MakeEntry(ln, std::string("evil\0tail", 9)) + MakeHeader({}),
              Code::kInvalidArgument, "GNU long name contains a NUL");
  ExpectError(MakeHeader(Spec("")) + EndOfArchive(), Code::kInvalidArgument,
              "empty path");
  ExpectError(MakeHeader(Spec("s", '2')) + EndOfArchive(),
              Code::kInvalidArgument, "empty link target", "s");
  ExpectError(PaxEntry(PaxBody({{"SCHILY.xattr.", "v"}})) + MakeHeader({}),
              Code::kInvalidArgument, "empty xattr name");
  ExpectError(
      PaxEntry(PaxBody({{"SCHILY.xattr.user.big", std::string(65537, 'v')}})) +
          MakeHeader({}),
      Code::kInvalidArgument, "xattr");
}

TEST(TarReaderHostileTest, UnknownTypeNamesTheEntry) {
  ExpectError(MakeHeader(Spec("weird", 'Z')) + EndOfArchive(),
              Code::kInvalidArgument, "unsupported entry type 'Z'", "weird");
  ExpectError(MakeHeader(Spec("vol", 'V', true)) + EndOfArchive(),
              Code::kInvalidArgument, "unsupported entry type", "vol");
}

TEST(TarReaderHostileTest, ZeroBlockThenHeader) {
  ExpectError(std::string(512, '\0') + MakeHeader({}) + EndOfArchive(),
              Code::kInvalidArgument, "zero block is followed");
}

TEST(TarReaderHostileTest, MessagesEscapeHostileNames) {
  std::string header = MakeHeader(Spec("bad\n\x1b[31mname"));
  header[kTarChecksum.offset] = '9';
  Status s = ReadError(header);
  EXPECT_NE(s.message().find("bad\\x0a\\x1b[31mname"), std::string::npos)
      << s.message();
}

// --- Sparse files built by hand (GNU tar's own are in tar_gnu_test.cc). ---

std::string Pax10Sparse(const std::string& map_text, std::string_view data,
                        int64_t realsize) {
  std::string stored = Padded(map_text) + std::string(data);
  return PaxEntry(
             PaxBody({{"GNU.sparse.major", "1"},
                      {"GNU.sparse.minor", "0"},
                      {"GNU.sparse.name", "sparse"},
                      {"GNU.sparse.realsize", std::to_string(realsize)}})) +
         MakeEntry(Spec("GNUSparseFile.0/sparse"), stored) + EndOfArchive();
}

TEST(TarReaderSparseTest, Pax10) {
  auto r = ReadAllEntries(Pax10Sparse("2\n0\n3\n100\n2\n", "abcde", 200));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const TarEntry& e = (*r)[0].entry;
  EXPECT_EQ(e.path, "sparse");
  EXPECT_EQ(e.size, 200);
  ASSERT_EQ(e.sparse.size(), 2u);
  EXPECT_EQ(e.sparse[0], std::make_pair(int64_t{0}, int64_t{3}));
  EXPECT_EQ(e.sparse[1], std::make_pair(int64_t{100}, int64_t{2}));
  EXPECT_EQ((*r)[0].data, "abcde");
  // All hole: one empty segment at the end.
  r = ReadAllEntries(Pax10Sparse("0\n", "", 4096));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ((*r)[0].entry.sparse.size(), 1u);
  EXPECT_EQ((*r)[0].entry.sparse[0], std::make_pair(int64_t{4096}, int64_t{0}));
}

TEST(TarReaderSparseTest, Pax10Hostile) {
  ExpectError(Pax10Sparse("2\n0\n3\n1\n2\n", "abcde", 200),
              Code::kInvalidArgument, "out of order", "sparse");
  ExpectError(Pax10Sparse("1\n0\n3\n", "abcde", 200), Code::kInvalidArgument,
              "hold 3 bytes");
  ExpectError(Pax10Sparse("1\n190\n20\n", std::string(20, 'x'), 200),
              Code::kInvalidArgument, "outside");
  ExpectError(Pax10Sparse("999999999\n", "", 200), Code::kInvalidArgument,
              "sparse segments");
  ExpectError(Pax10Sparse("1\n0\n-3\n", "abc", 200), Code::kInvalidArgument,
              "sparse map");
  ExpectError(Pax10Sparse("1\n0\n3\n", "abc", int64_t{1} << 41),
              Code::kInvalidArgument, "1 TiB");
  // A map that never ends runs into the end of the entry's data.
  std::string digits(4096, '1');
  ExpectError(Pax10Sparse("2\n" + digits, "", 200), Code::kInvalidArgument,
              "sparse map");
  std::string lines;
  for (int i = 0; i < 300; ++i) lines += "1\n";
  ExpectError(PaxEntry(PaxBody({{"GNU.sparse.major", "1"},
                                {"GNU.sparse.minor", "0"},
                                {"GNU.sparse.realsize", "10"}})) +
                  MakeEntry(Spec("s"), lines.substr(0, 300)) + EndOfArchive(),
              Code::kInvalidArgument, "runs past");
  ExpectError(PaxEntry(PaxBody(
                  {{"GNU.sparse.major", "2"}, {"GNU.sparse.minor", "0"}})) +
                  MakeHeader(Spec("s")) + EndOfArchive(),
              Code::kInvalidArgument, "unsupported GNU sparse format 2.0");
  ExpectError(PaxEntry(PaxBody({{"GNU.sparse.major", "1"},
                                {"GNU.sparse.minor", "0"},
                                {"GNU.sparse.realsize", "10"}})) +
                  MakeHeader(Spec("d", '5')) + EndOfArchive(),
              Code::kInvalidArgument, "non-regular");
}

TEST(TarReaderSparseTest, Pax0xHostile) {
  auto entry = [](std::vector<std::pair<std::string, std::string>> recs,
                  std::string data) {
    return PaxEntry(PaxBody(recs)) + MakeEntry(Spec("s"), data) +
           EndOfArchive();
  };
  auto ok = ReadAllEntries(entry({{"GNU.sparse.size", "10"},
                                  {"GNU.sparse.numblocks", "1"},
                                  {"GNU.sparse.map", "2,3"}},
                                 "abc"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)[0].entry.sparse.at(0),
            std::make_pair(int64_t{2}, int64_t{3}));
  ExpectError(
      entry({{"GNU.sparse.size", "10"}, {"GNU.sparse.map", "2,3,4"}}, "abc"),
      Code::kInvalidArgument, "odd number");
  ExpectError(entry({{"GNU.sparse.size", "10"},
                     {"GNU.sparse.numblocks", "2"},
                     {"GNU.sparse.map", "2,3"}},
                    "abc"),
              Code::kInvalidArgument, "numblocks");
  ExpectError(entry({{"GNU.sparse.size", "10"},
                     {"GNU.sparse.numblocks", "1"},
                     {"GNU.sparse.numbytes", "3"}},
                    "abc"),
              Code::kInvalidArgument, "numbytes without");
  ExpectError(entry({{"GNU.sparse.size", "10"},
                     {"GNU.sparse.numblocks", "1"},
                     {"GNU.sparse.offset", "0"}},
                    "abc"),
              Code::kInvalidArgument, "offset without");
  ExpectError(entry({{"GNU.sparse.map", "2,3"}}, "abc"), Code::kInvalidArgument,
              "without GNU.sparse.size");
  ExpectError(
      entry({{"GNU.sparse.name", "x"}, {"GNU.sparse.size", "3"}}, "abc"),
      Code::kInvalidArgument, "incomplete");
}

TEST(TarReaderSparseTest, OldGnuHostile) {
  HeaderSpec h = Spec("s", 'S', true);
  std::string header = MakeEntry(h, "abc").substr(0, 512);
  auto put_entry = [](std::string* b, size_t at, uint64_t off, uint64_t len) {
    PutOctal(b, {at, 12}, off);
    PutOctal(b, {at + 12, 12}, len);
  };
  put_entry(&header, kGnuSparseOffset, 5, 3);
  PutOctal(&header, kGnuRealSize, 8);
  FixChecksum(&header);
  auto r = ReadAllEntries(header + Padded("abc") + EndOfArchive());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].entry.size, 8);
  EXPECT_EQ((*r)[0].entry.sparse.at(0), std::make_pair(int64_t{5}, int64_t{3}));
  // Extended, but the extension block is missing.
  header[kGnuIsExtendedOffset] = 1;
  FixChecksum(&header);
  ExpectError(header, Code::kDataLoss, "sparse header", "s");
  // Segment past the logical size.
  header[kGnuIsExtendedOffset] = 0;
  PutOctal(&header, kGnuRealSize, 7);
  FixChecksum(&header);
  ExpectError(header + Padded("abc") + EndOfArchive(), Code::kInvalidArgument,
              "outside", "s");
  // An endless chain of extension blocks stops at the segment limit.
  PutOctal(&header, kGnuRealSize, int64_t{1} << 39);
  PutOctal(&header, kTarSize, 0);
  put_entry(&header, kGnuSparseOffset, 0, 0);
  header[kGnuIsExtendedOffset] = 1;
  FixChecksum(&header);
  std::string ext(512, '\0');
  for (size_t i = 0; i < kGnuExtEntries; ++i) put_entry(&ext, i * 24, 0, 0);
  ext[kGnuExtIsExtendedOffset] = 1;
  std::string archive = header;
  for (size_t i = 0; i < kMaxSparseSegments / kGnuExtEntries + 2; ++i)
    archive += ext;
  ExpectError(archive, Code::kInvalidArgument, "sparse segments", "s");
}

}  // namespace
}  // namespace strata
