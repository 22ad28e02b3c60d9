//! Where a lock entry comes from (format 2): `source`, the upstream identity per kind, and
//! `origin`, the key path of the spec entry that asks for it. The lock keeps both so `why`,
//! `sbom`, `diff` and `bump` read them instead of planning the spec again or parsing URLs.
//! A lock is untrusted input: both are checked against their grammar when it is read.

use super::values::{OneLine, ValueError, string_newtype};
use super::{Artifact, Kind};

/// The prefix of a kind's `source` (`github:Watfaq/clash-rs`), or `None` when the kind has
/// no single upstream (an apt closure draws from several archives; members name theirs).
pub fn scheme(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Apt => None,
        Kind::Conda => Some("conda"),
        Kind::Oci => Some("oci"),
        Kind::GithubRelease => Some("github"),
        Kind::Nodejs => Some("nodejs"),
        Kind::Npm => Some("npm"),
        Kind::Url => Some("url"),
        Kind::Git => Some("git"),
    }
}

/// `owner/repo` of a GitHub release entry, from its `source`.
pub fn github_repo(artifact: &Artifact) -> Option<&str> {
    match artifact.kind {
        Kind::GithubRelease => artifact.source.as_deref()?.strip_prefix("github:"),
        Kind::Apt | Kind::Conda | Kind::Oci | Kind::Nodejs | Kind::Npm | Kind::Url | Kind::Git => {
            None
        }
    }
}

/// A kind's upstream identity (`github:Watfaq/clash-rs`, `npm:@mb/sdk`): its scheme
/// prefix, then the identity in the kind's grammar. Built only by [`Source::parse`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source(String);

string_newtype!(Source);

impl Source {
    /// `text` as an entry of `kind` spells its source, if it matches the kind's grammar.
    pub fn parse(kind: Kind, text: &str) -> Result<Source, ValueError> {
        let Some(scheme) = scheme(kind) else {
            return Err(refuse("source", text, "no source for this kind"));
        };
        let rest = text
            .strip_prefix(scheme)
            .and_then(|rest| rest.strip_prefix(':'))
            .unwrap_or_default();
        // The kind's identity grammar, and how the refusal states it.
        let (ok, expected) = match kind {
            Kind::GithubRelease => (
                rest.split_once('/').is_some_and(|(owner, repo)| {
                    [owner, repo].iter().all(|part| {
                        !part.is_empty()
                            && part.len() <= 100
                            && part
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                    })
                }),
                "`github:OWNER/REPO`",
            ),
            Kind::Apt
            | Kind::Conda
            | Kind::Oci
            | Kind::Nodejs
            | Kind::Npm
            | Kind::Url
            | Kind::Git => (
                !rest.is_empty()
                    && rest.len() <= 1024
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !b"`$\\'\"".contains(&b)),
                "`KIND:IDENTITY` in printable ASCII without spaces or `` ` $ \\ ' \" ``",
            ),
        };
        if ok {
            Ok(Source(text.to_string()))
        } else {
            Err(refuse("source", text, expected))
        }
    }
}

/// The key path of the spec entry that asks for a lock entry (`stage-2.release.clash-rs`):
/// one line of text. Built only by [`SpecKeyPath::parse`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpecKeyPath(String);

string_newtype!(SpecKeyPath);

impl SpecKeyPath {
    pub fn parse(text: &str) -> Result<SpecKeyPath, ValueError> {
        if !text.is_empty() && OneLine::parse("origin", text).is_ok() {
            Ok(SpecKeyPath(text.to_string()))
        } else {
            Err(refuse(
                "origin",
                text,
                "a spec key path (one line of text without control characters)",
            ))
        }
    }
}

fn refuse(field: &str, value: &str, expected: &'static str) -> ValueError {
    ValueError {
        field: field.to_string(),
        value: value.to_string(),
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A typed entry of `kind` (github-release or npm) with this source and origin.
    fn entry(kind: Kind, source: Option<&str>, origin: Option<&str>) -> Artifact {
        let version = if kind == Kind::Npm { "1.0.0" } else { "v1.0.0" };
        let mut wire = crate::lock::ArtifactWire::new(kind, version);
        wire.name = "x".into();
        wire.requested = "1".into();
        wire.request_hash = "sha256:r".into();
        wire.source = source.map(str::to_string);
        wire.origin = origin.map(str::to_string);
        Artifact::try_from(wire).unwrap()
    }

    #[test]
    fn sources_and_origins_are_checked_per_kind() {
        let ok = [
            (Kind::GithubRelease, "github:Watfaq/clash-rs"),
            (Kind::Npm, "npm:@mb/sdk"),
            (Kind::Conda, "conda:conda-forge/yq"),
            (Kind::Oci, "oci:nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04"),
            (Kind::Nodejs, "nodejs:node"),
            (Kind::Url, "url:https://example.com/a.tar.gz"),
        ];
        for (kind, source) in ok {
            assert_eq!(Source::parse(kind, source).unwrap(), source);
        }
        let github = entry(Kind::GithubRelease, Some("github:Watfaq/clash-rs"), None);
        assert_eq!(github_repo(&github), Some("Watfaq/clash-rs"));
        let npm = entry(Kind::Npm, Some("npm:x"), None);
        assert_eq!(github_repo(&npm), None);

        let refused = [
            (Kind::GithubRelease, "github:Watfaq"),
            (Kind::GithubRelease, "github:a/b/../c"),
            (Kind::GithubRelease, "npm:a/b"),
            (Kind::Npm, "npm:a b"),
            (Kind::Npm, "npm:$(id)"),
            (Kind::Url, "url:"),
            (Kind::Apt, "apt:x"),
        ];
        for (kind, source) in refused {
            let err = Source::parse(kind, source).unwrap_err();
            assert_eq!((err.field.as_str(), err.value.as_str()), ("source", source));
        }
        assert_eq!(
            SpecKeyPath::parse("stage-2.release.clash-rs").unwrap(),
            "stage-2.release.clash-rs"
        );
        let err = SpecKeyPath::parse("stage-1.url.x\n[evil]").unwrap_err();
        assert_eq!(err.field, "origin");
        assert!(SpecKeyPath::parse("").is_err());
    }

    #[test]
    fn format_1_is_read_and_outdated_a_future_format_is_refused() {
        let path = std::path::Path::new("bench.lock");
        let v1 = crate::lock::Lock::parse(path, "version = 1\nspec-hash = \"sha256:s\"\n").unwrap();
        let outdated = v1.format_outdated(path).unwrap();
        assert!(outdated.contains("re-run `modelbench lock`"), "{outdated}");
        let v2 = crate::lock::Lock::parse(path, "version = 2\nspec-hash = \"sha256:s\"\n").unwrap();
        assert_eq!(v2.format_outdated(path), None);
        let v3 = crate::lock::Lock::parse(path, "version = 3\nspec-hash = \"sha256:s\"\n");
        assert!(matches!(
            v3,
            Err(crate::lock::LockError::Version { found: 3, .. })
        ));
    }
}
