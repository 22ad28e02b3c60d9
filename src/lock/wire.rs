//! The lock's on-disk form and the one checked conversion to its typed model.
//!
//! As uv and cargo keep them apart: these structs are plain serde with `String` fields
//! in the order the file has them, so they decide every byte [`super::Lock::to_bytes`]
//! writes and every byte of JSON [`ArtifactWire::content_checksum`] hashes; the model
//! ([`super::Artifact`]) holds the checked newtypes of [`super::values`] and is built
//! only by the conversions here. Both directions are total over valid content, so
//! `model -> wire -> model` is the identity and the wire form of a model is exactly the
//! form v1 locks were always written in.
//!
//! Resolvers fill an [`ArtifactWire`] with what the upstream sent; the driver strips
//! credentials and converts it, naming the upstream when a value is refused. A lock
//! file is read into a [`LockWire`] and converted entry by entry, so a tampered value is
//! refused before any command holds a typed entry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::conda::CondaFacts;
use super::npm::NpmFacts;
use super::values::{
    AptArch, ArtifactVersion, CondaBuild, CondaSubdir, Constraint, Dependent, FileName, GitCommit,
    HttpUrl, LicenseText, Md5Hex, MemberName, MemberVersion, Noarch, NpmBinName, NpmName,
    NpmTreePath, OneLine, PinnedImage, PlatformKey, Published, RelativePath, Sha256Digest, Token,
    ValueError, escape_for_terminal, strip_userinfo,
};
use super::{Artifact, Kind, Lock, Package, Pin, SourceArchive, provenance};
use crate::net::Hash;

/// A whole `bench.lock` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockWire {
    pub version: u32,
    pub spec_hash: String,
    #[serde(default, rename = "artifact", skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<ArtifactWire>,
}

/// One `[[artifact]]` as written (the fields are documented on [`super::Artifact`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ArtifactWire {
    pub kind: Kind,
    pub name: String,
    pub requested: String,
    pub request_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<String>,
    #[serde(default)]
    pub platform: BTreeMap<String, PinWire>,
    #[serde(default, rename = "archive", skip_serializing_if = "Vec::is_empty")]
    pub archives: Vec<SourceArchive>,
    #[serde(default, rename = "package", skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageWire>,
}

/// One `[[artifact.package]]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PackageWire {
    pub name: String,
    pub version: String,
    pub platform: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noarch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub file: String,
    pub urls: Vec<String>,
    pub hash: Hash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requested: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_by: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub npm: Option<NpmFactsWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conda: Option<CondaFactsWire>,
}

/// One `[artifact.platform."…"]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PinWire {
    pub file: String,
    pub urls: Vec<String>,
    pub hash: Hash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// `[artifact.package.npm]` as written ([`NpmFacts`] documents the fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NpmFactsWire {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub peer: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dependencies: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub optional_dependencies: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peer_dependencies: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub optional_peers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bundled: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bin: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub install_script: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub os: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpu: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libc: Vec<String>,
}

/// `[artifact.package.conda]` as written ([`CondaFacts`] documents the fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CondaFactsWire {
    pub build_number: u64,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_site_packages_path: Option<String>,
}

impl LockWire {
    /// The exact bytes of the lock file: the header, then the pretty TOML of these
    /// structs.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Pretty: one URL per line and a blank line before each table, so lock diffs in
        // pull requests show exactly what moved.
        let body = toml::to_string_pretty(self).expect("a lock always serializes");
        let mut text = String::with_capacity(super::HEADER.len() + body.len() * 11 / 10);
        text.push_str(super::HEADER);
        for line in body.replace("\r\n", "\n").lines() {
            if line.starts_with('[') && !text.ends_with("\n\n") {
                text.push('\n');
            }
            text.push_str(line);
            text.push('\n');
        }
        while text.ends_with("\n\n") {
            text.pop();
        }
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.into_bytes()
    }

    /// Every entry's checksum recomputed from its content, as anyone editing a lock can
    /// (the checksum is a typo guard, not a signature).
    pub fn reseal(&mut self) {
        for artifact in &mut self.artifacts {
            artifact.checksum = Some(artifact.content_checksum());
        }
    }
}

