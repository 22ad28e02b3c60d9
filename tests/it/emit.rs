//! `modelbench emit`: deterministic, offline, refuses stale or incomplete locks, and keeps
//! secrets and the proxy out of the Dockerfiles and installation scripts.

use crate::support::project::Project;
use crate::support::read_tree;
use crate::support::registry;
use crate::support::world::{FixtureRelease, World};

const EXTRA: &str = r#"
[proxy]
address = "proxy.internal.example"
port = "${HOST_PORT_PROXY:-7890}"

[ssh]
# The SSH server needs openssh-server from apt, which has no resolver yet: users only.
enable = false
port = 22
host-port = "${HOST_PORT_SSH:-2222}"

[[users]]
name = "peid"
uid = 3100
gid = 1100
password = "s3cret-Pa55"
pubkey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly test@host"

[stage-2.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "latest"
asset = "clash-rs-{triple}"
dest = "/hard/image/app/clash/clash-rs"

[stage-2.storage.workspace]
type = "host"
host-path = ".container/workspace"

[stage-2.mount.home_peid]
type = "auto-volume"
dst-path = "/home/peid"

[stage-2]
ports = ["8888:8888"]
"#;

/// A locked project (base + clash-rs, users, proxy, storage), with its world still up.
fn locked_project(gpu: bool) -> (Project, World, String) {
    let registry = registry::shared_required();
    let world = World::start();
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
    let base = registry.push_base(&format!("emit-test/base-{}", world.addr().port()));
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-test"
tag = "t1"
platforms = ["linux/amd64"]
gpu = {gpu}

[base]
image = "{base}"
{EXTRA}"#
    ));
    project
        .sources_file()
        .github_api(&world)
        .registry(registry.host())
        .write();
    project.lock_ok(&[]);
    (project, world, base)
}

#[test]
fn emit_is_offline_and_byte_identical() {
    let (project, world, _) = locked_project(true);
    drop(world); // nothing answers any more: emit must not need it
    let output = project.emit_ok(&["--out", "out-a"]);
    assert!(
        output.stderr.contains("plain-text password"),
        "the plain password is warned about: {}",
        output.stderr
    );
    project.emit(&["--out", "out-b"]);
    let a = read_tree(&project.path("out-a"));
    let b = read_tree(&project.path("out-b"));
    assert_eq!(a, b);
    for file in [
        "stage-1.Dockerfile",
        "stage-2.Dockerfile",
        "merged.Dockerfile",
        "docker-compose.yml",
        "build.sh",
        "build-merged.sh",
        "run.sh",
        "installation/common/modelbench-fetch.sh",
        "installation/stage-1/users.tsv",
        "installation/stage-2/artifacts.tsv",
    ] {
        assert!(
            a.contains_key(file),
            "{file} missing; emitted: {:?}",
            a.keys().collect::<Vec<_>>()
        );
    }
    // Default output directory: build/<spec name>/.
    project.emit(&[]);
    assert_eq!(read_tree(&project.out_dir()), a);
}

