//! `apt`: a package list (`nano`, `libgl1-mesa-glx | libgl1`, …) → the whole closure of
//! `.deb` files apt would install on top of the base image, per platform, each with its
//! pool path, sha256, size and URLs (mirror first, canonical archive after, snapshot
//! last).
//!
//! The chain of trust is apt's: the Release is verified against the archive keyring
//! ([`openpgp`]), the `Packages` index against the Release ([`index`]), and each `.deb`
//! hash comes from that index. The closure is chosen as `apt-get install` chooses it
//! ([`closure`]): apt's candidate policy and marking order over the base image's dpkg
//! status, checked against `apt-get install -s` on real data (`tests/it/apt.rs`).
//!
//! Submodules: [`version`] (dpkg version ordering), [`control`] (deb822, Release,
//! Packages, status), [`index`] (fetching and checking indices), [`openpgp`]
//! (signatures), [`closure`] (the solver, free of I/O).

pub mod base_sources;
pub mod base_status;
pub mod closure;
pub mod control;
pub mod index;
pub mod index_cache;
pub mod keys;
pub mod openpgp;

use std::collections::BTreeSet;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// dpkg's version order lives below the lock (which checks locked versions by it).
pub use crate::versions::debian as version;
pub use closure::{Choice, Index, Options, SolveError, Wanted};
pub use index::{Archive, Snapshot};

use super::{Context, Problem};
use crate::lock::{ArtifactWire, PackageWire};
use crate::net::Hash;

/// What one apt artifact asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct AptRequest {
    /// Spec entries, in order; `a | b` picks the first that exists.
    pub packages: Vec<String>,
    /// Install `Recommends` (apt's default: yes).
    pub recommends: bool,
    /// Sources in apt's order (priority ties go to the earlier one).
    pub archives: Vec<Archive>,
    /// What the base image already has installed.
    pub status: StatusSource,
    /// Packages an earlier stage installs (its spec entries): solved together with
    /// `packages` so the result is consistent with them, and left out of this closure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier: Vec<String>,
    /// Relative keyring and status paths are relative to this directory (the spec's).
    #[serde(skip)]
    pub dir: std::path::PathBuf,
}

/// Where the dpkg status of the base comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "from")]
pub enum StatusSource {
    /// A status file named by the spec; its hash is part of the request so a changed
    /// file re-resolves.
    File { path: String, sha256: String },
    /// `/var/lib/dpkg/status` read from the base image's layers, per platform
    /// ([`base_status`]), through the registry mirror first when there is one.
    BaseImage {
        image: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mirror: Option<String>,
    },
    /// A scratch base: nothing installed.
    Empty,
}

impl StatusSource {
    /// Name a status file (read now, to hash it).
    pub fn from_file(path: &str) -> Result<StatusSource, String> {
        let bytes = std::fs::read(path)
            .map_err(|err| format!("cannot read dpkg status file `{path}`: {err}"))?;
        Ok(StatusSource::File {
            path: path.to_string(),
            sha256: hex::encode(Sha256::digest(&bytes)),
        })
    }

    pub(crate) fn read(&self, dir: &std::path::Path) -> Result<String, Problem> {
        match self {
            StatusSource::Empty => Ok(String::new()),
            StatusSource::File { path, sha256 } => {
                let bytes = std::fs::read(dir.join(path)).map_err(|err| {
                    Problem::msg(format!("cannot read dpkg status file `{path}`: {err}"))
                })?;
                let actual = hex::encode(Sha256::digest(&bytes));
                if &actual != sha256 {
                    return Err(Problem::msg(format!(
                        "dpkg status file `{path}` changed since the request was planned (sha256 {actual}, expected {sha256})"
                    )));
                }
                String::from_utf8(bytes)
                    .map_err(|_| Problem::msg(format!("dpkg status file `{path}` is not UTF-8")))
            }
            StatusSource::BaseImage { .. } => {
                unreachable!("read per platform by base_status")
            }
        }
    }
}

