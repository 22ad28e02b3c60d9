//! `modelbench verify`: does every locked URL still serve the locked bytes?
//!
//! Upstreams rot: NVIDIA deletes end-of-life CUDA tags, archives drop old `.deb`s, a
//! mirror falls behind. `verify` asks every URL of the lock (or of a deterministic sample
//! of its artifacts): an OCI pin with a `HEAD` of its manifest by digest, compared with
//! `Docker-Content-Digest` (a `GET` hashed when the registry sends no digest); a file by
//! downloading and hashing it, streaming, through the one [`Client`]. It reports every
//! artifact with a URL that no longer serves its bytes and which of its URLs still do,
//! and fails (exit 1) when some file of an artifact has no working URL left. Fit for a
//! scheduled CI job: read-only, and the lock is the only input that matters.
//!
//! `--against-upstream` asks another question, for a lock in a pull request: is every
//! pin what its upstream says for the same version ([`crate::against_upstream`])?

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::lock::{Artifact, Kind, Lock};
use crate::net::{Client, DOCUMENT_LIMIT, Hash, NetError};
use crate::sources::Sources;
use crate::spec::LoadedSpec;
use crate::workspace::{OutputArgs, Progress, SpecArgs};

/// How many URLs are checked at once (the client's per-host limits apply on top).
const CONCURRENCY: usize = 8;
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// A sources file (see README "Sources file"); its plain-http base URLs are the hosts
    /// whose http URLs in the lock may be fetched.
    #[arg(long, env = "MODELBENCH_SOURCES")]
    pub sources: Option<PathBuf>,
    /// Check only N artifacts, chosen deterministically from the lock's content.
    #[arg(long, value_name = "N", conflicts_with = "against_upstream")]
    pub sample: Option<usize>,
    /// Instead of fetching the locked URLs, resolve every entry again at its locked
    /// version and fail when a URL, hash, size or member differs from what the upstream
    /// says (for a lock in a pull request; see README "verify").
    #[arg(long)]
    pub against_upstream: bool,
    /// `--json` prints one document (schema `modelbench-verify/1`) instead of lines;
    /// `--quiet` prints only the artifacts with a problem.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// One thing an artifact promises: a file (or manifest) with a hash, and where it is.
#[derive(Debug, Clone)]
struct Unit {
    /// `linux/amd64`, `all`, `index`, or a closure member's name and version.
    label: String,
    expected: Hash,
    size: Option<u64>,
    manifest: bool,
    urls: Vec<String>,
}

/// The outcome of asking one URL for one unit's bytes.
type Answer = std::result::Result<(), String>;

