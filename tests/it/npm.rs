//! npm closures: a fixture npm registry in the loopback world (documents plus real `.tgz`
//! tarballs made here), checked against the real `npm` CLI as an oracle: for each
//! fixture tree, `npm install --package-lock-only` must lay out the same
//! `(path, name@version)` set as modelbench's closure, and `npm ci` of the lock
//! modelbench emits must install exactly the closure locked for each platform. Also:
//! node-semver's own test vectors, document shapes (abbreviated, full, reduced mirror),
//! fetch-once, faults, and an opt-in live run (`MODELBENCH_LIVE=1`) over the seed CLIs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use modelbench::emit::npm as emit;
use modelbench::lock::Artifact;
use modelbench::lock::npm::{Facts, NpmFacts};
use modelbench::net::{Client, Hash};
use modelbench::platform::Platform;
use modelbench::resolve::npm::semver::{
    self, Comparator, Identifier, Options, Range, Side, Version,
};
use modelbench::resolve::npm::{self, Engines, Installer, NpmRequest};
use modelbench::resolve::{Context, Problem};
use modelbench::sources::Sources;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use crate::support::sources::SourcesFile;
use crate::support::world::{Fault, Response, World};
use crate::support::{Output, run, temp_dir};

// ---- the fixture registry ----

/// How the registry serves its documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The full document (`application/json`): every manifest field, `time`, all tags.
    Full,
    /// The abbreviated install document (`application/vnd.npm.install-v1+json`).
    Abbreviated,
    /// A mirror's reduced full document: no `time`, only `latest`, no `hasInstallScript`.
    Reduced,
}

struct Published {
    manifest: Value,
    tarball: Vec<u8>,
    integrity: String,
    shasum: String,
}

#[derive(Default)]
pub(crate) struct Registry {
    packages: BTreeMap<String, Vec<Published>>,
    tags: BTreeMap<String, BTreeMap<String, String>>,
    /// Versions published without `dist.integrity` (only a sha1 `shasum`).
    sha1_only: BTreeSet<(String, String)>,
}

fn unscoped(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// An npm tarball: everything under `package/`, gzip-compressed.
pub(crate) fn npm_tarball(files: &[(String, String)]) -> Vec<u8> {
    let dir = temp_dir();
    for (path, content) in files {
        let file = dir.path().join("package").join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, content).unwrap();
    }
    let out = dir.path().join("out.tgz");
    let mut cmd = Command::new("tar");
    cmd.args([
        "--sort=name",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "--mtime=@0",
        "-czf",
    ])
    .arg(&out)
    .arg("-C")
    .arg(dir.path())
    .arg("package");
    assert!(run(&mut cmd).success(), "tar failed");
    std::fs::read(out).unwrap()
}

fn sri(bytes: &[u8]) -> String {
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha512::digest(bytes))
    )
}

fn sha1_hex(bytes: &[u8]) -> String {
    let dir = temp_dir();
    let file = dir.path().join("f");
    std::fs::write(&file, bytes).unwrap();
    let out = run(Command::new("sha1sum").arg(&file));
    out.stdout.split_whitespace().next().unwrap().to_string()
}

impl Registry {
    /// Publish `name@version` with extra `package.json` fields. The tarball holds that
    /// `package.json`, an `index.js`, every `bin` target and bundled dependencies.
    pub(crate) fn publish(&mut self, name: &str, version: &str, extra: Value) -> &mut Registry {
        let mut manifest =
            json!({ "name": name, "version": version, "description": format!("fixture {name}") });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            manifest[k] = v;
        }
        let mut files = vec![
            (
                "package.json".to_string(),
                serde_json::to_string_pretty(&manifest).unwrap(),
            ),
            (
                "index.js".to_string(),
                format!("module.exports = '{name}@{version}'\n"),
            ),
        ];
        if let Some(bin) = manifest.get("bin").and_then(Value::as_object) {
            for target in bin.values().filter_map(Value::as_str) {
                files.push((
                    target.trim_start_matches("./").to_string(),
                    format!("#!/usr/bin/env node\nconsole.log('{name} {version}')\n"),
                ));
            }
        }
        if let Some(bundled) = manifest.get("bundleDependencies").and_then(Value::as_array) {
            for dep in bundled.iter().filter_map(Value::as_str) {
                files.push((
                    format!("node_modules/{dep}/package.json"),
                    json!({ "name": dep, "version": "1.0.0" }).to_string(),
                ));
            }
        }
        let tarball = npm_tarball(&files);
        let published = Published {
            integrity: sri(&tarball),
            shasum: sha1_hex(&tarball),
            manifest,
            tarball,
        };
        self.packages
            .entry(name.to_string())
            .or_default()
            .push(published);
        let is_release = !version.contains('-');
        let tags = self.tags.entry(name.to_string()).or_default();
        if is_release || !tags.contains_key("latest") {
            tags.insert("latest".into(), version.into());
        }
        self
    }

    fn tag(&mut self, name: &str, tag: &str, version: &str) -> &mut Registry {
        self.tags
            .entry(name.into())
            .or_default()
            .insert(tag.into(), version.into());
        self
    }

    fn deprecate(&mut self, name: &str, version: &str) -> &mut Registry {
        let published = self.packages.get_mut(name).unwrap();
        let p = published
            .iter_mut()
            .find(|p| p.manifest["version"] == version)
            .unwrap();
        p.manifest["deprecated"] = json!(format!("{name}@{version} is deprecated"));
        self
    }

    /// The tarball published for `name@version`.
    pub(crate) fn tarball(&self, name: &str, version: &str) -> Vec<u8> {
        self.packages[name]
            .iter()
            .find(|p| p.manifest["version"] == version)
            .map(|p| p.tarball.clone())
            .expect("published")
    }

    pub(crate) fn tarball_path(name: &str, version: &str) -> String {
        format!("/{name}/-/{}-{version}.tgz", unscoped(name))
    }

    fn document(&self, world: &World, name: &str, shape: Shape) -> Value {
        let mut versions = serde_json::Map::new();
        let mut time = serde_json::Map::new();
        for (i, p) in self.packages[name].iter().enumerate() {
            let version = p.manifest["version"].as_str().unwrap().to_string();
            let mut dist = json!({
                "tarball": world.url(&Registry::tarball_path(name, &version)),
                "shasum": p.shasum,
            });
            if !self
                .sha1_only
                .contains(&(name.to_string(), version.clone()))
            {
                dist["integrity"] = json!(p.integrity);
            }
            let scripted = p
                .manifest
                .get("scripts")
                .and_then(Value::as_object)
                .is_some_and(|s| {
                    s.keys()
                        .any(|k| ["preinstall", "install", "postinstall"].contains(&k.as_str()))
                });
            let manifest = match shape {
                Shape::Abbreviated => {
                    let mut m = json!({ "name": name, "version": version, "dist": dist });
                    for key in [
                        "dependencies",
                        "optionalDependencies",
                        "peerDependencies",
                        "peerDependenciesMeta",
                        "bundleDependencies",
                        "bin",
                        "engines",
                        "os",
                        "cpu",
                        "libc",
                        "deprecated",
                    ] {
                        if let Some(v) = p.manifest.get(key) {
                            m[key] = v.clone();
                        }
                    }
                    if scripted {
                        m["hasInstallScript"] = json!(true);
                    }
                    m
                }
                Shape::Full | Shape::Reduced => {
                    let mut m = p.manifest.clone();
                    m["_id"] = json!(format!("{name}@{version}"));
                    m["dist"] = dist;
                    if scripted && shape == Shape::Full {
                        m["hasInstallScript"] = json!(true);
                    }
                    m
                }
            };
            versions.insert(version.clone(), manifest);
            time.insert(
                version,
                json!(format!("2026-01-{:02}T00:00:00.000Z", i + 1)),
            );
        }
        let tags = self.tags[name].clone();
        match shape {
            Shape::Abbreviated => json!({
                "name": name,
                "modified": "2026-02-01T00:00:00.000Z",
                "dist-tags": tags,
                "versions": versions,
            }),
            Shape::Full => json!({
                "_id": name,
                "name": name,
                "dist-tags": tags,
                "versions": versions,
                "time": time,
            }),
            Shape::Reduced => json!({
                "_id": name,
                "name": name,
                "dist-tags": { "latest": tags["latest"] },
                "versions": versions,
            }),
        }
    }

    /// Route every document (as npm asks for scoped names: `@scope%2fname`) and tarball.
    pub(crate) fn serve(&self, world: &World, shape: Shape) {
        for (name, published) in &self.packages {
            let doc = self.document(world, name, shape);
            let content_type = match shape {
                Shape::Abbreviated => "application/vnd.npm.install-v1+json",
                _ => "application/json",
            };
            let response = Response::json(doc).header("Content-Type", content_type);
            let mut paths = vec![format!("/{name}")];
            if name.starts_with('@') {
                paths.push(format!("/{}", name.replacen('/', "%2f", 1)));
                paths.push(format!("/{}", name.replacen('/', "%2F", 1)));
            }
            for path in paths {
                world.get(&path, response.clone());
            }
            for p in published {
                let version = p.manifest["version"].as_str().unwrap();
                world.get(
                    &Registry::tarball_path(name, version),
                    Response::bytes(p.tarball.clone()),
                );
            }
        }
    }
}

