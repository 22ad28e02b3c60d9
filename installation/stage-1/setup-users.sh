#!/bin/sh
# Create the image's users from users.tsv (name, uid, gid, crypt(3) password hash or "-",
# public key file or "-"). Only the hash reaches this script, never the password, and
# nothing here echoes it.
#
#   setup-users.sh USERS_TSV KEYS_DIR
set -eu

users=$1
keys=$2

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
