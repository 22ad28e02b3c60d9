//! The base image's `/var/lib/dpkg/status`, read from its layers through the registry:
//! top layer down, whiteouts honoured (a deleted file or an opaque directory hides the
//! layers below), stopping at the first layer that has the file or deletes it. The same
//! walk collects each layer's apt configuration ([`super::base_sources`]: sources,
//! preferences, keyrings); when the caller wants it, every layer is read.
//!
//! Layers are read as streams, never held: the body is hashed as it arrives and handed
//! in small pieces to a blocking task that decompresses (gzip, zstd or none, as the
//! manifest's media type says, before any byte is fetched) and walks the tar, skipping
//! file data. Peak memory is a few pieces of the body plus the decoder's window, whatever
//! the layer's size.
//!
//! Once the answer is known the scan stops, but the download goes on to the blob's end,
//! only hashed: a layer digest covers the whole blob, so a file read from an unfinished
//! blob is unverified, and a mirror could serve any status file in front of wrong
//! bytes. The answer counts (and is cached) only after the digest matched; a mismatch
//! fails closed. The cost is the rest of that one layer's download, once per machine:
//! the answer (found, absent, deleted, refused) is cached by layer digest
//! (content-addressed, so never stale) under the context's cache directory.

use std::io::Read;

use sha2::{Digest, Sha256};

use super::base_sources::{self, Collector, LayerSources};
use super::layer_tar::{Whiteout, next_entry, whiteout};
use crate::platform::Platform;
use crate::resolve::oci::LayerCompression;
use crate::resolve::{Context, Problem, oci};

const STATUS: &str = "var/lib/dpkg/status";
/// Largest layer read (compressed); CUDA devel layers are a few GB at most.
const LAYER_LIMIT: u64 = 8 * 1024 * 1024 * 1024;
/// Largest status file taken (Ubuntu desktop installs have a few MB).
const STATUS_LIMIT: u64 = 64 * 1024 * 1024;
/// Body pieces in flight between the download and the scan (a piece is at most a few
/// hundred KB): enough to keep both busy, small enough to bound memory.
const PIECES_IN_FLIGHT: usize = 16;

/// What one layer says about the status file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// The layer has the file: its text.
    Found(String),
    /// The layer deletes it (a whiteout of it or a parent, or an opaque parent).
    Deleted,
    /// The layer does not touch it.
    Absent,
    /// The layer's verified bytes cannot be read (not a tar, a status that is not
    /// UTF-8, …): the same for every run, so cached too.
    Refused(String),
}

/// The dpkg status of `image` for `platform` (empty when no layer has one).
pub async fn read(
    ctx: &Context,
    image: &str,
    mirror: Option<&str>,
    platform: Platform,
) -> Result<String, Problem> {
    Ok(read_layers(ctx, image, mirror, platform, false)
        .await?
        .status)
}

/// What the base image says, read in one top-down pass over its layers.
#[derive(Debug, Clone, Default)]
pub struct Base {
    /// `/var/lib/dpkg/status` (empty when no layer has one).
    pub status: String,
    /// The apt configuration files the image sees, when they were asked for.
    pub apt: Option<BaseApt>,
}

/// The base image's apt configuration files (whiteouts applied, upper layers win).
#[derive(Debug, Clone, Default)]
pub struct BaseApt {
    /// Sources and preferences files: path (no leading `/`) → text.
    pub files: std::collections::BTreeMap<String, String>,
    /// Keyring files: path (no leading `/`) → bytes.
    pub keyrings: std::collections::BTreeMap<String, Vec<u8>>,
}

