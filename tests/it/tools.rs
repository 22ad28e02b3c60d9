//! The user tools (node with nvm, uv, pixi, bun): resolution of every constraint form
//! and failure against fixture upstreams, and a real build on a Debian base where each
//! tool prints its locked version for `peid` in a login shell; a tampered tarball fails.

use std::process::Command;

use serde_json::json;

use crate::support::buildah::{Buildah, debian_base};
use crate::support::project::{Project, artifact, pin};
use crate::support::registry;
use crate::support::tools;
use crate::support::world::{DigestMode, FixtureAsset, FixtureRelease, Response, World};
use crate::support::{run, sha256_hex};

/// A tar.gz of `(path, content)` files, all executable (fixture binaries are scripts).
fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let dir = crate::support::temp_dir();
    let tree = dir.path().join("tree");
    let mut tops = Vec::new();
    for (path, content) in files {
        let file = tree.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, content).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        let top = path.split('/').next().unwrap().to_string();
        if !tops.contains(&top) {
            tops.push(top);
        }
    }
    let out = dir.path().join("out.tar.gz");
    let mut cmd = Command::new("tar");
    cmd.args(["--owner=0", "--group=0", "--mtime=@0", "-czf"])
        .arg(&out)
        .arg("-C")
        .arg(&tree)
        .args(&tops);
    assert!(run(&mut cmd).success());
    std::fs::read(out).unwrap()
}

/// A zip of `(path, content)` files, made with Python's zipfile (mode 0755).
fn zip(files: &[(&str, &str)]) -> Vec<u8> {
    let dir = crate::support::temp_dir();
    let out = dir.path().join("out.zip");
    let spec = serde_json::to_string(files).unwrap();
    let script = "import json, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    for path, content in json.loads(sys.argv[2]):\n        info = zipfile.ZipInfo(path, (1980, 1, 1, 0, 0, 0))\n        info.external_attr = 0o100755 << 16\n        z.writestr(info, content)\n";
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).arg(&out).arg(spec);
    let output = run(&mut cmd);
    assert!(output.success(), "{}", output.stderr);
    std::fs::read(out).unwrap()
}

fn version_script(text: &str) -> String {
    format!("#!/bin/sh\necho '{text}'\n")
}

/// The fixture nvm.sh: what login shells rely on — switch to the `default` alias.
pub(crate) const NVM_SH: &str = "# fixture nvm.sh\nif [ -f \"$NVM_DIR/alias/default\" ]; then\n  PATH=\"$NVM_DIR/versions/node/$(cat \"$NVM_DIR/alias/default\")/bin:$PATH\"\n  export PATH\nfi\n";

pub(crate) struct Upstreams {
    pub world: World,
    pub node_tarball: Vec<u8>,
}

