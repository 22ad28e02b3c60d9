//! Registry documents ("packuments") and choosing a version from one.
//!
//! Three shapes arrive: the abbreviated install document
//! (`application/vnd.npm.install-v1+json`), the full document, and a mirror's reduced
//! full document (no `time`, only the `latest` tag, no `hasInstallScript`). They differ
//! in fields this module does not need or reads either way, so one lenient parser takes
//! them all. Registry data is old and messy (`engines` as an array, `os` as a string,
//! `deprecated: false`), so every field is read leniently; the order of versions and of
//! dependency maps is kept as sent, because npm's choices depend on it.
//!
//! [`pick`] is `npm-pick-manifest`: the `latest` tag if it satisfies, else the highest
//! satisfying version, preferring non-deprecated versions and versions whose `engines`
//! accept the target Node.js.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::semver::{self, Options, Version};
use super::spec::{RegistrySpec, Selector};

/// One version's manifest, as much of it as installing needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// The package's own name (an alias's target name).
    pub name: String,
    pub version: String,
    pub dependencies: Vec<(String, String)>,
    pub optional_dependencies: Vec<(String, String)>,
    pub peer_dependencies: Vec<(String, String)>,
    /// Peers marked `peerDependenciesMeta.<name>.optional`.
    pub optional_peers: Vec<String>,
    /// `bundleDependencies`: shipped inside the tarball, never fetched.
    pub bundled: Vec<String>,
    /// Normalized as `npm-normalize-package-bin` does: link name → path in the package.
    pub bin: BTreeMap<String, String>,
    pub os: Vec<String>,
    pub cpu: Vec<String>,
    pub libc: Vec<String>,
    pub engines_node: Option<String>,
    pub engines_npm: Option<String>,
    pub deprecated: bool,
    pub tarball: Option<String>,
    pub integrity: Option<String>,
    pub shasum: Option<String>,
    /// `hasInstallScript`, or a `preinstall`/`install`/`postinstall` script in a full document.
    pub install_script: bool,
    /// Ships an `npm-shrinkwrap.json` (its dependencies come from that file, not the registry).
    pub has_shrinkwrap: bool,
    pub license: Option<String>,
}

/// A registry document.
#[derive(Debug, Clone, Default)]
pub struct Packument {
    pub name: String,
    /// Where the document came from: relative tarball URLs resolve against it.
    pub url: String,
    pub dist_tags: BTreeMap<String, String>,
    /// In document order (npm breaks ties between equal versions by it).
    pub versions: Vec<Arc<Manifest>>,
}

impl Packument {
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Packument, String> {
        let raw: RawPackument = serde_json::from_slice(bytes)
            .map_err(|err| format!("not a package document: {err}"))?;
        let doc_name = raw.name.as_ref().and_then(Value::as_str).unwrap_or(name);
        if doc_name != name {
            return Err(format!(
                "asked for `{name}`, the document is for `{doc_name}`"
            ));
        }
        let versions = raw
            .versions
            .0
            .into_iter()
            .map(|(version, manifest)| Arc::new(manifest.into_manifest(name, version)))
            .collect();
        Ok(Packument {
            name: name.to_string(),
            url: String::new(),
            dist_tags: raw.dist_tags.0.into_iter().collect(),
            versions,
        })
    }

    pub fn version(&self, version: &str) -> Option<&Arc<Manifest>> {
        self.versions.iter().find(|m| m.version == version)
    }
}

/// Why no version could be picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickError {
    /// npm's `ETARGET`: nothing matches.
    NoMatch { name: String, wanted: String },
    /// npm's `ENOVERSIONS`.
    NoVersions { name: String },
}

impl fmt::Display for PickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PickError::NoMatch { name, wanted } => {
                write!(f, "no version of `{name}` matches `{wanted}`")
            }
            PickError::NoVersions { name } => write!(f, "`{name}` has no versions"),
        }
    }
}

/// The Node.js and npm versions `engines` are checked against; `None` skips the check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Engines {
    pub node: Option<String>,
    pub npm: Option<String>,
}

impl Engines {
    /// `checkEngine` of npm-install-checks: prereleases of the running version count.
    pub fn accept(&self, manifest: &Manifest) -> bool {
        let options = Options {
            loose: false,
            include_prerelease: true,
        };
        let fails = |running: &Option<String>, wanted: &Option<String>| match (running, wanted) {
            (Some(running), Some(wanted)) => !semver::satisfies(running, wanted, options),
            _ => false,
        };
        !fails(&self.node, &manifest.engines_node) && !fails(&self.npm, &manifest.engines_npm)
    }
}

