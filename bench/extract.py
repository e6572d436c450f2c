#!/usr/bin/python3
"""Layer extraction, side by side in one run: Strata (`strata import
--no-sync` through a private daemon started with `--commit-sync off`, on each
file sink), GNU tar (`tar -xpf`,
and behind `pigz -dc` / `zstd -dc` pipes for compressed layers), containerd's
own applier (archive.Apply, bench/applier) and, for the large-file layer,
`dd bs=1M` copying the same page-cached bytes; `strata-engine` is the
extraction engine alone (tests/oracle/extract_layer: no daemon, no Commit).

    bench/extract.py [--rounds N] [--datasets small,big,rootfs-gz,rootfs-zst]
                     [--fs ext4|xfs] [--work DIR] [--out DIR] [--syscalls]

Datasets: small = 50,000 files of 0-4 KiB in 500 directories, uncompressed;
big = four 256 MiB files, uncompressed; rootfs-gz / rootfs-zst = a Debian root
filesystem made of this machine's required/important packages' files, gzip
(level 6) and zstd (level 3). Every run gets a fresh loop-mounted filesystem
(an ext4 that just deleted 50,000 inodes makes the next create pay for
ext4's recently-deleted inode search, which would punish whoever runs
second); the layer is read once beforehand so everyone starts from the page
cache; timing stops when the command returns (no final sync, as containerd
unpacks by default). Tools alternate A B C ... per round. Prints medians,
ratios against Strata, and the peak RSS of each tool; writes JSON and
Markdown (bench/report.py) to --out. Needs root.

--syscalls: also runs the engine on each file sink and GNU tar once more under
`strace -f -c` per dataset and reports syscalls per regular file (the io_uring
sink's io-wq workers are kernel threads: their work is not counted).
"""
import argparse
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("STRATA_BIN_DIR", os.path.join(TOP, "build", "bin"))


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


def make_small(path):
    src = tempfile.mkdtemp(dir=os.path.dirname(path))
    rnd = random.Random(42)
    for d in range(500):
        dd = os.path.join(src, f"d{d // 50}", f"s{d}")
        os.makedirs(dd)
        for f in range(100):
            size = rnd.randint(0, 4096)
            with open(os.path.join(dd, f"f{f}"), "wb") as fh:
                fh.write(os.urandom(size // 2) + b"a" * (size - size // 2))
    sh(f"tar -C {src} -cf {path} .")
    shutil.rmtree(src)


def make_big(path):
    src = tempfile.mkdtemp(dir=os.path.dirname(path))
    for i in range(4):
        sh(f"head -c {256 << 20} /dev/urandom > {src}/big{i}")
    sh(f"tar -C {src} -cf {path} .")
    shutil.rmtree(src)


def make_rootfs(path):
    """A Debian root filesystem from the installed required/important packages."""
    pkgs = subprocess.run(
        "dpkg-query -W -f='${Package}\\t${Priority}\\t${Essential}\\n'", shell=True,
        check=True, capture_output=True, text=True).stdout
    names = [l.split("\t")[0] for l in pkgs.splitlines()
             if l.split("\t")[1] in ("required", "important") or l.split("\t")[2] == "yes"]
    listed = subprocess.run(["dpkg", "-L"] + names, capture_output=True, text=True).stdout
    files = set()
    for p in listed.splitlines():
        if not p.startswith("/") or p == "/.":
            continue
        q = os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))
        if os.path.lexists(q):
            files.add(q)
    for top in ("/bin", "/sbin", "/lib", "/lib64"):
        if os.path.islink(top):
            files.add(top)
    lst = path + ".list"
    with open(lst, "w") as f:
        f.write("\n".join(sorted(files, key=lambda p: p.split("/"))) + "\n")
    subprocess.run(f"tar --xattrs --xattrs-include='*' --numeric-owner --no-recursion "
                   f"--format=posix -cf {path} -T {lst}", shell=True, check=True,
                   stderr=subprocess.DEVNULL)
    os.unlink(lst)


def dataset(work, name):
    data = os.path.join(work, "data")
    os.makedirs(data, exist_ok=True)
    plain = {"small": "small.tar", "big": "big.tar"}.get(name, "rootfs.tar")
    p = os.path.join(data, plain)
    if not os.path.exists(p):
        print(f"making {name} layer ...", file=sys.stderr)
        {"small.tar": make_small, "big.tar": make_big, "rootfs.tar": make_rootfs}[plain](p)
    if name == "rootfs-gz":
        if not os.path.exists(p + ".gz"):
            sh(f"gzip -6 -c {p} > {p}.gz")
        return p + ".gz"
    if name == "rootfs-zst":
        if not os.path.exists(p + ".zst"):
            sh(f"zstd -q -3 -f {p} -o {p}.zst")
        return p + ".zst"
    return p


