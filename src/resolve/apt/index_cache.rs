//! apt's index cache, as apt keeps `/var/lib/apt/lists`: each `InRelease` with its
//! `ETag` and `Last-Modified`, revalidated by a conditional GET (a `304` costs no body),
//! and every index file under the SHA-256 a verified Release lists for it
//! (content-addressed, like the archive's own `by-hash`), so an unchanged index is
//! never downloaded twice.
//!
//! Nothing here is trusted: a cached `InRelease` is verified against the keyring and
//! its `Valid-Until` on every use, exactly like a downloaded one, and a cached index is
//! checked against the size and hash the Release lists before it is read. A damaged
//! or foreign file in the cache is ignored (and replaced by a download).

use crate::resolve::cache::{validator, write_atomic};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::control::ReleaseFile;

/// The `apt/` directory of the cache.
#[derive(Debug, Clone)]
pub struct IndexCache {
    dir: PathBuf,
}

/// A stored `InRelease` and what revalidates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedRelease {
    pub body: Vec<u8>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl IndexCache {
    /// The apt part of the cache directory `root`.
    pub fn new(root: &Path) -> IndexCache {
        IndexCache {
            dir: root.join("apt"),
        }
    }

    /// The index file a verified Release lists as `entry`, if stored and intact.
    pub fn index(&self, entry: &ReleaseFile) -> Option<Vec<u8>> {
        let body = std::fs::read(self.index_path(entry)?).ok()?;
        let intact = body.len() as u64 == entry.size
            && hex::encode(Sha256::digest(&body)) == entry.sha256.to_ascii_lowercase();
        intact.then_some(body)
    }

    /// Keep an index file that matched `entry` (best effort: a failed write only costs
    /// a download next time).
    pub fn store_index(&self, entry: &ReleaseFile, body: &[u8]) {
        if let Some(path) = self.index_path(entry) {
            write_atomic(&path, body);
        }
    }

    /// The stored `InRelease` of `url`, if any.
    pub fn release(&self, url: &str) -> Option<CachedRelease> {
        let (body_path, meta_path) = self.release_paths(url);
        let body = std::fs::read(body_path).ok()?;
        let meta = std::fs::read_to_string(meta_path).unwrap_or_default();
        let field = |name: &str| {
            meta.lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(validator)
        };
        Some(CachedRelease {
            body,
            etag: field("etag: "),
            last_modified: field("last-modified: "),
        })
    }

    /// Keep a verified `InRelease` with the validators its server sent (each kept only
    /// when it is a plain header value).
    pub fn store_release(
        &self,
        url: &str,
        body: &[u8],
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) {
        let (body_path, meta_path) = self.release_paths(url);
        let mut meta = format!("url: {url}\n");
        if let Some(etag) = etag.and_then(validator) {
            meta.push_str(&format!("etag: {etag}\n"));
        }
        if let Some(date) = last_modified.and_then(validator) {
            meta.push_str(&format!("last-modified: {date}\n"));
        }
        // Body first: a meta file without its body is never used.
        write_atomic(&body_path, body);
        write_atomic(&meta_path, meta.as_bytes());
    }

    fn index_path(&self, entry: &ReleaseFile) -> Option<PathBuf> {
        let hash = entry.sha256.to_ascii_lowercase();
        let is_sha256 = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        is_sha256.then(|| self.dir.join("by-hash").join(format!("sha256-{hash}")))
    }

    fn release_paths(&self, url: &str) -> (PathBuf, PathBuf) {
        let key = hex::encode(Sha256::digest(url.as_bytes()));
        let dir = self.dir.join("inrelease");
        (
            dir.join(format!("{key}.body")),
            dir.join(format!("{key}.meta")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_kept_by_hash_and_checked_again() {
        let root = tempfile::tempdir().unwrap();
        let cache = IndexCache::new(root.path());
        let body = b"Package: hello\n".to_vec();
        let entry = ReleaseFile {
            sha256: hex::encode(Sha256::digest(&body)),
            size: body.len() as u64,
        };
        assert_eq!(cache.index(&entry), None);
        cache.store_index(&entry, &body);
        assert_eq!(cache.index(&entry), Some(body.clone()));
        // A damaged file is not used.
        let path = cache.index_path(&entry).unwrap();
        std::fs::write(&path, b"Package: evil\n").unwrap();
        assert_eq!(cache.index(&entry), None);
        // A hash that is not one names no file.
        let odd = ReleaseFile {
            sha256: "../../etc/passwd".into(),
            size: 1,
        };
        assert_eq!(cache.index_path(&odd), None);
    }

    #[test]
    fn releases_keep_only_plain_validators() {
        let root = tempfile::tempdir().unwrap();
        let cache = IndexCache::new(root.path());
        let url = "http://deb.example/debian/dists/trixie/InRelease";
        assert_eq!(cache.release(url), None);
        cache.store_release(
            url,
            b"signed",
            Some("\"abc\""),
            Some("Sat, 21 Nov 2026 09:16:21 GMT"),
        );
        assert_eq!(
            cache.release(url),
            Some(CachedRelease {
                body: b"signed".to_vec(),
                etag: Some("\"abc\"".into()),
                last_modified: Some("Sat, 21 Nov 2026 09:16:21 GMT".into()),
            })
        );
        cache.store_release(url, b"signed 2", Some("\"a\r\nx: y\""), None);
        let stored = cache.release(url).unwrap();
        assert_eq!(stored.etag, None);
        assert_eq!(stored.last_modified, None);
    }
}
