//! `modelbench verify`: lock against the loopback world, then let upstreams rot (a route
//! deleted, a body replaced) and check the report and the exit code: rot that a mirror
//! still covers is reported with the URL that works (exit 0); an artifact with no working
//! URL fails the run (exit 1) and is named.

use serde_json::json;

use crate::support::project::Project;
use crate::support::registry::{self, ACCEPT_ALL, IndexKind};
use crate::support::world::{FixtureRelease, Response, World};
use crate::support::{Output, sha256_hex};

const CARD: &[u8] = b"model card: fixture weights\n";

pub(crate) struct Setup {
    pub(crate) project: Project,
    pub(crate) world: World,
    /// The single-arch base's manifest path on the world's token registry.
    pub(crate) base_manifest: String,
}

/// A spec with a single-arch base on the world's token registry (so it can rot), node
/// from a mirror and the canonical dist, nvm, a release asset and a url file.
pub(crate) fn setup() -> Setup {
    let world = World::start();
    let registry = registry::shared_required();
    let repo = format!("verify/token-{}", world.addr().port());
    let digest = registry.push_single_manifest(&repo, "1");
    let manifest = registry.get_manifest(&repo, "1", ACCEPT_ALL);
    let content_type = manifest.header("content-type").unwrap().to_string();
    let fixture = world.token_registry_fixture(&repo, "1", &content_type, &manifest.body);
    assert_eq!(fixture.digest, digest);
    let config_digest =
        serde_json::from_slice::<serde_json::Value>(&manifest.body).unwrap()["config"]["digest"]
            .as_str()
            .unwrap()
            .to_string();
    let config =
        crate::support::http::get(&registry.url(&format!("/v2/{repo}/blobs/{config_digest}")))
            .unwrap();
    world.get(
        &format!("/v2/{repo}/blobs/{config_digest}"),
        Response::bytes(config.body),
    );

    world.get(
        "/nodejs/dist/index.json",
        Response::json(json!([
            {"version": "v22.11.0", "date": "2026-10-29", "files": ["linux-x64"], "lts": "Jod"},
        ])),
    );
    let tarball = b"node v22.11.0 linux-x64".to_vec();
    world.get(
        "/nodejs/dist/v22.11.0/SHASUMS256.txt",
        Response::text(format!(
            "{}  node-v22.11.0-linux-x64.tar.gz\n",
            sha256_hex(&tarball)
        )),
    );
    for path in [
        "/nodejs/dist/v22.11.0/node-v22.11.0-linux-x64.tar.gz",
        "/npmmirror/node/v22.11.0/node-v22.11.0-linux-x64.tar.gz",
    ] {
        world.get(path, Response::bytes(tarball.clone()));
    }
    world.serve_nvm();
    world.github_release_fixture(
        "Watfaq",
        "clash-rs",
        &[
            FixtureRelease::new("v0.10.8", "2026-07-23T10:00:00Z").asset(
                "clash-rs-x86_64-unknown-linux-musl",
                b"clash amd64".to_vec(),
            ),
        ],
    );
    world.get("/files/card.txt", Response::bytes(CARD.to_vec()));

    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-verify"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "{host}/{repo}:1"

[mirrors]
nodejs = "{mirror}"

[[users]]
name = "peid"
uid = 3100
gid = 1100

[stage-2]
tools.node = {{ version = "lts", user = "peid" }}

[stage-2.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "latest"
asset = "clash-rs-{{triple}}"
dest = "/opt/clash-rs"

[stage-2.url.card]
url = "{card}"
sha256 = "{card_sha}"
dest = "/opt/card.txt"
"#,
        host = fixture.host,
        mirror = world.url("/npmmirror/node"),
        card = world.url("/files/card.txt"),
        card_sha = sha256_hex(CARD),
    ));
    project
        .sources_file()
        .tools(&world)
        .registry(&fixture.host)
        .write();
    project.lock_ok(&[]);
    Setup {
        project,
        world,
        base_manifest: format!("/v2/{repo}/manifests/{digest}"),
    }
}

pub(crate) fn verify(project: &Project, extra: &[&str]) -> Output {
    let mut args = vec!["verify", "specs/test.toml", "--sources", "sources.toml"];
    args.extend_from_slice(extra);
    project.run(&args)
}

