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
pub mod layer_tar;
pub mod openpgp;
pub mod preferences;

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
    /// Whether the base image's apt configuration is read (only for a status read from
    /// the base image). Left out of the request hash when read (the default), so specs
    /// whose base has no apt sources hash as before.
    #[serde(skip_serializing_if = "BaseSources::is_read")]
    pub base_sources: BaseSources,
}

/// Whether the base image's apt configuration is read (`[apt] base-sources`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaseSources {
    /// Read it, as `apt-get install` inside the image would: the image's sources become
    /// archives, `mirror` (the spec's apt mirror expanded: main, ports) in front of
    /// Ubuntu's canonical ones; the spec's `archives` follow them, or give way to them
    /// when they are only the default Ubuntu ones (`replace_defaults`); the image's pins
    /// apply to every archive.
    Read {
        mirror: Option<(String, String)>,
        replace_defaults: bool,
    },
    /// `[apt] base-sources = false`: only the spec's archives.
    Ignore,
}

impl BaseSources {
    pub fn is_read(&self) -> bool {
        matches!(self, BaseSources::Read { .. })
    }
}

impl Default for BaseSources {
    fn default() -> BaseSources {
        BaseSources::Read {
            mirror: None,
            replace_defaults: false,
        }
    }
}

/// One archive of a platform's list and where it came from.
#[derive(Debug, Clone)]
struct UsedArchive {
    archive: Archive,
    from: ArchiveFrom,
}

/// Who named an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ArchiveFrom {
    Spec,
    /// The base image, in this file (`/etc/apt/sources.list.d/x.sources stanza 1`).
    BaseImage(String),
}

impl std::fmt::Display for ArchiveFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveFrom::Spec => f.write_str("spec"),
            ArchiveFrom::BaseImage(origin) => write!(f, "base image {origin}"),
        }
    }
}

/// What one platform solves with: its archives, the image's pins and keyrings.
struct PlatformSources {
    archives: Vec<UsedArchive>,
    preferences: preferences::Preferences,
    keyrings: std::collections::BTreeMap<String, Vec<u8>>,
    /// Whether the base image's configuration changed anything (then the lock records
    /// the archives and pins).
    from_base: bool,
}

impl PlatformSources {
    /// The spec's archives alone.
    fn spec(request: &AptRequest) -> PlatformSources {
        PlatformSources {
            archives: request
                .archives
                .iter()
                .map(|archive| UsedArchive {
                    archive: archive.clone(),
                    from: ArchiveFrom::Spec,
                })
                .collect(),
            preferences: preferences::Preferences::default(),
            keyrings: Default::default(),
            from_base: false,
        }
    }

    /// The base image's sources (`apt`), then the spec's archives (an image archive the
    /// spec lists too is the spec's); the image's pins.
    fn new(
        request: &AptRequest,
        image: &str,
        apt: Option<&base_status::BaseApt>,
    ) -> Result<PlatformSources, Problem> {
        let (
            BaseSources::Read {
                mirror,
                replace_defaults,
            },
            Some(apt),
        ) = (&request.base_sources, apt)
        else {
            return Ok(PlatformSources::spec(request));
        };
        let fail = |err: String| Problem::msg(format!("the apt configuration of {image}: {err}"));
        let preferences = preferences::Preferences::parse(
            apt.files
                .iter()
                .filter(|(path, _)| base_sources::is_preferences_file(path))
                .map(|(path, text)| (path.as_str(), text.as_str())),
        )
        .map_err(fail)?;
        let entries = base_sources::parse_files(&apt.files).map_err(fail)?;
        let mut sources = PlatformSources::spec(request);
        if *replace_defaults && !entries.is_empty() {
            sources.archives.clear();
        }
        let listed: BTreeSet<&str> = sources
            .archives
            .iter()
            .flat_map(|a| &a.archive.uris)
            .map(|uri| uri.trim_end_matches('/'))
            .collect();
        let entries: Vec<_> = entries
            .into_iter()
            .filter(|e| {
                !e.uris
                    .iter()
                    .any(|u| listed.contains(u.trim_end_matches('/')))
            })
            .collect();
        let archives =
            base_sources::to_archives(&entries, mirror.as_ref(), &apt.keyrings).map_err(fail)?;
        let from_base = !archives.is_empty() || !preferences.is_empty();
        let image_archives = entries
            .iter()
            .zip(archives)
            .map(|(entry, archive)| UsedArchive {
                archive,
                from: ArchiveFrom::BaseImage(entry.origin.clone()),
            });
        sources.archives = image_archives.chain(sources.archives).collect();
        sources.preferences = preferences;
        sources.keyrings = apt.keyrings.clone();
        sources.from_base = from_base;
        Ok(sources)
    }

    /// `host[:port]` of the image's plain-http archives: signed like the spec's, whose
    /// plain-http hosts the context allows up front (`Context::new`).
    fn plain_http_hosts(&self) -> Vec<String> {
        self.archives
            .iter()
            .filter(|a| a.from != ArchiveFrom::Spec && !a.archive.trusted)
            .flat_map(|a| &a.archive.uris)
            .filter_map(|uri| crate::net::plain_http_authority(uri))
            .collect()
    }
}

