#include "io/decompress/detect.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "io/decompress/test_util.h"

namespace strata {
namespace {

Result<std::string> OpenAndRead(std::string_view blob,
                                const DecompressOptions& opts,
                                Compression* detected) {
  STRATA_ASSIGN_OR_RETURN(
      auto src, OpenDecompressed(std::make_unique<TrickleSource>(blob, 3), opts,
                                 detected));
  return ReadAll(*src);
}

TEST(DetectTest, Magic) {
  EXPECT_EQ(DetectCompression("\x1f\x8b\x08\x00"), Compression::kGzip);
  EXPECT_EQ(DetectCompression("\x1f\x8b"), Compression::kGzip);
  EXPECT_EQ(DetectCompression("\x28\xb5\x2f\xfd"), Compression::kZstd);
  EXPECT_EQ(DetectCompression("\x5e\x2a\x4d\x18"), Compression::kZstd);
  EXPECT_EQ(DetectCompression("\x28\xb5\x2f"), Compression::kNone);
  EXPECT_EQ(DetectCompression("\x1f"), Compression::kNone);
  EXPECT_EQ(DetectCompression(""), Compression::kNone);
  EXPECT_EQ(DetectCompression("ustar"), Compression::kNone);
}

TEST(DetectTest, OpensEachKind) {
  std::string data = TestPayload(300 << 10);
  struct Case {
    std::string blob;
    Compression want;
  } cases[] = {{data, Compression::kNone},
               {GzipMember(data), Compression::kGzip},
               {ZstdFrame(data), Compression::kZstd},
               {"", Compression::kNone},
               {"ab", Compression::kNone}};
  for (const Case& c : cases) {
    Compression got_c = Compression::kNone;
    auto got = OpenAndRead(c.blob, {}, &got_c);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got_c, c.want);
    EXPECT_TRUE(*got == (c.want == Compression::kNone ? c.blob : data));
  }
}

TEST(DetectTest, BombLimitIsResourceExhaustedNamingTheLimit) {
  std::string zeros(8 << 20, '\0');
  DecompressOptions opts;
  opts.max_output_bytes = 1 << 20;
  for (const std::string& blob :
       {GzipMember(zeros, 9), ZstdFrame(zeros, 19), zeros}) {
    auto got = OpenAndRead(blob, opts, nullptr);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), Code::kResourceExhausted);
    EXPECT_NE(got.status().message().find("max_output_bytes"),
              std::string::npos);
    EXPECT_NE(got.status().message().find("1048576"), std::string::npos)
        << got.status().ToString();
  }
  opts.max_output_bytes = zeros.size();  // exactly at the limit is fine
  auto got = OpenAndRead(GzipMember(zeros), opts, nullptr);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), zeros.size());
}

TEST(DetectTest, GzipEnginesAgree) {
  std::string data = TestPayload(1 << 20, 9);
  std::string gz = GzipMember(data);
  for (GzipEngine e :
       {GzipEngine::kDefault, GzipEngine::kZlib, GzipEngine::kIsal}) {
    DecompressOptions opts;
    opts.gzip_engine = e;
    auto got = OpenAndRead(gz, opts, nullptr);
    if (e == GzipEngine::kIsal && !got.ok() &&
        got.status().code() == Code::kUnimplemented) {
      continue;  // built without ISA-L
    }
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == data);
  }
}

TEST(FdSourceTest, ReadsAPipeToItsEnd) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string data = TestPayload(1 << 20, 11);
  std::thread writer([&] {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t w = write(fds[1], data.data() + off, data.size() - off);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
    close(fds[1]);
  });
  FdSource src(fds[0]);
  auto got = ReadAll(src, 4096);
  writer.join();
  close(fds[0]);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == data);
}

TEST(FdSourceTest, BadFdIsAnError) {
  FdSource src(-1);
  char buf[8];
  EXPECT_FALSE(src.Read(buf, sizeof buf).ok());
}

}  // namespace
}  // namespace strata
