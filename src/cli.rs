//! The command line: clap definitions, then one function per command. Exit codes: 0 ok,
//! 1 failure, 2 usage (clap's own).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use std::io::IsTerminal;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::emit::{self, EmitInputs};
use crate::lock::Lock;
use crate::lock::diff::{ArtifactDiff, ChangeKind};
use crate::resolve::{self, UpdatePolicy};
use crate::sources::Sources;
use crate::spec::LoadedSpec;

const DEFAULT_SPEC: &str = "specs/model-bench-cu128.toml";

#[derive(Debug, Parser)]
#[command(
    name = "modelbench",
    version,
    about = "Reproducible GPU development images: spec → bench.lock → verifying Dockerfiles"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a project: a commented starter spec (or one from a PeiDocker config),
    /// `lock/` and a `.gitignore`; never replaces a file.
    Init(crate::init::InitArgs),
    /// Resolve the spec into bench.lock (the only command besides bump that uses the network).
    Lock(LockArgs),
    /// Write the build context (Dockerfiles, compose file, scripts) from spec and lock, offline.
    Emit(EmitArgs),
    /// Move pins forward under the spec's [bump] policy; with --pr, one pull request per group.
    Bump(crate::bump::BumpArgs),
    /// Compare two locks: one row per changed artifact and platform (markdown or JSON).
    Diff(crate::bump::DiffArgs),
    /// Explain why an artifact or closure member is in the lock: its spec entry and dependency paths.
    Why(crate::why::WhyArgs),
    /// Write a CycloneDX 1.5 or SPDX 2.3 SBOM (JSON) of everything the lock pins.
    Sbom(crate::sbom::SbomArgs),
    /// Convert a PeiDocker user_config.yml into a modelbench spec.
    ImportPei(crate::import_pei::ImportPeiArgs),
    /// Print a shell completion script.
    Completions(crate::completions::CompletionsArgs),
    /// Print the man page (roff), or write one page per command with --dir.
    Man(crate::completions::ManArgs),
    /// Run a built image's self-check and look for a proxy or password in its ENV and history.
    CheckImage(crate::check_image::CheckImageArgs),
    /// Check that every locked URL still serves the locked bytes (for a scheduled CI job).
    Verify(crate::verify::VerifyArgs),
    /// An HTTP proxy for a build that lets through only the lock's URLs (https: its hosts),
    /// logs every request and reports; exit 1 when it refused any.
    AuditProxy(crate::audit::AuditProxyArgs),
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// The spec file [default: the one `specs/*.toml`; with several, specs/model-bench-cu128.toml].
    pub spec: Option<PathBuf>,
    /// The lock file [default: lock/<spec name>/bench.lock].
    #[arg(long)]
    pub lock: Option<PathBuf>,
}

impl SpecArgs {
    /// The spec named, else the one under `specs/` (as cargo finds the one manifest).
    pub(crate) fn spec_path(&self) -> Result<PathBuf> {
        match &self.spec {
            Some(path) => Ok(path.clone()),
            None => find_spec(Path::new("specs")),
        }
    }

    pub(crate) fn lock_path(&self, spec: &LoadedSpec) -> PathBuf {
        self.lock
            .clone()
            .unwrap_or_else(|| spec.default_lock_path())
    }
}

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

/// How a command talks: live progress on a terminal, plain lines otherwise.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print only errors.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print every resolution and retry (MODELBENCH_DEBUG=1 does the same).
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Print a JSON summary on stdout (schema in README "Machine-readable output").
    #[arg(long)]
    pub json: bool,
}

/// Progress for `lock`, `bump` and `verify`: on a terminal, a live line with the
/// steps done per source kind and the bytes received so far (redrawn while a large
/// download runs); in logs, one line per finished step (with `--verbose`); nothing with
/// `--quiet` or `--json`. Always on stderr, so stdout keeps only a report or JSON.
pub(crate) struct Progress {
    state: std::sync::Arc<ProgressState>,
}

#[derive(Default)]
struct ProgressState {
    live: bool,
    lines: bool,
    /// Per source kind: (done, total).
    kinds: std::sync::Mutex<std::collections::BTreeMap<String, (usize, usize)>>,
    done: std::sync::atomic::AtomicUsize,
    total: std::sync::atomic::AtomicUsize,
    /// The live line's last finished step and the verb it runs under.
    last: std::sync::Mutex<(String, String)>,
    stop: std::sync::atomic::AtomicBool,
    /// One drawer at a time, so a stale line never lands after the final clear.
    drawing: std::sync::Mutex<()>,
}

/// Longest name shown on the live line (it sits after a 12-column verb and the count).
const LIVE_WIDTH: usize = 40;

impl Progress {
    /// `talk`: anything may be printed; `lines`: one line per step off a terminal.
    pub(crate) fn new(talk: bool, lines: bool) -> Progress {
        Progress {
            state: std::sync::Arc::new(ProgressState {
                live: talk && std::io::stderr().is_terminal(),
                lines: talk && lines,
                ..ProgressState::default()
            }),
        }
    }

