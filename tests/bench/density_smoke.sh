#!/usr/bin/env bash
# CI smoke test of `strata bench density` (tiny sizes): the store grows to
# each size, every measurement is taken (nonzero Stat/Prepare/Commit/Remove
# latencies, a start-up time, RSS and metadata size, a filtered Walk that
# finds the snapshots of one label group) and the targets line is printed.
# Timing is not checked.
#   tests/bench/density_smoke.sh STRATA_CLI WORK_DIR
set -uo pipefail
cli=$1 work=$2
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root (the daemon mounts overlayfs to probe its backend)"
  exit 77
fi
rm -rf "$work"; mkdir -p "$work"
if ! "$cli" bench density --sizes 60,400 --n 20 --clients 2 --dir "$work/run" \
    --json "$work/density.json" >"$work/out.txt" 2>&1; then
  echo "FAIL: strata bench density exited non-zero:"; cat "$work/out.txt"; exit 1
fi
cat "$work/out.txt"
python3 - "$work/density.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["rows"]
bad = []
if len(rows) != 2:
    bad.append(f"{len(rows)} rows, want 2")
for r in rows:
    for k in ("stat_us", "prepare_us", "commit_us", "remove_us"):
        if not (0 < r[k][0] <= r[k][1]):
            bad.append(f"{r['snapshots']}: {k} p50/p99 {r[k]}")
    for k in ("startup_ms", "rss_bytes", "metadata_bytes"):
        if not r[k] > 0:
            bad.append(f"{r['snapshots']}: {k} = {r[k]}")
    if r["walk_found"] <= 0:
        bad.append(f"{r['snapshots']}: the filtered walk found nothing")
if len(rows) == 2:
    if not (rows[0]["snapshots"] >= 60 and rows[1]["snapshots"] >= 400):
        bad.append(f"sizes {rows[0]['snapshots']}, {rows[1]['snapshots']}: want >= 60, >= 400")
    if rows[1]["walk_found"] < rows[0]["walk_found"]:
        bad.append("the filtered walk found fewer snapshots in a bigger store")
if bad:
    print("FAIL:\n  " + "\n  ".join(bad))
    sys.exit(1)
print("density smoke: ok")
PY
rc=$?
grep -q "^targets at " "$work/out.txt" || { echo "FAIL: no targets line"; exit 1; }
exit $rc
