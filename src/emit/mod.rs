//! `emit`: spec + lock → a build context (Dockerfiles, compose file, build/run scripts and
//! the `installation/` scripts they copy in). Pure and offline: the same inputs give the
//! same bytes. Every download in the emitted build goes through
//! `installation/common/modelbench-fetch.sh`, which checks the locked hash before use.

mod apt;
mod bake;
mod compose;
mod conda;
mod dockerfile;
mod file_change;
mod install;
pub mod npm;
pub mod quote;
mod scripts;
mod self_check;
mod tools;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use self::file_change::{FileChange, FileChangeKind, read_emitted};

use crate::lock::{Kind, Lock};
use crate::resolve::{self, Mismatch};
use crate::spec::LoadedSpec;

#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// A format 1 lock (see `Lock::format_outdated`), with `--locked`.
    #[error("{0}")]
    FormatOutdated(String),
    #[error(
        "the lock `{lock}` was made for another version of the spec (lock has spec-hash {locked}, spec is {current}); run `modelbench lock`"
    )]
    Stale {
        lock: String,
        locked: String,
        current: String,
    },
    #[error("{kind} `{name}` is in the spec but not in the lock `{lock}`; run `modelbench lock`")]
    Missing {
        kind: String,
        name: String,
        lock: String,
    },
    #[error(
        "{kind} `{name}` in the lock `{lock}` no longer matches the spec ({reason}); run `modelbench lock`"
    )]
    Changed {
        kind: String,
        name: String,
        lock: String,
        reason: String,
    },
    #[error(
        "the lock `{lock}` has {kind} `{name}`, which the spec does not ask for; refusing to build what the spec never requested (run `modelbench lock` to drop it)"
    )]
    Unrequested {
        kind: String,
        name: String,
        lock: String,
    },
    #[error("the lock `{lock}` cannot be trusted: {problem}")]
    UnnamedHost { lock: String, problem: String },
    #[error("the lock `{lock}` cannot be trusted: {edited}")]
    Edited {
        lock: String,
        edited: crate::lock::ChecksumError,
    },
    #[error(
        "`{stage}.pixi-global` needs pixi to install it: add `tools.pixi = {{ version = \"latest\", user = \"…\" }}` to {stage} or an earlier stage"
    )]
    NoPixi { stage: String },
    #[error("cannot read public key for user `{user}` from `{path}`: {source}")]
    PublicKey {
        user: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("refusing to emit `{file}`: {value}; the lock or an upstream is corrupt or hostile")]
    Unsafe {
        file: String,
        value: quote::UnsafeValue,
    },
    #[error(
        "refusing to emit from the lock `{lock}`: {kind} `{name}`: {value}; the lock or an upstream is corrupt or hostile"
    )]
    UnsafeEntry {
        lock: String,
        kind: String,
        name: String,
        value: quote::UnsafeValue,
    },
    #[error(
        "the `[proxy] address` `{address}` has credentials: they would be written into build.sh, docker-compose.yml and docker-bake.hcl. Remove them from the spec and give the builder the proxy from your environment at build time: `./build.sh --build-arg http_proxy=\"$http_proxy\" --build-arg https_proxy=\"$https_proxy\"` (build.sh passes extra arguments to the builder; predefined proxy args are not kept in the image)"
    )]
    ProxyCredentials { address: String },
    #[error(
        "the `[proxy]` {what} `{value}` is not a host name or IP address and port (a port may be a variable, `${{HOST_PORT_PROXY:-7890}}`)"
    )]
    ProxyAddress { what: &'static str, value: String },
    #[error(
        "lock entry {kind} `{name}` is installed by no step of the emitted build: a bug in modelbench (emit/install.rs hands every entry to its emitter)"
    )]
    NoInstaller { kind: Kind, name: String },
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What emit needs besides spec and lock: how to name them in headers, and where the
/// host's public key lives (for `pubkey = "~"`).
pub struct EmitInputs<'a> {
    pub lock_path: &'a str,
    pub lock_bytes: &'a [u8],
    pub home: Option<PathBuf>,
    /// `--locked`: a lock whose spec-hash differs is an error, not a warning.
    pub locked: bool,
    /// The sources file the lock was made with, whose hosts the lock may use; `None`
    /// skips the host check (`bump`, emitting a lock it has just resolved itself).
    pub sources: Option<&'a crate::sources::Sources>,
}

