//! `modelbench completions bash|zsh|fish|elvish|powershell` and `modelbench man`: generated
//! from the clap definitions, so they never drift from the real command line.
//!
//! Install, e.g.: `modelbench completions bash > ~/.local/share/bash-completion/completions/modelbench`,
//! `modelbench completions zsh > "${fpath[1]}/_modelbench"`,
//! `modelbench completions fish > ~/.config/fish/completions/modelbench.fish`;
//! `modelbench man > modelbench.1` (or `--dir DIR` for one page per subcommand).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write a completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `modelbench.1` and one page per subcommand (`modelbench-lock.1`, …) into DIR
    /// instead of printing `modelbench.1` to standard output.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Print the completion script for `args.shell` to standard output.
pub fn completions(args: &CompletionsArgs, cmd: &mut clap::Command) -> Result<()> {
    let mut out = Vec::new();
    write_completions(args.shell, cmd, &mut out);
    std::io::stdout()
        .write_all(&out)
        .context("cannot write the completion script")
}

/// The completion script for `shell` (the binary name is the command's name).
pub fn write_completions(shell: Shell, cmd: &mut clap::Command, out: &mut dyn Write) {
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, cmd, name, out);
}

/// Print the man page (roff) to standard output, or write all pages into `--dir`.
pub fn man(args: &ManArgs, cmd: &mut clap::Command) -> Result<()> {
    cmd.build();
    match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd.clone(), dir)
                .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
            eprintln!("{:>12} man pages to {}", "Wrote", dir.display());
            Ok(())
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd.clone())
                .render(&mut out)
                .context("cannot render the man page")?;
            std::io::stdout()
                .write_all(&out)
                .context("cannot write the man page")
        }
    }
}
