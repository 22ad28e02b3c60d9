//! The source kinds: one enum for the spec's requests, the lock and every consumer.
//!
//! The lock spells a kind as its kebab-case name (`github-release`), the same string the
//! request hash serializes, so typing the field changed no byte of any lock.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a locked artifact comes from. The variant order is the order resolve failures
/// are reported in; locks sort entries by the kind's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Apt,
    Conda,
    Oci,
    GithubRelease,
    Nodejs,
    Npm,
    Url,
    /// A git ref pinned to its full commit SHA (what the emitted GitHub workflow runs).
    Git,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Apt,
        Kind::Conda,
        Kind::Oci,
        Kind::GithubRelease,
        Kind::Nodejs,
        Kind::Npm,
        Kind::Url,
        Kind::Git,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Apt => "apt",
            Kind::Conda => "conda",
            Kind::Oci => "oci",
            Kind::GithubRelease => "github-release",
            Kind::Nodejs => "nodejs",
            Kind::Npm => "npm",
            Kind::Url => "url",
            Kind::Git => "git",
        }
    }

    /// The kind the lock spells `text`, if any.
    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Kind {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// `artifact.kind == "oci"`: callers that hold a kind's name compare without parsing it.
impl PartialEq<str> for Kind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Kind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Kind {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_as_the_lock_spells_them() {
        for kind in Kind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), kind);
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("bun"), None);
        assert!(serde_json::from_str::<Kind>("\"pypi\"").is_err());
    }
}