/// nodejs dist (index.json, SHASUMS256.txt, tarballs; also under a mirror path), and
/// GitHub releases for nvm (raw nvm.sh), uv (.sha256 sidecar), pixi (API digest) and bun
/// (SHASUMS256.txt).
pub(crate) fn upstreams() -> Upstreams {
    let world = World::start();
    let index = json!([
        {"version": "v23.3.0", "date": "2026-11-01", "files": ["linux-arm64", "linux-x64", "src"], "lts": false, "security": false},
        {"version": "v22.11.0", "date": "2026-10-29", "files": ["linux-arm64", "linux-x64", "src"], "lts": "Jod", "security": false},
        {"version": "v22.10.0", "date": "2026-10-16", "files": ["linux-x64", "src"], "lts": false, "security": false},
        {"version": "v20.18.0", "date": "2026-10-03", "files": ["linux-arm64", "linux-x64", "src"], "lts": "Iron", "security": false},
    ]);
    // nodejs.org tags its documents; a conditional GET with that tag gets `304`.
    world.get(
        "/nodejs/dist/index.json",
        Response::json(index).header("ETag", "\"index-1\""),
    );
    let mut node_tarball = Vec::new();
    for (version, platforms) in [
        ("v23.3.0", &["linux-x64", "linux-arm64"][..]),
        ("v22.11.0", &["linux-x64", "linux-arm64"][..]),
        ("v22.10.0", &["linux-x64"][..]),
        ("v20.18.0", &["linux-x64"][..]), // its SHASUMS256.txt lacks arm64 (tested below)
    ] {
        let mut sums = String::new();
        for platform in platforms {
            let dir = format!("node-{version}-{platform}");
            let tarball = tar_gz(&[(&format!("{dir}/bin/node"), &version_script(version))]);
            let file = format!("{dir}.tar.gz");
            sums.push_str(&format!("{}  {file}\n", sha256_hex(&tarball)));
            world.get(
                &format!("/nodejs/dist/{version}/{file}"),
                Response::bytes(tarball.clone()),
            );
            world.get(
                &format!("/npmmirror/node/{version}/{file}"),
                Response::bytes(tarball.clone()),
            );
            if version == "v22.11.0" && *platform == "linux-x64" {
                node_tarball = tarball;
            }
        }
        sums.push_str(&format!("{}  win-x64/node.exe\n", "ab".repeat(32)));
        world.get(
            &format!("/nodejs/dist/{version}/SHASUMS256.txt"),
            Response::text(sums).header("ETag", format!("\"sums-{version}\"")),
        );
    }

    world.github_release_fixture(
        "nvm-sh",
        "nvm",
        &[FixtureRelease::new("v0.40.3", "2026-04-23T00:00:00Z")],
    );
    world.get(
        "/raw/nvm-sh/nvm/v0.40.3/nvm.sh",
        Response::text(NVM_SH).header("ETag", "\"nvm-v0.40.3\""),
    );

    let mut uv_release = FixtureRelease::new("0.12.5", "2026-08-21T00:00:00Z");
    for triple in ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"] {
        let dir = format!("uv-{triple}");
        let tarball = tar_gz(&[
            (
                &format!("{dir}/uv"),
                &version_script("uv 0.12.5 (fixture 2026-08-21)"),
            ),
            (&format!("{dir}/uvx"), &version_script("uvx 0.12.5")),
        ]);
        let name = format!("uv-{triple}.tar.gz");
        let sidecar = format!("{}  {name}\n", sha256_hex(&tarball));
        uv_release = uv_release
            .asset_with(FixtureAsset::new(&name, tarball).digest_mode(DigestMode::Null))
            .asset_with(
                FixtureAsset::new(&format!("{name}.sha256"), sidecar.into_bytes())
                    .digest_mode(DigestMode::Null),
            );
    }
    world.github_release_fixture("astral-sh", "uv", &[uv_release]);

    let mut pixi_release = FixtureRelease::new("v0.77.0", "2026-08-19T00:00:00Z");
    for triple in ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"] {
        pixi_release = pixi_release.asset(
            &format!("pixi-{triple}.tar.gz"),
            tar_gz(&[("pixi", &version_script("pixi 0.77.0"))]),
        );
    }
    world.github_release_fixture("prefix-dev", "pixi", &[pixi_release]);

    let mut bun_release = FixtureRelease::new("bun-v1.4.5", "2026-09-01T00:00:00Z");
    let mut shasums = Vec::new();
    for target in ["linux-x64", "linux-x64-baseline", "linux-aarch64"] {
        let name = format!("bun-{target}.zip");
        let bytes = zip(&[(
            &format!("bun-{target}/bun"),
            &version_script(&format!("1.4.5 ({target})")),
        )]);
        shasums.push(format!("{}  {name}", sha256_hex(&bytes)));
        bun_release =
            bun_release.asset_with(FixtureAsset::new(&name, bytes).digest_mode(DigestMode::Absent));
    }
    shasums.sort();
    // bun's SHASUMS256.txt: sorted, no trailing newline (sources.md §4).
    bun_release = bun_release.asset_with(
        FixtureAsset::new("SHASUMS256.txt", shasums.join("\n").into_bytes())
            .digest_mode(DigestMode::Absent),
    );
    world.github_release_fixture(
        "oven-sh",
        "bun",
        &[
            bun_release,
            FixtureRelease::new("canary", "2026-11-01T00:00:00Z").prerelease(),
        ],
    );

    Upstreams {
        world,
        node_tarball,
    }
}

/// A spec with a base from the registry and the given tool lines in stage 2.
fn tools_spec(base: &str, platforms: &str, stage_2_tools: &str) -> String {
    format!(
        r#"[image]
name = "mb-tools"
tag = "t1"
platforms = {platforms}

[base]
image = "{base}"

[[users]]
name = "peid"
uid = 3100
gid = 1100

[stage-2]
{stage_2_tools}
"#
    )
}

