#!/usr/bin/env python3
"""Writes seed layers for apply_layer_fuzz into OUTDIR.

    make_apply_seeds.py OUTDIR

Each seed aims at /tmp/strata-apply-fuzz/decoy, the decoy the fuzzer keeps
beside its scratch root: final symlinks reached by aliases under every entry
type, hardlinks and whiteouts through aliases, devices, PAX xattrs, deep
paths, and gzip variants. Standard library only.
"""
import gzip
import io
import os
import sys
import tarfile

DECOY = "/tmp/strata-apply-fuzz/decoy"


def info(name, type_=tarfile.REGTYPE, linkname="", mode=0o644, data=b"", **pax):
    t = tarfile.TarInfo(name)
    t.type = type_
    t.linkname = linkname
    t.mode = mode
    t.uid = t.gid = 4321
    t.mtime = 42
    t.size = len(data) if type_ == tarfile.REGTYPE else 0
    if pax:
        t.pax_headers = pax
    return t, data


def write(path, entries, compress=False):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for t, data in entries:
            tar.addfile(t, io.BytesIO(data) if t.size else None)
    raw = buf.getvalue()
    if compress:
        raw = gzip.compress(raw, mtime=0)
    with open(path, "wb") as f:
        f.write(raw)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    base = [info("x", tarfile.SYMTYPE, DECOY + "/file"), info("l", tarfile.SYMTYPE, "."),
            info("d", tarfile.SYMTYPE, DECOY), info("a", tarfile.DIRTYPE, mode=0o755)]
    kinds = {
        "dir": lambda p: info(p, tarfile.DIRTYPE, mode=0o7777, **{"SCHILY.xattr.user.evil": "1"}),
        "file": lambda p: info(p, data=b"pwned", mode=0o6777),
        "symlink": lambda p: info(p, tarfile.SYMTYPE, "elsewhere"),
        "hardlink": lambda p: info(p, tarfile.LNKTYPE, "a"),
        "fifo": lambda p: info(p, tarfile.FIFOTYPE, mode=0o777),
        "chr": lambda p: info(p, tarfile.CHRTYPE, mode=0o777),
    }
    n = 0
    for kind, make in kinds.items():
        for alias in ["l/x", "./l/x", "a/../l/x", "l/l/x", "x", "d/file", "l/d/sub"]:
            write(os.path.join(out, "alias-%02d.tar" % n), base + [make(alias)], compress=n % 4 == 0)
            n += 1
    write(os.path.join(out, "whiteouts.tar"),
          base + [info("l/.wh.x"), info("l/d/.wh.file"), info("d/.wh..wh..opq"),
                  info("l/d/sub/.wh..wh..opq")])
    write(os.path.join(out, "hardlinks.tar"),
          base + [info("h1", tarfile.LNKTYPE, "l/x"), info("h2", tarfile.LNKTYPE, "d/file"),
                  info("l/x", tarfile.LNKTYPE, "a")])
    write(os.path.join(out, "writes-through-dir-symlink.tar"),
          base + [info("d/new", data=b"x"), info("l/d/sub/inner", data=b"x")])
    deep = "/".join(["a"] * 400)
    write(os.path.join(out, "deep.tar.gz"),
          [info(deep + "/f", data=b"deep"), info("h", tarfile.SYMTYPE, deep),
           info("h/" + deep + "/g", data=b"deeper")], compress=True)


if __name__ == "__main__":
    main()
