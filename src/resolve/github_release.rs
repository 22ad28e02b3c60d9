//! `github-release`: a repository and a constraint → a release tag and, per platform, the
//! asset named by a pattern, with its sha256.
//!
//! `latest` is the newest non-prerelease (`/releases/latest`), never a tag called
//! `latest` (clash-rs keeps a rolling prerelease under that name). The hash comes from
//! the API's `digest` field; else from a published sums file; else the asset is
//! downloaded and hashed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Context, Problem, sums};
use crate::lock::{ArtifactWire, PinWire};
use crate::net::{DOCUMENT_LIMIT, Hash};
use crate::platform::Platform;
use crate::spec::Release;

/// Pages of 100 releases read when matching a range (newest first).
const MAX_PAGES: usize = 10;
/// Names of aggregate checksum files releases publish.
const SUMS_FILES: &[&str] = &[
    "sha256sums.txt",
    "SHA256SUMS",
    "SHA256SUMS.txt",
    "SHASUMS256.txt",
    "sha256.sum",
    "checksums.txt",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseConstraint {
    /// The newest non-prerelease.
    Latest,
    /// The newest release whose version matches (tags like `v1.2.3`, `bun-v1.2.3`).
    Range(semver::VersionReq),
    /// Exactly this tag (`v0.10.8`; `0.10.8` also finds `v0.10.8`).
    Tag(String),
}

impl ReleaseConstraint {
    pub fn parse(text: &str) -> Result<ReleaseConstraint, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty version constraint".into());
        }
        if text == "latest" {
            return Ok(ReleaseConstraint::Latest);
        }
        let is_range = text.starts_with(['^', '~', '=', '>', '<', '*'])
            || text.contains(',')
            || text.contains(".x")
            || text.contains(".*");
        if is_range {
            return semver::VersionReq::parse(text)
                .map(ReleaseConstraint::Range)
                .map_err(|err| format!("`{text}` is not a version range: {err}"));
        }
        if text.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(format!("`{text}` is neither `latest`, a range nor a tag"));
        }
        Ok(ReleaseConstraint::Tag(text.to_string()))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ReleaseRequest {
    pub repo: String,
    pub version: String,
    pub asset: String,
    /// Target triple per platform (`linux/amd64` → `x86_64-unknown-linux-musl`).
    pub triples: BTreeMap<String, String>,
    /// What precedes the version in tags (`bun-v` for bun), for exact versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_prefix: Option<String>,
    /// Pin this file of the repository at the release's tag (served raw by GitHub),
    /// platform-independent, instead of a release asset: nvm publishes no assets, and a
    /// tag's archive tarball is not byte-stable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_file: Option<String>,
    /// Further URLs serving the same asset bytes, tried after GitHub (`{tag}`, `{file}`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mirror_urls: Vec<String>,
}

impl ReleaseRequest {
    pub fn from_spec(release: &Release) -> ReleaseRequest {
        ReleaseRequest {
            repo: release.repo.get_ref().clone(),
            version: release.version.get_ref().clone(),
            asset: release.asset.get_ref().clone(),
            triples: release.triple.clone(),
            tag_prefix: None,
            source_file: None,
            mirror_urls: Vec::new(),
        }
    }

