//! `modelbench lock` against the loopback world (GitHub API + downloads) and the real
//! registry: resolution of each kind, pin keeping, `--update`, `--check`, `--offline`,
//! and every failure leaving the previous lock byte-for-byte intact.

use crate::support::project::{Project, artifact, pin};
use crate::support::registry::{self, IndexKind};
use crate::support::sha256_hex;
use crate::support::world::{DigestMode, Fault, FixtureAsset, FixtureRelease, SumsStyle, World};

const AMD64: &str = "clash-rs-x86_64-unknown-linux-musl";
const ARM64: &str = "clash-rs-aarch64-unknown-linux-musl";

/// clash-rs-like releases: v0.10.8 stable, v0.10.7 older, and a newer rolling prerelease
/// tagged `latest`, which `latest` must never pick.
fn clash_releases() -> Vec<FixtureRelease> {
    vec![
        FixtureRelease::new("v0.10.7", "2026-06-01T10:00:00Z")
            .asset(AMD64, b"clash 0.10.7 amd64".to_vec())
            .asset(ARM64, b"clash 0.10.7 arm64".to_vec()),
        FixtureRelease::new("v0.10.8", "2026-07-23T10:00:00Z")
            .asset(AMD64, b"clash 0.10.8 amd64".to_vec())
            .asset(ARM64, b"clash 0.10.8 arm64".to_vec()),
        FixtureRelease::new("latest", "2026-11-20T10:00:00Z")
            .prerelease()
            .asset(AMD64, b"clash nightly amd64".to_vec())
            .asset(ARM64, b"clash nightly arm64".to_vec()),
    ]
}

struct Setup {
    project: Project,
    world: World,
    base: String,
}

/// A project whose base is a two-platform index in the real registry and whose stage 2
/// takes clash-rs from the world's GitHub.
fn setup(version: &str, releases: &[FixtureRelease]) -> Setup {
    let registry = registry::shared_required();
    let world = World::start();
    world.github_release_fixture("Watfaq", "clash-rs", releases);
    let base = registry.push_base(&format!("lock-test/base-{}", world.addr().port()));
    let project = Project::new();
    project.spec(&spec_text(&base, version));
    project
        .sources_file()
        .github_api(&world)
        .registry(registry.host())
        .write();
    Setup {
        project,
        world,
        base,
    }
}

