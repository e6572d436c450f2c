#!/usr/bin/env bash
# Quick start, step 2 (and CI's entry point): install dependencies, build,
# and run the whole test suite with ctest: unit tests, the daemon tests,
# containerd's conformance suite and the end-to-end test with real containerd
# 1.6 and 2.1. Run as root: the suites mount overlayfs and run containers.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The unit suites and the apply fuzz replay run under ASan/UBSan, in their
# own build directory (STRATA_SKIP_SANITIZE=1 skips that for a quick local
# run). Those suites are then neither built nor run again in ./build
# (STRATA_SANITIZED_SUITES=OFF); without the sanitizers, ctest runs them.
sanitize=1 suites=OFF
[ "${STRATA_SKIP_SANITIZE:-}" = 1 ] && sanitize=0 suites=ON
# Each phase's wall time is printed: CI has 30 minutes on two cores.
t0=$SECONDS
"$top/scripts/install-deps.sh"
STRATA_SANITIZED_SUITES=$suites "$top/scripts/build.sh"
echo "test.sh: dependencies and build: $((SECONDS - t0)) s"
if [ $sanitize = 1 ]; then
  t0=$SECONDS
  "$top/scripts/sanitize.sh" || { echo "test.sh: the sanitizer run failed (above)" >&2; exit 1; }
  echo "test.sh: ASan/UBSan build and run: $((SECONDS - t0)) s"
  echo "test.sh: ctest leaves out the suites that just passed under ASan/UBSan"
fi
cd "${STRATA_BUILD_DIR:-$top/build}"
ctest --output-on-failure -j2 --timeout 1500 "$@"
