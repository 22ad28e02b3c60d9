//! Install files for one npm-closure artifact: a private `package.json` and either
//! npm's `package-lock.json` (lockfile v3, for `npm ci`) or bun's text `bun.lock` (for
//! `bun install --frozen-lockfile`), generated from the locked closure so that neither
//! tool resolves anything at build time. Both check every tarball against the locked
//! `sha512` integrity.
//!
//! Both lock files describe one tree for every platform, as npm and bun write them:
//! packages for other platforms are listed with their `os`/`cpu`/`libc` and skipped by
//! the installer, which refuses a lock without them. Output is a pure function of the
//! artifact and its facts: keys sorted, no timestamps.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::json;

use super::install::Installs;
use super::quote::{self, UnsafeValue};
use super::scripts::INSTALL;
/// The installed-tree script, for tests that run it against `npm ci`'s tree.
pub use super::scripts::TREE_JS;
use super::unsafe_in;
use crate::lock::npm::{Facts, NO_PLATFORM, NpmFacts};
use crate::lock::values::{Constraint, NpmBinName, NpmName, RelativePath, Token};
use crate::lock::{ALL_PLATFORMS, Artifact, Package};
use crate::resolve::npm::Installer;
use crate::spec::{Spec, Stage};

/// The `name` of the generated root package: it must differ from every dependency's.
pub fn root_name(artifact: &Artifact) -> String {
    format!(
        "modelbench-{}",
        crate::resolve::npm::dir_name(&artifact.name)
    )
}

/// One entry per tree location (the lock lists a location once per platform).
fn locations(artifact: &Artifact) -> BTreeMap<&str, &Package> {
    let mut out = BTreeMap::new();
    for package in &artifact.packages {
        if let Some(path) = package.path.as_deref() {
            out.entry(path).or_insert(package);
        }
    }
    out
}

/// The requested top-level package.
fn top(artifact: &Artifact) -> Option<&Package> {
    artifact.packages.iter().find(|p| p.requested)
}

/// Its folder under `node_modules` (the package name, or an alias).
fn artifact_folder(artifact: &Artifact) -> &str {
    top(artifact)
        .and_then(|p| p.path.as_deref())
        .and_then(|p| p.strip_prefix("node_modules/"))
        .unwrap_or(&artifact.name)
}

/// The folder name at the end of a location (`@scope/name` for scoped packages).
fn folder(location: &str) -> &str {
    match location.rfind("node_modules/") {
        Some(i) => &location[i + "node_modules/".len()..],
        None => location,
    }
}

