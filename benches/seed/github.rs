//! GitHub's REST answers for the seed's repositories (uv, pixi, bun, nvm, clash-rs) and
//! the Node.js dist index, synthesized (GitHub and nodejs.org are not reachable from the
//! machines this runs on) in the shape and about the size of the real ones: each release
//! with its full asset list, each asset's `digest` the SHA-256 of the stand-in bytes the
//! fallback serves at its download URL ([`asset_bytes`]), so no digest is made up.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::server::{Body, Route, Server, etag_of};

/// The bytes served for a release asset (`/github/<owner>/<repo>/…/<tag>/<name>`) or a
/// Node.js tarball (`/node/<version>/<file>`).
pub fn asset_bytes(path: &str) -> Vec<u8> {
    format!("synthetic release asset {path}\n").into_bytes()
}

const TRIPLES: [&str; 8] = [
    "x86_64-unknown-linux-musl",
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-musl",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
    "i686-unknown-linux-musl",
];

/// owner/repo, its tags newest first, and the asset names of a tag.
type Repository = (&'static str, Vec<String>, fn(&str) -> Vec<String>);

fn repositories() -> Vec<Repository> {
    let versions = |major: u32, minor: u32, count: u32, prefix: &str| -> Vec<String> {
        (0..count)
            .map(|i| format!("{prefix}{major}.{}.{}", minor - i / 3, 2 - i % 3))
            .collect()
    };
    vec![
        ("astral-sh/uv", versions(0, 8, 12, ""), |_| {
            TRIPLES
                .iter()
                .flat_map(|t| [format!("uv-{t}.tar.gz"), format!("uv-{t}.tar.gz.sha256")])
                .chain(["sha256.sum".to_string(), "dist-manifest.json".to_string()])
                .collect()
        }),
        ("prefix-dev/pixi", versions(0, 63, 12, "v"), |_| {
            TRIPLES
                .iter()
                .flat_map(|t| {
                    [
                        format!("pixi-{t}.tar.gz"),
                        format!("pixi-{t}.tar.gz.sha256"),
                    ]
                })
                .collect()
        }),
        ("oven-sh/bun", versions(1, 3, 12, "bun-v"), |_| {
            [
                "linux-x64",
                "linux-x64-baseline",
                "linux-x64-musl",
                "linux-aarch64",
                "linux-aarch64-musl",
                "darwin-x64",
                "darwin-aarch64",
                "windows-x64",
            ]
            .iter()
            .flat_map(|p| [format!("bun-{p}.zip"), format!("bun-{p}-profile.zip")])
            .chain(["SHASUMS256.txt".to_string()])
            .collect()
        }),
        ("nvm-sh/nvm", versions(0, 40, 12, "v"), |_| Vec::new()),
        ("Watfaq/clash-rs", versions(0, 9, 12, "v"), |_| {
            TRIPLES
                .iter()
                .flat_map(|t| [format!("clash-rs-{t}"), format!("clash-rs-{t}.sha256")])
                .collect()
        }),
    ]
}

fn release(
    server: &Server,
    repo: &str,
    id: u64,
    tag: &str,
    date: &str,
    assets: &[String],
) -> Value {
    let api = server.url(&format!("/github-api/repos/{repo}"));
    let assets: Vec<Value> = assets
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let path = format!("/github/{repo}/releases/download/{tag}/{name}");
            let bytes = asset_bytes(&path);
            json!({
                "url": format!("{api}/releases/assets/{}", id * 100 + i as u64),
                "id": id * 100 + i as u64,
                "node_id": format!("RA_kwDOsynthetic{id}{i}"),
                "name": name,
                "label": "",
                "uploader": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
                "content_type": "application/octet-stream",
                "state": "uploaded",
                "size": bytes.len(),
                "digest": format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
                "download_count": 1000 + i,
                "created_at": date,
                "updated_at": date,
                "browser_download_url": server.url(&path),
            })
        })
        .collect();
    json!({
        "url": format!("{api}/releases/{id}"),
        "assets_url": format!("{api}/releases/{id}/assets"),
        "html_url": server.url(&format!("/github/{repo}/releases/tag/{tag}")),
        "id": id,
        "author": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
        "node_id": format!("RE_kwDOsynthetic{id}"),
        "tag_name": tag,
        "target_commitish": "main",
        "name": tag,
        "draft": false,
        "immutable": false,
        "prerelease": false,
        "created_at": date,
        "published_at": date,
        "assets": assets,
        "tarball_url": format!("{api}/tarball/{tag}"),
        "zipball_url": format!("{api}/zipball/{tag}"),
        "body": format!("## Release {tag}\n\n{}", "- a change worth noting in the release notes\n".repeat(40)),
    })
}

