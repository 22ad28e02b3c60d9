//! The driver: keeps the pins of an existing lock that still answer their request (as
//! cargo does), resolves the rest concurrently, checks what every upstream sent, and sorts
//! the result so the lock's bytes never depend on which request finished first.

use std::collections::BTreeSet;

use futures_util::StreamExt;

use crate::lock::provenance::{Source, SpecKeyPath};
use crate::lock::{Artifact, ArtifactWire, Kind, Lock};

use super::context::Context;
use super::error::{Problem, ResolveError, ResolveFailures};
use super::request::{Detail, Plan, Request};
use super::{
    UpdatePolicy, apt, conda, git, github_release, needs_resolution, nodejs, npm, oci, url,
};

/// How many requests run at once (per-host limits in [`crate::net::Client`] apply on top).
const CONCURRENCY: usize = 16;

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
    let mut kept: Vec<Artifact> = Vec::new();
    let mut failures = Vec::new();
    for r in plan
        .requests
        .iter()
        .filter(|r| !todo_keys.contains(&r.key()))
    {
        let Some(mut pinned) = existing
            .and_then(|lock| lock.find(r.kind.as_str(), &r.name))
            .cloned()
        else {
            continue;
        };
        // A kept pin answers the same request; where it sits in the spec may have
        // moved, and a format 1 lock has no provenance yet (this migrates it).
        match stamp_provenance(&mut pinned, r) {
            Ok(()) => kept.push(pinned),
            Err(problem) => failures.push(ResolveError {
                kind: r.kind,
                name: r.name.clone(),
                requested: r.requested.clone(),
                problem,
            }),
        }
    }

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
        Detail::Git(detail) => git::resolve(ctx, &request.name, detail).await?,
    };
    // The common fields are the driver's business, not each resolver's.
    wire.kind = request.kind;
    wire.name = request.name.clone();
    wire.requested = request.requested.clone();
    wire.request_hash = request.hash();
    wire.source = request.detail.source();
    wire.origin = Some(request.origin.path.clone());
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

/// What the lock keeps about where an entry comes from (`lock::provenance`); a resolved
/// entry gets the same in its wire form (`resolve_one`).
fn stamp_provenance(artifact: &mut Artifact, request: &Request) -> Result<(), Problem> {
    let refused = |err| Problem::msg(format!("the spec asks for a value the lock refuses: {err}"));
    artifact.source = request
        .detail
        .source()
        .map(|source| Source::parse(request.kind, &source))
        .transpose()
        .map_err(refused)?;
    artifact.origin = Some(SpecKeyPath::parse(&request.origin.path).map_err(refused)?);
    Ok(())
}

/// A locked `http://` URL whose host was not allowed plain http (by the sources file),
/// if any: the build would fetch it unencrypted. apt is exempt: its archives' `Release`
/// is signature-checked and every `.deb` hash-checked against it (snapshot URLs come
/// from that signed file too).
fn plain_http_not_allowed<'a>(ctx: &Context, artifact: &'a Artifact) -> Option<&'a str> {
    let exempt = match artifact.kind {
        Kind::Apt => true,
        Kind::Conda
        | Kind::Oci
        | Kind::GithubRelease
        | Kind::Nodejs
        | Kind::Npm
        | Kind::Url
        | Kind::Git => false,
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
        Detail::Git(detail) => git::upstream(ctx, detail),
    }
}

/// An entry of `kind` in its on-disk form with the driver-owned fields left empty, for
/// resolvers to fill in; the driver checks every value when it types the entry.
pub fn artifact(kind: Kind, version: impl Into<String>) -> ArtifactWire {
    ArtifactWire::new(kind, version)
}