impl ArtifactWire {
    /// An entry of `kind` with the driver-owned fields (name, requested, request hash)
    /// left empty, for resolvers to fill in.
    pub fn new(kind: Kind, version: impl Into<String>) -> ArtifactWire {
        ArtifactWire {
            kind,
            name: String::new(),
            requested: String::new(),
            request_hash: String::new(),
            source: None,
            origin: None,
            version: version.into(),
            digest: None,
            images: Vec::new(),
            published: None,
            release_url: None,
            repository: None,
            commit: None,
            checksum: None,
            pins: Vec::new(),
            platform: BTreeMap::new(),
            archives: Vec::new(),
            packages: Vec::new(),
        }
    }

    /// `sha256:` of the entry's canonical content: the entry serialized as compact JSON
    /// with `checksum` left out, fields in the lock's order and absent optional fields
    /// omitted. It serializes the whole struct, so a field added later is covered too.
    pub fn content_checksum(&self) -> String {
        let mut content = self.clone();
        content.checksum = None;
        let json = serde_json::to_vec(&content).expect("an artifact always serializes");
        format!("sha256:{}", hex::encode(Sha256::digest(json)))
    }

    /// Credentials from a sources file apply at resolve time only: no URL written to the
    /// lock (and from there into `artifacts.tsv` in the image) keeps them.
    pub fn strip_credentials(&mut self) {
        let pins = self.platform.values_mut().map(|pin| &mut pin.urls);
        let members = self.packages.iter_mut().map(|member| &mut member.urls);
        for urls in pins.chain(members) {
            for url in urls.iter_mut() {
                *url = strip_userinfo(url);
            }
        }
        if let Some(url) = &mut self.release_url {
            *url = strip_userinfo(url);
        }
    }
}

// ---- wire -> model: every value against its grammar -------------------------------

fn each<T>(
    values: &[String],
    parse: impl Fn(&str) -> Result<T, ValueError>,
) -> Result<Vec<T>, ValueError> {
    values.iter().map(|v| parse(v)).collect()
}

fn optional<T>(
    value: &Option<String>,
    parse: impl Fn(&str) -> Result<T, ValueError>,
) -> Result<Option<T>, ValueError> {
    value.as_deref().map(parse).transpose()
}

/// A field this kind never has, present anyway.
fn unexpected(field: String, present: bool) -> Result<(), ValueError> {
    if present {
        Err(ValueError {
            field,
            value: "(present)".into(),
            expected: "absent for this kind",
        })
    } else {
        Ok(())
    }
}

impl TryFrom<&ArtifactWire> for Artifact {
    type Error = ValueError;

    /// The typed entry, if every value matches its grammar; otherwise the first value
    /// that does not, named by its field (`package libc6 file`).
    fn try_from(wire: &ArtifactWire) -> Result<Artifact, ValueError> {
        let kind = wire.kind;
        let name = OneLine::parse("name", &wire.name)?;
        let requested = OneLine::parse("requested", &wire.requested)?;
        let request_hash = OneLine::parse("request-hash", &wire.request_hash)?;
        let source = optional(&wire.source, |s| provenance::Source::parse(kind, s))?;
        let origin = optional(&wire.origin, provenance::SpecKeyPath::parse)?;
        let checksum = optional(&wire.checksum, |c| OneLine::parse("checksum", c))?;
        let version = ArtifactVersion::parse(kind, "version", &wire.version)?;
        let digest = optional(&wire.digest, |d| Sha256Digest::parse("digest", d))?;
        let images = each(&wire.images, |i| PinnedImage::parse("images", i))?;
        let published = optional(&wire.published, |p| Published::parse("published", p))?;
        let release_url = optional(&wire.release_url, |u| HttpUrl::parse("release-url", u))?;
        let (repository, commit) = git_pin(wire)?;
        let pins = each(&wire.pins, |p| OneLine::parse("pins", p))?;
        for archive in &wire.archives {
            check_archive(archive)?;
        }
        let mut platform = BTreeMap::new();
        for (key, pin) in &wire.platform {
            let key = PlatformKey::parse("platform", key)?;
            let pin = Pin::from_wire(&key, pin)?;
            platform.insert(key, pin);
        }
        let packages = wire
            .packages
            .iter()
            .map(|package| Package::from_wire(kind, package))
            .collect::<Result<_, _>>()?;
        Ok(Artifact {
            kind,
            name,
            requested,
            request_hash,
            source,
            origin,
            version,
            digest,
            images,
            published,
            release_url,
            repository,
            commit,
            checksum,
            pins,
            platform,
            archives: wire.archives.clone(),
            packages,
        })
    }
}