fn json_route(server: &Server, path: String, value: &Value) {
    let bytes = serde_json::to_vec_pretty(value).unwrap();
    server.route(
        path,
        Route {
            content_type: "application/json",
            etag: etag_of(&bytes),
            body: Body::Bytes(bytes),
        },
    );
}

pub fn serve(server: &Server) {
    for (repo, tags, assets) in repositories() {
        let releases: Vec<Value> = tags
            .iter()
            .enumerate()
            .map(|(rank, tag)| {
                let date = format!(
                    "2026-{:02}-{:02}T12:00:00Z",
                    11 - rank / 4,
                    28 - rank % 4 * 7
                );
                release(
                    server,
                    repo,
                    900_000 - rank as u64,
                    tag,
                    &date,
                    &assets(tag),
                )
            })
            .collect();
        let api = format!("/github-api/repos/{repo}");
        json_route(server, format!("{api}/releases/latest"), &releases[0]);
        json_route(
            server,
            format!("{api}/releases?per_page=100&page=1"),
            &Value::Array(releases.clone()),
        );
        json_route(
            server,
            format!("{api}/releases?per_page=100"),
            &Value::Array(releases.clone()),
        );
        for (tag, value) in tags.iter().zip(&releases) {
            json_route(server, format!("{api}/releases/tags/{tag}"), value);
        }
        // Files pinned at a tag (nvm's `nvm.sh`), as raw.githubusercontent.com serves them.
        for tag in &tags {
            let path = format!("/github-raw/{repo}/{tag}/nvm.sh");
            let bytes = asset_bytes(&path);
            server.route(
                path,
                Route {
                    content_type: "text/plain",
                    etag: etag_of(&bytes),
                    body: Body::Bytes(bytes),
                },
            );
        }
    }
    serve_node(server);
}

/// nodejs.org's `dist/index.json` (every line since v4, as the real one) and the
/// `SHASUMS256.txt` of each release.
fn serve_node(server: &Server) {
    let mut index = Vec::new();
    let codenames = [
        (24, None),
        (22, Some("Jod")),
        (20, Some("Iron")),
        (18, Some("Hydrogen")),
    ];
    for (major, lts) in codenames {
        for minor in (0..20).rev() {
            let version = format!("v{major}.{minor}.0");
            let files = [
                "linux-x64",
                "linux-arm64",
                "osx-arm64-tar",
                "win-x64-zip",
                "headers",
                "src",
            ];
            index.push(json!({
                "version": version,
                "date": format!("2026-{:02}-01", 1 + minor % 11),
                "files": files,
                "npm": "10.9.3",
                "v8": "12.4.254.21",
                "uv": "1.51.0",
                "zlib": "1.3.1",
                "openssl": "3.0.16",
                "modules": "127",
                "lts": lts.map_or(Value::Bool(false), |c| Value::String(c.into())),
                "security": false,
            }));
            let mut sums = String::new();
            for slug in ["linux-x64", "linux-arm64", "darwin-arm64", "win-x64"] {
                let file = format!("node-{version}-{slug}.tar.gz");
                let bytes = asset_bytes(&format!("/node/{version}/{file}"));
                sums.push_str(&format!(
                    "{}  {file}\n",
                    hex::encode(Sha256::digest(&bytes))
                ));
            }
            let sums = sums.into_bytes();
            server.route(
                format!("/node/{version}/SHASUMS256.txt"),
                Route {
                    content_type: "text/plain",
                    etag: etag_of(&sums),
                    body: Body::Bytes(sums),
                },
            );
        }
    }
    json_route(server, "/node/index.json".to_string(), &Value::Array(index));
}
