//! npm and bun global CLIs end to end: `lock` pins each CLI's whole closure (with the
//! facts its lock files need), `emit` writes a private prefix per CLI (package.json plus
//! package-lock.json or bun.lock, the expected tree per platform, its commands), and a
//! buildah build installs a fixture CLI with `npm ci` from the loopback registry, checks
//! the installed tree against the lock and runs the command as `peid` in a login shell;
//! a tampered tarball fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::hermetic;
use crate::npm::{Registry, Shape};
use crate::support::buildah::{Buildah, debian_base};
use crate::support::project::{Project, artifact};
use crate::support::registry;
use crate::support::tools;
use crate::support::world::{FixtureAsset, FixtureRelease, Response, World};
use crate::support::{run, sha256_hex};
use crate::tools::{NVM_SH, upstreams};

/// A CLI like claude-code: a command, a dependency with a newer version than another
/// range allows, per-platform optional packages and a postinstall script; like
/// gemini-cli, an optional native add-on whose install script fails (no compiler).
pub(crate) fn hello_cli(r: &mut Registry) {
    let postinstall = "node -e \"require('fs').writeFileSync('postinstall-ran', 'yes')\"";
    r.publish(
        "mb-hello",
        "1.2.0",
        json!({
            "bin": { "mb-hello": "bin/cli.js" },
            "scripts": { "postinstall": postinstall },
            "dependencies": { "mb-greet": "^1.0.0" },
            "optionalDependencies": { "mb-hello-linux-x64": "1.2.0", "mb-hello-linux-arm64": "1.2.0", "mb-native": "^1.0.0" },
        }),
    );
    r.publish(
        "mb-native",
        "1.0.0",
        json!({ "scripts": { "install": "echo no compiler here >&2; exit 1" } }),
    );
    for (suffix, cpu) in [("linux-x64", "x64"), ("linux-arm64", "arm64")] {
        r.publish(
            &format!("mb-hello-{suffix}"),
            "1.2.0",
            json!({ "os": ["linux"], "cpu": [cpu] }),
        );
    }
    r.publish("mb-greet", "1.0.0", json!({}));
    r.publish("mb-greet", "1.1.0", json!({}));
    r.publish("mb-greet", "2.0.0", json!({}));
}

/// A CLI installed with bun: a trusted postinstall and a scoped dependency.
pub(crate) fn bun_cli(r: &mut Registry) {
    r.publish(
        "@mb/search-mcp",
        "0.3.1",
        json!({
            "bin": { "search-mcp": "dist/index.js" },
            "scripts": { "postinstall": "node -e \"require('fs').writeFileSync('postinstall-ran', 'yes')\"" },
            "dependencies": { "@mb/sdk": "~2.4.0" },
        }),
    );
    r.publish("@mb/sdk", "2.4.3", json!({}));
    r.publish("@mb/sdk", "2.5.0", json!({}));
}

pub(crate) const USERS: &str = "[[users]]\nname = \"peid\"\nuid = 3100\ngid = 1100\n";

/// A locked project with an npm global (`mb-hello`) and a bun global (`@mb/search-mcp`),
/// with the upstreams that served it.
pub(crate) fn locked_npm_globals() -> (Project, crate::tools::Upstreams) {
    let up = upstreams();
    let project = npm_globals_project(&up.world);
    let locked = project.lock_ok(&[]);
    assert!(!locked.stderr.contains("pending"), "{}", locked.stderr);
    (project, up)
}