    /// The asset file name for a platform and tag.
    pub fn asset_name(&self, platform: Platform, tag: &str) -> String {
        let triple = self
            .triples
            .get(platform.as_str())
            .map(String::as_str)
            .unwrap_or_else(|| platform.musl_triple());
        self.asset
            .replace("{triple}", triple)
            .replace("{arch}", platform.arch())
            .replace("{machine}", platform.machine())
            .replace("{version}", version_of_tag(tag))
            .replace("{tag}", tag)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct GithubRelease {
    pub tag_name: String,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub prerelease: bool,
    pub published_at: Option<String>,
    pub html_url: Option<String>,
    #[serde(default)]
    pub assets: Vec<GithubAsset>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GithubAsset {
    pub name: String,
    pub browser_download_url: String,
    pub size: Option<u64>,
    /// `sha256:<hex>` since 2025-06; nullable.
    pub digest: Option<String>,
}

pub async fn resolve(
    ctx: &Context,
    name: &str,
    request: &ReleaseRequest,
) -> Result<ArtifactWire, Problem> {
    let mut constraint = ReleaseConstraint::parse(&request.version).map_err(Problem::msg)?;
    if let (ReleaseConstraint::Tag(tag), Some(prefix)) = (&constraint, &request.tag_prefix)
        && !tag.starts_with(prefix.as_str())
    {
        constraint = ReleaseConstraint::Tag(format!("{prefix}{}", tag.trim_start_matches('v')));
    }
    let release = find_release(ctx, &request.repo, &constraint).await?;
    match &request.source_file {
        Some(file) => pin_source_file(ctx, request, &release, file).await,
        None => pin_assets(ctx, name, request, &release).await,
    }
}

/// Pin a repository file at the release tag; hashed by downloading it. The file is kept
/// and revalidated like the release JSON (raw hosts send an `ETag`), so a warm lock with
/// nothing changed gets a `304`; the hash is always of the bytes in hand.
async fn pin_source_file(
    ctx: &Context,
    request: &ReleaseRequest,
    release: &GithubRelease,
    file: &str,
) -> Result<ArtifactWire, Problem> {
    let url = format!(
        "{}/{}/{}/{file}",
        ctx.sources.upstream("github-raw"),
        request.repo,
        release.tag_name
    );
    let cache = ctx
        .cache
        .as_deref()
        .map(|root| super::revalidate::DocumentCache::new(root, "github-raw"));
    let (sha256, size) = super::revalidate::get_ok(
        &ctx.client,
        cache.as_ref(),
        &url,
        &[],
        DOCUMENT_LIMIT,
        |fetched| Ok((Hash::of_sha256(&fetched.body), fetched.body.len() as u64)),
    )
    .await?;
    let mut artifact = super::artifact(super::Kind::GithubRelease, release.tag_name.clone());
    artifact.published = release.published_at.clone();
    artifact.release_url = release.html_url.clone();
    artifact.platform.insert(
        crate::lock::ALL_PLATFORMS.to_string(),
        PinWire {
            file: file.rsplit('/').next().unwrap_or(file).to_string(),
            urls: vec![url],
            hash: sha256,
            size: Some(size),
        },
    );
    Ok(artifact)
}

/// The release a constraint selects.
pub async fn find_release(
    ctx: &Context,
    repo: &str,
    constraint: &ReleaseConstraint,
) -> Result<GithubRelease, Problem> {
    let api = format!("{}/repos/{repo}", ctx.sources.upstream("github-api"));
    match constraint {
        ReleaseConstraint::Latest => {
            let release: GithubRelease = api_get(ctx, &format!("{api}/releases/latest")).await?;
            if release.prerelease || release.draft {
                return Err(Problem::msg(format!(
                    "GitHub named `{}` as latest but it is a prerelease or draft",
                    release.tag_name
                )));
            }
            Ok(release)
        }
        ReleaseConstraint::Tag(tag) => {
            let mut candidates = vec![tag.clone()];
            if !tag.starts_with('v') && tag.starts_with(|c: char| c.is_ascii_digit()) {
                candidates.push(format!("v{tag}"));
            }
            for candidate in &candidates {
                match api_get::<GithubRelease>(ctx, &format!("{api}/releases/tags/{candidate}"))
                    .await
                {
                    Ok(release) => return Ok(release),
                    Err(Problem::Net(err)) if err.is_not_found() => continue,
                    Err(other) => return Err(other),
                }
            }
            Err(Problem::msg(format!(
                "no release tagged {} in {repo}",
                candidates.join(" or ")
            )))
        }
        ReleaseConstraint::Range(range) => {
            let releases = list_releases(ctx, repo).await?;
            pick(&releases, constraint, |_| true)
                .cloned()
                .ok_or_else(|| Problem::msg(format!("no release of {repo} matches `{range}`")))
        }
    }
}

/// A repository's releases as the API lists them (newest first), at most [`MAX_PAGES`]
/// pages of 100.
pub async fn list_releases(ctx: &Context, repo: &str) -> Result<Vec<GithubRelease>, Problem> {
    let api = format!("{}/repos/{repo}", ctx.sources.upstream("github-api"));
    let mut all = Vec::new();
    for page in 1..=MAX_PAGES {
        let releases: Vec<GithubRelease> =
            api_get(ctx, &format!("{api}/releases?per_page=100&page={page}")).await?;
        let count = releases.len();
        all.extend(releases);
        if count < 100 {
            break;
        }
    }
    Ok(all)
}

/// A release as [`pick`] weighs it.
#[derive(Debug)]
pub struct Candidate<'a> {
    pub release: &'a GithubRelease,
    /// The semver version of its tag ([`version_of_tag`]), when it has one.
    pub version: Option<semver::Version>,
    /// Its `published_at` ([`release_date`]).
    pub published: Option<DateTime<Utc>>,
}

/// The one release picker: the release of a list that `constraint` selects among those
/// `admit` lets through (`bump` admits only what passes its cooldown and major rule and
/// is newer than the pin; resolving admits all). Never a draft. `latest`: the newest
/// non-prerelease by release date, then version. A range: the highest matching version,
/// a prerelease only when the range names one (cargo's rule). A tag: none (a tag is asked
/// for by name). Ties go to the first listed, the newest.
pub fn pick<'a>(
    releases: &'a [GithubRelease],
    constraint: &ReleaseConstraint,
    admit: impl Fn(&Candidate) -> bool,
) -> Option<&'a GithubRelease> {
    let mut best: Option<Candidate> = None;
    for release in releases {
        if release.draft {
            continue;
        }
        let candidate = Candidate {
            release,
            version: semver::Version::parse(version_of_tag(&release.tag_name)).ok(),
            published: release.published_at.as_deref().and_then(release_date),
        };
        let answers = match constraint {
            ReleaseConstraint::Latest => !release.prerelease,
            ReleaseConstraint::Range(range) => candidate
                .version
                .as_ref()
                .is_some_and(|v| range.matches(v) && !(release.prerelease && v.pre.is_empty())),
            ReleaseConstraint::Tag(_) => false,
        };
        if !answers || !admit(&candidate) {
            continue;
        }
        let better = match &best {
            None => true,
            Some(best) => match constraint {
                ReleaseConstraint::Range(_) => candidate.version > best.version,
                _ => (candidate.published, &candidate.version) > (best.published, &best.version),
            },
        };
        if better {
            best = Some(candidate);
        }
    }
    best.map(|candidate| candidate.release)
}

