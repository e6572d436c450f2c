"""A CRI client for containerd's CRI plugin, driven the way kubelet drives it.

Used by tests/cri/e2e.py (the e2e_cri test) and bench/cri_load.py (kubelet's
load). The CRI API's api.proto comes from Debian's
golang-github-kubernetes-cri-api-dev package (scripts/fetch-containerd.sh
unpacks it beside containerd 2.1); generate() strips its gogoproto options
and compiles it with protoc and grpc_python_plugin, so no generated code is
kept in the repository.

Also here: an OCI image builder (one layer from a directory, for the pause
and load images), the overlay mount behind a container's rootfs, disk usage
as containerd counts it, and /proc samples of a process's CPU and RSS.
"""

import gzip
import hashlib
import importlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time

GRPC_PYTHON_PLUGIN = "/usr/bin/grpc_python_plugin"

# A container's command that runs until SIGTERM and then exits at once (the
# trap runs as soon as `wait` is interrupted), as a well-behaved workload.
HOLD_COMMAND = ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait $!; done"]


def generate(api_proto, out_dir):
    """Compiles the CRI api.proto into out_dir (api_pb2, api_pb2_grpc)."""
    os.makedirs(out_dir, exist_ok=True)
    with open(api_proto, encoding="utf-8") as f:
        text = f.read()
    # gogoproto's import and file options are Go-only; protoc has no gogo.proto.
    lines = [l for l in text.splitlines() if "gogoproto" not in l]
    with open(os.path.join(out_dir, "api.proto"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run(
        ["protoc", "-I", out_dir, "--python_out", out_dir, "--grpc_out", out_dir,
         "--plugin=protoc-gen-grpc=" + GRPC_PYTHON_PLUGIN, "api.proto"],
        check=True)


def load_api(out_dir):
    """Imports the generated modules: (api_pb2, api_pb2_grpc)."""
    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)
    return importlib.import_module("api_pb2"), importlib.import_module("api_pb2_grpc")


class CriError(Exception):
    pass


class Cri:
    """RuntimeService and ImageService on one containerd socket."""

    def __init__(self, socket_path, gen_dir, timeout=120.0):
        import grpc  # Debian's python3-grpcio
        self.grpc = grpc
        self.api, stubs = load_api(gen_dir)
        self.channel = grpc.insecure_channel(
            "unix://" + socket_path,
            options=[("grpc.max_receive_message_length", 16 << 20)])
        self.runtime = stubs.RuntimeServiceStub(self.channel)
        self.images = stubs.ImageServiceStub(self.channel)
        self.timeout = timeout

    def call(self, service, method, **fields):
        """One RPC: service.method(MethodRequest(**fields)). Raises CriError
        naming the method and the gRPC code."""
        request = getattr(self.api, method + "Request")(**fields)
        try:
            return getattr(service, method)(request, timeout=self.timeout)
        except self.grpc.RpcError as e:
            raise CriError(f"{method}: {e.code().name}: {e.details()}") from None

    def rt(self, method, **fields):
        return self.call(self.runtime, method, **fields)

    def img(self, method, **fields):
        return self.call(self.images, method, **fields)

    # --- kubelet's objects ----------------------------------------------------
    def pod_config(self, name, log_dir, userns=None):
        """A pod as kubelet would send it: on the host's network (no CNI
        needed), or, in a user namespace, with a network namespace of its
        own (containerd pins the user namespace through it)."""
        api = self.api
        ns = api.NamespaceOption(network=api.NODE, pid=api.POD, ipc=api.POD)
        if userns is not None:
            ns.network = api.POD
            ns.userns_options.CopyFrom(userns)
        return api.PodSandboxConfig(
            metadata=api.PodSandboxMetadata(name=name, uid=name + "-uid", namespace="strata-e2e", attempt=0),
            log_directory=log_dir,
            labels={"app": "strata-e2e"},
            linux=api.LinuxPodSandboxConfig(
                security_context=api.LinuxSandboxSecurityContext(namespace_options=ns)))

    def container_config(self, name, image, command, pod):
        """A container of `pod`, in the pod's namespaces as kubelet sets them."""
        api = self.api
        config = api.ContainerConfig(
            metadata=api.ContainerMetadata(name=name, attempt=0),
            image=api.ImageSpec(image=image),
            command=command,
            log_path=name + ".log",
            linux=api.LinuxContainerConfig())
        config.linux.security_context.namespace_options.CopyFrom(pod.linux.security_context.namespace_options)
        return config

    def pull(self, ref, pod=None):
        fields = {"image": self.api.ImageSpec(image=ref)}
        if pod is not None:
            fields["sandbox_config"] = pod
        return self.img("PullImage", **fields).image_ref

    def run_pod(self, config, runtime_handler=""):
        return self.rt("RunPodSandbox", config=config, runtime_handler=runtime_handler).pod_sandbox_id

    def start_container(self, pod_id, pod, config):
        cid = self.rt("CreateContainer", pod_sandbox_id=pod_id, config=config, sandbox_config=pod).container_id
        self.rt("StartContainer", container_id=cid)
        return cid

    def exec_sync(self, cid, cmd, timeout=30):
        r = self.rt("ExecSync", container_id=cid, cmd=cmd, timeout=timeout)
        return r.exit_code, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    def remove_pod(self, pod_id, containers=(), stop_timeout=10):
        for cid in containers:
            self.rt("StopContainer", container_id=cid, timeout=stop_timeout)
            self.rt("RemoveContainer", container_id=cid)
        self.rt("StopPodSandbox", pod_sandbox_id=pod_id)
        self.rt("RemovePodSandbox", pod_sandbox_id=pod_id)


# --- OCI images ------------------------------------------------------------------
def _blob(blobs, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def make_image(layout, tag, layers, cmd, arch):
    """Writes an OCI image layout at `layout` whose image `tag` has one layer
    per directory in `layers` (files owned by root, times fixed, so the same
    input gives the same digests) and runs `cmd`. Returns the manifest digest."""
    blobs = os.path.join(layout, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    descs, diff_ids = [], []
    for root in layers:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
            def reset(info):
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 1700000000
                return info
            for name in sorted(os.listdir(root)):
                tar.add(os.path.join(root, name), arcname=name, filter=reset)
        data = raw.getvalue()
        diff_ids.append("sha256:" + hashlib.sha256(data).hexdigest())
        digest, size = _blob(blobs, gzip.compress(data, mtime=0))
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size})
    config = {
        "architecture": arch, "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": cmd, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    cdigest, csize = _blob(blobs, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
        "layers": descs,
    }
    mdigest, msize = _blob(blobs, json.dumps(manifest, sort_keys=True).encode())
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
    path = os.path.join(layout, "index.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    index["manifests"] = [m for m in index["manifests"]
                          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag]
    index["manifests"].append({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdigest, "size": msize,
        "platform": {"architecture": arch, "os": "linux"},
        "annotations": {"org.opencontainers.image.ref.name": tag}})
    with open(path, "w", encoding="utf-8") as f:
        json.dump(index, f)
    with open(os.path.join(layout, "oci-layout"), "w", encoding="utf-8") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    return mdigest


# --- the node's view ---------------------------------------------------------------
def _unescape(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_at(path):
    """(fstype, {option: value}) of the mount at `path`, or None."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            left, right = line.rstrip("\n").split(" - ", 1)
            if _unescape(left.split(" ")[4]) != path:
                continue
            fstype, _source, super_opts = right.split(" ", 2)
            opts = {}
            for o in super_opts.split(","):
                k, _, v = o.partition("=")
                opts[k] = v
            return fstype, opts
    return None


def mounts_under(path):
    """Mount points at or below `path`."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            mp = _unescape(line.split(" ")[4])
            if mp == path or mp.startswith(path.rstrip("/") + "/"):
                found.append(mp)
    return found


def disk_usage(root):
    """(bytes, inodes) below root as containerd's fs.DiskUsage counts them:
    allocated blocks of every inode once (hard links counted once), root
    itself included."""
    st = os.lstat(root)
    seen = {(st.st_dev, st.st_ino)}
    size = st.st_blocks * 512
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            size += st.st_blocks * 512
    return size, len(seen)


class ProcSample:
    """CPU seconds (user+system) and RSS of a process at one moment."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, pid):
        self.at = time.monotonic()
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        self.cpu = (int(fields[11]) + int(fields[12])) / self.TICK
        self.rss = 0
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    self.rss = int(line.split()[1]) * 1024

    def cpu_share(self, later):
        """Cores used between this sample and a later one."""
        return (later.cpu - self.cpu) / max(later.at - self.at, 1e-9)


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)