// ---- fixture trees ----

/// A codex-like tool: platform builds published as prereleases of the same package and
/// depended on through `npm:` aliases; a newer prerelease that `latest` must not pick.
fn codex_tree(r: &mut Registry) -> &'static str {
    r.publish(
        "@fx/codex",
        "0.8.0",
        json!({ "bin": { "codex": "bin/codex.js" } }),
    );
    for platform in ["linux-x64", "linux-arm64", "darwin-arm64", "win32-x64"] {
        let (os, cpu) = platform.split_once('-').unwrap();
        r.publish(
            "@fx/codex",
            &format!("0.9.0-{platform}"),
            json!({ "os": [os], "cpu": [cpu] }),
        );
    }
    r.publish(
        "@fx/codex",
        "0.9.0",
        json!({
            "bin": { "codex": "bin/codex.js" },
            "dependencies": { "@fx/util": "^1.0.0" },
            "optionalDependencies": {
                "@fx/codex-linux-x64": "npm:@fx/codex@0.9.0-linux-x64",
                "@fx/codex-linux-arm64": "npm:@fx/codex@0.9.0-linux-arm64",
                "@fx/codex-darwin-arm64": "npm:@fx/codex@0.9.0-darwin-arm64",
                "@fx/codex-win32-x64": "npm:@fx/codex@0.9.0-win32-x64",
            },
        }),
    );
    r.publish("@fx/codex", "0.10.0-alpha.1", json!({}));
    r.tag("@fx/codex", "latest", "0.9.0")
        .tag("@fx/codex", "alpha", "0.10.0-alpha.1");
    r.publish("@fx/util", "1.0.0", json!({}));
    r.publish("@fx/util", "1.1.0-beta.0", json!({}));
    r.tag("@fx/util", "latest", "1.0.0");
    "@fx/codex"
}

/// A claude-code-like tool: per-platform binary packages (glibc and musl) as optional
/// dependencies, a postinstall script, and a dependency only darwin needs.
fn claude_tree(r: &mut Registry) -> &'static str {
    let platforms = [
        ("linux-x64", "linux", "x64", Some("glibc")),
        ("linux-x64-musl", "linux", "x64", Some("musl")),
        ("linux-arm64", "linux", "arm64", Some("glibc")),
        ("linux-arm64-musl", "linux", "arm64", Some("musl")),
        ("darwin-arm64", "darwin", "arm64", None),
    ];
    let mut optional = serde_json::Map::new();
    for (suffix, os, cpu, libc) in platforms {
        let name = format!("@fx/claude-{suffix}");
        let mut extra = json!({ "os": [os], "cpu": [cpu] });
        if let Some(libc) = libc {
            extra["libc"] = json!([libc]);
        }
        if os == "darwin" {
            extra["dependencies"] = json!({ "mac-helper": "^1.0.0" });
        }
        r.publish(&name, "2.1.0", extra);
        optional.insert(name, json!("2.1.0"));
    }
    r.publish("mac-helper", "1.0.0", json!({}));
    r.publish(
        "@fx/claude",
        "2.1.0",
        json!({
            "bin": { "claude": "bin/claude.exe" },
            "scripts": { "postinstall": "node install.cjs" },
            "dependencies": {},
            "optionalDependencies": optional,
            "engines": { "node": ">=18.0.0" },
        }),
    );
    "@fx/claude"
}

/// Version conflicts npm resolves by nesting, one of them below an intermediate level.
fn nesting_tree(r: &mut Registry) -> &'static str {
    r.publish(
        "nest-tool",
        "1.0.0",
        json!({ "dependencies": { "a": "^1.0.0", "b": "^1.0.0", "f": "1.x" } }),
    );
    r.publish("a", "1.0.0", json!({ "dependencies": { "c": "^1.0.0" } }));
    r.publish(
        "b",
        "1.0.0",
        json!({ "dependencies": { "c": "^2.0.0", "e": "^1.0.0" } }),
    );
    r.publish("c", "1.0.0", json!({ "dependencies": { "e": "^1.0.0" } }));
    r.publish("c", "1.5.0", json!({ "dependencies": { "e": "^1.0.0" } }));
    r.publish("c", "2.0.0", json!({ "dependencies": { "e": "^2.0.0" } }));
    r.publish("e", "1.0.0", json!({}));
    r.publish("e", "2.0.0", json!({}));
    r.publish("e", "2.1.0", json!({}));
    r.tag("e", "latest", "2.0.0");
    r.publish(
        "f",
        "1.0.0",
        json!({ "dependencies": { "e": "~2.1.0", "c": "1.0.0 - 1.9.9" } }),
    );
    "nest-tool"
}

/// Peer dependencies: installed with their dependents, shared when compatible, a peer
/// of a peer, an optional peer that stays out, and `latest` not satisfying the peers.
fn peer_tree(r: &mut Registry) -> &'static str {
    r.publish(
        "peer-tool",
        "1.0.0",
        json!({ "dependencies": { "plugin-a": "^1.0.0", "plugin-b": "^1.0.0" } }),
    );
    r.publish(
        "plugin-a",
        "1.0.0",
        json!({ "peerDependencies": { "host": "^1.0.0" } }),
    );
    r.publish(
        "plugin-b",
        "1.0.0",
        json!({
            "peerDependencies": { "host": "^1.2.0", "extra": "*" },
            "peerDependenciesMeta": { "extra": { "optional": true } },
            "dependencies": { "tiny": "^1.0.0" },
        }),
    );
    for version in ["1.0.0", "1.2.0", "1.3.0", "2.0.0"] {
        r.publish(
            "host",
            version,
            json!({ "peerDependencies": { "host-core": version } }),
        );
        r.publish("host-core", version, json!({}));
    }
    r.deprecate("host", "1.3.0");
    r.publish("extra", "1.0.0", json!({}));
    r.publish("tiny", "1.0.0", json!({}));
    "peer-tool"
}

/// Deprecated versions avoided while a range allows, prerelease ranges, dist-tags,
/// `engines` the running Node.js rejects, and a range where every version is deprecated.
fn versions_tree(r: &mut Registry) -> &'static str {
    r.publish(
        "ver-tool",
        "1.0.0",
        json!({ "dependencies": {
            "lib": "^2.0.0", "beta": "^3.0.0-beta.1", "tagged": "next", "old": "*", "eng": "^1.0.0", "pre": ">=1.0.0-rc.1 <1.0.0"
        } }),
    );
    r.publish("lib", "2.0.0", json!({}));
    r.publish("lib", "2.1.0", json!({}));
    r.publish("lib", "2.2.0-rc.1", json!({}));
    r.deprecate("lib", "2.1.0");
    r.publish("beta", "3.0.0-beta.1", json!({}));
    r.publish("beta", "3.0.0-beta.2", json!({}));
    r.tag("beta", "latest", "3.0.0-beta.1");
    r.publish("tagged", "1.0.0", json!({}));
    r.publish("tagged", "2.0.0-next.3", json!({}));
    r.tag("tagged", "next", "2.0.0-next.3");
    r.publish("old", "0.1.0", json!({}));
    r.publish("old", "0.2.0", json!({}));
    r.deprecate("old", "0.1.0").deprecate("old", "0.2.0");
    r.publish("eng", "1.0.0", json!({ "engines": { "node": ">=12" } }));
    r.publish("eng", "1.1.0", json!({ "engines": { "node": ">=99" } }));
    r.publish("pre", "1.0.0-rc.1", json!({}));
    r.publish("pre", "1.0.0-rc.2", json!({}));
    r.publish("pre", "1.0.0", json!({}));
    "ver-tool"
}

/// A diamond deduplicated at the top, a range that forces a nested copy, and bundled
/// dependencies that ship in their parent's tarball (and are not in the registry).
fn diamond_tree(r: &mut Registry) -> &'static str {
    r.publish(
        "dia-tool",
        "1.0.0",
        json!({ "dependencies": { "x": "^1.0.0", "y": "^1.0.0", "z": "^1.0.0" } }),
    );
    r.publish(
        "x",
        "1.0.0",
        json!({ "dependencies": { "z": "^1.0.0", "w": "^1.0.0" }, "bundleDependencies": ["w"] }),
    );
    r.publish("y", "1.0.0", json!({ "dependencies": { "z": "~1.1.0" } }));
    for version in ["1.0.0", "1.1.0", "1.1.5", "1.2.0"] {
        r.publish("z", version, json!({}));
    }
    "dia-tool"
}

