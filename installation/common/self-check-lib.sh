#!/bin/sh
# The image checks itself: the functions a generated self-check.sh calls, one line of
# output per check and a summary ("41 checks, 41 ok"), or JSON with --json. Sourced, not
# run. Options of the generated script:
#
#   --build   running as a build step: skip the GPU and the process environment (the
#             builder's proxy args are set during RUN steps by design)
#   --json    one JSON document instead of lines
set -u

selfcheck_total=0
selfcheck_failed=0
selfcheck_skipped=0
selfcheck_build=0
selfcheck_json=0
selfcheck_items=""

selfcheck_begin() {
    for arg in "$@"; do
        case $arg in
            --build) selfcheck_build=1 ;;
            --json) selfcheck_json=1 ;;
            *)
                echo "self-check: unknown option $arg" >&2
                exit 2
                ;;
        esac
    done
}

# json_string TEXT: TEXT as a JSON string (quotes, backslashes, tabs, newlines).
json_string() {
    tab=$(printf '\t')
    printf '%s' "$1" |
        sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e "s/$tab/\\\\t/g" |
        awk 'BEGIN { ORS = ""; printf "%s", "\"" } NR > 1 { printf "%s", "\\n" } { print } END { printf "%s", "\"" }'
}

# selfcheck_platform: the OCI platform of the running image.
selfcheck_platform() {
    case $(uname -m) in
        x86_64 | amd64) echo linux/amd64 ;;
        aarch64 | arm64) echo linux/arm64 ;;
        *) echo "linux/$(uname -m)" ;;
    esac
}

# report STATUS NAME DETAIL
report() {
    selfcheck_total=$((selfcheck_total + 1))
    case $1 in
        fail) selfcheck_failed=$((selfcheck_failed + 1)) ;;
        skip) selfcheck_skipped=$((selfcheck_skipped + 1)) ;;
    esac
    if [ "$selfcheck_json" = 1 ]; then
        item="{\"check\":$(json_string "$2"),\"status\":\"$1\",\"detail\":$(json_string "$3")}"
        selfcheck_items="${selfcheck_items:+$selfcheck_items,}$item"
    else
        printf '%-4s %s: %s\n' "$1" "$2" "$3"
    fi
}

# plain_name TEXT: whether TEXT is a plain command name, safe to paste into as_user's
# command line (no quote, space, `$`, `;`, `/`, …). Names come from the lock and from
# installed packages: anything else is reported, never run.
plain_name() {
    case $1 in
        "" | -* | *[!A-Za-z0-9._+@%=,:-]*) return 1 ;;
    esac
}

as_user() {
    # A login shell of the user, as `runuser -l USER -c 'bash -lc "CMD"'` gives.
    if command -v runuser >/dev/null 2>&1; then
        runuser -l "$1" -c "bash -lc '$2'" 2>&1
    else
        su -l "$1" -c "bash -lc '$2'" 2>&1
    fi
}

# check_version USER TOOL EXPECTED CMD: CMD prints EXPECTED as a whole version.
check_version() {
    out=$(as_user "$1" "$4")
    case " $out " in
        *[!0-9.]"$3"[!0-9.]*) report ok "$2 version for $1" "$3" ;;
        *) report fail "$2 version for $1" "expected $3, \`$4\` printed: $out" ;;
    esac
}

