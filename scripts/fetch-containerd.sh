#!/usr/bin/env bash
# Fetch containerd 2.1 from Debian's unstable suite (or 1.7 from trixie) into
# a cache directory, without touching the system's apt state or installing
# anything.
#
#   scripts/fetch-containerd.sh <cache-dir> [package...]
#
# Result: <cache-dir>/root/usr/bin/{containerd,ctr,containerd-shim-runc-v2,...}
# Each further package of the same suite is unpacked into <cache-dir>/extra,
# apart from containerd's root so that nothing there shadows the system's
# tools on containerd's PATH (e2e_cri takes the CRI API's api.proto from
# golang-github-kubernetes-cri-api-dev, and runc 1.2+ with its glibc, this way).
# The Debian mirror is taken from the system's configured apt sources; the
# suite is STRATA_CONTAINERD_SUITE, by default "trixie" for
# STRATA_CONTAINERD_SERIES=1.7 and "unstable" otherwise.  Use one cache
# directory per series.  Idempotent: if the binaries are already
# unpacked (and run), nothing is downloaded.
set -euo pipefail

want_series="${STRATA_CONTAINERD_SERIES:-2.1}"
case "$want_series" in
    1.7) default_suite=trixie ;;
    *) default_suite=unstable ;;
esac
suite="${STRATA_CONTAINERD_SUITE:-$default_suite}"

die() { echo "fetch-containerd: error: $*" >&2; exit 1; }
trap 'echo "fetch-containerd: error: command failed (status $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
log() { echo "fetch-containerd: $*" >&2; }

[ $# -ge 1 ] || die "usage: $0 <cache-dir> [package...]"
cache=$1
shift
extras=("$@")
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
root="$cache/root"
extra="$cache/extra"
bindir="$root/usr/bin"

print_versions() {
    echo "containerd: $("$bindir/containerd" --version)"
    echo "ctr:        $("$bindir/ctr" --version)"
    echo "shim:       $("$bindir/containerd-shim-runc-v2" -v 2>&1 | tr '\n' ' ' | sed 's/  */ /g; s/ $//')"
}

check_binaries() {
    local b
    for b in containerd ctr containerd-shim-runc-v2; do
        [ -x "$bindir/$b" ] || return 1
    done
    # Must actually run on this system (glibc, etc.) and be the wanted series.
    local v
    v=$("$bindir/containerd" --version 2>/dev/null) || return 1
    [[ "$v" == *" $want_series."* || "$v" == *" v$want_series."* ]] || return 1
    "$bindir/ctr" --version >/dev/null 2>&1 || return 1
    "$bindir/containerd-shim-runc-v2" -v >/dev/null 2>&1 || return 1
}

# An extra package is present when its marker (written after dpkg -x) is.
extra_marker() { echo "$extra/.strata-package-$1"; }
extras_present() {
    local p
    for p in "${extras[@]}"; do [ -f "$(extra_marker "$p")" ] || return 1; done
}

if check_binaries && extras_present; then
    log "already present in $root"
    print_versions
    exit 0
fi

# --- derive the Debian mirror from the system's apt configuration -----------
# Prefer a deb822 source whose URI serves the plain Debian archive (not
# -security, not a third-party repository): its Suites name a Debian codename.
mirror_uri() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # Print "URI<TAB>Suites" for every stanza (URIs may list several).
        uri=$(awk '
            BEGIN { RS=""; FS="\n" }
            {
                uris=""; suites=""; types=""; enabled="yes"
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^[ \t]*#/) continue
                    if (match(line, /^[Uu][Rr][Ii][Ss]:[ \t]*/))       uris = substr(line, RLENGTH + 1)
                    else if (match(line, /^[Ss]uites:[ \t]*/))        suites = substr(line, RLENGTH + 1)
                    else if (match(line, /^[Tt]ypes:[ \t]*/))         types = substr(line, RLENGTH + 1)
                    else if (match(line, /^[Ee]nabled:[ \t]*/))       enabled = substr(line, RLENGTH + 1)
                }
                if (found || enabled ~ /^[Nn]o/ || types !~ /(^| )deb( |$)/) next
                if (suites !~ /(^| )(bookworm|trixie|forky|sid|stable|testing|unstable|bullseye)( |$)/) next
                n = split(uris, u, /[ \t]+/)
                for (j = 1; j <= n; j++) if (!found && u[j] != "" && u[j] !~ /security/) { print u[j]; found = 1 }
            }' "$f")
        if [ -n "$uri" ]; then echo "$uri"; return 0; fi
    done
    if [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" {
                  i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                  if ($(i) !~ /security/ && $(i+1) ~ /^(bookworm|trixie|forky|sid|stable|testing|unstable|bullseye)$/) { print $(i); exit }
              }' /etc/apt/sources.list)
        if [ -n "$uri" ]; then echo "$uri"; return 0; fi
    fi
    return 1
}