/// Packages whose install scripts the tool needs, by name: those with install scripts
/// that some locked platform installs and that are not optional. Optional packages
/// with install scripts (native add-ons built from source, as in gemini-cli) are left
/// untrusted: the tool works without them, and bun skips what it does not trust.
pub fn trusted(artifact: &Artifact, facts: &Facts) -> Vec<String> {
    let mut names: Vec<String> = artifact
        .packages
        .iter()
        .filter(|p| p.platform != NO_PLATFORM)
        .filter(|p| {
            p.path
                .as_ref()
                .and_then(|l| facts.get(l.as_str()))
                .is_some_and(|f| f.install_script && !f.optional)
        })
        .map(|p| p.name.to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The private project that installs the tool: its one dependency at the locked
/// version. Packages whose install scripts must run are listed as trusted: bun runs
/// only those (`trustedDependencies`); npm ≥ 11.19 reads `allowScripts` (exact
/// versions) and older npm ignores it.
pub fn package_json(artifact: &Artifact, facts: &Facts, installer: Installer) -> String {
    let mut root = serde_json::Map::new();
    root.insert("name".into(), json!(root_name(artifact)));
    root.insert("version".into(), json!("0.0.0"));
    root.insert("private".into(), json!(true));
    if let Some(top) = top(artifact) {
        root.insert(
            "dependencies".into(),
            json!({ artifact_folder(artifact): top.version }),
        );
    }
    let trusted = trusted(artifact, facts);
    if installer == Installer::Bun {
        // Always written, even empty: without it bun trusts its own default list of
        // popular packages, and a failing script there (gemini-cli's node-pty builds
        // from source) makes bun drop the package, so the tree would not be the lock's.
        root.insert("trustedDependencies".into(), json!(trusted));
    }
    if !trusted.is_empty() {
        match installer {
            Installer::Bun => {}
            Installer::Npm => {
                let mut allow = serde_json::Map::new();
                for package in &artifact.packages {
                    if trusted.iter().any(|t| *t == *package.name)
                        && package.platform != NO_PLATFORM
                    {
                        allow.insert(format!("{}@{}", package.name, package.version), json!(true));
                    }
                }
                root.insert("allowScripts".into(), serde_json::Value::Object(allow));
            }
        }
    }
    let mut text =
        serde_json::to_string_pretty(&serde_json::Value::Object(root)).expect("JSON serializes");
    text.push('\n');
    text
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PackageLock<'a> {
    name: String,
    version: &'static str,
    lockfile_version: u32,
    requires: bool,
    packages: BTreeMap<String, LockEntry<'a>>,
}

/// A `packages` entry, fields in npm's order.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct LockEntry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    integrity: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    optional: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    peer: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The root's (folder → locked version) or a member's (name → range).
    dependencies: Option<BTreeMap<&'a str, &'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    optional_dependencies: Option<&'a BTreeMap<NpmName, Constraint>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer_dependencies: Option<&'a BTreeMap<NpmName, Constraint>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer_dependencies_meta: Option<BTreeMap<&'a str, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bundle_dependencies: Option<&'a Vec<NpmName>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bin: Option<&'a BTreeMap<NpmBinName, RelativePath>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    os: Option<&'a Vec<Token>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<&'a Vec<Token>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    libc: Option<&'a Vec<Token>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    has_install_script: bool,
}

fn str_map<K: AsRef<str>, V: AsRef<str>>(map: &BTreeMap<K, V>) -> BTreeMap<&str, &str> {
    map.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect()
}

fn some_map<K, V>(map: &BTreeMap<K, V>) -> Option<&BTreeMap<K, V>> {
    (!map.is_empty()).then_some(map)
}

fn some_list<T>(list: &Vec<T>) -> Option<&Vec<T>> {
    (!list.is_empty()).then_some(list)
}

fn covers(artifact: &Artifact, platform: &str) -> bool {
    artifact
        .packages
        .iter()
        .any(|p| p.platform == ALL_PLATFORMS || p.platform == platform)
}

/// `package-lock.json` (lockfile v3) for `npm ci`: `resolved` is the first locked URL,
/// `integrity` the locked sha512. The lock is the same for every platform (npm skips
/// what `os`/`cpu`/`libc` exclude); `platform` only has to be one the artifact covers.
pub fn package_lock(artifact: &Artifact, facts: &Facts, platform: &str) -> String {
    debug_assert!(
        covers(artifact, platform),
        "artifact `{}` is not locked for {platform}",
        artifact.name
    );
    let empty = NpmFacts::default();
    let root_deps: BTreeMap<String, String> = top(artifact)
        .map(|t| BTreeMap::from([(artifact_folder(artifact).to_string(), t.version.to_string())]))
        .unwrap_or_default();
    let mut packages = BTreeMap::new();
    packages.insert(
        String::new(),
        LockEntry {
            name: Some(root_name(artifact)),
            version: Some("0.0.0"),
            dependencies: Some(str_map(&root_deps)),
            ..LockEntry::default()
        },
    );
    for (location, package) in locations(artifact) {
        let f = facts.get(location).unwrap_or(&empty);
        let name = (package.name != folder(location)).then(|| package.name.to_string());
        let meta = (!f.optional_peers.is_empty()).then(|| {
            f.optional_peers
                .iter()
                .map(|p| (p.as_str(), json!({ "optional": true })))
                .collect::<BTreeMap<_, _>>()
        });
        packages.insert(
            location.to_string(),
            LockEntry {
                name,
                version: Some(&package.version),
                resolved: package.urls.first().map(|url| url.as_str()),
                integrity: Some(package.hash.to_sri()),
                optional: f.optional,
                peer: f.peer,
                dependencies: (!f.dependencies.is_empty()).then(|| str_map(&f.dependencies)),
                optional_dependencies: some_map(&f.optional_dependencies),
                peer_dependencies: some_map(&f.peer_dependencies),
                peer_dependencies_meta: meta,
                bundle_dependencies: some_list(&f.bundled),
                bin: some_map(&f.bin),
                os: some_list(&f.os),
                cpu: some_list(&f.cpu),
                libc: some_list(&f.libc),
                has_install_script: f.install_script,
            },
        );
    }
    let lock = PackageLock {
        name: root_name(artifact),
        version: "0.0.0",
        lockfile_version: 3,
        requires: true,
        packages,
    };
    let mut text = serde_json::to_string_pretty(&lock).expect("JSON serializes");
    text.push('\n');
    text
}

/// bun's text lock (`bun.lock`, lockfile version 2 as bun 1.3+ writes it). Keys are
/// tree paths without `node_modules/` (`parent/child`); each entry is `[name@version,
/// tarball URL, metadata, integrity]`. Like [`package_lock`], one file for every
/// platform.
pub fn bun_lock(artifact: &Artifact, facts: &Facts, platform: &str) -> String {
    debug_assert!(
        covers(artifact, platform),
        "artifact `{}` is not locked for {platform}",
        artifact.name
    );
    let empty = NpmFacts::default();
    let mut out = String::new();
    out.push_str(
        "{\n  \"lockfileVersion\": 2,\n  \"configVersion\": 1,\n  \"workspaces\": {\n    \"\": {\n",
    );
    let _ = writeln!(out, "      \"name\": {},", quote(&root_name(artifact)));
    if let Some(top) = top(artifact) {
        out.push_str("      \"dependencies\": {\n");
        let _ = writeln!(
            out,
            "        {}: {},",
            quote(artifact_folder(artifact)),
            quote(&top.version)
        );
        out.push_str("      },\n");
    }
    out.push_str("    },\n  },\n");
    let trusted = trusted(artifact, facts);
    if !trusted.is_empty() {
        out.push_str("  \"trustedDependencies\": [\n");
        for name in &trusted {
            let _ = writeln!(out, "    {},", quote(name));
        }
        out.push_str("  ],\n");
    }
    out.push_str("  \"packages\": {\n");
    let mut keyed: Vec<(usize, String, &str, &Package)> = locations(artifact)
        .into_iter()
        .map(|(location, package)| {
            let key = location
                .split("/node_modules/")
                .map(|part| part.trim_start_matches("node_modules/"))
                .collect::<Vec<_>>()
                .join("/");
            (
                location.matches("node_modules/").count(),
                key,
                location,
                package,
            )
        })
        .collect();
    keyed.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    for (i, (_, key, location, package)) in keyed.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let f = facts.get(location).unwrap_or(&empty);
        let _ = writeln!(
            out,
            "    {}: [{}, {}, {}, {}],",
            quote(&key),
            quote(&format!("{}@{}", package.name, package.version)),
            quote(package.urls.first().map(|url| url.as_str()).unwrap_or("")),
            bun_meta(f),
            quote(&package.hash.to_sri())
        );
    }
    out.push_str("  }\n}\n");
    out
}

