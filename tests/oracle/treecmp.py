#!/usr/bin/python3
"""Compares two extracted layer trees entry by entry: GNU tar's (EXPECTED)
and Strata's (ACTUAL).

    treecmp.py [--whiteouts overlay|delete] EXPECTED ACTUAL

Per entry: type, permission bits (with setuid/setgid/sticky), uid/gid,
mtime (nanoseconds), size and SHA-256 of regular files, symlink target,
device numbers, every extended attribute with its value; and the hardlink
groups of each tree. GNU tar extracts OCI whiteouts as plain files, so
EXPECTED is first rewritten to what the backend wants: with --whiteouts
overlay, `.wh.NAME` becomes a character device 0/0 NAME and `.wh..wh..opq`
the xattr trusted.overlay.opaque=y on its directory; with delete (a single
layer on an empty tree) they disappear. Exit 0 when equal, 1 with the
differences listed, 2 on usage errors.
"""
import argparse
import hashlib
import os
import stat
import sys

WH = ".wh."
OPQ = ".wh..wh..opq"


def kind(mode):
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISCHR, "chardev"), (stat.S_ISBLK, "blockdev"),
                       (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "unknown"


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def xattrs(path):
    out = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for n in names:
        try:
            out[n] = os.getxattr(path, n, follow_symlinks=False).hex()
        except OSError as e:
            out[n] = f"<unreadable: {e.strerror}>"
    return out


def describe(root):
    """{relpath: dict}, [hardlink groups as sorted tuples]."""
    entries, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        names = dirnames + filenames
        if dirpath == root:
            names = ["."] + names
        for name in names:
            full = root if name == "." else os.path.join(dirpath, name)
            rel = "." if name == "." else os.path.normpath(os.path.join(rel_dir, name))
            st = os.lstat(full)
            k = kind(st.st_mode)
            d = {"type": k, "uid": st.st_uid, "gid": st.st_gid, "xattrs": xattrs(full)}
            if k != "symlink":
                d["mode"] = oct(stat.S_IMODE(st.st_mode))
            if rel != ".":
                d["mtime_ns"] = st.st_mtime_ns
            if k == "file":
                d["size"] = st.st_size
                d["sha256"] = digest(full)
                if st.st_nlink > 1:
                    inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif k == "symlink":
                d["target"] = os.readlink(full)
            elif k in ("chardev", "blockdev"):
                d["rdev"] = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
            entries[rel] = d
    groups = sorted(tuple(sorted(g)) for g in inodes.values() if len(g) > 1)
    return entries, groups


def apply_whiteouts(entries, groups, mode):
    out = {}
    for rel, d in entries.items():
        base = os.path.basename(rel)
        parent = os.path.dirname(rel) or "."
        if not base.startswith(WH):
            out[rel] = d
            continue
        if mode == "delete":
            continue
        if base == OPQ:
            continue  # handled below, once the parent is in `out`
        target = os.path.normpath(os.path.join(parent, base[len(WH):]))
        out[target] = {"type": "chardev", "rdev": "0:0", "whiteout": True}
    if mode == "overlay":
        for rel in entries:
            if os.path.basename(rel) == OPQ:
                parent = os.path.dirname(rel) or "."
                out[parent] = dict(out[parent])
                out[parent]["xattrs"] = dict(out[parent]["xattrs"],
                                             **{"trusted.overlay.opaque": b"y".hex()})
    groups = [g for g in groups if not any(os.path.basename(p).startswith(WH) for p in g)]
    return out, groups


def compare(want, want_groups, got, got_groups):
    diffs = []
    for rel in sorted(set(want) | set(got)):
        a, b = want.get(rel), got.get(rel)
        if a is None:
            diffs.append(f"{rel}: only in Strata's tree ({b['type']})")
            continue
        if b is None:
            diffs.append(f"{rel}: missing from Strata's tree ({a['type']})")
            continue
        if a.get("whiteout"):
            if b["type"] != "chardev" or b.get("rdev") != "0:0":
                diffs.append(f"{rel}: want an overlay whiteout (chardev 0:0), got {b['type']}")
            continue
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                diffs.append(f"{rel}: {key}: GNU tar {a.get(key)!r}, Strata {b.get(key)!r}")
    if want_groups != got_groups:
        only_a = set(want_groups) - set(got_groups)
        only_b = set(got_groups) - set(want_groups)
        for g in sorted(only_a):
            diffs.append(f"hardlink group only in GNU tar's tree: {list(g)}")
        for g in sorted(only_b):
            diffs.append(f"hardlink group only in Strata's tree: {list(g)}")
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--whiteouts", choices=["overlay", "delete"], default="overlay")
    ap.add_argument("expected")
    ap.add_argument("actual")
    args = ap.parse_args()
    for d in (args.expected, args.actual):
        if not os.path.isdir(d):
            print(f"treecmp: {d}: not a directory", file=sys.stderr)
            return 2
    want, want_groups = describe(args.expected)
    want, want_groups = apply_whiteouts(want, want_groups, args.whiteouts)
    got, got_groups = describe(args.actual)
    diffs = compare(want, want_groups, got, got_groups)
    for line in diffs[:100]:
        print(line)
    if len(diffs) > 100:
        print(f"... and {len(diffs) - 100} more")
    print(f"treecmp: {len(want)} entries, {len(want_groups)} hardlink groups, "
          f"{len(diffs)} differences", file=sys.stderr)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
