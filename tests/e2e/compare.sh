#!/usr/bin/env bash
# End-to-end test of Strata's Compare (containerd's diff service Diff) with
# real containerd 1.7 (Debian trixie) and 2.1 (Debian unstable), unpacked by
# scripts/fetch-containerd.sh, never installed.
#
#   tests/e2e/compare.sh <path-to-strata-snapshotter> <work-dir>
#
# For each containerd version and each backend (overlay, copy), with fresh
# roots: containerd has Strata as snapshotter and as differ (first in the
# diff service's default list). A base snapshot holds a tree with every
# entry type (nested dirs, small, empty and multi-MiB files, symlinks, a
# hardlinked pair, a fifo, a char device, setuid and 0600 modes, 1000:1000
# owners, security.capability and user.* xattrs). Each scenario is an active
# snapshot on it, changed through its mount the way a container would:
# add, modify content (same and other size), metadata only (touch, chmod,
# chown), xattrs, delete a file and a directory, file to directory and back,
# renames, hard links, an opaque directory (rm -rf + mkdir), deep trees,
# special files, nothing at all, and 200 files at once.
#   1. `ctr snapshots diff` of every scenario, media types cycling through
#      tar, tar+gzip and (containerd >= 1.7.29) tar+zstd: Strata must answer
#      each one (`strata status` compared +1, nothing declined or failed,
#      one log line each), and the blob in containerd's content store must
#      carry containerd.io/uncompressed when compressed.
#   2. containerd restarted with default = ["walking"] on the same roots: the
#      same diffs again, from containerd's walking differ (Strata's count
#      must not move).
#   3. Both layers of each scenario applied onto a copy of the base tree by
#      containerd's own applier (archive.Apply, bench/applier -naive): the
#      two trees must be equal (path, type, mode, owner, size, link count,
#      symlink target, content, device numbers, mtime seconds of
#      non-directories, security.capability and user.* xattrs; directory
#      mtimes are not compared, as containerd's double walk ignores them),
#      and equal to the scenario's tree as its own mount shows it.
#
# Exit status: 0 passed, 1 failed, 77 skipped (not root, no overlayfs, no
# network for the containerd .debs, no Go). STRATA_COMPARE_VERSIONS="1.7 2.1"
# and STRATA_COMPARE_BACKENDS="overlay copy" select; the containerd .debs are
# unpacked under $STRATA_CONTAINERD_CACHE_ROOT (default: the work dir).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
[ $# -eq 2 ] || { echo "usage: $0 <path-to-strata-snapshotter> <work-dir>" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root (containerd, mounts)"; exit 77; fi
if ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then
    echo "SKIP: the kernel has no overlayfs"; exit 77
fi
for t in jq go getfattr setfattr setcap zstd; do
    command -v "$t" >/dev/null || { echo "SKIP: $t missing (scripts/install-deps.sh installs it)"; exit 77; }
done

STRATA_BIN=$(realpath "$1")
mkdir -p "$2" && WORK=$(cd "$2" && pwd)
VERSIONS=${STRATA_COMPARE_VERSIONS:-1.7 2.1}
BACKENDS=${STRATA_COMPARE_BACKENDS:-overlay copy}
STRATA_CLI=$(dirname "$STRATA_BIN")/strata
[ -x "$STRATA_CLI" ] || { echo "FAIL: $STRATA_CLI missing (the strata CLI)"; exit 1; }

PASS=0 FAIL=0
FAILED=()
E2E_CASE() { echo "${VER:-}/${BACKEND:-}"; }
# pass, fail, check_eq, stop_pid, unmount_under, kill_shims, wait_for
. "$HERE/e2e_lib.sh"

declare -a PIDS=()
TMP=$(mktemp -d /tmp/scmp.XXXXXX)
CTD_SOCK=/nonexistent
stop_daemons() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    PIDS=()
    kill_shims
    unmount_under "$WORK"
    unmount_under "$TMP"
}
cleanup() {
    local rc=$?
    stop_daemons
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT

APPLIER=$("$REPO/bench/build-go.sh" applier "$WORK/go" 2>"$WORK/go-build.log") \
    || { echo "FAIL: building containerd's applier (bench/build-go.sh applier): $(tail -3 "$WORK/go-build.log")"; exit 1; }

TAR=application/vnd.oci.image.layer.v1.tar
ctr_() { "$CTD_BIN/ctr" --address "$CTD_SOCK" "$@"; }
cs() { ctr_ snapshots --snapshotter strata "$@"; }
status_field() {
    "$STRATA_CLI" --address "$STRATA_SOCK" status --json 2>/dev/null | jq -r ".diff.$1 // \"0\" | tonumber"
}

write_config() {
    # write_config <default differs, JSON list>
    local version disabled
    case "$VER" in
    1.*) version=2
        disabled='"io.containerd.grpc.v1.cri"' ;;
    *) version=3
        disabled='"io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images",
  "io.containerd.cri.v1.runtime", "io.containerd.podsandbox.controller.v1.podsandbox",
  "io.containerd.nri.v1.nri", "io.containerd.differ.v1.erofs",
  "io.containerd.snapshotter.v1.erofs"' ;;
    esac
    cat >"$CTD_CONFIG" <<EOF