/// The dpkg status and, with `apt`, the apt configuration of `image` for `platform`.
/// The status alone stops at the first layer that has or deletes it; the apt
/// configuration can sit in any layer, so with `apt` every layer is read (each once per
/// machine: the answers are cached by layer digest).
pub async fn read_layers(
    ctx: &Context,
    image: &str,
    mirror: Option<&str>,
    platform: Platform,
    apt: bool,
) -> Result<Base, Problem> {
    let mut layers = oci::layers(ctx, image, mirror, platform)
        .await
        .map_err(|err| Problem::msg(format!("reading the dpkg status of {image}: {err}")))?;
    let cache = ctx.cache.as_ref().map(|dir| dir.join("dpkg-status"));
    let list = layers.layers.clone();
    let mut status: Option<String> = None;
    let mut apt_layers = Vec::new();
    for (digest, media_type) in list.iter().rev() {
        if status.is_some() && !apt {
            break;
        }
        let scan = match cache.as_ref().and_then(|dir| cached(dir, digest)) {
            Some(scan) => scan,
            None => {
                // apt's and conda's readers of one base run at once: the first downloads
                // the layer, the other waits for its answer instead of a second download.
                // The media type decides before anything is fetched or shared.
                let compression = LayerCompression::from_media_type(media_type)
                    .map_err(|err| Problem::msg(format!("layer {digest} of {image}: {err}")))?;
                let cell = ctx.layer_scans.cell(digest);
                cell.get_or_try_init(|| async {
                    let scan = scan_remote(ctx, &mut layers, digest, compression)
                        .await
                        .map_err(|err| Problem::msg(format!("layer {digest} of {image}: {err}")))?;
                    if let Some(dir) = &cache {
                        store(dir, digest, &scan);
                    }
                    Ok::<_, Problem>(scan)
                })
                .await?
                .clone()
            }
        };
        if apt {
            match scan.apt {
                Ok(layer) => apt_layers.push(layer),
                Err(reason) => {
                    return Err(Problem::msg(format!(
                        "layer {digest} of {image}: cannot read its apt configuration: {reason} \
                         (set `[apt] base-sources = false` in the spec to ignore the base's \
                         apt sources)"
                    )));
                }
            }
        }
        if status.is_some() {
            continue;
        }
        match scan.status {
            Scan::Found(text) => status = Some(text),
            Scan::Deleted => status = Some(String::new()),
            Scan::Absent => {}
            Scan::Refused(reason) => {
                return Err(Problem::msg(format!(
                    "layer {digest} of {image}: cannot read its dpkg status: {reason}"
                )));
            }
        }
    }
    Ok(Base {
        status: status.unwrap_or_default(),
        apt: apt.then(|| BaseApt {
            files: base_sources::overlay(&apt_layers),
            keyrings: base_sources::overlay_keyrings(&apt_layers),
        }),
    })
}

/// The layers scanned in this run, by digest: one download of a layer however many
/// resolvers read the base (the cache directory keeps answers between runs, but may be
/// off, and is written only once a scan is done).
#[derive(Default)]
pub struct LayerScans(
    std::sync::Mutex<
        std::collections::HashMap<String, std::sync::Arc<tokio::sync::OnceCell<LayerScan>>>,
    >,
);

impl LayerScans {
    fn cell(&self, digest: &str) -> std::sync::Arc<tokio::sync::OnceCell<LayerScan>> {
        let mut cells = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cells.entry(digest.to_string()).or_default().clone()
    }
}

/// What one layer says: about the status file, and its apt configuration files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerScan {
    pub status: Scan,
    pub apt: Result<LayerSources, String>,
}

impl LayerScan {
    fn refused(reason: String) -> LayerScan {
        LayerScan {
            status: Scan::Refused(reason.clone()),
            apt: Err(reason),
        }
    }
}

/// Download one layer, hashing every byte, while a blocking task scans it; the scan's
/// answer once the whole blob matched `digest`.
async fn scan_remote(
    ctx: &Context,
    layers: &mut oci::Layers,
    digest: &str,
    compression: LayerCompression,
) -> Result<LayerScan, Problem> {
    let Some(expected) = digest.strip_prefix("sha256:") else {
        return Err(Problem::msg(format!(
            "layer digest `{digest}` is not sha256 (the only algorithm checked here)"
        )));
    };
    let mut body = oci::blob_stream(ctx, layers, digest, LAYER_LIMIT).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Vec<u8>>(PIECES_IN_FLIGHT);
    let scanner =
        tokio::task::spawn_blocking(move || scan_stream(compression, PieceReader::new(receiver)));
    let mut hasher = Sha256::new();
    let mut sender = Some(sender);
    let downloaded = async {
        while let Some(piece) = body.chunk().await? {
            hasher.update(&piece);
            // Should the scanner stop early (a broken tar), keep hashing to the end.
            if let Some(to_scanner) = &sender
                && to_scanner.send(piece).await.is_err()
            {
                sender = None;
            }
        }
        Ok::<_, crate::net::NetError>(())
    }
    .await;
    drop(sender);
    let scanned = scanner
        .await
        .map_err(|err| Problem::msg(format!("reading the layer stopped: {err}")))?;
    downloaded?;
    let actual = hex::encode(hasher.finalize());
    if actual != expected {
        return Err(Problem::msg(format!(
            "sha256 mismatch for layer {digest} from {}: expected {expected}, got {actual}",
            crate::net::redact(&body.url)
        )));
    }
    Ok(scanned.unwrap_or_else(LayerScan::refused))
}

