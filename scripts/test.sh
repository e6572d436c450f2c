#!/usr/bin/env bash
# Quick start, step 2 (and CI's entry point): install dependencies, build,
# and run the whole test suite with ctest: unit tests, the daemon tests,
# containerd's conformance suite and the end-to-end test with real containerd
# 1.6 and 2.1. Run as root: the suites mount overlayfs and run containers.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Each phase's wall time is printed: CI has 30 minutes on two cores.
t0=$SECONDS
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"
echo "test.sh: dependencies and build: $((SECONDS - t0)) s"
# The unit tests and the apply fuzz replay under ASan/UBSan, in their own
# build directory (STRATA_SKIP_SANITIZE=1 skips it for a quick local run).
# Those suites (ctest label `sanitized`) are then not run again by ctest.
skip=()
if [ "${STRATA_SKIP_SANITIZE:-}" != 1 ]; then
  t0=$SECONDS
  "$top/scripts/sanitize.sh" || { echo "test.sh: the sanitizer run failed (above)" >&2; exit 1; }
  echo "test.sh: ASan/UBSan build and run: $((SECONDS - t0)) s"
  skip=(-LE '^sanitized$')
  echo "test.sh: ctest skips the suites that just passed under ASan/UBSan (label sanitized)"
fi
cd "${STRATA_BUILD_DIR:-$top/build}"
ctest --output-on-failure -j2 --timeout 1500 "${skip[@]}" "$@"
