#!/usr/bin/env bash
# End-to-end test of ID-mapped snapshots (issue 17) with containerd 2.1
# (Debian unstable, unpacked by scripts/fetch-containerd.sh): Strata's proxy
# plugin declares `remap-ids`, so containerd asks for mapped snapshots
# (containerd.io/snapshot/uidmapping/gidmapping labels) instead of making a
# chowned copy of the image, and mounts Strata's uidmap=/gidmap= answers as
# idmapped mounts.
#
#   tests/e2e/userns.sh <path-to-strata-snapshotter> <work-dir>
#
# On each backend (overlay; copy; reflink on a loop-mounted XFS), import the
# e2e image, then
#   1. `ctr run --remap-labels --uidmap 0:100000:65536 --gidmap
#      0:100000:65536` (without --remap-labels ctr always makes a chowned
#      copy, whatever the snapshotter declares): inside, the
#      process is root, the image's files are owned by root (and the 1000:1000
#      file by 1000), and root can write to /etc;
#   2. a second container from the same image with 0:200000:65536, left
#      running: seen from the host its files are owned by 200000 (and
#      201000), and its writable layer (overlay) by 200000;
#   3. no chowned copy was made: no `-remap` snapshot, no committed snapshot
#      beyond the image's layers, whose files are still owned by root on
#      disk;
#   4. the second container's writable layer, diffed (`ctr snapshots diff`,
#      Strata's Compare) and committed (`ctr snapshots commit`), carries and
#      stores what it wrote as container root (0:0), not as the host's
#      200000, on every backend;
#   5. `ctr run --uidmap` without --remap-labels (ctr's own chowned copy,
#      which it makes whatever the snapshotter declares) still works beside
#      mapped snapshots (overlay: see below).
# Exit status: 0 passed, 1 failed, 77 skipped (not root, no overlayfs, no
# containerd 2.1, no idmapped mounts on the work dir's filesystem).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
[ $# -eq 2 ] || { echo "usage: $0 <path-to-strata-snapshotter> <work-dir>" >&2; exit 2; }
# shellcheck source=e2e_lib.sh
. "$HERE/e2e_lib.sh"
e2e_require "containerd, runc, user namespaces" jq runc busybox

STRATA_BIN=$(realpath "$1")
mkdir -p "$2" && WORK=$(cd "$2" && pwd)
STRATA_CLI=$(dirname "$STRATA_BIN")/strata
BACKENDS=${STRATA_USERNS_BACKENDS:-overlay copy reflink}
ARCH=$(dpkg --print-architecture)
VER=2.1
E2E_REMAP_IDS=1  # the proxy plugin declares remap-ids (e2e_lib.sh)

PASS=0 FAIL=0
FAILED=() SKIPPED=()
E2E_CASE() { echo "$VER/${BACKEND:-}"; }
declare -a PIDS=()
e2e_tmp suns
# containerd's state (the containers' rootfs mount points) lives here: the
# mapped root of a container must be able to reach it.
chmod 0755 "$TMP"

fetch_containerd || exit 77
IMG=$WORK/image NAME=localhost/strata-userns:v1
MANIFEST=$("$HERE/build-image.sh" "$IMG" "$NAME" 2>"$WORK/build-image.log") \
    || { echo "FAIL: build-image.sh: $(tail -3 "$WORK/build-image.log")"; exit 1; }
LAYERS=$(jq '.layers | length' "$IMG/layout/blobs/sha256/${MANIFEST#sha256:}")

for BACKEND in $BACKENDS; do
    echo
    echo "=== containerd $VER ($("$CTD_BIN/containerd" --version | awk '{print $3}')), backend $BACKEND"
    stop_daemons; e2e_roots "userns-$BACKEND"
    LOOP_MNT=""
    if [ "$BACKEND" = reflink ]; then
        # Reflink needs XFS (reflink=1): a loop-mounted image under the work dir.
        if ! command -v mkfs.xfs >/dev/null || [ ! -e /dev/loop-control ]; then
            echo "SKIP reflink: mkfs.xfs or loop devices unavailable"; continue
        fi
        # Under $TMP, which e2e_cleanup unmounts whatever happens.
        LOOP_MNT=$TMP/xfs
        mkdir -p "$LOOP_MNT" && truncate -s 1G "$TMP/xfs.img" &&
            mkfs.xfs -q -f -m reflink=1 "$TMP/xfs.img" >/dev/null &&
            mount -o loop "$TMP/xfs.img" "$LOOP_MNT" ||
            { fail "mount a loop XFS for reflink"; continue; }
        STRATA_ROOT=$LOOP_MNT/strata-root
    fi
    start_strata --backend "$BACKEND" --remap-ids on || continue
    start_containerd || continue  # Strata's differ first, then walking
    if grep -q 'idmapped mounts unavailable' "$STRATA_LOG"; then
        echo "SKIP $BACKEND: $(grep -o 'idmapped mounts unavailable[^"]*' "$STRATA_LOG" | head -1)"
        continue
    fi
    out=$(ctr_ images import --local --snapshotter strata --platform "linux/$ARCH" "$IMG/image.tar" 2>&1) \
        || { fail "import the image" "$out"; continue; }

    out=$(ctr_ run --rm --snapshotter strata --remap-labels --uidmap 0:100000:65536 --gidmap 0:100000:65536 \
        "$NAME" "u1-$BACKEND" sh -c 'id -u; id -g; stat -c "%u:%g" /etc/keep.txt /etc/owned.txt 2>/dev/null;
            echo hi > /etc/written && stat -c "%u:%g" /etc/written' 2>&1)
    check_eq "mapped container: root inside, image files root's, writes as root" \
        "$(printf '0\n0\n0:0\n1000:1000\n0:0')" "$out"

    ctr_ run -d --snapshotter strata --remap-labels --uidmap 0:200000:65536 --gidmap 0:200000:65536 \
        "$NAME" "u2-$BACKEND" sh -c 'echo two > /etc/u2; sleep 60' >/dev/null 2>&1 \
        || fail "start a second mapped container"
    pid=$(ctr_ tasks ls | awk -v id="u2-$BACKEND" '$1 == id {print $2}')
    if [ -n "$pid" ]; then
        check_eq "second mapping: the host sees its files owned by 200000 (and 201000)" \
            "200000:200000 201000:201000" \
            "$(stat -c '%u:%g' "/proc/$pid/root/etc/keep.txt" "/proc/$pid/root/etc/owned.txt" 2>&1 | paste -sd' ')"
        if [ "$BACKEND" = overlay ]; then
            upper=$(ctr_ snapshots --snapshotter strata mounts /x "u2-$BACKEND" | grep -o 'upperdir=[^,]*' | cut -d= -f2)
            check_eq "its writable layer belongs to the mapped root" "200000:200000" "$(stat -c %u:%g "$upper" 2>&1)"
        fi
    else
        fail "the second mapped container runs" "$(ctr_ tasks ls 2>&1)"
    fi
    info=$(ctr_ snapshots --snapshotter strata info "u2-$BACKEND" 2>&1)
    if grep -q '"containerd.io/snapshot/uidmapping": "0:200000:65536"' <<<"$info"; then
        pass "the container's snapshot was prepared mapped (uidmapping label)"
    else
        fail "the container's snapshot was prepared mapped (uidmapping label)" "$info"
    fi
    snaps=$(ctr_ snapshots --snapshotter strata ls | tail -n +2)
    if grep -q -- '-remap' <<<"$snaps"; then fail "no chowned copy of the image" "$snaps"
    else pass "no chowned copy of the image (no -remap snapshot)"; fi
    if [ "$(grep -c Committed <<<"$snaps")" = "$LAYERS" ]; then
        pass "no committed snapshot beyond the image's $LAYERS layers"
    else
        fail "no committed snapshot beyond the image's $LAYERS layers" "$snaps"
    fi
    # The layers (directories owned by root, unlike a mapped upper) hold the
    # image's owners, unshifted.
    owners=$(for d in "$STRATA_ROOT"/snapshots/*/fs; do
        [ "$(stat -c %u "$d")" = 0 ] && [ -e "$d/etc/keep.txt" ] && stat -c %u:%g "$d/etc/keep.txt"
    done | sort -u | paste -sd' ')
    check_eq "the image's layers keep their owners on disk" "0:0" "$owners"
    ctr_ tasks kill -s KILL "u2-$BACKEND" >/dev/null 2>&1; sleep 0.5
    ctr_ tasks rm "u2-$BACKEND" >/dev/null 2>&1
    # Its diff (Strata's Compare) carries container IDs, not the host's
    # (containerd's walking differ reads the upper through its idmapped
    # read-only mount and writes the overflow ID 65534).
    compared=$(status_field compared)
    ctr_ snapshots --snapshotter strata diff "u2-$BACKEND" > "$VDIR/u2.tar.gz" 2>"$VDIR/u2.err" \
        || fail "diff the mapped container's snapshot" "$(cat "$VDIR/u2.err")"
    check_eq "Strata answered the diff" "$((compared + 1))" "$(status_field compared)"
    check_eq "its diff carries what it wrote as container root" "0/0" \
        "$(tar --numeric-owner -tzvf "$VDIR/u2.tar.gz" 2>&1 | awk '$NF == "etc/u2" {print $2}')"
    # 4. Committed, its layer holds container IDs: shareable by any mapping.
    out=$(ctr_ snapshots --snapshotter strata commit "u2-layer-$BACKEND" "u2-$BACKEND" 2>&1) \
        || fail "commit the mapped container's snapshot" "$out"
    owners=$(for d in "$STRATA_ROOT"/snapshots/*/fs; do
        [ -e "$d/etc/u2" ] && stat -c %u:%g "$d/etc/u2" "$d/etc"
    done | paste -sd' ')
    check_eq "its committed layer stores what it wrote as container root" "0:0 0:0" "$owners"
    ctr_ containers rm "u2-$BACKEND" >/dev/null 2>&1
    ls "$STRATA_ROOT"/shifts/* >/dev/null 2>&1 && fail "no owner-shift journal left" "$(ls "$STRATA_ROOT"/shifts)"
    # 5. ctr's own chowned copy (no --remap-labels) beside mapped snapshots.
    # Overlay only: ctr's remapRootFS chowns path by path and fails on the
    # second name of a hard-linked file ("container ID 300000 cannot be
    # mapped"), which only overlay's copy-up splits; any snapshotter that
    # keeps full trees (containerd's native one too) hits it with this
    # image's /etc/added-link. containerd with remap-ids (CRI, --remap-labels)
    # never takes that path.
    if [ "$BACKEND" = overlay ]; then
        out=$(ctr_ run --rm --snapshotter strata --uidmap 0:300000:65536 --gidmap 0:300000:65536 \
            "$NAME" "u3-$BACKEND" sh -c 'id -u; stat -c "%u:%g" /etc/keep.txt /etc/owned.txt' 2>&1)
        check_eq "ctr's chowned-copy path: root inside, image files root's" "$(printf '0\n0:0\n1000:1000')" "$out"
    fi
    grep -q 'level=error' "$STRATA_LOG" && fail "no errors in Strata's log" "$(grep 'level=error' "$STRATA_LOG" | head)"
    stop_daemons
    if [ -n "$LOOP_MNT" ]; then umount "$LOOP_MNT" || umount -l "$LOOP_MNT"; rm -f "$TMP/xfs.img"; fi
done
e2e_finish userns
