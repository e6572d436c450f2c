#!/usr/bin/env bash
# The durability campaigns, long: strata_crash_campaign with SIGKILL on ext4,
# and with a power cut on ext4 and on xfs, each for --rounds rounds (default
# 30) on one root. Prints each campaign's summary line and run time; the full
# output of each goes to <logs>/<mode>-<fs>.log. Needs root, loop devices,
# mkfs.ext4 and mkfs.xfs.
#
#   bench/crash_campaign.sh [--rounds N] [--build DIR] [--logs DIR] [-- ARGS]
#
#   --rounds N   rounds per campaign (default 30)
#   --build DIR  the build directory holding bin/strata_crash_campaign
#                (default: build/ in the source tree; make strata_crash_campaign)
#   --logs DIR   where the full outputs go (default /var/tmp/strata-crash-campaign)
#   -- ARGS      passed to every campaign, e.g. -- --seed 42 --writers 4
#                (see strata_crash_campaign --help)
#
# Exit status: 0 if all three passed, 1 if any lost data, orphaned or failed.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=30 build=$top/build logs=/var/tmp/strata-crash-campaign
usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    --) shift; break ;;
    *) usage >&2; exit 2 ;;
  esac
done
bin=$build/bin/strata_crash_campaign
[ -x "$bin" ] || { echo "no $bin (make -j1 strata_crash_campaign in $build)" >&2; exit 2; }
mkdir -p "$logs"
status=0
summaries=()
for run in "kill ext4" "powercut ext4" "powercut xfs"; do
  read -r mode fs <<< "$run"
  log=$logs/$mode-$fs.log
  start=$(date +%s)
  rc=0
  "$bin" --mode "$mode" --fs "$fs" --rounds "$rounds" "$@" > "$log" 2>&1 || rc=$?
  secs=$(( $(date +%s) - start ))
  line=$(grep "^campaign $mode $fs: rounds" "$log" || true)
  case $rc in
    0) verdict=pass ;;
    77) verdict="skipped: $(grep -m1 '^SKIP' "$log" || true)" ;;
    *) verdict="FAILED (exit $rc, see $log)"; status=1 ;;
  esac
  summaries+=("${line:-campaign $mode $fs: no summary} [$verdict, ${secs}s]")
  echo "${summaries[-1]}" >&2
done
echo >&2
printf '%s\n' "${summaries[@]}"
exit $status
