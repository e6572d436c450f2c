#!/usr/bin/env bash
# CI smoke test of `strata bench ops` (bench/ops.sh end to end, tiny N, one
# round): Strata and the peer (containerd's overlayfs snapshotter) both serve,
# every phase completes at every concurrency with a nonzero rate on both
# servers, and the JSON, Markdown and plots are written. Timing is not checked.
#   tests/bench/ops_smoke.sh BIN_DIR WORK_DIR
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=$1 work=$2
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root (containerd's overlayfs snapshotter mounts overlayfs to probe support)"
  exit 77
fi
rm -rf "$work"; mkdir -p "$work"
STRATA_BIN_DIR=$bin STRATA_GO_BUILD_DIR=$work/../go \
  "$top/bench/ops.sh" --work "$work/run" --out "$work/out" --n 20 --rounds 1 --concurrency 1,16
python3 - "$work/out" <<'PY'
import json, os, sys
out = sys.argv[1]
res = json.load(open(os.path.join(out, "ops.json")))
phases = ["Prepare", "Commit", "Stat", "List", "View", "Mounts", "Usage", "Remove"]
got = {(r["server"], r["concurrency"], r["phase"]): r for r in res["results"]}
bad = []
for server in ("strata", "peer"):
    for c in (1, 16):
        for ph in phases:
            r = got.get((server, c, ph))
            if r is None or not r["ops_per_s"] or r["ops_per_s"] <= 0 or r["p50_us"] <= 0:
                bad.append(f"{server} c{c} {ph}: {r}")
            # ops.sh passes both servers' pids: each phase has their CPU per call.
            elif not r.get("cpu_us_per_op") or r["cpu_us_per_op"] <= 0:
                bad.append(f"{server} c{c} {ph}: no server CPU per call: {r}")
runs = {(r["server"], r["concurrency"], r["phase"]): r["ops"] for r in res["runs"]}
# 20 snapshots: 20 Prepare/Commit/Stat/View/Mounts/Usage, 40 Remove (views too).
for (server, c, ph), ops in runs.items():
    want = 40 if ph == "Remove" else 16 if ph == "List" else 20
    if ops != want:
        bad.append(f"{server} c{c} {ph}: {ops} calls, want {want}")
if not res.get("targets") or any("met" not in t for t in res["targets"]):
    bad.append(f"targets missing: {res.get('targets')}")
if res.get("fsync_p50_us", 0) <= 0 or res.get("fdatasync_p50_us", 0) <= 0:
    bad.append("no fsync/fdatasync floor")
for f in ["ops.md", "ops_c1.png", "ops_c16.png", "ops_ratio.png"]:
    p = os.path.join(out, f)
    if not os.path.exists(p) or os.path.getsize(p) == 0:
        bad.append(f"{f} missing")
    elif f.endswith(".png") and open(p, "rb").read(8) != b"\x89PNG\r\n\x1a\n":
        bad.append(f"{f} is not a PNG")
md = open(os.path.join(out, "ops.md")).read()
if "| Remove | 16 |" not in md or "target " not in md:
    bad.append("ops.md lacks the phase table or the target lines")
if bad:
    print("bench ops smoke: FAIL\n  " + "\n  ".join(bad))
    sys.exit(1)
print("bench ops smoke: ok,", len(got), "phase results")
PY
