//! Whole process against whole process: a cold `modelbench lock` of an apt closure
//! against what apt does from nothing, `apt-get update` then `apt-get install -s`, on the
//! same indices served by one loopback server: Debian trixie `main` amd64 (`InRelease`
//! and `Packages.xz`, recorded once from Debian's archive), a trixie minbase dpkg status
//! for both, and `ffmpeg python3-opencv libopencv-dev` with Recommends (issue #20, item
//! 5: at most 0.2x apt's time, peak RSS at most apt's).
//!
//! Every run starts cold: modelbench with an empty cache, apt with empty lists and no
//! `pkgcache.bin` (a fresh `Dir::State::Lists` and `Dir::Cache`). Runs alternate
//! (modelbench, apt, modelbench, …) so background load hits both alike; medians are
//! printed, with apt's two steps also apart (`install -s` alone, on lists already there,
//! still builds its cache: the closure step alone). The bench checks first that both
//! chose the same set.
//!
//! Data (`APT_LOCK_BENCH_DIR`, default `target/apt-perf`): `debian/dists/trixie/InRelease`
//! and `debian/dists/trixie/main/binary-amd64/Packages.xz` are downloaded on the first
//! run and checked (signature against the shipped Debian keyring, index against the
//! signed Release) on every run; `minbase.status` comes from
//! `debootstrap --variant=minbase trixie DIR/minbase` (run as root; the bench says so
//! when it is missing). Run: `just bench-apt` or `cargo bench --bench apt_lock`
//! (`APT_LOCK_BENCH_RUNS`, default 3; `APT_LOCK_BENCH_BIN`: another `modelbench` build).

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use modelbench::resolve::apt::control::Release;
use modelbench::resolve::apt::index::check_file;
use modelbench::resolve::apt::keys::BuiltinKeyring;
use sha2::{Digest, Sha256};

use support::{Body, Routes, serve, wait_measured};

const PACKAGES: &[&str] = &["ffmpeg", "python3-opencv", "libopencv-dev"];
const ARCHIVE: &str = "https://deb.debian.org/debian";
const SUITE: &str = "trixie";
const INDEX: &str = "main/binary-amd64/Packages.xz";
const KEYRING: &str = "builtin:debian-archive-keyring";
const OCTETS: &str = "application/octet-stream";

/// `InRelease` and `Packages.xz` under `dir`, downloaded once and checked every run:
/// the signature against the shipped Debian keyring, the index against the Release.
/// Returns the index's SHA-256 (the Release's by-hash name for it).
fn recorded_indices(dir: &Path) -> String {
    let dist = dir.join("debian/dists").join(SUITE);
    let inrelease = dist.join("InRelease");
    let index = dist.join(INDEX);
    if !inrelease.is_file() || !index.is_file() {
        eprintln!("apt_lock: recording {SUITE} {INDEX} from {ARCHIVE} into {dir:?} (once)");
        std::fs::create_dir_all(index.parent().unwrap()).unwrap();
        let client = modelbench::net::Client::new(false, vec![]);
        let runtime = tokio::runtime::Runtime::new().unwrap();
        for (path, url) in [
            (&inrelease, format!("{ARCHIVE}/dists/{SUITE}/InRelease")),
            (&index, format!("{ARCHIVE}/dists/{SUITE}/{INDEX}")),
        ] {
            let body = runtime
                .block_on(client.get_ok(&url, &[], 256 << 20))
                .unwrap_or_else(|err| panic!("download {url}: {err}"))
                .body;
            std::fs::write(path, body).unwrap();
        }
    }
    let keyring = BuiltinKeyring::from_reference(KEYRING)
        .expect("a shipped keyring")
        .expect("the shipped keyring parses")
        .keyring();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let message = std::fs::read_to_string(&inrelease).unwrap();
    let verified = keyring
        .verify_cleartext(&message, now)
        .unwrap_or_else(|err| panic!("{inrelease:?}: {err}"));
    let release = Release::parse(&verified.text).expect("a Release");
    let entry = &release.sha256[INDEX];
    check_file(
        &index.display().to_string(),
        &std::fs::read(&index).unwrap(),
        entry,
    )
    .unwrap_or_else(|problem| panic!("{problem}"));
    entry.sha256.clone()
}

/// The trixie minbase dpkg status, or why there is none.
fn minbase_status(dir: &Path) -> Option<PathBuf> {
    let status = dir.join("minbase.status");
    if status.is_file() {
        return Some(status);
    }
    let installed = dir.join("minbase/var/lib/dpkg/status");
    if installed.is_file() {
        std::fs::copy(&installed, &status).unwrap();
        return Some(status);
    }
    eprintln!(
        "apt_lock: no {status:?}; make it once (as root): debootstrap --variant=minbase {SUITE} {} {ARCHIVE}",
        dir.join("minbase").display()
    );
    None
}

