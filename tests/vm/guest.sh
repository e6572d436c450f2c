#!/bin/bash
# Stage 2 of the Strata test VM: PID 1 on the host's root (read-only 9p), run
# by init.sh through switch_root from the job directory, where run.sh copies
# it with:
#   config   VM_MODDIR (the unpacked kernel), VM_MODULES, VM_CWD, ...
#   argv     the command, NUL-separated
#   env      its environment, NAME=VALUE NUL-separated
# It loads the modules, runs the command with stdout on ttyS1 and stderr on
# ttyS2 (run.sh's stdout and stderr), and writes its exit status to
# job/status, or a setup failure to job/error; then it powers the VM off.
set -u
job=/run/strata-vm/job
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

poweroff_now() {
  sync
  /bin/busybox poweroff -f
  echo o > /proc/sysrq-trigger
  sleep 60
}
setup_fail() {
  echo "stage 2: $*" > "$job/error"
  echo "vm-guest: $*" > /dev/console
  poweroff_now
}
# PID 1 must never exit: that is a kernel panic, which run.sh would report
# without the reason.
trap 'setup_fail "guest.sh stopped at line $LINENO"' EXIT

# shellcheck source=/dev/null
. "$job/config" || setup_fail "cannot read $job/config"

# modprobe from kmod on the host root, pointed at the unpacked kernel; the
# kernel's own module requests (fs-overlay, crypto-crc32c, loop devices...)
# go through it too, and so does `modprobe` in the command's PATH.
kmod_modprobe=$(command -v modprobe) || setup_fail "no modprobe (package kmod) on the host root"
mkdir -p /run/strata-vm/bin
q=$(printf '%s' "$VM_MODDIR" | sed "s/'/'\\\\''/g")
printf '#!/bin/sh\nexec %s -d '\''%s'\'' "$@"\n' "$kmod_modprobe" "$q" > /run/strata-vm/bin/modprobe
chmod 755 /run/strata-vm/bin/modprobe
echo /run/strata-vm/bin/modprobe > /proc/sys/kernel/modprobe ||
  setup_fail "cannot set /proc/sys/kernel/modprobe"
# One modprobe for all (each process start is slow under TCG); on failure,
# one at a time to name the module that failed.
# shellcheck disable=SC2086 # VM_MODULES is a list
if ! /run/strata-vm/bin/modprobe -a $VM_MODULES 2>/dev/null; then
  for m in $VM_MODULES; do
    out=$(/run/strata-vm/bin/modprobe "$m" 2>&1) || setup_fail "modprobe $m: $out"
  done
fi

# The command's streams: raw serial ports (no \n -> \r\n), no echo.
for t in /dev/ttyS1 /dev/ttyS2; do
  stty -F "$t" raw -echo clocal 115200 2>/dev/null || setup_fail "stty $t failed"
done

mapfile -d '' -t argv < "$job/argv" || setup_fail "cannot read $job/argv"
mapfile -d '' -t envv < "$job/env" || setup_fail "cannot read $job/env"
[ ${#argv[@]} -gt 0 ] || setup_fail "no command given"
cd -- "$VM_CWD" 2>/dev/null ||
  setup_fail "cannot enter the working directory $VM_CWD in the guest"

: > "$job/started"
(
  for v in $(compgen -e); do unset "$v" 2>/dev/null; done
  export PWD="$VM_CWD" "${envv[@]}"
  export PATH="/run/strata-vm/bin:${PATH:-/usr/sbin:/usr/bin:/sbin:/bin}"
  exec -- "${argv[@]}"
) < /dev/null > /dev/ttyS1 2> /dev/ttyS2
rc=$?

# stty sets the port's mode with TCSADRAIN: it returns once all the command's
# output has left the guest.
stty -F /dev/ttyS1 raw 2>/dev/null
stty -F /dev/ttyS2 raw 2>/dev/null
trap - EXIT
echo "$rc" > "$job/status"
echo "STRATA-VM-EXIT $rc" > /dev/console
poweroff_now
