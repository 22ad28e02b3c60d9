//! Reading an image layer's tar as a stream: one member header at a time (GNU long names
//! and pax paths applied, paths normalized), its data read with a limit or skipped, and
//! the OCI whiteouts that hide files of the layers below. Shared by the readers of the
//! base's dpkg status (`base_status`) and apt configuration (`base_sources`).

use std::io::Read;

/// Largest GNU long name or pax header read.
const HEADER_LIMIT: u64 = 1024 * 1024;

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

/// What a whiteout entry hides in the layers below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Whiteout<'a> {
    /// `dir/.wh..wh..opq`: everything below `dir` (`""` for the root).
    Opaque(&'a str),
    /// `dir/.wh.name`: `dir/name` and everything below it.
    Path(String),
}

/// The whiteout a normalized path stands for, if it is one.
pub(crate) fn whiteout(path: &str) -> Option<Whiteout<'_>> {
    let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
    if file == ".wh..wh..opq" {
        return Some(Whiteout::Opaque(dir));
    }
    let target = file.strip_prefix(".wh.")?;
    Some(Whiteout::Path(if dir.is_empty() {
        target.to_string()
    } else {
        format!("{dir}/{target}")
    }))
}

/// One tar member's header: its normalized path (GNU long names and pax paths applied),
/// type flag and data size. Its data must be read or skipped before the next one.
pub(crate) struct TarEntry {
    pub path: String,
    kind: u8,
    size: u64,
}

impl TarEntry {
    /// A regular file (not a directory, link or device).
    pub fn is_file(&self) -> bool {
        self.kind == b'0' || self.kind == 0
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.kind == b'5'
    }

    /// The member's data size.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn padded(&self) -> u64 {
        self.size.div_ceil(512) * 512
    }

    /// The member's data (at most `limit` bytes, an error beyond).
    pub fn read(&self, tar: &mut impl Read, limit: u64) -> Result<Vec<u8>, String> {
        read_data(tar, self.size, self.padded(), limit)
    }

    pub fn skip(&self, tar: &mut impl Read) -> Result<(), String> {
        skip(tar, self.padded())
    }
}

/// The next member's header (`None` at the end), consuming GNU long-name and pax
/// headers on the way.
pub(crate) fn next_entry(tar: &mut impl Read) -> Result<Option<TarEntry>, String> {
    let mut long_name: Option<String> = None;
    let mut pax_path: Option<String> = None;
    let mut header = [0u8; 512];
    loop {
        if !read_block(tar, &mut header)? || header.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        let size = octal(&header[124..136])?;
        let padded = size.div_ceil(512) * 512;
        let kind = header[156];
        match kind {
            b'L' => {
                long_name = Some(cstr(&read_data(tar, size, padded, HEADER_LIMIT)?));
                continue;
            }
            b'x' => {
                pax_path = pax_field(&read_data(tar, size, padded, HEADER_LIMIT)?, "path");
                continue;
            }
            b'g' => {
                skip(tar, padded)?;
                continue;
            }
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
        return Ok(Some(TarEntry {
            path: normalize(&name),
            kind,
            size,
        }));
    }
}

/// One 512-byte block; `false` at a clean end of the stream (tools may leave out the
/// closing zero blocks).
fn read_block(tar: &mut impl Read, block: &mut [u8; 512]) -> Result<bool, String> {
    let mut filled = 0;
    while filled < block.len() {
        match tar.read(&mut block[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err("truncated tar header".into()),
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(format!("cannot read the layer: {err}")),
        }
    }
    Ok(true)
}

/// An entry's data (at most `limit` bytes), with its padding consumed.
fn read_data(tar: &mut impl Read, size: u64, padded: u64, limit: u64) -> Result<Vec<u8>, String> {
    if size > limit {
        return Err(format!(
            "a tar entry of {size} bytes where at most {limit} are read"
        ));
    }
    let mut data = Vec::with_capacity(size as usize);
    tar.by_ref()
        .take(size)
        .read_to_end(&mut data)
        .map_err(|err| format!("cannot read the layer: {err}"))?;
    if data.len() as u64 != size {
        return Err("truncated tar entry".into());
    }
    skip(tar, padded - size)?;
    Ok(data)
}

/// Skip `n` bytes of the stream (file data the scan does not need).
fn skip(tar: &mut impl Read, n: u64) -> Result<(), String> {
    let skipped = std::io::copy(&mut tar.by_ref().take(n), &mut std::io::sink())
        .map_err(|err| format!("cannot read the layer: {err}"))?;
    if skipped != n {
        return Err("truncated tar entry".into());
    }
    Ok(())
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