/// A release date as upstreams give it: RFC 3339 (`2026-07-23T10:00:00Z`), or a bare
/// `2026-07-23` (midnight UTC).
pub fn release_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })
}

/// Pin one asset per platform of a chosen release.
pub async fn pin_assets(
    ctx: &Context,
    name: &str,
    request: &ReleaseRequest,
    release: &GithubRelease,
) -> Result<ArtifactWire, Problem> {
    let mut artifact = super::artifact(super::Kind::GithubRelease, release.tag_name.clone());
    artifact.published = release.published_at.clone();
    artifact.release_url = release.html_url.clone();
    // Checksum documents fetched so far, by asset name: each is fetched at most once.
    let mut sums_documents: BTreeMap<String, String> = BTreeMap::new();
    for platform in &ctx.platforms {
        let file = request.asset_name(*platform, &release.tag_name);
        let asset = release
            .assets
            .iter()
            .find(|a| a.name == file)
            .ok_or_else(|| {
                let names: Vec<&str> = release.assets.iter().map(|a| a.name.as_str()).collect();
                Problem::msg(format!(
                    "release {} has no asset `{file}` for {platform} (assets: {})",
                    release.tag_name,
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                ))
            })?;
        let hash = match asset.digest.as_deref().filter(|d| !d.is_empty()) {
            Some(digest) => digest.parse::<Hash>().map_err(|err| {
                Problem::msg(format!("asset `{file}` has an unreadable digest: {err}"))
            })?,
            None => {
                let from_sums = published_sha256(ctx, release, &file, &mut sums_documents).await?;
                match from_sums {
                    Some(hash) => hash,
                    None => {
                        ctx.client
                            .download(
                                &format!("{name} {file}"),
                                &asset.browser_download_url,
                                None,
                                asset.size,
                            )
                            .await?
                            .sha256
                    }
                }
            }
        };
        let mut urls = vec![asset.browser_download_url.clone()];
        urls.extend(request.mirror_urls.iter().map(|template| {
            template
                .replace("{tag}", &release.tag_name)
                .replace("{file}", &file)
        }));
        artifact.platform.insert(
            platform.to_string(),
            PinWire {
                file: file.clone(),
                urls,
                hash,
                size: asset.size,
            },
        );
    }
    Ok(artifact)
}

