#!/usr/bin/env bash
# Writes Strata's corpus of hostile and corner-case layer archives into OUTDIR,
# with OUTDIR/MANIFEST.tsv: file, expected TarReader outcome (ok or a status
# code), a word the error message must contain, and what the file is.
# tests/corpus/README.md explains each file and what the extractor must do.
#
#   tests/corpus/make_corpus.sh OUTDIR
#
# Needs only bash, python3 (standard library) and zstd, from Debian.
set -euo pipefail
out=${1:?usage: make_corpus.sh OUTDIR}
mkdir -p "$out"
command -v zstd >/dev/null || { echo "make_corpus: zstd not found" >&2; exit 1; }

/usr/bin/env python3 - "$out" <<'PY'
import gzip, io, os, random, sys

out = sys.argv[1]
manifest = []

def octal(v, size):
    return (b"%0*o" % (size - 1, v)) + b"\0"

def base256(v, size):
    b = bytearray((v % (1 << (8 * size))).to_bytes(size, "big"))
    b[0] = 0xff if v < 0 else 0x80
    return bytes(b)

def header(name, type_=b"0", size=0, mode=0o644, uid=0, gid=0, mtime=1700000000,
           linkname=b"", devmajor=0, devminor=0, gnu=False, size_field=None, checksum=None):
    if isinstance(name, str): name = name.encode()
    if isinstance(linkname, str): linkname = linkname.encode()
    h = bytearray(512)
    h[0:len(name[:100])] = name[:100]
    h[100:108] = octal(mode, 8)
    h[108:116] = octal(uid, 8)
    h[116:124] = octal(gid, 8)
    h[124:136] = size_field if size_field is not None else octal(size, 12)
    h[136:148] = octal(mtime, 12)
    h[156:157] = type_
    h[157:157 + len(linkname[:100])] = linkname[:100]
    if gnu:
        h[257:265] = b"ustar  \0"
    else:
        h[257:263] = b"ustar\0"
        h[263:265] = b"00"
    h[329:337] = octal(devmajor, 8)
    h[337:345] = octal(devminor, 8)
    h[148:156] = b" " * 8
    s = sum(h) if checksum is None else checksum
    h[148:156] = b"%06o\0 " % s
    return bytes(h)

def pad(data):
    return data + b"\0" * (-len(data) % 512)

def entry(name, data=b"", **kw):
    return header(name, size=len(data), **kw) + pad(data)

def pax_record(key, value):
    if isinstance(key, str): key = key.encode()
    if isinstance(value, str): value = value.encode()
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n)) + len(body) != n:
        n = len(str(n)) + len(body)
    return str(n).encode() + body

def pax(records, type_=b"x"):
    body = b"".join(pax_record(k, v) for k, v in records)
    return entry("PaxHeaders/x", body, type_=type_)

END = b"\0" * 1024

def write(name, data, outcome, needle, what):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    manifest.append((name, outcome, needle, what))

def gz(data):
    return gzip.compress(data, mtime=0)

valid = entry("hello.txt", b"hello, world\n") + entry("dir/", type_=b"5", mode=0o755) + END

# --- malformed: the reader rejects these ---
bad = bytearray(header("bad-checksum", size=0)); bad[0:3] = b"BAD"
write("bad_checksum.tar", bytes(bad) + END, "InvalidArgument", "checksum",
      "header checksum does not match its bytes")
write("truncated_header.tar", entry("file", b"x")[:300], "DataLoss", "truncated",
      "stream ends 300 bytes into a header")
write("truncated_data.tar", header("file", size=10000) + b"d" * 100, "DataLoss", "truncated",
      "header promises 10000 bytes, 100 follow")
write("truncated_padding.tar", header("file", size=100) + b"d" * 100, "DataLoss", "padding",
      "data complete, block padding missing")
