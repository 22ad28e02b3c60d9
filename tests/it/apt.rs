//! apt: Debian version ordering against dpkg's own test vectors, archive metadata on a
//! loopback world (signatures, hashes, mirrors, flat repositories, snapshots), and the
//! closure against `apt-get install -s` on real Debian data (opt-in, cached).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use modelbench::net::Client;
use modelbench::platform::Platform;
use modelbench::resolve::apt::closure::{Index, Universe, Wanted};
use modelbench::resolve::apt::openpgp::Keyring;
use modelbench::resolve::apt::version::{self, Relation, Severity, Version};
use modelbench::resolve::apt::{self as apt, AptRequest, Archive, BaseSources, StatusSource};
use modelbench::resolve::{Context, Problem};
use modelbench::sources::Sources;
use serde_json::Value;

use crate::support::sources::SourcesFile;
use crate::support::world::{Response, World};

const PEER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/peer/debian-version.json"
);
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/apt");

// ---------------------------------------------------------------------------------------
// dpkg's version vectors

fn cmp_sign(ordering: std::cmp::Ordering) -> i64 {
    ordering as i64
}

fn relation(op: &str) -> Relation {
    Relation::parse(op).unwrap_or_else(|| panic!("unknown relation {op}"))
}

#[test]
fn peer_debian_versions_every_mode() {
    let data: Value =
        serde_json::from_str(&std::fs::read_to_string(PEER).expect("read the peer vectors"))
            .expect("json");
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut record = |mode: &'static str, ok: bool, what: String| {
        let entry = counts.entry(mode).or_default();
        entry.0 += 1;
        if ok {
            entry.1 += 1;
        } else {
            failures.push(format!("{mode}: {what}"));
        }
    };
    let lenient = |text: &str| Version::parse_lenient(text).map(|(v, _)| v);

    for case in data["compare"].as_array().expect("compare") {
        let (a, b) = (case["a"].as_str().unwrap(), case["b"].as_str().unwrap());
        let want = case["cmp"].as_i64().unwrap();
        let result = match (lenient(a), lenient(b)) {
            (Ok(va), Ok(vb)) => {
                let mut ok = cmp_sign(va.cmp(&vb)) == want && cmp_sign(vb.cmp(&va)) == -want;
                for (version, parts) in [(&va, &case["a_parts"]), (&vb, &case["b_parts"])] {
                    if parts.is_object() {
                        ok &= i64::from(version.epoch()) == parts["epoch"].as_i64().unwrap()
                            && version.upstream() == parts["upstream"].as_str().unwrap()
                            && version.revision() == parts["revision"].as_str().unwrap();
                    }
                }
                // Equal versions must hash alike (they key maps in the solver).
                if want == 0 {
                    use std::hash::{BuildHasher, RandomState};
                    let state = RandomState::new();
                    ok &= state.hash_one(&va) == state.hash_one(&vb);
                }
                (
                    ok,
                    format!("{a} vs {b}: got {:?}, want {want}", va.cmp(&vb)),
                )
            }
            (ra, rb) => (false, format!("{a} vs {b}: parse {ra:?} {rb:?}")),
        };
        record("compare", result.0, result.1);
    }

    for case in data["relate"].as_array().expect("relate") {
        let (a, b, op) = (
            case["a"].as_str().unwrap(),
            case["b"].as_str().unwrap(),
            case["op"].as_str().unwrap(),
        );
        let want = case["result"].as_bool().unwrap();
        let got = lenient(a)
            .unwrap()
            .relate(relation(op), &lenient(b).unwrap());
        record("relate", got == want, format!("{a} {op} {b}: got {got}"));
    }

    for case in data["parse_valid"].as_array().expect("parse_valid") {
        let text = case["version"].as_str().unwrap();
        let result = match Version::parse(text) {
            Ok(v) => (
                i64::from(v.epoch()) == case["epoch"].as_i64().unwrap()
                    && v.upstream() == case["upstream"].as_str().unwrap()
                    && v.revision() == case["revision"].as_str().unwrap()
                    && v.has_revision() != case["revision"].as_str().unwrap().is_empty(),
                format!(
                    "{text:?}: {} / {} / {}",
                    v.epoch(),
                    v.upstream(),
                    v.revision()
                ),
            ),
            Err(err) => (false, format!("{text:?}: {err}")),
        };
        record("parse_valid", result.0, result.1);
    }

    for case in data["invalid"].as_array().expect("invalid") {
        let text = case["version"].as_str().unwrap();
        let strict_rejects = Version::parse(text).is_err();
        let ok = match case.get("severity").and_then(Value::as_str) {
            Some("error") => {
                strict_rejects
                    && matches!(Version::parse_lenient(text), Err(e) if e.severity == Severity::Error)
            }
            Some("warning") => {
                strict_rejects
                    && matches!(Version::parse_lenient(text), Ok((_, Some(w))) if w.severity == Severity::Warning)
            }
            Some(other) => panic!("unknown severity {other}"),
            None => strict_rejects,
        };
        record(
            "invalid",
            ok,
            format!(
                "{text:?} ({:?}): strict {:?}, lenient {:?}",
                case.get("severity"),
                Version::parse(text),
                Version::parse_lenient(text)
            ),
        );
    }

    for case in data["sorted"].as_array().expect("sorted") {
        let mut items: Vec<String> = case["unsorted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let want: Vec<String> = case["sorted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        match case["function"].as_str().unwrap() {
            "version_compare" => items.sort_by_key(|a| lenient(a).unwrap()),
            "version_compare_part" => items.sort_by(|a, b| version::compare_part(a, b)),
            "version_compare_string" => items.sort_by(|a, b| version::compare_string(a, b)),
            other => panic!("unknown sort function {other}"),
        }
        record(
            "sorted",
            items == want,
            format!("{}: got {items:?}", case["function"]),
        );
    }

    for case in data["components"].as_array().expect("components") {
        let text = case["version"].as_str().unwrap();
        let v = lenient(text).unwrap();
        let ok = v.has_epoch() == case["has_epoch"].as_bool().unwrap()
            && v.has_revision() == case["has_revision"].as_bool().unwrap();
        record(
            "components",
            ok,
            format!(
                "{text}: epoch {} revision {}",
                v.has_epoch(),
                v.has_revision()
            ),
        );
    }

    let summary: Vec<String> = counts
        .iter()
        .map(|(mode, (total, passed))| format!("{mode} {passed}/{total}"))
        .collect();
    eprintln!("debian-version.json: {}", summary.join(", "));
    let expected = [
        ("compare", 52),
        ("components", 5),
        ("invalid", 72),
        ("parse_valid", 17),
        ("relate", 15),
        ("sorted", 3),
    ];
    for (mode, count) in expected {
        assert_eq!(
            counts.get(mode).map(|c| c.0),
            Some(count),
            "case count of {mode}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Archive metadata on loopback

/// Serve every file of `tests/fixtures/apt/<dir>` under `prefix`.
fn serve_dir(world: &World, dir: &str, prefix: &str) {
    fn walk(world: &World, root: &Path, at: &Path, prefix: &str) {
        for entry in std::fs::read_dir(at).expect("read fixture dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(world, root, &path, prefix);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                world.get(
                    &format!("{prefix}/{relative}"),
                    Response::bytes(std::fs::read(&path).unwrap()),
                );
            }
        }
    }
    let root = Path::new(FIXTURES).join(dir);
    walk(world, &root, &root, prefix);
}

fn keyring(name: &str) -> String {
    format!("{FIXTURES}/keyring/{name}")
}

fn context(world: &World, platforms: Vec<Platform>) -> Context {
    Context::with_client(
        Client::new(false, vec![world.addr().to_string()]),
        Sources::default(),
        platforms,
    )
}

fn archive(uris: Vec<String>, suites: &[&str], components: &[&str]) -> Archive {
    Archive {
        uris,
        suites: suites.iter().map(|s| s.to_string()).collect(),
        components: components.iter().map(|s| s.to_string()).collect(),
        signed_by: vec![keyring("test-archive.gpg")],
        trusted: false,
        architectures: vec![],
        snapshot: None,
        priority: None,
    }
}

fn request(packages: &[&str], archives: Vec<Archive>) -> AptRequest {
    AptRequest {
        packages: packages.iter().map(|s| s.to_string()).collect(),
        recommends: true,
        archives,
        status: StatusSource::Empty,
        earlier: Vec::new(),
        dir: Default::default(),
        base_sources: Default::default(),
    }
}

fn run(ctx: &Context, request: &AptRequest) -> Result<modelbench::lock::Artifact, Problem> {
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(apt::resolve(ctx, "test", request))
        .and_then(|wire| {
            modelbench::lock::Artifact::try_from(wire).map_err(|e| Problem::msg(e.to_string()))
        })
}

#[test]
fn closure_from_a_signed_archive_with_mirror_canonical_and_snapshot_urls() {
    let world = World::start();
    serve_dir(&world, "repo", "/mirror");
    serve_dir(&world, "repo", "/canonical");
    let ctx = context(&world, vec![Platform::LinuxAmd64, Platform::LinuxArm64]);
    let request = request(
        &["hello", "tool"],
        vec![archive(
            vec![world.url("/mirror"), world.url("/canonical")],
            &["stable", "stable-backports"],
            &["main"],
        )],
    );
    let artifact = run(&ctx, &request).expect("resolves");
    let names: Vec<(String, String, String)> = artifact
        .packages
        .iter()
        .map(|p| {
            (
                p.platform.to_string(),
                p.name.to_string(),
                p.version.to_string(),
            )
        })
        .collect();
    for platform in ["linux/amd64", "linux/arm64"] {
        let here: BTreeSet<&str> = names
            .iter()
            .filter(|(p, _, _)| p == platform)
            .map(|(_, n, _)| n.as_str())
            .collect();
        // hello 2.10 from stable (backports is NotAutomatic + ButAutomaticUpgrades: 100 < 500),
        // libgreet1 (first alternative), the recommended doc, tool's python3:any and an
        // editor (nano: Priority important beats vim-tiny's optional).
        assert_eq!(
            here,
            BTreeSet::from([
                "hello",
                "hello-doc",
                "libc6",
                "libgreet1",
                "nano",
                "python3",
                "tool"
            ]),
            "{platform}"
        );
    }
    let hello = artifact
        .packages
        .iter()
        .find(|p| p.name == "hello" && p.platform == "linux/arm64")
        .unwrap();
    assert_eq!(hello.version, "2.10-3");
    assert_eq!(hello.arch.as_deref(), Some("arm64"));
    assert!(hello.requested);
    assert_eq!(hello.file, "hello_2.10-3_arm64.deb");
    assert_eq!(
        hello.urls,
        vec![
            world.url("/mirror/pool/main/h/hello/hello_2.10-3_arm64.deb"),
            world.url("/canonical/pool/main/h/hello/hello_2.10-3_arm64.deb"),
            // The Release's `Snapshots:` template, six hours after its Date.
            "http://snapshot.invalid/test/20260711T161637Z/pool/main/h/hello/hello_2.10-3_arm64.deb".to_string(),
        ]
    );
    assert_eq!(hello.size, Some(53000));
    let libc = artifact
        .packages
        .iter()
        .find(|p| p.name == "libc6" && p.platform == "linux/amd64")
        .unwrap();
    assert!(!libc.requested);
    assert_eq!(
        libc.required_by,
        vec!["hello", "libgreet1", "nano", "python3"]
    );
    assert!(artifact.version.starts_with("sha256:"));
    assert_eq!(artifact.published.as_deref(), Some("2026-07-11T10:16:37Z"));
    // The mirror answered; the canonical host was never asked.
    assert_eq!(world.hits("/canonical/dists/stable/InRelease"), 0);
}

#[test]
fn mirror_down_falls_back_to_the_canonical_archive() {
    let world = World::start();
    serve_dir(&world, "repo", "/canonical");
    let ctx = context(&world, vec![Platform::LinuxAmd64]);
    let request = request(
        &["hello"],
        vec![archive(
            vec![world.url("/down"), world.url("/canonical")],
            &["stable"],
            &["main"],
        )],
    );
    let artifact = run(&ctx, &request).expect("resolves through the second URI");
    let hello = artifact
        .packages
        .iter()
        .find(|p| p.name == "hello")
        .unwrap();
    assert_eq!(
        hello.urls[0],
        world.url("/down/pool/main/h/hello/hello_2.10-3_amd64.deb")
    );
    assert_eq!(
        hello.urls[1],
        world.url("/canonical/pool/main/h/hello/hello_2.10-3_amd64.deb")
    );
}

#[test]
fn release_and_detached_signature_when_there_is_no_inrelease() {
    let world = World::start();
    serve_dir(&world, "repo", "/r");
    world.get("/r/dists/stable/InRelease", Response::status(404));
    let ctx = context(&world, vec![Platform::LinuxAmd64]);
    let mut source = archive(vec![world.url("/r")], &["stable"], &["main"]);
    source.signed_by = vec![keyring("test-archive.asc")];
    let artifact =
        run(&ctx, &request(&["hello"], vec![source])).expect("Release + Release.gpg verify");
    assert!(artifact.packages.iter().any(|p| p.name == "hello"));
    assert_eq!(world.hits("/r/dists/stable/Release.gpg"), 1);
}

#[test]
fn wrong_keyring_and_tampered_release_are_refused() {
    let world = World::start();
    serve_dir(&world, "repo", "/r");
    let ctx = context(&world, vec![Platform::LinuxAmd64]);
    let mut source = archive(vec![world.url("/r")], &["stable"], &["main"]);
    source.signed_by = vec![keyring("other.gpg")];
    let err = run(&ctx, &request(&["hello"], vec![source.clone()]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no good signature") && err.contains("unknown key"),
        "{err}"
    );

    let inrelease =
        std::fs::read_to_string(format!("{FIXTURES}/repo/dists/stable/InRelease")).unwrap();
    let tampered = inrelease.replacen("Label: modelbench test", "Label: modelbench evil", 1);
    world.get("/r/dists/stable/InRelease", Response::text(tampered));
    source.signed_by = vec![keyring("test-archive.gpg")];
    let err = run(&ctx, &request(&["hello"], vec![source.clone()]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("BAD signature"), "{err}");

    // Checked against the shipped keys only (the spec names no keyring): the message
    // says how to name the archive's own.
    world.get(
        "/r/dists/stable/InRelease",
        Response::bytes(inrelease.clone()),
    );
    source.signed_by = vec![
        "builtin:ubuntu-archive-keyring".into(),
        "builtin:debian-archive-keyring".into(),
    ];
    let err = run(&ctx, &request(&["hello"], vec![source.clone()]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown key"), "{err}");
    assert!(
        err.contains("builtin:ubuntu-archive-keyring, builtin:debian-archive-keyring"),
        "{err}"
    );
    assert!(
        err.contains("name the archive's own keyring in `signed-by`"),
        "{err}"
    );

    // No keyring and not marked trusted: refused before any fetch.
    source.signed_by.clear();
    let err = run(&ctx, &request(&["hello"], vec![source.clone()]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("names no keyring"), "{err}");
    // `trusted` takes the unsigned text (the index hashes are still checked).
    source.trusted = true;
    run(&ctx, &request(&["hello"], vec![source])).expect("trusted source");
}

#[test]
fn an_index_that_does_not_match_the_release_hash_is_refused() {
    let world = World::start();
    serve_dir(&world, "repo", "/r");
    let mut xz = std::fs::read(format!(
        "{FIXTURES}/repo/dists/stable/main/binary-amd64/Packages.xz"
    ))
    .unwrap();
    let last = xz.len() - 20;
    xz[last] ^= 0x55;
    world.get(
        "/r/dists/stable/main/binary-amd64/Packages.xz",
        Response::bytes(xz),
    );
    let ctx = context(&world, vec![Platform::LinuxAmd64]);
    let err = run(
        &ctx,
        &request(
            &["hello"],
            vec![archive(vec![world.url("/r")], &["stable"], &["main"])],
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("sha256 mismatch") && err.contains("Packages.xz"),
        "{err}"
    );
}

#[test]
fn flat_repository_like_nvidias() {
    let world = World::start();
    serve_dir(&world, "flat", "/cuda/repos/ubuntu2404/x86_64");
    let ctx = context(&world, vec![Platform::LinuxAmd64]);
    let base = world.url("/cuda/repos/ubuntu2404/x86_64/");
    let mut source = archive(vec![base.clone()], &["/"], &[]);
    source.architectures = vec!["amd64".into()];
    let artifact =
        run(&ctx, &request(&["cuda-keyring"], vec![source])).expect("flat repo resolves");
    let names: Vec<&str> = artifact.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["cuda-keyring", "cuda-toolkit-config-common"]);
    assert_eq!(
        artifact.packages[0].urls,
        vec![world.url("/cuda/repos/ubuntu2404/x86_64/cuda-keyring_1.1-1_all.deb")]
    );
    assert_eq!(artifact.packages[0].arch.as_deref(), Some("all"));
}

#[test]
fn missing_packages_name_the_suites_and_the_closest_names() {
    let world = World::start();
    serve_dir(&world, "repo", "/r");
    let ctx = context(&world, vec![Platform::LinuxAmd64]);
    let source = archive(vec![world.url("/r")], &["stable"], &["main"]);
    let err = run(&ctx, &request(&["helo"], vec![source.clone()]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no package `helo` in stable/main for amd64") && err.contains("hello"),
        "{err}"
    );
    let artifact = run(&ctx, &request(&["libgl1-mesa-glx | hello"], vec![source]))
        .expect("second alternative");
    assert!(
        artifact
            .packages
            .iter()
            .any(|p| p.name == "hello" && p.requested)
    );
}

#[test]
fn status_file_leaves_installed_packages_alone() {
    let world = World::start();
    serve_dir(&world, "repo", "/r");
    let ctx = context(&world, vec![Platform::LinuxAmd64]);
    let dir = crate::support::temp_dir();
    let status = dir.path().join("status");
    std::fs::write(
        &status,
        "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 2.36-9\n\n\
         Package: libgreet0\nStatus: install ok installed\nArchitecture: amd64\nVersion: 0.9-1\n",
    )
    .unwrap();
    let mut request = request(
        &["hello"],
        vec![archive(vec![world.url("/r")], &["stable"], &["main"])],
    );
    request.recommends = false;
    request.status = StatusSource::from_file(status.to_str().unwrap()).unwrap();
    let artifact = run(&ctx, &request).expect("resolves");
    let names: Vec<&str> = artifact.packages.iter().map(|p| p.name.as_str()).collect();
    // libc6 is installed; libgreet0 (second alternative) is installed, so no libgreet1.
    assert_eq!(names, vec!["hello"]);
    std::fs::write(&status, "").unwrap();
    let err = run(&ctx, &request).unwrap_err().to_string();
    assert!(
        err.contains("changed since the request was planned"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// The oracle: apt-get itself on Debian bookworm main amd64 and a minbase status

/// Package sets compared with apt, each with and without Recommends. (Desktop-sized sets
/// such as `gnome-core`, 1085 packages, agree as well but take apt's simulation over ten
/// seconds each.)
const ORACLE_SETS: &[(&str, &[&str])] = &[
    (
        "seed editors and tools",
        &[
            "nano", "micro", "mc", "tmux", "curl", "wget", "git", "git-lfs", "unzip",
        ],
    ),
    (
        "seed GUI/vision",
        &[
            "qimgv",
            "libgl1-mesa-glx | libgl1",
            "libglib2.0-0",
            "libsm6",
            "libxext6",
            "libxrender1",
            "x11-apps",
            "xauth",
            "libopencv-dev",
        ],
    ),
    ("seed python", &["python3", "python3-pip", "python3-venv"]),
    (
        "whole seed list",
        &[
            "nano",
            "micro",
            "mc",
            "tmux",
            "curl",
            "wget",
            "git",
            "git-lfs",
            "unzip",
            "qimgv",
            "libgl1-mesa-glx | libgl1",
            "libglib2.0-0",
            "libsm6",
            "libxext6",
            "libxrender1",
            "x11-apps",
            "xauth",
            "libopencv-dev",
            "python3",
            "python3-pip",
            "python3-venv",
        ],
    ),
    ("build tools", &["build-essential", "cmake", "pkg-config"]),
    (
        "ssh server and network",
        &[
            "openssh-server",
            "ca-certificates",
            "iproute2",
            "iputils-ping",
            "dnsutils",
        ],
    ),
    ("media", &["ffmpeg", "imagemagick"]),
    ("web stack (php alternatives)", &["apache2", "php"]),
    ("mail (virtual mail-transport-agent)", &["mutt"]),
    (
        "java (alternatives, virtual java runtimes)",
        &["default-jre-headless"],
    ),
];

struct OracleData {
    dir: PathBuf,
    packages: String,
    status: String,
}

fn oracle_dir() -> PathBuf {
    std::env::var_os("MODELBENCH_APT_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/apt-oracle"))
}

/// The cached index and status, fetched once with `MODELBENCH_LIVE=1`.
fn oracle_data() -> Option<OracleData> {
    let dir = oracle_dir();
    let files = ["InRelease", "Packages", "minbase.status"];
    if !files.iter().all(|f| dir.join(f).is_file()) {
        if std::env::var("MODELBENCH_LIVE").as_deref() != Ok("1") {
            eprintln!(
                "apt oracle skipped: no cached data in {} (run once with MODELBENCH_LIVE=1, as root, with debootstrap and apt-get)",
                dir.display()
            );
            return None;
        }
        fetch_oracle_data(&dir);
    }
    Some(OracleData {
        packages: std::fs::read_to_string(dir.join("Packages")).expect("cached Packages"),
        status: std::fs::read_to_string(dir.join("minbase.status")).expect("cached status"),
        dir,
    })
}

/// Fetch bookworm main amd64 through modelbench's own index code (signature and hashes
/// checked against the system's Debian keyring), and make a minbase with debootstrap.
fn fetch_oracle_data(dir: &Path) {
    std::fs::create_dir_all(dir).expect("create the oracle cache");
    let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
    let source = Archive {
        uris: vec!["https://deb.debian.org/debian".into()],
        suites: vec!["bookworm".into()],
        components: vec!["main".into()],
        signed_by: vec![keyring.into()],
        trusted: false,
        architectures: vec![],
        snapshot: None,
        priority: None,
    };
    let client = Client::new(false, vec![]);
    let keys =
        Keyring::parse(&std::fs::read(keyring).expect("Debian keyring")).expect("keyring parses");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let indices = runtime
        .block_on(apt::index::fetch_archive(
            &client,
            0,
            &source,
            "amd64",
            Some(&keys),
            now,
            None,
        ))
        .expect("bookworm main amd64 fetches and verifies");
    let inrelease = runtime
        .block_on(client.get_ok(
            "https://deb.debian.org/debian/dists/bookworm/InRelease",
            &[],
            64 << 20,
        ))
        .expect("InRelease")
        .body;
    std::fs::write(dir.join("Packages"), &indices[0].text).unwrap();
    std::fs::write(dir.join("InRelease"), inrelease).unwrap();
    let target = dir.join("minbase");
    let status = Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&target)
        .arg("https://deb.debian.org/debian")
        .status()
        .expect("run debootstrap (needs root)");
    assert!(status.success(), "debootstrap failed");
    std::fs::copy(
        target.join("var/lib/dpkg/status"),
        dir.join("minbase.status"),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&target);
}

/// `Inst` lines of `apt-get install -s` on the cached data, as `name version`. `root` is
/// apt's scratch directory, shared by the runs of one test so its cache is built once.
fn apt_get_inst(
    data: &OracleData,
    root: &Path,
    names: &[String],
    recommends: bool,
) -> Option<BTreeSet<String>> {
    let lists = root.join("lists");
    std::fs::create_dir_all(lists.join("partial")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    let index = lists.join("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages");
    if !index.exists() {
        std::fs::copy(
            data.dir.join("InRelease"),
            lists.join("deb.debian.org_debian_dists_bookworm_InRelease"),
        )
        .unwrap();
        std::fs::copy(data.dir.join("Packages"), index).unwrap();
    }
    std::fs::write(
        root.join("sources.list"),
        "deb http://deb.debian.org/debian bookworm main\n",
    )
    .unwrap();
    let empty = root.join("empty");
    std::fs::write(
        root.join("apt.conf"),
        format!(
            "Dir::Etc::Parts \"{}\";\nDir::Etc::main \"/dev/null\";\n",
            empty.display()
        ),
    )
    .unwrap();
    let opt = |k: &str, v: &Path| format!("{k}={}", v.display());
    let output = Command::new("apt-get")
        .env("APT_CONFIG", root.join("apt.conf"))
        .args(["install", "-s", "-q"])
        .arg("-o")
        .arg(opt("Dir::State::status", &data.dir.join("minbase.status")))
        .arg("-o")
        .arg(opt("Dir::State::Lists", &lists))
        .arg("-o")
        .arg(opt("Dir::Cache", &root.join("cache")))
        .arg("-o")
        .arg(opt("Dir::Etc::SourceList", &root.join("sources.list")))
        .arg("-o")
        .arg(opt("Dir::Etc::SourceParts", &empty))
        .arg("-o")
        .arg("Dir::Etc::Preferences=/dev/null")
        .arg("-o")
        .arg(opt("Dir::Etc::PreferencesParts", &empty))
        .arg("-o")
        .arg(opt(
            "Dir::State::extended_states",
            &root.join("extended_states"),
        ))
        .args([
            "-o",
            "APT::Architecture=amd64",
            "-o",
            "APT::Architectures=amd64",
            "-o",
            "Debug::NoLocking=1",
        ])
        .arg("-o")
        .arg(format!("APT::Install-Recommends={recommends}"))
        .args(["-o", "APT::Install-Suggests=false"])
        .args(names)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "apt-get failed:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(
        text.lines()
            .filter_map(|line| line.strip_prefix("Inst "))
            .map(|rest| {
                let name = rest.split_whitespace().next().unwrap();
                let version = rest
                    .split('(')
                    .nth(1)
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap();
                format!("{name} {version}")
            })
            .collect(),
    )
}

#[test]
fn oracle_closure_equals_apt_get_install_simulation() {
    let Some(data) = oracle_data() else { return };
    if Command::new("apt-get").arg("--version").output().is_err() {
        eprintln!("apt oracle skipped: apt-get is not installed");
        return;
    }
    // The cached InRelease is Debian's, signed: check it with the system keyring too.
    if let Ok(keyring) = std::fs::read("/usr/share/keyrings/debian-archive-keyring.gpg") {
        let keys = Keyring::parse(&keyring).unwrap();
        let inrelease = std::fs::read_to_string(data.dir.join("InRelease")).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let verified = keys.verify_cleartext(&inrelease, now).map(|v| v.signers);
        assert!(
            verified.is_ok(),
            "Debian's InRelease verifies: {verified:?}"
        );
        let tampered = inrelease.replacen("Origin: Debian", "Origin: Debiam", 1);
        let refused = keys.verify_cleartext(&tampered, now);
        assert!(
            refused.is_err(),
            "a changed InRelease is refused: {refused:?}"
        );
    }
    let index = [Index {
        text: &data.packages,
        priority: 500,
        label: "bookworm/main".into(),
    }];
    let universe = Universe::build(&index, &data.status, "amd64").expect("universe");
    eprintln!(
        "oracle: {} packages, {} installed in the minbase",
        universe.package_count(),
        universe.installed_count()
    );
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let apt_root = crate::support::temp_dir();
    for (title, set) in ORACLE_SETS {
        let wanted: Vec<Wanted> = set.iter().map(|w| Wanted::parse(w).unwrap()).collect();
        let names = universe
            .picked_names(&wanted)
            .expect("every name exists in bookworm");
        for recommends in [true, false] {
            let ours: BTreeSet<String> = universe
                .solve(&wanted, recommends)
                .unwrap_or_else(|err| panic!("{title}: {err}"))
                .into_iter()
                .map(|c| format!("{} {}", c.name, c.version))
                .collect();
            let Some(theirs) = apt_get_inst(&data, apt_root.path(), &names, recommends) else {
                eprintln!("apt oracle skipped: apt-get did not run");
                return;
            };
            let line = format!(
                "{title} (recommends {}): modelbench {} / apt {} {}",
                if recommends { "on" } else { "off" },
                ours.len(),
                theirs.len(),
                if ours == theirs { "equal" } else { "DIFFERENT" }
            );
            report.push(line.clone());
            if ours != theirs {
                let extra: Vec<&String> = ours.difference(&theirs).collect();
                let missing: Vec<&String> = theirs.difference(&ours).collect();
                failures.push(format!(
                    "{line}\n  only modelbench: {extra:?}\n  only apt: {missing:?}"
                ));
            }
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(report.len() >= 16);
}

// ---------------------------------------------------------------------------------------
// The shipped archive keys

/// The command prefix that runs a program with `/usr/share/keyrings` empty (`unshare`
/// with a private mount namespace), checked once; `None` after saying why when this
/// machine cannot (not root and no user namespaces), and a failure under CI.
fn hiding_host_keyrings() -> Option<Vec<String>> {
    let script = "mount -t tmpfs modelbench-test /usr/share/keyrings && [ -z \"$(ls -A /usr/share/keyrings)\" ] && exec \"$@\"";
    for namespaces in [&["--mount"][..], &["--user", "--map-root-user", "--mount"]] {
        let mut prefix = vec!["unshare".to_string()];
        prefix.extend(namespaces.iter().map(|s| s.to_string()));
        prefix.extend(["sh", "-c", script, "sh"].map(String::from));
        let probe = std::process::Command::new(&prefix[0])
            .args(&prefix[1..])
            .arg("true")
            .output();
        if probe.is_ok_and(|o| o.status.success()) {
            return Some(prefix);
        }
    }
    let message = "cannot hide the host's /usr/share/keyrings: install util-linux (unshare) and run as root or allow user namespaces";
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("SKIPPED (part): {message}; locking with the host's keyrings present");
    None
}

/// `lock` on any host: the spec names no keyring, so Debian's real trixie `InRelease`
/// (recorded once, `tests/fixtures/apt/debian-trixie/SOURCE.md`) is checked against the
/// keys compiled into modelbench, never a keyring file of the machine.
#[test]
fn lock_checks_a_real_debian_archive_with_the_shipped_keys() {
    use crate::support::project::{Project, artifact};

    let world = World::start();
    serve_dir(&world, "debian-trixie", "/debian");
    // The base comes from the world playing a registry (its status is not read here).
    let layer = gzip_fast(&tar_of(&[("etc/hostname", b"keys\n")]));
    let (base, _) = serve_image(&world, "keys/base", &[(OCI_LAYER_GZIP, &layer)]);
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-keys"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "{base}"

[apt]
recommends = false
status = "empty"

[[apt.archives]]
uris = ["{archive}"]
suites = ["trixie"]
components = ["non-free-firmware"]

[stage-1]
apt = ["firmware-linux-nonfree"]
"#,
        archive = world.url("/debian"),
    ));
    project.sources_file().world_registry(&world).write();
    // The CLI keeps its cache where MODELBENCH_CACHE_DIR says.
    let cache = project.path("cache");
    let run_lock = |extra: &[&str]| {
        crate::support::run(
            project
                .lock_command(extra)
                .env("MODELBENCH_CACHE_DIR", &cache),
        )
    };
    // First with the host's keyrings hidden (an empty tmpfs on /usr/share/keyrings in a
    // mount namespace of its own), where the machine allows it.
    let output = match hiding_host_keyrings() {
        Some(unshare) => {
            let mut lock = project.lock_command(&[]);
            lock.env("MODELBENCH_CACHE_DIR", &cache);
            let mut hidden = std::process::Command::new(&unshare[0]);
            hidden
                .args(&unshare[1..])
                .arg(lock.get_program())
                .args(lock.get_args())
                .current_dir(project.dir.path())
                .env_remove("MODELBENCH_SOURCES")
                .env_remove("GITHUB_TOKEN");
            for (name, value) in lock.get_envs() {
                match value {
                    Some(value) => hidden.env(name, value),
                    None => hidden.env_remove(name),
                };
            }
            crate::support::run(&mut hidden)
        }
        None => run_lock(&[]),
    };
    assert!(output.success(), "{}", output.combined());
    assert_eq!(world.hits("/debian/dists/trixie/InRelease"), 1);
    // The index, stored under the hash Debian's signed Release lists for it.
    assert!(
        cache
            .join("apt/by-hash/sha256-a6805dc5ddda1c8038f410f59be9e3442810deb8f499d2a14c2df5cc50bba311")
            .is_file()
    );
    let lock = project.lock_toml();
    let members: BTreeMap<String, String> = artifact(&lock, "apt", "stage-1")["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["hash"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Debian's closure of firmware-linux-nonfree without Recommends, hashes from the real
    // index (checked against the signed Release).
    let packages = String::from_utf8(
        apt::index::decompress(
            "Packages.xz",
            &std::fs::read(format!(
                "{FIXTURES}/debian-trixie/dists/trixie/non-free-firmware/binary-amd64/Packages.xz"
            ))
            .unwrap(),
            "fixture Packages.xz",
            64 << 20,
        )
        .unwrap(),
    )
    .unwrap();
    let sha256_of = |name: &str| {
        let stanza = packages
            .split("\n\n")
            .find(|s| s.starts_with(&format!("Package: {name}\n")))
            .unwrap_or_else(|| panic!("{name} in the index"));
        let line = stanza
            .lines()
            .find_map(|l| l.strip_prefix("SHA256: "))
            .unwrap();
        format!("sha256:{line}")
    };
    let expected: BTreeMap<String, String> = [
        "firmware-amd-graphics",
        "firmware-linux-nonfree",
        "firmware-misc-nonfree",
    ]
    .iter()
    .map(|n| (n.to_string(), sha256_of(n)))
    .collect();
    assert_eq!(members, expected);

    // The same archive with one byte of the signed text changed is refused.
    let inrelease =
        std::fs::read_to_string(format!("{FIXTURES}/debian-trixie/dists/trixie/InRelease"))
            .unwrap();
    world.get(
        "/debian/dists/trixie/InRelease",
        Response::text(inrelease.replacen("Version: 13.8", "Version: 13.9", 1)),
    );
    let output = run_lock(&["--update"]);
    assert!(!output.success(), "{}", output.combined());
    output.assert_stderr_contains("BAD signature");
}

// ---------------------------------------------------------------------------------------
// The base image's dpkg status, streamed from its layers

const GOOD_STATUS: &str = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 2.36-9\n\n\
     Package: libgreet0\nStatus: install ok installed\nArchitecture: amd64\nVersion: 0.9-1\n";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// One ustar header (checksum included) for a regular file.
fn tar_header(name: &str, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A tar of `files` (name, bytes) in order, with the closing zero blocks.
fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, bytes) in files {
        out.extend_from_slice(&tar_header(name, bytes.len() as u64));
        out.extend_from_slice(bytes);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// `n` bytes no compressor can shrink (xorshift), generated at test time.
fn incompressible(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(n);
    out
}

fn gzip_fast(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    std::io::Write::write_all(&mut gz, bytes).unwrap();
    gz.finish().unwrap()
}

/// A registry on the world with one single-platform image, `layers` bottom first
/// (media type, blob); returns the image reference and each layer's blob path.
fn serve_image(world: &World, repo: &str, layers: &[(&str, &[u8])]) -> (String, Vec<String>) {
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let digest = |bytes: &[u8]| format!("sha256:{}", crate::support::sha256_hex(bytes));
    let mut descriptors = Vec::new();
    let mut paths = Vec::new();
    for (media_type, blob) in layers {
        let path = format!("/v2/{repo}/blobs/{}", digest(blob));
        world.get(&path, Response::bytes(blob.to_vec()));
        descriptors.push(serde_json::json!({
            "mediaType": media_type, "digest": digest(blob), "size": blob.len(),
        }));
        paths.push(path);
    }
    world.get(
        &format!("/v2/{repo}/blobs/{}", digest(config)),
        Response::bytes(config.to_vec()),
    );
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest(config), "size": config.len(),
        },
        "layers": descriptors,
    }))
    .unwrap();
    world.get(
        &format!("/v2/{repo}/manifests/1"),
        Response::bytes(manifest)
            .header("content-type", "application/vnd.oci.image.manifest.v1+json"),
    );
    (format!("{}/{repo}:1", world.addr()), paths)
}

/// A context whose registry is the world (plain http) and whose cache is `cache`.
fn registry_context(world: &World, cache: &Path) -> Context {
    let sources = SourcesFile::new()
        .world_registry(world)
        .write_to(&cache.with_extension("sources.toml"));
    let mut ctx = Context::with_client(
        Client::new(false, vec![world.addr().to_string()]),
        Sources::load(&sources).unwrap(),
        vec![Platform::LinuxAmd64],
    );
    ctx.cache = Some(cache.to_path_buf());
    ctx
}

fn base_image_request(world: &World, image: &str) -> AptRequest {
    let mut request = request(
        &["hello"],
        vec![archive(vec![world.url("/r")], &["stable"], &["main"])],
    );
    request.recommends = false;
    request.status = StatusSource::BaseImage {
        image: image.to_string(),
        mirror: None,
    };
    // The status alone: these tests are about how it is read (the base's apt
    // configuration is `base_sources.rs`'s).
    request.base_sources = BaseSources::Ignore;
    request
}

fn closure_names(artifact: &modelbench::lock::Artifact) -> Vec<&str> {
    artifact.packages.iter().map(|p| p.name.as_str()).collect()
}

/// 200 MB of incompressible data in front of the status file, in the top layer: read as
/// a stream, top layer down (the bottom layer, whose status would give another closure,
/// is never fetched), the verified answer cached by digest, and a blob whose bytes do not
/// match its digest refused and not cached, even when the damage is after the status.
#[test]
fn base_status_is_streamed_from_a_large_layer_and_cached_per_digest() {
    let world = World::start();
    serve_dir(&world, "repo", "/r");
    let bottom = gzip_fast(&tar_of(&[(
        "var/lib/dpkg/status",
        b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n\n",
    )]));
    let big = incompressible(200 << 20, 7);
    let after = incompressible(1 << 20, 11);
    let top = gzip_fast(&tar_of(&[
        ("usr/share/big.bin", &big),
        ("var/lib/dpkg/status", GOOD_STATUS.as_bytes()),
        ("usr/share/zz-after.bin", &after),
    ]));
    drop(big);
    let (image, paths) = serve_image(
        &world,
        "big/base",
        &[(OCI_LAYER_GZIP, &bottom), (OCI_LAYER_GZIP, &top)],
    );
    let cache = crate::support::temp_dir();
    let ctx = registry_context(&world, cache.path());
    let request = base_image_request(&world, &image);
    let artifact = run(&ctx, &request).expect("resolves on the base's status");
    // libc6 and libgreet0 are installed per the top layer's status.
    assert_eq!(closure_names(&artifact), vec!["hello"]);
    assert_eq!(world.hits(&paths[1]), 1);
    assert_eq!(world.hits(&paths[0]), 0, "the bottom layer is never read");
    let top_digest = paths[1].rsplit('/').next().unwrap().replace(':', "-");
    let cached = cache
        .path()
        .join(format!("dpkg-status/{top_digest}.status"));
    assert_eq!(std::fs::read_to_string(&cached).unwrap(), GOOD_STATUS);

    // A second run (a new process would do the same) answers from the cache.
    let ctx = registry_context(&world, cache.path());
    let again = run(&ctx, &request).expect("resolves from the cache");
    assert_eq!(closure_names(&again), vec!["hello"]);
    assert_eq!(world.hits(&paths[1]), 1, "the layer is not fetched again");

    // One byte changed after the status file: found early, but the digest check at the
    // end refuses the layer, and nothing is cached for it.
    let mut damaged = top;
    let last = damaged.len() - 100;
    damaged[last] ^= 1;
    world.replace_body(&paths[1], damaged);
    let fresh = crate::support::temp_dir();
    let ctx = registry_context(&world, fresh.path());
    let err = run(&ctx, &request).unwrap_err().to_string();
    assert!(err.contains("sha256 mismatch for layer"), "{err}");
    assert!(
        err.contains(&paths[1][paths[1].rfind(':').unwrap() + 1..]),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(fresh.path().join("dpkg-status"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "nothing cached for a refused blob: {left:?}"
    );
}

/// zstd layers are read like gzip ones (the media type says which); a layer of a type
/// that is not a tar is refused before a byte of it is fetched.
#[test]
fn zstd_layers_are_read_and_unknown_layer_types_refused_before_download() {
    let world = World::start();
    serve_dir(&world, "repo", "/r");
    let top = zstd::encode_all(
        &tar_of(&[("var/lib/dpkg/status", GOOD_STATUS.as_bytes())])[..],
        3,
    )
    .unwrap();
    let (image, _) = serve_image(&world, "zstd/base", &[(OCI_LAYER_ZSTD, &top)]);
    let cache = crate::support::temp_dir();
    let ctx = registry_context(&world, cache.path());
    let artifact = run(&ctx, &base_image_request(&world, &image)).expect("zstd layer read");
    assert_eq!(closure_names(&artifact), vec!["hello"]);

    // (The same blob under another media type: without a cache, as its digest's answer
    // is already cached from the zstd read.)
    let (image, paths) = serve_image(
        &world,
        "odd/base",
        &[("application/vnd.example.layer.v1+squashfs", &top)],
    );
    let mut ctx = ctx;
    ctx.cache = None;
    let err = run(&ctx, &base_image_request(&world, &image))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a tar layer"), "{err}");
    assert_eq!(world.hits(&paths[0]), 0);
}

// ---------------------------------------------------------------------------------------
// The index cache

/// Body bytes the world sent for requests under `prefix`.
fn bytes_served(world: &World, prefix: &str) -> usize {
    world
        .request_log()
        .iter()
        .filter(|r| r.path.starts_with(prefix))
        .map(|r| r.sent)
        .sum()
}

/// A warm lock with nothing changed upstream revalidates each `InRelease` (a `304`, no
/// body) and reads every index from the cache by the hash the verified Release lists:
/// at most 1% of a cold lock's bytes (here none). A changed `InRelease` is downloaded
/// again, and a cache whose files were tampered with is not believed.
#[test]
fn warm_lock_revalidates_inrelease_and_reads_indices_by_hash() {
    let world = World::start();
    serve_dir(&world, "repo", "/r");
    let inrelease = std::fs::read(format!("{FIXTURES}/repo/dists/stable/InRelease")).unwrap();
    for suite in ["stable", "stable-backports"] {
        let path = format!("/r/dists/{suite}/InRelease");
        let body = std::fs::read(format!("{FIXTURES}/repo/dists/{suite}/InRelease")).unwrap();
        let etag = format!("\"{}\"", &crate::support::sha256_hex(&body)[..16]);
        world.get(&path, Response::bytes(body).header("ETag", etag));
    }
    let cache = crate::support::temp_dir();
    let mut ctx = context(&world, vec![Platform::LinuxAmd64, Platform::LinuxArm64]);
    ctx.cache = Some(cache.path().to_path_buf());
    let request = request(
        &["hello", "tool"],
        vec![archive(
            vec![world.url("/r")],
            &["stable", "stable-backports"],
            &["main"],
        )],
    );
    let cold = run(&ctx, &request).expect("cold lock");
    let cold_bytes = bytes_served(&world, "/r/");
    assert!(cold_bytes > 0);
    world.clear_log();

    let warm = run(&ctx, &request).expect("warm lock");
    assert_eq!(warm.packages, cold.packages);
    let warm_bytes = bytes_served(&world, "/r/");
    eprintln!("index cache: cold {cold_bytes} bytes, warm {warm_bytes} bytes");
    assert!(
        warm_bytes * 100 <= cold_bytes,
        "warm {warm_bytes} bytes vs cold {cold_bytes}"
    );
    let log = world.request_log();
    let revalidated: Vec<&str> = log
        .iter()
        .filter(|r| r.status == 304)
        .map(|r| r.path.as_str())
        .collect();
    assert!(
        revalidated.contains(&"/r/dists/stable/InRelease"),
        "{log:?}"
    );
    assert!(
        log.iter().all(|r| !r.path.contains("Packages")),
        "no index is fetched: {log:?}"
    );

    // Upstream changed (a new tag): the InRelease comes again, the indices it lists with
    // unchanged hashes still come from the cache.
    world.clear_log();
    world.get(
        "/r/dists/stable/InRelease",
        Response::bytes(inrelease.clone()).header("ETag", "\"next\""),
    );
    run(&ctx, &request).expect("lock after a change");
    assert_eq!(
        bytes_served(&world, "/r/dists/stable/InRelease"),
        inrelease.len()
    );

    // A cached InRelease is verified like a downloaded one: tampered in the cache, it is
    // refused even though the server answers 304.
    let stored = walk_files(&cache.path().join("apt/inrelease"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "body"))
        .find(|p| std::fs::read(p).unwrap() == inrelease)
        .expect("the stable InRelease is cached");
    let tampered = String::from_utf8(inrelease.clone()).unwrap().replacen(
        "Label: modelbench test",
        "Label: modelbench evil",
        1,
    );
    std::fs::write(&stored, tampered).unwrap();
    let err = run(&ctx, &request).unwrap_err().to_string();
    assert!(err.contains("BAD signature"), "{err}");
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// apt's `[trusted=yes]`: an `InRelease` that is not a signed message is ignored and the
/// `Release` read instead; an archive that is not `trusted` still refuses it.
#[test]
fn trusted_archive_reads_release_when_inrelease_is_unsigned() {
    let world = World::start();
    serve_dir(&world, "repo", "/r");
    let release = std::fs::read(format!("{FIXTURES}/repo/dists/stable/Release")).unwrap();
    world.get("/r/dists/stable/InRelease", Response::bytes(release));
    let ctx = context(&world, vec![Platform::LinuxAmd64]);
    let mut source = archive(vec![world.url("/r")], &["stable"], &["main"]);
    let err = run(&ctx, &request(&["hello"], vec![source.clone()]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/r/dists/stable/InRelease"), "{err}");
    assert_eq!(world.hits("/r/dists/stable/Release"), 0);

    source.signed_by.clear();
    source.trusted = true;
    let artifact = run(&ctx, &request(&["hello"], vec![source])).expect("trusted source");
    assert!(artifact.packages.iter().any(|p| p.name == "hello"));
    assert_eq!(world.hits("/r/dists/stable/Release"), 1);
    assert_eq!(world.hits("/r/dists/stable/Release.gpg"), 0);
}

// ---------------------------------------------------------------------------------------
// The base image's own apt configuration (issue #20, item 2)

/// A spec that names no archive: apt installs `hello` on top of `base`.
fn base_sources_spec(base: &str) -> String {
    format!(
        r#"[image]
name = "mb-base-sources"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "{base}"

[apt]
recommends = false

[stage-1]
apt = ["hello"]
"#
    )
}

/// A deb822 sources file naming the loopback archive, signed by `key` (a path in the
/// image).
fn local_sources(world: &World, key: &str) -> String {
    format!(
        "Types: deb\nURIs: {}\nSuites: stable stable-backports\nComponents: main\nSigned-By: {key}\n",
        world.url("/r")
    )
}

/// The base's sources name a loopback archive signed by a key the image carries, and its
/// preferences raise backports to 500 but pin `hello` down to 2.10: `lock` solves from
/// them without the spec naming the archive, records where each archive came from, and
/// `why` shows it. Without the package pin, the generic one alone takes backports' newer
/// `hello` (the pins are what decided).
#[test]
fn lock_starts_from_the_base_images_sources_pins_and_keyring() {
    use crate::support::project::{Project, artifact};

    let world = World::start();
    serve_dir(&world, "repo", "/r");
    let key = std::fs::read(keyring("test-archive.gpg")).unwrap();
    let sources = local_sources(&world, "/etc/apt/keyrings/local.gpg");
    let bottom = gzip_fast(&tar_of(&[
        ("etc/apt/sources.list.d/local.sources", sources.as_bytes()),
        ("etc/apt/keyrings/local.gpg", &key),
    ]));
    let generic = "Package: *\nPin: release a=stable-backports\nPin-Priority: 500\n";
    let pinned = format!("{generic}\nPackage: hello\nPin: version 2.10*\nPin-Priority: 700\n");
    let top = gzip_fast(&tar_of(&[
        ("etc/apt/preferences.d/hello", pinned.as_bytes()),
        ("var/lib/dpkg/status", GOOD_STATUS.as_bytes()),
    ]));
    let (base, _) = serve_image(
        &world,
        "sources/base",
        &[(OCI_LAYER_GZIP, &bottom), (OCI_LAYER_GZIP, &top)],
    );
    let project = Project::new();
    project.spec(&base_sources_spec(&base));
    project.sources_file().world_registry(&world).write();
    project.lock_ok(&[]);
    let lock = project.lock_toml();
    let apt = artifact(&lock, "apt", "stage-1");
    let members: Vec<(&str, &str)> = apt["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["version"].as_str().unwrap()))
        .collect();
    // libgreet0 is installed per the base's status, so `hello` alone.
    assert_eq!(members, [("hello", "2.10-3")]);
    let archives = apt["archive"].as_array().expect("archives recorded");
    assert_eq!(archives.len(), 1, "{archives:?}");
    assert_eq!(
        archives[0]["from"].as_str(),
        Some("base image /etc/apt/sources.list.d/local.sources stanza 1")
    );
    assert_eq!(
        archives[0]["uris"].as_array().unwrap()[0].as_str(),
        Some(world.url("/r").as_str())
    );
    let pins: Vec<&str> = apt["pins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        pins,
        [
            "/etc/apt/preferences.d/hello stanza 1",
            "/etc/apt/preferences.d/hello stanza 2"
        ]
    );
    let why = project.run(&["why", "hello", "specs/test.toml"]);
    assert!(why.success(), "{}", why.combined());
    let expected = format!(
        "from archive {} stable stable-backports (base image /etc/apt/sources.list.d/local.sources stanza 1)",
        world.url("/r")
    );
    why.assert_stdout_contains(&expected);

    // The generic pin alone: backports at 500 with the newer version wins.
    let top = gzip_fast(&tar_of(&[
        ("etc/apt/preferences.d/hello", generic.as_bytes()),
        ("var/lib/dpkg/status", GOOD_STATUS.as_bytes()),
    ]));
    let (base, _) = serve_image(
        &world,
        "sources/generic",
        &[(OCI_LAYER_GZIP, &bottom), (OCI_LAYER_GZIP, &top)],
    );
    project.spec(&base_sources_spec(&base));
    project.lock_ok(&[]);
    let lock = project.lock_toml();
    let versions: Vec<&str> = artifact(&lock, "apt", "stage-1")["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["2.12-1~bpo12+1"]);

    // `base-sources = false`: the spec's archive alone, without the image's pins
    // (backports stays at apt's 100), and the lock reads as before: no archives recorded.
    std::fs::write(project.path("specs/test-archive.gpg"), &key).unwrap();
    project.spec(&format!(
        "{}\n[[apt.archives]]\nuris = [\"{}\"]\nsuites = [\"stable\", \"stable-backports\"]\n\
         components = [\"main\"]\nsigned-by = [\"test-archive.gpg\"]\n",
        base_sources_spec(&base).replace(
            "recommends = false\n",
            "recommends = false\nbase-sources = false\n"
        ),
        world.url("/r")
    ));
    project.lock_ok(&[]);
    let lock = project.lock_toml();
    let apt = artifact(&lock, "apt", "stage-1");
    let versions: Vec<&str> = apt["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["2.10-3"]);
    assert!(
        apt.get("archive").is_none() && apt.get("pins").is_none(),
        "{apt:?}"
    );
}

/// A base archive signed by a key modelbench does not ship and the image does not carry
/// fails closed, naming the archive, the key and what to add to the spec.
#[test]
fn a_base_archive_with_an_unknown_key_fails_closed() {
    use crate::support::project::Project;

    let world = World::start();
    serve_dir(&world, "repo", "/r");
    let sources = local_sources(&world, "/usr/share/keyrings/vendor-archive.gpg");
    let layer = gzip_fast(&tar_of(&[
        ("etc/apt/sources.list.d/local.sources", sources.as_bytes()),
        ("var/lib/dpkg/status", GOOD_STATUS.as_bytes()),
    ]));
    let (base, _) = serve_image(&world, "sources/unknown", &[(OCI_LAYER_GZIP, &layer)]);
    let project = Project::new();
    project.spec(&base_sources_spec(&base));
    project.sources_file().world_registry(&world).write();
    let output = project.lock(&[]);
    assert!(!output.success(), "{}", output.combined());
    for part in [
        world.url("/r").as_str(),
        "/etc/apt/sources.list.d/local.sources stanza 1",
        "`/usr/share/keyrings/vendor-archive.gpg`",
        "[[apt.archives]]",
        "base-sources = false",
    ] {
        assert!(output.stderr.contains(part), "{part}: {}", output.stderr);
    }
    assert_eq!(
        world.hits("/r/dists/stable/InRelease"),
        0,
        "nothing fetched"
    );
}