fn spec_text(base: &str, version: &str) -> String {
    format!(
        r#"[image]
name = "mb-test"
tag = "t1"
platforms = ["linux/amd64", "linux/arm64"]

[base]
image = "{base}"

[stage-2.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "{version}"
asset = "clash-rs-{{triple}}"
dest = "/hard/image/app/clash/clash-rs"
"#
    )
}

#[test]
fn lock_latest_pins_newest_stable_release_and_base_digests() {
    let s = setup("latest", &clash_releases());
    let output = s.project.lock_ok(&[]);
    output.assert_stderr_contains("Locking 2 artifact(s): 2 added");

    let lock = s.project.lock_toml();
    assert_eq!(lock["version"].as_integer(), Some(2));
    let clash = artifact(&lock, "github-release", "clash-rs");
    assert_eq!(clash["source"].as_str(), Some("github:Watfaq/clash-rs"));
    assert_eq!(
        clash["version"].as_str(),
        Some("v0.10.8"),
        "the rolling `latest` prerelease must not win"
    );
    assert_eq!(clash["requested"].as_str(), Some("latest"));
    let amd64 = pin(clash, "linux/amd64");
    assert_eq!(
        amd64["hash"].as_str().unwrap(),
        format!("sha256:{}", sha256_hex(b"clash 0.10.8 amd64"))
    );
    assert_eq!(amd64["file"].as_str(), Some(AMD64));
    assert_eq!(amd64["size"].as_integer(), Some(18));
    let arm64 = pin(clash, "linux/arm64");
    assert_eq!(
        arm64["hash"].as_str().unwrap(),
        format!("sha256:{}", sha256_hex(b"clash 0.10.8 arm64"))
    );

    // The base: index digest and one manifest digest per platform, as the registry has them.
    let base = artifact(&lock, "oci", "base");
    let Some(registry) = registry::shared() else {
        return;
    };
    let repo = s.base.split_once('/').unwrap().1.split(':').next().unwrap();
    let index = registry.get_manifest(repo, "1", registry::ACCEPT_ALL);
    let index_digest = format!("sha256:{}", sha256_hex(&index.body));
    assert_eq!(base["digest"].as_str(), Some(index_digest.as_str()));
    let index_json: serde_json::Value = serde_json::from_slice(&index.body).unwrap();
    for (platform, arch) in [("linux/amd64", "amd64"), ("linux/arm64", "arm64")] {
        let entry = index_json["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == arch)
            .unwrap();
        assert_eq!(
            pin(base, platform)["hash"].as_str(),
            entry["digest"].as_str()
        );
    }
    assert_eq!(
        base["images"][0].as_str().unwrap(),
        format!("{}@{index_digest}", s.base.rsplit_once(':').unwrap().0)
    );
}

#[test]
fn lock_twice_is_byte_identical_and_second_run_writes_nothing() {
    let s = setup("latest", &clash_releases());
    s.project.lock_ok(&[]);
    let first = s.project.lock_bytes();
    let modified = std::fs::metadata(s.project.lock_path())
        .unwrap()
        .modified()
        .unwrap();
    let output = s.project.lock_ok(&[]);
    output.assert_stderr_contains("lock unchanged");
    assert_eq!(first, s.project.lock_bytes());
    assert_eq!(
        modified,
        std::fs::metadata(s.project.lock_path())
            .unwrap()
            .modified()
            .unwrap()
    );

    // A fresh lock of the same upstream state, in a new directory, is the same bytes.
    std::fs::remove_file(s.project.lock_path()).unwrap();
    s.project.lock_ok(&[]);
    assert_eq!(first, s.project.lock_bytes());
    let text = String::from_utf8(first).unwrap();
    assert!(text.starts_with("# @generated by modelbench lock"));
    assert!(!text.contains('\r'));
}

#[test]
fn lock_keeps_pins_and_update_moves_them() {
    let s = setup("latest", &clash_releases()[..1]);
    s.project.lock_ok(&[]);
    assert_eq!(
        artifact(&s.project.lock_toml(), "github-release", "clash-rs")["version"].as_str(),
        Some("v0.10.7")
    );
    // Upstream publishes v0.10.8: a plain `lock` keeps the pin (as cargo does) ...
    s.world
        .github_release_fixture("Watfaq", "clash-rs", &clash_releases());
    let before = s.project.lock_bytes();
    s.world.clear_log();
    s.project.lock_ok(&[]);
    assert_eq!(before, s.project.lock_bytes());
    assert!(
        s.world.requests().is_empty(),
        "a satisfied lock must not touch the network: {:?}",
        s.world.requests()
    );
    // ... and `--update clash-rs` moves it, reporting the change.
    let output = s.project.lock_ok(&["--update", "clash-rs"]);
    assert!(
        output
            .stderr
            .contains("Updating github-release clash-rs v0.10.7 -> v0.10.8"),
        "{}",
        output.stderr
    );
    assert_eq!(
        artifact(&s.project.lock_toml(), "github-release", "clash-rs")["version"].as_str(),
        Some("v0.10.8")
    );
}

#[test]
fn lock_changed_constraint_reresolves_only_that_artifact() {
    let s = setup("latest", &clash_releases());
    s.project.lock_ok(&[]);
    let base_before = artifact(&s.project.lock_toml(), "oci", "base").clone();
    s.project.spec(&spec_text(&s.base, "v0.10.7"));
    s.world.clear_log();
    s.project.lock_ok(&[]);
    let lock = s.project.lock_toml();
    assert_eq!(
        artifact(&lock, "github-release", "clash-rs")["version"].as_str(),
        Some("v0.10.7")
    );
    assert_eq!(artifact(&lock, "oci", "base"), &base_before);
    // `0.10.7` finds the `v0.10.7` tag too.
    s.project.spec(&spec_text(&s.base, "0.10.7"));
    s.project.lock_ok(&[]);
    assert_eq!(
        artifact(&s.project.lock_toml(), "github-release", "clash-rs")["version"].as_str(),
        Some("v0.10.7")
    );
}

#[test]
fn lock_semver_range_picks_highest_match() {
    let s = setup("~0.10.7, <0.10.8", &clash_releases());
    s.project.lock_ok(&[]);
    assert_eq!(
        artifact(&s.project.lock_toml(), "github-release", "clash-rs")["version"].as_str(),
        Some("v0.10.7")
    );
    s.project.spec(&spec_text(&s.base, "^0.10"));
    s.project.lock_ok(&[]);
    assert_eq!(
        artifact(&s.project.lock_toml(), "github-release", "clash-rs")["version"].as_str(),
        Some("v0.10.8")
    );
}

#[test]
fn lock_hash_from_sums_file_when_api_has_no_digest() {
    for (style, mode) in [
        (SumsStyle::Text, DigestMode::Null),
        (SumsStyle::Binary, DigestMode::Absent),
    ] {
        let release = FixtureRelease::new("v0.9.5", "2025-01-01T00:00:00Z")
            .asset_with(FixtureAsset::new(AMD64, b"old amd64".to_vec()).digest_mode(mode))
            .asset_with(FixtureAsset::new(ARM64, b"old arm64".to_vec()).digest_mode(mode))
            .sums_file(style);
        let s = setup("latest", &[release]);
        s.project.lock_ok(&[]);
        let lock = s.project.lock_toml();
        let clash = artifact(&lock, "github-release", "clash-rs");
        assert_eq!(
            pin(clash, "linux/amd64")["hash"].as_str().unwrap(),
            format!("sha256:{}", sha256_hex(b"old amd64"))
        );
        let download = format!("/github/Watfaq/clash-rs/releases/download/v0.9.5/{AMD64}");
        assert_eq!(
            s.world.hits(&download),
            0,
            "the sums file should make a download unnecessary"
        );
    }
}

#[test]
fn lock_downloads_and_hashes_when_nothing_is_published() {
    let release = FixtureRelease::new("v0.9.6", "2025-02-01T00:00:00Z")
        .asset_with(
            FixtureAsset::new(AMD64, b"no digest amd64".to_vec()).digest_mode(DigestMode::Null),
        )
        .asset_with(
            FixtureAsset::new(ARM64, b"no digest arm64".to_vec()).digest_mode(DigestMode::Null),
        );
    let s = setup("latest", &[release]);
    s.project.lock_ok(&[]);
    let lock = s.project.lock_toml();
    assert_eq!(
        pin(artifact(&lock, "github-release", "clash-rs"), "linux/arm64")["hash"]
            .as_str()
            .unwrap(),
        format!("sha256:{}", sha256_hex(b"no digest arm64"))
    );
}

#[test]
fn lock_retries_transient_faults() {
    let s = setup("latest", &clash_releases());
    s.world.faults(
        "/api/repos/Watfaq/clash-rs/releases/latest",
        [Fault::Status(503), Fault::RetryAfter(429, 1), Fault::Reset],
    );
    s.project.lock_ok(&[]);
    assert_eq!(
        s.world.hits("/api/repos/Watfaq/clash-rs/releases/latest"),
        4
    );
}

#[test]
fn lock_failure_names_the_artifact_and_leaves_the_old_lock_untouched() {
    let s = setup("latest", &clash_releases());
    s.project.lock_ok(&[]);
    let before = s.project.lock_bytes();

    // The spec now asks for a tag that does not exist.
    s.project.spec(&spec_text(&s.base, "v9.9.9"));
    let output = s.project.lock(&[]);
    assert_eq!(output.status, Some(1), "{}", output.stderr);
    output.assert_stderr_contains("github-release `clash-rs` (v9.9.9)");
    output.assert_stderr_contains("no release tagged v9.9.9");
    output.assert_stderr_contains("was left unchanged");
    assert_eq!(before, s.project.lock_bytes());

    // An asset pattern that matches nothing lists what the release has.
    s.project
        .spec(&spec_text(&s.base, "latest").replace("clash-rs-{triple}", "clash-{triple}.zip"));
    let output = s.project.lock(&[]);
    assert_eq!(output.status, Some(1));
    assert!(
        output
            .stderr
            .contains("has no asset `clash-x86_64-unknown-linux-musl.zip` for linux/amd64"),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains(AMD64),
        "available assets are listed: {}",
        output.stderr
    );
    assert_eq!(before, s.project.lock_bytes());
}

#[test]
fn lock_unreachable_source_is_a_clear_error() {
    let Some(registry) = registry::shared() else {
        return;
    };
    let s = setup("latest", &clash_releases());
    // Port 9 (discard) on loopback: nothing listens, the connection is refused, and that
    // is said at once (not after retries).
    s.project
        .sources_file()
        .upstream("github-api", "http://127.0.0.1:9/api")
        .registry(registry.host())
        .write();
    let output = s.project.lock(&[]);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains("github-release `clash-rs`");
    assert!(
        output
            .stderr
            .contains("cannot reach http://127.0.0.1:9/api/repos/Watfaq/clash-rs/releases/latest: connection refused"),
        "{}",
        output.stderr
    );
    assert!(
        !s.project.lock_path().exists(),
        "no lock may be written on failure"
    );
}

#[test]
fn lock_persistent_server_errors_give_up_after_bounded_retries() {
    let s = setup("latest", &clash_releases());
    s.world.faults(
        "/api/repos/Watfaq/clash-rs/releases/latest",
        [
            Fault::Status(502),
            Fault::Status(502),
            Fault::Status(502),
            Fault::Status(502),
            Fault::Status(502),
        ],
    );
    let output = s.project.lock(&[]);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains("after 4 attempt(s)");
    assert_eq!(
        s.world.hits("/api/repos/Watfaq/clash-rs/releases/latest"),
        4
    );
}

#[test]
fn lock_check_passes_on_fresh_lock_and_fails_when_stale_or_missing() {
    let s = setup("latest", &clash_releases());
    let output = s.project.lock(&["--check"]);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains("no lock at");

    s.project.lock_ok(&[]);
    let before = s.project.lock_bytes();
    s.project.lock_ok(&["--check"]);

    // Comments and formatting do not make a lock stale ...
    let spec = s.project.read("specs/test.toml");
    s.project
        .spec(&format!("# a comment\n{}", spec.replace('\n', "\r\n")));
    s.project.lock_ok(&["--check"]);

    // ... a changed constraint does, and --check writes nothing.
    s.project.spec(&spec_text(&s.base, "v0.10.7"));
    let output = s.project.lock(&["--check"]);
    assert_eq!(output.status, Some(1));
    assert!(
        output
            .stderr
            .contains("github-release `clash-rs` changed in the spec"),
        "{}",
        output.stderr
    );
    assert_eq!(before, s.project.lock_bytes());

    // A changed setting that pins nothing still makes the lock stale (spec-hash).
    s.project
        .spec(&spec_text(&s.base, "latest").replace("tag = \"t1\"", "tag = \"t2\""));
    let output = s.project.lock(&["--check"]);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains("the spec changed since locking");
}

#[test]
fn lock_check_detects_hand_edited_lock() {
    let s = setup("latest", &clash_releases());
    s.project.lock_ok(&[]);
    let text = String::from_utf8(s.project.lock_bytes()).unwrap();
    // Removing an artifact from the lock by hand.
    let start = text.find("[[artifact]]\nkind = \"oci\"").unwrap();
    let end = text[start + 1..]
        .find("[[artifact]]")
        .map(|i| i + start + 1)
        .unwrap_or(text.len());
    std::fs::write(
        s.project.lock_path(),
        format!("{}{}", &text[..start], &text[end..]),
    )
    .unwrap();
    let output = s.project.lock(&["--check"]);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains("oci `base` is not locked");
}

/// The checksum an entry records and the one its content has now, from the lock on disk.
fn checksums(
    project: &crate::support::project::Project,
    kind: &str,
    name: &str,
) -> (String, String) {
    let path = project.lock_path();
    let text = String::from_utf8(project.lock_bytes()).unwrap();
    let lock = modelbench::lock::Lock::parse(&path, &text).unwrap();
    let entry = lock.find(kind, name).unwrap();
    (
        entry
            .checksum
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        entry.content_checksum(),
    )
}

/// A hand edit of a locked entry whose request still matches the spec: `lock --check`,
/// `emit --locked` and plain `emit` refuse it, naming the entry and both checksums, and
/// write nothing; `lock` resolves the entry again.
fn assert_edit_detected(s: &Setup, edit: impl Fn(&str) -> String) {
    let original = s.project.lock_bytes();
    let text = String::from_utf8(original.clone()).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit changed nothing");
    std::fs::write(s.project.lock_path(), &edited).unwrap();
    let (expected, actual) = checksums(&s.project, "github-release", "clash-rs");
    assert_ne!(expected, actual);
    let message = format!(
        "github-release `clash-rs` was edited after locking: expected checksum {expected}, actual {actual}; re-run `modelbench lock`"
    );
    let output = s.project.lock(&["--check"]);
    assert_eq!(output.status, Some(1), "{}", output.stderr);
    output.assert_stderr_contains(&message);
    for flags in [&["--locked"][..], &[]] {
        let output = s.project.emit(flags);
        assert_eq!(output.status, Some(1), "emit {flags:?}: {}", output.stderr);
        output.assert_stderr_contains(&message);
        assert!(!s.project.out_dir().exists(), "emit {flags:?} wrote files");
    }
    assert_eq!(s.project.lock_bytes(), edited.as_bytes());
    let output = s.project.lock(&["--offline"]);
    assert_eq!(output.status, Some(1), "{}", output.stderr);
    output.assert_stderr_contains("--offline: these need the network to resolve: github-release `clash-rs` (edited after locking)");
    // `lock` does not keep the edited pin: it resolves it again, as it was.
    let output = s.project.lock_ok(&[]);
    output.assert_stderr_contains("Resolving 1 artifact(s)");
    assert_eq!(s.project.lock_bytes(), original);
}

#[test]
fn lock_check_and_emit_refuse_an_edited_hash() {
    let s = setup("latest", &clash_releases());
    s.project.lock_ok(&[]);
    // The untouched lock passes both checks.
    s.project.lock_ok(&["--check"]);
    s.project.emit_ok(&["--locked"]);
    std::fs::remove_dir_all(s.project.out_dir()).unwrap();

    let locked = format!("sha256:{}", sha256_hex(b"clash 0.10.8 amd64"));
    let forged = format!("sha256:{}", sha256_hex(b"something else"));
    assert_edit_detected(&s, |text| text.replace(&locked, &forged));
}

#[test]
fn lock_check_and_emit_refuse_an_edited_version() {
    let s = setup("latest", &clash_releases());
    s.project.lock_ok(&[]);
    assert_edit_detected(&s, |text| {
        text.replace("version = \"v0.10.8\"", "version = \"v0.10.9\"")
    });
}

#[test]
fn lock_check_and_emit_refuse_an_entry_without_checksum() {
    let s = setup("latest", &clash_releases());
    s.project.lock_ok(&[]);
    let text = String::from_utf8(s.project.lock_bytes()).unwrap();
    let (recorded, _) = checksums(&s.project, "github-release", "clash-rs");
    let line = format!("checksum = \"{recorded}\"\n");
    assert!(text.contains(&line), "{text}");
    std::fs::write(s.project.lock_path(), text.replace(&line, "")).unwrap();
    let (_, actual) = checksums(&s.project, "github-release", "clash-rs");
    let message = format!(
        "github-release `clash-rs` has no checksum (its content has {actual}): it was edited after locking or written by hand; re-run `modelbench lock`"
    );
    let output = s.project.lock(&["--check"]);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains(&message);
    let output = s.project.emit(&["--locked"]);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains(&message);
    // Only that entry: the base's checksum is intact and not reported.
    assert!(!output.stderr.contains("oci `base`"), "{}", output.stderr);
}

#[test]
fn lock_offline_keeps_pins_and_refuses_to_resolve() {
    let s = setup("latest", &clash_releases());
    let output = s.project.lock(&["--offline"]);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains("--offline: these need the network");
    output.assert_stderr_contains("github-release `clash-rs`");
    assert!(s.world.requests().is_empty(), "{:?}", s.world.requests());

    s.project.lock_ok(&[]);
    s.world.clear_log();
    // A spec change that pins nothing: --offline rewrites the spec-hash without the network.
    s.project
        .spec(&spec_text(&s.base, "latest").replace("tag = \"t1\"", "tag = \"t2\""));
    s.project.lock_ok(&["--offline"]);
    s.project.lock_ok(&["--check"]);
    assert!(s.world.requests().is_empty());
}

#[test]
fn lock_base_through_bearer_token_challenge() {
    let world = World::start();
    world.github_release_fixture("Watfaq", "clash-rs", &clash_releases());
    // A single-arch Docker manifest behind a Docker-Hub-style token challenge.
    let Some(registry) = registry::shared() else {
        return;
    };
    let repo = format!("lock-test/token-{}", world.addr().port());
    registry.push_single_manifest(&repo, "1");
    let manifest = registry.get_manifest(&repo, "1", registry::ACCEPT_ALL);
    let content_type = manifest.header("content-type").unwrap().to_string();
    let fixture = world.token_registry_fixture(&repo, "1", &content_type, &manifest.body);
    // The config blob is served by the world too (behind the same token).
    let config_digest =
        serde_json::from_slice::<serde_json::Value>(&manifest.body).unwrap()["config"]["digest"]
            .as_str()
            .unwrap()
            .to_string();
    let config =
        crate::support::http::get(&registry.url(&format!("/v2/{repo}/blobs/{config_digest}")))
            .unwrap();
    let blob_path = format!("/v2/{repo}/blobs/{config_digest}");
    world.get(
        &blob_path,
        crate::support::world::Response::bytes(config.body),
    );

    let project = Project::new();
    let spec = spec_text(&format!("{}/{repo}:1", fixture.host), "latest").replace(
        "platforms = [\"linux/amd64\", \"linux/arm64\"]",
        "platforms = [\"linux/amd64\"]",
    );
    project.spec(&spec);
    project
        .sources_file()
        .github_api(&world)
        .registry(&fixture.host)
        .write();
    project.lock_ok(&[]);
    let lock = project.lock_toml();
    let base = artifact(&lock, "oci", "base");
    assert_eq!(base["digest"].as_str(), Some(fixture.digest.as_str()));
    assert_eq!(
        pin(base, "linux/amd64")["hash"].as_str(),
        Some(fixture.digest.as_str())
    );
    let token_requests = world
        .requests()
        .iter()
        .filter(|(_, path, _)| path.starts_with("/token"))
        .count();
    assert!(token_requests >= 1, "{:?}", world.requests());

    // The same single-arch image cannot serve a two-platform spec.
    project.spec(&spec_text(&format!("{}/{repo}:1", fixture.host), "latest"));
    let output = project.lock(&[]);
    assert_eq!(output.status, Some(1));
    assert!(
        output
            .stderr
            .contains("single-platform (linux/amd64) but the spec asks for linux/arm64"),
        "{}",
        output.stderr
    );
}

#[test]
fn lock_docker_list_and_attestations() {
    let Some(registry) = registry::shared() else {
        return;
    };
    let world = World::start();
    world.github_release_fixture("Watfaq", "clash-rs", &clash_releases());
    for (index, with_attestations) in [("list", false), ("attested", true)] {
        let repo = format!("lock-test/{index}-{}", world.addr().port());
        let pushed = if with_attestations {
            registry.push_two_platform_index_with_attestations(&repo, "1")
        } else {
            registry.push_two_platform_index(&repo, "1", IndexKind::DockerList)
        };
        let project = Project::new();
        project.spec(&spec_text(&registry.reference(&repo, "1"), "latest"));
        project
            .sources_file()
            .github_api(&world)
            .registry(registry.host())
            .write();
        project.lock_ok(&[]);
        let lock = project.lock_toml();
        let base = artifact(&lock, "oci", "base");
        assert_eq!(base["digest"].as_str(), Some(pushed.index_digest.as_str()));
        for platform in ["linux/amd64", "linux/arm64"] {
            assert_eq!(
                pin(base, platform)["hash"].as_str(),
                Some(pushed.digest_for(platform))
            );
        }
    }
}

#[test]
fn lock_rejects_a_registry_that_lies_about_the_digest() {
    let world = World::start();
    world.github_release_fixture("Watfaq", "clash-rs", &clash_releases());
    let Some(registry) = registry::shared() else {
        return;
    };
    let repo = format!("lock-test/liar-{}", world.addr().port());
    registry.push_single_manifest(&repo, "1");
    let manifest = registry.get_manifest(&repo, "1", registry::ACCEPT_ALL);
    let wrong = format!("sha256:{}", "0".repeat(64));
    world.get(
        &format!("/v2/{repo}/manifests/1"),
        crate::support::world::Response::bytes(manifest.body.clone())
            .header("Content-Type", manifest.header("content-type").unwrap())
            .header("Docker-Content-Digest", &wrong),
    );
    let project = Project::new();
    let host = world.addr().to_string();
    project.spec(&spec_text(&format!("{host}/{repo}:1"), "latest").replace(
        "platforms = [\"linux/amd64\", \"linux/arm64\"]",
        "platforms = [\"linux/amd64\"]",
    ));
    project
        .sources_file()
        .github_api(&world)
        .registry(&host)
        .write();
    let output = project.lock(&[]);
    assert_eq!(output.status, Some(1));
    assert!(
        output
            .stderr
            .contains(&format!("says manifest 1 has digest {wrong}")),
        "{}",
        output.stderr
    );
}

#[test]
fn lock_refuses_plain_http_without_opt_in() {
    let s = setup("latest", &clash_releases());
    // The registry is named without the http opt-in in the sources file.
    s.project.sources_file().github_api(&s.world).write();
    let output = s.project.lock(&[]);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains("oci `base`");
}

#[test]
fn lock_json_quiet_and_verbose_outputs() {
    let s = setup("latest", &clash_releases());
    let output = s.project.lock_ok(&["--json"]);
    let doc: serde_json::Value =
        serde_json::from_str(&output.stdout).expect("--json prints JSON on stdout");
    assert_eq!(doc["schema"], "modelbench-lock/1");
    assert_eq!(doc["written"], true);
    assert_eq!(doc["artifacts"], 2);
    assert_eq!(doc["added"], 2);
    let changes = doc["changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c["change"] == "added" && c["name"] == "clash-rs" && c["to"] == "v0.10.8")
    );
    assert!(
        output.stderr.is_empty(),
        "--json keeps stderr for errors: {}",
        output.stderr
    );

    let output = s.project.lock_ok(&["--update", "--quiet"]);
    assert!(
        output.stderr.is_empty() && output.stdout.is_empty(),
        "{}{}",
        output.stdout,
        output.stderr
    );

    // Not a terminal: --verbose gives one line per resolution.
    let output = s.project.lock_ok(&["--update", "clash-rs", "--verbose"]);
    assert!(
        output
            .stderr
            .contains("Resolved github-release clash-rs v0.10.8 [1/1]"),
        "{}",
        output.stderr
    );
}

#[test]
fn lock_sends_github_token_to_the_api_only() {
    let s = setup("latest", &clash_releases());
    let output = crate::support::run(
        s.project
            .lock_command(&[])
            .env("GITHUB_TOKEN", "ghp_fixture_token"),
    );
    assert!(output.success(), "{}", output.stderr);
    let log = s.world.request_log();
    let api: Vec<_> = log.iter().filter(|r| r.path.starts_with("/api/")).collect();
    assert!(!api.is_empty());
    for request in api {
        assert_eq!(
            request.header("authorization"),
            Some("Bearer ghp_fixture_token"),
            "{}",
            request.path
        );
    }
    for request in log.iter().filter(|r| !r.path.starts_with("/api/")) {
        assert_eq!(
            request.header("authorization"),
            None,
            "no token outside the API: {}",
            request.path
        );
    }
    assert!(!output.stderr.contains("ghp_fixture_token"));
}

#[test]
fn lock_rate_limits_are_waited_out_or_reported() {
    // A short Retry-After on a 403 (GitHub's secondary limit) is waited out.
    let s = setup("latest", &clash_releases());
    s.world.fault(
        "/api/repos/Watfaq/clash-rs/releases/latest",
        Fault::RetryAfter(403, 1),
    );
    s.project.lock_ok(&[]);
    assert_eq!(
        s.world.hits("/api/repos/Watfaq/clash-rs/releases/latest"),
        2
    );

    // The primary limit exhausted for an hour: reported, not slept through.
    let s = setup("latest", &clash_releases());
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    s.world.get(
        "/api/repos/Watfaq/clash-rs/releases/latest",
        crate::support::world::Response::json(
            serde_json::json!({"message": "API rate limit exceeded"}),
        )
        .with_status(403)
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset", reset.to_string()),
    );
    let started = std::time::Instant::now();
    let output = s.project.lock(&[]);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains("rate limited by");
    output.assert_stderr_contains("set GITHUB_TOKEN");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "no hour-long sleep"
    );
}

/// Regression (found by the fault runs' probe): with one hex-only `.sha256` sidecar per
/// asset, each platform must get its own asset's hash, not the first platform's.
#[test]
fn lock_per_asset_hex_only_sidecars_pin_each_platform() {
    let mut release = FixtureRelease::new("v0.9.7", "2025-03-01T00:00:00Z");
    for (name, bytes) in [
        (AMD64, b"sidecar amd64".to_vec()),
        (ARM64, b"sidecar arm64".to_vec()),
    ] {
        let sidecar = format!("{}\n", sha256_hex(&bytes));
        release = release
            .asset_with(FixtureAsset::new(name, bytes).digest_mode(DigestMode::Null))
            .asset_with(
                FixtureAsset::new(&format!("{name}.sha256"), sidecar.into_bytes())
                    .digest_mode(DigestMode::Null),
            );
    }
    let s = setup("latest", &[release]);
    s.project.lock_ok(&[]);
    let lock = s.project.lock_toml();
    let clash = artifact(&lock, "github-release", "clash-rs");
    assert_eq!(
        pin(clash, "linux/amd64")["hash"].as_str().unwrap(),
        format!("sha256:{}", sha256_hex(b"sidecar amd64"))
    );
    assert_eq!(
        pin(clash, "linux/arm64")["hash"].as_str().unwrap(),
        format!("sha256:{}", sha256_hex(b"sidecar arm64"))
    );
    for name in [AMD64, ARM64] {
        let path = format!("/github/Watfaq/clash-rs/releases/download/v0.9.7/{name}");
        assert_eq!(
            s.world.hits(&path),
            0,
            "the sidecar makes a download unnecessary"
        );
    }
}
