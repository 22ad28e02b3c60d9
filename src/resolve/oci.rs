//! `oci`: an image reference → the digest of its index (or single manifest) and one
//! manifest digest per platform, through the registry HTTP API v2.
//!
//! Digests are computed from the manifest bytes and compared with `Docker-Content-Digest`
//! (a header alone is never trusted). Bearer-token challenges are followed to whatever
//! realm the registry names, mirrors included. A registry mirror is asked first and the
//! canonical registry after; both must serve the same bytes, so either answer pins.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Context, Problem};
use crate::image_ref::ImageRef;
use crate::lock::{ArtifactWire, PinWire};
use crate::net::{DOCUMENT_LIMIT, Fetched, Hash};
use crate::platform::Platform;
use crate::spec::Base;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Without the list types in `Accept`, a registry may answer a single-arch manifest.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

#[derive(Debug, Clone, Serialize)]
pub struct OciRequest {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<String>,
}

impl OciRequest {
    pub fn from_spec(base: &Base) -> OciRequest {
        OciRequest {
            image: base.image.get_ref().clone(),
            mirror: base.registry_mirror.clone(),
        }
    }
}

/// One registry to ask: the host as written in references and its API base URL.
struct Registry {
    host: String,
    api: String,
}

pub async fn resolve(
    ctx: &Context,
    _name: &str,
    request: &OciRequest,
) -> Result<ArtifactWire, Problem> {
    let reference = ImageRef::parse_normalized(&request.image)
        .map_err(|err| Problem::msg(format!("not an image reference: {err}")))?;
    let canonical_host = reference
        .domain
        .clone()
        .unwrap_or_else(|| "docker.io".into());
    let repository = reference.path.clone();
    let wanted = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| "latest".into());

    let mut registries = Vec::new();
    if let Some(mirror) = &request.mirror {
        registries.push(Registry {
            host: mirror.clone(),
            api: ctx.sources.registry(mirror),
        });
    }
    registries.push(Registry {
        host: canonical_host.clone(),
        api: ctx.sources.registry(&canonical_host),
    });

    // Ask each registry in order; the first that answers pins the image.
    let mut last_problem = None;
    for registry in &registries {
        match resolve_at(ctx, registry, &repository, &wanted).await {
            Ok(mut artifact) => {
                artifact.version = reference.tag.clone().unwrap_or_else(|| wanted.clone());
                let digest = artifact.digest.clone().expect("resolve_at sets the digest");
                artifact.images = registries
                    .iter()
                    .map(|r| format!("{}/{}@{}", r.host, repository, digest))
                    .collect();
                // Every registry's manifest URL is a place the pinned bytes can be had.
                for pin in artifact.platform.values_mut() {
                    pin.urls = registries
                        .iter()
                        .map(|r| format!("{}/v2/{}/manifests/{}", r.api, repository, pin.hash))
                        .collect();
                }
                return Ok(artifact);
            }
            Err(problem) => last_problem = Some(problem),
        }
    }
    Err(last_problem.expect("at least the canonical registry was asked"))
}