/// The sha256 a release publishes for `file`: from the aggregate sums files, else from
/// the file's own `<file>.sha256` sidecar (whose bare-hex form counts only for that file).
async fn published_sha256(
    ctx: &Context,
    release: &GithubRelease,
    file: &str,
    fetched: &mut BTreeMap<String, String>,
) -> Result<Option<Hash>, Problem> {
    let sidecar = format!("{file}.sha256");
    for asset in &release.assets {
        let aggregate = SUMS_FILES.contains(&asset.name.as_str());
        if !aggregate && asset.name != sidecar {
            continue;
        }
        if !fetched.contains_key(&asset.name) {
            let document = ctx
                .client
                .get_ok(&asset.browser_download_url, &[], 16 * 1024 * 1024)
                .await?
                .text();
            fetched.insert(asset.name.clone(), document);
        }
        let document = &fetched[&asset.name];
        let hash = if aggregate {
            sums::lookup_entry(document, file)
        } else {
            sums::lookup(document, file)
        };
        if hash.is_some() {
            return Ok(hash);
        }
    }
    Ok(None)
}

/// GET from the GitHub API with its media type, API version and `GITHUB_TOKEN` (only here).
pub(crate) async fn api_get<T: serde::de::DeserializeOwned>(
    ctx: &Context,
    url: &str,
) -> Result<T, Problem> {
    let authorization = ctx.github_token.as_ref().map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("accept", "application/vnd.github+json"),
        ("x-github-api-version", "2022-11-28"),
    ];
    if let Some(value) = &authorization {
        headers.push(("authorization", value.as_str()));
    }
    // Revalidated like the other index documents: a `304` costs GitHub no rate limit.
    let cache = ctx
        .cache
        .as_deref()
        .map(|root| super::revalidate::DocumentCache::new(root, "github"));
    let value = super::revalidate::get_ok(
        &ctx.client,
        cache.as_ref(),
        url,
        &headers,
        DOCUMENT_LIMIT,
        |fetched| fetched.json(),
    )
    .await?;
    Ok(value)
}

