//! Debian version strings, ordered exactly as dpkg orders them (`lib/dpkg/version.c`,
//! `parseversion` and `verrevcmp`): `[epoch:]upstream[-revision]`, numeric epochs first,
//! then upstream and revision compared as alternating non-digit and digit runs, where
//! `~` sorts before everything (even the end of the string), letters before other
//! characters, and digit runs compare as numbers.
//!
//! Parsing has two strengths, because dpkg's own diagnostics have two severities:
//! - [`Version::parse`] is strict: errors (empty, embedded spaces, bad epoch, empty
//!   upstream or revision) *and* warnings (a character outside the allowed set, an
//!   upstream version that does not start with a digit) reject the string. It is what a
//!   version a person writes (a spec pin) must pass, and it agrees with `Dpkg::Version`'s
//!   `is_valid`.
//! - [`Version::parse_lenient`] rejects errors only and accepts warning-level strings,
//!   reporting the warning. Archive indices and dpkg status files are read this way: apt
//!   does not validate them at all, and dpkg itself only warns, so a strict reader would
//!   drop packages both tools install.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// How bad a rejected version string is (dpkg's `DPKG_MSG_ERROR` / `DPKG_MSG_WARN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version `{text}`: {reason}")]
pub struct VersionError {
    pub text: String,
    pub severity: Severity,
    pub reason: &'static str,
}

/// A parsed Debian version. Equality and hashing follow the ordering (`1.0` equals
/// `0:1.0-0`), the text is kept as written for display.
#[derive(Clone)]
pub struct Version {
    text: Text,
    epoch: u32,
    /// Byte range of the upstream part in `text`.
    upstream: (u16, u16),
    /// Byte offset of the revision in `text` (after the last `-`); 0 when there is none.
    revision: u16,
}

/// The version text: inline when short (almost every version is), so that reading a
/// 60 000-package index does not allocate once per version.
#[derive(Clone)]
enum Text {
    Inline { len: u8, bytes: [u8; 22] },
    Heap(Box<str>),
}

impl Text {
    fn new(text: &str) -> Text {
        if text.len() <= 22 {
            let mut bytes = [0; 22];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            Text::Inline {
                len: text.len() as u8,
                bytes,
            }
        } else {
            Text::Heap(text.into())
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Text::Inline { len, bytes } => &bytes[..*len as usize],
            Text::Heap(text) => text.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Text::Inline { .. } => std::str::from_utf8(self.bytes()).expect("built from a str"),
            Text::Heap(text) => text,
        }
    }
}

