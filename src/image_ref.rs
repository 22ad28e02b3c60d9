//! Docker/OCI image references: parsing, normalization and the registry-facing view (host, repository, mirrors).
//!
//! The semantics follow `github.com/distribution/reference` (the Go library Docker, containerd and
//! buildah use), checked against its own test vectors in `tests/fixtures/peer/docker-reference.json`.
//! The grammar is matched by hand (no regex crate):
//!
//! ```text
//! reference       := name [ ":" tag ] [ "@" digest ]
//! name            := [ domain-and-port "/" ] remote-name
//! domain-and-port := host [ ":" port-number ]
//! host            := domain-name | "[" [a-fA-F0-9:]+ "]"
//! domain-name     := domain-component ( "." domain-component )*
//! domain-component:= [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! remote-name     := path-component ( "/" path-component )*
//! path-component  := [a-z0-9]+ ( separator [a-z0-9]+ )*
//! separator       := "." | "_" | "__" | "-"+
//! tag             := [\w][\w.-]{0,127}
//! digest          := algorithm ":" [0-9a-fA-F]{32,}
//! algorithm       := [A-Za-z][A-Za-z0-9]* ( [-_+.] [A-Za-z][A-Za-z0-9]* )*
//! identifier      := [a-f0-9]{64}
//! ```
//!
//! Two families of constructors exist, as in Go:
//! - [`ImageRef::parse`] is strict (`Parse`): no normalization, and the first path component is the
//!   domain whenever it is a valid host (so `nvidia/cuda` has domain `nvidia`, while
//!   `do__cker/docker` has none).
//! - [`ImageRef::parse_normalized`] (`ParseNormalizedNamed`) applies the Docker Hub rules:
//!   `ubuntu` → `docker.io/library/ubuntu`, `index.docker.io` → `docker.io`. Use this (or
//!   [`ImageRef::parse_docker_ref`]) for user input.
//!
//! The registry helpers ([`ImageRef::registry_host`], [`ImageRef::repository`],
//! [`ImageRef::with_mirror`]) always look at the reference through the Docker Hub rules, so they
//! give the same answer for a strict and a normalized reference of the same text.

use std::fmt;

/// Maximum length of the repository path (the name without its domain), as in Go's
/// `NameTotalLengthMax`.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;
/// The domain Docker Hub references normalize to.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The legacy Docker Hub domain, normalized to [`DEFAULT_DOMAIN`].
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The host that serves the registry API for Docker Hub.
pub const DOCKER_HUB_REGISTRY_HOST: &str = "registry-1.docker.io";
/// The namespace of Docker Hub "official images" (`ubuntu` is `library/ubuntu`).
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// `localhost` is always a domain, even without a `.` or a port.
const LOCALHOST: &str = "localhost";
/// Digest algorithms whose encoded form [`ImageRef::parse`] validates. Like the upstream test
/// binary (which links only `crypto/sha256`), `sha512`/`sha384` digests are reported as
/// unsupported; see the `sha512` case of the peer vectors.
const SUPPORTED_DIGEST_ALGORITHMS: &[(&str, usize)] = &[("sha256", 64)];

/// Why a reference (or one of its parts) was rejected. Each variant names the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// Go: `ErrReferenceInvalidFormat`.
    #[error("invalid reference format: `{input}`")]
    ReferenceInvalidFormat { input: String },
    /// Go: `ErrTagInvalidFormat`.
    #[error("invalid tag format: `{input}`")]
    TagInvalidFormat { input: String },
    /// Go: `ErrDigestInvalidFormat` (and go-digest's `ErrDigestInvalidFormat`).
    #[error("invalid digest format: `{input}`")]
    DigestInvalidFormat { input: String },
    /// go-digest: `ErrDigestInvalidLength`.
    #[error("invalid digest length: `{input}`")]
    DigestInvalidLength { input: String },
    /// go-digest: `ErrDigestUnsupported`.
    #[error("unsupported digest algorithm: `{input}`")]
    DigestUnsupported { input: String },
    /// Go: `ErrNameContainsUppercase`.
    #[error("repository name must be lowercase: `{input}`")]
    NameContainsUppercase { input: String },
    /// Go: `ErrNameEmpty`.
    #[error("repository name must have at least one component: `{input}`")]
    NameEmpty { input: String },
    /// Go: `ErrNameTooLong`.
    #[error("repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters: `{input}`")]
    NameTooLong { input: String },
    /// Go: `ErrNameNotCanonical`.
    #[error("repository name must be canonical: `{input}`")]
    NameNotCanonical { input: String },
    /// Go: the error `ParseNormalizedNamed` returns for a bare 64-hex identifier.
    #[error("invalid repository name `{input}`: cannot specify 64-byte hexadecimal strings")]
    NameIsIdentifier { input: String },
    /// Go: `path.ErrBadPattern` from `FamiliarMatch`.
    #[error("syntax error in pattern: `{input}`")]
    BadPattern { input: String },
}