async fn resolve_at(
    ctx: &Context,
    registry: &Registry,
    repository: &str,
    wanted: &str,
) -> Result<ArtifactWire, Problem> {
    let mut auth = Auth::default();
    let top = fetch_manifest(ctx, registry, repository, wanted, &mut auth).await?;
    let top_digest = Hash::of_sha256(&top.body);
    if wanted.starts_with("sha256:") && wanted != top_digest.to_string() {
        return Err(Problem::msg(format!(
            "{} served manifest {wanted} with digest {top_digest}",
            registry.host
        )));
    }
    let media_type = media_type(&top)?;
    let mut artifact = super::artifact(super::Kind::Oci, wanted);
    artifact.digest = Some(top_digest.to_string());

    if media_type == OCI_INDEX || media_type == DOCKER_LIST {
        let index: Index = serde_json::from_slice(&top.body).map_err(|err| {
            Problem::msg(format!(
                "{} sent an invalid image index: {err}",
                registry.host
            ))
        })?;
        for platform in &ctx.platforms {
            let entry = index
                .manifests
                .iter()
                .find(|m| m.platform.as_ref().is_some_and(|p| p.matches(*platform)))
                .ok_or_else(|| {
                    let offered: Vec<String> = index
                        .manifests
                        .iter()
                        .filter_map(|m| m.platform.as_ref())
                        .filter(|p| p.os != "unknown")
                        .map(|p| format!("{}/{}", p.os, p.architecture))
                        .collect();
                    Problem::msg(format!(
                        "no manifest for {platform} in the index (it has: {})",
                        offered.join(", ")
                    ))
                })?;
            let child = fetch_manifest(ctx, registry, repository, &entry.digest, &mut auth).await?;
            let child_digest = Hash::of_sha256(&child.body);
            if child_digest.to_string() != entry.digest {
                return Err(Problem::msg(format!(
                    "manifest for {platform}: the index names {} but the bytes hash to {child_digest}",
                    entry.digest
                )));
            }
            artifact.platform.insert(
                platform.to_string(),
                PinWire {
                    file: "manifest".into(),
                    urls: Vec::new(),
                    hash: child_digest,
                    size: Some(child.body.len() as u64),
                },
            );
        }
    } else if media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST {
        // A single-platform image: its config says which platform it is.
        let manifest: Manifest = serde_json::from_slice(&top.body).map_err(|err| {
            Problem::msg(format!("{} sent an invalid manifest: {err}", registry.host))
        })?;
        let config_url = format!(
            "{}/v2/{}/blobs/{}",
            registry.api, repository, manifest.config.digest
        );
        let config = get_authorized(ctx, &config_url, "*/*", repository, &mut auth).await?;
        if Hash::of_sha256(&config.body).to_string() != manifest.config.digest {
            return Err(Problem::msg(format!(
                "config blob {} does not hash to its digest",
                manifest.config.digest
            )));
        }
        let config: ImageConfig = serde_json::from_slice(&config.body)
            .map_err(|err| Problem::msg(format!("invalid image config: {err}")))?;
        let image_platform = PlatformEntry {
            os: config.os.clone(),
            architecture: config.architecture.clone(),
            variant: config.variant.clone(),
        };
        for platform in &ctx.platforms {
            if !image_platform.matches(*platform) {
                return Err(Problem::msg(format!(
                    "the image is single-platform ({}/{}) but the spec asks for {platform}",
                    config.os, config.architecture
                )));
            }
            artifact.platform.insert(
                platform.to_string(),
                PinWire {
                    file: "manifest".into(),
                    urls: Vec::new(),
                    hash: top_digest.clone(),
                    size: Some(top.body.len() as u64),
                },
            );
        }
    } else {
        return Err(Problem::msg(format!(
            "unsupported manifest media type `{media_type}`"
        )));
    }
    Ok(artifact)
}

async fn fetch_manifest(
    ctx: &Context,
    registry: &Registry,
    repository: &str,
    reference: &str,
    auth: &mut Auth,
) -> Result<Fetched, Problem> {
    let url = format!("{}/v2/{}/manifests/{}", registry.api, repository, reference);
    let fetched = get_authorized(ctx, &url, ACCEPT, repository, auth).await?;
    // Compare the registry's claim with the bytes; a mirror that rewrites is caught here.
    if let Some(claimed) = fetched.header("docker-content-digest") {
        let actual = Hash::of_sha256(&fetched.body).to_string();
        if claimed != actual {
            return Err(Problem::msg(format!(
                "{} says manifest {reference} has digest {claimed}, but its bytes hash to {actual}",
                registry.host
            )));
        }
    }
    Ok(fetched)
}

/// The bearer token for this resolution, once obtained.
#[derive(Default)]
struct Auth {
    bearer: Option<String>,
}

