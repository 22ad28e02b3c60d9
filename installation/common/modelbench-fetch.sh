#!/bin/sh
# modelbench-fetch: put one locked artifact in place, or fail the build.
#
#   modelbench-fetch.sh MANIFEST NAME DEST [MODE]
#
# MANIFEST is the artifacts.tsv that `modelbench emit` wrote from bench.lock, one line per
# artifact and platform: name, platform (or "all"), hash (sha256:<hex>), size, then the
# locked URLs in the order to try them. Each URL is downloaded to a temp file, its size
# and sha256 checked, and only a file that matches is moved to DEST. Nothing unverified
# is ever left at DEST. Works with curl, wget (busybox included) or apt's apt-helper,
# and sha256sum.
# -f: the URL list is split on spaces below, and a `*` or `?` in a URL must stay text.
set -euf

die() {
    printf 'modelbench-fetch: %s\n' "$*" >&2
    exit 1
}

[ "$#" -ge 3 ] || die "usage: modelbench-fetch.sh MANIFEST NAME DEST [MODE]"
manifest=$1
name=$2
dest=$3
mode=${4:-0644}

# The platform being built: the builder's TARGETPLATFORM, else the running machine.
platform=${TARGETPLATFORM:-}
if [ -z "$platform" ]; then
    case $(uname -m) in
        x86_64 | amd64) platform=linux/amd64 ;;
        aarch64 | arm64) platform=linux/arm64 ;;
        *) die "unknown machine $(uname -m); set TARGETPLATFORM" ;;
    esac
fi
[ "$platform" = "linux/arm64/v8" ] && platform=linux/arm64

line=$(awk -F '\t' -v n="$name" -v p="$platform" \
    '$1 == n && ($2 == p || $2 == "all") { print; exit }' "$manifest")
[ -n "$line" ] || die "\`$name\` has no locked artifact for $platform in $manifest"

expected=$(printf '%s\n' "$line" | cut -f3)
size=$(printf '%s\n' "$line" | cut -f4)
urls=$(printf '%s\n' "$line" | cut -f5- | tr '\t' ' ')
case $expected in
    sha256:*) expected_hex=${expected#sha256:} ;;
    *) die "\`$name\`: unsupported hash $expected" ;;
esac

apt_helper=/usr/lib/apt/apt-helper
download() {
    if command -v curl >/dev/null 2>&1; then
        curl --fail --silent --show-error --location --retry 3 --output "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1"
    elif [ -x "$apt_helper" ]; then
        # Debian and Ubuntu images without curl or wget (the CUDA images purge curl)
        # still have apt's downloader, https and proxy support included.
        "$apt_helper" -o Debug::NoDropPrivs=true download-file "$1" "$2" >/dev/null
    else
        die "no downloader in the image: install curl or wget first"
    fi
}

dest_dir=$(dirname "$dest")
mkdir -p "$dest_dir"
tmp="$dest_dir/.modelbench-fetch.$$"
trap 'rm -f "$tmp"' EXIT INT TERM

failures=""
for url in $urls; do
    rm -f "$tmp"
    if ! download "$url" "$tmp"; then
        failures="$failures
  $url: download failed"
        continue
    fi
    actual_size=$(wc -c <"$tmp" | tr -d ' ')
    if [ -n "$size" ] && [ "$size" != "-" ] && [ "$actual_size" != "$size" ]; then
        failures="$failures
  $url: size mismatch for \`$name\` ($platform): expected $size bytes, got $actual_size"
        continue
    fi
    actual_hex=$(sha256sum "$tmp" | cut -d ' ' -f1)
    if [ "$actual_hex" != "$expected_hex" ]; then
        failures="$failures
  $url: sha256 mismatch for \`$name\` ($platform): expected sha256:$expected_hex, got sha256:$actual_hex"
        continue
    fi
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$dest"
    trap - EXIT INT TERM
    printf 'modelbench-fetch: %s (%s) verified sha256:%s -> %s\n' "$name" "$platform" "$expected_hex" "$dest"
    exit 0
done
die "no locked URL served \`$name\` ($platform) with the locked hash:$failures"
