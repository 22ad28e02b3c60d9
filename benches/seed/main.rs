//! The seed spec (`specs/model-bench-cu128.toml`) locked against a loopback world the
//! size of the real one (issue #20, item 6): the CUDA base with GB-size gzip layers
//! above its dpkg status ([`image`]), Debian trixie's real `main` index as the stand-in
//! for Ubuntu's ([`apt`]), a conda-forge-size channel ([`conda`]), the five npm CLIs'
//! real registry documents ([`npm`]), and GitHub / Node.js answers ([`github`]). What
//! is recorded or generated is kept under `target/seed-bench/` and reused.
//!
//! It prints a cold `lock` (empty cache) and a warm `lock --update` (same cache, nothing
//! changed upstream): wall time, peak RSS, and the body bytes the server sent per source
//! kind, against the target "warm transfers at most 1% of cold bytes".
//!
//! Run: `cargo bench --bench seed` or `just bench-seed`. `SEED_BENCH_LAYER_MB` (default
//! 256) and `SEED_BENCH_LAYERS` (default 2) size the base's large layers (the real base
//! has several GB: `SEED_BENCH_LAYER_MB=1536` is closer), `SEED_BENCH_CONDA_RECORDS`
//! (default 30000) the channel, `SEED_BENCH_BIN` measures another `modelbench` build.

mod apt;
mod conda;
mod github;
mod image;
mod npm;
mod server;
#[path = "../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use server::{Server, Tally};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `target/seed-bench` (or under `CARGO_TARGET_DIR`).
fn cache_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("seed-bench")
}

/// What the fallback serves: npm documents being recorded, and the stand-in bytes of
/// conda packages, release assets and Node.js tarballs (never fetched by `lock`; served
/// so every hash in the world is of bytes it serves).
fn fallback(npm_dir: PathBuf) -> Box<server::Fallback> {
    Box::new(move |path, headers| {
        if path.starts_with("/npm/") {
            return npm::record(&npm_dir, path, headers).map(|b| ("application/json", b));
        }
        if let Some(rest) = path.strip_prefix(&format!("{}/", conda::CHANNEL))
            && let Some((subdir, file)) = rest.split_once('/')
            && (file.ends_with(".conda") || file.ends_with(".tar.bz2"))
        {
            return Some((
                "application/octet-stream",
                conda::package_bytes(subdir, file),
            ));
        }
        if (path.starts_with("/github/") && path.contains("/releases/download/"))
            || (path.starts_with("/node/v") && path.ends_with(".tar.gz"))
        {
            return Some(("application/octet-stream", github::asset_bytes(path)));
        }
        None
    })
}

/// The seed spec with its upstreams on the loopback server: each edit must apply.
fn bench_spec(server: &Server) -> String {
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/model-bench-cu128.toml"),
    )
    .unwrap();
    let edits: [(&str, String); 9] = [
        (
            "image = \"nvidia/cuda:",
            format!("image = \"{}/nvidia/cuda:", server.addr),
        ),
        ("registry-mirror = \"docker.1ms.run\"", "#".into()),
        ("apt = \"tuna\"", "#".into()),
        ("pypi = \"tuna\"", "#".into()),
        (
            "conda = \"tuna\"",
            format!("conda = \"{}\"", server.url(conda::CHANNEL)),
        ),
        (
            "npm = \"https://registry.npmmirror.com\"",
            format!("npm = \"{}\"", server.url("/npm")),
        ),
        (
            "nodejs = \"https://npmmirror.com/mirrors/node\"",
            format!("nodejs = \"{}\"", server.url("/node")),
        ),
        // Debian's name for what Ubuntu 24.04 also ships as libglib2.0-0t64.
        ("\"libglib2.0-0\"", "\"libglib2.0-0t64\"".into()),
        (
            "\n[proxy]",
            format!("\n{}\n[proxy]", apt::archive_toml(server)),
        ),
    ];
    let mut spec = seed;
    for (from, to) in edits {
        assert!(spec.contains(from), "the seed spec no longer has `{from}`");
        spec = spec.replacen(from, &to, 1);
    }
    spec
}

fn write_project(dir: &Path, server: &Server) {
    std::fs::create_dir_all(dir.join("specs")).unwrap();
    std::fs::write(dir.join("specs/seed.toml"), bench_spec(server)).unwrap();
    std::fs::write(
        dir.join("sources.toml"),
        format!(
            "[upstream]\nconda = \"{conda}\"\nnpm = \"{npm}\"\nnodejs = \"{node}\"\ngithub-api = \"{api}\"\ngithub-raw = \"{raw}\"\n[registry]\n\"{addr}\" = \"http://{addr}\"\n",
            conda = server.url("/conda"),
            npm = server.url("/npm"),
            node = server.url("/node"),
            api = server.url("/github-api"),
            raw = server.url("/github-raw"),
            addr = server.addr,
        ),
    )
    .unwrap();
}