fn hosts(archive: &Archive) -> Vec<String> {
    archive
        .uris
        .iter()
        .filter_map(|uri| ::url::Url::parse(uri).ok())
        .filter_map(|url| url.host_str().map(str::to_string))
        .collect()
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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);

    let index_cache = ctx.cache.as_deref().map(index_cache::IndexCache::new);
    let mut packages = Vec::new();
    let mut newest_release = None;
    let mut used_archives: Vec<crate::lock::SourceArchive> = Vec::new();
    let mut used_pins: BTreeSet<String> = BTreeSet::new();
    for platform in &ctx.platforms {
        let arch = platform.arch();
        let (status, sources) = match (&status, &request.status) {
            (Some(text), _) => (text.clone(), PlatformSources::spec(request)),
            (None, StatusSource::BaseImage { image, mirror }) => {
                let base = base_status::read_layers(
                    ctx,
                    image,
                    mirror.as_deref(),
                    *platform,
                    request.base_sources.is_read(),
                )
                .await?;
                let sources = PlatformSources::new(request, image, base.apt.as_ref())?;
                (base.status, sources)
            }
            (None, _) => unreachable!("only the base image is read per platform"),
        };
        let archives = &sources.archives;
        let keyrings = archives
            .iter()
            .map(|used| load_keyring(&used.archive, &request.dir, &sources.keyrings))
            .collect::<Result<Vec<_>, _>>()?;
        let plain_http = sources.plain_http_hosts();
        let client = if plain_http.is_empty() {
            ctx.client.clone()
        } else {
            ctx.client.allowing_plain_http(plain_http)
        };
        let serving: Vec<(usize, &Archive)> = archives
            .iter()
            .map(|used| &used.archive)
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
                    &client,
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
        // The image's generic pins set index priorities (an archive's own `priority`
        // stands).
        for f in &mut fetched {
            let archive = &archives[f.archive].archive;
            f.facts.hosts = hosts(archive);
            if archive.priority.is_none()
                && let Some(priority) = sources.preferences.index_priority(&f.facts)
            {
                f.priority = priority;
            }
        }
        let labels: Vec<(String, i32)> = fetched
            .iter()
            .map(|f| (f.label.clone(), f.priority))
            .collect();
        let texts: Vec<String> = fetched
            .iter_mut()
            .map(|f| std::mem::take(&mut f.text))
            .collect();
        let facts: Vec<preferences::IndexFacts> = fetched.iter().map(|f| f.facts.clone()).collect();
        let pins = sources
            .preferences
            .has_specific()
            .then(|| sources.preferences.clone());
        if sources.from_base {
            record_archives(&mut used_archives, archives, platform.as_str());
            used_pins.extend(sources.preferences.pins.iter().map(|p| p.origin.clone()));
        }
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
            let pin = |package: &str, version: &str, at: &[usize]| {
                let pins = pins.as_ref()?;
                let facts: Vec<&preferences::IndexFacts> = at.iter().map(|&i| &facts[i]).collect();
                pins.version_priority(package, version, &facts)
            };
            let solve = |wanted: &[Wanted]| match &pins {
                Some(_) => closure::solve_pinned(&indices, &status, wanted, &options, &pin),
                None => closure::solve(&indices, &status, wanted, &options),
            };
            if earlier.is_empty() {
                return Ok((Vec::new(), solve(&wanted)?));
            }
            // On top of an earlier stage: solve both lists together (what the image
            // ends up with); this stage installs what the earlier one alone does not.
            let before = solve(&earlier)?;
            let all: Vec<Wanted> = earlier.iter().chain(&wanted).cloned().collect();
            Ok::<_, SolveError>((before, solve(&all)?))
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
            let archive = &archives[source.archive].archive;
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
    artifact.archives = used_archives;
    artifact.pins = used_pins.into_iter().collect();
    Ok(artifact)
}

