#!/bin/sh
# Install one locked user tool into its user's home, in the layout its own installer
# would use, from a file that modelbench-fetch.sh has verified:
#
#   install-tool.sh MANIFEST TOOL USER VERSION
#
#   node  ~/.nvm/versions/node/VERSION (NVM's layout) and ~/.nvm/alias/default
#   nvm   ~/.nvm/nvm.sh
#   uv    ~/.local/bin/uv, ~/.local/bin/uvx
#   pixi  ~/.pixi/bin/pixi
#   bun   ~/.bun/bin/bun, ~/.bun/bin/bunx
set -eu

[ "$#" -eq 4 ] || {
    echo "usage: install-tool.sh MANIFEST TOOL USER VERSION" >&2
    exit 2
}
manifest=$1
tool=$2
user=$3
version=$4
here=$(dirname "$0")

home=$(getent passwd "$user" | cut -d: -f6)
[ -n "$home" ] || {
    echo "install-tool: no user \`$user\` in the image" >&2
    exit 1
}
group=$(id -g "$user")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

fetch() {
    sh "$here/modelbench-fetch.sh" "$manifest" "$1" "$2" 0644
}

unzip_member() {
    # bun ships zips; use whatever can read one.
    if command -v unzip >/dev/null 2>&1; then
        unzip -q -o "$1" -d "$2"
    elif command -v busybox >/dev/null 2>&1 && busybox unzip >/dev/null 2>&1; then
        busybox unzip -q -o "$1" -d "$2"
    elif command -v python3 >/dev/null 2>&1; then
        python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"
    else
        echo "install-tool: $tool comes as a zip: install unzip (apt) in stage 1" >&2
        exit 1
    fi
}

case $tool in
    node)
        fetch node "$work/node.tar.gz"
        dest="$home/.nvm/versions/node/$version"
        mkdir -p "$dest" "$home/.nvm/alias"
        tar -xzf "$work/node.tar.gz" -C "$dest" --strip-components=1
        # What `nvm alias default VERSION` writes.
        printf '%s\n' "$version" >"$home/.nvm/alias/default"
        owned="$home/.nvm"
        ;;
    nvm)
        mkdir -p "$home/.nvm"
        fetch nvm "$home/.nvm/nvm.sh"
        owned="$home/.nvm"
        ;;
    uv)
        fetch uv "$work/uv.tar.gz"
        mkdir -p "$home/.local/bin"
        tar -xzf "$work/uv.tar.gz" -C "$home/.local/bin" --strip-components=1
        owned="$home/.local"
        ;;
    pixi)
        fetch pixi "$work/pixi.tar.gz"
        mkdir -p "$home/.pixi/bin"
        tar -xzf "$work/pixi.tar.gz" -C "$home/.pixi/bin"
        owned="$home/.pixi"
        ;;
    bun)
        fetch bun "$work/bun.zip"
        unzip_member "$work/bun.zip" "$work/bun"
        mkdir -p "$home/.bun/bin"
        mv -f "$work"/bun/*/bun "$home/.bun/bin/bun"
        chmod 0755 "$home/.bun/bin/bun"
        ln -sf bun "$home/.bun/bin/bunx"
        owned="$home/.bun"
        ;;
    *)
        echo "install-tool: unknown tool \`$tool\`" >&2
        exit 2
        ;;
esac
chown -R "$user:$group" "$owned"
echo "install-tool: $tool $version installed for $user"
