//! The lock entries `[stage-N.tools]` asks for: where each tool's bytes come from.

use std::collections::BTreeMap;

use crate::lock::Kind;
use crate::resolve::github_release::ReleaseRequest;
use crate::resolve::nodejs::NodeRequest;
use crate::resolve::request::{Detail, Request};
use crate::spec::toml_key;
use crate::spec::{Spec, Tool};

/// The lock entries a tool needs. Node brings nvm along: the image uses NVM's layout.
pub fn requests(stage: &'static str, tool: &str, settings: &Tool, spec: &Spec) -> Vec<Request> {
    let platforms = spec.image.platform_names();
    let version = settings.version.get_ref().clone();
    // `[stage-2] tools.node = { version = "lts", user = "peid" }`, at the version.
    let path = format!("{stage}.tools.{}", toml_key(tool));
    let origin = |kind: Kind, name: &str| super::origin(spec, &path, kind, name);
    let release = |name: &str, repo: &str, asset: &str| Request {
        kind: Kind::GithubRelease,
        name: name.to_string(),
        requested: version.clone(),
        detail: Detail::GithubRelease(ReleaseRequest {
            repo: repo.into(),
            version: version.clone(),
            asset: asset.into(),
            triples: BTreeMap::new(),
            tag_prefix: None,
            source_file: None,
            mirror_urls: Vec::new(),
        }),
        platforms: platforms.clone(),
        origin: origin(Kind::GithubRelease, name),
    };
    match tool {
        "node" => {
            let nvm_version = settings
                .nvm
                .as_ref()
                .map(|v| v.get_ref().clone())
                .unwrap_or_else(|| "latest".into());
            let mut nvm = release("nvm", "nvm-sh/nvm", "");
            nvm.requested = nvm_version.clone();
            if let Detail::GithubRelease(detail) = &mut nvm.detail {
                detail.version = nvm_version;
                detail.source_file = Some("nvm.sh".into());
            }
            vec![
                Request {
                    kind: Kind::Nodejs,
                    name: "node".into(),
                    requested: version.clone(),
                    detail: Detail::Nodejs(NodeRequest {
                        version: version.clone(),
                        mirror: spec.mirrors.nodejs.clone(),
                    }),
                    platforms: platforms.clone(),
                    origin: origin(Kind::Nodejs, "node"),
                },
                nvm,
            ]
        }
        // Static musl builds: they run on any glibc or musl base.
        "uv" => {
            let mut uv = release("uv", "astral-sh/uv", "uv-{triple}.tar.gz");
            if let Detail::GithubRelease(detail) = &mut uv.detail {
                // Astral's own mirror of the release assets (what the uv installer uses).
                detail.mirror_urls.push(
                    "https://releases.astral.sh/github/uv/releases/download/{tag}/{file}".into(),
                );
            }
            vec![uv]
        }
        "pixi" => vec![release("pixi", "prefix-dev/pixi", "pixi-{triple}.tar.gz")],
        "bun" => {
            let mut bun = release("bun", "oven-sh/bun", "bun-{triple}.zip");
            if let Detail::GithubRelease(detail) = &mut bun.detail {
                let x64 = if settings.baseline {
                    "linux-x64-baseline"
                } else {
                    "linux-x64"
                };
                detail.triples = BTreeMap::from([
                    ("linux/amd64".to_string(), x64.to_string()),
                    ("linux/arm64".to_string(), "linux-aarch64".to_string()),
                ]);
                detail.tag_prefix = Some("bun-v".into());
            }
            vec![bun]
        }
        other => unreachable!("tool `{other}` passed validation"),
    }
}
