#!/usr/bin/env bash
# Every snapshot operation, Strata vs containerd's own overlayfs snapshotter
# (bench/peer), driven by one client (`strata bench ops`): both servers run on
# the same filesystem (the --work directory's), rounds alternate A B A B, and
# the results land in --out as ops.json, ops.md and PNG plots
# (bench/report.py).
#
#   bench/ops.sh [--work DIR] [--out DIR] [--backend NAME] [strata bench ops flags...]
#
# e.g. bench/ops.sh --out results/ops            (N=2000, 3 rounds, c1, c16, c64)
#      bench/ops.sh --n 20 --rounds 1 --out /tmp/o  (a smoke run)
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${STRATA_BIN_DIR:-$top/build/bin}
work=/var/tmp/strata-bench-ops out=$PWD/bench-ops-results backend=overlay
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --work) work=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done
peer=$("$top/bench/build-go.sh" peer "${STRATA_GO_BUILD_DIR:-$top/build/go}" | tail -1)
rm -rf "$work"; mkdir -p "$work" "$out"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$bin/strata-snapshotter" --root "$work/strata" --address "$work/strata.sock" \
  --backend "$backend" --containerd-address "" --log-level warn & pids+=($!)
"$peer" --root "$work/peer" --address "$work/peer.sock" & pids+=($!)
for s in strata peer; do
  ok=
  for _ in $(seq 200); do
    # Serving once a Stat of a missing key answers (NotFound), not Unavailable
    # (code 14); containerd's store fails List on an empty database.
    if [ -S "$work/$s.sock" ] &&
       ! "$bin/strata" --address "$work/$s.sock" stat bench-ops-probe 2>&1 | grep -q 'code 14'; then
      ok=1; break
    fi
    sleep 0.05
  done
  [ -n "$ok" ] || { echo "bench/ops.sh: $s did not start serving on $work/$s.sock" >&2; exit 1; }
done
"$bin/strata" bench ops --address "$work/strata.sock" --peer-address "$work/peer.sock" \
  --fsync-dir "$work" --out "$out" --report "$top/bench/report.py" \
  --pid "${pids[0]}" --peer-pid "${pids[1]}" ${args[@]+"${args[@]}"}
