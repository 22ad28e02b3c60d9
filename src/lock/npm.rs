//! npm's per-member facts in the lock: what `package-lock.json` and `bun.lock` need
//! beyond a closure member's common fields, so `emit` writes them offline. Typed: every
//! name, range, bin and platform token was checked against its grammar when the facts
//! were built from their on-disk form (`wire::NpmFactsWire`).

use std::collections::BTreeMap;

use super::values::{Constraint, NpmBinName, NpmName, RelativePath, Token};

pub use super::values::NO_PLATFORM;

/// Tree location → facts, as `emit` reads them from a closure's members.
pub type Facts = BTreeMap<String, NpmFacts>;

/// What a `package-lock.json` or `bun.lock` entry needs beyond the lock's common
/// package fields, per tree location.
/// Serialized in its on-disk form (`wire.rs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NpmFacts {
    /// Only reachable through optional dependencies.
    pub optional: bool,
    /// Only reachable through peer dependencies.
    pub peer: bool,
    pub dependencies: BTreeMap<NpmName, Constraint>,
    pub optional_dependencies: BTreeMap<NpmName, Constraint>,
    pub peer_dependencies: BTreeMap<NpmName, Constraint>,
    /// Peers marked optional in `peerDependenciesMeta`.
    pub optional_peers: Vec<NpmName>,
    pub bundled: Vec<NpmName>,
    /// Link name → path inside the package.
    pub bin: BTreeMap<NpmBinName, RelativePath>,
    /// Has a `preinstall`, `install` or `postinstall` script.
    pub install_script: bool,
    pub os: Vec<Token>,
    pub cpu: Vec<Token>,
    pub libc: Vec<Token>,
}
