//! conda's per-member facts in the lock: the rest of the channel's repodata record, so
//! `emit` writes the build's local channel as the channel published it, offline.

use serde::{Deserialize, Serialize};

/// The channel's repodata record of a locked file beyond the lock's common package
/// fields (name, version, build, subdir, noarch, sha256, size), as published, so `emit`
/// writes the build's local channel with the records conda-forge serves: the installed
/// `conda-meta` records then carry the same dependencies, licenses (which SBOM
/// scanners read there), md5 and timestamps as an install from conda-forge would.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CondaFacts {
    pub build_number: u64,
    /// Match specs, virtual packages (`__glibc >=2.17`) included, in the record's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constrains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_features: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_family: Option<String>,
    /// Hex, as the record has it (the build checks the sha256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// The record's number as published: milliseconds on conda-forge, seconds in some
    /// older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_site_packages_path: Option<String>,
}

impl CondaFacts {
    /// The repodata record's keys these facts fill (`build_number`, `depends`, …), for a
    /// channel index.
    pub fn record_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let mut fields = serde_json::Map::new();
        fields.insert("build_number".into(), json!(self.build_number));
        fields.insert("depends".into(), json!(self.depends));
        if !self.constrains.is_empty() {
            fields.insert("constrains".into(), json!(self.constrains));
        }
        if !self.track_features.is_empty() {
            // conda's form: one string, space-separated.
            fields.insert(
                "track_features".into(),
                json!(self.track_features.join(" ")),
            );
        }
        let optional = [
            ("license", &self.license),
            ("license_family", &self.license_family),
            ("md5", &self.md5),
            ("python_site_packages_path", &self.python_site_packages_path),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                fields.insert(key.into(), json!(value));
            }
        }
        if let Some(timestamp) = self.timestamp {
            fields.insert("timestamp".into(), json!(timestamp));
        }
        fields
    }
}
