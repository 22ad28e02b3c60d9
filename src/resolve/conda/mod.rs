//! `conda`: one `pixi-global` tool (a conda match spec: `jq`, `yq >=4`) → the whole
//! environment `pixi global install` would create for it, per platform: every package's
//! name, version, build, subdir, file, sha256, size and URLs (the spec's mirror first,
//! the canonical channel after).
//!
//! The channel's `repodata.json` for the platform's subdir (`linux-64`, `linux-aarch64`)
//! and `noarch` comes through the one client, mirror first ([`repodata`]); the solve is
//! rattler's resolvo, which pixi uses, with the target's virtual packages ([`solve`]):
//! `__glibc` is the base image's `libc6` from its dpkg status (read once per base and
//! platform, as apt reads it).
//! Hashes come from the repodata records: conda-forge publishes a sha256 per file.

pub mod repodata;
pub mod solve;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::revalidate::DocumentCache;
use super::{Context, Problem};
use crate::lock::wire::CondaFactsWire;
use crate::lock::{ArtifactWire, PackageWire};
use crate::net::Hash;
use crate::platform::Platform;
use repodata::Subdir;

/// Largest `repodata.json` accepted: conda-forge's `linux-64` index is a few hundred MB
/// uncompressed and growing.
pub const REPODATA_LIMIT: u64 = 2 * 1024 * 1024 * 1024;

/// `__glibc` of Ubuntu 24.04, the seed's base (tests use it as a fixed value).
pub const UBUNTU_NOBLE_GLIBC: &str = "2.39";
/// pixi's default `__linux` system requirement (the kernel at build time is the build
/// host's, unknown when locking).
pub const DEFAULT_LINUX: &str = "4.18";

/// What one pixi-global tool asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CondaRequest {
    /// The spec entry as written: a conda match spec.
    pub spec: String,
    /// The channel name (`conda-forge`), below the `conda` upstream.
    pub channel: String,
    /// The channel on the spec's mirror (`[mirrors] conda`), tried first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<String>,
    /// `__glibc` of the image, when fixed; otherwise read from `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glibc: Option<String>,
    /// The base image's dpkg status (as apt reads it): `__glibc` is its `libc6`
    /// version, as pixi detects it on the image. No `libc6`: no `__glibc`, as pixi on a
    /// system without glibc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<super::apt::StatusSource>,
    /// A relative status file is relative to this directory (the spec's).
    #[serde(skip)]
    pub dir: std::path::PathBuf,
    /// `__linux` assumed for the image.
    pub linux: String,
}

/// The facts of one repodata record, read back through rattler's own serializer so
/// each value keeps the form the channel published (a timestamp in seconds stays in
/// seconds).
fn facts_of(record: &rattler_conda_types::PackageRecord) -> Result<CondaFactsWire, String> {
    let published = serde_json::to_value(record).map_err(|err| err.to_string())?;
    Ok(CondaFactsWire {
        build_number: record.build_number,
        depends: record.depends.clone(),
        constrains: record.constrains.clone(),
        track_features: record.track_features.clone(),
        license: record.license.clone(),
        license_family: record.license_family.clone(),
        md5: record.md5.map(hex::encode),
        timestamp: published
            .get("timestamp")
            .and_then(serde_json::Value::as_u64),
        python_site_packages_path: record.python_site_packages_path.clone(),
    })
}

/// The conda subdir of a platform.
pub fn subdir(platform: Platform) -> &'static str {
    match platform {
        Platform::LinuxAmd64 => "linux-64",
        Platform::LinuxArm64 => "linux-aarch64",
    }
}

