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
pub mod cache;
pub mod conda;
pub mod github_release;
pub mod hosts;
pub mod nodejs;
pub mod npm;
pub mod oci;
pub mod revalidate;
pub mod sums;
pub mod url;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use crate::lock::Kind;
use crate::lock::{Artifact, ArtifactWire, Lock};
use crate::net::{Client, NetError, Unreachable};
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
    /// npm documents of this run, shared by every npm tool (each fetched once).
    pub npm_documents: npm::SharedDocuments,
    /// conda repodata and base-image glibc of this run, shared by every conda tool.
    pub conda_indexes: conda::SharedIndexes,
    /// Where answers that never go stale are kept between runs (what each layer of a
    /// base says about its dpkg status, apt indices by hash and revalidated `InRelease`
    /// files); `None`: nothing is kept. The CLI sets
    /// [`cache::user_cache_dir`]; tests and library callers choose.
    pub cache: Option<std::path::PathBuf>,
}

/// Progress of a run, for the terminal or a log. Called from the resolving tasks.
pub trait Reporter: Send + Sync {
    /// These requests need the network.
    fn started(&self, requests: &[&Request]);
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
        // Signed apt archives may be plain http (Ubuntu's own are): their Release is
        // signature-checked and every index and .deb hash-checked against it. Unsigned
        // (`trusted`) archives get no such allowance.
        let mut insecure_hosts = sources.insecure_hosts();
        for archive in apt_archives(spec).iter().filter(|a| !a.trusted) {
            for uri in &archive.uris {
                if let Ok(url) = ::url::Url::parse(uri)
                    && url.scheme() == "http"
                    && let Some(host) = url.host_str()
                {
                    insecure_hosts.push(match url.port() {
                        Some(port) => format!("{host}:{port}"),
                        None => host.to_string(),
                    });
                }
            }
        }
        let platforms = spec
            .image
            .platform_names()
            .iter()
            .map(|p| Platform::parse(p).expect("validated with the spec"))
            .collect();
        Context {
            github_token,
            ..Context::with_client(Client::new(offline, insecure_hosts), sources, platforms)
        }
    }

    /// A context around a given client, for `platforms`: no token, no reporter, no cache
    /// directory, and this run's shared state fresh (what tests, benchmarks and library
    /// callers start from; set `cache` to keep answers in a directory of their own).
    pub fn with_client(client: Client, sources: Sources, platforms: Vec<Platform>) -> Context {
        Context {
            client,
            sources,
            platforms,
            github_token: None,
            reporter: None,
            npm_documents: npm::SharedDocuments::default(),
            conda_indexes: conda::SharedIndexes::default(),
            cache: None,
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

/// A resolution failure, naming the artifact and its constraint (left out when the
/// problem already shows it, as a `url` artifact's URL: each thing is said once).
#[derive(Debug, thiserror::Error)]
pub struct ResolveError {
    pub kind: Kind,
    pub name: String,
    pub requested: String,
    pub problem: Problem,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problem = self.problem.to_string();
        write!(f, "cannot resolve {} `{}`", self.kind, self.name)?;
        // A `url` artifact asks for a URL the problem names already.
        let url_in_problem = self.requested.contains("://") && problem.contains(&self.requested);
        if !url_in_problem {
            write!(f, " ({})", self.requested)?;
        }
        write!(f, ": {problem}")
    }
}

impl ResolveError {
    /// Why the network refused this artifact, when another attempt could not help.
    pub fn unreachable(&self) -> Option<Unreachable> {
        match &self.problem {
            Problem::Net(NetError::Unreachable { cause, .. }) => Some(*cause),
            problem => Unreachable::named_in(&problem.to_string()),
        }
    }
}

/// All failures of one run, sorted, so the report is stable. When most of them are the
/// same network failure, the report ends with one line naming it and what to do.
#[derive(Debug)]
pub struct ResolveFailures(pub Vec<ResolveError>);

impl ResolveFailures {
    /// The network failure shared by more than half of the failures, with its count.
    pub fn common_cause(&self) -> Option<(Unreachable, usize)> {
        let mut counts: BTreeMap<Unreachable, usize> = BTreeMap::new();
        for failure in &self.0 {
            if let Some(cause) = failure.unreachable() {
                *counts.entry(cause).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .max_by_key(|(_, count)| *count)
            .filter(|(_, count)| *count * 2 > self.0.len())
    }
}

impl fmt::Display for ResolveFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, failure) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            // Problems quote upstream text; none of it may drive the terminal.
            write!(
                f,
                "{}",
                crate::lock::values::escape_message(&failure.to_string())
            )?;
        }
        if let Some((cause, count)) = self.common_cause() {
            let likely = match cause {
                Unreachable::HostNotFound => {
                    "this machine is offline or resolves names only through a proxy"
                }
                Unreachable::NoRoute => {
                    "this machine is offline or reaches the internet only through a proxy"
                }
                Unreachable::ConnectionRefused => {
                    "a firewall or a proxy stands between this machine and the upstreams"
                }
                Unreachable::Certificate => {
                    "a proxy intercepts TLS, or the upstream's certificate is wrong"
                }
            };
            write!(
                f,
                "\n{count} of {} failed with `{cause}`: likely {likely}. Set HTTPS_PROXY for a proxy, \
                 or point `lock` at mirrors with `--sources FILE` or MODELBENCH_SOURCES \
                 (README, \"Mirrors and proxies\").",
                self.0.len()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ResolveFailures {}

/// The per-kind part of a request.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Detail {
    Apt(apt::AptRequest),
    Conda(conda::CondaRequest),
    Oci(oci::OciRequest),
    GithubRelease(github_release::ReleaseRequest),
    Nodejs(nodejs::NodeRequest),
    Npm(npm::NpmRequest),
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

pub struct Plan {
    pub requests: Vec<Request>,
}

impl Plan {
    /// The spec's request for the lock entry `kind` `name`, if the spec makes one.
    pub fn request(&self, kind: Kind, name: &str) -> Option<&Request> {
        self.requests
            .iter()
            .find(|r| r.kind == kind && r.name == name)
    }
}

/// Turn a spec into requests, one per artifact.
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

    requests.extend(apt_requests(spec, &platforms));
    requests.extend(npm_requests(spec, &platforms));
    requests.extend(conda_requests(spec, &platforms));

    requests.sort_by_key(Request::key);
    Plan { requests }
}

/// One request per npm or bun global CLI, named by its package (the spec makes sure a
/// package is listed once). Both installers share one resolver: bun installs the same
/// closure from a `bun.lock` generated from it.
fn npm_requests(spec: &Spec, platforms: &[String]) -> Vec<Request> {
    let mut requests = Vec::new();
    for stage in [&spec.stage_1, &spec.stage_2] {
        for (installer, globals) in [
            (npm::Installer::Npm, &stage.npm_global),
            (npm::Installer::Bun, &stage.bun_global),
        ] {
            for (package, range) in globals {
                requests.push(Request {
                    kind: Kind::Npm,
                    name: package.clone(),
                    requested: range.get_ref().clone(),
                    detail: Detail::Npm(npm::NpmRequest {
                        package: package.clone(),
                        range: range.get_ref().trim().to_string(),
                        installer,
                        mirror: spec
                            .mirrors
                            .npm
                            .as_ref()
                            .map(|m| m.trim_end_matches('/').to_string()),
                    }),
                    platforms: platforms.to_vec(),
                });
            }
        }
    }
    requests
}

/// What the base image has installed (`[apt] status`): a status file, `empty`, or by
/// default the base image's own dpkg status. apt solves on top of it; conda reads the
/// image's glibc from it.
fn base_status(spec: &Spec) -> apt::StatusSource {
    match spec.apt.status.as_ref().map(|s| s.get_ref().as_str()) {
        Some("empty") => apt::StatusSource::Empty,
        Some(path) => apt::StatusSource::File {
            path: path.to_string(),
            // Unreadable: resolution reports the read error.
            sha256: std::fs::read(spec.dir.join(path))
                .map(|bytes| hex::encode(Sha256::digest(bytes)))
                .unwrap_or_default(),
        },
        None => apt::StatusSource::BaseImage {
            image: spec.base.image.get_ref().clone(),
            mirror: spec.base.registry_mirror.clone(),
        },
    }
}

/// The apt packages of each stage, as the spec lists them: stage 1 gets
/// `openssh-server` when the SSH server is enabled.
pub fn apt_packages(spec: &Spec) -> [Vec<String>; 2] {
    let entries = |stage: &crate::spec::Stage| -> Vec<String> {
        stage
            .apt
            .iter()
            .map(|p| p.get_ref().trim().to_string())
            .collect()
    };
    let mut stage_1 = entries(&spec.stage_1);
    if spec.ssh.as_ref().is_some_and(|s| s.enable) && !stage_1.iter().any(|p| p == "openssh-server")
    {
        stage_1.push("openssh-server".to_string());
    }
    [stage_1, entries(&spec.stage_2)]
}

/// One conda request per `pixi-global` entry (pixi global makes one environment per
/// tool), named by the tool: its match spec's package name.
fn conda_requests(spec: &Spec, platforms: &[String]) -> Vec<Request> {
    let mirror = spec
        .mirrors
        .conda
        .as_deref()
        .map(crate::spec::mirror_urls::conda);
    [&spec.stage_1, &spec.stage_2]
        .iter()
        .flat_map(|stage| &stage.pixi_global)
        .map(|entry| {
            let text = entry.get_ref().trim().to_string();
            Request {
                kind: Kind::Conda,
                name: conda_tool_name(&text),
                requested: text.clone(),
                detail: Detail::Conda(conda::CondaRequest {
                    spec: text,
                    channel: "conda-forge".to_string(),
                    mirror: mirror.clone(),
                    glibc: None,
                    status: Some(base_status(spec)),
                    dir: spec.dir.clone(),
                    linux: conda::DEFAULT_LINUX.to_string(),
                }),
                platforms: platforms.to_vec(),
            }
        })
        .collect()
}

/// The environment name of a `pixi-global` entry: the package its match spec names
/// (`yq >=4` → `yq`), as `pixi global install` names it.
pub fn conda_tool_name(entry: &str) -> String {
    match conda::solve::parse_spec(entry) {
        Ok(spec) => spec
            .name
            .as_exact()
            .map(|n| n.as_normalized().to_string())
            .unwrap_or_else(|| entry.to_string()),
        // Resolution reports the parse error, naming the entry.
        Err(_) => conda::repodata::dependency_name(entry).to_string(),
    }
}

/// One apt request per stage with packages (`stage-1`, `stage-2`). Stage 2 is solved
/// together with stage 1's list (`earlier`) so both closures are consistent, and locks
/// only what stage 1 does not already install.
fn apt_requests(spec: &Spec, platforms: &[String]) -> Vec<Request> {
    let [stage_1, stage_2] = apt_packages(spec);
    let archives = apt_archives(spec);
    let status = base_status(spec);
    let mut requests = Vec::new();
    for (name, packages, earlier) in [
        ("stage-1", &stage_1, &Vec::new()),
        ("stage-2", &stage_2, &stage_1),
    ] {
        if packages.is_empty() {
            continue;
        }
        requests.push(Request {
            kind: Kind::Apt,
            name: name.to_string(),
            requested: packages.join(", "),
            detail: Detail::Apt(apt::AptRequest {
                packages: packages.clone(),
                recommends: spec.apt.recommends,
                archives: archives.clone(),
                status: status.clone(),
                earlier: earlier.clone(),
                dir: spec.dir.clone(),
            }),
            platforms: platforms.to_vec(),
        });
    }
    requests
}

/// The spec's `[[apt.archives]]`, else Ubuntu noble for the base: the `[mirrors] apt`
/// mirror first, then archive.ubuntu.com (amd64) or ports.ubuntu.com (arm64); security
/// updates from security.ubuntu.com.
fn apt_archives(spec: &Spec) -> Vec<apt::Archive> {
    if !spec.apt.archives.is_empty() {
        return spec
            .apt
            .archives
            .iter()
            .map(|a| apt::Archive {
                uris: a.uris.iter().map(|u| u.get_ref().clone()).collect(),
                suites: a.suites.iter().map(|s| s.get_ref().clone()).collect(),
                components: a.components.clone(),
                signed_by: if a.signed_by.is_empty() && !a.trusted {
                    // No `signed-by`: any shipped archive key, as apt takes any key of
                    // `trusted.gpg.d` for a source without one.
                    apt::keys::BuiltinKeyring::ALL
                        .iter()
                        .map(|k| k.reference())
                        .collect()
                } else {
                    a.signed_by.iter().map(|k| k.get_ref().clone()).collect()
                },
                trusted: a.trusted,
                architectures: a.architectures.clone(),
                snapshot: a.snapshot.as_ref().map(|s| apt::Snapshot {
                    base: s.base.as_ref().map(|b| b.get_ref().clone()),
                    timestamp: s.timestamp.as_ref().map(|t| t.get_ref().clone()),
                }),
                priority: None,
            })
            .collect();
    }
    let keyring = spec
        .apt
        .keyring
        .as_ref()
        .map(|k| k.get_ref().clone())
        .unwrap_or_else(|| apt::keys::BuiltinKeyring::UbuntuArchive.reference());
    let components: Vec<String> = ["main", "restricted", "universe", "multiverse"]
        .map(String::from)
        .to_vec();
    let mirror = spec
        .mirrors
        .apt
        .as_deref()
        .map(crate::spec::mirror_urls::apt);
    let archive = |uris: Vec<String>, suites: &[&str], arch: &str, snapshot: &str| apt::Archive {
        uris,
        suites: suites.iter().map(|s| s.to_string()).collect(),
        components: components.clone(),
        signed_by: vec![keyring.clone()],
        trusted: false,
        architectures: vec![arch.to_string()],
        snapshot: Some(apt::Snapshot {
            base: Some(snapshot.to_string()),
            timestamp: None,
        }),
        priority: None,
    };
    let mut archives = Vec::new();
    for (arch, canonical, security, snapshot) in [
        (
            "amd64",
            "http://archive.ubuntu.com/ubuntu",
            "http://security.ubuntu.com/ubuntu",
            "https://snapshot.ubuntu.com/ubuntu",
        ),
        (
            "arm64",
            "http://ports.ubuntu.com/ubuntu-ports",
            "http://ports.ubuntu.com/ubuntu-ports",
            "https://snapshot.ubuntu.com/ubuntu-ports",
        ),
    ] {
        let mut uris: Vec<String> = mirror
            .as_ref()
            .map(|(ubuntu, ports)| if arch == "amd64" { ubuntu } else { ports })
            .map(|m| m.trim_end_matches('/').to_string())
            .into_iter()
            .collect();
        uris.push(canonical.to_string());
        archives.push(archive(
            uris,
            &["noble", "noble-updates", "noble-backports"],
            arch,
            snapshot,
        ));
        archives.push(archive(
            vec![security.to_string()],
            &["noble-security"],
            arch,
            snapshot,
        ));
    }
    archives
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
        reporter.started(&todo);
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
    let spec_hash = crate::lock::values::OneLine::parse("spec-hash", spec_hash)
        .expect("the spec hash is a sha256 digest");
    Ok(Lock::new(spec_hash, artifacts))
}

async fn resolve_one(ctx: &Context, request: &Request) -> Result<Artifact, Problem> {
    let mut wire = match &request.detail {
        Detail::Apt(detail) => apt::resolve(ctx, &request.name, detail).await?,
        Detail::Conda(detail) => conda::resolve(ctx, &request.name, detail).await?,
        Detail::Oci(detail) => oci::resolve(ctx, &request.name, detail).await?,
        Detail::GithubRelease(detail) => {
            github_release::resolve(ctx, &request.name, detail).await?
        }
        Detail::Nodejs(detail) => nodejs::resolve(ctx, &request.name, detail).await?,
        Detail::Npm(detail) => npm::resolve(ctx, &request.name, detail).await?,
        Detail::Url(detail) => url::resolve(ctx, &request.name, detail).await?,
    };
    // The common fields are the driver's business, not each resolver's.
    wire.kind = request.kind;
    wire.name = request.name.clone();
    wire.requested = request.requested.clone();
    wire.request_hash = request.hash();
    wire.strip_credentials();
    // Every value the upstream sent, against its grammar, before anything is locked:
    // the typed entry exists only if each one passes.
    let artifact = Artifact::try_from(&wire).map_err(|err| {
        Problem::msg(format!(
            "{} sent a value modelbench refuses to lock: {err}",
            upstream_of(ctx, request)
        ))
    })?;
    if let Some(url) = plain_http_not_allowed(ctx, &artifact) {
        return Err(Problem::msg(format!(
            "{} sent a plain-http URL for a host the sources file does not name as http: `{}`",
            upstream_of(ctx, request),
            crate::net::redact(url)
        )));
    }
    Ok(artifact)
}

/// A locked `http://` URL whose host was not allowed plain http (by the sources file),
/// if any: the build would fetch it unencrypted. apt is exempt: its archives' `Release`
/// is signature-checked and every `.deb` hash-checked against it (snapshot URLs come
/// from that signed file too).
fn plain_http_not_allowed<'a>(ctx: &Context, artifact: &'a Artifact) -> Option<&'a str> {
    let exempt = match artifact.kind {
        Kind::Apt => true,
        Kind::Conda | Kind::Oci | Kind::GithubRelease | Kind::Nodejs | Kind::Npm | Kind::Url => {
            false
        }
    };
    if exempt {
        return None;
    }
    artifact
        .platform
        .values()
        .flat_map(|pin| &pin.urls)
        .chain(artifact.packages.iter().flat_map(|p| &p.urls))
        .map(|url| url.as_str())
        .find(|url| url.starts_with("http://") && !ctx.client.allows_plain_http(url))
}

