//! `modelbench verify --against-upstream`: is every pin of the lock what its upstream says
//! for the same version?
//!
//! The entry checksum of a lock is recomputable by anyone, so a lock edited in a pull
//! request proves nothing by itself. This check does not trust it: each entry is resolved
//! again through the ordinary resolvers and `--sources`, at the version the lock names
//! (not the newest: a GitHub tag, a Node.js version, an npm or conda top-level version,
//! an image by the tag it was locked from; a `url` file by the spec's own hash; a `git`
//! tag by its exact name, a `git` branch as its head now), and the answer is compared
//! field by field with the entry: version, digest, image references, release date and
//! page, repository and commit, every platform's file, URLs, hash and size, and every closure
//! member's file, URLs, hash, size and facts. An image tag that names another digest than
//! the locked one differs: the registry no longer vouches for the locked digest under
//! that tag, and a digest swapped in a pull request looks exactly the same.
//!
//! What cannot be re-checked is said per artifact ("cannot re-check: …") and **fails**:
//! a lock that cannot be confirmed is not confirmed. That happens when the upstream no
//! longer serves the locked version (a deleted release), and for closure members the
//! upstream now resolves differently: an npm or conda dependency with a newer matching
//! release, an apt archive whose index moved on (apt closures are solved against the
//! archive as it is; only a `snapshot` timestamp freezes it), and a `git` branch whose
//! head moved on (a branch is meant to move). The remedy is to move the
//! pin to what the upstream serves (`modelbench lock --update NAME`) in the same pull
//! request, where the change shows in `modelbench diff`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, bail};
use futures_util::StreamExt;
use serde::Serialize;

use crate::lock::values::escape_for_terminal;
use crate::lock::{Artifact, Lock, Package, Pin};
use crate::resolve::{self, Detail, Plan, Request, UpdatePolicy};
use crate::sources::Sources;
use crate::spec::LoadedSpec;
use crate::workspace::OutputArgs;

/// How many artifacts are re-resolved at once (the client's per-host limits apply on top).
const CONCURRENCY: usize = 8;

/// One field where the lock and the upstream disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// `version`, `platform linux/amd64 hash`, `package zlib 1.3 (linux/amd64) urls`, …
    pub field: String,
    pub locked: String,
    pub upstream: String,
}

/// What the upstream said about one lock entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub differences: Vec<Difference>,
    /// Why a part of the entry could not be compared (each fails the check).
    pub cannot_recheck: Vec<String>,
}

impl Outcome {
    fn agrees(&self) -> bool {
        self.differences.is_empty() && self.cannot_recheck.is_empty()
    }

    fn status(&self) -> &'static str {
        if !self.differences.is_empty() {
            "differs"
        } else if !self.cannot_recheck.is_empty() {
            "cannot-recheck"
        } else {
            "agrees"
        }
    }
}

