// Child processes for the benchmark tools: one-shot commands (mkfs) and
// long-running servers (strata-snapshotter, strata-peer) that die with us.
//
// Thread-safety: a ServerProcess is owned by one thread.
#ifndef STRATA_BENCH_HARNESS_PROC_H_
#define STRATA_BENCH_HARNESS_PROC_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "io/base/result.h"

namespace strata {

// Runs argv (argv[0] a path or a name looked up in PATH) with stdout and
// stderr appended to `log` ("/dev/null" to discard) and waits for it.
// Fails with the exit code and the log's path unless it exits 0.
Status RunCommand(const std::vector<std::string>& argv, const std::string& log);

// A server started with its output appended to a log file. It gets SIGKILL
// if this process dies (PR_SET_PDEATHSIG), so nothing outlives a crashed or
// interrupted benchmark. The destructor stops it (SIGTERM, then SIGKILL
// after 10 s).
class ServerProcess {
 public:
  // Starts argv and waits until `socket` accepts connections (at most
  // 30 s); fails, naming the log, if the server exits or never listens.
  static Result<std::unique_ptr<ServerProcess>> Start(
      const std::vector<std::string>& argv, const std::string& socket,
      const std::string& log);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Stops the server; non-OK if it did not exit 0 on SIGTERM.
  Status Stop();
  pid_t pid() const { return pid_; }

 private:
  ServerProcess(pid_t pid, std::string log) : pid_(pid), log_(std::move(log)) {}
  pid_t pid_;
  std::string log_;
};

}  // namespace strata

#endif  // STRATA_BENCH_HARNESS_PROC_H_
