# shellcheck shell=bash
# Helpers the containerd end-to-end scripts share (differ.sh, compare.sh,
# userns.sh, cri.sh).
# Sourced; defines functions only.
#
# The script keeps PASS, FAIL, FAILED and SKIPPED, defines E2E_CASE (names
# the case a failure belongs to) and sets:
#   REPO, WORK  the repository and the test's work dir
#   TMP         a short directory for sockets and mount points
#   STRATA_BIN  the daemon under test
#   VER         the containerd series of the case ("1.7", "2.1")
#   ARCH        the platform's architecture (the transfer service's unpack_config)
#   BACKEND     (optional) Strata's --backend; rebase is advertised for overlay only
# and declares PIDS=() (stop_daemons stops them, first to last).
#
# checks:      e2e_require, pass, fail, check_eq, e2e_finish
# lifetime:    e2e_tmp, e2e_cleanup
# processes:   stop_pid, wait_for, kill_shims, stop_daemons, unmount_under
# containerd:  fetch_containerd, e2e_roots, write_config, start_strata,
#              start_containerd, stop_containerd, start, ctr_
# registry:    start_registry, push_image
# Strata:      status_field
# trees:       list_tree

# --- checks ---------------------------------------------------------------------
pass() { PASS=$((PASS + 1)); echo "  ok   $1"; }
fail() {
    FAIL=$((FAIL + 1)); FAILED+=("[$(E2E_CASE)] $1"); echo "  FAIL $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | head -40 | sed 's/^/       /'
    return 0
}
check_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2
got:      $3"; fi; }
# e2e_finish <name>: the summary lines, then exit 1 on a failure, 77 when
# nothing ran (every containerd version skipped), else 0.
e2e_finish() {
    echo
    [ ${#SKIPPED[@]} -gt 0 ] && echo "skipped containerd versions: ${SKIPPED[*]}"
    [ "$FAIL" -gt 0 ] && printf 'failed: %s\n' "${FAILED[@]}"
    echo "$1: $PASS passed, $FAIL failed"
    [ "$FAIL" -gt 0 ] && exit 1
    [ "$PASS" -eq 0 ] && exit 77
    exit 0
}

# e2e_require <what root is for> <tool>...: exits 77 with a SKIP line saying
# why unless this is root, the kernel has overlayfs and every tool is here.
e2e_require() {
    local why=$1 t
    shift
    if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root ($why)"; exit 77; fi
    if ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then
        echo "SKIP: the kernel has no overlayfs"; exit 77
    fi
    for t in "$@"; do
        command -v "$t" >/dev/null || { echo "SKIP: $t missing (scripts/install-deps.sh installs it)"; exit 77; }
    done
}

# --- processes and mounts ---------------------------------------------------------
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
unmount_under() {
    local m
    for m in $(awk -v d="$1" 'index($5, d "/") == 1 || $5 == d { print $5 }' /proc/self/mountinfo | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
}
# The shims of the test's own containerd (those whose -address is $CTD_SOCK).
kill_shims() {
    local p cmd
    for p in /proc/[0-9]*; do
        cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
        [[ "$cmd" == *containerd-shim*" -address $CTD_SOCK "* ]] && kill -KILL "${p#/proc/}" 2>/dev/null
    done
    return 0
}
wait_for() { local t=$1 i; shift; for ((i = 0; i < t * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
stop_daemons() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    PIDS=()
    kill_shims
    unmount_under "$WORK"
}

# e2e_tmp <prefix>: TMP, a fresh short directory (sockets, mount points,
# containerd's state), removed with what is mounted under it when the script
# exits (e2e_cleanup is the EXIT trap; it keeps the exit status).
e2e_tmp() {
    TMP=$(mktemp -d "/tmp/$1.XXXXXX")
    CTD_SOCK=/nonexistent
    trap e2e_cleanup EXIT
}
# shellcheck disable=SC2317  # the EXIT trap runs it
e2e_cleanup() {
    local rc=$?
    stop_daemons
    [ -n "${REG_PID:-}" ] && stop_pid "$REG_PID"
    unmount_under "$TMP"
    rm -rf "$TMP"
    exit "$rc"
}

# --- containerd and Strata --------------------------------------------------------
# fetch_containerd [package...]: containerd $VER from Debian
# (scripts/fetch-containerd.sh) into
# ${STRATA_CONTAINERD_CACHE_ROOT:-$WORK}/containerd-cache-$VER; CTD_BIN=its
# usr/bin; any further packages of its suite under CTD_EXTRA. When it
# cannot: a SKIP line, $VER added to SKIPPED, status 1.
fetch_containerd() {
    local cache=${STRATA_CONTAINERD_CACHE_ROOT:-$WORK}/containerd-cache-$VER
    if ! STRATA_CONTAINERD_SERIES=$VER "$REPO/scripts/fetch-containerd.sh" "$cache" "$@" >"$WORK/fetch-$VER.log" 2>&1; then
        echo "SKIP containerd $VER: could not fetch it: $(tail -n 2 "$WORK/fetch-$VER.log")"
        SKIPPED+=("$VER")
        return 1
    fi
    CTD_BIN=$cache/root/usr/bin
    CTD_EXTRA=$cache/extra
}

# start_registry: a docker-registry on a random loopback port, its storage
# under $TMP (REG=host:port, REG_PID; e2e_cleanup stops it).
start_registry() {
    local port=$((20000 + RANDOM % 40000))
    REG=127.0.0.1:$port
    mkdir -p "$TMP/registry"
    cat >"$TMP/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $TMP/registry/storage
http:
  addr: $REG
EOF
    docker-registry serve "$TMP/registry/config.yml" >"$WORK/registry.log" 2>&1 &
    REG_PID=$!
    wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || { echo "FAIL: registry did not start"; exit 1; }
}
# push_image <oci-layout:tag> <ref>: skopeo copy into the registry (exits on failure).
push_image() {
    skopeo copy --quiet --dest-tls-verify=false "oci:$1" "docker://$2" >"$WORK/skopeo.log" 2>&1 \
        || { echo "FAIL: skopeo push of $1"; cat "$WORK/skopeo.log"; exit 1; }
}

# e2e_roots <tag>: fresh roots for one daemon pair in $WORK/$VER-<tag>
# (VDIR), sockets and containerd's state under $TMP.
e2e_roots() {
    local tag=$1
    VDIR=$WORK/$VER-$tag
    rm -rf "$VDIR"; mkdir -p "$VDIR"
    CTD_ROOT=$VDIR/containerd-root CTD_STATE=$TMP/$VER-$tag-state CTD_SOCK=$TMP/$VER-$tag-c.sock
    CTD_CONFIG=$VDIR/config.toml STRATA_SOCK=$TMP/$VER-$tag-s.sock STRATA_ROOT=$VDIR/strata-root
    STRATA_LOG=$VDIR/strata.log CTD_LOG=$VDIR/containerd.log
}

# write_config [differs]: containerd $VER's config with Strata as snapshotter
# ([proxy_plugins.strata]) and differ ([proxy_plugins.strata-diff]); the
# diff service's default list is <differs> (a TOML list), by default
# ["strata-diff", "walking"].
write_config() {
    local differs=${1:-'["strata-diff", "walking"]'}
    # 2.x: exports.root tells CRI's image-filesystem stats where Strata's disk is.
    # rebase: Commit with a parent, which lets 2.2+ unpack layers in parallel
    # (max_concurrent_unpacks below); advertise it only with the overlay backend.
    local exports="" transfer_opts=""
    if [[ "$VER" != 1.* ]]; then
        # remap-ids (E2E_REMAP_IDS=1, with Strata's --remap-ids on):
        # ID-mapped snapshots answered with uidmap=/gidmap= mounts (issue
        # 17), so containerd makes no chowned copy for a user-namespaced
        # container.
        local caps=()
        [ "${BACKEND:-overlay}" = overlay ] && caps+=('"rebase"')
        [ "${E2E_REMAP_IDS:-0}" = 1 ] && caps+=('"remap-ids"')
        exports="  capabilities = [$(IFS=,; echo "${caps[*]}" | sed 's/,/, /g')]
  exports = { root = \"$STRATA_ROOT\" }"
        transfer_opts="  max_concurrent_unpacks = 4"
    fi
    local proxies="[proxy_plugins.strata]
  type = \"snapshot\"
  address = \"$STRATA_SOCK\"
$exports

[proxy_plugins.strata-diff]
  type = \"diff\"
  address = \"$STRATA_SOCK\""
    local version disabled
    case "$VER" in
    1.*) version=2
        disabled='"io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs"' ;;
    *) version=3
        disabled='"io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images",
  "io.containerd.cri.v1.runtime", "io.containerd.podsandbox.controller.v1.podsandbox",'
        [ -n "${CRI_SNAPSHOTTER:-}" ] && disabled=
        disabled+='"io.containerd.nri.v1.nri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.blockfile", "io.containerd.snapshotter.v1.erofs",
  "io.containerd.differ.v1.erofs"' ;;
    esac
    # The same keys in both config versions; the transfer service's
    # unpack_config (2.x pull/import; 1.7 when asked for it) names each
    # snapshotter's differ.
    cat >"$CTD_CONFIG" <<EOF
version = $version
root = "$CTD_ROOT"
state = "$CTD_STATE"
disabled_plugins = [$disabled]
[grpc]
  address = "$CTD_SOCK"
[plugins."io.containerd.service.v1.diff-service"]
  default = $differs
$(cri_config)
[plugins."io.containerd.transfer.v1.local"]
$transfer_opts
  [[plugins."io.containerd.transfer.v1.local".unpack_config]]
    platform = "linux/$ARCH"
    snapshotter = "strata"
    differ = "strata-diff"
  [[plugins."io.containerd.transfer.v1.local".unpack_config]]
    platform = "linux/$ARCH"
    snapshotter = "overlayfs"
    differ = "walking"
$proxies
EOF
}

# cri_config: with CRI_SNAPSHOTTER set (2.x), the CRI plugins' config:
# images in that snapshotter, CRI_PAUSE the pinned sandbox image, pulls over
# plain HTTP from $REG (a hosts.toml under $VDIR/certs.d), snapshot stats
# every CRI_STATS_PERIOD seconds (default 1), CNI's configuration in $VDIR
# (the test's pods use the host's network); with CRI_USERNS_RUNC, a
# runtime handler "runc-userns" that runs it, and a CNI network (bridge
# CRI_BRIDGE, plugins in CRI_CNI_BIN) for its pods. When this root lacks
# CAP_SYS_RESOURCE (some VMs' sandboxes drop it), runc cannot give the pause
# container kubelet's oom_score_adj of -998, so restrict_oom_score_adj
# keeps it at ours.
cri_config() {
    [ -n "${CRI_SNAPSHOTTER:-}" ] || return 0
    local restrict_oom=false cap_eff
    cap_eff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
    (( (16#$cap_eff >> 24) & 1 )) || restrict_oom=true
    mkdir -p "$VDIR/certs.d/$REG" "$VDIR/cni/conf"
    cat >"$VDIR/certs.d/$REG/hosts.toml" <<EOF
server = "http://$REG"
[host."http://$REG"]
  capabilities = ["pull", "resolve"]
EOF
    cat <<EOF
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "$CRI_SNAPSHOTTER"
  stats_collect_period = ${CRI_STATS_PERIOD:-1}
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "$CRI_PAUSE"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "$VDIR/certs.d"
[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = $restrict_oom
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["$CRI_CNI_BIN"]
    conf_dir = "$VDIR/cni/conf"
EOF
    [ -n "${CRI_USERNS_RUNC:-}" ] || return 0
    # A user-namespaced pod needs a network namespace of its own (containerd
    # pins the user namespace through it): a bridge with no gateway and no
    # masquerade, host-local addresses, nothing routed off the host.
    cat >"$VDIR/cni/conf/10-strata-e2e.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "strata-e2e", "plugins": [{"type": "bridge", "bridge": "$CRI_BRIDGE",
 "isGateway": false, "ipMasq": false, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.250.77.0/24"}]],
 "dataDir": "$VDIR/cni/ipam"}}]}
EOF
    cat <<EOF
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc-userns]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc-userns.options]
      BinaryName = "$CRI_USERNS_RUNC"
EOF
}

# start_strata [flags]: the daemon on $STRATA_ROOT and $STRATA_SOCK.
# shellcheck disable=SC2120  # compare.sh passes --backend
start_strata() {
    "$STRATA_BIN" --root "$STRATA_ROOT" --address "$STRATA_SOCK" --containerd-address "$CTD_SOCK" \
        --metrics-address 127.0.0.1:0 "$@" >"$STRATA_LOG" 2>&1 &
    PIDS+=($!)
    wait_for 20 test -S "$STRATA_SOCK" || { fail "strata-snapshotter starts" "$(tail "$STRATA_LOG")"; return 1; }
}
# start_containerd [differs]: writes the config (write_config) and starts
# containerd $VER on it (CTD_PID; stopped before Strata), then checks that
# it loaded Strata's proxy differ (and, 2.x on overlay, sees rebase).
start_containerd() {
    write_config "${1:-}"
    PATH="$CTD_BIN:$PATH" "$CTD_BIN/containerd" --config "$CTD_CONFIG" --log-level debug >>"$CTD_LOG" 2>&1 &
    CTD_PID=$!
    PIDS=("$CTD_PID" "${PIDS[@]}")  # containerd stops first
    wait_for 30 ctr_ version || { fail "containerd $VER starts" "$(tail "$CTD_LOG")"; return 1; }
    local plugins
    plugins=$(ctr_ plugins ls)
    if grep -qE 'io\.containerd\.differ\.v1[[:space:]]+strata-diff[[:space:]].*ok' <<<"$plugins"; then
        pass "containerd $VER loaded the strata-diff proxy differ"
    else
        fail "containerd $VER loaded the strata-diff proxy differ" "$(grep -E 'differ|strata' <<<"$plugins")"
    fi
    if [[ "$VER" != 1.* ]] && [ "${BACKEND:-overlay}" = overlay ]; then
        local detail
        detail=$(ctr_ plugins ls -d id==strata 2>&1)
        if grep -qi 'rebase' <<<"$detail"; then pass "containerd $VER sees Strata's rebase capability"
        else fail "containerd $VER sees Strata's rebase capability" "$detail"; fi
    fi
}
# stop_containerd: containerd only (Strata keeps running).
stop_containerd() {
    stop_pid "$CTD_PID"
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" != "$CTD_PID" ] && keep+=("$p"); done
    PIDS=("${keep[@]}")
}
# start <tag> [differs]: fresh roots, Strata then containerd.
start() {
    stop_daemons
    e2e_roots "$1"
    start_strata || return 1
    start_containerd "${2:-}" || return 1
}
ctr_() { "$CTD_BIN/ctr" --address "$CTD_SOCK" "$@"; }
# status_field <name>: .diff.<name> of `strata status --json` ("absent" when
# the daemon does not report it, -1 when the status call fails).
status_field() {
    local json
    json=$("$STRATA_CLI" --address "$STRATA_SOCK" status --json 2>&1) || { echo "status: $json" >&2; echo -1; return; }
    jq -r --arg f "$1" '.diff[$f] // "absent"' <<<"$json"
}

# metrics_address: the host:port Strata's log says it serves metrics on.
metrics_address() {
    grep -o 'msg="serving metrics" address=[0-9.]*:[0-9]*' "$STRATA_LOG" | tail -1 | sed 's/.*address=//'
}
# metric <sample>: the value of one sample (name with its labels, exactly as
# exposed) in a scrape of Strata's /metrics over TCP ("absent" when missing,
# -1 when the scrape fails).
metric() {
    local addr body
    addr=$(metrics_address)
    [ -n "$addr" ] || { echo "metric: no metrics address in $STRATA_LOG" >&2; echo -1; return; }
    body=$(exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}" && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3) \
        || { echo "metric: scrape of $addr failed" >&2; echo -1; return; }
    awk -v s="$1" 'index($0, s " ") == 1 { v = substr($0, length(s) + 2) } END { print (v == "" ? "absent" : v) }' <<<"$body"
}

# --- trees --------------------------------------------------------------------------
# list_tree <dir>: paths, types, modes, owners, sizes, link targets, file digests.
list_tree() {
    (cd "$1" && find . -mindepth 1 -printf '%p %y %m %U:%G %s %l\n' | sort \
        && find . -type f -print0 | sort -z | xargs -0 sha256sum)
}
