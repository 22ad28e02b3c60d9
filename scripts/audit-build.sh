#!/bin/sh
# Runs an emitted build (its build.sh: both stages, with buildah) in a network namespace of
# its own whose only way out is `modelbench audit-proxy`, and ends with the proxy's report.
#
# usage: audit-build.sh MODELBENCH CONTEXT SPEC [audit-proxy options: --lock PATH, --log FILE,
#        --allow-host HOST, ...]
#
# Needs root (unshare --net), buildah, socat and ip. The exit status is the proxy's: 1 when
# it refused a request or the build failed.
#
# What is not audited: the base image, pulled here before the network is cut (it is pinned
# by digest and buildah checks that digest), and https paths (a tunnel hides them: https is
# audited per host, and the emitted scripts check each download's hash).
set -eu

if [ $# -lt 3 ]; then
    echo "usage: $0 MODELBENCH CONTEXT SPEC [audit-proxy options]" >&2
    exit 2
fi
modelbench=$(realpath "$1")
context=$(realpath "$2")
spec=$3
shift 3

for tool in buildah socat unshare ip; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "audit: \`$tool\` is not installed (the audit needs buildah, socat, unshare and ip)" >&2
        exit 1
    fi
done
if [ ! -f "$context/build.sh" ] || [ ! -f "$context/stage-1.Dockerfile" ]; then
    echo "audit: $context has no build.sh and stage-1.Dockerfile; run \`modelbench emit\` first" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# A docker daemon would run the build in its own network, outside the namespace below: hide
# docker so build.sh uses buildah (whose chroot isolation runs RUN steps in our namespace).
mkdir "$work/bin"
printf '#!/bin/sh\nexit 1\n' >"$work/bin/docker"
chmod +x "$work/bin/docker"

# The base image, before the network is cut, for each platform build.sh builds.
# (build.sh reads `platforms=${MODELBENCH_PLATFORMS:-a,b}`; the environment narrows it there too.)
# shellcheck disable=SC2016
platforms=$(sed -n 's/^platforms=\${MODELBENCH_PLATFORMS:-\(.*\)}$/\1/p' "$context/build.sh" | tr -d "'")
platforms=$(printf '%s\n' "${MODELBENCH_PLATFORMS:-$platforms}" | tr ',' ' ')
base=$(sed -n 's/^FROM \([^ ]*\).*/\1/p' "$context/stage-1.Dockerfile" | head -n 1)
for platform in ${platforms:-""}; do
    echo "audit: pulling the base $base${platform:+ for $platform} (not audited: pinned by digest)" >&2
    buildah pull --quiet ${platform:+--platform "$platform"} "$base" >/dev/null
done

# Inside: loopback only, and a socat bridge from 127.0.0.1:3128 to the proxy's socket.
# (Run by `sh -c` below with its own positional parameters, hence single quotes.)
# shellcheck disable=SC2016
inner='
set -u
ip link set lo up
socat TCP-LISTEN:3128,bind=127.0.0.1,fork,reuseaddr "UNIX-CONNECT:$1" </dev/null >/dev/null 2>&1 &
bridge=$!
tries=0
until socat -u OPEN:/dev/null TCP:127.0.0.1:3128 2>/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -gt 50 ]; then echo "audit: the bridge to the proxy did not start" >&2; exit 1; fi
    sleep 0.1
done
proxy=http://127.0.0.1:3128
unset no_proxy NO_PROXY
{
    PATH="$2:$PATH" MODELBENCH_NO_PROXY=1 BUILDAH_ISOLATION=chroot sh "$3/build.sh" --pull=never \
        --build-arg "http_proxy=$proxy" --build-arg "https_proxy=$proxy" \
        --build-arg "HTTP_PROXY=$proxy" --build-arg "HTTPS_PROXY=$proxy" 2>&1 ||
        echo "$?" >"$4/build.status"
} | tee "$4/build.out"
kill "$bridge" 2>/dev/null
exit "$(cat "$4/build.status" 2>/dev/null || echo 0)"
'
status=0
"$modelbench" audit-proxy "$spec" --socket "$work/proxy.sock" "$@" \
    -- unshare --net sh -c "$inner" audit "$work/proxy.sock" "$work/bin" "$context" "$work" ||
    status=$?

# The hashes the build itself checked (the proxy sees bytes pass, not what they are).
fetched=$(grep -c ') verified sha256:' "$work/build.out" 2>/dev/null || true)
debs=$(sed -n 's/^install-debs: \([0-9]*\) locked .* verified$/\1/p' "$work/build.out" 2>/dev/null |
    awk '{ n += $1 } END { print n + 0 }')
echo "audit: the build verified ${fetched:-0} download(s) with modelbench-fetch.sh (size and sha256) and $debs .deb(s) with install-debs.sh in this run (cached steps print nothing)"
exit "$status"