    /// These steps are coming, one per entry, named by source kind. On a terminal the
    /// live line is redrawn until they are done, so bytes show while a download runs.
    pub(crate) fn start<'a>(&self, kinds: impl IntoIterator<Item = &'a str>, working: &str) {
        let state = &self.state;
        let mut table = state.kinds.lock().expect("progress lock");
        let mut total = 0;
        for kind in kinds {
            table.entry(kind.to_string()).or_default().1 += 1;
            total += 1;
        }
        drop(table);
        state
            .total
            .store(total, std::sync::atomic::Ordering::SeqCst);
        *state.last.lock().expect("progress lock") = (working.to_string(), String::new());
        if state.live && total > 0 {
            // The first line now, not when the ticker thread first runs: on a loaded
            // machine steps can finish before it is scheduled.
            state.draw();
            let state = std::sync::Arc::clone(&self.state);
            std::thread::spawn(move || {
                while !state.stop.load(std::sync::atomic::Ordering::SeqCst) {
                    state.draw();
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
            });
        }
    }

    /// One step of `kind` finished. Live, the line shows `[done/total]`, what is left per
    /// kind, the bytes received and `what`; as a log line, `{done_verb} {what} {outcome}
    /// [done/total]` (`Resolved npm @openai/codex 0.169.0 [3/5]`). Called from
    /// concurrent tasks: each call prints whole lines.
    pub(crate) fn step(&self, kind: &str, done_verb: &str, what: &str, outcome: &str) {
        let state = &self.state;
        if let Some(entry) = state.kinds.lock().expect("progress lock").get_mut(kind) {
            entry.0 += 1;
        }
        let done = state.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let total = state.total.load(std::sync::atomic::Ordering::SeqCst);
        state.last.lock().expect("progress lock").1 = what.to_string();
        if state.live {
            state.draw();
        } else if state.lines {
            eprintln!("{done_verb:>12} {what} {outcome} [{done}/{total}]");
        }
    }
}

impl ProgressState {
    /// Redraw the live line, or clear it once every step is done.
    fn draw(&self) {
        let _drawing = self.drawing.lock().expect("progress lock");
        match self.line(crate::net::bytes_received()) {
            Some(line) => eprint!("\r\x1b[2K{line}"),
            None => {
                self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
                eprint!("\r\x1b[2K");
            }
        }
    }

    /// The live line after `bytes` received, or `None` once every step is done:
    /// `   Resolving [3/12] apt 1/2, npm 0/5 · 84.2 MiB npm @openai/codex`.
    fn line(&self, bytes: u64) -> Option<String> {
        let done = self.done.load(std::sync::atomic::Ordering::SeqCst);
        let total = self.total.load(std::sync::atomic::Ordering::SeqCst);
        if done >= total {
            return None;
        }
        let (working, what) = self.last.lock().expect("progress lock").clone();
        let left: Vec<String> = self
            .kinds
            .lock()
            .expect("progress lock")
            .iter()
            .filter(|(_, (d, t))| d < t)
            .map(|(kind, (d, t))| format!("{kind} {d}/{t}"))
            .collect();
        let received = if bytes >= 1 << 20 {
            format!(" · {:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
        } else {
            String::new()
        };
        // Short enough not to wrap on a narrow terminal, or `\r` could not redraw it.
        let what: String = match what.char_indices().nth(LIVE_WIDTH) {
            Some((end, _)) => format!("{}…", &what[..end]),
            None => what,
        };
        Some(format!(
            "{working:>12} [{done}/{total}] {}{received} {what}",
            left.join(", ")
        ))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        let was_running = !self
            .state
            .stop
            .swap(true, std::sync::atomic::Ordering::SeqCst);
        if self.state.live && was_running {
            eprint!("\r\x1b[2K");
        }
    }
}

impl resolve::Reporter for Progress {
    fn started(&self, requests: &[&resolve::Request]) {
        self.start(requests.iter().map(|r| r.kind.as_str()), "Resolving");
    }

    fn finished(&self, request: &resolve::Request, version: Option<&str>) {
        self.step(
            request.kind.as_str(),
            "Resolved",
            &format!("{} {}", request.kind, request.name),
            version.unwrap_or("failed"),
        );
    }
}

#[derive(Debug, Args)]
pub struct EmitArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Output directory [default: the spec's `[emit] out`, else build/<spec name>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Refuse a lock that does not match the spec exactly.
    #[arg(long)]
    pub locked: bool,
    /// Also write the GitHub Actions workflow that opens bump pull requests on a schedule
    /// and runs `verify --against-upstream` on pull requests that touch `lock/`
    /// (`.github/workflows/modelbench-bump.yml`, relative to the current directory).
    #[arg(long)]
    pub github_workflow: bool,
    /// The sources file the lock was made with: its hosts are hosts the lock may use.
    #[arg(long, env = "MODELBENCH_SOURCES")]
    pub sources: Option<PathBuf>,
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init(args) => crate::init::run(args),
        Command::Lock(args) => lock(args),
        Command::Emit(args) => emit_command(args),
        Command::CheckImage(args) => crate::check_image::run(args),
        Command::Bump(args) => crate::bump::run_bump(args),
        Command::Diff(args) => crate::bump::run_diff(args),
        Command::Why(args) => crate::why::run(args),
        Command::Sbom(args) => crate::sbom::run(args),
        Command::ImportPei(args) => crate::import_pei::run(args),
        Command::Completions(args) => {
            crate::completions::completions(&args, &mut <Cli as clap::CommandFactory>::command())
        }
        Command::Man(args) => {
            crate::completions::man(&args, &mut <Cli as clap::CommandFactory>::command())
        }
        Command::Verify(args) => crate::verify::run(args),
        Command::AuditProxy(args) => crate::audit::run(args),
    }
}