/// A peer conflict below the root: npm warns, keeps going, and nests the peer set.
fn peer_conflict_tree(r: &mut Registry) -> &'static str {
    r.publish(
        "pc-tool",
        "1.0.0",
        json!({ "dependencies": { "core": "^1.0.0", "addon": "^1.0.0" } }),
    );
    r.publish(
        "addon",
        "1.0.0",
        json!({ "peerDependencies": { "core": "^2.0.0" }, "dependencies": { "helper": "^1.0.0" } }),
    );
    r.publish(
        "helper",
        "1.0.0",
        json!({ "peerDependencies": { "core": "*" } }),
    );
    r.publish("core", "1.0.0", json!({}));
    r.publish("core", "2.0.0", json!({}));
    "pc-tool"
}

// ---- running modelbench ----

struct Fixture {
    world: World,
    dir: tempfile::TempDir,
    ctx: Context,
}

fn fixture(registry: &Registry, shape: Shape) -> Fixture {
    let world = World::start();
    registry.serve(&world, shape);
    let dir = temp_dir();
    let sources = SourcesFile::new()
        .npm(&world)
        .write_to(&dir.path().join("sources.toml"));
    let sources = Sources::load(&sources).unwrap();
    let ctx = Context::with_client(
        Client::new(false, sources.insecure_hosts()),
        sources,
        vec![Platform::LinuxAmd64, Platform::LinuxArm64],
    );
    Fixture { world, dir, ctx }
}

fn request(package: &str, range: &str) -> NpmRequest {
    NpmRequest {
        package: package.into(),
        range: range.into(),
        installer: Installer::Npm,
        mirror: None,
    }
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn resolve_with(
    ctx: &Context,
    request: &NpmRequest,
    engines: &Engines,
) -> Result<Resolution, Problem> {
    block_on(npm::resolve_closure(
        ctx,
        &request.package,
        request,
        engines,
    ))
    .map(checked)
}

/// A resolution with its entry and facts typed, as the driver checks them before they
/// are locked (emit takes only typed values).
#[derive(Debug)]
struct Resolution {
    artifact: Artifact,
    facts: Facts,
    fetched: Vec<String>,
}

fn checked(resolution: npm::Resolution) -> Resolution {
    let facts = resolution
        .facts
        .iter()
        .map(|(location, facts)| (location.clone(), NpmFacts::try_from(facts).unwrap()))
        .collect();
    Resolution {
        artifact: Artifact::try_from(resolution.artifact).unwrap(),
        facts,
        fetched: resolution.fetched,
    }
}

/// `path name@version` for every location of the closure, whichever platform has it.
fn closure_set(artifact: &Artifact) -> BTreeSet<String> {
    artifact
        .packages
        .iter()
        .map(|p| {
            format!(
                "{} {}@{}",
                p.path.as_deref().unwrap_or("?"),
                p.name,
                p.version
            )
        })
        .collect()
}

// ---- the npm oracle ----

/// The npm of this machine: its version, or why the oracle cannot run.
fn npm_version() -> &'static (String, String) {
    static VERSIONS: OnceLock<(String, String)> = OnceLock::new();
    VERSIONS.get_or_init(|| {
        let npm = run(Command::new("npm").arg("--version"));
        let node = run(Command::new("node").arg("--version"));
        assert!(
            npm.success() && node.success(),
            "the npm oracle needs `npm` and `node` on PATH (Debian: apt-get install npm)"
        );
        (
            npm.stdout.trim().to_string(),
            node.stdout.trim().trim_start_matches('v').to_string(),
        )
    })
}

/// npm 10 and later install for another `--os`/`--cpu`/`--libc` than the machine's.
fn npm_takes_platform_flags() -> bool {
    let major: u32 = npm_version()
        .0
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    major >= 10
}

/// The engines npm checks against: its own and the running Node.js.
fn oracle_engines() -> Engines {
    let (npm, node) = npm_version();
    Engines {
        node: Some(node.clone()),
        npm: Some(npm.clone()),
    }
}

/// Run npm in `dir` against the fixture registry with a clean cache and no user config.
fn npm_cmd(world: &World, dir: &Path, args: &[&str]) -> Output {
    let npmrc = dir.join(".npmrc-empty");
    std::fs::write(&npmrc, "").unwrap();
    // npm never finishes on some pathological trees (peer sets that keep replacing one
    // another); a bound turns that into a refusal.
    let mut cmd = Command::new("timeout");
    cmd.args(["120", "npm"])
        .args(args)
        .arg("--registry")
        .arg(world.base_url())
        .arg("--prefix")
        .arg(dir)
        .arg("--cache")
        .arg(dir.join(".npm-cache"))
        .arg("--userconfig")
        .arg(&npmrc)
        .args([
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
            "--loglevel=warn",
        ])
        .env_remove("npm_config_registry")
        .current_dir(dir);
    run(&mut cmd)
}

/// `npm install --package-lock-only` for a root depending on `package@range`: the
/// `(path, name@version)` set of the lock it writes.
fn npm_oracle(world: &World, package: &str, range: &str) -> BTreeSet<String> {
    match try_npm_oracle(world, package, range) {
        Ok(set) => set,
        Err(out) => {
            out.print("npm install --package-lock-only");
            panic!("the npm oracle failed");
        }
    }
}

fn try_npm_oracle(world: &World, package: &str, range: &str) -> Result<BTreeSet<String>, Output> {
    let dir = temp_dir();
    let manifest =
        json!({ "name": "oracle-root", "version": "1.0.0", "dependencies": { package: range } });
    std::fs::write(dir.path().join("package.json"), manifest.to_string()).unwrap();
    let out = npm_cmd(
        world,
        dir.path(),
        &[
            "install",
            "--package-lock-only",
            "--ignore-scripts",
            "--os",
            "linux",
            "--cpu",
            "x64",
            "--libc",
            "glibc",
        ],
    );
    if !out.success() {
        return Err(out);
    }
    let lock: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("package-lock.json")).unwrap())
            .unwrap();
    Ok(lock_set(&lock))
}

fn lock_set(lock: &Value) -> BTreeSet<String> {
    lock["packages"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| !path.is_empty())
        .filter(|(_, entry)| entry.get("inBundle").is_none())
        .map(|(path, entry)| {
            let folder = path
                .rsplit_once("node_modules/")
                .map(|(_, f)| f)
                .unwrap_or(path);
            let name = entry["name"].as_str().unwrap_or(folder);
            format!("{path} {name}@{}", entry["version"].as_str().unwrap_or("?"))
        })
        .collect()
}

/// Install modelbench's emitted `package.json` + `package-lock.json` with `npm ci` as
/// `cpu` would, and list what landed (in [`emit::expected_tree`]'s format).
fn npm_ci(world: &World, resolution: &Resolution, cpu: &str) -> String {
    let dir = temp_dir();
    let platform = if cpu == "x64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    };
    let artifact = &resolution.artifact;
    std::fs::write(
        dir.path().join("package.json"),
        emit::package_json(artifact, &resolution.facts, Installer::Npm),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("package-lock.json"),
        emit::package_lock(artifact, &resolution.facts, platform),
    )
    .unwrap();
    let out = npm_cmd(
        world,
        dir.path(),
        &[
            "ci",
            "--ignore-scripts",
            "--os",
            "linux",
            "--cpu",
            cpu,
            "--libc",
            "glibc",
        ],
    );
    if !out.success() {
        out.print("npm ci");
        eprintln!(
            "{}",
            emit::package_lock(artifact, &resolution.facts, platform)
        );
        panic!("npm ci refused modelbench's lock for {platform}");
    }
    installed_tree(dir.path())
}

fn installed_tree(dir: &Path) -> String {
    let script = dir.join("tree.js");
    std::fs::write(&script, emit::TREE_JS).unwrap();
    let out = run(Command::new("node").arg(&script).arg(dir));
    assert!(out.success(), "tree.js failed: {}", out.stderr);
    out.stdout
}

/// A directory with the emitted `package.json` and `bun.lock` of a resolution, and a
/// `bunfig.toml` with a private cache (and `registry`, when given).
fn bun_project(resolution: &Resolution, registry: Option<&str>) -> tempfile::TempDir {
    let dir = temp_dir();
    let artifact = &resolution.artifact;
    std::fs::write(
        dir.path().join("package.json"),
        emit::package_json(artifact, &resolution.facts, Installer::Bun),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bun.lock"),
        emit::bun_lock(artifact, &resolution.facts, "linux/amd64"),
    )
    .unwrap();
    let registry = registry
        .map(|r| format!("registry = \"{r}/\"\n"))
        .unwrap_or_default();
    std::fs::write(
        dir.path().join("bunfig.toml"),
        format!(
            "[install]\n{registry}cache = \"{}\"\n",
            dir.path().join(".bun-cache").display()
        ),
    )
    .unwrap();
    dir
}

