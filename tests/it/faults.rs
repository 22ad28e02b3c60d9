//! Fault injection: at least 100 `modelbench lock` runs over the loopback world, each with a
//! random mix of faults on random routes (5xx, 429 with `Retry-After`, resets mid-body,
//! truncation, slow trickles, corrupted bytes, malformed JSON), drawn from a seeded PRNG so
//! a failure replays. The spec covers every kind `lock` resolves today: an OCI base in the
//! real registry (behind a registry mirror the world serves), GitHub releases (API digest,
//! sums file, `.sha256` sidecar, `SHASUMS256.txt`, a raw source file), Node.js, apt from
//! a signed archive, and a url file pinned by hand.
//!
//! After each run: either exit 0 and a lock byte-for-byte equal to the one made without
//! faults, or exit 1, an error naming an artifact, and the previous lock byte-for-byte
//! intact (each run starts from no lock, or from the reference lock with one artifact's
//! constraint changed, so that a failure has something to leave alone).
//!
//! Corrupted bytes go only where a hash to check them against exists (the url file, the
//! sums files, the JSON documents and manifests). A file that upstream publishes no hash
//! for is trusted on first download (as Nix's `fetchurl` with a new hash is): a flipped
//! byte there is by definition undetectable at lock time, and the build's fetch helper is
//! what guards the bytes after that.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use modelbench::lock::Lock;
use modelbench::lock::values::OneLine;

use crate::support::project::Project;
use crate::support::registry::{self, ACCEPT_ALL, IndexKind};
use crate::support::sha256_hex;
use crate::support::tools;
use crate::support::world::{
    DigestMode, Fault, FixtureAsset, FixtureRelease, Response, SumsStyle, World, XorShift,
};

/// The default seed; `MODELBENCH_FAULT_SEED` replays or explores another, and
/// `MODELBENCH_FAULT_RUNS` changes the number of runs per worker.
const SEED: u64 = 0x6d6f_6465_6c62_656e; // "modelben"
const WORKERS: usize = 4;
const RUNS_PER_WORKER: usize = 30;
/// A lock run that takes longer than this is a hang.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// Bodies up to this size may trickle (one byte per [`TRICKLE`]).
const TRICKLE_MAX: usize = 600;
const TRICKLE: Duration = Duration::from_millis(1);
/// Attempts per request in `net::Client` (`ATTEMPTS`).
const ATTEMPTS: usize = 4;

/// What a route serves, which decides the faults that make sense for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// A JSON document: GitHub API answers, nodejs `index.json`, registry manifests.
    Json,
    /// A checksum file (`sha256sums.txt`, `.sha256` sidecar, `SHASUMS256.txt`), or apt
    /// metadata checked by signature (`InRelease`) or by the hashes it lists (`Packages`),
    /// or a registry blob (checked against the digest its manifest names).
    Sums,
    /// A file hashed on first download: no published hash exists to check a flipped byte.
    FirstUse,
    /// A file whose hash the spec names (`url` kind).
    Pinned,
}

#[derive(Clone, Debug)]
struct Route {
    path: String,
    /// The lock entry whose resolution requests it.
    owner: &'static str,
    class: Class,
    size: usize,
}

/// One worker's upstreams, project and reference lock.
struct Fixture {
    world: World,
    project: Project,
    routes: Vec<Route>,
    reference: Vec<u8>,
    /// (kind, name) of every artifact in the spec.
    artifacts: Vec<(String, String)>,
}

fn release_asset(name: &str, bytes: &[u8], mode: DigestMode) -> FixtureAsset {
    FixtureAsset::new(name, bytes.to_vec()).digest_mode(mode)
}