pub struct EmittedFile {
    pub bytes: Vec<u8>,
    pub executable: bool,
}

#[derive(Default)]
pub struct Emitted {
    pub files: BTreeMap<String, EmittedFile>,
    pub warnings: Vec<String>,
    /// Modification time of every written file: the lock's SOURCE_DATE_EPOCH, so `COPY`
    /// layers do not depend on when emit ran.
    pub mtime: i64,
}

impl Emitted {
    /// Add a file at `path`, a relative path of plain names (so it stays under `--out`).
    fn add(&mut self, path: &str, text: String, executable: bool) -> Result<(), EmitError> {
        quote::relative_path(path).map_err(|value| EmitError::Unsafe {
            file: path.to_string(),
            value,
        })?;
        self.files.insert(
            path.to_string(),
            EmittedFile {
                bytes: text.into_bytes(),
                executable,
            },
        );
        Ok(())
    }

    /// Write into `out`, replacing it whole: files are written to a sibling temp dir
    /// that is swapped in, so a failure never leaves a half-written context.
    pub fn write(&self, out: &Path) -> Result<(), EmitError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| EmitError::Write { path, source }
        };
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        let staging = tempfile::Builder::new()
            .prefix(".modelbench-emit-")
            .tempdir_in(&parent)
            .map_err(io(&parent))?;
        for (relative, file) in &self.files {
            // `add` checked it; `files` is public, so check again before writing.
            quote::relative_path(relative).map_err(|value| EmitError::Unsafe {
                file: relative.clone(),
                value,
            })?;
            let path = staging.path().join(relative);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            std::fs::write(&path, &file.bytes).map_err(io(&path))?;
            let mtime =
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.mtime.max(0) as u64);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(mtime))
                .map_err(io(&path))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = if file.executable { 0o755 } else { 0o644 };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(io(&path))?;
            }
        }
        let staged = staging.keep();
        let backup = parent.join(format!(
            ".modelbench-old-{}",
            out.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        if out.exists() {
            let _ = std::fs::remove_dir_all(&backup);
            std::fs::rename(out, &backup).map_err(io(out))?;
        }
        std::fs::rename(&staged, out).map_err(io(out))?;
        let _ = std::fs::remove_dir_all(&backup);
        Ok(())
    }
}

/// The build context for a lock about to be written to `lock_path` (`bump`): as
/// `modelbench emit --locked` will make it from that file, with `$HOME` for `pubkey = "~"`.
pub fn emit_for_lock(
    spec: &LoadedSpec,
    lock: &Lock,
    lock_path: &Path,
) -> Result<Emitted, EmitError> {
    let lock_path = lock_path.display().to_string();
    let lock_bytes = lock.to_bytes();
    let inputs = EmitInputs {
        lock_path: &lock_path,
        lock_bytes: &lock_bytes,
        home: std::env::var_os("HOME").map(PathBuf::from),
        locked: true,
        sources: None,
    };
    emit(spec, lock, &inputs)
}

