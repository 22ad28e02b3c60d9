//! `[bump]` in the spec: which pins `modelbench bump` may move, when, and in which pull
//! request.
//!
//! ```toml
//! [bump]
//! repository = "acme/images"     # for --pr (else --repo, else $GITHUB_REPOSITORY)
//! labels = ["dependencies"]      # on every bump pull request
//! cooldown = "3d"                # minimum release age of a new version (default: none)
//! allow-major = false            # 1.x → 2.x and 0.10 → 0.11 wait for a person (default)
//! frozen = ["base"]              # never moved by bump
//!
//! [bump.group.cuda-base]         # one pull request per group: branch modelbench/cuda-base
//! artifacts = ["base"]
//! cooldown = "14d"
//!
//! [bump.group.clis]
//! kinds = ["github-release", "npm"]
//! labels = ["clis"]
//!
//! [bump.artifact.clash-rs]       # per-artifact overrides win over the group's
//! cooldown = "0d"
//! allow-major = true
//! ```
//!
//! An artifact belongs to the group naming it in `artifacts`, else to the group listing its
//! kind in `kinds`, else to the group `default` (which `[bump.group.default]` configures).
//! Settings resolve artifact → group → top level.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::lock::Kind;

/// The group of artifacts no group claims.
pub const DEFAULT_GROUP: &str = "default";

/// Names a group may list in `kinds` besides the lock's kinds ([`Kind::ALL`]): accepted
/// so policies written for them keep loading. `bun` globals are locked as `npm`; `pypi`
/// is not resolved yet.
pub const PLANNED_KINDS: &[&str] = &["bun", "pypi"];

/// Every name a group may list, sorted.
fn known_kinds() -> Vec<&'static str> {
    let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    names.extend(PLANNED_KINDS);
    names.sort_unstable();
    names
}