pub fn run(args: VerifyArgs) -> Result<()> {
    let spec = LoadedSpec::load(&args.spec.spec_path()?)?;
    let lock_path = args.spec.lock_path(&spec);
    let (_, lock) = Lock::read_required(&lock_path)?;
    if lock.spec_hash != spec.hash {
        eprintln!(
            "warning: the lock {} was made for another version of {}; verifying what it pins",
            lock_path.display(),
            spec.path.display()
        );
    }
    // Still verified (the URLs are what they are), but `lock --check` and `emit` refuse it.
    for artifact in &lock.artifacts {
        if let Err(edited) = artifact.check_checksum() {
            eprintln!("warning: {edited}");
        }
    }
    let sources = Sources::load_optional(args.sources.as_deref())?;
    // A URL on a host nothing names is not fetched at all, not even to verify it.
    let unnamed =
        crate::resolve::hosts::unnamed_hosts(&crate::resolve::plan(&spec.spec), &sources, &lock);
    if !unnamed.is_empty() {
        bail!(
            "the lock {} cannot be trusted:\n  {}",
            lock_path.display(),
            unnamed.join("\n  ")
        );
    }
    if args.against_upstream {
        return crate::against_upstream::run(&spec, &lock, &lock_path, sources, &args.output);
    }
    let client = Client::new(false, sources.insecure_hosts());

    let chosen = sample(&lock, args.sample);
    let plan: Vec<(&Artifact, Vec<Unit>)> = chosen.iter().map(|a| (*a, units(a))).collect();
    let urls: usize = plan
        .iter()
        .flat_map(|(_, units)| units)
        .map(|u| u.urls.len())
        .sum();
    // The report goes to stdout unless --json asks for one document there instead;
    // --quiet keeps only the artifacts with a problem. Progress goes to stderr.
    let json = args.output.json;
    let quiet = args.output.quiet;
    let say = |text: String| {
        if !json && !quiet {
            println!("{text}");
        }
    };
    let problem = |text: String| {
        if !json {
            println!("{text}");
        }
    };
    if args.output.verbose {
        crate::net::set_verbose(true);
    }
    let progress = Progress::new(!json && !quiet, args.output.verbose);
    say(format!(
        "Verifying {} of {} artifact(s) in {} ({urls} URL(s))",
        chosen.len(),
        lock.artifacts.len(),
        lock_path.display()
    ));
    let mut report = Vec::new();

    let runtime = crate::runtime::start()?;
    let answers = runtime.block_on(check_all(&client, &plan, &progress));

    let mut broken = Vec::new();
    let mut rotted = 0;
    for (artifact, units) in &plan {
        let title = format!("{} {} {}", artifact.kind, artifact.name, artifact.version);
        let mut lines = String::new();
        let mut artifact_broken = false;
        let mut problems = Vec::new();
        for unit in units {
            let results: Vec<(&String, &Answer)> = unit
                .urls
                .iter()
                .map(|url| (url, &answers[&(url.clone(), unit.expected.clone())]))
                .collect();
            let failed: Vec<_> = results.iter().filter(|(_, a)| a.is_err()).collect();
            if failed.is_empty() {
                continue;
            }
            let working: Vec<String> = results
                .iter()
                .filter(|(_, a)| a.is_ok())
                .map(|(url, _)| crate::net::redact(url))
                .collect();
            for (url, answer) in &failed {
                problems.push(serde_json::json!({
                    "unit": unit.label,
                    "url": crate::net::redact(url),
                    "error": answer.as_ref().err(),
                    "still_served_by": working,
                }));
                let _ = writeln!(
                    lines,
                    "    {}: {}: {}",
                    unit.label,
                    crate::net::redact(url),
                    answer
                        .as_ref()
                        .err()
                        .map(String::as_str)
                        .unwrap_or_default()
                );
            }
            if working.is_empty() {
                artifact_broken = true;
                let _ = writeln!(lines, "    {}: no URL serves {}", unit.label, unit.expected);
            } else {
                let _ = writeln!(
                    lines,
                    "    {}: still served by {}",
                    unit.label,
                    working.join(", ")
                );
            }
        }
        let status = if lines.is_empty() {
            say(format!("{:>12} {title}", "ok"));
            "ok"
        } else if artifact_broken {
            problem(format!("{:>12} {title}\n{}", "BROKEN", lines.trim_end()));
            broken.push(format!("{} `{}`", artifact.kind, artifact.name));
            "broken"
        } else {
            rotted += 1;
            problem(format!("{:>12} {title}\n{}", "rotted", lines.trim_end()));
            "rotted"
        };
        report.push(serde_json::json!({
            "kind": artifact.kind,
            "name": artifact.name,
            "version": artifact.version,
            "status": status,
            "problems": problems,
        }));
    }
    say(format!(
        "Verified {} artifact(s): {} ok, {rotted} rotted but still served, {} with no working URL",
        plan.len(),
        plan.len() - rotted - broken.len(),
        broken.len()
    ));
    if json {
        let document = serde_json::json!({
            "schema": "modelbench-verify/1",
            "lock": lock_path.display().to_string(),
            "checked": plan.len(),
            "of": lock.artifacts.len(),
            "ok": plan.len() - rotted - broken.len(),
            "rotted": rotted,
            "broken": broken.len(),
            "artifacts": report,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&document).expect("JSON values serialize")
        );
    }
    if !broken.is_empty() {
        bail!(
            "{} artifact(s) of {} have no working URL: {}",
            broken.len(),
            lock_path.display(),
            broken.join(", ")
        );
    }
    Ok(())
}

/// The artifacts to check: all of them, or `n` chosen by a hash of the lock's content, so
/// the same lock always gives the same sample.
fn sample(lock: &Lock, n: Option<usize>) -> Vec<&Artifact> {
    let mut all: Vec<&Artifact> = lock.artifacts.iter().collect();
    let Some(n) = n else {
        return all;
    };
    all.sort_by_cached_key(|a| {
        Sha256::digest(format!("{}\n{}\n{}", lock.spec_hash, a.kind, a.name).as_bytes())
    });
    all.truncate(n);
    all.sort_by_key(|a| a.key());
    all
}