/// `bun install --frozen-lockfile` of the emitted `bun.lock` with a real bun (`real_bun()`:
/// `MODELBENCH_BUN`, else the npm package `@oven/bun-linux-x64`); `None` without one.
fn bun_install(world: &World, resolution: &Resolution) -> Option<String> {
    let bun = crate::npm_build::real_bun()?;
    let artifact = &resolution.artifact;
    let dir = bun_project(resolution, Some(&world.base_url()));
    let out = run(Command::new(bun)
        .args(["install", "--frozen-lockfile", "--ignore-scripts"])
        .current_dir(dir.path()));
    if !out.success() {
        out.print("bun install --frozen-lockfile");
        eprintln!(
            "{}",
            emit::bun_lock(artifact, &resolution.facts, "linux/amd64")
        );
        panic!("bun refused modelbench's bun.lock");
    }
    Some(installed_tree(dir.path()))
}

fn diff(title: &str, ours: &BTreeSet<String>, theirs: &BTreeSet<String>) -> String {
    let only_ours: Vec<&String> = ours.difference(theirs).collect();
    let only_theirs: Vec<&String> = theirs.difference(ours).collect();
    format!("{title}:\n  only modelbench: {only_ours:#?}\n  only npm: {only_theirs:#?}")
}

/// The oracle check of one fixture tree: same layout as `npm install
/// --package-lock-only`, and `npm ci` of the emitted lock installs exactly the closure
/// locked for each platform. Returns the resolution for further checks.
fn check_against_npm(registry: &Registry, package: &str) -> Resolution {
    let fx = fixture(registry, Shape::Full);
    let resolution = resolve_with(&fx.ctx, &request(package, "latest"), &oracle_engines())
        .expect("modelbench resolves");
    // Each document was fetched once (before npm, which uses the same registry, runs).
    for name in &resolution.fetched {
        let path = format!("/{}", name.replacen('/', "%2f", 1));
        let hits = fx.world.hits(&path);
        assert_eq!(hits, 1, "{name} fetched {hits} times by modelbench");
    }
    let ours = closure_set(&resolution.artifact);
    let theirs = npm_oracle(&fx.world, package, "latest");
    assert_eq!(
        ours,
        theirs,
        "{}",
        diff(&format!("{package}: layout"), &ours, &theirs)
    );
    eprintln!(
        "oracle {package}: {} locations agree with npm {}:",
        ours.len(),
        npm_version().0
    );
    for line in &ours {
        eprintln!("  {line}");
    }

    for (cpu, platform) in [("x64", "linux/amd64"), ("arm64", "linux/arm64")] {
        if cpu != "x64" && !npm_takes_platform_flags() {
            eprintln!(
                "oracle {package}: npm {} has no --cpu; {platform} not checked",
                npm_version().0
            );
            continue;
        }
        let installed = npm_ci(&fx.world, &resolution, cpu);
        let expected = emit::expected_tree(&resolution.artifact, platform);
        assert_eq!(
            installed, expected,
            "{package}: npm ci on {platform} installed a different tree"
        );
        eprintln!(
            "oracle {package}: npm ci on {platform} installed the {} locked packages",
            expected.lines().count()
        );
    }
    // bun takes every resolution from the lock but hoists by its own rules, so its
    // tree holds the same packages, not always at the same paths.
    let has_bundles = resolution.facts.values().any(|f| !f.bundled.is_empty());
    if !has_bundles && let Some(installed) = bun_install(&fx.world, &resolution) {
        let packages = |tree: &str| {
            let mut lines: Vec<String> = tree
                .lines()
                .map(|l| l.split_once(' ').unwrap().1.to_string() + "\n")
                .collect();
            lines.sort();
            lines.concat()
        };
        assert_eq!(
            packages(&installed),
            emit::expected_packages(&resolution.artifact, "linux/amd64"),
            "{package}: bun"
        );
        eprintln!("oracle {package}: bun install --frozen-lockfile installed the same packages");
    }
    drop(fx.dir);
    resolution
}

fn packages_on<'a>(artifact: &'a Artifact, platform: &str) -> Vec<(&'a str, &'a str, &'a str)> {
    artifact
        .packages
        .iter()
        .filter(|p| p.platform == platform)
        .map(|p| {
            (
                p.path.as_deref().unwrap(),
                p.name.as_str(),
                p.version.as_str(),
            )
        })
        .collect()
}

#[test]
fn oracle_codex_aliases_and_prereleases() {
    let mut r = Registry::default();
    let tool = codex_tree(&mut r);
    let resolution = check_against_npm(&r, tool);
    let artifact = &resolution.artifact;
    assert_eq!(
        artifact.version, "0.9.0",
        "latest, not the newer prerelease"
    );
    assert_eq!(
        packages_on(artifact, "linux/amd64"),
        [(
            "node_modules/@fx/codex-linux-x64",
            "@fx/codex",
            "0.9.0-linux-x64"
        )]
    );
    assert_eq!(
        packages_on(artifact, "linux/arm64"),
        [(
            "node_modules/@fx/codex-linux-arm64",
            "@fx/codex",
            "0.9.0-linux-arm64"
        )]
    );
    assert_eq!(
        packages_on(artifact, modelbench::lock::npm::NO_PLATFORM).len(),
        2,
        "darwin and win32 builds are kept for npm ci"
    );
    let util = artifact
        .packages
        .iter()
        .find(|p| p.name == "@fx/util")
        .unwrap();
    assert_eq!(
        (util.version.as_str(), util.platform.as_str()),
        ("1.0.0", "all")
    );
    assert_eq!(util.required_by, ["@fx/codex"]);
}

#[test]
fn oracle_claude_platform_packages() {
    let mut r = Registry::default();
    let tool = claude_tree(&mut r);
    let resolution = check_against_npm(&r, tool);
    let artifact = &resolution.artifact;
    let amd64 = packages_on(artifact, "linux/amd64");
    assert_eq!(
        amd64,
        [(
            "node_modules/@fx/claude-linux-x64",
            "@fx/claude-linux-x64",
            "2.1.0"
        )]
    );
    let facts = &resolution.facts["node_modules/@fx/claude"];
    assert!(facts.install_script, "the postinstall is recorded");
    assert_eq!(facts.bin["claude"], "bin/claude.exe");
    assert!(resolution.facts["node_modules/mac-helper"].optional);
    let json = emit::package_json(artifact, &resolution.facts, Installer::Bun);
    assert!(
        json.contains("\"trustedDependencies\": [\n    \"@fx/claude\"\n  ]"),
        "{json}"
    );
}

#[test]
fn oracle_nested_conflicts() {
    let mut r = Registry::default();
    let tool = nesting_tree(&mut r);
    let resolution = check_against_npm(&r, tool);
    let paths: BTreeSet<&str> = resolution
        .artifact
        .packages
        .iter()
        .filter_map(|p| p.path.as_deref())
        .collect();
    assert!(
        paths
            .iter()
            .any(|p| p.matches("node_modules/").count() >= 2),
        "this tree nests: {paths:#?}"
    );
}

#[test]
fn oracle_peer_sets() {
    let mut r = Registry::default();
    let tool = peer_tree(&mut r);
    let resolution = check_against_npm(&r, tool);
    let host = resolution
        .artifact
        .packages
        .iter()
        .find(|p| p.name == "host")
        .unwrap();
    assert_eq!(
        host.version, "1.2.0",
        "1.3.0 is deprecated, 2.0.0 (latest) does not satisfy the peers"
    );
    assert!(resolution.facts["node_modules/host"].peer);
    assert!(
        !resolution
            .artifact
            .packages
            .iter()
            .any(|p| p.name == "extra"),
        "optional peers stay out"
    );
}

#[test]
fn oracle_deprecations_prereleases_and_engines() {
    let mut r = Registry::default();
    let tool = versions_tree(&mut r);
    let resolution = check_against_npm(&r, tool);
    let version = |name: &str| {
        resolution
            .artifact
            .packages
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.version.clone())
            .unwrap()
    };
    assert_eq!(
        version("lib"),
        "2.0.0",
        "deprecated 2.1.0 avoided, 2.2.0-rc.1 excluded"
    );
    assert_eq!(
        version("beta"),
        "3.0.0-beta.1",
        "`latest` wins when it satisfies"
    );
    assert_eq!(version("tagged"), "2.0.0-next.3");
    assert_eq!(version("old"), "0.2.0", "all deprecated: the highest");
    assert_eq!(version("eng"), "1.0.0", "1.1.0 wants node >=99");
    assert_eq!(version("pre"), "1.0.0-rc.2");
}

#[test]
fn oracle_diamond_dedupe_and_bundles() {
    let mut r = Registry::default();
    let tool = diamond_tree(&mut r);
    let resolution = check_against_npm(&r, tool);
    assert!(
        !resolution.fetched.iter().any(|n| n == "w"),
        "bundled dependencies are not fetched"
    );
    assert_eq!(resolution.facts["node_modules/x"].bundled, ["w"]);
}

#[test]
fn oracle_peer_conflict_below_the_root() {
    let mut r = Registry::default();
    let tool = peer_conflict_tree(&mut r);
    check_against_npm(&r, tool);
}

