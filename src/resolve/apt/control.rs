//! deb822 text: paragraphs of `Field: value` lines (continuation lines start with a space
//! or tab, paragraphs end at a blank line), and the three kinds apt reads: `Release`
//! (checksums of the indices), `Packages` (one paragraph per `.deb`) and the dpkg
//! `status` file (one paragraph per package dpkg knows, with its `Status`).
//!
//! Everything borrows from the input text; the `Packages` reader is a single pass that
//! keeps only the fields the closure needs, so a 50 MB index splits into chunks at
//! paragraph boundaries ([`split_chunks`]) and parses in parallel.

use std::collections::BTreeMap;

use super::version::{Relation, Version};

/// One paragraph with its fields in order. Values are trimmed; a multi-line value keeps
/// its inner newlines and the leading space of each continuation line.
#[derive(Debug, Clone, Default)]
pub struct Paragraph<'a> {
    pub fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Paragraph<'a> {
    /// A field's value (names compare case-insensitively, as apt and dpkg do).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }
}

/// Iterate over the paragraphs of a deb822 text. `#` comment lines (allowed in deb822
/// sources files) are skipped; a line without a colon is an error, reported with its
/// line number.
pub fn paragraphs(text: &str) -> Result<Vec<Paragraph<'_>>, String> {
    let mut out = Vec::new();
    let mut current = Paragraph::default();
    let mut last: Option<(usize, &str)> = None; // (field start, name) of the open field
    let mut offset = 0;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        if content.trim().is_empty() {
            flush(text, &mut current, &mut last, start);
            close(&mut current, &mut out);
            continue;
        }
        if content.starts_with('#') {
            continue;
        }
        if content.starts_with([' ', '\t']) {
            if last.is_none() {
                return Err(format!(
                    "line {}: continuation line outside a field",
                    number + 1
                ));
            }
            continue;
        }
        flush(text, &mut current, &mut last, start);
        let Some(colon) = content.find(':') else {
            return Err(format!(
                "line {}: `{}` is not a `Field: value` line",
                number + 1,
                content.trim()
            ));
        };
        last = Some((start + colon + 1, &content[..colon]));
    }
    flush(text, &mut current, &mut last, text.len());
    close(&mut current, &mut out);
    Ok(out)
}

fn close<'a>(current: &mut Paragraph<'a>, out: &mut Vec<Paragraph<'a>>) {
    if !current.fields.is_empty() {
        out.push(std::mem::take(current));
    }
}

fn flush<'a>(
    text: &'a str,
    current: &mut Paragraph<'a>,
    last: &mut Option<(usize, &'a str)>,
    end: usize,
) {
    if let Some((value_start, name)) = last.take() {
        current
            .fields
            .push((name.trim(), text[value_start..end].trim()));
    }
}

/// Split `text` into at most `parts` pieces, each ending at a paragraph boundary.
pub fn split_chunks(text: &str, parts: usize) -> Vec<&str> {
    let parts = parts.max(1);
    let mut chunks = Vec::with_capacity(parts);
    let mut start = 0;
    let target = text.len() / parts + 1;
    while start < text.len() {
        let mut end = (start + target).min(text.len());
        if end < text.len() {
            // Bytes, not `text[end..]`: `end` may fall inside a multi-byte character
            // (UTF-8 in descriptions, maintainer names); a `\n\n` ends on a boundary.
            match text.as_bytes()[end..].windows(2).position(|w| w == b"\n\n") {
                Some(pos) => end += pos + 2,
                None => end = text.len(),
            }
        }
        while !text.is_char_boundary(end) {
            end += 1;
        }
        chunks.push(&text[start..end]);
        start = end;
    }
    chunks
}

/// One alternative of a dependency: `name[:arch] [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep<'a> {
    pub name: &'a str,
    /// The architecture qualifier (`any`, `native`, `amd64`), if written.
    pub arch: Option<&'a str>,
    pub constraint: Option<(Relation, Version)>,
}

/// A dependency field: AND of OR-groups.
pub type Relations<'a> = Vec<Vec<Dep<'a>>>;

/// Parse a dependency field (`Depends`, `Provides`, ...). Architecture restriction lists
/// (`[amd64]`) and build profiles (`<!nocheck>`) are skipped: binary indices do not carry
/// them.
pub fn parse_relations(text: &str) -> Result<Relations<'_>, String> {
    let mut groups = Vec::new();
    for group in text.split(',') {
        if group.trim().is_empty() {
            continue;
        }
        let mut alternatives = Vec::new();
        for alternative in group.split('|') {
            alternatives.push(
                parse_dep(alternative).map_err(|err| format!("`{}`: {err}", alternative.trim()))?,
            );
        }
        groups.push(alternatives);
    }
    Ok(groups)
}

