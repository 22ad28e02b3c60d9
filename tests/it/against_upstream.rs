//! `modelbench verify --against-upstream`: a lock is checked against what the loopback
//! upstreams say for the same versions. A fresh lock agrees (exit 0); a lock edited and
//! resealed, or an upstream that republished other bytes under the same version, fails
//! (exit 1) naming the artifact, the field and both values.

use modelbench::lock::{ArtifactWire, LockWire};

use crate::support::project::Project;
use crate::support::registry::{self, ACCEPT_ALL, IndexKind};
use crate::support::world::{FixtureRelease, Response};
use crate::support::{Output, sha256_hex};
use crate::verify::{setup, verify};

fn against_upstream(project: &Project, extra: &[&str]) -> Output {
    let mut args = vec!["--against-upstream"];
    args.extend_from_slice(extra);
    verify(project, &args)
}

/// Apply `edit` to the lock as written, reseal every entry's checksum (as anyone can)
/// and write it back.
fn tamper(project: &Project, edit: impl FnOnce(&mut Vec<ArtifactWire>)) {
    let mut lock: LockWire =
        toml::from_str(&String::from_utf8(project.lock_bytes()).unwrap()).unwrap();
    edit(&mut lock.artifacts);
    lock.reseal();
    std::fs::write(project.lock_path(), lock.to_bytes()).unwrap();
}

fn entry<'a>(artifacts: &'a mut [ArtifactWire], name: &str) -> &'a mut ArtifactWire {
    artifacts.iter_mut().find(|a| a.name == name).unwrap()
}

fn line(field: &str, locked: &str, upstream: &str) -> String {
    format!("    {field}: locked {locked}, upstream {upstream}")
}

#[test]
fn against_upstream_passes_on_a_fresh_lock_and_writes_nothing() {
    if registry::shared().is_none() {
        return;
    }
    let s = setup();
    let before = s.project.lock_bytes();
    let output = against_upstream(&s.project, &[]);
    assert_eq!(output.status, Some(0), "{}", output.combined());
    for line in [
        "agrees oci base 1",
        "agrees nodejs node v22.11.0",
        "agrees github-release nvm v0.40.3",
        "agrees github-release clash-rs v0.10.8",
        "agrees url card",
    ] {
        let (verb, rest) = line.split_once(' ').unwrap();
        assert!(
            output.stdout.contains(&format!("{verb:>12} {rest}")),
            "`{line}` missing:\n{}",
            output.stdout
        );
    }
    output.assert_stdout_contains(
        "Checked 5 artifact(s) against their upstreams: 5 agree, 0 differ, 0 cannot be re-checked",
    );
    // The exact versions were asked for, not the newest.
    let requests = s.world.requests();
    assert!(
        requests
            .iter()
            .any(|(_, p, _)| p.ends_with("/releases/tags/v0.10.8")),
        "{requests:?}"
    );
    assert_eq!(s.project.lock_bytes(), before, "the lock is not rewritten");
    assert!(!s.project.exists("build"));

    let json = against_upstream(&s.project, &["--json"]);
    assert_eq!(json.status, Some(0), "{}", json.combined());
    let document: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(document["schema"], "modelbench-verify-upstream/1");
    assert_eq!(document["agree"], 5);
}

