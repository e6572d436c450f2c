#!/usr/bin/env bash
# Runs a command as root inside a VM that boots Debian 12's own kernel, whose
# root filesystem is this host's root, shared read-only over virtio-9p: every
# host binary and library is at its usual path. See tests/vm/README.md.
#
#   tests/vm/run.sh [OPTIONS] -- COMMAND [ARGS...]
#
#   --mem SIZE       guest memory (qemu -m), default 2G
#   --cpus N         guest CPUs, default 2
#   --timeout SECS   stop the guest after SECS seconds (exit 124), default 600
#   --accel A        kvm, tcg or auto (default: $VM_ACCEL, else auto: KVM when
#                    /dev/kvm works, else TCG software emulation)
#   --env NAME[=VAL] also pass NAME (from here, or as VAL) to the command
#   --expose DIR     also show the host's DIR, under /tmp or /run, in the guest
#   --verbose        the kernel's console (without `quiet`) on stderr
#
# In the guest: /proc, /sys, /dev (devtmpfs), tmpfs on /tmp, /run and /dev/shm;
# modules loop, xfs, ext4, quota_v2, overlay loaded, and `modprobe` works
# (also for the kernel's own requests). The command runs in the current
# directory, with stdin /dev/null, its stdout and stderr on ours, and an
# environment of PATH, HOME=/root, TMPDIR=/tmp, LANG/LC_ALL, STRATA_*, GTEST_*,
# STRATA_VM=1 and VM_OUT. VM_OUT is a host directory shared read-write at the
# same path: $VM_OUT if set, else a fresh one that is removed when left empty.
# The host's /tmp and /run are hidden by the guest's tmpfs, except the current
# directory, the checkout, the kernel cache and --expose'd directories.
#
# Exit status: the command's; 124 when it did not finish in time; 125 when the
# VM itself failed (the message says which step).
#
# Also read: VM_CACHE (the cache prepare.sh fills, default <repo>/build/vm),
# VM_ACCEL, VM_TIMING=1 (print the accelerator and the seconds taken).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
cache=${VM_CACHE:-$repo/build/vm}
# Modules loaded before the command: loop devices, XFS and ext4 with project
# quotas (QFMT_V2 is quota_v2 + quota_tree), overlayfs.
modules="loop xfs ext4 quota_v2 overlay"

die() { echo "vm: $*" >&2; exit 125; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

mem=2G cpus=2 timeout_s=600 accel=${VM_ACCEL:-auto} verbose=0
extra_env=() expose=()
while [ $# -gt 0 ]; do
  case $1 in
    --mem) mem=${2:?--mem needs a size}; shift 2 ;;
    --cpus) cpus=${2:?--cpus needs a number}; shift 2 ;;
    --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
    --accel) accel=${2:?--accel needs kvm, tcg or auto}; shift 2 ;;
    --env) extra_env+=("${2:?--env needs NAME[=VALUE]}"); shift 2 ;;
    --expose) expose+=("${2:?--expose needs a directory}"); shift 2 ;;
    --verbose) verbose=1; shift ;;
    --) shift; break ;;
    -h|--help) usage ;;
    -*) echo "vm: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || usage
[[ $timeout_s =~ ^[0-9]+$ ]] || die "--timeout wants whole seconds, not '$timeout_s'"
[[ $cpus =~ ^[0-9]+$ ]] || die "--cpus wants a number, not '$cpus'"
case $accel in kvm|tcg|auto) ;; *) die "--accel wants kvm, tcg or auto, not '$accel'" ;; esac

# --- the kernel and initramfs --------------------------------------------------
bash "$here/prepare.sh" --quiet "$cache" || die "step prepare: tests/vm/prepare.sh $cache failed"
cache=$(cd "$cache" && pwd -P)
kver=$(cat "$cache/release")
kernel=$cache/kernel/boot/vmlinuz-$kver
# The decompressed kernel boots through PVH, seconds faster under TCG.
[ ! -s "$cache/vmlinux" ] || kernel=$cache/vmlinux
initrd=$cache/initrd.gz
if [ ! -r "$kernel" ] || [ ! -r "$initrd" ]; then
  die "step prepare: $kernel or $initrd is missing"
fi

