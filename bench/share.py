#!/usr/bin/python3
"""Content sharing: bytes on disk and import time with content_sharing off and auto.

    bench/share.py [--rounds N] [--work DIR] [--image-size 6G]

On a loop-mounted XFS (reflink=1) made under --work, each round starts
strata-snapshotter on a fresh root with --content-sharing off, then auto, and
imports with `strata import` (README "Storage efficiency"):
  (a) a Debian root filesystem layer, then the same files re-packed as another
      layer (other order and times: a new digest, the same content);
  (b) an application layer (48 files, 4 KiB-4 MiB) and its next version, in
      which 3 files changed;
  (c) a family of three images whose base layers were built separately (each
      the root filesystem plus one file of its own);
  (d) a data-heavy layer (four 48 MiB files) and the same files re-packed,
      where the bytes, not the inodes, set the import time.
It also imports the root filesystem with every file emptied: the metadata
(inodes, directories, symlinks, the index's rows) that no extent sharing can
remove, against which (a)'s re-packed layer is compared. Last, on the store
built with sharing off, (e) `strata dedup` shares after the fact: bytes
freed and its time.
Bytes on disk are the filesystem's used blocks after syncfs (statvfs); times
are `strata import` wall times. Prints medians over the rounds and the
saving / speed ratios. Needs root, mkfs.xfs and loop devices.
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extract import make_rootfs  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("STRATA_BIN_DIR", os.path.join(TOP, "build", "bin"))


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


def repack(src_tar, out_tar, extra=None):
    """The same files as src_tar in another order with other mtimes."""
    d = tempfile.mkdtemp(dir=os.path.dirname(out_tar))
    try:
        sh(f"tar --xattrs --xattrs-include='*' --numeric-owner -C {d} -xpf {src_tar}")
        if extra:
            with open(os.path.join(d, extra[0]), "wb") as f:
                f.write(extra[1])
        sh(f"find {d} -mindepth 1 -depth -exec touch -h -d @1710000000 {{}} +")
        sh(f"cd {d} && find . -mindepth 1 | sort -r > ../{os.path.basename(d)}.list")
        sh(f"tar --xattrs --xattrs-include='*' --numeric-owner --no-recursion "
           f"--format=posix -C {d} -cf {out_tar} -T {d}/../{os.path.basename(d)}.list")
        os.unlink(f"{d}/../{os.path.basename(d)}.list")
    finally:
        shutil.rmtree(d)


def make_app(path, seed, changed=()):
    """48 files of 4 KiB-4 MiB; the ones in `changed` get other bytes."""
    rnd = random.Random(seed)
    d = tempfile.mkdtemp(dir=os.path.dirname(path))
    try:
        for i in range(48):
            size = rnd.choice([4 << 10, 64 << 10, 300 << 10, 1 << 20, 4 << 20])
            data = random.Random(seed * 1000 + i + (10**6 if i in changed else 0)).randbytes(size)
            with open(os.path.join(d, f"app{i:02d}.bin"), "wb") as f:
                f.write(data)
        sh(f"tar --numeric-owner -C {d} -cf {path} .")
    finally:
        shutil.rmtree(d)


def datasets(data):
    os.makedirs(data, exist_ok=True)
    p = lambda n: os.path.join(data, n)  # noqa: E731
    if not os.path.exists(p("rootfs.tar")):
        print("making the root filesystem layer ...", file=sys.stderr)
        make_rootfs(p("rootfs.tar"))
    if not os.path.exists(p("rootfs-repacked.tar")):
        repack(p("rootfs.tar"), p("rootfs-repacked.tar"))
    for i in range(3):
        if not os.path.exists(p(f"family{i}.tar")):
            repack(p("rootfs.tar"), p(f"family{i}.tar"),
                   (f"image-{i}", random.Random(i).randbytes(200 << 10)))
    if not os.path.exists(p("rootfs-empty.tar")):
        d = tempfile.mkdtemp(dir=data)
        sh(f"tar --xattrs --xattrs-include='*' --numeric-owner -C {d} -xpf {p('rootfs.tar')}")
        sh(f"find {d} -type f -exec truncate -s 0 {{}} +")
        sh(f"tar --xattrs --xattrs-include='*' --numeric-owner --format=posix -C {d} "
           f"-cf {p('rootfs-empty.tar')} .")
        shutil.rmtree(d)
    if not os.path.exists(p("data.tar")):
        d = tempfile.mkdtemp(dir=data)
        for i in range(4):
            with open(os.path.join(d, f"blob{i}"), "wb") as f:
                f.write(random.Random(100 + i).randbytes(48 << 20))
        sh(f"tar --numeric-owner -C {d} -cf {p('data.tar')} .")
        shutil.rmtree(d)
        repack(p("data.tar"), p("data-repacked.tar"))
    if not os.path.exists(p("app-v1.tar")):
        make_app(p("app-v1.tar"), 1)
        make_app(p("app-v2.tar"), 1, changed=(3, 17, 40))
    changed = 0
    for i in (3, 17, 40):
        rnd = random.Random(1)
        sizes = [rnd.choice([4 << 10, 64 << 10, 300 << 10, 1 << 20, 4 << 20]) for _ in range(48)]
        changed += sizes[i]
    return p, changed


def used(mnt):
    sh(f"sync -f {mnt}")
    st = os.statvfs(mnt)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


class Daemon:
    def __init__(self, mnt, mode):
        self.root = os.path.join(mnt, "root")
        shutil.rmtree(self.root, ignore_errors=True)
        self.sock = os.path.join(mnt, "share.sock")
        self.proc = subprocess.Popen(
            [f"{BIN}/strata-snapshotter", "--root", self.root, "--address", self.sock,
             "--log-level", "warn", "--containerd-address", "", "--content-sharing", mode])
        for _ in range(200):
            if subprocess.run([f"{BIN}/strata", "--address", self.sock, "ls"],
                              capture_output=True).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("daemon did not start")

    def imp(self, layer):
        t0 = time.monotonic()
        out = subprocess.run([f"{BIN}/strata", "--address", self.sock, "import", layer],
                             check=True, capture_output=True, text=True).stdout
        return time.monotonic() - t0, out

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def run(mnt, mode, p):
    r = {}
    d = Daemon(mnt, mode)
    try:
        u0 = used(mnt)
        r["a1_s"], _ = d.imp(p("rootfs.tar"))
        u1 = used(mnt)
        r["a2_s"], out = d.imp(p("rootfs-repacked.tar"))
        u2 = used(mnt)
        r["a1_bytes"], r["a2_bytes"] = u1 - u0, u2 - u1
        r["b1_s"], _ = d.imp(p("app-v1.tar"))
        u3 = used(mnt)
        r["b2_s"], _ = d.imp(p("app-v2.tar"))
        u4 = used(mnt)
        r["b1_bytes"], r["b2_bytes"] = u3 - u2, u4 - u3
        for i in range(3):
            d.imp(p(f"family{i}.tar"))
        u5 = used(mnt)
        r["c_bytes"] = u5 - u4
        r["d1_s"], _ = d.imp(p("data.tar"))
        u6 = used(mnt)
        r["d2_s"], _ = d.imp(p("data-repacked.tar"))
        u7 = used(mnt)
        r["d1_bytes"], r["d2_bytes"] = u6 - u5, u7 - u6
        d.imp(p("rootfs-empty.tar"))
        u8 = used(mnt)
        r["floor_bytes"] = u8 - u7
        if mode == "off":
            t0 = time.monotonic()
            subprocess.run([f"{BIN}/strata", "--address", d.sock, "dedup"], check=True,
                           capture_output=True)
            r["e_s"] = time.monotonic() - t0
            r["e_before"], r["e_freed"] = u8 - u0, u8 - used(mnt)
    finally:
        d.stop()
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", default="/var/tmp/strata-share-bench")
    ap.add_argument("--image-size", default="6G")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    p, changed = datasets(os.path.join(a.work, "data"))
    img, mnt = os.path.join(a.work, "xfs.img"), os.path.join(a.work, "mnt")
    os.makedirs(mnt, exist_ok=True)
    # Direct I/O on the loop device: its writes reach the disk instead of the
    # backing file's page cache, so syncfs costs what it would on a real disk.
    sh(f"truncate -s {a.image_size} {img} && mkfs.xfs -q -f -m reflink=1 {img}")
    dev = subprocess.run(["losetup", "-f", "--show", "--direct-io=on", img], check=True,
                         capture_output=True, text=True).stdout.strip()
    sh(f"mount {dev} {mnt}")
    results = {"off": [], "auto": []}
    try:
        for rnd in range(a.rounds):
            for mode in ("off", "auto"):
                print(f"round {rnd + 1}/{a.rounds}: content_sharing={mode}", file=sys.stderr)
                results[mode].append(run(mnt, mode, p))
    finally:
        sh(f"umount {mnt}")
        sh(f"losetup -d {dev} 2>/dev/null || true")
        os.unlink(img)
    med = {m: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for m, rs in results.items()}
    off, on = med["off"], med["auto"]
    mib = lambda b: f"{b / 2**20:9.1f} MiB"  # noqa: E731
    print(f"content sharing, XFS reflink=1 on a direct-I/O loop device, medians of {a.rounds} rounds "
          f"(rootfs layer {os.path.getsize(p('rootfs.tar')) / 2**20:.0f} MiB tar)")
    print(f"{'':44} {'off':>13} {'auto':>13}  saving")
    rows = [("(a) rootfs layer", "a1_bytes"), ("(a) same files re-packed", "a2_bytes"),
            ("(b) app v1", "b1_bytes"), ("(b) app v2 (3 files changed)", "b2_bytes"),
            ("(c) family of 3 images", "c_bytes"),
            ("(d) data layer (4 x 48 MiB)", "d1_bytes"),
            ("(d) data layer re-packed", "d2_bytes"),
            ("rootfs with every file emptied (floor)", "floor_bytes")]
    for name, k in rows:
        saving = 100.0 * (1 - on[k] / off[k]) if off[k] > 0 else 0.0
        print(f"{name + ' bytes on disk':44} {mib(off[k])} {mib(on[k])}  {saving:5.1f}%")
    print(f"{'(b) bytes of the changed files':44} {mib(changed)}")
    print(f"(a) re-packed layer costs {100.0 * on['a2_bytes'] / on['a1_bytes']:.1f}% of the first "
          f"(target <= 5%), of which the metadata floor is "
          f"{100.0 * on['floor_bytes'] / on['a1_bytes']:.1f}%; (b) v2 costs "
          f"{on['b2_bytes'] / changed:.2f}x the changed bytes (target <= 1.05x)")
    for name, k in [("(a) first import, nothing to share", "a1_s"),
                    ("(a) re-packed import, all shared", "a2_s"),
                    ("(b) app v2 import", "b2_s"),
                    ("(d) data layer, nothing to share", "d1_s"),
                    ("(d) data layer re-packed, all shared", "d2_s")]:
        print(f"{name:44} {off[k]:8.2f} s {on[k]:8.2f} s  off/auto {off[k] / on[k]:.2f}x")
    stored = ("a1_bytes", "a2_bytes", "b1_bytes", "b2_bytes", "c_bytes", "d1_bytes", "d2_bytes",
              "floor_bytes")
    print(f"(e) strata dedup of the store built with sharing off: freed {mib(off['e_freed'])} "
          f"of {mib(off['e_before'])} ({100.0 * off['e_freed'] / off['e_before']:.1f}%) "
          f"in {off['e_s']:.2f} s (sharing at import stored {mib(sum(on[k] for k in stored))})")

if __name__ == "__main__":
    main()
