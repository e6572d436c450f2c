#!/usr/bin/env python3
"""Compare (issue 16): containerd's Diff of an active snapshot, Strata's differ
against containerd's walking differ.

    bench/compare.py [--rounds N] [--work DIR] [--backend overlay]
                     [--containerd 2.1|1.7] [--containerd-cache DIR]
                     [--media-type TYPE] [--keep] [--json]

Starts one strata-snapshotter (--backend, default overlay) and one containerd
(2.1 by default, CRI/NRI off) in a private work dir, with Strata's socket
registered as the `strata` snapshot proxy and the `strata-diff` diff proxy
and the diff service's default list ["strata-diff", "walking"]. Then, once:
a base image of 20,000 files in 220 directories (mostly small text and
binary files, 120 of 1-3 MiB, about 380 MiB) is written through the mount
of an active snapshot in both snapshotters, strata and overlayfs, with the
same content, and committed as `base`; and two scenarios are prepared on
`base` in both, with the same changes made through the mounts:
  10 files     5 small files modified (appended to), 3 added, 2 deleted
  5,000 files  2,000 modified (any file, large ones too), 2,000 added (half
               in 20 new directories), 1,000 deleted
Every snapshot is pinned with the containerd.io/gc.root label.

Each round times, per scenario,
    ctr snapshots --snapshotter strata diff --label containerd.io/gc.root=x KEY
against the same with --snapshotter overlayfs, alternating which goes first.
Strata writes the strata layer from the overlay upper directory alone; it
declines the overlayfs snapshot's (foreign) mounts, and containerd's walking
differ mounts both trees and walks them in full. Each strata call must raise
`strata status --json` .diff.compared by one and each overlayfs call must
leave it alone (the script fails otherwise). Measured warm: nothing drops the
page cache, and an untimed call of each differ per scenario (the equality
check: the same set of non-directory tar entries in both layers) runs first.
Prints the medians, walking/strata and the targets (10x for 10 files, 2x for
5,000 files). Times include ctr's start and its read of the blob back from
the content store to stdout (/dev/null), the same for both; that read-back
(ctr content get of the layer, about 45 MB/s through ctr's content reader)
is also timed in each round and a second table shows the calls less it,
with Strata's own time per Diff from its log. Needs root.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("STRATA_BIN_DIR", os.path.join(TOP, "build", "bin"))
GC = "containerd.io/gc.root=x"
GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
SNAPSHOTTERS = ("strata", "overlayfs")   # overlayfs: answered by the walking differ
TARGETS = {"10 files": 10.0, "5,000 files": 2.0}
POOL = 4 << 20                           # content pools; no file is larger


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run(cmd, **kw)


# --- content: a deterministic base tree and change sets ---------------------

def pools(seed):
    rnd = random.Random(seed)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz_/.=") for _ in range(rnd.randint(2, 11)))
             for _ in range(600)]
    text = bytearray()
    while len(text) < POOL:
        line = " ".join(rnd.choices(words, k=rnd.randint(3, 14))) + "\n"
        text += line.encode()
    text = bytes(text[:POOL])
    binary = rnd.randbytes(POOL)
    return {"t": text + text, "b": binary + binary}


def small_size(rnd):
    return min(256 << 10, int(rnd.lognormvariate(8.0, 1.3)))


def base_manifest(seed):
    """[(path, kind, offset, size)] of 20,000 files in 200 leaf directories."""
    rnd = random.Random(seed)
    dirs = [f"t{t:02d}/s{s:02d}" for t in range(20) for s in range(10)]
    files = []
    large = set(rnd.sample(range(20000), 120))
    for i in range(20000):
        d = dirs[i % len(dirs)]
        if i in large:
            kind, size = rnd.choice("tb"), rnd.randint(1 << 20, 3 << 20)
            ext = ".so" if kind == "b" else ".dat"
        else:
            kind = "t" if rnd.random() < 0.7 else "b"
            size = small_size(rnd)
            ext = ".py" if kind == "t" else ".bin"
        files.append((f"{d}/f{i:05d}{ext}", kind, rnd.randrange(POOL), size))
    return files


def changes(seed, base, n_mod, n_add, n_del, mod_small_only):
    """[(op, path, kind, offset, size)]: op m (append), a (add), d (delete)."""
    rnd = random.Random(seed)
    cand = [i for i, f in enumerate(base) if not mod_small_only or f[3] < (64 << 10)]
    mod = rnd.sample(cand, n_mod)
    rest = sorted(set(range(len(base))) - set(mod))
    dele = rnd.sample(rest, n_del)
    ops = [("m", base[i][0], "t", rnd.randrange(POOL), rnd.randint(64, 512)) for i in mod]
    for j in range(n_add):
        if j % 2 == 0 or n_add < 10:
            d = base[rnd.randrange(len(base))][0].rsplit("/", 1)[0]
        else:
            d = f"new/d{j % 20:02d}"
        kind = "t" if rnd.random() < 0.7 else "b"
        ops.append(("a", f"{d}/n{seed % 1000:03d}-{j:05d}.{kind}", kind, rnd.randrange(POOL),
                    small_size(rnd)))
    ops += [("d", base[i][0], "", 0, 0) for i in dele]
    return ops


def write_base(root, manifest, pool):
    for d in sorted({p.rsplit("/", 1)[0] for p, *_ in manifest}):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for path, kind, off, size in manifest:
        with open(os.path.join(root, path), "wb") as f:
            f.write(memoryview(pool[kind])[off:off + size])


def apply_changes(root, ops, pool):
    for op, path, kind, off, size in ops:
        p = os.path.join(root, path)
        if op == "d":
            os.unlink(p)
            continue
        if op == "a":
            os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "ab" if op == "m" else "wb") as f:
            f.write(memoryview(pool[kind])[off:off + size])


# --- the daemons -------------------------------------------------------------

class Bench:
    def __init__(self, a):
        self.a = a
        self.procs = []          # (name, Popen), stopped in reverse order
        self.w = a.work
        self.sock_s = os.path.join(self.w, "s.sock")
        self.sock_c = os.path.join(self.w, "c.sock")
        self.mnt = os.path.join(self.w, "m")
        self.ctd_bin = os.path.join(a.containerd_cache, "root", "usr", "bin")

    def ctr(self, *args, **kw):
        return run([os.path.join(self.ctd_bin, "ctr"), "--address", self.sock_c, *args], **kw)

    def snap(self, sn, *args, **kw):
        return self.ctr("snapshots", "--snapshotter", sn, *args, **kw)

    def status(self):
        out = run([os.path.join(BIN, "strata"), "--address", self.sock_s, "status", "--json"],
                  capture_output=True, text=True).stdout
        d = json.loads(out)["diff"]
        return {k: int(d.get(k, 0)) for k in ("compared", "compare_declined", "compare_failed")}

    def config(self):
        v1 = self.a.containerd.startswith("1.")
        disabled = (['"io.containerd.grpc.v1.cri"'] if v1 else
                    ['"io.containerd.grpc.v1.cri"', '"io.containerd.cri.v1.images"',
                     '"io.containerd.cri.v1.runtime"',
                     '"io.containerd.podsandbox.controller.v1.podsandbox"',
                     '"io.containerd.nri.v1.nri"'])
        if v1:
            disabled.append('"io.containerd.nri.v1.nri"')
        return f"""version = {2 if v1 else 3}
