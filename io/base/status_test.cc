#include "io/base/status.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "io/base/errno.h"
#include "io/base/result.h"

namespace strata {
namespace {

TEST(StatusTest, OkIsFreeAndEmpty) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, WithContextKeepsCode) {
  Status s = NotFound("not found").WithContext("snapshot \"k\"");
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.message(), "snapshot \"k\": not found");
  EXPECT_TRUE(Status().WithContext("x").ok());
}

TEST(StatusTest, CopyIsDeep) {
  Status a = AlreadyExists("a");
  Status b = a;
  b = std::move(b).WithContext("b");
  EXPECT_EQ(a.message(), "a");
  EXPECT_EQ(b.message(), "b: a");
}

TEST(StatusTest, PosixErrorMapsClasses) {
  EXPECT_EQ(PosixError("x", ENOENT).code(), Code::kNotFound);
  EXPECT_EQ(PosixError("x", EEXIST).code(), Code::kAlreadyExists);
  EXPECT_EQ(PosixError("x", ENOSPC).code(), Code::kResourceExhausted);
  EXPECT_EQ(PosixError("x", EOPNOTSUPP).code(), Code::kUnimplemented);
  EXPECT_EQ(PosixError("x", EIO).code(), Code::kInternal);
  EXPECT_NE(PosixError("open /a", ENOENT).message().find("open /a"),
            std::string::npos);
}

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  STRATA_ASSIGN_OR_RETURN(int h, Half(x));
  STRATA_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(ResultTest, AssignOrReturnPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace strata

#include "io/base/sha256.h"

namespace strata {
namespace {

TEST(Sha256Test, KnownDigests) {
  EXPECT_EQ(Sha256::Of(""),
            "sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.Update("ab");
  h.Update("c");
  EXPECT_EQ(h.Digest(),
            "sha256:"
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ChainId("", "sha256:x"), "sha256:x");
  EXPECT_EQ(ChainId("sha256:a", "sha256:b"), Sha256::Of("sha256:a sha256:b"));
}

}  // namespace
}  // namespace strata
