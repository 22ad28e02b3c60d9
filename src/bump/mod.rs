//! `modelbench bump` and `modelbench diff`: move pins forward under the spec's `[bump]`
//! policy, show a reviewer what moved, and (with `--pr`) carry each group's change as a
//! pull request.
//!
//! # bump
//!
//! 1. The lock must answer the spec as it is (else: `modelbench lock` first). Bump only
//!    moves pins; it never mixes a spec edit into an update.
//! 2. The selected artifacts (all; `--group`; `--only`; never the `frozen` ones) are
//!    re-resolved with updates allowed. Re-resolving is what keeps a version and every
//!    hash of every platform moving together.
//! 3. Each candidate passes the policy ([`policy`]): majors are held back unless allowed,
//!    a new version younger than its cooldown waits (a version without a release date
//!    waits too, when a cooldown applies: its age cannot be checked). For GitHub releases
//!    a held-back candidate falls back to the newest release that does pass, so a project
//!    that releases every day still gets updates under a week-long cooldown.
//! 4. Without `--pr`: the new lock is written atomically (`--dry-run`: nothing is). With
//!    `--pr`: one pull request per group ([`pr`]), each carrying the base lock plus that
//!    group's changes only; the local lock is left as it is.
//! 5. When the spec says the emitted files are committed (`[emit] committed = true`),
//!    they move with the lock: bump re-emits the build context into `[emit] out` (else
//!    `build/<spec name>`) and prints each file it changed; `--pr` puts the emitted files
//!    for the group's lock in the same commit as the lock and lists the ones that change.
//!    The context is made before anything is written, so a spec that cannot be emitted
//!    writes nothing.
//!
//! # diff
//!
//! `modelbench diff OLD NEW [--format markdown|json]` renders [`crate::lock::diff::diff`]:
//! the same table a bump pull request carries.

pub mod diff;
pub mod policy;
pub mod pr;
pub mod workflow;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

use crate::lock::diff::{ArtifactDiff, ChangeKind, LockDiff};
use crate::lock::values::OneLine;
use crate::lock::{Artifact, Lock};
use crate::resolve::github_release::{
    self, Candidate, ReleaseConstraint, release_date, version_of_tag,
};
use crate::resolve::{self, Detail, Plan, Request, UpdatePolicy};
use crate::sources::Sources;
use crate::spec::LoadedSpec;
use crate::workspace::SpecArgs;

use self::diff::MarkdownOptions;
use self::policy::{BumpPolicy, Effective};

/// `modelbench bump`.
#[derive(Debug, Args)]
pub struct BumpArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Replace upstream base URLs (a TOML file; see README "Sources file"). Its
    /// `github-api` is also where `--pr` talks to GitHub.
    #[arg(long, env = "MODELBENCH_SOURCES")]
    pub sources: Option<PathBuf>,
    /// Bump only these artifacts.
    #[arg(long, num_args = 1.., value_name = "NAME")]
    pub only: Vec<String>,
    /// Bump only this group of the spec's `[bump]` table.
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
    /// Resolve and report; write nothing, open nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Open or update one pull request per group (needs GITHUB_TOKEN) instead of writing
    /// the local lock.
    #[arg(long)]
    pub pr: bool,
    /// The GitHub repository for `--pr` [default: `[bump] repository`, else $GITHUB_REPOSITORY].
    #[arg(long, value_name = "OWNER/NAME", requires = "pr")]
    pub repo: Option<String>,
    /// Also print the decision as one JSON document on stdout (schema `modelbench-bump/1`).
    #[arg(long)]
    pub json: bool,
}

/// `modelbench diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The lock before.
    pub old: PathBuf,
    /// The lock after.
    pub new: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Markdown)]
    pub format: DiffFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Markdown,
    Json,
}

/// What bump takes from its surroundings, so that tests can give it their own.
#[derive(Debug, Clone)]
pub struct Environment {
    pub github_token: Option<String>,
    /// `$GITHUB_REPOSITORY` (set in GitHub Actions).
    pub github_repository: Option<String>,
    pub now: DateTime<Utc>,
    /// Where resolvers keep answers between runs ([`resolve::cache::user_cache_dir`]).
    pub cache_dir: Option<PathBuf>,
}

impl Environment {
    pub fn from_process() -> Environment {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Environment {
            github_token: var("GITHUB_TOKEN"),
            github_repository: var("GITHUB_REPOSITORY"),
            now: Utc::now(),
            cache_dir: crate::resolve::cache::user_cache_dir(),
        }
    }
}

pub fn run_diff(args: DiffArgs) -> Result<()> {
    let read = |path: &Path| -> Result<Lock> {
        Lock::read(path)?.ok_or_else(|| anyhow!("no lock at {}", path.display()))
    };
    let old = read(&args.old)?;
    let new = read(&args.new)?;
    let d = crate::lock::diff::diff(Some(&old), &new);
    let text = match args.format {
        DiffFormat::Markdown => diff::to_markdown(&d, MarkdownOptions::default()),
        DiffFormat::Json => diff::to_json(&d),
    };
    // Lock values are checked when read; escaping is the terminal's last line anyway.
    print!("{}", crate::lock::values::escape_message(&text));
    Ok(())
}