/// Error kinds, attached to the caller's input only at the public boundary so that messages
/// name what the user wrote (not, say, the `docker.io/library/` form built internally).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ReferenceInvalidFormat,
    TagInvalidFormat,
    DigestInvalidFormat,
    DigestInvalidLength,
    DigestUnsupported,
    NameContainsUppercase,
    NameEmpty,
    NameTooLong,
    NameNotCanonical,
    NameIsIdentifier,
    BadPattern,
}

impl Kind {
    fn at(self, input: &str) -> RefError {
        let input = input.to_string();
        match self {
            Kind::ReferenceInvalidFormat => RefError::ReferenceInvalidFormat { input },
            Kind::TagInvalidFormat => RefError::TagInvalidFormat { input },
            Kind::DigestInvalidFormat => RefError::DigestInvalidFormat { input },
            Kind::DigestInvalidLength => RefError::DigestInvalidLength { input },
            Kind::DigestUnsupported => RefError::DigestUnsupported { input },
            Kind::NameContainsUppercase => RefError::NameContainsUppercase { input },
            Kind::NameEmpty => RefError::NameEmpty { input },
            Kind::NameTooLong => RefError::NameTooLong { input },
            Kind::NameNotCanonical => RefError::NameNotCanonical { input },
            Kind::NameIsIdentifier => RefError::NameIsIdentifier { input },
            Kind::BadPattern => RefError::BadPattern { input },
        }
    }
}

/// A named image reference: `[domain/]path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    /// Registry host\[:port\]; `None` when the name has no domain part (strict parse only).
    pub domain: Option<String>,
    /// Repository path without the domain, e.g. `library/ubuntu`.
    pub path: String,
    pub tag: Option<String>,
    /// `algorithm:hex`.
    pub digest: Option<String>,
}

/// The result of [`parse_any_reference`]: a named reference, or a bare digest (an image id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AnyReference {
    Named(ImageRef),
    /// `algorithm:hex`, with no repository name.
    Digest(String),
}

/// The captures of the anchored reference grammar (see [`parse_reference_parts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferenceParts<'a> {
    pub name: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

impl ImageRef {
    /// Strict parse (Go `Parse`): no normalization. With a `/`, the first component is the domain.
    pub fn parse(s: &str) -> Result<ImageRef, RefError> {
        parse_strict(s).map_err(|k| k.at(s))
    }

    /// Go `ParseNormalizedNamed`: Docker Hub rules (`ubuntu` → `docker.io/library/ubuntu`,
    /// `index.docker.io` → `docker.io`). Tag and digest are kept as given.
    pub fn parse_normalized(s: &str) -> Result<ImageRef, RefError> {
        parse_normalized(s).map_err(|k| k.at(s))
    }

    /// Go `ParseNamed`: succeeds only if `s` is already in canonical, fully qualified form.
    pub fn parse_named(s: &str) -> Result<ImageRef, RefError> {
        let named = parse_normalized(s).map_err(|k| k.at(s))?;
        if named.to_string() != s {
            return Err(Kind::NameNotCanonical.at(s));
        }
        Ok(named)
    }

    /// Go `ParseDockerRef`: normalizes, adds `:latest` when there is neither tag nor digest, and
    /// drops the tag when a digest is present (the digest alone identifies the image).
    pub fn parse_docker_ref(s: &str) -> Result<ImageRef, RefError> {
        let mut named = parse_normalized(s).map_err(|k| k.at(s))?;
        if named.digest.is_some() {
            named.tag = None;
        } else if named.tag.is_none() {
            named.tag = Some("latest".to_string());
        }
        Ok(named)
    }