/// The spec and sources of [`locked_npm_globals`], served from `world` (not locked yet).
pub(crate) fn npm_globals_project(world: &World) -> Project {
    let mut r = Registry::default();
    hello_cli(&mut r);
    bun_cli(&mut r);
    r.serve(world, Shape::Full);
    let registry = registry::shared_required();
    let base = registry.push_base(&format!("npm-globals/base-{}", world.addr().port()));
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-npm"
tag = "t1"
platforms = ["linux/amd64", "linux/arm64"]
[base]
image = "{}"
[mirrors]
npm = "https://registry.npmmirror.com"
{USERS}[stage-2]
tools.node = {{ version = "lts", user = "peid" }}
tools.bun = {{ version = "latest", user = "peid" }}
npm-global = {{ "mb-hello" = "latest" }}
bun-global = {{ "@mb/search-mcp" = "^0.3" }}
"#,
        base,
    ));
    project
        .sources_file()
        .tools(world)
        .npm(world)
        .registry(registry.host())
        .write();
    project
}

#[test]
fn npm_globals_lock_with_their_closure_and_emit_a_prefix_per_cli() {
    let (project, up) = locked_npm_globals();

    let lock = project.lock_toml();
    let hello = artifact(&lock, "npm", "mb-hello");
    assert_eq!(hello["version"].as_str(), Some("1.2.0"));
    let members: Vec<(String, String, String)> = hello["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["platform"].as_str().unwrap().to_string(),
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("all", "mb-hello", "1.2.0"),
        ("all", "mb-greet", "1.1.0"),
        ("linux/amd64", "mb-hello-linux-x64", "1.2.0"),
        ("linux/arm64", "mb-hello-linux-arm64", "1.2.0"),
        ("all", "mb-native", "1.0.0"),
    ] {
        let expected = (
            expected.0.to_string(),
            expected.1.to_string(),
            expected.2.to_string(),
        );
        assert!(members.contains(&expected), "{expected:?} in {members:?}");
    }
    assert_eq!(members.len(), 5, "{members:?}");
    // Each member: canonical URL then the mirror, its sha512, and the facts emit needs.
    let top = hello["package"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some("mb-hello"))
        .unwrap();
    let urls: Vec<&str> = top["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            up.world.url("/mb-hello/-/mb-hello-1.2.0.tgz").as_str(),
            "https://registry.npmmirror.com/mb-hello/-/mb-hello-1.2.0.tgz"
        ]
    );
    assert!(top["hash"].as_str().unwrap().starts_with("sha512:"));
    assert_eq!(top["npm"]["bin"]["mb-hello"].as_str(), Some("bin/cli.js"));
    assert_eq!(top["npm"]["install-script"].as_bool(), Some(true));
    assert!(
        artifact(&lock, "npm", "@mb/search-mcp")["package"]
            .as_array()
            .unwrap()
            .iter()
            .any(
                |p| p["name"].as_str() == Some("@mb/sdk") && p["version"].as_str() == Some("2.4.3")
            )
    );

    // `why` follows the dependency path to the spec entry; the SBOM names every member.
    let why = project.run(&["why", "mb-greet", "specs/test.toml"]);
    assert!(why.success(), "{}", why.combined());
    assert!(
        why.stdout
            .contains("mb-greet 1.1.0 (linux/amd64, linux/arm64), in npm `mb-hello`")
            && why
                .stdout
                .contains("└── mb-hello 1.2.0 ← [stage-2] npm-global.mb-hello = \"latest\""),
        "{}",
        why.stdout
    );
    let sbom = project.run(&["sbom", "specs/test.toml"]);
    assert!(sbom.success(), "{}", sbom.combined());
    for purl in ["pkg:npm/mb-greet@1.1.0", "pkg:npm/%40mb/sdk@2.4.3"] {
        assert!(
            sbom.stdout.contains(purl),
            "{purl} missing:\n{}",
            sbom.stdout
        );
    }

    // The lock answers the spec; locking again changes no byte.
    let before = project.lock_bytes();
    project.lock_ok(&["--check"]);
    project.lock_ok(&["--offline"]);
    assert_eq!(before, project.lock_bytes());

    project.emit_ok(&["--locked"]);
    let out = project.out_dir();
    let hello_dir = out.join("installation/stage-2/npm/mb-hello");
    let package_lock: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(hello_dir.join("package-lock.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(package_lock["lockfileVersion"], 3);
    assert_eq!(
        package_lock["packages"]["node_modules/mb-greet"]["version"],
        "1.1.0"
    );
    assert_eq!(
        std::fs::read_to_string(hello_dir.join("expected-linux-amd64.txt")).unwrap(),
        "node_modules/mb-greet mb-greet@1.1.0\nnode_modules/mb-hello mb-hello@1.2.0\nnode_modules/mb-hello-linux-x64 mb-hello-linux-x64@1.2.0\nnode_modules/mb-native mb-native@1.0.0\n"
    );
    // Only the non-optional package's script runs; the optional add-on's would fail.
    assert_eq!(
        std::fs::read_to_string(hello_dir.join("trusted.txt")).unwrap(),
        "mb-hello\n"
    );
    assert_eq!(
        std::fs::read_to_string(hello_dir.join("bins.txt")).unwrap(),
        "mb-hello\n"
    );
    assert_eq!(
        std::fs::read_to_string(hello_dir.join(".npmrc")).unwrap(),
        "registry=https://registry.npmmirror.com/\n"
    );
    let bun_dir = out.join("installation/stage-2/npm/mb-search-mcp");
    let bun_lock = std::fs::read_to_string(bun_dir.join("bun.lock")).unwrap();
    assert!(
        bun_lock.contains("\"trustedDependencies\": [\n    \"@mb/search-mcp\",\n  ]"),
        "{bun_lock}"
    );
    assert!(
        bun_lock.contains("\"@mb/sdk\": [\"@mb/sdk@2.4.3\""),
        "{bun_lock}"
    );
    assert_eq!(
        std::fs::read_to_string(bun_dir.join("expected-linux-arm64.txt")).unwrap(),
        "@mb/sdk@2.4.3\n@mb/search-mcp@0.3.1\n"
    );
    let dockerfile = std::fs::read_to_string(out.join("stage-2.Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("RUN sh /modelbench/installation/install-npm-global.sh /modelbench/installation/stage-2/npm/mb-hello npm peid .nvm/versions/node/v22.11.0/bin"),
        "{dockerfile}"
    );
    assert!(
        dockerfile.contains("install-npm-global.sh /modelbench/installation/stage-2/npm/mb-search-mcp bun peid .bun/bin"),
        "{dockerfile}"
    );
    let profile = std::fs::read_to_string(
        out.join("installation/stage-2/home/peid/.modelbench/profile.d/stage-2.sh"),
    )
    .unwrap();
    assert!(profile.contains("$HOME/.modelbench/bin"), "{profile}");
    let self_check =
        std::fs::read_to_string(out.join("installation/stage-2/self-check.sh")).unwrap();
    assert!(
        self_check.contains("check_command peid mb-hello mb-hello"),
        "{self_check}"
    );
    assert!(
        self_check.contains("check_command peid search-mcp @mb/search-mcp"),
        "{self_check}"
    );

    // Emitting twice gives the same bytes.
    let first = read_tree(&out);
    project.emit_ok(&["--locked"]);
    assert_eq!(first, read_tree(&out));

    // A spec change to a global is stale until locked again.
    let spec = project.read("specs/test.toml");
    project.write(
        "specs/test.toml",
        &spec.replace("\"mb-hello\" = \"latest\"", "\"mb-hello\" = \"~1.1\""),
    );
    let check = project.lock(&["--check"]);
    assert!(!check.success());
    check.assert_stderr_contains("npm `mb-hello` changed in the spec");
}

fn read_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// This machine's Node.js (a self-contained official build) packed as nodejs.org packs
/// it, so the image runs a real `npm ci`. `None` when node is missing or needs shared
/// libraries of its distribution. Cached under `target/test-cache/`.
pub(crate) fn host_node_tarball() -> Option<(String, Vec<u8>)> {
    let version = run(Command::new("node").arg("--version"))
        .stdout
        .trim()
        .to_string();
    if !version.starts_with('v') {
        return None;
    }
    let node = std::fs::canonicalize(
        run(Command::new("sh").args(["-c", "command -v node"]))
            .stdout
            .trim(),
    )
    .ok()?;
    let ldd = run(Command::new("ldd").arg(&node)).stdout;
    if ldd.contains("libnode") {
        return None;
    }
    let npm_dir = node.parent()?.parent()?.join("lib/node_modules/npm");
    if !npm_dir.join("bin/npm-cli.js").exists() {
        return None;
    }
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-cache");
    std::fs::create_dir_all(&cache).ok()?;
    let tarball = cache.join(format!("node-{version}-linux-x64.tar.gz"));
    if !tarball.exists() {
        let dir = crate::support::temp_dir();
        let root = dir.path().join(format!("node-{version}-linux-x64"));
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("lib/node_modules")).unwrap();
        let script = format!(
            "cp {node} {root}/bin/node && cp -a {npm} {root}/lib/node_modules/npm \
             && ln -s ../lib/node_modules/npm/bin/npm-cli.js {root}/bin/npm \
             && ln -s ../lib/node_modules/npm/bin/npx-cli.js {root}/bin/npx \
             && tar -C {dir} -cf - node-{version}-linux-x64 | gzip -1 > {partial} && mv {partial} {tarball}",
            node = node.display(),
            npm = npm_dir.display(),
            root = root.display(),
            dir = dir.path().display(),
            partial = format!("{}.{}", tarball.display(), std::process::id()),
            tarball = tarball.display(),
        );
        let out = run(Command::new("sh").args(["-c", &script]));
        assert!(out.success(), "packing node failed: {}", out.stderr);
    }
    Some((version, std::fs::read(&tarball).ok()?))
}

/// nodejs.org's dist for one linux-x64 `tarball` of `version`, and nvm's release with the
/// fixture nvm.sh, on `world`.
pub(crate) fn serve_node(world: &World, version: &str, tarball: Vec<u8>) {
    let file = format!("node-{version}-linux-x64.tar.gz");
    world.get(
        "/nodejs/dist/index.json",
        Response::json(json!([{ "version": version, "date": "2026-03-24",
            "files": ["linux-x64"], "lts": "Iron", "security": false }])),
    );
    world.get(
        &format!("/nodejs/dist/{version}/SHASUMS256.txt"),
        Response::text(format!("{}  {file}\n", sha256_hex(&tarball))),
    );
    world.get(
        &format!("/nodejs/dist/{version}/{file}"),
        Response::bytes(tarball),
    );
    world.github_release_fixture(
        "nvm-sh",
        "nvm",
        &[FixtureRelease::new("v0.40.3", "2026-04-23T00:00:00Z")],
    );
    world.get("/raw/nvm-sh/nvm/v0.40.3/nvm.sh", Response::text(NVM_SH));
}

/// A loopback world whose nodejs dist serves this machine's node (`host_node_tarball`),
/// with nvm's release: what `tools.node` needs to put a working node and npm in an image.
pub(crate) fn real_node_world() -> Option<(World, String)> {
    let (node_version, node_tarball) = host_node_tarball()?;
    let world = World::start();
    serve_node(&world, &node_version, node_tarball);
    Some((world, node_version))
}

/// The world (node, nvm, the `mb-hello` CLI on its npm registry) and a project that
/// installs `mb-hello` with npm on the Debian base, locked and emitted; `None` (after
/// saying why) where the fixture cannot run.
pub(crate) fn npm_build_project() -> Option<(World, Project)> {
    if !tools::require_all(&[tools::DEBIAN_BUILD]) {
        return None;
    }
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return None;
    }
    let Some((world, node_version)) = real_node_world() else {
        eprintln!("skipped: this machine's node is not a self-contained official build");
        return None;
    };
    let mut r = Registry::default();
    hello_cli(&mut r);
    r.serve(&world, Shape::Abbreviated);

    let registry = registry::shared()?;
    let base = debian_base(registry);
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-npm-build"
tag = "t1"
platforms = ["linux/amd64"]
[base]
image = "{base}"
{USERS}[stage-2]
tools.node = {{ version = "{}", user = "peid" }}
npm-global = {{ "mb-hello" = "^1" }}
"#,
        node_version.trim_start_matches('v'),
    ));
    project
        .sources_file()
        .tools(&world)
        .npm(&world)
        .registry(registry.host())
        .write();
    project.lock_and_emit();
    Some((world, project))
}

