#!/usr/bin/env bash
# Builds one of the Go peers under bench/ (peer: containerd's snapshotters over
# gRPC; applier: containerd's archive.Apply) in GOPATH mode from Debian's
# golang-go and containerd 1.6 sources, and prints the binary's path.
#   bench/build-go.sh peer|applier <out-dir>   -> <out-dir>/strata-<name>
set -euo pipefail
name=$1
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/$name" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
mkdir -p "$out/gopath/src/strata.dev" "$out/gocache"
ln -sfn "$src" "$out/gopath/src/strata.dev/$name"
cd "$out/gopath/src/strata.dev/$name"
GO111MODULE=off GOPATH="$out/gopath:/usr/share/gocode" GOCACHE="$out/gocache" GOFLAGS= \
  go build -o "$out/strata-$name" .
echo "$out/strata-$name"
