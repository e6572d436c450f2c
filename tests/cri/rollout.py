#!/usr/bin/python3
"""A node switched from containerd's overlayfs to Strata (the README's rollout).

    rollout.py before --socket S --gen DIR --image REF --work DIR
    rollout.py after  --socket S --gen DIR --image REF --work DIR
                      --snapshotter-root DIR --metrics HOST:PORT --layers N

`before` (CRI on overlayfs): pull the image and run a pod from it, then remove
the pod; the image stays, as on a drained node. `after` (the same containerd
root, CRI now on Strata): kubelet sees the image as present and pulls nothing;
a pod from it must run, its layers unpacked into Strata from containerd's
content store by Strata's differ, and ImageFsInfo must name Strata's root.

Prints an ok/FAIL line per check; exit status 1 when one failed.
"""

import argparse
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crilib  # noqa: E402


def run_pod(cri, args, name):
    pod = cri.pod_config(name, os.path.join(args.work, "pods", name))
    os.makedirs(pod.log_directory, exist_ok=True)
    pod_id = cri.run_pod(pod)
    cid = cri.start_container(pod_id, pod, cri.container_config("c", args.image, crilib.HOLD_COMMAND, pod))
    rc, out, _ = cri.exec_sync(cid, ["/bin/cat", "/etc/added.txt"])
    cri.remove_pod(pod_id, [cid])
    return rc == 0 and out == "added in layer 2\n", out


def applied(addr):
    body = urllib.request.urlopen(f"http://{addr}/metrics", timeout=10).read().decode()
    for line in body.splitlines():
        if line.startswith('strata_applies_total{result="applied"} '):
            return float(line.split()[-1])
    return 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("phase", choices=["before", "after"])
    for a in ("socket", "gen", "image", "work"):
        p.add_argument("--" + a, required=True)
    p.add_argument("--snapshotter-root", default="")
    p.add_argument("--metrics", default="")
    p.add_argument("--layers", type=int, default=0, help="layers of the image and the pause image")
    args = p.parse_args()
    cri = crilib.Cri(args.socket, args.gen)
    failed = []

    def ok(name, cond, detail=""):
        print(f"  {'ok  ' if cond else 'FAIL'} {name}" + ("" if cond or not detail else f": {detail}"), flush=True)
        if not cond:
            failed.append(name)

    try:
        if args.phase == "before":
            cri.pull(args.image)
            good, out = run_pod(cri, args, "before")
            ok("on overlayfs: a pod runs from the pulled image", good, repr(out))
        else:
            st = cri.img("ImageStatus", image=cri.api.ImageSpec(image=args.image)).image
            ok("after the switch, kubelet still sees the image (no pull)", bool(st.id))
            before = applied(args.metrics)
            good, out = run_pod(cri, args, "after")
            ok("on Strata: a pod runs from the image without a pull", good, repr(out))
            n = applied(args.metrics) - before
            ok(f"its layers and the pause image's ({args.layers}) were unpacked into Strata by Strata's differ,"
               " from containerd's content store", n == args.layers, f"{n} applied")
            fs = cri.img("ImageFsInfo").image_filesystems
            mp = os.path.realpath(fs[0].fs_id.mountpoint) if fs else ""
            ok("ImageFsInfo now names Strata's root", mp == os.path.realpath(args.snapshotter_root), mp)
    except crilib.CriError as e:
        ok("the CRI calls answer", False, str(e))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