pub fn run_bump(args: BumpArgs) -> Result<()> {
    let env = Environment::from_process();
    let runtime = crate::runtime::start()?;
    runtime.block_on(bump(&args, &env))
}

/// A progress line; its message may quote upstream text, so it is escaped.
fn status(verb: &str, message: impl std::fmt::Display) {
    let message = crate::lock::values::escape_message(&message.to_string());
    eprintln!("{verb:>12} {message}");
}

/// The spec's `[bump]` table (empty when absent).
/// The spec's `[bump]` policy (parsed and validated with the spec), or the default.
pub fn policy_of(spec: &LoadedSpec) -> Result<BumpPolicy> {
    Ok(spec.spec.bump.clone().unwrap_or_default())
}

/// Where `--pr` sends the change, settled before any network use.
struct PrTarget {
    repository: String,
    token: Option<String>,
    lock_path: String,
    /// `[emit] committed`: the output directory's path in the repository.
    emit_dir: Option<String>,
    /// The lock as this checkout names it (emitted headers name it so, as `emit` does).
    local_lock: PathBuf,
}

/// One artifact whose candidate the policy refused.
#[derive(Debug, Clone)]
struct Held {
    kind: String,
    name: String,
    /// The refused version.
    version: String,
    reason: String,
    /// The version taken instead (an older release that passes).
    instead: Option<String>,
}

struct Decision {
    accepted: BTreeMap<(String, String), Artifact>,
    held: Vec<Held>,
}

async fn bump(args: &BumpArgs, env: &Environment) -> Result<()> {
    let spec = LoadedSpec::load(&args.spec.spec_path()?)?;
    let policy = policy_of(&spec)?;
    let lock_path = args.spec.lock_path(&spec);
    let old = Lock::read(&lock_path)?.ok_or_else(|| {
        anyhow!(
            "no lock at {}; run `modelbench lock` first: bump moves the pins of an existing lock",
            lock_path.display()
        )
    })?;
    let plan = resolve::plan(&spec.spec);
    check_in_sync(&plan, &old, &spec, &lock_path)?;
    let artifacts: Vec<(String, String)> = plan
        .requests
        .iter()
        .map(|r| (r.kind.as_str().to_string(), r.name.clone()))
        .collect();
    policy
        .check(&artifacts)
        .map_err(|err| anyhow!("{}: {err}", spec.path.display()))?;

    // Everything --pr needs that can be checked without the network, checked first.
    let target = if args.pr {
        Some(pr_target(args, &spec, &policy, env, &lock_path)?)
    } else {
        None
    };

    let selected = select(args, &plan, &policy)?;
    if selected.is_empty() {
        status("Finished", "nothing selected to bump");
        return Ok(());
    }

    let mut ctx = context(&spec, args.sources.as_deref(), env)?;
    ctx.reporter = Some(Box::new(crate::workspace::Progress::new(!args.json, false)));
    status(
        "Resolving",
        format!("{} artifact(s) with updates allowed", selected.len()),
    );
    let candidate = resolve::resolve(
        &ctx,
        &plan,
        &spec.hash,
        Some(&old),
        &UpdatePolicy::Only(selected),
    )
    .await
    .map_err(|failures| {
        anyhow!(
            "{failures}\nthe lock {} was left unchanged",
            lock_path.display()
        )
    })?;

    let decision = decide(&ctx, &plan, &old, &candidate, &policy, env.now, &spec.hash).await?;
    let moves = crate::lock::diff::diff(Some(&old), &apply(&old, decision.accepted.values()));
    report(&moves, &decision.held, env.now);
    if args.json {
        println!("{}", decision_json(&moves, &decision.held, args.dry_run));
    }
    if decision.accepted.is_empty() {
        status(
            "Finished",
            "nothing to bump; the lock is current under the policy",
        );
        return Ok(());
    }

    // The workflow file is not rewritten here: pushing workflow files needs a permission
    // (`workflows`) the bump token should not have.
    if decision
        .accepted
        .values()
        .any(|a| a.kind == crate::lock::Kind::Git)
    {
        status(
            "Note",
            format!(
                "a [workflow] pin moved: once the lock lands, run `modelbench emit {} --github-workflow` and commit {}",
                spec.path.display(),
                workflow::WORKFLOW_PATH
            ),
        );
    }
    if let Some(target) = target {
        return pull_requests(args, &ctx, &spec, &policy, &old, &decision, &target).await;
    }

    let new_lock = apply(&old, decision.accepted.values());
    let reemit = if spec.spec.emit.committed {
        Some(Reemit::prepare(&spec, &new_lock, &lock_path)?)
    } else {
        None
    };
    if let Some(reemit) = &reemit {
        reemit.report();
    }
    if args.dry_run {
        let emitted = reemit
            .as_ref()
            .map(|r| {
                format!(
                    ", {} emitted file(s) in {} would change",
                    r.changes.len(),
                    r.out.display()
                )
            })
            .unwrap_or_default();
        status(
            "Dry run",
            format!(
                "{} artifact(s) would move{emitted}; nothing written",
                decision.accepted.len(),
            ),
        );
        return Ok(());
    }
    let written = new_lock.write(&lock_path)?;
    status(
        "Bumped",
        format!(
            "{} artifact(s) in {}{}",
            decision.accepted.len(),
            lock_path.display(),
            if written { "" } else { " (lock unchanged)" }
        ),
    );
    if let Some(reemit) = reemit {
        reemit.emitted.write(&reemit.out).with_context(|| {
            format!(
                "the lock {} was written, but re-emitting into {} failed; run `modelbench emit {} --locked`",
                lock_path.display(),
                reemit.out.display(),
                spec.path.display()
            )
        })?;
        status(
            "Emitted",
            format!(
                "{} file(s) changed in {}",
                reemit.changes.len(),
                reemit.out.display()
            ),
        );
    }
    Ok(())
}