fn fixture(worker: usize) -> Fixture {
    let registry = registry::shared().expect("the test checked for docker-registry");
    let world = World::start();
    let mut routes = Vec::new();
    let mut route = |path: &str, owner: &'static str, class: Class, size: usize| {
        routes.push(Route {
            path: path.to_string(),
            owner,
            class,
            size,
        });
    };

    // The base: a two-platform index in the real registry, and the world as its registry
    // mirror (a pull-through copy of the same manifests), which `lock` asks first.
    let repo = format!("faults/base-{}-{worker}", world.addr().port());
    let pushed = registry.push_two_platform_index(&repo, "1", IndexKind::Oci);
    let mut manifests = vec![("1".to_string(), pushed.index_digest.clone())];
    manifests.extend(pushed.manifests.iter().map(|(_, d)| (d.clone(), d.clone())));
    for (reference, digest) in manifests {
        let served = registry.get_manifest(&repo, &reference, ACCEPT_ALL);
        assert_eq!(served.status, 200, "{repo}:{reference}");
        let path = format!("/v2/{repo}/manifests/{reference}");
        world.get(
            &path,
            Response {
                status: 200,
                headers: vec![
                    (
                        "Content-Type".into(),
                        served.header("content-type").unwrap().to_string(),
                    ),
                    ("Docker-Content-Digest".into(), digest),
                    (
                        "Docker-Distribution-Api-Version".into(),
                        "registry/2.0".into(),
                    ),
                ],
                body: served.body.clone(),
            },
        );
        route(&path, "base", Class::Json, served.body.len());
        // A pull-through mirror serves the blobs its manifests name too: `lock` reads the
        // base's dpkg status from its layers (with a cold cache, every time).
        let manifest: serde_json::Value = serde_json::from_slice(&served.body).unwrap();
        let blobs = manifest["config"]
            .get("digest")
            .into_iter()
            .chain(
                manifest["layers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|layer| layer.get("digest")),
            )
            .filter_map(|digest| digest.as_str());
        for digest in blobs {
            let bytes = registry.get_blob(&repo, digest);
            let path = format!("/v2/{repo}/blobs/{digest}");
            let size = bytes.len();
            world.get(
                &path,
                Response {
                    status: 200,
                    headers: vec![
                        ("Content-Type".into(), "application/octet-stream".into()),
                        ("Docker-Content-Digest".into(), digest.to_string()),
                    ],
                    body: bytes,
                },
            );
            route(&path, "stage-1", Class::Sums, size);
        }
    }

    // clash-rs: a range over the release list, hashes from a sums file (no API digest).
    let mut clash = Vec::new();
    for (tag, date) in [
        ("v0.10.7", "2026-06-01T10:00:00Z"),
        ("v0.10.8", "2026-07-23T10:00:00Z"),
    ] {
        let mut release = FixtureRelease::new(tag, date).sums_file(SumsStyle::Text);
        for triple in ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"] {
            release = release.asset_with(release_asset(
                &format!("clash-rs-{triple}"),
                format!("clash {tag} {triple}").as_bytes(),
                DigestMode::Null,
            ));
        }
        clash.push(release);
    }
    clash.push(
        FixtureRelease::new("latest", "2026-11-20T10:00:00Z")
            .prerelease()
            .asset(
                "clash-rs-x86_64-unknown-linux-musl",
                b"clash nightly".to_vec(),
            ),
    );
    let fixture_json_size = |value: &serde_json::Value| {
        serde_json::to_vec_pretty(value)
            .map(|v| v.len())
            .unwrap_or(0)
    };
    let gh = world.github_release_fixture("Watfaq", "clash-rs", &clash);
    let list = serde_json::Value::Array(gh.releases.clone());
    route(
        "/api/repos/Watfaq/clash-rs/releases",
        "clash-rs",
        Class::Json,
        fixture_json_size(&list),
    );
    route(
        "/github/Watfaq/clash-rs/releases/download/v0.10.8/sha256sums.txt",
        "clash-rs",
        Class::Sums,
        200,
    );
    for triple in ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"] {
        route(
            &format!("/github/Watfaq/clash-rs/releases/download/v0.10.8/clash-rs-{triple}"),
            "clash-rs",
            Class::FirstUse,
            40,
        );
    }

    // Node.js: dist index.json and the release's SHASUMS256.txt.
    let index = serde_json::json!([
        {"version": "v23.3.0", "date": "2026-11-01", "files": ["linux-arm64", "linux-x64"], "lts": false},
        {"version": "v22.11.0", "date": "2026-10-29", "files": ["linux-arm64", "linux-x64"], "lts": "Jod"},
        {"version": "v20.18.0", "date": "2026-10-03", "files": ["linux-arm64", "linux-x64"], "lts": "Iron"},
    ]);
    world.get("/nodejs/dist/index.json", Response::json(index.clone()));
    route(
        "/nodejs/dist/index.json",
        "node",
        Class::Json,
        fixture_json_size(&index),
    );
    let mut shasums = String::new();
    for platform in ["linux-arm64", "linux-x64"] {
        let file = format!("node-v22.11.0-{platform}.tar.gz");
        let bytes = format!("node v22.11.0 {platform}").into_bytes();
        shasums.push_str(&format!("{}  {file}\n", sha256_hex(&bytes)));
        world.get(
            &format!("/nodejs/dist/v22.11.0/{file}"),
            Response::bytes(bytes),
        );
    }
    shasums.push_str(&format!("{}  win-x64/node.exe\n", "ab".repeat(32)));
    let shasums_len = shasums.len();
    world.get(
        "/nodejs/dist/v22.11.0/SHASUMS256.txt",
        Response::text(shasums),
    );
    route(
        "/nodejs/dist/v22.11.0/SHASUMS256.txt",
        "node",
        Class::Sums,
        shasums_len,
    );

    // nvm: a raw source file at the release tag, hashed on download.
    world.github_release_fixture(
        "nvm-sh",
        "nvm",
        &[FixtureRelease::new("v0.40.3", "2026-04-23T00:00:00Z")],
    );
    let nvm_sh = "# fixture nvm.sh\nexport NVM_FIXTURE=1\n";
    world.get("/raw/nvm-sh/nvm/v0.40.3/nvm.sh", Response::text(nvm_sh));
    route(
        "/api/repos/nvm-sh/nvm/releases/latest",
        "nvm",
        Class::Json,
        3000,
    );
    route(
        "/raw/nvm-sh/nvm/v0.40.3/nvm.sh",
        "nvm",
        Class::FirstUse,
        nvm_sh.len(),
    );

    // uv: `.sha256` sidecars, no API digest.
    let mut uv = FixtureRelease::new("0.12.5", "2026-08-21T00:00:00Z");
    for triple in ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"] {
        let name = format!("uv-{triple}.tar.gz");
        let bytes = format!("uv 0.12.5 {triple}").into_bytes();
        let sidecar = format!("{}  {name}\n", sha256_hex(&bytes));
        uv = uv
            .asset_with(release_asset(&name, &bytes, DigestMode::Null))
            .asset_with(release_asset(
                &format!("{name}.sha256"),
                sidecar.as_bytes(),
                DigestMode::Null,
            ));
        route(
            &format!("/github/astral-sh/uv/releases/download/0.12.5/{name}.sha256"),
            "uv",
            Class::Sums,
            sidecar.len(),
        );
        route(
            &format!("/github/astral-sh/uv/releases/download/0.12.5/{name}"),
            "uv",
            Class::FirstUse,
            bytes.len(),
        );
    }
    world.github_release_fixture("astral-sh", "uv", &[uv]);
    route(
        "/api/repos/astral-sh/uv/releases/latest",
        "uv",
        Class::Json,
        4000,
    );

    // pixi: an exact version (tag `v0.77.0`), hashes from the API digest.
    let mut pixi = FixtureRelease::new("v0.77.0", "2026-08-19T00:00:00Z");
    for triple in ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"] {
        pixi = pixi.asset(
            &format!("pixi-{triple}.tar.gz"),
            format!("pixi 0.77.0 {triple}").into_bytes(),
        );
    }
    world.github_release_fixture("prefix-dev", "pixi", &[pixi]);
    route(
        "/api/repos/prefix-dev/pixi/releases/tags/v0.77.0",
        "pixi",
        Class::Json,
        3000,
    );

    // bun: `SHASUMS256.txt` without a trailing newline, no API digest.
    let mut bun = FixtureRelease::new("bun-v1.4.5", "2026-09-01T00:00:00Z");
    let mut sums = Vec::new();
    for target in ["linux-x64", "linux-x64-baseline", "linux-aarch64"] {
        let name = format!("bun-{target}.zip");
        let bytes = format!("bun 1.4.5 {target}").into_bytes();
        sums.push(format!("{}  {name}", sha256_hex(&bytes)));
        bun = bun.asset_with(release_asset(&name, &bytes, DigestMode::Absent));
        if target != "linux-x64-baseline" {
            route(
                &format!("/github/oven-sh/bun/releases/download/bun-v1.4.5/{name}"),
                "bun",
                Class::FirstUse,
                bytes.len(),
            );
        }
    }
    sums.sort();
    let sums = sums.join("\n");
    route(
        "/github/oven-sh/bun/releases/download/bun-v1.4.5/SHASUMS256.txt",
        "bun",
        Class::Sums,
        sums.len(),
    );
    bun = bun.asset_with(release_asset(
        "SHASUMS256.txt",
        sums.as_bytes(),
        DigestMode::Absent,
    ));
    world.github_release_fixture(
        "oven-sh",
        "bun",
        &[
            bun,
            FixtureRelease::new("canary", "2026-11-01T00:00:00Z").prerelease(),
        ],
    );
    route(
        "/api/repos/oven-sh/bun/releases/latest",
        "bun",
        Class::Json,
        4000,
    );

    // A file pinned by hand in the spec.
    let card = b"model card: fixture weights, not for production\n".to_vec();
    let card_sha = sha256_hex(&card);
    world.get("/files/model-card.txt", Response::bytes(card.clone()));
    route(
        "/files/model-card.txt",
        "model-card",
        Class::Pinned,
        card.len(),
    );

    // apt: the apt tests' signed archive; its `InRelease` and `Packages` files are what
    // `lock` reads (the `.deb`s are pinned by the hashes in `Packages`).
    let repo_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apt/repo");
    let mut archive_files = Vec::new();
    list_files(&repo_dir, &mut archive_files);
    for file in archive_files {
        let relative = file
            .strip_prefix(&repo_dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&file).unwrap();
        let path = format!("/debian/{relative}");
        route(&path, "stage-1", Class::Sums, bytes.len());
        world.get(&path, Response::bytes(bytes));
    }

    let project = Project::new();
    std::fs::create_dir_all(project.path("specs")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apt/keyring/test-archive.gpg"),
        project.path("specs/keyring.gpg"),
    )
    .unwrap();
    project.spec(&format!(
        r#"[image]
name = "mb-faults"
tag = "t1"
platforms = ["linux/amd64", "linux/arm64"]

[base]
image = "{base}"
registry-mirror = "{mirror}"

[[users]]
name = "peid"
uid = 3100
gid = 1100

[[apt.archives]]
uris = ["{archive}"]
suites = ["stable"]
components = ["main"]
signed-by = ["keyring.gpg"]

[stage-1]
apt = ["nano", "hello"]
tools.uv = {{ version = "latest", user = "peid" }}

[stage-2]
tools.node = {{ version = "lts", user = "peid" }}
tools.pixi = {{ version = "0.77.0", user = "peid" }}
tools.bun = {{ version = "latest", user = "peid" }}

[stage-2.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "^0.10"
asset = "clash-rs-{{triple}}"
dest = "/hard/image/app/clash/clash-rs"

[stage-2.url.model-card]
url = "{card_url}"
sha256 = "{card_sha}"
dest = "/opt/model-card.txt"
"#,
        base = registry.reference(&repo, "1"),
        mirror = world.addr(),
        card_url = world.url("/files/model-card.txt"),
        archive = world.url("/debian"),
    ));
    project
        .sources_file()
        .tools(&world)
        .registry(registry.host())
        .world_registry(&world)
        .write();

    // The reference: a lock made without faults, and a second run that keeps it.
    let first = run_lock(&project);
    assert_eq!(first.status, Some(0), "reference lock: {}", first.stderr);
    let reference = project.lock_bytes();
    let lock = Lock::parse(
        &project.lock_path(),
        std::str::from_utf8(&reference).unwrap(),
    )
    .expect("the reference lock parses");
    let artifacts: Vec<(String, String)> = lock.artifacts.iter().map(|a| a.key()).collect();
    for name in [
        "base",
        "clash-rs",
        "node",
        "nvm",
        "uv",
        "pixi",
        "bun",
        "model-card",
        "stage-1",
    ] {
        assert!(
            artifacts.iter().any(|(_, n)| n == name),
            "`{name}` missing from the reference lock {artifacts:?}"
        );
    }
    std::fs::remove_file(project.lock_path()).unwrap();
    let second = run_lock(&project);
    assert_eq!(second.status, Some(0), "second lock: {}", second.stderr);
    assert_eq!(
        project.lock_bytes(),
        reference,
        "locking twice gives the same bytes"
    );
    let asked: Vec<String> = world
        .requests()
        .into_iter()
        .map(|(_, path, _)| path.split('?').next().unwrap_or_default().to_string())
        .collect();
    // Fault targets are what a clean run asks for, plus the first-use downloads that a
    // failed sums lookup falls back to. (Today the arm64 uv sidecar is never asked for:
    // github_release fetches the sums documents for the first platform's file only, and
    // hashes the arm64 tarball on first use instead.)
    routes.retain(|route| {
        let asked_for = asked.contains(&route.path);
        // (Of the archive, only the index forms `lock` prefers are asked for.)
        let alternative = route.path.starts_with("/debian/");
        if !asked_for && route.class != Class::FirstUse && !alternative && worker == 0 {
            eprintln!("note: {} is never requested; no faults there", route.path);
        }
        asked_for || route.class == Class::FirstUse
    });

    Fixture {
        world,
        project,
        routes,
        reference,
        artifacts,
    }
}

