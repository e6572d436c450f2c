// systemd's readiness protocol (sd_notify(3)), without libsystemd: one
// datagram of newline-separated VAR=value assignments ("READY=1",
// "STOPPING=1", "STATUS=...") to the unix socket named by $NOTIFY_SOCKET; a
// name starting with '@' is in the abstract namespace.
//
// Thread-safety: thread-safe; each call uses its own socket.
#ifndef STRATA_SNAPSHOTTER_DAEMON_SD_NOTIFY_H_
#define STRATA_SNAPSHOTTER_DAEMON_SD_NOTIFY_H_

#include <string_view>

#include "io/base/status.h"

namespace strata {

// Sends `state` to the service manager. OK without sending anything when
// $NOTIFY_SOCKET is unset (not started by systemd, or not Type=notify).
Status SdNotify(std::string_view state);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_DAEMON_SD_NOTIFY_H_
