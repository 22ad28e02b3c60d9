#!/bin/sh
# Give a user the files modelbench generated for their home (tool PATHs, mirror settings
# for uv, pixi, npm and bun) and make login shells load them:
#
#   setup-home.sh USER DIR
#
# DIR mirrors the home directory; profile snippets live in ~/.modelbench/profile.d/.
set -eu

[ "$#" -eq 2 ] || {
    echo "usage: setup-home.sh USER DIR" >&2
    exit 2
}
user=$1
src=$2
home=$(getent passwd "$user" | cut -d: -f6)
group=$(id -g "$user")

cp -R "$src/." "$home/"
# shellcheck disable=SC2016 # expanded later, by the user's login shell
line='for f in "$HOME"/.modelbench/profile.d/*.sh; do [ -r "$f" ] && . "$f"; done'
# bash -l reads the first of these that exists; make sure that one loads the snippets.
profile="$home/.profile"
for candidate in "$home/.bash_profile" "$home/.bash_login"; do
    if [ -f "$candidate" ]; then
        profile=$candidate
        break
    fi
done
touch "$profile"
if ! grep -qF "$line" "$profile"; then
    printf '\n# modelbench: tools pinned in bench.lock\n%s\n' "$line" >>"$profile"
fi
chown -R "$user:$group" "$home"
echo "setup-home: $user's login shells load ~/.modelbench/profile.d"
