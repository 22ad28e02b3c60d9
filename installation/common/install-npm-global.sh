#!/bin/sh
# Install one locked npm or bun global CLI into a private prefix of its user, from the
# package.json and lock file `modelbench emit` generated from bench.lock (no resolution at
# build time), then prove the installed tree is the locked one:
#
#   install-npm-global.sh DIR INSTALLER USER RUNTIME_BIN
#
# DIR          package.json, package-lock.json (npm) or bun.lock (bun), bins.txt (the
#              CLI's commands), trusted.txt (the packages whose install scripts run),
#              expected-<os>-<arch>.txt (the locked tree of each platform) and an
#              optional .npmrc / bunfig.toml with the registry mirror
# INSTALLER    npm: `npm ci`, which checks every tarball against its locked sha512
#              integrity, with scripts off, then `npm rebuild` of the trusted packages;
#              bun: `bun install --frozen-lockfile`, the same check, and only the lock's
#              trustedDependencies run install scripts
# USER         the owner: the CLI goes to ~/.modelbench/npm-global/<name of DIR>, its
#              commands are linked into ~/.modelbench/bin (on PATH in login shells)
# RUNTIME_BIN  where node and npm (or bun) are, relative to the user's home
set -eu

die() {
    printf 'install-npm-global: %s\n' "$*" >&2
    exit 1
}

[ "$#" -eq 4 ] || die "usage: install-npm-global.sh DIR INSTALLER USER RUNTIME_BIN"
dir=$1
installer=$2
user=$3
runtime=$4
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$dir")

platform=${TARGETPLATFORM:-}
if [ -z "$platform" ]; then
    case $(uname -m) in
        x86_64 | amd64) platform=linux/amd64 ;;
        aarch64 | arm64) platform=linux/arm64 ;;
        *) die "unknown machine $(uname -m); set TARGETPLATFORM" ;;
    esac
fi
[ "$platform" = "linux/arm64/v8" ] && platform=linux/arm64
expected="$dir/expected-$(printf '%s' "$platform" | tr / -).txt"
[ -f "$expected" ] || die "$name is not locked for $platform"

home=$(getent passwd "$user" | cut -d: -f6)
[ -n "$home" ] || die "no user \`$user\` in the image"
group=$(id -g "$user")
runtime_bin="$home/$runtime"
prefix="$home/.modelbench/npm-global/$name"
links="$home/.modelbench/bin"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
# Logs and caches go to the scratch HOME and leave with it: nothing of the install run
# stays in the image but the tree itself.
mkdir -p "$work/home"
export HOME="$work/home"
PATH="$runtime_bin:$PATH"
export PATH

rm -rf "$prefix"
mkdir -p "$prefix" "$links"
cp "$dir/package.json" "$prefix/"
for config in .npmrc bunfig.toml; do
    if [ -f "$dir/$config" ]; then cp "$dir/$config" "$prefix/"; fi
done

case $installer in
    npm)
        [ -x "$runtime_bin/npm" ] || die "no npm in $runtime_bin: install tool node for $user first"
        cp "$dir/package-lock.json" "$prefix/"
        (cd "$prefix" && npm ci --ignore-scripts --no-audit --no-fund --no-update-notifier --cache "$work/cache") ||
            die "npm ci of $name failed (EINTEGRITY means a tarball's bytes differ from its sha512 in bench.lock)"
        # Only the trusted packages' install scripts run (claude-code's postinstall puts
        # its native binary in place); an untrusted optional add-on stays as locked.
        trusted=$(tr '\n' ' ' <"$dir/trusted.txt")
        if [ -n "${trusted% }" ]; then
            # shellcheck disable=SC2086 # one word per package name (npm names have no spaces)
            (cd "$prefix" && npm rebuild $trusted --no-audit --no-fund --no-update-notifier) ||
                die "an install script of $name failed (trusted: $trusted)"
        fi
        node "$here/npm-tree.js" "$prefix" >"$work/installed.txt"
        ;;
    bun)
        [ -x "$runtime_bin/bun" ] || die "no bun in $runtime_bin: install tool bun for $user first"
        cp "$dir/bun.lock" "$prefix/"
        (cd "$prefix" && BUN_INSTALL_CACHE_DIR="$work/cache" bun install --frozen-lockfile --no-progress) ||
            die "bun install of $name failed (an integrity error means a tarball's bytes differ from its sha512 in bench.lock)"
        # bun hoists by its own rules: compare which packages are installed, not where.
        bun "$here/npm-tree.js" "$prefix" | cut -d ' ' -f 2 | LC_ALL=C sort >"$work/installed.txt"
        ;;
    *) die "unknown installer $installer (npm or bun)" ;;
esac

if ! cmp -s "$expected" "$work/installed.txt"; then
    diff "$expected" "$work/installed.txt" >&2 || true
    die "the installed tree of $name differs from bench.lock (< locked, > installed)"
fi

while IFS= read -r command; do
    [ -n "$command" ] || continue
    # A link name in ~/.modelbench/bin: one plain file name (bins.txt comes from the lock).
    case $command in
        . | .. | */* | -*) die "$name: command \`$command\` is not a plain file name" ;;
    esac
    [ -e "$prefix/node_modules/.bin/$command" ] || die "$name installed no command \`$command\`"
    ln -sfn "../npm-global/$name/node_modules/.bin/$command" "$links/$command"
done <"$dir/bins.txt"

chown -R "$user:$group" "$home/.modelbench"
echo "install-npm-global: $name for $user: $(wc -l <"$expected" | tr -d ' ') packages as locked"
