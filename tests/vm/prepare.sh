#!/usr/bin/env bash
# Prepares what tests/vm/run.sh boots: Debian 12's own kernel (which has XFS
# project quotas and QFMT_V2, unlike the host's) and a small initramfs.
#
#   tests/vm/prepare.sh [--quiet] [CACHE_DIR]     (default CACHE_DIR: <repo>/build/vm)
#
# --quiet: say nothing when everything is already in place.
#
# Idempotent. It installs qemu-system-x86 and kmod (depmod, modprobe) when they
# are missing, fetches linux-image-6.1.0-<N>-amd64 with `apt-get download`, and
# unpacks it with `dpkg-deb -x` under CACHE_DIR: the kernel is never installed
# on the host. Nothing is written outside CACHE_DIR (apt's own cache aside).
#
# CACHE_DIR after a run:
#   kernel/      the unpacked .deb: boot/vmlinuz-<ver>, lib/modules/<ver>/ (depmod'ed)
#   vmlinux      the kernel decompressed, booted through PVH: TCG takes seconds
#                to decompress vmlinuz (absent if that failed: run.sh uses vmlinuz)
#   initrd.gz    busybox + init.sh + the virtio/9p modules needed to mount the host root
#   release      the kernel version (uname -r in the guest)
#   stamp        what the initramfs was built from; a change rebuilds it
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

