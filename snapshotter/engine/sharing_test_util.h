// Helpers of the content-sharing tests (content_sharing_test, space_test):
// random contents, a layer of regular files, and one layer imported through
// the engine's one apply path (ApplyTarget::Apply) and committed.
#ifndef STRATA_SNAPSHOTTER_ENGINE_SHARING_TEST_UTIL_H_
#define STRATA_SNAPSHOTTER_ENGINE_SHARING_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "io/base/source.h"
#include "io/fs/mount.h"
#include "io/tar/tar_test_util.h"
#include "snapshotter/engine/engine.h"

namespace strata {

using Files = std::vector<std::pair<std::string, std::string>>;

inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen());
  return s;
}

// A layer of regular files (mode `mode`, the test tar's mtime).
inline std::string Layer(const Files& files, uint32_t mode = 0644) {
  std::string tar;
  for (const auto& [name, data] : files) {
    HeaderSpec h = Spec(name, '0', false, static_cast<int64_t>(data.size()));
    h.mode = mode;
    tar += MakeEntry(h, data);
  }
  return tar + EndOfArchive();
}

inline std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Prepares `name`-active on `parent`, applies `tar`, commits `name`;
// returns the snapshot's directory (its id's, kept by Commit), "" on a
// failure (reported).
inline std::string ImportLayer(Engine& engine, const std::string& name,
                               const std::string& parent,
                               const std::string& tar,
                               AppliedLayer* out = nullptr) {
  std::string key = name + "-active";
  auto m = engine.Prepare(key, parent, {});
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (!m.ok()) return "";
  auto dir = WritableDir(*m);
  EXPECT_TRUE(dir.ok());
  auto target = engine.ApplyTargetFor(key);
  EXPECT_TRUE(target.ok()) << target.status().ToString();
  if (!target.ok()) return "";
  auto applied = (*target)->Apply(std::make_unique<MemorySource>(tar), false);
  EXPECT_TRUE(applied.ok()) << applied.status().ToString();
  if (applied.ok() && out != nullptr) *out = *applied;
  target->reset();
  Status c = engine.Commit(name, key, {});
  EXPECT_TRUE(c.ok()) << c.ToString();
  return dir.ok() ? *dir : "";
}

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_ENGINE_SHARING_TEST_UTIL_H_
