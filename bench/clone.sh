#!/usr/bin/env bash
# Tree clone cost on a loop-mounted XFS (reflink=1): Strata's CloneTree
# (io/clone, FICLONE + worker pool) against `cp -a --reflink=always` and a
# plain copy (`cp -a --reflink=never`), for a 1 GiB file and a 20,000-file
# tree; and a snapshot's Prepare on a committed parent holding that tree, over
# gRPC with one client (bench/snap_client.cc): Strata's daemon with the
# reflink backend against containerd's native snapshotter (bench/peer
# --snapshotter native, whose Prepare copies the parent with fs.CopyDir:
# copy_file_range, which reflinks on XFS). Prints wall time (median of the
# rounds, caches dropped before each run) and the statfs delta each cost.
# Needs root.
#
# The first write after a clone (reflink CoW of one block vs overlay copy-up,
# on XFS, ext4 and btrfs, through the daemon's own mounts) is measured by
# `strata bench cow`, which replaced this script's first-write section.
#
#   bench/clone.sh [--rounds N] [--work DIR] [--fs xfs|btrfs]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${STRATA_BIN_DIR:-$top/build/bin}
rounds=3 work=/var/tmp/strata-bench-clone fs=xfs
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --fs) fs=$2; shift 2 ;;
    *) echo "usage: $0 [--rounds N] [--work DIR] [--fs xfs|btrfs]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "clone.sh: needs root (loop mount)" >&2; exit 1; }
mkdir -p "$work/mnt"
umount "$work/mnt" 2>/dev/null || true
truncate -s 0 "$work/img"; truncate -s 6G "$work/img"
case $fs in
  xfs) mkfs.xfs -q -f -m reflink=1 "$work/img" ;;
  btrfs) mkfs.btrfs -q -f "$work/img" >/dev/null ;;
esac
mount -o loop "$work/img" "$work/mnt"
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  mountpoint -q "$work/mnt" && { umount "$work/mnt" || umount -l "$work/mnt"; }
  rm -f "$work/img"
}
trap cleanup EXIT
m=$work/mnt

echo "making the inputs on $fs ..." >&2
mkdir -p "$m/big" "$m/tree"
head -c 1G /dev/urandom > "$m/big/file"
for d in $(seq 0 199); do
  mkdir -p "$m/tree/d$d"
  for f in $(seq 0 99); do printf '%s-%s\n' "$d" "$f" > "$m/tree/d$d/f$f"; done
done
sync

used() { sync; stat -f -c '%b %f %S' "$m" | awk '{printf "%d\n", ($1-$2)*$3}'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# run INPUT LABEL CMD...: CMD gets the source and the destination appended.
run() {
  local input=$1 label=$2; shift 2
  local times=() deltas=()
  for _ in $(seq "$rounds"); do
    rm -rf "$m/out"; sync; echo 3 > /proc/sys/vm/drop_caches
    local before; before=$(used)
    local t0; t0=$(date +%s.%N)
    "$@" "$m/$input" "$m/out" > /dev/null
    local t1; t1=$(date +%s.%N)
    local after; after=$(used)
    times+=("$(echo "$t1 - $t0" | bc)")
    deltas+=("$(( (after - before) / 1024 ))")
  done
  rm -rf "$m/out"
  printf '%-10s %-28s %10.3f s %12s KiB\n' "$input" "$label" \
    "$(printf '%s\n' "${times[@]}" | median)" "$(printf '%s\n' "${deltas[@]}" | median)"
}

printf '%-10s %-28s %12s %16s\n' input method "time(median)" "statfs delta"
for input in big tree; do
  run "$input" "strata CloneTree (reflink)" "$bin/strata-clone"
  run "$input" "cp -a --reflink=always" cp -a --reflink=always
  run "$input" "strata CloneTree --copy" "$bin/strata-clone" --copy
  run "$input" "cp -a --reflink=never" cp -a --reflink=never
done

# Snapshotter Prepare on a committed parent holding each input, both served on
# a socket of the same loop filesystem.
peer=$(bash "$top/bench/build-go.sh" peer "$work/go" | tail -1)
client=$bin/strata-snapclient
"$bin/strata-snapshotter" --root "$m/strata-root" --address "$work/strata.sock" \
  --backend reflink --containerd-address "" --log-level warn &
pids+=($!)
"$peer" --root "$m/native-root" --address "$work/native.sock" --snapshotter native &
pids+=($!)
for sock in "$work/strata.sock" "$work/native.sock"; do
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
done
# prepare_run SOCK INPUT LABEL
prepare_run() {
  local sock=$1 input=$2 label=$3 times=() deltas=()
  local dir; dir=$("$client" "$sock" prepare "b-$input" | cut -d' ' -f2)
  cp -a --reflink=always "$m/$input/." "$dir/"
  "$client" "$sock" commit "base-$input" "b-$input" > /dev/null
  for i in $(seq "$rounds"); do
    sync; echo 3 > /proc/sys/vm/drop_caches
    local before; before=$(used)
    times+=("$("$client" "$sock" prepare "c-$input-$i" "base-$input" | cut -d' ' -f1)")
    local after; after=$(used)
    deltas+=("$(( (after - before) / 1024 ))")
    "$client" "$sock" remove "c-$input-$i" > /dev/null
  done
  "$client" "$sock" remove "base-$input" > /dev/null
  printf '%-10s %-28s %10.3f s %12s KiB\n' "$input" "$label" \
    "$(printf '%s\n' "${times[@]}" | median)" "$(printf '%s\n' "${deltas[@]}" | median)"
}
for input in big tree; do
  prepare_run "$work/strata.sock" "$input" "strata Prepare (reflink)"
  prepare_run "$work/native.sock" "$input" "containerd native Prepare"
done
for p in "${pids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
pids=()
