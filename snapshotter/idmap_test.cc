// The mapping labels: containerd's format accepted, every malformed value
// refused naming the label, container root found, mount options added as
// containerd's overlayfs snapshotter adds them.
#include "snapshotter/idmap.h"

#include <gtest/gtest.h>

#include <string>

namespace strata {
namespace {

Result<SnapshotIdMap> Parse(const std::string& uid, const std::string& gid) {
  Labels l;
  if (!uid.empty()) l[kUidMappingLabel] = uid;
  if (!gid.empty()) l[kGidMappingLabel] = gid;
  return IdMapFromLabels(l);
}

TEST(IdMapTest, NoLabelsIsUnmapped) {
  auto m = IdMapFromLabels({{"other", "x"}});
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->mapped());
}

TEST(IdMapTest, ContainerdsFormat) {
  auto m = Parse("0:100000:65536", "0:200000:65536,65536:300000:10");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(m->mapped());
  EXPECT_EQ(m->root_uid, 100000u);
  EXPECT_EQ(m->root_gid, 200000u);
  ASSERT_EQ(m->gids.size(), 2u);
  EXPECT_EQ(m->gids[1].container, 65536u);
  EXPECT_EQ(m->gids[1].host, 300000u);
  EXPECT_EQ(m->gids[1].size, 10u);
  // Root need not be the first range.
  auto r = Parse("1:5:10,0:500:1", "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->root_uid, 500u);
  EXPECT_EQ(r->root_gid, 0u);  // no gid map: 1:1
}

TEST(IdMapTest, BadValuesAreInvalidArgumentNamingTheLabel) {
  struct Case {
    std::string uid, gid, label, says;
  };
  const std::string u = kUidMappingLabel, g = kGidMappingLabel;
  for (const Case& c : std::vector<Case>{
           {"0:100000", "", u, "want"},
           {"0:100000:65536:7", "", u, "IDs below"},
           {"a:1:1", "", u, "want"},
           {"0:-1:5", "", u, "IDs below"},
           {"0:1:0", "", u, "size 0"},
           {"0:4294967295:1", "", u, "IDs below"},
           {"0:4294967290:10", "", u, "past ID"},
           {"0:100:10,5:500:10", "", u, "overlaps"},
           {"0:100:10,20:105:10", "", u, "overlaps"},
           {"0:1:1,", "", u, "want"},
           {"", "1:100:10", g, "root (ID 0) is not mapped"},
           {"0:1:1", " 0:1:1", g, "want"},
       }) {
    auto m = Parse(c.uid, c.gid);
    ASSERT_FALSE(m.ok()) << c.uid << " / " << c.gid;
    EXPECT_EQ(m.status().code(), Code::kInvalidArgument);
    EXPECT_NE(m.status().message().find("\"" + c.label + "\""),
              std::string::npos)
        << m.status().ToString();
    EXPECT_NE(m.status().message().find(c.says), std::string::npos)
        << m.status().ToString();
  }
  std::string many;
  for (int i = 0; i <= 340; ++i)
    many += (i ? "," : "") + std::to_string(i) + ":" +
            std::to_string(1000 + i) + ":1";
  auto m = Parse(many, "");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("more than 340"), std::string::npos);
}

TEST(IdMapTest, MountOptionsComeFirstOnEveryMount) {
  auto m = Parse("0:100000:65536", "0:100000:65536");
  ASSERT_TRUE(m.ok());
  std::vector<Mount> mounts{
      {"overlay", "overlay", {"index=off", "lowerdir=/a"}}};
  AddIdMapOptions(*m, &mounts);
  EXPECT_EQ(mounts[0].options,
            (std::vector<std::string>{"uidmap=0:100000:65536",
                                      "gidmap=0:100000:65536", "index=off",
                                      "lowerdir=/a"}));
  std::vector<Mount> plain{{"bind", "/x", {"ro", "rbind"}}};
  AddIdMapOptions(SnapshotIdMap{}, &plain);
  EXPECT_EQ(plain[0].options, (std::vector<std::string>{"ro", "rbind"}));
}

}  // namespace
}  // namespace strata
