#!/usr/bin/env bash
# End-to-end test of strata-snapshotter against real containerd daemons
# (Debian 12's containerd 1.6 and Debian unstable's containerd 2.1).
#
#   tests/e2e/run.sh <path-to-strata-snapshotter> <work-dir>
#
# Exit status: 0 all checks passed, 1 a check failed, 77 skipped (not root,
# no overlayfs).  See tests/e2e/README.md for the environment variables.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

usage() { echo "usage: $0 <path-to-strata-snapshotter> <work-dir>" >&2; exit 2; }
[ $# -eq 2 ] || usage

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: the e2e test needs root (it runs containerd, mounts overlayfs, runs runc)"
    exit 77
fi
if ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then
    echo "SKIP: the kernel has no overlayfs"
    exit 77
fi

STRATA_BIN=$1
WORK=$2
# Name under which the snapshotter under test is registered.  Setting it to
# "overlayfs" runs the whole scenario against containerd's built-in overlayfs
# snapshotter instead (no strata daemon): used to validate this script.
SN=${STRATA_E2E_SNAPSHOTTER:-strata}
VERSIONS=${STRATA_E2E_VERSIONS:-1.6 2.1}
REPS=${STRATA_E2E_REPS:-5}
LOG_LEVEL=${STRATA_E2E_LOG_LEVEL:-debug}
KEEP=${STRATA_E2E_KEEP:-0}

if [ "$SN" != overlayfs ]; then
    case "$STRATA_BIN" in /*) ;; *) STRATA_BIN=$PWD/$STRATA_BIN ;; esac
    if [ ! -x "$STRATA_BIN" ]; then
        echo "FAIL: strata-snapshotter binary not found or not executable: $STRATA_BIN"
        exit 1
    fi
fi
mkdir -p "$WORK" || exit 1
WORK=$(cd "$WORK" && pwd)
if [ "$SN" != overlayfs ]; then
    # Run a private copy: the build tree's binary may be relinked meanwhile.
    echo "strata-snapshotter: $STRATA_BIN ($(stat -c '%s bytes, modified %y' "$STRATA_BIN"))"
    cp "$STRATA_BIN" "$WORK/strata-snapshotter.under-test" || exit 1
    STRATA_BIN=$WORK/strata-snapshotter.under-test
fi

T0=$(date +%s)
PASS=0
FAIL=0
FAILED_CHECKS=()
declare -A TIMES=()      # "<version>/<snapshotter>/<what>" -> median ms
declare -A VTIME=()      # version -> seconds

# --- output helpers -------------------------------------------------------------
c_red=; c_grn=; c_bold=; c_off=
if [ -t 1 ]; then c_red=$'\e[31m'; c_grn=$'\e[32m'; c_bold=$'\e[1m'; c_off=$'\e[0m'; fi

section() { echo; echo "${c_bold}=== [$CUR_VER] $*${c_off}"; }
info() { [ "${ABORT:-0}" = 1 ] || echo "    $*"; }
CUR_VER=-

# Current daemon logs, for dumps on failure.
CTD_LOG=
STRATA_LOG=

dump_logs() {
    local n=${1:-25}
    if [ -n "$STRATA_LOG" ] && [ -f "$STRATA_LOG" ]; then
        echo "    --- last $n lines of strata log ($STRATA_LOG):"
        tail -n "$n" "$STRATA_LOG" | sed 's/^/    | /'
    fi
    if [ -n "$CTD_LOG" ] && [ -f "$CTD_LOG" ]; then
        echo "    --- last $n warning/error lines of containerd log ($CTD_LOG):"
        grep -E 'level=(warn|warning|error|fatal|panic)' "$CTD_LOG" \
            | grep -vE 'shim disconnected|cleaning up dead shim|cleanup warnings|podsandbox' \
            | tail -n "$n" | sed 's/^/    | /'
    fi
}

# ABORT=1 once a daemon died: remaining commands and checks of this
# containerd version are skipped (they would all fail the same way).
ABORT=0
DUMPS=0
daemon_dead() {
    local rc
    if [ "$SN" != overlayfs ] && [ -n "${STRATA_PID:-}" ] && ! kill -0 "$STRATA_PID" 2>/dev/null; then
        wait "$STRATA_PID" 2>/dev/null; rc=$?
        echo "strata-snapshotter (pid $STRATA_PID) is not running any more (exit status $rc$([ "$rc" -gt 128 ] && echo ", signal $((rc - 128))"))"
        return 0
    fi
    if [ -n "${CTD_PID:-}" ] && ! kill -0 "$CTD_PID" 2>/dev/null; then
        wait "$CTD_PID" 2>/dev/null; rc=$?
        echo "containerd (pid $CTD_PID) is not running any more (exit status $rc)"
        return 0
    fi
    return 1
}
pass() { [ "$ABORT" = 1 ] && return 0; PASS=$((PASS + 1)); echo "  ${c_grn}ok${c_off}   $1"; }
fail() {
    # fail <description> <expected> <got>
    [ "$ABORT" = 1 ] && return 0
    FAIL=$((FAIL + 1))
    FAILED_CHECKS+=("[$CUR_VER] $1")
    echo "  ${c_red}FAIL${c_off} $1"
    echo "       command:  ${LAST_CMD:-<none>}"
    echo "       expected: $(printf '%s' "$2" | sed '2,$s/^/                 /')"
    echo "       got:      $(printf '%s' "$3" | head -c 3000 | sed '2,$s/^/                 /')"
    local dead
    if dead=$(daemon_dead); then
        ABORT=1
        FAIL=$((FAIL + 1))
        FAILED_CHECKS+=("[$CUR_VER] FATAL: $dead")
        echo "  ${c_red}FATAL${c_off} $dead: skipping the rest of containerd $CUR_VER"
        dump_logs 60
        return 0
    fi
    DUMPS=$((DUMPS + 1))
    if [ "$DUMPS" -le 5 ]; then dump_logs 20; else echo "    (logs: ${STRATA_LOG:-} $CTD_LOG)"; fi
}

# run <cmd...>: runs a command, stdout -> $OUT, stderr -> $ERR, status -> $RC.
OUT='' ERR='' RC=0 LAST_CMD=''
run() {
    local ef
    if [ "$ABORT" = 1 ]; then OUT='' ERR="skipped: a daemon died" RC=125; return 0; fi
    ef=$(mktemp)
    LAST_CMD=$*
    OUT=$("$@" 2>"$ef")
    RC=$?
    ERR=$(cat "$ef")
    rm -f "$ef"
    return 0
}

# expect_ok <description>: the last run succeeded
expect_ok() {
    if [ "$RC" -eq 0 ]; then pass "$1"; return 0; fi
    fail "$1" "exit status 0" "exit status $RC; stderr: $ERR; stdout: $OUT"
    return 1
}
# expect_err <description> <regex>: the last run failed with stderr matching regex
expect_err() {
    if [ "$RC" -ne 0 ] && grep -qiE -- "$2" <<<"$ERR"; then
        pass "$1"
        [ "$ABORT" = 1 ] || echo "         ($(head -n1 <<<"$ERR" | cut -c1-160))"
        return 0
    fi
    fail "$1" "non-zero exit status and stderr matching /$2/" "exit status $RC; stderr: $ERR; stdout: $OUT"
    return 1
}
check_eq() {
    if [ "$2" == "$3" ]; then pass "$1"; return 0; fi
    fail "$1" "'$2'" "'$3'"
    return 1
}
check_match() {
    # check_match <description> <extended regex> <text>
    if grep -qE -- "$2" <<<"$3"; then pass "$1"; return 0; fi
    fail "$1" "text matching /$2/" "$3"
    return 1
}
check_nomatch() {
    if ! grep -qE -- "$2" <<<"$3"; then pass "$1"; return 0; fi
    fail "$1" "no line matching /$2/" "$3"
    return 1
}
fatal() {
    [ "$ABORT" = 1 ] && return 1
    ABORT=1
    FAIL=$((FAIL + 1))
    FAILED_CHECKS+=("[$CUR_VER] FATAL: $1")
    echo "  ${c_red}FATAL${c_off} $1"
    [ -n "${2:-}" ] && echo "       $2"
    dump_logs 60
    return 1
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

# --- packages --------------------------------------------------------------------
ensure_packages() {
    local missing=() p
    for p in containerd runc busybox-static docker-registry skopeo jq util-linux gzip tar; do
        [ "$(dpkg-query -W -f '${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing missing packages: ${missing[*]}"
        apt-get update -q >/dev/null || { echo "FAIL: apt-get update failed"; exit 1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
            || { echo "FAIL: apt-get install ${missing[*]} failed"; exit 1; }
    fi
}

# --- process / mount bookkeeping ----------------------------------------------------
declare -a PIDS=()        # daemons we started (killed at exit)
declare -a TMPDIRS=()     # short dirs under /tmp (removed at exit)
declare -a MOUNT_ROOTS=() # directories under which every mount is ours

unmount_under() {
    local d=$1 m
    [ -n "$d" ] || return 0
    # deepest first; mountinfo field 5 is the mount point
    for m in $(awk -v d="$d" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
}

stop_pid() {
    # stop_pid <pid> <timeout-seconds>: SIGTERM, wait, then SIGKILL; sets STOP_RC
    local pid=$1 t=${2:-15} i
    STOP_RC=
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; STOP_RC=$?; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < t * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        STOP_RC=killed
        return 1
    fi
    wait "$pid" 2>/dev/null
    STOP_RC=$?
    return 0
}

# Shims started by our containerd carry its unique socket path on their command line.
kill_our_shims() {
    local sock=$1 p cmd
    [ -n "$sock" ] || return 0
    for p in /proc/[0-9]*; do
        [ -r "$p/cmdline" ] || continue
        cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
        if [[ "$cmd" == *containerd-shim*" -address $sock "* ]]; then
            kill -KILL "${p#/proc/}" 2>/dev/null || true
        fi
    done
}

CTD_SOCK=
cleanup_all() {
    local rc=$? p d
    set +e
    if [ -n "$CTD_SOCK" ] && [ -S "$CTD_SOCK" ] && [ -n "${CTR:-}" ]; then
        for t in $("$CTR" --address "$CTD_SOCK" tasks ls -q 2>/dev/null); do
            "$CTR" --address "$CTD_SOCK" tasks kill -s KILL "$t" >/dev/null 2>&1
            "$CTR" --address "$CTD_SOCK" tasks rm -f "$t" >/dev/null 2>&1
        done
    fi
    for p in "${PIDS[@]}"; do
        [ -n "$p" ] && stop_pid "$p" 10
    done
    kill_our_shims "$CTD_SOCK"
    for d in "${MOUNT_ROOTS[@]}" "${TMPDIRS[@]}"; do unmount_under "$d"; done
    [ -n "${REGISTRY_PID:-}" ] && stop_pid "$REGISTRY_PID" 5
    for d in "${TMPDIRS[@]}"; do rm -rf "$d"; done
    exit "$rc"
}
trap cleanup_all EXIT
trap 'echo "interrupted: cleaning up"; exit 130' INT TERM

free_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    return 1
}

wait_for() {
    # wait_for <seconds> <cmd...>
    local t=$1 i; shift
    for ((i = 0; i < t * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# --- image -----------------------------------------------------------------------------
IMG_DIR=$WORK/image
IMPORT_NAME=localhost/strata-e2e:v1
REGISTRY_PID=
REG_ADDR=

build_image() {
    echo "building test image in $IMG_DIR"
    MANIFEST_DIGEST=$("$HERE/build-image.sh" "$IMG_DIR" "$IMPORT_NAME") || { echo "FAIL: build-image.sh failed"; exit 1; }
    local cfg
    cfg=$(jq -r '.config.digest' "$IMG_DIR/layout/blobs/sha256/${MANIFEST_DIGEST#sha256:}")
    DIFF1=$(jq -r '.rootfs.diff_ids[0]' "$IMG_DIR/layout/blobs/sha256/${cfg#sha256:}")
    DIFF2=$(jq -r '.rootfs.diff_ids[1]' "$IMG_DIR/layout/blobs/sha256/${cfg#sha256:}")
    # chain IDs = names of the committed layer snapshots
    CHAIN1=$DIFF1
    CHAIN2=sha256:$(printf '%s %s' "$CHAIN1" "$DIFF2" | sha256sum | cut -d' ' -f1)
    echo "manifest $MANIFEST_DIGEST, chain IDs $CHAIN1 $CHAIN2"
}

start_registry() {
    local d=$WORK/registry port i
    rm -rf "$d"; mkdir -p "$d/storage"
    port=$(free_port) || { echo "FAIL: no free port"; exit 1; }
    REG_ADDR=127.0.0.1:$port
    cat >"$d/config.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $d/storage
  delete:
    enabled: true
http:
  addr: $REG_ADDR
EOF
    docker-registry serve "$d/config.yml" >"$d/registry.log" 2>&1 &
    REGISTRY_PID=$!
    if ! wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"; then
        echo "FAIL: docker-registry did not start on $REG_ADDR"; tail -20 "$d/registry.log"; exit 1
    fi
    echo "docker-registry on $REG_ADDR (pid $REGISTRY_PID)"
    PULL_REF=$REG_ADDR/strata-e2e:v1
    LAST_CMD="skopeo copy oci:$IMG_DIR/layout:v1 docker://$PULL_REF"
    if ! skopeo copy --quiet --dest-tls-verify=false "oci:$IMG_DIR/layout:v1" "docker://$PULL_REF" >"$d/skopeo.log" 2>&1; then
        echo "FAIL: skopeo push failed:"; cat "$d/skopeo.log"; exit 1
    fi
    echo "pushed $PULL_REF"
}

# --- daemons ------------------------------------------------------------------------------
ctr_() { "$CTR" --address "$CTD_SOCK" "$@"; }

write_config() {
    local ver=$1 cfg=$2 arch
    arch=$(jq -r '.architecture' "$IMG_DIR/layout/blobs/sha256/$(jq -r '.config.digest' "$IMG_DIR/layout/blobs/sha256/${MANIFEST_DIGEST#sha256:}" | cut -d: -f2)")
    local proxy=""
    if [ "$SN" != overlayfs ]; then
        proxy="[proxy_plugins.$SN]
  type = \"snapshot\"
  address = \"$STRATA_SOCK\""
    fi
    case "$ver" in
    1.*)
        cat >"$cfg" <<EOF
version = 2
root = "$CTD_ROOT"
state = "$CTD_STATE"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "$CTD_SOCK"

[debug]
  level = "$LOG_LEVEL"

[metrics]
  address = ""

[plugins."io.containerd.service.v1.diff-service"]
  default = ["walking"]

$proxy
EOF
        ;;
    *)
        local unpack="" s
        for s in $SN overlayfs; do
            [ "$s" = overlayfs ] && [ "$SN" = overlayfs ] && [ -n "$unpack" ] && continue
            unpack+="
  [[plugins.'io.containerd.transfer.v1.local'.unpack_config]]
    platform = \"linux/$arch\"
    snapshotter = \"$s\"
    differ = \"walking\"
"
        done
        cat >"$cfg" <<EOF
version = 3
root = "$CTD_ROOT"
state = "$CTD_STATE"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.cri.v1.images",
  "io.containerd.cri.v1.runtime",
  "io.containerd.podsandbox.controller.v1.podsandbox",
  "io.containerd.nri.v1.nri",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs",
  "io.containerd.differ.v1.erofs",
]

[grpc]
  address = "$CTD_SOCK"

[debug]
  level = "$LOG_LEVEL"

[metrics]
  address = ""

[plugins.'io.containerd.service.v1.diff-service']
  default = ["walking"]

[plugins.'io.containerd.transfer.v1.local']
$unpack
$proxy
EOF
        ;;
    esac
}

start_strata() {
    # start_strata [keep]: a fresh root unless "keep"
    STRATA_LOG=$VDIR/strata.log
    [ "${1:-}" = keep ] || rm -rf "$STRATA_ROOT"
    LAST_CMD="$STRATA_BIN --root $STRATA_ROOT --address $STRATA_SOCK --log-level $LOG_LEVEL"
    "$STRATA_BIN" --root "$STRATA_ROOT" --address "$STRATA_SOCK" --log-level "$LOG_LEVEL" >>"$STRATA_LOG" 2>&1 &
    STRATA_PID=$!
    PIDS+=("$STRATA_PID")
    local i
    for ((i = 0; i < 200; i++)); do
        [ -S "$STRATA_SOCK" ] && break
        kill -0 "$STRATA_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ ! -S "$STRATA_SOCK" ]; then
        wait "$STRATA_PID" 2>/dev/null
        fatal "strata-snapshotter did not create its socket $STRATA_SOCK within 20 s (exit status: $?)" "command: $LAST_CMD"
        return 1
    fi
    pass "strata-snapshotter started (pid $STRATA_PID, socket $STRATA_SOCK)"
}

start_containerd() {
    CTD_LOG=$VDIR/containerd.log
    LAST_CMD="$CTD --config $CTD_CONFIG"
    PATH="$CTD_PATH" "$CTD" --config "$CTD_CONFIG" --log-level "$LOG_LEVEL" >"$CTD_LOG" 2>&1 &
    CTD_PID=$!
    PIDS=("$CTD_PID" "${PIDS[@]}")   # stop containerd before strata
    if ! wait_for 30 ctr_ version; then
        fatal "containerd did not answer on $CTD_SOCK within 30 s" "command: $LAST_CMD"
        return 1
    fi
    pass "containerd started: $(ctr_ version 2>/dev/null | awk '/Server:/ { s = 1 } s && /Version:/ { print $2; exit }') (pid $CTD_PID)"
    # the proxy plugin must be loaded
    run ctr_ plugins ls
    local line
    line=$(awk -v sn="$SN" '$2 == sn' <<<"$OUT")
    check_match "snapshotter plugin '$SN' is loaded (ctr plugins ls)" "io\.containerd\.snapshotter\.v1[[:space:]]+${SN}[[:space:]].*[[:space:]]ok[[:space:]]*$" "$line" || return 1
}

# --- scenario parts ----------------------------------------------------------------------------
# Directory of a snapshot in the snapshotter's root, from a mount's source/upperdir.
snapshot_dir_of() { sed -nE "s#^($SN_ROOT/snapshots/[^/]+)/.*#\1#p" <<<"$1" | head -n1; }
snapshot_count() { find "$SN_ROOT/snapshots" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# mount types in the JSON that `ctr snapshots prepare|view --mounts` prints
mtypes() { jq -r '[.[] | (.Type // .type)] | join(",")' <<<"$OUT" 2>&1; }
# run the `mount ...` line(s) printed by `ctr snapshots mounts`
mount_from_out() {
    [ "$ABORT" = 1 ] && return 1
    grep -q '^mount ' <<<"$OUT" || return 1
    sh -c "$OUT"
}
opt_val() { tr ',' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

test_snapshot_commands() {
    section "ctr snapshots --snapshotter $SN"
    local s="ctr_ snapshots --snapshotter $SN" mnt=$VDIR/mnt opts src a1dir lower
    mkdir -p "$mnt"
    MOUNT_ROOTS+=("$mnt")

    run $s ls
    expect_ok "snapshots ls on an empty snapshotter"
    check_eq "no snapshots at start" "" "$(tail -n +2 <<<"$OUT")"

    # 1. active without parent: bind rw rbind
    run $s prepare --mounts e2e-a1
    expect_ok "prepare e2e-a1 (no parent)"
    check_eq "prepare --mounts JSON: one bind mount" "bind" "$(mtypes)"
    run $s label e2e-a1 containerd.io/gc.root=e2e
    expect_ok "label e2e-a1 containerd.io/gc.root (pin against GC)"
    run $s mounts "$mnt" e2e-a1
    expect_ok "mounts e2e-a1"
    check_match "e2e-a1 mounts: one bind mount, rw, rbind" "^mount -t bind [^ ]+ $mnt -o (rbind,rw|rw,rbind)$" "$OUT"
    src=$(awk '{ print $4 }' <<<"$OUT")
    a1dir=$(snapshot_dir_of "$src")
    check_match "bind source lies in <root>/snapshots/<id>/" "^$SN_ROOT/snapshots/[^/]+/" "$src"
    if mount_from_out; then
        echo "hello e2e" >"$mnt/hello.txt" && mkdir -p "$mnt/dir" && echo x >"$mnt/dir/x" && ln -s hello.txt "$mnt/link"
        check_eq "write through e2e-a1's mount" "hello e2e" "$(cat "$mnt/hello.txt" 2>&1)"
        umount "$mnt"
    else
        fail "mount e2e-a1" "mount succeeds" "mount failed: $OUT"
    fi

    # 2. commit
    run $s commit e2e-c1 e2e-a1
    expect_ok "commit e2e-c1 from e2e-a1"
    run $s label e2e-c1 containerd.io/gc.root=e2e
    expect_ok "label e2e-c1 containerd.io/gc.root"
    run $s info e2e-c1
    check_eq "info e2e-c1: Kind" "Committed" "$(jq -r '.Kind // .kind' <<<"$OUT" 2>&1)"
    run $s info e2e-a1
    expect_err "info e2e-a1 after commit: not found" "not found"
    run $s mounts "$mnt" e2e-c1
    expect_err "mounts of committed e2e-c1 fails" "failed precondition|not active|committed|invalid|not found"

    # error classes
    run $s prepare e2e-c1
    expect_err "prepare with an existing name: already exists" "already exists"
    run $s prepare e2e-x1 e2e-missing-parent
    expect_err "prepare with a missing parent: not found" "not found"

    # 3. active with a parent: overlay
    run $s prepare --mounts e2e-a2 e2e-c1
    expect_ok "prepare e2e-a2 (parent e2e-c1)"
    check_eq "prepare --mounts JSON: one overlay mount" "overlay" "$(mtypes)"
    run $s label e2e-a2 containerd.io/gc.root=e2e
    expect_ok "label e2e-a2 containerd.io/gc.root"
    run $s prepare e2e-x2 e2e-a2
    expect_err "prepare with an active parent fails" "invalid|not (a )?committed|failed precondition|not found"
    run $s mounts "$mnt" e2e-a2
    expect_ok "mounts e2e-a2"
    check_match "e2e-a2 mounts: overlay" "^mount -t overlay overlay $mnt -o " "$OUT"
    opts=$(awk '{ print $NF }' <<<"$OUT")
    check_eq "e2e-a2 lowerdir = e2e-c1's data dir (where e2e-a1 was bound from)" "$src" "$(opt_val "$opts" lowerdir)"
    local up wk
    up=$(opt_val "$opts" upperdir); wk=$(opt_val "$opts" workdir)
    check_match "e2e-a2 upperdir lies in <root>/snapshots/<id>/" "^$SN_ROOT/snapshots/[^/]+/" "$up"
    check_eq "e2e-a2 workdir lies in the same <root>/snapshots/<id>/ as upperdir" "$(snapshot_dir_of "$up")" "$(snapshot_dir_of "$wk")"
    if [ -n "$up" ] && [ "$(snapshot_dir_of "$up")" = "$a1dir" ]; then
        fail "e2e-a2 has its own snapshot dir" "a dir other than e2e-c1's $a1dir" "$up"
    fi
    if [ -e /sys/module/overlay/parameters/index ]; then
        check_match "e2e-a2 has index=off" "(^|,)index=off(,|$)" "$opts"
    fi
    if mount_from_out; then
        check_eq "e2e-a2 sees e2e-c1's file" "hello e2e" "$(cat "$mnt/hello.txt" 2>&1)"
        rm -f "$mnt/hello.txt"; echo two >"$mnt/two.txt"; echo y >"$mnt/dir/y"
        umount "$mnt"
    else
        fail "mount e2e-a2" "mount succeeds" "mount failed: $OUT"
    fi
    run $s commit e2e-c2 e2e-a2
    expect_ok "commit e2e-c2 from e2e-a2"
    run $s label e2e-c2 containerd.io/gc.root=e2e
    expect_ok "label e2e-c2 containerd.io/gc.root"

    run $s prepare e2e-a3 e2e-c2
    expect_ok "prepare e2e-a3 (parent e2e-c2)"
    run $s label e2e-a3 containerd.io/gc.root=e2e
    run $s commit e2e-c2 e2e-a3
    expect_err "commit to an existing name: already exists" "already exists"

    # 4. views
    run $s view --mounts e2e-v1 e2e-c1
    expect_ok "view e2e-v1 of e2e-c1"
    check_eq "view --mounts JSON: one bind mount" "bind" "$(mtypes)"
    run $s label e2e-v1 containerd.io/gc.root=e2e
    run $s mounts "$mnt" e2e-v1
    check_match "view of one layer: bind ro rbind of e2e-c1's data dir" "^mount -t bind $src $mnt -o (ro,rbind|rbind,ro)$" "$OUT"
    run $s view e2e-v2 e2e-c2
    expect_ok "view e2e-v2 of e2e-c2"
    run $s label e2e-v2 containerd.io/gc.root=e2e
    run $s mounts "$mnt" e2e-v2
    check_match "view of two layers: overlay" "^mount -t overlay overlay $mnt -o " "$OUT"
    opts=$(awk '{ print $NF }' <<<"$OUT")
    check_nomatch "view of two layers has no upperdir/workdir" "upperdir=|workdir=" "$(tr ',' '\n' <<<"$opts")"
    lower=$(opt_val "$opts" lowerdir)
    check_match "view lowerdir = e2e-c2's dir : e2e-c1's dir (nearest first)" "^$SN_ROOT/snapshots/[^/:]+/[^:]*:$src$" "$lower"
    [ "$(snapshot_dir_of "${lower%%:*}")" = "$(snapshot_dir_of "$up")" ] \
        && pass "e2e-c2 committed in place (its lowerdir is e2e-a2's upperdir dir)" \
        || info "note: e2e-c2's dir ${lower%%:*} differs from e2e-a2's upperdir $up (commit moved data)"
    if mount_from_out; then
        check_eq "view e2e-v2 contents" "dir,dir/x,dir/y,link,two.txt" \
            "$(cd "$mnt" && find . -mindepth 1 | sed 's#^\./##' | sort | paste -sd, -)"
        if touch "$mnt/ro-test" 2>/dev/null; then
            fail "view e2e-v2 is read-only" "touch fails" "touch succeeded"
        else
            pass "view e2e-v2 is read-only"
        fi
        umount "$mnt"
    else
        fail "mount e2e-v2" "mount succeeds" "mount failed: $OUT"
    fi
    run $s commit e2e-cv e2e-v1
    expect_err "commit of a view fails" "failed precondition|not active|invalid|view"

    # 5. diff (containerd's differ mounts our snapshots)
    run bash -c "$CTR --address $CTD_SOCK snapshots --snapshotter $SN diff e2e-c2 | tar -tzf - | sed 's#^\./##' | sort | paste -sd, -"
    expect_ok "snapshots diff e2e-c2 (against its parent)"
    check_eq "diff e2e-c2 lists the layer's changes" ".wh.hello.txt,dir/,dir/y,two.txt" "$OUT"

    # 6. ls / tree / usage
    run $s ls
    expect_ok "snapshots ls"
    check_eq "ls rows (key parent kind)" \
        "e2e-a3 e2e-c2 Active|e2e-c1  Committed|e2e-c2 e2e-c1 Committed|e2e-v1 e2e-c1 View|e2e-v2 e2e-c2 View" \
        "$(tail -n +2 <<<"$OUT" | awk '{ if (NF == 2) print $1 "  " $2; else print $1 " " $2 " " $3 }' | sort | paste -sd'|' -)"
    run $s tree
    expect_ok "snapshots tree"
    check_match "tree: e2e-c1 is a root" "^ e2e-c1$" "$OUT"
    check_match "tree: e2e-c2 under e2e-c1" "^  \\\\_ e2e-c2$" "$OUT"
    check_match "tree: e2e-v1 under e2e-c1" "^  \\\\_ e2e-v1$" "$OUT"
    check_match "tree: e2e-a3 under e2e-c2" "^    \\\\_ e2e-a3$" "$OUT"
    check_match "tree: e2e-v2 under e2e-c2" "^    \\\\_ e2e-v2$" "$OUT"
    run $s usage -b e2e-c1
    expect_ok "usage -b e2e-c1"
    local size inodes
    read -r _ size inodes < <(tail -n +2 <<<"$OUT")
    if [[ "${size:-}" =~ ^[0-9]+$ ]] && [ "$size" -ge 12 ] && [ "${inodes:-0}" -ge 4 ]; then
        pass "usage e2e-c1: size $size >= 12 bytes, inodes $inodes >= 4"
    else
        fail "usage e2e-c1" "size >= 12 (hello.txt + dir/x) and inodes >= 4" "$OUT"
    fi
    run $s usage -b e2e-c2
    read -r _ size inodes < <(tail -n +2 <<<"$OUT")
    if [[ "${size:-}" =~ ^[0-9]+$ ]] && [ "$size" -ge 6 ] && [ "${inodes:-0}" -ge 3 ]; then
        pass "usage e2e-c2: size $size >= 6 bytes, inodes $inodes >= 3"
    else
        fail "usage e2e-c2" "size >= 6 (two.txt + dir/y) and inodes >= 3" "$OUT"
    fi
    run $s usage -b
    expect_ok "usage -b (all snapshots)"
    check_eq "usage lists every snapshot" "e2e-a3,e2e-c1,e2e-c2,e2e-v1,e2e-v2" "$(tail -n +2 <<<"$OUT" | awk '{ print $1 }' | sort | paste -sd, -)"

    # 7. labels (containerd.io/snapshot/... labels reach the backend)
    run $s label e2e-c1 containerd.io/snapshot/e2e=value1 e2e.example/other=x
    expect_ok "label e2e-c1 containerd.io/snapshot/e2e=value1"
    check_match "label prints the new labels" "containerd.io/snapshot/e2e=value1" "$OUT"
    run $s info e2e-c1
    check_eq "info shows label containerd.io/snapshot/e2e" "value1" "$(jq -r '(.Labels // .labels)["containerd.io/snapshot/e2e"]' <<<"$OUT" 2>&1)"
    check_eq "info shows label e2e.example/other" "x" "$(jq -r '(.Labels // .labels)["e2e.example/other"]' <<<"$OUT" 2>&1)"
    run $s label e2e-c1 containerd.io/snapshot/e2e=
    expect_ok "label with empty value (delete)"
    run $s info e2e-c1
    check_eq "label deleted" "null" "$(jq -r '(.Labels // .labels)["containerd.io/snapshot/e2e"]' <<<"$OUT" 2>&1)"
    check_eq "gc.root label kept" "e2e" "$(jq -r '(.Labels // .labels)["containerd.io/gc.root"]' <<<"$OUT" 2>&1)"

    # 8. rm
    run $s rm e2e-c1
    expect_err "rm of a snapshot with children fails" "failed precondition|child|dependent"
    run $s rm e2e-v2 e2e-v1 e2e-a3
    expect_ok "rm e2e-v2 e2e-v1 e2e-a3"
    run $s rm e2e-c2
    expect_ok "rm e2e-c2"
    run $s rm e2e-c1
    expect_ok "rm e2e-c1"
    run $s rm e2e-c1
    expect_err "rm of a missing snapshot: not found" "not found"
    run $s ls
    check_eq "ls empty after rm" "" "$(tail -n +2 <<<"$OUT")"
    wait_gc_empty "after ctr snapshots rm"
}

# containerd removes backend snapshots in its GC, after the metadata delete.
# A delete that commits while a GC is cleaning up is not noticed by the
# scheduler (containerd drops mutation events older than the last GC) and
# waits for the next GC: so after a second, trigger one explicitly with
# a synchronous lease delete.
trigger_gc() {
    local id=e2e-gc-$RANDOM$RANDOM
    ctr_ leases create --id "$id" >/dev/null 2>&1 && ctr_ leases rm --sync "$id" >/dev/null 2>&1
}
wait_gc_empty() {
    local what=$1 i n
    [ "$ABORT" = 1 ] && return 0
    for ((i = 0; i < 300; i++)); do
        n=$(snapshot_count)
        [ "$n" -eq 0 ] && break
        daemon_dead >/dev/null && break
        if [ $((i % 10)) -eq 9 ]; then trigger_gc; else sleep 0.1; fi
    done
    LAST_CMD="ls $SN_ROOT/snapshots"
    check_eq "no snapshot directory left in $SN_ROOT/snapshots $what" "" \
        "$(ls -A "$SN_ROOT/snapshots" 2>&1 | head -20 | paste -sd' ' -)"
    local d
    for d in staging trash; do
        [ -d "$SN_ROOT/$d" ] && [ -n "$(ls -A "$SN_ROOT/$d")" ] && \
            info "note: $SN_ROOT/$d not empty $what: $(ls -A "$SN_ROOT/$d" | head -5 | paste -sd' ' -)"
    done
    return 0
}

test_images() {
    section "images: pull, import, run (--snapshotter $SN)"
    local plat=(--platform "linux/$(jq -r .manifests[0].platform.architecture "$IMG_DIR/layout/index.json")")

    run ctr_ images pull --plain-http --snapshotter "$SN" "${plat[@]}" "$PULL_REF"
    expect_ok "pull --plain-http $PULL_REF" || true
    run ctr_ images ls -q
    check_match "image $PULL_REF listed" "^$PULL_REF$" "$OUT"
    run ctr_ snapshots --snapshotter "$SN" ls
    check_eq "pull created the two layer snapshots (chain IDs)" \
        "$(printf '%s\n' "$CHAIN1  Committed" "$CHAIN2 $CHAIN1 Committed" | sort | paste -sd'|' -)" \
        "$(tail -n +2 <<<"$OUT" | awk '{ if (NF == 2) print $1 "  " $2; else print $1 " " $2 " " $3 }' | sort | paste -sd'|' -)"
    local n i
    n=$(snapshot_count)
    check_eq "two snapshot directories in $SN_ROOT/snapshots" "2" "$n"

    run ctr_ images import --snapshotter "$SN" "${plat[@]}" "$IMG_DIR/image.tar"
    expect_ok "import image.tar"
    run ctr_ images ls -q
    check_match "imported image named $IMPORT_NAME" "^$IMPORT_NAME$" "$OUT"
    run ctr_ images check --snapshotter "$SN"
    check_match "images check: $IMPORT_NAME complete and unpacked in $SN" "^${IMPORT_NAME}[[:space:]].*complete.*[[:space:]]true[[:space:]]*$" "$OUT"
    n=$(snapshot_count)
    check_eq "import reused the layer snapshots (still 2 directories)" "2" "$n"

    # strata restarts under a running containerd: state persists, the proxy reconnects
    if [ "$SN" != overlayfs ]; then
        local old=$STRATA_PID
        LAST_CMD="kill -TERM $old"
        if stop_pid "$old" 15; then
            check_eq "strata-snapshotter exits 0 on SIGTERM (restart)" "0" "$STOP_RC"
        else
            fail "strata-snapshotter exits on SIGTERM (restart)" "exit within 15 s" "killed"
        fi
        local p keep=()
        for p in "${PIDS[@]}"; do [ "$p" = "$old" ] || keep+=("$p"); done
        PIDS=("${keep[@]}")
        echo "--- restart ---" >>"$STRATA_LOG"
        start_strata keep || return 1
        for ((i = 0; i < 50; i++)); do
            run ctr_ snapshots --snapshotter "$SN" ls
            [ "$RC" -eq 0 ] && break
            sleep 0.2
        done
        check_eq "after a strata restart: layer snapshots still listed" \
            "$(printf '%s\n' "$CHAIN1  Committed" "$CHAIN2 $CHAIN1 Committed" | sort | paste -sd'|' -)" \
            "$(tail -n +2 <<<"$OUT" | awk '{ if (NF == 2) print $1 "  " $2; else print $1 " " $2 " " $3 }' | sort | paste -sd'|' -)"
        run ctr_ snapshots --snapshotter "$SN" usage -b "$CHAIN1"
        expect_ok "after a strata restart: usage of $CHAIN1"
    fi

    local script expected
    script='test -e /etc/gone.txt && echo gone:present || echo gone:absent
echo "opaque:$(ls -A /opaque | tr "\n" " ")"
echo "keep:$(cat /etc/keep.txt)"
echo "added:$(cat /etc/added-link)"
echo "links:$(stat -c %h /etc/added.txt)"
echo "owned:$(stat -c %u:%g:%a /etc/owned.txt)"
echo "hello:$(/bin/hello)"
echo written > /root/new.txt && echo "write:$(cat /root/new.txt)"
rm /etc/keep.txt && echo "rm-lower:$(test -e /etc/keep.txt && echo present || echo absent)"
mkdir -p /opaque/newdir && echo "mkdir:ok"
while read -r dev mp type rest; do [ "$mp" = / ] && echo "rootfs:$type" && break; done < /proc/mounts'
    expected='gone:absent
opaque:c 
keep:kept
added:added in layer 2
links:2
owned:1000:1000:600
hello:hello from layer 2
write:written
rm-lower:absent
mkdir:ok
rootfs:overlay'
    run ctr_ run --rm --snapshotter "$SN" "$PULL_REF" e2e-run-1 sh -c "$script"
    expect_ok "ctr run --rm (pulled image)"
    check_eq "container sees the layers' whiteouts, files and a writable rootfs" "$expected" "$OUT"

    run ctr_ run --rm --snapshotter "$SN" "$IMPORT_NAME" e2e-run-2 sh -c \
        'cat /etc/keep.txt; test -e /root/new.txt && echo leaked || echo clean; ls -A /opaque | tr "\n" " "'
    expect_ok "ctr run --rm (imported image), second container"
    check_eq "second container starts from pristine layers" "kept
clean
c " "$OUT"

    # a detached task: its snapshot is active while it runs, and the shim is the right one
    run ctr_ run -d --snapshotter "$SN" "$IMPORT_NAME" e2e-ctr-3 sleep 120
    expect_ok "ctr run -d e2e-ctr-3 sleep 120"
    run ctr_ snapshots --snapshotter "$SN" ls
    check_match "container snapshot e2e-ctr-3 is active on $CHAIN2" "^e2e-ctr-3[[:space:]]+${CHAIN2}[[:space:]]+Active" "$OUT"
    local tpid ppid shim_exe
    tpid=$(ctr_ tasks ls 2>/dev/null | awk '$1 == "e2e-ctr-3" { print $2 }')
    ppid=$(awk '{ print $4 }' "/proc/${tpid:-0}/stat" 2>/dev/null)
    shim_exe=$(readlink "/proc/${ppid:-0}/exe" 2>/dev/null)
    LAST_CMD="readlink /proc/<ppid of task $tpid>/exe"
    check_eq "task runs under $(dirname "$CTD")/containerd-shim-runc-v2" "$(dirname "$CTD")/containerd-shim-runc-v2" "$shim_exe"
    run ctr_ tasks kill -s KILL e2e-ctr-3
    expect_ok "tasks kill e2e-ctr-3"
    for ((i = 0; i < 100; i++)); do
        [[ "$(ctr_ tasks ls 2>/dev/null)" == *$'\n'"e2e-ctr-3 "*RUNNING* ]] || break
        sleep 0.1
    done
    run ctr_ tasks rm e2e-ctr-3
    expect_ok "tasks rm e2e-ctr-3"
    run ctr_ containers rm e2e-ctr-3
    expect_ok "containers rm e2e-ctr-3"

    # remove images; --sync waits for containerd's GC
    run ctr_ images rm --sync "$PULL_REF" "$IMPORT_NAME"
    expect_ok "images rm --sync"
    run ctr_ containers ls -q
    check_eq "no containers left" "" "$OUT"
    run ctr_ images ls -q
    check_eq "no images left" "" "$OUT"
    for ((i = 0; i < 100; i++)); do
        run ctr_ snapshots --snapshotter "$SN" ls
        [ -z "$(tail -n +2 <<<"$OUT")" ] && break
        sleep 0.1
    done
    check_eq "snapshots ls empty after image rm + GC" "" "$(tail -n +2 <<<"$OUT")"
    wait_gc_empty "after image rm + GC"
}

# time_cmd <var> <cmd...>: runs, stores ms in var; fails check if non-zero
time_cmd() {
    local __v=$1 t0 t1; shift
    t0=$(now_ms)
    run "$@"
    t1=$(now_ms)
    printf -v "$__v" '%s' $((t1 - t0))
    [ "$RC" -eq 0 ] || fail "timed command" "exit status 0" "exit status $RC; stderr: $ERR"
}

test_timings() {
    section "timings ($REPS repetitions each)"
    local sn i ms imp=() st=() sns=("$SN")
    [ "$SN" != overlayfs ] && sns+=(overlayfs)
    for sn in "${sns[@]}"; do
        imp=(); st=()
        for ((i = 0; i < REPS; i++)); do
            time_cmd ms ctr_ images import --snapshotter "$sn" "$IMG_DIR/image.tar"
            imp+=("$ms")
            if [ "$i" -lt $((REPS - 1)) ]; then
                run ctr_ images rm --sync "$IMPORT_NAME"
            fi
        done
        for ((i = 0; i < REPS; i++)); do
            time_cmd ms ctr_ run --rm --snapshotter "$sn" "$IMPORT_NAME" "e2e-t-$i" true
            st+=("$ms")
        done
        TIMES["$CUR_VER/$sn/import"]=$(median "${imp[@]}")
        TIMES["$CUR_VER/$sn/run"]=$(median "${st[@]}")
        info "$sn: import ms: ${imp[*]} (median ${TIMES["$CUR_VER/$sn/import"]}); run --rm true ms: ${st[*]} (median ${TIMES["$CUR_VER/$sn/run"]})"
        run ctr_ images rm --sync "$IMPORT_NAME"
        expect_ok "images rm --sync after timing ($sn)"
    done
    wait_gc_empty "after the timing runs"
}

# alive <section>: the daemons still run (else abort this version: every
# further check would fail for the same reason)
alive() {
    local rc
    [ "$ABORT" = 1 ] && return 1
    if [ "$SN" != overlayfs ] && ! kill -0 "$STRATA_PID" 2>/dev/null; then
        wait "$STRATA_PID" 2>/dev/null; rc=$?
        fatal "strata-snapshotter (pid $STRATA_PID) died during '$1' (exit status $rc$([ "$rc" -gt 128 ] && echo ", signal $((rc - 128))"))"
        return 1
    fi
    if ! kill -0 "$CTD_PID" 2>/dev/null; then
        fatal "containerd (pid $CTD_PID) died during '$1'"
        return 1
    fi
}

stop_daemons() {
    section "shutdown"
    if [ -n "${CTD_PID:-}" ]; then
        if stop_pid "$CTD_PID" 20; then pass "containerd stopped (status $STOP_RC)"; else fail "containerd stops on SIGTERM" "exit within 20 s" "killed"; fi
    fi
    kill_our_shims "$CTD_SOCK"
    if [ "$SN" != overlayfs ] && [ -n "${STRATA_PID:-}" ]; then
        LAST_CMD="kill -TERM $STRATA_PID"
        if stop_pid "$STRATA_PID" 15; then
            check_eq "strata-snapshotter exits 0 on SIGTERM" "0" "$STOP_RC"
        else
            fail "strata-snapshotter exits on SIGTERM" "exit within 15 s" "still running, killed"
        fi
        [ -S "$STRATA_SOCK" ] && info "note: strata left its socket file behind"
    fi
    local left
    left=$(awk -v d="$SN_ROOT" 'index($5, d "/") == 1 || $5 == d { print $5 }' /proc/self/mountinfo)
    LAST_CMD="grep $SN_ROOT /proc/self/mountinfo"
    check_eq "no mounts left under the snapshotter root" "" "$left"
    PIDS=()
    CTD_PID='' STRATA_PID=''
}

scenario() {
    local ver=$1
    CUR_VER=$ver
    ABORT=0 DUMPS=0 STRATA_PID='' CTD_PID=''
    V_T0=$(date +%s)
    VDIR=$WORK/containerd-$ver
    rm -rf "$VDIR"; mkdir -p "$VDIR"
    local tmp
    tmp=$(mktemp -d /tmp/se2e.XXXXXX)
    TMPDIRS+=("$tmp")
    MOUNT_ROOTS+=("$VDIR")
    CTD_ROOT=$VDIR/root
    CTD_STATE=$tmp/state
    CTD_SOCK=$tmp/c.sock
    CTD_CONFIG=$VDIR/config.toml
    STRATA_SOCK=$tmp/s.sock
    STRATA_ROOT=$VDIR/strata-root
    STRATA_LOG='' CTD_LOG=''
    case "$ver" in
    1.6)
        CTD=/usr/bin/containerd CTR=/usr/bin/ctr
        CTD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ;;
    *)
        local cache=${STRATA_CONTAINERD_CACHE:-$WORK/containerd-cache}
        section "fetching containerd $ver"
        if ! STRATA_CONTAINERD_SERIES=$ver "$REPO/scripts/fetch-containerd.sh" "$cache"; then
            fatal "scripts/fetch-containerd.sh $cache failed"; return 1
        fi
        CTD=$cache/root/usr/bin/containerd CTR=$cache/root/usr/bin/ctr
        CTD_PATH=$cache/root/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ;;
    esac
    if [ "$SN" = overlayfs ]; then
        SN_ROOT=$CTD_ROOT/io.containerd.snapshotter.v1.overlayfs
    else
        SN_ROOT=$STRATA_ROOT
    fi
    section "containerd $ver ($("$CTD" --version | awk '{ print $3 }')), snapshotter $SN, work dir $VDIR"
    write_config "$ver" "$CTD_CONFIG"
    if [ "$SN" != overlayfs ]; then start_strata || return 1; fi
    start_containerd || return 1
    # let the startup GC (100 ms after start) pass before creating unpinned snapshots
    sleep 0.3
    test_snapshot_commands; alive "ctr snapshots" || return 1
    test_images;            alive "images" || return 1
    test_timings;           alive "timings" || return 1
    stop_daemons
    VTIME[$ver]=$(($(date +%s) - V_T0))
    if [ "$KEEP" != 1 ]; then
        unmount_under "$VDIR"
        rm -rf "$CTD_ROOT" "$STRATA_ROOT"
    fi
}

# --- main ----------------------------------------------------------------------------------
echo "strata e2e: snapshotter=$SN binary=$STRATA_BIN work=$WORK versions='$VERSIONS' reps=$REPS"
ensure_packages
build_image
start_registry
for v in $VERSIONS; do
    scenario "$v" || {
        # a fatal setup error: stop what runs for this version and go on
        for p in "${PIDS[@]}"; do [ -n "$p" ] && stop_pid "$p" 10; done
        PIDS=()
        kill_our_shims "$CTD_SOCK"
        unmount_under "$VDIR"
        VTIME[$v]="$(($(date +%s) - V_T0)) (aborted)"
    }
done
CUR_VER=-
STRATA_LOG='' CTD_LOG=''

echo
echo "${c_bold}=== timings (median of $REPS, milliseconds)${c_off}"
printf '%-12s %-12s %12s %16s\n' containerd snapshotter "import" "run --rm true"
for v in $VERSIONS; do
    for sn in $SN overlayfs; do
        [ -n "${TIMES[$v/$sn/import]:-}" ] || continue
        printf '%-12s %-12s %12s %16s\n' "$v" "$sn" "${TIMES[$v/$sn/import]}" "${TIMES[$v/$sn/run]}"
        [ "$SN" = overlayfs ] && break
    done
done
echo
for v in $VERSIONS; do echo "containerd $v scenario: ${VTIME[$v]:-not run} s"; done
echo "total: $(($(date +%s) - T0)) s"
if [ "$FAIL" -gt 0 ]; then
    echo
    echo "${c_red}failed checks:${c_off}"
    printf '  %s\n' "${FAILED_CHECKS[@]}"
fi
echo
echo "e2e: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
