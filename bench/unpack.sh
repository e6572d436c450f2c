#!/usr/bin/env bash
# Three-way unpack timing with real containerd (client-side unpack through
# containerd's diff service, `ctr images import --local`):
#   overlayfs+walking  containerd's overlayfs snapshotter and walking differ
#   strata+walking     Strata snapshotter, containerd's walking differ
#   strata+strata      Strata snapshotter and Strata's differ
# plus the import without unpacking (content ingestion only), in alternating
# order, fresh roots each time. Prints each median in ms.
#
# No run deletes files before a timed import: each gets its own directory,
# all deleted at the end. On ext4 without a journal (this dev VM's root fs),
# inode allocation skips inodes freed in the last 30 s (dirty_expire), reading
# their inode table blocks (ext4 recently_deleted()), so a timed run right
# after `rm -rf` of the previous run's tree paid for that tree's deletion
# (perf: 60% of the daemon's CPU in find_inode_bit/recently_deleted), which
# favoured the mode after the content-only run. Leftovers of an earlier
# invocation are deleted first, then the script waits that window out.
#
#   bench/unpack.sh <strata-snapshotter> <image.tar> <work-dir> [reps]
#
# Env: STRATA_BENCH_CONTAINERD (default 2.1; fetched by
# scripts/fetch-containerd.sh into <work-dir>/containerd-cache-<series>),
# STRATA_BENCH_SYNC_FS=1 adds --sync-fs (containerd 2.x), STRATA_BENCH_MODES
# picks modes (default: content overlayfs+walking strata+walking strata+strata).
set -uo pipefail
[ $# -ge 3 ] || { echo "usage: $0 <strata-snapshotter> <image.tar> <work-dir> [reps]" >&2; exit 2; }
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STRATA=$(realpath "$1") IMAGE=$(realpath "$2") REPS=${4:-3}
mkdir -p "$3" && WORK=$(cd "$3" && pwd)
VER=${STRATA_BENCH_CONTAINERD:-2.1}
cache=$WORK/containerd-cache-$VER
STRATA_CONTAINERD_SERIES=$VER "$REPO/scripts/fetch-containerd.sh" "$cache" >/dev/null 2>&1 \
    || { echo "cannot fetch containerd $VER" >&2; exit 1; }
BIN=$cache/root/usr/bin
SYNC=(); [ "${STRATA_BENCH_SYNC_FS:-0}" = 1 ] && SYNC=(--sync-fs)
TMP=$(mktemp -d /tmp/sbench.XXXXXX)
PIDS=()
stop() {
    local p i
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
        for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
    done
    PIDS=()
    for m in $(awk -v d="$WORK/run" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do umount -l "$m"; done
}
# The deletion at exit stamps .deleted-at, so the next invocation on this
# work dir waits the window out too.
trap 'stop; rm -rf "$TMP" "$WORK"/run*; date +%s >"$WORK/.deleted-at"' EXIT
trap 'exit 130' INT TERM
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# one <snapshotter> <differs> [--no-unpack]: fresh roots, import; sets MS
# (-1 on failure). Runs in this shell, so PIDS keeps the daemons to stop.
RUN=0
one() {
    RUN=$((RUN + 1))
    local sn=$1 differs=$2 noun=${3:-} d=$WORK/run-$RUN t0 t1 i
    stop; mkdir -p "$d"
    local ver=3; [[ "$VER" == 1.* ]] && ver=2
    cat >"$d/config.toml" <<EOF
version = $ver
root = "$d/containerd"
state = "$TMP/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images",
  "io.containerd.cri.v1.runtime", "io.containerd.podsandbox.controller.v1.podsandbox"]
[grpc]
  address = "$TMP/c.sock"
[plugins."io.containerd.service.v1.diff-service"]
  default = [$differs]
[proxy_plugins.strata]
  type = "snapshot"
  address = "$TMP/s.sock"
[proxy_plugins.strata-diff]
  type = "diff"
  address = "$TMP/s.sock"
EOF
    "$STRATA" --root "$d/strata" --address "$TMP/s.sock" --containerd-address "$TMP/c.sock" \
        --log-level info >>"$WORK/strata.log" 2>&1 &
    PIDS+=($!)
    "$BIN/containerd" --config "$d/config.toml" --log-level warn >>"$WORK/containerd.log" 2>&1 &
    PIDS=($! "${PIDS[@]}")
    for ((i = 0; i < 300; i++)); do "$BIN/ctr" --address "$TMP/c.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
    sync
    t0=$(now_ms)
    "$BIN/ctr" --address "$TMP/c.sock" images import --local $noun "${SYNC[@]}" --snapshotter "$sn" "$IMAGE" \
        >"$WORK/import.log" 2>&1 || { echo "import failed ($sn, $differs): $(tail -3 "$WORK/import.log")" >&2; MS=-1; return; }
    t1=$(now_ms)
    MS=$((t1 - t0))
}
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

if compgen -G "$WORK/run*" >/dev/null; then
    rm -rf "$WORK"/run*
    date +%s >"$WORK/.deleted-at"
fi
if [ -f "$WORK/.deleted-at" ]; then
    wait_s=$(($(cat "$WORK/.deleted-at") + 31 - $(date +%s)))
    [ "$wait_s" -gt 0 ] && { sync; sleep "$wait_s"; }  # past ext4's recently-deleted window
fi
MODES=${STRATA_BENCH_MODES:-content overlayfs+walking strata+walking strata+strata}
declare -A T
: >"$WORK/strata.log"
for ((r = 0; r < REPS; r++)); do
    for k in $MODES; do
        case $k in
        content) one overlayfs '"walking"' --no-unpack ;;
        overlayfs+walking) one overlayfs '"walking"' ;;
        strata+walking) one strata '"walking"' ;;
        strata+strata) one strata '"strata-diff", "walking"' ;;
        esac
        T[$k]+=" $MS"
    done
done
applied=$(grep -c 'msg=applied' "$WORK/strata.log")
echo "containerd $("$BIN/containerd" --version | awk '{ print $3 }'), image $(basename "$IMAGE"), $REPS reps${SYNC:+, --sync-fs}"
echo "Strata Apply calls: $applied (strata+strata imports: $REPS)"
for k in $MODES; do
    printf '%-20s median %6s ms   (%s )\n' "$k" "$(median ${T[$k]})" "${T[$k]}"
done
