#!/usr/bin/env python3
"""User-namespace containers (issue 17): what starting N of them from one
20,000-file image costs, in time and disk, with Strata's ID-mapped snapshots
against containerd's overlayfs snapshotter with remap-ids and against the
chowned copy containerd makes when a snapshotter cannot map.

    bench/userns.py [--n 10] [--prepares 15] [--files 20000] [--work DIR]
                    [--containerd-cache DIR] [--json]

Everything lives on one loop-mounted XFS (reflink=1) under --work, so the
reflink backend works and each scenario's disk cost is the filesystem's own
count (statfs, after sync). The image: busybox-static plus --files small
files (0-4 KiB, bench/make-image.sh smallfiles), two gzip layers.

Two setups, each one strata-snapshotter (--remap-ids on; overlay, then
reflink) and one containerd 2.1 (Debian unstable, as the e2e tests fetch it)
with Strata's proxy plugin declaring capabilities = ["remap-ids"]; the image
is imported (unpacked) into Strata and, in the overlay setup, into
containerd's overlayfs, which declares remap-ids itself where the kernel
has idmapped mounts. Scenarios, N containers each (`ctr run -d ... sleep`),
every container with its own host range (0:H:65536, as kubelet gives each
pod its own), timed one `ctr run` at a time:
  mapped         --remap-labels --uidmap/--gidmap: the snapshotter maps
  unmapped       no user namespace (the baseline)
  chowned copy   overlayfs, --uidmap/--gidmap without --remap-labels: ctr
                 copies the image and chowns it for each new mapping
Each mapped container is checked from the host: its /bin/busybox is owned by
its H. Then, for Strata alone, --prepares Prepare calls of a container
snapshot on the image's top layer over gRPC (bench/snap_client.cc),
alternating mapped (the two labels) and unmapped: the issue's target is
mapped within 1.2x of unmapped. And, for the reflink backend's two ways to
serve a mapping: the idmapped bind Strata answers (a Prepare is the clone,
as unmapped) against shifting the owners in the clone (strata-clone
--shift-by: the clone plus io/fs/owner_shift over every entry).

Prints medians and the disk each scenario's N containers took. Needs root.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from compare import BIN, TOP, Bench, log, run

RANGE = 65536


def used_bytes(path):
    os.sync()
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


class Setup(Bench):
    """compare.Bench with remap-ids declared and the daemon mapping."""

    def config(self):
        c = super().config()
        anchor = f'[proxy_plugins.strata]\n  type = "snapshot"\n  address = "{self.sock_s}"\n'
        assert anchor in c
        return c.replace(anchor, anchor + '  capabilities = ["remap-ids"]\n')


def busybox_root(path):
    os.makedirs(os.path.join(path, "bin"))
    shutil.copy2("/bin/busybox", os.path.join(path, "bin", "busybox"))
    for a in ("sh", "sleep", "stat", "id", "true"):
        os.symlink("busybox", os.path.join(path, "bin", a))
    for d in ("proc", "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(path, d))


def top_layer(b, sn):
    """The image's top committed snapshot: the one no other names as parent."""
    rows = [ln.split() for ln in b.snap(sn, "ls", capture_output=True, text=True)
            .stdout.splitlines()[1:]]
    committed = {r[0] for r in rows if r[-1] == "Committed"}
    parents = {r[1] for r in rows if len(r) == 3}
    tops = sorted(committed - parents)
    if len(tops) != 1:
        raise RuntimeError(f"{sn}: want one top layer, got {tops}")
    return tops[0]


def host_owner(b, cid):
    pid = [ln.split()[1] for ln in b.ctr("tasks", "ls", capture_output=True, text=True)
           .stdout.splitlines()[1:] if ln.split()[0] == cid]
    if not pid:
        raise RuntimeError(f"{cid} is not running")
    return os.stat(f"/proc/{pid[0]}/root/bin/busybox").st_uid