/// GET with the registry's token dance: on a 401 with a Bearer challenge, fetch a token
/// from the realm it names (anonymous) and retry once.
async fn get_authorized(
    ctx: &Context,
    url: &str,
    accept: &str,
    repository: &str,
    auth: &mut Auth,
) -> Result<Fetched, Problem> {
    for _ in 0..2 {
        let authorization = auth.bearer.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![("accept", accept)];
        if let Some(value) = &authorization {
            headers.push(("authorization", value.as_str()));
        }
        let fetched = ctx.client.get(url, &headers, DOCUMENT_LIMIT).await?;
        if fetched.status.is_success() {
            return Ok(fetched);
        }
        if fetched.status.as_u16() == 401 && auth.bearer.is_none() {
            let challenge = fetched
                .header("www-authenticate")
                .ok_or_else(|| Problem::msg(format!("{url} answered 401 without a challenge")))?;
            auth.bearer = Some(bearer_token(&ctx.client, challenge, repository).await?);
            continue;
        }
        return Err(match fetched.status.as_u16() {
            404 => Problem::msg(format!("not found: {url} answered 404")),
            401 | 403 => Problem::msg(format!(
                "{url} refused access ({}); the image may be private",
                fetched.status
            )),
            _ => Problem::msg(format!("{url} answered {}", fetched.status)),
        });
    }
    Err(Problem::msg(format!(
        "{url} still answered 401 with a token"
    )))
}

/// An anonymous pull token from the realm a `Bearer` challenge names (a mirror's too).
pub(crate) async fn bearer_token(
    client: &crate::net::Client,
    challenge: &str,
    repository: &str,
) -> Result<String, Problem> {
    let params = parse_challenge(challenge)
        .ok_or_else(|| Problem::msg(format!("unsupported auth challenge `{challenge}`")))?;
    let realm = params
        .get("realm")
        .ok_or_else(|| Problem::msg(format!("auth challenge without realm: `{challenge}`")))?;
    let mut token_url = url::Url::parse(realm)
        .map_err(|err| Problem::msg(format!("auth realm `{realm}` is not a URL: {err}")))?;
    {
        let mut query = token_url.query_pairs_mut();
        if let Some(service) = params.get("service") {
            query.append_pair("service", service);
        }
        let scope = params
            .get("scope")
            .cloned()
            .unwrap_or_else(|| format!("repository:{repository}:pull"));
        query.append_pair("scope", &scope);
    }
    #[derive(Deserialize)]
    struct TokenAnswer {
        token: Option<String>,
        access_token: Option<String>,
    }
    let answer: TokenAnswer = client
        .get_ok(token_url.as_str(), &[], 1024 * 1024)
        .await?
        .json()?;
    answer
        .token
        .or(answer.access_token)
        .ok_or_else(|| Problem::msg(format!("token endpoint {realm} answered without a token")))
}

/// `Bearer realm="…",service="…",scope="…"` → its parameters (lowercase keys).
pub(crate) fn parse_challenge(challenge: &str) -> Option<BTreeMap<String, String>> {
    let trimmed = challenge.trim();
    let (scheme, rest) = trimmed.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_once(',').unwrap_or((after, "")),
        };
        params.insert(key, value.to_string());
        rest = after.trim_start_matches([',', ' ']);
    }
    Some(params)
}

