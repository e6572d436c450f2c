#!/usr/bin/env bash
# Build a small two-layer OCI image from Debian's busybox-static.
#
#   tests/e2e/build-image.sh <out-dir> [image-name]
#
# Writes <out-dir>/layout (an OCI image layout: oci-layout, index.json,
# blobs/sha256/...) and <out-dir>/image.tar (the same layout as a tar archive,
# for `ctr image import`).  Prints the manifest digest.
#
# Layer 1: /bin/busybox + applet symlinks, /etc/gone.txt, /etc/keep.txt,
#          /opaque/{a,b,sub/deep}, /tmp, /proc, /sys, /dev.
# Layer 2: /etc/added.txt (+ hard link /etc/added-link), /etc/owned.txt
#          (1000:1000, 0600), /bin/hello, whiteout etc/.wh.gone.txt, opaque
#          whiteout opaque/.wh..wh..opq and a new file /opaque/c.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 <out-dir> [image-name]" >&2; exit 2; }
out=$1
name=${2:-localhost/strata-e2e:v1}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "build-image: $busybox missing (install busybox-static)" >&2; exit 1; }
# busybox-static must be static: it runs in an otherwise empty rootfs.
if ldd "$busybox" >/dev/null 2>&1; then
    echo "build-image: $busybox is dynamically linked (install busybox-static)" >&2; exit 1
fi

case "$(dpkg --print-architecture 2>/dev/null || uname -m)" in
    amd64|x86_64) arch=amd64 ;;
    arm64|aarch64) arch=arm64 ;;
    *) arch=$(dpkg --print-architecture) ;;
esac

rm -rf "$out"
mkdir -p "$out/stage1" "$out/stage2" "$out/layout/blobs/sha256"
out=$(cd "$out" && pwd)
blobs=$out/layout/blobs/sha256

# --- layer 1 ------------------------------------------------------------------
s=$out/stage1
mkdir -p "$s/bin" "$s/etc" "$s/opaque/sub" "$s/tmp" "$s/proc" "$s/sys" "$s/dev" "$s/root"
cp "$busybox" "$s/bin/busybox"
chmod 0755 "$s/bin/busybox"
for a in sh ls cat test [ echo mkdir rm touch true false stat wc grep sleep id \
         readlink cp mv ln find head tail sort env printf sync df mount; do
    ln -s busybox "$s/bin/$a"
done
echo "this file is deleted by layer 2" > "$s/etc/gone.txt"
echo "kept" > "$s/etc/keep.txt"
echo "a" > "$s/opaque/a"
echo "b" > "$s/opaque/b"
echo "deep" > "$s/opaque/sub/deep"
chmod 1777 "$s/tmp"

# --- layer 2 ------------------------------------------------------------------
s=$out/stage2
mkdir -p "$s/bin" "$s/etc" "$s/opaque"
echo "added in layer 2" > "$s/etc/added.txt"
ln "$s/etc/added.txt" "$s/etc/added-link"
echo "owned by 1000" > "$s/etc/owned.txt"
printf '#!/bin/sh\necho hello from layer 2\n' > "$s/bin/hello"
chmod 0755 "$s/bin/hello"
: > "$s/etc/.wh.gone.txt"
: > "$s/opaque/.wh..wh..opq"
echo "c" > "$s/opaque/c"

chown -R 0:0 "$out/stage1" "$out/stage2"
chown 1000:1000 "$s/etc/owned.txt"
chmod 0600 "$s/etc/owned.txt"
chmod 0755 "$out"/stage1/* "$out"/stage2/* 2>/dev/null || true
chmod 1777 "$out/stage1/tmp"

# blob <file> -> moves file into blobs/sha256, prints "sha256:<hex> <size>"
blob() {
    local f=$1 hex size
    hex=$(sha256sum "$f" | cut -d' ' -f1)
    size=$(stat -c %s "$f")
    mv "$f" "$blobs/$hex"
    echo "sha256:$hex $size"
}

diff_ids=()
layers_json='[]'
for i in 1 2; do
    tarf=$out/layer$i.tar
    (cd "$out/stage$i" && tar --create --format=gnu --numeric-owner --sort=name \
        --mtime=@1700000000 --file "$tarf" -- *)
    diff_ids+=("sha256:$(sha256sum "$tarf" | cut -d' ' -f1)")
    gzip -n -9 "$tarf"
    read -r dgst size < <(blob "$tarf.gz")
    layers_json=$(jq -c --arg d "$dgst" --argjson s "$size" \
        '. + [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}]' <<<"$layers_json")
done

jq -cn --arg arch "$arch" --arg d1 "${diff_ids[0]}" --arg d2 "${diff_ids[1]}" '{
    created: "2023-11-14T22:13:20Z",
    architecture: $arch,
    os: "linux",
    config: {Env: ["PATH=/bin"], Cmd: ["/bin/sh"], WorkingDir: "/"},
    rootfs: {type: "layers", diff_ids: [$d1, $d2]},
    history: [
        {created: "2023-11-14T22:13:20Z", created_by: "strata e2e: busybox rootfs"},
        {created: "2023-11-14T22:13:20Z", created_by: "strata e2e: additions and whiteouts"}
    ]
}' > "$out/config.json"
read -r cfg_dgst cfg_size < <(blob "$out/config.json")

jq -cn --arg cd "$cfg_dgst" --argjson cs "$cfg_size" --argjson layers "$layers_json" '{
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
    layers: $layers
}' > "$out/manifest.json"
read -r man_dgst man_size < <(blob "$out/manifest.json")

# io.containerd.image.name: the full name ctr import gives the image;
# org.opencontainers.image.ref.name: the tag, used by skopeo's oci: transport.
tag=${name##*:}
jq -cn --arg md "$man_dgst" --argjson ms "$man_size" --arg arch "$arch" \
       --arg name "$name" --arg tag "$tag" '{
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: $md, size: $ms,
        platform: {architecture: $arch, os: "linux"},
        annotations: {"io.containerd.image.name": $name, "org.opencontainers.image.ref.name": $tag}
    }]
}' > "$out/layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$out/layout/oci-layout"

(cd "$out/layout" && tar --create --format=gnu --numeric-owner --sort=name --mtime=@1700000000 \
    --file "$out/image.tar" oci-layout index.json blobs)
rm -rf "$out/stage1" "$out/stage2"
echo "$man_dgst"
