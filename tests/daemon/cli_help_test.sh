#!/usr/bin/env bash
# `strata --help` and `strata CMD --help` print the usage and succeed without
# touching a daemon; `strata bench cow --help` prints bench cow's own options;
# a malformed command line prints the usage and exits 2.
set -u
cli=$1 fail=0
expect() {  # description, want-rc, want-text, command...
  local what=$1 rc=$2 text=$3; shift 3
  local out got
  out=$("$@" 2>&1); got=$?
  if [ "$got" != "$rc" ] || [[ $out != *"$text"* ]]; then
    echo "FAIL $what: rc $got (want $rc), output: ${out:0:200}"; fail=1
  else
    echo "ok   $what"
  fi
}
nodaemon=(--address /nonexistent/strata.sock)
expect "strata --help" 0 "usage: strata" "$cli" --help
expect "strata ls --help (no daemon needed)" 0 "usage: strata" "$cli" "${nodaemon[@]}" ls --help
expect "strata import -h" 0 "import [--parent NAME]" "$cli" "${nodaemon[@]}" import -h
expect "strata bench cow --help (runs strata-bench)" 0 "usage: strata bench cow" "$cli" bench cow --help
expect "strata --address S bench latency (flag passed on)" 2 "usage: strata-bench latency" "$cli" "${nodaemon[@]}" bench latency --bogus 1
expect "strata stat (missing KEY)" 2 "usage: strata" "$cli" "${nodaemon[@]}" stat
expect "strata (nothing)" 2 "usage: strata" "$cli"
exit $fail
