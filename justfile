# modelbench recipes. `just --list` shows them. SPEC defaults to the shipped seed spec.

spec := "specs/model-bench-cu128.toml"
name := file_stem(spec)

# Resolve the spec into lock/<name>/bench.lock (network).
lock *ARGS:
    cargo run --quiet -- lock {{spec}} {{ARGS}}

# Write the build context to build/<name>/ from spec and lock (offline).
emit *ARGS:
    cargo run --quiet -- emit {{spec}} --locked {{ARGS}}

# Build the emitted context with docker (when a daemon answers) or buildah.
build: emit
    sh build/{{name}}/build.sh

# The test suite (what CI runs).
test:
    cargo test

# Everything CI checks: formatting, lints, tests, no leftover debugging.
ci: test
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings
    ! grep -rnE 'dbg!|todo!\(|unimplemented!\(' src tests

# An emitted build in its own network namespace (only the loopback world and registry
# reachable) may fetch nothing but locked URLs; two builds of one lock give one digest.

# Prove hermetic builds, bit-identical rebuilds and stable locks (prints the figures).
hermetic:
    cargo test --test it hermetic -- --nocapture

# Fuzz every parser target for SECONDS each (cargo-fuzz on stable via RUSTC_BOOTSTRAP).
fuzz SECONDS="600":
    sh fuzz/run.sh {{SECONDS}}

# Runs build.sh with buildah (as root) in a network namespace whose only way out is
# `modelbench audit-proxy`; each request is logged in build/<name>.audit.log. ARGS go to the
# proxy (e.g. --allow-host release-assets.githubusercontent.com). Limits: README "Audit a build".

# Build the emitted context where only locked URLs (https: locked hosts) are reachable; report.
audit *ARGS: emit
    cargo build --quiet
    sh scripts/audit-build.sh target/debug/modelbench build/{{name}} {{spec}} --log build/{{name}}.audit.log {{ARGS}}

# Peak RSS of a cold `lock` whose base has a MB-MiB gzip layer above the dpkg status,
# against a tiny layer (target: at most 64 MiB above it). Generated in a temp dir.
bench-layer MB="1024":
    LAYER_BENCH_MB={{MB}} cargo bench --bench base_layer

# Prove a restructuring changed no output: build REV in a scratch worktree, then compare
# the lock and every emitted file of the test specs, byte for byte (tests/it/golden.rs).
golden REV="HEAD~1":
    #!/bin/sh
    set -eu
    dir=$(mktemp -d)
    trap 'git worktree remove --force "$dir/src" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
    git worktree add --detach "$dir/src" {{REV}} >/dev/null
    cargo build --quiet --manifest-path "$dir/src/Cargo.toml" --target-dir "$dir/target"
    MODELBENCH_BASELINE="$dir/target/debug/modelbench" cargo test --test it golden -- --ignored --nocapture
