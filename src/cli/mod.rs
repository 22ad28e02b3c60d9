//! The command line: the clap `Cli` and its `Command`s, and the dispatch to each command's
//! module. Each command defines its own arguments; nothing but `main.rs` imports this
//! module. Exit codes: 0 ok, 1 failure, 2 usage (clap's own).

mod report;

use anyhow::Result;
use clap::{Parser, Subcommand};

pub use report::report;

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
    Lock(crate::lock_command::LockArgs),
    /// Write the build context (Dockerfiles, compose file, scripts) from spec and lock, offline.
    Emit(crate::emit_command::EmitArgs),
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

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init(args) => crate::init::run(args),
        Command::Lock(args) => crate::lock_command::run(args),
        Command::Emit(args) => crate::emit_command::run(args),
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