/// The `name[:arch]` of each alternative of a dependency field, in order, without
/// reading versions: what package creation needs from every stanza, while the full
/// [`parse_relations`] runs only for the versions a closure reaches. An alternative
/// without a name is skipped here (and refused by [`parse_relations`]).
pub fn relation_names(text: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    text.split(',')
        .filter(|group| !group.trim().is_empty())
        .flat_map(|group| group.split('|'))
        .filter_map(|alternative| dep_name(alternative).map(|(name, arch, _)| (name, arch)))
}

/// `name`, architecture qualifier and the rest of one alternative (trimmed), or `None`
/// when it names no package.
fn dep_name(text: &str) -> Option<(&str, Option<&str>, &str)> {
    let text = text.trim();
    let name_end = text
        .find(|c: char| c.is_whitespace() || c == '(' || c == '[' || c == '<')
        .unwrap_or(text.len());
    let full = &text[..name_end];
    if full.is_empty() {
        return None;
    }
    let (name, arch) = match full.split_once(':') {
        Some((name, arch)) => (name, Some(arch)),
        None => (full, None),
    };
    Some((name, arch, text[name_end..].trim_start()))
}

fn parse_dep(text: &str) -> Result<Dep<'_>, String> {
    let (name, arch, rest) = dep_name(text).ok_or("missing package name")?;
    let constraint = if let Some(inner) = rest.strip_prefix('(') {
        let close = inner.find(')').ok_or("unclosed `(`")?;
        let inner = inner[..close].trim();
        let op_end = inner
            .find(|c: char| !matches!(c, '<' | '>' | '='))
            .unwrap_or(inner.len());
        let (op, version) = inner.split_at(op_end);
        let relation =
            Relation::parse(op.trim()).ok_or_else(|| format!("unknown relation `{op}`"))?;
        let version = version.trim();
        let (version, _warning) = Version::parse_lenient(version).map_err(|e| e.to_string())?;
        Some((relation, version))
    } else {
        None
    };
    Ok(Dep {
        name,
        arch,
        constraint,
    })
}

/// The fields of one `Packages` (or dpkg `status`) paragraph that resolution uses.
#[derive(Debug, Clone, Default)]
pub struct Stanza<'a> {
    /// The whole paragraph (up to its blank line): resolution keeps where it is rather
    /// than the fields, and reads it again for the few versions a closure reaches.
    pub text: &'a str,
    pub package: &'a str,
    pub version: &'a str,
    pub architecture: &'a str,
    pub multi_arch: &'a str,
    pub source: &'a str,
    pub priority: &'a str,
    pub essential: bool,
    pub important: bool,
    pub filename: &'a str,
    pub size: &'a str,
    pub sha256: &'a str,
    pub status: &'a str,
    pub pre_depends: &'a str,
    pub depends: &'a str,
    pub recommends: &'a str,
    pub suggests: &'a str,
    pub conflicts: &'a str,
    pub breaks: &'a str,
    pub replaces: &'a str,
    pub enhances: &'a str,
    pub provides: &'a str,
}

/// Read every paragraph of a `Packages` or `status` text, keeping the fields above.
/// Paragraphs without a `Package` field are skipped.
pub fn stanzas(text: &str) -> Vec<Stanza<'_>> {
    let mut out = Vec::with_capacity(text.len() / 1200 + 1);
    let mut current = Stanza::default();
    let mut open: Option<(usize, usize)> = None; // (field id, value start)
    let mut paragraph: Option<usize> = None; // start of the open paragraph
    let bytes = text.as_bytes();
    let mut offset = 0;
    while offset < bytes.len() {
        let line_end = text[offset..]
            .find('\n')
            .map_or(bytes.len(), |p| offset + p);
        let next = (line_end + 1).min(bytes.len());
        let first = bytes[offset];
        if first == b' ' || first == b'\t' {
            // A continuation line, unless it is all white space (a paragraph break).
            let blank = bytes[offset..line_end]
                .iter()
                .all(|b| b.is_ascii_whitespace());
            if !blank {
                offset = next;
                continue;
            }
        }
        if let Some((field, start)) = open.take() {
            set_field(&mut current, field, text[start..offset].trim());
        }
        let line = &bytes[offset..line_end];
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            if !current.package.is_empty() {
                current.text = &text[paragraph.unwrap_or(offset)..offset];
                out.push(std::mem::take(&mut current));
            } else {
                current = Stanza::default();
            }
            paragraph = None;
        } else {
            paragraph.get_or_insert(offset);
            if let Some(colon) = line.iter().position(|&b| b == b':') {
                let id = field_id(&text[offset..offset + colon]);
                if id != 0 {
                    open = Some((id, offset + colon + 1));
                }
            }
        }
        offset = next;
    }
    if let Some((field, start)) = open.take() {
        set_field(&mut current, field, text[start..].trim());
    }
    if !current.package.is_empty() {
        current.text = paragraph.map_or("", |start| &text[start..]);
        out.push(current);
    }
    out
}