# --- accelerator ----------------------------------------------------------------
# KVM is used when qemu can create a vCPU with it and it has not been seen to
# hang here before. `-cpu host` can fail to set MSR_IA32_ARCH_CAPABILITIES
# under nested KVM; without that MSR is the second choice. A KVM guest that
# has not started the command within $kvm_deadline s is stopped, the host is
# marked in the cache (kvm-broken-<host kernel>), and TCG takes over.
kvm_deadline=30
kvm_mark=$cache/kvm-broken-$(uname -r)
kvm_cpu=""
kvm_probe() {
  [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
  # PVM (kvm_pvm) runs only guest kernels built for it, not Debian's.
  if [ -d /sys/module/kvm_pvm ] && [ ! -d /sys/module/kvm_intel ] && [ ! -d /sys/module/kvm_amd ]; then
    return 1
  fi
  [ ! -e "$kvm_mark" ] || return 1
  local c
  for c in host host,-arch-capabilities; do
    if (echo quit | timeout 20 qemu-system-x86_64 -machine pc,accel=kvm -cpu "$c" \
          -nodefaults -no-user-config -display none -monitor stdio -S) >/dev/null 2>&1; then
      kvm_cpu=$c
      return 0
    fi
  done
  return 1
}
case $accel in
  kvm) kvm_probe || die "step accel: KVM was asked for, but it does not work here (no usable /dev/kvm, PVM-only KVM, or $kvm_mark)" ;;
  auto) if kvm_probe; then accel=kvm; else accel=tcg; fi ;;
esac

# --- the job directory -------------------------------------------------------------
job=$(mktemp -d "${TMPDIR:-/tmp}/strata-vm.XXXXXX") || die "step job: mktemp failed"
share=$job/share
out_made=""
pids=()
# shellcheck disable=SC2317  # the EXIT trap runs it
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$job"
  if [ -n "$out_made" ]; then
    rmdir "$out_made" 2>/dev/null || echo "vm: the guest's output is in $out_made" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir "$share"
cp "$here/guest.sh" "$share/guest.sh"

if [ -n "${VM_OUT:-}" ]; then
  mkdir -p "$VM_OUT" || die "step job: cannot create VM_OUT=$VM_OUT"
  out=$(cd "$VM_OUT" && pwd -P)
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/strata-vm-out.XXXXXX") || die "step job: mktemp failed"
  out_made=$out
fi

