//! `modelbench why NAME [SPEC] [--lock PATH] [--json]`: why something is in the lock.
//!
//! NAME is an artifact (`clash-rs`, `node`, `base`) or a closure member (a `.deb`, an npm
//! package, a conda package). For each match `why` names the spec entry that asked for it
//! (stage, table and key, with the spec's line), and for closure members prints the inverted
//! dependency tree up to the members the spec asked for, as `cargo tree -i` and `npm explain`
//! do. Nothing is fetched: spec and lock are all it reads.
//!
//! # `--json` (schema version 1)
//!
//! ```text
//! { "schema": "modelbench-why/1", "name": NAME, "lock": PATH, "spec": PATH,
//!   "matches": [ {
//!     "kind": "github-release" | "oci" | "nodejs" | "url" | "apt" | "npm" | "conda" | …,
//!     "artifact": the lock artifact's name,
//!     "name": the artifact's or the member's name,
//!     "member": false for the artifact itself, true for a closure member,
//!     "version": the pinned version,
//!     "digest": OCI index digest (oci only),
//!     "platforms": platforms this match covers ("all" for platform-independent),
//!     "requested": true when a spec entry names it directly,
//!     "origins": [ { "stage": "stage-2" | null, "table": "stage-2.release.clash-rs",
//!                    "key": "version", "value": "\"latest\"", "line": 31 | null,
//!                    "note": text | null } ],
//!     "required_by": [names],            // closure members only: direct dependents
//!     "paths": [ [ {"name", "version"}, … ] ],  // member first, a requested member last
//!     "truncated": bool,                 // more paths exist than listed
//!     "roots": [ {"name", "version", "origins": [...]} ]  // the requested path ends
//!     "archive": { "uris", "suites", "from" }  // apt members, when the lock records
//!                                            // archives ("spec" or "base image <file>")
//!   } ] }
//! ```
//!
//! Exit codes: 0 when NAME was found, 1 when it is in neither the lock nor its closures.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{Result, bail};
use clap::Args;
use serde::Serialize;

use crate::lock::{ALL_PLATFORMS, Artifact, Kind, Lock, Package};
use crate::spec::{Spec, Stage, line_column, toml_key, toml_quote};
use crate::workspace::load_inputs;

/// At most this many dependency paths per match in `--json`.
const MAX_PATHS: usize = 64;
/// An upper bound on path search steps, so a dense closure cannot stall `why`.
const MAX_STEPS: usize = 200_000;

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The artifact or closure member to explain (`clash-rs`, `node`, `libc6`).
    pub name: String,
    #[command(flatten)]
    pub spec: crate::workspace::SpecArgs,
    /// Print a JSON document instead of text (see `modelbench why --help` and src/why.rs).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: WhyArgs) -> Result<()> {
    let inputs = load_inputs(&args.spec)?;
    if let Some(outdated) = inputs.lock.format_outdated(&inputs.lock_path) {
        bail!(outdated);
    }
    let spec_display = inputs.spec.path.display().to_string();
    let report = explain(
        &inputs.spec.spec,
        &inputs.spec_text,
        &spec_display,
        &inputs.lock,
        &args.name,
    );
    if report.matches.is_empty() {
        let names: BTreeSet<&str> = inputs
            .lock
            .artifacts
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        bail!(
            "`{}` is not in the lock {} (neither an artifact nor a closure member); its artifacts are: {}",
            args.name,
            inputs.lock_path.display(),
            names.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    if args.json {
        let document = JsonReport {
            schema: "modelbench-why/1",
            name: &args.name,
            lock: inputs.lock_path.display().to_string(),
            spec: spec_display,
            matches: &report.matches,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&document).expect("reports serialize")
        );
    } else {
        print!("{}", render(&report, &spec_display));
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonReport<'a> {
    schema: &'static str,
    name: &'a str,
    lock: String,
    spec: String,
    matches: &'a [Match],
}

/// Everything `why` found for a name.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub matches: Vec<Match>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Match {
    pub kind: String,
    pub artifact: String,
    /// The artifact's name, or the closure member's.
    pub name: String,
    pub member: bool,
    pub version: String,
    /// OCI: the index digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub platforms: Vec<String>,
    pub requested: bool,
    pub origins: Vec<Origin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_by: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<Vec<PathStep>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    /// Closure members only: the requested members the paths end at, with their spec entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roots: Option<Vec<Root>>,
    /// The inverted dependency tree, as text (closure members only).
    #[serde(skip)]
    pub tree: Option<String>,
    /// apt members, when the lock records the archives: the one the `.deb` comes from
    /// and where that archive was named (`spec`, or the base image's file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveOrigin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveOrigin {
    pub uris: Vec<String>,
    pub suites: Vec<String>,
    pub from: String,
}