pub fn emit(spec: &LoadedSpec, lock: &Lock, inputs: &EmitInputs) -> Result<Emitted, EmitError> {
    let mut emitted = Emitted {
        mtime: lock.source_date_epoch(),
        ..Emitted::default()
    };
    let plan = resolve::plan(&spec.spec);
    check_lock(spec, &plan, lock, inputs, &mut emitted)?;
    check_entries(lock, inputs.lock_path)?;
    scripts::check_proxy(spec)?;
    let installs = install::Installs::new(&spec.spec, &plan, lock)
        .map_err(|install::NoInstaller { kind, name }| EmitError::NoInstaller { kind, name })?;
    let context = dockerfile::Context::new(spec, lock, &installs, inputs);

    for ((stage_number, stage), stage_installs) in
        [(1u8, &spec.spec.stage_1), (2u8, &spec.spec.stage_2)]
            .into_iter()
            .zip(&installs.stages)
    {
        // Every field is named: an emitter added to `StageInstalls` does not compile
        // until its `installation/` files are written here.
        let install::StageInstalls {
            fetched,
            // Fetched (above); their steps are in the Dockerfile.
            placed: _,
            tools: _,
            debs,
            npm_globals,
            pixi_globals,
        } = stage_installs;
        let manifest_path = format!("installation/stage-{stage_number}/artifacts.tsv");
        let mut manifest =
            scripts::FetchManifest::of_entries(fetched).map_err(unsafe_in(&manifest_path))?;
        apt::add_stage(*debs, stage_number, &mut manifest, &mut emitted)?;
        npm::add_stage(
            &spec.spec,
            stage_number,
            stage,
            npm_globals,
            &installs,
            &mut emitted,
        )?;
        conda::add_stage(pixi_globals, stage_number, &mut manifest, &mut emitted)?;
        emitted.add(&manifest_path, manifest.into_text(), false)?;
        let homes = tools::home_files(&spec.spec, stage_number, stage).map_err(unsafe_in(
            &format!("installation/stage-{stage_number}/home"),
        ))?;
        for (user, files) in homes {
            for (path, text) in files {
                emitted.add(
                    &format!("installation/stage-{stage_number}/home/{user}/{path}"),
                    text,
                    false,
                )?;
            }
        }
        let self_check = format!("installation/stage-{stage_number}/self-check.sh");
        let text = self_check::script(&spec.spec, &installs, inputs.lock_path, stage_number)
            .map_err(unsafe_in(&self_check))?;
        emitted.add(&self_check, text, true)?;
    }
    let users = scripts::users(spec, inputs, &mut emitted)?;
    emitted.add("installation/stage-1/users.tsv", users.tsv, false)?;
    for (file, key) in users.keys {
        emitted.add(&format!("installation/stage-1/keys/{file}"), key, false)?;
    }
    let links = scripts::links_tsv(spec).map_err(unsafe_in("installation/common/links.tsv"))?;
    emitted.add("installation/common/links.tsv", links, false)?;
    for (path, text) in scripts::STATIC_SCRIPTS {
        emitted.add(path, text.to_string(), true)?;
    }

    for (file, text) in [
        ("stage-1.Dockerfile", context.stage_1_file()),
        ("stage-2.Dockerfile", context.stage_2_file()),
        ("merged.Dockerfile", context.merged_file()),
    ] {
        emitted.add(file, text.map_err(unsafe_in(file))?, false)?;
    }
    emitted.add(
        "docker-compose.yml",
        compose::compose(spec, lock.source_date_epoch()),
        false,
    )?;
    emitted.add(
        "docker-bake.hcl",
        bake::bake(spec, lock.source_date_epoch()),
        false,
    )?;
    for (path, text) in
        scripts::build_scripts(spec, lock.source_date_epoch()).map_err(unsafe_in("build.sh"))?
    {
        emitted.add(&path, text, true)?;
    }
    Ok(emitted)
}

/// Map a refused value to the error naming the file it was going into.
pub(crate) fn unsafe_in(file: &str) -> impl Fn(quote::UnsafeValue) -> EmitError + '_ {
    move |value| EmitError::Unsafe {
        file: file.to_string(),
        value,
    }
}