/// What an artifact promises, unit by unit.
fn units(artifact: &Artifact) -> Vec<Unit> {
    match artifact.kind {
        Kind::Oci => return oci_units(artifact),
        // Files by platform, then closure members, whichever the entry has.
        Kind::Apt | Kind::Conda | Kind::GithubRelease | Kind::Nodejs | Kind::Npm | Kind::Url => {}
        // A commit is not downloaded into the image: `verify --against-upstream` asks
        // the repository whether the ref still names it.
        Kind::Git => return Vec::new(),
    }
    let mut units: Vec<Unit> = artifact
        .platform
        .iter()
        .map(|(platform, pin)| Unit {
            label: format!("{platform} {}", pin.file),
            expected: pin.hash.clone(),
            size: pin.size,
            manifest: false,
            urls: pin.urls.iter().map(ToString::to_string).collect(),
        })
        .collect();
    units.extend(artifact.packages.iter().map(|package| Unit {
        label: format!(
            "{} {} ({})",
            package.name, package.version, package.platform
        ),
        expected: package.hash.clone(),
        size: package.size,
        manifest: false,
        urls: package.urls.iter().map(ToString::to_string).collect(),
    }));
    units
}

/// An image: its index (or single manifest) and each platform's manifest, at every
/// registry the lock names (`…/v2/<repo>/manifests/<digest>`, mirror first).
fn oci_units(artifact: &Artifact) -> Vec<Unit> {
    let mut bases: Vec<String> = Vec::new();
    for pin in artifact.platform.values() {
        for url in &pin.urls {
            if let Some((base, _)) = url.rsplit_once("/manifests/")
                && !bases.iter().any(|b| b == base)
            {
                bases.push(base.to_string());
            }
        }
    }
    let at = |digest: &Hash| -> Vec<String> {
        bases
            .iter()
            .map(|base| format!("{base}/manifests/{digest}"))
            .collect()
    };
    let mut units = Vec::new();
    let mut seen = BTreeSet::new();
    if let Some(digest) = artifact
        .digest
        .as_deref()
        .and_then(|d| d.parse::<Hash>().ok())
    {
        seen.insert(digest.clone());
        // A single-platform image's manifest is its own "index".
        let single = artifact.platform.values().any(|pin| pin.hash == digest);
        units.push(Unit {
            label: if single { "manifest" } else { "index" }.into(),
            urls: at(&digest),
            expected: digest,
            size: None,
            manifest: true,
        });
    }
    for (platform, pin) in &artifact.platform {
        if seen.insert(pin.hash.clone()) {
            units.push(Unit {
                label: platform.to_string(),
                urls: at(&pin.hash),
                expected: pin.hash.clone(),
                size: pin.size,
                manifest: true,
            });
        }
    }
    units
}