/// Random registries (fixed seeds) against npm: the same layout, or both refuse.
/// `MODELBENCH_NPM_FUZZ=<n>` runs more trees, `MODELBENCH_NPM_FUZZ_FROM=<seed>` others.
#[test]
fn oracle_random_trees() {
    let env = |key: &str, default: u64| {
        std::env::var(key)
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let (count, from) = (
        env("MODELBENCH_NPM_FUZZ", 12),
        env("MODELBENCH_NPM_FUZZ_FROM", 1),
    );
    let mut failures = Vec::new();
    let (mut agreed, mut both_refused) = (0, 0);
    for seed in from..from + count {
        let r = random_registry(seed);
        let fx = fixture(&r, Shape::Full);
        let ours = resolve_with(&fx.ctx, &request("rand-tool", "latest"), &oracle_engines());
        let theirs = try_npm_oracle(&fx.world, "rand-tool", "latest");
        match (ours, theirs) {
            (Ok(ours), Ok(theirs)) => {
                let ours = closure_set(&ours.artifact);
                if ours == theirs {
                    agreed += 1;
                } else {
                    failures.push(diff(&format!("seed {seed}"), &ours, &theirs));
                }
            }
            (Err(err), Err(_)) => {
                eprintln!("seed {seed}: refused by both: {err}");
                both_refused += 1;
            }
            (Ok(_), Err(out)) => failures.push(format!(
                "seed {seed}: npm refused, modelbench did not:\n{}",
                out.stderr
            )),
            (Err(err), Ok(_)) => failures.push(format!(
                "seed {seed}: modelbench refused, npm did not: {err}"
            )),
        }
    }
    eprintln!(
        "oracle random trees: {agreed} layouts agree, {both_refused} refused by both, {} differ",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A registry of a dozen packages with a few versions each, dependencies of every kind
/// (regular, optional, peer, optional peer) with assorted range forms, some deprecated
/// versions and prereleases, and a root tool depending on a few of them.
fn random_registry(seed: u64) -> Registry {
    let mut rng = crate::support::world::XorShift::new(seed * 7919);
    let mut pick = |n: u64| rng.up_to(n.saturating_sub(1)) as usize;
    let count = 8 + pick(6);
    let names: Vec<String> = (0..count)
        .map(|i| {
            if i % 5 == 3 {
                format!("@r/p{i}")
            } else {
                format!("p{i}")
            }
        })
        .collect();
    let mut versions: Vec<Vec<String>> = Vec::new();
    for _ in 0..count {
        let mut vs = BTreeSet::new();
        for _ in 0..1 + pick(4) {
            let (major, minor, patch) = (1 + pick(3), pick(3), pick(2));
            vs.insert(format!("{major}.{minor}.{patch}"));
        }
        versions.push(vs.into_iter().collect());
    }
    let mut r = Registry::default();
    let spec_for = |target: usize, pick: &mut dyn FnMut(u64) -> usize| -> String {
        let vs = &versions[target];
        let v = &vs[pick(vs.len() as u64)];
        let mut parts = v.split('.');
        let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
        match pick(8) {
            0 => format!("^{v}"),
            1 => format!("~{v}"),
            2 => format!("{major}.x"),
            3 => "*".into(),
            4 => format!(">={major}.{minor}.0 <{}", major.parse::<u32>().unwrap() + 1),
            5 => v.clone(),
            6 => "latest".into(),
            _ => format!(
                "^{major}.{minor}.0 || ^{}.0.0",
                major.parse::<u32>().unwrap() + 1
            ),
        }
    };
    for i in (0..count).rev() {
        for v in versions[i].clone() {
            let mut deps = serde_json::Map::new();
            let mut optional = serde_json::Map::new();
            let mut peers = serde_json::Map::new();
            let mut meta = serde_json::Map::new();
            let later = count - i - 1;
            for _ in 0..pick(4).min(later) {
                // Mostly later packages; now and then an earlier one, which makes a cycle.
                let target = if pick(15) == 0 {
                    pick(count as u64)
                } else {
                    i + 1 + pick(later as u64)
                };
                let spec = spec_for(target, &mut pick);
                let name = names[target].clone();
                match pick(20) {
                    0..=12 => deps.insert(name, json!(spec)),
                    13..=14 => optional.insert(name, json!(spec)),
                    15..=18 => peers.insert(name, json!(spec)),
                    _ => {
                        meta.insert(name.clone(), json!({ "optional": true }));
                        peers.insert(name, json!(spec))
                    }
                };
            }
            let mut extra = json!({ "dependencies": deps });
            if !optional.is_empty() {
                extra["optionalDependencies"] = json!(optional);
            }
            if !peers.is_empty() {
                extra["peerDependencies"] = json!(peers);
            }
            if !meta.is_empty() {
                extra["peerDependenciesMeta"] = json!(meta);
            }
            if pick(4) == 0 {
                // A platform package, as native binaries are published.
                let platform = ["linux-x64", "linux-arm64", "darwin-arm64"][pick(3)];
                optional.insert(format!("plat-{platform}"), json!("1.0.0"));
                extra["optionalDependencies"] = json!(optional);
            }
            r.publish(&names[i], &v, extra);
            if pick(10) == 0 {
                r.deprecate(&names[i], &v);
            }
        }
        if pick(6) == 0 {
            let vs = &versions[i];
            let older = vs[pick(vs.len() as u64)].clone();
            r.tag(&names[i], "latest", &older);
        }
        if pick(8) == 0 {
            let pre = format!("{}.0.0-rc.1", 9);
            r.publish(&names[i], &pre, json!({}));
        }
    }
    for platform in ["linux-x64", "linux-arm64", "darwin-arm64"] {
        let (os, cpu) = platform.split_once('-').unwrap();
        let dep = names[pick(count as u64)].clone();
        r.publish(
            &format!("plat-{platform}"),
            "1.0.0",
            json!({ "os": [os], "cpu": [cpu], "dependencies": { dep: "*" } }),
        );
    }
    let mut root = serde_json::Map::new();
    for _ in 0..2 + pick(3) {
        let target = pick(count as u64);
        let spec = spec_for(target, &mut pick);
        root.insert(names[target].clone(), json!(spec));
    }
    r.publish("rand-tool", "1.0.0", json!({ "dependencies": root }));
    r
}

/// `npm ci` of the emitted lock runs the install scripts the tool needs and links its
/// bins: `hasInstallScript` and `bin` reach the lock.
#[test]
fn npm_ci_runs_install_scripts_and_links_bins() {
    let mut r = Registry::default();
    let script = "node -e \"require('fs').writeFileSync('postinstall-ran', 'yes')\"";
    r.publish(
        "script-tool",
        "1.0.0",
        json!({ "bin": { "script-tool": "bin/cli.js" }, "scripts": { "postinstall": script }, "dependencies": { "tiny": "^1.0.0" } }),
    );
    r.publish("tiny", "1.0.0", json!({}));
    let fx = fixture(&r, Shape::Abbreviated);
    let resolution = resolve_with(
        &fx.ctx,
        &request("script-tool", "latest"),
        &oracle_engines(),
    )
    .unwrap();
    let dir = temp_dir();
    let artifact = &resolution.artifact;
    let package_json = emit::package_json(artifact, &resolution.facts, Installer::Npm);
    assert!(
        package_json.contains("\"script-tool@1.0.0\": true"),
        "{package_json}"
    );
    std::fs::write(dir.path().join("package.json"), package_json).unwrap();
    std::fs::write(
        dir.path().join("package-lock.json"),
        emit::package_lock(artifact, &resolution.facts, "linux/amd64"),
    )
    .unwrap();
    let out = npm_cmd(&fx.world, dir.path(), &["ci"]);
    if !out.success() {
        out.print("npm ci");
        panic!("npm ci failed");
    }
    let tool = dir.path().join("node_modules/script-tool");
    assert_eq!(
        std::fs::read_to_string(tool.join("postinstall-ran")).unwrap(),
        "yes"
    );
    let bin = dir.path().join("node_modules/.bin/script-tool");
    let out = run(Command::new("node").arg(&bin));
    assert_eq!(out.stdout.trim(), "script-tool 1.0.0", "{}", out.stderr);
}

// ---- document shapes, fetching, faults ----

/// Every document shape gives the same closure and integrity values.
#[test]
fn abbreviated_full_and_reduced_documents_agree() {
    let mut r = Registry::default();
    codex_tree(&mut r);
    claude_tree(&mut r);
    let mut results = Vec::new();
    for shape in [Shape::Full, Shape::Abbreviated, Shape::Reduced] {
        let fx = fixture(&r, shape);
        let mut sets = Vec::new();
        for tool in ["@fx/codex", "@fx/claude"] {
            let resolution =
                resolve_with(&fx.ctx, &request(tool, "latest"), &Engines::default()).unwrap();
            let hashes: BTreeSet<String> = resolution
                .artifact
                .packages
                .iter()
                .map(|p| format!("{} {}", p.path.as_deref().unwrap(), p.hash))
                .collect();
            let scripted: Vec<String> = resolution
                .facts
                .iter()
                .filter(|(_, f)| f.install_script)
                .map(|(l, _)| l.clone())
                .collect();
            sets.push((hashes, scripted));
        }
        results.push((shape, sets));
    }
    let (_, full) = &results[0];
    for (shape, sets) in &results[1..] {
        assert_eq!(sets, full, "{shape:?} documents resolve differently");
    }
    assert_eq!(full[1].1, ["node_modules/@fx/claude"]);
}

#[test]
fn each_document_is_fetched_once_with_npm_accept_header() {
    let mut r = Registry::default();
    let tool = nesting_tree(&mut r);
    let fx = fixture(&r, Shape::Full);
    let received_before = modelbench::net::bytes_received();
    let resolution = resolve_with(&fx.ctx, &request(tool, "^1.0.0"), &Engines::default()).unwrap();
    let log = fx.world.request_log();
    let docs: Vec<_> = log.iter().filter(|r| !r.path.contains("/-/")).collect();
    // The progress line's byte count saw every document (other tests of this process
    // may add theirs).
    let served: u64 = docs
        .iter()
        .map(|entry| {
            let name = entry.path.trim_start_matches('/');
            serde_json::to_vec(&r.document(&fx.world, name, Shape::Full))
                .unwrap()
                .len() as u64
        })
        .sum();
    assert!(
        modelbench::net::bytes_received() - received_before >= served,
        "{served} bytes served"
    );
    let mut seen = BTreeSet::new();
    for entry in &docs {
        assert!(
            seen.insert(entry.path.clone()),
            "{} fetched twice",
            entry.path
        );
        assert_eq!(entry.header("accept"), Some(npm::ACCEPT));
    }
    assert_eq!(seen.len(), resolution.fetched.len());
    assert!(
        log.iter().all(|r| !r.path.contains("/-/")),
        "no tarball is downloaded to lock"
    );
}

#[test]
fn transient_failures_are_retried() {
    let mut r = Registry::default();
    let tool = peer_tree(&mut r);
    let fx = fixture(&r, Shape::Full);
    fx.world.faults("/host", [Fault::Status(503), Fault::Reset]);
    fx.world.fault("/plugin-a", Fault::Truncate);
    let resolution = resolve_with(&fx.ctx, &request(tool, "latest"), &Engines::default()).unwrap();
    assert!(
        resolution
            .artifact
            .packages
            .iter()
            .any(|p| p.name == "host")
    );
    assert_eq!(fx.world.pending_faults("/host"), 0);
}

#[test]
fn malformed_and_missing_documents_fail_with_the_package_named() {
    let mut r = Registry::default();
    let tool = nesting_tree(&mut r);
    let fx = fixture(&r, Shape::Full);
    fx.world
        .faults("/e", std::iter::repeat_n(Fault::MalformedJson, 4));
    let err = resolve_with(&fx.ctx, &request(tool, "latest"), &Engines::default()).unwrap_err();
    assert!(err.to_string().contains("/e"), "{err}");

    let err = resolve_with(
        &fx.ctx,
        &request("no-such-tool", "latest"),
        &Engines::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("`no-such-tool` is not in the registry"),
        "{err}"
    );

    let err = resolve_with(&fx.ctx, &request(tool, "^7"), &Engines::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("no version of `nest-tool` matches `^7`"),
        "{err}"
    );
}

#[test]
fn sha1_only_packages_are_refused() {
    let mut r = Registry::default();
    r.publish(
        "ancient-tool",
        "1.0.0",
        json!({ "dependencies": { "ancient": "1" } }),
    );
    r.publish("ancient", "1.0.0", json!({}));
    r.sha1_only.insert(("ancient".into(), "1.0.0".into()));
    let fx = fixture(&r, Shape::Full);
    let err = resolve_with(
        &fx.ctx,
        &request("ancient-tool", "latest"),
        &Engines::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("`ancient@1.0.0` publishes no sha512"),
        "{err}"
    );
}

#[test]
fn unsupported_specifiers_are_named() {
    let mut r = Registry::default();
    r.publish(
        "git-tool",
        "1.0.0",
        json!({ "dependencies": { "x": "github:someone/x" } }),
    );
    let fx = fixture(&r, Shape::Full);
    let err =
        resolve_with(&fx.ctx, &request("git-tool", "latest"), &Engines::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("`x@github:someone/x` is a git or URL dependency"),
        "{err}"
    );
}

#[test]
fn mirror_urls_follow_the_canonical_one() {
    let mut r = Registry::default();
    let tool = codex_tree(&mut r);
    let fx = fixture(&r, Shape::Full);
    let mut req = request(tool, "latest");
    req.mirror = Some("https://registry.npmmirror.com/".into());
    let resolution = resolve_with(&fx.ctx, &req, &Engines::default()).unwrap();
    let linux = resolution
        .artifact
        .packages
        .iter()
        .find(|p| p.platform == "linux/amd64")
        .unwrap();
    assert_eq!(
        linux.urls,
        [
            fx.world.url("/@fx/codex/-/codex-0.9.0-linux-x64.tgz"),
            "https://registry.npmmirror.com/@fx/codex/-/codex-0.9.0-linux-x64.tgz".to_string(),
        ]
    );
    assert_eq!(linux.file, "codex-0.9.0-linux-x64.tgz");
}

#[test]
fn resolving_twice_gives_identical_artifacts() {
    let mut r = Registry::default();
    let tool = peer_conflict_tree(&mut r);
    peer_tree(&mut r);
    let fx = fixture(&r, Shape::Abbreviated);
    let first = resolve_with(&fx.ctx, &request(tool, "latest"), &Engines::default()).unwrap();
    let second = resolve_with(&fx.ctx, &request(tool, "latest"), &Engines::default()).unwrap();
    assert_eq!(first.artifact, second.artifact);
    assert_eq!(first.facts, second.facts);
    let lock = |r: &Resolution| emit::package_lock(&r.artifact, &r.facts, "linux/amd64");
    assert_eq!(lock(&first), lock(&second));
}

// ---- node-semver's own vectors ----

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/peer/npm-semver.json"
);

fn options(case: &Value) -> Options {
    let o = &case["options"];
    Options {
        loose: o["loose"].as_bool().unwrap_or(false),
        include_prerelease: o["includePrerelease"].as_bool().unwrap_or(false),
    }
}

fn str_of<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` in {case}"))
}

/// Every case of every mode `resolve::npm::semver` implements; `increments`,
/// `truncations` and the non-string inputs are counted and reported as not run.
#[test]
fn peer_vectors_npm_semver() {
    let data: Value = serde_json::from_str(&std::fs::read_to_string(VECTORS).unwrap()).unwrap();
    let mut failures: Vec<String> = Vec::new();
    let mut counts: Vec<(String, usize)> = Vec::new();
    let cases = |mode: &str| {
        data[mode]
            .as_array()
            .unwrap_or_else(|| panic!("mode {mode}"))
            .clone()
    };
    let mut check = |mode: &str, f: &dyn Fn(&Value) -> Result<(), String>| {
        let cases = cases(mode);
        for case in &cases {
            if let Err(message) = f(case) {
                failures.push(format!("{mode}: {case}: {message}"));
            }
        }
        counts.push((mode.to_string(), cases.len()));
    };

    check("satisfies", &|c| {
        let got = semver::satisfies(
            c["version"].as_str().unwrap_or(""),
            str_of(c, "range"),
            options(c),
        );
        (got == c["satisfies"].as_bool().unwrap())
            .then_some(())
            .ok_or(format!("got {got}"))
    });
    check("compare", &|c| {
        let loose = options(c).loose;
        let a = Version::parse(str_of(c, "a"), loose).ok_or("a does not parse")?;
        let b = Version::parse(str_of(c, "b"), loose).ok_or("b does not parse")?;
        let want = c["cmp"].as_i64().unwrap();
        let ok = match want {
            // Both argument orders, as the upstream test checks.
            1 => a.compare(&b).is_gt() && b.compare(&a).is_lt(),
            0 => a.compare(&b).is_eq() && b.compare(&a).is_eq(),
            _ => false,
        };
        ok.then_some(()).ok_or(format!("got {:?}", a.cmp(&b)))
    });
    check("range_parse", &|c| {
        let got = semver::valid_range(str_of(c, "range"), options(c));
        (got.as_deref() == c["canonical"].as_str())
            .then_some(())
            .ok_or(format!("got {got:?}"))
    });
    for (mode, side) in [("gtr", Side::Above), ("ltr", Side::Below)] {
        check(mode, &|c| {
            let got = semver::outside(str_of(c, "version"), str_of(c, "range"), side, options(c));
            (got == Some(c["result"].as_bool().unwrap()))
                .then_some(())
                .ok_or(format!("got {got:?}"))
        });
    }
    check("range_intersects", &|c| {
        let want = c["intersects"].as_bool().unwrap();
        for loose in [false, true] {
            let o = Options {
                loose,
                include_prerelease: false,
            };
            for (x, y) in [
                (str_of(c, "a"), str_of(c, "b")),
                (str_of(c, "b"), str_of(c, "a")),
            ] {
                let got = match (Range::parse(x, o), Range::parse(y, o)) {
                    (Some(x), Some(y)) => x.intersects(&y, o),
                    _ => return Err("a range does not parse".into()),
                };
                if got != want {
                    return Err(format!("loose={loose} {x:?} ∩ {y:?} got {got}"));
                }
            }
        }
        Ok(())
    });
    check("comparator_intersects", &|c| {
        let o = Options {
            loose: false,
            include_prerelease: c["include_prerelease"].as_bool().unwrap(),
        };
        let want = c["intersects"].as_bool().unwrap();
        for (x, y) in [
            (str_of(c, "a"), str_of(c, "b")),
            (str_of(c, "b"), str_of(c, "a")),
        ] {
            let (Some(x), Some(y)) = (Comparator::parse(x, o), Comparator::parse(y, o)) else {
                return Err("a comparator does not parse".into());
            };
            let got = x.intersects(&y, o);
            if got != want {
                return Err(format!("{} ∩ {} got {got}", x.value(), y.value()));
            }
        }
        Ok(())
    });
    check("valid_versions", &|c| {
        let v = Version::parse(str_of(c, "version"), false).ok_or("does not parse")?;
        let prerelease: Vec<Value> = v
            .prerelease
            .iter()
            .map(|i| match i {
                Identifier::Numeric(n) => json!(n),
                Identifier::Text(t) => json!(t),
            })
            .collect();
        let got = json!({ "major": v.major, "minor": v.minor, "patch": v.patch, "prerelease": prerelease, "build": v.build });
        let want = json!({ "major": c["major"], "minor": c["minor"], "patch": c["patch"], "prerelease": c["prerelease"], "build": c["build"] });
        (got == want).then_some(()).ok_or(format!("got {got}"))
    });
    check("invalid_versions", &|c| {
        let got = semver::valid(str_of(c, "version"), options(c).loose);
        got.is_none().then_some(()).ok_or(format!("got {got:?}"))
    });
    for (mode, max) in [("max_satisfying", true), ("min_satisfying", false)] {
        check(mode, &|c| {
            let versions: Vec<&str> = c["versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let range = str_of(c, "range");
            let got = if max {
                semver::max_satisfying(&versions, range, options(c))
            } else {
                semver::min_satisfying(&versions, range, options(c))
            };
            (got == c["result"].as_str())
                .then_some(())
                .ok_or(format!("got {got:?}"))
        });
    }
    check("min_version", &|c| {
        let got = semver::min_version(str_of(c, "range"), options(c)).map(|v| v.to_string());
        (got.as_deref() == c["result"].as_str())
            .then_some(())
            .ok_or(format!("got {got:?}"))
    });

    // Modes not run: nothing in resolution increments or truncates a version, and
    // non-string inputs cannot reach a typed API.
    let not_run = [
        "increments",
        "truncations",
        "invalid_versions_skipped_non_string",
    ];
    let known: BTreeSet<&str> = counts
        .iter()
        .map(|(m, _)| m.as_str())
        .chain(not_run)
        .collect();
    let in_file: BTreeSet<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        known, in_file,
        "a mode of the vector file is neither run nor listed as not run"
    );
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    for (mode, n) in &counts {
        eprintln!("npm-semver {mode}: {n} cases run");
    }
    for mode in not_run {
        eprintln!(
            "npm-semver {mode}: {} cases not run (no such operation in resolution)",
            data[mode].as_array().unwrap().len()
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {total} npm-semver cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- live (opt-in) ----

/// The five seed CLIs against the real registry, and a few tarballs checked against
/// their locked sha512. Opt in with `MODELBENCH_LIVE=1`.
#[test]
fn live_seed_clis_resolve() {
    if std::env::var("MODELBENCH_LIVE").as_deref() != Ok("1") {
        eprintln!(
            "live_seed_clis_resolve: skipped (set MODELBENCH_LIVE=1 to resolve against registry.npmjs.org)"
        );
        return;
    }
    let ctx = Context::with_client(
        Client::new(false, Vec::new()),
        Sources::default(),
        vec![Platform::LinuxAmd64, Platform::LinuxArm64],
    );
    let seeds = [
        ("@anthropic-ai/claude-code", Installer::Npm),
        ("@openai/codex", Installer::Npm),
        ("tavily-mcp", Installer::Bun),
        ("@upstash/context7-mcp", Installer::Bun),
        ("@google/gemini-cli", Installer::Bun),
    ];
    let started = std::time::Instant::now();
    let resolutions: Vec<Resolution> = block_on(async {
        let mut out = Vec::new();
        let futures = seeds.iter().map(|(package, installer)| {
            let req = NpmRequest {
                package: package.to_string(),
                range: "latest".into(),
                installer: *installer,
                mirror: Some("https://registry.npmmirror.com".into()),
            };
            let ctx = &ctx;
            async move { npm::resolve_closure(ctx, &req.package, &req, &Engines::default()).await }
        });
        for result in futures_util::future::join_all(futures).await {
            out.push(checked(result.expect("a seed CLI resolves")));
        }
        out
    });
    eprintln!("live: five closures in {:?}", started.elapsed());
    let mut to_check: Vec<(String, String, Hash)> = Vec::new();
    for ((package, _), resolution) in seeds.iter().zip(&resolutions) {
        let a = &resolution.artifact;
        let amd64 = a
            .packages
            .iter()
            .filter(|p| p.platform == "all" || p.platform == "linux/amd64")
            .count();
        eprintln!(
            "live: {package}@{} — {} locations, {amd64} installed on linux/amd64, {} documents",
            a.version,
            resolution.facts.len(),
            resolution.fetched.len()
        );
        let scripted: Vec<&String> = resolution
            .facts
            .iter()
            .filter(|(_, f)| f.install_script)
            .map(|(l, _)| l)
            .collect();
        let bundling: Vec<&String> = resolution
            .facts
            .iter()
            .filter(|(_, f)| !f.bundled.is_empty())
            .map(|(l, _)| l)
            .collect();
        eprintln!("live:   install scripts: {scripted:?}; bundled dependencies: {bundling:?}");
        assert!(
            a.packages
                .iter()
                .all(|p| p.urls.len() == 2 && p.urls[0].starts_with("https://registry.npmjs.org/"))
        );
        let top = a.packages.iter().find(|p| p.requested).unwrap();
        to_check.push((
            format!("{}@{}", top.name, top.version),
            top.urls[0].to_string(),
            top.hash.clone(),
        ));
    }
    // claude-code's and codex's linux-x64 binaries: the packages that matter most.
    for (i, wanted) in [(0, "linux/amd64"), (1, "linux/amd64")] {
        let p = resolutions[i]
            .artifact
            .packages
            .iter()
            .find(|p| p.platform == wanted)
            .expect("a platform package");
        to_check.push((
            format!("{}@{}", p.name, p.version),
            p.urls[0].to_string(),
            p.hash.clone(),
        ));
    }
    let claude = &resolutions[0];
    assert!(
        claude.facts.values().any(|f| f.install_script),
        "claude-code's postinstall is recorded"
    );

    // The same closures as npm's own, for the Node.js and npm of this machine.
    for (package, _) in seeds {
        let req = request(package, "latest");
        let ours = closure_set(
            &resolve_with(&ctx, &req, &oracle_engines())
                .unwrap()
                .artifact,
        );
        let dir = temp_dir();
        let manifest = json!({ "name": "oracle-root", "version": "1.0.0", "dependencies": { package: "latest" } });
        std::fs::write(dir.path().join("package.json"), manifest.to_string()).unwrap();
        std::fs::write(dir.path().join(".npmrc-empty"), "").unwrap();
        let out = run(Command::new("npm")
            .args([
                "install",
                "--package-lock-only",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
            ])
            .arg("--prefix")
            .arg(dir.path())
            .arg("--cache")
            .arg(dir.path().join(".npm-cache"))
            .arg("--userconfig")
            .arg(dir.path().join(".npmrc-empty"))
            .current_dir(dir.path()));
        assert!(out.success(), "npm: {}", out.stderr);
        let lock: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("package-lock.json")).unwrap())
                .unwrap();
        let theirs = lock_set(&lock);
        assert_eq!(
            ours,
            theirs,
            "{}",
            diff(&format!("live {package}"), &ours, &theirs)
        );
        eprintln!(
            "live: {package}: {} locations agree with npm {}",
            ours.len(),
            npm_version().0
        );
    }

    // Every seed CLI's emitted lock installs with `npm ci` from the real registry, install
    // scripts on (as the image runs it), the tree is the locked one, and the CLIs that
    // answer `--version` (the MCP servers would start serving instead) print their
    // locked version from the installed command.
    for ((package, _), resolution) in seeds.iter().zip(&resolutions) {
        let dir = temp_dir();
        let artifact = &resolution.artifact;
        std::fs::write(
            dir.path().join("package.json"),
            emit::package_json(artifact, &resolution.facts, Installer::Npm),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("package-lock.json"),
            emit::package_lock(artifact, &resolution.facts, "linux/amd64"),
        )
        .unwrap();
        std::fs::write(dir.path().join(".npmrc-empty"), "").unwrap();
        let started = std::time::Instant::now();
        // As install-npm-global.sh does: no scripts, then the trusted packages' scripts.
        let npm = |args: &[&str]| {
            run(Command::new("npm")
                .args(args)
                .args(["--no-audit", "--no-fund", "--userconfig"])
                .arg(dir.path().join(".npmrc-empty"))
                .arg("--cache")
                .arg(dir.path().join(".npm-cache"))
                .current_dir(dir.path()))
        };
        let out = npm(&["ci", "--ignore-scripts"]);
        assert!(out.success(), "npm ci of {package}: {}", out.stderr);
        let trusted = emit::trusted(artifact, &resolution.facts);
        if !trusted.is_empty() {
            let mut args = vec!["rebuild"];
            args.extend(trusted.iter().map(String::as_str));
            let out = npm(&args);
            assert!(out.success(), "npm rebuild {trusted:?}: {}", out.stderr);
        }
        assert_eq!(
            installed_tree(dir.path()),
            emit::expected_tree(artifact, "linux/amd64"),
            "{package}"
        );
        let top = artifact.packages.iter().find(|p| p.requested).unwrap();
        let commands: Vec<&str> = top
            .npm
            .as_ref()
            .unwrap()
            .bin
            .keys()
            .map(|b| b.as_str())
            .collect();
        assert!(!commands.is_empty(), "{package} has commands");
        for command in &commands {
            let bin = dir.path().join("node_modules/.bin").join(command);
            assert!(bin.exists(), "{package}: {command} is linked");
            if package.contains("mcp") {
                continue;
            }
            let out = run(Command::new("timeout")
                .arg("120")
                .arg(&bin)
                .arg("--version"));
            assert!(
                out.stdout.contains(top.version.as_str()),
                "{package}: `{command} --version` printed {}{}",
                out.stdout,
                out.stderr
            );
        }
        eprintln!(
            "live: npm ci of {package}@{}'s emitted lock: {} packages as locked in {:?}, commands {commands:?}",
            top.version,
            emit::expected_tree(artifact, "linux/amd64").lines().count(),
            started.elapsed()
        );
    }

    // The seed's bun globals, as the image installs them: `bun install --frozen-lockfile`
    // of each emitted bun.lock from the real registry, only the trusted packages' scripts
    // run, and the installed packages are the locked ones (a real bun: `real_bun()`).
    if let Some(bun) = crate::npm_build::real_bun() {
        for ((package, installer), resolution) in seeds.iter().zip(&resolutions) {
            if *installer != Installer::Bun {
                continue;
            }
            let artifact = &resolution.artifact;
            let dir = bun_project(resolution, None);
            let started = std::time::Instant::now();
            let out = run(Command::new(&bun)
                .args(["install", "--frozen-lockfile"])
                .current_dir(dir.path()));
            assert!(
                out.success(),
                "bun, {package}: {}{}",
                out.stdout,
                out.stderr
            );
            let mut installed: Vec<String> = installed_tree(dir.path())
                .lines()
                .map(|l| l.split_once(' ').unwrap().1.to_string() + "\n")
                .collect();
            installed.sort();
            assert_eq!(
                installed.concat(),
                emit::expected_packages(artifact, "linux/amd64"),
                "{package}"
            );
            eprintln!(
                "live: bun install --frozen-lockfile of {package}'s emitted bun.lock: {} packages as locked in {:?}",
                installed.len(),
                started.elapsed()
            );
        }
    }
    block_on(async {
        for (what, url, hash) in &to_check {
            let downloaded = ctx
                .client
                .download(what, url, Some(hash), None)
                .await
                .expect("tarball matches its integrity");
            eprintln!(
                "live: {what} ({} bytes) matches {}",
                downloaded.size,
                hash.to_sri()
            );
        }
    });
}

/// `resolve` (the driver's entry point) gives the same artifact as `resolve_closure`.
#[test]
fn resolve_returns_the_artifact() {
    let mut r = Registry::default();
    let tool = diamond_tree(&mut r);
    let fx = fixture(&r, Shape::Full);
    let req = request(tool, "latest");
    let artifact =
        Artifact::try_from(block_on(npm::resolve(&fx.ctx, tool, &req)).unwrap()).unwrap();
    let full = resolve_with(&fx.ctx, &req, &Engines::default()).unwrap();
    assert_eq!(artifact, full.artifact);
}

/// Serve every document of `registry` (full shape) with `etag`, replacing the routes
/// `Registry::serve` made.
fn serve_documents_with_etag(world: &World, registry: &Registry, etag: &str) {
    for name in registry.packages.keys() {
        let doc = registry.document(world, name, Shape::Full);
        world.get(
            &format!("/{name}"),
            Response::json(doc).header("ETag", format!("\"{etag}\"")),
        );
    }
}

/// Body bytes the world sent for documents (not tarballs) since its log was cleared.
fn document_bytes_sent(world: &World, registry: &Registry) -> usize {
    world
        .request_log()
        .iter()
        .filter(|r| {
            let name = r.path.trim_start_matches('/');
            registry.packages.contains_key(name)
        })
        .map(|r| r.sent)
        .sum()
}

/// Issue 20: packuments are cached with their `ETag` and revalidated, so a warm
/// `lock --update` with nothing changed upstream transfers under 1% of a cold lock's
/// document bytes; a changed document (new `ETag`) is downloaded again and used.
#[test]
fn npm_warm_lock_revalidates_packuments_by_etag() {
    let up = crate::tools::upstreams();
    let mut r = Registry::default();
    crate::npm_build::hello_cli(&mut r);
    r.serve(&up.world, Shape::Full);
    serve_documents_with_etag(&up.world, &r, "v1");
    let registry = crate::support::registry::shared_required();
    let base = registry.push_base(&format!("npm-revalidate/base-{}", up.world.addr().port()));
    let project = crate::support::project::Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-npm"
tag = "t1"
platforms = ["linux/amd64", "linux/arm64"]
[base]
image = "{}"
{}[stage-2]
tools.node = {{ version = "lts", user = "peid" }}
npm-global = {{ "mb-hello" = "latest" }}
"#,
        base,
        crate::npm_build::USERS,
    ));
    project
        .sources_file()
        .tools(&up.world)
        .npm(&up.world)
        .registry(registry.host())
        .write();
    up.world.clear_log();
    project.lock_ok(&[]);
    let cold = document_bytes_sent(&up.world, &r);
    let first = project.lock_bytes();
    assert!(cold > 0, "the cold lock downloads documents");

    up.world.clear_log();
    project.lock_ok(&["--update"]);
    let warm = document_bytes_sent(&up.world, &r);
    up.world.assert_revalidated(
        |path| r.packages.contains_key(path.trim_start_matches('/')),
        "\"v1\"",
    );
    eprintln!("body bytes sent: cold {cold}, warm {warm}");
    assert!(warm * 100 <= cold, "warm {warm} bytes vs cold {cold}");
    assert_eq!(
        project.lock_bytes(),
        first,
        "the cached documents give the same lock"
    );

    // mb-greet 1.2.0 published under a new ETag: fetched again and locked.
    r.publish("mb-greet", "1.2.0", json!({}));
    r.serve(&up.world, Shape::Full);
    serve_documents_with_etag(&up.world, &r, "v2");
    up.world.clear_log();
    project.lock_ok(&["--update"]);
    assert!(
        document_bytes_sent(&up.world, &r) > 0,
        "changed documents are downloaded"
    );
    let lock = project.lock_toml();
    let hello = crate::support::project::artifact(&lock, "npm", "mb-hello");
    let greet: Vec<&str> = hello["package"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"].as_str() == Some("mb-greet"))
        .filter_map(|p| p["version"].as_str())
        .collect();
    assert_eq!(greet, ["1.2.0"]);
    let second = project.lock_bytes();

    // A damaged entry is not trusted: its document is downloaded in full again.
    let npm_cache = project.cache_dir().join("npm");
    let mut damaged = 0;
    for entry in std::fs::read_dir(&npm_cache).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "body") {
            std::fs::write(&path, br#"{"name":"mb-greet","versions":{}}"#).unwrap();
            damaged += 1;
        }
    }
    assert!(
        damaged > 0,
        "documents are cached in {}",
        npm_cache.display()
    );
    up.world.clear_log();
    project.lock_ok(&["--update"]);
    assert!(
        document_bytes_sent(&up.world, &r) * 2 > cold,
        "damaged entries are downloaded again"
    );
    assert_eq!(project.lock_bytes(), second);
}
