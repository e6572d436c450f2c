#!/usr/bin/python3
"""One pod's life through containerd's CRI plugin, checked on the node.

    e2e.py --socket S --gen DIR --image REF --pause REF --snapshotter NAME
           --snapshotter-root DIR --state DIR --ctr CTR [--metrics HOST:PORT]
           --work DIR

Drives the CRI as kubelet does: PullImage and ImageStatus, RunPodSandbox
(host network), CreateContainer, StartContainer, ExecSync, ContainerStats
and ListContainerStats, ImageFsInfo, StopContainer, RemoveContainer,
StopPodSandbox, RemovePodSandbox, RemoveImage; then a user-namespaced pod
when the runtime handler supports one. Checks what the node holds: the
layers and the writable layer are the snapshotter's, the stats match du
and statfs, nothing is left once the pod and image are gone and
containerd's GC has run. --image is tests/e2e/build-image.sh's image
(whiteouts, an opaque directory, a hard link); --pause is a one-layer
image whose command sleeps, pinned as the sandbox image. --metrics is
Strata's metrics address: every layer must have been applied by Strata's
differ.

Prints an ok/FAIL line per check; exit status 1 when one failed.
"""

import argparse
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crilib  # noqa: E402

MIB = 1 << 20


class Checks:
    def __init__(self):
        self.failed = []
        self.passed = 0

    def ok(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"  ok   {name}", flush=True)
        else:
            self.failed.append(name)
            print(f"  FAIL {name}" + (f": {detail}" if detail else ""), flush=True)
        return cond