/// The recorded archive a member's first URL points into, for its platform.
fn archive_of(artifact: &Artifact, package: &Package, platform: &str) -> Option<ArchiveOrigin> {
    let url = package.urls.first()?;
    artifact
        .archives
        .iter()
        .filter(|a| a.platforms.iter().any(|p| p == platform))
        .find(|a| {
            a.uris
                .iter()
                .any(|uri| url.starts_with(&format!("{}/", uri.trim_end_matches('/'))))
        })
        .map(|a| ArchiveOrigin {
            uris: a.uris.clone(),
            suites: a.suites.clone(),
            from: a.from.clone(),
        })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Root {
    pub name: String,
    pub version: String,
    pub origins: Vec<Origin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathStep {
    pub name: String,
    pub version: String,
}

/// A spec entry that asks for an artifact or a member: `[stage-2.release.clash-rs] version = "latest"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub stage: Option<String>,
    pub table: String,
    pub key: String,
    pub value: String,
    pub line: Option<usize>,
    pub note: Option<String>,
}

impl Origin {
    fn new(stage: Option<&str>, table: &str, key: &str, value: String) -> Origin {
        Origin {
            stage: stage.map(str::to_string),
            table: table.to_string(),
            key: key.to_string(),
            value,
            line: None,
            note: None,
        }
    }

    fn at(mut self, text: &str, span: std::ops::Range<usize>) -> Origin {
        self.line = Some(line_column(text, span.start).0);
        self
    }

    fn note(mut self, note: impl Into<String>) -> Origin {
        self.note = Some(note.into());
        self
    }

    /// A spec entry's origin, with the line of its value in `text`.
    fn from_spec_entry(origin: &crate::resolve::Origin, text: &str) -> Origin {
        Origin {
            stage: origin.stage.map(str::to_string),
            table: origin.table.clone(),
            key: origin.key.clone(),
            value: origin.value.clone(),
            line: origin
                .span
                .as_ref()
                .map(|span| line_column(text, span.start).0),
            note: origin.note.clone(),
        }
    }

    /// `[table] key = value` (`[table]` alone for a bare key path).
    pub fn entry(&self) -> String {
        if self.key.is_empty() {
            return format!("[{}]", self.table);
        }
        format!("[{}] {} = {}", self.table, self.key, self.value)
    }
}

fn stages(spec: &Spec) -> [(&'static str, &Stage); 2] {
    [("stage-1", &spec.stage_1), ("stage-2", &spec.stage_2)]
}

/// The spec entry that asks for `artifact`: the one at the lock's `origin` key path, read
/// from the spec at that path ([`crate::resolve::origin_at`]; nothing is planned). An entry
/// the spec no longer has there shows the lock's path alone.
pub fn artifact_origins(spec: &Spec, text: &str, artifact: &Artifact) -> Vec<Origin> {
    let Some(path) = &artifact.origin else {
        return Vec::new();
    };
    let origin = match crate::resolve::origin_at(spec, path, artifact.kind, &artifact.name) {
        Some(origin) => Origin::from_spec_entry(&origin, text),
        None => Origin {
            stage: None,
            table: path.to_string(),
            key: String::new(),
            value: String::new(),
            line: None,
            note: Some(
                "where it was locked from; the spec no longer asks for it there".to_string(),
            ),
        },
    };
    vec![origin]
}

/// The spec entries that name closure member `member` of artifact `artifact` directly.
pub fn member_origins(spec: &Spec, text: &str, artifact: &Artifact, member: &str) -> Vec<Origin> {
    let mut origins = Vec::new();
    for (stage_name, stage) in stages(spec) {
        match artifact.kind {
            Kind::Apt => {
                for entry in &stage.apt {
                    let named = entry
                        .get_ref()
                        .split('|')
                        .any(|alternative| alternative.trim() == member);
                    if named {
                        origins.push(
                            Origin::new(
                                Some(stage_name),
                                stage_name,
                                "apt",
                                toml_quote(entry.get_ref()),
                            )
                            .at(text, entry.span()),
                        );
                    }
                }
            }
            Kind::Conda => {
                for tool in &stage.pixi_global {
                    if tool.get_ref() == member
                        || crate::resolve::conda_tool_name(tool.get_ref()) == artifact.name
                    {
                        origins.push(
                            Origin::new(
                                Some(stage_name),
                                stage_name,
                                "pixi-global",
                                toml_quote(tool.get_ref()),
                            )
                            .at(text, tool.span()),
                        );
                    }
                }
            }
            // npm-global and bun-global CLIs share the npm kind.
            Kind::Npm => {
                for (map_name, map) in [
                    ("npm-global", &stage.npm_global),
                    ("bun-global", &stage.bun_global),
                ] {
                    for candidate in [member, artifact.name.as_str()] {
                        if let Some(range) = map.get(candidate) {
                            origins.push(
                                Origin::new(
                                    Some(stage_name),
                                    stage_name,
                                    &format!("{map_name}.{}", toml_key(candidate)),
                                    toml_quote(range.get_ref()),
                                )
                                .at(text, range.span()),
                            );
                            break;
                        }
                    }
                }
            }
            // Not closures: they have no members to explain.
            Kind::Oci | Kind::GithubRelease | Kind::Nodejs | Kind::Url | Kind::Git => {}
        }
    }
    let ssh = spec.ssh.as_ref().filter(|s| s.enable);
    if let Some(ssh) = ssh.filter(|_| artifact.kind == Kind::Apt && member == "openssh-server") {
        origins.push(
            Origin::new(None, "ssh", "enable", ssh.enable.to_string())
                .note("the SSH server the spec turns on"),
        );
    }
    origins.dedup();
    origins
}

/// Find `name` among the lock's artifacts and closure members.
pub fn explain(spec: &Spec, text: &str, spec_path: &str, lock: &Lock, name: &str) -> Report {
    let mut matches = Vec::new();
    for artifact in &lock.artifacts {
        if artifact.name == name {
            let mut platforms: Vec<String> =
                artifact.platform.keys().map(ToString::to_string).collect();
            if platforms.is_empty() {
                platforms = spec.image.platform_names();
            }
            let origins = artifact_origins(spec, text, artifact);
            matches.push(Match {
                kind: artifact.kind.to_string(),
                artifact: artifact.name.to_string(),
                name: artifact.name.to_string(),
                member: false,
                version: artifact.version.to_string(),
                digest: artifact.digest.as_ref().map(ToString::to_string),
                platforms,
                requested: !origins.is_empty(),
                origins,
                required_by: None,
                paths: None,
                truncated: None,
                roots: None,
                tree: None,
                archive: None,
            });
        }
        matches.extend(member_matches(spec, text, spec_path, artifact, name));
    }
    Report { matches }
}

/// One graph per platform: the members of that platform and the platform-independent ones.
fn platform_graphs(artifact: &Artifact) -> Vec<(String, Vec<usize>)> {
    let platforms: BTreeSet<&str> = artifact
        .packages
        .iter()
        .map(|p| p.platform.as_str())
        .collect();
    let specific: Vec<&str> = platforms
        .iter()
        .copied()
        .filter(|p| *p != ALL_PLATFORMS)
        .collect();
    let keys: Vec<&str> = if specific.is_empty() {
        vec![ALL_PLATFORMS]
    } else {
        specific
    };
    keys.into_iter()
        .map(|platform| {
            let members = artifact
                .packages
                .iter()
                .enumerate()
                .filter(|(_, p)| p.platform == platform || p.platform == ALL_PLATFORMS)
                .map(|(i, _)| i)
                .collect();
            (platform.to_string(), members)
        })
        .collect()
}

/// The state of one `cargo tree -i` rendering.
struct TreeWalk<'w> {
    start: usize,
    spec_path: &'w str,
    origin_of: &'w dyn Fn(usize) -> Vec<Origin>,
    /// Members printed in full already (later occurrences get `(*)`).
    expanded: BTreeSet<usize>,
    on_path: Vec<usize>,
}

/// A platform's closure as a graph: for each member, the members that depend on it.
struct Graph<'a> {
    packages: &'a [Package],
    dependents: BTreeMap<usize, Vec<usize>>,
}