class LoopFs:
    """A fresh filesystem per run, on a sparse image in the work directory."""

    def __init__(self, work, fs):
        self.img = os.path.join(work, "fs.img")
        self.mnt = os.path.join(work, "mnt")
        self.fs = fs
        os.makedirs(self.mnt, exist_ok=True)

    def __enter__(self):
        if os.path.exists(self.img):
            os.unlink(self.img)
        with open(self.img, "wb") as f:
            f.truncate(16 << 30)
        mkfs = "mkfs.xfs -q -m reflink=1" if self.fs == "xfs" else "mkfs.ext4 -q -F"
        sh(f"{mkfs} {self.img}")
        sh(f"mount -o loop {self.img} {self.mnt}")
        return self.mnt

    def __exit__(self, *exc):
        subprocess.run(["umount", self.mnt])
        os.unlink(self.img)


def timed(cmd, env=None):
    """Seconds and peak RSS (KiB: the largest process of cmd, by GNU time; a
    child of this Python would inherit its RSS high-water mark) of cmd."""
    with tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.monotonic()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, "sh", "-c", cmd],
                       env=env, stdout=subprocess.DEVNULL, check=True)
        dt = time.monotonic() - t0
        return dt, int(rss.read().split()[-1])


def strata_run(mnt, layer, sink):
    sock = os.path.join(mnt, "s.sock")
    # --commit-sync off: Commit would otherwise syncfs the layer's data (the
    # durability protocol), and no other tool here syncs; `import --no-sync`
    # skips the Apply's own syncfs.
    d = subprocess.Popen([os.path.join(BIN, "strata-snapshotter"), "--root",
                          os.path.join(mnt, "root"), "--address", sock, "--log-level", "warn",
                          "--commit-sync", "off"])
    try:
        for _ in range(200):
            if subprocess.run([os.path.join(BIN, "strata"), "--address", sock, "ls"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        env = dict(os.environ)
        if sink:
            env["STRATA_IO"] = sink
        # `strata import` extracts in its own process: its RSS is the engine's.
        return timed(f"{BIN}/strata --address {sock} import --no-sync --name l {layer}", env)
    finally:
        d.terminate()
        d.wait()


def tools_for(name, layer, applier):
    t = {
        "strata": lambda m: strata_run(m, layer, None),
        "strata-sync": lambda m: strata_run(m, layer, "sync"),
        "strata-uring": lambda m: strata_run(m, layer, "uring"),
        # The engine alone (tests/oracle/extract_layer): no daemon, no Commit.
        # Into an empty directory, as a snapshot's is (a fresh filesystem's root
        # holds lost+found, which makes the extractor look before each create).
        "strata-engine": lambda m: timed(f"mkdir {m}/x && {BIN}/extract_layer {layer} {m}/x"),
        "containerd": lambda m: timed(f"{applier} {layer} {m}"),
    }
    if name == "rootfs-gz":
        t["gnu-tar(gzip)"] = lambda m: timed(f"tar -C {m} -xzpf {layer}")
        t["pigz|tar"] = lambda m: timed(f"pigz -dc {layer} | tar -C {m} -xpf -")
    elif name == "rootfs-zst":
        t["gnu-tar(zstd)"] = lambda m: timed(f"tar -C {m} --zstd -xpf {layer}")
        t["zstd|tar"] = lambda m: timed(f"zstd -dc {layer} | tar -C {m} -xpf -")
    else:
        t["gnu-tar"] = lambda m: timed(f"tar -C {m} -xpf {layer}")
    if name == "big":
        # The same bytes from the same page-cached file: every tool here reads
        # its input (dd from /dev/zero would skip the read copy).
        t["dd"] = lambda m: timed(f"dd if={layer} of={m}/big bs=1M status=none")
    return t


def regular_files(layer):
    """Regular files in a layer (what the per-file syscall counts divide by)."""
    import tarfile
    with tarfile.open(layer) as t:
        return sum(1 for m in t if m.isreg())


def syscall_counts(cmd, env=None):
    """{syscall: calls} for cmd and its threads, from strace's summary."""
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(["strace", "-f", "-c", "-o", out.name, "sh", "-c", cmd], env=env,
                       stdout=subprocess.DEVNULL, check=True)
        counts = {}
        for line in out.read().splitlines():
            f = line.split()
            # % time, seconds, usecs/call, calls, [errors], syscall
            if len(f) >= 5 and f[-1] != "total" and f[3].isdigit():
                counts[f[-1]] = counts.get(f[-1], 0) + int(f[3])
        return counts


def syscalls_table(work, fs, name, layer):
    files = regular_files(layer)
    runs = {}
    for sink in ["threads", "sync", "uring"]:
        env = dict(os.environ, STRATA_IO=sink)
        with LoopFs(work, fs) as mnt:
            runs[f"strata-engine ({sink})"] = syscall_counts(
                f"mkdir {mnt}/x && {BIN}/extract_layer {layer} {mnt}/x", env)
    if name not in ("rootfs-gz", "rootfs-zst"):
        with LoopFs(work, fs) as mnt:
            runs["gnu-tar"] = syscall_counts(f"tar -C {mnt} -xpf {layer}")
    rows = []
    for tool, c in runs.items():
        top = sorted(c.items(), key=lambda kv: -kv[1])[:6]
        rows.append([tool, round(sum(c.values()) / max(files, 1), 2),
                     ", ".join(f"{k} {v / max(files, 1):.2f}" for k, v in top)])
    return files, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--datasets", default="small,big,rootfs-gz,rootfs-zst")
    ap.add_argument("--fs", choices=["ext4", "xfs"], default="ext4")
    ap.add_argument("--work", default="/var/tmp/strata-bench-extract")
    ap.add_argument("--out", default=None)
    ap.add_argument("--syscalls", action="store_true",
                    help="also count syscalls per file (strace -f -c)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/extract.py: needs root (loop mounts, ownership, whiteouts)")
    os.makedirs(args.work, exist_ok=True)
    out = args.out or os.path.join(args.work, "results")
    os.makedirs(out, exist_ok=True)
    applier = subprocess.run([os.path.join(TOP, "bench", "build-go.sh"), "applier",
                              os.path.join(TOP, "build", "go")], check=True,
                             capture_output=True, text=True).stdout.split()[-1]
    res = {"title": "Layer extraction (bench/extract.py)",
           "command": "bench/extract.py " + " ".join(sys.argv[1:]),
           "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": {"kernel": platform.release(), "cpus": str(os.cpu_count()),
                       "filesystem": f"fresh loop {args.fs} per run"},
           "tables": [], "plots": [], "notes": []}
    for name in args.datasets.split(","):
        layer = dataset(args.work, name)
        tools = tools_for(name, layer, applier)
        secs = {k: [] for k in tools}
        rss = {k: 0 for k in tools}
        for r in range(args.rounds):
            for tool, run in tools.items():
                sh(f"cat {layer} > /dev/null")
                with LoopFs(args.work, args.fs) as mnt:
                    dt, kib = run(mnt)
                secs[tool].append(dt)
                rss[tool] = max(rss[tool], kib)
                print(f"{name:10} round {r + 1} {tool:14} {dt:7.3f} s  rss {kib / 1024:6.1f} MiB",
                      file=sys.stderr)
        med = {k: statistics.median(v) for k, v in secs.items()}
        base = med["strata"]
        rows = [[k, round(med[k], 3), round(min(secs[k]), 3), round(med[k] / base, 2),
                 round(rss[k] / 1024, 1)] for k in tools]
        size = os.path.getsize(layer)
        res["tables"].append({
            "title": f"{name}: {os.path.basename(layer)} ({size / 2**20:.0f} MiB), "
                     f"{args.rounds} rounds",
            "columns": ["tool", "median s", "min s", "tool/strata", "peak RSS MiB"],
            "rows": rows})
        print(f"\n{name}: median seconds (ratio = tool / strata; above 1: Strata is faster)")
        for row in rows:
            print(f"  {row[0]:14} {row[1]:8.3f}  {row[3]:5.2f}x  rss {row[4]:6.1f} MiB")
        if args.syscalls:
            files, srows = syscalls_table(args.work, args.fs, name, layer)
            res["tables"].append({
                "title": f"{name}: syscalls per regular file ({files} files; strace -f -c)",
                "columns": ["tool", "syscalls per file", "most frequent, per file"],
                "rows": srows})
            print(f"{name}: syscalls per regular file ({files} files)")
            for row in srows:
                print(f"  {row[0]:24} {row[1]:6.2f}  {row[2]}")
        sys.stdout.flush()
    res["plots"].append({
        "file": "extract.png", "title": "Extraction time relative to Strata (lower is faster)",
        "ylabel": "tool median / Strata median",
        "categories": [t["title"].split(":")[0] for t in res["tables"]],
        "series": [{"name": tool, "values": [
            next((row[3] for row in t["rows"]
                  if row[0] == tool or (tool == "gnu-tar" and row[0].startswith(tool))), None)
            for t in res["tables"]]} for tool in
            ["strata", "strata-sync", "strata-uring", "gnu-tar", "containerd"]]})
    path = os.path.join(out, "extract.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    subprocess.run([os.path.join(TOP, "bench", "report.py"), path, out])


if __name__ == "__main__":
    main()