# check_command USER COMMAND PACKAGE: a global CLI's command is on the user's PATH in a
# login shell.
check_command() {
    if ! plain_name "$2"; then
        report fail "$3 command $2 for $1" "not a plain command name"
        return
    fi
    out=$(as_user "$1" "command -v $2")
    case $out in
        /*) report ok "$3 command $2 for $1" "$out" ;;
        *) report fail "$3 command $2 for $1" "not on PATH in a login shell: $out" ;;
    esac
}

# check_file NAME PATH SHA256: a locked file is at its path with its locked hash.
check_file() {
    if [ ! -f "$2" ]; then
        report fail "$1 at $2" "missing"
        return
    fi
    actual=$(sha256sum "$2" | cut -d ' ' -f1)
    if [ "$actual" = "$3" ]; then
        report ok "$1 at $2" "sha256:$3"
    else
        report fail "$1 at $2" "expected sha256:$3, got sha256:$actual"
    fi
}

# check_no_proxy: no proxy setting persisted in the image.
check_no_proxy() {
    found=""
    for file in /etc/environment /etc/profile /etc/bash.bashrc /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
        [ -f "$file" ] || continue
        if grep -Eiq '(https?|ftp|all)_proxy|Acquire::https?::Proxy' "$file"; then
            found="$found $file"
        fi
    done
    if [ -n "$found" ]; then
        report fail "no proxy baked in" "proxy settings in:$found"
    else
        report ok "no proxy baked in" "/etc/environment and apt config are clean"
    fi
    if [ "$selfcheck_build" = 1 ]; then
        report skip "no proxy in the environment" "build step: the builder's proxy args are set by design"
    elif env | grep -Eiq '^(https?|ftp|all)_proxy='; then
        report fail "no proxy in the environment" "$(env | grep -Ei '^(https?|ftp|all)_proxy=' | cut -d= -f1 | tr '\n' ' ')"
    else
        report ok "no proxy in the environment" "no *_proxy variable"
    fi
}

# check_apt_mirror URL: apt sources point at the mirror.
check_apt_mirror() {
    if grep -rqsF "$1" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        report ok "apt mirror" "$1"
    else
        report fail "apt mirror" "no apt source uses $1"
    fi
}

# dpkg_installed: "package version arch" of every installed package, sorted.
dpkg_installed() {
    dpkg-query -W -f '${db:Status-Status} ${Package} ${Version} ${Architecture}\n' 2>/dev/null |
        awk '$1 == "installed" { print $2, $3, $4 }' | LC_ALL=C sort -u
}

# check_debs DEBS_TSV: every locked package of the platform is installed at its locked
# version and architecture.
# check_conda_envs USER PACKAGES_TSV CHECKER: USER's pixi-global environments hold
# exactly the locked conda packages (CHECKER is check-conda-envs.sh).
check_conda_envs() {
    name="pixi-global environments of $1"
    home=$(getent passwd "$1" | cut -d: -f6)
    if out=$(sh "$3" "$2" "$home/.pixi/envs" "$(selfcheck_platform)" 2>&1); then
        report ok "$name" "$(printf '%s\n' "$out" | tail -n 1 | sed 's/^check-conda-envs: //')"
    else
        report fail "$name" "$(printf '%s\n' "$out" | sed 's/^check-conda-envs: //')"
    fi
}

# check_conda_exposed USER EXPOSED_TSV: each exposed pixi-global executable is what a
# login shell of USER finds first (~/.pixi/bin/NAME).
check_conda_exposed() {
    home=$(getent passwd "$1" | cut -d: -f6)
    tab=$(printf '\t')
    while IFS="$tab" read -r env executable; do
        [ -n "$executable" ] || continue
        if ! plain_name "$executable"; then
            report fail "$executable on $1's PATH" "not a plain command name"
            continue
        fi
        found=$(as_user "$1" "command -v $executable" | tail -n 1)
        if [ "$found" = "$home/.pixi/bin/$executable" ]; then
            report ok "$executable on $1's PATH" "from pixi-global environment $env"
        else
            report fail "$executable on $1's PATH" "expected $home/.pixi/bin/$executable, found: ${found:-nothing}"
        fi
    done <"$2"
}

check_debs() {
    name="apt packages of $(basename "$(dirname "$1")")"
    if ! command -v dpkg-query >/dev/null 2>&1; then
        report fail "$name" "no dpkg-query in the image"
        return
    fi
    current=$(dpkg_installed)
    here=$(selfcheck_platform)
    missing=""
    count=0
    tab=$(printf '\t')
    while IFS="$tab" read -r p package version arch _; do
        case $p in "#"* | "") continue ;; esac
        [ "$p" = "$here" ] || continue
        count=$((count + 1))
        if ! printf '%s\n' "$current" | grep -qxF "$package $version $arch"; then
            now=$(printf '%s\n' "$current" | awk -v p="$package" '$1 == p { print $2, $3 }' | tr '\n' ' ')
            missing="$missing $package=$version:$arch (installed: ${now:-none})"
        fi
    done <"$1"
    if [ -n "$missing" ]; then
        report fail "$name" "not as locked:$missing"
    else
        report ok "$name" "$count locked package(s) installed at their locked versions"
    fi
}

# check_dpkg_unchanged RECORD: the installed packages are exactly those the build left
# (RECORD, written by install-debs.sh after it checked them against the lock).
check_dpkg_unchanged() {
    if [ ! -f "$1" ]; then
        report fail "dpkg unchanged since the build" "no record $1"
        return
    fi
    diff=$(dpkg_installed | LC_ALL=C diff "$1" - | grep '^[<>]' | sed -e 's/^</removed or changed:/' -e 's/^>/not in the lock:/' | tr '\n' ';' | sed 's/;$//')
    if [ -n "$diff" ]; then
        report fail "dpkg unchanged since the build" "$diff"
    else
        report ok "dpkg unchanged since the build" "$(wc -l <"$1" | tr -d ' ') installed package(s), as built"
    fi
}

# check_python_import MODULE
check_python_import() {
    if out=$(python3 -c "import $1" 2>&1); then
        report ok "python import $1" "imports"
    else
        report fail "python import $1" "$out"
    fi
}

# check_gpu: nvidia-smi runs when a GPU is there; no GPU is a skip, not a failure.
check_gpu() {
    if [ "$selfcheck_build" = 1 ]; then
        report skip "gpu" "build step"
    elif ! command -v nvidia-smi >/dev/null 2>&1; then
        report skip "gpu" "no nvidia-smi (run with --gpus all to check the GPU)"
    elif out=$(nvidia-smi -L 2>&1); then
        report ok "gpu" "$(printf '%s' "$out" | head -n 1)"
    else
        report skip "gpu" "no GPU visible: $(printf '%s' "$out" | head -n 1)"
    fi
}

selfcheck_end() {
    passed=$((selfcheck_total - selfcheck_failed - selfcheck_skipped))
    if [ "$selfcheck_json" = 1 ]; then
        printf '{"checks":%s,"ok":%s,"failed":%s,"skipped":%s,"results":[%s]}\n' \
            "$selfcheck_total" "$passed" "$selfcheck_failed" "$selfcheck_skipped" "$selfcheck_items"
    else
        summary="$selfcheck_total checks, $passed ok"
        [ "$selfcheck_failed" -gt 0 ] && summary="$summary, $selfcheck_failed failed"
        [ "$selfcheck_skipped" -gt 0 ] && summary="$summary, $selfcheck_skipped skipped"
        echo "$summary"
    fi
    [ "$selfcheck_failed" -eq 0 ]
}
