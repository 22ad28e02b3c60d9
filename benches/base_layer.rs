//! Peak memory of a whole `modelbench lock` whose base image has a large layer above the
//! dpkg status, against the same lock on a base whose layer is tiny (the baseline). The
//! layer is generated once per run in a temp dir (incompressible data in front of
//! `var/lib/dpkg/status`, gzip), served with the test apt archive by a loopback server
//! in this process; every lock starts with an empty cache, so the layer is read.
//!
//! Target (issue #20): peak RSS at most 64 MiB above the baseline, whatever the layer's
//! size. Run: `cargo bench --bench base_layer` (`LAYER_BENCH_MB` sets the size of the
//! data in front of the status file, default 1024; `LAYER_BENCH_RUNS` the runs, default 3;
//! `LAYER_BENCH_BIN` measures another `modelbench` binary, e.g. an older build).

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use support::{Body, Hashing, Routes, serve, tar_header, wait_measured, write_noise};

const STATUS: &[u8] = b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 2.36-9\n\n\
Package: libgreet0\nStatus: install ok installed\nArchitecture: amd64\nVersion: 0.9-1\n";

/// A gzip layer: `filler` bytes of xorshift data, then the status file; returns its digest.
fn write_layer(path: &Path, filler: u64) -> String {
    let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let hashing = Hashing {
        inner: file,
        hasher: Sha256::new(),
    };
    let mut gz = flate2::write::GzEncoder::new(hashing, flate2::Compression::fast());
    let tar_entry = |gz: &mut flate2::write::GzEncoder<_>, name: &str, size: u64| {
        gz.write_all(&tar_header(name, size)).unwrap();
    };
    if filler > 0 {
        tar_entry(&mut gz, "usr/share/filler.bin", filler);
        write_noise(&mut gz, filler, 0);
        gz.write_all(&vec![0u8; (filler.div_ceil(512) * 512 - filler) as usize])
            .unwrap();
    }
    tar_entry(&mut gz, "var/lib/dpkg/status", STATUS.len() as u64);
    gz.write_all(STATUS).unwrap();
    gz.write_all(&vec![0u8; STATUS.len().div_ceil(512) * 512 - STATUS.len()])
        .unwrap();
    gz.write_all(&[0u8; 1024]).unwrap();
    let mut hashing = gz.finish().unwrap();
    hashing.flush().unwrap();
    format!("sha256:{}", hex::encode(hashing.hasher.finalize()))
}

/// The image (one layer) and the test apt archive, as routes.
fn routes(layer: &Path, digest: &str, repo: &Path) -> Routes {
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let config_digest = format!("sha256:{}", hex::encode(Sha256::digest(&config)));
    let size = std::fs::metadata(layer).unwrap().len();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{digest}","size":{size}}}]}}"#,
        config.len()
    );
    let mut routes = vec![
        (
            "/v2/bench/base/manifests/1".to_string(),
            "application/vnd.oci.image.manifest.v1+json",
            Body::Bytes(manifest.into_bytes()),
        ),
        (
            format!("/v2/bench/base/blobs/{config_digest}"),
            "application/octet-stream",
            Body::Bytes(config),
        ),
        (
            format!("/v2/bench/base/blobs/{digest}"),
            "application/octet-stream",
            Body::File(layer.to_path_buf()),
        ),
    ];
    let mut stack = vec![repo.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(repo).unwrap().to_string_lossy();
                routes.push((
                    format!("/r/{relative}"),
                    "application/octet-stream",
                    Body::File(path.clone()),
                ));
            }
        }
    }
    Routes(routes)
}

/// The binary measured: this build's, or `LAYER_BENCH_BIN` (another build, to compare).
fn binary() -> PathBuf {
    std::env::var_os("LAYER_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_modelbench")))
}

/// Peak RSS (KiB) and wall time of one `modelbench lock` with an empty cache.
fn lock_once(project: &Path) -> (u64, Duration) {
    let cache = project.join("cache");
    let _ = std::fs::remove_dir_all(&cache);
    // Older builds cache under $HOME/.cache.
    let _ = std::fs::remove_dir_all(project.join(".cache"));
    let _ = std::fs::remove_dir_all(project.join("lock"));
    let started = Instant::now();
    // Reaped by wait4 below (for its rusage), not by `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(binary())
        .current_dir(project)
        .args(["lock", "spec.toml", "--sources", "sources.toml", "--quiet"])
        .env("MODELBENCH_CACHE_DIR", &cache)
        .env("HOME", project)
        .env_remove("MODELBENCH_SOURCES")
        .spawn()
        .expect("run modelbench");
    let run = wait_measured(child, started);
    assert!(
        run.success(),
        "modelbench lock failed (status {})",
        run.status
    );
    let lock = std::fs::read_to_string(project.join("lock/spec/bench.lock")).unwrap();
    assert!(
        lock.contains("name = \"hello\"") && !lock.contains("name = \"libgreet1\""),
        "the closure must come from the layer's status:\n{lock}"
    );
    (run.peak_kib, run.wall)
}

/// A project on a server for a layer with `filler` bytes in front of the status.
fn measure(work: &Path, name: &str, filler: u64, runs: usize) -> (u64, Duration, u64) {
    let dir = work.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let layer = dir.join("layer.tar.gz");
    let digest = write_layer(&layer, filler);
    let layer_size = std::fs::metadata(&layer).unwrap().len();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apt");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = Arc::new(routes(&layer, &digest, &fixtures.join("repo")));
    std::thread::spawn(move || serve(listener, routes));
    std::fs::write(
        dir.join("sources.toml"),
        format!("[registry]\n\"{addr}\" = \"http://{addr}\"\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("spec.toml"),
        format!(
            r#"[image]
name = "bench"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "{addr}/bench/base:1"

[apt]
recommends = false

[[apt.archives]]
uris = ["http://{addr}/r"]
suites = ["stable"]
components = ["main"]
signed-by = ["{keyring}"]

[stage-1]
apt = ["hello"]
"#,
            keyring = fixtures.join("keyring/test-archive.gpg").display()
        ),
    )
    .unwrap();
    let mut peaks = Vec::new();
    let mut times = Vec::new();
    for _ in 0..runs {
        let (peak, time) = lock_once(&dir);
        peaks.push(peak);
        times.push(time);
    }
    peaks.sort();
    times.sort();
    (peaks[runs / 2], times[runs / 2], layer_size)
}

fn main() {
    let mb: u64 = std::env::var("LAYER_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let runs: usize = std::env::var("LAYER_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let work = tempfile::Builder::new()
        .prefix("modelbench-bench-layer-")
        .tempdir()
        .unwrap();
    let (base_peak, base_time, base_size) = measure(work.path(), "tiny", 0, runs);
    let (big_peak, big_time, big_size) = measure(work.path(), "large", mb << 20, runs);
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!("base_layer: median of {runs} cold `modelbench lock` runs");
    println!(
        "  tiny layer  ({:>10} bytes gzip): peak RSS {:7.1} MiB, {:6.2} s",
        base_size,
        mib(base_peak),
        base_time.as_secs_f64()
    );
    println!(
        "  {mb} MiB layer ({:>10} bytes gzip): peak RSS {:7.1} MiB, {:6.2} s",
        big_size,
        mib(big_peak),
        big_time.as_secs_f64()
    );
    let above = mib(big_peak.saturating_sub(base_peak));
    println!("  above the baseline: {above:.1} MiB (target: at most 64 MiB)");
}