/// Run the check for a lock that `verify` has loaded and whose hosts it has checked.
pub fn run(
    spec: &LoadedSpec,
    lock: &Lock,
    lock_path: &Path,
    sources: Sources,
    output: &OutputArgs,
) -> Result<()> {
    let plan = resolve::plan(&spec.spec);
    // Each entry is re-resolved from the spec's request for it: an entry the spec does
    // not ask for (or asks for otherwise) has nothing to be checked against.
    let stale = resolve::staleness(&plan, lock, &spec.hash);
    if !stale.is_empty() {
        bail!(
            "the lock {} does not answer the spec {}: {}; `modelbench lock` first",
            lock_path.display(),
            spec.path.display(),
            stale.join("; ")
        );
    }
    let token = std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty());
    let ctx = resolve::Context::new(&spec.spec, sources, false, token);
    if output.verbose {
        crate::net::set_verbose(true);
    }
    let json = output.json;
    let say = |text: String| {
        if !json && !output.quiet {
            println!("{text}");
        }
    };
    say(format!(
        "Re-resolving {} artifact(s) of {} at their locked versions",
        lock.artifacts.len(),
        lock_path.display()
    ));
    let runtime = crate::runtime::start()?;
    let outcomes = runtime.block_on(check_all(&ctx, &plan, lock, &spec.hash));

    let mut failed = Vec::new();
    let mut report = Vec::new();
    for (artifact, outcome) in lock.artifacts.iter().zip(&outcomes) {
        let title = format!(
            "{} {} {}",
            artifact.kind,
            escape_for_terminal(&artifact.name),
            escape_for_terminal(&artifact.version)
        );
        if outcome.agrees() {
            say(format!("{:>12} {title}", "agrees"));
        } else {
            failed.push(format!(
                "{} `{}`",
                artifact.kind,
                escape_for_terminal(&artifact.name)
            ));
            if !json {
                let verb = if outcome.differences.is_empty() {
                    "UNCHECKED"
                } else {
                    "DIFFERS"
                };
                println!("{verb:>12} {title}\n{}", describe(outcome).trim_end());
            }
        }
        report.push(serde_json::json!({
            "kind": artifact.kind,
            "name": artifact.name,
            "version": artifact.version,
            "status": outcome.status(),
            "differences": outcome.differences,
            "cannot_recheck": outcome.cannot_recheck,
        }));
    }
    let agreeing = outcomes.iter().filter(|o| o.agrees()).count();
    say(format!(
        "Checked {} artifact(s) against their upstreams: {agreeing} agree, {} differ, {} cannot be re-checked",
        outcomes.len(),
        outcomes
            .iter()
            .filter(|o| !o.differences.is_empty())
            .count(),
        outcomes
            .iter()
            .filter(|o| o.differences.is_empty() && !o.cannot_recheck.is_empty())
            .count(),
    ));
    if json {
        let document = serde_json::json!({
            "schema": "modelbench-verify-upstream/1",
            "lock": lock_path.display().to_string(),
            "checked": outcomes.len(),
            "agree": agreeing,
            "artifacts": report,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&document).expect("JSON values serialize")
        );
    }
    if !failed.is_empty() {
        bail!(
            "{} artifact(s) of {} are not what their upstream says for the same version: {}",
            failed.len(),
            lock_path.display(),
            failed.join(", ")
        );
    }
    Ok(())
}

/// The report lines of an entry that does not agree, every string escaped.
fn describe(outcome: &Outcome) -> String {
    let mut lines = String::new();
    for d in &outcome.differences {
        let _ = writeln!(
            lines,
            "    {}: locked {}, upstream {}",
            escape_for_terminal(&d.field),
            escape_for_terminal(&d.locked),
            escape_for_terminal(&d.upstream)
        );
    }
    for reason in &outcome.cannot_recheck {
        let _ = writeln!(
            lines,
            "    cannot re-check: {}",
            escape_for_terminal(reason)
        );
    }
    lines
}

