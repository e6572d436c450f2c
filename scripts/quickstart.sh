#!/usr/bin/env bash
# Quick start, step 1: install dependencies, build, and start strata-snapshotter
# in the background on its default socket (/run/strata/strata.sock, root
# /var/lib/strata). Log: /var/log/strata-snapshotter.log. Run as root.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"

sock=/run/strata/strata.sock
log=/var/log/strata-snapshotter.log
bin=$top/build/bin/strata-snapshotter
if [ -S "$sock" ] && "$top/build/bin/strata" --address "$sock" ls >/dev/null 2>&1; then
  echo "quickstart: a strata-snapshotter already serves $sock"
  exit 0
fi
nohup "$bin" --root /var/lib/strata --address "$sock" >>"$log" 2>&1 </dev/null &
pid=$!
for _ in $(seq 100); do
  if "$top/build/bin/strata" --address "$sock" ls >/dev/null 2>&1; then
    echo "quickstart: strata-snapshotter (pid $pid) serves $sock; log: $log"
    echo "quickstart: point containerd at it with"
    echo '  [proxy_plugins.strata]'
    echo '    type = "snapshot"'
    echo "    address = \"$sock\""
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
echo "quickstart: strata-snapshotter did not start; last log lines:" >&2
tail -n 20 "$log" >&2
exit 1
