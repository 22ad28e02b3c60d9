//! A request: what the spec asks one lock entry to answer, and the plan of all of them.

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