impl<'a> Graph<'a> {
    fn new(artifact: &'a Artifact, members: &[usize]) -> Graph<'a> {
        let packages = &artifact.packages;
        let mut dependents = BTreeMap::new();
        for &i in members {
            let mut up = Vec::new();
            for by in &packages[i].required_by {
                let by_path: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&j| packages[j].path.as_deref() == Some(by.as_str()))
                    .collect();
                let found = if by_path.is_empty() {
                    members
                        .iter()
                        .copied()
                        .filter(|&j| packages[j].name.as_str() == by.as_str())
                        .collect()
                } else {
                    by_path
                };
                up.extend(found);
            }
            up.sort_by(|&a, &b| {
                (&packages[a].name, &packages[a].version)
                    .cmp(&(&packages[b].name, &packages[b].version))
            });
            up.dedup();
            dependents.insert(i, up);
        }
        Graph {
            packages,
            dependents,
        }
    }

    fn label(&self, i: usize) -> String {
        let p = &self.packages[i];
        format!("{} {}", p.name, p.version)
    }

    /// `cargo tree -i`: each member once in full, `(*)` where it repeats, stopping at
    /// members the spec asked for (other than the start).
    fn tree(
        &self,
        start: usize,
        spec_path: &str,
        origin_of: &dyn Fn(usize) -> Vec<Origin>,
    ) -> String {
        let mut out = String::new();
        let mut walk = TreeWalk {
            start,
            spec_path,
            origin_of,
            expanded: BTreeSet::new(),
            on_path: Vec::new(),
        };
        self.tree_node(start, "", None, &mut walk, &mut out);
        out
    }

