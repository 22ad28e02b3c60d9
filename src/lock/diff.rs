//! The one lock diff: what changed between two locks, entry by entry, in one vocabulary
//! ([`ChangeKind`]) that `lock` (its summary), `bump` (its report and pull-request
//! table) and `diff` all render.
//!
//! - **added** / **removed**: an entry (or a platform pin, or a closure member) that only
//!   one side has;
//! - **updated**: a new version, and with it new bytes;
//! - **republished**: the same version with other bytes (a pin's hash, an OCI index
//!   digest, a closure member's hash): upstream replaced what the version points to, which
//!   must stand out wherever a change is shown;
//! - **changed**: same version and bytes, something else moved (URLs, a new platform pin,
//!   closure members, the constraint);
//! - and, beside the kind, [`OriginChange`]s: where the bytes come from moved (a host the
//!   old lock never used, a scheme change, a file renamed beyond its version).
//!
//! [`diff`] is a pure function of the two locks (artifacts by kind and name, platforms and
//! packages sorted, no clock), so everything rendered from it is deterministic. The lock
//! is the bottom layer: this module sees lock types only; rendering lives with each
//! command.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::provenance::github_repo;
use super::{Artifact, Kind, Lock, Package, Pin};

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
    /// An entry whose closure holds a republished member is `changed` itself (its version
    /// and pins stayed) but counts, and is shown, as republished.
    pub fn is_republish(&self) -> bool {
        self.change == ChangeKind::Republished
            || self
                .closure
                .as_ref()
                .is_some_and(|closure| closure.republished > 0)
    }
}

