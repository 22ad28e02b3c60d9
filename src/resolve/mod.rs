//! Resolution: the spec's constraints become exact pins.
//!
//! - [`plan`] (`plan/`) turns a spec into [`Request`]s (`request.rs`), one per lock entry,
//!   each with a hash of what shapes its answer; Ubuntu's default archives are named in
//!   `plan/ubuntu.rs` only.
//! - [`resolve`] (`driver.rs`) keeps the pins of an existing lock that still answer their
//!   request (as cargo does), resolves the rest concurrently in a [`Context`]
//!   (`context.rs`), and sorts the result so the lock's bytes never depend on which
//!   request finished first; failures are [`ResolveFailures`] (`error.rs`).
//! - This file: which pins are still fresh ([`needs_resolution`], [`staleness`]) and how a
//!   lock changed ([`changes`]).
//!
//! Every source kind is one module with the same shape: a request type built from the
//! spec and `async fn resolve(ctx: &Context, name: &str, request: &KindRequest) ->
//! Result<Artifact, Problem>`.

pub mod apt;
pub mod cache;
pub mod conda;
pub mod git;
mod context;
mod driver;
mod error;
pub mod github_release;
pub mod hosts;
pub mod nodejs;
pub mod npm;
pub mod oci;
mod plan;
mod request;
pub mod revalidate;
pub mod sums;
pub mod url;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use self::context::{Context, Reporter};
pub use self::driver::{artifact, resolve};
pub use self::error::{Problem, ResolveError, ResolveFailures};
pub use self::plan::{apt_packages, conda_tool_name, plan};
pub use self::request::{Detail, Origin, Plan, Request};
pub use crate::lock::Kind;
use crate::lock::{Artifact, Lock};

/// Which existing pins may be replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdatePolicy {
    /// Keep every pin that still answers its request (`modelbench lock`).
    KeepPins,
    /// Re-resolve everything (`--update` with no names).
    All,
    /// Re-resolve the named artifacts (`--update NAME...`).
    Only(BTreeSet<String>),
}

impl UpdatePolicy {
    fn allows(&self, name: &str) -> bool {
        match self {
            UpdatePolicy::KeepPins => false,
            UpdatePolicy::All => true,
            UpdatePolicy::Only(names) => names.contains(name),
        }
    }
}

/// Which requests an existing lock cannot answer (new, changed, edited after locking, or
/// asked to update).
pub fn needs_resolution<'a>(
    plan: &'a Plan,
    existing: Option<&Lock>,
    policy: &UpdatePolicy,
) -> Vec<&'a Request> {
    plan.requests
        .iter()
        .filter(|request| {
            policy.allows(&request.name)
                || existing
                    .and_then(|lock| lock.find(request.kind.as_str(), &request.name))
                    .is_none_or(|pinned| !still_satisfies(pinned, request))
        })
        .collect()
}

/// An entry edited after locking answers nothing: its pins cannot be trusted, so `lock`
/// resolves it again.
fn still_satisfies(pinned: &Artifact, request: &Request) -> bool {
    pinned.check_checksum().is_ok()
        && pinned.request_hash == request.hash()
        && request.platforms.iter().all(|p| covers(pinned, p))
}

/// Whether a lock entry has what `platform` needs: a pin, the index (oci), or closure
/// members (apt).
pub fn covers(pinned: &Artifact, platform: &str) -> bool {
    match pinned.kind {
        Kind::Oci => true,
        Kind::Apt | Kind::Conda => pinned.packages.iter().any(|p| p.platform == platform),
        Kind::Npm => pinned
            .packages
            .iter()
            .any(|p| p.platform == platform || p.platform == crate::lock::ALL_PLATFORMS),
        Kind::GithubRelease | Kind::Nodejs | Kind::Url => pinned.pin(platform).is_some(),
        // A commit is the same for every platform.
        Kind::Git => true,
    }
}