/// The upstream a request's values came from, for messages (credentials redacted).
fn upstream_of(ctx: &Context, request: &Request) -> String {
    let redact = crate::net::redact;
    match &request.detail {
        Detail::Apt(detail) => {
            let uris: Vec<String> = detail
                .archives
                .iter()
                .flat_map(|a| &a.uris)
                .map(|u| redact(u))
                .collect();
            format!("the apt archive ({})", uris.join(", "))
        }
        Detail::Conda(detail) => format!(
            "the conda channel {}/{}",
            redact(&ctx.sources.upstream("conda")),
            detail.channel
        ),
        Detail::Oci(detail) => format!("the registry of `{}`", detail.image),
        Detail::GithubRelease(detail) => format!(
            "the GitHub API ({}) for `{}`",
            redact(&ctx.sources.upstream("github-api")),
            detail.repo
        ),
        Detail::Nodejs(_) => format!(
            "the Node.js dist ({})",
            redact(&ctx.sources.upstream("nodejs"))
        ),
        Detail::Npm(detail) => format!(
            "the npm registry ({})",
            redact(
                detail
                    .mirror
                    .as_deref()
                    .unwrap_or(&ctx.sources.upstream("npm"))
            )
        ),
        Detail::Url(detail) => redact(&detail.url),
    }
}

