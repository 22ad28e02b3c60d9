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
mod context;
mod driver;
mod error;
pub mod git;
pub mod github_release;
pub mod hosts;
pub mod nodejs;
pub mod npm;
pub mod oci;
mod plan;
mod request;
pub mod revalidate;
mod staleness;
pub mod sums;
pub mod url;

use std::collections::BTreeSet;

pub use self::conda::conda_tool_name;
pub use self::context::{Context, Reporter};
pub use self::driver::{artifact, resolve};
pub use self::error::{Problem, ResolveError, ResolveFailures};
pub use self::plan::{apt_packages, origin_at, plan};
pub use self::request::{Detail, Origin, Plan, Request};
pub use self::staleness::{Mismatch, mismatches, staleness};
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