/// The metadata object of a `bun.lock` entry, in bun's field order.
fn bun_meta(f: &NpmFacts) -> String {
    fn map<K: AsRef<str>, V: AsRef<str>>(m: &BTreeMap<K, V>) -> String {
        let inner: Vec<String> = m
            .iter()
            .map(|(k, v)| format!("{}: {}", quote(k.as_ref()), quote(v.as_ref())))
            .collect();
        format!("{{ {} }}", inner.join(", "))
    }
    let list = |l: &[Token]| match l {
        [one] => quote(one),
        many => format!(
            "[ {}, ]",
            many.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ")
        ),
    };
    let mut fields: Vec<String> = Vec::new();
    if !f.dependencies.is_empty() {
        fields.push(format!("\"dependencies\": {}", map(&f.dependencies)));
    }
    if !f.optional_dependencies.is_empty() {
        fields.push(format!(
            "\"optionalDependencies\": {}",
            map(&f.optional_dependencies)
        ));
    }
    if !f.peer_dependencies.is_empty() {
        fields.push(format!(
            "\"peerDependencies\": {}",
            map(&f.peer_dependencies)
        ));
    }
    if !f.optional_peers.is_empty() {
        let peers: Vec<String> = f.optional_peers.iter().map(|p| quote(p)).collect();
        fields.push(format!("\"optionalPeers\": [{}]", peers.join(", ")));
    }
    if !f.os.is_empty() {
        fields.push(format!("\"os\": {}", list(&f.os)));
    }
    if !f.cpu.is_empty() {
        fields.push(format!("\"cpu\": {}", list(&f.cpu)));
    }
    if !f.libc.is_empty() {
        fields.push(format!("\"libc\": {}", list(&f.libc)));
    }
    if f.install_script {
        fields.push("\"hasInstallScript\": true".into());
    }
    if !f.bin.is_empty() {
        fields.push(format!("\"bin\": {}", map(&f.bin)));
    }
    if fields.is_empty() {
        "{}".into()
    } else {
        format!("{{ {} }}", fields.join(", "))
    }
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialize")
}