/// Resolve the closure for every platform of the context.
pub async fn resolve(
    ctx: &Context,
    name: &str,
    request: &AptRequest,
) -> Result<ArtifactWire, Problem> {
    let wanted: Vec<Wanted> = request
        .packages
        .iter()
        .map(|p| Wanted::parse(p))
        .collect::<Result<_, _>>()
        .map_err(Problem::msg)?;
    if wanted.is_empty() {
        return Err(Problem::msg(format!("apt `{name}` lists no package")));
    }
    if request.archives.is_empty() {
        return Err(Problem::msg(format!(
            "apt `{name}` names no archive to install from"
        )));
    }
    let earlier: Vec<Wanted> = request
        .earlier
        .iter()
        .map(|p| Wanted::parse(p))
        .collect::<Result<_, _>>()
        .map_err(Problem::msg)?;
    let status = match &request.status {
        StatusSource::BaseImage { .. } => None,
        other => Some(other.read(&request.dir)?),
    };
    let keyrings = request
        .archives
        .iter()
        .map(|archive| load_keyring(archive, &request.dir))
        .collect::<Result<Vec<_>, _>>()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);

    let index_cache = ctx.cache.as_deref().map(index_cache::IndexCache::new);
    let mut packages = Vec::new();
    let mut newest_release = None;
    for platform in &ctx.platforms {
        let arch = platform.arch();
        let serving: Vec<(usize, &Archive)> = request
            .archives
            .iter()
            .enumerate()
            .filter(|(_, a)| a.serves(arch))
            .collect();
        if serving.is_empty() {
            return Err(Problem::msg(format!(
                "no archive of apt `{name}` serves {arch}"
            )));
        }
        let mut fetched =
            futures_util::future::try_join_all(serving.iter().map(|(number, archive)| {
                use futures_util::TryFutureExt;
                index::fetch_archive(
                    &ctx.client,
                    *number,
                    archive,
                    arch,
                    keyrings[*number].as_ref(),
                    now,
                    index_cache.as_ref(),
                )
                .map_err(|problem| shipped_keys_hint(problem, archive))
            }))
            .await?
            .concat();
        for date in fetched
            .iter()
            .filter_map(|f| f.date.as_deref())
            .filter_map(index::parse_date)
        {
            newest_release = newest_release.max(Some(date));
        }
        let labels: Vec<(String, i32)> = fetched
            .iter()
            .map(|f| (f.label.clone(), f.priority))
            .collect();
        let texts: Vec<String> = fetched
            .iter_mut()
            .map(|f| std::mem::take(&mut f.text))
            .collect();
        let status = match (&status, &request.status) {
            (Some(text), _) => text.clone(),
            (None, StatusSource::BaseImage { image, mirror }) => {
                base_status::read(ctx, image, mirror.as_deref(), *platform).await?
            }
            (None, _) => unreachable!("only the base image is read per platform"),
        };
        let wanted = wanted.clone();
        let earlier = earlier.clone();
        let options = Options {
            arch: arch.to_string(),
            recommends: request.recommends,
        };
        let choices = tokio::task::spawn_blocking(move || {
            let indices: Vec<Index<'_>> = texts
                .iter()
                .zip(&labels)
                .map(|(text, (label, priority))| Index {
                    text,
                    priority: *priority,
                    label: label.clone(),
                })
                .collect();
            if earlier.is_empty() {
                return Ok((
                    Vec::new(),
                    closure::solve(&indices, &status, &wanted, &options)?,
                ));
            }
            // On top of an earlier stage: solve both lists together (what the image
            // ends up with); this stage installs what the earlier one alone does not.
            let before = closure::solve(&indices, &status, &earlier, &options)?;
            let all: Vec<Wanted> = earlier.iter().chain(&wanted).cloned().collect();
            Ok::<_, SolveError>((before, closure::solve(&indices, &status, &all, &options)?))
        })
        .await
        .map_err(|err| Problem::msg(format!("the apt solver stopped: {err}")))?
        .map_err(|err| Problem::msg(format!("{arch}: {err}")))?;
        let (before, together) = choices;
        let mut choices = Vec::new();
        for choice in together {
            let earlier_member = before
                .iter()
                .find(|b| b.name == choice.name && b.arch == choice.arch);
            match earlier_member {
                Some(b) if b.version == choice.version => continue,
                Some(b) => {
                    return Err(Problem::msg(format!(
                        "{arch}: `{name}` would need {} {} instead of the earlier stage's {}; move the package to the earlier stage",
                        choice.name, choice.version, b.version
                    )));
                }
                None => choices.push(choice),
            }
        }
        for choice in choices {
            let source = &fetched[choice.index];
            let archive = &request.archives[source.archive];
            if choice.sha256.is_empty() || choice.filename.is_empty() {
                return Err(Problem::msg(format!(
                    "{} {} in {} has no Filename or SHA256 field",
                    choice.name, choice.version, source.label
                )));
            }
            let hash = Hash::sha256_hex(&choice.sha256).map_err(|err| {
                Problem::msg(format!("{} {}: {err}", choice.name, choice.version))
            })?;
            let mut urls = archive.file_urls(&choice.filename);
            if let Some(snapshot) = &source.snapshot {
                urls.push(format!(
                    "{snapshot}/{}",
                    choice.filename.trim_start_matches("./")
                ));
            }
            let file = choice
                .filename
                .rsplit('/')
                .next()
                .unwrap_or(&choice.filename)
                .to_string();
            packages.push(PackageWire {
                name: choice.name,
                version: choice.version,
                platform: platform.as_str().to_string(),
                arch: Some(choice.arch),
                build: None,
                subdir: None,
                noarch: None,
                path: None,
                file,
                urls,
                hash,
                size: Some(choice.size),
                requested: choice.requested,
                required_by: choice.required_by,
                npm: None,
                conda: None,
            });
        }
    }
    packages.sort_by(|a, b| {
        (&a.platform, &a.name, &a.version, &a.file).cmp(&(
            &b.platform,
            &b.name,
            &b.version,
            &b.file,
        ))
    });
    let mut artifact = super::artifact(super::Kind::Apt, closure_version(&packages));
    artifact.published = newest_release.map(index::rfc3339);
    artifact.packages = packages;
    Ok(artifact)
}

