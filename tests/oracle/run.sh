#!/usr/bin/env bash
# The GNU tar oracle: every layer of a corpus extracted by Strata's engine
# (tests/oracle/extract_layer, on each file sink) must equal GNU tar's
# extraction (`tar --xattrs --xattrs-include='*' --numeric-owner -xpf`),
# compared entry by entry by tests/oracle/treecmp.py, whiteouts rewritten to
# what each backend expects.
#
# The corpus, built here: a Debian root filesystem from the files of this
# machine's installed Essential/required packages (gzip and zstd), a busybox
# layer laid out like the busybox image (applets as hardlinks), and synthetic
# layers with every entry type, owner, mode bit, xattr (security.capability
# too), device numbers, sparse and long names, and every whiteout case, in
# PAX and GNU formats.
#
#   tests/oracle/run.sh EXTRACT_LAYER WORKDIR
set -euo pipefail
trap 'echo "oracle: failed at line $LINENO (exit $?)" >&2' ERR
[ $# -eq 2 ] || { echo "usage: $0 EXTRACT_LAYER WORKDIR" >&2; exit 2; }
tool=$(realpath "$1")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "$(id -u)" != 0 ]; then
  echo "oracle: SKIP: owners, devices and trusted.* xattrs need root (CI runs as root)"; exit 77
fi
rm -rf "$2"; mkdir -p "$2"; work=$(cd "$2" && pwd)
trap 'rm -rf "$work"' EXIT
layers=$work/layers; mkdir -p "$layers"

# --- Debian root filesystem from installed packages -------------------------
dpkg-query -W -f='${Package}\t${Essential}\t${Priority}\n' |
  awk -F'\t' '$2 == "yes" || $3 == "required" { print $1 }' > "$work/pkgs"
# dpkg lists pre-usrmerge paths (/bin/ls, really /usr/bin/ls): resolve each
# parent, keep the final component, add the merged top-level links as such.
xargs dpkg -L < "$work/pkgs" 2>/dev/null | python3 -c '
import os, sys
out = set()
for line in sys.stdin:
    p = line.rstrip("\n")
    if not p.startswith("/") or p == "/.":
        continue
    q = os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))
    if os.path.lexists(q):
        out.add(q)
for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
    if os.path.islink(top):
        out.add(top)
# Each directory right before its contents, as tar -c writes them (a plain
# sort puts "Carp.pm" between "Carp" and "Carp/Heavy.pm").
print("\n".join(sorted(out, key=lambda p: p.split("/"))))
' > "$work/files"
# Exit status 1 is "a file changed as we read it": directories such as /tmp
# change while other tests run beside this one; the archive is still whole.
rc=0
tar --xattrs --xattrs-include='*' --numeric-owner --no-recursion --format=posix \
  --warning=no-file-changed -cf "$layers/debian-rootfs.tar" -T "$work/files" \
  2> "$work/tar.err" || rc=$?
if [ "$rc" -gt 1 ]; then
  echo "oracle: tar could not archive the Debian root filesystem (exit $rc):" >&2
  tail -20 "$work/tar.err" >&2
  exit 1
fi
zstd -q -T0 -f "$layers/debian-rootfs.tar" -o "$layers/debian-rootfs.tar.zst"
gzip -f "$layers/debian-rootfs.tar"
echo "oracle: debian-rootfs: $(wc -l < "$work/pkgs") packages, $(wc -l < "$work/files") paths"

# --- busybox, as the busybox image lays it out ------------------------------
bb=$work/src-busybox; mkdir -p "$bb/bin" "$bb/etc" "$bb/root" "$bb/tmp" "$bb/var/spool/mail"
cp /bin/busybox "$bb/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln "$bb/bin/busybox" "$bb/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$bb/etc/passwd"
chmod 1777 "$bb/tmp"; chmod 0700 "$bb/root"; chown 8:8 "$bb/var/spool/mail"
tar -C "$bb" --numeric-owner -czf "$layers/busybox.tar.gz" .

# --- synthetic: every entry type and whiteout case --------------------------
s=$work/src-synth; mkdir -p "$s"
(
  cd "$s"
  mkdir -p dir/sub sticky setgid private opaque/keep "$(printf 'l%.0s' {1..120})"
  chmod 1777 sticky; chmod 2755 setgid; chown 0:50 setgid; chmod 0700 private
  : > empty; echo small > small; head -c 3000000 /dev/urandom > big
  head -c 300000 /dev/urandom > mid
  truncate -s 20M sparse; echo tail >> sparse
  echo suid > suid; chmod 4755 suid; echo sgid > sgid; chmod 2711 sgid
  echo owned > owned; chown 1234:5678 owned; echo ro > ro; chmod 0444 ro
  echo in-setgid > setgid/f; chown 0:0 setgid/f
  ln -s small rel-link; ln -s /etc/passwd abs-link; ln -s missing dangling
  ln -s "$(printf 't%.0s' {1..300})" long-target
  echo h > hard1; ln hard1 hard2; ln hard1 dir/sub/hard3
  mknod chr c 1 3; mknod blk b 7 0; mkfifo fifo
  echo x > "$(printf 'l%.0s' {1..120})/$(printf 'n%.0s' {1..200})"
  echo cap > cap
  python3 -c 'import os,struct; os.setxattr("cap", "security.capability", struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0))'
  setfattr -n user.note -v hello small; setfattr -n user.empty dir
  setfattr -n trusted.strata -v t mid
  echo "over" > opaque/keep/f
  : > .wh.gone; : > dir/.wh.sub-gone; : > opaque/.wh..wh..opq; : > .wh.gone-dir
  touch -h -d @1500000000 rel-link abs-link dangling
  touch -d @1600000000 dir dir/sub sticky setgid private opaque owned empty
)
tar -C "$s" --xattrs --xattrs-include='*' --numeric-owner --sparse --format=posix \
  -cf "$layers/synthetic-pax.tar" .