impl Version {
    /// Strict parse: rejects every string dpkg would complain about.
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        let (version, warning) = Version::parse_lenient(text)?;
        match warning {
            Some(warning) => Err(warning),
            None => Ok(version),
        }
    }

    /// Lenient parse: rejects what dpkg treats as an error; accepts warning-level strings
    /// and returns the warning beside the version.
    pub fn parse_lenient(text: &str) -> Result<(Version, Option<VersionError>), VersionError> {
        let err = |severity, reason| VersionError {
            text: text.to_string(),
            severity,
            reason,
        };
        // Leading blanks (space, tab) and trailing white space are accepted.
        let trimmed = text.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() {
            return Err(err(Severity::Error, "version string is empty"));
        }
        let end = trimmed
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(trimmed.len());
        if !trimmed[end..].bytes().all(|b| b.is_ascii_whitespace()) {
            return Err(err(Severity::Error, "version string has embedded spaces"));
        }
        let body = &trimmed[..end];
        // dpkg reads a C string: a NUL would end it there. Refuse it, or `1.0` and
        // `1.0\0x` would compare equal (NUL ranks as the end) yet hash apart.
        if body.contains('\0') {
            return Err(err(Severity::Error, "version string has a NUL byte"));
        }
        let (epoch, rest_start) = match body.find(':') {
            Some(colon) => {
                let digits = &body[..colon];
                // dpkg uses strtol: an optional sign, then digits, and nothing before the colon.
                let (negative, unsigned) = match digits.as_bytes().first() {
                    Some(b'-') => (true, &digits[1..]),
                    Some(b'+') => (false, &digits[1..]),
                    _ => (false, digits),
                };
                if unsigned.is_empty() {
                    return Err(err(Severity::Error, "epoch in version is empty"));
                }
                if !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err(Severity::Error, "epoch in version is not number"));
                }
                if negative && unsigned.bytes().any(|b| b != b'0') {
                    return Err(err(Severity::Error, "epoch in version is negative"));
                }
                let epoch = unsigned
                    .parse::<u64>()
                    .ok()
                    .filter(|&e| e <= i32::MAX as u64)
                    .ok_or_else(|| err(Severity::Error, "epoch in version is too big"))?;
                if colon + 1 == body.len() {
                    return Err(err(
                        Severity::Error,
                        "nothing after colon in version number",
                    ));
                }
                (epoch as u32, colon + 1)
            }
            None => (0, 0),
        };
        let rest = &body[rest_start..];
        let (upstream, revision) = match rest.rfind('-') {
            Some(hyphen) => {
                if hyphen + 1 == rest.len() {
                    return Err(err(Severity::Error, "revision number is empty"));
                }
                (&rest[..hyphen], Some(&rest[hyphen + 1..]))
            }
            None => (rest, None),
        };
        if upstream.is_empty() {
            return Err(err(Severity::Error, "upstream version is empty"));
        }
        if body.len() > usize::from(u16::MAX) {
            return Err(err(Severity::Error, "version string is too long"));
        }
        let version = Version {
            text: Text::new(body),
            epoch,
            upstream: (rest_start as u16, (rest_start + upstream.len()) as u16),
            revision: revision.map(|r| (body.len() - r.len()) as u16).unwrap_or(0),
        };
        let warning = if !upstream.as_bytes()[0].is_ascii_digit() {
            Some(err(
                Severity::Warning,
                "version number does not start with digit",
            ))
        } else if !upstream
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-+~:".contains(&b))
        {
            Some(err(
                Severity::Warning,
                "invalid character in version number",
            ))
        } else if !revision
            .unwrap_or("")
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b))
        {
            Some(err(
                Severity::Warning,
                "invalid character in revision number",
            ))
        } else {
            None
        };
        Ok((version, warning))
    }

    /// The version as written (without surrounding white space).
    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn upstream(&self) -> &str {
        &self.as_str()[self.upstream.0 as usize..self.upstream.1 as usize]
    }

    /// The Debian revision, `""` when there is none.
    pub fn revision(&self) -> &str {
        &self.as_str()[self.revision_bytes_start()..]
    }

    fn revision_bytes_start(&self) -> usize {
        if self.revision == 0 {
            self.text.bytes().len()
        } else {
            self.revision as usize
        }
    }

    fn upstream_bytes(&self) -> &[u8] {
        &self.text.bytes()[self.upstream.0 as usize..self.upstream.1 as usize]
    }

    fn revision_bytes(&self) -> &[u8] {
        &self.text.bytes()[self.revision_bytes_start()..]
    }

    /// Whether an epoch is written (`1:1.0`, also `0:1.0`).
    pub fn has_epoch(&self) -> bool {
        self.upstream.0 > 0
    }

    pub fn has_revision(&self) -> bool {
        self.revision != 0
    }

    /// Whether `self <op> other` holds.
    pub fn relate(&self, op: Relation, other: &Version) -> bool {
        op.holds(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_bytes(self.upstream_bytes(), other.upstream_bytes()))
            .then_with(|| compare_bytes(self.revision_bytes(), other.revision_bytes()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl Hash for Version {
    /// Consistent with `Eq`: equal versions hash alike (leading zeros of digit runs and a
    /// `0` revision do not count).
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.epoch.hash(state);
        normalized(self.upstream()).hash(state);
        normalized(self.revision()).hash(state);
    }
}

/// Digit runs without leading zeros; a run of only zeros at the end (`1.0-0` vs `1.0`)
/// compares equal to nothing, so it is dropped.
fn normalized(part: &str) -> String {
    let bytes = part.as_bytes();
    let mut out = String::with_capacity(part.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let run = part[start..i].trim_start_matches('0');
            if !(run.is_empty() && i == bytes.len()) {
                out.push_str(if run.is_empty() { "0" } else { run });
            }
            // A digit run followed by a non-digit: keep a separator so `1a` ≠ `1` + `a`.
            out.push('\u{0}');
        } else {
            out.push(bytes[i] as char);
            i += 1;
        }
    }
    // `verrevcmp("", "0")` is equal: an all-zero tail equals nothing.
    while out.ends_with('\u{0}') {
        out.pop();
    }
    out
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.as_str())
    }
}

impl std::str::FromStr for Version {
    type Err = VersionError;
    fn from_str(text: &str) -> Result<Version, VersionError> {
        Version::parse(text)
    }
}