/// An entry of `kind` in its on-disk form with the driver-owned fields left empty, for
/// resolvers to fill in; the driver checks every value when it types the entry.
pub fn artifact(kind: Kind, version: impl Into<String>) -> ArtifactWire {
    ArtifactWire::new(kind, version)
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
                version: new_artifact.version.to_string(),
            }),
            Some(old_artifact) if old_artifact.version != new_artifact.version => {
                out.push(Change::Updated {
                    kind,
                    name,
                    from: old_artifact.version.to_string(),
                    to: new_artifact.version.to_string(),
                })
            }
            Some(old_artifact)
                if old_artifact.platform != new_artifact.platform
                    || old_artifact.digest != new_artifact.digest =>
            {
                out.push(Change::Rehashed {
                    kind,
                    name,
                    version: new_artifact.version.to_string(),
                })
            }
            Some(old_artifact) if old_artifact.packages != new_artifact.packages => {
                out.push(Change::Members {
                    kind,
                    name,
                    version: new_artifact.version.to_string(),
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
                version: old_artifact.version.to_string(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn signed_apt_archives_may_be_plain_http_nothing_else() {
        let spec: Spec = toml::from_str(
            "[image]\nname = \"x\"\ntag = \"t\"\nplatforms = [\"linux/amd64\"]\n[base]\nimage = \"ubuntu:24.04\"\n",
        )
        .unwrap();
        let ctx = Context::new(&spec, Sources::default(), true, None);
        assert!(
            ctx.client
                .allows_plain_http("http://archive.ubuntu.com/ubuntu/dists/noble/InRelease")
        );
        assert!(
            ctx.client
                .allows_plain_http("http://security.ubuntu.com/ubuntu/pool/x.deb")
        );
        assert!(!ctx.client.allows_plain_http("http://api.github.com/repos"));
        assert!(!ctx.client.allows_plain_http("http://example.com/x"));
    }

    use super::*;

    fn plan_of(extra: &str) -> Plan {
        let text = format!(
            "[image]\nname = \"x\"\ntag = \"t\"\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n\n\
             [base]\nimage = \"nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04\"\n{extra}"
        );
        let spec = crate::spec::LoadedSpec::from_str(std::path::Path::new("specs/x.toml"), &text)
            .unwrap_or_else(|err| panic!("{err}"));
        plan(&spec.spec)
    }

    fn apt_detail<'a>(plan: &'a Plan, name: &str) -> &'a apt::AptRequest {
        let request = plan
            .requests
            .iter()
            .find(|r| r.kind == Kind::Apt && r.name == name)
            .unwrap_or_else(|| panic!("no apt request {name}"));
        match &request.detail {
            Detail::Apt(detail) => detail,
            _ => unreachable!(),
        }
    }

    #[test]
    fn apt_requests_per_stage_with_ubuntu_defaults_behind_the_mirror() {
        let plan = plan_of(
            "[mirrors]\napt = \"tuna\"\n[apt]\nrecommends = false\nstatus = \"empty\"\n\
             [ssh]\nhost-port = \"2222\"\n\
             [stage-1]\napt = [\"nano\", \"libgl1-mesa-glx | libgl1\"]\n\
             [stage-2]\napt = [\"tmux\"]\n",
        );
        let one = apt_detail(&plan, "stage-1");
        assert_eq!(
            one.packages,
            ["nano", "libgl1-mesa-glx | libgl1", "openssh-server"]
        );
        assert!(!one.recommends);
        assert!(one.earlier.is_empty());
        assert_eq!(one.status, apt::StatusSource::Empty);
        let amd64 = &one.archives[0];
        assert_eq!(
            amd64.uris,
            [
                "https://mirrors.tuna.tsinghua.edu.cn/ubuntu",
                "http://archive.ubuntu.com/ubuntu"
            ]
        );
        assert_eq!(amd64.suites, ["noble", "noble-updates", "noble-backports"]);
        assert_eq!(
            amd64.components,
            ["main", "restricted", "universe", "multiverse"]
        );
        assert_eq!(one.archives[1].uris, ["http://security.ubuntu.com/ubuntu"]);
        assert_eq!(one.archives[1].suites, ["noble-security"]);
        assert_eq!(
            one.archives[2].uris,
            [
                "https://mirrors.tuna.tsinghua.edu.cn/ubuntu-ports",
                "http://ports.ubuntu.com/ubuntu-ports"
            ]
        );
        assert_eq!(one.archives[2].architectures, ["arm64"]);
        // Ubuntu's archives are checked with the shipped Ubuntu keyring, never a host file.
        for archive in &one.archives {
            assert_eq!(archive.signed_by, ["builtin:ubuntu-archive-keyring"]);
        }
        let two = apt_detail(&plan, "stage-2");
        assert_eq!(two.packages, ["tmux"]);
        assert_eq!(two.earlier, one.packages);
    }

    #[test]
    fn conda_requests_one_per_pixi_global_tool_named_by_its_package() {
        let plan = plan_of(
            "[mirrors]\nconda = \"tuna\"\n[[users]]\nname = \"peid\"\nuid = 3100\ngid = 1100\n\
             [stage-2]\ntools.pixi = { version = \"latest\", user = \"peid\" }\n\
             pixi-global = [\"jq\", \"yq >=4\"]\n",
        );
        let conda: Vec<&Request> = plan
            .requests
            .iter()
            .filter(|r| r.kind == Kind::Conda)
            .collect();
        let names: Vec<(&str, &str)> = conda
            .iter()
            .map(|r| (r.name.as_str(), r.requested.as_str()))
            .collect();
        assert_eq!(names, [("jq", "jq"), ("yq", "yq >=4")]);
        let Detail::Conda(detail) = &conda[1].detail else {
            unreachable!()
        };
        assert_eq!(detail.spec, "yq >=4");
        assert_eq!(detail.channel, "conda-forge");
        assert_eq!(
            detail.mirror.as_deref(),
            Some("https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge")
        );
        assert!(matches!(
            detail.status,
            Some(apt::StatusSource::BaseImage { .. })
        ));
        assert_eq!(conda[0].platforms, ["linux/amd64", "linux/arm64"]);
    }

    #[test]
    fn apt_archives_from_the_spec_and_the_base_image_status_by_default() {
        let plan = plan_of(
            "[[apt.archives]]\nuris = [\"https://deb.example/debian\"]\nsuites = [\"bookworm\"]\n\
             components = [\"main\"]\nsigned-by = [\"keys/archive.gpg\"]\n\
             snapshot = { base = \"https://snapshot.example/debian\", timestamp = \"20260701T000000Z\" }\n\
             [stage-2]\napt = [\"git\"]\n",
        );
        assert!(plan.requests.iter().all(|r| r.name != "stage-1"));
        let two = apt_detail(&plan, "stage-2");
        assert!(two.earlier.is_empty());
        assert_eq!(two.archives.len(), 1);
        assert_eq!(two.archives[0].signed_by, ["keys/archive.gpg"]);
        assert_eq!(two.dir, std::path::Path::new("specs"));
        assert_eq!(
            two.archives[0]
                .snapshot
                .as_ref()
                .unwrap()
                .timestamp
                .as_deref(),
            Some("20260701T000000Z")
        );
        assert!(matches!(two.status, apt::StatusSource::BaseImage { .. }));

        // An archive without `signed-by` (and not `trusted`) takes any shipped keyring, as
        // apt takes any key of `trusted.gpg.d`; a `trusted` one takes none.
        let plan = plan_of(
            "[[apt.archives]]\nuris = [\"https://deb.example/debian\"]\nsuites = [\"trixie\"]\n\
             components = [\"main\"]\n\
             [[apt.archives]]\nuris = [\"https://deb.example/local\"]\nsuites = [\"/\"]\n\
             trusted = true\n[stage-2]\napt = [\"git\"]\n",
        );
        let two = apt_detail(&plan, "stage-2");
        assert_eq!(
            two.archives[0].signed_by,
            [
                "builtin:ubuntu-archive-keyring",
                "builtin:debian-archive-keyring"
            ]
        );
        assert!(two.archives[1].signed_by.is_empty());
    }
}