/// git: the https repository and the full commit an entry must have, and no platform
/// pins (nothing of it is downloaded into the image); any other kind has neither.
fn git_pin(wire: &ArtifactWire) -> Result<(Option<HttpUrl>, Option<GitCommit>), ValueError> {
    if wire.kind != Kind::Git {
        // Only git entries name a repository and a commit; anywhere else they are an edit.
        unexpected(
            "repository/commit".into(),
            wire.repository.is_some() || wire.commit.is_some(),
        )?;
        return Ok((None, None));
    }
    let given = wire.repository.as_deref().unwrap_or_default();
    let repository = HttpUrl::parse("repository", given)?;
    if !repository.starts_with("https://") {
        return Err(ValueError {
            field: "repository".into(),
            value: given.to_string(),
            expected: "an https URL",
        });
    }
    let commit = GitCommit::parse("commit", wire.commit.as_deref().unwrap_or_default())?;
    if !wire.platform.is_empty() {
        return Err(ValueError {
            field: "platform".into(),
            value: "(present)".into(),
            expected: "absent for kind git",
        });
    }
    Ok((Some(repository), Some(commit)))
}

/// apt: one archive a closure was solved against, every value against its grammar.
fn check_archive(archive: &SourceArchive) -> Result<(), ValueError> {
    for platform in &archive.platforms {
        PlatformKey::parse("archive platforms", platform)?;
    }
    for uri in &archive.uris {
        HttpUrl::parse("archive uris", uri)?;
    }
    for word in archive.suites.iter().chain(&archive.components) {
        OneLine::parse("archive suites", word)?;
    }
    OneLine::parse("archive from", &archive.from)?;
    Ok(())
}

impl TryFrom<ArtifactWire> for Artifact {
    type Error = ValueError;

    fn try_from(wire: ArtifactWire) -> Result<Artifact, ValueError> {
        Artifact::try_from(&wire)
    }
}

impl Pin {
    fn from_wire(platform: &str, wire: &PinWire) -> Result<Pin, ValueError> {
        Ok(Pin {
            file: FileName::parse(&format!("platform {platform} file"), &wire.file)?,
            urls: each(&wire.urls, |u| {
                HttpUrl::parse(&format!("platform {platform} url"), u)
            })?,
            hash: wire.hash.clone(),
            size: wire.size,
        })
    }
}

impl Package {
    fn from_wire(kind: Kind, wire: &PackageWire) -> Result<Package, ValueError> {
        // Named by the member as the lock spells it; shown escaped, like every value.
        let member = format!("package `{}`", escape_for_terminal(&wire.name));
        let field = |name: &str| format!("{member} {name}");
        let platform = PlatformKey::parse_member(kind, &field("platform"), &wire.platform)?;
        let file = FileName::parse(&field("file"), &wire.file)?;
        let urls = each(&wire.urls, |u| HttpUrl::parse(&field("url"), u))?;
        let name = MemberName::parse(kind, &field("name"), &wire.name)?;
        let version = MemberVersion::parse(kind, &field("version"), &wire.version)?;
        let (mut arch, mut build, mut subdir, mut noarch, mut path) =
            (None, None, None, None, None);
        let (mut npm, mut conda) = (None, None);
        match kind {
            Kind::Apt => {
                let given = wire.arch.as_deref().unwrap_or_default();
                arch = Some(AptArch::parse(&field("arch"), given)?);
                unexpected(field("build"), wire.build.is_some())?;
                unexpected(field("subdir"), wire.subdir.is_some())?;
                unexpected(field("noarch"), wire.noarch.is_some())?;
                unexpected(field("path"), wire.path.is_some())?;
                unexpected(field("npm"), wire.npm.is_some())?;
                unexpected(field("conda"), wire.conda.is_some())?;
            }
            Kind::Conda => {
                let given = wire.build.as_deref().unwrap_or_default();
                build = Some(CondaBuild::parse(&field("build"), given)?);
                let given = wire.subdir.as_deref().unwrap_or_default();
                subdir = Some(CondaSubdir::parse(&field("subdir"), given)?);
                noarch = optional(&wire.noarch, |n| Noarch::parse(&field("noarch"), n))?;
                if !file.ends_with(".conda") && !file.ends_with(".tar.bz2") {
                    return Err(ValueError {
                        field: field("file"),
                        value: wire.file.clone(),
                        expected: "a `.conda` or `.tar.bz2` file name",
                    });
                }
                conda = wire
                    .conda
                    .as_ref()
                    .map(|facts| CondaFacts::from_wire(facts, &field))
                    .transpose()?;
                unexpected(field("arch"), wire.arch.is_some())?;
                unexpected(field("path"), wire.path.is_some())?;
                unexpected(field("npm"), wire.npm.is_some())?;
            }
            Kind::Npm => {
                path = optional(&wire.path, |p| NpmTreePath::parse(&field("path"), p))?;
                npm = wire
                    .npm
                    .as_ref()
                    .map(|facts| NpmFacts::from_wire(facts, &field))
                    .transpose()?;
                unexpected(field("arch"), wire.arch.is_some())?;
                unexpected(field("build"), wire.build.is_some())?;
                unexpected(field("subdir"), wire.subdir.is_some())?;
                unexpected(field("noarch"), wire.noarch.is_some())?;
                unexpected(field("conda"), wire.conda.is_some())?;
            }
            // MemberName::parse refused these kinds above.
            Kind::Oci | Kind::GithubRelease | Kind::Nodejs | Kind::Url | Kind::Git => {}
        }
        let required_by = each(&wire.required_by, |n| {
            Dependent::parse(kind, &field("required-by"), n)
        })?;
        Ok(Package {
            name,
            version,
            platform,
            arch,
            build,
            subdir,
            noarch,
            path,
            file,
            urls,
            hash: wire.hash.clone(),
            size: wire.size,
            requested: wire.requested,
            required_by,
            npm,
            conda,
        })
    }
}

