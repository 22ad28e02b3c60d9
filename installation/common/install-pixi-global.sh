#!/bin/sh
# Install a stage's pixi-global tools exactly as bench.lock pins them, or fail the build:
#
#   install-pixi-global.sh STAGE_DIR USER
#
# STAGE_DIR is the stage's installation directory (artifacts.tsv, conda/packages.tsv,
# conda/<platform>/pixi-global.toml and conda/<platform>/channel/). Steps:
#   1. each locked conda file is fetched and sha256-verified by modelbench-fetch.sh into a
#      local channel ($MODELBENCH_CONDA_CHANNEL, default /modelbench/conda-channel);
#   2. the channel's repodata.json, generated from the lock, lists exactly those files;
#   3. the generated global manifest (every package pinned to version, build and sha256,
#      the local channel only) becomes USER's ~/.pixi/manifests/pixi-global.toml and
#      `pixi global sync` installs it: no network metadata, one candidate per package;
#   4. the executables of each requested package (bin/*) are exposed on USER's PATH,
#      as `pixi global install` would (listed in conda/exposed.tsv for the self-check);
#   5. check-conda-envs.sh compares every environment's conda-meta records with the lock;
#   6. the manifest is pointed at conda-forge (same pins; ~/.pixi/config.toml's mirrors
#      apply from now on) and the local channel is removed.
set -eu

die() {
    printf 'install-pixi-global: %s\n' "$*" >&2
    exit 1
}

[ "$#" -eq 2 ] || die "usage: install-pixi-global.sh STAGE_DIR USER"
stage=$1
user=$2
here=$(dirname "$0")
channel=${MODELBENCH_CONDA_CHANNEL:-/modelbench/conda-channel}

platform=${TARGETPLATFORM:-}
if [ -z "$platform" ]; then
    case $(uname -m) in
        x86_64 | amd64) platform=linux/amd64 ;;
        aarch64 | arm64) platform=linux/arm64 ;;
        *) die "unknown machine $(uname -m); set TARGETPLATFORM" ;;
    esac
fi
[ "$platform" = "linux/arm64/v8" ] && platform=linux/arm64
slug=$(printf '%s' "$platform" | tr / -)
tsv="$stage/conda/packages.tsv"
[ -f "$tsv" ] || die "no $tsv"
[ -f "$stage/conda/$slug/pixi-global.toml" ] || die "nothing locked for $platform in $stage/conda"

# MODELBENCH_USER_HOME stands in for the user's home in tests (never set in images).
home=${MODELBENCH_USER_HOME:-$(getent passwd "$user" | cut -d: -f6)}
[ -n "$home" ] || die "no user \`$user\` in the image"
group=$(id -g "$user")
pixi="$home/.pixi/bin/pixi"
[ -x "$pixi" ] || die "$pixi is missing: pixi must be installed for $user first"

# as_user CMD...: run as USER with USER's home, without a login shell's side effects.
as_user() {
    if [ "$(id -un)" = "$user" ]; then
        env HOME="$home" "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$user" -- env HOME="$home" "$@"
    else
        # `--`: su parses options anywhere before it (`pixi ... --environment ENV` would be
        # taken for su's own); after it come the user and the shell's arguments.
        # shellcheck disable=SC2016 # expanded by the user's shell: $0 is the home
        su -s /bin/sh -c 'HOME="$0" exec "$@"' -- "$user" "$home" "$@"
    fi
}

# 1. the locked files, verified, into the local channel
tab=$(printf '\t')
awk -F '\t' -v p="$platform" '!/^#/ && $1 == p { print $7 "\t" $8 "\t" $9 }' "$tsv" |
    LC_ALL=C sort -u >"$stage/conda/.files"
