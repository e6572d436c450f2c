#!/usr/bin/env bash
# Host integration as an operator gets it.
#
#   host_install_test.sh install BUILD_DIR   cmake --install into a DESTDIR: every
#       file in its standard place, ExecStart= names the installed binary, the
#       installed config parses, a reinstall keeps an edited config, and
#       systemd-tmpfiles accepts the tmpfiles.d entry.
#   host_install_test.sh verify BUILD_DIR    systemd-analyze verify on the units
#       (exit 77, skipped, when it cannot run or cannot catch a broken unit here).
set -euo pipefail
mode=$1
build=$(cd "$2" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
prefix=$(cache CMAKE_INSTALL_PREFIX)
etc=$(cache CMAKE_INSTALL_SYSCONFDIR)
[[ $etc = /* ]] || etc=$prefix/$etc

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
DESTDIR=$stage cmake --install "$build" > "$stage.log" 2>&1 || { cat "$stage.log"; fail "cmake --install"; }
rm -f "$stage.log"
units=$stage$prefix/lib/systemd/system

case $mode in
install)
  for f in "$prefix/bin/strata-snapshotter" "$prefix/bin/strata" "$prefix/bin/strata-bench" \
           "$prefix/share/strata/bench/report.py" \
           "$prefix/lib/systemd/system/strata-snapshotter.service" \
           "$prefix/lib/systemd/system/strata-snapshotter.socket" \
           "$prefix/lib/tmpfiles.d/strata.conf" "$etc/strata/config.toml" \
           "$prefix/share/strata/containerd-strata.toml" "$prefix/share/strata/config.toml"; do
    [ -f "$stage$f" ] || fail "not installed: $f"
    echo "installed: $f"
  done
  grep -qx "ExecStart=$prefix/bin/strata-snapshotter" "$units/strata-snapshotter.service" ||
    fail "ExecStart= does not name $prefix/bin/strata-snapshotter: $(grep ExecStart "$units/strata-snapshotter.service")"
  grep -q "/run/strata/strata.sock" "$stage$prefix/share/strata/containerd-strata.toml" ||
    fail "containerd snippet does not name the socket"

  # The installed binary reads the installed config.
  out=$("$stage$prefix/bin/strata-snapshotter" --config "$stage$etc/strata/config.toml" --print-config) ||
    fail "--print-config on the installed config"
  grep -qx 'root = "/var/lib/strata"' <<<"$out" || fail "unexpected config: $out"

  # The installed benchmark harness finds the installed report script, and
  # the installed client runs the installed harness.
  got=$("$stage$prefix/bin/strata-bench" report-path) || fail "strata-bench report-path: $got"
  [ "$(readlink -f "$got")" = "$(readlink -f "$stage$prefix/share/strata/bench/report.py")" ] ||
    fail "strata-bench found $got, not the installed report.py"
  out=$(PATH=/nonexistent "$stage$prefix/bin/strata" bench --help) ||
    fail "strata bench --help did not run the installed strata-bench: $out"
  grep -q "usage: strata-bench" <<<"$out" || fail "strata bench --help: $out"
  echo "installed strata-bench: report at $got, run by strata bench"

  # A reinstall keeps the operator's edits.
  echo 'log_level = "debug"' > "$stage$etc/strata/config.toml"
  DESTDIR=$stage cmake --install "$build" > /dev/null
  grep -qx 'log_level = "debug"' "$stage$etc/strata/config.toml" || fail "reinstall overwrote the config"

  if command -v systemd-tmpfiles > /dev/null; then
    systemd-tmpfiles --create --root="$stage" "$stage$prefix/lib/tmpfiles.d/strata.conf" ||
      fail "systemd-tmpfiles rejected strata.conf"
    [ "$(stat -c %a "$stage/run/strata")" = 711 ] || fail "tmpfiles made /run/strata $(stat -c %a "$stage/run/strata")"
    echo "systemd-tmpfiles: created /run/strata 0711"
  fi
  ;;
verify)
  command -v systemd-analyze > /dev/null || skip "no systemd-analyze (Debian package systemd)"
  # ExecStart= must name an executable; the installed path is under DESTDIR.
  work=$stage/verify
  mkdir -p "$work"
  sed "s|^ExecStart=$prefix/bin/strata-snapshotter|ExecStart=$stage$prefix/bin/strata-snapshotter|" \
    "$units/strata-snapshotter.service" > "$work/strata-snapshotter.service"
  cp "$units/strata-snapshotter.socket" "$work/"

  # systemd is not PID 1 in every container: first prove that verify catches
  # a bad unit here (it only warns about unknown keys and bad values).
  printf '[Service]\nExecStart=/bin/true\nNoSuchKey=1\nProtectSystem=bogus\n' > "$work/broken.service"
  bad=$(systemd-analyze verify "$work/broken.service" 2>&1 || true)
  grep -q NoSuchKey <<<"$bad" || skip "systemd-analyze verify cannot check units here: ${bad:-no output}"

  out=$(systemd-analyze verify "$work/strata-snapshotter.service" "$work/strata-snapshotter.socket" 2>&1) ||
    fail "systemd-analyze verify: $out"
  # Warnings about our units fail too; others (e.g. the host's units) are shown.
  if grep -E 'strata' <<<"$out"; then fail "systemd-analyze verify warned about the units"; fi
  [ -z "$out" ] || echo "systemd-analyze (other units): $out"
  echo "systemd-analyze verify: strata-snapshotter.service and .socket are clean"
  ;;
*) fail "unknown mode $mode" ;;
esac
echo "PASS: $mode"
