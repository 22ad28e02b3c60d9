//! The seed's five npm CLIs' real registry documents (`@anthropic-ai/claude-code`,
//! `@openai/codex`, `tavily-mcp`, `@upstash/context7-mcp`, `@google/gemini-cli`) and
//! their whole closure, recorded once from the npm registry into the bench's cache:
//! while the recording is incomplete, a document the server lacks is fetched from the
//! registry with the `Accept` header modelbench sent and kept (the recording run is not
//! measured). Tarballs are never served: `lock` takes each version's sha512 from its
//! document's `dist.integrity` and downloads no tarball.

use std::path::{Path, PathBuf};

use crate::server::{Body, Route, Server, etag_of};

const REGISTRY: &str = "https://registry.npmjs.org";

/// Where the recording of the document at `path` (`/npm/<escaped name>`) lives.
fn file_of(dir: &Path, path: &str) -> Option<PathBuf> {
    let name = path.strip_prefix("/npm/")?;
    // npm names are `[@scope%2f]name` of URL-safe characters; refuse anything else.
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%-._~".contains(&b))
        && !name.starts_with('.');
    plain.then(|| dir.join(format!("{name}.json")))
}

/// The documents recorded so far, as routes (with an `ETag` each, as the registry sends).
pub fn serve(server: &Server, dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut count = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let bytes = std::fs::read(&path).unwrap();
        server.route(
            format!("/npm/{name}"),
            Route {
                content_type: "application/vnd.npm.install-v1+json",
                etag: etag_of(&bytes),
                body: Body::Bytes(bytes),
            },
        );
        count += 1;
    }
    count
}

/// The recorder: a document the server has no route for, fetched once from the registry.
pub fn record(dir: &Path, path: &str, headers: &[(String, String)]) -> Option<Vec<u8>> {
    let file = file_of(dir, path)?;
    let accept = headers
        .iter()
        .find(|(n, _)| n == "accept")
        .map(|(_, v)| format!("Accept: {v}"))
        .unwrap_or_default();
    let url = format!("{REGISTRY}/{}", path.strip_prefix("/npm/")?);
    match crate::apt::download_once(&url, &file, &[&accept]) {
        Ok(()) => std::fs::read(&file).ok(),
        Err(err) => {
            eprintln!("seed bench: recording {url}: {err}");
            None
        }
    }
}
