#!/bin/sh
# Compare installed conda environments with the lock, or fail:
#
#   check-conda-envs.sh PACKAGES_TSV ENVS_DIR [PLATFORM]
#
# PACKAGES_TSV is the packages.tsv that `modelbench emit` wrote from bench.lock (platform,
# environment, name, version, build, sha256, subdir, file, fetch name). For every
# environment locked for PLATFORM (default: this machine's), each record in
# ENVS_DIR/<environment>/conda-meta/*.json must be a locked member with the same name,
# version, build and sha256, and every locked member must have a record: nothing
# missing, nothing extra, nothing different. Reads the records with awk (top-level keys
# only: the per-file sha256 values inside `paths_data` do not count), so the image needs
# neither python nor jq.
set -eu

die() {
    printf 'check-conda-envs: %s\n' "$*" >&2
    exit 1
}

[ "$#" -ge 2 ] || die "usage: check-conda-envs.sh PACKAGES_TSV ENVS_DIR [PLATFORM]"
tsv=$1
envs=$2
platform=${3:-${TARGETPLATFORM:-}}
if [ -z "$platform" ]; then
    case $(uname -m) in
        x86_64 | amd64) platform=linux/amd64 ;;
        aarch64 | arm64) platform=linux/arm64 ;;
        *) die "unknown machine $(uname -m); pass the platform" ;;
    esac
fi
[ "$platform" = "linux/arm64/v8" ] && platform=linux/arm64
[ -f "$tsv" ] || die "no $tsv"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# environment, name, version, build, sha256
awk -F '\t' -v p="$platform" '!/^#/ && $1 == p { print $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 }' "$tsv" |
    LC_ALL=C sort >"$work/locked"
[ -s "$work/locked" ] || die "no conda environment locked for $platform in $tsv"

# The top-level "name", "version", "build" and "sha256" of one JSON record, tab-separated.
# A small scanner: strings (with escapes) and nesting depth; JSON keeps strings on one line.
# shellcheck disable=SC2016 # an awk program, not shell
fields='
BEGIN { depth = 0; key = ""; value = 0 }
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
            if (depth == 1) {
                if (value) {
                    if (key == "name" || key == "version" || key == "build" || key == "sha256") found[key] = s
                    value = 0; key = ""
                } else {
                    key = s
                }
            }
        } else if (c == "{" || c == "[") {
            depth++; if (depth > 1) { value = 0 }
        } else if (c == "}" || c == "]") {
            depth--
        } else if (c == ":" && depth == 1) {
            value = 1
        } else if (c == "," && depth == 1) {
            value = 0; key = ""
        }
        i++
    }
}
END { print found["name"] "\t" found["version"] "\t" found["build"] "\t" found["sha256"] }
'

: >"$work/installed"
cut -f1 "$work/locked" | LC_ALL=C sort -u >"$work/envs"
while read -r env; do
    meta="$envs/$env/conda-meta"
    if [ ! -d "$meta" ]; then
        printf '%s\t(no environment at %s)\t\t\t\n' "$env" "$envs/$env" >>"$work/installed"
        continue
    fi
    for record in "$meta"/*.json; do
        [ -e "$record" ] || continue
        printf '%s\t%s\n' "$env" "$(awk "$fields" "$record")" >>"$work/installed"
    done
done <"$work/envs"
LC_ALL=C sort -o "$work/installed" "$work/installed"

LC_ALL=C comm -23 "$work/locked" "$work/installed" >"$work/missing"
LC_ALL=C comm -13 "$work/locked" "$work/installed" >"$work/extra"
if [ -s "$work/missing" ] || [ -s "$work/extra" ]; then
    {
        echo "check-conda-envs: the installed conda environments differ from the lock ($platform)"
        echo "locked but not installed as locked (environment, name, version, build, sha256):"
        sed 's/^/  /' "$work/missing"
        echo "installed but not locked:"
        sed 's/^/  /' "$work/extra"
    } >&2
    exit 1
fi
count=$(wc -l <"$work/locked" | tr -d ' ')
printf 'check-conda-envs: %s conda package(s) in %s environment(s) match the lock (%s)\n' \
    "$count" "$(cut -f1 "$work/locked" | LC_ALL=C sort -u | wc -l | tr -d ' ')" "$platform"
