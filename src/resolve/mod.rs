//! Resolution: the spec's constraints become exact pins.
//!
//! [`plan`] turns a spec into [`Request`]s (one per artifact, each with a hash of what
//! shapes its answer) and lists the parts no resolver handles yet. [`resolve`] keeps the
//! pins of an existing lock that still answer their request (as cargo does), resolves
//! the rest concurrently, and sorts the result so the lock's bytes never depend on which
//! request finished first.
//!
//! Every source kind is one module with the same shape: a request type built from the
//! spec and `async fn resolve(ctx: &Context, name: &str, request: &KindRequest) ->
//! Result<Artifact, Problem>`.

pub mod apt;
pub mod github_release;
pub mod nodejs;
pub mod oci;
pub mod sums;
pub mod url;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::lock::{Artifact, Lock};
use crate::net::{Client, NetError};
use crate::platform::Platform;
use crate::sources::Sources;
use crate::spec::Spec;

/// How many requests run at once (per-host limits in [`Client`] apply on top).
const CONCURRENCY: usize = 16;

/// Everything a resolver may use: the one client, the upstream base URLs, the platforms.
pub struct Context {
    pub client: Client,
    pub sources: Sources,
    pub platforms: Vec<Platform>,
    pub github_token: Option<String>,
    /// Told about each resolution as it finishes (progress output); none by default.
    pub reporter: Option<Box<dyn Reporter>>,
}

/// Progress of a run, for the terminal or a log. Called from the resolving tasks.
pub trait Reporter: Send + Sync {
    /// `total` requests need the network.
    fn started(&self, total: usize);
    /// One finished; `version` is `None` when it failed.
    fn finished(&self, request: &Request, version: Option<&str>);
}

impl Context {
    /// The context for resolving `spec`: one client (offline or not, http allowed only
    /// where the sources file names it), the spec's platforms, `GITHUB_TOKEN` if set.
    pub fn new(
        spec: &crate::spec::Spec,
        sources: Sources,
        offline: bool,
        github_token: Option<String>,
    ) -> Context {
        Context {
            client: Client::new(offline, sources.insecure_hosts()),
            sources,
            platforms: spec
                .image
                .platform_names()
                .iter()
                .map(|p| Platform::parse(p).expect("validated with the spec"))
                .collect(),
            github_token,
            reporter: None,
        }
    }
}

/// What went wrong resolving one artifact.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("{0}")]
    Message(String),
}

impl Problem {
    pub fn msg(message: impl Into<String>) -> Problem {
        Problem::Message(message.into())
    }
}

/// A resolution failure, naming the artifact and its constraint.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {kind} `{name}` ({requested}): {problem}")]
pub struct ResolveError {
    pub kind: Kind,
    pub name: String,
    pub requested: String,
    pub problem: Problem,
}

/// All failures of one run, sorted, so the report is stable.
#[derive(Debug)]
pub struct ResolveFailures(pub Vec<ResolveError>);

impl fmt::Display for ResolveFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, failure) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{failure}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ResolveFailures {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Oci,
    GithubRelease,
    Nodejs,
    Url,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Oci => "oci",
            Kind::GithubRelease => "github-release",
            Kind::Nodejs => "nodejs",
            Kind::Url => "url",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The per-kind part of a request.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Detail {
    Oci(oci::OciRequest),
    GithubRelease(github_release::ReleaseRequest),
    Nodejs(nodejs::NodeRequest),
    Url(url::UrlRequest),
}

#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub kind: Kind,
    pub name: String,
    /// The spec's constraint as written (`latest`, `lts`, a tag, a URL).
    pub requested: String,
    pub detail: Detail,
    /// Platforms the pins must cover.
    pub platforms: Vec<String>,
}

impl Request {
    /// `sha256:` of everything that shapes this request's answer; a lock entry with the
    /// same hash still satisfies the spec.
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("requests serialize");
        format!("sha256:{}", hex::encode(Sha256::digest(json)))
    }

    pub fn key(&self) -> (String, String) {
        (self.kind.as_str().to_string(), self.name.clone())
    }
}

/// A spec part that is parsed and validated but has no resolver yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub part: &'static str,
    pub count: usize,
    pub unit: &'static str,
}

impl fmt::Display for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.count == 1 { "" } else { "s" };
        write!(f, "{} ({} {}{plural})", self.part, self.count, self.unit)
    }
}

pub struct Plan {
    pub requests: Vec<Request>,
    pub pending: Vec<Pending>,
}

