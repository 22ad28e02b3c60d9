//! The base image's `/var/lib/dpkg/status`, read from its layers through the registry:
//! top layer down, whiteouts honoured (a deleted file or an opaque directory hides the
//! layers below), stopping at the first layer that has the file. What each layer holds
//! is cached on disk by layer digest (content-addressed, so never stale), so a base's
//! layers are fetched once per machine.

use std::io::Read;
use std::path::PathBuf;

use crate::platform::Platform;
use crate::resolve::{Context, Problem, oci};

const STATUS: &str = "var/lib/dpkg/status";
/// Largest layer read (compressed); CUDA devel layers are a few GB at most.
const LAYER_LIMIT: u64 = 8 * 1024 * 1024 * 1024;

/// What one layer says about the status file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// The layer has the file: its text.
    Found(String),
    /// The layer deletes it (a whiteout of it or a parent, or an opaque parent).
    Deleted,
    /// The layer does not touch it.
    Absent,
}

/// The dpkg status of `image` for `platform` (empty when no layer has one).
pub async fn read(
    ctx: &Context,
    image: &str,
    mirror: Option<&str>,
    platform: Platform,
) -> Result<String, Problem> {
    let mut layers = oci::layers(ctx, image, mirror, platform)
        .await
        .map_err(|err| Problem::msg(format!("reading the dpkg status of {image}: {err}")))?;
    let list = layers.layers.clone();
    for (digest, _media_type) in list.iter().rev() {
        let scan = match cached(digest) {
            Some(scan) => scan,
            None => {
                let bytes = oci::blob(ctx, &mut layers, digest, LAYER_LIMIT).await?;
                let digest_for_error = digest.clone();
                let scan = tokio::task::spawn_blocking(move || scan_layer(&bytes))
                    .await
                    .map_err(|err| Problem::msg(format!("reading layer stopped: {err}")))?
                    .map_err(|err| {
                        Problem::msg(format!("layer {digest_for_error} of {image}: {err}"))
                    })?;
                store(digest, &scan);
                scan
            }
        };
        match scan {
            Scan::Found(text) => return Ok(text),
            Scan::Deleted => return Ok(String::new()),
            Scan::Absent => {}
        }
    }
    Ok(String::new())
}

/// `$XDG_CACHE_HOME/modelbench/dpkg-status` (or `~/.cache/…`).
fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("modelbench").join("dpkg-status"))
}

fn cache_name(digest: &str) -> String {
    digest.replace(':', "-")
}

fn cached(digest: &str) -> Option<Scan> {
    let dir = cache_dir()?;
    let name = cache_name(digest);
    if let Ok(text) = std::fs::read_to_string(dir.join(format!("{name}.status"))) {
        return Some(Scan::Found(text));
    }
    if dir.join(format!("{name}.deleted")).exists() {
        return Some(Scan::Deleted);
    }
    if dir.join(format!("{name}.absent")).exists() {
        return Some(Scan::Absent);
    }
    None
}

/// Best effort: a cache that cannot be written only costs a download next time.
fn store(digest: &str, scan: &Scan) {
    let Some(dir) = cache_dir() else { return };
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let name = cache_name(digest);
    let (file, text) = match scan {
        Scan::Found(text) => (format!("{name}.status"), text.as_str()),
        Scan::Deleted => (format!("{name}.deleted"), ""),
        Scan::Absent => (format!("{name}.absent"), ""),
    };
    let temp = dir.join(format!(".{file}.{}", std::process::id()));
    if std::fs::write(&temp, text).is_ok() {
        let _ = std::fs::rename(&temp, dir.join(file));
    }
}

/// Scan one layer blob (gzip-compressed or plain tar).
pub fn scan_layer(blob: &[u8]) -> Result<Scan, String> {
    if blob.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err("zstd-compressed layers are not supported yet".into());
    }
    if blob.starts_with(&[0x1f, 0x8b]) {
        let mut tar = Vec::new();
        flate2::read::MultiGzDecoder::new(blob)
            .read_to_end(&mut tar)
            .map_err(|err| format!("cannot decompress: {err}"))?;
        scan_tar(&tar)
    } else {
        scan_tar(blob)
    }
}

fn octal(field: &[u8]) -> Result<u64, String> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // base-256 (GNU) for large sizes
        let mut value: u64 = 0;
        for &b in &field[1..] {
            value = (value << 8) | u64::from(b);
        }
        return Ok(value);
    }
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| format!("bad tar number `{text}`"))
}

fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

fn normalize(path: &str) -> String {
    let mut p = path;
    loop {
        if let Some(rest) = p.strip_prefix("./") {
            p = rest;
        } else if let Some(rest) = p.strip_prefix('/') {
            p = rest;
        } else {
            break;
        }
    }
    p.trim_end_matches('/').to_string()
}

/// `var/lib/dpkg` is `dir` or below it: a whiteout of `dir` hides the status.
fn covers_status(dir: &str) -> bool {
    dir.is_empty() || STATUS == dir || STATUS.starts_with(&format!("{dir}/"))
}

/// Walk a tar archive for the status file and whiteouts affecting it.
pub fn scan_tar(tar: &[u8]) -> Result<Scan, String> {
    let mut offset = 0;
    let mut long_name: Option<String> = None;
    let mut pax_path: Option<String> = None;
    let mut deleted = false;
    while offset + 512 <= tar.len() {
        let header = &tar[offset..offset + 512];
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let size = octal(&header[124..136])? as usize;
        let kind = header[156];
        let data_start = offset + 512;
        let data_end = data_start
            .checked_add(size)
            .filter(|&end| end <= tar.len())
            .ok_or("truncated tar entry")?;
        let data = &tar[data_start..data_end];
        offset = data_start + size.div_ceil(512) * 512;
        match kind {
            b'L' => {
                long_name = Some(cstr(data));
                continue;
            }
            b'x' => {
                pax_path = pax_field(data, "path");
                continue;
            }
            b'g' => continue,
            _ => {}
        }
        let name = if let Some(name) = pax_path.take().or_else(|| long_name.take()) {
            name
        } else {
            let base = cstr(&header[0..100]);
            let prefix = if &header[257..262] == b"ustar" {
                cstr(&header[345..500])
            } else {
                String::new()
            };
            if prefix.is_empty() {
                base
            } else {
                format!("{prefix}/{base}")
            }
        };
        let path = normalize(&name);
        if path == STATUS && (kind == b'0' || kind == 0) {
            let text = String::from_utf8(data.to_vec())
                .map_err(|_| "the dpkg status is not UTF-8".to_string())?;
            return Ok(Scan::Found(text));
        }
        let (dir, file) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if file == ".wh..wh..opq" {
            if covers_status(dir) {
                deleted = true;
            }
        } else if let Some(target) = file.strip_prefix(".wh.") {
            let target = if dir.is_empty() {
                target.to_string()
            } else {
                format!("{dir}/{target}")
            };
            if covers_status(&target) {
                deleted = true;
            }
        }
    }
    Ok(if deleted { Scan::Deleted } else { Scan::Absent })
}

fn pax_field(data: &[u8], key: &str) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let mut rest: &str = &text;
    while !rest.is_empty() {
        let (len, _) = rest.split_once(' ')?;
        let len: usize = len.parse().ok()?;
        let record = rest.get(..len)?;
        rest = &rest[len..];
        let (_, kv) = record.split_once(' ')?;
        let (k, v) = kv.trim_end_matches('\n').split_once('=')?;
        if k == key {
            return Some(v.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: u8, data: &[u8]) -> Vec<u8> {
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

    fn tar(entries: &[Vec<u8>]) -> Vec<u8> {
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
            scan_tar(&found).unwrap(),
            Scan::Found(String::from_utf8(status.to_vec()).unwrap())
        );
        for whiteout in [
            "var/lib/dpkg/.wh.status",
            "var/lib/.wh.dpkg",
            "var/lib/dpkg/.wh..wh..opq",
        ] {
            let t = tar(&[entry(whiteout, b'0', b"")]);
            assert_eq!(scan_tar(&t).unwrap(), Scan::Deleted, "{whiteout}");
        }
        let other = tar(&[
            entry("var/lib/dpkg/.wh.status-old", b'0', b""),
            entry("usr/share/.wh..wh..opq", b'0', b""),
        ]);
        assert_eq!(scan_tar(&other).unwrap(), Scan::Absent);
        // A GNU long name in front of the file.
        let long = tar(&[
            entry("././@LongLink", b'L', b"./var/lib/dpkg/status\0"),
            entry("truncated", b'0', status),
        ]);
        assert!(matches!(scan_tar(&long).unwrap(), Scan::Found(_)));
        // gzip-compressed like a registry layer.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &found).unwrap();
        assert!(matches!(
            scan_layer(&gz.finish().unwrap()).unwrap(),
            Scan::Found(_)
        ));
    }
}
