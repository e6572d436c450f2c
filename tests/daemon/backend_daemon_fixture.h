// A gtest fixture running one strata-snapshotter per test on a chosen
// backend: the parameter is (backend, LoopFs type of its root), "" for the
// test's temp dir. Skips without root (the daemon's mounts need it).
#ifndef STRATA_TESTS_DAEMON_BACKEND_DAEMON_FIXTURE_H_
#define STRATA_TESTS_DAEMON_BACKEND_DAEMON_FIXTURE_H_

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>

#include "tests/daemon/daemon_process.h"
#include "tests/testutil/loop_fs.h"
#include "tests/testutil/temp_dir.h"

namespace strata {

using BackendParam = std::pair<std::string, std::string>;

// Every backend once: overlay and copy on the temp dir, reflink on loop XFS.
inline auto AllDaemonBackends() {
  return ::testing::Values(BackendParam{"overlay", ""},
                           BackendParam{"copy", ""},
                           BackendParam{"reflink", "xfs"});
}
// "overlay", "copy", "reflink_xfs": readable gtest and ctest names.
inline std::string BackendTestName(
    const ::testing::TestParamInfo<BackendParam>& info) {
  return info.param.first +
         (info.param.second.empty() ? "" : "_" + info.param.second);
}

class BackendDaemonTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    if (geteuid() != 0)
      GTEST_SKIP() << "the daemon's mounts need root (CI runs as root)";
    root_ = dir_ / "root";
    if (!GetParam().second.empty()) {
      loop_ = std::make_unique<LoopFs>(GetParam().second);
      if (!loop_->ok()) GTEST_SKIP() << loop_->reason();
      root_ = loop_->path() + "/root";
    }
    sock_ = dir_ / "s.sock";
    daemon_ = Start(
        {"--root", root_, "--address", sock_, "--backend", GetParam().first},
        dir_ / "log");
    ASSERT_TRUE(WaitReady(sock_)) << Slurp(daemon_.log);
  }
  void TearDown() override {
    if (daemon_.pid > 0) {
      kill(daemon_.pid, SIGTERM);
      WaitExit(daemon_.pid);
    }
    loop_.reset();
  }
  TempDir dir_;
  std::unique_ptr<LoopFs> loop_;
  std::string root_, sock_;
  Daemon daemon_;
};

}  // namespace strata

#endif  // STRATA_TESTS_DAEMON_BACKEND_DAEMON_FIXTURE_H_