/// `v1.2.3` → `1.2.3`, `bun-v1.4.5` → `1.4.5`, `0.12.5` → `0.12.5`.
pub fn version_of_tag(tag: &str) -> &str {
    match tag.find(|c: char| c.is_ascii_digit()) {
        Some(start) => &tag[start..],
        None => tag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints() {
        assert_eq!(
            ReleaseConstraint::parse("latest").unwrap(),
            ReleaseConstraint::Latest
        );
        assert_eq!(
            ReleaseConstraint::parse("v0.10.8").unwrap(),
            ReleaseConstraint::Tag("v0.10.8".into())
        );
        assert!(matches!(
            ReleaseConstraint::parse("^0.10").unwrap(),
            ReleaseConstraint::Range(_)
        ));
        assert!(matches!(
            ReleaseConstraint::parse(">=1, <2").unwrap(),
            ReleaseConstraint::Range(_)
        ));
        assert!(ReleaseConstraint::parse("^not a range").is_err());
        assert!(ReleaseConstraint::parse("").is_err());
    }

    #[test]
    fn dates_parse_with_or_without_time() {
        let midnight = release_date("2026-07-23").unwrap();
        assert_eq!(midnight.to_rfc3339(), "2026-07-23T00:00:00+00:00");
        assert_eq!(
            release_date("2026-07-23T12:00:00+02:00").unwrap(),
            release_date("2026-07-23T10:00:00Z").unwrap()
        );
        assert!(release_date("yesterday").is_none());
    }

    fn release(tag: &str, published: &str, prerelease: bool, draft: bool) -> GithubRelease {
        GithubRelease {
            tag_name: tag.into(),
            draft,
            prerelease,
            published_at: Some(published.into()),
            html_url: None,
            assets: Vec::new(),
        }
    }

    fn picked(releases: &[GithubRelease], constraint: &str) -> Option<String> {
        let constraint = ReleaseConstraint::parse(constraint).unwrap();
        pick(releases, &constraint, |_| true).map(|r| r.tag_name.clone())
    }

    #[test]
    fn the_picker_skips_drafts_and_prereleases_a_range_does_not_name() {
        // Newest first, as the API lists them.
        let releases = [
            release("v2.0.0", "2026-07-05", false, true),
            release("v1.3.0-rc.1", "2026-07-04", true, false),
            // Flagged a prerelease on GitHub though its tag is plain.
            release("v1.11.0", "2026-07-04", true, false),
            release("nightly", "2026-07-03", true, false),
            release("v1.2.0", "2026-07-02", false, false),
            release("v1.10.0", "2026-06-01", false, false),
            release("v0.9.0", "2026-07-01", false, false),
        ];
        // Latest: the newest by date (v1.10.0 is higher but older).
        assert_eq!(picked(&releases, "latest").as_deref(), Some("v1.2.0"));
        // A range: the highest matching version, whatever its date.
        assert_eq!(picked(&releases, "^1").as_deref(), Some("v1.10.0"));
        assert_eq!(picked(&releases, "<1").as_deref(), Some("v0.9.0"));
        // A prerelease only for a range that names one.
        assert_eq!(
            picked(&releases, "~1.3.0-rc.0").as_deref(),
            Some("v1.3.0-rc.1")
        );
        assert_eq!(
            picked(&releases, "^2").as_deref(),
            None,
            "a draft is never picked"
        );
        assert_eq!(
            picked(&releases, "v1.2.0"),
            None,
            "a tag is asked for by name"
        );
    }

    #[test]
    fn the_picker_weighs_only_what_admit_lets_through() {
        let releases = [
            release("v1.3.0", "2026-07-20", false, false),
            release("v1.2.0", "2026-07-10", false, false),
            release("v1.1.0", "2026-07-01", false, false),
        ];
        let cut = release_date("2026-07-15").unwrap();
        let old_enough = |c: &Candidate| c.published.is_some_and(|p| p <= cut);
        for constraint in ["latest", "^1"] {
            let constraint = ReleaseConstraint::parse(constraint).unwrap();
            let found = pick(&releases, &constraint, old_enough).map(|r| r.tag_name.as_str());
            assert_eq!(found, Some("v1.2.0"));
        }
        let constraint = ReleaseConstraint::Latest;
        assert!(pick(&releases, &constraint, |_| false).is_none());
    }

    #[test]
    fn tags_to_versions() {
        assert_eq!(version_of_tag("v0.10.8"), "0.10.8");
        assert_eq!(version_of_tag("bun-v1.4.5"), "1.4.5");
        assert_eq!(version_of_tag("0.12.5"), "0.12.5");
    }

    #[test]
    fn asset_names_expand_per_platform() {
        let request = ReleaseRequest {
            repo: "Watfaq/clash-rs".into(),
            version: "latest".into(),
            asset: "clash-rs-{triple}".into(),
            triples: BTreeMap::from([("linux/arm64".into(), "aarch64-unknown-linux-gnu".into())]),
            tag_prefix: None,
            source_file: None,
            mirror_urls: Vec::new(),
        };
        assert_eq!(
            request.asset_name(Platform::LinuxAmd64, "v0.10.8"),
            "clash-rs-x86_64-unknown-linux-musl"
        );
        assert_eq!(
            request.asset_name(Platform::LinuxArm64, "v0.10.8"),
            "clash-rs-aarch64-unknown-linux-gnu"
        );
    }
}