impl Plan {
    /// `apt (23 packages), npm (2 tools)`: the parts no resolver handles yet, or `None`.
    pub fn pending_summary(&self) -> Option<String> {
        (!self.pending.is_empty()).then(|| {
            self.pending
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

/// Turn a spec into requests, and list what cannot be resolved yet.
pub fn plan(spec: &Spec) -> Plan {
    let platforms = spec.image.platform_names();
    let mut requests = vec![Request {
        kind: Kind::Oci,
        name: "base".into(),
        requested: spec.base.image.get_ref().clone(),
        detail: Detail::Oci(oci::OciRequest::from_spec(&spec.base)),
        platforms: platforms.clone(),
    }];
    let stages = [&spec.stage_1, &spec.stage_2];
    for stage in stages {
        for (tool, settings) in &stage.tools {
            requests.extend(crate::tools::requests(tool, settings, spec));
        }
        for (name, release) in &stage.release {
            requests.push(Request {
                kind: Kind::GithubRelease,
                name: name.clone(),
                requested: release.version.get_ref().clone(),
                detail: Detail::GithubRelease(github_release::ReleaseRequest::from_spec(release)),
                platforms: platforms.clone(),
            });
        }
        for (name, file) in &stage.url {
            requests.push(Request {
                kind: Kind::Url,
                name: name.clone(),
                requested: file.url.get_ref().clone(),
                detail: Detail::Url(url::UrlRequest::from_spec(file)),
                platforms: platforms.clone(),
            });
        }
    }

    let mut pending = Vec::new();
    let count =
        |f: &dyn Fn(&crate::spec::Stage) -> usize| stages.iter().map(|s| f(s)).sum::<usize>();
    let ssh_server = usize::from(spec.ssh.as_ref().is_some_and(|s| s.enable));
    let apt = count(&|s| s.apt.len()) + ssh_server;
    if apt > 0 {
        pending.push(Pending {
            part: "apt",
            count: apt,
            unit: "package",
        });
    }
    let npm = count(&|s| s.npm_global.len());
    if npm > 0 {
        pending.push(Pending {
            part: "npm",
            count: npm,
            unit: "tool",
        });
    }
    let bun = count(&|s| s.bun_global.len());
    if bun > 0 {
        pending.push(Pending {
            part: "bun globals",
            count: bun,
            unit: "tool",
        });
    }
    let conda = count(&|s| s.pixi_global.len());
    if conda > 0 {
        pending.push(Pending {
            part: "conda",
            count: conda,
            unit: "tool",
        });
    }
    requests.sort_by_key(Request::key);
    Plan { requests, pending }
}

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

/// Which requests an existing lock cannot answer (new, changed, or asked to update).
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

fn still_satisfies(pinned: &Artifact, request: &Request) -> bool {
    pinned.request_hash == request.hash()
        && request
            .platforms
            .iter()
            .all(|p| pinned.pin(p).is_some() || pinned.kind == Kind::Oci.as_str())
}

/// Resolve a plan into a lock. The existing lock's pins are reused where allowed.
pub async fn resolve(
    ctx: &Context,
    plan: &Plan,
    spec_hash: &str,
    existing: Option<&Lock>,
    policy: &UpdatePolicy,
) -> Result<Lock, ResolveFailures> {
    let todo = needs_resolution(plan, existing, policy);
    let todo_keys: BTreeSet<_> = todo.iter().map(|r| r.key()).collect();
    let kept: Vec<Artifact> = plan
        .requests
        .iter()
        .filter(|r| !todo_keys.contains(&r.key()))
        .filter_map(|r| {
            existing
                .and_then(|lock| lock.find(r.kind.as_str(), &r.name))
                .cloned()
        })
        .collect();

    if let Some(reporter) = &ctx.reporter {
        reporter.started(todo.len());
    }
    let results: Vec<Result<Artifact, ResolveError>> = futures_util::stream::iter(todo)
        .map(|request| async move {
            let result = resolve_one(ctx, request).await;
            if let Some(reporter) = &ctx.reporter {
                reporter.finished(request, result.as_ref().ok().map(|a| a.version.as_str()));
            }
            result.map_err(|problem| ResolveError {
                kind: request.kind,
                name: request.name.clone(),
                requested: request.requested.clone(),
                problem,
            })
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut artifacts = kept;
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(artifact) => artifacts.push(artifact),
            Err(err) => failures.push(err),
        }
    }
    if !failures.is_empty() {
        failures.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        return Err(ResolveFailures(failures));
    }
    Ok(Lock::new(spec_hash.to_string(), artifacts))
}

async fn resolve_one(ctx: &Context, request: &Request) -> Result<Artifact, Problem> {
    let mut artifact = match &request.detail {
        Detail::Oci(detail) => oci::resolve(ctx, &request.name, detail).await?,
        Detail::GithubRelease(detail) => {
            github_release::resolve(ctx, &request.name, detail).await?
        }
        Detail::Nodejs(detail) => nodejs::resolve(ctx, &request.name, detail).await?,
        Detail::Url(detail) => url::resolve(ctx, &request.name, detail).await?,
    };
    // The common fields are the driver's business, not each resolver's.
    artifact.kind = request.kind.as_str().to_string();
    artifact.name = request.name.clone();
    artifact.requested = request.requested.clone();
    artifact.request_hash = request.hash();
    Ok(artifact)
}

/// An artifact with the driver-owned fields left empty, for resolvers to fill in.
pub fn artifact(version: impl Into<String>) -> Artifact {
    Artifact {
        kind: String::new(),
        name: String::new(),
        requested: String::new(),
        request_hash: String::new(),
        version: version.into(),
        digest: None,
        images: Vec::new(),
        published: None,
        release_url: None,
        platform: BTreeMap::new(),
        packages: Vec::new(),
    }
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
    Removed {
        kind: String,
        name: String,
        version: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Added {
                kind,
                name,
                version,
            } => write!(f, "{:>12} {kind} {name} {version}", "Adding"),
            Change::Updated {
                kind,
                name,
                from,
                to,
            } => {
                write!(f, "{:>12} {kind} {name} {from} -> {to}", "Updating")
            }
            Change::Rehashed {
                kind,
                name,
                version,
            } => {
                write!(
                    f,
                    "{:>12} {kind} {name} {version} (same version, new hash)",
                    "Rehashing"
                )
            }
            Change::Removed {
                kind,
                name,
                version,
            } => write!(f, "{:>12} {kind} {name} {version}", "Removing"),
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
            Some(old_artifact)
                if old_artifact.platform != new_artifact.platform
                    || old_artifact.digest != new_artifact.digest =>
            {
                out.push(Change::Rehashed {
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
