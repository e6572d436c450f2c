#!/usr/bin/env bash
# Layer extraction, side by side in one run: strata import (io_uring sink),
# strata import with STRATA_IO=sync, GNU tar -x, and containerd's own applier
# (archive.Apply, bench/applier), on the same layer and filesystem,
# alternating A B C D A B C D ... Prints each run and the medians and ratios. Times stop when the command returns (page cache, no final sync, as
# containerd unpacks by default). Needs root; a daemon is started privately.
#
#   bench/extract.sh [--rounds N] [--src DIR] [--work DIR] [--compress gzip|zstd|none]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${STRATA_BIN_DIR:-$top/build/bin}
rounds=5 src=/usr/lib work=/var/tmp/strata-bench-extract compress=gzip
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --src) src=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --compress) compress=$2; shift 2 ;;
    *) echo "usage: $0 [--rounds N] [--src DIR] [--work DIR] [--compress gzip|zstd|none]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "bench/extract.sh: needs root (ownership, devices, whiteouts)" >&2; exit 1; }
rm -rf "$work"; mkdir -p "$work"
layer=$work/layer.tar
tar -C "$src" -cf "$layer" --xattrs . 2>/dev/null || true
case $compress in
  gzip) gzip -1 -f "$layer"; layer=$layer.gz ;;
  zstd) zstd -q -f --rm "$layer"; layer=$layer.zst ;;
  none) ;;
esac
files=$(tar -tf "$layer" | wc -l)
applier=$("$top/bench/build-go.sh" applier "$top/build/go" | tail -1)
echo "layer: $src -> $layer ($(du -h "$layer" | cut -f1), $files entries), rounds: $rounds"

sock=$work/s.sock
"$bin/strata-snapshotter" --root "$work/root" --address "$sock" --log-level warn &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do "$bin/strata" --address "$sock" ls >/dev/null 2>&1 && break; sleep 0.05; done

now() { date +%s.%N; }
declare -A times
run() {  # name, command...
  local name=$1; shift
  sync; echo 3 > /proc/sys/vm/drop_caches
  cat "$layer" > /dev/null  # the blob is in cache for everyone alike
  local t0 t1; t0=$(now); "$@" > /dev/null; t1=$(now)
  sync  # write-back outside the timing: containerd does not sync by default
  local dt; dt=$(echo "$t1 - $t0" | bc)
  times[$name]+="$dt "
  printf '%-12s %6.3fs\n' "$name" "$dt"
}
for r in $(seq "$rounds"); do
  STRATA_IO=uring run strata-uring "$bin/strata" --address "$sock" import --name "uring-$r" "$layer"
  STRATA_IO=sync run strata-sync "$bin/strata" --address "$sock" import --name "sync-$r" "$layer"
  rm -rf "$work/tar-$r"; mkdir "$work/tar-$r"
  run gnu-tar tar -C "$work/tar-$r" --xattrs --same-owner -xpf "$layer"
  rm -rf "$work/tar-$r"; mkdir "$work/ctrd-$r"
  run containerd "$applier" "$layer" "$work/ctrd-$r"
  rm -rf "$work/ctrd-$r"
  for k in "uring-$r" "sync-$r"; do "$bin/strata" --address "$sock" ls "name==$k" >/dev/null; done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mu=$(echo "${times[strata-uring]}" | median)
ms=$(echo "${times[strata-sync]}" | median)
mt=$(echo "${times[gnu-tar]}" | median)
mc=$(echo "${times[containerd]}" | median)
best=$(printf '%s\n%s\n' "$mu" "$ms" | sort -n | head -1)
echo
printf 'median  strata-uring %.3fs  strata-sync %.3fs  gnu-tar %.3fs  containerd %.3fs\n' \
  "$mu" "$ms" "$mt" "$mc"
printf 'ratio   gnu-tar/strata %.2fx  containerd/strata %.2fx  (strata = faster sink)  sync/uring %.2fx\n' \
  "$(echo "$mt / $best" | bc -l)" "$(echo "$mc / $best" | bc -l)" "$(echo "$ms / $mu" | bc -l)"