/// The image (one tiny layer) and the archive, as routes.
fn routes(dir: &Path, index_sha256: &str) -> Routes {
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let config_digest = format!("sha256:{}", hex::encode(Sha256::digest(&config)));
    // An empty gzip'd tar (the status comes from the spec, not from the image).
    let mut layer = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    layer.write_all(&[0u8; 1024]).unwrap();
    let layer = layer.finish().unwrap();
    let layer_digest = format!("sha256:{}", hex::encode(Sha256::digest(&layer)));
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_digest}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    let dist = dir.join("debian/dists").join(SUITE);
    let index_dir = INDEX.rsplit_once('/').unwrap().0;
    Routes(vec![
        (
            "/v2/bench/base/manifests/1".into(),
            "application/vnd.oci.image.manifest.v1+json",
            Body::Bytes(manifest.into_bytes()),
        ),
        (
            format!("/v2/bench/base/blobs/{config_digest}"),
            OCTETS,
            Body::Bytes(config),
        ),
        (
            format!("/v2/bench/base/blobs/{layer_digest}"),
            OCTETS,
            Body::Bytes(layer),
        ),
        (
            format!("/debian/dists/{SUITE}/InRelease"),
            OCTETS,
            Body::File(dist.join("InRelease")),
        ),
        (
            format!("/debian/dists/{SUITE}/{INDEX}"),
            OCTETS,
            Body::File(dist.join(INDEX)),
        ),
        (
            format!("/debian/dists/{SUITE}/{index_dir}/by-hash/SHA256/{index_sha256}"),
            OCTETS,
            Body::File(dist.join(INDEX)),
        ),
    ])
}

/// Wall time and peak RSS (KiB) of one process, its children included (wait4's rusage).
fn measure(command: &mut Command) -> (Duration, u64) {
    let started = Instant::now();
    // Reaped by wait4 below (for its rusage), not by `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("run {command:?}: {err}"));
    let run = wait_measured(child, started);
    assert!(
        run.success(),
        "{command:?} failed (status {}); run it by hand to see why",
        run.status
    );
    (run.wall, run.peak_kib)
}

/// The binary measured: this build's, or `APT_LOCK_BENCH_BIN` (another build).
fn binary() -> PathBuf {
    std::env::var_os("APT_LOCK_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_modelbench")))
}

/// A project whose spec locks [`PACKAGES`] from the loopback archive on `status`.
fn project(work: &Path, addr: &str, status: &Path) -> PathBuf {
    let dir = work.join("project");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("sources.toml"),
        format!("[registry]\n\"{addr}\" = \"http://{addr}\"\n"),
    )
    .unwrap();
    let packages: Vec<String> = PACKAGES.iter().map(|p| format!("\"{p}\"")).collect();
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
recommends = true
status = "{status}"

[[apt.archives]]
uris = ["http://{addr}/debian"]
suites = ["{SUITE}"]
components = ["main"]
signed-by = ["{KEYRING}"]

[stage-1]
apt = [{packages}]
"#,
            status = status.display(),
            packages = packages.join(", ")
        ),
    )
    .unwrap();
    dir
}

