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

// Patterns and inputs built to exhaust a backtracking engine's stack or
// time (std::regex crashed the daemon on the first two): RE2 answers each
// at once, or refuses the pattern with InvalidArgument.
TEST(FilterTest, PathologicalRegexpsAnswerPromptly) {
  Info info;
  info.name = std::string(4096, 'a');
  info.labels["x"] = std::string(4096, 'a');
  // Long ones are refused by size; the rest fit the 4 KiB limit.
  std::string nested = std::string(1000, '(') + "a" + std::string(1000, ')');
  std::string alt;
  for (int i = 0; i < 580; ++i) alt += "(a|aa)*";
  std::string stars;
  for (int i = 0; i < 20000; ++i) stars += "a*";
  const std::vector<std::string> patterns = {nested, alt + "b", "(a*)*b", "(a|aa)*b",
                                             stars + "b", "(x+x+)+y", std::string(30000, '[')};
  for (const std::string& p : patterns) {
    for (const char* field : {"name", "labels.x"}) {
      auto f = Filter::Parse({std::string(field) + "~=\"" + p + "\""});
      if (!f.ok()) {
        EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
        EXPECT_LT(f.status().message().size(), 400u) << "the message quotes the whole pattern";
        continue;
      }
      // The nested one matches "a"; none of the others can match.
      EXPECT_EQ(f->Matches(info), p == nested) << p.substr(0, 20);
    }
  }
  auto huge = Filter::Parse({"name~=" + std::string(kMaxFilterBytes + 1, 'a')});
  EXPECT_EQ(huge.status().code(), Code::kInvalidArgument);
}

TEST(FilterTest, RegexpsAreGoSyntaxSearchedAnywhere) {
  Info info;
  info.name = "default/12/sha256:abc";
  info.kind = Kind::kCommitted;
  info.labels["containerd.io/snapshot.ref"] = "sha256:abc";
  auto f = Filter::Parse({"name~=12/sha"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Matches(info)) << "unanchored, like Go's MatchString";
  f = Filter::Parse({"name~=^12"});
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->Matches(info));
  f = Filter::Parse({"kind~=^commit", "name~=nope"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Matches(info));
  f = Filter::Parse({"labels.\"containerd.io/snapshot.ref\"~=\\d*abc$"});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(f->Matches(info));
  // Perl-only syntax RE2 refuses, as Go does.
  EXPECT_EQ(Filter::Parse({"name~=(?=a)"}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Filter::Parse({"name~=a(b"}).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace strata
