//! A request: what the spec asks one lock entry to answer, and the plan of all of them.

use std::ops::Range;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::lock::Kind;

use super::{apt, conda, github_release, nodejs, npm, oci, url};

/// The per-kind part of a request.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Detail {
    Apt(apt::AptRequest),
    Conda(conda::CondaRequest),
    Oci(oci::OciRequest),
    GithubRelease(github_release::ReleaseRequest),
    Nodejs(nodejs::NodeRequest),
    Npm(npm::NpmRequest),
    Url(url::UrlRequest),
    Git(super::git::GitRequest),
}

#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub kind: Kind,
    pub name: String,
    /// The spec's constraint as written (`latest`, `lts`, a tag, a URL).
    pub requested: String,
    pub detail: Detail,
    /// Platforms the pins must cover.
    pub platforms: Vec<String>,
    /// The spec entry that asks for it. Not part of [`Request::hash`]: moving an entry
    /// within the spec does not change what answers it.
    #[serde(skip)]
    pub origin: Origin,
}

/// Where in the spec a request comes from, as `why` shows it:
/// `[stage-2.release.clash-rs] version = "latest"` at the value's byte range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The entry's key path (`stage-2.release.clash-rs`, `stage-2.tools.node`,
    /// `stage-1.npm-global."@scope/cli"`, `stage-1.apt`, `base.image`): what the lock
    /// keeps as `origin`. A path, not a line, so reformatting the spec changes no lock byte.
    pub path: String,
    /// `stage-1` or `stage-2`; `None` for the base image.
    pub stage: Option<&'static str>,
    /// The TOML table the shown key sits in, and the key.
    pub table: String,
    pub key: String,
    /// The value as TOML.
    pub value: String,
    /// The value's byte range in the spec text (for its line).
    pub span: Option<Range<usize>>,
    /// More about the link (`asset of Watfaq/clash-rs`).
    pub note: Option<String>,
}

impl Origin {
    /// `[table] key = value` at `span`; its path is `table.key`.
    pub fn new(
        stage: Option<&'static str>,
        table: &str,
        key: &str,
        value: String,
        span: Range<usize>,
    ) -> Origin {
        Origin {
            path: format!("{table}.{key}"),
            stage,
            table: table.to_string(),
            key: key.to_string(),
            value,
            span: Some(span),
            note: None,
        }
    }

    /// The same, for an entry that is a table of its own (`[stage-2.release.NAME]`): its
    /// path is the table's.
    pub fn in_table(mut self) -> Origin {
        self.path = self.table.clone();
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Origin {
        self.note = Some(note.into());
        self
    }
}

impl Detail {
    /// The upstream identity the lock keeps as `source` (see `lock::provenance`): what
    /// `sbom`, `diff` and `bump` read instead of planning the spec again or parsing URLs.
    pub fn source(&self) -> Option<String> {
        match self {
            // A stage's closure draws from several archives; members name theirs.
            Detail::Apt(_) => None,
            Detail::Conda(detail) => Some(format!(
                "conda:{}/{}",
                detail.channel,
                super::conda::conda_tool_name(&detail.spec)
            )),
            Detail::Oci(detail) => Some(format!("oci:{}", detail.image)),
            Detail::GithubRelease(detail) => Some(format!("github:{}", detail.repo)),
            Detail::Nodejs(_) => Some("nodejs:node".to_string()),
            Detail::Npm(detail) => Some(format!("npm:{}", detail.package)),
            Detail::Url(detail) => Some(format!(
                "url:{}",
                crate::lock::values::strip_userinfo(&detail.url)
            )),
            Detail::Git(detail) => Some(format!("git:{}", detail.repository)),
        }
    }
}

impl Request {
    /// `sha256:` of everything that shapes this request's answer; a lock entry with the
    /// same hash still satisfies the spec.
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("requests serialize");
        format!("sha256:{}", hex::encode(Sha256::digest(json)))
    }

    pub fn key(&self) -> (String, String) {
        (self.kind.as_str().to_string(), self.name.clone())
    }
}

pub struct Plan {
    pub requests: Vec<Request>,
}

impl Plan {
    /// The spec's request for the lock entry `kind` `name`, if the spec makes one.
    pub fn request(&self, kind: Kind, name: &str) -> Option<&Request> {
        self.requests
            .iter()
            .find(|r| r.kind == kind && r.name == name)
    }
}
