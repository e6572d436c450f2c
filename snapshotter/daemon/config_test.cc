#include "snapshotter/daemon/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

std::string Write(const TempDir& dir, const std::string& name,
                  const std::string& text) {
  std::string path = dir / name;
  std::ofstream(path) << text;
  return path;
}

// The error's message, or "" when `r` is OK.
template <typename T>
std::string Error(const Result<T>& r) {
  return r.ok() ? "" : r.status().message();
}

TEST(ConfigTest, GoodFileSetsEveryKey) {
  auto c = ParseConfig(
      "# comment\n"
      "root = \"/srv/strata/\"\n"
      "address = '/run/s.sock'\n"
      "log_level = \"debug\"\n",
      "good.toml");
  ASSERT_TRUE(c.ok()) << Error(c);
  EXPECT_EQ(c->root, "/srv/strata");  // trailing slash dropped, as for --root
  EXPECT_EQ(c->address, "/run/s.sock");
  EXPECT_EQ(c->log_level, LogLevel::kDebug);
}

TEST(ConfigTest, EmptyFileIsTheDefaults) {
  auto c = ParseConfig("", "empty.toml");
  ASSERT_TRUE(c.ok()) << Error(c);
  EXPECT_EQ(c->root, "/var/lib/strata");
  EXPECT_EQ(c->address, "/run/strata/strata.sock");
  EXPECT_EQ(c->containerd_address, "/run/containerd/containerd.sock");
  EXPECT_EQ(c->log_level, LogLevel::kInfo);
}

TEST(ConfigTest, ContainerdAddressIsAbsoluteOrEmpty) {
  auto c = ParseConfig("containerd_address = \"\"\n", "f.toml");
  ASSERT_TRUE(c.ok()) << Error(c);
  EXPECT_EQ(c->containerd_address, "");
  EXPECT_EQ(
      Error(ParseConfig("containerd_address = \"run/c.sock\"\n", "f.toml")),
      "f.toml:1:22: key \"containerd_address\": must be an absolute unix "
      "socket path, "
      "or empty");
  auto f = ParseFlags({"--containerd-address", "/run/k/c.sock"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->settings.size(), 1u);
  EXPECT_EQ(f->settings[0].first, "containerd_address");
  EXPECT_EQ(f->settings[0].second, "/run/k/c.sock");
}

TEST(ConfigTest, ShippedDefaultConfigParsesToTheDefaults) {
  auto c = LoadConfig(STRATA_SHIPPED_CONFIG, /*must_exist=*/true);
  ASSERT_TRUE(c.ok()) << Error(c);
  EXPECT_EQ(FormatConfig(*c), FormatConfig(Config{}));
}

TEST(ConfigTest, UnknownKeyNamesFileLineAndKey) {
  auto c =
      ParseConfig("root = \"/r\"\n\nrot = \"/x\"\n", "/etc/strata/config.toml");
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(
      Error(c).rfind("/etc/strata/config.toml:3:1: unknown key \"rot\"", 0), 0u)
      << Error(c);
  EXPECT_NE(
      Error(c).find(
          "known keys: root, address, containerd_address, log_level, backend"),
      std::string::npos);
}

TEST(ConfigTest, UnknownTableIsAnUnknownKey) {
  auto c = ParseConfig("log_level = \"info\"\n[grpc]\nmax = 1\n", "f.toml");
  EXPECT_EQ(Error(c).rfind("f.toml:2:2: unknown key \"grpc\"", 0), 0u)
      << Error(c);
}

TEST(ConfigTest, WrongTypeNamesFileLineKeyAndType) {
  auto c = ParseConfig("address = \"/a\"\nroot = 42\n", "f.toml");
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Error(c),
            "f.toml:2:8: key \"root\": must be a string, not integer");
  auto t = ParseConfig("log_level = [\"debug\"]\n", "f.toml");
  EXPECT_EQ(Error(t),
            "f.toml:1:13: key \"log_level\": must be a string, not array");
}

TEST(ConfigTest, BadValuesNameFileLineAndKey) {
  EXPECT_EQ(Error(ParseConfig("\nlog_level = \"loud\"\n", "f.toml")),
            "f.toml:2:13: key \"log_level\": bad value \"loud\" "
            "(debug|info|warn|error)");
  EXPECT_EQ(Error(ParseConfig("root = \"var/lib\"\n", "f.toml")),
            "f.toml:1:8: key \"root\": must be an absolute path");
  EXPECT_EQ(Error(ParseConfig("address = \"\"\n", "f.toml")),
            "f.toml:1:11: key \"address\": must be a unix socket path");
}