    /// Go `WithName`: a bare name (no tag, no digest), not normalized.
    pub fn with_name(name: &str) -> Result<ImageRef, RefError> {
        let (domain, path) =
            split_name(name).ok_or_else(|| Kind::ReferenceInvalidFormat.at(name))?;
        if path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(Kind::NameTooLong.at(name));
        }
        Ok(ImageRef {
            domain: domain.map(str::to_string),
            path: path.to_string(),
            tag: None,
            digest: None,
        })
    }

    /// Go `WithTag`: the same reference with `tag` (any digest is kept).
    pub fn with_tag(&self, tag: &str) -> Result<ImageRef, RefError> {
        if !is_valid_tag(tag) {
            return Err(Kind::TagInvalidFormat.at(tag));
        }
        Ok(ImageRef {
            tag: Some(tag.to_string()),
            ..self.clone()
        })
    }

    /// Go `WithDigest`: the same reference with `digest` (any tag is kept). Only the digest's
    /// syntax is checked, not the length its algorithm implies.
    pub fn with_digest(&self, digest: &str) -> Result<ImageRef, RefError> {
        if !is_valid_digest_syntax(digest) {
            return Err(Kind::DigestInvalidFormat.at(digest));
        }
        Ok(ImageRef {
            digest: Some(digest.to_string()),
            ..self.clone()
        })
    }

    /// The full repository name: `domain/path`, or `path` without a domain.
    pub fn name(&self) -> String {
        match &self.domain {
            Some(d) => format!("{d}/{}", self.path),
            None => self.path.clone(),
        }
    }

    /// Go `FamiliarName`: the short name Docker shows (`docker.io/library/ubuntu` → `ubuntu`).
    pub fn familiar_name(&self) -> String {
        if self.domain.as_deref() != Some(DEFAULT_DOMAIN) {
            return self.name();
        }
        match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_string(),
            _ => self.path.clone(),
        }
    }

    /// Go `FamiliarString`: the familiar name with tag and digest (`ubuntu:24.04`).
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        push_tag_digest(&mut s, self.tag.as_deref(), self.digest.as_deref());
        s
    }

    /// Go `FamiliarMatch`: glob-match `pattern` (Go `path.Match` syntax) against
    /// [`familiar`](Self::familiar), then against [`familiar_name`](Self::familiar_name).
    pub fn familiar_match(&self, pattern: &str) -> Result<bool, RefError> {
        familiar_match(pattern, &AnyReference::Named(self.clone()))
    }

    /// True when the reference has neither tag nor digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The domain and path under the Docker Hub rules, whatever constructor made `self`.
    fn hub_parts(&self) -> (String, String) {
        let name = self.name();
        let (domain, path) = split_docker_domain(&name);
        (domain.to_string(), path)
    }

    /// True when the reference names a Docker Hub repository.
    pub fn is_docker_hub(&self) -> bool {
        self.hub_parts().0 == DEFAULT_DOMAIN
    }

    /// The host to send registry API calls to: `registry-1.docker.io` for Docker Hub, otherwise
    /// the domain as written (with any port).
    pub fn registry_host(&self) -> String {
        let (domain, _) = self.hub_parts();
        if domain == DEFAULT_DOMAIN {
            DOCKER_HUB_REGISTRY_HOST.to_string()
        } else {
            domain
        }
    }

    /// The repository path for registry API calls (`/v2/<repository>/manifests/...`), with
    /// `library/` for Docker Hub official images: `ubuntu` → `library/ubuntu`.
    pub fn repository(&self) -> String {
        self.hub_parts().1
    }

    /// The same repository, tag and digest on a mirror registry: `nvidia/cuda:12` with
    /// `docker.1ms.run` → `docker.1ms.run/nvidia/cuda:12`. `mirror` is `host[:port]`, optionally
    /// followed by a path prefix (`harbor.example.com/hub-proxy`), which is put before the
    /// repository.
    pub fn with_mirror(&self, mirror: &str) -> Result<ImageRef, RefError> {
        let (host, prefix) = match mirror.split_once('/') {
            Some((h, p)) => (h, Some(p)),
            None => (mirror, None),
        };
        if !is_valid_domain(host) || prefix.is_some_and(|p| !is_valid_remote_name(p)) {
            return Err(Kind::ReferenceInvalidFormat.at(mirror));
        }
        let repository = self.repository();
        let path = match prefix {
            Some(p) => format!("{p}/{repository}"),
            None => repository,
        };
        if path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(Kind::NameTooLong.at(&path));
        }
        Ok(ImageRef {
            domain: Some(host.to_string()),
            path,
            tag: self.tag.clone(),
            digest: self.digest.clone(),
        })
    }
}