#[test]
fn emit_dockerfiles_pin_base_by_digest_and_state_their_guarantee() {
    let (project, _world, base) = locked_project(false);
    project.emit(&[]);
    let lock = project.lock_toml();
    let digest = crate::support::project::artifact(&lock, "oci", "base")["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let stage_1 = project.read("build/test/stage-1.Dockerfile");
    let repository = base.rsplit_once(':').unwrap().0;
    assert!(
        stage_1.contains(&format!("FROM {repository}@{digest}")),
        "{stage_1}"
    );
    assert!(
        stage_1.contains(&format!("# base: {base} (pinned by digest)")),
        "{stage_1}"
    );
    let lock_sha = crate::support::sha256_hex(&project.lock_bytes());
    assert!(
        stage_1.contains(&format!("(sha256:{lock_sha})")),
        "the header names the lock's hash: {stage_1}"
    );
    assert!(stage_1.contains("modelbench lock --check"), "{stage_1}");
    assert!(
        stage_1.contains(lock["spec-hash"].as_str().unwrap()),
        "{stage_1}"
    );
    let merged = project.read("build/test/merged.Dockerfile");
    if std::env::var_os("SHOW_EMIT").is_some() {
        println!(
            "{merged}\n{}",
            project.read("build/test/docker-compose.yml")
        );
    }
    assert!(merged.contains(&format!("FROM {repository}@{digest} AS stage-1")));
    assert!(merged.contains("FROM stage-1 AS stage-2"));
    // The RUN steps see the lock's SOURCE_DATE_EPOCH (both stages), and build.sh passes
    // an override to buildah as the timestamp and as the build arg alike.
    let epoch = project
        .read("build/test/build.sh")
        .split("SOURCE_DATE_EPOCH:-")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .map(String::from)
        .unwrap();
    assert_ne!(epoch, "0");
    let arg = format!("ARG SOURCE_DATE_EPOCH={epoch}\n");
    assert_eq!(merged.matches(&arg).count(), 2, "{merged}");
    assert!(stage_1.contains(&arg), "{stage_1}");
    assert!(project.read("build/test/stage-2.Dockerfile").contains(&arg));
    assert!(project.read("build/test/build.sh").contains(
        "buildah bud --layers --timestamp \"$SOURCE_DATE_EPOCH\" --platform \"$platforms\" --build-arg \"SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH\""
    ));
    assert!(merged.contains("modelbench-fetch.sh /modelbench/installation/stage-2/artifacts.tsv clash-rs /hard/image/app/clash/clash-rs 0755"));
    let artifacts = project.read("build/test/installation/stage-2/artifacts.tsv");
    let clash = crate::support::project::artifact(&lock, "github-release", "clash-rs");
    let pin = crate::support::project::pin(clash, "linux/amd64");
    assert!(
        artifacts.contains(&format!(
            "clash-rs\tlinux/amd64\t{}\t11\t{}",
            pin["hash"].as_str().unwrap(),
            pin["urls"][0].as_str().unwrap()
        )),
        "{artifacts}"
    );
}

#[test]
fn emit_keeps_password_and_proxy_out_of_dockerfiles_and_image_scripts() {
    let (project, _world, _) = locked_project(true);
    project.emit(&[]);
    let files = read_tree(&project.out_dir());
    for (name, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("s3cret-Pa55"),
            "the password leaked into {name}"
        );
        // The proxy is only passed to the builder (compose args, build scripts), never baked in.
        if name.ends_with("Dockerfile") || name.starts_with("installation/") {
            assert!(
                !text.contains("proxy.internal.example"),
                "the proxy leaked into {name}"
            );
            assert!(
                !text.to_lowercase().contains("http_proxy"),
                "a proxy variable in {name}"
            );
        }
    }
    let users = String::from_utf8_lossy(&files["installation/stage-1/users.tsv"]).into_owned();
    assert!(
        users.starts_with("peid\t3100\t1100\t$6$"),
        "a SHA-512 crypt hash: {users}"
    );
    assert!(
        String::from_utf8_lossy(&files["installation/stage-1/keys/peid.pub"])
            .starts_with("ssh-ed25519 ")
    );

    let compose = String::from_utf8_lossy(&files["docker-compose.yml"]).into_owned();
    assert!(
        compose.contains("http_proxy: \"http://proxy.internal.example:${HOST_PORT_PROXY:-7890}\""),
        "{compose}"
    );
    assert!(
        compose.contains("\"host.docker.internal:host-gateway\""),
        "{compose}"
    );
    assert!(compose.contains("- \"8888:8888\""), "{compose}");
    assert!(compose.contains("capabilities: [gpu]"), "{compose}");
    assert!(
        compose.contains("- \".container/workspace:/hard/volume/workspace\""),
        "{compose}"
    );
    assert!(compose.contains("- \"home_peid:/home/peid\""), "{compose}");
    assert!(
        compose.contains("image: \"mb-test:t1-stage-1\""),
        "{compose}"
    );
    assert!(compose.contains("image: \"mb-test:t1\""), "{compose}");
}

