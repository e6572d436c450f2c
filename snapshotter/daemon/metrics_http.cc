#include "snapshotter/daemon/metrics_http.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>
#include <utility>

#include "io/base/errno.h"
#include "io/base/log.h"

namespace strata {
namespace {

constexpr size_t kMaxRequest = 8 << 10;
constexpr int kRequestTimeoutMs = 5000;

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void Reply(int fd, std::string_view status, std::string_view content_type,
           std::string_view body, bool head = false) {
  std::string h = "HTTP/1.1 ";
  h += status;
  h += "\r\nContent-Type: ";
  h += content_type;
  h += "\r\nContent-Length: " + std::to_string(body.size()) +
       "\r\nConnection: close\r\n\r\n";
  if (SendAll(fd, h) && !head) SendAll(fd, body);
}

Result<UniqueFd> ListenUnix(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof(sa.sun_path)) {
    return InvalidArgument("metrics_address: unix socket path over " +
                           std::to_string(sizeof(sa.sun_path) - 1) + " bytes");
  }
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return PosixError("metrics: socket", errno);
  unlink(path.c_str());  // a stale socket of an earlier run
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0)
    return PosixError("metrics: bind " + path, errno);
  if (listen(fd.get(), 16) != 0)
    return PosixError("metrics: listen " + path, errno);
  return fd;
}

Result<UniqueFd> ListenTcp(const std::string& address, std::string* bound) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return InvalidArgument("metrics_address \"" + address.substr(0, 64) +
                           "\": want host:port, unix:/path or /path");
  }
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(),
                       &hints, &res);
  if (rc != 0) {
    return InvalidArgument("metrics_address \"" + address.substr(0, 64) +
                           "\": " + gai_strerror(rc));
  }
  Status last = Unavailable("metrics: no address for " + address);
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0));
    if (!fd.valid()) continue;
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd.get(), 16) != 0) {
      last = PosixError("metrics: listen on " + address, errno);
      continue;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
    char h[INET6_ADDRSTRLEN] = "";
    int p = 0;
    if (ss.ss_family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&ss);
      inet_ntop(AF_INET, &in->sin_addr, h, sizeof(h));
      p = ntohs(in->sin_port);
      *bound = std::string(h) + ":" + std::to_string(p);
    } else {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
      inet_ntop(AF_INET6, &in6->sin6_addr, h, sizeof(h));
      p = ntohs(in6->sin6_port);
      *bound = "[" + std::string(h) + "]:" + std::to_string(p);
    }
    freeaddrinfo(res);
    return fd;
  }
  freeaddrinfo(res);
  return last;
}

}  // namespace

Result<std::unique_ptr<MetricsHttp>> MetricsHttp::Start(
    const std::string& address, std::function<std::string()> render) {
  std::string unix_path;
  if (address.rfind("unix:", 0) == 0) {
    unix_path = address.substr(5);
  } else if (!address.empty() && address[0] == '/') {
    unix_path = address;
  }
  UniqueFd fd;
  std::string bound = address;
  if (!unix_path.empty()) {
    STRATA_ASSIGN_OR_RETURN(fd, ListenUnix(unix_path));
  } else {
    STRATA_ASSIGN_OR_RETURN(fd, ListenTcp(address, &bound));
  }
  UniqueFd stop(eventfd(0, EFD_CLOEXEC));
  if (!stop.valid()) return PosixError("metrics: eventfd", errno);
  std::unique_ptr<MetricsHttp> m(new MetricsHttp(
      std::move(fd), std::move(stop), bound, unix_path, std::move(render)));
  m->thread_ = std::thread([p = m.get()] { p->Serve(); });
  return m;
}

MetricsHttp::MetricsHttp(UniqueFd listen_fd, UniqueFd stop_fd,
                         std::string address, std::string unix_path,
                         std::function<std::string()> render)
    : listen_fd_(std::move(listen_fd)),
      stop_fd_(std::move(stop_fd)),
      address_(std::move(address)),
      unix_path_(std::move(unix_path)),
      render_(std::move(render)) {}

MetricsHttp::~MetricsHttp() {
  uint64_t one = 1;
  if (write(stop_fd_.get(), &one, sizeof(one)) < 0) {
    // Cannot fail for an eventfd below its maximum; the join would hang.
  }
  if (thread_.joinable()) thread_.join();
  if (!unix_path_.empty()) unlink(unix_path_.c_str());
}

void MetricsHttp::Serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0},
                     {stop_fd_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, "metrics", "poll failed; metrics stop",
          {{"error", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents != 0) return;
    UniqueFd conn(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) continue;
    Answer(conn.get());
  }
}

void MetricsHttp::Answer(int fd) {
  // The request head, within the time and size limits.
  std::string req;
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(kRequestTimeoutMs);
  char buf[1024];
  while (req.find("\r\n\r\n") == std::string::npos &&
         req.find("\n\n") == std::string::npos) {
    if (req.size() > kMaxRequest) {
      Reply(fd, "431 Request Header Fields Too Large", "text/plain",
            "request over 8 KiB\n");
      return;
    }
    int left =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                             deadline - std::chrono::steady_clock::now())
                             .count());
    pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    if (left <= 0 || poll(p, 2, left) <= 0) {
      Reply(fd, "408 Request Timeout", "text/plain", "request too slow\n");
      return;
    }
    if (p[1].revents != 0) return;  // stopping
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client went away
    req.append(buf, static_cast<size_t>(n));
  }
  std::string_view line(req);
  line = line.substr(0, line.find_first_of("\r\n"));
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos ||
      line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0) {
    Reply(fd, "400 Bad Request", "text/plain", "not an HTTP/1.x request\n");
    return;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  if (target != "/metrics") {
    Reply(fd, "404 Not Found", "text/plain", "metrics are at /metrics\n");
    return;
  }
  if (method != "GET" && method != "HEAD") {
    Reply(fd, "405 Method Not Allowed", "text/plain", "GET only\n");
    return;
  }
  Reply(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", render_(),
        method == "HEAD");
}

}  // namespace strata