/// `[emit] committed`: the build context for the new lock, and what it changes in the
/// output directory, made before anything is written.
struct Reemit {
    out: PathBuf,
    emitted: crate::emit::Emitted,
    changes: Vec<crate::emit::FileChange>,
}

impl Reemit {
    fn prepare(spec: &LoadedSpec, new_lock: &Lock, lock_path: &Path) -> Result<Reemit> {
        let out = spec.default_out_dir();
        check_out_dir(&out, &[lock_path, &spec.path])?;
        let emitted = crate::emit::emit_for_lock(spec, new_lock, lock_path)
            .with_context(|| format!("cannot re-emit {} for the new lock", out.display()))?;
        for warning in &emitted.warnings {
            eprintln!("warning: {warning}");
        }
        let changes = emitted.changes_from(&crate::emit::read_emitted(&out)?);
        Ok(Reemit {
            out,
            emitted,
            changes,
        })
    }

    /// One line per emitted file that changes, as `lock` reports artifacts.
    fn report(&self) {
        for change in &self.changes {
            status(change.kind.verb(), self.out.join(&change.path).display());
        }
    }
}

/// Emit replaces its output directory whole: refuse one that holds the lock or the spec.
fn check_out_dir(out: &Path, keep: &[&Path]) -> Result<()> {
    let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let out_abs = absolute(out);
    for path in keep {
        if absolute(path).starts_with(&out_abs) {
            bail!(
                "`[emit] out` is {}, which holds {}: emit replaces that directory whole; choose a directory of its own",
                out.display(),
                path.display()
            );
        }
    }
    Ok(())
}

/// Bump moves pins of a lock that answers the spec; a spec edit is `lock`'s business.
fn check_in_sync(plan: &Plan, old: &Lock, spec: &LoadedSpec, lock_path: &Path) -> Result<()> {
    if let Some(outdated) = old.format_outdated(lock_path) {
        bail!("{outdated}, then bump");
    }
    let stale = resolve::staleness(plan, old, &spec.hash);
    if !stale.is_empty() {
        bail!(
            "the lock {} does not match the spec: {}; run `modelbench lock` first, then bump",
            lock_path.display(),
            stale.join("; ")
        );
    }
    Ok(())
}

fn pr_target(
    args: &BumpArgs,
    spec: &LoadedSpec,
    policy: &BumpPolicy,
    env: &Environment,
    lock_path: &Path,
) -> Result<PrTarget> {
    let repository = args
        .repo
        .clone()
        .or_else(|| policy.repository.clone())
        .or_else(|| env.github_repository.clone())
        .ok_or_else(|| {
            anyhow!(
                "--pr needs the GitHub repository: pass --repo owner/name, set `repository` in [bump], or run in GitHub Actions (GITHUB_REPOSITORY)"
            )
        })?;
    policy::check_repository(&repository).map_err(|err| anyhow!("--repo: {err}"))?;
    let token = env.github_token.clone();
    if token.is_none() && !args.dry_run {
        bail!(
            "--pr needs a GitHub token in GITHUB_TOKEN with `contents: write` and `pull-requests: write` on {repository}"
        );
    }
    let (root, lock_in_repo) = path_in_repository(lock_path)?;
    let emit_dir = if spec.spec.emit.committed {
        let out = spec.default_out_dir();
        check_out_dir(&out, &[lock_path, &spec.path])?;
        // The directory may not exist yet: resolve it from the current directory.
        let absolute = std::env::current_dir()
            .and_then(|dir| dir.canonicalize())
            .context("cannot find the current directory")?
            .join(&out);
        let relative = absolute.strip_prefix(&root).map_err(|_| {
                anyhow!(
                    "`[emit] out` ({}) is not inside the git checkout at {}: bump --pr commits the emitted files there",
                    out.display(),
                    root.display()
                )
            })?;
        Some(slash_path(relative))
    } else {
        None
    };
    Ok(PrTarget {
        repository,
        token,
        lock_path: lock_in_repo,
        emit_dir,
        local_lock: lock_path.to_path_buf(),
    })
}