noise = random.Random(1).randbytes(64 << 10)
layer = b"".join(entry("f%d" % i, noise) for i in range(8)) + END
write("truncated.tar.gz", gz(layer)[:len(gz(layer)) // 2], "DataLoss", "truncated",
      "gzip stream cut in half, inside an entry's data")
write("trailing_garbage.tar.gz", gz(valid) + b"GARBAGE!", "InvalidArgument", "trailing garbage",
      "junk after the last gzip member")
write("absurd_size.tar", header("absurd", size_field=base256(1 << 60, 12)) + END,
      "InvalidArgument", "1 TiB", "base-256 size of 2^60 bytes")
write("negative_size.tar", header("negative", size_field=base256(-512, 12)) + END,
      "InvalidArgument", "size", "base-256 size of -512")
write("huge_pax.tar", pax([("comment", "x" * (2 << 20))]) + entry("f") + END,
      "InvalidArgument", "pax header", "2 MiB pax header (limit 1 MiB)")
write("pax_bogus_length.tar",
      entry("PaxHeaders/x", b"99999 path=short\n", type_=b"x") + entry("f") + END,
      "InvalidArgument", "pax record", "pax record length runs past the header")
write("gnu_longname_huge.tar",
      entry("././@LongLink", b"n" * 8192, type_=b"L", gnu=True) + entry("f", gnu=True) + END,
      "InvalidArgument", "GNU long name", "8 KiB GNU long name (limit PATH_MAX)")
write("name_with_nul.tar", pax([("path", b"safe\0../../etc/passwd")]) + entry("f") + END,
      "InvalidArgument", "NUL", "pax path with a NUL byte in it")
write("longname_with_nul.tar",
      entry("././@LongLink", b"safe\0../../etc/passwd\0", type_=b"L", gnu=True) +
      entry("f", gnu=True) + END,
      "InvalidArgument", "NUL", "GNU long name with a NUL byte in it")
write("unknown_type.tar", entry("weird", type_=b"Z") + END, "InvalidArgument",
      "unsupported entry type", "typeflag 'Z'")
write("zero_block_then_header.tar", b"\0" * 512 + entry("f") + END, "InvalidArgument",
      "zero block", "a lone zero block, then another header")
write("pax_at_eof.tar", pax([("path", "orphan")]), "DataLoss", "extended header",
      "pax header, then the stream ends")
sparse10 = pax([("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"),
                ("GNU.sparse.name", "sparse"), ("GNU.sparse.realsize", "100")])
write("sparse_overlap.tar",
      sparse10 + entry("GNUSparseFile.0/sparse", pad(b"2\n0\n10\n5\n10\n") + b"s" * 20) + END,
      "InvalidArgument", "sparse segment", "pax 1.0 sparse map with overlapping segments")

# The bomb: a tar header promising 4 GiB of zeros, then the zeros, as 64
# concatenated gzip members of 64 MiB each (~4 MiB on disk).
zeros_member = gz(b"\0" * (64 << 20))
first = gz(header("bomb", size=4 << 30) + b"\0" * ((64 << 20) - 512))
write("zip_bomb.tar.gz", first + zeros_member * 63, "ResourceExhausted", "max_output_bytes",
      "4 GiB of zeros in ~4 MiB of gzip; the corpus test caps output at 256 MiB")

# 10000 nested directories: paths pass PATH_MAX (4095 bytes) at depth 2048.
def deep():
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
        path = "a"
        for depth in range(1, 10001):
            g.write(pax([("path", path + "/")]) + header("deep", type_=b"5", mode=0o755))
            path += "/a"
        g.write(END)
    return buf.getvalue()
write("deep_dirs.tar.gz", deep(), "InvalidArgument", "PATH_MAX",
      "10000 nested directories a/a/a/...; the reader stops at the first path over 4095 bytes")

# --- well-formed but hostile: the reader returns them; the extractor must
# --- keep everything inside the layer root.
write("traversal_dotdot.tar", entry("../../etc/x", b"owned\n") + END, "ok", "",
      "file path ../../etc/x")
write("traversal_abs.tar", entry("/abs/x", b"owned\n") + END, "ok", "", "file path /abs/x")
write("symlink_then_write.tar",
      entry("a", type_=b"2", linkname="/etc", mode=0o777) + entry("a/passwd", b"root::0:0::/:\n") +
      END, "ok", "", "symlink a -> /etc, then a file a/passwd through it")
write("symlink_dotdot_then_write.tar",
      entry("b", type_=b"2", linkname="../../..", mode=0o777) + entry("b/tmp/x", b"x") + END,
      "ok", "", "symlink b -> ../../.., then b/tmp/x")
write("hardlink_outside.tar", entry("h", type_=b"1", linkname="../x") + END, "ok", "",
      "hardlink h to ../x")
write("hardlink_abs.tar", entry("h", type_=b"1", linkname="/etc/shadow") + END, "ok", "",
      "hardlink h to /etc/shadow")
write("overlay_opaque_xattr.tar",
      pax([("SCHILY.xattr.trusted.overlay.opaque", "y")]) +
      entry("dir/", type_=b"5", mode=0o755) + END, "ok", "",
      "directory with trusted.overlay.opaque=y")
write("device_nodes.tar",
      entry("dev/null", type_=b"3", mode=0o666, devmajor=1, devminor=3) +
      entry("dev/sda", type_=b"4", mode=0o660, devmajor=8, devminor=0) +
      entry("fifo", type_=b"6", mode=0o644) + END, "ok", "", "char 1:3, block 8:0 and a fifo")
write("setuid_root.tar", entry("bin/su", b"#!/bin/sh\n", mode=0o4755) + END, "ok", "",
      "setuid-root file")
write("whiteouts.tar",
      entry("d/", type_=b"5", mode=0o755) + entry("d/.wh..wh..opq") + entry("d/.wh.gone") + END,
      "ok", "", "OCI whiteouts: opaque directory and a deleted file")
write("duplicate_names.tar",
      entry("x", b"file first\n") + entry("x/", type_=b"5", mode=0o755) +
      entry("x", type_=b"2", linkname="/") + END, "ok", "",
      "the same path as file, directory, then symlink to /")
write("valid.tar.gz", gz(valid), "ok", "", "a small well-formed layer (control)")

with open(os.path.join(out, "MANIFEST.tsv"), "w") as f:
    for row in manifest:
        f.write("\t".join(row) + "\n")
PY

# zstd: a well-formed layer cut short. python3 has no zstd; the CLI does it.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096)' > "$tmp/data"
tar --format=posix -C "$tmp" -cf "$tmp/l.tar" data
zstd -q -19 -c "$tmp/l.tar" > "$tmp/l.tar.zst"
head -c $(( $(stat -c %s "$tmp/l.tar.zst") - 10 )) "$tmp/l.tar.zst" > "$out/truncated.tar.zst"
printf 'truncated.tar.zst\tDataLoss\ttruncated\tzstd stream missing its last 10 bytes\n' \
  >> "$out/MANIFEST.tsv"
echo "make_corpus: $(wc -l < "$out/MANIFEST.tsv") files in $out"
