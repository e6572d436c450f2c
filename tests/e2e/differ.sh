#!/usr/bin/env bash
# End-to-end test of Strata's diff service (the fast unpack path) with real
# containerd 1.7 (Debian trixie) and 2.1 (Debian unstable), both unpacked from
# Debian's .debs by scripts/fetch-containerd.sh, never installed.
#
#   tests/e2e/differ.sh <path-to-strata-snapshotter> <work-dir>
#
# For each version, with fresh containerd and Strata roots: containerd is
# configured with Strata as snapshotter ([proxy_plugins.strata]) and differ
# ([proxy_plugins.strata-diff], first in the diff service's default list and,
# for 2.x, the transfer service's unpack_config differ). Then:
#   1. pull the e2e image from a local registry: Strata's Apply count must
#      equal the image's layer count (every layer applied by Strata);
#   2. pull it again into containerd's overlayfs snapshotter: Strata declines
#      those foreign mounts and containerd's walking differ unpacks them;
#   3. compare the two root filesystems (paths, types, modes, owners, sizes,
#      link targets, file digests);
#   4. run a container from the Strata-unpacked image;
#   5. restart both with fresh roots and `ctr images import` the image tar:
#      again every layer is applied by Strata, and a container runs;
#   6. (2.x) `ctr images import --local --sync-fs`: sync_fs reaches Strata.
# The Apply counts come from `strata status --json` (Strata's own Status
# service on its socket), cross-checked against the daemon's Apply log lines.
# For 2.x, Strata's proxy plugin is configured as for parallel unpack:
# `capabilities = ["rebase"]` and the transfer service's
# `max_concurrent_unpacks = 4`. containerd 2.1 (the newest Debian ships)
# loads that config (it logs "Ignoring unknown key in TOML" for
# max_concurrent_unpacks) but unpacks sequentially: parallel unpack with rebase
# arrives in containerd 2.2. So step 7 (2.x) replays 2.2's sequence with
# rebase_replay (beside the daemon binary) against the real daemon, blobs from
# 2.1's content store: every layer Prepared without a parent, all Applied at
# once by Strata's differ, Committed in order with `parent`; the view of the
# top must equal the walking differ's tree from step 3.
#
# Exit status: 0 passed, 1 failed, 77 skipped (not root, no overlayfs, no
# network for the containerd .debs). STRATA_DIFFER_VERSIONS="1.7 2.1" selects;
# the .debs are unpacked under $STRATA_CONTAINERD_CACHE_ROOT (default: the
# work dir). The harness (checks, daemons, containerd's config) is
# e2e_lib.sh, shared with compare.sh.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
[ $# -eq 2 ] || { echo "usage: $0 <path-to-strata-snapshotter> <work-dir>" >&2; exit 2; }
# shellcheck source=e2e_lib.sh
. "$HERE/e2e_lib.sh"
e2e_require "containerd, overlayfs, runc" jq skopeo docker-registry runc busybox

STRATA_BIN=$(realpath "$1")
mkdir -p "$2" && WORK=$(cd "$2" && pwd)
VERSIONS=${STRATA_DIFFER_VERSIONS:-1.7 2.1}
# The CLI sits beside the daemon (build/bin/strata).
STRATA_CLI=$(dirname "$STRATA_BIN")/strata
[ -x "$STRATA_CLI" ] || { echo "FAIL: $STRATA_CLI missing (the strata CLI, for strata status)"; exit 1; }
REPLAY=$(dirname "$STRATA_BIN")/rebase_replay
[ -x "$REPLAY" ] || { echo "FAIL: $REPLAY missing (build target rebase_replay)"; exit 1; }
cp "$STRATA_BIN" "$WORK/strata-snapshotter.under-test" || exit 1
STRATA_BIN=$WORK/strata-snapshotter.under-test

PASS=0 FAIL=0
FAILED=()
E2E_CASE() { echo "${VER:-}"; }

declare -a PIDS=()
e2e_tmp sdiff
REG_PID=

# --- image and registry ---------------------------------------------------------
IMG=$WORK/image
NAME=localhost/strata-e2e:v1
MANIFEST=$("$HERE/build-image.sh" "$IMG" "$NAME") || { echo "FAIL: build-image.sh"; exit 1; }
blob() { echo "$IMG/layout/blobs/sha256/${1#sha256:}"; }
LAYERS=$(jq '.layers | length' "$(blob "$MANIFEST")")
ARCH=$(jq -r .architecture "$(blob "$(jq -r .config.digest "$(blob "$MANIFEST")")")")
TOP_CHAIN=
for d in $(jq -r '.rootfs.diff_ids[]' "$(blob "$(jq -r .config.digest "$(blob "$MANIFEST")")")"); do
    if [ -z "$TOP_CHAIN" ]; then TOP_CHAIN=$d; else TOP_CHAIN=sha256:$(printf '%s %s' "$TOP_CHAIN" "$d" | sha256sum | cut -d' ' -f1); fi
done
echo "image: $LAYERS layers ($(jq -r '[.layers[].mediaType] | unique | join(", ")' "$(blob "$MANIFEST")")), top chain $TOP_CHAIN"

start_registry
REF=$REG/strata-e2e:v1
push_image "$IMG/layout:v1" "$REF"

# --- containerd -----------------------------------------------------------------
# write_config, start <tag>, ctr_ and status_field are in e2e_lib.sh.
# Apply counters from `strata status --json`; each must agree with the log.
applied() {
    local n logged
    local scraped
    n=$(status_field applied) logged=$(grep -c 'msg=applied' "$STRATA_LOG")
    scraped=$(metric 'strata_applies_total{result="applied"}')
    [ "$n" = "$logged" ] || echo "strata status says $n applied, the log $logged" >&2
    # A scrape that disagrees fails the check that reads this.
    if [ "$n" = "$scraped" ]; then echo "$n"; else echo "$n (/metrics: $scraped)"; fi
}
declined() {
    local n logged
    local scraped
    n=$(status_field declined) logged=$(grep -c 'msg="apply declined' "$STRATA_LOG")
    scraped=$(metric 'strata_applies_total{result="declined"}')
    [ "$n" = "$logged" ] || echo "strata status says $n declined, the log $logged" >&2
    # A scrape that disagrees fails the check that reads this.
    if [ "$n" = "$scraped" ]; then echo "$n"; else echo "$n (/metrics: $scraped)"; fi
}

# tree_of <snapshotter> <key>: a listing of the image's top layer as mounted
tree_of() {
    local sn=$1 mnt=$TMP/mnt-$1 out
    mkdir -p "$mnt"
    out=$(ctr_ snapshots --snapshotter "$sn" view "cmp-$sn" "$TOP_CHAIN" 2>&1) || { echo "view: $out" >&2; return 1; }
    out=$(ctr_ snapshots --snapshotter "$sn" mounts "$mnt" "cmp-$sn" 2>&1) || { echo "mounts: $out" >&2; return 1; }
    sh -c "$out" || { echo "mount: $out" >&2; return 1; }
    list_tree "$mnt"
    umount "$mnt"
    ctr_ snapshots --snapshotter "$sn" rm "cmp-$sn" >/dev/null 2>&1
    return 0
}
# containerd's GC may collect the unlabelled view between the ctr calls: retry.
tree_of_retry() {
    local i
    for i in 1 2 3; do tree_of "$1" && return 0; sleep 0.5; done
    return 1
}

run_container() {
    local ref=$1 id=$2 out
    out=$(ctr_ run --rm --snapshotter strata "$ref" "$id" sh -c \
        'cat /etc/keep.txt /etc/added.txt; ls /opaque | paste -sd, -; test ! -e /etc/gone.txt && echo gone' 2>&1)
    if [ $? -eq 0 ] && grep -q '^gone$' <<<"$out"; then pass "ctr run --rm $id: whiteouts applied, files there"
    else fail "ctr run --rm $id" "$out"; fi
}

scenario() {
    VER=$1
    echo
    echo "=== containerd $VER"
    fetch_containerd || return 0
    echo "$("$CTD_BIN/containerd" --version)"

    start pull || return 0
    local t0 t1 out
    t0=$(date +%s%N)
    out=$(ctr_ images pull --plain-http --snapshotter strata --platform "linux/$ARCH" "$REF" 2>&1) \
        || fail "pull $REF with snapshotter strata" "$out"
    t1=$(date +%s%N)
    check_eq "pull: Strata applied every layer (Apply count == $LAYERS)" "$LAYERS" "$(applied)"
    grep 'msg=applied' "$STRATA_LOG" | sed -E 's/.*(digest=[^ ]+).*(compression=[^ ]+).*(ms=[^ ]+).*/    \1 \2 \3/'
    echo "    pull+unpack: $(((t1 - t0) / 1000000)) ms"
    out=$(ctr_ images pull --plain-http --snapshotter overlayfs --platform "linux/$ARCH" "$REF" 2>&1) \
        || fail "pull $REF with snapshotter overlayfs" "$out"
    check_eq "overlayfs pull: Strata applied nothing more" "$LAYERS" "$(applied)"
    # 1.7's ctr unpacks client-side through the diff service's default list
    # (strata-diff, then walking); 2.x's transfer service names its differ.
    if [[ "$VER" == 1.* ]]; then
        check_eq "overlayfs pull: Strata declined each foreign layer (walking differ fallback)" \
            "$LAYERS" "$(declined)"
    fi
    local a b
    a=$(tree_of_retry strata) || fail "mount a view of the Strata-unpacked image"
    b=$(tree_of_retry overlayfs) || fail "mount a view of the overlayfs-unpacked image"
    WALKING_TREE=$b
    if [ -n "$a" ] && [ "$a" = "$b" ]; then
        pass "root filesystems equal: Strata's differ vs containerd's walking differ ($(wc -l <<<"$a") lines)"
    else
        fail "root filesystems equal (Strata vs walking)" "$(diff <(echo "$b") <(echo "$a") | head -30)"
    fi
    run_container "$REF" "differ-run-$VER"

    start import || return 0
    out=$(ctr_ images import --snapshotter strata --platform "linux/$ARCH" "$IMG/image.tar" 2>&1) \
        || fail "import image.tar with snapshotter strata" "$out"
    check_eq "import: Strata applied every layer (Apply count == $LAYERS)" "$LAYERS" "$(applied)"
    run_container "$NAME" "differ-import-$VER"
    grep -q 'level=error' "$STRATA_LOG" && fail "no errors in Strata's log" "$(grep 'level=error' "$STRATA_LOG")"
    if [[ "$VER" != 1.* ]]; then
        # Client-side unpack through the diff service, with ApplyRequest.sync_fs.
        start sync || return 0
        out=$(ctr_ images import --local --sync-fs --snapshotter strata --platform "linux/$ARCH" \
            "$IMG/image.tar" 2>&1) || fail "import --local --sync-fs" "$out"
        check_eq "import --local --sync-fs: every Apply had sync_fs=true" "$LAYERS" \
            "$(grep 'msg=applied' "$STRATA_LOG" | grep -c 'sync_fs=true')"
        replay_rebase
    fi
    stop_daemons
}

# containerd 2.2's parallel unpack with rebase, replayed (see the header).
replay_rebase() {
    start rebase || return 0
    local out
    out=$(ctr_ images import --local --no-unpack --platform "linux/$ARCH" "$IMG/image.tar" 2>&1) \
        || { fail "import --no-unpack (content only)" "$out"; return 0; }
    local man cfg args=() chain= i did
    man=$(blob "$MANIFEST") cfg=$(blob "$(jq -r .config.digest "$man")")
    for ((i = 0; i < LAYERS; i++)); do
        did=$(jq -r ".rootfs.diff_ids[$i]" "$cfg")
        if [ -z "$chain" ]; then chain=$did
        else chain=sha256:$(printf '%s %s' "$chain" "$did" | sha256sum | cut -d' ' -f1); fi
        args+=("$(jq -r ".layers[$i].mediaType" "$man")" "$(jq -r ".layers[$i].digest" "$man")" \
               "$(jq -r ".layers[$i].size" "$man")" "$did" "$chain")
    done
    out=$("$REPLAY" "$STRATA_SOCK" default replay-view "${args[@]}" 2>&1)
    if [ $? -ne 0 ]; then fail "rebase replay: parentless Prepare, parallel Apply, Commit with parent" "$out"; return 0; fi
    pass "rebase replay: parentless Prepare, parallel Apply, Commit with parent"
    check_eq "rebase replay: Strata applied every layer (Apply count == $LAYERS)" "$LAYERS" "$(applied)"
    local mnt=$TMP/mnt-replay type src opts tree
    mkdir -p "$mnt"
    read -r type src opts <<<"$out"
    if ! mount -t "$type" -o "$opts" "$src" "$mnt" 2>"$TMP/mount.err"; then
        fail "mount the rebased chain's view" "$out $(cat "$TMP/mount.err")"; return 0
    fi
    tree=$(list_tree "$mnt")
    umount "$mnt"
    if [ -n "$tree" ] && [ "$tree" = "$WALKING_TREE" ]; then
        pass "rebased chain equals the walking differ's sequential unpack ($(wc -l <<<"$tree") lines)"
    else
        fail "rebased chain equals the walking differ's sequential unpack" \
            "$(diff <(echo "$WALKING_TREE") <(echo "$tree") | head -30)"
    fi
}

SKIPPED=()
WALKING_TREE=
for v in $VERSIONS; do scenario "$v"; done
e2e_finish "differ e2e"