fn binary() -> PathBuf {
    std::env::var_os("SEED_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_modelbench")))
}

struct Run {
    wall: Duration,
    peak_kib: u64,
    tallies: BTreeMap<String, Tally>,
}

/// One `modelbench lock ARGS` in `project` with `cache`; its peak RSS from wait4.
fn lock(project: &Path, cache: &Path, args: &[&str], server: &Server) -> Run {
    server.take_tallies();
    server.take_missing();
    let started = Instant::now();
    // Reaped by wait4 below (for its rusage), not by `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(binary())
        .current_dir(project)
        .args([
            "lock",
            "specs/seed.toml",
            "--sources",
            "sources.toml",
            "--quiet",
        ])
        .args(args)
        .env("MODELBENCH_CACHE_DIR", cache)
        .env("HOME", project)
        .env_remove("MODELBENCH_SOURCES")
        .env_remove("GITHUB_TOKEN")
        .spawn()
        .expect("run modelbench");
    let run = support::wait_measured(child, started);
    if !run.success() {
        panic!(
            "modelbench lock {args:?} failed (status {}); the world lacked {:?}",
            run.status,
            server.take_missing()
        );
    }
    Run {
        wall: run.wall,
        peak_kib: run.peak_kib,
        tallies: server.take_tallies(),
    }
}

fn main() {
    let layer_mb = env_number("SEED_BENCH_LAYER_MB", 256);
    let layers = env_number("SEED_BENCH_LAYERS", 2) as usize;
    let records = env_number("SEED_BENCH_CONDA_RECORDS", 30_000) as usize;
    let cache = cache_dir();
    let npm_dir = cache.join("npm");

    let debian = apt::record(&cache);
    let status = apt::base_status(&debian);
    let base = image::generate(&cache, &status, layers, layer_mb);
    let channel = conda::generate(&cache, records);

    let server = Server::start(fallback(npm_dir.clone()));
    apt::serve(&server, &debian);
    image::serve(&server, &base);
    conda::serve(&server, &channel);
    github::serve(&server);
    let work = tempfile::Builder::new()
        .prefix("modelbench-bench-seed-")
        .tempdir()
        .unwrap();
    let project = work.path().join("project");
    write_project(&project, &server);

    // Record the npm closure once (not measured): what the registry sent is kept.
    let complete = npm_dir.join(".complete");
    if !complete.exists() {
        eprintln!("seed bench: recording the npm documents (once)");
        lock(&project, &work.path().join("record-cache"), &[], &server);
        std::fs::write(&complete, b"").unwrap();
    }
    let documents = npm::serve(&server, &npm_dir);

    let run_cache = work.path().join("cache");
    let _ = std::fs::remove_dir_all(project.join("lock"));
    let cold = lock(&project, &run_cache, &[], &server);
    let warm = lock(&project, &run_cache, &["--update"], &server);

    let mib = |kib: u64| kib as f64 / 1024.0;
    let layer_bytes: u64 = base.iter().map(|l| l.size).sum();
    println!(
        "seed: {} (base {} layers, {:.0} MiB gzip; Debian trixie main amd64; {} conda records per subdir; {} npm documents)",
        binary().display(),
        base.len(),
        layer_bytes as f64 / f64::from(1 << 20),
        records,
        documents
    );
    for (name, run) in [("cold lock", &cold), ("warm lock --update", &warm)] {
        println!(
            "  {name:<19} {:7.2} s  peak RSS {:7.1} MiB",
            run.wall.as_secs_f64(),
            mib(run.peak_kib)
        );
    }
    println!(
        "  {:<8} {:>14} {:>14} {:>9} {:>14}",
        "kind", "cold bytes", "warm bytes", "warm %", "warm 304s/req"
    );
    let mut kinds: Vec<&String> = cold.tallies.keys().chain(warm.tallies.keys()).collect();
    kinds.sort();
    kinds.dedup();
    let mut total = (0u64, 0u64);
    for kind in kinds {
        let c = cold.tallies.get(kind).copied().unwrap_or_default();
        let w = warm.tallies.get(kind).copied().unwrap_or_default();
        total.0 += c.bytes;
        total.1 += w.bytes;
        let share = percent(w.bytes, c.bytes);
        println!(
            "  {kind:<8} {:>14} {:>14} {:>8.2}% {:>8}/{:<5} {}",
            c.bytes,
            w.bytes,
            share,
            w.not_modified,
            w.requests,
            if share <= 1.0 { "ok" } else { "MISSES ≤ 1%" }
        );
    }
    let share = percent(total.1, total.0);
    println!(
        "  {:<8} {:>14} {:>14} {:>8.2}%  (target: warm ≤ 1% of cold) {}",
        "all",
        total.0,
        total.1,
        share,
        if share <= 1.0 { "ok" } else { "MISSES" }
    );
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}
