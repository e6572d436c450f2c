#!/usr/bin/env bash
# Usage of an active snapshot that wrote N files: from its project quota
# (one quotactl) against a walk of its upper directory, through the daemon's
# Usage RPC both times (the second daemon on the same root runs with
# --quota off, so it walks). On XFS and ext4 loop filesystems mounted with
# prjquota; this host's kernel may lack quota support, in which case the
# script re-runs itself under Debian's kernel with tests/vm/run.sh.
#
#   bench/usage.sh [--files 100000] [--runs 5] [--fs xfs,ext4] [--bin BUILD/bin]
#
# Prints, per filesystem, the median seconds of each way, their ratio and
# both answers (bytes, inodes).
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
files=100000 runs=5 fss=xfs,ext4 bin=$top/build/bin
while [ $# -gt 0 ]; do
  case $1 in
    --files) files=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --fs) fss=$2; shift 2 ;;
    --bin) bin=$(cd "$2" && pwd); shift 2 ;;
    *) echo "usage: $0 [--files N] [--runs N] [--fs xfs,ext4] [--bin DIR]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "usage.sh: needs root (loop mounts)" >&2; exit 1; }
for t in strata-snapshotter strata-snapclient; do
  [ -x "$bin/$t" ] || { echo "usage.sh: $bin/$t missing (build first)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/strata-usage-XXXXXX)
cleanup() {
  pkill -f "strata-snapshotter --root $work" 2>/dev/null
  for m in "$work"/mnt-*; do umount "$m" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

# Can this kernel mount XFS with project quotas? If not, run in the VM.
probe() {
  truncate -s 320M "$work/probe.img" && mkfs.xfs -q -f "$work/probe.img" &&
    mkdir -p "$work/probe" && mount -o loop,prjquota "$work/probe.img" "$work/probe" &&
    umount "$work/probe"
}
if ! probe >/dev/null 2>&1; then
  if [ "${STRATA_IN_VM:-}" = 1 ]; then
    echo "usage.sh: no project quotas even in the VM" >&2; exit 1
  fi
  echo "usage.sh: this kernel cannot mount XFS with prjquota; running under Debian's kernel (tests/vm/run.sh)"
  trap - EXIT; rm -rf "$work"
  STRATA_IN_VM=1 exec bash "$top/tests/vm/run.sh" --mem 3G --timeout 1800 -- \
    env STRATA_IN_VM=1 bash "$top/bench/usage.sh" --files "$files" --runs "$runs" --fs "$fss" --bin "$bin"
fi

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# usage_runs <sock> <key>: "<median secs> <bytes> <inodes>"
usage_runs() {
  local i out secs=() ans=""
  for ((i = 0; i < runs; i++)); do
    out=$("$bin/strata-snapclient" "$1" usage "$2") || { echo "usage RPC failed" >&2; return 1; }
    secs+=("${out%% *}")
    ans=${out#* }
  done
  echo "$(printf '%s\n' "${secs[@]}" | median) $ans"
}

start() {  # start <root> <sock> [flags]: the daemon, waiting for its socket
  local root=$1 sock=$2; shift 2
  "$bin/strata-snapshotter" --root "$root" --address "$sock" --containerd-address "" \
    --backend overlay "$@" >>"$work/daemon.log" 2>&1 &
  for _ in $(seq 500); do [ -S "$sock" ] && return 0; sleep 0.02; done
  echo "daemon did not start:"; tail "$work/daemon.log"; return 1
}

echo "Usage of an active snapshot with $files files: project quota vs walk (median of $runs)"
printf '%-5s %12s %12s %9s   %s\n' fs quota_s walk_s ratio "answers (bytes inodes): quota | walk"
IFS=, read -ra fslist <<<"$fss"
for fs in "${fslist[@]}"; do
  img=$work/$fs.img mnt=$work/mnt-$fs
  truncate -s 4G "$img"
  case $fs in
    xfs) mkfs.xfs -q -f "$img" ;;
    ext4) mkfs.ext4 -q -F -O quota,project -N $((files + 10000)) "$img" ;;
    *) echo "unknown fs $fs" >&2; exit 2 ;;
  esac
  mkdir -p "$mnt" && mount -o loop,prjquota "$img" "$mnt" || { echo "FAIL: mount $fs with prjquota"; exit 1; }
  sock=$work/$fs.sock
  start "$mnt/root" "$sock" --quota on || exit 1
  upper=$("$bin/strata-snapclient" "$sock" prepare c1 | cut -d' ' -f2)
  [ -d "$upper" ] || { echo "FAIL: no upper directory from prepare"; exit 1; }
  python3 - "$upper" "$files" <<'PY'
import os, sys
up, n = sys.argv[1], int(sys.argv[2])
for d in range(n // 1000 + 1):
    os.mkdir(os.path.join(up, "d%d" % d))
for i in range(n):
    with open(os.path.join(up, "d%d" % (i // 1000), "f%d" % i), "wb") as f:
        f.write(b"x" * (i % 3000))
PY
  sync
  out=$(usage_runs "$sock" c1) || exit 1
  read -r q_s q_b q_i <<<"$out"
  pkill -f "strata-snapshotter --root $mnt/root"; sleep 0.5
  start "$mnt/root" "$sock.walk" --quota off || exit 1
  out=$(usage_runs "$sock.walk" c1) || exit 1
  read -r w_s w_b w_i <<<"$out"
  pkill -f "strata-snapshotter --root $mnt/root"; sleep 0.5
  ratio=$(awk -v w="$w_s" -v q="$q_s" 'BEGIN { printf "%.0f", (q > 0 ? w / q : 0) }')
  printf '%-5s %12s %12s %8sx   %s %s | %s %s\n' "$fs" "$q_s" "$w_s" "$ratio" "$q_b" "$q_i" "$w_b" "$w_i"
  umount "$mnt"
done
