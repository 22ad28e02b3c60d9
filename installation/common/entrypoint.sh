#!/bin/sh
# modelbench entrypoint: make the run-time links the spec asks for (e.g. /soft/app ->
# /hard/image/app, so tools installed into the image show under /soft), start sshd when
# the image has one, then run the command (or stay up for SSH).
set -eu

links=/modelbench/installation/links.tsv
if [ -f "$links" ]; then
    while IFS="$(printf '\t')" read -r link target; do
        [ -n "$link" ] || continue
        if [ ! -e "$link" ] && [ ! -L "$link" ]; then
            mkdir -p "$(dirname "$link")"
            ln -s "$target" "$link"
        fi
    done <"$links"
fi

if command -v /usr/sbin/sshd >/dev/null 2>&1; then
    mkdir -p /run/sshd
    # Host keys are made per container, never baked into the image.
    ssh-keygen -A >/dev/null
    /usr/sbin/sshd
fi

if [ "$#" -gt 0 ]; then
    exec "$@"
fi
exec sleep infinity