/// Whether a group may list `kind`.
fn is_known_kind(kind: &str) -> bool {
    Kind::parse(kind).is_some() || PLANNED_KINDS.contains(&kind)
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BumpPolicy {
    /// `owner/name` on GitHub for `--pr`; `--repo` and `$GITHUB_REPOSITORY` are the fallbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The branch pull requests target; default: the repository's default branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    /// Labels put on every bump pull request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Minimum release age before a new version is taken (`"7d"`, `"36h"`, `"2w"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<Cooldown>,
    /// Take major updates (cargo's rule: the first non-zero component moves).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_major: bool,
    /// Artifacts bump never moves (`lock --update NAME` still can).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frozen: Vec<String>,
    /// One pull request per group.
    #[serde(default, rename = "group", skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, Group>,
    /// Per-artifact overrides.
    #[serde(
        default,
        rename = "artifact",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub artifacts: BTreeMap<String, ArtifactPolicy>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Group {
    /// Artifacts by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<String>,
    /// Every artifact of these kinds that no group names explicitly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<Cooldown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_major: Option<bool>,
    /// Labels added to this group's pull request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ArtifactPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<Cooldown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_major: Option<bool>,
}

/// What applies to one artifact once artifact, group and top level are combined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub group: String,
    pub cooldown: Option<Cooldown>,
    pub allow_major: bool,
    pub frozen: bool,
}

impl BumpPolicy {
    /// The group an artifact belongs to.
    pub fn group_of(&self, kind: &str, name: &str) -> &str {
        if let Some((group, _)) = self
            .groups
            .iter()
            .find(|(_, g)| g.artifacts.iter().any(|a| a == name))
        {
            return group;
        }
        if let Some((group, _)) = self
            .groups
            .iter()
            .find(|(_, g)| g.kinds.iter().any(|k| k == kind))
        {
            return group;
        }
        DEFAULT_GROUP
    }

    pub fn effective(&self, kind: &str, name: &str) -> Effective {
        let group_name = self.group_of(kind, name).to_string();
        let group = self.groups.get(&group_name);
        let artifact = self.artifacts.get(name);
        let cooldown = artifact
            .and_then(|a| a.cooldown)
            .or_else(|| group.and_then(|g| g.cooldown))
            .or(self.cooldown)
            .filter(|c| !c.is_zero());
        let allow_major = artifact
            .and_then(|a| a.allow_major)
            .or_else(|| group.and_then(|g| g.allow_major))
            .unwrap_or(self.allow_major);
        Effective {
            group: group_name,
            cooldown,
            allow_major,
            frozen: self.frozen.iter().any(|f| f == name),
        }
    }

    /// The labels of a group's pull request: the top level's, then the group's; sorted.
    pub fn labels_for(&self, group: &str) -> Vec<String> {
        let mut labels: BTreeSet<String> = self.labels.iter().cloned().collect();
        if let Some(g) = self.groups.get(group) {
            labels.extend(g.labels.iter().cloned());
        }
        labels.into_iter().collect()
    }

    /// Every group name, the implicit `default` included.
    pub fn group_names(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = self.groups.keys().cloned().collect();
        names.insert(DEFAULT_GROUP.to_string());
        names
    }

    /// Check the policy against the spec's artifacts (`(kind, name)` pairs): every name it
    /// mentions exists, no artifact sits in two groups, group names make branch names.
    pub fn check(&self, artifacts: &[(String, String)]) -> Result<(), String> {
        let known: BTreeSet<&str> = artifacts.iter().map(|(_, n)| n.as_str()).collect();
        let unknown = |what: &str, name: &str| {
            format!(
                "`{what}` names `{name}`, which the spec has no artifact called (it has: {})",
                known.iter().copied().collect::<Vec<_>>().join(", ")
            )
        };
        if let Some(repo) = &self.repository {
            check_repository(repo).map_err(|e| format!("`bump.repository`: {e}"))?;
        }
        for name in &self.frozen {
            if !known.contains(name.as_str()) {
                return Err(unknown("bump.frozen", name));
            }
        }
        for name in self.artifacts.keys() {
            if !known.contains(name.as_str()) {
                return Err(unknown(&format!("bump.artifact.{name}"), name));
            }
        }
        let mut claimed: BTreeMap<&str, &str> = BTreeMap::new();
        for (group_name, group) in &self.groups {
            check_group_name(group_name)?;
            for name in &group.artifacts {
                if !known.contains(name.as_str()) {
                    return Err(unknown(&format!("bump.group.{group_name}.artifacts"), name));
                }
                if let Some(other) = claimed.insert(name, group_name) {
                    return Err(format!(
                        "artifact `{name}` is in two bump groups, `{other}` and `{group_name}`: one pull request each is the point of groups, keep it in one"
                    ));
                }
            }
            for kind in &group.kinds {
                if !is_known_kind(kind) {
                    return Err(format!(
                        "`bump.group.{group_name}.kinds` names `{kind}`, which is no artifact kind (known: {})",
                        known_kinds().join(", ")
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Group names become branch names (`modelbench/<group>`).
pub fn check_group_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && !name.ends_with(['.', '/'])
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bump group `{name}`: group names become branch names (modelbench/<group>); use letters, digits, `-`, `_` and `.`"
        ))
    }
}

/// `owner/name`.
pub fn check_repository(repo: &str) -> Result<(), String> {
    let valid_part = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match repo.split_once('/') {
        Some((owner, name)) if valid_part(owner) && valid_part(name) => Ok(()),
        _ => Err(format!(
            "`{repo}` is not a GitHub repository (`owner/name`)"
        )),
    }
}

/// A minimum release age: `"7d"`, `"36h"`, `"2w"`, `"90m"`, `"0"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cooldown {
    seconds: u64,
}

impl Cooldown {
    pub fn from_seconds(seconds: u64) -> Cooldown {
        Cooldown { seconds }
    }

    pub fn seconds(self) -> u64 {
        self.seconds
    }

    pub fn is_zero(self) -> bool {
        self.seconds == 0
    }

    pub fn as_duration(self) -> chrono::TimeDelta {
        chrono::TimeDelta::seconds(i64::try_from(self.seconds).unwrap_or(i64::MAX / 1000))
    }
}

impl FromStr for Cooldown {
    type Err = String;

    fn from_str(text: &str) -> Result<Cooldown, String> {
        let bad = || {
            format!(
                "`{text}` is not a cooldown: write a number and a unit, like \"7d\", \"36h\", \"2w\" or \"90m\""
            )
        };
        let trimmed = text.trim();
        if trimmed == "0" {
            return Ok(Cooldown { seconds: 0 });
        }
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(bad)?;
        let (number, unit) = trimmed.split_at(split);
        let number: u64 = number.parse().map_err(|_| bad())?;
        let unit_seconds = match unit.trim() {
            "m" | "min" | "minutes" => 60,
            "h" | "hours" => 3600,
            "d" | "days" => 86_400,
            "w" | "weeks" => 7 * 86_400,
            _ => return Err(bad()),
        };
        number
            .checked_mul(unit_seconds)
            .filter(|s| *s <= 10 * 365 * 86_400)
            .map(|seconds| Cooldown { seconds })
            .ok_or_else(|| format!("cooldown `{text}` is longer than ten years"))
    }
}

impl fmt::Display for Cooldown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.seconds;
        if s == 0 {
            f.write_str("0d")
        } else if s.is_multiple_of(86_400) {
            write!(f, "{}d", s / 86_400)
        } else if s.is_multiple_of(3600) {
            write!(f, "{}h", s / 3600)
        } else {
            write!(f, "{}m", s.div_ceil(60))
        }
    }
}

impl Serialize for Cooldown {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cooldown {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Cooldown, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The leading dotted numbers of a version or tag: `v0.10.8` → `[0, 10, 8]`,
/// `bun-v1.2.3` → `[1, 2, 3]`, `12.8.1-cudnn-devel` → `[12, 8, 1]`.
pub fn numeric_version(version: &str) -> Option<Vec<u64>> {
    let start = version.find(|c: char| c.is_ascii_digit())?;
    let mut parts = Vec::new();
    for part in version[start..].split('.') {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            break;
        }
        parts.push(digits.parse().ok()?);
        if digits.len() != part.len() {
            break;
        }
    }
    (!parts.is_empty()).then_some(parts)
}

/// Whether `old` → `new` is a major (breaking) update, by cargo's rule: the first
/// component that differs is the first non-zero one of `old` (1.2 → 2.0, 0.10 → 0.11,
/// 0.0.3 → 0.0.4) and it grows. Versions without numbers are never major.
pub fn is_major_update(old: &str, new: &str) -> bool {
    let (Some(a), Some(b)) = (numeric_version(old), numeric_version(new)) else {
        return false;
    };
    let len = a.len().max(b.len());
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        if x != y {
            return y > x && a.iter().take(i).all(|c| *c == 0);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> BumpPolicy {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn cooldowns_parse_and_print() {
        assert_eq!("7d".parse::<Cooldown>().unwrap().seconds(), 7 * 86_400);
        assert_eq!("36h".parse::<Cooldown>().unwrap().to_string(), "36h");
        assert_eq!("2w".parse::<Cooldown>().unwrap().to_string(), "14d");
        assert_eq!("0".parse::<Cooldown>().unwrap(), Cooldown::from_seconds(0));
        assert_eq!("0d".parse::<Cooldown>().unwrap().to_string(), "0d");
        assert!("7".parse::<Cooldown>().is_err());
        assert!("d".parse::<Cooldown>().is_err());
        assert!("7y".parse::<Cooldown>().is_err());
        assert!("99999w".parse::<Cooldown>().is_err());
    }

    #[test]
    fn majors_follow_cargo() {
        assert!(is_major_update("v1.2.3", "v2.0.0"));
        assert!(is_major_update("0.10.8", "0.11.0"));
        assert!(is_major_update("0.0.3", "0.0.4"));
        assert!(!is_major_update("v1.2.3", "v1.3.0"));
        assert!(!is_major_update("v0.10.7", "v0.10.8"));
        assert!(!is_major_update("v2.0.0", "v1.9.0"));
        assert!(is_major_update("bun-v1.2.3", "bun-v2.0.0"));
        assert!(!is_major_update("latest", "nightly"));
        assert!(!is_major_update(
            "12.8.1-cudnn-devel-ubuntu24.04",
            "12.8.1-cudnn-devel-ubuntu24.04"
        ));
        assert_eq!(numeric_version("12.8.1-cudnn"), Some(vec![12, 8, 1]));
        assert_eq!(numeric_version("v1.2"), Some(vec![1, 2]));
    }

    #[test]
    fn artifact_beats_group_beats_top_level() {
        let p = policy(
            r#"
cooldown = "3d"
frozen = ["base"]
[group.clis]
kinds = ["github-release"]
cooldown = "1w"
allow-major = true
labels = ["clis"]
[group.cuda]
artifacts = ["base"]
[artifact.uv]
cooldown = "0d"
"#,
        );
        let uv = p.effective("github-release", "uv");
        assert_eq!(uv.group, "clis");
        assert_eq!(uv.cooldown, None);
        assert!(uv.allow_major);
        let clash = p.effective("github-release", "clash-rs");
        assert_eq!(clash.cooldown, Some("7d".parse().unwrap()));
        let base = p.effective("oci", "base");
        assert_eq!(base.group, "cuda");
        assert!(base.frozen);
        assert_eq!(base.cooldown, Some("3d".parse().unwrap()));
        assert!(!base.allow_major);
        assert_eq!(p.effective("url", "x").group, DEFAULT_GROUP);
        assert_eq!(p.labels_for("clis"), vec!["clis".to_string()]);
    }

    #[test]
    fn check_names_unknown_and_doubled_artifacts() {
        let arts = vec![
            ("oci".to_string(), "base".to_string()),
            ("github-release".to_string(), "clash-rs".to_string()),
        ];
        assert!(policy("frozen = [\"base\"]").check(&arts).is_ok());
        let err = policy("frozen = [\"bsae\"]").check(&arts).unwrap_err();
        assert!(
            err.contains("`bsae`") && err.contains("base, clash-rs"),
            "{err}"
        );
        let err = policy("[group.a]\nartifacts = [\"base\"]\n[group.b]\nartifacts = [\"base\"]")
            .check(&arts)
            .unwrap_err();
        assert!(err.contains("two bump groups"), "{err}");
        let err = policy("[group.\"cuda base\"]\nartifacts = [\"base\"]")
            .check(&arts)
            .unwrap_err();
        assert!(err.contains("branch names"), "{err}");
        let err = policy("[group.x]\nkinds = [\"github_release\"]")
            .check(&arts)
            .unwrap_err();
        assert!(err.contains("no artifact kind"), "{err}");
        assert!(policy("repository = \"acme\"").check(&arts).is_err());
        assert!(toml::from_str::<BumpPolicy>("cooldwn = \"1d\"").is_err());
    }
}