#[test]
fn npm_global_build_installs_the_locked_tree_and_fails_on_a_tampered_tarball() {
    let Some((world, project)) = npm_build_project() else {
        return;
    };
    let dir = crate::support::temp_dir();
    let buildah = Buildah::new(dir.path());
    let out = project.out_dir();
    let log = hermetic_build(&buildah, &world, &project, "mb-npm:t1", &[]);
    for line in [
        "install-npm-global: mb-hello for peid: 4 packages as locked",
        "ok   mb-hello command mb-hello for peid: /home/peid/.modelbench/bin/mb-hello",
    ] {
        assert!(
            log.contains(line),
            "`{line}` missing from the build log:\n{log}"
        );
    }
    // npm fetched exactly the locked tarballs of linux/amd64 (no arm64 one, no document).
    let mut tarballs: Vec<String> = world
        .requests()
        .into_iter()
        .map(|(_, path, _)| path)
        .filter(|p| !p.starts_with("/nodejs/") && !p.contains("nvm"))
        .collect();
    tarballs.sort();
    assert_eq!(
        tarballs,
        [
            "/mb-greet/-/mb-greet-1.1.0.tgz",
            "/mb-hello-linux-x64/-/mb-hello-linux-x64-1.2.0.tgz",
            "/mb-hello/-/mb-hello-1.2.0.tgz",
            "/mb-native/-/mb-native-1.0.0.tgz",
        ]
    );

    let check = buildah.run_in(
        "mb-npm:t1",
        &[
            "runuser",
            "-l",
            "peid",
            "-c",
            "bash -lc 'mb-hello; cat ~/.modelbench/npm-global/mb-hello/node_modules/mb-hello/postinstall-ran; echo; stat -c %U ~/.modelbench/npm-global/mb-hello/node_modules'",
        ],
    );
    assert!(check.success(), "{}", check.combined());
    assert_eq!(
        check.stdout.trim(),
        "mb-hello 1.2.0\nyes\npeid",
        "{}",
        check.combined()
    );

    // One changed tarball: npm ci refuses it, naming its integrity, and the build fails.
    let mut tampered = Registry::default();
    tampered.publish(
        "mb-greet",
        "1.1.0",
        json!({ "description": "not the locked bytes" }),
    );
    let bytes = tampered.tarball("mb-greet", "1.1.0");
    world.get(
        &Registry::tarball_path("mb-greet", "1.1.0"),
        Response::bytes(bytes),
    );
    // (npm retries a failed integrity check with 10-60 s pauses; not worth waiting for.)
    let build = buildah.bud(
        &out,
        &out.join("merged.Dockerfile"),
        "mb-npm:t2",
        &["--env", "npm_config_fetch_retries=0"],
    );
    let log = build.combined();
    assert!(
        !build.success(),
        "a tampered tarball must fail the build:\n{log}"
    );
    assert!(log.contains("EINTEGRITY"), "{log}");
    assert!(log.contains("npm ci of mb-hello failed"), "{log}");
}