/// Ask every distinct (URL, hash) once, concurrently, telling `progress` as each answers.
async fn check_all(
    client: &Client,
    plan: &[(&Artifact, Vec<Unit>)],
    progress: &Progress,
) -> BTreeMap<(String, Hash), Answer> {
    let mut work: BTreeMap<(String, Hash), (&Artifact, &Unit)> = BTreeMap::new();
    for (artifact, units) in plan {
        for unit in units {
            for url in &unit.urls {
                work.entry((url.clone(), unit.expected.clone()))
                    .or_insert((*artifact, unit));
            }
        }
    }
    progress.start(
        work.values().map(|(artifact, _)| artifact.kind.as_str()),
        "Checking",
    );
    futures_util::stream::iter(work)
        .map(|((url, expected), (artifact, unit))| async move {
            let what = format!("{} {}", artifact.name, unit.label);
            let answer = if unit.manifest {
                check_manifest(client, &url, &expected).await
            } else {
                check_file(client, &what, &url, &expected, unit.size).await
            };
            progress.step(
                artifact.kind.as_str(),
                "Checked",
                &format!("{} {what}", artifact.kind),
                &format!(
                    "{} {}",
                    crate::net::redact(&url),
                    if answer.is_ok() { "ok" } else { "failed" }
                ),
            );
            ((url, expected), answer)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

async fn check_file(
    client: &Client,
    what: &str,
    url: &str,
    expected: &Hash,
    size: Option<u64>,
) -> Answer {
    match client.download(what, url, Some(expected), size).await {
        Ok(downloaded) => match size {
            Some(size) if size != downloaded.size => {
                Err(format!("serves {} bytes, {size} locked", downloaded.size))
            }
            _ => Ok(()),
        },
        Err(NetError::HashMismatch { actual, .. }) => {
            Err(format!("serves other bytes ({actual}, {expected} locked)"))
        }
        Err(err) => Err(describe(err)),
    }
}

/// `HEAD` the manifest by digest and compare `Docker-Content-Digest`; without that header,
/// `GET` it and hash the bytes. Registries that want a bearer token get one, anonymously.
async fn check_manifest(client: &Client, url: &str, expected: &Hash) -> Answer {
    let mut token: Option<String> = None;
    for _ in 0..2 {
        let authorization = token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![("accept", MANIFEST_ACCEPT)];
        if let Some(value) = &authorization {
            headers.push(("authorization", value.as_str()));
        }
        let head = client.head(url, &headers).await.map_err(describe)?;
        let status = head.status.as_u16();
        if status == 401 && token.is_none() {
            let challenge = head
                .header("www-authenticate")
                .ok_or_else(|| "answered 401 without a challenge".to_string())?;
            let repository = url
                .split_once("/v2/")
                .and_then(|(_, rest)| rest.rsplit_once("/manifests/"))
                .map(|(repo, _)| repo.to_string())
                .unwrap_or_default();
            token = Some(
                crate::resolve::oci::bearer_token(client, challenge, &repository)
                    .await
                    .map_err(|problem| problem.to_string())?,
            );
            continue;
        }
        // Some registries refuse HEAD: fall through to GET.
        if head.status.is_success() {
            if let Some(claimed) = head.header("docker-content-digest") {
                return if claimed == expected.to_string() {
                    Ok(())
                } else {
                    Err(format!("serves manifest {claimed} under digest {expected}"))
                };
            }
        } else if status != 405 && status != 501 {
            return Err(status_text(status));
        }
        let fetched = client
            .get(url, &headers, DOCUMENT_LIMIT)
            .await
            .map_err(describe)?;
        if !fetched.status.is_success() {
            return Err(status_text(fetched.status.as_u16()));
        }
        let actual = Hash::of_sha256(&fetched.body);
        return if &actual == expected {
            Ok(())
        } else {
            Err(format!("serves other bytes ({actual}, {expected} locked)"))
        };
    }
    Err("still answered 401 with a token".into())
}

fn status_text(status: u16) -> String {
    match status {
        404 => "gone (404)".into(),
        410 => "gone (410)".into(),
        401 | 403 => format!("refused ({status})"),
        other => format!("answered {other}"),
    }
}

/// A network error for the report: the URL is already on the line, so only what happened.
fn describe(err: NetError) -> String {
    match err {
        NetError::Status { status, .. } => status_text(status),
        NetError::Transport {
            attempts, message, ..
        } => format!("unreachable after {attempts} attempt(s): {message}"),
        NetError::Unreachable { cause, detail, .. } if detail.is_empty() => cause.to_string(),
        NetError::Unreachable { cause, detail, .. } => format!("{cause}; {detail}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::values::OneLine;
    use crate::lock::{ArtifactWire, PinWire};

    /// An entry of `kind` in its on-disk form, with a version its kind accepts.
    fn wire(kind: &str, name: &str) -> ArtifactWire {
        let kind = Kind::parse(kind).expect("a kind");
        let version = if kind == Kind::Url {
            "0123456789ab"
        } else {
            "1"
        };
        let mut artifact = crate::resolve::artifact(kind, version);
        artifact.name = name.into();
        artifact
    }

    fn artifact(kind: &str, name: &str) -> Artifact {
        Artifact::try_from(wire(kind, name)).unwrap()
    }

    #[test]
    fn oci_units_cover_index_and_platforms_at_every_registry() {
        let index = format!("sha256:{}", "1".repeat(64));
        let amd64: Hash = format!("sha256:{}", "2".repeat(64)).parse().unwrap();
        let mut base = wire("oci", "base");
        base.digest = Some(index.clone());
        base.platform.insert(
            "linux/amd64".into(),
            PinWire {
                file: "manifest".into(),
                urls: vec![
                    format!("https://mirror.example/v2/nvidia/cuda/manifests/{amd64}"),
                    format!("https://registry-1.docker.io/v2/nvidia/cuda/manifests/{amd64}"),
                ],
                hash: amd64.clone(),
                size: Some(1000),
            },
        );
        let units = units(&Artifact::try_from(base).unwrap());
        assert_eq!(units.len(), 2);
        assert_eq!(units[0].label, "index");
        assert_eq!(
            units[0].urls,
            [
                format!("https://mirror.example/v2/nvidia/cuda/manifests/{index}"),
                format!("https://registry-1.docker.io/v2/nvidia/cuda/manifests/{index}"),
            ]
        );
        assert!(units.iter().all(|u| u.manifest));
    }

    #[test]
    fn samples_are_deterministic_and_bounded() {
        let mut lock = Lock::new(OneLine::parse("spec-hash", "sha256:x").unwrap(), Vec::new());
        for name in ["a", "b", "c", "d", "e"] {
            lock.artifacts.push(artifact("url", name));
        }
        let names = |n| {
            sample(&lock, n)
                .iter()
                .map(|a| a.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(None).len(), 5);
        assert_eq!(names(Some(2)).len(), 2);
        assert_eq!(names(Some(2)), names(Some(2)));
        assert_eq!(names(Some(9)).len(), 5);
    }
}
