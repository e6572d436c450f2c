// systemd socket activation (sd_listen_fds(3)) for a gRPC server.
//
// systemd listens on /run/strata/strata.sock and passes the listening socket
// as fd 3 with LISTEN_PID and LISTEN_FDS set. gRPC C++ (1.51) cannot adopt a
// listening fd, so an Acceptor accepts connections on it in its own thread and
// hands each one to a server built without listening ports
// (grpc::AddInsecureChannelFromFd). The socket file belongs to systemd: the
// daemon never unlinks it, and connections arriving while no daemon runs wait
// in its backlog.
//
// Thread-safety: TakeListenFd is for main() before threads start (it edits
// the environment). An Acceptor is owned and stopped by one thread.
#ifndef STRATA_SNAPSHOTTER_DAEMON_SOCKET_ACTIVATION_H_
#define STRATA_SNAPSHOTTER_DAEMON_SOCKET_ACTIVATION_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>

#include "io/base/result.h"
#include "io/base/unique_fd.h"

namespace grpc {
class Server;
}

namespace strata {

// The number of fds passed to process `self` by LISTEN_PID and LISTEN_FDS
// (either may be null): 0 when they are unset or meant for another process.
// Malformed values are InvalidArgument.
Result<int> ParseListenFds(const char* listen_pid, const char* listen_fds,
                           pid_t self);

// The listening stream socket systemd passed (fd 3), or an invalid UniqueFd
// when the process was not socket-activated. Unsets LISTEN_PID, LISTEN_FDS and
// LISTEN_FDNAMES. More than one fd, or one that is not a listening stream
// socket, is FailedPrecondition.
Result<UniqueFd> TakeListenFd();

// The path a unix socket is bound to ("" for an unnamed or non-unix socket).
std::string SocketPath(int fd);

class Acceptor {
 public:
  // Accepts connections on `listen_fd` and adds each to `server` as an
  // insecure channel. REQUIRES: `server` was built without listening ports,
  // is started, and outlives Stop().
  static Result<std::unique_ptr<Acceptor>> Start(UniqueFd listen_fd,
                                                 grpc::Server* server);
  ~Acceptor() { Stop(); }
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  // Stops accepting and joins the accept thread. Connections not yet accepted
  // stay queued on the socket for the next daemon. Idempotent.
  void Stop();

 private:
  Acceptor(UniqueFd listen_fd, UniqueFd wake_fd, grpc::Server* server)
      : listen_fd_(std::move(listen_fd)),
        wake_fd_(std::move(wake_fd)),
        server_(server) {}
  void Loop();

  UniqueFd listen_fd_;
  UniqueFd wake_fd_;  // eventfd: Stop() makes it readable
  grpc::Server* server_;
  std::thread thread_;
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_DAEMON_SOCKET_ACTIVATION_H_