/// `npm-pick-manifest` without `before`, staged or restricted versions and `avoid`.
pub fn pick(
    packument: &Packument,
    spec: &RegistrySpec,
    engines: &Engines,
) -> Result<Arc<Manifest>, PickError> {
    let no_match = || PickError::NoMatch {
        name: packument.name.clone(),
        wanted: spec.fetch_spec.clone(),
    };
    let find = |version: &str| packument.version(version).cloned();
    // An empty spec means the default tag with any version allowed.
    let range = match &spec.selector {
        Selector::Tag(tag) => {
            let version = packument.dist_tags.get(tag).ok_or_else(no_match)?;
            return find(version).ok_or_else(no_match);
        }
        Selector::Version(version) if !version.is_empty() => {
            let clean = semver::clean(version).ok_or_else(no_match)?;
            return find(&clean).ok_or_else(no_match);
        }
        Selector::Version(_) => "*",
        Selector::Range(range) if range.is_empty() => "*",
        Selector::Range(range) => range.as_str(),
    };

    if let Some(latest) = packument.dist_tags.get("latest")
        && (range == "*" || semver::satisfies(latest, range, Options::LOOSE))
        && let Some(manifest) = find(latest)
        && engines.accept(&manifest)
        && !manifest.deprecated
    {
        return Ok(manifest);
    }

    if packument.versions.is_empty() {
        return Err(PickError::NoVersions {
            name: packument.name.clone(),
        });
    }
    let parsed_range = semver::Range::parse(range, Options::LOOSE);
    let mut candidates: Vec<(Version, &Arc<Manifest>, bool, bool)> = packument
        .versions
        .iter()
        .filter_map(|manifest| {
            let version = Version::parse(&manifest.version, true)?;
            let range = parsed_range.as_ref()?;
            range.test(&version).then(|| {
                let engine_ok = engines.accept(manifest);
                (version, manifest, !manifest.deprecated, engine_ok)
            })
        })
        .collect();
    // A stable sort, as JavaScript's: equal versions keep document order.
    candidates.sort_by(
        |(va, _, not_dep_a, engine_a), (vb, _, not_dep_b, engine_b)| {
            (not_dep_b & engine_b)
                .cmp(&(not_dep_a & engine_a))
                .then_with(|| engine_b.cmp(engine_a))
                .then_with(|| not_dep_b.cmp(not_dep_a))
                .then_with(|| vb.compare(va))
        },
    );
    candidates
        .first()
        .map(|(_, manifest, _, _)| Arc::clone(manifest))
        .ok_or_else(no_match)
}

// ---- lenient document parsing ----

#[derive(Deserialize)]
struct RawPackument {
    #[serde(default)]
    name: Option<Value>,
    #[serde(default, rename = "dist-tags")]
    dist_tags: StringMap,
    #[serde(default)]
    versions: OrderedMap<RawManifest>,
}

#[derive(Deserialize, Default)]
struct RawManifest {
    #[serde(default)]
    name: Option<Value>,
    #[serde(default)]
    dependencies: StringMap,
    #[serde(default, rename = "optionalDependencies")]
    optional_dependencies: StringMap,
    #[serde(default, rename = "peerDependencies")]
    peer_dependencies: StringMap,
    #[serde(default, rename = "peerDependenciesMeta")]
    peer_dependencies_meta: Option<Value>,
    #[serde(default, rename = "bundleDependencies")]
    bundle_dependencies: Option<Value>,
    #[serde(default, rename = "bundledDependencies")]
    bundled_dependencies: Option<Value>,
    #[serde(default)]
    bin: Option<Value>,
    #[serde(default)]
    os: Option<Value>,
    #[serde(default)]
    cpu: Option<Value>,
    #[serde(default)]
    libc: Option<Value>,
    #[serde(default)]
    engines: Option<Value>,
    #[serde(default)]
    deprecated: Option<Value>,
    #[serde(default)]
    dist: RawDist,
    #[serde(default, rename = "hasInstallScript")]
    has_install_script: Option<Value>,
    #[serde(default)]
    scripts: Option<Value>,
    #[serde(default, rename = "_hasShrinkwrap")]
    has_shrinkwrap: Option<Value>,
    #[serde(default)]
    license: Option<Value>,
}