/// What a platform's installed tree must contain, one `path name@version` line per
/// package, sorted: the build compares it with the output of [`TREE_JS`].
pub fn expected_tree(artifact: &Artifact, platform: &str) -> String {
    let mut lines: Vec<String> = artifact
        .packages
        .iter()
        .filter(|p| p.platform == ALL_PLATFORMS || p.platform == platform)
        .filter_map(|p| {
            p.path
                .as_ref()
                .map(|path| format!("{path} {}@{}\n", p.name, p.version))
        })
        .collect();
    lines.sort();
    lines.dedup();
    lines.concat()
}

/// What a platform's installed tree must contain regardless of layout, one
/// `name@version` line per installed copy, sorted. bun takes every resolution from
/// `bun.lock` but hoists by its own rules, so its tree is compared by this (the second
/// column of [`TREE_JS`]'s output, sorted).
pub fn expected_packages(artifact: &Artifact, platform: &str) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let mut lines: Vec<String> = Vec::new();
    for p in &artifact.packages {
        let on = p.platform == ALL_PLATFORMS || p.platform == platform;
        if on && p.path.is_some() && seen.insert(p.path.clone()) {
            lines.push(format!("{}@{}\n", p.name, p.version));
        }
    }
    lines.sort();
    lines.concat()
}

/// The lock-file facts of an artifact's members, by tree location (stored in the lock
/// with each member so emit needs no network).
pub fn facts(artifact: &Artifact) -> Facts {
    artifact
        .packages
        .iter()
        .filter_map(|p| Some((p.path.as_ref()?.to_string(), p.npm.clone()?)))
        .collect()
}

/// One npm or bun global CLI of a stage, with who installs it and with what.
pub(super) struct Global<'a> {
    pub artifact: &'a Artifact,
    pub installer: Installer,
    pub user: String,
    /// Where node/npm or bun live, relative to the user's home.
    pub runtime: String,
}

impl Global<'_> {
    /// Its directory under `installation/stage-N/npm/` and `~/.modelbench/npm-global/`.
    pub fn dir_name(&self) -> String {
        crate::resolve::npm::dir_name(&self.artifact.name)
    }

    /// The CLI's commands: the `bin` links of the requested package.
    pub fn commands(&self) -> Vec<String> {
        top(self.artifact)
            .and_then(|p| p.npm.as_ref())
            .map(|f| f.bin.keys().map(ToString::to_string).collect())
            .unwrap_or_default()
    }
}