/// A `Read` over the body pieces the download sends; the end of the body is its end.
struct PieceReader {
    receiver: tokio::sync::mpsc::Receiver<Vec<u8>>,
    piece: Vec<u8>,
    at: usize,
}

impl PieceReader {
    fn new(receiver: tokio::sync::mpsc::Receiver<Vec<u8>>) -> PieceReader {
        PieceReader {
            receiver,
            piece: Vec::new(),
            at: 0,
        }
    }
}

impl Read for PieceReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.piece.len() {
            match self.receiver.blocking_recv() {
                Some(piece) => {
                    self.piece = piece;
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.piece.len() - self.at);
        out[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Decompress as the media type says and scan the tar.
pub fn scan_stream(compression: LayerCompression, reader: impl Read) -> Result<LayerScan, String> {
    match compression {
        LayerCompression::None => scan_layer(reader),
        LayerCompression::Gzip => scan_layer(flate2::read::MultiGzDecoder::new(reader)),
        LayerCompression::Zstd => scan_layer(
            zstd::stream::read::Decoder::new(reader)
                .map_err(|err| format!("cannot start zstd: {err}"))?,
        ),
    }
}

fn cache_name(digest: &str) -> String {
    digest.replace(':', "-")
}

/// A layer's cached answers: the status one (`.status`, `.refused`, `.deleted`,
/// `.absent`) and the apt configuration one (`.apt.json`); both or nothing.
fn cached(dir: &std::path::Path, digest: &str) -> Option<LayerScan> {
    let name = cache_name(digest);
    let apt = std::fs::read(dir.join(format!("{name}.apt.json"))).ok()?;
    let apt: Result<LayerSources, String> = serde_json::from_slice(&apt).ok()?;
    let status = if let Ok(text) = std::fs::read_to_string(dir.join(format!("{name}.status"))) {
        Scan::Found(text)
    } else if let Ok(reason) = std::fs::read_to_string(dir.join(format!("{name}.refused"))) {
        Scan::Refused(reason)
    } else if dir.join(format!("{name}.deleted")).exists() {
        Scan::Deleted
    } else if dir.join(format!("{name}.absent")).exists() {
        Scan::Absent
    } else {
        return None;
    };
    Some(LayerScan { status, apt })
}

/// Best effort: a cache that cannot be written only costs a download next time. Written
/// to temp files and renamed, so a reader never sees half an answer; the apt answer
/// last, as [`cached`] needs both.
fn store(dir: &std::path::Path, digest: &str, scan: &LayerScan) {
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let name = cache_name(digest);
    let (file, text) = match &scan.status {
        Scan::Found(text) => (format!("{name}.status"), text.as_str()),
        Scan::Refused(reason) => (format!("{name}.refused"), reason.as_str()),
        Scan::Deleted => (format!("{name}.deleted"), ""),
        Scan::Absent => (format!("{name}.absent"), ""),
    };
    let apt = serde_json::to_vec(&scan.apt).expect("layer answers serialize");
    for (file, bytes) in [(file, text.as_bytes()), (format!("{name}.apt.json"), &apt)] {
        let Ok(mut temp) = tempfile::NamedTempFile::new_in(dir) else {
            return;
        };
        if std::io::Write::write_all(&mut temp, bytes).is_err()
            || temp.persist(dir.join(file)).is_err()
        {
            return;
        }
    }
}

/// `var/lib/dpkg` is `dir` or below it: a whiteout of `dir` hides the status.
fn covers_status(dir: &str) -> bool {
    dir.is_empty() || STATUS == dir || STATUS.starts_with(&format!("{dir}/"))
}

/// Walk a layer's tar once, reading headers and skipping file data: the status file
/// and whiteouts affecting it, and the apt configuration files ([`Collector`]).
pub fn scan_layer(mut tar: impl Read) -> Result<LayerScan, String> {
    let mut found = None;
    let mut deleted = false;
    let mut apt = Collector::default();
    while let Some(entry) = next_entry(&mut tar)? {
        let path = entry.path.as_str();
        if path == STATUS && entry.is_file() {
            let data = entry.read(&mut tar, STATUS_LIMIT)?;
            let text =
                String::from_utf8(data).map_err(|_| "the dpkg status is not UTF-8".to_string())?;
            found = Some(text);
            continue;
        }
        if apt.take(&entry, &mut tar)? {
            continue;
        }
        entry.skip(&mut tar)?;
        apt.note(path);
        match whiteout(path) {
            Some(Whiteout::Opaque(dir)) if covers_status(dir) => deleted = true,
            Some(Whiteout::Path(target)) if covers_status(&target) => deleted = true,
            _ => {}
        }
    }
    // A layer's own file stands whatever it also deletes below.
    let status = match (found, deleted) {
        (Some(text), _) => Scan::Found(text),
        (None, true) => Scan::Deleted,
        (None, false) => Scan::Absent,
    };
    Ok(LayerScan {
        status,
        apt: apt.finish(),
    })
}

/// The status part of [`scan_layer`].
pub fn scan_tar(tar: impl Read) -> Result<Scan, String> {
    scan_layer(tar).map(|layer| layer.status)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::resolve::apt) fn entry(name: &str, kind: u8, data: &[u8]) -> Vec<u8> {
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        let size = format!("{:011o}\0", data.len());
        header[124..136].copy_from_slice(size.as_bytes());
        header[156] = kind;
        header[257..263].copy_from_slice(b"ustar\0");
        let mut out = header.to_vec();
        out.extend_from_slice(data);
        out.resize(512 + data.len().div_ceil(512) * 512, 0);
        out
    }

    pub(in crate::resolve::apt) fn tar(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut out: Vec<u8> = entries.concat();
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    #[test]
    fn finds_the_status_and_honours_whiteouts() {
        let status = b"Package: base-files\nStatus: install ok installed\n";
        let found = tar(&[
            entry("./etc/", b'5', b""),
            entry("./var/lib/dpkg/status", b'0', status),
        ]);
        assert_eq!(
            scan_tar(&found[..]).unwrap(),
            Scan::Found(String::from_utf8(status.to_vec()).unwrap())
        );
        for whiteout in [
            "var/lib/dpkg/.wh.status",
            "var/lib/.wh.dpkg",
            "var/lib/dpkg/.wh..wh..opq",
        ] {
            let t = tar(&[entry(whiteout, b'0', b"")]);
            assert_eq!(scan_tar(&t[..]).unwrap(), Scan::Deleted, "{whiteout}");
        }
        let other = tar(&[
            entry("var/lib/dpkg/.wh.status-old", b'0', b""),
            entry("usr/share/.wh..wh..opq", b'0', b""),
        ]);
        assert_eq!(scan_tar(&other[..]).unwrap(), Scan::Absent);
        // A GNU long name in front of the file.
        let long = tar(&[
            entry("././@LongLink", b'L', b"./var/lib/dpkg/status\0"),
            entry("truncated", b'0', status),
        ]);
        assert!(matches!(scan_tar(&long[..]).unwrap(), Scan::Found(_)));
        // gzip-compressed like a registry layer.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &found).unwrap();
        assert!(matches!(
            scan_stream(LayerCompression::Gzip, &gz.finish().unwrap()[..])
                .unwrap()
                .status,
            Scan::Found(_)
        ));
    }

    #[test]
    fn one_walk_reads_the_status_and_the_apt_configuration() {
        let status = b"Package: base-files\nStatus: install ok installed\n";
        let layer = tar(&[
            entry(
                "etc/apt/sources.list.d/local.sources",
                b'0',
                b"Types: deb\n",
            ),
            entry("etc/apt/preferences.d/pin", b'0', b"Package: *\n"),
            entry("etc/apt/preferences.d/skipped.txt", b'0', b"not read"),
            entry("usr/share/keyrings/local.gpg", b'0', b"\x99\x01"),
            entry("var/lib/dpkg/status", b'0', status),
            entry("etc/apt/trusted.gpg.d/.wh.old.gpg", b'0', b""),
        ]);
        let scan = scan_layer(&layer[..]).unwrap();
        assert!(matches!(scan.status, Scan::Found(_)));
        let apt = scan.apt.unwrap();
        assert_eq!(
            apt.files.keys().collect::<Vec<_>>(),
            [
                "etc/apt/preferences.d/pin",
                "etc/apt/sources.list.d/local.sources"
            ]
        );
        assert_eq!(apt.keyrings["usr/share/keyrings/local.gpg"], b"\x99\x01");
        assert_eq!(
            apt.hidden,
            [super::base_sources::Hidden::Path(
                "etc/apt/trusted.gpg.d/old.gpg".into()
            )]
        );
        // An apt file that cannot be read refuses the apt part only: the status stands.
        let layer = tar(&[
            entry("etc/apt/sources.list", b'0', b"\xff\xfe"),
            entry("var/lib/dpkg/status", b'0', status),
        ]);
        let scan = scan_layer(&layer[..]).unwrap();
        assert!(matches!(scan.status, Scan::Found(_)));
        assert!(
            scan.apt
                .unwrap_err()
                .contains("`/etc/apt/sources.list` is not UTF-8")
        );
    }
}
