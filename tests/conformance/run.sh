#!/bin/bash
# Run containerd's snapshotter conformance suite against strata-snapshotter.
# Usage: run.sh <path-to-strata-snapshotter> <work-dir> [extra go test args...]
# Environment:
#   STRATA_BACKEND    the daemon's --backend (default: the daemon's own, auto)
#   STRATA_LOOP_FS    xfs or btrfs: run on a loop-mounted image of that type
#                     (xfs with reflink=1), made under <work-dir> and removed
#   STRATA_ROOT_BASE  directory the suite's roots go under (TMPDIR); set by
#                     STRATA_LOOP_FS
#   STRATA_GOCACHE    Go build cache (default <work-dir>/gocache)
# Exit status: go test's; 77 (ctest skip) when not root or no loop filesystem.
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 <path-to-strata-snapshotter> <work-dir> [go test args...]" >&2
	exit 2
fi
bin=$(realpath -- "$1")
work=$2
shift 2

if [ "$(id -u)" -ne 0 ]; then
	echo "conformance: skipped: containerd's snapshotter suite mounts overlayfs/bind mounts and must run as root" >&2
	exit 77
fi
if [ ! -x "$bin" ]; then
	echo "conformance: $bin is not an executable strata-snapshotter" >&2
	exit 2
fi

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

# Go 1.19 and containerd 1.6 sources (GOPATH mode) from Debian.
pkgs=(golang-go golang-github-containerd-containerd-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "conformance: installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

# Private GOPATH: <work>/gopath/src/strata.dev/conformance -> tests/conformance.
mkdir -p "$work/gopath/src/strata.dev" "$work/gocache" "$work/tmp"
work=$(realpath -- "$work")
ln -sfn "$here" "$work/gopath/src/strata.dev/conformance"

export GO111MODULE=off
export GOPATH="$work/gopath:/usr/share/gocode"
export GOCACHE="${STRATA_GOCACHE:-$work/gocache}"
export GOTMPDIR="$work/tmp"
export GOFLAGS=
export STRATA_SNAPSHOTTER="$bin"

if [ -n "${STRATA_LOOP_FS:-}" ]; then
	case "$STRATA_LOOP_FS" in
	xfs) mkfs=(mkfs.xfs -q -f -m reflink=1) ;;
	btrfs) mkfs=(mkfs.btrfs -q -f) ;;
	*) echo "conformance: STRATA_LOOP_FS=$STRATA_LOOP_FS: want xfs or btrfs" >&2; exit 2 ;;
	esac
	if ! command -v "${mkfs[0]}" >/dev/null || [ ! -e /dev/loop-control ]; then
		echo "conformance: skipped: ${mkfs[0]} or loop devices unavailable" >&2
		exit 77
	fi
	loop="$work/loop-$STRATA_LOOP_FS"
	umount "$loop/mnt" 2>/dev/null || true
	rm -rf "$loop"
	mkdir -p "$loop/mnt"
	truncate -s 2G "$loop/img"
	"${mkfs[@]}" "$loop/img" >/dev/null
	mount -o loop "$loop/img" "$loop/mnt"
	trap 'umount "$loop/mnt" 2>/dev/null || umount -l "$loop/mnt"; rm -rf "$loop"' EXIT
	export STRATA_ROOT_BASE="$loop/mnt"
fi
if [ -n "${STRATA_ROOT_BASE:-}" ]; then
	# containerd's testsuite makes each root with os.MkdirTemp("", ...).
	export TMPDIR="$STRATA_ROOT_BASE"
fi
echo "conformance: backend=${STRATA_BACKEND:-default} roots under ${TMPDIR:-/tmp}" >&2

cd "$work/gopath/src/strata.dev/conformance"
status=0
go test -v -count=1 -timeout 20m "$@" . || status=$?
exit "$status"
