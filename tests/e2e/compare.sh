#!/usr/bin/env bash
# End-to-end test of Strata's Compare (the Diff RPC of containerd's diff
# service) against containerd's walking differ, with real containerd 1.7
# (Debian trixie) and 2.1 (Debian unstable), both unpacked from Debian's
# .debs by scripts/fetch-containerd.sh, never installed. No registry, no image.
#
#   tests/e2e/compare.sh <path-to-strata-snapshotter> <work-dir>
#
# For each case (a containerd version and a Strata backend), with fresh roots and
# containerd configured as in differ.sh (Strata as snapshotter `strata` and
# as differ `strata-diff`, diff service default ["strata-diff", "walking"]):
#   1. Through `ctr snapshots --snapshotter strata`: a base snapshot with every
#      entry type (nested dirs 10 deep, empty, small and multi-MiB files,
#      symlinks, a hardlinked pair, a fifo, a char device, modes 0600 and
#      04755, 1000:1000 owners, security.capability and user.* xattrs), then
#      one active snapshot per scenario on it, changed through its mount as a
#      container would (see SCENARIOS). Every snapshot is pinned with a
#      containerd.io/gc.root label.
#   2. Phase 1: `ctr snapshots diff` of each scenario, the media type cycling
#      through tar, tar+gzip and (containerd >= 1.7.29 / 2.0.1) tar+zstd.
#      Strata must answer every one: `strata status` .diff.compared +1 per
#      call, compare_declined and compare_failed 0. Every blob must be in
#      containerd's content store under the sha256 of the bytes ctr printed,
#      the compressed ones labelled containerd.io/uncompressed=<sha256 of the tar>.
#   3. Phase 2: containerd alone restarted on the same roots with
#      default = ["walking"]; the same diffs again, from containerd's walking
#      differ (Strata's compared count must not move).
#   4. Both layers of each scenario applied onto copies of the base tree with
#      containerd's own applier (archive.Apply, bench/applier -naive: whiteouts
#      delete). The two trees must be equal: path, type, mode, owner, size,
#      link count, symlink target, content digest, device numbers, mtime
#      seconds of non-directories, security.capability and user.* xattrs
#      (directory mtimes are not compared: containerd's double walk ignores
#      them). Strata's tree must also equal the scenario's tree as its own
#      mount showed it; a difference there is only reported, not failed,
#      when the walking differ's tree differs from the mount in exactly the
#      same way and only in what a layer cannot carry (user.* xattrs) or
#      what overlayfs (index=off) misreports (a hard link's count after one
#      of its names was copied up).
#   5. A table per version and backend: layer sizes and tar entry counts,
#      Strata vs walking.
#
# STRATA_COMPARE_SELFTEST=1 validates the harness without Strata's Compare:
# phase 1 runs with default = ["walking"] as well, so both layers come from
# the walking differ, and the compared-count checks are skipped.
#
# Exit status: 0 passed, 1 failed, 77 skipped (not root, no overlayfs, a tool
# missing, no network for the containerd .debs). Environment:
#   STRATA_COMPARE_CASES="1.7:overlay 2.1:copy"  <containerd series>:<backend>;
#       each version and each backend once (the full matrix adds 1.7:copy
#       and 2.1:overlay: about 25 s a case)
#   STRATA_COMPARE_SELFTEST=0               1: see above
#   STRATA_CONTAINERD_CACHE_ROOT=<work-dir> where containerd-cache-<ver> lives
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
[ $# -eq 2 ] || { echo "usage: $0 <path-to-strata-snapshotter> <work-dir>" >&2; exit 2; }
# shellcheck source=e2e_lib.sh
. "$HERE/e2e_lib.sh"
e2e_require "containerd, mounts, mknod, chown" jq go getfattr setfattr setcap zstd gzip tar sha256sum
[ -d /usr/share/gocode/src/github.com/containerd/containerd ] \
    || { echo "SKIP: containerd's Go sources missing (golang-github-containerd-containerd-dev, for bench/applier)"; exit 77; }

STRATA_BIN=$(realpath "$1")
mkdir -p "$2" && WORK=$(cd "$2" && pwd)
CASES=${STRATA_COMPARE_CASES:-1.7:overlay 2.1:copy}
SELFTEST=${STRATA_COMPARE_SELFTEST:-0}
# The CLI sits beside the daemon (build/bin/strata).
STRATA_CLI=$(dirname "$STRATA_BIN")/strata
[ -x "$STRATA_CLI" ] || { echo "FAIL: $STRATA_CLI missing (the strata CLI, for strata status)"; exit 1; }
cp "$STRATA_BIN" "$WORK/strata-snapshotter.under-test" || exit 1
STRATA_BIN=$WORK/strata-snapshotter.under-test
ARCH=$(go env GOARCH)

PASS=0 FAIL=0
FAILED=()
SKIPPED=()
E2E_CASE() { echo "${VER:-}/${BACKEND:-}"; }

declare -a PIDS=()
e2e_tmp scmp
unmount_under "$WORK"  # what a killed run left

T0=$(date +%s%N)
APPLIER=$("$REPO/bench/build-go.sh" applier "$WORK/go" 2>"$WORK/go-build.log") \
    || { echo "FAIL: building containerd's applier (bench/build-go.sh applier): $(tail -3 "$WORK/go-build.log")"; exit 1; }

TAR=application/vnd.oci.image.layer.v1.tar
GC_ROOT=containerd.io/gc.root=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cs() { ctr_ snapshots --snapshotter strata "$@"; }

# snap prepare|view <key> [parent]: the snapshot, pinned with a gc.root
# label. containerd's GC may collect it before the label lands (no lease
# holds it): then again, up to three times.
snap() {
    local verb=$1 key=$2 i out
    shift 2
    for i in 1 2 3; do
        out=$(cs "$verb" "$key" "$@" 2>&1) || { echo "ctr snapshots $verb $key $*: $out" >&2; return 1; }
        out=$(cs label "$key" "$GC_ROOT" 2>&1) && return 0
    done
    echo "ctr snapshots label $key: $out" >&2
    return 1
}
# mount_snap <key> <dir>: mounts what `ctr snapshots mounts` prints.
mount_snap() {
    mkdir -p "$2"
    local cmd
    cmd=$(cs mounts "$2" "$1" 2>&1) || { echo "ctr snapshots mounts $1: $cmd" >&2; return 1; }
    sh -c "$cmd" 2>&1 || { echo "mount $1: $cmd" >&2; return 1; }
}

# --- the trees ----------------------------------------------------------------------
BASE_MTIME=1700000000
make_base() {
    local m=$1 i
    mkdir -p "$m"/etc/ssl "$m"/usr/bin "$m"/usr/lib "$m"/var/lib/app "$m"/home/user \
        "$m"/opq/sub "$m"/gone/deeper/more "$m"/a/b/c/d/e/f/g/h/i/j/k "$m"/swapdir \
        "$m"/renamedir/y "$m"/bulk
    echo root:x:0:0:root:/root:/bin/sh >"$m/etc/passwd"; echo root:x:0: >"$m/etc/group"
    echo host >"$m/etc/hostname"; : >"$m/etc/empty"
    echo secret >"$m/etc/shadow"; chmod 600 "$m/etc/shadow"
    echo cert >"$m/etc/ssl/cert"; ln -s cert "$m/etc/ssl/link"; ln -s /etc/passwd "$m/abs-link"
    head -c $((4 << 20)) /dev/urandom >"$m/usr/bin/big"
    head -c 65536 /dev/urandom >"$m/usr/lib/medium"; echo small >"$m/usr/lib/small"
    echo suid >"$m/usr/bin/suid"; chmod 4755 "$m/usr/bin/suid"
    echo cap >"$m/usr/bin/ping"; setcap cap_net_raw+ep "$m/usr/bin/ping"
    echo linked >"$m/var/lib/app/one"; ln "$m/var/lib/app/one" "$m/var/lib/app/two"
    mkfifo "$m/var/lib/app/fifo"; mknod "$m/var/lib/app/null" c 1 3
    echo user >"$m/home/user/owned"; chown -R 1000:1000 "$m/home/user"
    echo x >"$m/var/lib/app/attr"; setfattr -n user.note -v base "$m/var/lib/app/attr"
    echo y >"$m/var/lib/app/attr2"; setfattr -n user.other -v drop-me "$m/var/lib/app/attr2"
    echo o >"$m/opq/old"; echo s >"$m/opq/sub/s"
    echo g >"$m/gone/g"; echo g >"$m/gone/deeper/g"; echo h >"$m/gone/deeper/more/h"
    echo deep >"$m/a/b/c/d/e/f/g/h/i/j/deep"
    echo swap >"$m/swapfile"; echo in >"$m/swapdir/in"
    echo x >"$m/renamedir/x"; echo z >"$m/renamedir/y/z"
    for ((i = 0; i < 150; i++)); do echo "bulk $i" >"$m/bulk/f$i"; done
    # whole seconds: the `samemtime` scenario keeps size and mtime
    printf 'same' >"$m/same-size"; touch -d "@$BASE_MTIME" "$m/same-size"
}

# The scenarios: name, then what a container does in its mount ($2).
SCENARIOS="add modify samemtime metadata xattr delfile deldir file2dir dir2file rename hardlink opaque deep special noop many"
scenario() {
    local m=$2 i p
    case "$1" in
    add) mkdir -p "$m/new/dir/sub"; echo n >"$m/new/dir/file"; : >"$m/new/dir/sub/empty"
        head -c $(((1 << 20) + 1)) /dev/urandom >"$m/new/big"; echo t >"$m/etc/added"
        echo deep-add >"$m/a/b/c/added"; ln -s ../etc/added "$m/new/link" ;;
    modify) echo more >>"$m/etc/passwd"; head -c 4096 /dev/urandom >>"$m/usr/bin/big"
        printf 'HOST\n' >"$m/etc/hostname"; echo now-full >"$m/etc/empty" ;;
    samemtime) printf 'SAME' >"$m/same-size"; touch -d "@$BASE_MTIME" "$m/same-size" ;;
    metadata) touch -d @1600000000 "$m/etc/hostname"; chmod 640 "$m/etc/passwd"
        chown 1000:1000 "$m/etc/ssl/cert"; chmod 700 "$m/etc/ssl"; chown 1000:1000 "$m/usr/lib"
        chmod 2755 "$m/usr/bin/suid" ;;
    xattr) setfattr -n user.note -v changed "$m/var/lib/app/attr"; setfattr -x user.other "$m/var/lib/app/attr2"
        setfattr -n user.added -v 1 "$m/etc/group"; setcap -r "$m/usr/bin/ping"
        setcap cap_chown+ep "$m/etc/passwd"; setcap cap_sys_admin+ep "$m/usr/bin/suid" ;;
    delfile) rm "$m/etc/hostname" "$m/etc/ssl/link" "$m/usr/bin/big" ;;
    deldir) rm -rf "$m/gone" ;;
    file2dir) rm "$m/swapfile"; mkdir "$m/swapfile"; echo now-dir >"$m/swapfile/f" ;;
    dir2file) rm -rf "$m/swapdir"; echo now-file >"$m/swapdir" ;;
    rename) mv "$m/usr/lib/small" "$m/usr/lib/small.renamed"; mv "$m/renamedir" "$m/renamed" ;;
    hardlink) ln "$m/usr/lib/medium" "$m/usr/lib/medium.link"; echo changed >>"$m/var/lib/app/one" ;;
    opaque) rm -rf "$m/opq"; mkdir "$m/opq"; echo fresh >"$m/opq/fresh" ;;
    deep) p=$m/deepnew
        for ((i = 0; i < 60; i++)); do p=$p/d$i; done
        mkdir -p "$p"; echo bottom >"$p/f"; echo changed >"$m/a/b/c/d/e/f/g/h/i/j/deep" ;;
    special) mkfifo "$m/etc/newfifo"; rm "$m/var/lib/app/null"; ln -s newtarget "$m/etc/newlink"
        ln -sfn other "$m/etc/ssl/link" ;;
    noop) : ;;
    many) # 200 files: 100 rewritten, 50 chmod, 50 new
        for ((i = 0; i < 100; i++)); do echo "changed $i" >"$m/bulk/f$i"; done
        for ((i = 100; i < 150; i++)); do chmod 600 "$m/bulk/f$i"; done
        for ((i = 150; i < 200; i++)); do echo "new $i" >"$m/bulk/f$i"; done ;;
    esac
}