#[test]
fn emit_refuses_missing_stale_or_incomplete_locks() {
    let (project, _world, _) = locked_project(false);
    // No lock at the given path.
    let output = project.emit(&["--lock", "nope.lock"]);
    assert_eq!(output.status, Some(1));
    assert!(
        output
            .stderr
            .contains("no lock at nope.lock; run `modelbench lock` first"),
        "{}",
        output.stderr
    );

    // A setting changed that pins nothing: plain emit warns, --locked refuses.
    let spec = project.read("specs/test.toml");
    project.spec(&spec.replace("tag = \"t1\"", "tag = \"t9\""));
    let output = project.emit_ok(&[]);
    output.assert_stderr_contains("warning: the lock");
    let output = project.emit(&["--locked"]);
    assert_eq!(output.status, Some(1));
    assert!(
        output
            .stderr
            .contains("was made for another version of the spec"),
        "{}",
        output.stderr
    );

    // A changed constraint: emit refuses even without --locked, naming the artifact.
    project.spec(&spec.replace("version = \"latest\"", "version = \"v0.10.7\""));
    let output = project.emit(&[]);
    assert_eq!(output.status, Some(1));
    assert!(
        output
            .stderr
            .contains("github-release `clash-rs` in the lock"),
        "{}",
        output.stderr
    );

    // An artifact the lock does not have.
    project.spec(&format!(
        "{spec}\n[stage-2.url.extra]\nurl = \"https://example.com/x\"\nsha256 = \"{}\"\ndest = \"/x\"\n",
        "a".repeat(64)
    ));
    let output = project.emit(&[]);
    assert_eq!(output.status, Some(1));
    assert!(
        output
            .stderr
            .contains("url `extra` is in the spec but not in the lock"),
        "{}",
        output.stderr
    );

    // A lock edited by hand into something unreadable.
    std::fs::write(project.lock_path(), "version = 1\nspec-hash = 3\n").unwrap();
    project.spec(&spec);
    let output = project.emit(&[]);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains("invalid lock");
}

/// Ubuntu 24.04's deb822 sources as the images ship them (sources.md §8).
const NOBLE_SOURCES: &str = "Types: deb\nURIs: http://archive.ubuntu.com/ubuntu/\nSuites: noble noble-updates noble-backports\nComponents: main universe restricted multiverse\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n\n## Ubuntu security updates. Aside from URIs and Suites,\n## this should mirror your choices in the previous section.\nTypes: deb\nURIs: http://security.ubuntu.com/ubuntu/\nSuites: noble-security\nComponents: main universe restricted multiverse\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n";

#[test]
fn emit_apt_mirror_script_switches_deb822_and_legacy_sources() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/installation/stage-1/setup-apt-mirror.sh"
    );
    let root = crate::support::temp_dir();
    let sources_d = root.path().join("etc/apt/sources.list.d");
    std::fs::create_dir_all(&sources_d).unwrap();
    std::fs::write(sources_d.join("ubuntu.sources"), NOBLE_SOURCES).unwrap();
    std::fs::write(
        root.path().join("etc/apt/sources.list"),
        "# Ubuntu sources have moved to /etc/apt/sources.list.d/ubuntu.sources\n",
    )
    .unwrap();
    let (ubuntu, ports) = modelbench::spec::mirror_urls::apt("tuna");
    let mut cmd = std::process::Command::new("sh");
    cmd.arg(script)
        .arg(&ubuntu)
        .arg(&ports)
        .env("MODELBENCH_ROOT", root.path());
    let output = crate::support::run(&mut cmd);
    assert!(output.success(), "{}", output.stderr);
    let switched = std::fs::read_to_string(sources_d.join("ubuntu.sources")).unwrap();
    assert!(
        switched.contains("URIs: https://mirrors.tuna.tsinghua.edu.cn/ubuntu/\n"),
        "{switched}"
    );
    assert!(
        switched.contains("URIs: http://security.ubuntu.com/ubuntu/\n"),
        "security stays official: {switched}"
    );
    assert_eq!(switched.matches("URIs:").count(), 2);

    // arm64 images point at ports; the classic one-line format is switched too.
    std::fs::write(
        sources_d.join("ubuntu.sources"),
        NOBLE_SOURCES.replace(
            "http://archive.ubuntu.com/ubuntu/",
            "http://ports.ubuntu.com/ubuntu-ports/",
        ),
    )
    .unwrap();
    std::fs::write(
        root.path().join("etc/apt/sources.list"),
        "deb http://archive.ubuntu.com/ubuntu/ jammy main\n",
    )
    .unwrap();
    let output = crate::support::run(&mut cmd);
    assert!(output.success(), "{}", output.stderr);
    let switched = std::fs::read_to_string(sources_d.join("ubuntu.sources")).unwrap();
    assert!(
        switched.contains("URIs: https://mirrors.tuna.tsinghua.edu.cn/ubuntu-ports/\n"),
        "{switched}"
    );
    let legacy = std::fs::read_to_string(root.path().join("etc/apt/sources.list")).unwrap();
    assert_eq!(
        legacy,
        "deb https://mirrors.tuna.tsinghua.edu.cn/ubuntu/ jammy main\n"
    );

    // No Ubuntu sources at all: a clear failure, not a silent no-op.
    let empty = crate::support::temp_dir();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg(script)
        .arg(&ubuntu)
        .arg(&ports)
        .env("MODELBENCH_ROOT", empty.path());
    let output = crate::support::run(&mut cmd);
    assert!(!output.success());
    output.assert_stderr_contains("no Ubuntu apt sources found");
}