version = $version
root = "$CTD_ROOT"
state = "$CTD_STATE"
disabled_plugins = [$disabled]
[grpc]
  address = "$CTD_SOCK"
[plugins."io.containerd.service.v1.diff-service"]
  default = $1
[proxy_plugins.strata]
  type = "snapshot"
  address = "$STRATA_SOCK"
[proxy_plugins.strata-diff]
  type = "diff"
  address = "$STRATA_SOCK"
EOF
}
start_containerd() {
    write_config "$1"
    PATH="$CTD_BIN:$PATH" "$CTD_BIN/containerd" --config "$CTD_CONFIG" >>"$VDIR/containerd.log" 2>&1 &
    CTD_PID=$!
    PIDS=("$CTD_PID" "${PIDS[@]}")
    wait_for 30 ctr_ version || { fail "containerd $VER starts" "$(tail "$VDIR/containerd.log")"; return 1; }
}
stop_containerd() {
    stop_pid "$CTD_PID"
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" != "$CTD_PID" ] && keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# mount_snap <key> <dir>: mounts what `ctr snapshots mounts` gives.
mount_snap() {
    mkdir -p "$2"
    local cmd
    cmd=$(cs mounts "$2" "$1" 2>&1) || { echo "mounts $1: $cmd" >&2; return 1; }
    sh -c "$cmd" || { echo "mount $1: $cmd" >&2; return 1; }
}
pin() { cs label "$1" containerd.io/gc.root=e2e >/dev/null; }

make_base() {
    local m=$1
    mkdir -p "$m"/etc/ssl "$m"/usr/bin "$m"/var/lib/app "$m"/opq/sub "$m"/gone/deeper "$m"/a/b/c/d/e/f/g/h/i/j
    echo root:x:0:0 >"$m/etc/passwd"; echo host >"$m/etc/hostname"; : >"$m/etc/empty"
    head -c $((3 << 20)) /dev/urandom >"$m/usr/bin/big"
    printf 'same' >"$m/same-size"
    echo cert >"$m/etc/ssl/cert"; ln -s cert "$m/etc/ssl/link"; ln -s /etc/passwd "$m/abs-link"
    echo linked >"$m/var/lib/app/one"; ln "$m/var/lib/app/one" "$m/var/lib/app/two"
    mkfifo "$m/var/lib/app/fifo"; mknod "$m/var/lib/app/null" c 1 3
    echo suid >"$m/usr/bin/suid"; chmod 4755 "$m/usr/bin/suid"
    echo secret >"$m/etc/shadow"; chmod 600 "$m/etc/shadow"
    echo user >"$m/var/lib/app/owned"; chown -R 1000:1000 "$m/var/lib/app/owned"
    echo cap >"$m/usr/bin/ping"; setcap cap_net_raw+ep "$m/usr/bin/ping"
    echo x >"$m/var/lib/app/attr"; setfattr -n user.note -v base "$m/var/lib/app/attr"
    echo o >"$m/opq/old"; echo s >"$m/opq/sub/s"; echo g >"$m/gone/g"; echo g >"$m/gone/deeper/g"
    echo deep >"$m/a/b/c/d/e/f/g/h/i/j/deep"; echo swap >"$m/swapfile"; mkdir "$m/swapdir"; echo in >"$m/swapdir/in"
    touch -d @1700000000 "$m/same-size"
}

# The scenarios: name and what a container does in its mount ($1).
SCENARIOS="add modify samesize metadata xattr delfile deldir file2dir dir2file rename hardlink opaque deep special noop many"
scenario() {
    local m=$2
    case "$1" in
    add) mkdir -p "$m/new/dir"; echo n >"$m/new/dir/file"; echo t >"$m/etc/added" ;;
    modify) echo more >>"$m/etc/passwd"; head -c 4096 /dev/urandom >>"$m/usr/bin/big" ;;
    samesize) printf 'SAME' >"$m/same-size"; touch -d @1700000000 "$m/same-size" ;;
    metadata) touch -d @1600000000 "$m/etc/hostname"; chmod 640 "$m/etc/passwd"; chown 1000:1000 "$m/etc/ssl/cert"; chmod 700 "$m/etc/ssl" ;;
    xattr) setfattr -n user.note -v changed "$m/var/lib/app/attr"; setcap -r "$m/usr/bin/ping"; setcap cap_chown+ep "$m/etc/passwd" ;;
    delfile) rm "$m/etc/hostname" "$m/etc/ssl/link" ;;
    deldir) rm -rf "$m/gone" ;;
    file2dir) rm "$m/swapfile"; mkdir "$m/swapfile"; echo now-dir >"$m/swapfile/f" ;;
    dir2file) rm -rf "$m/swapdir"; echo now-file >"$m/swapdir" ;;
    rename) mv "$m/etc/passwd" "$m/etc/passwd.old"; mv "$m/opq" "$m/opq-moved" ;;
    hardlink) ln "$m/etc/passwd" "$m/etc/passwd.link"; echo changed >>"$m/var/lib/app/one" ;;
    opaque) rm -rf "$m/opq"; mkdir "$m/opq"; echo fresh >"$m/opq/fresh" ;;
    deep) local p="$m/deepnew" i; for ((i = 0; i < 60; i++)); do p="$p/d$i"; done
        mkdir -p "$p"; echo bottom >"$p/f"; echo changed >"$m/a/b/c/d/e/f/g/h/i/j/deep" ;;
    special) mkfifo "$m/etc/newfifo"; rm "$m/var/lib/app/null"; ln -s newtarget "$m/etc/newlink"
        ln -sfn other "$m/etc/ssl/link" ;;
    noop) : ;;
    many) local i; mkdir -p "$m/many"; for ((i = 0; i < 200; i++)); do echo "$i" >"$m/many/f$i"; done ;;
    esac
}