/// The root of the git checkout holding the lock, and the lock's path in it.
fn path_in_repository(lock_path: &Path) -> Result<(PathBuf, String)> {
    let absolute = lock_path
        .canonicalize()
        .with_context(|| format!("cannot find {}", lock_path.display()))?;
    for dir in absolute.ancestors().skip(1) {
        if dir.join(".git").exists() {
            let relative = absolute.strip_prefix(dir).expect("an ancestor");
            return Ok((dir.to_path_buf(), slash_path(relative)));
        }
    }
    bail!(
        "{} is not inside a git checkout: bump --pr commits the lock at its path in the repository; run it in a checkout of the repository",
        lock_path.display()
    )
}

/// A relative path as a repository path: normal components joined by `/`.
fn slash_path(relative: &Path) -> String {
    relative
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The names to re-resolve: all, `--group`, `--only`; never the frozen ones.
fn select(args: &BumpArgs, plan: &Plan, policy: &BumpPolicy) -> Result<BTreeSet<String>> {
    let known: Vec<&str> = plan.requests.iter().map(|r| r.name.as_str()).collect();
    for name in &args.only {
        if !known.contains(&name.as_str()) {
            bail!(
                "`--only {name}`: the spec has no artifact named `{name}` (it has: {})",
                known.join(", ")
            );
        }
    }
    if let Some(group) = &args.group
        && !policy.group_names().contains(group)
    {
        bail!(
            "`--group {group}`: no such bump group (groups: {})",
            policy
                .group_names()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut selected = BTreeSet::new();
    for request in &plan.requests {
        let kind = request.kind.as_str();
        let name = &request.name;
        if args
            .group
            .as_deref()
            .is_some_and(|g| policy.group_of(kind, name) != g)
        {
            continue;
        }
        if !args.only.is_empty() && !args.only.contains(name) {
            continue;
        }
        if policy.effective(kind, name).frozen {
            status("Frozen", format!("{kind} {name} (bump.frozen)"));
            continue;
        }
        selected.insert(name.clone());
    }
    Ok(selected)
}

fn context(
    spec: &LoadedSpec,
    sources: Option<&Path>,
    env: &Environment,
) -> Result<resolve::Context> {
    let sources = Sources::load_optional(sources)?;
    let mut ctx = resolve::Context::new(&spec.spec, sources, false, env.github_token.clone());
    ctx.cache = env.cache_dir.clone();
    Ok(ctx)
}

/// Whether anything that lands in the image moved (not just a release date or page).
fn moved(old: &Artifact, new: &Artifact) -> bool {
    old.version != new.version
        || old.digest != new.digest
        || old.images != new.images
        || old.platform != new.platform
        || old.packages != new.packages
        || old.commit != new.commit
}

async fn decide(
    ctx: &resolve::Context,
    plan: &Plan,
    old: &Lock,
    candidate: &Lock,
    policy: &BumpPolicy,
    now: DateTime<Utc>,
    spec_hash: &str,
) -> Result<Decision> {
    let mut accepted = BTreeMap::new();
    let mut held = Vec::new();
    for new in &candidate.artifacts {
        let Some(current) = old.find(new.kind, &new.name) else {
            continue;
        };
        if !moved(current, new) {
            continue;
        }
        let effective = policy.effective(new.kind.as_str(), &new.name);
        let Some(reason) = blocker(current, new, &effective, now) else {
            accepted.insert(new.key(), new.clone());
            continue;
        };
        let request = plan
            .requests
            .iter()
            .find(|r| r.kind == new.kind && r.name == new.name);
        let alternative = match request {
            Some(request) => {
                match fallback(ctx, request, current, &effective, now, spec_hash).await {
                    Ok(found) => found,
                    Err(err) => {
                        let err = crate::lock::values::escape_message(&format!("{err:#}"));
                        eprintln!(
                            "warning: {} {}: looking for an older release that passes the policy failed: {err}",
                            new.kind, new.name
                        );
                        None
                    }
                }
            }
            None => None,
        };
        let alternative = alternative
            .filter(|alt| moved(current, alt) && blocker(current, alt, &effective, now).is_none());
        held.push(Held {
            kind: new.kind.to_string(),
            name: new.name.to_string(),
            version: new.version.to_string(),
            reason,
            instead: alternative.as_ref().map(|a| a.version.to_string()),
        });
        if let Some(alt) = alternative {
            accepted.insert(alt.key(), alt);
        }
    }
    Ok(Decision { accepted, held })
}

/// Why the policy refuses `new` in place of `old`, if it does.
fn blocker(
    old: &Artifact,
    new: &Artifact,
    policy: &Effective,
    now: DateTime<Utc>,
) -> Option<String> {
    if old.version == new.version {
        // Same version, new bytes: no new release to wait for; the diff flags it loudly.
        return None;
    }
    if !policy.allow_major && policy::is_major_update(&old.version, &new.version) {
        return Some(format!(
            "major update from {}; allow it with `allow-major = true` in [bump] (for the group `{}` or the artifact)",
            old.version, policy.group
        ));
    }
    let cooldown = policy.cooldown?;
    match new.published.as_deref().and_then(release_date) {
        None => Some(format!(
            "the upstream gives no release date, so the {cooldown} cooldown cannot be checked; set `cooldown = \"0d\"` for it in [bump] to take it"
        )),
        Some(published) => {
            let ready = published + cooldown.as_duration();
            (ready > now).then(|| {
                format!(
                    "released {}, inside the {cooldown} cooldown until {}",
                    published.format("%Y-%m-%d %H:%M UTC"),
                    ready.format("%Y-%m-%d %H:%M UTC")
                )
            })
        }
    }
}

/// For a GitHub release the policy refused: the newest release that answers the same
/// constraint and passes the policy, pinned by the ordinary resolver (as an exact tag).
async fn fallback(
    ctx: &resolve::Context,
    request: &Request,
    current: &Artifact,
    policy: &Effective,
    now: DateTime<Utc>,
    spec_hash: &str,
) -> Result<Option<Artifact>> {
    let Detail::GithubRelease(detail) = &request.detail else {
        return Ok(None);
    };
    let constraint = ReleaseConstraint::parse(&detail.version).map_err(|err| anyhow!(err))?;
    if matches!(constraint, ReleaseConstraint::Tag(_)) {
        return Ok(None);
    }
    let releases = github_release::list_releases(ctx, &detail.repo).await?;
    let not_after = policy.cooldown.map(|c| now - c.as_duration());
    let current_version = semver::Version::parse(version_of_tag(&current.version)).ok();
    let current_published = current.published.as_deref().and_then(release_date);
    let passes = |candidate: &Candidate| {
        // Undated, its age cannot be checked; it cannot be ordered by date either.
        let Some(published) = candidate.published else {
            return false;
        };
        let newer = match (&candidate.version, &current_version) {
            (Some(v), Some(c)) => v > c,
            _ => current_published.is_none_or(|c| published > c),
        };
        newer
            && not_after.is_none_or(|cut| published <= cut)
            && (policy.allow_major
                || !policy::is_major_update(&current.version, &candidate.release.tag_name))
    };
    let Some(release) = github_release::pick(&releases, &constraint, passes) else {
        return Ok(None);
    };
    let mut exact = request.clone();
    if let Detail::GithubRelease(detail) = &mut exact.detail {
        detail.version = release.tag_name.clone();
    }
    let single = Plan {
        requests: vec![exact],
    };
    let lock = resolve::resolve(ctx, &single, spec_hash, None, &UpdatePolicy::All)
        .await
        .map_err(|failures| anyhow!("{failures}"))?;
    let Some(mut artifact) = lock.artifacts.into_iter().next() else {
        return Ok(None);
    };
    // The pin answers the spec's request, not the exact tag used to make it.
    artifact.requested = OneLine::parse("requested", &request.requested)?;
    artifact.request_hash = OneLine::parse("request-hash", &request.hash())?;
    Ok(Some(artifact))
}

/// `old` with these artifacts in place of their namesakes.
fn apply<'a>(old: &Lock, replacements: impl IntoIterator<Item = &'a Artifact>) -> Lock {
    let replacements: BTreeMap<_, _> = replacements.into_iter().map(|a| (a.key(), a)).collect();
    let artifacts = old
        .artifacts
        .iter()
        .map(|a| {
            replacements
                .get(&a.key())
                .map_or_else(|| a.clone(), |r| (*r).clone())
        })
        .collect();
    Lock::new(old.spec_hash.clone(), artifacts)
}

/// The decision for CI: what moves (version and whether only the hash changed) and what
/// the policy held back, with why.
fn decision_json(moves: &LockDiff, held: &[Held], dry_run: bool) -> String {
    let changes: Vec<serde_json::Value> = moves
        .artifacts
        .iter()
        .map(|change| {
            serde_json::json!({
                "kind": change.kind,
                "name": change.name,
                "from": change.old_version,
                "to": change.new_version,
                "republish": change.is_republish(),
                "published": change.new_published,
            })
        })
        .collect();
    let held: Vec<serde_json::Value> = held
        .iter()
        .map(|h| {
            serde_json::json!({
                "kind": h.kind,
                "name": h.name,
                "version": h.version,
                "reason": h.reason,
                "instead": h.instead,
            })
        })
        .collect();
    let document = serde_json::json!({
        "schema": "modelbench-bump/1",
        "dry_run": dry_run,
        "changes": changes,
        "held": held,
    });
    serde_json::to_string_pretty(&document).expect("JSON values serialize")
}

/// What moved in an entry that kept its version, in the lock diff's words.
fn same_version_note(change: &ArtifactDiff) -> &'static str {
    if change.is_republish() {
        "same version, new hash: upstream republished"
    } else if change.members_changed() {
        "closure members changed"
    } else {
        "same version and bytes; URLs or platforms changed"
    }
}

/// One line per accepted move and per held-back candidate.
fn report(moves: &LockDiff, held: &[Held], now: DateTime<Utc>) {
    for change in &moves.artifacts {
        let (kind, name) = (&change.kind, &change.name);
        let old = change.old_version.as_deref().unwrap_or_default();
        let new = change.new_version.as_deref().unwrap_or_default();
        if change.change == ChangeKind::Updated {
            let released = change
                .new_published
                .as_deref()
                .and_then(release_date)
                .map(|p| {
                    let days = (now - p).num_days();
                    format!(" (released {}, {days} day(s) ago)", p.format("%Y-%m-%d"))
                })
                .unwrap_or_default();
            status(
                "Updating",
                format!("{kind} {name} {old} -> {new}{released}"),
            );
        } else {
            let verb = if change.is_republish() {
                "Republished"
            } else {
                "Updating"
            };
            status(
                verb,
                format!("{kind} {name} {new} ({})", same_version_note(change)),
            );
        }
    }
    for held in held {
        let instead = held
            .instead
            .as_deref()
            .map(|v| format!(" (took {v} instead)"))
            .unwrap_or_default();
        status(
            "Holding",
            format!(
                "{} {} {}{instead}: {}",
                held.kind, held.name, held.version, held.reason
            ),
        );
    }
}

async fn pull_requests(
    args: &BumpArgs,
    ctx: &resolve::Context,
    spec: &LoadedSpec,
    policy: &BumpPolicy,
    old: &Lock,
    decision: &Decision,
    target: &PrTarget,
) -> Result<()> {
    let emit = match &target.emit_dir {
        Some(dir) => Some(PrEmit::new(spec, old, &target.local_lock, dir)?),
        None => None,
    };
    let mut by_group: BTreeMap<String, Vec<&Artifact>> = BTreeMap::new();
    for artifact in decision.accepted.values() {
        by_group
            .entry(
                policy
                    .group_of(artifact.kind.as_str(), &artifact.name)
                    .to_string(),
            )
            .or_default()
            .push(artifact);
    }
    let proposals: Vec<pr::Proposal> = by_group
        .iter()
        .map(|(group, artifacts)| {
            let held: Vec<&Held> = decision
                .held
                .iter()
                .filter(|h| policy.group_of(&h.kind, &h.name) == group)
                .collect();
            proposal(
                group,
                old,
                artifacts,
                &held,
                policy,
                &target.lock_path,
                emit.as_ref(),
            )
        })
        .collect::<Result<_>>()?;

    if args.dry_run {
        for p in &proposals {
            for (verb, path) in &p.emitted_changes {
                status(verb, format!("{path} on {}", p.branch));
            }
            println!(
                "=== {} → {} ({}): {}\n\n{}",
                target.repository,
                p.branch,
                if p.labels.is_empty() {
                    "no labels".to_string()
                } else {
                    format!("labels: {}", p.labels.join(", "))
                },
                p.title,
                p.body
            );
        }
        status(
            "Dry run",
            format!("{} pull request(s) not opened or updated", proposals.len()),
        );
        return Ok(());
    }

    let token = target
        .token
        .as_deref()
        .expect("checked before resolving: --pr without --dry-run has a token");
    let api = ctx.sources.upstream("github-api");
    let github = pr::GitHub::connect(&api, token, &target.repository)?;
    let base = github.base(policy.base_branch.as_deref()).await?;
    github
        .check_base_lock(&base, &target.lock_path, old)
        .await?;
    let mut failures = Vec::new();
    for p in &proposals {
        match github.sync(&base, p).await {
            Ok(outcome) => report_outcome(p, &outcome),
            Err(err) => {
                eprintln!("error: {}: {err:#}", p.branch);
                failures.push(p.branch.clone());
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} of {} pull request(s) could not be brought up to date ({}); a later run repairs what this one left out",
            failures.len(),
            proposals.len(),
            failures.join(", ")
        );
    }
    Ok(())
}

fn report_outcome(p: &pr::Proposal, outcome: &pr::Outcome) {
    match outcome {
        pr::Outcome::Opened { number, url } => {
            status("Opened", format!("#{number} {} ({url})", p.title))
        }
        pr::Outcome::Updated {
            number,
            url,
            rebuilt,
        } => status(
            "Updated",
            format!(
                "#{number} with a new commit on {}{} ({url})",
                p.branch,
                if *rebuilt {
                    ", rebuilt on the base branch whose lock moved"
                } else {
                    ""
                }
            ),
        ),
        pr::Outcome::UpToDate { number, url } => status(
            "Up to date",
            format!("#{number} already carries this lock; nothing written ({url})"),
        ),
        pr::Outcome::Repaired { number, url } => status(
            "Repaired",
            format!("#{number}: title, body or labels set again; no new commit ({url})"),
        ),
        pr::Outcome::Declined { number, url } => status(
            "Skipped",
            format!(
                "#{number} offered this exact lock and was closed without merging; delete the branch {} to be asked again ({url})",
                p.branch
            ),
        ),
    }
}

/// `[emit] committed` for `--pr`: each group's lock re-emitted, and compared with the
/// context of the lock it started from (the base branch's: its lock was checked to be the
/// local one) to tell the reviewer which files move.
struct PrEmit<'a> {
    spec: &'a LoadedSpec,
    lock_path: &'a Path,
    /// The output directory's path in the repository.
    dir: &'a str,
    before: BTreeMap<String, crate::emit::EmittedFile>,
}

