# Helpers the containerd end-to-end scripts share (differ.sh, compare.sh):
# checks and their tally, stopping processes, unmounting what a test left,
# the shims of the test's own containerd (those whose -address is
# $CTD_SOCK), waiting for a check.
# Sourced; defines functions only. The script keeps PASS, FAIL and FAILED
# and defines E2E_CASE, which names the case a failure belongs to.

pass() { PASS=$((PASS + 1)); echo "  ok   $1"; }
fail() {
    FAIL=$((FAIL + 1)); FAILED+=("[$(E2E_CASE)] $1"); echo "  FAIL $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | head -40 | sed 's/^/       /'
    return 0
}
check_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2
got:      $3"; fi; }

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
unmount_under() {
    local m
    for m in $(awk -v d="$1" 'index($5, d "/") == 1 || $5 == d { print $5 }' /proc/self/mountinfo | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
}
kill_shims() {
    local p cmd
    for p in /proc/[0-9]*; do
        cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
        [[ "$cmd" == *containerd-shim*" -address $CTD_SOCK "* ]] && kill -KILL "${p#/proc/}" 2>/dev/null
    done
    return 0
}
wait_for() { local t=$1 i; shift; for ((i = 0; i < t * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