fn locked_node(node: &str, platforms: &str) -> (Project, Upstreams, crate::support::Output) {
    let up = upstreams();
    let registry = registry::shared_required();
    let base = registry.push_base(&format!("tools-test/base-{}", up.world.addr().port()));
    let project = Project::new();
    project.spec(&tools_spec(
        &base,
        platforms,
        &format!("tools.node = {{ version = \"{node}\", user = \"peid\" }}"),
    ));
    project
        .sources_file()
        .tools(&up.world)
        .registry(registry.host())
        .write();
    let output = project.lock(&[]);
    (project, up, output)
}

#[test]
fn tools_node_constraint_forms() {
    let both = r#"["linux/amd64", "linux/arm64"]"#;
    for (constraint, expected) in [
        ("lts", "v22.11.0"),
        ("22", "v22.11.0"),
        ("lts/iron", "v20.18.0"),
        ("22.10.0", "v22.10.0"),
        ("v23.3.0", "v23.3.0"),
    ] {
        let platforms = if expected == "v22.11.0" || expected == "v23.3.0" {
            both
        } else {
            r#"["linux/amd64"]"#
        };
        let (project, up, output) = locked_node(constraint, platforms);
        assert!(output.success(), "{constraint}: {}", output.stderr);
        let lock = project.lock_toml();
        let node = artifact(&lock, "nodejs", "node");
        assert_eq!(
            node["version"].as_str(),
            Some(expected),
            "constraint {constraint}"
        );
        let amd64 = pin(node, "linux/amd64");
        let file = format!("node-{expected}-linux-x64.tar.gz");
        assert_eq!(amd64["file"].as_str(), Some(file.as_str()));
        assert_eq!(
            amd64["urls"][0].as_str().unwrap(),
            up.world.url(&format!("/nodejs/dist/{expected}/{file}"))
        );
        if expected == "v22.11.0" {
            assert_eq!(
                amd64["hash"].as_str().unwrap(),
                format!("sha256:{}", sha256_hex(&up.node_tarball))
            );
        }
        let nvm = artifact(&lock, "github-release", "nvm");
        assert_eq!(nvm["version"].as_str(), Some("v0.40.3"));
        assert_eq!(
            pin(nvm, "all")["hash"].as_str().unwrap(),
            format!("sha256:{}", sha256_hex(NVM_SH.as_bytes()))
        );
    }
}