/// Re-resolve every entry at its locked version, concurrently; outcomes in lock order.
async fn check_all(
    ctx: &resolve::Context,
    plan: &Plan,
    lock: &Lock,
    spec_hash: &str,
) -> Vec<Outcome> {
    futures_util::stream::iter(&lock.artifacts)
        .map(|pinned| async move {
            let Some(request) = plan.request(pinned.kind, &pinned.name) else {
                return cannot("the spec does not request it".into());
            };
            let single = Plan {
                requests: vec![exact_request(request, pinned)],
            };
            match resolve::resolve(ctx, &single, spec_hash, None, &UpdatePolicy::All).await {
                Ok(answer) => match answer.artifacts.into_iter().next() {
                    Some(upstream) => {
                        match resolve::git::moved_branch(request, pinned, &upstream) {
                            Some(reason) => cannot(reason),
                            None => compare(pinned, &upstream),
                        }
                    }
                    None => cannot("the upstream gave no answer".into()),
                },
                Err(failures) => cannot(format!("the upstream does not resolve it: {failures}")),
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await
}

fn cannot(reason: String) -> Outcome {
    Outcome {
        differences: Vec::new(),
        cannot_recheck: vec![reason],
    }
}

/// The spec's request for `pinned`, narrowed to the version the lock names, so the
/// upstream answers for that version and not its newest. Every value taken from the lock
/// passed the lock's grammar checks when it was parsed.
pub fn exact_request(request: &Request, pinned: &Artifact) -> Request {
    let mut exact = request.clone();
    match &mut exact.detail {
        Detail::GithubRelease(detail) => detail.version = pinned.version.to_string(),
        Detail::Nodejs(detail) => detail.version = pinned.version.to_string(),
        Detail::Npm(detail) => detail.range = pinned.version.to_string(),
        // A conda environment whose platforms resolved to different versions names them
        // all (`1.2 (linux/amd64), …`): it is solved as the spec asks.
        Detail::Conda(detail) if !pinned.version.contains(' ') => {
            detail.spec = format!("{} =={}", pinned.name, pinned.version);
        }
        // An image's version is the spec's own tag (or digest): the registry says which
        // digest it names today, and a tag that moved since locking is a difference (the
        // registry no longer vouches for the locked digest under that tag). The spec
        // holds a `url` file's hash. Apt closures are solved against the archive as it is
        // now (most archives serve no older index).
        Detail::Oci(_) | Detail::Url(_) | Detail::Conda(_) | Detail::Apt(_) => {}
        // A tag by its exact name (`v4.2.2` answers only itself): a tag moved to another
        // commit since locking differs. A branch is asked for as it is: its head now.
        Detail::Git(detail) => {
            if let resolve::git::GitRef::Tag(constraint) = &mut detail.reference {
                *constraint = pinned.version.to_string();
            }
        }
    }
    exact
}

/// Field by field: where the entry and the upstream's answer for its version disagree.
pub fn compare(locked: &Artifact, upstream: &Artifact) -> Outcome {
    let mut outcome = Outcome::default();
    let mut differ = |field: String, locked: String, upstream: String| {
        if locked != upstream {
            outcome.differences.push(Difference {
                field,
                locked,
                upstream,
            });
        }
    };
    fn optional<T: ToString>(value: &Option<T>) -> String {
        value
            .as_ref()
            .map_or_else(|| "none".into(), ToString::to_string)
    }
    // An apt closure's version is a hash of its members: their report says it all.
    if locked.kind != resolve::Kind::Apt.as_str() {
        differ(
            "version".into(),
            locked.version.to_string(),
            upstream.version.to_string(),
        );
    }
    differ(
        "digest".into(),
        optional(&locked.digest),
        optional(&upstream.digest),
    );
    differ(
        "images".into(),
        locked.images.join(", "),
        upstream.images.join(", "),
    );
    differ(
        "published".into(),
        optional(&locked.published),
        optional(&upstream.published),
    );
    differ(
        "release-url".into(),
        optional(&locked.release_url),
        optional(&upstream.release_url),
    );
    differ(
        "repository".into(),
        optional(&locked.repository),
        optional(&upstream.repository),
    );
    differ(
        "commit".into(),
        optional(&locked.commit),
        optional(&upstream.commit),
    );
    let platforms: std::collections::BTreeSet<&str> = locked
        .platform
        .keys()
        .chain(upstream.platform.keys())
        .map(|key| key.as_str())
        .collect();
    for platform in platforms {
        let field = |name: &str| format!("platform {platform} {name}");
        match (
            locked.platform.get(platform),
            upstream.platform.get(platform),
        ) {
            (Some(l), Some(u)) => {
                for (name, l, u) in pin_fields(l)
                    .into_iter()
                    .zip(pin_fields(u))
                    .map(|((name, l), (_, u))| (name, l, u))
                {
                    differ(field(name), l, u);
                }
            }
            (Some(l), None) => differ(field("file"), l.file.to_string(), "none".into()),
            (None, Some(u)) => differ(field("file"), "none".into(), u.file.to_string()),
            (None, None) => {}
        }
    }
    compare_members(locked, upstream, &mut outcome);
    outcome
}

fn pin_fields(pin: &Pin) -> [(&'static str, String); 4] {
    [
        ("file", pin.file.to_string()),
        ("urls", pin.urls.join(", ")),
        ("hash", pin.hash.to_string()),
        ("size", size_text(pin.size)),
    ]
}

fn size_text(size: Option<u64>) -> String {
    size.map_or_else(|| "none".into(), |s| s.to_string())
}

/// A closure member's identity: which package, at which version, where.
type MemberKey = (String, String, String, String);

fn member_key(member: &Package) -> MemberKey {
    let place = [
        member.arch.as_deref(),
        member.build.as_deref(),
        member.subdir.as_deref(),
        member.path.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    (
        member.platform.to_string(),
        member.name.to_string(),
        member.version.to_string(),
        place,
    )
}

fn member_title(member: &Package) -> String {
    format!(
        "package {} {} ({})",
        member.name, member.version, member.platform
    )
}

/// Members present on both sides are compared field by field; a member only one side has
/// is a place where the upstream now resolves the closure differently, which says
/// nothing about the locked member: it cannot be re-checked.
fn compare_members(locked: &Artifact, upstream: &Artifact, outcome: &mut Outcome) {
    let ours: BTreeMap<MemberKey, &Package> =
        locked.packages.iter().map(|p| (member_key(p), p)).collect();
    let theirs: BTreeMap<MemberKey, &Package> = upstream
        .packages
        .iter()
        .map(|p| (member_key(p), p))
        .collect();
    for (key, l) in &ours {
        let Some(u) = theirs.get(key) else {
            let now: Vec<&str> = upstream
                .packages
                .iter()
                .filter(|p| p.platform == l.platform && p.name == l.name)
                .map(|p| p.version.as_str())
                .collect();
            outcome.cannot_recheck.push(if now.is_empty() {
                format!(
                    "{}: not in the closure the upstream resolves now",
                    member_title(l)
                )
            } else {
                format!(
                    "{}: the upstream now resolves `{}` to {}",
                    member_title(l),
                    l.name,
                    now.join(", ")
                )
            });
            continue;
        };
        let facts = |p: &Package| {
            serde_json::to_string(&(&p.noarch, &p.npm, &p.conda)).expect("facts serialize")
        };
        let title = member_title(l);
        for (name, l, u) in [
            ("file", l.file.to_string(), u.file.to_string()),
            ("urls", l.urls.join(", "), u.urls.join(", ")),
            ("hash", l.hash.to_string(), u.hash.to_string()),
            ("size", size_text(l.size), size_text(u.size)),
            (
                "requested",
                l.requested.to_string(),
                u.requested.to_string(),
            ),
            (
                "required-by",
                l.required_by.join(", "),
                u.required_by.join(", "),
            ),
            ("facts", facts(l), facts(u)),
        ] {
            if l != u {
                outcome.differences.push(Difference {
                    field: format!("{title} {name}"),
                    locked: l.to_string(),
                    upstream: u.to_string(),
                });
            }
        }
    }
    for (key, u) in &theirs {
        let renamed = ours
            .keys()
            .any(|(platform, name, _, _)| *platform == key.0 && *name == key.1);
        if !ours.contains_key(key) && !renamed {
            outcome.cannot_recheck.push(format!(
                "{}: in the closure the upstream resolves now, not in the lock",
                member_title(u)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::values::HttpUrl;
    use crate::lock::{PackageWire, PinWire};
    use crate::net::Hash;

    fn hash(digit: &str) -> Hash {
        format!("sha256:{}", digit.repeat(64)).parse().unwrap()
    }

    fn release(tag: &str, file_hash: Hash) -> Artifact {
        let mut artifact = resolve::artifact(resolve::Kind::GithubRelease, tag);
        artifact.name = "clash-rs".into();
        artifact.platform.insert(
            "linux/amd64".into(),
            PinWire {
                file: "clash".into(),
                urls: vec![format!(
                    "https://github.com/x/y/releases/download/{tag}/clash"
                )],
                hash: file_hash,
                size: Some(11),
            },
        );
        Artifact::try_from(artifact).unwrap()
    }

    fn member(name: &str, version: &str, file_hash: Hash) -> PackageWire {
        PackageWire {
            name: name.into(),
            version: version.into(),
            platform: "linux/amd64".into(),
            arch: Some("amd64".into()),
            build: None,
            subdir: None,
            noarch: None,
            path: None,
            file: format!("{name}_{version}_amd64.deb"),
            urls: vec![format!(
                "https://deb.example/pool/{name}_{version}_amd64.deb"
            )],
            hash: file_hash,
            size: Some(10),
            requested: true,
            required_by: Vec::new(),
            npm: None,
            conda: None,
        }
    }

    #[test]
    fn the_same_answer_agrees() {
        let locked = release("v1.0.0", hash("1"));
        assert!(compare(&locked, &locked.clone()).agrees());
    }

    #[test]
    fn a_different_hash_and_url_name_the_field_and_both_values() {
        let locked = release("v1.0.0", hash("1"));
        let mut upstream = locked.clone();
        let pin = upstream.platform.get_mut("linux/amd64").unwrap();
        pin.hash = hash("2");
        pin.urls = vec![
            HttpUrl::parse(
                "url",
                "https://github.com/x/y/releases/download/v1.0.0/other",
            )
            .unwrap(),
        ];
        let outcome = compare(&locked, &upstream);
        assert_eq!(outcome.status(), "differs");
        assert_eq!(
            outcome.differences,
            [
                Difference {
                    field: "platform linux/amd64 urls".into(),
                    locked: "https://github.com/x/y/releases/download/v1.0.0/clash".into(),
                    upstream: "https://github.com/x/y/releases/download/v1.0.0/other".into(),
                },
                Difference {
                    field: "platform linux/amd64 hash".into(),
                    locked: hash("1").to_string(),
                    upstream: hash("2").to_string(),
                },
            ]
        );
    }

    #[test]
    fn member_drift_cannot_be_rechecked_and_a_changed_member_differs() {
        let mut locked = resolve::artifact(resolve::Kind::Apt, hash("a").to_string());
        locked.packages = vec![
            member("zlib1g", "1.3", hash("1")),
            member("nano", "8.0", hash("2")),
        ];
        let mut upstream = locked.clone();
        upstream.version = hash("b").to_string();
        upstream.packages = vec![
            member("zlib1g", "1.4", hash("3")),
            member("nano", "8.0", hash("4")),
        ];
        let (locked, upstream) = (
            Artifact::try_from(locked).unwrap(),
            Artifact::try_from(upstream).unwrap(),
        );
        let outcome = compare(&locked, &upstream);
        assert_eq!(outcome.differences.len(), 1, "{outcome:?}");
        assert_eq!(
            outcome.differences[0].field,
            "package nano 8.0 (linux/amd64) hash"
        );
        assert_eq!(
            outcome.cannot_recheck,
            ["package zlib1g 1.3 (linux/amd64): the upstream now resolves `zlib1g` to 1.4"]
        );
    }

    #[test]
    fn exact_requests_name_the_locked_version() {
        let spec = crate::spec::LoadedSpec::from_str(
            Path::new("specs/x.toml"),
            "[image]\nname = \"x\"\ntag = \"t\"\nplatforms = [\"linux/amd64\"]\n\
             [base]\nimage = \"ubuntu:24.04\"\n\
             [stage-2.release.clash-rs]\nrepo = \"Watfaq/clash-rs\"\nversion = \"latest\"\n\
             asset = \"clash-rs-{triple}\"\ndest = \"/opt/clash-rs\"\n",
        )
        .unwrap_or_else(|err| panic!("{err}"));
        let plan = resolve::plan(&spec.spec);
        let find = |name: &str| plan.requests.iter().find(|r| r.name == name).unwrap();
        let exact = exact_request(find("clash-rs"), &release("v0.10.8", hash("1")));
        let Detail::GithubRelease(detail) = &exact.detail else {
            unreachable!()
        };
        assert_eq!(detail.version, "v0.10.8");
        let mut base = resolve::artifact(resolve::Kind::Oci, "24.04");
        base.digest = Some(hash("5").to_string());
        let exact = exact_request(find("base"), &Artifact::try_from(base).unwrap());
        let Detail::Oci(detail) = &exact.detail else {
            unreachable!()
        };
        assert_eq!(detail.image, "ubuntu:24.04");
    }
}
