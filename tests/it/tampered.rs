//! A lock edited in a pull request: each tampering below is resealed (entry checksums
//! recomputed, as anyone can), and `lock --check`, `emit --locked` and `verify` each
//! refuse it before anything is emitted or fetched, naming the entry and the value.

use modelbench::lock::{ArtifactWire, LockWire};

use crate::support::Output;
use crate::support::project::Project;
use crate::support::registry;
use crate::support::world::{FixtureRelease, World};

struct Setup {
    project: Project,
    _world: World,
}

/// A locked project: a two-platform base in the loopback registry and clash-rs from the
/// world's GitHub.
fn locked() -> Setup {
    let registry = registry::shared_required();
    let world = World::start();
    world.github_release_fixture(
        "Watfaq",
        "clash-rs",
        &[FixtureRelease::new("v0.10.8", "2026-07-23T10:00:00Z")
            .asset(
                "clash-rs-x86_64-unknown-linux-musl",
                b"clash amd64".to_vec(),
            )
            .asset(
                "clash-rs-aarch64-unknown-linux-musl",
                b"clash arm64".to_vec(),
            )],
    );
    let base = registry.push_base(&format!("tampered/base-{}", world.addr().port()));
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-tampered"
tag = "t1"
platforms = ["linux/amd64", "linux/arm64"]

[base]
image = "{}"

[stage-2.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "latest"
asset = "clash-rs-{{triple}}"
dest = "/opt/clash-rs"
"#,
        base
    ));
    project
        .sources_file()
        .github_api(&world)
        .registry(registry.host())
        .write();
    project.lock_ok(&[]);
    Setup {
        project,
        _world: world,
    }
}

/// The lock as written, in its on-disk form without the value checks (what an editor
/// starts from).
fn raw_lock(project: &Project) -> LockWire {
    toml::from_str(&String::from_utf8(project.lock_bytes()).unwrap()).unwrap()
}

/// Apply `edit`, reseal every entry's checksum and write the lock back.
fn tamper(project: &Project, edit: impl FnOnce(&mut Vec<ArtifactWire>)) {
    let mut lock = raw_lock(project);
    edit(&mut lock.artifacts);
    lock.reseal();
    for artifact in &lock.artifacts {
        assert_eq!(
            artifact.checksum.as_deref(),
            Some(artifact.content_checksum().as_str()),
            "resealed"
        );
    }
    std::fs::write(project.lock_path(), lock.to_bytes()).unwrap();
}

fn failed(output: &Output, what: &str, expected: &str) {
    assert_eq!(output.status, Some(1), "{what}: {}", output.combined());
    assert!(
        output.stderr.contains(expected),
        "{what}: expected `{expected}` in:\n{}",
        output.stderr
    );
    assert!(!output.combined().contains('\u{1b}'), "{what}: raw escape");
}

/// `lock --check`, `emit --locked` and `verify` all refuse, saying `expected`; emit
/// writes nothing and verify fetches nothing.
fn all_refuse(s: &Setup, expected: &str) {
    failed(&s.project.lock(&["--check"]), "lock --check", expected);
    failed(&s.project.emit(&["--locked"]), "emit --locked", expected);
    assert!(!s.project.out_dir().exists(), "emit wrote files");
    s._world.clear_log();
    let verify = s
        .project
        .run(&["verify", "specs/test.toml", "--sources", "sources.toml"]);
    failed(&verify, "verify", expected);
    assert!(s._world.requests().is_empty(), "verify fetched");
}

fn clash(artifacts: &mut [ArtifactWire]) -> &mut ArtifactWire {
    artifacts
        .iter_mut()
        .find(|a| a.kind == "github-release")
        .unwrap()
}

#[test]
fn the_untouched_lock_passes_every_check() {
    let s = locked();
    s.project.lock_ok(&["--check"]);
    s.project.emit_ok(&["--locked"]);
}