/// One cold `modelbench lock`; returns its figures and the locked `name version` set.
fn lock_once(project: &Path) -> ((Duration, u64), BTreeSet<String>) {
    let cache = project.join("cache");
    let _ = std::fs::remove_dir_all(&cache);
    let _ = std::fs::remove_dir_all(project.join("lock"));
    let figures = measure(
        Command::new(binary())
            .current_dir(project)
            .args(["lock", "spec.toml", "--sources", "sources.toml", "--quiet"])
            .env("MODELBENCH_CACHE_DIR", &cache)
            .env("HOME", project)
            .env_remove("MODELBENCH_SOURCES"),
    );
    let lock: toml::Table =
        toml::from_str(&std::fs::read_to_string(project.join("lock/spec/bench.lock")).unwrap())
            .unwrap();
    let set = lock["artifact"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"].as_str() == Some("apt"))
        .flat_map(|a| a["package"].as_array().unwrap())
        .map(|p| {
            format!(
                "{} {}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            )
        })
        .collect();
    (figures, set)
}

/// apt's private configuration under `root`: nothing of the host's apt setup is read.
fn apt_command(root: &Path, addr: &str, status: &Path) -> Command {
    let empty = root.join("empty");
    std::fs::create_dir_all(root.join("lists/partial")).unwrap();
    std::fs::create_dir_all(&empty).unwrap();
    let keyring = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/resolve/apt/keys/debian-archive-keyring.pgp");
    std::fs::write(
        root.join("sources.list"),
        format!(
            "deb [signed-by={}] http://{addr}/debian {SUITE} main\n",
            keyring.display()
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("apt.conf"),
        format!(
            "Dir::Etc::Parts \"{}\";\nDir::Etc::main \"/dev/null\";\n",
            empty.display()
        ),
    )
    .unwrap();
    let mut command = Command::new("apt-get");
    command.env("APT_CONFIG", root.join("apt.conf"));
    let dir = |key: &str, path: &Path| ["-o".to_string(), format!("{key}={}", path.display())];
    command
        .args(dir("Dir::State::status", status))
        .args(dir("Dir::State::Lists", &root.join("lists")))
        .args(dir("Dir::Cache", &root.join("cache")))
        .args(dir("Dir::Etc::SourceList", &root.join("sources.list")))
        .args(dir("Dir::Etc::SourceParts", &empty))
        .args(dir("Dir::Etc::PreferencesParts", &empty))
        .args(dir(
            "Dir::State::extended_states",
            &root.join("extended_states"),
        ))
        .args(["-o", "Dir::Etc::Preferences=/dev/null"])
        .args([
            "-o",
            "APT::Architecture=amd64",
            "-o",
            "APT::Architectures=amd64",
        ])
        .args(["-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root"])
        .args([
            "-o",
            "Acquire::Languages=none",
            "-o",
            "Acquire::PDiffs=false",
        ])
        .args(["-o", "APT::Install-Recommends=true"])
        .args(["-o", "APT::Install-Suggests=false", "-q"]);
    command
}

/// One cold apt run: `update` into empty lists, then `install -s` with no cache
/// (`update` builds one; it is removed so `install -s` alone is cold too, as the
/// closure step). Returns the figures of both steps.
fn apt_once(work: &Path, addr: &str, status: &Path) -> ((Duration, u64), (Duration, u64)) {
    let root = work.join("apt");
    let _ = std::fs::remove_dir_all(&root);
    let update = measure(apt_command(&root, addr, status).arg("update"));
    let _ = std::fs::remove_dir_all(root.join("cache"));
    let install = measure(
        apt_command(&root, addr, status)
            .args(["install", "-s"])
            .args(PACKAGES),
    );
    (update, install)
}

/// `Inst` lines of `apt-get install -s` as `name version` (lists from the last run).
fn apt_set(work: &Path, addr: &str, status: &Path) -> BTreeSet<String> {
    let output = apt_command(&work.join("apt"), addr, status)
        .args(["install", "-s"])
        .args(PACKAGES)
        .output()
        .expect("run apt-get");
    assert!(
        output.status.success(),
        "apt-get install -s failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    support::simulated_installs(&output.stdout)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    if Command::new("apt-get").arg("--version").output().is_err() {
        eprintln!("apt_lock: apt-get is not installed (apt-get install apt)");
        return;
    }
    let dir = std::env::var_os("APT_LOCK_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/apt-perf"));
    let index_sha256 = recorded_indices(&dir);
    let Some(status) = minbase_status(&dir) else {
        return;
    };
    let runs: usize = std::env::var("APT_LOCK_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let routes = Arc::new(routes(&dir, &index_sha256));
    std::thread::spawn(move || serve(listener, routes));
    let work = tempfile::Builder::new()
        .prefix("modelbench-bench-apt-")
        .tempdir()
        .unwrap();
    let project = project(work.path(), &addr, &status);

    // Same set first (this also warms the page cache for both).
    let (_, ours) = lock_once(&project);
    apt_once(work.path(), &addr, &status);
    let theirs = apt_set(work.path(), &addr, &status);
    if ours != theirs {
        let only_ours: Vec<_> = ours.difference(&theirs).collect();
        let only_apt: Vec<_> = theirs.difference(&ours).collect();
        panic!(
            "modelbench and apt chose different sets:\n  only modelbench: {only_ours:?}\n  only apt: {only_apt:?}"
        );
    }

    let (mut lock, mut update, mut install) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        lock.push(lock_once(&project).0);
        let (u, i) = apt_once(work.path(), &addr, &status);
        update.push(u);
        install.push(i);
    }
    let secs =
        |figures: &[(Duration, u64)]| median(figures.iter().map(|f| f.0.as_secs_f64()).collect());
    let mib =
        |figures: &[(Duration, u64)]| median(figures.iter().map(|f| f.1 as f64 / 1024.0).collect());
    let apt_total: Vec<(Duration, u64)> = update
        .iter()
        .zip(&install)
        .map(|(u, i)| (u.0 + i.0, u.1.max(i.1)))
        .collect();
    let ratio = |ours: &[(Duration, u64)], theirs: &[(Duration, u64)]| {
        median(
            ours.iter()
                .zip(theirs)
                .map(|(a, b)| a.0.as_secs_f64() / b.0.as_secs_f64())
                .collect(),
        )
    };
    println!(
        "apt_lock: `{}` with Recommends, {} packages in the closure ({SUITE} main amd64, minbase status); medians of {runs} cold runs",
        PACKAGES.join(" "),
        ours.len()
    );
    let row = |what: &str, figures: &[(Duration, u64)]| {
        println!(
            "  {what:<40} {:6.2} s  peak RSS {:6.1} MiB",
            secs(figures),
            mib(figures)
        );
    };
    row("modelbench lock (empty cache)", &lock);
    row("apt-get update (empty lists)", &update);
    row("apt-get install -s (no pkgcache.bin)", &install);
    row("apt: update + install -s", &apt_total);
    println!(
        "  time ratio modelbench / apt (update + install -s): {:.2}x (target at most 0.2x); / install -s alone: {:.2}x",
        ratio(&lock, &apt_total),
        ratio(&lock, &install)
    );
    println!(
        "  peak RSS modelbench / apt: {:.2}x (target at most 1x)",
        mib(&lock) / mib(&apt_total)
    );
}
