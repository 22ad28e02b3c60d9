//! npm's per-member facts in the lock: what `package-lock.json` and `bun.lock` need
//! beyond a closure member's common fields, so `emit` writes them offline.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The lock's platform key of packages no locked platform installs (kept for `npm ci`).
pub const NO_PLATFORM: &str = "none";

/// What a `package-lock.json` or `bun.lock` entry needs beyond the lock's common
/// package fields, per tree location.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NpmFacts {
    /// Only reachable through optional dependencies.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    /// Only reachable through peer dependencies.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub peer: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dependencies: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub optional_dependencies: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peer_dependencies: BTreeMap<String, String>,
    /// Peers marked optional in `peerDependenciesMeta`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub optional_peers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bundled: Vec<String>,
    /// Link name → path inside the package.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bin: BTreeMap<String, String>,
    /// Has a `preinstall`, `install` or `postinstall` script.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub install_script: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub os: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpu: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libc: Vec<String>,
}