/// An error and its causes on one line, each cause once: a cause whose text an outer
/// message already shows (a thiserror message with `{source}` and the same source in the
/// chain) is not repeated.
pub fn report(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// The spec when none is named: the one `*.toml` under `dir`, or with several the
/// shipped default among them. None: say how to start.
fn find_spec(dir: &Path) -> Result<PathBuf> {
    let mut specs: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml") && path.is_file())
            .collect(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", dir.display())),
    };
    specs.sort();
    match specs.as_slice() {
        [] => bail!(
            "no spec named and none in {}/; start one with `modelbench init` \
             (or `modelbench init --from-pei user_config.yml`), or name it: `modelbench <command> SPEC`",
            dir.display()
        ),
        [only] => Ok(only.clone()),
        several => {
            let default = dir.join(DEFAULT_SPEC.trim_start_matches("specs/"));
            if several.contains(&default) {
                return Ok(default);
            }
            let names: Vec<String> = several.iter().map(|p| p.display().to_string()).collect();
            bail!(
                "no spec named and {} in {}/ ({}); name one: `modelbench <command> SPEC`",
                several.len(),
                dir.display(),
                names.join(", ")
            )
        }
    }
}

fn status(verb: &str, message: impl std::fmt::Display) {
    eprintln!("{verb:>12} {message}");
}

fn lock(args: LockArgs) -> Result<()> {
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

    let sources = match &args.sources {
        Some(path) => Sources::load(path)?,
        None => Sources::default(),
    };
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

fn emit_command(args: EmitArgs) -> Result<()> {
    let spec_path = args.spec.spec_path()?;
    let spec = LoadedSpec::load(&spec_path)?;
    let lock_path = args.spec.lock_path(&spec);
    let (lock_bytes, lock) = Lock::read_required(&lock_path)?;
    let lock_display = lock_path.display().to_string();
    let inputs = EmitInputs {
        lock_path: &lock_display,
        lock_bytes: &lock_bytes,
        home: std::env::var_os("HOME").map(PathBuf::from),
        locked: args.locked,
        sources: Some(&Sources::load_optional(args.sources.as_deref())?),
    };
    let emitted = emit::emit(&spec, &lock, &inputs)?;
    for warning in &emitted.warnings {
        eprintln!("warning: {warning}");
    }
    let out = args.out.clone().unwrap_or_else(|| spec.default_out_dir());
    emitted.write(&out)?;
    if args.github_workflow {
        let options = crate::bump::workflow::WorkflowOptions {
            spec_path: spec_path.display().to_string(),
            lock_path: args.spec.lock.as_ref().map(|p| p.display().to_string()),
            ..Default::default()
        };
        let path = Path::new(crate::bump::workflow::WORKFLOW_PATH);
        crate::lock::write_atomic(
            path,
            crate::bump::workflow::github_workflow(&options).as_bytes(),
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        status("Wrote", path.display());
    }
    status(
        "Emitted",
        format!("{} files to {}", emitted.files.len(), out.display()),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn progress_line_shows_what_is_left_per_kind_and_the_bytes() {
        let progress = super::Progress::new(false, false);
        progress.start(["apt", "npm", "npm", "github-release"], "Resolving");
        let state = &progress.state;
        assert_eq!(
            state.line(512).unwrap(),
            "   Resolving [0/4] apt 0/1, github-release 0/1, npm 0/2 "
        );
        progress.step("npm", "Resolved", "npm @openai/codex", "0.1");
        progress.step("apt", "Resolved", "apt stage-1", "2 packages");
        assert_eq!(
            state.line(84 * 1024 * 1024 + 200 * 1024).unwrap(),
            "   Resolving [2/4] github-release 0/1, npm 1/2 · 84.2 MiB apt stage-1"
        );
        progress.step(
            "npm",
            "Resolved",
            "npm @scope/a-rather-long-package-name-that-goes-on-and-on",
            "0.1",
        );
        assert_eq!(
            state.line(0).unwrap(),
            "   Resolving [3/4] github-release 0/1 npm @scope/a-rather-long-package-name-th…"
        );
        progress.step("github-release", "Resolved", "clash-rs", "v1");
        assert_eq!(state.line(0), None, "cleared when done");
    }
}
