#!/usr/bin/python3
"""Kubelet's load on containerd's CRI plugin: pods started and removed in
cycles while stats are polled as kubelet polls them.

    cri_load.py --socket S --gen DIR --image REF --cold-image REF
                --snapshotter NAME [--pods 100] [--cycles 2] [--cold 10]
                [--steady 60] [--poll 10] [--pid PID] [--metrics ADDR]
                --containerd-pid PID --ctr CTR [--json OUT]

Each cycle starts --pods host-network pods one after another (RunPodSandbox,
CreateContainer, StartContainer: the pod start time), holds them --steady
seconds, then removes them. All along, a poller calls ListContainerStats and
ImageFsInfo every --poll seconds (kubelet's defaults are 10 s). Over the
steady window the only work is that polling and containerd's own snapshot
stats syncer (Usage of every active snapshot each stats_collect_period), so
the snapshotter process's CPU share there is the cost of stats. Then --cold
pod starts with an image not yet unpacked: RemoveImage and containerd's GC
first (ctr shows when the layers are gone), then PullImage + the pod.

--pid is Strata's daemon (absent for the peer, whose snapshotter lives in
containerd, --containerd-pid); --metrics its metrics address, for the RPCs
it answers in the steady window. Writes a JSON summary (--json) and prints it.
"""

import argparse
import json
import os
import subprocess
import sys
import re
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "cri"))
import crilib  # noqa: E402

def summary(values):
    return {"n": len(values), "p50": round(crilib.percentile(values, 50), 2),
            "p99": round(crilib.percentile(values, 99), 2)}


class Poller(threading.Thread):
    """ListContainerStats and ImageFsInfo every `period` seconds; samples the
    processes' RSS at each round."""

    def __init__(self, cri, period, pids):
        super().__init__(daemon=True)
        self.cri, self.period, self.pids = cri, period, pids
        self.times = {"ListContainerStats": [], "ImageFsInfo": []}
        self.containers_seen = 0
        self.rss_max = {name: 0 for name in pids}
        self.errors = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for method, call in (("ListContainerStats", lambda: self.cri.rt("ListContainerStats")),
                                 ("ImageFsInfo", lambda: self.cri.img("ImageFsInfo"))):
                t0 = time.perf_counter()
                try:
                    r = call()
                except crilib.CriError as e:
                    self.errors.append(str(e))
                    continue
                self.times[method].append((time.perf_counter() - t0) * 1000)
                if method == "ListContainerStats":
                    self.containers_seen = max(self.containers_seen, len(r.stats))
            for name, pid in self.pids.items():
                self.rss_max[name] = max(self.rss_max[name], crilib.ProcSample(pid).rss)
            self.stop.wait(self.period)


def scrape(addr, family):
    """{method: value summed over the other labels} of one family in Strata's /metrics."""
    if not addr:
        return {}
    body = urllib.request.urlopen(f"http://{addr}/metrics", timeout=10).read().decode()
    values = {}
    for line in body.splitlines():
        m = re.match(re.escape(family) + r'\{.*method="([^"]+)".*\} (\S+)$', line)
        if m:
            values[m.group(1)] = values.get(m.group(1), 0) + float(m.group(2))
    return values


def rpc_counts(addr):
    """{method: calls} (strata_grpc_requests_total, all codes)."""
    return scrape(addr, "strata_grpc_requests_total")


def snapshot_count(args):
    out = subprocess.run([args.ctr, "--address", args.socket, "-n", "k8s.io", "snapshots",
                          "--snapshotter", args.snapshotter, "ls"], check=True, capture_output=True, text=True).stdout
    return max(len(out.splitlines()) - 1, 0)


