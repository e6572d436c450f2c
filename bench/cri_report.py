#!/usr/bin/python3
"""Markdown table of bench/cri_load.py's results: Strata against the peer.

    cri_report.py <strata.json> <peer.json>

Ratios are Strata / peer (below 1: Strata is faster or cheaper). The
snapshotter's own cost: Strata's daemon on Strata's side, nothing beside
containerd on the peer's (its overlayfs lives inside containerd), so the
node's total is containerd + Strata against containerd alone.
"""

import json
import sys


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        s = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        o = json.load(f)

    def row(name, a, b, unit, digits=1):
        ratio = f"{a / b:.2f}x" if b else "-"
        return f"| {name} | {a:.{digits}f} {unit} | {b:.{digits}f} {unit} | {ratio} |"

    sp, op = s["processes"], o["processes"]
    strata = sp.get("strata", {"steady_cpu_pct": 0.0, "cpu_ms_per_pod": 0.0, "rss_max_mib": 0.0})
    node_cpu_s = sp["containerd"]["cpu_ms_per_pod"] + strata["cpu_ms_per_pod"]
    node_rss_s = sp["containerd"]["rss_max_mib"] + strata["rss_max_mib"]
    lines = [
        f"{s['pods']['per_cycle']} pods per cycle, {s['pods']['cycles']} cycles, "
        f"stats polled every {s['stats']['poll_s']:g} s ({s['stats']['containers_seen']} containers seen at most); "
        f"{s['cold']['start_ms']['n']} cold starts.",
        "",
        f"| | {s['snapshotter']} | {o['snapshotter']} | ratio |",
        "|---|---|---|---|",
        row("pod start p50 (image unpacked)", s["pods"]["start_ms"]["p50"], o["pods"]["start_ms"]["p50"], "ms"),
        row("pod start p99 (image unpacked)", s["pods"]["start_ms"]["p99"], o["pods"]["start_ms"]["p99"], "ms"),
        row("pod start p50 (pull + unpack + start)", s["cold"]["start_ms"]["p50"], o["cold"]["start_ms"]["p50"], "ms"),
        row("pod start p99 (pull + unpack + start)", s["cold"]["start_ms"]["p99"], o["cold"]["start_ms"]["p99"], "ms"),
        row("pod removal p50", s["pods"]["remove_ms"]["p50"], o["pods"]["remove_ms"]["p50"], "ms"),
        row("ListContainerStats p50", s["stats"]["list_container_stats"]["p50"],
            o["stats"]["list_container_stats"]["p50"], "ms", 2),
        row("ImageFsInfo p50", s["stats"]["image_fs_info"]["p50"], o["stats"]["image_fs_info"]["p50"], "ms", 2),
        f"| Strata's CPU while {s['pods']['per_cycle']} pods are polled | {strata['steady_cpu_pct']:.3f} % of a core | - | |",
        row("containerd's CPU while polled", sp["containerd"]["steady_cpu_pct"], op["containerd"]["steady_cpu_pct"],
            "% of a core", 3),
        row("node CPU per pod started and removed (containerd + Strata)", node_cpu_s,
            op["containerd"]["cpu_ms_per_pod"], "ms"),
        row("node RSS, max (containerd + Strata)", node_rss_s, op["containerd"]["rss_max_mib"], "MiB"),
        f"| Strata's RSS, max | {strata['rss_max_mib']:.1f} MiB | - | |",
    ]
    rates = s["stats"].get("strata_rpcs_per_s", {})
    if rates:
        total = sum(rates.values())
        per_call = strata["steady_cpu_pct"] / 100 / total * 1e6 if total else 0
        lines += ["", "Strata's RPCs while polled (containerd's snapshot stats syncer): " +
                  ", ".join(f"{m} {r:g}/s" for m, r in sorted(rates.items())) +
                  f"; {per_call:.0f} µs of CPU per call."]
    if s.get("strata_rpcs"):
        lines += ["", "Strata's mean latency by method over the run: " +
                  ", ".join(f"{m} {v['mean_ms']:g} ms ({v['calls']})" for m, v in s["strata_rpcs"].items()) + "."]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