# GNU format: long names as ././@LongLink, no xattrs (the format has none).
tar -C "$s" --numeric-owner --sparse --format=gnu -cf "$layers/synthetic-gnu.tar" .

# --- compare ------------------------------------------------------------------
fail=0 checks=0
sinks=${STRATA_ORACLE_SINKS:-uring threads sync}
for layer in "$layers"/*; do
  name=$(basename "$layer")
  want=$work/want; rm -rf "$want"; mkdir "$want"
  tar -C "$want" --xattrs --xattrs-include='*' --numeric-owner -xpf "$layer"
  modes="overlay"; case $name in synthetic*) modes="overlay delete" ;; esac
  for mode in $modes; do
    flag=(); [ "$mode" = delete ] && flag=(--delete-whiteouts)
    for sink in $sinks; do
      got=$work/got; rm -rf "$got"; mkdir "$got"
      checks=$((checks + 1))
      if ! out=$(STRATA_IO=$sink "$tool" "${flag[@]}" "$layer" "$got" 2>&1); then
        echo "FAIL $name $mode $sink: extraction failed: $out"; fail=1; continue
      fi
      # The uring sink falls back to threads when io_uring is unavailable: say so.
      ran=${out%% *}; ran=${ran#sink=}; [ "$ran" = io_uring ] && ran=uring
      [ "$ran" = "$sink" ] || echo "note: $name: STRATA_IO=$sink ran the $ran sink (io_uring unavailable?)"
      if diffs=$("$here/treecmp.py" --whiteouts "$mode" "$want" "$got" 2>&1); then
        echo "ok   $name $mode $sink (${out#* })"
      else
        echo "FAIL $name $mode $sink:"; echo "$diffs" | head -40; fail=1
      fi
    done
  done
done
# --- content sharing: every file a clone of an equal one ---------------------
# On a loop-mounted XFS (reflink=1): each layer extracted once as the seed,
# then again with every file proposed the seed's file of equal digest (what
# the daemon's index does), so its files are FICLONEs; the result must still
# equal GNU tar's, and the clones must have happened.
share_img=$work/share.img share_mnt=$work/share-mnt
if truncate -s 2G "$share_img" && mkfs.xfs -q -m reflink=1 "$share_img" >/dev/null 2>&1 &&
   mkdir -p "$share_mnt" && mount -o loop "$share_img" "$share_mnt"; then
  trap 'umount "$share_mnt" 2>/dev/null; rm -rf "$work"' EXIT
  for layer in "$layers"/*; do
    name=$(basename "$layer")
    # The zstd rootfs is the gzip one's tree: its decoder was checked above,
    # and sharing happens after decoding.
    case $name in *.tar.zst) continue ;; esac
    want=$work/want; rm -rf "$want"; mkdir "$want"
    tar -C "$want" --xattrs --xattrs-include='*' --numeric-owner -xpf "$layer"
    for sink in $sinks; do
      seed=$share_mnt/seed got=$share_mnt/got
      rm -rf "$seed" "$got"; mkdir "$seed" "$got"
      checks=$((checks + 1))
      if ! out=$(STRATA_IO=$sink "$tool" --share-from "$seed" "$layer" "$got" 2>&1); then
        echo "FAIL $name shared $sink: extraction failed: $out"; fail=1; continue
      fi
      shared=${out##*shared_files=}; shared=${shared%% *}
      if [ "${shared:-0}" -eq 0 ]; then
        echo "FAIL $name shared $sink: no file was shared ($out)"; fail=1; continue
      fi
      if diffs=$("$here/treecmp.py" --whiteouts overlay "$want" "$got" 2>&1); then
        echo "ok   $name shared $sink (${out#* })"
      else
        echo "FAIL $name shared $sink:"; echo "$diffs" | head -40; fail=1
      fi
    done
  done
else
  echo "FAIL: cannot make a loop-mounted XFS for the content-sharing pass (mkfs.xfs, loop devices)"
  fail=1
fi
echo "oracle: $checks comparisons, $([ $fail = 0 ] && echo all equal || echo FAILURES)"
exit $fail