/// Resolve one tool's environment for every platform of the context.
pub async fn resolve(
    ctx: &Context,
    name: &str,
    request: &CondaRequest,
) -> Result<ArtifactWire, Problem> {
    let spec = solve::parse_spec(&request.spec).map_err(Problem::msg)?;
    let tool = spec
        .name
        .as_exact()
        .map(|n| n.as_normalized().to_string())
        .unwrap_or_else(|| name.to_string());
    let canonical = format!("{}/{}", ctx.sources.upstream("conda"), request.channel);
    let mut bases: Vec<String> = request
        .mirror
        .iter()
        .map(|m| m.trim_end_matches('/').to_string())
        .collect();
    bases.push(canonical.clone());

    let mut needed: BTreeSet<&str> = ctx.platforms.iter().map(|p| subdir(*p)).collect();
    needed.insert("noarch");
    let fetched: Vec<Arc<Subdir>> = futures_util::future::try_join_all(needed.iter().map(|s| {
        let cell = ctx.conda_indexes.subdir(format!("{} {s}", bases.join(" ")));
        let (bases, canonical) = (&bases, &canonical);
        async move {
            cell.get_or_try_init(|| async {
                fetch_subdir(ctx, bases, canonical, s).await.map(Arc::new)
            })
            .await
            .cloned()
        }
    }))
    .await?;
    let fetched = Arc::new(fetched);

    let mut packages = Vec::new();
    let mut versions: BTreeMap<&str, String> = BTreeMap::new();
    let mut newest: Option<i64> = None;
    for platform in &ctx.platforms {
        let platform = *platform;
        let glibc = match (&request.glibc, &request.status) {
            (Some(fixed), _) => Some(fixed.clone()),
            (None, Some(super::apt::StatusSource::BaseImage { image, mirror })) => {
                // Once per base and platform: every tool asks, and the layers are large.
                let cell = ctx
                    .conda_indexes
                    .glibc(format!("{image} {mirror:?} {platform}"));
                cell.get_or_try_init(|| async {
                    super::apt::base_status::read(ctx, image, mirror.as_deref(), platform)
                        .await
                        .map(|status| glibc_of(&status))
                })
                .await?
                .clone()
            }
            (None, Some(status)) => glibc_of(&status.read(&request.dir)?),
            (None, None) => None,
        };
        let target = solve::Target {
            glibc,
            linux: request.linux.clone(),
            archspec: platform.machine().to_string(),
        };
        let glibc_note = target.glibc.as_ref().map(|v| format!("__glibc {v}"));
        let all = Arc::clone(&fetched);
        let spec = spec.clone();
        let tool_name = tool.clone();
        let solved = tokio::task::spawn_blocking(move || {
            let mine: Vec<&Subdir> = all
                .iter()
                .filter(|s| s.subdir == subdir(platform) || s.subdir == "noarch")
                .map(|s| s.as_ref())
                .collect();
            let records = repodata::reachable(&mine, &[tool_name])?;
            solve::solve(&records, &spec, &target)
        })
        .await
        .map_err(|err| Problem::msg(format!("the conda solver stopped: {err}")))?
        .map_err(|explanation| {
            Problem::msg(format!(
                "no environment for `{}` on {platform} ({} + noarch of {}, {}):\n{explanation}",
                request.spec,
                subdir(platform),
                request.channel,
                glibc_note.as_deref().unwrap_or("no glibc on the base")
            ))
        })?;

        // Who needs whom, for `modelbench why`.
        let present: BTreeSet<&str> = solved
            .iter()
            .map(|r| r.package_record.name.as_normalized())
            .collect();
        let mut required_by: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for record in &solved {
            for dependency in &record.package_record.depends {
                let dependency = repodata::dependency_name(dependency);
                if let Some(member) = present.get(dependency) {
                    required_by
                        .entry(member)
                        .or_default()
                        .push(record.package_record.name.as_normalized().to_string());
                }
            }
        }
        for record in &solved {
            let package = &record.package_record;
            let file = record.identifier.to_file_name();
            let sha256 = package.sha256.ok_or_else(|| {
                Problem::msg(format!(
                    "`{file}` ({}) has no sha256 in the repodata of {}",
                    package.subdir, request.channel
                ))
            })?;
            let hash = Hash::sha256_hex(&hex::encode(sha256))
                .map_err(|err| Problem::msg(format!("`{file}`: {err}")))?;
            let facts =
                facts_of(package).map_err(|err| Problem::msg(format!("`{file}`: {err}")))?;
            let name = package.name.as_normalized();
            if name == tool {
                versions.insert(platform.as_str(), package.version.to_string());
                if let Some(stamp) = package.timestamp {
                    newest = newest.max(Some(stamp.timestamp()));
                }
            }
            packages.push(PackageWire {
                name: name.to_string(),
                version: package.version.to_string(),
                platform: platform.as_str().to_string(),
                arch: None,
                build: Some(package.build.to_string()),
                subdir: Some(package.subdir.clone()),
                noarch: if package.noarch.is_python() {
                    Some("python".to_string())
                } else if package.noarch.is_generic() {
                    Some("generic".to_string())
                } else {
                    None
                },
                path: None,
                urls: bases
                    .iter()
                    .map(|base| format!("{base}/{}/{file}", package.subdir))
                    .collect(),
                file,
                hash,
                size: package.size,
                requested: name == tool,
                required_by: required_by.remove(name).unwrap_or_default(),
                npm: None,
                conda: Some(facts),
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
    let distinct: BTreeSet<&String> = versions.values().collect();
    let version = if distinct.len() == 1 {
        distinct.into_iter().next().cloned().unwrap_or_default()
    } else {
        versions
            .iter()
            .map(|(platform, version)| format!("{version} ({platform})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut artifact = super::artifact(super::Kind::Conda, version);
    artifact.published = newest
        .and_then(|s| u64::try_from(s).ok())
        .map(super::apt::index::rfc3339);
    artifact.packages = packages;
    Ok(artifact)
}

type Cell<T> = Arc<tokio::sync::OnceCell<T>>;

/// What the conda tools of one run share (kept in the run's [`Context`], as npm's
/// documents are): each repodata index fetched at most once — conda-forge's are hundreds
/// of MB — keyed by the base URLs tried and the subdir, and each base image's glibc read
/// once per platform. Concurrent askers wait for the one request in flight; a failure is
/// not kept, so the next asker tries again.
#[derive(Clone, Default)]
pub struct SharedIndexes {
    subdirs: Arc<Mutex<HashMap<String, Cell<Arc<Subdir>>>>>,
    glibc: Arc<Mutex<HashMap<String, Cell<Option<String>>>>>,
}

impl SharedIndexes {
    fn subdir(&self, key: String) -> Cell<Arc<Subdir>> {
        let mut cells = self.subdirs.lock().expect("repodata table lock");
        Arc::clone(cells.entry(key).or_default())
    }

    fn glibc(&self, key: String) -> Cell<Option<String>> {
        let mut cells = self.glibc.lock().expect("glibc table lock");
        Arc::clone(cells.entry(key).or_default())
    }
}

/// The glibc version of a dpkg status: its installed `libc6` (`2.39-0ubuntu8.4` → `2.39`).
pub fn glibc_of(status: &str) -> Option<String> {
    status.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza.lines().find_map(|line| {
                line.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .map(str::trim)
            })
        };
        if field("Package") != Some("libc6") || !field("Status")?.ends_with(" installed") {
            return None;
        }
        let version = field("Version")?;
        let upstream = version.split_once(':').map_or(version, |(_, v)| v);
        let upstream = upstream.rsplit_once('-').map_or(upstream, |(v, _)| v);
        Some(upstream.to_string())
    })
}

/// A gzip-encoded index, at most [`REPODATA_LIMIT`] bytes once decompressed and no more
/// than a real index's ratio ([`crate::net::inflate::bound`]): a bomb is refused after
/// a bounded amount of memory, not at 2 GiB.
fn gunzip(bytes: &[u8], url: &str) -> Result<Vec<u8>, Problem> {
    use crate::net::inflate;
    inflate::inflate(inflate::Encoding::Gzip, bytes, url, REPODATA_LIMIT)
        .map_err(|err| Problem::msg(err.to_string()))
}

/// One subdir's repodata from the first base URL that serves it: `repodata.json.zst`
/// where served (conda-forge's is about a fifteenth of the JSON), else, on `404`,
/// `repodata.json`, as conda and rattler ask. A copy in the run's cache is revalidated
/// (`If-None-Match` / `If-Modified-Since`) and used on `304`. Another status or a
/// transport failure of either file moves on to the next base; a body that does not
/// decode (a bad stream, a bomb) stops the resolve, naming its URL.
async fn fetch_subdir(
    ctx: &Context,
    bases: &[String],
    canonical: &str,
    subdir: &str,
) -> Result<Subdir, Problem> {
    let cache = ctx
        .cache
        .as_deref()
        .map(|root| DocumentCache::new(root, "conda"));
    let mut failures = Vec::new();
    for base in bases {
        let zst = format!("{base}/{subdir}/repodata.json.zst");
        let fetched = match fetch_zst(ctx, cache.as_ref(), &zst).await {
            Ok(Some(fetched)) => Ok(fetched),
            Ok(None) => {
                fetch_json(
                    ctx,
                    cache.as_ref(),
                    &format!("{base}/{subdir}/repodata.json"),
                )
                .await
            }
            Err(err) => Err(err),
        };
        match fetched {
            Ok((url, body)) => {
                return Ok(Subdir {
                    subdir: subdir.to_string(),
                    channel: canonical.to_string(),
                    url,
                    body,
                });
            }
            Err(Failure::Final(problem)) => return Err(problem),
            Err(Failure::Next(message)) => failures.push(message),
        }
    }
    Err(Problem::msg(format!(
        "no source served the {subdir} repodata: {}",
        failures.join("; ")
    )))
}

/// Why one base URL gave no index: try the next base, or stop the resolve (offline).
enum Failure {
    Next(String),
    Final(Problem),
}

impl Failure {
    fn of(ctx: &Context, err: crate::net::NetError) -> Failure {
        if ctx.client.is_offline() {
            Failure::Final(err.into())
        } else {
            Failure::Next(err.to_string())
        }
    }
}

/// `repodata.json.zst` at `url`, decoded as it arrives (never held compressed), or
/// `None` when the base does not serve one (`404`).
async fn fetch_zst(
    ctx: &Context,
    cache: Option<&DocumentCache>,
    url: &str,
) -> Result<Option<(String, Vec<u8>)>, Failure> {
    use crate::net::inflate::ZstdStream;
    let cached = cache.and_then(|c| c.get(url));
    let headers = cached.as_ref().map(|c| c.conditions()).unwrap_or_default();
    let mut streamed = ctx
        .client
        .get_stream(url, &headers, None, REPODATA_LIMIT)
        .await
        .map_err(|err| Failure::of(ctx, err))?;
    let served_from = streamed.url.clone();
    match (streamed.status.as_u16(), cached) {
        (404, _) => return Ok(None),
        (304, Some(cached)) => return Ok(Some((served_from, cached.body))),
        (_, _) if streamed.status.is_success() => {}
        _ => {
            let fetched = crate::net::Fetched {
                url: served_from,
                status: streamed.status,
                headers: streamed.headers.clone(),
                body: Vec::new(),
            };
            return Err(Failure::Next(
                crate::net::status_error(&fetched).to_string(),
            ));
        }
    }
    // Each piece is decoded as it comes, on this worker: zstd decodes a 64 KiB piece
    // in well under a millisecond, and the compressed body is never kept.
    let undecodable =
        |err: crate::net::inflate::InflateError| Failure::Final(Problem::msg(err.to_string()));
    let mut stream = ZstdStream::new(&served_from, REPODATA_LIMIT).map_err(undecodable)?;
    while let Some(piece) = streamed
        .chunk()
        .await
        .map_err(|err| Failure::of(ctx, err))?
    {
        stream.feed(&piece).map_err(undecodable)?;
    }
    let body = stream.finish().map_err(undecodable)?;
    if let Some(cache) = cache {
        cache.store(url, &streamed.headers, &body);
    }
    Ok(Some((served_from, body)))
}

/// `repodata.json` at `url`, asked gzip-encoded as conda asks.
async fn fetch_json(
    ctx: &Context,
    cache: Option<&DocumentCache>,
    url: &str,
) -> Result<(String, Vec<u8>), Failure> {
    let cached = cache.and_then(|c| c.get(url));
    // conda asks for gzip too: conda-forge's indices shrink about eightfold.
    let mut headers = vec![("Accept-Encoding", "gzip")];
    headers.extend(cached.as_ref().map(|c| c.conditions()).unwrap_or_default());
    let fetched = ctx
        .client
        .get(url, &headers, REPODATA_LIMIT)
        .await
        .map_err(|err| Failure::of(ctx, err))?;
    let served_from = fetched.url.clone();
    match (fetched.status.as_u16(), cached) {
        (304, Some(cached)) => Ok((served_from, cached.body)),
        _ if fetched.status.is_success() => {
            let headers = fetched.headers.clone();
            let body = decoded_repodata(fetched).await.map_err(Failure::Final)?;
            if let Some(cache) = cache {
                cache.store(url, &headers, &body);
            }
            Ok((served_from, body))
        }
        _ => Err(Failure::Next(
            crate::net::status_error(&fetched).to_string(),
        )),
    }
}

/// A served `repodata.json`, gunzipped (off the async workers) when it came gzipped.
async fn decoded_repodata(fetched: crate::net::Fetched) -> Result<Vec<u8>, Problem> {
    let gzip = fetched
        .header("content-encoding")
        .is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
    if !gzip {
        return Ok(fetched.body);
    }
    tokio::task::spawn_blocking(move || gunzip(&fetched.body, &fetched.url))
        .await
        .map_err(|err| Problem::msg(format!("gzip reader stopped: {err}")))?
}

/// The environment name of a `pixi-global` entry: the package its match spec names
/// (`yq >=4` → `yq`), as `pixi global install` names it.
pub fn conda_tool_name(entry: &str) -> String {
    match solve::parse_spec(entry) {
        Ok(spec) => spec
            .name
            .as_exact()
            .map(|n| n.as_normalized().to_string())
            .unwrap_or_else(|| entry.to_string()),
        // Resolution reports the parse error, naming the entry.
        Err(_) => repodata::dependency_name(entry).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::facts_of;

    #[test]
    fn facts_give_back_the_published_record_fields() {
        // An older record: timestamp in seconds, track_features as conda writes it.
        let published = serde_json::json!({
            "build": "mkl",
            "build_number": 3,
            "constrains": ["liblapack 3.9.0 *_mkl"],
            "depends": ["__glibc >=2.17", "mkl >=2024.2,<2025.0a0"],
            "license": "BSD-3-Clause",
            "license_family": "BSD",
            "md5": "0123456789abcdef0123456789abcdef",
            "name": "blas",
            "sha256": "ab".repeat(32),
            "subdir": "linux-64",
            "timestamp": 1_700_000_000u64,
            "track_features": "blas_mkl mkl_debug",
            "version": "2.120",
        });
        let record: rattler_conda_types::PackageRecord =
            serde_json::from_value(published.clone()).unwrap();
        let facts = facts_of(&record).unwrap();
        assert_eq!(facts.timestamp, Some(1_700_000_000));
        assert_eq!(facts.track_features, ["blas_mkl", "mkl_debug"]);
        let mut rebuilt = serde_json::Map::new();
        for key in ["build", "name", "sha256", "subdir", "version"] {
            rebuilt.insert(key.into(), published[key].clone());
        }
        let facts = crate::lock::conda::CondaFacts::try_from(&facts).unwrap();
        rebuilt.extend(facts.record_fields());
        assert_eq!(serde_json::Value::Object(rebuilt), published);
    }

    #[test]
    fn glibc_is_the_installed_libc6_upstream_version() {
        let status = "Package: libc-bin\nStatus: install ok installed\nVersion: 2.39-0ubuntu8.4\n\n\
                      Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.39-0ubuntu8.4\n\n";
        assert_eq!(super::glibc_of(status).as_deref(), Some("2.39"));
        let debian = "Package: libc6\nStatus: install ok installed\nVersion: 1:2.36-9+deb12u10\n";
        assert_eq!(super::glibc_of(debian).as_deref(), Some("2.36"));
        let removed = "Package: libc6\nStatus: deinstall ok config-files\nVersion: 2.35-0ubuntu3\n";
        assert_eq!(super::glibc_of(removed), None);
        assert_eq!(super::glibc_of(""), None);
    }
}