    fn tree_node(
        &self,
        node: usize,
        prefix: &str,
        last: Option<bool>,
        walk: &mut TreeWalk,
        out: &mut String,
    ) {
        let (branch, child_prefix) = match last {
            None => (String::new(), String::new()),
            Some(true) => (format!("{prefix}└── "), format!("{prefix}    ")),
            Some(false) => (format!("{prefix}├── "), format!("{prefix}│   ")),
        };
        let mut line = format!("{branch}{}", self.label(node));
        let requested = self.packages[node].requested;
        if requested {
            let origins = (walk.origin_of)(node);
            match origins.first() {
                Some(origin) => {
                    let _ = write!(line, " ← {}", origin.entry());
                    if let Some(line_no) = origin.line {
                        let _ = write!(line, " ({}:{line_no})", walk.spec_path);
                    }
                }
                None => line.push_str(" ← requested"),
            }
        }
        if walk.on_path.contains(&node) {
            line.push_str(" (cycle)");
            let _ = writeln!(out, "{line}");
            return;
        }
        let stop = requested && node != walk.start;
        let dependents = self.dependents.get(&node).cloned().unwrap_or_default();
        if !stop && !dependents.is_empty() && !walk.expanded.insert(node) {
            line.push_str(" (*)");
            let _ = writeln!(out, "{line}");
            return;
        }
        let _ = writeln!(out, "{line}");
        if stop {
            return;
        }
        walk.on_path.push(node);
        let count = dependents.len();
        for (k, &up) in dependents.iter().enumerate() {
            self.tree_node(up, &child_prefix, Some(k + 1 == count), walk, out);
        }
        walk.on_path.pop();
    }

    /// Simple paths from `start` up to requested members, shortest first, at most
    /// [`MAX_PATHS`]; the flag says whether more were left out.
    fn paths(&self, start: usize) -> (Vec<Vec<usize>>, bool) {
        let mut paths = Vec::new();
        let mut truncated = false;
        let mut steps = 0usize;
        let mut stack = vec![start];
        self.walk(
            start,
            start,
            &mut stack,
            &mut paths,
            &mut truncated,
            &mut steps,
        );
        paths.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        (paths, truncated)
    }

    fn walk(
        &self,
        node: usize,
        start: usize,
        stack: &mut Vec<usize>,
        paths: &mut Vec<Vec<usize>>,
        truncated: &mut bool,
        steps: &mut usize,
    ) {
        *steps += 1;
        if *steps > MAX_STEPS {
            *truncated = true;
            return;
        }
        if self.packages[node].requested {
            if paths.len() >= MAX_PATHS {
                *truncated = true;
                return;
            }
            paths.push(stack.clone());
            if node != start {
                return;
            }
        }
        for &up in self.dependents.get(&node).map(Vec::as_slice).unwrap_or(&[]) {
            if stack.contains(&up) {
                continue;
            }
            stack.push(up);
            self.walk(up, start, stack, paths, truncated, steps);
            stack.pop();
        }
    }
}