def poll(fn, timeout, interval=0.5):
    """Calls fn until it returns (True, value) or timeout; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        done, value = fn()
        if done or time.monotonic() > deadline:
            return done, value
        time.sleep(interval)


def snapshots(args):
    """{key: kind} of the snapshotter's snapshots in containerd's k8s.io namespace."""
    out = subprocess.run([args.ctr, "--address", args.socket, "-n", "k8s.io", "snapshots",
                          "--snapshotter", args.snapshotter, "ls"],
                         check=True, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines()[1:]:
        f = line.split()
        if f:
            found[f[0]] = f[-1]
    return found


def metric(addr, sample):
    body = urllib.request.urlopen(f"http://{addr}/metrics", timeout=10).read().decode()
    for line in body.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def statfs_used(path):
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_files - st.f_ffree


def close(a, b, slack):
    return abs(a - b) <= slack


def lifecycle(cri, args, c):
    api = cri.api
    ver = cri.rt("Version")
    c.ok(f"Version: {ver.runtime_name} {ver.runtime_version}, CRI {ver.runtime_api_version}",
         ver.runtime_name == "containerd" and ver.runtime_api_version == "v1")

    applied_before = metric(args.metrics, 'strata_applies_total{result="applied"}') if args.metrics else 0
    pod = cri.pod_config("e2e-pod", os.path.join(args.work, "pods", "e2e-pod"))
    os.makedirs(pod.log_directory, exist_ok=True)
    pause_id = cri.pull(args.pause, pod)
    image_id = cri.pull(args.image, pod)
    st = cri.img("ImageStatus", image=api.ImageSpec(image=args.image)).image
    c.ok("PullImage and ImageStatus: id, tag and size", st.id == image_id and args.image in st.repo_tags
         and st.size > 0, f"status {st}")
    pst = cri.img("ImageStatus", image=api.ImageSpec(image=args.pause)).image
    c.ok("the pause image is pinned (pinned_images.sandbox)", pst.id == pause_id and pst.pinned, f"status {pst}")
    committed = snapshots(args)
    c.ok(f"three layers unpacked as {args.snapshotter} snapshots (pause 1, image 2)",
         len(committed) == 3 and set(committed.values()) == {"Committed"}, f"{committed}")
    if args.metrics:
        applied = metric(args.metrics, 'strata_applies_total{result="applied"}') - applied_before
        declined = metric(args.metrics, 'strata_applies_total{result="declined"}')
        c.ok("every layer applied by Strata's differ", applied == 3 and declined == 0,
             f"applied {applied}, declined {declined}")

    pod_id = cri.run_pod(pod)
    cfg = cri.container_config("e2e-ctr", args.image, crilib.HOLD_COMMAND, pod)
    cid = cri.start_container(pod_id, pod, cfg)
    state = cri.rt("ContainerStatus", container_id=cid).status.state
    c.ok("CreateContainer and StartContainer: running", state == api.CONTAINER_RUNNING, f"state {state}")

    rc, out, err = cri.exec_sync(cid, ["/bin/sh", "-c", "cat /etc/added.txt; test ! -e /etc/gone.txt && ls /opaque"])
    c.ok("ExecSync sees the image's layers, whiteouts and opaque directory applied",
         rc == 0 and out == "added in layer 2\nc\n", f"rc {rc} out {out!r} err {err!r}")

    # The writable layer: a snapshot of the snapshotter, mounted as the rootfs.
    snaps = snapshots(args)
    c.ok(f"the writable layer is the {args.snapshotter} snapshot {cid[:12]}", snaps.get(cid) == "Active",
         f"{snaps}")
    rootfs = os.path.join(args.state, "io.containerd.runtime.v2.task", "k8s.io", cid, "rootfs")
    m = crilib.mount_at(rootfs)
    upper = m[1].get("upperdir", "") if m else ""
    root = os.path.realpath(args.snapshotter_root)
    c.ok("the rootfs is an overlay whose upper directory is under the snapshotter's root",
         m is not None and m[0] == "overlay" and os.path.realpath(upper).startswith(root + "/"), f"mount {m}")

    rc, out, err = cri.exec_sync(cid, ["/bin/sh", "-c",
                                       "mkdir -p /data && head -c 3145728 /dev/zero > /data/blob && "
                                       "for i in 1 2 3 4 5 6 7 8 9 10; do echo $i > /data/f$i; done && sync"])
    c.ok("ExecSync writes 3 MiB and 10 files in the container", rc == 0, f"rc {rc} err {err!r}")
    du_bytes, du_inodes = crilib.disk_usage(upper) if upper else (0, 0)

    def writable():
        s = cri.rt("ContainerStats", container_id=cid).stats.writable_layer
        return s.used_bytes.value >= 3 * MIB, s
    done, wl = poll(writable, 20)
    c.ok(f"ContainerStats' writable layer ({wl.used_bytes.value} bytes, {wl.inodes_used.value} inodes)"
         " equals du of the upper directory",
         done and close(wl.used_bytes.value, du_bytes, 8192) and close(wl.inodes_used.value, du_inodes, 1),
         f"stats {wl.used_bytes.value} bytes {wl.inodes_used.value} inodes; du {du_bytes} bytes {du_inodes} inodes")
    c.ok("the writable layer's filesystem id names a directory on the node",
         os.path.isdir(wl.fs_id.mountpoint), f"mountpoint {wl.fs_id.mountpoint!r}")
    listed = {s.attributes.id: s for s in cri.rt("ListContainerStats").stats}
    c.ok("ListContainerStats reports the container with the same writable layer",
         cid in listed and listed[cid].writable_layer.used_bytes.value == wl.used_bytes.value,
         f"ids {list(listed)}")

    # ImageFsInfo: kubelet stats its mountpoint and evicts on its bytes.
    snaps_dir = os.path.join(root, "snapshots")

    def image_fs():
        info = cri.img("ImageFsInfo").image_filesystems
        if len(info) != 1:
            return False, (info, 0, 0)
        du_b, du_i = crilib.disk_usage(snaps_dir)
        fs = info[0]
        # Per snapshot, its directory and the backend's bookkeeping (overlay's
        # work directory) are on disk but not in the snapshot's usage.
        slack = 16384 * len(os.listdir(snaps_dir))
        return close(fs.used_bytes.value, du_b, slack), (fs, du_b, du_i)
    done, (fs, du_b, du_i) = poll(image_fs, 20)
    c.ok(f"ImageFsInfo's mountpoint is the snapshotter's root ({root})",
         fs and os.path.realpath(fs.fs_id.mountpoint) == root and os.path.isdir(fs.fs_id.mountpoint),
         f"{fs}")
    used_b, used_i = statfs_used(root)
    c.ok(f"ImageFsInfo's used bytes ({fs.used_bytes.value if fs else '-'}) equal du of the snapshots"
         f" ({du_b}) and fit in statfs' used",
         done and fs.used_bytes.value <= used_b and fs.inodes_used.value <= used_i,
         f"ImageFsInfo {fs.used_bytes.value if fs else '-'} bytes {fs.inodes_used.value if fs else '-'} inodes;"
         f" du {du_b} bytes {du_i} inodes; statfs used {used_b} bytes {used_i} inodes")

    # Teardown, as kubelet does when the pod is deleted, then the image.
    cri.remove_pod(pod_id, [cid])
    c.ok("StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox",
         not cri.rt("ListContainers").containers and not cri.rt("ListPodSandbox").items)
    cri.img("RemoveImage", image=api.ImageSpec(image=args.image))
    gone = not cri.img("ImageStatus", image=api.ImageSpec(image=args.image)).image.id
    c.ok("RemoveImage: ImageStatus no longer finds it", gone)

    # containerd's GC removes the unpacked layers; only the pinned pause
    # image's layer stays, and nothing stays mounted.
    def collected():
        s = snapshots(args)
        return len(s) == 1 and len(os.listdir(snaps_dir)) == 1, s
    done, left = poll(collected, 30)
    c.ok("after GC only the pause image's layer is left, in containerd and on disk",
         done and list(left.values()) == ["Committed"],
         f"containerd lists {left}; on disk {sorted(os.listdir(snaps_dir))}")
    c.ok("nothing left mounted under the snapshotter's root or containerd's state",
         not crilib.mounts_under(root) and not crilib.mounts_under(os.path.join(args.state, "io.containerd.runtime.v2.task")),
         f"{crilib.mounts_under(root)}")


def userns_pod(cri, args, c):
    """A pod in its own user namespace (mode POD): the image's root-owned
    files are owned by root inside, through the snapshotter's layers."""
    api = cri.api
    handlers = cri.rt("Status").runtime_handlers
    able = [h.name for h in handlers if h.features.user_namespaces]
    if not able:
        print("  SKIP user-namespaced pod: no runtime handler supports user namespaces"
              f" ({args.userns_skip or 'containerd reports user_namespaces=false for each'})", flush=True)
        return
    userns = api.UserNamespace(
        mode=api.POD,
        uids=[api.IDMapping(host_id=200000, container_id=0, length=65536)],
        gids=[api.IDMapping(host_id=200000, container_id=0, length=65536)])
    pod = cri.pod_config("userns-pod", os.path.join(args.work, "pods", "userns-pod"), userns)
    os.makedirs(pod.log_directory, exist_ok=True)
    cri.pull(args.image, pod)
    committed = sorted(k for k, kind in snapshots(args).items() if kind == "Committed")
    pod_id = cri.run_pod(pod, runtime_handler=able[0])
    cid = cri.start_container(pod_id, pod, cri.container_config("userns-ctr", args.image, crilib.HOLD_COMMAND, pod))
    rc, out, err = cri.exec_sync(cid, ["/bin/sh", "-c", "cat /proc/self/uid_map; stat -c '%u:%g' /bin/busybox /etc/owned.txt"])
    fields = out.split()
    c.ok("user-namespaced pod: mapped to 200000, image files owned by root (and 1000) inside",
         rc == 0 and fields[:3] == ["0", "200000", "65536"] and fields[3:] == ["0:0", "1000:1000"],
         f"rc {rc} out {out!r} err {err!r}")
    rootfs = os.path.join(args.state, "io.containerd.runtime.v2.task", "k8s.io", cid, "rootfs")
    after = sorted(k for k, kind in snapshots(args).items() if kind == "Committed")
    c.ok(f"user-namespaced pod on {args.snapshotter}: no chowned copy of the image (committed snapshots"
         " unchanged)", after == committed, f"before {committed}, after {after}")
    print(f"       (its rootfs: {crilib.mount_at(rootfs)})", flush=True)
    cri.remove_pod(pod_id, [cid])
    cri.img("RemoveImage", image=api.ImageSpec(image=args.image))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for a in ("socket", "gen", "image", "pause", "snapshotter", "snapshotter-root", "state", "ctr", "work"):
        p.add_argument("--" + a, required=True)
    p.add_argument("--metrics", default="")
    p.add_argument("--userns-skip", default="", help="why no runtime here can run a user-namespaced pod")
    args = p.parse_args()
    cri = crilib.Cri(args.socket, args.gen)
    c = Checks()
    try:
        lifecycle(cri, args, c)
        userns_pod(cri, args, c)
    except crilib.CriError as e:
        c.ok("the CRI calls answer", False, str(e))
    print(f"cri e2e on {args.snapshotter}: {c.passed} passed, {len(c.failed)} failed", flush=True)
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