/// Go `String()`: `name[:tag][@digest]`.
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        push_tag_digest(&mut s, self.tag.as_deref(), self.digest.as_deref());
        f.write_str(&s)
    }
}

impl AnyReference {
    /// Go `FamiliarString`: the familiar form of a named reference, or the digest itself.
    pub fn familiar(&self) -> String {
        match self {
            AnyReference::Named(r) => r.familiar(),
            AnyReference::Digest(d) => d.clone(),
        }
    }
}

impl fmt::Display for AnyReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyReference::Named(r) => r.fmt(f),
            AnyReference::Digest(d) => f.write_str(d),
        }
    }
}

fn push_tag_digest(s: &mut String, tag: Option<&str>, digest: Option<&str>) {
    if let Some(t) = tag {
        s.push(':');
        s.push_str(t);
    }
    if let Some(d) = digest {
        s.push('@');
        s.push_str(d);
    }
}

/// Go `ParseAnyReference`: a bare 64-hex identifier becomes `sha256:<hex>`, a valid digest stays
/// a digest, and anything else is parsed with [`ImageRef::parse_normalized`].
pub fn parse_any_reference(s: &str) -> Result<AnyReference, RefError> {
    if is_identifier(s) {
        return Ok(AnyReference::Digest(format!("sha256:{s}")));
    }
    if validate_digest(s).is_ok() {
        return Ok(AnyReference::Digest(s.to_string()));
    }
    ImageRef::parse_normalized(s).map(AnyReference::Named)
}

/// Go `FamiliarMatch`: `pattern` is matched (Go `path.Match`) against the familiar string and,
/// for a named reference, against the familiar name too. A malformed pattern is an error.
pub fn familiar_match(pattern: &str, reference: &AnyReference) -> Result<bool, RefError> {
    let first = path_match(pattern, &reference.familiar());
    if let (AnyReference::Named(r), Ok(false)) = (reference, &first) {
        return Ok(path_match(pattern, &r.familiar_name()).unwrap_or(false));
    }
    first
}

// ---------------------------------------------------------------------------------------------
// Parsing.

fn parse_strict(s: &str) -> Result<ImageRef, Kind> {
    let Some(parts) = parse_reference_parts(s) else {
        if s.is_empty() {
            return Err(Kind::NameEmpty);
        }
        if parse_reference_parts(&go_to_lower(s)).is_some() {
            return Err(Kind::NameContainsUppercase);
        }
        return Err(Kind::ReferenceInvalidFormat);
    };
    let (domain, path) = split_name(parts.name).ok_or(Kind::ReferenceInvalidFormat)?;
    if path.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(Kind::NameTooLong);
    }
    if let Some(d) = parts.digest {
        validate_digest(d)?;
    }
    Ok(ImageRef {
        domain: domain.map(str::to_string),
        path: path.to_string(),
        tag: parts.tag.map(str::to_string),
        digest: parts.digest.map(str::to_string),
    })
}

fn parse_normalized(s: &str) -> Result<ImageRef, Kind> {
    if is_identifier(s) {
        return Err(Kind::NameIsIdentifier);
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote = remainder.split(':').next().unwrap_or_default();
    if go_to_lower(remote) != remote {
        return Err(Kind::NameContainsUppercase);
    }
    parse_strict(&format!("{domain}/{remainder}"))
}

/// Go `splitDockerDomain`: the domain (default `docker.io`) and the rest of `name` (which may
/// still carry a tag or digest), with `library/` added for Docker Hub official images.
fn split_docker_domain(name: &str) -> (&str, String) {
    let (domain, remainder) = match name.split_once('/') {
        None => return (DEFAULT_DOMAIN, format!("{OFFICIAL_REPO_PREFIX}{name}")),
        Some((d, r)) if d == LOCALHOST => (d, r),
        Some((d, r)) if d == LEGACY_DEFAULT_DOMAIN => (DEFAULT_DOMAIN, r),
        Some((d, r)) if d.contains(['.', ':']) => (d, r),
        Some((d, r)) if go_to_lower(d) != d => (d, r),
        Some(_) => (DEFAULT_DOMAIN, name),
    };
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        return (domain, format!("{OFFICIAL_REPO_PREFIX}{remainder}"));
    }
    (domain, remainder.to_string())
}