fn member_matches(
    spec: &Spec,
    text: &str,
    spec_path: &str,
    artifact: &Artifact,
    name: &str,
) -> Vec<Match> {
    if !artifact.packages.iter().any(|p| p.name == name) {
        return Vec::new();
    }
    // Render per platform, then merge platforms whose answer is the same.
    let mut merged: Vec<Match> = Vec::new();
    for (platform, members) in platform_graphs(artifact) {
        let graph = Graph::new(artifact, &members);
        for &start in members
            .iter()
            .filter(|&&i| artifact.packages[i].name == name)
        {
            let package = &artifact.packages[start];
            let origin_of =
                |i: usize| member_origins(spec, text, artifact, &graph.packages[i].name);
            let tree = graph.tree(start, spec_path, &origin_of);
            let (paths, truncated) = graph.paths(start);
            let mut ends: Vec<usize> = paths.iter().filter_map(|p| p.last().copied()).collect();
            ends.sort_by(|&a, &b| {
                (&graph.packages[a].name, &graph.packages[a].version)
                    .cmp(&(&graph.packages[b].name, &graph.packages[b].version))
            });
            ends.dedup();
            let roots: Vec<Root> = ends
                .into_iter()
                .map(|i| Root {
                    name: graph.packages[i].name.to_string(),
                    version: graph.packages[i].version.to_string(),
                    origins: origin_of(i),
                })
                .collect();
            let paths: Vec<Vec<PathStep>> = paths
                .iter()
                .map(|path| {
                    path.iter()
                        .map(|&i| PathStep {
                            name: graph.packages[i].name.to_string(),
                            version: graph.packages[i].version.to_string(),
                        })
                        .collect()
                })
                .collect();
            let mut origins = Vec::new();
            if package.requested {
                origins = origin_of(start);
            }
            let candidate = Match {
                kind: artifact.kind.to_string(),
                artifact: artifact.name.to_string(),
                name: package.name.to_string(),
                member: true,
                version: package.version.to_string(),
                digest: None,
                platforms: vec![platform.clone()],
                requested: package.requested,
                origins,
                required_by: Some(
                    package
                        .required_by
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                ),
                paths: Some(paths),
                truncated: Some(truncated),
                roots: Some(roots),
                tree: Some(tree),
                archive: archive_of(artifact, package, &platform),
            };
            let same = merged.iter_mut().find(|m| {
                m.version == candidate.version
                    && m.tree == candidate.tree
                    && m.paths == candidate.paths
                    && m.origins == candidate.origins
                    && m.archive == candidate.archive
            });
            match same {
                Some(existing) => existing.platforms.push(platform.clone()),
                None => merged.push(candidate),
            }
        }
    }
    merged
}

/// The human-readable report.
pub fn render(report: &Report, spec_path: &str) -> String {
    let mut out = String::new();
    for (i, m) in report.matches.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let platforms = m.platforms.join(", ");
        if m.member {
            let _ = writeln!(
                out,
                "{} {} ({platforms}), in {} `{}`",
                m.name, m.version, m.kind, m.artifact
            );
        } else {
            let _ = write!(out, "{} `{}` {}", m.kind, m.artifact, m.version);
            if let Some(digest) = &m.digest {
                let _ = write!(out, " ({digest})");
            }
            out.push('\n');
        }
        if let Some(archive) = &m.archive {
            let _ = writeln!(
                out,
                "  from archive {} {} ({})",
                archive.uris.join(" "),
                archive.suites.join(" "),
                archive.from
            );
        }
        for origin in &m.origins {
            let mut line = format!("  requested by {}", origin.entry());
            if let Some(line_no) = origin.line {
                let _ = write!(line, " ({spec_path}:{line_no})");
            }
            if let Some(note) = &origin.note {
                let _ = write!(line, "; {note}");
            }
            let _ = writeln!(out, "{line}");
        }
        if m.origins.is_empty() && !m.member {
            let _ = writeln!(
                out,
                "  no entry of {spec_path} asks for it any more; `modelbench lock` drops it"
            );
        }
        if let Some(tree) = &m.tree {
            if !m.requested || m.required_by.as_ref().is_some_and(|r| !r.is_empty()) {
                out.push_str(if m.requested {
                    "  also required by:\n"
                } else {
                    "  required by:\n"
                });
                for line in tree.lines().skip(1) {
                    let _ = writeln!(out, "  {line}");
                }
            }
            if m.truncated == Some(true) {
                out.push_str("  (more paths than shown in --json)\n");
            }
        }
    }
    out
}
