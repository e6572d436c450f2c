#!/usr/bin/env bash
# Builds strata-peer (containerd's overlayfs/native snapshotter over gRPC) in
# GOPATH mode from Debian's golang-go and containerd 1.6 sources.
#   bench/peer/build.sh <out-dir>     -> <out-dir>/strata-peer
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
mkdir -p "$out/gopath/src/strata.dev" "$out/gocache"
ln -sfn "$here" "$out/gopath/src/strata.dev/peer"
cd "$out/gopath/src/strata.dev/peer"
GO111MODULE=off GOPATH="$out/gopath:/usr/share/gocode" GOCACHE="$out/gocache" GOFLAGS= \
  go build -o "$out/strata-peer" .
echo "$out/strata-peer"