fn media_type(fetched: &Fetched) -> Result<String, Problem> {
    #[derive(Deserialize)]
    struct MediaTypeOnly {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    let declared = serde_json::from_slice::<MediaTypeOnly>(&fetched.body)
        .map_err(|err| Problem::msg(format!("manifest from {} is not JSON: {err}", fetched.url)))?
        .media_type;
    let header = fetched
        .header("content-type")
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
    declared
        .or(header)
        .ok_or_else(|| Problem::msg(format!("manifest from {} has no media type", fetched.url)))
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<IndexEntry>,
}

#[derive(Deserialize)]
struct IndexEntry {
    digest: String,
    platform: Option<PlatformEntry>,
}

#[derive(Deserialize)]
struct PlatformEntry {
    os: String,
    architecture: String,
    variant: Option<String>,
}

impl PlatformEntry {
    fn matches(&self, platform: Platform) -> bool {
        // arm64 images may carry variant v8 or none; attestation entries are unknown/unknown.
        self.os == "linux"
            && self.architecture == platform.arch()
            && (platform != Platform::LinuxArm64
                || self.variant.as_deref().is_none_or(|v| v == "v8"))
    }
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
}

#[derive(Deserialize)]
struct ImageConfig {
    os: String,
    architecture: String,
    variant: Option<String>,
}

/// One platform's image layers in the registry that served them, for reading files out
/// of the image (apt reads the base's dpkg status this way).
pub(crate) struct Layers {
    api: String,
    repository: String,
    auth: Auth,
    /// `(digest, media type)`, bottom layer first.
    pub layers: Vec<(String, String)>,
}

/// The layers of `image` for `platform`, asking the mirror first as [`resolve`] does.
pub(crate) async fn layers(
    ctx: &Context,
    image: &str,
    mirror: Option<&str>,
    platform: Platform,
) -> Result<Layers, Problem> {
    let reference = ImageRef::parse_normalized(image)
        .map_err(|err| Problem::msg(format!("not an image reference: {err}")))?;
    let canonical_host = reference
        .domain
        .clone()
        .unwrap_or_else(|| "docker.io".into());
    let wanted = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let mut registries = Vec::new();
    if let Some(mirror) = mirror {
        registries.push(Registry {
            host: mirror.to_string(),
            api: ctx.sources.registry(mirror),
        });
    }
    registries.push(Registry {
        host: canonical_host.clone(),
        api: ctx.sources.registry(&canonical_host),
    });
    let mut last_problem = None;
    for registry in &registries {
        match layers_at(ctx, registry, &reference.path, &wanted, platform).await {
            Ok(layers) => return Ok(layers),
            Err(problem) => last_problem = Some(problem),
        }
    }
    Err(last_problem.expect("at least the canonical registry was asked"))
}

async fn layers_at(
    ctx: &Context,
    registry: &Registry,
    repository: &str,
    wanted: &str,
    platform: Platform,
) -> Result<Layers, Problem> {
    let mut auth = Auth::default();
    let top = fetch_manifest(ctx, registry, repository, wanted, &mut auth).await?;
    let top_digest = Hash::of_sha256(&top.body).to_string();
    if wanted.starts_with("sha256:") && wanted != top_digest {
        return Err(Problem::msg(format!(
            "{} served manifest {wanted} with digest {top_digest}",
            registry.host
        )));
    }
    let media_type = media_type(&top)?;
    let body = if media_type == OCI_INDEX || media_type == DOCKER_LIST {
        let index: Index = serde_json::from_slice(&top.body).map_err(|err| {
            Problem::msg(format!("{} sent an invalid index: {err}", registry.host))
        })?;
        let entry = index
            .manifests
            .iter()
            .find(|m| m.platform.as_ref().is_some_and(|p| p.matches(platform)))
            .ok_or_else(|| Problem::msg(format!("no manifest for {platform} in the index")))?;
        let child = fetch_manifest(ctx, registry, repository, &entry.digest, &mut auth).await?;
        if Hash::of_sha256(&child.body).to_string() != entry.digest {
            return Err(Problem::msg(format!(
                "manifest for {platform}: the bytes do not hash to {}",
                entry.digest
            )));
        }
        child.body
    } else {
        top.body
    };
    let manifest: LayeredManifest = serde_json::from_slice(&body).map_err(|err| {
        Problem::msg(format!("{} sent an invalid manifest: {err}", registry.host))
    })?;
    Ok(Layers {
        api: registry.api.clone(),
        repository: repository.to_string(),
        auth,
        layers: manifest
            .layers
            .into_iter()
            .map(|l| (l.digest, l.media_type.unwrap_or_default()))
            .collect(),
    })
}

/// A layer blob of at most `limit` bytes, opened for reading as it arrives (the caller
/// hashes it: nothing here has checked the bytes against `digest`).
pub(crate) async fn blob_stream(
    ctx: &Context,
    layers: &mut Layers,
    digest: &str,
    limit: u64,
) -> Result<crate::net::Streamed, Problem> {
    let url = format!("{}/v2/{}/blobs/{digest}", layers.api, layers.repository);
    for _ in 0..2 {
        let authorization = layers.auth.bearer.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![("accept", "*/*")];
        if let Some(value) = &authorization {
            headers.push(("authorization", value.as_str()));
        }
        let answer = ctx.client.get_stream(&url, &headers, None, limit).await?;
        if answer.status.as_u16() == 401
            && layers.auth.bearer.is_none()
            && let Some(challenge) = answer.header("www-authenticate")
        {
            let challenge = challenge.to_string();
            drop(answer);
            layers.auth.bearer =
                Some(bearer_token(&ctx.client, &challenge, &layers.repository).await?);
            continue;
        }
        if !answer.status.is_success() {
            return Err(Problem::msg(format!("{url} answered {}", answer.status)));
        }
        return Ok(answer);
    }
    Err(Problem::msg(format!("{url} refused the token")))
}

/// How a layer blob is compressed, from its media type: known before any byte is
/// fetched, so a layer that cannot be read is refused without downloading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerCompression {
    None,
    Gzip,
    Zstd,
}

