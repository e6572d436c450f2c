#!/usr/bin/env python3
"""Writes a layer whose tree is far deeper than a path can name.

    make_deep_layer.py OUT.tar [HOPS] [LEVELS]

Short names and symlink hops: a file at a/.../a/f0 (LEVELS levels), then for
each hop N a symlink hN -> h(N-1)/a/.../a and a file hN/a/.../a/fN, so the
tree is HOPS * LEVELS directories deep while no archive path or link target
exceeds 4,096 bytes. The kernel follows at most 40 symlinks in one lookup:
HOPS <= 40. Defaults: 21 hops of 2,000 levels (42,000 levels).
"""
import io
import sys
import tarfile


def main():
    out = sys.argv[1]
    hops = int(sys.argv[2]) if len(sys.argv) > 2 else 21
    levels = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    seg = "/".join(["a"] * levels)
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        def add_file(path, data):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))

        def add_symlink(path, target):
            info = tarfile.TarInfo(path)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            info.mtime = 1700000000
            tar.addfile(info)

        add_file(seg + "/f0", b"0")
        for h in range(1, hops):
            prev = seg if h == 1 else "h%d/%s" % (h - 1, seg)
            add_symlink("h%d" % h, prev)
            add_file("h%d/%s/f%d" % (h, seg, h), str(h).encode())


if __name__ == "__main__":
    main()