fn list_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            list_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

struct LockRun {
    status: Option<i32>,
    stderr: String,
    elapsed: Duration,
}

/// `modelbench lock` in the project, with a deadline: a run past it is killed and reported.
fn run_lock(project: &Project) -> LockRun {
    run_lock_with(project, &[])
}

/// [`run_lock`] with extra environment variables.
fn run_lock_with(project: &Project, env: &[(&str, &str)]) -> LockRun {
    let log = project.path("lock-stderr.txt");
    let stderr = std::fs::File::create(&log).unwrap();
    let started = Instant::now();
    let mut child = project
        .lock_command(&[])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn modelbench lock");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    LockRun {
        status,
        stderr: std::fs::read_to_string(&log).unwrap_or_default(),
        elapsed: started.elapsed(),
    }
}

/// One fault drawn for a route of `class` (`size` bytes).
fn draw_fault(rng: &mut XorShift, class: Class, size: usize) -> Fault {
    loop {
        let fault = match rng.up_to(99) {
            0..=17 => Fault::Status(500),
            18..=31 => Fault::Status(502),
            32..=45 => Fault::Status(503),
            // Rare and short: each one costs a second of the suite's time.
            46..=47 => Fault::RetryAfter(429, 1),
            48..=53 => Fault::Status(429),
            54..=65 => Fault::Reset,
            66..=77 => Fault::Truncate,
            78..=85 => Fault::TrickleEvery(TRICKLE),
            86..=93 => Fault::CorruptByte,
            _ => Fault::MalformedJson,
        };
        let fits = match &fault {
            Fault::TrickleEvery(_) => size <= TRICKLE_MAX,
            Fault::CorruptByte => class != Class::FirstUse,
            Fault::MalformedJson => matches!(class, Class::Json | Class::Pinned),
            _ => true,
        };
        if fits {
            return fault;
        }
    }
}

