//! Real builds: a tiny busybox base pushed to the real registry → spec → `lock` →
//! `emit` → `buildah bud`. The locked asset must land at its path with its hash; a
//! single changed byte in the served asset must fail the build and name both hashes.

use crate::support::buildah::{Buildah, tiny_base};
use crate::support::project::{Project, artifact, pin};
use crate::support::registry;
use crate::support::sha256_hex;
use crate::support::tools;
use crate::support::world::{FixtureRelease, World};

pub(crate) const ASSET: &str = "clash-rs-x86_64-unknown-linux-musl";
pub(crate) const CLASH: &[u8] = b"#!/bin/sh\necho 'clash-rs 0.10.8 (fixture)'\n";
const CONFIG: &[u8] = b"mixed-port: 7890\nmode: rule\n";

/// The backbone image (tiny base, a release asset and a url file), locked and emitted;
/// built here with buildah and in `docker.rs` with Docker.
pub(crate) struct Built {
    pub project: Project,
    pub world: World,
    pub buildah: Buildah,
    _dir: tempfile::TempDir,
}

pub(crate) fn locked_and_emitted() -> Built {
    let registry = registry::shared_required();
    let base = tiny_base(registry);
    let world = World::start();
    world.github_release_fixture(
        "Watfaq",
        "clash-rs",
        &[FixtureRelease::new("v0.10.8", "2026-07-23T10:00:00Z").asset(ASSET, CLASH.to_vec())],
    );
    world.get(
        "/files/config.yaml",
        crate::support::world::Response::bytes(CONFIG.to_vec()),
    );
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-build"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "{base}"

[stage-2]
links = {{ "/soft/app" = "/hard/image/app" }}

[stage-2.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "latest"
asset = "clash-rs-{{triple}}"
dest = "/hard/image/app/clash/clash-rs"

[stage-2.url.clash-config]
url = "{config_url}"
sha256 = "{config_sha}"
dest = "/hard/image/app/clash/config.yaml"
"#,
        config_url = world.url("/files/config.yaml"),
        config_sha = sha256_hex(CONFIG),
    ));
    project
        .sources_file()
        .github_api(&world)
        .registry(registry.host())
        .write();
    project.lock_and_emit();
    let dir = crate::support::temp_dir();
    let buildah = Buildah::new(dir.path());
    Built {
        project,
        world,
        buildah,
        _dir: dir,
    }
}