impl NpmFacts {
    fn from_wire(
        wire: &NpmFactsWire,
        field: &dyn Fn(&str) -> String,
    ) -> Result<NpmFacts, ValueError> {
        let dependencies = |map: &BTreeMap<String, String>| {
            map.iter()
                .map(|(name, range)| {
                    Ok((
                        NpmName::parse(&field("dependency"), name)?,
                        Constraint::parse(&field("dependency range"), range)?,
                    ))
                })
                .collect::<Result<BTreeMap<_, _>, ValueError>>()
        };
        let names = |list: &[String]| each(list, |n| NpmName::parse(&field("dependency"), n));
        let tokens = |list: &[String]| each(list, |t| Token::parse(&field("os/cpu/libc"), t));
        Ok(NpmFacts {
            optional: wire.optional,
            peer: wire.peer,
            dependencies: dependencies(&wire.dependencies)?,
            optional_dependencies: dependencies(&wire.optional_dependencies)?,
            peer_dependencies: dependencies(&wire.peer_dependencies)?,
            optional_peers: names(&wire.optional_peers)?,
            bundled: names(&wire.bundled)?,
            bin: wire
                .bin
                .iter()
                .map(|(bin, target)| {
                    Ok((
                        NpmBinName::parse(&field("bin"), bin)?,
                        RelativePath::parse(&field("bin target"), target)?,
                    ))
                })
                .collect::<Result<_, ValueError>>()?,
            install_script: wire.install_script,
            os: tokens(&wire.os)?,
            cpu: tokens(&wire.cpu)?,
            libc: tokens(&wire.libc)?,
        })
    }
}

impl TryFrom<&NpmFactsWire> for NpmFacts {
    type Error = ValueError;

    fn try_from(wire: &NpmFactsWire) -> Result<NpmFacts, ValueError> {
        NpmFacts::from_wire(wire, &|name| name.to_string())
    }
}

impl CondaFacts {
    fn from_wire(
        wire: &CondaFactsWire,
        field: &dyn Fn(&str) -> String,
    ) -> Result<CondaFacts, ValueError> {
        let specs = |list: &[String]| each(list, |s| Constraint::parse(&field("depends"), s));
        let license =
            |text: &Option<String>| optional(text, |t| LicenseText::parse(&field("license"), t));
        Ok(CondaFacts {
            build_number: wire.build_number,
            depends: specs(&wire.depends)?,
            constrains: specs(&wire.constrains)?,
            track_features: each(&wire.track_features, |t| {
                Token::parse(&field("track-features"), t)
            })?,
            license: license(&wire.license)?,
            license_family: license(&wire.license_family)?,
            python_site_packages_path: optional(&wire.python_site_packages_path, |p| {
                RelativePath::parse(&field("python-site-packages-path"), p)
            })?,
            md5: optional(&wire.md5, |m| Md5Hex::parse(&field("md5"), m))?,
            timestamp: wire.timestamp,
        })
    }
}

impl TryFrom<&CondaFactsWire> for CondaFacts {
    type Error = ValueError;