root = "{self.w}/c"
state = "{self.w}/st"
disabled_plugins = [{", ".join(disabled)}]
[grpc]
  address = "{self.sock_c}"
[plugins."io.containerd.service.v1.diff-service"]
  default = ["strata-diff", "walking"]
[proxy_plugins.strata]
  type = "snapshot"
  address = "{self.sock_s}"
[proxy_plugins.strata-diff]
  type = "diff"
  address = "{self.sock_s}"
"""

    def spawn(self, name, cmd, logname):
        f = open(os.path.join(self.w, logname), "ab")
        env = dict(os.environ, PATH=self.ctd_bin + ":" + os.environ.get("PATH", ""))
        # Own session: a Ctrl-C reaches this script, which then stops the
        # daemons in order (containerd first).
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
        f.close()
        self.procs.append((name, p))
        return p

    def wait_ready(self, name, p, probe, logname):
        for _ in range(300):
            if probe():
                return
            if p.poll() is not None:
                break
            time.sleep(0.1)
        tail = open(os.path.join(self.w, logname), errors="replace").read()[-2000:]
        raise RuntimeError(f"{name} did not start:\n{tail}")

    def start(self):
        for d in ("s", "c", "st", "m"):
            os.makedirs(os.path.join(self.w, d), exist_ok=True)
        with open(os.path.join(self.w, "config.toml"), "w") as f:
            f.write(self.config())
        cmd = [os.path.join(BIN, "strata-snapshotter"), "--root", os.path.join(self.w, "s"),
               "--address", self.sock_s, "--containerd-address", self.sock_c]
        if self.a.backend:
            cmd += ["--backend", self.a.backend]
        cmd += getattr(self.a, "strata_args", [])
        p = self.spawn("strata-snapshotter", cmd, "strata.log")
        self.wait_ready("strata-snapshotter", p, lambda: run(
            [os.path.join(BIN, "strata"), "--address", self.sock_s, "status"], check=False,
            capture_output=True).returncode == 0, "strata.log")
        p = self.spawn("containerd", [os.path.join(self.ctd_bin, "containerd"), "--config",
                                      os.path.join(self.w, "config.toml"), "--log-level", "warn"],
                       "containerd.log")
        self.wait_ready("containerd", p, lambda: self.ctr(
            "version", check=False, capture_output=True).returncode == 0, "containerd.log")
        plugins = self.ctr("plugins", "ls", capture_output=True, text=True).stdout
        ok = [ln for ln in plugins.splitlines() if "strata-diff" in ln and ln.split()[-1] == "ok"]
        if not ok:
            raise RuntimeError("containerd did not load the strata-diff proxy differ:\n" +
                               "\n".join(ln for ln in plugins.splitlines() if "strata" in ln
                                         or "differ" in ln))
        self.version = self.ctr("version", capture_output=True, text=True).stdout
        self.version = [ln.split()[-1] for ln in self.version.splitlines()
                        if ln.strip().startswith("Version")][-1]

    def mounted(self):
        out = []
        with open("/proc/self/mountinfo") as f:
            for ln in f:
                mp = ln.split()[4].replace("\\040", " ")
                if mp == self.w or mp.startswith(self.w + "/"):
                    out.append(mp)
        return sorted(out, reverse=True)

    def umount_all(self):
        for mp in self.mounted():
            if run(["umount", mp], check=False, capture_output=True).returncode != 0:
                run(["umount", "-l", mp], check=False, capture_output=True)

    def stop(self):
        self.umount_all()
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    log(f"{name} did not stop in 15 s; killing it")
                    p.kill()
                    p.wait()
        self.procs = []
        self.umount_all()

    # --- snapshots ----------------------------------------------------------

    def with_mount(self, sn, key, fn):
        cmd = self.snap(sn, "mounts", self.mnt, key, capture_output=True, text=True).stdout
        run(["sh", "-c", cmd])
        try:
            fn(self.mnt)
        finally:
            run(["umount", self.mnt])

    def prepare(self, sn, key, parent):
        self.snap(sn, "prepare", key, parent, stdout=subprocess.DEVNULL)
        self.snap(sn, "label", key, GC, stdout=subprocess.DEVNULL)

    def read_back(self, digest):
        """Time `ctr content get` of a layer: the part of each ctr diff call
        that copies the blob from the content store to stdout."""
        t0 = time.perf_counter()
        self.ctr("content", "get", digest, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0

    def diff(self, sn, key, out=None):
        """Time one ctr diff; check that Strata answered it, or did not."""
        before = self.status()
        args = ["diff", "--label", GC]
        if self.a.media_type:
            args += ["--media-type", self.a.media_type]
        f = open(out, "wb") if out else subprocess.DEVNULL
        try:
            t0 = time.perf_counter()
            r = self.snap(sn, *args, key, stdout=f, stderr=subprocess.PIPE, check=False)
            dt = time.perf_counter() - t0
        finally:
            if out:
                f.close()
        if r.returncode != 0:
            raise RuntimeError(f"ctr snapshots --snapshotter {sn} diff {key} failed: "
                               f"{r.stderr.decode(errors='replace').strip()}")
        after = self.status()
        want = before["compared"] + (1 if sn == "strata" else 0)
        if after["compared"] != want:
            raise RuntimeError(
                f"{sn} diff {key}: strata status .diff.compared went {before['compared']} -> "
                f"{after['compared']}, expected {want} "
                f"({'Strata did not answer' if sn == 'strata' else 'Strata answered a foreign snapshot'};"
                f" declined {before['compare_declined']} -> {after['compare_declined']}, "
                f"failed {before['compare_failed']} -> {after['compare_failed']})")
        return dt


def tar_listing(path, media_type):
    """{name: (type, size)} of the non-directory entries of a layer blob."""
    if media_type.endswith("+zstd"):
        data = run(["zstd", "-dc", path], capture_output=True).stdout
    elif media_type.endswith("+gzip"):
        with gzip.open(path) as f:
            data = f.read()
    else:
        with open(path, "rb") as f:
            data = f.read()
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as t:
        for m in t:
            if m.isdir():
                continue
            name = m.name
            while name.startswith("./"):
                name = name[2:]
            out[name.strip("/")] = (m.type, m.size if m.isreg() else 0)
    return out, len(data)


def check_equal(name, blobs, media_type):
    (la, ta), (lb, tb) = (tar_listing(blobs[sn], media_type) for sn in SNAPSHOTTERS)
    only_a, only_b = sorted(set(la) - set(lb)), sorted(set(lb) - set(la))
    other = sorted(n for n in set(la) & set(lb) if la[n] != lb[n])
    problems = []
    if only_a:
        problems.append(f"only in the strata layer ({len(only_a)}): " + ", ".join(only_a[:10]))
    if only_b:
        problems.append(f"only in the walking layer ({len(only_b)}): " + ", ".join(only_b[:10]))
    if other:
        problems.append(f"other type or size ({len(other)}): " + ", ".join(
            f"{n} strata {la[n]} walking {lb[n]}" for n in other[:10]))
    for p in problems:
        log(f"WARNING: {name}: layers differ: {p}")
    return {"entries": len(la), "equal": not problems, "problems": problems,
            "tar_bytes": {SNAPSHOTTERS[0]: ta, SNAPSHOTTERS[1]: tb}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work", help="work dir (default: a new one under /tmp, removed at the end)")
    ap.add_argument("--backend", default="overlay", help="strata-snapshotter --backend (default overlay)")
    ap.add_argument("--containerd", default="2.1", choices=("2.1", "1.7"))
    ap.add_argument("--containerd-cache",
                    help="containerd cache dir of scripts/fetch-containerd.sh (default "
                         "$STRATA_CONTAINERD_CACHE or /var/tmp/strata-containerd-cache-VER); "
                         "fetched if missing")
    ap.add_argument("--media-type", help=f"ctr snapshots diff --media-type (default {GZIP})")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("compare.py: needs root (mounts)")
    a.containerd_cache = a.containerd_cache or os.environ.get(
        "STRATA_CONTAINERD_CACHE", f"/var/tmp/strata-containerd-cache-{a.containerd}")
    r = run([os.path.join(TOP, "scripts", "fetch-containerd.sh"), a.containerd_cache],
            env=dict(os.environ, STRATA_CONTAINERD_SERIES=a.containerd), check=False,
            capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"compare.py: cannot fetch containerd {a.containerd}:\n{r.stderr[-2000:]}")
    own_work = not a.work
    a.work = os.path.abspath(a.work) if a.work else tempfile.mkdtemp(prefix="strata-compare-", dir="/tmp")
    os.makedirs(a.work, exist_ok=True)
    media_type = a.media_type or GZIP

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    b = Bench(a)
    ok = False
    t_start = time.monotonic()
    try:
        b.start()
        log(f"work dir {a.work}; containerd {b.version}, strata backend {a.backend}")
        pool = pools(16)
        manifest = base_manifest(16)
        scen = {"10 files": changes(10, manifest, 5, 3, 2, True),
                "5,000 files": changes(5000, manifest, 2000, 2000, 1000, False)}
        t0 = time.monotonic()
        for sn in SNAPSHOTTERS:
            log(f"{sn}: writing the base image (20,000 files) and committing it ...")
            b.prepare(sn, "base-a", "")
            b.with_mount(sn, "base-a", lambda m: write_base(m, manifest, pool))
            b.snap(sn, "commit", "base", "base-a")
            b.snap(sn, "label", "base", GC, stdout=subprocess.DEVNULL)
            for name, ops in scen.items():
                key = "c" + name.split()[0].replace(",", "")
                b.prepare(sn, key, "base")
                b.with_mount(sn, key, lambda m: apply_changes(m, ops, pool))
        os.sync()
        setup_s = time.monotonic() - t0
        log(f"set-up {setup_s:.1f} s")

        res = {}
        for name in scen:
            key = "c" + name.split()[0].replace(",", "")
            blobs = {sn: os.path.join(a.work, f"{key}-{sn}.layer") for sn in SNAPSHOTTERS}
            for sn in SNAPSHOTTERS:
                b.diff(sn, key, blobs[sn])
            eq = check_equal(name, blobs, media_type)
            eq["blob_bytes"] = {sn: os.path.getsize(blobs[sn]) for sn in SNAPSHOTTERS}
            eq["digest"] = {}
            for sn in SNAPSHOTTERS:
                h = hashlib.sha256()
                with open(blobs[sn], "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                eq["digest"][sn] = "sha256:" + h.hexdigest()
            for p in blobs.values():
                os.unlink(p)
            res[name] = dict(key=key, changes=len(scen[name]), times={sn: [] for sn in SNAPSHOTTERS},
                             read_back={sn: [] for sn in SNAPSHOTTERS}, **eq)
        for rnd in range(a.rounds):
            order = SNAPSHOTTERS if rnd % 2 == 0 else SNAPSHOTTERS[::-1]
            log(f"round {rnd + 1}/{a.rounds}: {' then '.join(order)}")
            for name, r_ in res.items():
                for sn in order:
                    r_["times"][sn].append(b.diff(sn, r_["key"]))
                for sn in order:
                    r_["read_back"][sn].append(b.read_back(r_["digest"][sn]))
        for name, r_ in res.items():
            med = {sn: statistics.median(t) for sn, t in r_["times"].items()}
            r_["median_s"] = med
            r_["ratio"] = med["overlayfs"] / med["strata"]
            # Each call less the same round's read-back of its blob.
            net = {sn: statistics.median(t - rb for t, rb in zip(r_["times"][sn], r_["read_back"][sn]))
                   for sn in SNAPSHOTTERS}
            r_["median_read_back_s"] = {sn: statistics.median(t) for sn, t in r_["read_back"].items()}
            r_["median_net_s"] = net
            r_["net_ratio"] = net["overlayfs"] / net["strata"] if net["strata"] > 0 else None
            r_["target"] = TARGETS[name]
            r_["met"] = r_["ratio"] >= TARGETS[name]
        st = b.status()
        lines = open(os.path.join(a.work, "strata.log"), errors="replace").read().splitlines()
        errors = [ln for ln in lines if "level=error" in ln]
        for name, r_ in res.items():
            # The daemon's own time per Diff (its "compared" log line), the
            # untimed check call first.
            ms = []
            for ln in lines:
                if "msg=compared" in ln:
                    kv = dict(f.split("=", 1) for f in ln.split() if "=" in f)
                    if kv.get("snapshot", "").endswith("/" + r_["key"]) and "ms" in kv:
                        ms.append(int(kv["ms"]))
            r_["strata_daemon_ms"] = ms[1:]
            r_["median_daemon_s"] = statistics.median(ms[1:]) / 1000 if len(ms) > 1 else None
        ok = True
    except KeyboardInterrupt:
        log("interrupted")
        raise SystemExit(130)
    finally:
        b.stop()
        if ok and not a.keep:
            if own_work:
                shutil.rmtree(a.work, ignore_errors=True)
            else:
                for d in ("s", "c", "st", "m"):
                    shutil.rmtree(os.path.join(a.work, d), ignore_errors=True)
        elif not ok:
            log(f"left {a.work} (strata.log, containerd.log) for a look")
    total_s = time.monotonic() - t_start

    base_bytes = sum(f[3] for f in manifest)
    if a.json:
        print(json.dumps({
            "containerd": b.version, "backend": a.backend, "media_type": media_type,
            "rounds": a.rounds, "cache": "warm",
            "base": {"files": len(manifest), "dirs": 220, "bytes": base_bytes},
            "setup_s": setup_s, "total_s": total_s, "strata_status_diff": st,
            "strata_log_errors": errors,
            "scenarios": {n: {k: v for k, v in r_.items() if k != "key"} for n, r_ in res.items()},
        }, indent=2))
        return
    mib = lambda n: f"{n / 2**20:.1f} MiB"  # noqa: E731
    print(f"Compare (ctr snapshots diff of an active snapshot), containerd {b.version}, strata "
          f"backend {a.backend}, {media_type.rsplit('.', 1)[-1]}, warm page cache, medians of "
          f"{a.rounds} rounds (alternating order)")
    print(f"base image: {len(manifest):,} files in 220 dirs, {mib(base_bytes)}; set-up "
          f"{setup_s:.1f} s, total {total_s:.0f} s")
    print(f"{'ctr snapshots diff':18} {'strata s':>9} {'walking s':>10} {'walking/strata':>15} "
          f"{'target':>7}  met  {'strata layer':>13} {'walking layer':>14} {'tar':>10}")
    for name, r_ in res.items():
        m, bb = r_["median_s"], r_["blob_bytes"]
        print(f"{name:18} {m['strata']:9.3f} {m['overlayfs']:10.3f} {r_['ratio']:14.1f}x "
              f"{r_['target']:6.0f}x  {'yes' if r_['met'] else 'NO ':3}  {mib(bb['strata']):>13} "
              f"{mib(bb['overlayfs']):>14} {mib(r_['tar_bytes']['strata']):>10}")
    print("less ctr's read-back of the blob to stdout (ctr content get, timed in the same round):")
    print(f"{'':18} {'strata s':>9} {'walking s':>10} {'walking/strata':>15}  {'strata daemon s':>15} "
          f"{'read-back s (strata, walking)':>30}")
    for name, r_ in res.items():
        n, rb, dm = r_["median_net_s"], r_["median_read_back_s"], r_["median_daemon_s"]
        nr = "" if r_["net_ratio"] is None else f"{r_['net_ratio']:.1f}x"
        print(f"{name:18} {n['strata']:9.3f} {n['overlayfs']:10.3f} {nr:>15}  "
              f"{'' if dm is None else f'{dm:.3f}':>15} "
              f"{rb['strata']:17.3f} {rb['overlayfs']:11.3f}")
    for name, r_ in res.items():
        t = r_["times"]
        print(f"  {name}: strata {' '.join(f'{x:.3f}' for x in t['strata'])}; walking "
              f"{' '.join(f'{x:.3f}' for x in t['overlayfs'])}; layers "
              f"{'equal' if r_['equal'] else 'DIFFER'} ({r_['entries']} non-directory entries)")
    print(f"strata status: compared {st['compared']}, declined {st['compare_declined']}, "
          f"failed {st['compare_failed']}; {len(errors)} error lines in strata.log")
    for ln in errors[:5]:
        print(f"  {ln}")
    print("times: wall time of each ctr call (ctr start, view, Diff, read-back of the blob to "
          "/dev/null); strata daemon s: Strata's own time per Diff, from its log")


if __name__ == "__main__":
    main()
