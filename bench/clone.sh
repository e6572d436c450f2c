#!/usr/bin/env bash
# Tree clone cost on a loop-mounted XFS (reflink=1): Strata's CloneTree
# (io/clone, FICLONE + worker pool) against `cp -a --reflink=always` and a
# plain copy (`cp -a --reflink=never`), for a 1 GiB file and a 20,000-file
# tree; and a snapshot's Prepare on a committed parent holding that tree, over
# gRPC with one client (bench/snap_client.cc): Strata's daemon with the
# reflink backend against containerd's native snapshotter (bench/peer
# --snapshotter native, whose Prepare copies the parent with fs.CopyDir:
# copy_file_range, which reflinks on XFS). Prints wall time (median of the
# rounds, caches dropped before each run) and the statfs delta each cost. Then the first-write latency
# (4 KiB at offset 40 KiB, O_SYNC-ish via conv=fsync) into the 1 GiB file: in
# a reflink clone, and through an overlay mount (copy-up) on XFS and on ext4.
# Needs root.
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
  for d in "$work/mnt/ovl/m" "$work/ext4/ovl/m" "$work/ext4" "$work/mnt"; do
    mountpoint -q "$d" && { umount "$d" || umount -l "$d"; }
  done
  rm -f "$work/img" "$work/ext4.img"
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

# first_write LABEL FILE: median wall time of a 4 KiB in-place write + fsync.
first_write() {
  local label=$1 file=$2
  sync; echo 3 > /proc/sys/vm/drop_caches
  local t0; t0=$(date +%s.%N)
  dd if=/dev/zero of="$file" bs=4k count=1 seek=10 conv=notrunc,fsync status=none
  local t1; t1=$(date +%s.%N)
  printf '%-40s %10.4f s\n' "$label" "$(echo "$t1 - $t0" | bc)"
}

# overlay_first_write FSLABEL DIR: the big file as an overlay lower on DIR's fs.
overlay_first_write() {
  local fslabel=$1 d=$2
  mkdir -p "$d/ovl/u" "$d/ovl/w" "$d/ovl/m"
  mount -t overlay overlay -o "lowerdir=$d/big,upperdir=$d/ovl/u,workdir=$d/ovl/w" "$d/ovl/m"
  first_write "overlay copy-up on $fslabel" "$d/ovl/m/file"
  umount "$d/ovl/m" || umount -l "$d/ovl/m"
  rm -rf "$d/ovl"
}

echo
printf '%-40s %12s\n' "first write into the 1 GiB file" time
for _ in $(seq "$rounds"); do
  rm -rf "$m/out"
  "$bin/strata-clone" "$m/big" "$m/out" > /dev/null
  first_write "reflink clone on $fs (CoW of one block)" "$m/out/file"
  rm -rf "$m/out"
  overlay_first_write "$fs" "$m"
done
mkdir -p "$work/ext4"
truncate -s 0 "$work/ext4.img"; truncate -s 3G "$work/ext4.img"
mkfs.ext4 -q -F "$work/ext4.img"
mount -o loop "$work/ext4.img" "$work/ext4"
mkdir -p "$work/ext4/big"
cp "$m/big/file" "$work/ext4/big/file"
for _ in $(seq "$rounds"); do
  overlay_first_write ext4 "$work/ext4"
done
