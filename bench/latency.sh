#!/usr/bin/env bash
# Prepare/Commit/Stat/Remove latency of Strata and of containerd's own
# overlayfs snapshotter (bench/peer), driven by the same client
# (`strata bench latency`), alternating A B A B on the same filesystem.
# Prints each round and the median of the per-round medians with the ratio
# peer/strata (above 1: Strata is faster).
#
#   bench/latency.sh [--rounds N] [--n CALLS] [--work DIR]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${STRATA_BIN_DIR:-$top/build/bin}
rounds=3 n=500 work=/var/tmp/strata-bench-latency
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --n) n=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "usage: $0 [--rounds N] [--n CALLS] [--work DIR]" >&2; exit 2 ;;
  esac
done
peer=$("$top/bench/build-go.sh" peer "$top/build/go" | tail -1)
rm -rf "$work"; mkdir -p "$work"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
"$bin/strata-snapshotter" --root "$work/strata" --address "$work/strata.sock" --log-level warn & pids+=($!)
"$peer" --root "$work/peer" --address "$work/peer.sock" & pids+=($!)
for s in strata peer; do
  for _ in $(seq 100); do "$bin/strata" --address "$work/$s.sock" ls >/dev/null 2>&1 && break; sleep 0.05; done
done
out=$work/results.txt
for r in $(seq "$rounds"); do
  for s in strata peer; do
    echo "== round $r: $s"
    "$bin/strata" --address "$work/$s.sock" bench latency --n "$n" --fsync-dir "$work" | tee /dev/stderr |
      awk -v s="$s" 'NF == 4 && $2 ~ /^[0-9]+$/ {print s, $1, $3, $4}' >> "$out"
  done
done 2>&1
echo
echo "median over $rounds rounds of per-round medians / p99 (microseconds), $n calls each"
printf '%-8s %12s %12s %12s %12s %14s\n' op strata_p50 peer_p50 strata_p99 peer_p99 peer/strata_p50
for op in Prepare Commit Stat Remove fsync; do
  med() { awk -v s="$1" -v op="$op" -v c="$2" '$1==s && $2==op {print $c}' "$out" | sort -n |
          awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  sp=$(med strata 3) pp=$(med peer 3) s9=$(med strata 4) p9=$(med peer 4)
  printf '%-8s %12.1f %12.1f %12.1f %12.1f %13.2fx\n' "$op" "$sp" "$pp" "$s9" "$p9" "$(echo "$pp / $sp" | bc -l)"
done
