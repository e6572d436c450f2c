#!/bin/busybox sh
# Stage 1 of the Strata test VM: PID 1 in the initramfs that prepare.sh packs
# (busybox, this file as /init, the virtio/9p modules in /modules).
#
# It mounts the host's root read-only over virtio-9p (tag strata_root) as the
# guest's root, with the job directory of run.sh (tag strata_job, read-write)
# at /run/strata-vm/job, proc, sysfs, devtmpfs, devpts, and tmpfs on /tmp,
# /run and /dev/shm; then it hands over to stage 2, guest.sh from the job
# directory, which loads the test modules and runs the command.
# Its messages go to the kernel console (ttyS0), which run.sh keeps in a log.

r=/newroot
fail() {
  echo "vm-init: $*"
  for j in /job $r/run/strata-vm/job; do
    [ -f "$j/config" ] && echo "stage 1: $*" > "$j/error"
  done
  sync
  poweroff -f
  echo o > /proc/sysrq-trigger
  sleep 30
}

/bin/busybox mount -t proc proc /proc || /bin/busybox poweroff -f
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount devtmpfs on /dev"
exec </dev/console >/dev/console 2>&1

while read -r m; do
  insmod "/modules/$m" || fail "insmod $m"
done < /modules/list

p9=trans=virtio,version=9p2000.L,msize=262144

# The virtio devices are probed when their drivers register, so the mounts
# normally work at once; retry briefly all the same.
mount9p() {
  i=0
  until mount -t 9p -o "$1" "$2" "$3" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 50 ] || { mount -t 9p -o "$1" "$2" "$3"; return 1; }
    sleep 0.1
  done
}

mount9p "$p9,cache=none" strata_job /job || fail "mount the job directory (9p tag strata_job)"
[ -r /job/config ] || fail "no config in the job directory"
# shellcheck source=/dev/null
. /job/config

mount9p "ro,$p9,cache=loose" strata_root /newroot || fail "mount the host root (9p tag strata_root)"

mount -t tmpfs -o mode=755 tmpfs $r/run || fail "mount tmpfs on /run"
mkdir -p $r/run/strata-vm/job $r/run/strata-vm/host
mount -o move /job $r/run/strata-vm/job || fail "move the job directory to /run/strata-vm/job"
# The host root once more, without the guest's mounts over it: what the
# guest's /tmp and /run hide stays reachable at /run/strata-vm/host.
mount -o bind $r $r/run/strata-vm/host || fail "bind the host root to /run/strata-vm/host"
mount -t tmpfs -o mode=1777 tmpfs $r/tmp || fail "mount tmpfs on /tmp"
mount -t proc proc $r/proc || fail "mount proc on the new root"
mount -t sysfs sysfs $r/sys || fail "mount sysfs on the new root"
mount -t devtmpfs devtmpfs $r/dev || fail "mount devtmpfs on the new root"
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $r/dev/pts || fail "mount devpts"
mount -t tmpfs -o mode=1777 tmpfs $r/dev/shm || fail "mount tmpfs on /dev/shm"
# What udev would add: bash's process substitution needs /dev/fd.
ln -sf /proc/self/fd $r/dev/fd
ln -sf /proc/self/fd/0 $r/dev/stdin
ln -sf /proc/self/fd/1 $r/dev/stdout
ln -sf /proc/self/fd/2 $r/dev/stderr

# Host directories under /tmp or /run that the command needs (its cwd, the
# checkout, the kernel cache), one per line in VM_EXPOSE, read-only.
if [ -n "${VM_EXPOSE:-}" ]; then
  echo "$VM_EXPOSE" | while read -r p; do
    [ -n "$p" ] || continue
    mkdir -p "$r$p" || fail "mkdir $p"
    mount -o bind "$r/run/strata-vm/host$p" "$r$p" || fail "expose the host's $p"
  done
fi

# The host's output directory, read-write, at the same path.
if [ -n "${VM_OUT:-}" ]; then
  mkdir -p "$r$VM_OUT" 2>/dev/null
  mount9p "$p9,cache=none" strata_out "$r$VM_OUT" || fail "mount the output directory $VM_OUT (9p tag strata_out)"
fi

umount /proc /sys /dev 2>/dev/null
# shellcheck disable=SC2093 # exec fails when switch_root cannot start
exec switch_root $r /bin/bash /run/strata-vm/job/guest.sh
fail "switch_root to the host root failed"
