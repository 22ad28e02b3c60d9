//! `modelbench check-image IMAGE`: run a built image's self-check with whichever engine
//! exists (docker with a daemon, podman, buildah), and look at what only the outside can
//! see: the image's `ENV` and build history must hold no proxy and no password.

use std::process::Command;

use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    Docker,
    Podman,
    Buildah,
}

#[derive(Debug, Args)]
pub struct CheckImageArgs {
    /// The image to check (e.g. ig-model-bench:cu128).
    pub image: String,
    /// Print the self-check's JSON document instead of lines.
    #[arg(long)]
    pub json: bool,
    /// The container engine [default: docker when its daemon answers, else podman, else buildah].
    #[arg(long, value_enum)]
    pub engine: Option<Engine>,
    /// An extra global option for the engine (repeatable), e.g. `--engine-arg=--root=/tmp/store`.
    #[arg(long = "engine-arg", allow_hyphen_values = true)]
    pub engine_args: Vec<String>,
}

pub fn run(args: CheckImageArgs) -> Result<()> {
    let engine = match args.engine {
        Some(engine) => engine,
        None => detect()?,
    };
    let program = match engine {
        Engine::Docker => "docker",
        Engine::Podman => "podman",
        Engine::Buildah => "buildah",
    };
    let engine_cmd = || {
        let mut cmd = Command::new(program);
        cmd.args(&args.engine_args);
        cmd
    };

    // What only the outside sees: ENV and the commands of the build history.
    let (env, history) = match engine {
        Engine::Buildah => {
            let inspect = output(engine_cmd().args(["inspect", "--type", "image", &args.image]))?;
            let value: serde_json::Value =
                serde_json::from_str(&inspect).context("buildah inspect printed no JSON")?;
            let env = value["OCIv1"]["config"]["Env"].to_string();
            let history = value["OCIv1"]["history"].to_string();
            (env, history)
        }
        Engine::Docker | Engine::Podman => (
            output(engine_cmd().args([
                "image",
                "inspect",
                "--format",
                "{{json .Config.Env}}",
                &args.image,
            ]))?,
            output(engine_cmd().args([
                "history",
                "--no-trunc",
                "--format",
                "{{.CreatedBy}}",
                &args.image,
            ]))?,
        ),
    };
    let mut leaks = Vec::new();
    for (place, text) in [("ENV", &env), ("build history", &history)] {
        for needle in ["http_proxy=", "https_proxy=", "all_proxy=", "password="] {
            if text.to_ascii_lowercase().contains(needle) {
                leaks.push(format!("{place} contains `{needle}`"));
            }
        }
    }

    // The image's own self-check, in a fresh container.
    let mut self_check = vec!["/usr/local/bin/modelbench-self-check".to_string()];
    if args.json {
        self_check.push("--json".into());
    }
    let status = match engine {
        Engine::Buildah => {
            let container = output(engine_cmd().args(["from", "--quiet", &args.image]))?;
            let container = container.trim().to_string();
            let status = engine_cmd()
                .args(["run", &container, "--"])
                .args(&self_check)
                .status()
                .context("cannot run buildah")?;
            let _ = engine_cmd().args(["rm", &container]).output();
            status
        }
        Engine::Docker | Engine::Podman => engine_cmd()
            .args(["run", "--rm", "--entrypoint", &self_check[0], &args.image])
            .args(&self_check[1..])
            .status()
            .with_context(|| format!("cannot run {program}"))?,
    };
    for leak in &leaks {
        eprintln!("fail image: {leak}");
    }
    if !status.success() || !leaks.is_empty() {
        bail!(
            "image {} does not match its lock (see the failed checks above)",
            args.image
        );
    }
    Ok(())
}

fn detect() -> Result<Engine> {
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works("docker", &["info"]) {
        Ok(Engine::Docker)
    } else if works("podman", &["--version"]) {
        Ok(Engine::Podman)
    } else if works("buildah", &["--version"]) {
        Ok(Engine::Buildah)
    } else {
        bail!("no container engine: need docker (with a daemon), podman or buildah")
    }
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