impl<'a> PrEmit<'a> {
    fn new(spec: &'a LoadedSpec, old: &Lock, lock_path: &'a Path, dir: &'a str) -> Result<Self> {
        let before = crate::emit::emit_for_lock(spec, old, lock_path)
            .context("cannot emit the build context of the current lock")?
            .files;
        Ok(PrEmit {
            spec,
            lock_path,
            dir,
            before,
        })
    }

    /// Every emitted file for `new` at its repository path, and what differs from the
    /// base branch's (`Updating build/x/stage-2.Dockerfile`), both sorted by path.
    fn files_for(&self, new: &Lock) -> Result<(Vec<pr::CommitFile>, Vec<pr::FileNote>)> {
        let emitted = crate::emit::emit_for_lock(self.spec, new, self.lock_path)
            .context("cannot re-emit the build context for the new lock")?;
        let at = |path: &str| format!("{}/{path}", self.dir);
        let changed = emitted
            .changes_from(&self.before)
            .iter()
            .map(|c| (c.kind.verb(), at(&c.path)))
            .collect();
        let files = emitted
            .files
            .iter()
            .map(|(path, file)| pr::CommitFile {
                path: at(path),
                content: String::from_utf8_lossy(&file.bytes).into_owned(),
                executable: file.executable,
            })
            .collect();
        Ok((files, changed))
    }
}

