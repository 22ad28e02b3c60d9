//! `modelbench import-pei user_config.yml [--out specs/NAME.toml]`: turn a PeiDocker
//! two-stage config into a modelbench spec.
//!
//! Translated: `stage_1`/`stage_2` `image` (base, output), `ssh` (enable, port, host_port,
//! users with password, uid, gid, pubkey_file/pubkey_text), `proxy` (address, port), `apt`
//! (repo_source, keep_repo_after_build, use_proxy), `device.type: gpu`, `storage`, `mount`,
//! `ports`, `environment`, and `custom.on_build` entries that run the standard installers
//! (install-uv.sh, install-pixi.bash, install-nvm.sh, install-nodejs.sh, install-bun.sh,
//! install-claude-code.sh, install-codex-cli.sh) — directly, or from a custom script found
//! under the config's `installation/` directory — and the lines `pixi global install …`,
//! `bun add -g …`, `npm install -g …`, `apt-get install …` (with the `a || b` fallback idiom
//! as `"a | b"`) and a `curl`/`wget` of a GitHub release asset.
//!
//! Everything else is listed, never dropped silently, as
//! `untranslated: <file>:<line>: <text> (<why>)`, with the line in the YAML file or in the
//! script it came from; assumptions the import made are listed as `note: …`. Both go to
//! standard error and, as comments, to the end of the spec. The spec is checked with the
//! same parser and validator as `lock` before it is written.
//!
//! One module per step: [`yaml`] reads the config with line
//! numbers, [`config`] walks its keys into a [`draft`] of the spec, [`shell`] (with
//! [`installers`]) translates the `custom.on_build` scripts into the same draft, and
//! [`write`] writes the draft as spec text.

mod config;
mod draft;
mod installers;
mod shell;
mod write;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Args;

use crate::spec::LoadedSpec;

pub use config::import;

#[derive(Debug, Args)]
pub struct ImportPeiArgs {
    /// The PeiDocker config (`user_config.yml`).
    pub config: PathBuf,
    /// Write the spec to FILE (e.g. specs/NAME.toml) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The PeiDocker `installation/` directory whose custom scripts are read
    /// [default: `installation/` beside the config].
    #[arg(long, value_name = "DIR")]
    pub installation: Option<PathBuf>,
    /// Replace `--out` if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: ImportPeiArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read {}", args.config.display()))?;
    let installation = args.installation.clone().unwrap_or_else(|| {
        args.config
            .parent()
            .unwrap_or(Path::new(""))
            .join("installation")
    });
    let imported = import(&args.config, &text, &installation)?;
    let spec_path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("imported.toml"));
    LoadedSpec::from_str(&spec_path, &imported.spec).map_err(|err| {
        anyhow::anyhow!(
            "the imported spec does not validate (a bug in import-pei, or a value modelbench cannot take):\n{err}\n--- spec ---\n{}",
            imported.spec
        )
    })?;
    for warning in &imported.warnings {
        eprintln!("{warning}");
    }
    match &args.out {
        Some(out) => {
            if out.exists() && !args.force {
                bail!("{} exists; pass --force to replace it", out.display());
            }
            crate::lock::write_atomic(out, imported.spec.as_bytes())
                .with_context(|| format!("cannot write {}", out.display()))?;
            let untranslated = imported
                .warnings
                .iter()
                .filter(|w| w.kind == WarningKind::Untranslated)
                .count();
            eprintln!(
                "{:>12} {} from {} ({untranslated} untranslated)",
                "Imported",
                out.display(),
                args.config.display()
            );
        }
        None => print!("{}", imported.spec),
    }
    Ok(())
}

/// The spec text and what could not be carried over.
#[derive(Debug, Clone)]
pub struct Imported {
    pub spec: String,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// Dropped: modelbench has no equivalent, or the import cannot tell what it does.
    Untranslated,
    /// Translated, with an assumption worth checking.
    Note,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub kind: WarningKind,
    pub file: String,
    pub line: usize,
    pub text: String,
    pub reason: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            WarningKind::Untranslated => "untranslated",
            WarningKind::Note => "note",
        };
        write!(
            f,
            "{kind}: {}:{}: {} ({})",
            self.file, self.line, self.text, self.reason
        )
    }
}
