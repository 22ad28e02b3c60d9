//! The plumbing every command shares, below all of them: which spec and lock a command
//! works on ([`SpecArgs`]), spec and lock read together ([`load_inputs`]), and how a command
//! talks ([`OutputArgs`], [`Progress`], [`status`]). The `--sources` file is read by the one
//! loader, [`Sources::load_optional`](crate::sources::Sources::load_optional).
//!
//! Commands import this module; it imports no command.

mod progress;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Args;

use crate::lock::Lock;
use crate::spec::LoadedSpec;

pub(crate) use progress::Progress;

const DEFAULT_SPEC: &str = "specs/model-bench-cu128.toml";

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

/// Spec and lock as the read-only commands (`why`, `sbom`) use them.
pub(crate) struct Inputs {
    pub spec: LoadedSpec,
    /// The spec's text, for line numbers.
    pub spec_text: String,
    pub lock_path: PathBuf,
    pub lock: Lock,
    pub lock_bytes: Vec<u8>,
}

pub(crate) fn load_inputs(args: &SpecArgs) -> Result<Inputs> {
    let spec_path = args.spec_path()?;
    let spec = LoadedSpec::load(&spec_path)?;
    let spec_text = std::fs::read_to_string(&spec_path)
        .with_context(|| format!("cannot read {}", spec_path.display()))?;
    let lock_path = args.lock_path(&spec);
    let (lock_bytes, lock) = Lock::read_required(&lock_path)?;
    Ok(Inputs {
        spec,
        spec_text,
        lock_path,
        lock,
        lock_bytes,
    })
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

/// A status line on stderr, the verb right-aligned as cargo does (`     Emitted 12 files`).
pub(crate) fn status(verb: &str, message: impl std::fmt::Display) {
    eprintln!("{verb:>12} {message}");
}