/// The largest body GitHub takes is 65536 characters; stay clear of it.
const BODY_LIMIT: usize = 60_000;

fn proposal(
    group: &str,
    old: &Lock,
    artifacts: &[&Artifact],
    held: &[&Held],
    policy: &BumpPolicy,
    lock_path: &str,
    emit: Option<&PrEmit>,
) -> Result<pr::Proposal> {
    let new = apply(old, artifacts.iter().copied());
    let (emitted, emitted_changes) = match emit {
        Some(emit) => emit.files_for(&new)?,
        None => (Vec::new(), Vec::new()),
    };
    let d = crate::lock::diff::diff(Some(old), &new);
    let changes: Vec<String> = d
        .artifacts
        .iter()
        .map(|change| {
            let old = change.old_version.as_deref().unwrap_or_default();
            let new = change.new_version.as_deref().unwrap_or_default();
            if change.change == ChangeKind::Updated {
                format!("{} {old} → {new}", change.name)
            } else if change.is_republish() {
                format!("{} {new} (republished upstream)", change.name)
            } else {
                format!("{} {new} ({})", change.name, same_version_note(change))
            }
        })
        .collect();
    let title = match changes.as_slice() {
        [one] => format!("bump({group}): {one}"),
        many => {
            let names: Vec<&str> = artifacts.iter().take(3).map(|a| a.name.as_str()).collect();
            format!(
                "bump({group}): {} artifacts ({}{})",
                many.len(),
                names.join(", "),
                if many.len() > 3 { ", …" } else { "" }
            )
        }
    };
    let mut commit_message = format!("{title}\n\n");
    for change in &changes {
        let _ = writeln!(commit_message, "- {change}");
    }
    if !emitted_changes.is_empty() {
        let _ = writeln!(
            commit_message,
            "- {} emitted file(s) re-emitted for the new lock",
            emitted_changes.len()
        );
    }
    let _ = write!(
        commit_message,
        "\nMade by `modelbench bump --pr`; every version moved with all its hashes."
    );

    let body = pr_body(
        group,
        &d,
        held,
        lock_path,
        &emitted_changes,
        MarkdownOptions::default(),
    );
    let body = if body.len() > BODY_LIMIT {
        let shorter = pr_body(
            group,
            &d,
            held,
            lock_path,
            &emitted_changes,
            MarkdownOptions {
                full_lists: false,
                ..MarkdownOptions::default()
            },
        );
        if shorter.len() > BODY_LIMIT {
            let mut cut = BODY_LIMIT - 200;
            while !shorter.is_char_boundary(cut) {
                cut -= 1;
            }
            format!(
                "{}\n\n…(cut here: the table is too long for a pull request description; run `modelbench diff` on the two locks for all of it)\n",
                &shorter[..cut]
            )
        } else {
            shorter
        }
    } else {
        body
    };

    Ok(pr::Proposal {
        group: group.to_string(),
        branch: format!("modelbench/{group}"),
        title,
        body,
        commit_message,
        labels: policy.labels_for(group),
        lock_path: lock_path.to_string(),
        lock_bytes: new.checked_bytes(std::path::Path::new(lock_path))?,
        emitted,
        emitted_changes,
    })
}

