//! `url`: a file pinned by hand with its sha256 (the escape hatch, like Nix `fetchurl`).
//! Lock time downloads it once and refuses a hash that differs from the spec's.

use serde::Serialize;

use super::{Context, Problem};
use crate::lock::{ALL_PLATFORMS, ArtifactWire, PinWire};
use crate::net::Hash;
use crate::spec::UrlFile;

#[derive(Debug, Clone, Serialize)]
pub struct UrlRequest {
    pub url: String,
    pub sha256: String,
}

impl UrlRequest {
    pub fn from_spec(file: &UrlFile) -> UrlRequest {
        UrlRequest {
            url: file.url.get_ref().clone(),
            sha256: file.sha256.get_ref().to_ascii_lowercase(),
        }
    }
}

pub async fn resolve(
    ctx: &Context,
    name: &str,
    request: &UrlRequest,
) -> Result<ArtifactWire, Problem> {
    let expected = Hash::sha256_hex(&request.sha256).map_err(Problem::msg)?;
    let downloaded = ctx
        .client
        .download(name, &request.url, Some(&expected), None)
        .await?;
    let file = request
        .url
        .rsplit('/')
        .next()
        .filter(|f| !f.is_empty())
        .unwrap_or(name)
        .to_string();
    let mut artifact = super::artifact(super::Kind::Url, expected.hex()[..12].to_string());
    artifact.platform.insert(
        ALL_PLATFORMS.to_string(),
        PinWire {
            file,
            urls: vec![request.url.clone()],
            hash: downloaded.sha256,
            size: Some(downloaded.size),
        },
    );
    Ok(artifact)
}
