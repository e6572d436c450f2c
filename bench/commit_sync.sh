#!/usr/bin/env bash
# What Commit's data sync costs: strata-snapshotter with --commit-sync on and
# off, alternating (on off on off ...), each driven by `strata bench latency`
# (Prepare, write --write bytes into the upperdir unsynced, Commit, Stat) on a
# fresh root under DIR, with the fsync floor of DIR's filesystem. Prints each
# run's table and "Commit median = X x fsync median" lines (README
# "Benchmarks", Durability).
#
#   bench/commit_sync.sh DIR [--n CALLS] [--rounds R] [--write BYTES]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${STRATA_BIN_DIR:-$top/build/bin}
[ $# -ge 1 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
dir=$1; shift
n=500 rounds=2 write=65536
while [ $# -gt 0 ]; do
  case $1 in
    --n) n=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --write) write=$2; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$dir"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir/commit-sync-root"' EXIT
for _ in $(seq "$rounds"); do
  for mode in on off; do
    rm -rf "$dir/commit-sync-root"
    sock=$dir/commit-sync.sock
    "$bin/strata-snapshotter" --root "$dir/commit-sync-root" --address "$sock" \
      --log-level warn --containerd-address "" --commit-sync "$mode" & pid=$!
    for _ in $(seq 100); do "$bin/strata" --address "$sock" ls > /dev/null 2>&1 && break; sleep 0.05; done
    echo "== commit_sync=$mode"
    "$bin/strata" --address "$sock" bench latency --n "$n" --fsync-dir "$dir" --write "$write"
    kill "$pid"; wait "$pid" || true; pid=
  done
done