/// Go `strings.ToLower`: per-character simple lowercase mapping (one char for one char).
fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// go-digest `Digest.Validate`, with only the algorithms in [`SUPPORTED_DIGEST_ALGORITHMS`]
/// available.
fn validate_digest(s: &str) -> Result<(), Kind> {
    let (algorithm, encoded) = match s.split_once(':') {
        Some((a, e)) if !a.is_empty() && !e.is_empty() => (a, e),
        _ => return Err(Kind::DigestInvalidFormat),
    };
    let Some(&(_, hex_len)) = SUPPORTED_DIGEST_ALGORITHMS
        .iter()
        .find(|(name, _)| *name == algorithm)
    else {
        return Err(if is_go_digest_syntax(s) {
            Kind::DigestUnsupported
        } else {
            Kind::DigestInvalidFormat
        });
    };
    if encoded.len() != hex_len {
        return Err(Kind::DigestInvalidLength);
    }
    if !encoded
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(Kind::DigestInvalidFormat);
    }
    Ok(())
}

/// go-digest `DigestRegexpAnchored`: `[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`.
fn is_go_digest_syntax(s: &str) -> bool {
    let Some((algorithm, encoded)) = s.split_once(':') else {
        return false;
    };
    let lower_alnum =
        |c: &str| !c.is_empty() && c.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9'));
    algorithm.split(['.', '+', '_', '-']).all(lower_alnum)
        && !encoded.is_empty()
        && encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

// ---------------------------------------------------------------------------------------------
// The grammar, as plain functions (the Go library's anchored regular expressions).

/// Anchored `domainAndPort`: a DNS-style name, an IPv4 address or a bracketed IPv6 address,
/// with an optional `:port`. Upper case is allowed.
pub fn is_valid_domain(s: &str) -> bool {
    let (host, port) = if s.starts_with('[') {
        let Some(end) = s.find(']') else {
            return false;
        };
        let inner = &s[1..end];
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        (None, &s[end + 1..])
    } else {
        match s.find(':') {
            Some(i) => (Some(&s[..i]), &s[i..]),
            None => (Some(s), ""),
        }
    };
    if let Some(host) = host
        && !host.split('.').all(is_domain_component)
    {
        return false;
    }
    match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
    }
}