/// The artifact's version: a digest of what gets installed, so any change in the
/// closure (a version, a hash, a member) shows as an update.
pub fn closure_version(packages: &[PackageWire]) -> String {
    let lines: BTreeSet<String> = packages
        .iter()
        .map(|p| format!("{} {} {} {}\n", p.platform, p.name, p.version, p.hash))
        .collect();
    let mut hasher = Sha256::new();
    for line in &lines {
        hasher.update(line.as_bytes());
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// An archive checked only against the shipped keyrings (it names no `signed-by`, or
/// only `builtin:` ones) whose signer is not among them: say how to name its key.
fn shipped_keys_hint(problem: Problem, archive: &Archive) -> Problem {
    let only_shipped = !archive.signed_by.is_empty()
        && archive
            .signed_by
            .iter()
            .all(|k| keys::BuiltinKeyring::from_reference(k).is_some());
    match problem {
        Problem::Message(text) if only_shipped && text.contains("no good signature") => {
            Problem::msg(format!(
                "{text}; it was checked against the keyrings modelbench ships ({}): name the archive's own keyring in `signed-by`",
                archive.signed_by.join(", ")
            ))
        }
        other => other,
    }
}

fn load_keyring(
    archive: &Archive,
    dir: &std::path::Path,
) -> Result<Option<openpgp::Keyring>, Problem> {
    if archive.signed_by.is_empty() {
        if archive.trusted {
            return Ok(None);
        }
        return Err(Problem::msg(format!(
            "archive {} names no keyring (signed-by) and is not marked trusted",
            archive
                .uris
                .first()
                .map(String::as_str)
                .unwrap_or("(no URI)")
        )));
    }
    let mut keyring = openpgp::Keyring::default();
    for path in &archive.signed_by {
        if let Some(builtin) = keys::BuiltinKeyring::from_reference(path) {
            keyring.merge(builtin.map_err(Problem::msg)?.keyring());
            continue;
        }
        let bytes = std::fs::read(dir.join(path))
            .map_err(|err| Problem::msg(format!("cannot read keyring `{path}`: {err}")))?;
        keyring.merge(
            openpgp::Keyring::parse(&bytes)
                .map_err(|err| Problem::msg(format!("keyring `{path}`: {err}")))?,
        );
    }
    Ok(Some(keyring))
}
