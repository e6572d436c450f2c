#!/usr/bin/env bash
# Every tracked C++ file is formatted as .clang-format says (clang-format 14,
# Debian 12's; scripts/install-deps.sh installs it). Lists the files that are
# not and how to fix them.
#
#   scripts/check_format.sh [SOURCE_DIR]
set -uo pipefail
top=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$top" || exit 2
cf=$(command -v clang-format-14 || command -v clang-format) || {
  echo "check_format: clang-format is not installed (scripts/install-deps.sh)"; exit 1; }
# One clang-format for all files (one per file took 30 s): each misformatted
# line is reported as "<file>:<line>:<col>: error: ...".
out=$(git ls-files -z '*.cc' '*.h' | xargs -0 "$cf" --dry-run -Werror 2>&1 > /dev/null)
rc=$?
mapfile -t bad < <(sed -nE 's/^(.+):[0-9]+:[0-9]+: error: .*/\1/p' <<<"$out" | sort -u)
if [ $rc -ne 0 ] && [ ${#bad[@]} -eq 0 ]; then
  echo "$out" | head -20
  echo "check_format: FAILED: $cf exited $rc (above)"
  exit 1
fi
if [ ${#bad[@]} -gt 0 ]; then
  printf 'not formatted: %s\n' "${bad[@]}"
  echo "check_format: FAILED: run $cf -i on the files above"
  exit 1
fi
echo "check_format: every tracked C++ file is formatted ($("$cf" --version | head -1))"