#[test]
fn a_file_url_is_refused() {
    let s = locked();
    tamper(&s.project, |artifacts| {
        let pin = clash(artifacts).platform.get_mut("linux/amd64").unwrap();
        pin.urls.insert(0, "file:///etc/passwd".into());
    });
    all_refuse(
        &s,
        "github-release `clash-rs`: platform linux/amd64 url `file:///etc/passwd` is not an http(s) URL",
    );
}

#[test]
fn a_host_the_spec_never_named_is_refused() {
    let s = locked();
    let evil = "https://evil.example/clash-rs-x86_64-unknown-linux-musl";
    tamper(&s.project, |artifacts| {
        let pin = clash(artifacts).platform.get_mut("linux/amd64").unwrap();
        pin.urls.insert(0, evil.into());
    });
    all_refuse(
        &s,
        &format!(
            "github-release `clash-rs` points at host `evil.example`, which neither the spec, the sources file nor a known upstream names: `{evil}`"
        ),
    );
}

#[test]
fn an_image_reference_with_a_newline_and_run_is_refused() {
    let s = locked();
    tamper(&s.project, |artifacts| {
        let base = artifacts.iter_mut().find(|a| a.kind == "oci").unwrap();
        base.images[0].push_str("\nRUN touch /pwned");
    });
    all_refuse(
        &s,
        "\\nRUN touch /pwned` is not an image reference by digest",
    );
}

#[test]
fn a_platform_key_with_shell_is_refused() {
    let s = locked();
    tamper(&s.project, |artifacts| {
        let platforms = &mut clash(artifacts).platform;
        let pin = platforms.remove("linux/arm64").unwrap();
        platforms.insert("linux/arm64;touch /pwned".into(), pin);
    });
    all_refuse(
        &s,
        "github-release `clash-rs`: platform `linux/arm64;touch /pwned` is not a platform key",
    );
}

#[test]
fn a_tool_version_with_shell_is_refused() {
    let s = locked();
    tamper(&s.project, |artifacts| {
        clash(artifacts).version = "v0.10.8;touch$IFS/pwned".into();
    });
    all_refuse(
        &s,
        "github-release `clash-rs`: version `v0.10.8;touch$IFS/pwned` is not a release tag",
    );
}

/// An apt closure for stage 2, which the spec never asks for.
fn unrequested_apt(file: &str) -> ArtifactWire {
    toml::from_str(&format!(
        r#"kind = "apt"
name = "stage-2"
requested = "curl"
request-hash = "sha256:{zero}"
version = "sha256:{zero}"

[[package]]
name = "curl"
version = "8.5.0-2ubuntu10"
platform = "linux/amd64"
arch = "amd64"
file = "{file}"
urls = ["http://archive.ubuntu.com/ubuntu/pool/main/c/curl/curl.deb"]
hash = "sha256:{zero}"
requested = true
"#,
        zero = "0".repeat(64)
    ))
    .unwrap()
}

#[test]
fn an_unrequested_apt_closure_with_a_traversing_deb_name_is_refused() {
    let s = locked();
    tamper(&s.project, |artifacts| {
        artifacts.push(unrequested_apt("../../etc/cron.d/pwned.deb"))
    });
    all_refuse(
        &s,
        "apt `stage-2`: package `curl` file `../../etc/cron.d/pwned.deb` is not a file name",
    );
}

#[test]
fn an_unrequested_apt_closure_is_refused_even_when_well_formed() {
    let s = locked();
    tamper(&s.project, |artifacts| {
        artifacts.push(unrequested_apt("curl_8.5.0-2ubuntu10_amd64.deb"))
    });
    failed(
        &s.project.lock(&["--check"]),
        "lock --check",
        "apt `stage-2` is locked but no longer in the spec",
    );
    failed(
        &s.project.emit(&["--locked"]),
        "emit --locked",
        "has apt `stage-2`, which the spec does not ask for",
    );
    failed(
        &s.project.emit(&[]),
        "emit",
        "has apt `stage-2`, which the spec does not ask for",
    );
    assert!(!s.project.out_dir().exists(), "emit wrote files");
}
