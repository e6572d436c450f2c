#!/bin/bash
# Run containerd's snapshotter conformance suite against strata-snapshotter.
# Usage: run.sh <path-to-strata-snapshotter> <work-dir> [extra go test args...]
# Exit status: go test's; 77 (ctest skip) when not root.
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
export GOCACHE="$work/gocache"
export GOTMPDIR="$work/tmp"
export GOFLAGS=
export STRATA_SNAPSHOTTER="$bin"

cd "$work/gopath/src/strata.dev/conformance"
status=0
go test -v -count=1 -timeout 20m "$@" . || status=$?
exit "$status"