/// dpkg's character order inside non-digit runs: `~` first, then the end of the part,
/// then letters, then everything else.
fn order(c: u8) -> i32 {
    if c.is_ascii_digit() {
        0
    } else if c.is_ascii_alphabetic() {
        i32::from(c)
    } else if c == b'~' {
        -1
    } else if c != 0 {
        i32::from(c) + 256
    } else {
        0
    }
}

/// dpkg's `verrevcmp`: compare one upstream version or one revision.
pub fn compare_part(a: &str, b: &str) -> Ordering {
    compare_bytes(a.as_bytes(), b.as_bytes())
}

fn compare_bytes(a: &[u8], b: &[u8]) -> Ordering {
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let mut first_diff: i32 = 0;
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(at(a, i));
            let bc = order(at(b, j));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while at(a, i) == b'0' {
            i += 1;
        }
        while at(b, j) == b'0' {
            j += 1;
        }
        while at(a, i).is_ascii_digit() && at(b, j).is_ascii_digit() {
            if first_diff == 0 {
                first_diff = i32::from(a[i]) - i32::from(b[j]);
            }
            i += 1;
            j += 1;
        }
        if at(a, i).is_ascii_digit() {
            return Ordering::Greater;
        }
        if at(b, j).is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    Ordering::Equal
}

/// `Dpkg::Version::version_compare_string`: character by character, `~` first, then the
/// end of the string, then digits (as characters), then letters, then everything else.
pub fn compare_string(a: &str, b: &str) -> Ordering {
    fn weight(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(b'~') => -1,
            Some(c) if c.is_ascii_digit() => i32::from(c - b'0') + 1,
            Some(c) if c.is_ascii_alphabetic() => i32::from(c),
            Some(c) => i32::from(c) + 256,
        }
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for k in 0..a.len().max(b.len()) {
        let ordering = weight(a.get(k).copied()).cmp(&weight(b.get(k).copied()));
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// A version relation as written in `Depends` (`<<`, `<=`, `=`, `>=`, `>>`; the obsolete
/// `<` and `>` mean `<=` and `>=`, as dpkg and apt read them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    Less,
    LessEq,
    Eq,
    GreaterEq,
    Greater,
}

impl Relation {
    pub fn parse(text: &str) -> Option<Relation> {
        Some(match text {
            "<<" => Relation::Less,
            "<=" | "<" => Relation::LessEq,
            "=" => Relation::Eq,
            ">=" | ">" => Relation::GreaterEq,
            ">>" => Relation::Greater,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Less => "<<",
            Relation::LessEq => "<=",
            Relation::Eq => "=",
            Relation::GreaterEq => ">=",
            Relation::Greater => ">>",
        }
    }

    /// Whether `ordering` (of left against right) satisfies the relation.
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            Relation::Less => ordering == Ordering::Less,
            Relation::LessEq => ordering != Ordering::Greater,
            Relation::Eq => ordering == Ordering::Equal,
            Relation::GreaterEq => ordering != Ordering::Less,
            Relation::Greater => ordering == Ordering::Greater,
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse_lenient(text).expect("parses").0
    }

    #[test]
    fn tilde_sorts_before_release_and_epoch_wins() {
        assert!(v("1.0~rc1") < v("1.0"));
        assert!(v("1.0~~") < v("1.0~"));
        assert!(v("1:0.1") > v("9.9"));
        assert!(v("1.0-1") < v("1.0-1+b1"));
        assert!(v("1.0a") > v("1.0"));
        assert!(v("1.0+") > v("1.0a"));
        assert_eq!(v("1.0"), v("0:1.0-0"));
        assert_eq!(v("1.000-1"), v("1.0-1"));
    }

    #[test]
    fn equal_versions_hash_alike() {
        use std::collections::HashSet;
        let set: HashSet<Version> = ["1.0", "0:1.0", "1.0-0", "01.00"]
            .into_iter()
            .map(v)
            .collect();
        assert_eq!(set.len(), 1, "{set:?}");
        let set: HashSet<Version> = ["1.0", "1.0a", "1a.0", "1.0-1"]
            .into_iter()
            .map(v)
            .collect();
        assert_eq!(set.len(), 4);
    }

    #[test]
    fn parts_and_relations() {
        let version = v("2:1.2-3-4");
        assert_eq!(
            (version.epoch(), version.upstream(), version.revision()),
            (2, "1.2-3", "4")
        );
        assert!(v("1.0").relate(Relation::Less, &v("1.1")));
        assert!(!v("1.1").relate(Relation::LessEq, &v("1.0")));
        assert_eq!(Relation::parse(">"), Some(Relation::GreaterEq));
    }
}