fn pr_body(
    group: &str,
    d: &LockDiff,
    held: &[&Held],
    lock_path: &str,
    emitted_changes: &[pr::FileNote],
    options: MarkdownOptions,
) -> String {
    let mut body = format!(
        "<!-- modelbench bump: group={group} lock={lock_path} -->\n## modelbench bump: `{group}`\n\nUpdates the pins of `{lock_path}` in the bump group `{group}`. Every version moves together with all of its hashes, on every platform; the build refuses any other bytes.\n\n"
    );
    body.push_str(&diff::to_markdown(d, options));
    if !emitted_changes.is_empty() {
        // The emitted files are committed (`[emit] committed`): they move with the lock.
        let _ = writeln!(
            body,
            "\n### Emitted files\n\n<details><summary>{} file(s) re-emitted for the new lock</summary>\n",
            emitted_changes.len()
        );
        for (verb, path) in emitted_changes {
            let _ = writeln!(body, "- {verb} `{path}`");
        }
        body.push_str("\n</details>\n");
    }
    if !held.is_empty() {
        body.push_str("\n### Held back\n\n");
        for h in held {
            let instead = h
                .instead
                .as_deref()
                .map(|v| format!(" (this pull request takes `{v}` instead)"))
                .unwrap_or_default();
            let _ = writeln!(
                body,
                "- **{}** ({}) `{}`{instead}: {}",
                h.name, h.kind, h.version, h.reason
            );
        }
    }
    body.push_str(
        "\n---\n<sub>Made by `modelbench bump --pr`. A later run adds a commit on top of this branch and updates this description; it never force-pushes. The same table comes from `modelbench diff OLD NEW`.</sub>\n",
    );
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::PinWire;
    use crate::net::Hash;

    fn artifact(version: &str, published: Option<&str>, bytes: &[u8]) -> Artifact {
        let mut a = resolve::artifact(crate::lock::Kind::GithubRelease, version);
        a.name = "clash-rs".into();
        a.published = published.map(String::from);
        a.platform.insert(
            "linux/amd64".into(),
            PinWire {
                file: "f".into(),
                urls: vec!["https://example.com/f".into()],
                hash: Hash::of_sha256(bytes),
                size: Some(bytes.len() as u64),
            },
        );
        Artifact::try_from(a).unwrap()
    }

    fn effective(cooldown: Option<&str>, allow_major: bool) -> Effective {
        Effective {
            group: "default".into(),
            cooldown: cooldown.map(|c| c.parse().unwrap()),
            allow_major,
            frozen: false,
        }
    }

    #[test]
    fn cooldown_and_majors_block_with_reasons() {
        let now = release_date("2026-11-26T00:00:00Z").unwrap();
        let old = artifact("v0.10.7", Some("2026-06-01T00:00:00Z"), b"a");
        let young = artifact("v0.10.8", Some("2026-11-24T00:00:00Z"), b"b");
        let reason = blocker(&old, &young, &effective(Some("7d"), false), now).unwrap();
        assert!(reason.contains("until 2026-12-01"), "{reason}");
        assert!(blocker(&old, &young, &effective(Some("1d"), false), now).is_none());
        assert!(blocker(&old, &young, &effective(None, false), now).is_none());
        let undated = artifact("v0.10.8", None, b"b");
        let reason = blocker(&old, &undated, &effective(Some("1d"), false), now).unwrap();
        assert!(reason.contains("no release date"), "{reason}");
        let major = artifact("v0.11.0", Some("2026-01-01T00:00:00Z"), b"c");
        let reason = blocker(&old, &major, &effective(None, false), now).unwrap();
        assert!(reason.contains("major update"), "{reason}");
        assert!(blocker(&old, &major, &effective(None, true), now).is_none());
        // A republish is no new release: nothing to wait for.
        let republished = artifact("v0.10.7", None, b"z");
        assert!(blocker(&old, &republished, &effective(Some("7d"), false), now).is_none());
    }
}