# listing <dir>: one line per entry and per fact the trees must agree on,
# sorted. Directories: mode, owner (no size, link count or mtime: overlayfs
# reports its own, and containerd's double walk ignores a directory's mtime).
# Others: type, mode, owner, size, links=, mtime seconds, symlink target; then
# content digests, device numbers, and the security.capability and user.*
# xattrs.
listing() {
    (cd "$1" && {
        find . -mindepth 1 -type d -printf '%p d %m %U:%G\n'
        find . -mindepth 1 ! -type d -printf '%p %y %m %U:%G %s links=%n mtime=%T@ ->%l\n' |
            sed -E 's/ mtime=([0-9]+)\.[0-9]+ / mtime=\1 /'
        find . -type f -print0 | xargs -0 -r sha256sum | awk '{print $2, "sha256=" $1}'
        find . \( -type b -o -type c \) -exec stat -c '%n dev=%t:%T' {} +
        getfattr -R -h -d -m - --absolute-names . 2>/dev/null |
            awk '/^# file:/ {f=$3; next} NF {print f, "xattr", $0}' | grep -E ' xattr (security\.capability|user\.)'
    } | LC_ALL=C sort)
}
# blob_kind <blob>: gzip, zstd or tar, by its first bytes.
blob_kind() {
    case "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" in
    1f8b*) echo gzip ;;
    28b52ffd) echo zstd ;;
    *) echo tar ;;
    esac
}
# tar_entries <blob>: how many entries the layer's tar holds.
tar_entries() {
    case "$(blob_kind "$1")" in
    gzip) tar -tzf "$1" | wc -l ;;
    zstd) zstd -dcq "$1" | tar -t | wc -l ;;
    *) tar -tf "$1" | wc -l ;;
    esac
}
untar_digest() {
    case "$2" in
    "$TAR+gzip") gzip -dc "$1" | sha256sum | cut -d' ' -f1 ;;
    "$TAR+zstd") zstd -dcq "$1" | sha256sum | cut -d' ' -f1 ;;
    *) sha256sum "$1" | cut -d' ' -f1 ;;
    esac
}
# containerd's walking differ writes zstd layers from 1.7.29 and 2.0.1 on.
walking_has_zstd() {
    local v major minor patch
    v=$("$CTD_BIN/containerd" --version | awk '{print $3}')
    v=${v#v} v=${v%%[~+-]*}
    IFS=. read -r major minor patch <<<"$v"
    patch=${patch:-0}
    case "$major.$minor" in
    1.7) [ "$patch" -ge 29 ] ;;
    1.*) return 1 ;;
    2.0) [ "$patch" -ge 1 ] ;;
    *) return 0 ;;
    esac
}