#[test]
fn verify_passes_on_a_fresh_lock_and_asks_every_url() {
    let s = setup();
    s.world.clear_log();
    let output = verify(&s.project, &[]);
    assert_eq!(output.status, Some(0), "{}", output.combined());
    output.assert_stdout_contains(
        "Verified 5 artifact(s): 5 ok, 0 rotted but still served, 0 with no working URL",
    );
    for line in ["ok oci base 1", "ok nodejs node v22.11.0", "ok url card"] {
        let (verb, rest) = line.split_once(' ').unwrap();
        assert!(
            output.stdout.contains(&format!("{verb:>12} {rest}")),
            "`{line}` missing:\n{}",
            output.stdout
        );
    }
    let requests = s.world.requests();
    // The base: HEAD by digest, through the bearer-token challenge; no manifest download.
    assert!(
        requests
            .iter()
            .any(|(m, p, status)| m == "HEAD" && *p == s.base_manifest && *status == 200),
        "{requests:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|(m, p, _)| m == "GET" && p.contains("/manifests/")),
        "{requests:?}"
    );
    assert!(requests.iter().any(|(_, p, _)| p.starts_with("/token")));
    // Both node URLs, mirror and canonical, were downloaded.
    for path in [
        "/npmmirror/node/v22.11.0/node-v22.11.0-linux-x64.tar.gz",
        "/nodejs/dist/v22.11.0/node-v22.11.0-linux-x64.tar.gz",
        "/files/card.txt",
        "/raw/nvm-sh/nvm/v0.40.3/nvm.sh",
    ] {
        assert_eq!(s.world.hits(path), 1, "{path}: {requests:?}");
    }
    // Nothing was written.
    assert!(!s.project.exists("build"));
}

#[test]
fn verify_reports_rot_that_a_mirror_still_covers() {
    let s = setup();
    // nodejs.org dropped the tarball; the mirror still has it.
    let canonical = "/nodejs/dist/v22.11.0/node-v22.11.0-linux-x64.tar.gz";
    s.world.get(canonical, Response::status(404));
    let output = verify(&s.project, &[]);
    assert_eq!(output.status, Some(0), "{}", output.combined());
    let stdout = &output.stdout;
    assert!(
        stdout.contains(&format!("{:>12} nodejs node v22.11.0", "rotted")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "linux/amd64 node-v22.11.0-linux-x64.tar.gz: {}: gone (404)",
            s.world.url(canonical)
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "still served by {}",
            s.world
                .url("/npmmirror/node/v22.11.0/node-v22.11.0-linux-x64.tar.gz")
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("4 ok, 1 rotted but still served, 0 with no working URL"),
        "{stdout}"
    );
}

#[test]
fn verify_fails_when_an_artifact_has_no_working_url() {
    let s = setup();
    // The url file now serves other bytes, and the base's manifest is gone (EOL tag deleted).
    s.world
        .replace_body("/files/card.txt", b"model card: retrained\n".to_vec());
    s.world.get(&s.base_manifest, Response::status(404));
    let output = verify(&s.project, &[]);
    assert_eq!(output.status, Some(1), "{}", output.combined());
    let stdout = &output.stdout;
    assert!(
        stdout.contains(&format!("{:>12} url card", "BROKEN")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "serves other bytes (sha256:{}, sha256:{} locked)",
            sha256_hex(b"model card: retrained\n"),
            sha256_hex(CARD)
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{:>12} oci base 1", "BROKEN")),
        "{stdout}"
    );
    assert!(stdout.contains("gone (404)"), "{stdout}");
    output.assert_stderr_contains(
        "2 artifact(s) of lock/test/bench.lock have no working URL: oci `base`, url `card`",
    );
}

#[test]
fn verify_sample_checks_a_fixed_subset() {
    let s = setup();
    let first = verify(&s.project, &["--sample", "2"]);
    assert_eq!(first.status, Some(0), "{}", first.combined());
    assert!(
        first.stdout.starts_with("Verifying 2 of 5 artifact(s)"),
        "{}",
        first.stdout
    );
    first.assert_stdout_contains("Verified 2 artifact(s): 2 ok");
    let second = verify(&s.project, &["--sample", "2"]);
    assert_eq!(
        first.stdout, second.stdout,
        "the same lock gives the same sample"
    );
}

#[test]
fn verify_registry_mirror_rot_is_covered_by_the_canonical_registry() {
    let world = World::start();
    let Some(registry) = registry::shared() else {
        return;
    };
    let repo = format!("verify/mirrored-{}", world.addr().port());
    let pushed = registry.push_two_platform_index(&repo, "1", IndexKind::Oci);
    // The world plays a pull-through mirror holding copies of the same manifests.
    let mut paths = Vec::new();
    for reference in std::iter::once("1".to_string())
        .chain(std::iter::once(pushed.index_digest.clone()))
        .chain(pushed.manifests.iter().map(|(_, d)| d.clone()))
    {
        let served = registry.get_manifest(&repo, &reference, ACCEPT_ALL);
        let path = format!("/v2/{repo}/manifests/{reference}");
        world.get(
            &path,
            Response::bytes(served.body.clone())
                .header("Content-Type", served.header("content-type").unwrap())
                .header(
                    "Docker-Content-Digest",
                    format!("sha256:{}", sha256_hex(&served.body)),
                ),
        );
        paths.push(path);
    }
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-verify"
tag = "t1"
platforms = ["linux/amd64", "linux/arm64"]

[base]
image = "{}"
registry-mirror = "{}"
"#,
        registry.reference(&repo, "1"),
        world.addr()
    ));
    project
        .sources_file()
        .registry(registry.host())
        .world_registry(&world)
        .write();
    project.lock_ok(&[]);
    let output = verify(&project, &[]);
    assert_eq!(output.status, Some(0), "{}", output.combined());
    output.assert_stdout_contains("1 ok, 0 rotted");

    // The mirror evicted the image: reported, and the canonical registry still has it.
    for path in &paths {
        world.get(path, Response::status(404));
    }
    let output = verify(&project, &[]);
    assert_eq!(output.status, Some(0), "{}", output.combined());
    let stdout = &output.stdout;
    assert!(
        stdout.contains(&format!("{:>12} oci base 1", "rotted")),
        "{stdout}"
    );
    for digest in
        std::iter::once(&pushed.index_digest).chain(pushed.manifests.iter().map(|(_, d)| d))
    {
        assert!(
            stdout.contains(&format!(
                "{}: gone (404)",
                world.url(&format!("/v2/{repo}/manifests/{digest}"))
            )),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!(
                "still served by {}",
                registry.url(&format!("/v2/{repo}/manifests/{digest}"))
            )),
            "{stdout}"
        );
    }
}

