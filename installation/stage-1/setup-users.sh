#!/bin/sh
# Create the image's users from users.tsv (name, uid, gid, crypt(3) password hash or "-",
# public key file or "-"). Only the hash reaches this script, never the password, and
# nothing here echoes it.
#
#   setup-users.sh USERS_TSV KEYS_DIR
set -eu

users=$1
keys=$2

# Reproducible: shadow's tools date the last password change by SOURCE_DATE_EPOCH (the
# lock's date, an ARG of the emitted Dockerfile) instead of the clock; chage sets it
# where a shadow older than 4.6 ignores the variable.
day=""
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    export SOURCE_DATE_EPOCH
    day=$((SOURCE_DATE_EPOCH / 86400))
    # Day 0 would force a password change at the next login: like shadow, turn aging
    # off instead.
    [ "$day" -gt 0 ] || day=-1
fi

while IFS="$(printf '\t')" read -r name uid gid hash pubkey; do
    [ -n "$name" ] || continue
    if ! getent group "$gid" >/dev/null 2>&1; then
        groupadd --gid "$gid" "$name"
    fi
    if ! id "$name" >/dev/null 2>&1; then
        useradd --uid "$uid" --gid "$gid" --create-home --shell /bin/bash "$name"
    fi
    if [ "$hash" != "-" ]; then
        usermod --password "$hash" "$name"
    fi
    if [ -n "$day" ]; then
        chage --lastday "$day" "$name"
    fi
    if [ "$pubkey" != "-" ]; then
        home=$(getent passwd "$name" | cut -d: -f6)
        mkdir -p "$home/.ssh"
        cat "$keys/$pubkey" >>"$home/.ssh/authorized_keys"
        chmod 700 "$home/.ssh"
        chmod 600 "$home/.ssh/authorized_keys"
        chown -R "$uid:$gid" "$home/.ssh"
    fi
    echo "setup-users: $name (uid $uid, gid $gid) ready"
done <"$users"

# The tools keep the previous /etc/shadow as /etc/shadow-; where a shadow that ignores
# SOURCE_DATE_EPOCH wrote the clock's day there, the backup would vary between builds:
# make it the file itself.
if [ -n "$day" ] && [ -f /etc/shadow- ]; then
    cp -p /etc/shadow /etc/shadow-
fi
