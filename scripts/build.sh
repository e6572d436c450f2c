#!/usr/bin/env bash
# Configures and builds Strata in ./build (or $STRATA_BUILD_DIR) with -j2.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${STRATA_BUILD_DIR:-$top/build}
mkdir -p "$build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE="${STRATA_BUILD_TYPE:-RelWithDebInfo}" \
  ${STRATA_CMAKE_ARGS:-} > "$build/cmake.log" 2>&1 || { cat "$build/cmake.log"; exit 1; }
cmake --build "$build" -j "${STRATA_JOBS:-2}"