/// Who installs a stage's globals of `installer`: the user of its tool (node for npm, bun
/// for bun), in this stage or in stage 1 (the spec checks one of them has it).
fn installing_user(spec: &Spec, stage: &Stage, installer: Installer) -> String {
    let tool = match installer {
        Installer::Npm => "node",
        Installer::Bun => "bun",
    };
    stage
        .tools
        .get(tool)
        .or_else(|| spec.stage_1.tools.get(tool))
        .map(|t| t.user.get_ref().clone())
        .unwrap_or_default()
}

fn stage_globals(stage: &Stage) -> [(Installer, Vec<&String>); 2] {
    [
        (Installer::Npm, stage.npm_global.keys().collect()),
        (Installer::Bun, stage.bun_global.keys().collect()),
    ]
}

/// The stage's globals (`npm_globals`, sorted by package), with who installs each and
/// with what. An npm global runs on the node of its stage or of stage 1 (`installs`).
pub(super) fn globals<'a>(
    spec: &Spec,
    stage: &Stage,
    npm_globals: &[&'a Artifact],
    installs: &Installs<'a>,
) -> Vec<Global<'a>> {
    npm_globals
        .iter()
        .map(|&artifact| {
            let installer = if stage.bun_global.contains_key(artifact.name.as_str()) {
                Installer::Bun
            } else {
                Installer::Npm
            };
            let runtime = match installer {
                Installer::Npm => format!(
                    ".nvm/versions/node/{}/bin",
                    installs
                        .tool_artifact("node")
                        .expect("the spec asks for node with npm globals")
                        .version
                ),
                Installer::Bun => ".bun/bin".to_string(),
            };
            Global {
                artifact,
                installer,
                user: installing_user(spec, stage, installer),
                runtime,
            }
        })
        .collect()
}

/// The users of a stage who get global CLIs (their `~/.modelbench/bin` goes on PATH).
pub(super) fn global_users(spec: &Spec, stage: &Stage) -> Vec<String> {
    let mut users: Vec<String> = stage_globals(stage)
        .into_iter()
        .filter(|(_, packages)| !packages.is_empty())
        .map(|(installer, _)| installing_user(spec, stage, installer))
        .collect();
    users.sort();
    users.dedup();
    users
}

/// The install files of each global of a stage, under `installation/stage-N/npm/`.
pub(super) fn add_stage(
    spec: &Spec,
    stage_number: u8,
    stage: &Stage,
    npm_globals: &[&Artifact],
    installs: &Installs,
    emitted: &mut super::Emitted,
) -> Result<(), super::EmitError> {
    let mirror = spec.mirrors.npm.as_deref().map(|m| m.trim_end_matches('/'));
    for global in globals(spec, stage, npm_globals, installs) {
        let artifact = global.artifact;
        let facts = facts(artifact);
        let dir = format!(
            "installation/stage-{stage_number}/npm/{}",
            global.dir_name()
        );
        check_tree(artifact).map_err(unsafe_in(&dir))?;
        let platforms = spec.image.platform_names();
        let any_platform = platforms.first().map(String::as_str).unwrap_or_default();
        emitted.add(
            &format!("{dir}/package.json"),
            package_json(artifact, &facts, global.installer),
            false,
        )?;
        match global.installer {
            Installer::Npm => {
                emitted.add(
                    &format!("{dir}/package-lock.json"),
                    package_lock(artifact, &facts, any_platform),
                    false,
                )?;
                if let Some(mirror) = mirror {
                    // npm swaps registry.npmjs.org in `resolved` for the configured registry.
                    let npmrc = format!("{dir}/.npmrc");
                    let mirror = quote::field(mirror).map_err(unsafe_in(&npmrc))?;
                    emitted.add(&npmrc, format!("registry={mirror}/\n"), false)?;
                }
            }
            Installer::Bun => {
                emitted.add(
                    &format!("{dir}/bun.lock"),
                    bun_lock(artifact, &facts, any_platform),
                    false,
                )?;
                if let Some(mirror) = mirror {
                    emitted.add(
                        &format!("{dir}/bunfig.toml"),
                        format!(
                            "[install]\nregistry = {}\n",
                            quote::toml_string(&format!("{mirror}/"))
                        ),
                        false,
                    )?;
                }
            }
        }
        for platform in &platforms {
            let expected = match global.installer {
                Installer::Npm => expected_tree(artifact, platform),
                Installer::Bun => expected_packages(artifact, platform),
            };
            emitted.add(
                &format!("{dir}/expected-{}.txt", platform.replace('/', "-")),
                expected,
                false,
            )?;
        }
        // npm runs every install script unless told not to; a failing one of an optional
        // package (a native add-on built from source, as gemini-cli's node-pty) makes npm
        // drop the package, so the tree would depend on the build machine's compilers.
        // The build installs with scripts off, then runs these packages' scripts only (the
        // same set bun trusts).
        let mut trusted = trusted(artifact, &facts).join("\n");
        if !trusted.is_empty() {
            trusted.push('\n');
        }
        emitted.add(&format!("{dir}/trusted.txt"), trusted, false)?;
        let mut commands = global.commands().join("\n");
        if !commands.is_empty() {
            commands.push('\n');
        }
        emitted.add(&format!("{dir}/bins.txt"), commands, false)?;
    }
    Ok(())
}

