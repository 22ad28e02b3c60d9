//! The emitted build context passes the linters: `hadolint` on the three Dockerfiles and
//! `shellcheck` on every emitted shell script (static and generated), with no findings.
//!
//! The spec uses every part `lock` resolves today (base, apt from a signed archive,
//! release, url, users, tools, proxy, storage, mirrors, links, GPU, checks). Without the linters the test prints a
//! skip note, unless CI (`support::tools`) makes their absence a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::support::project::Project;
use crate::support::registry;
use crate::support::tools;
use crate::support::world::{DigestMode, FixtureAsset, FixtureRelease, Response, World};
use crate::support::{run, sha256_hex};

/// The linters on PATH, or `None` with a skip note (a failure in CI).
pub(crate) fn linters() -> Option<(PathBuf, PathBuf)> {
    tools::require(&[&tools::HADOLINT, &tools::SHELLCHECK])
        .then(|| (PathBuf::from("hadolint"), PathBuf::from("shellcheck")))
}

/// Lock and emit a spec with every feature `lock` resolves today; returns the build dir.
pub(crate) fn emitted_context(project: &Project, world: &World) -> PathBuf {
    full_spec(project, world);
    project.lock_and_emit()
}

/// Write a spec with every feature `lock` resolves today, its sources file and keyring,
/// and serve what it asks for from `world` and the shared registry.
pub(crate) fn full_spec(project: &Project, world: &World) {
    let registry = registry::shared_required();
    let base = registry.push_base(&format!("lint/base-{}", world.addr().port()));

    world.get(
        "/nodejs/dist/index.json",
        Response::json(json!([
            {"version": "v22.11.0", "date": "2026-10-29", "files": ["linux-arm64", "linux-x64"], "lts": "Jod"},
        ])),
    );
    let mut shasums = String::new();
    for platform in ["linux-x64", "linux-arm64"] {
        let file = format!("node-v22.11.0-{platform}.tar.gz");
        shasums.push_str(&format!("{}  {file}\n", sha256_hex(file.as_bytes())));
    }
    world.get(
        "/nodejs/dist/v22.11.0/SHASUMS256.txt",
        Response::text(shasums),
    );
    world.github_release_fixture(
        "nvm-sh",
        "nvm",
        &[FixtureRelease::new("v0.40.3", "2026-04-23T00:00:00Z")],
    );
    world.get("/raw/nvm-sh/nvm/v0.40.3/nvm.sh", Response::text("# nvm\n"));
    let triples = ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"];
    let mut uv = FixtureRelease::new("0.12.5", "2026-08-21T00:00:00Z");
    let mut pixi = FixtureRelease::new("v0.77.0", "2026-08-19T00:00:00Z");
    let mut clash = FixtureRelease::new("v0.10.8", "2026-07-23T10:00:00Z");
    for triple in triples {
        uv = uv.asset(&format!("uv-{triple}.tar.gz"), triple.as_bytes().to_vec());
        pixi = pixi.asset(&format!("pixi-{triple}.tar.gz"), triple.as_bytes().to_vec());
        clash = clash.asset(&format!("clash-rs-{triple}"), triple.as_bytes().to_vec());
    }
    world.github_release_fixture("astral-sh", "uv", &[uv]);
    world.github_release_fixture("prefix-dev", "pixi", &[pixi]);
    world.github_release_fixture("Watfaq", "clash-rs", &[clash]);
    let mut bun = FixtureRelease::new("bun-v1.4.5", "2026-09-01T00:00:00Z");
    for target in ["linux-x64", "linux-aarch64"] {
        bun = bun.asset_with(
            FixtureAsset::new(&format!("bun-{target}.zip"), target.as_bytes().to_vec())
                .digest_mode(DigestMode::Api),
        );
    }
    world.github_release_fixture("oven-sh", "bun", &[bun]);
    let card = b"model card\n".to_vec();
    world.get("/files/card.txt", Response::bytes(card.clone()));
    // A signed Debian archive (the apt tests' fixture) and its key beside the spec.
    serve_dir(
        world,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apt/repo"),
        "/debian",
    );
    project.write("specs/keyring.gpg", "");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apt/keyring/test-archive.gpg"),
        project.path("specs/keyring.gpg"),
    )
    .unwrap();

    project.spec(&format!(
        r#"[image]
name = "mb-lint"
tag = "t1"
platforms = ["linux/amd64", "linux/arm64"]
gpu = true

[base]
image = "{base}"

[mirrors]
apt = "tuna"
pypi = "tuna"
conda = "tuna"
npm = "https://registry.npmmirror.com"
nodejs = "https://npmmirror.com/mirrors/node"

[proxy]
address = "host.docker.internal"
port = "${{HOST_PORT_PROXY:-7890}}"

[[users]]
name = "peid"
uid = 3100
gid = 1100
password = "123456"
pubkey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFixtureKeyForLintOnly peid@lint"

[[users]]
name = "guest"
uid = 3101
gid = 1100
password-hash = "$6$salt$hash"

[[apt.archives]]
uris = ["{archive}"]
suites = ["stable"]
components = ["main"]
signed-by = ["keyring.gpg"]

[stage-1]
apt = ["nano", "hello"]
tools.uv = {{ version = "latest", user = "peid" }}
environment = {{ "LANG" = "C.UTF-8" }}

[stage-2]
tools.pixi = {{ version = "latest", user = "peid" }}
tools.node = {{ version = "lts", user = "peid" }}
tools.bun = {{ version = "latest", user = "peid" }}
links = {{ "/soft/app" = "/hard/image/app" }}
ports = ["8080:80"]

[checks]
python-imports = ["json"]

[stage-2.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "latest"
asset = "clash-rs-{{triple}}"
dest = "/hard/image/app/clash/clash-rs"

[stage-2.url.model-card]
url = "{card_url}"
sha256 = "{card_sha}"
dest = "/hard/image/app/model-card.txt"

[stage-2.storage.workspace]
type = "host"
host-path = ".container/workspace"

[stage-2.storage.data]
type = "auto-volume"

[stage-2.mount.home_peid]
type = "auto-volume"
dst-path = "/home/peid"
"#,
        card_url = world.url("/files/card.txt"),
        archive = world.url("/debian"),
        card_sha = sha256_hex(&card),
    ));
    project
        .sources_file()
        .tools(world)
        .registry(registry.host())
        .write();
}

