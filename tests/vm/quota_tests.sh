#!/usr/bin/env bash
# ctest quota_vm: the project-quota suites (io_test's ProjectQuota*,
# daemon_test's *Quota*) on XFS and ext4 loop filesystems mounted with
# prjquota, with STRATA_REQUIRE_QUOTA=1 so that none of them may skip. Run
# directly where this kernel has quota support, else under Debian's kernel
# in a qemu VM (tests/vm/run.sh): the CI machine's kernel has none.
#   tests/vm/quota_tests.sh BIN_DIR
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(cd "$1" && pwd) || { echo "FAIL: no binary directory $1"; exit 1; }
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root (loop mounts, and qemu's guest runs the tests as root)"
  exit 77
fi
suites="'$bin/io_test' --gtest_filter='*ProjectQuota*' && '$bin/daemon_test' --gtest_filter='*Quota*'"

probe=$(mktemp -d)
can_here=0
if truncate -s 320M "$probe/img" && mkfs.xfs -q -f "$probe/img" >/dev/null 2>&1 &&
    mkdir "$probe/m" && mount -o loop,prjquota "$probe/img" "$probe/m" 2>/dev/null; then
  umount "$probe/m"; can_here=1
fi
rm -rf "$probe"
if [ $can_here = 1 ]; then
  echo "quota_vm: this kernel has project quotas: running the suites here"
  STRATA_REQUIRE_QUOTA=1 bash -c "$suites"
  exit $?
fi
echo "quota_vm: this kernel has no project quotas for XFS ($(uname -r)): running the suites under Debian's kernel (tests/vm/run.sh)"
bash "$here/run.sh" --mem 2G --timeout 900 -- env STRATA_REQUIRE_QUOTA=1 bash -c "$suites"
rc=$?
[ $rc = 0 ] || echo "FAIL: the quota suites failed in the VM (exit $rc)"
exit $rc
