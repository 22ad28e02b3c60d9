//! Unsigned index documents (conda `repodata.json`, npm packuments, GitHub's release JSON,
//! the Node.js index and its `SHASUMS256.txt`) kept as a package
//! manager keeps them: the body its URL last served, with that answer's `ETag` and
//! `Last-Modified`, revalidated by a conditional GET on the next run (a `304` costs no
//! body, so a warm `lock --update` transfers almost nothing).
//!
//! These documents carry no signature, so a cached body is only ever what the same URL
//! served before: each entry records its URL and the SHA-256 of its body, and an entry
//! whose URL differs, whose hash does not match or that cannot be read is ignored (and
//! replaced by a full download). Without an intact entry no validator is sent, so a
//! `304` can only ever answer for bytes that are still here.

use crate::resolve::cache::{validator, write_atomic};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use reqwest::header::HeaderMap;

use crate::net::{Client, Fetched, NetError};

/// `GET url` as [`Client::get_ok`] does, through `cache` when there is one: a stored
/// answer is revalidated and its body served on `304`; a new answer is stored once `read`
/// accepted its body (a document that does not parse is never kept). What `read` returns
/// is the caller's.
pub async fn get_ok<T>(
    client: &Client,
    cache: Option<&DocumentCache>,
    url: &str,
    headers: &[(&str, &str)],
    limit: u64,
    read: impl FnOnce(&Fetched) -> Result<T, NetError>,
) -> Result<T, NetError> {
    let cached = cache.and_then(|c| c.get(url));
    let conditions: Vec<(&str, String)> = cached
        .as_ref()
        .map(|c| {
            c.conditions()
                .into_iter()
                .map(|(name, value)| (name, value.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let mut all = headers.to_vec();
    all.extend(
        conditions
            .iter()
            .map(|(name, value)| (*name, value.as_str())),
    );
    let mut fetched = client.get(url, &all, limit).await?;
    if fetched.status.as_u16() == 304
        && let Some(cached) = cached
    {
        fetched.body = cached.body;
        return read(&fetched);
    }
    if !fetched.status.is_success() {
        return Err(crate::net::status_error(&fetched));
    }
    let value = read(&fetched)?;
    if let Some(cache) = cache {
        cache.store(url, &fetched.headers, &fetched.body);
    }
    Ok(value)
}

/// One kind of document's part of the cache directory (`conda/`, `npm/`).
#[derive(Debug, Clone)]
pub struct DocumentCache {
    dir: PathBuf,
}

/// A stored document and what revalidates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    pub body: Vec<u8>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Cached {
    /// `If-None-Match` / `If-Modified-Since` for a conditional GET of this entry.
    pub fn conditions(&self) -> Vec<(&'static str, &str)> {
        let mut headers = Vec::new();
        if let Some(etag) = &self.etag {
            headers.push(("If-None-Match", etag.as_str()));
        }
        if let Some(date) = &self.last_modified {
            headers.push(("If-Modified-Since", date.as_str()));
        }
        headers
    }
}

impl DocumentCache {
    /// The `kind` part (`conda`, `npm`) of the cache directory `root`.
    pub fn new(root: &Path, kind: &str) -> DocumentCache {
        DocumentCache {
            dir: root.join(kind),
        }
    }

    /// The intact stored answer of `url` that can be revalidated, if any.
    pub fn get(&self, url: &str) -> Option<Cached> {
        let (body_path, meta_path) = self.paths(url);
        let meta = std::fs::read_to_string(meta_path).ok()?;
        let field = |name: &str| meta.lines().find_map(|line| line.strip_prefix(name));
        if field("url: ") != Some(url) {
            return None;
        }
        let body = std::fs::read(body_path).ok()?;
        if field("sha256: ")? != hex::encode(Sha256::digest(&body)) {
            return None;
        }
        let cached = Cached {
            body,
            etag: field("etag: ").and_then(validator),
            last_modified: field("last-modified: ").and_then(validator),
        };
        (cached.etag.is_some() || cached.last_modified.is_some()).then_some(cached)
    }

    /// Keep `body` (what the answer for `url` delivered, decoded) with the validators
    /// among that answer's `headers`. Best effort: a failed write only costs a download.
    pub fn store(&self, url: &str, headers: &HeaderMap, body: &[u8]) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let etag = header("etag").and_then(validator);
        let last_modified = header("last-modified").and_then(validator);
        if etag.is_none() && last_modified.is_none() {
            return;
        }
        let (body_path, meta_path) = self.paths(url);
        let mut meta = format!(
            "url: {url}\nsha256: {}\n",
            hex::encode(Sha256::digest(body))
        );
        if let Some(etag) = etag {
            meta.push_str(&format!("etag: {etag}\n"));
        }
        if let Some(date) = last_modified {
            meta.push_str(&format!("last-modified: {date}\n"));
        }
        // Body first; the meta names the body's hash, so a pair from two different
        // writes is never used.
        write_atomic(&body_path, body);
        write_atomic(&meta_path, meta.as_bytes());
    }

    fn paths(&self, url: &str) -> (PathBuf, PathBuf) {
        let key = hex::encode(Sha256::digest(url.as_bytes()));
        (
            self.dir.join(format!("{key}.body")),
            self.dir.join(format!("{key}.meta")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(headers: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn a_document_comes_back_only_intact_and_for_its_own_url() {
        let root = tempfile::tempdir().unwrap();
        let cache = DocumentCache::new(root.path(), "npm");
        let url = "http://registry.example/left-pad";
        assert_eq!(cache.get(url), None);
        let fetched = answer(&[
            ("etag", "\"v1\""),
            ("last-modified", "Sat, 21 Nov 2026 09:16:21 GMT"),
        ]);
        cache.store(url, &fetched, b"{\"name\":\"left-pad\"}");
        let stored = cache.get(url).unwrap();
        assert_eq!(stored.body, b"{\"name\":\"left-pad\"}");
        assert_eq!(
            stored.conditions(),
            [
                ("If-None-Match", "\"v1\""),
                ("If-Modified-Since", "Sat, 21 Nov 2026 09:16:21 GMT")
            ]
        );
        assert_eq!(cache.get("http://registry.example/right-pad"), None);

        // A body changed behind the cache's back is not used (nor revalidated).
        let (body_path, meta_path) = cache.paths(url);
        std::fs::write(&body_path, b"{\"name\":\"evil\"}").unwrap();
        assert_eq!(cache.get(url), None);
        // Nor is an entry whose meta names another URL.
        cache.store(url, &fetched, b"{}");
        let meta = std::fs::read_to_string(&meta_path).unwrap();
        std::fs::write(&meta_path, meta.replace(url, "http://other.example/x")).unwrap();
        assert_eq!(cache.get(url), None);
    }

    #[test]
    fn answers_without_plain_validators_are_not_kept() {
        let root = tempfile::tempdir().unwrap();
        let cache = DocumentCache::new(root.path(), "conda");
        let url = "http://conda.example/c/noarch/repodata.json";
        cache.store(url, &answer(&[]), b"{}");
        assert_eq!(cache.get(url), None);
        cache.store(url, &answer(&[("etag", "\"a\tb\"")]), b"{}");
        assert_eq!(cache.get(url), None);
        cache.store(url, &answer(&[("etag", "\"ok\"")]), b"{}");
        assert_eq!(cache.get(url).unwrap().etag.as_deref(), Some("\"ok\""));
    }
}
