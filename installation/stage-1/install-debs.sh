#!/bin/sh
# Install a stage's locked .deb files and nothing else, or fail the build.
#
#   install-debs.sh STAGE_DIR
#
# STAGE_DIR holds the stage's artifacts.tsv (locked URLs, sizes and hashes) and debs.tsv
# (platform, package, version, architecture, fetch name, file), both written by
# `modelbench emit` from bench.lock. Every .deb of the platform is fetched through
# modelbench-fetch.sh (size and sha256 checked), all are installed in one go with no
# package lists and no downloads (no `apt-get update`, no new resolution), the files are
# removed, and dpkg's installed set is compared with the lock: every locked package must
# be installed at its exact version and architecture, and the install may add, change or
# remove nothing else. The installed set is then recorded for the image's self-check.
set -eu

die() {
    printf 'install-debs: %s\n' "$*" >&2
    exit 1
}

[ "$#" -eq 1 ] || die "usage: install-debs.sh STAGE_DIR"
stage_dir=$1
here=$(cd "$(dirname "$0")/.." && pwd)
fetch=$here/modelbench-fetch.sh
record=$here/dpkg-installed.txt

platform=${TARGETPLATFORM:-}
if [ -z "$platform" ]; then
    case $(uname -m) in
        x86_64 | amd64) platform=linux/amd64 ;;
        aarch64 | arm64) platform=linux/arm64 ;;
        *) die "unknown machine $(uname -m); set TARGETPLATFORM" ;;
    esac
fi
[ "$platform" = "linux/arm64/v8" ] && platform=linux/arm64
export TARGETPLATFORM="$platform"

command -v dpkg-query >/dev/null 2>&1 || die "the image has no dpkg"

installed() {
    dpkg-query -W -f '${db:Status-Status} ${Package} ${Version} ${Architecture}\n' |
        awk '$1 == "installed" { print $2, $3, $4 }' | LC_ALL=C sort -u
}

work=$(mktemp -d /tmp/modelbench-debs.XXXXXX)
chmod 0755 "$work"
trap 'rm -rf "$work"' EXIT INT TERM

awk -F '\t' -v p="$platform" '!/^#/ && $1 == p { print $2, $3, $4 }' "$stage_dir/debs.tsv" |
    LC_ALL=C sort -u >"$work/locked"
[ -s "$work/locked" ] || die "no locked .deb for $platform in $stage_dir/debs.tsv"

mkdir "$work/debs"
awk -F '\t' -v p="$platform" '!/^#/ && $1 == p { print $5 "\t" $6 }' "$stage_dir/debs.tsv" |
    while IFS="$(printf '\t')" read -r name file; do
        # One plain file name (debs.tsv comes from the lock): stay in the work dir.
        case $file in
            "" | . | .. | */*) die "\`$name\`: \`$file\` is not a plain file name" ;;
        esac
        sh "$fetch" "$stage_dir/artifacts.tsv" "$name" "$work/debs/$file" 0644 >/dev/null ||
            exit 1
    done || die "a locked .deb could not be fetched with its locked hash (above)"
count=$(wc -l <"$work/locked" | tr -d ' ')
echo "install-debs: $count locked .deb file(s) for $platform verified"

installed >"$work/before"
# Logs written by maintainer scripts (update-alternatives' …) carry the build's clock:
# each file under /var/log is cut back to its size before the install (a new one to
# empty, kept with its owner and mode), below.
find /var/log -type f -printf '%s\t%p\n' >"$work/logs" 2>/dev/null || true
export DEBIAN_FRONTEND=noninteractive
if command -v apt-get >/dev/null 2>&1; then
    # Only the installed packages and these files are known to apt: no sources and no
    # lists, so there is nothing it could download (`--no-download` breaks local files).
    # Reproducible: apt's and dpkg's logs (the build's clock) and apt's binary package
    # cache stay out of the image.
    mkdir "$work/lists" "$work/lists/partial" "$work/log"
    apt-get install --yes --no-install-recommends \
        -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$work/lists" \
        -o Dir::State::Lists="$work/lists" -o APT::Sandbox::User=root -o Dpkg::Use-Pty=0 \
        -o Dir::Log="$work/log" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
        -o DPkg::Options::=--log=/dev/null \
        "$work"/debs/*.deb || die "apt-get could not install the locked .deb files"
else
    dpkg --log=/dev/null --install "$work"/debs/*.deb ||
        die "dpkg could not install the locked .deb files"
fi
rm -rf "$work/debs"
find /var/log -type f 2>/dev/null | while IFS= read -r log; do
    size=$(awk -F '\t' -v p="$log" '$2 == p { print $1; exit }' "$work/logs")
    truncate -s "${size:-0}" "$log"
done
# ldconfig's aux cache (run by libc's trigger) records inodes and change times of this
# build; ldconfig rebuilds it when needed.
rm -f /var/cache/ldconfig/aux-cache
installed >"$work/after"

failures=""
# Every locked package at its locked version and architecture.
while read -r package version arch; do
    if ! grep -qxF "$package $version $arch" "$work/after"; then
        now=$(awk -v p="$package" '$1 == p { print $2, $3 }' "$work/after" | tr '\n' ' ')
        failures="$failures
  $package $version $arch is locked but ${now:+installed is $now}${now:-not installed}"
    fi
done <"$work/locked"
# Nothing added or changed beyond the lock.
LC_ALL=C comm -13 "$work/before" "$work/after" | LC_ALL=C comm -23 - "$work/locked" >"$work/extra"
while read -r package version arch; do
    failures="$failures
  $package $version $arch was installed but is not in the lock"
done <"$work/extra"
# Nothing removed, except older versions of locked packages.
LC_ALL=C comm -23 "$work/before" "$work/after" >"$work/gone"
while read -r package version arch; do
    if ! awk -v p="$package" '$1 == p { found = 1 } END { exit !found }' "$work/locked"; then
        failures="$failures
  $package $version $arch was removed by the install"
    fi
done <"$work/gone"
[ -z "$failures" ] || die "the installed packages differ from the lock ($stage_dir/debs.tsv):$failures"

installed >"$record"
echo "install-debs: dpkg matches the lock: $count package(s) installed for $platform, nothing else changed"