/// bun's own linux-x64 build as its npm package `@oven/bun-linux-x64@1.4.5` ships it,
/// checked against the registry's integrity for that version (read with `npm view`), or
/// `MODELBENCH_BUN`. Fetched once from registry.npmjs.org (reachable from the test
/// machines, like Debian's archive for the base image) into `target/test-cache/`.
pub(crate) fn real_bun() -> Option<PathBuf> {
    if let Some(bun) = std::env::var_os("MODELBENCH_BUN") {
        return Some(PathBuf::from(bun));
    }
    const TARBALL: &str =
        "https://registry.npmjs.org/@oven/bun-linux-x64/-/bun-linux-x64-1.4.5.tgz";
    const INTEGRITY: &str = "sha512-IWX9BELoGHAUtMonkeSaNaZwXzRk+oDw6Mk+HBFXd3KHYIBNBsIGRupMZPcgNoDbJpLu6gAJjIoIVPZtt1aJ1g==";
    if std::env::consts::ARCH != "x86_64" {
        return None;
    }
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-cache/bun-1.4.5");
    let bun = cache.join("package/bin/bun");
    if bun.exists() {
        return Some(bun);
    }
    std::fs::create_dir_all(&cache).ok()?;
    let tarball = cache.join(format!("bun.tgz.{}", std::process::id()));
    let fetched = run(Command::new("curl")
        .args(["-sSfL", "--retry", "3", "-o"])
        .arg(&tarball)
        .arg(TARBALL));
    if !fetched.success() {
        eprintln!("no bun: {TARBALL} unreachable: {}", fetched.stderr);
        return None;
    }
    let bytes = std::fs::read(&tarball).ok()?;
    let hash = modelbench::net::Hash::from_sri(INTEGRITY).unwrap();
    use sha2::Digest as _;
    assert_eq!(
        hex::encode(sha2::Sha512::digest(&bytes)),
        hash.hex(),
        "{TARBALL} does not match its registry integrity"
    );
    let unpacked = run(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&cache));
    assert!(unpacked.success(), "{}", unpacked.stderr);
    let _ = std::fs::remove_file(&tarball);
    Some(bun)
}

