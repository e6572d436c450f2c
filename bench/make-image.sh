#!/usr/bin/env bash
# Build an OCI image tar (for `ctr images import`) from directories, one gzip
# layer per directory, for bench/unpack.sh.
#
#   bench/make-image.sh <out.tar> <name> <layer-spec>...
#
# A layer spec is DIR (its contents become the layer root) or DIR=PREFIX (the
# contents appear under PREFIX/ in the image, e.g. /usr/include=usr/include),
# or smallfiles:N (N files of 0-4 KiB, 100 per directory, deterministic).
#   bench/make-image.sh /tmp/usr.tar bench/usr:v1 /usr/include=usr/include \
#       /usr/share/doc=usr/share/doc /usr/lib/python3=usr/lib/python3
#   bench/make-image.sh /tmp/small.tar bench/small:v1 smallfiles:50000
# Env: GZIP_LEVEL (default 6, what `docker push` and BuildKit use).
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 <out.tar> <name> <layer-spec>..." >&2; exit 2; }
out=$(realpath -m "$1") name=$2
shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/mkimage.XXXXXX")
trap 'rm -rf "$work"' EXIT
blobs=$work/layout/blobs/sha256
mkdir -p "$blobs"
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)

blob() {  # blob <file>: moves it into blobs/, prints "sha256:<hex> <size>"
    local hex size
    hex=$(sha256sum "$1" | cut -d' ' -f1) size=$(stat -c %s "$1")
    mv "$1" "$blobs/$hex"
    echo "sha256:$hex $size"
}

smallfiles() {  # smallfiles <dir> <n>
    python3 - "$1" "$2" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(50000)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 100))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(rnd.randbytes(rnd.randint(0, 4096)))
EOF
}

diff_ids=() layers='[]' i=0
for spec in "$@"; do
    i=$((i + 1))
    stage=$work/stage$i
    mkdir -p "$stage"
    src=$spec
    if [[ $spec == smallfiles:* ]]; then smallfiles "$stage" "${spec#smallfiles:}"; src=$stage; fi
    if [[ $spec == *=* ]]; then
        # Members ./x become PREFIX/x (parent directories of PREFIX are not
        # in the layer; containerd's applier and Strata create them).
        (cd "${spec%%=*}" && tar --create --format=pax --numeric-owner --sort=name \
            --mtime=@1700000000 --transform "s|^\.|${spec#*=}|" --file "$work/layer$i.tar" .)
    else
        (cd "$src" && tar --create --format=pax --numeric-owner --sort=name \
            --mtime=@1700000000 --file "$work/layer$i.tar" .)
    fi
    diff_ids+=("sha256:$(sha256sum "$work/layer$i.tar" | cut -d' ' -f1)")
    gzip -n "-${GZIP_LEVEL:-6}" "$work/layer$i.tar"
    read -r d s < <(blob "$work/layer$i.tar.gz")
    layers=$(jq -c --arg d "$d" --argjson s "$s" \
        '. + [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}]' <<<"$layers")
    rm -rf "$stage"
done

ids=$(printf '%s\n' "${diff_ids[@]}" | jq -R . | jq -sc .)
jq -cn --arg arch "$arch" --argjson ids "$ids" \
    '{architecture: $arch, os: "linux", config: {Cmd: ["/bin/sh"]}, rootfs: {type: "layers", diff_ids: $ids}}' \
    >"$work/config.json"
read -r cd cs < <(blob "$work/config.json")
jq -cn --arg cd "$cd" --argjson cs "$cs" --argjson layers "$layers" '{schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
    layers: $layers}' >"$work/manifest.json"
read -r md ms < <(blob "$work/manifest.json")
jq -cn --arg md "$md" --argjson ms "$ms" --arg arch "$arch" --arg name "$name" '{schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
        platform: {architecture: $arch, os: "linux"},
        annotations: {"io.containerd.image.name": $name}}]}' >"$work/layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/layout/oci-layout"
(cd "$work/layout" && tar --create --file "$out" oci-layout index.json blobs)
echo "$out: $# layers, $(jq '[.layers[].size] | add' "$blobs/${md#sha256:}") bytes compressed"