#[test]
fn verify_without_a_lock_is_an_error() {
    let project = Project::new();
    project.spec(
        r#"[image]
name = "mb"
tag = "t"
platforms = ["linux/amd64"]

[base]
image = "example.com/x:1"
"#,
    );
    let output = project.run(&["verify", "specs/test.toml"]);
    assert_eq!(output.status, Some(1), "{}", output.combined());
    assert!(
        output
            .stderr
            .contains("no lock at lock/test/bench.lock; run `modelbench lock`"),
        "{}",
        output.stderr
    );
}

#[test]
fn verify_json_reports_each_artifact_for_ci() {
    let s = setup();
    let canonical = "/nodejs/dist/v22.11.0/node-v22.11.0-linux-x64.tar.gz";
    s.world.get(canonical, Response::status(404));
    let output = verify(&s.project, &["--json"]);
    assert_eq!(output.status, Some(0), "{}", output.combined());
    let doc: serde_json::Value = serde_json::from_str(&output.stdout).expect("one JSON document");
    assert_eq!(doc["schema"], "modelbench-verify/1");
    assert_eq!(doc["ok"], 4);
    assert_eq!(doc["rotted"], 1);
    assert_eq!(doc["broken"], 0);
    let node = doc["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "node")
        .unwrap();
    assert_eq!(node["status"], "rotted");
    assert_eq!(node["problems"][0]["url"], s.world.url(canonical));
    assert_eq!(
        node["problems"][0]["still_served_by"][0],
        s.world
            .url("/npmmirror/node/v22.11.0/node-v22.11.0-linux-x64.tar.gz")
    );
}

/// Off a terminal: the report on stdout and no progress at all; with `--verbose`, one
/// `Checked` line per distinct URL on stderr, numbered, and the same report on stdout.
#[test]
fn verify_progress_lines_off_a_terminal() {
    let s = setup();
    let plain = verify(&s.project, &[]);
    assert_eq!(plain.status, Some(0), "{}", plain.combined());
    assert!(!plain.stderr.contains("Check"), "{}", plain.stderr);
    assert!(!plain.stderr.contains('\x1b'), "{:?}", plain.stderr);

    let verbose = verify(&s.project, &["--verbose"]);
    assert_eq!(verbose.status, Some(0), "{}", verbose.combined());
    assert_eq!(verbose.stdout, plain.stdout);
    let checked: Vec<&str> = verbose
        .stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("Checked "))
        .collect();
    // base (one manifest), node (mirror and nodejs.org), nvm, clash-rs, card.
    assert_eq!(checked.len(), 6, "{}", verbose.stderr);
    for n in 1..=6 {
        assert!(
            checked.iter().any(|l| l.ends_with(&format!(" ok [{n}/6]"))),
            "[{n}/6] missing:\n{}",
            verbose.stderr
        );
    }
    let card = s.world.url("/files/card.txt");
    let card_line = format!("{:>12} url card all card.txt {card} ok [", "Checked");
    assert!(
        checked.iter().any(|l| l.starts_with(&card_line)),
        "{card_line} missing:\n{}",
        verbose.stderr
    );
    assert!(!verbose.stderr.contains('\x1b'), "{:?}", verbose.stderr);
}

