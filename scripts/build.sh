#!/usr/bin/env bash
# Configures and builds Strata in ./build (or $STRATA_BUILD_DIR) with -j2.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${STRATA_BUILD_DIR:-$top/build}
mkdir -p "$build"
# STRATA_SANITIZED_SUITES=OFF leaves out the unit suites that
# scripts/sanitize.sh runs (scripts/test.sh sets it when it runs them there).
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE="${STRATA_BUILD_TYPE:-RelWithDebInfo}" \
  -DSTRATA_SANITIZED_SUITES="${STRATA_SANITIZED_SUITES:-ON}" \
  ${STRATA_CMAKE_ARGS:-} > "$build/cmake.log" 2>&1 || { cat "$build/cmake.log"; exit 1; }
cmake --build "$build" -j "${STRATA_JOBS:-2}"