impl LayerCompression {
    /// OCI (`…layer.v1.tar+gzip`, `+zstd`, plain `tar`, and their `nondistributable`
    /// forms) and Docker (`…rootfs.diff.tar.gzip`, `…rootfs.foreign.diff.tar.gzip`).
    pub fn from_media_type(media_type: &str) -> Result<LayerCompression, String> {
        let known = media_type.starts_with("application/vnd.oci.image.layer.")
            || media_type.starts_with("application/vnd.docker.image.rootfs.");
        if known && (media_type.ends_with("+gzip") || media_type.ends_with(".tar.gzip")) {
            Ok(LayerCompression::Gzip)
        } else if known && media_type.ends_with("+zstd") {
            Ok(LayerCompression::Zstd)
        } else if known && media_type.ends_with(".tar") {
            Ok(LayerCompression::None)
        } else {
            Err(format!(
                "layer media type `{media_type}` is not a tar layer read here (gzip, zstd or uncompressed)"
            ))
        }
    }
}

#[derive(Deserialize)]
struct LayeredManifest {
    #[serde(default)]
    layers: Vec<LayerDescriptor>,
}

#[derive(Deserialize)]
struct LayerDescriptor {
    digest: String,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_compression_comes_from_the_media_type() {
        for (media_type, compression) in [
            (
                "application/vnd.oci.image.layer.v1.tar+gzip",
                LayerCompression::Gzip,
            ),
            (
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                LayerCompression::Gzip,
            ),
            (
                "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                LayerCompression::Gzip,
            ),
            (
                "application/vnd.oci.image.layer.v1.tar+zstd",
                LayerCompression::Zstd,
            ),
            (
                "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
                LayerCompression::Zstd,
            ),
            (
                "application/vnd.oci.image.layer.v1.tar",
                LayerCompression::None,
            ),
        ] {
            assert_eq!(
                LayerCompression::from_media_type(media_type),
                Ok(compression),
                "{media_type}"
            );
        }
        for refused in [
            "",
            "application/octet-stream",
            "application/vnd.in-toto+json",
        ] {
            let err = LayerCompression::from_media_type(refused).unwrap_err();
            assert!(err.contains("not a tar layer"), "{err}");
        }
    }

    #[test]
    fn parses_docker_hub_challenge() {
        let params = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:nvidia/cuda:pull""#,
        )
        .unwrap();
        assert_eq!(params["realm"], "https://auth.docker.io/token");
        assert_eq!(params["service"], "registry.docker.io");
        assert_eq!(params["scope"], "repository:nvidia/cuda:pull");
        assert!(parse_challenge("Basic realm=\"x\"").is_none());
        assert!(parse_challenge("Bearer").is_none());
        assert!(parse_challenge("Bearer realm=\"unterminated").is_none());
    }
}