uri=$(mirror_uri) || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
log "Debian mirror from apt sources: $uri (suite $suite)"

# --- private apt state --------------------------------------------------------
apt_dir="$cache/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs" "$apt_dir/etc/preferences.d"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || die "missing $keyring (install debian-archive-keyring)"
rm -f "$apt_dir/sources.list.d/"*.sources
cat > "$apt_dir/$suite.sources" <<SRC
Types: deb
URIs: $uri
Suites: $suite
Components: main
Signed-By: $keyring
SRC
# apt only reads deb822 files ending in .sources; SourceList wants one-line format,
# so point SourceParts at a private directory holding the deb822 file.
mkdir -p "$apt_dir/sources.list.d"
cp "$apt_dir/$suite.sources" "$apt_dir/sources.list.d/$suite.sources"
: > "$apt_dir/sources.list"

apt_opts=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
    -o "Dir::Etc::Preferences=$apt_dir/etc/preferences"
    -o "Dir::Etc::PreferencesParts=$apt_dir/etc/preferences.d"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::State::status=/dev/null"
    -o "Dir::Cache=$apt_dir/cache"
    -o "Dir::Cache::archives=$apt_dir/cache/archives"
    -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache="
    -o "APT::Architecture=$(dpkg --print-architecture)"
    -o "APT::Get::List-Cleanup=false"
    -o "Debug::NoLocking=true"
    -o "Acquire::Languages=none"
    -o "APT::Sandbox::User=root"
)

log "apt-get update (private state in $apt_dir)"
apt-get "${apt_opts[@]}" -q update >&2 || die "apt-get update ($suite) failed"

# fetch_extras: every extra package not yet unpacked, into $extra.
fetch_extras() {
    local p deb
    for p in "${extras[@]}"; do
        [ -f "$(extra_marker "$p")" ] && continue
        log "apt-get download $p"
        (cd "$apt_dir/debs" && rm -f "${p}"_*.deb && apt-get "${apt_opts[@]}" -q download "$p" >&2) \
            || die "apt-get download $p ($suite) failed"
        deb=$(find "$apt_dir/debs" -name "${p}_*.deb" | sort | tail -n1)
        [ -n "$deb" ] || die "apt-get download produced no ${p}_*.deb"
        mkdir -p "$extra"
        dpkg -x "$deb" "$extra"
        basename "$deb" >"$(extra_marker "$p")"
        log "unpacked $(basename "$deb") into $extra"
    done
}

if check_binaries; then
    fetch_extras
    print_versions
    exit 0
fi

# (awk reads all of its input: an early exit would SIGPIPE apt-cache and fail the pipeline)
ver=$(apt-cache "${apt_opts[@]}" show containerd 2>/dev/null | awk '/^Version:/ && !v { v = $2 } END { print v }') || true
[ -n "$ver" ] || die "containerd not found in $suite"
log "$suite has containerd $ver"
case "$ver" in
    "$want_series".*|*:"$want_series".*) ;;
    *) log "warning: $suite's containerd is $ver, not $want_series.x" ;;
esac

# What the package needs at run time besides libc: containerd's Debian
# package ships containerd, ctr and containerd-shim-runc-v2; runc comes from
# the system's (bookworm) runc package, which run.sh installs.
deps=$(apt-cache "${apt_opts[@]}" show "containerd=$ver" 2>/dev/null | awk -F': ' '/^Depends:/ && !d { d = $2 } END { print d }') || true
log "containerd $ver Depends: ${deps:-<none>}"

log "apt-get download containerd=$ver"
(cd "$apt_dir/debs" && rm -f containerd_*.deb && apt-get "${apt_opts[@]}" -q download "containerd=$ver" >&2) \
    || die "apt-get download containerd failed"
deb=$(find "$apt_dir/debs" -name 'containerd_*.deb' | sort | tail -n1)
[ -n "$deb" ] || die "apt-get download produced no containerd_*.deb"

rm -rf "$root.tmp"
mkdir -p "$root.tmp"
dpkg -x "$deb" "$root.tmp"
rm -rf "$root"
mv "$root.tmp" "$root"

for b in containerd ctr containerd-shim-runc-v2; do
    [ -x "$bindir/$b" ] || die "$b missing from $(basename "$deb") (contents: $(ls "$bindir" | tr '\n' ' '))"
done
check_binaries || die "unpacked binaries do not run on this system or are not $want_series.x: $("$bindir/containerd" --version 2>&1 || true)"
log "unpacked $(basename "$deb") into $root"
fetch_extras
print_versions