#[test]
fn against_upstream_fails_on_a_resealed_lock_naming_field_and_both_values() {
    if registry::shared().is_none() {
        return;
    }
    let s = setup();
    let other = sha256_hex(b"not clash");
    let mut locked_hash = String::new();
    let mut node_url = String::new();
    let forged_url = s
        .world
        .url("/nodejs/dist/v22.11.0/node-v22.11.0-linux-x64.tar.gz?forged");
    tamper(&s.project, |artifacts| {
        let pin = entry(artifacts, "clash-rs")
            .platform
            .get_mut("linux/amd64")
            .unwrap();
        locked_hash = pin.hash.to_string();
        pin.hash = format!("sha256:{other}").parse().unwrap();
        pin.size = Some(4242);
        let node = entry(artifacts, "node")
            .platform
            .get_mut("linux/amd64")
            .unwrap();
        node_url = node.urls.last().unwrap().clone();
        *node.urls.last_mut().unwrap() = forged_url.clone();
    });
    // The resealed lock passes the lock's own checks: only the upstream can tell.
    let output = against_upstream(&s.project, &[]);
    assert_eq!(output.status, Some(1), "{}", output.combined());
    let stdout = &output.stdout;
    assert!(
        stdout.contains(&format!(
            "{:>12} github-release clash-rs v0.10.8",
            "DIFFERS"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&line(
            "platform linux/amd64 hash",
            &format!("sha256:{other}"),
            &locked_hash
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&line(
            "platform linux/amd64 size",
            "4242",
            &"clash amd64".len().to_string()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{:>12} nodejs node v22.11.0", "DIFFERS")),
        "{stdout}"
    );
    let mirror = s
        .world
        .url("/npmmirror/node/v22.11.0/node-v22.11.0-linux-x64.tar.gz");
    assert!(
        stdout.contains(&line(
            "platform linux/amd64 urls",
            &format!("{mirror}, {forged_url}"),
            &format!("{mirror}, {node_url}")
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{:>12} url card", "agrees")),
        "{stdout}"
    );
    output.assert_stderr_contains("2 artifact(s) of lock/test/bench.lock are not what their upstream says for the same version: github-release `clash-rs`, nodejs `node`");
    let json = against_upstream(&s.project, &["--json"]);
    assert_eq!(json.status, Some(1), "{}", json.combined());
    let document: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let clash = document["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "clash-rs")
        .unwrap();
    assert_eq!(clash["status"], "differs");
    assert_eq!(
        clash["differences"][0],
        serde_json::json!({
            "field": "platform linux/amd64 hash",
            "locked": format!("sha256:{other}"),
            "upstream": locked_hash,
        })
    );
}

#[test]
fn against_upstream_fails_when_the_upstream_republishes_a_version() {
    if registry::shared().is_none() {
        return;
    }
    let s = setup();
    let locked = format!("sha256:{}", sha256_hex(b"clash amd64"));
    // The same tag, other bytes.
    s.world.github_release_fixture(
        "Watfaq",
        "clash-rs",
        &[
            FixtureRelease::new("v0.10.8", "2026-07-23T10:00:00Z").asset(
                "clash-rs-x86_64-unknown-linux-musl",
                b"clash amd64, rebuilt".to_vec(),
            ),
        ],
    );
    let output = against_upstream(&s.project, &[]);
    assert_eq!(output.status, Some(1), "{}", output.combined());
    assert!(
        output.stdout.contains(&line(
            "platform linux/amd64 hash",
            &locked,
            &format!("sha256:{}", sha256_hex(b"clash amd64, rebuilt"))
        )),
        "{}",
        output.stdout
    );
    output.assert_stderr_contains("github-release `clash-rs`");
}

#[test]
fn against_upstream_cannot_recheck_a_deleted_release_and_fails() {
    if registry::shared().is_none() {
        return;
    }
    let s = setup();
    s.world.get(
        "/api/repos/Watfaq/clash-rs/releases/tags/v0.10.8",
        Response::status(404),
    );
    let output = against_upstream(&s.project, &[]);
    assert_eq!(output.status, Some(1), "{}", output.combined());
    output.assert_stdout_contains(&format!(
        "{:>12} github-release clash-rs v0.10.8",
        "UNCHECKED"
    ));
    assert!(
        output
            .stdout
            .contains("    cannot re-check: the upstream does not resolve it:"),
        "{}",
        output.stdout
    );
    output.assert_stdout_contains("1 cannot be re-checked");
}

#[test]
fn against_upstream_checks_npm_closure_members() {
    if registry::shared().is_none() {
        return;
    }
    let (project, _upstreams) = crate::npm_build::locked_npm_globals();
    let output = against_upstream(&project, &[]);
    assert_eq!(output.status, Some(0), "{}", output.combined());
    assert!(
        output
            .stdout
            .contains(&format!("{:>12} npm mb-hello 1.2.0", "agrees")),
        "{}",
        output.stdout
    );

    // A member's hash swapped for another package's: named with both values.
    let mut greet_hash = String::new();
    let mut native_hash = String::new();
    tamper(&project, |artifacts| {
        let hello = entry(artifacts, "mb-hello");
        native_hash = hello
            .packages
            .iter()
            .find(|p| p.name == "mb-native")
            .unwrap()
            .hash
            .to_string();
        let greet = hello
            .packages
            .iter_mut()
            .find(|p| p.name == "mb-greet")
            .unwrap();
        greet_hash = greet.hash.to_string();
        greet.hash = native_hash.parse().unwrap();
    });
    let output = against_upstream(&project, &[]);
    assert_eq!(output.status, Some(1), "{}", output.combined());
    assert!(
        output
            .stdout
            .contains(&format!("{:>12} npm mb-hello 1.2.0", "DIFFERS")),
        "{}",
        output.stdout
    );
    output.assert_stdout_contains(&line(
        "package mb-greet 1.1.0 (all) hash",
        &native_hash,
        &greet_hash,
    ));

    // A member moved to another version than the closure resolves: not confirmed.
    tamper(&project, |artifacts| {
        let greet = entry(artifacts, "mb-hello")
            .packages
            .iter_mut()
            .find(|p| p.name == "mb-greet")
            .unwrap();
        greet.hash = greet_hash.parse().unwrap();
        greet.version = "1.0.0".into();
    });
    let output = against_upstream(&project, &[]);
    assert_eq!(output.status, Some(1), "{}", output.combined());
    output.assert_stdout_contains("    cannot re-check: package mb-greet 1.0.0 (all): the upstream now resolves `mb-greet` to 1.1.0");
}

#[test]
fn against_upstream_fails_when_the_image_tag_moved() {
    let Some(registry) = registry::shared() else {
        return;
    };
    let s = setup();
    let (path, locked_digest) = s.base_manifest.rsplit_once("/manifests/").unwrap();
    let repo = path.strip_prefix("/v2/").unwrap();
    // The registry rebuilt the image under the same tag.
    let moved = registry.push_image(
        repo,
        Some("rebuilt"),
        IndexKind::DockerList,
        "linux/amd64",
        "rebuilt",
    );
    assert_ne!(moved.digest, locked_digest);
    let manifest = registry.get_manifest(repo, &moved.digest, ACCEPT_ALL);
    let content_type = manifest.header("content-type").unwrap().to_string();
    s.world
        .token_registry_fixture(repo, "1", &content_type, &manifest.body);
    let blob = format!("/v2/{repo}/blobs/{}", moved.config_digest);
    let config = crate::support::http::get(&registry.url(&blob)).unwrap();
    s.world.get(&blob, Response::bytes(config.body));

    let output = against_upstream(&s.project, &[]);
    assert_eq!(output.status, Some(1), "{}", output.combined());
    assert!(
        output
            .stdout
            .contains(&format!("{:>12} oci base 1", "DIFFERS")),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains(&line("digest", locked_digest, &moved.digest)),
        "{}",
        output.stdout
    );
    output.assert_stderr_contains("oci `base`");
}

#[test]
fn against_upstream_checks_conda_environments_at_their_locked_version() {
    if registry::shared().is_none() {
        return;
    }
    let f = crate::conda::fixture();
    crate::conda::serve_pixi(&f.world);
    let project = crate::conda::cli_project(&f.world, r#"["jq", "yq >=3"]"#);
    project.lock_ok(&[]);
    let output = against_upstream(&project, &[]);
    assert_eq!(output.status, Some(0), "{}", output.combined());
    for name in ["jq", "yq"] {
        assert!(
            output
                .stdout
                .contains(&format!("{:>12} conda {name} ", "agrees")),
            "{name}:\n{}",
            output.stdout
        );
    }
    // A member's URL moved to another file on the same channel: named with both values.
    let mut locked_urls = String::new();
    let mut forged_urls = String::new();
    tamper(&project, |artifacts| {
        let member = entry(artifacts, "jq").packages.first_mut().unwrap();
        locked_urls = member.urls.join(", ");
        for url in &mut member.urls {
            url.push_str("?forged");
        }
        forged_urls = member.urls.join(", ");
    });
    let output = against_upstream(&project, &[]);
    assert_eq!(output.status, Some(1), "{}", output.combined());
    output.assert_stdout_contains(&format!(
        "urls: locked {forged_urls}, upstream {locked_urls}"
    ));
}

#[test]
fn against_upstream_checks_apt_closure_members() {
    let Some((_world, project, _debs, _work)) = crate::apt_build::apt_build_project() else {
        return;
    };
    let output = against_upstream(&project, &[]);
    assert_eq!(output.status, Some(0), "{}", output.combined());
    assert!(
        output
            .stdout
            .contains(&format!("{:>12} apt stage-1 ", "agrees")),
        "{}",
        output.stdout
    );
    // A member's size and hash swapped for another member's.
    let mut changed = String::new();
    let mut locked_hash = String::new();
    let mut forged_hash = String::new();
    tamper(&project, |artifacts| {
        let stage = entry(artifacts, "stage-1");
        forged_hash = stage.packages[1].hash.to_string();
        let member = &mut stage.packages[0];
        changed = format!(
            "package {} {} ({}) hash",
            member.name, member.version, member.platform
        );
        locked_hash = member.hash.to_string();
        member.hash = forged_hash.parse().unwrap();
    });
    let output = against_upstream(&project, &[]);
    assert_eq!(output.status, Some(1), "{}", output.combined());
    assert!(
        output
            .stdout
            .contains(&line(&changed, &forged_hash, &locked_hash)),
        "{}",
        output.stdout
    );
    output.assert_stderr_contains("apt `stage-1`");
}