#[test]
fn build_merged_puts_locked_asset_in_place_and_fails_on_one_changed_byte() {
    if !tools::require_all(&[tools::TINY_BUILD]) {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return;
    }
    let b = locked_and_emitted();
    let out = b.project.out_dir();
    let output = b
        .buildah
        .bud(&out, &out.join("merged.Dockerfile"), "mb-build:t1", &[]);
    assert!(output.success(), "the emitted build must succeed");
    assert!(
        output.combined().contains("verified sha256:"),
        "{}",
        output.combined()
    );

    let lock = b.project.lock_toml();
    let locked = pin(artifact(&lock, "github-release", "clash-rs"), "linux/amd64")["hash"]
        .as_str()
        .unwrap()
        .to_string();
    let check = b.buildah.run_in(
        "mb-build:t1",
        &["sh", "-c", "sha256sum /hard/image/app/clash/clash-rs /hard/image/app/clash/config.yaml; /hard/image/app/clash/clash-rs; ls -l /hard/image/app/clash/clash-rs"],
    );
    assert!(check.success(), "{}", check.combined());
    check.assert_stdout_contains(locked.trim_start_matches("sha256:"));
    check.assert_stdout_contains(&sha256_hex(CONFIG));
    assert!(
        check.stdout.contains("clash-rs 0.10.8 (fixture)"),
        "the asset runs: {}",
        check.stdout
    );
    assert!(
        check.stdout.contains("-rwxr-xr-x"),
        "mode 0755: {}",
        check.stdout
    );

    // The entrypoint makes the run-time link /soft/app -> /hard/image/app.
    let linked = b.buildah.run_in(
        "mb-build:t1",
        &[
            "/modelbench/installation/entrypoint.sh",
            "cat",
            "/soft/app/clash/config.yaml",
        ],
    );
    assert!(linked.success(), "{}", linked.combined());
    linked.assert_stdout_contains("mixed-port: 7890");

    // The image checks itself as the last build step ...
    assert!(
        output
            .combined()
            .contains("ok   clash-rs at /hard/image/app/clash/clash-rs: "),
        "{}",
        output.combined()
    );
    // ... and on demand: `modelbench check-image` through buildah, clean image first.
    let engine_args = b.buildah.global_args();
    let mut check_image = vec![
        "check-image".to_string(),
        "mb-build:t1".into(),
        "--engine".into(),
        "buildah".into(),
    ];
    check_image.extend(engine_args.iter().map(|a| format!("--engine-arg={a}")));
    let check_image: Vec<&str> = check_image.iter().map(String::as_str).collect();
    let clean = b.project.run(&check_image);
    assert!(clean.success(), "{}{}", clean.stdout, clean.stderr);
    assert!(
        clean.stdout.contains("checks, ") && clean.stdout.contains("ok"),
        "{}",
        clean.stdout
    );
    // One thing broken at a time, each named by the self-check.
    for (name, breakage, expected) in [
        (
            "proxy",
            "echo 'http_proxy=http://10.0.0.1:7890' >> /etc/environment",
            "fail no proxy baked in: proxy settings in: /etc/environment",
        ),
        (
            "file",
            "echo extra >> /hard/image/app/clash/config.yaml",
            "fail clash-config at /hard/image/app/clash/config.yaml: expected sha256:",
        ),
        (
            "missing",
            "rm /hard/image/app/clash/clash-rs",
            "fail clash-rs at /hard/image/app/clash/clash-rs: missing",
        ),
    ] {
        let container = b
            .buildah
            .ok(&["from", "--quiet", "mb-build:t1"])
            .stdout
            .trim()
            .to_string();
        b.buildah
            .ok(&["run", &container, "--", "sh", "-c", breakage]);
        let image = format!("mb-build:broken-{name}");
        b.buildah.ok(&["commit", "--quiet", &container, &image]);
        b.buildah.ok(&["rm", &container]);
        let mut args = check_image.clone();
        args[1] = &image;
        let broken = b.project.run(&args);
        assert_eq!(broken.status, Some(1), "{name}: {}", broken.stdout);
        assert!(
            broken.stdout.contains(expected),
            "{name}: {}",
            broken.stdout
        );
        assert!(
            broken
                .stderr
                .contains(&format!("image {image} does not match its lock")),
            "{}",
            broken.stderr
        );
    }
    // --json for CI: one document with every result.
    let mut args = check_image.clone();
    args.push("--json");
    let json = b.project.run(&args);
    let doc: serde_json::Value = serde_json::from_str(json.stdout.trim()).expect("valid JSON");
    assert_eq!(doc["failed"], 0);
    assert!(
        doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["check"] == "clash-rs at /hard/image/app/clash/clash-rs")
    );

    // Upstream now serves different bytes under the locked URL: the build must fail and
    // say which artifact, the locked hash and what it got.
    let mut tampered = CLASH.to_vec();
    tampered[12] ^= 0x01;
    b.world.replace_body(
        &format!("/github/Watfaq/clash-rs/releases/download/v0.10.8/{ASSET}"),
        tampered.clone(),
    );
    let output = b.buildah.bud(
        &out,
        &out.join("merged.Dockerfile"),
        "mb-build:tampered",
        &[],
    );
    assert!(!output.success(), "a tampered asset must fail the build");
    let text = output.combined();
    assert!(
        text.contains("sha256 mismatch for `clash-rs` (linux/amd64)"),
        "{text}"
    );
    assert!(text.contains(&format!("expected {locked}")), "{text}");
    assert!(
        text.contains(&format!("got sha256:{}", sha256_hex(&tampered))),
        "{text}"
    );
}

#[test]
fn build_two_stages_separately() {
    if !tools::require_all(&[tools::TINY_BUILD]) {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return;
    }
    let b = locked_and_emitted();
    let out = b.project.out_dir();
    let stage_1 = b.buildah.bud(
        &out,
        &out.join("stage-1.Dockerfile"),
        "mb-build:t1-stage-1",
        &[],
    );
    assert!(stage_1.success());
    let stage_2 = b.buildah.bud(
        &out,
        &out.join("stage-2.Dockerfile"),
        "mb-build:t1",
        &["--build-arg", "BASE_IMAGE=localhost/mb-build:t1-stage-1"],
    );
    assert!(stage_2.success());
    let check = b.buildah.run_in(
        "mb-build:t1",
        &["sha256sum", "/hard/image/app/clash/clash-rs"],
    );
    assert!(
        check.stdout.contains(&sha256_hex(CLASH)),
        "{}",
        check.combined()
    );
    // The asset was fetched once, from the locked URL.
    assert_eq!(
        b.world.hits(&format!(
            "/github/Watfaq/clash-rs/releases/download/v0.10.8/{ASSET}"
        )),
        1
    );
}
