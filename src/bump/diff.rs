//! What changed between two locks, for a reviewer: one row per changed artifact and
//! platform, a loud warning for every hash that moved without its version (an upstream
//! republish) and for every change of where bytes come from (a host the old lock never
//! used, a scheme change, a file renamed beyond its version), closures summarized with
//! their full list folded away.
//!
//! [`diff`] is a pure function of the two locks and both renderings are deterministic
//! (artifacts by kind and name, platforms and packages sorted, no clock), so a pull request
//! body made from it only changes when the locks do.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::lock::values::PlatformKey;
use crate::lock::{Artifact, Lock, Package, Pin};

/// How one artifact, platform pin or closure member changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Added,
    Removed,
    /// A new version (and with it new hashes).
    Updated,
    /// Same version, different bytes: upstream replaced what the version points to.
    Republished,
    /// Same version and bytes; something else moved (URLs, mirrors, the constraint).
    Changed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Updated => "updated",
            ChangeKind::Republished => "republished",
            ChangeKind::Changed => "changed",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Summary {
    pub added: usize,
    pub removed: usize,
    pub updated: usize,
    pub republished: usize,
    pub changed: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockDiff {
    pub summary: Summary,
    pub artifacts: Vec<ArtifactDiff>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ArtifactDiff {
    pub kind: String,
    pub name: String,
    pub change: ChangeKind,
    pub old_version: Option<String>,
    pub new_version: Option<String>,
    pub old_requested: Option<String>,
    pub new_requested: Option<String>,
    /// Upstream release dates, as the lock records them.
    pub old_published: Option<String>,
    pub new_published: Option<String>,
    /// OCI index digests.
    pub old_digest: Option<String>,
    pub new_digest: Option<String>,
    pub link: Option<Link>,
    pub platforms: Vec<PlatformDiff>,
    pub closure: Option<ClosureDiff>,
    /// Changes of where the bytes come from (empty for a first lock: nothing to compare).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub origin: Vec<OriginChange>,
}

/// A change of where an artifact's bytes come from. A lock edited in a pull request can
/// point a pin at another server with a recomputed hash: the reviewer must see it even
/// when the version moved too.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum OriginChange {
    /// A host that no URL of the old lock used.
    NewHost { host: String, url: String },
    /// A host the old lock reached only with another scheme (`https` → `http`).
    SchemeChanged {
        host: String,
        old: String,
        new: String,
    },
    /// A file name that changed by more than the version in it.
    FileRenamed {
        platform: String,
        old: String,
        new: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Link {
    /// `compare` (a GitHub compare page) or `release`.
    pub label: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlatformDiff {
    pub platform: String,
    pub change: ChangeKind,
    pub old_file: Option<String>,
    pub new_file: Option<String>,
    pub old_hash: Option<String>,
    pub new_hash: Option<String>,
    pub hash_changed: bool,
    pub old_size: Option<u64>,
    pub new_size: Option<u64>,
    pub size_delta: Option<i64>,
    pub urls_changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ClosureDiff {
    pub added: usize,
    pub removed: usize,
    /// New version or new bytes.
    pub changed: usize,
    /// Of `changed`: same version, new bytes.
    pub republished: usize,
    pub per_platform: Vec<ClosureCount>,
    /// The members the spec asked for, where they changed.
    pub requested: Vec<PackageDiff>,
    /// Every member that changed.
    pub packages: Vec<PackageDiff>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ClosureCount {
    pub platform: String,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PackageDiff {
    pub platform: String,
    pub name: String,
    pub path: Option<String>,
    pub change: ChangeKind,
    pub old_version: Option<String>,
    pub new_version: Option<String>,
    pub old_hash: Option<String>,
    pub new_hash: Option<String>,
    pub requested: bool,
}

impl LockDiff {
    pub fn is_empty(&self) -> bool {
        self.artifacts.is_empty()
    }

    /// The artifacts whose hashes moved without their version.
    pub fn republished(&self) -> impl Iterator<Item = &ArtifactDiff> {
        self.artifacts.iter().filter(|a| a.is_republish())
    }
}

impl ArtifactDiff {
    /// Same version, new bytes somewhere (a pin, the OCI index, a closure member).
    pub fn is_republish(&self) -> bool {
        self.change == ChangeKind::Republished
            || self
                .closure
                .as_ref()
                .is_some_and(|closure| closure.republished > 0)
    }
}

/// Compare two locks. `old` may be absent (everything is added).
pub fn diff(old: Option<&Lock>, new: &Lock) -> LockDiff {
    let empty = Vec::new();
    let old_artifacts = old.map_or(&empty, |l| &l.artifacts);
    let old_map: BTreeMap<_, _> = old_artifacts.iter().map(|a| (a.key(), a)).collect();
    let new_map: BTreeMap<_, _> = new.artifacts.iter().map(|a| (a.key(), a)).collect();
    let keys: BTreeSet<_> = old_map.keys().chain(new_map.keys()).cloned().collect();
    let mut artifacts = Vec::new();
    let mut summary = Summary::default();
    let old_origins = old.map(|lock| {
        let mut schemes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for artifact in &lock.artifacts {
            for url in artifact_urls(artifact) {
                if let Some((scheme, host)) = scheme_and_host(url) {
                    schemes.entry(host).or_default().insert(scheme);
                }
            }
        }
        schemes
    });
    for key in keys {
        let old = old_map.get(&key).copied();
        let new = new_map.get(&key).copied();
        if let Some(mut d) = artifact_diff(old, new) {
            if let (Some(schemes), Some(new)) = (&old_origins, new) {
                d.origin = origin_changes(schemes, old, new);
            }
            match d.change {
                ChangeKind::Added => summary.added += 1,
                ChangeKind::Removed => summary.removed += 1,
                ChangeKind::Updated => summary.updated += 1,
                ChangeKind::Republished => summary.republished += 1,
                ChangeKind::Changed if d.is_republish() => summary.republished += 1,
                ChangeKind::Changed => summary.changed += 1,
            }
            artifacts.push(d);
        }
    }
    LockDiff { summary, artifacts }
}

fn artifact_diff(old: Option<&Artifact>, new: Option<&Artifact>) -> Option<ArtifactDiff> {
    if old == new {
        return None;
    }
    let either = new.or(old).expect("one side exists");
    let same_version = matches!((old, new), (Some(o), Some(n)) if o.version == n.version);

    let platform_keys: BTreeSet<&PlatformKey> = old
        .map(|a| a.platform.keys().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(
            new.map(|a| a.platform.keys().collect::<Vec<_>>())
                .unwrap_or_default(),
        )
        .collect();
    let mut platforms = Vec::new();
    for platform in platform_keys {
        let old_pin = old.and_then(|a| a.platform.get(platform.as_str()));
        let new_pin = new.and_then(|a| a.platform.get(platform.as_str()));
        if let Some(d) = platform_diff(platform, old_pin, new_pin, same_version) {
            platforms.push(d);
        }
    }

    let old_digest = old.and_then(|a| a.digest.as_ref().map(ToString::to_string));
    let new_digest = new.and_then(|a| a.digest.as_ref().map(ToString::to_string));
    let closure = if old.is_some_and(|a| !a.packages.is_empty())
        || new.is_some_and(|a| !a.packages.is_empty())
    {
        Some(closure_diff(
            old.map_or(&[][..], |a| &a.packages),
            new.map_or(&[][..], |a| &a.packages),
        ))
    } else {
        None
    };

    let change = match (old, new) {
        (None, _) => ChangeKind::Added,
        (_, None) => ChangeKind::Removed,
        (Some(o), Some(n)) if o.version != n.version => ChangeKind::Updated,
        _ => {
            let digest_moved =
                old_digest.is_some() && new_digest.is_some() && old_digest != new_digest;
            if digest_moved
                || platforms
                    .iter()
                    .any(|p| p.change == ChangeKind::Republished)
            {
                ChangeKind::Republished
            } else {
                ChangeKind::Changed
            }
        }
    };

    Some(ArtifactDiff {
        kind: either.kind.to_string(),
        name: either.name.to_string(),
        change,
        old_version: old.map(|a| a.version.to_string()),
        new_version: new.map(|a| a.version.to_string()),
        old_requested: old.map(|a| a.requested.to_string()),
        new_requested: new.map(|a| a.requested.to_string()),
        old_published: old.and_then(|a| a.published.as_ref().map(ToString::to_string)),
        new_published: new.and_then(|a| a.published.as_ref().map(ToString::to_string)),
        old_digest,
        new_digest,
        link: link(old, new),
        platforms,
        closure,
        origin: Vec::new(),
    })
}

/// Every URL of an artifact: its platform pins' and its closure members'.
fn artifact_urls(artifact: &Artifact) -> impl Iterator<Item = &str> {
    let pins = artifact.platform.values().flat_map(|p| &p.urls);
    let members = artifact.packages.iter().flat_map(|p| &p.urls);
    pins.chain(members).map(|url| url.as_str())
}

/// `(scheme, host[:port])` of a URL; `None` for one that does not parse.
fn scheme_and_host(url: &str) -> Option<(String, String)> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str().unwrap_or_default();
    let host = match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    Some((parsed.scheme().to_string(), host))
}

/// What changed in where `new`'s bytes come from, against the old lock's hosts (host →
/// schemes it was reached with) and the artifact's old entry.
fn origin_changes(
    old_schemes: &BTreeMap<String, BTreeSet<String>>,
    old: Option<&Artifact>,
    new: &Artifact,
) -> Vec<OriginChange> {
    let mut changes = BTreeSet::new();
    for url in artifact_urls(new) {
        let Some((scheme, host)) = scheme_and_host(url) else {
            changes.insert(OriginChange::NewHost {
                host: "(not a URL)".into(),
                url: url.to_string(),
            });
            continue;
        };
        match old_schemes.get(&host) {
            None => {
                // One entry per host: the first URL names it.
                if !changes
                    .iter()
                    .any(|c| matches!(c, OriginChange::NewHost { host: h, .. } if *h == host))
                {
                    changes.insert(OriginChange::NewHost {
                        host,
                        url: url.to_string(),
                    });
                }
            }
            Some(schemes) if !schemes.contains(&scheme) => {
                let old = schemes.iter().cloned().collect::<Vec<_>>().join(", ");
                changes.insert(OriginChange::SchemeChanged {
                    host,
                    old,
                    new: scheme,
                });
            }
            Some(_) => {}
        }
    }
    if let Some(old) = old {
        for (platform, new_pin) in &new.platform {
            if let Some(old_pin) = old.platform.get(platform)
                && renamed(&old_pin.file, &old.version, &new_pin.file, &new.version)
            {
                changes.insert(OriginChange::FileRenamed {
                    platform: platform.to_string(),
                    old: old_pin.file.to_string(),
                    new: new_pin.file.to_string(),
                });
            }
        }
        let old_members: BTreeMap<PackageKey, &Package> =
            old.packages.iter().map(|p| (package_key(p), p)).collect();
        for member in &new.packages {
            if let Some(was) = old_members.get(&package_key(member))
                && renamed(&was.file, &was.version, &member.file, &member.version)
            {
                changes.insert(OriginChange::FileRenamed {
                    platform: member.platform.to_string(),
                    old: was.file.to_string(),
                    new: member.file.to_string(),
                });
            }
        }
    }
    changes.into_iter().collect()
}

/// Whether a file name changed by more than its version: `node-v22.11.0-linux-x64.tar.xz`
/// → `node-v22.12.0-linux-x64.tar.xz` is the version; `uv.tar.gz` → `uv-evil.tar.gz` is not.
fn renamed(old_file: &str, old_version: &str, new_file: &str, new_version: &str) -> bool {
    if old_file == new_file {
        return false;
    }
    let expected = if old_version.is_empty() {
        old_file.to_string()
    } else {
        old_file.replace(old_version, new_version)
    };
    expected != new_file
}

fn platform_diff(
    platform: &str,
    old: Option<&Pin>,
    new: Option<&Pin>,
    same_version: bool,
) -> Option<PlatformDiff> {
    if old == new {
        return None;
    }
    let hash_changed = old.map(|p| &p.hash) != new.map(|p| &p.hash);
    let change = match (old, new) {
        (None, _) => ChangeKind::Added,
        (_, None) => ChangeKind::Removed,
        _ if hash_changed && same_version => ChangeKind::Republished,
        _ if hash_changed => ChangeKind::Updated,
        _ => ChangeKind::Changed,
    };
    let old_size = old.and_then(|p| p.size);
    let new_size = new.and_then(|p| p.size);
    let size_delta = match (old_size, new_size) {
        (Some(a), Some(b)) => i64::try_from(b)
            .ok()
            .zip(i64::try_from(a).ok())
            .map(|(b, a)| b - a),
        _ => None,
    };
    Some(PlatformDiff {
        platform: platform.to_string(),
        change,
        old_file: old.map(|p| p.file.to_string()),
        new_file: new.map(|p| p.file.to_string()),
        old_hash: old.map(|p| p.hash.to_string()),
        new_hash: new.map(|p| p.hash.to_string()),
        hash_changed,
        old_size,
        new_size,
        size_delta,
        urls_changed: matches!((old, new), (Some(o), Some(n)) if o.urls != n.urls),
    })
}

type PackageKey = (String, String, String);

fn package_key(p: &Package) -> PackageKey {
    (
        p.platform.to_string(),
        p.name.to_string(),
        p.path.as_deref().unwrap_or_default().to_string(),
    )
}

fn closure_diff(old: &[Package], new: &[Package]) -> ClosureDiff {
    let old_map: BTreeMap<PackageKey, &Package> = old.iter().map(|p| (package_key(p), p)).collect();
    let new_map: BTreeMap<PackageKey, &Package> = new.iter().map(|p| (package_key(p), p)).collect();
    let keys: BTreeSet<&PackageKey> = old_map.keys().chain(new_map.keys()).collect();
    let mut packages = Vec::new();
    let mut counts: BTreeMap<String, ClosureCount> = BTreeMap::new();
    for key in keys {
        let o = old_map.get(key).copied();
        let n = new_map.get(key).copied();
        let change = match (o, n) {
            (None, Some(_)) => ChangeKind::Added,
            (Some(_), None) => ChangeKind::Removed,
            (Some(o), Some(n)) if o.version != n.version || o.build != n.build => {
                ChangeKind::Updated
            }
            (Some(o), Some(n)) if o.hash != n.hash => ChangeKind::Republished,
            _ => continue,
        };
        let count = counts.entry(key.0.clone()).or_insert_with(|| ClosureCount {
            platform: key.0.clone(),
            added: 0,
            removed: 0,
            changed: 0,
        });
        match change {
            ChangeKind::Added => count.added += 1,
            ChangeKind::Removed => count.removed += 1,
            _ => count.changed += 1,
        }
        let version = |p: &Package| match &p.build {
            Some(build) => format!("{}={build}", p.version),
            None => p.version.to_string(),
        };
        packages.push(PackageDiff {
            platform: key.0.clone(),
            name: key.1.clone(),
            path: n
                .or(o)
                .and_then(|p| p.path.as_ref().map(ToString::to_string)),
            change,
            old_version: o.map(version),
            new_version: n.map(version),
            old_hash: o.map(|p| p.hash.to_string()),
            new_hash: n.map(|p| p.hash.to_string()),
            requested: n.or(o).is_some_and(|p| p.requested),
        });
    }
    let count = |kind: &[ChangeKind]| packages.iter().filter(|p| kind.contains(&p.change)).count();
    ClosureDiff {
        added: count(&[ChangeKind::Added]),
        removed: count(&[ChangeKind::Removed]),
        changed: count(&[ChangeKind::Updated, ChangeKind::Republished]),
        republished: count(&[ChangeKind::Republished]),
        per_platform: counts.into_values().collect(),
        requested: packages.iter().filter(|p| p.requested).cloned().collect(),
        packages,
    }
}

/// A compare page for GitHub releases when both tags are known, else the release page.
fn link(old: Option<&Artifact>, new: Option<&Artifact>) -> Option<Link> {
    if let (Some(o), Some(n)) = (old, new)
        && o.version != n.version
        && let Some(repo) = n
            .release_url
            .as_deref()
            .or(o.release_url.as_deref())
            .and_then(github_repo_of_release)
    {
        return Some(Link {
            label: "compare".into(),
            url: format!(
                "https://github.com/{repo}/compare/{}...{}",
                o.version, n.version
            ),
        });
    }
    new.or(old)
        .and_then(|a| a.release_url.clone())
        .map(|url| Link {
            label: "release".into(),
            url: url.to_string(),
        })
}

/// `https://github.com/{owner}/{repo}/releases/tag/{tag}` → `owner/repo`.
fn github_repo_of_release(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://github.com/")?;
    let mut parts = rest.split('/');
    let owner = parts.next().filter(|s| !s.is_empty())?;
    let repo = parts.next().filter(|s| !s.is_empty())?;
    (parts.next() == Some("releases")).then(|| format!("{owner}/{repo}"))
}

// ---- rendering ----

/// Rendering choices for markdown.
#[derive(Debug, Clone, Copy)]
pub struct MarkdownOptions {
    /// Include the folded full list of closure members.
    pub full_lists: bool,
    /// Heading level of the sections (`###` = 3).
    pub heading: usize,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            full_lists: true,
            heading: 3,
        }
    }
}

pub fn to_json(diff: &LockDiff) -> String {
    let mut text = serde_json::to_string_pretty(diff).expect("a diff serializes");
    text.push('\n');
    text
}

pub fn to_markdown(diff: &LockDiff, options: MarkdownOptions) -> String {
    let h = "#".repeat(options.heading.clamp(1, 5));
    let mut out = String::new();
    if diff.is_empty() {
        out.push_str("No changes.\n");
        return out;
    }
    let _ = writeln!(out, "{}\n", summary_line(diff));

    let republished: Vec<&ArtifactDiff> = diff.republished().collect();
    if !republished.is_empty() {
        out.push_str("> [!WARNING]\n");
        out.push_str("> **Same version, new bytes: upstream republished.** These kept their version but their hashes changed. Find out why before merging:\n");
        for a in &republished {
            let _ = writeln!(out, "> - {}", republish_note(a));
        }
        out.push('\n');
    }

    let moved: Vec<&ArtifactDiff> = diff
        .artifacts
        .iter()
        .filter(|a| !a.origin.is_empty())
        .collect();
    if !moved.is_empty() {
        out.push_str("> [!CAUTION]\n");
        out.push_str("> **Where the bytes come from changed.** A new host, a scheme change or a renamed file: check each against its upstream before merging:\n");
        for a in &moved {
            for change in &a.origin {
                let _ = writeln!(
                    out,
                    "> - **{}** ({}): {}",
                    cell(&a.name),
                    cell(&a.kind),
                    origin_note(change)
                );
            }
        }
        out.push('\n');
    }

    out.push_str("| Artifact | Kind | Platform | Version | Hash | Size | Released | Link |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for a in &diff.artifacts {
        let version = version_cell(a);
        let released = a
            .new_published
            .as_deref()
            .or(a.old_published.as_deref())
            .map(date_of)
            .unwrap_or("—");
        let link = a
            .link
            .as_ref()
            .map(|l| format!("[{}]({})", l.label, l.url))
            .unwrap_or_else(|| "—".into());
        let mut rows: Vec<(String, String, String)> = a
            .platforms
            .iter()
            .map(|p| (p.platform.clone(), hash_cell(p), size_cell(p)))
            .collect();
        if let Some(closure) = &a.closure {
            for count in &closure.per_platform {
                rows.push((
                    count.platform.clone(),
                    format!(
                        "closure: +{} −{} ~{}",
                        count.added, count.removed, count.changed
                    ),
                    "—".into(),
                ));
            }
        }
        if let (Some(old), Some(new)) = (&a.old_digest, &a.new_digest)
            && old != new
        {
            let warn = if a.old_version == a.new_version {
                "⚠️ "
            } else {
                ""
            };
            rows.insert(
                0,
                (
                    "(index)".into(),
                    format!("{warn}{} → {}", short_hash(old), short_hash(new)),
                    "—".into(),
                ),
            );
        }
        if rows.is_empty() {
            rows.push(("—".into(), "unchanged".into(), "—".into()));
        }
        for (platform, hash, size) in rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&a.name),
                cell(&a.kind),
                cell(&platform),
                version,
                hash,
                size,
                released,
                link
            );
        }
    }

    let closures: Vec<&ArtifactDiff> = diff
        .artifacts
        .iter()
        .filter(|a| a.closure.is_some())
        .collect();
    if !closures.is_empty() {
        let _ = writeln!(out, "\n{h} Closures");
        for a in closures {
            let closure = a.closure.as_ref().expect("filtered");
            let _ = writeln!(
                out,
                "\n**{} `{}`**: {} added, {} removed, {} changed{}",
                cell(&a.kind),
                a.name,
                closure.added,
                closure.removed,
                closure.changed,
                if closure.republished > 0 {
                    format!(
                        " (⚠️ {} republished: same version, new bytes)",
                        closure.republished
                    )
                } else {
                    String::new()
                }
            );
            if !closure.requested.is_empty() {
                let listed: Vec<String> = closure
                    .requested
                    .iter()
                    .map(|p| {
                        format!(
                            "`{}` {} ({})",
                            p.name,
                            version_change(p.old_version.as_deref(), p.new_version.as_deref()),
                            p.platform
                        )
                    })
                    .collect();
                let _ = writeln!(out, "\nRequested: {}", listed.join(", "));
            }
            if options.full_lists && !closure.packages.is_empty() {
                let _ = writeln!(
                    out,
                    "\n<details><summary>All {} member changes</summary>\n",
                    closure.packages.len()
                );
                out.push_str("| Package | Platform | Change | Version | Hash |\n");
                out.push_str("| --- | --- | --- | --- | --- |\n");
                for p in &closure.packages {
                    let name = match &p.path {
                        Some(path) if !path.is_empty() => {
                            format!("{} (`{}`)", cell(&p.name), cell(path))
                        }
                        _ => cell(&p.name),
                    };
                    let hash = match (&p.old_hash, &p.new_hash) {
                        (Some(o), Some(n)) if o == n => "unchanged".to_string(),
                        (o, n) => format!(
                            "{}{} → {}",
                            if p.change == ChangeKind::Republished {
                                "⚠️ "
                            } else {
                                ""
                            },
                            o.as_deref().map(short_hash).unwrap_or_else(|| "—".into()),
                            n.as_deref().map(short_hash).unwrap_or_else(|| "—".into())
                        ),
                    };
                    let _ = writeln!(
                        out,
                        "| {name} | {} | {} | {} | {hash} |",
                        cell(&p.platform),
                        p.change.as_str(),
                        version_change(p.old_version.as_deref(), p.new_version.as_deref()),
                    );
                }
                out.push_str("\n</details>\n");
            } else if !options.full_lists && !closure.packages.is_empty() {
                let _ = writeln!(
                    out,
                    "\n{} member changes are listed by `modelbench diff` (left out here for size).",
                    closure.packages.len()
                );
            }
        }
    }
    out
}

fn origin_note(change: &OriginChange) -> String {
    match change {
        OriginChange::NewHost { host, url } => {
            format!("⚠️ new host {} ({})", code(host), code(url))
        }
        OriginChange::SchemeChanged { host, old, new } => format!(
            "⚠️ scheme of {} changed: {} → {}",
            code(host),
            code(old),
            code(new)
        ),
        OriginChange::FileRenamed { platform, old, new } => format!(
            "⚠️ file renamed ({}): {} → {}",
            cell(platform),
            code(old),
            code(new)
        ),
    }
}

/// Inline code for a value from a lock: no backtick, pipe or newline can end it early.
fn code(text: &str) -> String {
    format!("`{}`", cell(&text.replace('`', "'")))
}

pub fn summary_line(diff: &LockDiff) -> String {
    let s = &diff.summary;
    let n = diff.artifacts.len();
    let mut parts = Vec::new();
    for (count, what) in [
        (s.updated, "updated"),
        (s.republished, "⚠️ republished (same version, new bytes)"),
        (s.added, "added"),
        (s.removed, "removed"),
        (s.changed, "changed otherwise"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {what}"));
        }
    }
    format!(
        "**{n} artifact{} changed**: {}.",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

fn republish_note(a: &ArtifactDiff) -> String {
    let mut places: Vec<String> = a
        .platforms
        .iter()
        .filter(|p| p.change == ChangeKind::Republished)
        .map(|p| p.platform.clone())
        .collect();
    if a.old_digest != a.new_digest && a.old_digest.is_some() && a.new_digest.is_some() {
        places.insert(0, "image index".into());
    }
    if let Some(closure) = &a.closure {
        for p in closure
            .packages
            .iter()
            .filter(|p| p.change == ChangeKind::Republished)
        {
            places.push(format!(
                "`{}` {} ({})",
                p.name,
                p.new_version.as_deref().unwrap_or(""),
                p.platform
            ));
        }
    }
    let what = if a.kind == "oci" {
        "the tag now points to different image bytes"
    } else {
        "new bytes under the same version"
    };
    format!(
        "**{}** ({}) `{}`: {what}: {}",
        cell(&a.name),
        cell(&a.kind),
        a.new_version.as_deref().unwrap_or(""),
        places.join(", ")
    )
}

fn version_cell(a: &ArtifactDiff) -> String {
    let mut text = match (a.old_version.as_deref(), a.new_version.as_deref()) {
        (Some(o), Some(n)) if o == n => format!("`{}` (same)", cell(o)),
        (o, n) => version_change(o, n),
    };
    if let (Some(o), Some(n)) = (&a.old_requested, &a.new_requested)
        && o != n
    {
        let _ = write!(text, " (constraint `{}` → `{}`)", cell(o), cell(n));
    }
    text
}

fn version_change(old: Option<&str>, new: Option<&str>) -> String {
    let show = |v: Option<&str>| {
        v.map(|v| format!("`{}`", cell(v)))
            .unwrap_or_else(|| "—".into())
    };
    format!("{} → {}", show(old), show(new))
}

fn hash_cell(p: &PlatformDiff) -> String {
    if !p.hash_changed {
        return if p.urls_changed {
            "unchanged (URLs changed)".into()
        } else {
            "unchanged".into()
        };
    }
    let old = p
        .old_hash
        .as_deref()
        .map(short_hash)
        .unwrap_or_else(|| "—".into());
    let new = p
        .new_hash
        .as_deref()
        .map(short_hash)
        .unwrap_or_else(|| "—".into());
    if p.change == ChangeKind::Republished {
        format!("⚠️ **{old} → {new}** (same version)")
    } else {
        format!("{old} → {new}")
    }
}

fn size_cell(p: &PlatformDiff) -> String {
    match (p.old_size, p.new_size, p.size_delta) {
        (Some(o), Some(n), Some(0)) if o == n => human_size(n),
        (Some(o), Some(n), Some(delta)) => {
            let sign = if delta < 0 { "-" } else { "+" };
            format!(
                "{} → {} ({sign}{})",
                human_size(o),
                human_size(n),
                human_size(delta.unsigned_abs())
            )
        }
        (None, Some(n), _) => human_size(n),
        (Some(o), None, _) => format!("{} → —", human_size(o)),
        _ => "—".into(),
    }
}

/// `sha256:0123456789ab…`
fn short_hash(hash: &str) -> String {
    let (algorithm, hex) = hash.split_once(':').unwrap_or(("", hash));
    let short: String = hex.chars().take(12).collect();
    if algorithm.is_empty() {
        format!("`{short}`")
    } else {
        format!("`{algorithm}:{short}`")
    }
}

pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `2026-07-23T10:00:00Z` → `2026-07-23`.
fn date_of(published: &str) -> &str {
    published
        .get(..10)
        .filter(|d| d.as_bytes().get(4) == Some(&b'-'))
        .unwrap_or(published)
}

/// A table cell: no pipes or newlines that would break the row.
fn cell(text: &str) -> String {
    crate::emit::quote::escaped(&text.replace('|', "\\|").replace(['\n', '\r'], " "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::values::OneLine;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(18), "18 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn compare_links_only_for_github_releases() {
        assert_eq!(
            github_repo_of_release("https://github.com/Watfaq/clash-rs/releases/tag/v0.10.8"),
            Some("Watfaq/clash-rs".into())
        );
        assert_eq!(
            github_repo_of_release("https://example.com/a/b/releases/tag/x"),
            None
        );
        assert_eq!(github_repo_of_release("https://github.com/a/b"), None);
    }

    /// A lock with one github-release artifact `tool` at `version`, one file per URL.
    fn lock_with(version: &str, file: &str, urls: &[&str], hash_byte: char) -> Lock {
        let hash: String = std::iter::repeat_n(hash_byte, 64).collect();
        let urls: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
        let text = format!(
            "version = 1\nspec-hash = \"sha256:x\"\n\n[[artifact]]\nkind = \"github-release\"\nname = \"tool\"\n\
             requested = \"latest\"\nrequest-hash = \"sha256:r\"\nversion = \"{version}\"\n\
             [artifact.platform.\"linux/amd64\"]\nfile = \"{file}\"\nurls = [{}]\nhash = \"sha256:{hash}\"\n",
            urls.join(", ")
        );
        toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn new_hosts_scheme_changes_and_renamed_files_are_flagged() {
        let old = lock_with(
            "v1.0.0",
            "tool-v1.0.0-x86_64.tar.gz",
            &["https://github.com/o/tool/releases/download/v1.0.0/tool-v1.0.0-x86_64.tar.gz"],
            'a',
        );
        // A version bump from the same host, file name moving with the version: quiet.
        let bumped = lock_with(
            "v1.1.0",
            "tool-v1.1.0-x86_64.tar.gz",
            &["https://github.com/o/tool/releases/download/v1.1.0/tool-v1.1.0-x86_64.tar.gz"],
            'b',
        );
        let d = diff(Some(&old), &bumped);
        assert_eq!(d.artifacts[0].origin, []);
        assert!(!to_markdown(&d, MarkdownOptions::default()).contains("CAUTION"));

        // The same bump, served from elsewhere, over http, under another name.
        let moved = lock_with(
            "v1.1.0",
            "tool-v1.1.0-x86_64-patched.tar.gz",
            &[
                "https://evil.example/tool.tar.gz",
                "http://github.com/o/tool/releases/download/v1.1.0/tool.tar.gz",
            ],
            'b',
        );
        let d = diff(Some(&old), &moved);
        assert_eq!(
            d.artifacts[0].origin,
            [
                OriginChange::NewHost {
                    host: "evil.example".into(),
                    url: "https://evil.example/tool.tar.gz".into()
                },
                OriginChange::SchemeChanged {
                    host: "github.com".into(),
                    old: "https".into(),
                    new: "http".into()
                },
                OriginChange::FileRenamed {
                    platform: "linux/amd64".into(),
                    old: "tool-v1.0.0-x86_64.tar.gz".into(),
                    new: "tool-v1.1.0-x86_64-patched.tar.gz".into()
                },
            ]
        );
        let text = to_markdown(&d, MarkdownOptions::default());
        assert!(text.contains("> [!CAUTION]"), "{text}");
        assert!(
            text.contains("> - **tool** (github-release): ⚠️ new host `evil.example` (`https://evil.example/tool.tar.gz`)"),
            "{text}"
        );
        assert!(
            text.contains("⚠️ scheme of `github.com` changed: `https` → `http`"),
            "{text}"
        );
        assert!(
            text.contains("⚠️ file renamed (linux/amd64): `tool-v1.0.0-x86_64.tar.gz` → `tool-v1.1.0-x86_64-patched.tar.gz`"),
            "{text}"
        );
        assert!(to_json(&d).contains("\"kind\": \"new-host\""));

        // A first lock has nothing to compare with: no flags.
        assert_eq!(diff(None, &moved).artifacts[0].origin, []);
    }

    #[test]
    fn lock_values_cannot_break_the_markdown() {
        assert_eq!(code("a`b|c\nd\u{1b}[31m"), "`a'b\\|c d\\u{1b}[31m`");
    }

    #[test]
    fn identical_locks_have_no_diff() {
        let lock = Lock::new(OneLine::parse("spec-hash", "sha256:x").unwrap(), Vec::new());
        let d = diff(Some(&lock), &lock);
        assert!(d.is_empty());
        assert_eq!(to_markdown(&d, MarkdownOptions::default()), "No changes.\n");
    }
}
