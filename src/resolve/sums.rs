//! Checksum files as upstreams publish them: `sha256sum` output (`<hex>  name`), its
//! binary-mode form (`<hex> *name`), single-line `<asset>.sha256` sidecars, nodejs's
//! `SHASUMS256.txt` with path entries (`win-x64/node.exe`), with or without a BOM, CRLF
//! or a trailing newline.

use std::collections::BTreeMap;

use crate::net::Hash;

/// File name → sha256, in file order; lines that are not checksum lines are skipped.
pub fn parse_sha256_sums(text: &str) -> BTreeMap<String, Hash> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sums = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r').trim();
        let Some((hex, rest)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let Ok(hash) = Hash::sha256_hex(hex) else {
            continue;
        };
        let name = rest.trim_start();
        let name = name.strip_prefix('*').unwrap_or(name);
        if !name.is_empty() {
            sums.insert(name.to_string(), hash);
        }
    }
    sums
}

/// The sha256 for `file` in a sums document listing several files: an exact entry, else
/// an entry whose path ends in `/file`.
pub fn lookup_entry(text: &str, file: &str) -> Option<Hash> {
    let sums = parse_sha256_sums(text);
    if let Some(hash) = sums.get(file) {
        return Some(hash.clone());
    }
    let suffix = format!("/{file}");
    sums.iter()
        .find(|(name, _)| name.ends_with(&suffix))
        .map(|(_, hash)| hash.clone())
}

/// The sha256 for `file` in its own sidecar (`<file>.sha256`): an entry as above, else —
/// for a sidecar that holds only the hex — its only value. Never use this on a document
/// that covers other files: the bare value would be taken for the wrong file.
pub fn lookup(text: &str, file: &str) -> Option<Hash> {
    if let Some(hash) = lookup_entry(text, file) {
        return Some(hash);
    }
    // `shasum -a 256 x > x.sha256` sidecars sometimes hold only the hex.
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if !trimmed.contains(char::is_whitespace) {
        return Hash::sha256_hex(trimmed).ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "fd8e59d5a511510f6a298afb548f18c7d2b1be404d8b4a27d94fbe49f56cb2d6";
    const B: &str = "6ad1325edbdb5649c379b75a237147a666c95d4f9ae8d340fef2d1575d289ad2";

    #[test]
    fn text_and_binary_modes_bom_and_crlf() {
        let text = format!(
            "\u{feff}{A}  node-v24.21.0-linux-x64.tar.xz\r\n{B} *pixi-x86_64-unknown-linux-musl.tar.gz\r\n"
        );
        let sums = parse_sha256_sums(&text);
        assert_eq!(sums["node-v24.21.0-linux-x64.tar.xz"].hex(), A);
        assert_eq!(sums["pixi-x86_64-unknown-linux-musl.tar.gz"].hex(), B);
    }

    #[test]
    fn path_entries_and_sidecars() {
        let text = format!("{A}  win-x64/node.exe\n{B}  node-v24.21.0-linux-arm64.tar.xz");
        assert_eq!(lookup(&text, "node.exe").unwrap().hex(), A);
        assert_eq!(
            lookup(&text, "node-v24.21.0-linux-arm64.tar.xz")
                .unwrap()
                .hex(),
            B
        );
        assert_eq!(lookup(&format!("{A}\n"), "anything").unwrap().hex(), A);
        assert!(lookup(&text, "missing.tar.gz").is_none());
    }

    #[test]
    fn skips_garbage() {
        let text = format!("-----BEGIN PGP SIGNED MESSAGE-----\nnot-a-hash  file\n{A}  ok\n");
        let sums = parse_sha256_sums(&text);
        assert_eq!(sums.len(), 1);
    }
}