#[test]
fn emit_writes_the_bump_workflow_when_asked() {
    let (project, _world, _) = locked_project(false);
    project.emit_ok(&["--github-workflow"]);
    let workflow = project.read(".github/workflows/modelbench-bump.yml");
    assert!(
        workflow.contains("modelbench bump specs/test.toml --pr"),
        "{workflow}"
    );
    assert!(workflow.contains("schedule:"), "{workflow}");
    assert!(
        workflow.contains("THE TOKEN MATTERS"),
        "the token caveat is stated: {workflow}"
    );
    assert!(
        workflow.contains("secrets.MODELBENCH_BUMP_TOKEN"),
        "{workflow}"
    );
    // Without the flag nothing is written outside the output directory.
    std::fs::remove_file(project.path(".github/workflows/modelbench-bump.yml")).unwrap();
    project.emit(&[]);
    assert!(!project.exists(".github/workflows/modelbench-bump.yml"));
}

/// `[proxy] address` with credentials would put them in plain text into build.sh,
/// docker-compose.yml and docker-bake.hcl: emit refuses it, says how to pass the proxy
/// at build time instead, and neither prints nor writes the password.
#[test]
fn emit_refuses_a_proxy_address_with_credentials() {
    let (project, _world, _) = locked_project(false);
    let spec = project.read("specs/test.toml");
    let with_credentials = spec.replace(
        "address = \"proxy.internal.example\"",
        "address = \"alice:s3cret-proxy@proxy.internal.example\"",
    );
    assert_ne!(
        spec, with_credentials,
        "the fixture spec has a proxy address"
    );
    project.spec(&with_credentials);
    let output = project.emit(&["--out", "with-credentials"]);
    assert!(!output.success(), "emit must refuse: {}", output.stdout);
    output.assert_stderr_contains("has credentials");
    assert!(
        output.stderr.contains("environment at build time"),
        "the message says where the proxy goes instead: {}",
        output.stderr
    );
    assert!(!output.stderr.contains("s3cret-proxy"), "{}", output.stderr);
    assert!(!project.exists("with-credentials"), "nothing is written");

    // A port that is not a number or a `${VAR:-default}` is refused too.
    project.spec(&spec.replace(
        "port = \"${HOST_PORT_PROXY:-7890}\"",
        "port = \"7890$(touch pwned)\"",
    ));
    let output = project.emit(&["--out", "bad-port"]);
    assert!(!output.success(), "emit must refuse: {}", output.stdout);
    output.assert_stderr_contains("`[proxy]` port");
    assert!(!project.exists("bad-port"));
}

/// A resealed lock whose release version carries a newline and a `RUN` (a lock edited in a
/// pull request: the entry checksum is recomputable by anyone) is refused, naming the
/// entry, with the value escaped; nothing is written.
#[test]
fn emit_refuses_a_resealed_lock_with_a_hostile_version() {
    let (project, _world, _) = locked_project(false);
    let text = String::from_utf8(project.lock_bytes()).unwrap();
    let mut lock: modelbench::lock::LockWire = toml::from_str(&text).unwrap();
    let release = lock
        .artifacts
        .iter_mut()
        .find(|a| a.name == "clash-rs")
        .expect("the fixture locks clash-rs");
    release.version = "v0.10.8\nRUN touch /pwned".into();
    lock.reseal();
    std::fs::write(project.lock_path(), lock.to_bytes()).unwrap();

    let output = project.emit(&["--locked", "--out", "hostile"]);
    assert!(!output.success(), "emit must refuse: {}", output.stdout);
    assert!(
        output.stderr.contains("clash-rs"),
        "names the entry: {}",
        output.stderr
    );
    assert!(
        !output.stderr.contains("\nRUN touch"),
        "the value is escaped, not printed raw: {}",
        output.stderr
    );
    assert!(!project.exists("hostile"), "nothing is written");
}