/// Refuse a tree the install files could not hold as data: every location a relative
/// path of plain names under `node_modules`, every name, version and command one line
/// (`expected-*.txt`, `trusted.txt` and `bins.txt` are read a line at a time), every
/// command a file name (the build links `~/.modelbench/bin/<command>`).
fn check_tree(artifact: &Artifact) -> Result<(), UnsafeValue> {
    for package in &artifact.packages {
        quote::field(&package.name)?;
        quote::field(&package.version)?;
        if let Some(location) = &package.path {
            quote::relative_path(location)?;
            if !location.starts_with("node_modules/") {
                return Err(UnsafeValue {
                    value: location.to_string(),
                    reason: "is not a location under `node_modules/`",
                });
            }
        }
        if let Some(facts) = &package.npm {
            for command in facts.bin.keys() {
                quote::component(command)?;
            }
        }
    }
    Ok(())
}

/// The Dockerfile steps installing a stage's globals (after its tools).
pub(super) fn install_steps(
    spec: &Spec,
    stage_number: u8,
    stage: &Stage,
    npm_globals: &[&Artifact],
    installs: &Installs,
) -> Result<String, UnsafeValue> {
    let mut out = String::new();
    for global in globals(spec, stage, npm_globals, installs) {
        let artifact = global.artifact;
        let members = locations(artifact)
            .values()
            .filter(|p| p.platform != NO_PLATFORM)
            .count();
        let (installer, check) = match global.installer {
            Installer::Npm => ("npm", "npm ci"),
            Installer::Bun => ("bun", "bun install --frozen-lockfile"),
        };
        out.push('\n');
        out.push_str(&quote::comment(&format!(
            "{installer} global {} {} for {}: {members} packages, each checked against its locked sha512 by {check}",
            artifact.name, artifact.version, global.user,
        )));
        out.push_str(&quote::run(&[vec![
            "sh",
            &format!("{INSTALL}/install-npm-global.sh"),
            &format!("{INSTALL}/stage-{stage_number}/npm/{}", global.dir_name()),
            installer,
            &global.user,
            &global.runtime,
        ]])?);
    }
    Ok(out)
}

/// Self-check lines: each global's commands are on its user's PATH in a login shell.
pub(super) fn self_check_lines(
    spec: &Spec,
    stage: &Stage,
    npm_globals: &[&Artifact],
    installs: &Installs,
) -> Result<String, UnsafeValue> {
    let mut out = String::new();
    for global in globals(spec, stage, npm_globals, installs) {
        for command in global.commands() {
            let check = quote::command(&[
                "check_command",
                &global.user,
                &command,
                &global.artifact.name,
            ])?;
            let _ = writeln!(out, "{check}");
        }
    }
    Ok(out)
}