fn truthy(value: &Option<Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        Some(_) => true,
    }
}

fn string_list(value: &Option<Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

impl RawManifest {
    fn into_manifest(self, document_name: &str, version: String) -> Manifest {
        let name = self
            .name
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or(document_name)
            .to_string();
        let dependencies = self.dependencies.0;
        let optional_peers = match &self.peer_dependencies_meta {
            Some(Value::Object(meta)) => meta
                .iter()
                .filter(|(_, m)| m.get("optional").and_then(Value::as_bool) == Some(true))
                .map(|(name, _)| name.clone())
                .collect(),
            _ => Vec::new(),
        };
        // `bundleDependencies: true` bundles every dependency.
        let bundle = self.bundle_dependencies.or(self.bundled_dependencies);
        let bundled = match &bundle {
            Some(Value::Bool(true)) => dependencies.iter().map(|(n, _)| n.clone()).collect(),
            other => string_list(other),
        };
        let engine = |key: &str| match &self.engines {
            Some(Value::Object(engines)) => {
                engines.get(key).and_then(Value::as_str).map(str::to_string)
            }
            _ => None,
        };
        let script = |key: &str| {
            self.scripts
                .as_ref()
                .and_then(|s| s.get(key))
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        let install_script = truthy(&self.has_install_script)
            || script("preinstall")
            || script("install")
            || script("postinstall");
        let license = match &self.license {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(o)) => o.get("type").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        Manifest {
            bin: normalize_bin(&name, self.bin.as_ref()),
            name,
            version,
            dependencies,
            optional_dependencies: self.optional_dependencies.0,
            peer_dependencies: self.peer_dependencies.0,
            optional_peers,
            bundled,
            os: string_list(&self.os),
            cpu: string_list(&self.cpu),
            libc: string_list(&self.libc),
            engines_node: engine("node"),
            engines_npm: engine("npm"),
            deprecated: truthy(&self.deprecated),
            tarball: self.dist.tarball,
            integrity: self.dist.integrity,
            shasum: self.dist.shasum,
            install_script,
            has_shrinkwrap: truthy(&self.has_shrinkwrap),
            license,
        }
    }
}

/// `npm-normalize-package-bin`.
fn normalize_bin(name: &str, bin: Option<&Value>) -> BTreeMap<String, String> {
    let entries: Vec<(String, String)> = match bin {
        Some(Value::String(path)) if !name.is_empty() => vec![(name.to_string(), path.clone())],
        Some(Value::Array(paths)) => paths
            .iter()
            .filter_map(Value::as_str)
            .map(|p| (p.rsplit('/').next().unwrap_or(p).to_string(), p.to_string()))
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
            .collect(),
        _ => Vec::new(),
    };
    let mut clean = BTreeMap::new();
    for (key, target) in entries {
        let key = key.replace(['\\', ':'], "/");
        let base = normalize_path(key.rsplit('/').next().unwrap_or(""));
        let target = normalize_path(&target.replace('\\', "/"));
        if !base.is_empty() && !target.is_empty() {
            clean.insert(base, target);
        }
    }
    clean
}

/// `path.join('/', p).slice(1)`: resolve `.` and `..` without leaving the package.
fn normalize_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// `dist`: the three fields resolution reads; the rest (`signatures`, sizes) is skipped
/// without being built, which matters for documents with thousands of versions.
#[derive(Debug, Default)]
struct RawDist {
    tarball: Option<String>,
    integrity: Option<String>,
    shasum: Option<String>,
}

impl<'de> Deserialize<'de> for RawDist {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawDist, D::Error> {
        struct DistVisitor;
        impl<'de> Visitor<'de> for DistVisitor {
            type Value = RawDist;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawDist, A::Error> {
                let mut dist = RawDist::default();
                while let Some(key) = map.next_key::<String>()? {
                    let slot = match key.as_str() {
                        "tarball" => &mut dist.tarball,
                        "integrity" => &mut dist.integrity,
                        "shasum" => &mut dist.shasum,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if let Value::String(value) = map.next_value::<Value>()? {
                        *slot = Some(value);
                    }
                }
                Ok(dist)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawDist, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawDist::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawDist, E> {
                Ok(RawDist::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawDist, E> {
                Ok(RawDist::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawDist, E> {
                Ok(RawDist::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawDist, E> {
                Ok(RawDist::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<RawDist, E> {
                Ok(RawDist::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawDist, E> {
                Ok(RawDist::default())
            }
        }
        deserializer.deserialize_any(DistVisitor)
    }
}

/// A JSON object of strings in document order; anything else reads as empty.
#[derive(Debug, Default)]
struct StringMap(Vec<(String, String)>);

/// A JSON object in document order.
#[derive(Debug)]
struct OrderedMap<V>(Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<'de> Deserialize<'de> for StringMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StringMap, D::Error> {
        struct StringMapVisitor;
        impl<'de> Visitor<'de> for StringMapVisitor {
            type Value = StringMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringMap, A::Error> {
                let mut entries: Vec<(String, String)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    if let Value::String(value) = value {
                        // A repeated key keeps its first position and its last value.
                        match entries.iter_mut().find(|(k, _)| *k == key) {
                            Some(entry) => entry.1 = value,
                            None => entries.push((key, value)),
                        }
                    }
                }
                Ok(StringMap(entries))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringMap, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(StringMap::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<StringMap, E> {
                Ok(StringMap::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<StringMap, E> {
                Ok(StringMap::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<StringMap, E> {
                Ok(StringMap::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<StringMap, E> {
                Ok(StringMap::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<StringMap, E> {
                Ok(StringMap::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<StringMap, E> {
                Ok(StringMap::default())
            }
        }
        deserializer.deserialize_any(StringMapVisitor)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OrderedMap<V>, D::Error> {
        struct OrderedVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedMap<V>, A::Error> {
                let mut entries: Vec<(String, V)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    match entries.iter_mut().find(|(k, _)| *k == key) {
                        Some(entry) => entry.1 = value,
                        None => entries.push((key, value)),
                    }
                }
                Ok(OrderedMap(entries))
            }
            fn visit_unit<E: de::Error>(self) -> Result<OrderedMap<V>, E> {
                Ok(OrderedMap::default())
            }
        }
        deserializer.deserialize_any(OrderedVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> Packument {
        Packument::parse("p", json.as_bytes()).unwrap()
    }

    fn pick_str(p: &Packument, spec: &str) -> Result<String, PickError> {
        let spec = RegistrySpec::parse("p", spec).unwrap();
        pick(p, &spec, &Engines::default()).map(|m| m.version.clone())
    }

    #[test]
    fn prefers_latest_then_highest_non_deprecated() {
        let p = doc(
            r#"{"name":"p","dist-tags":{"latest":"1.1.0","next":"2.0.0-rc.1"},"versions":{
            "1.0.0":{}, "1.1.0":{}, "1.2.0":{"deprecated":"broken"}, "2.0.0-rc.1":{}, "3.0.0":{"deprecated":"no"}}}"#,
        );
        assert_eq!(pick_str(&p, "^1.0.0").unwrap(), "1.1.0");
        assert_eq!(pick_str(&p, "latest").unwrap(), "1.1.0");
        assert_eq!(pick_str(&p, "next").unwrap(), "2.0.0-rc.1");
        assert_eq!(pick_str(&p, "1.2.0").unwrap(), "1.2.0");
        assert_eq!(pick_str(&p, ">=1.2.0").unwrap(), "3.0.0");
        assert_eq!(pick_str(&p, "*").unwrap(), "1.1.0");
        assert!(pick_str(&p, "^4").is_err());
        assert!(pick_str(&p, "nope").is_err());
    }

    #[test]
    fn keeps_document_order_and_reads_odd_fields() {
        let p = doc(
            r#"{"name":"p","dist-tags":{},"versions":{"1.0.0":{"dependencies":{"z":"1","a":"2","bad":3},
            "engines":["node >= 0.4"],"os":"linux","bin":"./cli.js","scripts":{"postinstall":"x"}}}}"#,
        );
        let m = &p.versions[0];
        assert_eq!(
            m.dependencies,
            vec![("z".into(), "1".into()), ("a".into(), "2".into())]
        );
        assert_eq!(m.os, vec!["linux".to_string()]);
        assert_eq!(m.bin.get("p").map(String::as_str), Some("cli.js"));
        assert!(m.install_script);
        assert_eq!(m.engines_node, None);
    }
}