while IFS="$tab" read -r subdir file name; do
    # Both are single names (packages.tsv comes from the lock): stay in the channel.
    for part in "$subdir" "$file"; do
        case $part in
            "" | . | .. | */*) die "\`$name\`: \`$part\` is not a plain file name" ;;
        esac
    done
    sh "$here/modelbench-fetch.sh" "$stage/artifacts.tsv" "$name" "$channel/$subdir/$file" 0644
done <"$stage/conda/.files"
rm -f "$stage/conda/.files"

# 2. its index, generated from the lock
cp -R "$stage/conda/$slug/channel/." "$channel/"
chmod -R a+rX "$channel"

# 3. the manifest, and the sync
manifest="$home/.pixi/manifests/pixi-global.toml"
mkdir -p "$home/.pixi/manifests"
# (The emitted manifest names the default channel directory.)
sed "s#\"file:///modelbench/conda-channel\"#\"file://$channel\"#" \
    "$stage/conda/$slug/pixi-global.toml" >"$manifest"
chown -R "$user:$group" "$home/.pixi"
as_user "$pixi" global sync

# 4. expose each requested package's executables
# The strings of the top-level "files" array of a conda-meta record that are bin/<name>.
# shellcheck disable=SC2016 # an awk program, not shell
files='
BEGIN { depth = 0; key = ""; value = 0; inside = 0 }
{
    line = $0; n = length(line); i = 1
    while (i <= n) {
        c = substr(line, i, 1)
        if (c == "\"") {
            s = ""; i++
            while (i <= n) {
                c = substr(line, i, 1)
                if (c == "\\") { s = s substr(line, i, 2); i += 2; continue }
                if (c == "\"") break
                s = s c; i++
            }
            if (depth == 1 && !value) key = s
            else if (depth == 2 && inside && s ~ /^bin\/[^\/]+$/) print substr(s, 5)
        } else if (c == "{" || c == "[") {
            depth++
            if (depth == 2 && value && key == "files" && c == "[") inside = 1
            value = 0
        } else if (c == "}" || c == "]") {
            if (depth == 2) inside = 0
            depth--
        } else if (c == ":" && depth == 1) {
            value = 1
        } else if (c == "," && depth == 1) {
            value = 0; key = ""
        }
        i++
    }
}
'
awk -F '\t' -v p="$platform" '!/^#/ && $1 == p { print $2 }' "$tsv" | LC_ALL=C sort -u >"$stage/conda/.envs"
# What got exposed, for the image's self-check (environment, executable).
: >"$stage/conda/exposed.tsv"
while read -r env; do
    set --
    for record in "$home/.pixi/envs/$env/conda-meta/$env"-*.json; do
        [ -e "$record" ] || continue
        # Records are <name>-<version>-<build>.json and neither version nor build has a
        # `-`: a longer name that starts with "$env-" (btop-themes next to btop) is
        # another package, whose executables pixi would not expose either.
        rest=${record##*/}
        rest=${rest#"$env"-}
        case ${rest%.json} in *-*-*) continue ;; esac
        awk "$files" "$record" | LC_ALL=C sort -u >"$stage/conda/.executables"
        while read -r executable; do
            set -- "$@" "$executable=$executable"
        done <"$stage/conda/.executables"
    done
    rm -f "$stage/conda/.executables"
    [ "$#" -gt 0 ] || die "\`$env\` installs no executable in bin/"
    as_user "$pixi" global expose add --environment "$env" "$@" </dev/null
    for mapping in "$@"; do
        executable=${mapping%%=*}
        [ -e "$home/.pixi/bin/$executable" ] || die "pixi did not expose \`$executable\` of \`$env\` in $home/.pixi/bin"
        printf '%s\t%s\n' "$env" "$executable" >>"$stage/conda/exposed.tsv"
    done
done <"$stage/conda/.envs"
rm -f "$stage/conda/.envs"

# 5. what got installed is what was locked
sh "$here/check-conda-envs.sh" "$tsv" "$home/.pixi/envs" "$platform"

# 6. conda-forge from now on, through the configured mirrors
sed -i "s#^channels = \[\"file://$channel\"\]#channels = [\"conda-forge\"]#" "$manifest"
chown "$user:$group" "$manifest"
if grep -q "file://$channel" "$manifest"; then
    # pixi rewrote the line in a shape this script does not know: keep the channel so
    # the manifest stays usable, and say so.
    echo "install-pixi-global: warning: $manifest still names file://$channel; the local channel is kept" >&2
else
    rm -rf "$channel"
fi
echo "install-pixi-global: $(grep -cE '^\[envs\.([^."]+|"[^"]+")\]$' "$manifest") environment(s) installed for $user as locked"