# listing <dir>: what the trees must agree on (directory mtimes excluded).
# as_seen: the same without link counts and user.* xattrs, for comparing
# with the container's own mount: containerd's layers carry no user.* xattr,
# and overlayfs (index=off) breaks a hard link when one name is copied up
# while the other still shows the lower inode's link count.
as_seen() { sed -E -e '/ user\./d' -e 's/^(\S+ [^d] \S+ \S+ \S+) [0-9]+ /\1 /'; }
listing() {
    (cd "$1" && {
        find . -mindepth 1 -type d -printf '%p d %m %U:%G\n'
        find . -mindepth 1 ! -type d -printf '%p %y %m %U:%G %s %n %T@ %l\n' | sed -E 's/ ([0-9]+)\.[0-9]+ / \1 /'
        find . -type f -print0 | xargs -0 -r sha256sum
        find . \( -type b -o -type c \) -exec stat -c '%n dev %t:%T' {} +
        getfattr -R -h -d -m '^(security\.capability|user\.)' --absolute-names . 2>/dev/null |
            awk '/^# file:/ {f=$3; next} NF {print f, $0}'
    } | sort)
}

run_version_backend() {
    VDIR=$WORK/$VER-$BACKEND
    rm -rf "$VDIR"; mkdir -p "$VDIR"
    CTD_ROOT=$VDIR/containerd-root CTD_STATE=$TMP/$VER-$BACKEND-state CTD_SOCK=$TMP/$VER-$BACKEND-c.sock
    CTD_CONFIG=$VDIR/config.toml STRATA_SOCK=$TMP/$VER-$BACKEND-s.sock STRATA_ROOT=$VDIR/strata-root
    STRATA_LOG=$VDIR/strata.log
    "$STRATA_BIN" --root "$STRATA_ROOT" --address "$STRATA_SOCK" --containerd-address "$CTD_SOCK" \
        --backend "$BACKEND" >"$STRATA_LOG" 2>&1 &
    PIDS+=($!)
    wait_for 20 test -S "$STRATA_SOCK" || { fail "strata-snapshotter starts" "$(tail "$STRATA_LOG")"; return 0; }
    start_containerd '["strata-diff", "walking"]' || return 0

    local mnt=$TMP/mnt-$VER-$BACKEND out s
    cs prepare base-active "" >/dev/null && pin base-active && mount_snap base-active "$mnt" \
        || { fail "prepare the base snapshot"; return 0; }
    make_base "$mnt"; umount "$mnt"
    cs commit base base-active && pin base || { fail "commit the base snapshot"; return 0; }
    for s in $SCENARIOS; do
        cs prepare "s-$s" base >/dev/null && pin "s-$s" && mount_snap "s-$s" "$mnt" \
            || { fail "prepare scenario $s"; continue; }
        scenario "$s" "$mnt"; umount "$mnt"
    done

    local types=("$TAR" "$TAR+gzip") i=0 n before after
    local zstd_ok=1
    if [[ "$VER" == 1.7 ]]; then
        local v; v=$("$CTD_BIN/containerd" --version | grep -oE '1\.7\.[0-9]+' | head -1)
        [ "${v##*.}" -lt 29 ] && zstd_ok=0
    fi
    [ "$zstd_ok" = 1 ] && types+=("$TAR+zstd")
    declare -gA MT=()
    before=$(status_field compared)
    n=0
    for s in $SCENARIOS; do
        MT[$s]=${types[$((i++ % ${#types[@]}))]}
        if ctr_ snapshots --snapshotter strata diff --media-type "${MT[$s]}" \
            --label containerd.io/gc.root=e2e "s-$s" >"$VDIR/strata-$s.blob" 2>"$VDIR/strata-$s.err"; then
            n=$((n + 1))
        else
            fail "ctr snapshots diff s-$s (${MT[$s]##*.}) with Strata" "$(cat "$VDIR/strata-$s.err")"
        fi
    done
    after=$(status_field compared)
    check_eq "Strata answered every ctr snapshots diff (compared +$n)" "$((before + n))" "$after"
    check_eq "no Compare declined or failed" "0 0" "$(status_field compare_declined) $(status_field compare_failed)"
    check_eq "one msg=compared log line per diff" "$n" "$(grep -c 'msg=compared' "$STRATA_LOG")"
    local d labels
    d=$(sha256sum "$VDIR/strata-add.blob" | cut -d' ' -f1)
    labels=$(ctr_ content ls | grep "sha256:$d" || true)
    if [[ "${MT[add]}" == "$TAR" ]] || grep -q 'containerd.io/uncompressed=sha256:' <<<"$labels"; then
        pass "the stored blob is the one ctr printed, labelled as containerd's differ labels it"
    else
        fail "stored blob sha256:$d with containerd.io/uncompressed" "$labels"
    fi

    # Phase 2: the walking differ on the same snapshots.
    stop_containerd
    start_containerd '["walking"]' || return 0
    before=$(status_field compared)
    for s in $SCENARIOS; do
        ctr_ snapshots --snapshotter strata diff --media-type "${MT[$s]}" \
            --label containerd.io/gc.root=e2e "s-$s" >"$VDIR/walking-$s.blob" 2>"$VDIR/walking-$s.err" \
            || fail "ctr snapshots diff s-$s with the walking differ" "$(cat "$VDIR/walking-$s.err")"
    done
    check_eq "the walking differ answered phase 2 (Strata's count unchanged)" "$before" "$(status_field compared)"

    # Phase 3: apply both with containerd's applier onto the base tree.
    cs view base-view base >/dev/null && mount_snap base-view "$mnt" || { fail "view of base"; return 0; }
    mkdir -p "$VDIR/base-tree" && cp -a "$mnt/." "$VDIR/base-tree/"
    umount "$mnt"
    local a b want
    for s in $SCENARIOS; do
        a=$VDIR/tree-strata-$s b=$VDIR/tree-walking-$s
        cp -a "$VDIR/base-tree" "$a" && cp -a "$VDIR/base-tree" "$b"
        "$APPLIER" -naive "$VDIR/strata-$s.blob" "$a" >/dev/null 2>"$VDIR/apply.err" \
            || { fail "apply Strata's $s layer" "$(cat "$VDIR/apply.err")"; continue; }
        "$APPLIER" -naive "$VDIR/walking-$s.blob" "$b" >/dev/null 2>"$VDIR/apply.err" \
            || { fail "apply the walking differ's $s layer" "$(cat "$VDIR/apply.err")"; continue; }
        mount_snap "s-$s" "$mnt" || { fail "mount s-$s"; continue; }
        want=$(listing "$mnt"); umount "$mnt"
        local la lb
        la=$(listing "$a") lb=$(listing "$b")
        if [ "$la" = "$lb" ] && [ "$(as_seen <<<"$la")" = "$(as_seen <<<"$want")" ]; then
            pass "$s (${MT[$s]##*.}): equal trees; layers $(stat -c %s "$VDIR/strata-$s.blob") B (Strata), $(stat -c %s "$VDIR/walking-$s.blob") B (walking)"
        elif [ "$la" = "$lb" ]; then
            fail "$s: both layers give another tree than the container's mount" \
                "$(diff <(as_seen <<<"$want") <(as_seen <<<"$la") | head -20)"
        else
            fail "$s: Strata's layer gives another tree than the walking differ's" "$(diff <(echo "$lb") <(echo "$la") | head -20)"
        fi
        rm -rf "$a" "$b"
    done
    grep -q 'level=error' "$STRATA_LOG" && fail "no errors in Strata's log" "$(grep 'level=error' "$STRATA_LOG" | head)"
    stop_daemons
}

SKIPPED=()
for VER in $VERSIONS; do
    cache=${STRATA_CONTAINERD_CACHE_ROOT:-$WORK}/containerd-cache-$VER
    if ! STRATA_CONTAINERD_SERIES=$VER "$REPO/scripts/fetch-containerd.sh" "$cache" >"$WORK/fetch-$VER.log" 2>&1; then
        echo "SKIP containerd $VER: could not fetch it: $(tail -n 2 "$WORK/fetch-$VER.log")"
        SKIPPED+=("$VER"); continue
    fi
    CTD_BIN=$cache/root/usr/bin
    for BACKEND in $BACKENDS; do
        echo
        echo "=== containerd $VER ($("$CTD_BIN/containerd" --version | awk '{print $3}')), backend $BACKEND"
        run_version_backend
    done
done
echo
[ ${#SKIPPED[@]} -gt 0 ] && echo "skipped containerd versions: ${SKIPPED[*]}"
[ "$FAIL" -gt 0 ] && printf 'failed: %s\n' "${FAILED[@]}"
echo "compare e2e: $PASS passed, $FAIL failed"
[ "$FAIL" -gt 0 ] && exit 1
[ "$PASS" -eq 0 ] && exit 77
exit 0