def start_pod(cri, args, name, image):
    pod = cri.pod_config(name, os.path.join(args.logs, name))
    os.makedirs(pod.log_directory, exist_ok=True)
    pod_id = cri.run_pod(pod)
    cid = cri.start_container(pod_id, pod, cri.container_config("c", image, crilib.HOLD_COMMAND, pod))
    return pod_id, cid


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for a in ("socket", "gen", "image", "cold-image", "snapshotter"):
        p.add_argument("--" + a, required=True)
    p.add_argument("--pods", type=int, default=100)
    p.add_argument("--cycles", type=int, default=2)
    p.add_argument("--cold", type=int, default=10)
    p.add_argument("--steady", type=float, default=60)
    p.add_argument("--poll", type=float, default=10)
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--metrics", default="", help="Strata's metrics address: its RPCs in the steady window")
    p.add_argument("--containerd-pid", type=int, required=True)
    p.add_argument("--ctr", required=True)
    p.add_argument("--logs", default="/tmp/strata-cri-load-logs")
    p.add_argument("--json", default="")
    args = p.parse_args()

    cri = crilib.Cri(args.socket, args.gen)
    pids = {"containerd": args.containerd_pid}
    if args.pid:
        pids["strata"] = args.pid
    cri.pull(args.image)
    poller = Poller(cri, args.poll, pids)
    poller.start()

    start_ms, remove_ms, steady, steady_rpcs = [], [], [], []
    cpu_start = {n: crilib.ProcSample(pid) for n, pid in pids.items()}
    for cycle in range(args.cycles):
        pods = []
        for i in range(args.pods):
            t0 = time.perf_counter()
            pods.append(start_pod(cri, args, f"load-{cycle}-{i}", args.image))
            start_ms.append((time.perf_counter() - t0) * 1000)
        # The steady window: only polling and containerd's stats syncer.
        before = {n: crilib.ProcSample(pid) for n, pid in pids.items()}
        calls_before = rpc_counts(args.metrics)
        time.sleep(args.steady)
        after = {n: crilib.ProcSample(pid) for n, pid in pids.items()}
        calls_after = rpc_counts(args.metrics)
        steady.append({n: before[n].cpu_share(after[n]) * 100 for n in pids})
        span = after["containerd"].at - before["containerd"].at
        steady_rpcs.append({m: (calls_after[m] - calls_before.get(m, 0)) / span
                            for m in calls_after if calls_after[m] > calls_before.get(m, 0)})
        for pod_id, cid in pods:
            t0 = time.perf_counter()
            cri.remove_pod(pod_id, [cid], stop_timeout=10)
            remove_ms.append((time.perf_counter() - t0) * 1000)
    cpu_end = {n: crilib.ProcSample(pid) for n, pid in pids.items()}

    cold_ms = []
    baseline = None
    for i in range(args.cold):
        # containerd's GC removes the layers (RemoveImage then GC), so that
        # the pull unpacks again: wait until the snapshotter holds no more
        # snapshots than with the image gone the first time.
        cri.img("RemoveImage", image=cri.api.ImageSpec(image=args.cold_image))
        deadline = time.monotonic() + 60
        if baseline is None:
            last, stable_since = snapshot_count(args), time.monotonic()
            while time.monotonic() - stable_since < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
                n = snapshot_count(args)
                if n != last:
                    last, stable_since = n, time.monotonic()
            baseline = last
        while snapshot_count(args) > baseline and time.monotonic() < deadline:
            time.sleep(0.2)
        t0 = time.perf_counter()
        cri.pull(args.cold_image)
        pod_id, cid = start_pod(cri, args, f"cold-{i}", args.cold_image)
        cold_ms.append((time.perf_counter() - t0) * 1000)
        cri.remove_pod(pod_id, [cid], stop_timeout=10)
    poller.stop.set()
    poller.join()

    started = args.pods * args.cycles
    # Strata's mean latency by method over the whole run (its histograms).
    sums = scrape(args.metrics, "strata_grpc_request_duration_seconds_sum")
    counts = scrape(args.metrics, "strata_grpc_request_duration_seconds_count")
    result = {
        "snapshotter": args.snapshotter,
        "pods": {"per_cycle": args.pods, "cycles": args.cycles, "start_ms": summary(start_ms),
                 "remove_ms": summary(remove_ms)},
        "cold": {"start_ms": summary(cold_ms)},
        "stats": {"poll_s": args.poll, "containers_seen": poller.containers_seen,
                  "list_container_stats": {"calls": len(poller.times["ListContainerStats"]),
                                           **summary(poller.times["ListContainerStats"])},
                  "image_fs_info": {"calls": len(poller.times["ImageFsInfo"]),
                                    **summary(poller.times["ImageFsInfo"])},
                  "errors": poller.errors[:5],
                  # Strata's RPCs per second over the last steady window, by method
                  "strata_rpcs_per_s": {m: round(r, 2) for m, r in (steady_rpcs[-1] if steady_rpcs else {}).items()}},
        "strata_rpcs": {m: {"calls": int(counts[m]), "mean_ms": round(sums[m] * 1000 / counts[m], 3)}
                        for m in sorted(counts) if counts[m]},
        "processes": {n: {"steady_cpu_pct": round(max(s[n] for s in steady), 3) if steady else None,
                          "cpu_ms_per_pod": round((cpu_end[n].cpu - cpu_start[n].cpu) * 1000 / max(started, 1), 2),
                          "rss_max_mib": round(poller.rss_max[n] / (1 << 20), 1)} for n in pids},
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    sys.exit(1 if poller.errors else 0)


if __name__ == "__main__":
    main()