/// Issue 20: GitHub's release JSON and the Node.js index and `SHASUMS256.txt` are kept in
/// the cache with their `ETag`s and revalidated, so a warm `lock --update` with nothing
/// changed upstream gets `304`s (no body; on GitHub no rate limit spent) and the same lock.
#[test]
fn tools_warm_lock_revalidates_github_and_nodejs_documents() {
    let (project, up, output) = locked_node("lts", r#"["linux/amd64", "linux/arm64"]"#);
    assert!(output.success(), "{}", output.stderr);
    let first = project.lock_bytes();
    up.world.clear_log();
    project.lock_ok(&["--update"]);
    assert_eq!(
        project.lock_bytes(),
        first,
        "the cached documents give the same lock"
    );
    up.world
        .assert_revalidated(|path| path == "/nodejs/dist/index.json", "\"index-1\"");
    up.world.assert_revalidated(
        |path| path == "/nodejs/dist/v22.11.0/SHASUMS256.txt",
        "\"sums-v22.11.0\"",
    );
    // nvm's installer script, a repository file pinned at the tag, is kept the same way.
    up.world.assert_revalidated(
        |path| path == "/raw/nvm-sh/nvm/v0.40.3/nvm.sh",
        "\"nvm-v0.40.3\"",
    );
    let api: Vec<_> = up
        .world
        .request_log()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/repos/nvm-sh/nvm/releases"))
        .collect();
    assert!(!api.is_empty(), "the warm run asks GitHub again");
    for request in &api {
        assert!(request.header("if-none-match").is_some(), "{request:?}");
        assert_eq!(request.status, 304, "{request:?}");
    }
}

#[test]
fn tools_node_failures_name_the_tool() {
    let (_, _, output) = locked_node("99", r#"["linux/amd64"]"#);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains("nodejs `node` (99)");
    output.assert_stderr_contains("no Node.js release");

    // v22.10.0 has no linux-arm64 build.
    let (_, _, output) = locked_node("22.10.0", r#"["linux/amd64", "linux/arm64"]"#);
    assert_eq!(output.status, Some(1));
    assert!(
        output
            .stderr
            .contains("Node.js v22.10.0 has no linux-arm64 build"),
        "{}",
        output.stderr
    );

    // v20.18.0 lists linux-arm64 in index.json, but its SHASUMS256.txt has no entry for it.
    let (_, _, output) = locked_node("20", r#"["linux/amd64", "linux/arm64"]"#);
    assert_eq!(output.status, Some(1));
    assert!(
        output
            .stderr
            .contains("has no entry for `node-v20.18.0-linux-arm64.tar.gz`"),
        "{}",
        output.stderr
    );

    let (_, _, output) = locked_node("twenty", r#"["linux/amd64"]"#);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains("tool `node`: `twenty` is not `lts`");
}

#[test]
fn tools_release_tools_resolve_per_platform() {
    let up = upstreams();
    let Some(registry) = registry::shared() else {
        return;
    };
    let base = registry.push_base(&format!("tools-test/rel-{}", up.world.addr().port()));
    let project = Project::new();
    project.spec(&tools_spec(
        &base,
        r#"["linux/amd64", "linux/arm64"]"#,
        "tools.uv = { version = \"latest\", user = \"peid\" }\ntools.pixi = { version = \"0.77.0\", user = \"peid\" }\ntools.bun = { version = \"1.4.5\", user = \"peid\", baseline = true }",
    ));
    project
        .sources_file()
        .tools(&up.world)
        .registry(registry.host())
        .write();
    project.lock_ok(&[]);
    let lock = project.lock_toml();

    let uv = artifact(&lock, "github-release", "uv");
    assert_eq!(uv["version"].as_str(), Some("0.12.5"));
    let uv_amd64 = pin(uv, "linux/amd64");
    assert_eq!(
        uv_amd64["file"].as_str(),
        Some("uv-x86_64-unknown-linux-musl.tar.gz")
    );
    // From the .sha256 sidecar; Astral's mirror follows GitHub.
    let uv_bytes = crate::support::http::get(&up.world.github_download_url(
        "astral-sh",
        "uv",
        "0.12.5",
        "uv-x86_64-unknown-linux-musl.tar.gz",
    ))
    .unwrap()
    .body;
    assert_eq!(
        uv_amd64["hash"].as_str().unwrap(),
        format!("sha256:{}", sha256_hex(&uv_bytes))
    );
    assert_eq!(
        uv_amd64["urls"][1].as_str(),
        Some(
            "https://releases.astral.sh/github/uv/releases/download/0.12.5/uv-x86_64-unknown-linux-musl.tar.gz"
        )
    );

    let pixi = artifact(&lock, "github-release", "pixi");
    assert_eq!(
        pixi["version"].as_str(),
        Some("v0.77.0"),
        "`0.77.0` finds tag v0.77.0"
    );
    assert_eq!(
        pin(pixi, "linux/arm64")["file"].as_str(),
        Some("pixi-aarch64-unknown-linux-musl.tar.gz")
    );

    let bun = artifact(&lock, "github-release", "bun");
    assert_eq!(
        bun["version"].as_str(),
        Some("bun-v1.4.5"),
        "`1.4.5` finds tag bun-v1.4.5"
    );
    assert_eq!(
        pin(bun, "linux/amd64")["file"].as_str(),
        Some("bun-linux-x64-baseline.zip"),
        "baseline asked"
    );
    assert_eq!(
        pin(bun, "linux/arm64")["file"].as_str(),
        Some("bun-linux-aarch64.zip")
    );
    let bun_zip = crate::support::http::get(&up.world.github_download_url(
        "oven-sh",
        "bun",
        "bun-v1.4.5",
        "bun-linux-aarch64.zip",
    ))
    .unwrap()
    .body;
    assert_eq!(
        pin(bun, "linux/arm64")["hash"].as_str().unwrap(),
        format!("sha256:{}", sha256_hex(&bun_zip)),
        "from SHASUMS256.txt"
    );

    // An unknown version names the tool.
    project.spec(
        &project
            .read("specs/test.toml")
            .replace("version = \"0.77.0\"", "version = \"0.99.0\""),
    );
    let output = project.lock(&[]);
    assert_eq!(output.status, Some(1));
    output.assert_stderr_contains("github-release `pixi` (0.99.0)");
    assert!(
        output
            .stderr
            .contains("no release tagged 0.99.0 or v0.99.0"),
        "{}",
        output.stderr
    );
}

#[test]
fn tools_emitted_files_have_no_unpinned_downloads() {
    let (project, _up, output) = locked_node("lts", r#"["linux/amd64"]"#);
    assert!(output.success(), "{}", output.stderr);
    project.emit_ok(&["--locked"]);
    for file in [
        "stage-1.Dockerfile",
        "stage-2.Dockerfile",
        "merged.Dockerfile",
    ] {
        let text = project.read(&format!("build/test/{file}"));
        assert!(!text.contains("curl"), "{file}");
        assert!(!text.contains("| sh"), "{file}");
        assert!(!text.contains("@latest"), "{file}");
        assert!(
            !text.contains("http"),
            "every URL lives in artifacts.tsv, with its hash: {file}"
        );
    }
}

#[test]
fn tools_build_installs_for_peid_and_fails_on_a_tampered_tarball() {
    if !tools::require_all(&[tools::DEBIAN_BUILD]) {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return;
    }
    let up = upstreams();
    let Some(registry) = registry::shared() else {
        return;
    };
    let base = debian_base(registry);
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-tools"
tag = "t1"
platforms = ["linux/amd64"]

[base]
image = "{base}"

[mirrors]
pypi = "tuna"
conda = "tuna"
npm = "https://registry.npmmirror.com"
nodejs = "{mirror}"

[[users]]
name = "peid"
uid = 3100
gid = 1100
password = "123456"

[stage-1]
tools.uv = {{ version = "latest", user = "peid" }}

[stage-2]
tools.pixi = {{ version = "latest", user = "peid" }}
tools.node = {{ version = "lts", user = "peid" }}
tools.bun = {{ version = "latest", user = "peid" }}
"#,
        mirror = up.world.url("/npmmirror/node"),
    ));
    project
        .sources_file()
        .tools(&up.world)
        .registry(registry.host())
        .write();
    project.lock_and_emit();

    let dir = crate::support::temp_dir();
    let buildah = Buildah::new(dir.path());
    let out = project.out_dir();
    up.world.clear_log();
    let build = buildah.bud(&out, &out.join("merged.Dockerfile"), "mb-tools:t1", &[]);
    assert!(build.success(), "the tools build must succeed");
    let log = build.combined();
    // Each stage ends with its self-check: stage 1 checks uv, stage 2 everything.
    for line in [
        "ok   uv version for peid: 0.12.5",
        "ok   node version for peid: 22.11.0",
        "ok   pixi version for peid: 0.77.0",
        "ok   bun version for peid: 1.4.5",
        "3 checks, 2 ok, 1 skipped",
        "6 checks, 5 ok, 1 skipped",
    ] {
        assert!(
            log.contains(line),
            "`{line}` missing from the build log:\n{log}"
        );
    }
    // Node came from the spec's mirror, which the lock lists first.
    let requested: Vec<String> = up
        .world
        .requests()
        .into_iter()
        .map(|(_, path, _)| path)
        .collect();
    assert!(
        requested.contains(&"/npmmirror/node/v22.11.0/node-v22.11.0-linux-x64.tar.gz".to_string()),
        "{requested:?}"
    );
    assert!(
        !requested
            .iter()
            .any(|p| p.starts_with("/nodejs/dist/v22.11.0/node-")),
        "{requested:?}"
    );

    let check = buildah.run_in(
        "mb-tools:t1",
        &["runuser", "-l", "peid", "-c", "bash -lc 'node --version; uvx; bunx; cat ~/.config/uv/uv.toml ~/.pixi/config.toml ~/.bunfig.toml ~/.npmrc ~/.nvm/alias/default; ls -ld ~/.nvm/versions/node/v22.11.0'"],
    );
    assert!(check.success(), "{}", check.combined());
    for expected in [
        "v22.11.0",
        "uvx 0.12.5",
        "1.4.5 (linux-x64)",
        "url = \"https://pypi.tuna.tsinghua.edu.cn/simple\"",
        "\"https://conda.anaconda.org/conda-forge\" = [\"https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge\"]",
        "registry = \"https://registry.npmmirror.com\"",
        "registry=https://registry.npmmirror.com",
        "peid",
    ] {
        assert!(
            check.stdout.contains(expected),
            "`{expected}` missing:\n{}",
            check.stdout
        );
    }

    // A tool at another version than locked: the self-check names it.
    let container = buildah
        .ok(&["from", "--quiet", "mb-tools:t1"])
        .stdout
        .trim()
        .to_string();
    buildah.ok(&["run", &container, "--", "sh", "-c", "cp -r /home/peid/.nvm/versions/node/v22.11.0 /home/peid/.nvm/versions/node/v22.10.0 && printf '#!/bin/sh\\necho v22.10.0\\n' > /home/peid/.nvm/versions/node/v22.10.0/bin/node && echo v22.10.0 > /home/peid/.nvm/alias/default"]);
    let broken = buildah.run(&[
        "run",
        &container,
        "--",
        "/usr/local/bin/modelbench-self-check",
    ]);
    assert!(!broken.success());
    assert!(
        broken
            .stdout
            .contains("fail node version for peid: expected 22.11.0"),
        "{}",
        broken.stdout
    );
    broken.assert_stdout_contains("ok   uv version for peid: 0.12.5");
    buildah.ok(&["rm", &container]);

    // One changed byte in the node tarball (both URLs) fails the build, naming node.
    let mut tampered = up.node_tarball.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    for path in [
        "/npmmirror/node/v22.11.0/node-v22.11.0-linux-x64.tar.gz",
        "/nodejs/dist/v22.11.0/node-v22.11.0-linux-x64.tar.gz",
    ] {
        up.world.replace_body(path, tampered.clone());
    }
    let build = buildah.bud(
        &out,
        &out.join("merged.Dockerfile"),
        "mb-tools:tampered",
        &[],
    );
    assert!(!build.success());
    let log = build.combined();
    assert!(
        log.contains("sha256 mismatch for `node` (linux/amd64)"),
        "{log}"
    );
    assert!(
        log.contains(&format!("got sha256:{}", sha256_hex(&tampered))),
        "{log}"
    );
}

/// Opt-in (`MODELBENCH_LIVE=1`): the real registries where tools are also published serve
/// bytes that match the digests they state, through modelbench's own client — uv's newest
/// release on PyPI (sha256) and the `bun` package on npm (sha512 integrity).
#[test]
fn tools_live_registries_serve_what_they_state() {
    if std::env::var_os("MODELBENCH_LIVE").is_none() {
        eprintln!("skipped: set MODELBENCH_LIVE=1 to check PyPI and the npm registry");
        return;
    }
    use modelbench::net::{Client, Hash};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = Client::new(false, Vec::new());
        let fetched = client
            .get_ok("https://pypi.org/pypi/uv/json", &[], 64 << 20)
            .await
            .unwrap();
        let uv: serde_json::Value = fetched.json().unwrap();
        let smallest = uv["urls"]
            .as_array()
            .unwrap()
            .iter()
            .min_by_key(|f| f["size"].as_u64().unwrap_or(u64::MAX))
            .unwrap();
        let expected = Hash::sha256_hex(smallest["digests"]["sha256"].as_str().unwrap()).unwrap();
        // Mirrors serve relative file URLs (sources.md): resolve against the document's URL.
        let url = url::Url::parse(&fetched.url)
            .unwrap()
            .join(smallest["url"].as_str().unwrap())
            .unwrap();
        let url = url.as_str();
        let got = client
            .download("uv", url, Some(&expected), None)
            .await
            .unwrap();
        println!(
            "uv {}: {} verified ({} bytes)",
            uv["info"]["version"], smallest["filename"], got.size
        );

        let bun: serde_json::Value = client
            .get_ok(
                "https://registry.npmjs.org/bun",
                &[("accept", "application/vnd.npm.install-v1+json")],
                64 << 20,
            )
            .await
            .unwrap()
            .json()
            .unwrap();
        let latest = bun["dist-tags"]["latest"].as_str().unwrap();
        let dist = &bun["versions"][latest]["dist"];
        let integrity = Hash::from_sri(dist["integrity"].as_str().unwrap()).unwrap();
        let got = client
            .download(
                "bun",
                dist["tarball"].as_str().unwrap(),
                Some(&integrity),
                None,
            )
            .await
            .unwrap();
        println!(
            "bun {latest}: npm tarball verified against its sha512 integrity ({} bytes)",
            got.size
        );
    });
}
