#include "snapshotter/meta/filter.h"

#include <gtest/gtest.h>

namespace strata {
namespace {

Info Snap(std::string name, Kind kind, std::string parent, Labels labels = {}) {
  Info i;
  i.name = std::move(name);
  i.kind = kind;
  i.parent = std::move(parent);
  i.labels = std::move(labels);
  return i;
}

bool M(const std::vector<std::string>& filters, const Info& info) {
  auto f = Filter::Parse(filters);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() && f->Matches(info);
}

const Info kLayer = Snap("default/3/sha256:abc", Kind::kCommitted, "default/2/sha256:p",
                         {{"containerd.io/snapshot.ref", "sha256:abc"}, {"team", "infra"}});

TEST(FilterTest, EmptyMatchesAll) {
  EXPECT_TRUE(M({}, kLayer));
  EXPECT_TRUE(M({""}, kLayer));
  EXPECT_TRUE(M({"name==nope", ""}, kLayer)) << "an empty filter ORs in match-all";
}

TEST(FilterTest, Fields) {
  EXPECT_TRUE(M({"name==default/3/sha256:abc"}, kLayer));
  EXPECT_FALSE(M({"name==other"}, kLayer));
  EXPECT_TRUE(M({"parent==default/2/sha256:p"}, kLayer));
  EXPECT_TRUE(M({"kind==committed"}, kLayer));
  EXPECT_FALSE(M({"kind==active"}, kLayer));
  EXPECT_TRUE(M({"kind!=view"}, kLayer));
  EXPECT_TRUE(M({"labels.team==infra"}, kLayer));
  EXPECT_FALSE(M({"labels.team==other"}, kLayer));
}

TEST(FilterTest, QuotedLabelKeysAndPresence) {
  EXPECT_TRUE(M({"labels.\"containerd.io/snapshot.ref\"==sha256:abc"}, kLayer));
  EXPECT_TRUE(M({"labels.\"containerd.io/snapshot.ref\""}, kLayer));
  EXPECT_FALSE(M({"labels.\"containerd.io/gc.root\""}, kLayer));
  EXPECT_TRUE(M({"labels.\"containerd.io/gc.root\"!=x"}, kLayer)) << "absent != value";
  // Unquoted dotted keys join with '.', like containerd's adaptor.
  Info dotted = Snap("a", Kind::kActive, "", {{"a.b", "1"}});
  EXPECT_TRUE(M({"labels.a.b==1"}, dotted));
}

TEST(FilterTest, WhatContainerdsUnpackerSends) {
  std::string f =
      "labels.\"containerd.io/snapshot.ref\"==sha256:abc,parent==\"default/2/sha256:p\"";
  EXPECT_TRUE(M({f}, kLayer));
  Info other = kLayer;
  other.parent = "default/2/sha256:q";
  EXPECT_FALSE(M({f}, other));
}

TEST(FilterTest, AndOr) {
  EXPECT_FALSE(M({"kind==committed,name==x"}, kLayer));
  EXPECT_TRUE(M({"kind==active", "name==default/3/sha256:abc"}, kLayer));
  EXPECT_TRUE(M({" kind == committed , labels.team == infra "}, kLayer));
}

TEST(FilterTest, Regex) {
  EXPECT_TRUE(M({"name~=sha256"}, kLayer));
  EXPECT_TRUE(M({"name~=/^default\\/3/"}, kLayer));
  EXPECT_TRUE(M({"labels.team~=|^inf|"}, kLayer));
  EXPECT_FALSE(M({"name~=^sha"}, kLayer));
}

TEST(FilterTest, Escapes) {
  Info i = Snap("a\"b\tc", Kind::kActive, "");
  EXPECT_TRUE(M({"name==\"a\\\"b\\tc\""}, i));
  EXPECT_TRUE(M({"name==\"a\\x22b\\tc\""}, i));
}

TEST(FilterTest, MalformedIsInvalidArgument) {
  for (const char* bad :
       {"==x", "name===x", "name==", "name==\"unterminated", "labels.\"k", "name==a,",
        ",name==a", "name==a b", "name~=/(/", "name==/x/", "na-me==x", "name==\"\\q\"",
        "name!x"}) {
    auto f = Filter::Parse({bad});
    ASSERT_FALSE(f.ok()) << "accepted: " << bad;
    EXPECT_EQ(f.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(f.status().message().find("filters"), std::string::npos);
  }
}

}  // namespace
}  // namespace strata
