// MetricsHttp: the daemon's metrics_address, a minimal HTTP/1.x endpoint
// for Prometheus: GET /metrics answers the text exposition (the render
// function's output, made per scrape); anything else gets 404 or 405. One
// thread serves one connection at a time: a request is read within 5 s and
// 8 KiB (else 408 or 431), answered, and the connection closed. Nothing a
// client sends reaches the daemon beyond the request line.
//
// Addresses: "host:port" (TCP; "[::1]:9101", "127.0.0.1:0" picks a port),
// or a unix socket as "unix:/path" or an absolute path.
//
// Thread-safety: Start and the destructor from one thread; `render` is
// called on the server's thread.
#ifndef STRATA_SNAPSHOTTER_DAEMON_METRICS_HTTP_H_
#define STRATA_SNAPSHOTTER_DAEMON_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "io/base/result.h"
#include "io/base/unique_fd.h"

namespace strata {

class MetricsHttp {
 public:
  // Listens on `address` and serves on a thread of its own. InvalidArgument
  // for an address it cannot parse; the bind error otherwise.
  static Result<std::unique_ptr<MetricsHttp>> Start(
      const std::string& address, std::function<std::string()> render);
  ~MetricsHttp();  // stops serving, closes (and unlinks a unix socket)
  MetricsHttp(const MetricsHttp&) = delete;
  MetricsHttp& operator=(const MetricsHttp&) = delete;

  // Where it listens, with the port the kernel chose for port 0.
  const std::string& address() const { return address_; }

 private:
  MetricsHttp(UniqueFd listen_fd, UniqueFd stop_fd, std::string address,
              std::string unix_path, std::function<std::string()> render);
  void Serve();
  void Answer(int fd);

  UniqueFd listen_fd_;
  UniqueFd stop_fd_;  // eventfd: written once to stop
  std::string address_;
  std::string unix_path_;  // unlinked at the end; empty for TCP
  std::function<std::string()> render_;
  std::thread thread_;
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_DAEMON_METRICS_HTTP_H_