fn is_domain_component(c: &str) -> bool {
    let b = c.as_bytes();
    !b.is_empty()
        && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Anchored `pathComponent`: `[a-z0-9]+` runs joined by `.`, `_`, `__` or one or more `-`.
pub fn is_valid_path_component(c: &str) -> bool {
    let alnum = |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9');
    let b = c.as_bytes();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Anchored `remoteName`: one or more path components separated by `/`.
pub fn is_valid_remote_name(s: &str) -> bool {
    s.split('/').all(is_valid_path_component)
}

/// The anchored name grammar with its captures: `(domain, path)`, or `None` if `s` is not a
/// name. As in Go, the first component is taken as the domain whenever it can be one.
pub fn split_name(s: &str) -> Option<(Option<&str>, &str)> {
    if let Some((domain, path)) = s.split_once('/')
        && is_valid_domain(domain)
        && is_valid_remote_name(path)
    {
        return Some((Some(domain), path));
    }
    is_valid_remote_name(s).then_some((None, s))
}

/// Anchored `tag`: `[\w][\w.-]{0,127}`.
pub fn is_valid_tag(s: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// Anchored digest grammar of the reference (syntax only; see [`ImageRef::with_digest`]):
/// `algorithm:hex` with at least 32 hex digits.
pub fn is_valid_digest_syntax(s: &str) -> bool {
    let Some((algorithm, encoded)) = s.split_once(':') else {
        return false;
    };
    let alg_component = |c: &str| {
        let b = c.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    };
    algorithm.split(['-', '_', '+', '.']).all(alg_component)
        && encoded.len() >= 32
        && encoded.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Anchored `identifier`: exactly 64 lower-case hex digits (an image id).
pub fn is_identifier(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The anchored reference grammar with its captures (name, tag, digest), or `None` if `s` does
/// not match. No length or digest-algorithm checks: see [`ImageRef::parse`] for those.
pub fn parse_reference_parts(s: &str) -> Option<ReferenceParts<'_>> {
    // Neither the name nor the tag may contain `@`, and the digest may not either.
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if digest.is_some_and(|d| !is_valid_digest_syntax(d)) {
        return None;
    }
    // A `:` after the last `/` can only start the tag: a path has no `:`, and a domain's port
    // is always followed by `/`.
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if tag.is_some_and(|t| !is_valid_tag(t)) {
        return None;
    }
    split_name(name)?;
    Some(ReferenceParts { name, tag, digest })
}

// ---------------------------------------------------------------------------------------------
// Go `path.Match`.

/// Go `path.Match`: shell glob over `/`-separated names. `*` matches any run of non-`/`
/// characters, `?` one non-`/` character, `[...]` a character class (`^` negates, `\` escapes).
pub fn path_match(pattern: &str, name: &str) -> Result<bool, RefError> {
    go_path_match(pattern.as_bytes(), name.as_bytes()).map_err(|()| Kind::BadPattern.at(pattern))
}

fn go_path_match(mut pattern: &[u8], mut name: &[u8]) -> Result<bool, ()> {
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing `*` matches the rest of the name unless it has a `/`.
            return Ok(!name.contains(&b'/'));
        }
        let (t, ok, err) = match_chunk(chunk, name);
        // On the last chunk the name must be used up, or a later star could still match.
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if err {
            return Err(());
        }
        if star {
            // Skip i+1 bytes of the name (never a `/`) and try again.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (t, ok, err) = match_chunk(chunk, &name[i + 1..]);
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                if err {
                    return Err(());
                }
                i += 1;
            }
        }
        // Before returning false, check that the rest of the pattern is well formed.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            if match_chunk(chunk, b"").2 {
                return Err(());
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Returns (leading star, chunk up to the next unbracketed `*`, rest).
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let [b'*', rest @ ..] = pattern {
        pattern = rest;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            // An escaped character is skipped (a trailing `\` is reported by `match_chunk`).
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Go `utf8.DecodeRune`: the first char and its length, or (U+FFFD, 1) if invalid.
fn decode_rune(s: &[u8]) -> (char, usize) {
    for n in 1..=s.len().min(4) {
        if let Ok(t) = std::str::from_utf8(&s[..n])
            && let Some(c) = t.chars().next()
        {
            return (c, n);
        }
    }
    (char::REPLACEMENT_CHARACTER, 1)
}

/// Go `matchChunk`: returns (rest of `s`, matched, bad pattern). After a mismatch the chunk is
/// still scanned to its end so that a malformed pattern is reported.
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> (&'a [u8], bool, bool) {
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk[0] {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let (c, n) = decode_rune(s);
                    r = c;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let mut negated = false;
                if chunk.first() == Some(&b'^') {
                    negated = true;
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.first() == Some(&b']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let Some((lo, rest)) = get_esc(chunk) else {
                        return (b"", false, true);
                    };
                    chunk = rest;
                    let mut hi = lo;
                    if chunk[0] == b'-' {
                        let Some((h, rest)) = get_esc(&chunk[1..]) else {
                            return (b"", false, true);
                        };
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            c => {
                let c = if c == b'\\' {
                    chunk = &chunk[1..];
                    match chunk.first() {
                        Some(&e) => e,
                        None => return (b"", false, true),
                    }
                } else {
                    c
                };
                if !failed {
                    if c != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        (b"", false, false)
    } else {
        (s, true, false)
    }
}

/// Go `getEsc`: one (possibly escaped) character of a class; `None` for a malformed class. The
/// returned rest is never empty (a class must still be closed).
fn get_esc(chunk: &[u8]) -> Option<(char, &[u8])> {
    let mut chunk = match chunk.first() {
        None | Some(b'-') | Some(b']') => return None,
        Some(_) => chunk,
    };
    if chunk[0] == b'\\' {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return None;
        }
    }
    let (r, n) = decode_rune(chunk);
    if r == char::REPLACEMENT_CHARACTER && n == 1 {
        return None;
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return None;
    }
    Some((r, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUDA: &str = "nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04";

    #[test]
    fn registry_host_for_hub_and_others() {
        for input in [
            CUDA,
            "ubuntu:24.04",
            "docker.io/library/ubuntu:24.04",
            "index.docker.io/ubuntu",
        ] {
            let strict = ImageRef::parse(input).unwrap();
            let normalized = ImageRef::parse_normalized(input).unwrap();
            assert_eq!(strict.registry_host(), "registry-1.docker.io", "{input}");
            assert_eq!(
                normalized.registry_host(),
                "registry-1.docker.io",
                "{input}"
            );
            assert!(normalized.is_docker_hub());
        }
        let ghcr = ImageRef::parse_normalized("ghcr.io/owner/img:1").unwrap();
        assert_eq!(ghcr.registry_host(), "ghcr.io");
        let local = ImageRef::parse_normalized("localhost:5000/x/y").unwrap();
        assert_eq!(local.registry_host(), "localhost:5000");
        assert!(!local.is_docker_hub());
    }

    #[test]
    fn repository_adds_library_for_official_images() {
        let cuda = ImageRef::parse_normalized(CUDA).unwrap();
        assert_eq!(cuda.repository(), "nvidia/cuda");
        assert_eq!(cuda.tag.as_deref(), Some("12.8.1-cudnn-devel-ubuntu24.04"));
        assert_eq!(ImageRef::parse(CUDA).unwrap().repository(), "nvidia/cuda");
        let ubuntu = ImageRef::parse_normalized("ubuntu:24.04").unwrap();
        assert_eq!(ubuntu.repository(), "library/ubuntu");
        assert_eq!(
            ImageRef::parse("ubuntu:24.04").unwrap().repository(),
            "library/ubuntu"
        );
        assert_eq!(ubuntu.familiar(), "ubuntu:24.04");
        assert_eq!(ubuntu.to_string(), "docker.io/library/ubuntu:24.04");
        let ghcr = ImageRef::parse_normalized("ghcr.io/owner/img").unwrap();
        assert_eq!(ghcr.repository(), "owner/img");
    }

    #[test]
    fn with_mirror_keeps_repository_tag_and_digest() {
        let cuda = ImageRef::parse_normalized(CUDA).unwrap();
        let m = cuda.with_mirror("docker.1ms.run").unwrap();
        assert_eq!(
            m.to_string(),
            "docker.1ms.run/nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04"
        );
        assert_eq!(m.registry_host(), "docker.1ms.run");
        assert_eq!(m.repository(), "nvidia/cuda");

        let ubuntu = ImageRef::parse_normalized("ubuntu:24.04").unwrap();
        let m = ubuntu.with_mirror("docker.1ms.run").unwrap();
        assert_eq!(m.to_string(), "docker.1ms.run/library/ubuntu:24.04");
        assert_eq!(m.registry_host(), "docker.1ms.run");
        assert_eq!(m.repository(), "library/ubuntu");

        let digest = format!("sha256:{}", "ab".repeat(32));
        let pinned = ubuntu.with_digest(&digest).unwrap();
        let m = pinned.with_mirror("mirror.example.com:5000/hub").unwrap();
        assert_eq!(
            m.to_string(),
            format!("mirror.example.com:5000/hub/library/ubuntu:24.04@{digest}")
        );
        assert_eq!(m.registry_host(), "mirror.example.com:5000");
        assert_eq!(m.repository(), "hub/library/ubuntu");

        for bad in [
            "",
            "https://docker.1ms.run",
            "-bad.example",
            "host/Upper",
            "host/",
        ] {
            assert!(
                matches!(
                    cuda.with_mirror(bad),
                    Err(RefError::ReferenceInvalidFormat { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_name_the_input() {
        let e = ImageRef::parse_normalized("Foo/Bar").unwrap_err();
        assert_eq!(
            e.to_string(),
            "repository name must be lowercase: `Foo/Bar`"
        );
        let e = ImageRef::parse("a@sha256:00").unwrap_err();
        assert_eq!(e.to_string(), "invalid reference format: `a@sha256:00`");
    }

    #[test]
    fn path_match_basics() {
        assert!(path_match("a*/b", "abc/b").unwrap());
        assert!(!path_match("a*b", "a/b").unwrap());
        assert!(path_match("a?c", "abc").unwrap());
        assert!(path_match("[^a-b]x", "cx").unwrap());
        assert!(path_match("\\*", "*").unwrap());
        assert!(path_match("[", "a").is_err());
        assert!(path_match("a[", "b").is_err());
        assert!(path_match("*x", "xxx").unwrap());
    }
}
