#include "snapshotter/daemon/socket_activation.h"

#include <fcntl.h>
#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "io/base/errno.h"
#include "io/base/log.h"

namespace strata {
namespace {

constexpr int kListenFdsStart = 3;  // SD_LISTEN_FDS_START

// A non-negative decimal, or -1.
long ParseCount(std::string_view s) {
  if (s.empty() || s.size() > 9) return -1;
  long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

Result<int> ParseListenFds(const char* listen_pid, const char* listen_fds,
                           pid_t self) {
  if (listen_pid == nullptr || listen_fds == nullptr) return 0;
  long pid = ParseCount(listen_pid);
  if (pid <= 0)
    return InvalidArgument("bad LISTEN_PID \"" + std::string(listen_pid) +
                           "\"");
  if (pid != self) return 0;  // meant for a parent that exec'd us
  long n = ParseCount(listen_fds);
  if (n < 0)
    return InvalidArgument("bad LISTEN_FDS \"" + std::string(listen_fds) +
                           "\"");
  return static_cast<int>(n);
}

Result<UniqueFd> TakeListenFd() {
  Result<int> n = ParseListenFds(std::getenv("LISTEN_PID"),
                                 std::getenv("LISTEN_FDS"), getpid());
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  if (!n.ok()) return n.status();
  if (*n == 0) return UniqueFd();
  if (*n != 1) {
    return FailedPrecondition("systemd passed " + std::to_string(*n) +
                              " sockets; strata-snapshotter takes exactly one");
  }
  UniqueFd fd(kListenFdsStart);
  if (fcntl(fd.get(), F_SETFD, FD_CLOEXEC) != 0)
    return PosixError("passed fd 3", errno);
  int type = 0;
  int listening = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    return PosixError("passed fd 3", errno);
  }
  len = sizeof(listening);
  if (getsockopt(fd.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) {
    return PosixError("passed fd 3", errno);
  }
  if (type != SOCK_STREAM || !listening) {
    return FailedPrecondition(
        "passed fd 3 is not a listening stream socket (ListenStream=)");
  }
  return fd;
}

std::string SocketPath(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      addr.sun_family != AF_UNIX || len <= offsetof(sockaddr_un, sun_path) ||
      addr.sun_path[0] == '\0') {
    return "";
  }
  return std::string(
      addr.sun_path,
      strnlen(addr.sun_path, len - offsetof(sockaddr_un, sun_path)));
}

Result<std::unique_ptr<Acceptor>> Acceptor::Start(UniqueFd listen_fd,
                                                  grpc::Server* server) {
  // Non-blocking, so a connection reset between poll and accept cannot block
  // the loop (and Stop) in accept.
  int flags = fcntl(listen_fd.get(), F_GETFL);
  if (flags < 0 || fcntl(listen_fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return PosixError("listening socket", errno);
  }
  UniqueFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return PosixError("eventfd", errno);
  std::unique_ptr<Acceptor> a(
      new Acceptor(std::move(listen_fd), std::move(wake), server));
  a->thread_ = std::thread(&Acceptor::Loop, a.get());
  return a;
}

void Acceptor::Stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  ssize_t ignored = write(wake_fd_.get(), &one, sizeof(one));
  (void)ignored;
  thread_.join();
}

void Acceptor::Loop() {
  pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
  bool failing = false;
  for (;;) {
    if (failing) {
      // Out of fds or memory: wait a little (still woken by Stop) rather than
      // spin on a socket that stays readable.
      if (poll(&fds[1], 1, 100) > 0) return;
    } else if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, "daemon", "poll listening socket",
          {{"error", strerror(errno)}});
      return;
    } else if (fds[1].revents != 0) {
      return;
    }
    // gRPC's endpoint expects a non-blocking fd; it owns the fd from here.
    int conn = accept4(listen_fd_.get(), nullptr, nullptr,
                       SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn >= 0) {
      failing = false;
      grpc::AddInsecureChannelFromFd(server_, conn);
    } else if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) {
      failing = false;
    } else {
      if (!failing)
        Log(LogLevel::kWarn, "daemon", "accept failed",
            {{"error", strerror(errno)}});
      failing = true;
    }
  }
}

}  // namespace strata