/// Add a platform's archives to the lock's list, one entry per archive and origin with
/// the platforms it served.
fn record_archives(
    recorded: &mut Vec<crate::lock::SourceArchive>,
    archives: &[UsedArchive],
    platform: &str,
) {
    for used in archives {
        let same = recorded.iter_mut().find(|r| {
            r.uris == used.archive.uris
                && r.suites == used.archive.suites
                && r.components == used.archive.components
                && r.from == used.from.to_string()
        });
        match same {
            Some(entry) => entry.platforms.push(platform.to_string()),
            None => recorded.push(crate::lock::SourceArchive {
                platforms: vec![platform.to_string()],
                uris: used.archive.uris.clone(),
                suites: used.archive.suites.clone(),
                components: used.archive.components.clone(),
                from: used.from.to_string(),
            }),
        }
    }
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

/// The keyring an archive's `signed-by` names: shipped ones, files relative to the
/// spec, and (for the base image's archives) files read from the image, `image:/path`.
fn load_keyring(
    archive: &Archive,
    dir: &std::path::Path,
    image_keyrings: &std::collections::BTreeMap<String, Vec<u8>>,
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
        if let Some(path) = path.strip_prefix(base_sources::IMAGE_KEYRING) {
            let bytes = image_keyrings
                .get(path.trim_start_matches('/'))
                .ok_or_else(|| Problem::msg(format!("the base image has no keyring `{path}`")))?;
            keyring.merge(openpgp::Keyring::parse(bytes).map_err(|err| {
                Problem::msg(format!("the base image's keyring `{path}`: {err}"))
            })?);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_archive(uri: &str) -> Archive {
        Archive {
            uris: vec![uri.to_string()],
            suites: vec!["stable".into()],
            components: vec!["main".into()],
            signed_by: vec![keys::BuiltinKeyring::DebianArchive.reference()],
            trusted: false,
            architectures: Vec::new(),
            snapshot: None,
            priority: None,
        }
    }

    fn request(archives: Vec<Archive>, base_sources: BaseSources) -> AptRequest {
        AptRequest {
            packages: vec!["hello".into()],
            recommends: false,
            archives,
            status: StatusSource::BaseImage {
                image: "registry.example/base:1".into(),
                mirror: None,
            },
            earlier: Vec::new(),
            dir: Default::default(),
            base_sources,
        }
    }

    fn image_apt(local_key: &str) -> base_status::BaseApt {
        let mut apt = base_status::BaseApt::default();
        apt.files.insert(
            "etc/apt/sources.list".into(),
            "deb http://archive.ubuntu.com/ubuntu noble main\n".into(),
        );
        apt.files.insert(
            "etc/apt/sources.list.d/local.list".into(),
            format!("deb [signed-by={local_key}] https://local.example/debian stable main\n"),
        );
        apt.files.insert(
            "etc/apt/preferences.d/local".into(),
            "Package: *\nPin: origin local.example\nPin-Priority: 600\n".into(),
        );
        apt.keyrings
            .insert("etc/apt/keyrings/local.gpg".into(), b"key bytes".to_vec());
        apt
    }

    fn read(mirror: bool, replace_defaults: bool) -> BaseSources {
        BaseSources::Read {
            mirror: mirror.then(|| crate::spec::mirror_urls::apt("https://mirror.example/ubuntu")),
            replace_defaults,
        }
    }

    #[test]
    fn image_sources_replace_the_defaults_with_the_mirror_in_front() {
        let defaults = request(
            vec![spec_archive("http://archive.ubuntu.com/ubuntu")],
            read(true, true),
        );
        let apt = image_apt("/etc/apt/keyrings/local.gpg");
        let sources = PlatformSources::new(&defaults, "base", Some(&apt)).unwrap();
        let listed: Vec<(Vec<String>, String)> = sources
            .archives
            .iter()
            .map(|a| (a.archive.uris.clone(), a.from.to_string()))
            .collect();
        assert_eq!(
            listed,
            [
                (
                    vec![
                        "https://mirror.example/ubuntu".to_string(),
                        "http://archive.ubuntu.com/ubuntu".to_string()
                    ],
                    "base image /etc/apt/sources.list:1".to_string()
                ),
                (
                    vec!["https://local.example/debian".to_string()],
                    "base image /etc/apt/sources.list.d/local.list:1".to_string()
                ),
            ]
        );
        assert_eq!(
            sources.archives[1].archive.signed_by,
            ["image:/etc/apt/keyrings/local.gpg"]
        );
        assert!(sources.from_base);
        assert_eq!(sources.preferences.pins.len(), 1);
        assert_eq!(sources.plain_http_hosts(), ["archive.ubuntu.com"]);
    }

    #[test]
    fn spec_archives_follow_the_image_and_win_over_its_same_archive() {
        let listed = request(
            vec![spec_archive("https://local.example/debian/")],
            read(false, false),
        );
        let apt = image_apt("/usr/share/keyrings/vendor.gpg");
        let sources = PlatformSources::new(&listed, "base", Some(&apt)).unwrap();
        let from: Vec<String> = sources
            .archives
            .iter()
            .map(|a| a.from.to_string())
            .collect();
        // The image's local.list (whose key the image lacks) gives way to the spec's.
        assert_eq!(from, ["base image /etc/apt/sources.list:1", "spec"]);

        let elsewhere = request(
            vec![spec_archive("https://other.example/debian")],
            read(false, false),
        );
        let err = PlatformSources::new(&elsewhere, "registry.example/base:1", Some(&apt))
            .err()
            .expect("an unknown key fails closed")
            .to_string();
        assert!(
            err.contains("registry.example/base:1")
                && err.contains("`/usr/share/keyrings/vendor.gpg`")
                && err.contains("https://local.example/debian stable"),
            "{err}"
        );

        let ignored = request(
            vec![spec_archive("https://other.example/debian")],
            BaseSources::Ignore,
        );
        let sources = PlatformSources::new(&ignored, "base", Some(&apt)).unwrap();
        assert_eq!(sources.archives.len(), 1);
        assert!(!sources.from_base && sources.preferences.is_empty());
    }
}
