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
bad=()
while IFS= read -r f; do
  "$cf" --dry-run -Werror "$f" > /dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.cc' '*.h')
if [ ${#bad[@]} -gt 0 ]; then
  printf 'not formatted: %s\n' "${bad[@]}"
  echo "check_format: FAILED: run $cf -i on the files above"
  exit 1
fi
echo "check_format: every tracked C++ file is formatted ($("$cf" --version | head -1))"
