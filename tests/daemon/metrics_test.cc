// The metrics endpoint (metrics_address): a scrape is valid Prometheus text
// exposition, and its figures move with the operations the test makes: RPCs
// by method and code with their latency histograms, snapshots by kind,
// group commits, the process. Bad HTTP gets an HTTP error and the daemon
// keeps serving both sockets.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "tests/daemon/daemon_process.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

namespace snap = containerd::services::snapshots::v1;

// Sends `request` to the unix socket `path`; the whole answer.
std::string Http(const std::string& path, const std::string& request) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return "connect: " + std::string(std::strerror(errno));
  }
  if (!request.empty() &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    close(fd);
    return "send failed";
  }
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// Sample name with labels -> value, checking every line's syntax and that
// each sample's family was declared (HELP and TYPE) before it.
std::map<std::string, double> Parse(const std::string& body) {
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (\S+)$)");
  std::map<std::string, double> out;
  std::map<std::string, std::string> types;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      EXPECT_TRUE(types.emplace(name, type).second) << "twice: " << line;
      continue;
    }
    std::smatch m;
    if (!std::regex_match(line, m, kSample)) {
      ADD_FAILURE() << "not a sample line: " << line;
      continue;
    }
    std::string name = m[1];
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      size_t n = std::strlen(suffix);
      if (family.size() > n &&
          family.compare(family.size() - n, n, suffix) == 0 &&
          types.count(family.substr(0, family.size() - n))) {
        family = family.substr(0, family.size() - n);
      }
    }
    EXPECT_TRUE(types.count(family)) << "no TYPE before " << line;
    std::string key = line.substr(0, line.rfind(' '));
    out[key] = std::stod(m[5]);
  }
  return out;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the daemon's mounts need root";
    sock_ = dir_ / "s.sock";
    metrics_ = dir_ / "m.sock";
    daemon_ = Start(
        {"--root", dir_ / "root", "--address", sock_, "--backend", "overlay",
         "--containerd-address", "", "--metrics-address", "unix:" + metrics_},
        dir_ / "log");
    ASSERT_TRUE(WaitReady(sock_)) << Slurp(daemon_.log);
    // The metrics socket opens just after the gRPC one.
    ASSERT_TRUE(WaitReady(metrics_)) << Slurp(daemon_.log);
    stub_ = Dial(sock_);
  }
  void TearDown() override {
    if (daemon_.pid > 0) {
      kill(daemon_.pid, SIGTERM);
      EXPECT_EQ(WaitExit(daemon_.pid), 0) << Slurp(daemon_.log);
    }
  }
  std::map<std::string, double> Scrape() {
    std::string resp =
        Http(metrics_, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(resp.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << resp.substr(0, 200);
    EXPECT_NE(resp.find("Content-Type: text/plain; version=0.0.4"),
              std::string::npos);
    size_t body = resp.find("\r\n\r\n");
    return Parse(body == std::string::npos ? "" : resp.substr(body + 4));
  }
  TempDir dir_;
  std::string sock_, metrics_;
  Daemon daemon_;
  std::unique_ptr<snap::Snapshots::Stub> stub_;
};

constexpr const char* kSnapSvc = "containerd.services.snapshots.v1.Snapshots";

std::string Requests(const std::string& method, const std::string& code) {
  return std::string("strata_grpc_requests_total{service=\"") + kSnapSvc +
         "\",method=\"" + method + "\",code=\"" + code + "\"}";
}

TEST_F(MetricsTest, FiguresMoveWithOperations) {
  auto before = Scrape();
  EXPECT_GT(before["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GT(before["process_open_fds"], 3);
  EXPECT_GE(before["process_threads"], 2);
  EXPECT_GT(before["process_start_time_seconds"], 1.7e9);
  EXPECT_EQ(before["strata_snapshots{kind=\"active\"}"], 0);
  EXPECT_EQ(before.count(Requests("Prepare", "OK")), 0u);

  for (const char* key : {"a", "b", "c"}) {
    snap::PrepareSnapshotResponse resp;
    ASSERT_TRUE(Prepare(sock_, key, &resp).ok());
  }
  ASSERT_TRUE(Commit(*stub_, "a-done", "a").ok());
  snap::StatSnapshotResponse st;
  EXPECT_EQ(Stat(sock_, "missing", &st).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Stat(sock_, "b", &st).ok());

  auto after = Scrape();
  EXPECT_EQ(after[Requests("Prepare", "OK")], 3);
  EXPECT_EQ(after[Requests("Commit", "OK")], 1);
  EXPECT_EQ(after[Requests("Stat", "NotFound")], 1);
  EXPECT_EQ(after[Requests("Stat", "OK")], 1);
  const std::string prep = std::string(
                               "strata_grpc_request_duration_seconds_count{"
                               "service=\"") +
                           kSnapSvc + "\",method=\"Prepare\"}";
  EXPECT_EQ(after[prep], 3);
  const std::string inf = std::string(
                              "strata_grpc_request_duration_seconds_bucket{"
                              "service=\"") +
                          kSnapSvc + "\",method=\"Prepare\",le=\"+Inf\"}";
  EXPECT_EQ(after[inf], 3);
  EXPECT_EQ(after["strata_snapshots{kind=\"active\"}"], 2);
  EXPECT_EQ(after["strata_snapshots{kind=\"committed\"}"], 1);
  // Prepare x3 and Commit each commit metadata: 4 operations, in groups.
  EXPECT_GE(after["strata_metadata_commit_group_size_sum"] -
                before["strata_metadata_commit_group_size_sum"],
            4);
  EXPECT_GE(after["strata_metadata_commit_group_size_count"] -
                before["strata_metadata_commit_group_size_count"],
            1);
  EXPECT_GE(after["strata_commit_data_syncs_total"], 1);
  EXPECT_GT(after["strata_metadata_bytes"], 0);
  EXPECT_GT(after["strata_root_filesystem_bytes{state=\"size\"}"], 0);
  // No diff service here: no apply families.
  EXPECT_EQ(after.count("strata_applies_total{result=\"applied\"}"), 0u);
  // The status scrape itself is an RPC of the Status service, not counted
  // here; the scrape is HTTP and counts nothing.
}

TEST_F(MetricsTest, BadRequestsGetHttpErrorsAndTheDaemonServes) {
  EXPECT_EQ(
      Http(metrics_, "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0),
      0u);
  EXPECT_EQ(
      Http(metrics_, "GET /other HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0),
      0u);
  EXPECT_EQ(Http(metrics_, "garbage\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(Http(metrics_, "GET /metrics HTTP/1.1\r\nX: " +
                               std::string(10000, 'a') + "\r\n\r\n")
                .rfind("HTTP/1.1 431", 0),
            0u);
  // A client that connects and says nothing does not stop the next scrape
  // for longer than the 5 s request limit.
  int idle = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, metrics_.c_str(), sizeof(sa.sun_path) - 1);
  ASSERT_EQ(connect(idle, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  auto m = Scrape();
  close(idle);
  EXPECT_GT(m["process_threads"], 0);
  snap::PrepareSnapshotResponse resp;
  EXPECT_TRUE(Prepare(sock_, "still-serving", &resp).ok());
}

TEST(MetricsAddressTest, AnAddressItCannotServeStopsTheStart) {
  if (geteuid() != 0) GTEST_SKIP() << "the daemon's mounts need root";
  TempDir dir;
  Daemon d =
      Start({"--root", dir / "root", "--address", dir / "s.sock",
             "--containerd-address", "", "--metrics-address", "no-port-here"},
            dir / "log");
  EXPECT_EQ(WaitExit(d.pid), 1);
  EXPECT_NE(Slurp(dir / "log").find("metrics_address"), std::string::npos)
      << Slurp(dir / "log");
}

}  // namespace
}  // namespace strata
