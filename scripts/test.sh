#!/usr/bin/env bash
# Quick start, step 2 (and CI's entry point): install dependencies, build,
# and run the whole test suite with ctest: unit tests, the daemon tests,
# containerd's conformance suite and the end-to-end test with real containerd
# 1.6 and 2.1. Run as root: the suites mount overlayfs and run containers.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"
# The unit tests and the apply fuzz replay under ASan/UBSan, in their own
# build directory (STRATA_SKIP_SANITIZE=1 skips it for a quick local run).
if [ "${STRATA_SKIP_SANITIZE:-}" != 1 ]; then
  "$top/scripts/sanitize.sh" || { echo "test.sh: the sanitizer run failed (above)" >&2; exit 1; }
fi
cd "${STRATA_BUILD_DIR:-$top/build}"
ctest --output-on-failure -j2 --timeout 1500 "$@"
