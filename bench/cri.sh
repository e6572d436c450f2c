#!/usr/bin/env bash
# Kubelet's load on a Kubernetes node, Strata against containerd's overlayfs
# in the same run (issue 21): bench/cri_load.py through containerd 2.1's CRI
# plugin, set up by tests/e2e/cri.sh (its STRATA_CRI_BENCH mode).
#
#   bench/cri.sh <strata-snapshotter> <out-dir> [cri_load.py options]
#
# Defaults: 100 pods per cycle, 2 cycles, 60 s held with ListContainerStats
# and ImageFsInfo every 10 s (containerd's stats_collect_period 10 s), then 10
# cold starts (RemoveImage, GC, PullImage and the pod) of a 4-layer image of
# 3,000 files. Writes <out-dir>/{strata,overlayfs}.{json,log} and
# <out-dir>/results.md (bench/cri_report.py). STRATA_CRI_BENCH_ORDER="overlayfs
# strata" runs the peer first.
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: $0 <strata-snapshotter> <out-dir> [cri_load.py options]" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(realpath "$1")
mkdir -p "$2" && out=$(cd "$2" && pwd)
shift 2
STRATA_CRI_BENCH=$out STRATA_CRI_LOAD_ARGS="$*" bash "$here/../tests/e2e/cri.sh" "$bin" "$out/work"
rc=$?
[ $rc -eq 0 ] || { echo "bench/cri.sh: the load run failed (status $rc)" >&2; exit $rc; }
/usr/bin/python3 "$here/cri_report.py" "$out/strata.json" "$out/overlayfs.json" | tee "$out/results.md"
