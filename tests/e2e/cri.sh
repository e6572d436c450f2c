#!/usr/bin/env bash
# Strata under containerd 2.1's CRI plugin, end to end, as on a Kubernetes
# node: tests/cri/e2e.py drives the CRI the way kubelet does (pull, pod,
# container, exec, stats, image filesystem, teardown, GC) and checks the node.
#
#   tests/e2e/cri.sh <path-to-strata-snapshotter> <work-dir>
#
# Two cases, each with fresh roots:
#   strata     CRI's snapshotter is Strata ([proxy_plugins.strata], its
#              exports root for ImageFsInfo) and the transfer service unpacks
#              with Strata's differ: every layer must be applied by Strata.
#   overlayfs  containerd's own overlayfs snapshotter, which proves the test:
#              the same checks must pass on the peer.
# Each ends with a short run of kubelet's load (bench/cri_load.py, 3 pods,
# one cycle), so that the bench keeps working. Then the rollout: a node's CRI
# switched from overlayfs to Strata on the same containerd root
# (tests/cri/rollout.py). With STRATA_CRI_BENCH=<out-dir>
# (bench/cri.sh) it runs only the full load, on both, and writes each
# one's JSON there.
#
# The CRI API's api.proto comes from Debian's golang-github-kubernetes-cri-api-dev
# (fetched beside containerd 2.1 by scripts/fetch-containerd.sh, never
# installed); the client is Python with Debian's python3-grpcio. The pause
# image is made here from busybox; images come from a local registry.
#
# Exit status: 0 passed, 1 failed, 77 skipped (not root, no overlayfs, no
# network for the .debs). The .debs are unpacked under
# $STRATA_CONTAINERD_CACHE_ROOT (default: the work dir).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
[ $# -eq 2 ] || { echo "usage: $0 <path-to-strata-snapshotter> <work-dir>" >&2; exit 2; }
# shellcheck source=e2e_lib.sh
. "$HERE/e2e_lib.sh"
e2e_require "containerd, overlayfs, runc" jq skopeo docker-registry runc busybox protoc /usr/bin/grpc_python_plugin
PY=/usr/bin/python3
$PY -c 'import grpc, google.protobuf' 2>/dev/null \
    || { echo "SKIP: Debian's python3-grpcio/python3-protobuf missing (scripts/install-deps.sh installs them)"; exit 77; }

STRATA_BIN=$(realpath "$1")
mkdir -p "$2" && WORK=$(cd "$2" && pwd)
cp "$STRATA_BIN" "$WORK/strata-snapshotter.under-test" || exit 1
STRATA_BIN=$WORK/strata-snapshotter.under-test

PASS=0 FAIL=0
FAILED=()
CASE=
E2E_CASE() { echo "$CASE"; }

declare -a PIDS=()
e2e_tmp scri
# containerd's state lives under $TMP: a user-namespaced pod's root (an
# unprivileged host ID) must pass through it, as through /run/containerd.
chmod 0711 "$TMP"
REG_PID=
SKIPPED=()
VER=2.1
# runc, libc6 and libseccomp2 from the same suite: the user-namespaced pod's
# runtime (prepare_userns_runc).
fetch_containerd golang-github-kubernetes-cri-api-dev runc libc6 libseccomp2 || e2e_finish "cri e2e"
API_PROTO=$CTD_EXTRA/usr/share/gocode/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto
[ -f "$API_PROTO" ] || { echo "FAIL: $API_PROTO missing from the cri-api package"; exit 1; }
GEN=$WORK/gen
$PY -c 'import sys; sys.path.insert(0, sys.argv[1]); import crilib; crilib.generate(sys.argv[2], sys.argv[3])' \
    "$REPO/tests/cri" "$API_PROTO" "$GEN" || { echo "FAIL: protoc of the CRI api.proto"; exit 1; }

# prepare_userns_runc: CRI_USERNS_RUNC, the suite's runc (containerd needs
# runc 1.2+ to idmap a user-namespaced pod's mounts; Debian 12 has 1.1.5),
# made to run here with patchelf: its loader and library path point at the
# suite's glibc, unpacked beside containerd (never installed, never on PATH). Empty (and the
# userns pod skipped, saying why) when it does not run.
CRI_USERNS_RUNC=
CRI_CNI_BIN=/usr/lib/cni  # Debian's containernetworking-plugins
CRI_BRIDGE=strata-e2e0
prepare_userns_runc() {
    local src=$CTD_EXTRA/usr/bin/runc interp lib out=$WORK/runc-userns
    [ -x "$src" ] || { USERNS_WHY="no runc in $CTD_EXTRA"; return 0; }
    [ -x "$CRI_CNI_BIN/bridge" ] || { USERNS_WHY="no CNI bridge plugin in $CRI_CNI_BIN (containernetworking-plugins)"; return 0; }
    interp=$(patchelf --print-interpreter "$src") || { USERNS_WHY="patchelf cannot read $src"; return 0; }
    lib=$(dirname "$(find "$CTD_EXTRA" -name "$(basename "$interp")" -path '*/lib/*' | head -1)")
    cp "$src" "$out" && patchelf --set-interpreter "$lib/$(basename "$interp")" --set-rpath "$lib" "$out" \
        || { USERNS_WHY="patchelf of $src failed"; return 0; }
    if ! "$out" features >"$WORK/runc-userns.features" 2>&1; then
        USERNS_WHY="the suite's runc does not run here: $(head -c 300 "$WORK/runc-userns.features")"; return 0
    fi
    CRI_USERNS_RUNC=$out
    echo "user-namespaced pods: $("$out" --version | head -1) (patched to $lib)"
}
USERNS_WHY=
prepare_userns_runc

# --- images -----------------------------------------------------------------------
IMG=$WORK/image
"$HERE/build-image.sh" "$IMG" localhost/strata-e2e:v1 >/dev/null || { echo "FAIL: build-image.sh"; exit 1; }
ARCH=$(jq -r '.manifests[0].platform.architecture' "$IMG/layout/index.json")
# The pause image: busybox's sleep, one layer of its own.
rm -rf "$WORK/pause"; mkdir -p "$WORK/pause/rootfs/bin"
cp /bin/busybox "$WORK/pause/rootfs/bin/busybox"
$PY -c 'import sys; sys.path.insert(0, sys.argv[1]); import crilib
crilib.make_image(sys.argv[2], "3.10", [sys.argv[3]], ["/bin/busybox", "sleep", "2147483647"], sys.argv[4])' \
    "$REPO/tests/cri" "$WORK/pause/layout" "$WORK/pause/rootfs" "$ARCH" || { echo "FAIL: the pause image"; exit 1; }
start_registry
REF=$REG/strata-e2e:v1
CRI_PAUSE=$REG/pause:3.10
push_image "$IMG/layout:v1" "$REF"
push_image "$WORK/pause/layout:3.10" "$CRI_PAUSE"

# --- the cases ----------------------------------------------------------------------
# cri_case <snapshotter>: fresh roots, Strata and containerd with CRI on,
# then e2e.py's checks (each an ok/FAIL line).
cri_case() {
    CASE=$1 CRI_SNAPSHOTTER=$1
    echo "== CRI on containerd $VER, snapshotter $1"
    stop_daemons
    e2e_roots "cri-$1"
    # Strata as a node runs it for user-namespaced pods: remap-ids declared
    # and on, so that containerd asks for ID-mapped snapshots (no chowned copy).
    if [ "$1" = strata ]; then
        E2E_REMAP_IDS=1 start_strata --remap-ids on || return 0
    else
        E2E_REMAP_IDS=0 start_strata || return 0
    fi
    E2E_REMAP_IDS=$([ "$1" = strata ] && echo 1 || echo 0) start_containerd || return 0
    local root metrics=
    if [ "$1" = strata ]; then
        root=$STRATA_ROOT
        metrics=$(metrics_address)
    else
        root=$CTD_ROOT/io.containerd.snapshotter.v1.$1
    fi
    local out rc
    out=$($PY "$REPO/tests/cri/e2e.py" --socket "$CTD_SOCK" --gen "$GEN" --image "$REF" --pause "$CRI_PAUSE" \
        --snapshotter "$1" --snapshotter-root "$root" --state "$CTD_STATE" --ctr "$CTD_BIN/ctr" \
        --work "$VDIR" ${metrics:+--metrics "$metrics"} ${USERNS_WHY:+--userns-skip "$USERNS_WHY"} 2>&1)
    rc=$?
    echo "$out"
    if [ $rc -eq 0 ]; then
        pass "CRI pod lifecycle on $1 ($(grep -c '^  ok ' <<<"$out") checks)"
    else
        fail "CRI pod lifecycle on $1" "$(grep -E '^  FAIL|Error|Traceback' <<<"$out")"
    fi
    if [ "$1" = strata ]; then
        local errors
        errors=$(grep -E 'level=(error|fatal)' "$STRATA_LOG" | head -5)
        check_eq "Strata logged no error" "" "$errors"
    fi
    load_smoke "$1" "$metrics"
    stop_daemons
    ip link del "$CRI_BRIDGE" 2>/dev/null
}

# rollout_case: the README's rollout on one node: CRI on overlayfs runs a pod;
# containerd restarts on the same root with CRI on Strata; the image is not
# pulled again, and a pod from it runs on Strata (tests/cri/rollout.py).
rollout_case() {
    CASE=rollout
    echo "== rollout: a node's CRI switched from overlayfs to Strata"
    stop_daemons
    e2e_roots rollout
    start_strata || return 0
    CRI_SNAPSHOTTER=overlayfs
    start_containerd || return 0
    local common=(--socket "$CTD_SOCK" --gen "$GEN" --image "$REF" --work "$VDIR") out
    if out=$($PY "$REPO/tests/cri/rollout.py" before "${common[@]}" 2>&1); then
        pass "rollout: a pod on overlayfs"
    else
        fail "rollout: a pod on overlayfs" "$out"; return 0
    fi
    stop_containerd
    CRI_SNAPSHOTTER=strata
    start_containerd || return 0
    if out=$($PY "$REPO/tests/cri/rollout.py" after "${common[@]}" --snapshotter-root "$STRATA_ROOT" \
        --metrics "$(metrics_address)" --layers 3 2>&1); then
        pass "rollout: after the switch, a pod from the same image on Strata, no pull"
    else
        fail "rollout: after the switch, a pod from the same image on Strata, no pull" "$out"
    fi
    echo "$out"
    stop_daemons
}

# load_smoke <snapshotter> [metrics-address]: bench/cri_load.py with 3 pods, one cycle.
load_smoke() {
    local out
    out=$($PY "$REPO/bench/cri_load.py" --socket "$CTD_SOCK" --gen "$GEN" --image "$REF" --cold-image "$REF" \
        ${2:+--metrics "$2"} \
        --pods 3 --cycles 1 --cold 1 --steady 3 --poll 1 --snapshotter "$1" --ctr "$CTD_BIN/ctr" --logs "$VDIR/load-logs" \
        --pid "$(pgrep -f "^$STRATA_BIN " | head -1)" --containerd-pid "$CTD_PID" --json "$VDIR/load.json" 2>&1)
    if [ $? -eq 0 ] && jq -e '.pods.start_ms.p50 > 0 and .stats.list_container_stats.calls > 0' "$VDIR/load.json" >/dev/null; then
        pass "kubelet's load (3 pods, one cycle) runs on $1"
    else
        fail "kubelet's load (3 pods, one cycle) runs on $1" "$out"
    fi
}

# bench_case <snapshotter>: bench/cri.sh's run (STRATA_CRI_BENCH=<out-dir>):
# kubelet's polling period for snapshot stats, the full load, a cold image
# of its own.
bench_case() {
    CASE=$1 CRI_SNAPSHOTTER=$1 CRI_STATS_PERIOD=10
    echo "== kubelet's load on containerd $VER, snapshotter $1"
    start "bench-$1" || return 0
    local pid= metrics=
    if [ "$1" = strata ]; then
        pid=$(pgrep -f "^$STRATA_BIN " | head -1)
        metrics=$(metrics_address)
    fi
    # shellcheck disable=SC2086  # STRATA_CRI_LOAD_ARGS: options, split on purpose
    if $PY "$REPO/bench/cri_load.py" --socket "$CTD_SOCK" --gen "$GEN" --image "$REF" --cold-image "$COLD_REF" \
        --snapshotter "$1" ${pid:+--pid "$pid"} ${metrics:+--metrics "$metrics"} --containerd-pid "$CTD_PID" --ctr "$CTD_BIN/ctr" \
        --logs "$VDIR/load-logs" --json "$STRATA_CRI_BENCH/$1.json" ${STRATA_CRI_LOAD_ARGS:-} >"$STRATA_CRI_BENCH/$1.log" 2>&1; then
        pass "kubelet's load on $1"
    else
        fail "kubelet's load on $1" "$(tail -20 "$STRATA_CRI_BENCH/$1.log")"
    fi
}

if [ -n "${STRATA_CRI_BENCH:-}" ]; then
    # The cold image: busybox and 3 layers of 1,000 files (4 KiB each) in
    # 20 directories, a layer with its own files as an application's are.
    rm -rf "$WORK/cold"; mkdir -p "$WORK/cold"
    $PY - "$REPO/tests/cri" "$WORK/cold" "$ARCH" <<'EOF' || { echo "FAIL: the cold image"; exit 1; }
import os, shutil, sys
sys.path.insert(0, sys.argv[1])
import crilib
out, arch = sys.argv[2], sys.argv[3]
layers = []
for n in range(4):
    root = os.path.join(out, f"layer{n}")
    if n == 0:
        os.makedirs(os.path.join(root, "bin"))
        shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
        os.symlink("busybox", os.path.join(root, "bin", "sh"))
        os.symlink("busybox", os.path.join(root, "bin", "sleep"))
    else:
        for i in range(1000):
            d = os.path.join(root, f"app{n}", f"d{i % 20}")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, f"f{i}"), "wb") as f:
                f.write(os.urandom(4096))
    layers.append(root)
crilib.make_image(os.path.join(out, "layout"), "v1", layers, ["/bin/sh"], arch)
EOF
    COLD_REF=$REG/strata-cold:v1
    push_image "$WORK/cold/layout:v1" "$COLD_REF"
    mkdir -p "$STRATA_CRI_BENCH"
    # STRATA_CRI_BENCH_ORDER: which runs first ("strata overlayfs" by default).
    for s in ${STRATA_CRI_BENCH_ORDER:-strata overlayfs}; do bench_case "$s"; done
    e2e_finish "cri bench"
fi

cri_case strata
cri_case overlayfs
rollout_case
e2e_finish "cri e2e"