    fn try_from(wire: &CondaFactsWire) -> Result<CondaFacts, ValueError> {
        CondaFacts::from_wire(wire, &|name| name.to_string())
    }
}

// ---- model -> wire: total, field for field ----------------------------------------

fn strings<T: AsRef<str>>(values: &[T]) -> Vec<String> {
    values.iter().map(|v| v.as_ref().to_string()).collect()
}

fn string<T: AsRef<str>>(value: &Option<T>) -> Option<String> {
    value.as_ref().map(|v| v.as_ref().to_string())
}

fn string_map<K: AsRef<str>, V: AsRef<str>>(map: &BTreeMap<K, V>) -> BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
        .collect()
}

impl From<&Lock> for LockWire {
    fn from(lock: &Lock) -> LockWire {
        LockWire {
            version: lock.version,
            spec_hash: lock.spec_hash.to_string(),
            artifacts: lock.artifacts.iter().map(ArtifactWire::from).collect(),
        }
    }
}

impl From<&Artifact> for ArtifactWire {
    fn from(artifact: &Artifact) -> ArtifactWire {
        ArtifactWire {
            kind: artifact.kind,
            name: artifact.name.to_string(),
            requested: artifact.requested.to_string(),
            request_hash: artifact.request_hash.to_string(),
            source: string(&artifact.source),
            origin: string(&artifact.origin),
            version: artifact.version.to_string(),
            digest: string(&artifact.digest),
            images: strings(&artifact.images),
            published: string(&artifact.published),
            release_url: string(&artifact.release_url),
            repository: string(&artifact.repository),
            commit: string(&artifact.commit),
            checksum: string(&artifact.checksum),
            pins: strings(&artifact.pins),
            platform: artifact
                .platform
                .iter()
                .map(|(key, pin)| (key.to_string(), PinWire::from(pin)))
                .collect(),
            archives: artifact.archives.clone(),
            packages: artifact.packages.iter().map(PackageWire::from).collect(),
        }
    }
}

impl From<&Pin> for PinWire {
    fn from(pin: &Pin) -> PinWire {
        PinWire {
            file: pin.file.to_string(),
            urls: strings(&pin.urls),
            hash: pin.hash.clone(),
            size: pin.size,
        }
    }
}

impl From<&Package> for PackageWire {
    fn from(package: &Package) -> PackageWire {
        PackageWire {
            name: package.name.to_string(),
            version: package.version.to_string(),
            platform: package.platform.to_string(),
            arch: string(&package.arch),
            build: string(&package.build),
            subdir: string(&package.subdir),
            noarch: string(&package.noarch),
            path: string(&package.path),
            file: package.file.to_string(),
            urls: strings(&package.urls),
            hash: package.hash.clone(),
            size: package.size,
            requested: package.requested,
            required_by: strings(&package.required_by),
            npm: package.npm.as_ref().map(NpmFactsWire::from),
            conda: package.conda.as_ref().map(CondaFactsWire::from),
        }
    }
}

/// The facts serialize as their on-disk form (reports and JSON documents embed them).
impl serde::Serialize for NpmFacts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        NpmFactsWire::from(self).serialize(serializer)
    }
}

impl serde::Serialize for CondaFacts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        CondaFactsWire::from(self).serialize(serializer)
    }
}

impl From<&NpmFacts> for NpmFactsWire {
    fn from(facts: &NpmFacts) -> NpmFactsWire {
        NpmFactsWire {
            optional: facts.optional,
            peer: facts.peer,
            dependencies: string_map(&facts.dependencies),
            optional_dependencies: string_map(&facts.optional_dependencies),
            peer_dependencies: string_map(&facts.peer_dependencies),
            optional_peers: strings(&facts.optional_peers),
            bundled: strings(&facts.bundled),
            bin: string_map(&facts.bin),
            install_script: facts.install_script,
            os: strings(&facts.os),
            cpu: strings(&facts.cpu),
            libc: strings(&facts.libc),
        }
    }
}

impl From<&CondaFacts> for CondaFactsWire {
    fn from(facts: &CondaFacts) -> CondaFactsWire {
        CondaFactsWire {
            build_number: facts.build_number,
            depends: strings(&facts.depends),
            constrains: strings(&facts.constrains),
            track_features: strings(&facts.track_features),
            license: string(&facts.license),
            license_family: string(&facts.license_family),
            md5: string(&facts.md5),
            timestamp: facts.timestamp,
            python_site_packages_path: string(&facts.python_site_packages_path),
        }
    }
}