impl ArtifactDiff {
    /// Whether closure members were added, removed or changed.
    pub fn members_changed(&self) -> bool {
        self.closure
            .as_ref()
            .is_some_and(|c| c.added + c.removed + c.changed > 0)
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

    let platform_keys: BTreeSet<&str> = old
        .map(|a| a.platform.keys().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(
            new.map(|a| a.platform.keys().collect::<Vec<_>>())
                .unwrap_or_default(),
        )
        .map(|key| key.as_str())
        .collect();
    let mut platforms = Vec::new();
    for platform in platform_keys {
        let old_pin = old.and_then(|a| a.platform.get(platform));
        let new_pin = new.and_then(|a| a.platform.get(platform));
        if let Some(d) = platform_diff(platform, old_pin, new_pin, same_version) {
            platforms.push(d);
        }
    }

    // A git pin's commit is its digest: a tag that names another commit is a republish.
    let digest_of = |a: &Artifact| {
        (a.digest.as_deref())
            .or(a.commit.as_deref())
            .map(str::to_string)
    };
    let old_digest = old.and_then(digest_of);
    let new_digest = new.and_then(digest_of);
    // A branch is meant to move: a new head is an update, named `branch@commit`.
    let moved_branch = old.zip(new).and_then(|(o, n)| branch_move(o, n));
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
        _ if moved_branch.is_some() => ChangeKind::Updated,
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
        old_version: match &moved_branch {
            Some((from, _)) => Some(from.clone()),
            None => old.map(|a| a.version.to_string()),
        },
        new_version: match &moved_branch {
            Some((_, to)) => Some(to.clone()),
            None => new.map(|a| a.version.to_string()),
        },
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
    let repository = artifact.repository.iter();
    pins.chain(members)
        .chain(repository)
        .map(|url| url.as_str())
}

/// A `git` pin that follows a branch (its `requested` is `branch NAME`).
pub fn is_branch_pin(kind: Kind, requested: &str) -> bool {
    kind == Kind::Git && requested.starts_with("branch ")
}

/// For a branch pin whose head moved: how reports name the old and the new state
/// (`main@3569d532a72d -> main@286b768e755a`).
pub fn branch_move(old: &Artifact, new: &Artifact) -> Option<(String, String)> {
    let label = |a: &Artifact| {
        let commit = a.commit.as_deref().unwrap_or_default();
        format!("{}@{}", a.version, commit.get(..12).unwrap_or(commit))
    };
    (is_branch_pin(new.kind, &new.requested)
        && old.version == new.version
        && old.commit != new.commit)
        .then(|| (label(old), label(new)))
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
        && let Some(repo) = github_repo(n).or_else(|| github_repo(o))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::values::OneLine;
    use crate::lock::{ArtifactWire, Kind, PackageWire, PinWire};
    use crate::net::Hash;

    fn pin(bytes: &[u8], url: &str) -> PinWire {
        PinWire {
            file: "tool.tar.gz".into(),
            urls: vec![url.into()],
            hash: Hash::of_sha256(bytes),
            size: Some(bytes.len() as u64),
        }
    }

    /// A github-release entry `tool` at `version` with these pins, in its on-disk form.
    fn entry(version: &str, pins: &[(&str, PinWire)]) -> ArtifactWire {
        let mut entry = ArtifactWire::new(Kind::GithubRelease, version);
        entry.name = "tool".into();
        entry.requested = "latest".into();
        entry.request_hash = "sha256:r".into();
        entry.platform = pins
            .iter()
            .map(|(platform, pin)| (platform.to_string(), pin.clone()))
            .collect();
        entry
    }

    fn member(name: &str, version: &str, bytes: &[u8]) -> PackageWire {
        let mut package: PackageWire = toml::from_str(&format!(
            "name = \"{name}\"\nversion = \"{version}\"\nplatform = \"linux/amd64\"\n\
             arch = \"amd64\"\nfile = \"{name}.deb\"\nurls = [\"https://deb.example/{name}.deb\"]\n\
             hash = \"sha256:{}\"\n",
            "0".repeat(64)
        ))
        .unwrap();
        package.hash = Hash::of_sha256(bytes);
        package
    }

    /// A sealed lock of these entries, each through the checked conversion.
    fn lock(artifacts: Vec<ArtifactWire>) -> Lock {
        let artifacts = artifacts
            .into_iter()
            .map(|entry| Artifact::try_from(entry).unwrap())
            .collect();
        Lock::new(OneLine::parse("spec-hash", "sha256:x").unwrap(), artifacts)
    }

    fn only(old: Option<&Lock>, new: &Lock) -> ArtifactDiff {
        let d = diff(old, new);
        assert_eq!(d.artifacts.len(), 1, "{d:#?}");
        d.artifacts.into_iter().next().unwrap()
    }

    const AMD64: &str = "linux/amd64";
    const URL: &str = "https://github.com/o/tool/releases/download/v1/tool.tar.gz";

    #[test]
    fn a_new_version_is_updated_the_same_version_with_other_bytes_republished() {
        let old = lock(vec![entry("v1", &[(AMD64, pin(b"a", URL))])]);
        let bumped = lock(vec![entry("v2", &[(AMD64, pin(b"b", URL))])]);
        let d = only(Some(&old), &bumped);
        assert_eq!(d.change, ChangeKind::Updated);
        assert_eq!(d.platforms[0].change, ChangeKind::Updated);
        assert!(!d.is_republish());

        let republished = lock(vec![entry("v1", &[(AMD64, pin(b"b", URL))])]);
        let d = only(Some(&old), &republished);
        assert_eq!(d.change, ChangeKind::Republished);
        assert_eq!(d.platforms[0].change, ChangeKind::Republished);
        assert!(d.is_republish());
        let summary = diff(Some(&old), &republished).summary;
        assert_eq!((summary.republished, summary.updated), (1, 0));
    }

    #[test]
    fn same_bytes_elsewhere_or_a_new_platform_is_changed_not_republished() {
        let old = lock(vec![entry("v1", &[(AMD64, pin(b"a", URL))])]);
        let mirrored = lock(vec![entry(
            "v1",
            &[(AMD64, pin(b"a", "https://mirror.example/tool.tar.gz"))],
        )]);
        let d = only(Some(&old), &mirrored);
        assert_eq!(d.change, ChangeKind::Changed);
        assert!(d.platforms[0].urls_changed && !d.platforms[0].hash_changed);
        assert!(!d.is_republish());

        let wider = lock(vec![entry(
            "v1",
            &[(AMD64, pin(b"a", URL)), ("linux/arm64", pin(b"c", URL))],
        )]);
        let d = only(Some(&old), &wider);
        assert_eq!(d.change, ChangeKind::Changed);
        assert_eq!(d.platforms.len(), 1);
        assert_eq!(d.platforms[0].change, ChangeKind::Added);
    }

    #[test]
    fn added_and_removed_entries_and_a_first_lock() {
        let old = lock(vec![entry("v1", &[(AMD64, pin(b"a", URL))])]);
        let mut other = entry("1.0", &[(AMD64, pin(b"o", URL))]);
        other.name = "other".into();
        let new = lock(vec![other]);
        let d = diff(Some(&old), &new);
        let changes: Vec<(&str, ChangeKind)> = d
            .artifacts
            .iter()
            .map(|a| (a.name.as_str(), a.change))
            .collect();
        assert_eq!(
            changes,
            [("other", ChangeKind::Added), ("tool", ChangeKind::Removed)]
        );
        assert_eq!((d.summary.added, d.summary.removed), (1, 1));
        let first = diff(None, &old);
        assert_eq!(first.artifacts[0].change, ChangeKind::Added);
        assert!(diff(Some(&old), &old).is_empty());
    }

    #[test]
    fn closure_members_moving_is_changed_one_with_new_bytes_counts_as_republished() {
        let with = |members: Vec<PackageWire>| {
            let mut closure = entry(&format!("sha256:{}", "0".repeat(64)), &[]);
            closure.kind = Kind::Apt;
            closure.packages = members;
            lock(vec![closure])
        };
        let old = with(vec![
            member("curl", "8.5", b"curl"),
            member("jq", "1.7", b"jq"),
        ]);
        let moved = with(vec![
            member("curl", "8.6", b"curl 8.6"),
            member("jq", "1.7", b"jq"),
        ]);
        let d = only(Some(&old), &moved);
        assert_eq!(d.change, ChangeKind::Changed);
        assert!(d.members_changed());
        assert!(!d.is_republish());
        assert_eq!(
            d.closure.as_ref().unwrap().packages[0].change,
            ChangeKind::Updated
        );

        let republished = with(vec![
            member("curl", "8.5", b"other"),
            member("jq", "1.7", b"jq"),
        ]);
        let d = only(Some(&old), &republished);
        assert_eq!(d.change, ChangeKind::Changed);
        assert!(d.is_republish());
        let closure = d.closure.as_ref().unwrap();
        assert_eq!((closure.changed, closure.republished), (1, 1));
        assert_eq!(closure.packages[0].change, ChangeKind::Republished);
        assert_eq!(diff(Some(&old), &republished).summary.republished, 1);
    }

    #[test]
    fn compare_links_only_for_github_releases() {
        let mut old = entry("v1", &[(AMD64, pin(b"a", URL))]);
        old.release_url = Some("https://github.com/o/tool/releases/tag/v1".into());
        // The repository comes from the lock's `source`, not from the release page's URL.
        old.source = Some("github:o/tool".into());
        let mut new = entry("v2", &[(AMD64, pin(b"b", URL))]);
        new.release_url = Some("https://github.com/o/tool/releases/tag/v2".into());
        new.source = Some("github:o/tool".into());
        let d = only(Some(&lock(vec![old])), &lock(vec![new]));
        let link = d.link.unwrap();
        assert_eq!(link.label, "compare");
        assert_eq!(link.url, "https://github.com/o/tool/compare/v1...v2");
    }
}