fn is_transient(fault: &Fault) -> bool {
    matches!(
        fault,
        Fault::Status(_) | Fault::RetryAfter(..) | Fault::Reset | Fault::Truncate
    )
}

/// Whether the client must get through this queue of faults: a good answer (none left, or
/// a trickle) comes within its attempts, before any corrupted one.
fn survivable(faults: &[Fault]) -> bool {
    for attempt in 0..ATTEMPTS {
        match faults.get(attempt) {
            None | Some(Fault::TrickleEvery(_)) | Some(Fault::Trickle) => return true,
            Some(fault) if is_transient(fault) => continue,
            Some(_) => return false,
        }
    }
    false
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Complete,
    CleanError,
    Corrupt,
}

struct RunReport {
    outcome: Outcome,
    /// The first line of the error, for a clean error.
    error: Option<String>,
    problem: Option<String>,
    elapsed: Duration,
}

/// One faulted run on a worker's fixture.
fn faulted_run(fx: &Fixture, rng: &mut XorShift, label: &str) -> RunReport {
    let lock_path = fx.project.lock_path();
    // The starting point: no lock, or the reference with one artifact's constraint changed.
    let stale = if rng.up_to(1) == 0 {
        let _ = std::fs::remove_file(&lock_path);
        None
    } else {
        let index = rng.up_to(fx.artifacts.len() as u64 - 1) as usize;
        let (kind, name) = fx.artifacts[index].clone();
        let text = String::from_utf8(fx.reference.clone()).unwrap();
        let mut lock = Lock::parse(&lock_path, &text).unwrap();
        let artifact = lock
            .artifacts
            .iter_mut()
            .find(|a| a.kind == kind && a.name == name)
            .unwrap();
        let before = format!("{} (before)", artifact.requested);
        artifact.requested = OneLine::parse("requested", &before).unwrap();
        let request_hash = format!("sha256:{}", sha256_hex(label.as_bytes()));
        artifact.request_hash = OneLine::parse("request-hash", &request_hash).unwrap();
        // Written as `modelbench lock` would have for that older spec (checksums sealed),
        // so it is the constraint that makes the entry stale, not a hand edit.
        let lock = Lock::new(lock.spec_hash, lock.artifacts);
        std::fs::write(&lock_path, lock.to_bytes()).unwrap();
        Some(name)
    };
    let before = std::fs::read(&lock_path).ok();

    // Faults on 1–4 routes (those the run resolves), 1–5 faults each.
    let candidates: Vec<&Route> = fx
        .routes
        .iter()
        .filter(|r| stale.as_deref().is_none_or(|name| r.owner == name))
        .collect();
    let mut plan: BTreeMap<String, Vec<Fault>> = BTreeMap::new();
    let mut retry_after = 0;
    for _ in 0..=rng.up_to(3) {
        let route = candidates[rng.up_to(candidates.len() as u64 - 1) as usize];
        let count = match rng.up_to(19) {
            0..=6 => 1,
            7..=11 => 2,
            12..=15 => 3,
            16..=17 => 4,
            _ => 5,
        };
        let queue = plan.entry(route.path.clone()).or_default();
        for _ in 0..count {
            let mut fault = draw_fault(rng, route.class, route.size);
            // At most one second-long wait per run.
            if matches!(fault, Fault::RetryAfter(..)) {
                retry_after += 1;
                if retry_after > 1 {
                    fault = Fault::Status(503);
                }
            }
            queue.push(fault);
        }
    }
    for (path, faults) in &plan {
        fx.world.faults(path, faults.iter().cloned());
    }
    let must_complete = plan.values().all(|faults| survivable(faults));

    let run = run_lock(&fx.project);
    drain(&fx.world, plan.keys());

    let after = std::fs::read(&lock_path).ok();
    let described = format!(
        "{label}: start {}, faults {plan:?}",
        stale
            .as_deref()
            .map_or("without a lock".to_string(), |n| format!(
                "from the reference with `{n}` changed"
            ))
    );
    let (outcome, problem) = match run.status {
        Some(0) if after.as_deref() == Some(fx.reference.as_slice()) => (Outcome::Complete, None),
        Some(0) => (
            Outcome::Corrupt,
            Some(format!(
                "{described}: exit 0 but the lock differs from the reference:\n{}",
                after
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_else(|| "(no lock)".into())
            )),
        ),
        Some(1) if after != before => (
            Outcome::Corrupt,
            Some(format!(
                "{described}: failed but the previous lock was changed\n{}",
                run.stderr
            )),
        ),
        Some(1) => {
            let names_artifact = fx.artifacts.iter().any(|(kind, name)| {
                run.stderr
                    .contains(&format!("cannot resolve {kind} `{name}`"))
            });
            let reported = run.stderr.lines().any(|l| l.starts_with("error: "));
            // The lock's fate is said: kept as it was, or (a first lock) never written.
            let untouched = run.stderr.contains("was left unchanged")
                || run.stderr.contains("nothing was written");
            if names_artifact && reported && untouched {
                (Outcome::CleanError, None)
            } else {
                (
                    Outcome::Corrupt,
                    Some(format!(
                        "{described}: exit 1 without a message naming an artifact:\n{}",
                        run.stderr
                    )),
                )
            }
        }
        None => (
            Outcome::Corrupt,
            Some(format!(
                "{described}: killed after {:?} (a hang?)\n{}",
                run.elapsed, run.stderr
            )),
        ),
        Some(code) => (
            Outcome::Corrupt,
            Some(format!("{described}: exit {code}\n{}", run.stderr)),
        ),
    };
    let problem = match (outcome, must_complete, problem) {
        (Outcome::CleanError, true, None) => Some(format!(
            "{described}: every fault was survivable, yet the run failed:\n{}",
            run.stderr
        )),
        (_, _, problem) => problem,
    };
    let error = (outcome == Outcome::CleanError).then(|| {
        run.stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_default()
            .to_string()
    });
    RunReport {
        outcome,
        error,
        problem,
        elapsed: run.elapsed,
    }
}