// Overlay mount options are "key=value,..." with lowerdirs split at ':': a
// root holding such a character is refused before the daemon creates it.
TEST(ConfigTest, RootsOverlayOptionsCannotCarryAreRefused) {
  EXPECT_EQ(Error(ParseFlags({"--root", "/tmp/x,y"})),
            "--root: root \"/tmp/x,y\" contains ',', which overlayfs mount "
            "options cannot carry; choose another root");
  EXPECT_EQ(Error(ParseConfig("root = \"/tmp/a:b\"\n", "f.toml")),
            "f.toml:1:8: key \"root\": root \"/tmp/a:b\" contains ':', which "
            "overlayfs mount options cannot carry; choose another root");
  for (const char* bad : {"/a=b", "/a\\b", "/a\nb"}) {
    auto f = ParseFlags({"--root", bad});
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
    EXPECT_NE(Error(f).find("overlayfs mount options"), std::string::npos);
  }
  // A long root is quoted by its last 128 bytes, the character still named.
  std::string long_root = "/a,b/" + std::string(8192, 'x');
  auto f = ParseFlags({"--root", long_root});
  ASSERT_FALSE(f.ok());
  EXPECT_NE(Error(f).find("contains ','"), std::string::npos);
  EXPECT_LT(Error(f).size(), 300u);
  auto ok = ParseConfig("root = \"/var/lib/strata-2_x.y\"\n", "f.toml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->root, "/var/lib/strata-2_x.y");
}

TEST(ConfigTest, SyntaxErrorsNameFileAndLine) {
  auto c = ParseConfig("root = \"/r\"\nlog_level = \n", "f.toml");
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Error(c).rfind("f.toml:2:", 0), 0u) << Error(c);
  auto dup = ParseConfig("root = \"/a\"\nroot = \"/b\"\n", "f.toml");
  EXPECT_EQ(Error(dup).rfind("f.toml:2:", 0), 0u) << Error(dup);
  EXPECT_NE(Error(dup).find("root"), std::string::npos) << Error(dup);
}

TEST(ConfigTest, MissingFileIsDefaultsUnlessRequired) {
  TempDir dir;
  auto absent = LoadConfig(dir / "none.toml", /*must_exist=*/false);
  ASSERT_TRUE(absent.ok()) << Error(absent);
  EXPECT_EQ(absent->root, "/var/lib/strata");
  auto required = LoadConfig(dir / "none.toml", /*must_exist=*/true);
  EXPECT_EQ(required.status().code(), Code::kNotFound);
  EXPECT_NE(Error(required).find(dir / "none.toml"), std::string::npos)
      << Error(required);
}

TEST(ConfigTest, LoadConfigNamesTheFileInErrors) {
  TempDir dir;
  std::string path = Write(dir, "c.toml", "root = true\n");
  EXPECT_EQ(Error(LoadConfig(path, true)),
            path + ":1:8: key \"root\": must be a string, not boolean");
}