/// `--quiet`: only the artifacts with a problem; `--json`: one document on stdout and no
/// progress on stderr, even with `--verbose`.
#[test]
fn verify_quiet_and_json_print_nothing_extra() {
    let s = setup();
    let canonical = "/nodejs/dist/v22.11.0/node-v22.11.0-linux-x64.tar.gz";
    s.world.get(canonical, Response::status(404));

    let quiet = verify(&s.project, &["--quiet"]);
    assert_eq!(quiet.status, Some(0), "{}", quiet.combined());
    assert!(
        quiet
            .stdout
            .starts_with(&format!("{:>12} nodejs node v22.11.0\n", "rotted")),
        "{}",
        quiet.stdout
    );
    assert!(!quiet.stdout.contains("Verif"), "{}", quiet.stdout);
    assert!(
        !quiet.stdout.contains(&format!("{:>12} ", "ok")),
        "{}",
        quiet.stdout
    );
    assert_eq!(quiet.stderr, "");

    let json = verify(&s.project, &["--json", "--verbose"]);
    assert_eq!(json.status, Some(0), "{}", json.combined());
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("only JSON on stdout");
    assert_eq!(doc["rotted"], 1);
    assert!(!json.stderr.contains("Check"), "{}", json.stderr);
    assert!(!json.stderr.contains('\x1b'), "{:?}", json.stderr);
}

/// On a terminal (a pty from `script`): a live `[done/total]` line on stderr with what is
/// left per source kind, redrawn in place and cleared at the end; the report on stdout is
/// unchanged.
#[test]
fn verify_live_progress_on_a_terminal() {
    let s = setup();
    let plain = verify(&s.project, &[]);
    let command = format!(
        "{} verify specs/test.toml --sources sources.toml > stdout.txt",
        env!("CARGO_BIN_EXE_modelbench")
    );
    let output = crate::support::run_ok(
        s.project
            .isolate(&mut std::process::Command::new("script"))
            .args(["-qec", &command, "/dev/null"])
            .current_dir(s.project.dir.path())
            .env_remove("MODELBENCH_SOURCES")
            .env_remove("GITHUB_TOKEN")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null()),
    );
    let terminal = &output.stdout;
    // The first line is drawn before any check runs: what is left per source kind.
    // (Later lines depend on timing: concurrent checks may skip a count.)
    assert!(
        terminal.contains(&format!("\r\x1b[2K{:>12} [0/6] ", "Checking")),
        "{terminal:?}"
    );
    assert!(terminal.contains(" url 0/"), "{terminal:?}");
    // The line is cleared when all six are done, never drawn as [6/6].

    assert!(!terminal.contains("[6/6]"), "{terminal:?}");
    assert!(terminal.ends_with("\r\x1b[2K"), "{terminal:?}");
    assert_eq!(s.project.read("stdout.txt"), plain.stdout);
}

/// A lock edited by hand is still verified as it stands, with a warning naming the entry.
#[test]
fn verify_warns_about_an_entry_edited_after_locking() {
    let s = setup();
    let text = s.project.read("lock/test/bench.lock");
    let locked = format!("sha256:{}", sha256_hex(CARD));
    let forged = format!("sha256:{}", sha256_hex(b"forged"));
    s.project
        .write("lock/test/bench.lock", &text.replace(&locked, &forged));
    let output = verify(&s.project, &[]);
    assert_eq!(output.status, Some(1), "{}", output.combined());
    assert!(
        output
            .stderr
            .contains("warning: url `card` was edited after locking: expected checksum sha256:"),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stdout
            .contains(&format!("{:>12} url card", "BROKEN")),
        "{}",
        output.stdout
    );
}
