#!/usr/bin/env bash
# CI smoke test of `strata bench cow` (ctest bench_cow_smoke): tiny sizes, one
# rep, the three required configurations plus btrfs; checks that every cell
# has a latency and a byte count, that the report rendered, and the space
# accounting that physics guarantees:
#   - the copy backend's Prepare on a 1 MiB file consumes >= 1 MiB;
#   - the reflink backend's Prepare on XFS consumes < 50% of it (shared extents);
#   - overlay on ext4 copies the whole 1 MiB file up on a 4-byte write.
# No timing asserts. Exits 77 (skip) only without root or loop devices.
#
#   tests/bench/cow_smoke.sh STRATA_BIN WORK_DIR
set -euo pipefail
strata=$1 work=$2
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (loop devices, mounts)"; exit 77; }
[ -e /dev/loop-control ] || { echo "SKIP: no loop devices (/dev/loop-control)"; exit 77; }
rm -rf "$work"
mkdir -p "$work"
configs=overlay-ext4,reflink-xfs,copy-ext4,reflink-btrfs
"$strata" bench cow --work "$work" --out "$work/results" --configs "$configs" \
  --sizes 4K,1M --reps 1 --images 200 --layers 4 --peer none \
  --report "$top/bench/report.py"
python3 - "$work/results" "$configs" <<'PY'
import json, os, sys
out, configs = sys.argv[1], sys.argv[2].split(",")
res = json.load(open(os.path.join(out, "cow.json")))
raw = res["raw"]
fails = []
def check(ok, msg):
    if not ok:
        fails.append(msg)
ops = ["write-mid", "append", "chmod", "rename", "delete"]
sizes = [4096, 1 << 20]
cells = {(c["config"], int(c["size"]), c["op"]): c for c in raw["cells"]}
for cfg in configs:
    for size in sizes:
        for op in ops:
            c = cells.get((cfg, size, op))
            check(c is not None, f"no cell {cfg} {size} {op}")
            if c is None:
                continue
            check(len(c["op_us"]) == 1 and c["op_us"][0] is not None and c["op_us"][0] > 0,
                  f"{cfg} {size} {op}: no latency {c['op_us']}")
            check(len(c["bytes"]) == 1 and isinstance(c["bytes"][0], (int, float)),
                  f"{cfg} {size} {op}: no byte count {c['bytes']}")
prep = {(p["config"], p["parent"]): p for p in raw["prepares"]}
for cfg in configs:
    for parent in ["one 4 KiB file", "one 1 MiB file", "image of 200 files"]:
        p = prep.get((cfg, parent))
        check(p is not None and p["us"] and all(x > 0 for x in p["us"]),
              f"{cfg}: no Prepare latency for {parent}")
MiB = 1 << 20
def prep_bytes(cfg):
    return min(prep[(cfg, "one 1 MiB file")]["bytes"])
check(prep_bytes("copy-ext4") >= MiB,
      f"copy-ext4 Prepare of a 1 MiB file consumed {prep_bytes('copy-ext4')} B < 1 MiB")
check(prep_bytes("reflink-xfs") < MiB / 2,
      f"reflink-xfs Prepare of a 1 MiB file consumed {prep_bytes('reflink-xfs')} B >= 512 KiB")
ovl = cells[("overlay-ext4", MiB, "write-mid")]["bytes"][0]
check(ovl >= MiB, f"overlay-ext4 4-byte write into a 1 MiB lower file consumed {ovl} B < 1 MiB")
suites = {s["server"] + "/" + s["fs"]: s for s in raw["suites"]}
for cfg in configs:
    backend, fs = cfg.split("-")
    s = suites.get(f"strata {backend}/{fs}")
    check(s is not None and len(s["prepare_us"]) == 4 and s["total_us"] > 0,
          f"{cfg}: no benchsuite run")
for f in ["cow.md", "cow_first_write.png", "cow_ops.png", "cow_prepare.png", "cow_benchsuite.png"]:
    path = os.path.join(out, f)
    check(os.path.getsize(path) > 0 if os.path.exists(path) else False, f"missing {path}")
md = open(os.path.join(out, "cow.md")).read()
check("| reflink-xfs | 1 MiB |" in md, "cow.md has no reflink-xfs 1 MiB row")
for f in fails:
    print("FAIL:", f)
print(f"checked {len(cells)} cells, {len(prep)} Prepare cells, {len(suites)} benchsuite runs")
sys.exit(1 if fails else 0)
PY
rm -rf "$work"