def containers(b, a, sn, mode, base_host):
    """Starts a.n containers; returns (times, bytes of disk they took)."""
    before = used_bytes(b.w)
    times, ids = [], []
    for i in range(a.n):
        cid = f"{sn}-{mode.replace(' ', '-')}-{i}"
        host = base_host + i * RANGE
        args = ["run", "-d", "--snapshotter", sn]
        if mode != "unmapped":
            if mode == "mapped":
                args.append("--remap-labels")
            args += ["--uidmap", f"0:{host}:{RANGE}", "--gidmap", f"0:{host}:{RANGE}"]
        t0 = time.perf_counter()
        b.ctr(*args, a.image, cid, "sleep", "600", stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
        ids.append(cid)
        owner = host_owner(b, cid)
        want = 0 if mode == "unmapped" else host
        if owner != want:
            raise RuntimeError(f"{cid}: /bin/busybox owned by {owner} from the host, want {want}")
    took = used_bytes(b.w) - before
    for cid in ids:
        b.ctr("tasks", "kill", "-s", "KILL", cid, check=False, capture_output=True)
    time.sleep(0.5)
    for cid in ids:
        b.ctr("tasks", "rm", "-f", cid, check=False, capture_output=True)
        b.ctr("containers", "rm", cid, check=False, capture_output=True)
    return times, took


def prepares(b, a, top):
    """Alternating mapped/unmapped Prepare of a container snapshot on `top`."""
    client = os.path.join(BIN, "strata-snapclient")
    labels = []
    for k in ("uidmapping", "gidmapping"):
        labels += ["--label", f"containerd.io/snapshot/{k}=0:100000:{RANGE}"]
    out = {"mapped": [], "unmapped": []}
    for i in range(a.prepares):
        for mode in (("mapped", "unmapped") if i % 2 else ("unmapped", "mapped")):
            key = f"bench-{mode}-{i}"
            r = run([client, b.sock_s, "prepare", key, top] +
                    (labels if mode == "mapped" else []), capture_output=True, text=True)
            out[mode].append(float(r.stdout.split()[0]))
            run([client, b.sock_s, "remove", key], capture_output=True)
    return out


def shift_vs_idmap(b, a):
    """Reflink: clone of the top layer's tree, alone and with the owners
    shifted (strata-clone --shift-by), alternating."""
    # Info carries no directory: the image's full tree has the most files.
    trees = [os.path.join(b.w, "s", "snapshots", d, "fs")
             for d in os.listdir(os.path.join(b.w, "s", "snapshots"))]
    src = max(trees, key=lambda t: sum(len(f) for _, _, f in os.walk(t)))
    out = {"clone": [], "clone + shift": [], "shift": []}
    for i in range(a.prepares):
        for mode in (("clone", "clone + shift") if i % 2 else ("clone + shift", "clone")):
            dst = os.path.join(b.w, f"clone-{i}-{mode[:5]}")
            cmd = [os.path.join(BIN, "strata-clone")]
            if mode != "clone":
                cmd += ["--shift-by", "100000"]
            r = run(cmd + [src, dst], capture_output=True, text=True)
            kv = dict(x.split("=") for x in r.stdout.split())
            if int(kv["copied"]) != 0:
                raise RuntimeError(f"strata-clone copied {kv['copied']} files: no reflink?")
            out[mode].append(float(kv["secs"]) + float(kv["shift_secs"]))
            if mode != "clone":
                out["shift"].append(float(kv["shift_secs"]))
            shutil.rmtree(dst)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10, help="containers per scenario")
    ap.add_argument("--prepares", type=int, default=15, help="Prepare calls per kind")
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--work", default="/var/tmp/strata-bench-userns")
    ap.add_argument("--containerd-cache", default=os.path.join(TOP, "build", "differ",
                                                               "containerd-cache-2.1"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("userns.py: needs root (loop mounts, containerd, user namespaces)")
    if not os.path.exists(os.path.join(a.containerd_cache, "root", "usr", "bin", "containerd")):
        run(["bash", os.path.join(TOP, "scripts", "fetch-containerd.sh"), a.containerd_cache],
            env=dict(os.environ, STRATA_CONTAINERD_SERIES="2.1"))
    a.containerd, a.media_type, a.strata_args = "2.1", None, ["--remap-ids", "on"]
    a.image = "localhost/bench-userns:v1"
    work = os.path.abspath(a.work)
    mnt = os.path.join(work, "xfs")
    run(["umount", mnt], check=False, capture_output=True)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(mnt)
    img = os.path.join(work, "xfs.img")
    run(["truncate", "-s", "12G", img])
    run(["mkfs.xfs", "-q", "-f", "-m", "reflink=1", img])
    run(["mount", "-o", "loop", img, mnt])
    results = {"n": a.n, "files": a.files, "scenarios": {}, "prepare": {}}
    try:
        with tempfile.TemporaryDirectory(dir=work) as t:
            busybox_root(os.path.join(t, "bb"))
            tar = os.path.join(work, "image.tar")
            run(["bash", os.path.join(TOP, "bench", "make-image.sh"), tar, a.image,
                 os.path.join(t, "bb"), f"smallfiles:{a.files}"], stdout=subprocess.DEVNULL)
        base_host = 100000
        for backend in ("overlay", "reflink"):
            a.backend, a.work = backend, os.path.join(mnt, backend)
            b = Setup(a)
            try:
                b.start()
                sns = ["strata"] + (["overlayfs"] if backend == "overlay" else [])
                for sn in sns:
                    b.ctr("images", "import", "--local", "--snapshotter", sn, "--platform",
                          "linux/" + run(["dpkg", "--print-architecture"], capture_output=True,
                                         text=True).stdout.strip(),
                          tar, stdout=subprocess.DEVNULL)
                for sn in sns:
                    modes = ["unmapped", "mapped"] + (["chowned copy"] if sn == "overlayfs" else [])
                    for mode in modes:
                        name = f"Strata {backend}" if sn == "strata" else "containerd overlayfs"
                        log(f"{name}: {a.n} containers, {mode}")
                        times, took = containers(b, a, sn, mode, base_host)
                        base_host += a.n * RANGE
                        results["scenarios"][f"{name}, {mode}"] = {
                            "start_p50_s": statistics.median(times),
                            "start_max_s": max(times), "disk_bytes": took}
                top = top_layer(b, "strata")
                # containerd names it "<namespace>/<n>/<name>" in Strata.
                keys = [ln.split()[0] for ln in run(
                    [os.path.join(BIN, "strata"), "--address", b.sock_s, "ls"],
                    capture_output=True, text=True).stdout.splitlines()
                    if ln.split() and ln.split()[0].endswith("/" + top)]
                if len(keys) != 1:
                    raise RuntimeError(f"strata ls: want one key ending in {top}, got {keys}")
                top = keys[0]
                results["prepare"][backend] = {
                    k: statistics.median(v) for k, v in prepares(b, a, top).items()}
                if backend == "reflink":
                    results["prepare"]["reflink ways"] = {
                        k: statistics.median(v) for k, v in shift_vs_idmap(b, a).items()}
            finally:
                b.stop()
    finally:
        run(["umount", mnt], check=False, capture_output=True)
        if os.path.exists(img):
            os.remove(img)
    if a.json:
        print(json.dumps(results, indent=2))
        return
    print(f"\n{a.n} user-namespace containers from a {a.files}-file image "
          f"(containerd {b.version}, XFS reflink=1 loop, medians)\n")
    print("| snapshotter, way | start p50 | start max | disk for the N containers |")
    print("|---|---|---|---|")
    for k, v in results["scenarios"].items():
        print(f"| {k} | {v['start_p50_s']:.3f} s | {v['start_max_s']:.3f} s | "
              f"{v['disk_bytes'] / 2**20:.1f} MiB |")
    print("\n| Strata backend | Prepare unmapped | Prepare mapped | mapped/unmapped (target <= 1.2x) |")
    print("|---|---|---|---|")
    for backend in ("overlay", "reflink"):
        p = results["prepare"][backend]
        print(f"| {backend} | {p['unmapped'] * 1e3:.2f} ms | {p['mapped'] * 1e3:.2f} ms | "
              f"{p['mapped'] / p['unmapped']:.2f}x |")
    w = results["prepare"]["reflink ways"]
    print(f"\nReflink, the two ways to map: idmapped bind (the clone alone) "
          f"{w['clone'] * 1e3:.0f} ms; shift in the clone {w['clone + shift'] * 1e3:.0f} ms "
          f"(the shift {w['shift'] * 1e3:.0f} ms): {w['clone + shift'] / w['clone']:.2f}x")


if __name__ == "__main__":
    main()