const FIELDS: &[&str] = &[
    "",
    "Package",
    "Version",
    "Architecture",
    "Multi-Arch",
    "Source",
    "Priority",
    "Essential",
    "Important",
    "Filename",
    "Size",
    "SHA256",
    "Status",
    "Pre-Depends",
    "Depends",
    "Recommends",
    "Suggests",
    "Conflicts",
    "Breaks",
    "Replaces",
    "Enhances",
    "Provides",
    "Protected",
];

fn field_id(name: &str) -> usize {
    let name = name.trim_end();
    FIELDS
        .iter()
        .position(|known| known.len() == name.len() && known.eq_ignore_ascii_case(name))
        .unwrap_or(0)
}

fn set_field<'a>(stanza: &mut Stanza<'a>, field: usize, value: &'a str) {
    match field {
        1 => stanza.package = value,
        2 => stanza.version = value,
        3 => stanza.architecture = value,
        4 => stanza.multi_arch = value,
        5 => stanza.source = value,
        6 => stanza.priority = value,
        7 => stanza.essential = value.eq_ignore_ascii_case("yes"),
        8 => stanza.important |= value.eq_ignore_ascii_case("yes"),
        9 => stanza.filename = value,
        10 => stanza.size = value,
        11 => stanza.sha256 = value,
        12 => stanza.status = value,
        13 => stanza.pre_depends = value,
        14 => stanza.depends = value,
        15 => stanza.recommends = value,
        16 => stanza.suggests = value,
        17 => stanza.conflicts = value,
        18 => stanza.breaks = value,
        19 => stanza.replaces = value,
        20 => stanza.enhances = value,
        21 => stanza.provides = value,
        22 => stanza.important |= value.eq_ignore_ascii_case("yes"),
        _ => {}
    }
}

/// Keeps, out of a `Packages` text that arrives in pieces, only the lines of the fields
/// [`stanzas`] reads (and the blank lines between paragraphs): descriptions, tags,
/// maintainers and the other checksums, about half of an index, are dropped as they
/// stream past, so the whole decompressed index is never held. [`stanzas`] reads the
/// kept text exactly as it reads the whole one.
#[derive(Debug, Default)]
pub struct FieldFilter {
    kept: Vec<u8>,
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// The open field is one of [`FIELDS`]: its continuation lines are kept.
    keeping: bool,
}

impl FieldFilter {
    /// A filter whose output is expected to be about `hint` bytes.
    pub fn with_capacity(hint: usize) -> FieldFilter {
        FieldFilter {
            kept: Vec::with_capacity(hint),
            ..FieldFilter::default()
        }
    }

    /// The next piece of the text (it may end anywhere, even inside a character).
    pub fn push(&mut self, mut piece: &[u8]) {
        if !self.partial.is_empty() {
            let Some(end) = memchr::memchr(b'\n', piece) else {
                self.partial.extend_from_slice(piece);
                return;
            };
            let mut line = std::mem::take(&mut self.partial);
            line.extend_from_slice(&piece[..=end]);
            self.line(&line);
            piece = &piece[end + 1..];
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', piece) {
            self.line(&piece[start..=end]);
            start = end + 1;
        }
        self.partial.extend_from_slice(&piece[start..]);
    }

    /// The kept text (the last line may lack its newline, as the input's did).
    pub fn finish(mut self) -> Vec<u8> {
        let last = std::mem::take(&mut self.partial);
        if !last.is_empty() {
            self.line(&last);
        }
        self.kept
    }

