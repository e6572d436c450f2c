// Helpers for tests that run strata-snapshotter as a child process: spawn it
// (directly or under a launcher such as systemd-socket-activate) with its
// output in a log file, wait for its socket or its exit, read its log, call it.
#ifndef STRATA_TESTS_DAEMON_DAEMON_PROCESS_H_
#define STRATA_TESTS_DAEMON_DAEMON_PROCESS_H_

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "io/fs/mount.h"
#include "proto/support/mounts.h"

namespace strata {

struct Daemon {
  pid_t pid = -1;
  std::string log;
};

// Runs argv (argv[0] a path) with stdout and stderr appended to `log` and
// `env` added to the environment.
inline Daemon Spawn(
    const std::vector<std::string>& argv, const std::string& log,
    const std::vector<std::pair<std::string, std::string>>& env = {}) {
  Daemon d;
  d.log = log;
  d.pid = fork();
  if (d.pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return d;
}

// strata-snapshotter with `args`.
inline Daemon Start(
    const std::vector<std::string>& args, const std::string& log,
    const std::vector<std::pair<std::string, std::string>>& env = {}) {
  std::vector<std::string> argv{STRATA_SNAPSHOTTER_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return Spawn(argv, log, env);
}

inline bool Connectable(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

inline bool WaitReady(const std::string& sock) {
  for (int i = 0; i < 500; ++i) {
    if (Connectable(sock)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Waits for exit; returns the exit code, or -1 on timeout / signal death.
inline int WaitExit(pid_t pid, int seconds = 10) {
  for (int i = 0; i < seconds * 100; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

inline std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A stub on a connection of its own: with the shared subchannel pool gRPC C++
// would hand a new channel a stopped daemon's dead connection (an idle C++
// client notices GOAWAY only at its 5 s backup poll).
inline std::unique_ptr<containerd::services::snapshots::v1::Snapshots::Stub>
Dial(const std::string& sock) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return containerd::services::snapshots::v1::Snapshots::NewStub(
      grpc::CreateCustomChannel("unix:" + sock,
                                grpc::InsecureChannelCredentials(), args));
}

// Prepare(key) and Stat(key) on a fresh connection, within 5 s; they fail at
// once (Unavailable) unless the socket serves now.
inline grpc::Status Prepare(
    const std::string& sock, const std::string& key,
    containerd::services::snapshots::v1::PrepareSnapshotResponse* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  containerd::services::snapshots::v1::PrepareSnapshotRequest req;
  req.set_key(key);
  return Dial(sock)->Prepare(&ctx, req, resp);
}
inline grpc::Status Stat(
    const std::string& sock, const std::string& key,
    containerd::services::snapshots::v1::StatSnapshotResponse* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  containerd::services::snapshots::v1::StatSnapshotRequest req;
  req.set_key(key);
  return Dial(sock)->Stat(&ctx, req, resp);
}

// Commit(name, key) on `stub`.
inline grpc::Status Commit(
    containerd::services::snapshots::v1::Snapshots::Stub& stub,
    const std::string& name, const std::string& key) {
  grpc::ClientContext ctx;
  containerd::services::snapshots::v1::CommitSnapshotRequest req;
  req.set_name(name);
  req.set_key(key);
  google::protobuf::Empty resp;
  return stub.Commit(&ctx, req, &resp);
}

// The directory a client writes into for an active snapshot (io/fs's
// WritableDir); empty for a shape without one.
inline std::string WritableDir(
    const containerd::services::snapshots::v1::PrepareSnapshotResponse& r) {
  auto dir = WritableDir(MountsFromProto(r.mounts()));
  return dir.ok() ? *dir : "";
}

// Runs the CLI (STRATA_CLI_BIN) against sock; returns its exit code, its
// stdout and stderr in *out.
inline int Cli(const std::string& sock, const std::string& args,
               std::string* out) {
  std::string cmd =
      std::string(STRATA_CLI_BIN) + " --address " + sock + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  out->clear();
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out->append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace strata

#endif  // STRATA_TESTS_DAEMON_DAEMON_PROCESS_H_