/// Why a lock does not match the spec it is checked against, one reason per entry;
/// empty when it matches (what `lock --check`, `emit --locked` and `bump` rely on).
pub fn staleness(plan: &Plan, lock: &Lock, spec_hash: &str) -> Vec<String> {
    let mut stale: Vec<String> = needs_resolution(plan, Some(lock), &UpdatePolicy::KeepPins)
        .iter()
        .map(|r| match lock.find(r.kind.as_str(), &r.name) {
            Some(pinned) => match pinned.check_checksum() {
                Err(edited) => edited.to_string(),
                Ok(()) => format!(
                    "{} `{}` changed in the spec (now `{}`)",
                    r.kind, r.name, r.requested
                ),
            },
            None => format!("{} `{}` is not locked", r.kind, r.name),
        })
        .collect();
    for artifact in &lock.artifacts {
        if plan.request(artifact.kind, &artifact.name).is_none() {
            stale.push(format!(
                "{} `{}` is locked but no longer in the spec",
                artifact.kind, artifact.name
            ));
        }
    }
    if stale.is_empty() && lock.spec_hash != spec_hash {
        stale.push(format!(
            "the spec changed since locking (spec-hash {} in the lock, {spec_hash} now)",
            lock.spec_hash
        ));
    }
    stale
}

/// How a lock changed, entry by entry, as cargo reports an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added {
        kind: String,
        name: String,
        version: String,
    },
    Updated {
        kind: String,
        name: String,
        from: String,
        to: String,
    },
    /// Same version, different bytes: an upstream republish, which must stand out.
    Rehashed {
        kind: String,
        name: String,
        version: String,
    },
    /// Same version of what was asked for, other closure members (a conda environment
    /// whose dependencies moved).
    Members {
        kind: String,
        name: String,
        version: String,
    },
    Removed {
        kind: String,
        name: String,
        version: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Upstream strings reach the terminal escaped (they are checked when locked, but
        // a terminal must never be told anything by an upstream).
        let e = crate::lock::values::escape_for_terminal;
        match self {
            Change::Added {
                kind,
                name,
                version,
            } => write!(f, "{:>12} {kind} {} {}", "Adding", e(name), e(version)),
            Change::Updated {
                kind,
                name,
                from,
                to,
            } => write!(
                f,
                "{:>12} {kind} {} {} -> {}",
                "Updating",
                e(name),
                e(from),
                e(to)
            ),
            Change::Rehashed {
                kind,
                name,
                version,
            } => write!(
                f,
                "{:>12} {kind} {} {} (same version, new hash)",
                "Rehashing",
                e(name),
                e(version)
            ),
            Change::Members {
                kind,
                name,
                version,
            } => write!(
                f,
                "{:>12} {kind} {} {} (closure members changed)",
                "Updating",
                e(name),
                e(version)
            ),
            Change::Removed {
                kind,
                name,
                version,
            } => write!(f, "{:>12} {kind} {} {}", "Removing", e(name), e(version)),
        }
    }
}

pub fn changes(old: Option<&Lock>, new: &Lock) -> Vec<Change> {
    let empty = Vec::new();
    let old_artifacts = old.map(|l| &l.artifacts).unwrap_or(&empty);
    let old_map: BTreeMap<_, _> = old_artifacts.iter().map(|a| (a.key(), a)).collect();
    let new_map: BTreeMap<_, _> = new.artifacts.iter().map(|a| (a.key(), a)).collect();
    let mut out = Vec::new();
    for (key, new_artifact) in &new_map {
        let (kind, name) = key.clone();
        match old_map.get(key) {
            None => out.push(Change::Added {
                kind,
                name,
                version: new_artifact.version.clone(),
            }),
            Some(old_artifact) if old_artifact.version != new_artifact.version => {
                out.push(Change::Updated {
                    kind,
                    name,
                    from: old_artifact.version.clone(),
                    to: new_artifact.version.clone(),
                })
            }
            Some(old_artifact) if git::branch_move(old_artifact, new_artifact).is_some() => {
                let (from, to) = git::branch_move(old_artifact, new_artifact).expect("checked");
                out.push(Change::Updated {
                    kind,
                    name,
                    from,
                    to,
                })
            }
            Some(old_artifact)
                if old_artifact.platform != new_artifact.platform
                    || old_artifact.digest != new_artifact.digest
                    || old_artifact.commit != new_artifact.commit =>
            {
                out.push(Change::Rehashed {
                    kind,
                    name,
                    version: new_artifact.version.clone(),
                })
            }
            Some(old_artifact) if old_artifact.packages != new_artifact.packages => {
                out.push(Change::Members {
                    kind,
                    name,
                    version: new_artifact.version.clone(),
                })
            }
            Some(_) => {}
        }
    }
    for (key, old_artifact) in &old_map {
        if !new_map.contains_key(key) {
            out.push(Change::Removed {
                kind: key.0.clone(),
                name: key.1.clone(),
                version: old_artifact.version.clone(),
            });
        }
    }
    out
}
