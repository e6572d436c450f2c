#!/usr/bin/env python3
"""Time from exec of strata-snapshotter to its socket accepting connections.

  bench/startup.py [--runs N] [--bin build/bin/strata-snapshotter]

Starts the daemon N times on a fresh root under /tmp, polls connect() every
0.5 ms, stops it with SIGTERM, and prints the median, min and max.
"""
import argparse, os, shutil, socket, statistics, subprocess, tempfile, time

p = argparse.ArgumentParser()
p.add_argument("--runs", type=int, default=20)
p.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin",
                                             "strata-snapshotter"))
args = p.parse_args()
work = tempfile.mkdtemp(prefix="strata-startup-")
sock = os.path.join(work, "s.sock")
times = []
try:
    for _ in range(args.runs):
        shutil.rmtree(os.path.join(work, "root"), ignore_errors=True)
        t0 = time.perf_counter()
        d = subprocess.Popen([args.bin, "--root", os.path.join(work, "root"), "--address", sock],
                             stderr=subprocess.DEVNULL)
        while True:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(sock)
                break
            except OSError:
                if d.poll() is not None:
                    raise SystemExit("daemon exited during start-up")
                time.sleep(0.0005)
            finally:
                s.close()
        times.append((time.perf_counter() - t0) * 1000)
        d.terminate()
        d.wait()
finally:
    shutil.rmtree(work, ignore_errors=True)
print("exec to connectable, ms: median %.1f min %.1f max %.1f (n=%d)"
      % (statistics.median(times), min(times), max(times), len(times)))