cwd=$(pwd -P)
# Host directories to show through the guest's tmpfs on /tmp and /run.
expose_list=""
for d in "$cwd" "$repo" "$cache" "${expose[@]}"; do
  [ -d "$d" ] || die "step job: $d is not a directory"
  d=$(cd "$d" && pwd -P)
  case $d in /tmp/*|/run/*) ;; *) continue ;; esac
  expose_list+="$d"$'\n'
done
# Parents first, and nothing already inside an exposed directory.
expose_list=$(printf '%s' "$expose_list" | LC_ALL=C sort -u |
  awk 'NF { for (i = 1; i <= n; i++) if (index($0 "/", kept[i] "/") == 1) next; kept[++n] = $0; print }')

for v in "$job" "$cwd" "$cache" "$out" "$expose_list"; do
  case $v in *\'*|*,*) die "step job: paths with a quote or a comma are not supported: $v" ;; esac
done
{
  printf "VM_MODDIR='%s'\n" "$cache/kernel"
  printf "VM_MODULES='%s'\n" "$modules"
  printf "VM_CWD='%s'\n" "$cwd"
  printf "VM_OUT='%s'\n" "$out"
  printf "VM_EXPOSE='%s'\n" "$expose_list"
} > "$share/config"
printf '%s\0' "$@" > "$share/argv"
{
  printf '%s\0' "PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin" HOME=/root USER=root LOGNAME=root \
    TMPDIR=/tmp STRATA_VM=1 "VM_OUT=$out"
  for v in LANG LC_ALL; do
    [ -z "${!v+x}" ] || printf '%s\0' "$v=${!v}"
  done
  while IFS= read -r v; do
    [ "$v" = STRATA_VM ] || printf '%s\0' "$v=${!v}"
  done < <(compgen -e | grep -E '^(STRATA|GTEST)_' || true)
  for v in "${extra_env[@]}"; do
    case $v in
      *=*) printf '%s\0' "$v" ;;
      *) [ -z "${!v+x}" ] || printf '%s\0' "$v=${!v}" ;;
    esac
  done
} > "$share/env"

# --- boot ------------------------------------------------------------------------
append="console=ttyS0 panic=-1 oops=panic mitigations=off"
[ "$verbose" = 1 ] || append+=" quiet"

# Runs the VM once with accelerator $1; sets qrc (qemu's exit status, 124 on timeout).
boot() {
  local acc=$1 cpu fifo watcher=""
  rm -f "$share/status" "$share/error" "$share/started" "$job/console.log"
  if [ "$acc" = kvm ]; then cpu=$kvm_cpu; else cpu=max; fi
  # The command's stdout and stderr leave through serial ports 1 and 2 into
  # these FIFOs; the kernel console (port 0) goes to console.log.
  for fifo in out err; do
    rm -f "$job/$fifo"
    mkfifo "$job/$fifo" || die "step boot: mkfifo failed"
  done
  cat "$job/out" &
  pids+=("$!")
  cat "$job/err" >&2 &
  pids+=("$!")
  local console="file:$job/console.log"
  if [ "$verbose" = 1 ]; then
    rm -f "$job/con"
    mkfifo "$job/con" || die "step boot: mkfifo failed"
    tee "$job/console.log" < "$job/con" >&2 &
    pids+=("$!")
    console="file:$job/con"
  fi
  local q=(qemu-system-x86_64 -name strata-vm
    -machine "pc,accel=$acc" -cpu "$cpu" -smp "$cpus" -m "$mem"
    -nodefaults -no-user-config -display none -vga none -monitor none -no-reboot -nic none
    -kernel "$kernel" -initrd "$initrd" -append "$append"
    -serial "$console" -serial "file:$job/out" -serial "file:$job/err"
    -virtfs "local,path=/,mount_tag=strata_root,security_model=none,readonly=on,multidevs=remap"
    -virtfs "local,path=$share,mount_tag=strata_job,security_model=none"
    -virtfs "local,path=$out,mount_tag=strata_out,security_model=none")
  qrc=0
  timeout -k 10 "$timeout_s" "${q[@]}" < /dev/null 2> "$job/qemu.log" &
  local qpid=$!
  pids+=("$qpid")
  if [ "$acc" = kvm ]; then
    # Give up on KVM when the guest does not reach the command in time.
    (
      for _ in $(seq "$kvm_deadline"); do
        sleep 1
        [ -e "$share/started" ] || [ -e "$share/error" ] || [ -e "$share/status" ] && exit 0
        kill -0 "$qpid" 2>/dev/null || exit 0
      done
      : > "$job/kvm-stuck"
      kill "$qpid" 2>/dev/null
    ) &
    watcher=$!
    pids+=("$watcher")
  fi
  wait "$qpid" || qrc=$?
  [ -z "$watcher" ] || kill "$watcher" 2>/dev/null || true
  # Unblock a reader whose writer (qemu) never opened its FIFO.
  for fifo in out err con; do
    if [ -p "$job/$fifo" ]; then exec 8<> "$job/$fifo"; exec 8>&-; fi
  done
  wait "${pids[@]}" 2>/dev/null || true
  pids=()
}

show_failure() {
  if [ -s "$job/qemu.log" ]; then
    echo "vm: qemu said:" >&2
    sed 's/^/vm:   /' "$job/qemu.log" >&2
  fi
  if [ "$verbose" = 0 ] && [ -s "$job/console.log" ]; then
    echo "vm: the last lines of the guest's console:" >&2
    tail -n 25 "$job/console.log" | tr -d '\r' | sed 's/^/vm:   /' >&2
  fi
}

start=$(date +%s)
boot "$accel"
if [ "$accel" = kvm ] && [ "$qrc" != 124 ] && [ ! -e "$share/started" ] &&
   [ ! -e "$share/status" ] && [ ! -e "$share/error" ]; then
  if [ -e "$job/kvm-stuck" ]; then
    echo "vm: the KVM guest did not start within $kvm_deadline s; using TCG from now on (remove $kvm_mark to try KVM again)" >&2
    : > "$kvm_mark"
  else
    echo "vm: the KVM guest did not come up (qemu exit $qrc); retrying with TCG" >&2
    show_failure
  fi
  accel=tcg
  boot tcg
fi
[ -z "${VM_TIMING:-}" ] || echo "vm: $accel, $(( $(date +%s) - start )) s" >&2

if [ -s "$share/status" ]; then
  rc=$(cat "$share/status")
  [[ $rc =~ ^[0-9]+$ ]] || die "the guest reported a bad exit status '$rc'"
  exit "$rc"
fi
if [ -s "$share/error" ]; then
  echo "vm: the guest's setup failed: $(cat "$share/error")" >&2
  show_failure
  exit 125
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  echo "vm: the guest did not finish within $timeout_s s ($accel)" >&2
  show_failure
  exit 124
fi
echo "vm: the guest stopped without reporting the command's exit status (qemu exit $qrc, $accel)" >&2
show_failure
exit 125