    /// One line, with its newline (unless it is the last line of the text).
    fn line(&mut self, line: &[u8]) {
        let first = line[0];
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            // A paragraph break, whatever white space it holds.
            self.keeping = false;
            self.kept.push(b'\n');
            return;
        }
        if first != b' ' && first != b'\t' {
            self.keeping = line.iter().position(|&b| b == b':').is_some_and(|colon| {
                // Field names are ASCII; anything else is no field the reader knows.
                std::str::from_utf8(&line[..colon]).is_ok_and(|name| field_id(name) != 0)
            });
        }
        if self.keeping {
            self.kept.extend_from_slice(line);
        }
    }
}

/// dpkg's `Status: want flag status` for one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpkgStatus<'a> {
    pub want: &'a str,
    pub flag: &'a str,
    pub status: &'a str,
}

impl<'a> DpkgStatus<'a> {
    pub fn parse(text: &'a str) -> Option<DpkgStatus<'a>> {
        let mut words = text.split_whitespace();
        let status = DpkgStatus {
            want: words.next()?,
            flag: words.next()?,
            status: words.next()?,
        };
        words.next().is_none().then_some(status)
    }

    /// Whether dpkg has files of this version on disk (apt's "current version"): anything
    /// but `not-installed` and `config-files`.
    pub fn is_current(&self) -> bool {
        !matches!(self.status, "not-installed" | "config-files")
    }

    pub fn is_hold(&self) -> bool {
        self.want == "hold"
    }
}

/// One file listed in a Release file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFile {
    pub sha256: String,
    pub size: u64,
}

/// The parts of a `Release` (or the signed text of an `InRelease`) resolution uses.
#[derive(Debug, Clone, Default)]
pub struct Release {
    pub origin: Option<String>,
    pub label: Option<String>,
    pub suite: Option<String>,
    pub codename: Option<String>,
    /// `Version` (`12.8`), for `Pin: release v=…`.
    pub version: Option<String>,
    pub date: Option<String>,
    pub valid_until: Option<String>,
    pub architectures: Vec<String>,
    pub components: Vec<String>,
    pub not_automatic: bool,
    pub but_automatic_upgrades: bool,
    pub acquire_by_hash: bool,
    /// `Snapshots:` URL template (Ubuntu), with `@SNAPSHOTID@` where the id goes.
    pub snapshots: Option<String>,
    /// `SHA256:` entries by path (`main/binary-amd64/Packages.xz`).
    pub sha256: BTreeMap<String, ReleaseFile>,
}

