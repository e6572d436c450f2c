#!/usr/bin/env python3
"""How to make a committed layer durable: one syncfs of its filesystem, or an
fsync of each of its files and directories. Writes layers of 1 x 64 KiB,
100 x 4 KiB and 2,000 x 4 KiB files under DIR (unsynced, like an unpack),
times each way, alternating, and prints the medians (microseconds).

    bench/sync_modes.py DIR [ROUNDS]

Strata's Commit uses syncfs (engine.h, README "Crash safety"); this is the
measurement behind that choice.
"""
import ctypes, os, sys, time, statistics, shutil
libc = ctypes.CDLL("libc.so.6", use_errno=True)
def syncfs(fd):
    if libc.syncfs(fd) != 0: raise OSError(ctypes.get_errno(), "syncfs")
base = sys.argv[1]; rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 15
rootfd = os.open(base, os.O_RDONLY)
def layer(d, files, size):
    os.makedirs(d)
    data = b"x" * size
    paths = []
    for i in range(files):
        sub = os.path.join(d, "d%d" % (i // 100)); os.makedirs(sub, exist_ok=True)
        p = os.path.join(sub, "f%d" % i)
        with open(p, "wb") as f: f.write(data)
        paths.append(p)
    return paths
for files, size in [(1, 65536), (100, 4096), (2000, 4096)]:
    res = {"syncfs": [], "fsync-each": []}
    for r in range(rounds):
        for mode in ("syncfs", "fsync-each"):
            d = os.path.join(base, "l-%s-%d" % (mode, r))
            paths = layer(d, files, size)
            t0 = time.perf_counter()
            if mode == "syncfs":
                syncfs(rootfd)
            else:
                dirs = set()
                for p in paths:
                    fd = os.open(p, os.O_RDONLY); os.fsync(fd); os.close(fd); dirs.add(os.path.dirname(p))
                dirs.add(d)
                for q in dirs:
                    fd = os.open(q, os.O_RDONLY); os.fsync(fd); os.close(fd)
            res[mode].append((time.perf_counter() - t0) * 1e6)
            shutil.rmtree(d)
    print("%5d files x %6d B: syncfs p50 %8.0f us   fsync-each p50 %8.0f us" % (files, size, statistics.median(res["syncfs"]), statistics.median(res["fsync-each"])))
