#!/bin/sh
# Fuzz each target for SECONDS (default 600), one after the other, and print a summary:
# executions and crashes per target. Crash inputs land in fuzz/artifacts/<target>/; keep
# each as a regression test (tests/it/fuzz_regressions.rs, tests/fixtures/fuzz/<target>/).
#
#   sh fuzz/run.sh [SECONDS] [TARGET...]
#
# cargo-fuzz wants a nightly toolchain; RUSTC_BOOTSTRAP=1 lets the stable one take the
# sanitizer flags. Fork mode (one job) keeps fuzzing after a crash for the whole time.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-600}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- spec lock sums image_ref apt_version apt_control npm_range conda_spec
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz
RUSTC_BOOTSTRAP=1 cargo fuzz build -O
bin=fuzz/target/x86_64-unknown-linux-gnu/release
summary=""
for target in "$@"; do
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target" "fuzz/seeds/$target"
    log="fuzz/artifacts/$target.log"
    "$bin/$target" "fuzz/corpus/$target" "fuzz/seeds/$target" \
        -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -timeout=10 \
        -max_total_time="$seconds" -artifact_prefix="fuzz/artifacts/$target/" >"$log" 2>&1 || true
    last=$(grep -a '^#[0-9]*: cov:' "$log" | tail -n 1)
    execs=$(printf '%s\n' "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
    crashes=$(find "fuzz/artifacts/$target" -type f | wc -l)
    line="$target: ${execs:-0} executions in ${seconds} s, $crashes crash input(s) in fuzz/artifacts/$target/"
    echo "$line"
    summary="$summary$line
"
done
printf '\nfuzz summary:\n%s' "$summary"
