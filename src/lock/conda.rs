//! conda's per-member facts in the lock: the rest of the channel's repodata record, so
//! `emit` writes the build's local channel as the channel published it, offline. Typed:
//! every match spec, feature, license and path was checked against its grammar when the
//! facts were built from their on-disk form (`wire::CondaFactsWire`).

use super::values::{Constraint, LicenseText, Md5Hex, RelativePath, Token};

/// The channel's repodata record of a locked file beyond the lock's common package
/// fields (name, version, build, subdir, noarch, sha256, size), as published, so `emit`
/// writes the build's local channel with the records conda-forge serves: the installed
/// `conda-meta` records then carry the same dependencies, licenses (which SBOM
/// scanners read there), md5 and timestamps as an install from conda-forge would.
/// Serialized in its on-disk form (`wire.rs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CondaFacts {
    pub build_number: u64,
    /// Match specs, virtual packages (`__glibc >=2.17`) included, in the record's order.
    pub depends: Vec<Constraint>,
    pub constrains: Vec<Constraint>,
    pub track_features: Vec<Token>,
    pub license: Option<LicenseText>,
    pub license_family: Option<LicenseText>,
    /// Hex, as the record has it (the build checks the sha256).
    pub md5: Option<Md5Hex>,
    /// The record's number as published: milliseconds on conda-forge, seconds in some
    /// older records.
    pub timestamp: Option<u64>,
    pub python_site_packages_path: Option<RelativePath>,
}

impl CondaFacts {
    /// The repodata record's keys these facts fill (`build_number`, `depends`, …), for a
    /// channel index.
    pub fn record_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let mut fields = serde_json::Map::new();
        fields.insert("build_number".into(), json!(self.build_number));
        fields.insert("depends".into(), json!(strs(&self.depends)));
        if !self.constrains.is_empty() {
            fields.insert("constrains".into(), json!(strs(&self.constrains)));
        }
        if !self.track_features.is_empty() {
            // conda's form: one string, space-separated.
            fields.insert(
                "track_features".into(),
                json!(strs(&self.track_features).join(" ")),
            );
        }
        let optional = [
            ("license", self.license.as_deref()),
            ("license_family", self.license_family.as_deref()),
            ("md5", self.md5.as_deref()),
            (
                "python_site_packages_path",
                self.python_site_packages_path.as_deref(),
            ),
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

fn strs<T: AsRef<str>>(values: &[T]) -> Vec<&str> {
    values.iter().map(AsRef::as_ref).collect()
}