/// Refuse a lock that was edited after locking or cannot build this spec; with
/// `--locked`, also one that is stale. What does not match is [`resolve::mismatches`]'
/// to decide (as for `lock --check` and `bump`); the order of refusals is emit's.
fn check_lock(
    spec: &LoadedSpec,
    plan: &resolve::Plan,
    lock: &Lock,
    inputs: &EmitInputs,
    emitted: &mut Emitted,
) -> Result<(), EmitError> {
    let mismatches = resolve::mismatches(plan, lock, &spec.hash);
    let lock_path = || inputs.lock_path.to_string();
    // Before anything else: an entry edited after locking is refused whatever the spec
    // says, since its hashes are what the emitted build checks downloads against.
    for mismatch in &mismatches {
        if let Mismatch::Edited(edited) = mismatch {
            return Err(EmitError::Edited {
                lock: lock_path(),
                edited: edited.clone(),
            });
        }
    }
    // An entry the spec does not request is never built: emit takes some entries by
    // name (an apt closure per stage), so one added to the lock would otherwise land in
    // the image.
    for mismatch in &mismatches {
        if let Mismatch::Unrequested { kind, name } = mismatch {
            return Err(EmitError::Unrequested {
                kind: kind.to_string(),
                name: name.clone(),
                lock: lock_path(),
            });
        }
    }
    if let Some(sources) = inputs.sources
        && let Some(problem) = resolve::hosts::unnamed_hosts(plan, sources, lock)
            .into_iter()
            .next()
    {
        return Err(EmitError::UnnamedHost {
            lock: lock_path(),
            problem,
        });
    }
    // pixi-global tools are installed by pixi, as pixi's user: pixi must come first.
    let stages = [
        ("stage-1", &spec.spec.stage_1),
        ("stage-2", &spec.spec.stage_2),
    ];
    for (index, (name, stage)) in stages.iter().enumerate() {
        let pixi = stages[..=index]
            .iter()
            .any(|(_, s)| s.tools.contains_key("pixi"));
        if !stage.pixi_global.is_empty() && !pixi {
            return Err(EmitError::NoPixi {
                stage: name.to_string(),
            });
        }
    }
    for mismatch in mismatches {
        let changed = |kind: Kind, name: String, reason: String| EmitError::Changed {
            kind: kind.to_string(),
            name,
            lock: lock_path(),
            reason,
        };
        match mismatch {
            Mismatch::NotLocked { kind, name } => {
                return Err(EmitError::Missing {
                    kind: kind.to_string(),
                    name,
                    lock: lock_path(),
                });
            }
            Mismatch::Changed {
                kind,
                name,
                requested,
                locked,
            } => {
                let reason = format!("the spec now asks `{requested}`, locked for `{locked}`");
                return Err(changed(kind, name, reason));
            }
            Mismatch::Uncovered {
                kind,
                name,
                platform,
                ..
            } => return Err(changed(kind, name, format!("no pin for {platform}"))),
            Mismatch::SpecHash { locked, current } => {
                let stale = EmitError::Stale {
                    lock: lock_path(),
                    locked,
                    current,
                };
                if inputs.locked {
                    return Err(stale);
                }
                emitted.warnings.push(stale.to_string());
            }
            Mismatch::Edited(_) | Mismatch::Unrequested { .. } => {}
        }
    }
    if let Some(outdated) = lock.format_outdated(std::path::Path::new(&inputs.lock_path)) {
        if inputs.locked {
            return Err(EmitError::FormatOutdated(outdated));
        }
        emitted.warnings.push(outdated);
    }
    Ok(())
}

/// Refuse, naming the entry, a lock value that no emitted file could hold as data: every
/// string is one line without control characters, URLs and image references are one word,
/// and the tools' versions are plain names (install-tool.sh makes directories of them).
/// The quoting functions refuse such values anyway; this says which artifact holds one.
fn check_entries(lock: &Lock, lock_path: &str) -> Result<(), EmitError> {
    for artifact in &lock.artifacts {
        let refuse = |value| EmitError::UnsafeEntry {
            lock: lock_path.to_string(),
            kind: artifact.kind.to_string(),
            name: quote::escaped(&artifact.name),
            value,
        };
        quote::field(&artifact.name).map_err(refuse)?;
        quote::field(&artifact.version).map_err(refuse)?;
        let tool = ["bun", "node", "pixi", "uv"]
            .iter()
            .any(|t| crate::tools::artifact_names(t).contains(&artifact.name.as_str()));
        if tool {
            quote::component(&artifact.version).map_err(refuse)?;
        }
        for image in &artifact.images {
            quote::url_field(image).map_err(refuse)?;
        }
        for (platform, pin) in &artifact.platform {
            quote::field(platform).map_err(refuse)?;
            for url in &pin.urls {
                quote::url_field(url).map_err(refuse)?;
            }
        }
        for package in &artifact.packages {
            for text in [
                package.name.as_str(),
                package.version.as_str(),
                package.platform.as_str(),
                package.file.as_str(),
            ] {
                quote::field(text).map_err(refuse)?;
            }
            for url in &package.urls {
                quote::url_field(url).map_err(refuse)?;
            }
        }
    }
    Ok(())
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