# diff_all <who> [count]: `ctr snapshots diff` of every scenario into
# $VDIR/<who>-S.blob, with the media type MT[S]; with count, ANSWERED[S] is
# how much Strata's compared count rose over that call.
diff_all() {
    local who=$1 count=${2:-} s c0 c1
    for s in $SCENARIOS; do
        [ -n "$count" ] && c0=$(status_field compared)
        if ctr_ snapshots --snapshotter strata diff --media-type "${MT[$s]}" --label "$GC_ROOT" \
            "s-$s" >"$VDIR/$who-$s.blob" 2>"$VDIR/$who-$s.err"; then
            DIFFS=$((DIFFS + 1))
        else
            fail "ctr snapshots diff s-$s (${MT[$s]##*.}), phase $who" "$(cat "$VDIR/$who-$s.err")"
        fi
        [ -n "$count" ] || continue
        c1=$(status_field compared)
        if [[ "$c0" =~ ^[0-9]+$ && "$c1" =~ ^[0-9]+$ ]]; then ANSWERED[$s]=$((c1 - c0)); else ANSWERED[$s]="?"; fi
    done
}
# check_content <who>: every blob of the phase is in containerd's content
# store under its sha256 with its size, the compressed ones labelled
# containerd.io/uncompressed=<sha256 of the tar> (as containerd's differ does).
check_content() {
    local who=$1 s ls d line want bad="" n=0
    ls=$(ctr_ content ls 2>&1) || { fail "ctr content ls" "$ls"; return; }
    for s in $SCENARIOS; do
        [ -s "$VDIR/$who-$s.blob" ] || continue
        n=$((n + 1))
        d=$(sha256sum "$VDIR/$who-$s.blob" | cut -d' ' -f1)
        line=$(grep -E "^sha256:${d}[[:space:]]" <<<"$ls")
        if [ -z "$line" ]; then bad+="$s: sha256:$d (the bytes ctr printed) not in the content store"$'\n'; continue; fi
        [ "$(blob_kind "$VDIR/$who-$s.blob")" = "${MT[$s]##*[.+]}" ] \
            || bad+="$s: asked for ${MT[$s]}, got a $(blob_kind "$VDIR/$who-$s.blob") blob"$'\n'
        if [ "${MT[$s]}" != "$TAR" ]; then
            want=containerd.io/uncompressed=sha256:$(untar_digest "$VDIR/$who-$s.blob" "${MT[$s]}")
            grep -qF "$want" <<<"$line" || bad+="$s (${MT[$s]##*.}): want label $want, content ls: $line"$'\n'
        fi
    done
    if [ -z "$bad" ]; then
        pass "phase $who: the $n blobs are in containerd's content store under the sha256 ctr printed, compressed ones labelled containerd.io/uncompressed"
    else
        fail "phase $who: blobs in containerd's content store" "${bad%$'\n'}"
    fi
}

