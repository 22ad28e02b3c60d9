//! `modelbench lock`: resolve the spec into `bench.lock`, keeping the pins it may keep,
//! and report what changed (lines on stderr, or a JSON summary on stdout with `--json`).
//! With `--check` it writes nothing and fails when the lock does not answer the spec.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::lock::Lock;
use crate::lock::diff::{ArtifactDiff, ChangeKind};
use crate::resolve::{self, UpdatePolicy};
use crate::sources::Sources;
use crate::spec::LoadedSpec;
use crate::workspace::{OutputArgs, Progress, SpecArgs, status};

#[derive(Debug, Args)]
pub struct LockArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Replace upstream base URLs (a TOML file; see README "Sources file").
    #[arg(long, env = "MODELBENCH_SOURCES")]
    pub sources: Option<PathBuf>,
    /// Re-resolve the named artifacts, or all of them when no name is given.
    #[arg(long, num_args = 0..)]
    pub update: Option<Vec<String>>,
    /// Never touch the network: only keep existing pins.
    #[arg(long)]
    pub offline: bool,
    /// Write nothing; fail if the lock is missing or does not match the spec.
    #[arg(long, conflicts_with_all = ["update"])]
    pub check: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn run(args: LockArgs) -> Result<()> {
    let spec = LoadedSpec::load(&args.spec.spec_path()?)?;
    let lock_path = args.spec.lock_path(&spec);
    let existing = Lock::read(&lock_path)?;
    let plan = resolve::plan(&spec.spec);
    let policy = match &args.update {
        None => UpdatePolicy::KeepPins,
        Some(names) if names.is_empty() => UpdatePolicy::All,
        Some(names) => {
            for name in names {
                if !plan.requests.iter().any(|r| &r.name == name) {
                    bail!("`--update {name}`: the spec has no artifact named `{name}`");
                }
            }
            UpdatePolicy::Only(names.iter().cloned().collect::<BTreeSet<_>>())
        }
    };
    let todo = resolve::needs_resolution(&plan, existing.as_ref(), &policy);

    if args.check {
        let Some(existing) = &existing else {
            bail!("no lock at {}; run `modelbench lock`", lock_path.display());
        };
        let mut stale = resolve::staleness(&plan, existing, &spec.hash);
        stale.extend(existing.format_outdated(&lock_path));
        let sources = Sources::load_optional(args.sources.as_deref())?;
        stale.extend(resolve::hosts::unnamed_hosts(&plan, &sources, existing));
        if !stale.is_empty() {
            bail!(
                "lock {} is stale:\n  {}",
                lock_path.display(),
                stale.join("\n  ")
            );
        }
        status("Checked", format!("{} is up to date", lock_path.display()));
        return Ok(());
    }

    if args.offline && !todo.is_empty() {
        let names: Vec<String> = todo
            .iter()
            .map(|r| {
                let edited = existing
                    .as_ref()
                    .and_then(|lock| lock.find(r.kind.as_str(), &r.name))
                    .is_some_and(|pinned| pinned.check_checksum().is_err());
                let why = if edited {
                    " (edited after locking)"
                } else {
                    ""
                };
                format!("{} `{}`{why}", r.kind, r.name)
            })
            .collect();
        bail!(
            "--offline: these need the network to resolve: {}",
            names.join(", ")
        );
    }

    let sources = Sources::load_optional(args.sources.as_deref())?;
    let mut ctx = resolve::Context::new(
        &spec.spec,
        sources,
        args.offline,
        std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()),
    );
    let talk = !args.output.quiet && !args.output.json;
    if args.output.verbose {
        crate::net::set_verbose(true);
    }
    ctx.reporter = Some(Box::new(Progress::new(talk, args.output.verbose)));
    ctx.cache = resolve::cache::user_cache_dir();
    if !todo.is_empty() && !args.output.quiet && !args.output.json {
        status("Resolving", format!("{} artifact(s)", todo.len()));
    }
    let runtime = crate::runtime::start()?;
    let new_lock = runtime
        .block_on(resolve::resolve(
            &ctx,
            &plan,
            &spec.hash,
            existing.as_ref(),
            &policy,
        ))
        .map_err(|failures| {
            let outcome = if existing.is_some() {
                format!("the lock {} was left unchanged", lock_path.display())
            } else {
                format!(
                    "nothing was written ({} was not created)",
                    lock_path.display()
                )
            };
            anyhow::anyhow!("{failures}\n{outcome}")
        })?;

    let diff = crate::lock::diff::diff(existing.as_ref(), &new_lock);
    let changes: Vec<PinChange> = diff.artifacts.iter().filter_map(PinChange::of).collect();
    let talk = !args.output.quiet && !args.output.json;
    if talk {
        for change in &changes {
            eprintln!("{}", change.line());
        }
    }
    let count = |kinds: &[ChangeKind]| changes.iter().filter(|c| kinds.contains(&c.kind())).count();
    let added = count(&[ChangeKind::Added]);
    let updated = count(&[
        ChangeKind::Updated,
        ChangeKind::Republished,
        ChangeKind::Changed,
    ]);
    let removed = count(&[ChangeKind::Removed]);
    let written = new_lock.write(&lock_path)?;
    if talk {
        status(
            "Locking",
            format!(
                "{} artifact(s): {added} added, {updated} updated, {removed} removed{}",
                new_lock.artifacts.len(),
                if written { "" } else { " (lock unchanged)" }
            ),
        );
    }
    if args.output.json {
        let changes: Vec<serde_json::Value> = changes.iter().map(PinChange::json).collect();
        let summary = serde_json::json!({
            "schema": "modelbench-lock/1",
            "lock": lock_path.display().to_string(),
            "written": written,
            "artifacts": new_lock.artifacts.len(),
            "added": added,
            "updated": updated,
            "removed": removed,
            "changes": changes,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("JSON values serialize")
        );
    }
    Ok(())
}