impl Release {
    pub fn parse(text: &str) -> Result<Release, String> {
        let paragraphs = paragraphs(text)?;
        let paragraph = paragraphs.first().ok_or("the Release file is empty")?;
        let owned = |name: &str| paragraph.get(name).map(str::to_string);
        let words = |name: &str| {
            paragraph
                .get(name)
                .map(|v| v.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default()
        };
        let yes = |name: &str| {
            paragraph
                .get(name)
                .is_some_and(|v| v.eq_ignore_ascii_case("yes"))
        };
        let mut sha256 = BTreeMap::new();
        if let Some(list) = paragraph.get("SHA256") {
            for line in list.lines() {
                let parts: Vec<&str> = line.split_whitespace().collect();
                if parts.is_empty() {
                    continue;
                }
                let [hash, size, path] = parts[..] else {
                    return Err(format!("malformed SHA256 line `{}`", line.trim()));
                };
                let size = size
                    .parse()
                    .map_err(|_| format!("malformed size in SHA256 line `{}`", line.trim()))?;
                if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!("malformed hash in SHA256 line `{}`", line.trim()));
                }
                sha256.insert(
                    path.to_string(),
                    ReleaseFile {
                        sha256: hash.to_ascii_lowercase(),
                        size,
                    },
                );
            }
        }
        Ok(Release {
            origin: owned("Origin"),
            label: owned("Label"),
            suite: owned("Suite"),
            codename: owned("Codename"),
            version: owned("Version"),
            date: owned("Date"),
            valid_until: owned("Valid-Until"),
            architectures: words("Architectures"),
            components: words("Components"),
            not_automatic: yes("NotAutomatic"),
            but_automatic_upgrades: yes("ButAutomaticUpgrades"),
            acquire_by_hash: yes("Acquire-By-Hash"),
            snapshots: owned("Snapshots"),
            sha256,
        })
    }

    /// apt's default pin priority for the indices of this release: 1 for
    /// `NotAutomatic: yes`, 100 with `ButAutomaticUpgrades: yes` too, else 500.
    pub fn default_priority(&self) -> i32 {
        match (self.not_automatic, self.but_automatic_upgrades) {
            (true, true) | (false, true) => 100,
            (true, false) => 1,
            (false, false) => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_keep_multiline_values() {
        let text = "A: 1\nB: two\n words\n\n\nA: 3\n# comment\nC:\n x\n y\n";
        let paragraphs = paragraphs(text).unwrap();
        assert_eq!(paragraphs.len(), 2);
        assert_eq!(paragraphs[0].get("b"), Some("two\n words"));
        assert_eq!(paragraphs[1].get("C"), Some("x\n y"));
        assert!(super::paragraphs("A: 1\nnot a field\n").is_err());
    }

    #[test]
    fn relations_parse_alternatives_arch_and_versions() {
        let groups =
            parse_relations("libc6 (>= 2.34), python3:any (>> 3.9~) | python3-foo, perl:any")
                .unwrap();
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[1].len(), 2);
        assert_eq!(groups[1][0].name, "python3");
        assert_eq!(groups[1][0].arch, Some("any"));
        let (relation, version) = groups[1][0].constraint.clone().unwrap();
        assert_eq!((relation, version.as_str()), (Relation::Greater, "3.9~"));
        assert!(parse_relations("foo (>= )").is_err());
        let names: Vec<_> =
            relation_names("libc6 (>= 2.34), python3:any (>> 3.9~) | python3-foo, , perl:any")
                .collect();
        assert_eq!(
            names,
            [
                ("libc6", None),
                ("python3", Some("any")),
                ("python3-foo", None),
                ("perl", Some("any"))
            ]
        );
    }

    #[test]
    fn stanzas_read_the_fields_and_skip_descriptions() {
        let text = "Package: a\nVersion: 1.0\nDescription: x\n Depends: fake\nDepends: b,\n c\n\nPackage: b\nVersion: 2\n";
        let stanzas = stanzas(text);
        assert_eq!(stanzas.len(), 2);
        assert_eq!(stanzas[0].depends, "b,\n c");
        assert_eq!(stanzas[1].version, "2");
        // Each keeps its paragraph, which reads again as the same stanza.
        assert_eq!(
            stanzas[0].text,
            "Package: a\nVersion: 1.0\nDescription: x\n Depends: fake\nDepends: b,\n c\n"
        );
        assert_eq!(stanzas[1].text, "Package: b\nVersion: 2\n");
        let again = super::stanzas(stanzas[0].text);
        assert_eq!(format!("{:?}", again[0]), format!("{:?}", stanzas[0]));
    }

    /// The filtered text, fed in pieces of every size, reads as the whole text does.
    #[test]
    fn field_filter_keeps_what_stanzas_read() {
        let text = "Package: a\nVersion: 1.0\nMaintainer: Jos\u{e9} <j@example>\nDescription: x\n Depends: fake\n .\nDepends: b,\n c\nTag: role::program,\n  use::editing\nno colon here\n continued\nSHA256: ab\n \t \n\r\nPackage: b\nVersion: 2\nProvides: c (= 2)";
        // The same fields (the paragraphs themselves differ: the filtered ones are shorter).
        fn fields(text: &str) -> Vec<String> {
            stanzas(text)
                .into_iter()
                .map(|s| format!("{:?}", Stanza { text: "", ..s }))
                .collect()
        }
        let whole = fields(text);
        for size in [1, 2, 3, 7, 64, text.len()] {
            let mut filter = FieldFilter::default();
            for piece in text.as_bytes().chunks(size) {
                filter.push(piece);
            }
            let kept = String::from_utf8(filter.finish()).unwrap();
            assert!(!kept.contains("Description") && !kept.contains("Tag"));
            assert!(!kept.contains("fake") && !kept.contains("Jos"));
            assert_eq!(fields(&kept), whole, "pieces of {size} bytes");
        }
        assert_eq!(stanzas(text)[0].depends, "b,\n c");
        assert_eq!(stanzas(text)[0].sha256, "ab");
        assert_eq!(stanzas(text)[1].provides, "c (= 2)");
    }

    #[test]
    fn chunks_end_at_paragraph_boundaries() {
        let text = "Package: a\n\nPackage: b\n\nPackage: c\n";
        let chunks = split_chunks(text, 3);
        assert_eq!(chunks.concat(), text);
        assert!(chunks.iter().all(|c| c.starts_with("Package")));
    }
}