/// Take every fault the run left queued (a failed artifact stops asking), so the next run
/// starts clean.
fn drain<'a>(world: &World, paths: impl Iterator<Item = &'a String>) {
    for path in paths {
        let mut tries = 0;
        while world.pending_faults(path) > 0 {
            let _ = crate::support::http::get(&world.url(path));
            tries += 1;
            assert!(tries < 20, "cannot drain the faults of {path}");
        }
    }
}

#[test]
fn faults_lock_is_complete_or_a_clean_error() {
    if !tools::require(&[&tools::DOCKER_REGISTRY]) {
        return;
    }
    let started = Instant::now();
    let env_number = |name: &str| {
        std::env::var(name).ok().map(|v| {
            v.parse::<u64>()
                .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        })
    };
    let seed = env_number("MODELBENCH_FAULT_SEED").unwrap_or(SEED);
    let runs = env_number("MODELBENCH_FAULT_RUNS").map_or(RUNS_PER_WORKER, |n| n as usize);
    let reports: Vec<(usize, Vec<RunReport>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|worker| {
                scope.spawn(move || {
                    let fx = fixture(worker);
                    let mut rng = XorShift::new(seed ^ ((worker as u64 + 1) << 32));
                    let reports: Vec<RunReport> = (0..runs)
                        .map(|run| {
                            faulted_run(&fx, &mut rng, &format!("worker {worker} run {run}"))
                        })
                        .collect();
                    (worker, reports)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a fault worker panicked"))
            .collect()
    });

    let all: Vec<&RunReport> = reports.iter().flat_map(|(_, r)| r).collect();
    let count = |outcome| all.iter().filter(|r| r.outcome == outcome).count();
    let slowest = all.iter().map(|r| r.elapsed).max().unwrap_or_default();
    let problems: Vec<&String> = all.iter().filter_map(|r| r.problem.as_ref()).collect();
    println!(
        "{} faulted runs: {} complete locks, {} clean errors, {} corrupt locks (slowest run {:.1} s, all in {:.1} s)",
        all.len(),
        count(Outcome::Complete),
        count(Outcome::CleanError),
        count(Outcome::Corrupt),
        slowest.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    // What the clean errors said, by kind of failure.
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for error in all.iter().filter_map(|r| r.error.as_deref()) {
        let reason = [
            (
                "attempt(s): answered",
                "gave up after retrying error statuses",
            ),
            // Any other retried failure (the message is the cause chain, no longer
            // reqwest's `error sending request`).
            ("attempt(s): ", "gave up after retrying broken connections"),
            ("did not send valid JSON", "malformed JSON refused"),
            ("mismatch", "wrong hash refused"),
            ("has no entry", "damaged sums file: no entry for the file"),
            ("is not UTF-8", "damaged signed apt metadata refused"),
            ("signature", "damaged signed apt metadata refused"),
        ]
        .iter()
        .find(|(needle, _)| error.contains(needle))
        .map_or("other", |(_, reason)| reason);
        *reasons.entry(reason).or_default() += 1;
    }
    if std::env::var_os("MODELBENCH_FAULT_VERBOSE").is_some() {
        for error in all.iter().filter_map(|r| r.error.as_deref()) {
            println!("    {error}");
        }
    }
    for (reason, n) in &reasons {
        println!("  {n:>3} clean errors: {reason}");
    }
    assert!(seed != SEED || all.len() >= 100);
    assert!(
        problems.is_empty(),
        "{} run(s) went wrong:\n\n{}",
        problems.len(),
        problems
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    assert!(
        count(Outcome::Complete) >= 20 && count(Outcome::CleanError) >= 20,
        "the mix should give both outcomes often"
    );
}

/// A file download (not just an API call) waits out `Retry-After` (429, and 503 as RFC 9110
/// allows), instead of retrying on its own short backoff and giving up.
/// A project whose spec pins one small file the world serves at `/files/card.txt`.
fn card_project(world: &World, label: &str) -> Project {
    let card = b"model card\n".to_vec();
    world.get("/files/card.txt", Response::bytes(card.clone()));
    world.github_release_fixture(
        "o",
        "r",
        &[FixtureRelease::new("v1", "2026-01-01T00:00:00Z")],
    );
    let project = Project::new();
    let registry = registry::shared().expect("the test checked for docker-registry");
    let base = registry.push_base(&format!("faults/{label}-{}", world.addr().port()));
    project.spec(&format!(
        r#"[image]
name = "mb"
tag = "t"
platforms = ["linux/amd64"]

[base]
image = "{base}"

[stage-2.url.card]
url = "{}"
sha256 = "{}"
dest = "/card.txt"
"#,
        world.url("/files/card.txt"),
        sha256_hex(&card)
    ));
    project
        .sources_file()
        .github_api(world)
        .registry(registry.host())
        .write();
    project
}

#[test]
fn faults_download_waits_out_retry_after() {
    if !tools::require(&[&tools::DOCKER_REGISTRY]) {
        return;
    }
    let world = World::start();
    let project = card_project(&world, "retry-after");
    // Four answers asking for a second's patience: more than the client's own backoff
    // (20 ms base in tests) would ever wait, and one more than its attempts.
    world.faults(
        "/files/card.txt",
        [
            Fault::RetryAfter(429, 1),
            Fault::RetryAfter(503, 1),
            Fault::RetryAfter(429, 1),
        ],
    );
    let run = run_lock(&project);
    assert_eq!(run.status, Some(0), "{}", run.stderr);
    assert!(
        run.elapsed >= Duration::from_secs(3),
        "three `Retry-After: 1` answers were not waited out: the lock took {:?}",
        run.elapsed
    );
    assert_eq!(world.hits("/files/card.txt"), 4);
}

/// A server that trickles a byte now and then never trips the read timeout; the deadline
/// per attempt (here a 1 s floor, `MODELBENCH_DEADLINE_FLOOR_MS`) ends each attempt, the
/// attempt is retried like a timeout, and the error names the URL and the deadline.
#[test]
fn faults_slow_trickle_runs_into_the_deadline() {
    if !tools::require(&[&tools::DOCKER_REGISTRY]) {
        return;
    }
    const FLOOR: &[(&str, &str)] = &[("MODELBENCH_DEADLINE_FLOOR_MS", "1000")];
    // 11 bytes, 400 ms apart: 4.4 s per attempt, well past the 1 s deadline.
    let slow = Fault::TrickleEvery(Duration::from_millis(400));
    let world = World::start();
    let project = card_project(&world, "deadline");
    let url = world.url("/files/card.txt");

    // Every attempt trickles: a clear error after four of them, no lock written.
    world.faults(
        "/files/card.txt",
        std::iter::repeat_n(slow.clone(), ATTEMPTS),
    );
    let run = run_lock_with(&project, FLOOR);
    assert_eq!(run.status, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "cannot resolve url `card`: cannot fetch {url} after 4 attempt(s): no complete answer within its 1.0 s deadline ("
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.elapsed < Duration::from_secs(15),
        "four 1 s deadlines took {:?}",
        run.elapsed
    );
    assert_eq!(world.hits("/files/card.txt"), ATTEMPTS);
    assert!(!project.lock_path().exists());

    // Two slow attempts, then a normal answer: the lock is made.
    world.faults("/files/card.txt", [slow.clone(), slow]);
    let run = run_lock_with(&project, FLOOR);
    assert_eq!(run.status, Some(0), "{}", run.stderr);
    assert_eq!(world.hits("/files/card.txt"), ATTEMPTS + 3);
    assert!(run.elapsed >= Duration::from_secs(2), "{:?}", run.elapsed);
}

/// Issue 21: a refused connection cannot heal by retrying, so it fails at once (no
/// `retrying` line even with `--verbose`); each artifact's line says the URL and the cause
/// once; when most failures share the cause, one line names it and where to look; a
/// failed first lock says nothing was written. Without the opt-in, plain http is refused
/// with the way to opt a host in.
#[test]
fn faults_refused_connections_fail_at_once_with_one_summary() {
    let world = World::start();
    let project = card_project(&world, "refused");
    // A port nothing listens on (bound, then closed): every connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = |file: &str| format!("http://127.0.0.1:{closed}/{file}");
    let mut spec = project.read("specs/test.toml");
    for name in ["a", "b"] {
        spec.push_str(&format!(
            "\n[stage-2.url.{name}]\nurl = \"{}\"\nsha256 = \"{}\"\ndest = \"/{name}.txt\"\n",
            gone(&format!("{name}.txt")),
            sha256_hex(name.as_bytes())
        ));
    }
    project.spec(&spec);
    let registry = registry::shared_required();
    // Plain http is allowed for the world, the registry and (as the nodejs upstream) the
    // closed port: naming a host's http:// base URL is the opt-in.
    let sources = |closed_too: bool| {
        let mut sources = project.sources_file().github_api(&world);
        if closed_too {
            sources = sources.upstream("nodejs", format!("http://127.0.0.1:{closed}"));
        }
        sources.registry(registry.host()).write();
    };
    sources(true);
    let output = project.lock(&["--verbose"]);
    assert_eq!(output.status, Some(1), "{}", output.stderr);
    let errors: Vec<&str> = output
        .stderr
        .lines()
        .skip_while(|line| !line.starts_with("error: "))
        .collect();
    assert_eq!(
        errors,
        [
            format!(
                "error: cannot resolve url `a`: cannot reach {}: connection refused",
                gone("a.txt")
            ),
            format!(
                "cannot resolve url `b`: cannot reach {}: connection refused",
                gone("b.txt")
            ),
            "2 of 2 failed with `connection refused`: likely a firewall or a proxy stands between \
             this machine and the upstreams. Set HTTPS_PROXY for a proxy, or point `lock` at \
             mirrors with `--sources FILE` or MODELBENCH_SOURCES (README, \"Mirrors and proxies\")."
                .to_string(),
            "nothing was written (lock/test/bench.lock was not created)".to_string(),
        ],
        "{}",
        output.stderr
    );
    assert!(!output.stderr.contains("retrying"), "{}", output.stderr);
    assert!(!project.lock_path().exists());

    // Not opted in: refused before any connection, with the opt-in that exists.
    sources(false);
    let output = project.lock(&[]);
    assert_eq!(output.status, Some(1), "{}", output.stderr);
    output.assert_stderr_contains(&format!(
            "cannot resolve url `a`: {} is plain http; to allow this host, name its http:// base \
             URL in a sources file (`--sources FILE` or MODELBENCH_SOURCES; README \"Sources file\")",
            gone("a.txt")
        ));
    assert!(!output.stderr.contains("failed with"), "{}", output.stderr);
}

/// Issue 16: a server that trickles is cut by the throughput window (here 300 ms and
/// 1 KiB, `MODELBENCH_THROUGHPUT_*`) long before the attempt's deadline (120 s floor).
#[test]
fn faults_a_trickle_fails_the_throughput_window_before_the_deadline() {
    const WINDOW: &[(&str, &str)] = &[
        ("MODELBENCH_THROUGHPUT_WINDOW_MS", "300"),
        ("MODELBENCH_THROUGHPUT_MIN_BYTES", "1024"),
    ];
    let world = World::start();
    let project = card_project(&world, "window");
    // 11 bytes, 100 ms apart: 1.1 s per attempt, far below 1 KiB per 300 ms, and well
    // inside the default 120 s deadline floor.
    world.faults(
        "/files/card.txt",
        std::iter::repeat_n(Fault::TrickleEvery(Duration::from_millis(100)), ATTEMPTS),
    );
    let run = run_lock_with(&project, WINDOW);
    assert_eq!(run.status, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "cannot resolve url `card`: cannot fetch {} after 4 attempt(s): only ",
            world.url("/files/card.txt")
        )) && run
            .stderr
            .contains("arrived in 300ms, the least accepted is 1 KiB per window"),
        "{}",
        run.stderr
    );
    assert_eq!(world.hits("/files/card.txt"), ATTEMPTS);
    assert!(!project.lock_path().exists());
}