/// One line of `lock`'s summary: an entry whose pins moved, in the lock diff's words.
struct PinChange<'a> {
    change: &'a ArtifactDiff,
    /// Same version: closure members moved, or pins moved without new bytes.
    detail: Option<&'static str>,
}

impl<'a> PinChange<'a> {
    /// `None` for an entry whose pins did not move (only its constraint, release date or
    /// page): `lock` reports what lands in the image.
    fn of(change: &'a ArtifactDiff) -> Option<PinChange<'a>> {
        let detail = match change.change {
            ChangeKind::Changed if change.is_republish() => None,
            ChangeKind::Changed if change.members_changed() => Some("closure members changed"),
            ChangeKind::Changed if !change.platforms.is_empty() => {
                Some("same version and bytes; URLs or platforms changed")
            }
            ChangeKind::Changed => return None,
            _ => None,
        };
        Some(PinChange { change, detail })
    }

    /// The kind, with an entry whose closure holds new bytes under an old version counted
    /// as republished, as the bump table counts it.
    fn kind(&self) -> ChangeKind {
        if self.change.is_republish() {
            ChangeKind::Republished
        } else {
            self.change.change
        }
    }

    fn line(&self) -> String {
        // Upstream strings reach the terminal escaped (they are checked when locked, but
        // a terminal must never be told anything by an upstream).
        let e = |text: Option<&String>| {
            crate::lock::values::escape_for_terminal(text.map_or("", String::as_str))
        };
        let c = self.change;
        let (kind, name) = (&c.kind, crate::lock::values::escape_for_terminal(&c.name));
        let (old, new) = (e(c.old_version.as_ref()), e(c.new_version.as_ref()));
        match self.kind() {
            ChangeKind::Added => format!("{:>12} {kind} {name} {new}", "Adding"),
            ChangeKind::Removed => format!("{:>12} {kind} {name} {old}", "Removing"),
            ChangeKind::Updated => format!("{:>12} {kind} {name} {old} -> {new}", "Updating"),
            ChangeKind::Republished => format!(
                "{:>12} {kind} {name} {new} (same version, new hash)",
                "Republished"
            ),
            ChangeKind::Changed => format!(
                "{:>12} {kind} {name} {new} ({})",
                "Updating",
                self.detail.unwrap_or_default()
            ),
        }
    }

    /// `{"change": "added|updated|republished|changed|removed", "kind", "name", "from", "to"}`
    fn json(&self) -> serde_json::Value {
        let c = self.change;
        let mut entry = serde_json::json!({
            "change": self.kind().as_str(),
            "kind": c.kind,
            "name": c.name,
        });
        if let Some(from) = &c.old_version {
            entry["from"] = serde_json::json!(from);
        }
        if let Some(to) = &c.new_version {
            entry["to"] = serde_json::json!(to);
        }
        entry
    }
}
