#!/usr/bin/env bash
# Include directions: every project #include in a module's sources (tests
# aside) must name a module that module may depend on, per the table below
# (README "Architecture" says the same in words). A new arrow against the
# grain fails CI here, naming the file, the line and the rule.
#
#   scripts/check_includes.sh [SOURCE_DIR]
set -uo pipefail
top=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$top" || exit 2

# module: the modules it may include (besides itself). "proto" is the
# generated gRPC code (containerd/..., strata/services/...).
declare -A allow=(
  [io/base]=""
  [io/fs]="io/base"
  [io/clone]="io/base io/fs"
  [io/decompress]="io/base"
  [io/tar]="io/base"
  [io/sink]="io/base io/fs io/clone"
  [io/extract]="io/base io/fs io/clone io/tar io/decompress io/sink"
  [io/compress]="io/base io/decompress"
  [io/diff]="io/base io/fs io/tar io/decompress io/compress"
  [snapshotter]="io/base io/fs"
  [proto/support]="io/base io/fs proto"
  [snapshotter/meta]="io/base io/fs snapshotter"
  [snapshotter/backend]="io/base io/fs io/clone io/extract snapshotter"
  [snapshotter/engine]="io/base io/fs io/clone io/sink io/extract io/diff snapshotter snapshotter/meta snapshotter/backend"
  [snapshotter/server]="io/base io/fs io/decompress io/extract io/diff snapshotter snapshotter/meta snapshotter/engine proto proto/support"
  [snapshotter/daemon]="io/base io/fs snapshotter snapshotter/engine snapshotter/server"
  [snapshotter/cli]="io/base snapshotter proto proto/support"
  [bench/harness]="io/base io/fs proto proto/support"
)
# Headers that stay private to their module even where the module is
# allowed: the engine knows backends only through backend.h and probe.h.
declare -A private=(
  [snapshotter/backend/overlay_backend.h]="snapshotter/backend"
  [snapshotter/backend/reflink_backend.h]="snapshotter/backend"
)

module_of() {  # path -> MOD, the longest module prefix in the table (or "")
  local d=$1      # (no subshells: a fork per include took 10 s)
  MOD=
  while [[ $d == */* ]]; do
    d=${d%/*}
    if [ -n "${allow[$d]+x}" ]; then MOD=$d; return; fi
  done
}

fail=0 checked=0
while IFS= read -r f; do
  case $f in *_test.cc|*_test_util.h|*/test_util.h|*_fuzz.cc|tests/*) continue ;; esac
  module_of "$f"; mod=$MOD
  [ -n "$mod" ] || continue
  checked=$((checked + 1))
  while IFS=: read -r line inc; do
    inc=${inc#*\"}; inc=${inc%\"*}
    case $inc in
      containerd/*|strata/services/*) target=proto ;;
      *) module_of "$inc"; target=$MOD; [ -n "$target" ] || continue ;;
    esac
    [ "$target" = "$mod" ] && continue
    if [ -n "${private[$inc]+x}" ] && [ "${private[$inc]}" != "$mod" ]; then
      echo "$f:$line: includes $inc, private to ${private[$inc]}"; fail=1; continue
    fi
    ok=0
    for a in ${allow[$mod]}; do [ "$a" = "$target" ] && ok=1; done
    if [ $ok = 0 ]; then
      echo "$f:$line: $mod may not include $target ($inc); allowed: ${allow[$mod]:-nothing}"
      fail=1
    fi
  done < <(grep -n '^#include "' "$f")
done < <(git ls-files '*.cc' '*.h')
if [ $fail = 0 ]; then
  echo "check_includes: $checked files follow the include directions"
else
  echo "check_includes: FAILED (see above; the table is in $0)"
fi
exit $fail