quiet=0
if [ "${1:-}" = "--quiet" ]; then quiet=1; shift; fi
cache=${1:-$repo/build/vm}
[ $# -le 1 ] || { echo "usage: tests/vm/prepare.sh [--quiet] [CACHE_DIR]" >&2; exit 2; }

say() { echo "vm-prepare: $*" >&2; }
die() { echo "vm-prepare: $*" >&2; exit 1; }

# Modules the initramfs loads to reach the host root over virtio-9p. Whatever
# they need (netfs, fscache, virtio, virtio_ring, ...) comes from modprobe's
# dependency list; the ones built into the kernel are skipped.
boot_modules=(virtio_pci 9pnet_virtio 9p)

mkdir -p "$cache" || die "cannot create the cache directory $cache"
cache=$(cd "$cache" && pwd -P)

# Parallel runs (ctest -j) may all call us: one prepares, the others wait.
exec 9>"$cache/.lock" || die "cannot open $cache/.lock"
flock 9 || die "cannot lock $cache/.lock"

init_src=$here/init.sh
[ -r "$init_src" ] || die "missing $init_src"
# The initramfs depends on the kernel version, init.sh and this script.
stamp_now() {
  echo "$(cat "$cache/release" 2>/dev/null || true) $(cat "$init_src" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)"
}
if [ -s "$cache/release" ] && [ -f "$cache/initrd.gz" ] && [ -f "$cache/stamp" ] &&
   [ "$(cat "$cache/stamp")" = "$(stamp_now)" ] &&
   command -v qemu-system-x86_64 >/dev/null && command -v modprobe >/dev/null; then
  [ "$quiet" = 1 ] || say "up to date: kernel $(cat "$cache/release") in $cache"
  exit 0
fi

# --- step 1: host tools ------------------------------------------------------
apt_updated=0
apt_update() {
  [ "$apt_updated" = 1 ] && return 0
  say "apt-get update"
  apt-get update -qq || die "apt-get update failed"
  apt_updated=1
}
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
{ command -v depmod && command -v modprobe; } >/dev/null || need_pkgs+=(kmod)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "need root to install ${need_pkgs[*]} (or run scripts/install-deps.sh)"
  say "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null; then
    apt_update
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null ||
      die "apt-get install ${need_pkgs[*]} failed"
  fi
fi
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 still missing after installing qemu-system-x86"
[ -x /bin/busybox ] || die "/bin/busybox is missing: install busybox-static (scripts/install-deps.sh)"
if LC_ALL=C ldd /bin/busybox 2>&1 | grep -q '=>'; then
  die "/bin/busybox is dynamically linked: the initramfs needs busybox-static"
fi

# --- step 2: the kernel package ----------------------------------------------
kdir=$cache/kernel
if [ -s "$cache/release" ] && [ -d "$kdir/lib/modules/$(cat "$cache/release")" ]; then
  kver=$(cat "$cache/release")
  say "kernel $kver already unpacked"
else
  # linux-image-amd64 is the metapackage; it depends on the current ABI's
  # package, e.g. linux-image-6.1.0-57-amd64.
  find_kpkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
      awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }'
  }
  kpkg=$(find_kpkg)
  if [ -z "$kpkg" ]; then
    apt_update
    kpkg=$(find_kpkg)
  fi
  [ -n "$kpkg" ] || die "cannot find the kernel package: apt-cache depends linux-image-amd64 names no linux-image-<ver>-amd64"
  kver=${kpkg#linux-image-}
  say "fetching $kpkg"
  rm -rf "$cache/dl" "$cache/kernel.tmp" "$kdir"
  mkdir -p "$cache/dl"
  # apt downloads as root here: the cache directory need not be open to _apt.
  (cd "$cache/dl" && apt-get -q -o APT::Sandbox::User=root download "$kpkg" >/dev/null) || {
    apt_update
    (cd "$cache/dl" && apt-get -q -o APT::Sandbox::User=root download "$kpkg" >/dev/null)
  } || die "apt-get download $kpkg failed"
  deb=$(find "$cache/dl" -maxdepth 1 -name '*.deb' | head -n1)
  [ -n "$deb" ] || die "apt-get download $kpkg left no .deb in $cache/dl"
  say "unpacking $(basename "$deb")"
  dpkg-deb -x "$deb" "$cache/kernel.tmp" || die "dpkg-deb -x $deb failed"
  moddir=$cache/kernel.tmp/lib/modules/$kver
  if [ ! -d "$moddir" ] && [ -d "$cache/kernel.tmp/usr/lib/modules/$kver" ]; then
    # A merged-/usr package: keep modprobe -d's <dir>/lib/modules layout.
    mkdir -p "$cache/kernel.tmp/lib/modules"
    mv "$cache/kernel.tmp/usr/lib/modules/$kver" "$moddir"
  fi
  [ -d "$moddir" ] || die "$kpkg has no lib/modules/$kver"
  [ -f "$cache/kernel.tmp/boot/vmlinuz-$kver" ] || die "$kpkg has no boot/vmlinuz-$kver"
  # Debian 12 ships plain .ko files; compressed ones are unpacked so that
  # busybox's insmod (initramfs) and any modprobe can load them.
  find "$moddir" -name '*.ko.xz' -exec xz -d -f {} + || die "xz -d of the modules failed"
  find "$moddir" -name '*.ko.zst' -exec zstd -q -d --rm -f {} + || die "zstd -d of the modules failed"
  find "$moddir" -name '*.ko.gz' -exec gzip -d -f {} + || die "gzip -d of the modules failed"
  say "depmod -b $cache/kernel.tmp $kver"
  depmod -b "$cache/kernel.tmp" "$kver" || die "depmod -b $cache/kernel.tmp $kver failed"
  mv "$cache/kernel.tmp" "$kdir"
  rm -rf "$cache/dl"
  echo "$kver" > "$cache/release"
fi

# --- step 3: the uncompressed kernel ----------------------------------------
# vmlinuz is a boot stub plus the compressed vmlinux ELF; with CONFIG_PVH qemu
# boots that ELF directly, which under TCG saves the ~3 s of decompressing.
vmlinuz=$kdir/boot/vmlinuz-$kver
if [ ! -s "$cache/vmlinux" ] || [ "$cache/vmlinux" -ot "$vmlinuz" ]; then
  rm -f "$cache/vmlinux" "$cache/vmlinux.tmp"
  if grep -qx 'CONFIG_PVH=y' "$kdir/boot/config-$kver"; then
    for fmt in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
      tool=${fmt%%:*}
      command -v "$tool" >/dev/null || continue
      for off in $(LC_ALL=C grep -obUaP "${fmt#*:}" "$vmlinuz" | cut -d: -f1 | head -n 3); do
        case $tool in
          xz) unpack=(xz -dc --single-stream) ;;
          zstd) unpack=(zstd -dcq) ;;
          gzip) unpack=(gzip -dc) ;;
        esac
        tail -c +$((off + 1)) "$vmlinuz" | "${unpack[@]}" > "$cache/vmlinux.tmp" 2>/dev/null || true
        if [ "$(head -c 4 "$cache/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
          mv "$cache/vmlinux.tmp" "$cache/vmlinux"
          break 2
        fi
      done
    done
    rm -f "$cache/vmlinux.tmp"
  fi
  if [ -s "$cache/vmlinux" ]; then
    say "vmlinux extracted (PVH boot)"
  else
    say "no vmlinux could be extracted from vmlinuz; booting the compressed kernel (slower)"
  fi
fi

# --- step 4: the initramfs ---------------------------------------------------
say "building the initramfs"
stage=$cache/initrd.tmp
rm -rf "$stage"
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,job,newroot,modules}
cp /bin/busybox "$stage/bin/busybox"
cp "$init_src" "$stage/init"
chmod 755 "$stage/init" "$stage/bin/busybox"
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true   # init reopens it after devtmpfs anyway

# The kernel config says which of these are built in; modprobe --show-depends
# gives the rest in load order ("insmod PATH" lines, "builtin NAME" lines).
n=0
: > "$stage/modules/list"
for m in "${boot_modules[@]}"; do
  deps=$(modprobe -d "$kdir" -S "$kver" --show-depends "$m") ||
    die "modprobe --show-depends $m failed for kernel $kver"
  while read -r verb path _; do
    [ "$verb" = insmod ] || continue
    base=$(basename "$path")
    grep -qx "$base" "$stage/modules/list" && continue
    cp "$path" "$stage/modules/$base" || die "cannot copy $path"
    echo "$base" >> "$stage/modules/list"
    n=$((n + 1))
  done <<< "$deps"
done
(cd "$stage" && find . | LC_ALL=C sort | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -9 > "$cache/initrd.tmp.gz") ||
  die "packing the initramfs (cpio | gzip) failed"
mv "$cache/initrd.tmp.gz" "$cache/initrd.gz"
rm -rf "$stage"
stamp_now > "$cache/stamp"
say "ready: kernel $kver, $n modules in the initramfs, $(du -sh "$cache" | cut -f1) in $cache"
