#include "snapshotter/daemon/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"

namespace strata {

Status SdNotify(std::string_view state) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || *env == '\0') return Status::Ok();
  std::string_view path = env;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path[0] != '/' && path[0] != '@') {
    return InvalidArgument("NOTIFY_SOCKET \"" + std::string(path) +
                           "\" is not a unix socket");
  }
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument("NOTIFY_SOCKET \"" + std::string(path) +
                           "\" is too long");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@')
    addr.sun_path[0] = '\0';  // abstract: no file, no terminating NUL
  socklen_t len =
      offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '/' ? 1 : 0);

  UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return PosixError("notify socket", errno);
  ssize_t n = sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                     reinterpret_cast<sockaddr*>(&addr), len);
  if (n < 0) return PosixError("notify " + std::string(path), errno);
  return Status::Ok();
}

}  // namespace strata