/// Serve every file under `dir` at `prefix/<relative path>`.
fn serve_dir(world: &World, dir: &Path, prefix: &str) {
    let mut all = Vec::new();
    files(dir, &mut all);
    for path in all {
        let relative = path
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        world.get(
            &format!("{prefix}/{relative}"),
            Response::bytes(std::fs::read(&path).unwrap()),
        );
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// A shell script: a `.sh` file, or any file starting with a `sh`/`bash` shebang.
fn is_shell_script(path: &Path) -> bool {
    if path.extension().is_some_and(|e| e == "sh") {
        return true;
    }
    std::fs::read(path).is_ok_and(|bytes| {
        let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
        first.starts_with(b"#!") && (first.ends_with(b"/sh") || first.ends_with(b"bash"))
    })
}

#[test]
fn lint_emitted_dockerfiles_and_scripts_have_no_findings() {
    let Some((hadolint, shellcheck)) = linters() else {
        return;
    };
    let world = World::start();
    let project = Project::new();
    let out = emitted_context(&project, &world);
    let relative = |path: &Path| path.strip_prefix(&out).unwrap().display().to_string();

    let mut all = Vec::new();
    files(&out, &mut all);
    all.sort();
    let dockerfiles: Vec<&PathBuf> = all
        .iter()
        .filter(|p| p.to_string_lossy().ends_with("Dockerfile"))
        .collect();
    let scripts: Vec<&PathBuf> = all.iter().filter(|p| is_shell_script(p)).collect();
    assert_eq!(dockerfiles.len(), 3, "{all:?}");
    let merged = std::fs::read_to_string(out.join("merged.Dockerfile")).unwrap();
    assert!(
        merged.contains("install-debs.sh"),
        "apt is emitted: {merged}"
    );
    for expected in [
        "build.sh",
        "build-merged.sh",
        "run.sh",
        "installation/common/modelbench-fetch.sh",
        "installation/stage-2/self-check.sh",
    ] {
        assert!(
            scripts.iter().any(|p| relative(p) == expected),
            "{expected} not among the scripts: {:?}",
            scripts.iter().map(|p| relative(p)).collect::<Vec<_>>()
        );
    }

    let mut findings = Vec::new();
    for dockerfile in &dockerfiles {
        let mut cmd = Command::new(&hadolint);
        cmd.arg("--no-color").arg(dockerfile).current_dir(&out);
        let output = run(&mut cmd);
        let text = output.combined();
        if !output.success() || !text.trim().is_empty() {
            findings.push(format!(
                "hadolint {}:\n{}",
                relative(dockerfile),
                text.trim()
            ));
        }
    }
    let hadolint_findings = findings.len();
    for script in &scripts {
        // `-x` follows what a script sources from the context (self-check.sh sources the
        // library it is installed beside); external paths are the images', not ours.
        let mut cmd = Command::new(&shellcheck);
        cmd.args([
            "--color=never",
            "--external-sources",
            "--source-path=SCRIPTDIR",
        ])
        .arg(script)
        .current_dir(&out);
        let output = run(&mut cmd);
        let text = output.combined();
        if !output.success() || !text.trim().is_empty() {
            findings.push(format!("shellcheck {}:\n{}", relative(script), text.trim()));
        }
    }
    println!(
        "lint: {} Dockerfiles ({} with findings), {} shell scripts ({} with findings)",
        dockerfiles.len(),
        hadolint_findings,
        scripts.len(),
        findings.len() - hadolint_findings
    );
    assert!(
        findings.is_empty(),
        "the emitted build context has lint findings:\n\n{}",
        findings.join("\n\n")
    );
}