TEST(ConfigTest, FlagsParseBothFormsAndValidateLikeTheFile) {
  auto f = ParseFlags({"--root", "/r/", "--address=/a.sock", "--log-level",
                       "warn", "--config", "/c.toml", "--print-config"});
  ASSERT_TRUE(f.ok()) << Error(f);
  EXPECT_EQ(f->config_path, "/c.toml");
  EXPECT_TRUE(f->config_given);
  EXPECT_TRUE(f->print_config);
  using Settings = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(f->settings, (Settings{{"root", "/r/"},
                                   {"address", "/a.sock"},
                                   {"log_level", "warn"}}));

  auto none = ParseFlags({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->config_path, kDefaultConfigPath);
  EXPECT_FALSE(none->config_given);

  EXPECT_EQ(Error(ParseFlags({"--bogus"})), "unknown argument \"--bogus\"");
  EXPECT_EQ(Error(ParseFlags({"--root"})), "--root needs a value");
  EXPECT_EQ(Error(ParseFlags({"--root", "rel"})),
            "--root: must be an absolute path");
  EXPECT_EQ(Error(ParseFlags({"--log-level=loud"})),
            "--log-level: bad value \"loud\" (debug|info|warn|error)");
}

TEST(ConfigTest, FlagsOverrideTheFile) {
  TempDir dir;
  std::string path = Write(dir, "c.toml",
                           "root = \"/from/file\"\n"
                           "address = \"/file.sock\"\n"
                           "log_level = \"error\"\n");
  auto f = ParseFlags({"--config", path, "--address", "/flag.sock"});
  ASSERT_TRUE(f.ok()) << Error(f);
  auto c = ResolveConfig(*f);
  ASSERT_TRUE(c.ok()) << Error(c);
  EXPECT_EQ(c->root, "/from/file");
  EXPECT_EQ(c->address, "/flag.sock");
  EXPECT_EQ(c->log_level, LogLevel::kError);

  auto missing = ParseFlags({"--config", dir / "missing.toml"});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(ResolveConfig(*missing).status().code(), Code::kNotFound);
}

TEST(ConfigTest, PrintedConfigParsesBackToTheSame) {
  Config c;
  c.root = "/odd \"quoted\" dir";
  // A root may not hold a backslash (overlay options); a socket path may.
  c.address = "/run/x \\ \"y\".sock";
  c.containerd_address = "/run/c/c.sock";
  c.log_level = LogLevel::kWarn;
  std::string text = FormatConfig(c);
  EXPECT_NE(text.find("log_level = \"warn\"\n"), std::string::npos) << text;
  auto back = ParseConfig(text, "printed");
  ASSERT_TRUE(back.ok()) << Error(back) << "\n" << text;
  EXPECT_EQ(back->root, c.root);
  EXPECT_EQ(back->address, c.address);
  EXPECT_EQ(back->containerd_address, c.containerd_address);
  EXPECT_EQ(back->log_level, c.log_level);
}

TEST(ConfigTest, BackendKeyAndFlag) {
  EXPECT_EQ(Config{}.backend, "auto");
  auto c = ParseConfig("backend = \"reflink\"\n", "f.toml");
  ASSERT_TRUE(c.ok()) << Error(c);
  EXPECT_EQ(c->backend, "reflink");
  EXPECT_EQ(Error(ParseConfig("backend = \"zfs\"\n", "f.toml")),
            "f.toml:1:11: key \"backend\": bad value \"zfs\" "
            "(auto|overlay|reflink|copy)");
  auto f = ParseFlags({"--backend", "copy"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(
      f->settings,
      (std::vector<std::pair<std::string, std::string>>{{"backend", "copy"}}));
  EXPECT_FALSE(ParseFlags({"--backend=btrfs"}).ok());
  Config p;
  p.backend = "copy";
  auto back = ParseConfig(FormatConfig(p), "printed");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->backend, "copy");
}

TEST(ConfigTest, CommitSyncKeyAndFlag) {
  EXPECT_TRUE(Config{}.commit_sync) << "durable commits must be the default";
  auto c = ParseConfig("commit_sync = \"off\"\n", "f.toml");
  ASSERT_TRUE(c.ok()) << Error(c);
  EXPECT_FALSE(c->commit_sync);
  EXPECT_EQ(Error(ParseConfig("commit_sync = \"no\"\n", "f.toml")),
            "f.toml:1:15: key \"commit_sync\": bad value \"no\" (on|off)");
  auto f = ParseFlags({"--commit-sync", "off"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->settings, (std::vector<std::pair<std::string, std::string>>{
                             {"commit_sync", "off"}}));
  Config p;
  p.commit_sync = false;
  auto back = ParseConfig(FormatConfig(p), "printed");
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->commit_sync);
}

TEST(ConfigTest, ContentSharingKey) {
  Config d;
  EXPECT_TRUE(d.content_sharing) << "sharing must be on by default";
  EXPECT_FALSE(d.hardlink_sharing) << "hardlinks must be opt-in";
  for (const char* v : {"auto", "off", "hardlinks"}) {
    auto c =
        ParseConfig("content_sharing = \"" + std::string(v) + "\"\n", "f.toml");
    ASSERT_TRUE(c.ok()) << Error(c);
    EXPECT_EQ(c->content_sharing, std::string(v) != "off") << v;
    EXPECT_EQ(c->hardlink_sharing, std::string(v) == "hardlinks") << v;
    auto back = ParseConfig(FormatConfig(*c), "printed");
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->content_sharing, c->content_sharing) << v;
    EXPECT_EQ(back->hardlink_sharing, c->hardlink_sharing) << v;
  }
  EXPECT_EQ(Error(ParseConfig("content_sharing = \"links\"\n", "f.toml")),
            "f.toml:1:19: key \"content_sharing\": bad value \"links\" "
            "(auto|off|hardlinks)");
}

TEST(ConfigTest, OverlayMetacopyKeyAndFlag) {
  EXPECT_FALSE(Config{}.remap_ids) << "remap_ids must be off by default";
  auto r = ParseConfig("remap_ids = \"on\"\n", "f.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->remap_ids);
  EXPECT_FALSE(Config{}.overlay_metacopy) << "metacopy must be off by default";
  auto c = ParseConfig("overlay_metacopy = \"on\"\n", "f.toml");
  ASSERT_TRUE(c.ok()) << Error(c);
  EXPECT_TRUE(c->overlay_metacopy);
  EXPECT_EQ(
      Error(ParseConfig("overlay_metacopy = \"yes\"\n", "f.toml")),
      "f.toml:1:20: key \"overlay_metacopy\": bad value \"yes\" (on|off)");
  auto f = ParseFlags({"--overlay-metacopy", "on"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->settings, (std::vector<std::pair<std::string, std::string>>{
                             {"overlay_metacopy", "on"}}));
  EXPECT_FALSE(ParseFlags({"--overlay-metacopy=1"}).ok());
  Config p;
  p.overlay_metacopy = true;
  auto back = ParseConfig(FormatConfig(p), "printed");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->overlay_metacopy);
}

}  // namespace
}  // namespace strata