/// Build the emitted merged Dockerfile as `tag` in its own network namespace (only the
/// world and the test registry reachable), require success and that every request the
/// world saw is a locked URL; returns the build log.
pub(crate) fn hermetic_build(
    buildah: &Buildah,
    world: &World,
    project: &Project,
    tag: &str,
    extra: &[&str],
) -> String {
    let out = project.out_dir();
    world.clear_log();
    let registry_port: u16 = registry::shared()
        .expect("the caller's build needed the registry")
        .host()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let bridges = hermetic::bridges(&[world.addr().port(), registry_port]);
    let build = hermetic::isolated_bud_with(
        buildah,
        &bridges,
        &out,
        &out.join("merged.Dockerfile"),
        tag,
        extra,
    );
    let log = build.combined();
    assert!(build.success(), "the build of {tag} must succeed:\n{log}");
    let (requests, unlocked) = hermetic::audit(world, &hermetic::locked_urls(&project.lock_toml()));
    println!(
        "{tag} build: {requests} requests, {} locked, {} unlocked",
        requests - unlocked.len(),
        unlocked.len()
    );
    assert!(
        unlocked.is_empty(),
        "unlocked requests:\n{}",
        unlocked.join("\n")
    );
    log
}

/// `real_bun()` zipped as bun's GitHub release asset `bun-linux-x64.zip`.
pub(crate) fn bun_release_zip(bun: &Path) -> Vec<u8> {
    let dir = crate::support::temp_dir();
    let out = dir.path().join("bun-linux-x64.zip");
    let script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED, compresslevel=1) as z:\n    info = zipfile.ZipInfo('bun-linux-x64/bun', (1980, 1, 1, 0, 0, 0))\n    info.external_attr = 0o100755 << 16\n    info.compress_type = zipfile.ZIP_DEFLATED\n    z.writestr(info, open(sys.argv[2], 'rb').read())\n";
    let zipped = run(Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&out)
        .arg(bun));
    assert!(zipped.success(), "{}", zipped.stderr);
    std::fs::read(out).unwrap()
}

