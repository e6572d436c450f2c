#!/usr/bin/env bash
# Installs everything Strata builds and tests with, from Debian 12 packages.
# Idempotent: when every package is already installed, apt is not touched.
#
#   scripts/install-deps.sh           build + test dependencies
#   scripts/install-deps.sh --build   build dependencies only
set -euo pipefail

build_pkgs=(
  cmake g++ make pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  liblmdb-dev liburing-dev libzstd-dev zlib1g-dev libisal-dev libssl-dev libtomlplusplus-dev libre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# Real peers and clients for the conformance and end-to-end tests.
test_pkgs=(
  containerd runc busybox-static docker-registry skopeo jq
  golang-go golang-github-containerd-containerd-dev
  e2fsprogs xfsprogs btrfs-progs util-linux attr libcap2-bin zstd bc
  python3 gnuplot-nox  # bench/report.py: Markdown tables and PNG plots
  python3-grpcio python3-protobuf  # tests/cri: the CRI client (e2e_cri, bench/cri.sh)
  patchelf containernetworking-plugins  # e2e_cri's user-namespaced pod: unstable's runc, its network
  pigz time strace  # bench/extract.py peers, its --syscalls
  systemd  # systemd-socket-activate, systemd-analyze verify, systemd-tmpfiles
  clang-format  # scripts/check_format.sh (ctest format)
  qemu-system-x86 kmod  # tests/vm: Debian's kernel for the project-quota tests
)

pkgs=("${build_pkgs[@]}")
[ "${1:-}" = "--build" ] || pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian starts containerd and docker-registry as services on install; Strata's
# tests run private instances, so keep the system ones from starting.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  created_policy=1
fi
trap '[ $created_policy = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}"
