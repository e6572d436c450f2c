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

const Info kLayer =
    Snap("default/3/sha256:abc", Kind::kCommitted, "default/2/sha256:p",
         {{"containerd.io/snapshot.ref", "sha256:abc"}, {"team", "infra"}});

TEST(FilterTest, EmptyMatchesAll) {
  EXPECT_TRUE(M({}, kLayer));
  EXPECT_TRUE(M({""}, kLayer));
  EXPECT_TRUE(M({"name==nope", ""}, kLayer))
      << "an empty filter ORs in match-all";
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
  EXPECT_TRUE(M({"labels.\"containerd.io/gc.root\"!=x"}, kLayer))
      << "absent != value";
  // Unquoted dotted keys join with '.', like containerd's adaptor.
  Info dotted = Snap("a", Kind::kActive, "", {{"a.b", "1"}});
  EXPECT_TRUE(M({"labels.a.b==1"}, dotted));
}

TEST(FilterTest, WhatContainerdsUnpackerSends) {
  std::string f =
      "labels.\"containerd.io/snapshot.ref\"==sha256:abc,parent==\"default/2/"
      "sha256:p\"";
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
       {"==x", "name===x", "name==", "name==\"unterminated", "labels.\"k",
        "name==a,", ",name==a", "name==a b", "name~=/(/", "name==/x/",
        "na-me==x", "name==\"\\q\"", "name!x"}) {
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
  const std::vector<std::string> patterns = {nested,
                                             alt + "b",
                                             "(a*)*b",
                                             "(a|aa)*b",
                                             stars + "b",
                                             "(x+x+)+y",
                                             std::string(30000, '[')};
  for (const std::string& p : patterns) {
    for (const char* field : {"name", "labels.x"}) {
      auto f = Filter::Parse({std::string(field) + "~=\"" + p + "\""});
      if (!f.ok()) {
        EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
        EXPECT_LT(f.status().message().size(), 400u)
            << "the message quotes the whole pattern";
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
  EXPECT_EQ(Filter::Parse({"name~=(?=a)"}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Filter::Parse({"name~=a(b"}).status().code(),
            Code::kInvalidArgument);
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  out.reserve(s.size() * n);
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// Each either parses and answers, or is InvalidArgument with a short message;
// none crashes or hangs (std::regex overflowed its stack on most of these).
TEST(FilterTest, HostilePatternsAndStringsAreBounded) {
  Info info = Snap(std::string(64 << 10, 'a'), Kind::kActive,
                   std::string(4096, 'a'), {{"x", std::string(4096, 'a')}});
  // Each filter, and whether it matches `info` if it parses.
  const std::vector<std::pair<std::string, bool>> filters = {
      {"name~=" + Repeat("(a|b)*", 100000), true},
      {"labels.x~=" + Repeat("a*", 50000), true},
      {"parent~=" + std::string(10000, '(') + "a" + std::string(10000, ')'),
       true},
      {"parent~=" + std::string(2000, '(') + "a" + std::string(2000, ')'),
       true},
      {"labels.x~=(a|aa)*b", false},
      {"name~=" + Repeat("(a|b)*", 680), true},
      {"name~=(.*a){999}b", false},
      {"name~=.{999}b", false},
      {"name~=" + std::string(1 << 20, 'a'), true},
      {Repeat("name==a,", 1 << 17) + "name==a", false},
      {Repeat("name==a,", 2000) + "name==a", false},
      {"labels" + Repeat(".a", 30000), false},
  };
  for (const auto& [filter, match] : filters) {
    auto f = Filter::Parse({filter});
    if (!f.ok()) {
      EXPECT_EQ(f.status().code(), Code::kInvalidArgument)
          << filter.substr(0, 40);
      EXPECT_LT(f.status().message().size(), 400u)
          << f.status().message().substr(0, 400);
      continue;
    }
    EXPECT_EQ(f->Matches(info), match) << filter.substr(0, 40);
  }
  // Shapes that defeat RE2's DFA are refused by program size, not run.
  for (const char* slow : {"name~=(.*a){999}b", "name~=.{999}b"}) {
    auto f = Filter::Parse({slow});
    ASSERT_FALSE(f.ok()) << slow;
    EXPECT_NE(f.status().message().find("instructions, over the limit"),
              std::string::npos)
        << f.status().message();
  }
  EXPECT_FALSE(Filter::Parse({"name~=" + std::string(1 << 20, 'a')}).ok());
  EXPECT_FALSE(Filter::Parse({"labels.x~=" + Repeat("a*", 50000)}).ok());
}

TEST(FilterTest, SelectorsAndRegexpsPerRequestAreBounded) {
  Info info = Snap("a", Kind::kActive, "");
  // Up to the limit, across strings, is fine.
  std::vector<std::string> many(kMaxSelectors, "name==a");
  auto f = Filter::Parse(many);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(f->Matches(info));
  many.push_back("name==a");
  f = Filter::Parse(many);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
  EXPECT_NE(f.status().message().find("selectors"), std::string::npos);

  std::vector<std::string> regexps(kMaxRegexps, "name~=^a$");
  f = Filter::Parse(regexps);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(f->Matches(info));
  regexps.back() += ",kind~=act";
  f = Filter::Parse(regexps);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
  EXPECT_NE(f.status().message().find("regular expressions"),
            std::string::npos);
}

TEST(FilterTest, RegexpOnEveryField) {
  EXPECT_TRUE(M({"parent~=2/sha256"}, kLayer)) << "unanchored";
  EXPECT_FALSE(M({"parent~=^sha256"}, kLayer));
  EXPECT_TRUE(M({"kind~=mmit"}, kLayer));
  EXPECT_TRUE(M({"name~=abc$"}, kLayer));
  EXPECT_TRUE(
      M({"labels.\"containerd.io/snapshot.ref\"~=^sha256:[0-9a-f]+$"}, kLayer));
  // containerd matches an absent field as the empty string.
  EXPECT_TRUE(M({"labels.missing~=^$"}, kLayer));
  EXPECT_FALSE(M({"labels.missing~=."}, kLayer));
  EXPECT_TRUE(M({"parent~=\"\""}, Snap("a", Kind::kActive, "")))
      << "empty pattern";
  // A bad pattern names the filter, quoting at most 64 bytes of it.
  auto f = Filter::Parse({"name~=(" + std::string(1000, 'x')});
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
  EXPECT_NE(f.status().message().find("bad regular expression"),
            std::string::npos);
  EXPECT_EQ(f.status().message().find(std::string(200, 'x')),
            std::string::npos);
}

}  // namespace
}  // namespace strata