# --- one containerd version and backend --------------------------------------------
# lap <name>: appends "<name> <ms since the last lap>" to LAPS.
lap() { local t; t=$(date +%s%N); LAPS+="$1 $(((t - LAP_T) / 1000000)) ms, "; LAP_T=$t; }
run_case() {
    local tc; tc=$(date +%s%N)
    LAPS="" LAP_T=$tc
    stop_daemons
    e2e_roots "$BACKEND"
    start_strata --backend "$BACKEND" || return 0
    local p1='["strata-diff", "walking"]'
    [ "$SELFTEST" = 1 ] && p1='["walking"]'
    start_containerd "$p1" || return 0
    local got
    got=$("$STRATA_CLI" --address "$STRATA_SOCK" status --json 2>&1 | jq -r .backend 2>&1)
    check_eq "strata runs the $BACKEND backend" "$BACKEND" "$got"

    local mnt=$TMP/mnt s err
    if ! snap prepare base-a 2>"$TMP/err" || ! mount_snap base-a "$mnt" 2>>"$TMP/err"; then
        fail "prepare and mount base-a" "$(cat "$TMP/err")"; return 0
    fi
    make_base "$mnt"
    umount "$mnt"
    err=$(cs commit base base-a 2>&1) || { fail "commit base-a as base" "$err"; return 0; }
    err=$(cs label base "$GC_ROOT" 2>&1) \
        || { fail "pin base (containerd's GC may have collected it right after the commit)" "$err"; return 0; }
    for s in $SCENARIOS; do
        if ! snap prepare "s-$s" base 2>"$TMP/err" || ! mount_snap "s-$s" "$mnt" 2>>"$TMP/err"; then
            fail "prepare and mount s-$s" "$(cat "$TMP/err")"; continue
        fi
        err=$(scenario "$s" "$mnt" 2>&1) || true
        [ -n "$err" ] && fail "scenario $s: its changes" "$err"
        listing "$mnt" >"$VDIR/mount-$s.list"  # the snapshot as the container sees it
        umount "$mnt"
    done
    pass "base and ${#SCEN[@]} scenario snapshots prepared and changed through their mounts"
    lap setup

    # media types: tar, gzip (and zstd where the walking differ has it), cycled
    local types=("$TAR" "$TAR+gzip") i=$CASE_NO
    walking_has_zstd && types+=("$TAR+zstd")
    for s in $SCENARIOS; do MT[$s]=${types[$((i++ % ${#types[@]}))]}; done

    # Phase 1: Strata answers (the walking differ with STRATA_COMPARE_SELFTEST=1).
    local c0 c1 n
    c0=$(status_field compared)
    DIFFS=0
    ANSWERED=()
    if [ "$SELFTEST" = 1 ]; then diff_all strata; else diff_all strata count; fi
    n=$DIFFS
    if [ "$SELFTEST" = 1 ]; then
        echo "  (selftest: phase 1 by the walking differ; compared-count checks skipped)"
    else
        c1=$(status_field compared)
        local fallback=""
        for s in $SCENARIOS; do [ "${ANSWERED[$s]:-?}" = 1 ] || fallback+=" $s(+${ANSWERED[$s]:-?})"; done
        if [[ "$c0" =~ ^[0-9]+$ && "$c1" =~ ^[0-9]+$ ]] && [ "$c1" -eq $((c0 + n)) ]; then
            pass "Strata answered each of the $n ctr snapshots diff calls (.diff.compared $c0 -> $c1)"
        else
            local why="scenarios Strata did not answer (containerd fell back to walking):${fallback:- none}"
            [ "$c1" = absent ] && why="strata status has no .diff.compared: this strata-snapshotter has no Compare"
            fail "Strata answered each of the $n ctr snapshots diff calls (.diff.compared +$n)" \
                "compared before: $c0, after: $c1
$why"
        fi
        check_eq "no Compare declined or failed (.diff.compare_declined .diff.compare_failed)" \
            "0 0" "$(status_field compare_declined) $(status_field compare_failed)"
        check_eq "one msg=compared line per diff in Strata's log" "$n" "$(grep -c 'msg=compared' "$STRATA_LOG")"
    fi
    check_content strata
    lap "phase 1"

    # Phase 2: containerd alone restarted, its walking differ answers.
    stop_containerd
    start_containerd '["walking"]' || return 0
    c0=$(status_field compared)
    DIFFS=0
    diff_all walking
    if [ "$SELFTEST" != 1 ]; then
        check_eq "phase 2 answered by the walking differ (Strata's compared count did not move)" \
            "$c0" "$(status_field compared)"
    fi
    check_content walking
    lap "phase 2"

    # Phase 3: apply each layer with containerd's applier onto the base tree.
    err=$( { snap view base-view base && mount_snap base-view "$mnt"; } 2>&1) \
        || { fail "mount a view of base" "$err"; return 0; }
    rm -rf "$VDIR/base-tree"; mkdir -p "$VDIR/base-tree"
    err=$(cp -a --preserve=all "$mnt/." "$VDIR/base-tree/" 2>&1) || fail "export the base tree (cp -a)" "$err"
    umount "$mnt"
    cs rm base-view >/dev/null 2>&1
    local a b la lb lm dsm dwm note
    declare -gA RESULT=()
    for s in $SCENARIOS; do
        RESULT[$s]=FAIL
        if [ ! -s "$VDIR/strata-$s.blob" ] || [ ! -s "$VDIR/walking-$s.blob" ]; then RESULT[$s]="no layer"; continue; fi
        a=$VDIR/tree-strata-$s b=$VDIR/tree-walking-$s
        rm -rf "$a" "$b"
        cp -a --preserve=all "$VDIR/base-tree" "$a" && cp -a --preserve=all "$VDIR/base-tree" "$b"
        if ! err=$("$APPLIER" -naive "$VDIR/strata-$s.blob" "$a" 2>&1 >/dev/null); then
            fail "$s: containerd's applier takes Strata's layer (${MT[$s]##*.})" "$err"; continue
        fi
        if ! err=$("$APPLIER" -naive "$VDIR/walking-$s.blob" "$b" 2>&1 >/dev/null); then
            fail "$s: containerd's applier takes the walking differ's layer (${MT[$s]##*.})" "$err"; continue
        fi
        la=$(listing "$a") lb=$(listing "$b") lm=$(cat "$VDIR/mount-$s.list")
        if [ "$la" = "$lb" ]; then
            pass "$s (${MT[$s]##*.}): Strata's layer applied = the walking differ's ($(wc -l <<<"$la") lines)"
        else
            if [ "$la" = "$lm" ]; then note="Strata's tree equals the container's view of the snapshot, the walking differ's does not"
            elif [ "$lb" = "$lm" ]; then note="the walking differ's tree equals the container's view of the snapshot"
            else note="neither equals the container's view of the snapshot"; fi
            fail "$s (${MT[$s]##*.}): Strata's layer applied differs from the walking differ's (< walking, > Strata)" \
                "$note
$(diff <(echo "$lb") <(echo "$la") | grep '^[<>]')"
            continue
        fi
        dsm=$(diff <(echo "$lm") <(echo "$la") | grep '^[<>]')
        dwm=$(diff <(echo "$lm") <(echo "$lb") | grep '^[<>]')
        if [ -z "$dsm" ]; then
            pass "$s: Strata's layer applied = the container's view of the snapshot"
            RESULT[$s]=ok
        elif [ "$dsm" = "$dwm" ] && tolerated "$dsm"; then
            note="         ${dsm//$'\n'/$'\n'         }"
            pass "$s: Strata's layer applied = the container's view of the snapshot, but for what no layer carries
         (user.* xattrs) or overlayfs misreports (a split hard link's count), the walking differ's the same (< mount, > applied):
$note"
            RESULT[$s]="ok (note)"
        else
            fail "$s (${MT[$s]##*.}): Strata's layer applied differs from the container's view of the snapshot (< mount, > applied)" "$dsm"
        fi
        rm -rf "$a" "$b"
    done
    lap "apply and compare"
    grep -q 'level=error' "$STRATA_LOG" && fail "no errors in Strata's log" "$(grep 'level=error' "$STRATA_LOG" | head)"
    stop_daemons
    summary "$tc"
}

# tolerated <diff lines>: only user.* xattrs (containerd's layers carry none)
# or, on overlay, link counts of a split hard link (the mount shows the lower
# inode's count after one name was copied up; index=off).
tolerated() {
    local rest
    rest=$(grep -vE '^[<>] \S+ xattr user\.' <<<"$1")
    [ -z "$rest" ] && return 0
    [ "$BACKEND" = overlay ] || return 1
    # the remaining lines must pair up when the link count is left out
    local l r
    l=$(grep '^<' <<<"$rest" | sed -E 's/^< //; s/ links=[0-9]+ / /') r=$(grep '^>' <<<"$rest" | sed -E 's/^> //; s/ links=[0-9]+ / /')
    [ -n "$l" ] && [ "$l" = "$r" ]
}

summary() {
    local s ms=$((($(date +%s%N) - $1) / 1000000))
    echo "  --- containerd $VER, $BACKEND: ${ms} ms (${LAPS%, })"
    echo "  (B: layer bytes; n: tar entries; answered: Strata's compared count over the phase-1 call)"
    printf '  %-10s %-9s %9s %9s %8s %9s %8s  %s\n' scenario type strata-B walking-B strata-n walking-n answered result
    for s in $SCENARIOS; do
        local sa=- sb=- ea=- eb=-
        [ -s "$VDIR/strata-$s.blob" ] && sa=$(stat -c %s "$VDIR/strata-$s.blob") ea=$(tar_entries "$VDIR/strata-$s.blob")
        [ -s "$VDIR/walking-$s.blob" ] && sb=$(stat -c %s "$VDIR/walking-$s.blob") eb=$(tar_entries "$VDIR/walking-$s.blob")
        local ans=${ANSWERED[$s]:-?}
        [ "$SELFTEST" = 1 ] && ans=selftest
        printf '  %-10s %-9s %9s %9s %8s %9s %8s  %s\n' "$s" "${MT[$s]##*.}" "$sa" "$sb" "$ea" "$eb" "$ans" "${RESULT[$s]:-?}"
    done
}

declare -A MT=() ANSWERED=()
declare -a SCEN
read -r -a SCEN <<<"$SCENARIOS"
DIFFS=0
CASE_NO=0
[ "$SELFTEST" = 1 ] && echo "STRATA_COMPARE_SELFTEST=1: both phases by containerd's walking differ (validates the harness)"
for c in $CASES; do
    VER=${c%%:*} BACKEND=${c#*:}
    fetch_containerd || continue
    echo
    echo "=== containerd $VER ($("$CTD_BIN/containerd" --version | awk '{print $3}')), backend $BACKEND"
    run_case
    CASE_NO=$((CASE_NO + 1))
done
echo
echo "total: $((($(date +%s%N) - T0) / 1000000000)) s"
e2e_finish "compare e2e"