/// The bun path in an image: a real bun installs a fixture CLI from the emitted
/// `bun.lock` with `--frozen-lockfile` from the loopback registry (only its trusted
/// package's postinstall runs), the installed packages are the locked ones, and the
/// command runs as `peid`; a tampered tarball fails the build.
#[test]
fn bun_global_build_installs_the_locked_packages_and_fails_on_a_tampered_tarball() {
    if !tools::require_all(&[tools::DEBIAN_BUILD]) {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the fixture platform is linux/amd64");
        return;
    }
    let (Some((world, node_version)), Some(bun)) = (real_node_world(), real_bun()) else {
        eprintln!("skipped: no self-contained node or no bun on this machine");
        return;
    };
    serve_bun(&world, &bun);
    let mut r = Registry::default();
    bun_cli(&mut r);
    r.serve(&world, Shape::Abbreviated);

    let Some(registry) = registry::shared() else {
        return;
    };
    let base = debian_base(registry);
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-bun-build"
tag = "t1"
platforms = ["linux/amd64"]
[base]
image = "{base}"
{USERS}[stage-2]
tools.node = {{ version = "{}", user = "peid" }}
tools.bun = {{ version = "latest", user = "peid" }}
bun-global = {{ "@mb/search-mcp" = "^0.3" }}
"#,
        node_version.trim_start_matches('v'),
    ));
    project
        .sources_file()
        .tools(&world)
        .npm(&world)
        .registry(registry.host())
        .write();
    project.lock_and_emit();

    let dir = crate::support::temp_dir();
    let buildah = Buildah::new(dir.path());
    let out = project.out_dir();
    let log = hermetic_build(&buildah, &world, &project, "mb-bun:t1", &[]);
    for line in [
        "install-npm-global: mb-search-mcp for peid: 2 packages as locked",
        "ok   @mb/search-mcp command search-mcp for peid: /home/peid/.modelbench/bin/search-mcp",
    ] {
        assert!(
            log.contains(line),
            "`{line}` missing from the build log:\n{log}"
        );
    }
    let check = buildah.run_in(
        "mb-bun:t1",
        &[
            "runuser",
            "-l",
            "peid",
            "-c",
            "bash -lc 'search-mcp; cat ~/.modelbench/npm-global/mb-search-mcp/node_modules/@mb/search-mcp/postinstall-ran'",
        ],
    );
    assert!(check.success(), "{}", check.combined());
    assert_eq!(
        check.stdout.trim(),
        "@mb/search-mcp 0.3.1\nyes",
        "{}",
        check.combined()
    );

    let mut tampered = Registry::default();
    tampered.publish(
        "@mb/sdk",
        "2.4.3",
        json!({ "description": "not the locked bytes" }),
    );
    let bytes = tampered.tarball("@mb/sdk", "2.4.3");
    world.get(
        &Registry::tarball_path("@mb/sdk", "2.4.3"),
        Response::bytes(bytes),
    );
    let build = buildah.bud(&out, &out.join("merged.Dockerfile"), "mb-bun:t2", &[]);
    let log = build.combined();
    assert!(
        !build.success(),
        "a tampered tarball must fail the build:\n{log}"
    );
    assert!(log.contains("bun install of mb-search-mcp failed"), "{log}");
}

