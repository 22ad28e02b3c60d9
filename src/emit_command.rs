//! `modelbench emit`: write the build context (Dockerfiles, compose file, scripts) from
//! spec and lock, offline; with `--github-workflow` also the bump workflow.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::Args;

use crate::emit::{self, EmitInputs};
use crate::lock::Lock;
use crate::sources::Sources;
use crate::spec::LoadedSpec;
use crate::workspace::{SpecArgs, status};

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

pub fn run(args: EmitArgs) -> Result<()> {
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
        }
        .with_lock_pins(&spec.spec, &lock)?;
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