/// bun's GitHub release `bun-v1.4.5` on `world`, its linux-x64 zip holding `bun`.
fn serve_bun(world: &World, bun: &Path) {
    world.github_release_fixture(
        "oven-sh",
        "bun",
        &[FixtureRelease::new("bun-v1.4.5", "2026-09-01T00:00:00Z")
            .asset_with(FixtureAsset::new("bun-linux-x64.zip", bun_release_zip(bun)))],
    );
}

/// Opt-in (`MODELBENCH_LIVE=1`): the seed's five global CLIs, resolved against the real
/// registry.npmjs.org, installed by a buildah build of the emitted Dockerfile (npm ci for
/// claude-code and codex, bun install for tavily-mcp, context7-mcp and gemini-cli, on a
/// Debian base with this machine's node and a real bun), and run as `peid` in a login
/// shell: `claude`, `codex` and `gemini` print their locked versions, the MCP servers'
/// commands are on the PATH.
#[test]
fn live_seed_clis_run_as_peid_in_an_image() {
    if !tools::require_all(&[tools::DEBIAN_BUILD]) {
        return;
    }
    if std::env::var("MODELBENCH_LIVE").as_deref() != Ok("1") {
        eprintln!("live_seed_clis_run_as_peid_in_an_image: skipped (set MODELBENCH_LIVE=1)");
        return;
    }
    let (Some((world, node_version)), Some(bun)) = (real_node_world(), real_bun()) else {
        eprintln!("skipped: no self-contained node or no bun on this machine");
        return;
    };
    serve_bun(&world, &bun);
    let Some(registry) = registry::shared() else {
        return;
    };
    let base = debian_base(registry);
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-seed-clis"
tag = "t1"
platforms = ["linux/amd64"]
[base]
image = "{base}"
{USERS}[stage-2]
tools.node = {{ version = "{}", user = "peid" }}
tools.bun = {{ version = "latest", user = "peid" }}
npm-global = {{ "@anthropic-ai/claude-code" = "latest", "@openai/codex" = "latest" }}
bun-global = {{ "tavily-mcp" = "latest", "@upstash/context7-mcp" = "latest", "@google/gemini-cli" = "latest" }}
"#,
        node_version.trim_start_matches('v'),
    ));
    // The npm registry is the real one; node, nvm and bun come from the world.
    project
        .sources_file()
        .tools(&world)
        .registry(registry.host())
        .write();
    project.lock_and_emit();
    let lock = project.lock_toml();
    let version = |name: &str| {
        artifact(&lock, "npm", name)["version"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let dir = crate::support::temp_dir();
    let buildah = Buildah::new(dir.path());
    let out = project.out_dir();
    let started = std::time::Instant::now();
    // A machine whose https goes through an intercepting proxy trusts its CA through
    // NODE_EXTRA_CA_CERTS: the build's npm and bun get the same file (a test-only mount).
    let mut extra: Vec<String> = Vec::new();
    if let Some(ca) = std::env::var_os("NODE_EXTRA_CA_CERTS") {
        extra.push("--volume".into());
        extra.push(format!(
            "{}:/run/modelbench-host-ca.crt:ro",
            Path::new(&ca).display()
        ));
        extra.push("--env".into());
        extra.push("NODE_EXTRA_CA_CERTS=/run/modelbench-host-ca.crt".into());
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let build = buildah.bud(
        &out,
        &out.join("merged.Dockerfile"),
        "mb-seed-clis:t1",
        &extra,
    );
    let log = build.combined();
    assert!(build.success(), "the seed CLIs' build must succeed:\n{log}");
    eprintln!(
        "live: the seed CLIs' image built in {:?}",
        started.elapsed()
    );
    let check = buildah.run_in(
        "mb-seed-clis:t1",
        &[
            "runuser",
            "-l",
            "peid",
            "-c",
            "bash -lc 'claude --version; codex --version; gemini --version; command -v tavily-mcp context7-mcp'",
        ],
    );
    let printed = check.combined();
    eprintln!("live: as peid in a login shell:\n{printed}");
    assert!(check.success(), "{printed}");
    for name in [
        "@anthropic-ai/claude-code",
        "@openai/codex",
        "@google/gemini-cli",
    ] {
        let locked = version(name);
        assert!(
            printed.contains(&locked),
            "{name} {locked} missing:\n{printed}"
        );
    }
    for command in [
        "/home/peid/.modelbench/bin/tavily-mcp",
        "/home/peid/.modelbench/bin/context7-mcp",
    ] {
        assert!(printed.contains(command), "{command} missing:\n{printed}");
    }
}
