//! `modelbench sbom [SPEC] [--lock PATH] [--format cyclonedx|spdx] [--out FILE]`: a software
//! bill of materials of everything the lock pins, as CycloneDX 1.5 JSON (default) or SPDX 2.3
//! JSON. Offline; spec and lock are all it reads.
//!
//! # Determinism
//!
//! The same lock gives the same bytes. Nothing depends on the clock:
//!
//! - the CycloneDX `serialNumber`, the SPDX `documentNamespace` and the SPDX ids derive from
//!   the lock file's sha256 (an RFC 9562 version-8 UUID made of its first 16 bytes);
//! - the creation time (CycloneDX `metadata.timestamp`, SPDX `creationInfo.created`) is
//!   `SOURCE_DATE_EPOCH` when that is set (the reproducible-builds convention), else the
//!   lock's own date, the one its builds use too: the newest `published` date among its
//!   artifacts (midnight UTC for a date alone; the SBOM describes nothing newer), else
//!   `1970-01-01T00:00:00Z`;
//! - components keep the lock's order (artifacts by kind and name, members by platform,
//!   name, version and path).
//!
//! # Identifiers
//!
//! Package URLs by kind: `pkg:oci/NAME@sha256:…?repository_url=REGISTRY/REPO&tag=TAG` for the
//! base (index and per-platform manifests, with `arch`), `pkg:github/OWNER/REPO@TAG` for
//! GitHub releases, `pkg:generic/NAME@VERSION?checksum=…&download_url=…` for url files and
//! Node.js, and for closure members `pkg:deb/ubuntu/NAME@VERSION?arch=ARCH` (`debian` on a
//! Debian base), `pkg:npm/%40SCOPE/NAME@VERSION`, `pkg:conda/NAME@VERSION?build=…&subdir=…`.
//! Hashes are the lock's: SHA-256 (SHA-512 where npm's integrity gives it).
//!
//! # Licences
//!
//! conda members carry the licence their channel's record declares: a valid SPDX license
//! expression goes into CycloneDX `licenses[].expression` and SPDX `licenseDeclared`;
//! anything else is kept as text (CycloneDX `license.name`, SPDX `licenseComments`, with
//! `licenseDeclared` left `NOASSERTION`). Nothing is concluded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::image_ref::ImageRef;
use crate::lock::{ALL_PLATFORMS, Artifact, Kind, Lock, Package};
use crate::net::{Hash, HashAlgorithm};
use crate::spec::LoadedSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SbomFormat {
    /// CycloneDX 1.5 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
}

#[derive(Debug, Args)]
pub struct SbomArgs {
    #[command(flatten)]
    pub spec: crate::workspace::SpecArgs,
    /// The document format.
    #[arg(long, value_enum, default_value = "cyclonedx")]
    pub format: SbomFormat,
    /// Write the document to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: SbomArgs) -> Result<()> {
    let inputs = crate::workspace::load_inputs(&args.spec)?;
    if let Some(outdated) = inputs.lock.format_outdated(&inputs.lock_path) {
        anyhow::bail!(outdated);
    }
    let source_date_epoch = std::env::var("SOURCE_DATE_EPOCH").ok();
    let text = render(
        &inputs.spec,
        &inputs.lock,
        &inputs.lock_bytes,
        args.format,
        source_date_epoch.as_deref(),
    )?;
    match &args.out {
        Some(path) => {
            crate::lock::write_atomic(path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "{:>12} {} ({})",
                "Wrote",
                path.display(),
                match args.format {
                    SbomFormat::Cyclonedx => "CycloneDX 1.5",
                    SbomFormat::Spdx => "SPDX 2.3",
                }
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// The SBOM document's text (pretty JSON, LF, a final newline).
pub fn render(
    spec: &LoadedSpec,
    lock: &Lock,
    lock_bytes: &[u8],
    format: SbomFormat,
    source_date_epoch: Option<&str>,
) -> Result<String> {
    let model = Model::build(spec, lock, lock_bytes, source_date_epoch)?;
    let value = match format {
        SbomFormat::Cyclonedx => model.cyclonedx(),
        SbomFormat::Spdx => model.spdx(),
    };
    let mut text = serde_json::to_string_pretty(&value).expect("documents serialize");
    text.push('\n');
    Ok(text)
}

/// What a component is, for CycloneDX `type` and SPDX `primaryPackagePurpose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Container,
    Application,
    Library,
    File,
}

#[derive(Debug, Clone)]
struct Component {
    bom_ref: String,
    role: Role,
    name: String,
    version: String,
    purl: String,
    hashes: Vec<Hash>,
    urls: Vec<String>,
    properties: Vec<(String, String)>,
    /// The licence its upstream declares (conda records carry one), as published.
    license: Option<String>,
    /// SPDX relationship of the parent to this component.
    relation: &'static str,
}

/// A declared licence as SPDX says it: the text itself when it is a valid SPDX license
/// expression (`MIT`, `GPL-3.0-only WITH GCC-exception-3.1`), else `None` (free text such
/// as `BSD 3-Clause` is kept as a name in CycloneDX and a comment in SPDX).
fn spdx_expression(license: &str) -> Option<&str> {
    spdx::Expression::parse(license).ok().map(|_| license)
}

struct Model {
    image_name: String,
    image_version: String,
    lock_sha256: String,
    spec_hash: String,
    uuid: String,
    created: String,
    components: Vec<Component>,
    /// bom-ref → the bom-refs it depends on (or contains). The root is `image`.
    edges: BTreeMap<String, Vec<String>>,
}

const ROOT: &str = "image";

impl Model {
    fn build(
        spec: &LoadedSpec,
        lock: &Lock,
        lock_bytes: &[u8],
        source_date_epoch: Option<&str>,
    ) -> Result<Model> {
        let digest = Sha256::digest(lock_bytes);
        let image = &spec.spec.image;
        let distro = if spec
            .spec
            .base
            .image
            .get_ref()
            .to_ascii_lowercase()
            .contains("debian")
        {
            "debian"
        } else {
            "ubuntu"
        };
        let mut model = Model {
            image_name: image.name.clone(),
            image_version: image.tag.clone(),
            lock_sha256: hex::encode(digest),
            spec_hash: lock.spec_hash.to_string(),
            uuid: uuid_v8(&digest),
            created: created(lock, source_date_epoch)?,
            components: Vec::new(),
            edges: BTreeMap::new(),
        };
        let mut refs = BTreeSet::new();
        for artifact in &lock.artifacts {
            model.add_artifact(artifact, distro, &mut refs);
        }
        Ok(model)
    }

    fn push(&mut self, parent: &str, mut component: Component, refs: &mut BTreeSet<String>) {
        let base = component.bom_ref.clone();
        let mut n = 2;
        while !refs.insert(component.bom_ref.clone()) {
            component.bom_ref = format!("{base}#{n}");
            n += 1;
        }
        self.edges
            .entry(parent.to_string())
            .or_default()
            .push(component.bom_ref.clone());
        self.components.push(component);
    }

    fn add_artifact(&mut self, artifact: &Artifact, distro: &str, refs: &mut BTreeSet<String>) {
        let requested = (
            "modelbench:requested".to_string(),
            artifact.requested.to_string(),
        );
        let artifact_ref = format!("{}:{}", artifact.kind, artifact.name);
        match artifact.kind {
            // The emitted GitHub workflow's code runs in CI, not in the image this bill
            // of materials describes.
            Kind::Git => {}
            Kind::Oci => {
                let parsed = ImageRef::parse_normalized(&artifact.requested).ok();
                let (repository_url, name, tag) = match &parsed {
                    Some(r) => (
                        r.name(),
                        r.path.rsplit('/').next().unwrap_or(&r.path).to_string(),
                        r.tag.clone(),
                    ),
                    None => (artifact.name.to_string(), artifact.name.to_string(), None),
                };
                let name = name.to_ascii_lowercase();
                let purl_for = |digest: &str, arch: Option<&str>| {
                    let mut qualifiers = Vec::new();
                    if let Some(arch) = arch {
                        qualifiers.push(("arch", arch.to_string()));
                    }
                    qualifiers.push(("repository_url", repository_url.clone()));
                    if let Some(tag) = &tag {
                        qualifiers.push(("tag", tag.clone()));
                    }
                    purl("oci", &[], &name, Some(digest), &qualifiers)
                };
                let index_digest = artifact.digest.as_deref().unwrap_or_default();
                let mut properties = vec![requested.clone()];
                for image in &artifact.images {
                    properties.push(("modelbench:image".into(), image.to_string()));
                }
                let index = Component {
                    bom_ref: artifact_ref.clone(),
                    role: Role::Container,
                    name: name.clone(),
                    version: artifact.version.to_string(),
                    purl: purl_for(index_digest, None),
                    hashes: index_digest.parse::<Hash>().into_iter().collect(),
                    urls: Vec::new(),
                    properties,
                    license: None,
                    relation: "DESCENDANT_OF",
                };
                self.push(ROOT, index, refs);
                for (platform, pin) in &artifact.platform {
                    let arch = platform.split('/').nth(1);
                    let component = Component {
                        bom_ref: format!("{artifact_ref}:{platform}"),
                        role: Role::Container,
                        name: name.clone(),
                        version: artifact.version.to_string(),
                        purl: purl_for(&pin.hash.to_string(), arch),
                        hashes: vec![pin.hash.clone()],
                        urls: Vec::new(),
                        properties: vec![("modelbench:platform".into(), platform.to_string())],
                        license: None,
                        relation: "CONTAINS",
                    };
                    self.push(&artifact_ref, component, refs);
                }
            }
            kind @ (Kind::Apt
            | Kind::Conda
            | Kind::GithubRelease
            | Kind::Nodejs
            | Kind::Npm
            | Kind::Url) => {
                let several = artifact.platform.len() > 1;
                for (platform, pin) in &artifact.platform {
                    let mut qualifiers: Vec<(&str, String)> = Vec::new();
                    let (purl_text, role) =
                        match (kind, crate::lock::provenance::github_repo(artifact)) {
                            (Kind::GithubRelease, Some(repo)) => {
                                if several {
                                    qualifiers.push(("file_name", pin.file.to_string()));
                                }
                                let (owner, name) = repo.split_once('/').unwrap_or(("", repo));
                                (
                                    purl(
                                        "github",
                                        &[&owner.to_ascii_lowercase()],
                                        &name.to_ascii_lowercase(),
                                        Some(&artifact.version),
                                        &qualifiers,
                                    ),
                                    Role::Application,
                                )
                            }
                            (Kind::GithubRelease, None)
                            | (
                                Kind::Apt
                                | Kind::Conda
                                | Kind::Nodejs
                                | Kind::Npm
                                | Kind::Url
                                | Kind::Oci
                                | Kind::Git,
                                _,
                            ) => {
                                qualifiers.push((
                                    "checksum",
                                    format!("{}:{}", pin.hash.algorithm.name(), pin.hash.hex()),
                                ));
                                if let Some(url) = pin.urls.first() {
                                    qualifiers.push(("download_url", url.to_string()));
                                }
                                let role = if kind == Kind::Url {
                                    Role::File
                                } else {
                                    Role::Application
                                };
                                (
                                    purl(
                                        "generic",
                                        &[],
                                        &artifact.name,
                                        Some(&artifact.version),
                                        &qualifiers,
                                    ),
                                    role,
                                )
                            }
                        };
                    let mut properties = vec![requested.clone()];
                    if platform != ALL_PLATFORMS {
                        properties.push(("modelbench:platform".into(), platform.to_string()));
                    }
                    properties.push(("modelbench:file".into(), pin.file.to_string()));
                    let bom_ref = if several {
                        format!("{artifact_ref}:{platform}")
                    } else {
                        artifact_ref.clone()
                    };
                    let component = Component {
                        bom_ref,
                        role,
                        name: artifact.name.to_string(),
                        version: artifact.version.to_string(),
                        purl: purl_text,
                        hashes: vec![pin.hash.clone()],
                        urls: pin.urls.iter().map(ToString::to_string).collect(),
                        properties,
                        license: None,
                        relation: "CONTAINS",
                    };
                    self.push(ROOT, component, refs);
                }
                self.add_members(artifact, distro, refs);
            }
        }
    }

    /// Closure members: requested ones hang off the image, the others off their dependents.
    fn add_members(&mut self, artifact: &Artifact, distro: &str, refs: &mut BTreeSet<String>) {
        let member_ref = |p: &Package| {
            let mut r = format!(
                "{}:{}:{}:{}@{}",
                artifact.kind, artifact.name, p.platform, p.name, p.version
            );
            if let Some(path) = &p.path {
                r.push_str(&format!(":{path}"));
            }
            r
        };
        // First the components, then the edges (a dependent may come later in the list).
        let mut own: Vec<(String, &Package)> = Vec::new();
        for package in &artifact.packages {
            let component = Component {
                bom_ref: member_ref(package),
                role: Role::Library,
                name: package.name.to_string(),
                version: package.version.to_string(),
                purl: member_purl(artifact.kind, package, distro),
                hashes: vec![package.hash.clone()],
                urls: package.urls.iter().map(ToString::to_string).collect(),
                properties: {
                    let mut p = Vec::new();
                    if package.platform != ALL_PLATFORMS {
                        p.push((
                            "modelbench:platform".to_string(),
                            package.platform.to_string(),
                        ));
                    }
                    p.push(("modelbench:file".to_string(), package.file.to_string()));
                    p
                },
                license: package
                    .conda
                    .as_ref()
                    .and_then(|facts| facts.license.as_ref().map(ToString::to_string)),
                relation: "CONTAINS",
            };
            let mut component = component;
            let base = component.bom_ref.clone();
            let mut n = 2;
            while !refs.insert(component.bom_ref.clone()) {
                component.bom_ref = format!("{base}#{n}");
                n += 1;
            }
            own.push((component.bom_ref.clone(), package));
            self.components.push(component);
        }
        for (bom_ref, package) in &own {
            if package.requested || package.required_by.is_empty() {
                self.edges
                    .entry(ROOT.to_string())
                    .or_default()
                    .push(bom_ref.clone());
            }
            for by in &package.required_by {
                let same_platform = |p: &Package| {
                    p.platform == package.platform
                        || p.platform == ALL_PLATFORMS
                        || package.platform == ALL_PLATFORMS
                };
                let by_path: Vec<&String> = own
                    .iter()
                    .filter(|(_, p)| same_platform(p) && p.path.as_deref() == Some(by.as_str()))
                    .map(|(r, _)| r)
                    .collect();
                let parents = if by_path.is_empty() {
                    own.iter()
                        .filter(|(_, p)| same_platform(p) && p.name.as_str() == by.as_str())
                        .map(|(r, _)| r)
                        .collect()
                } else {
                    by_path
                };
                for parent in parents {
                    self.edges
                        .entry(parent.clone())
                        .or_default()
                        .push(bom_ref.clone());
                }
            }
        }
    }

    fn cyclonedx(&self) -> Value {
        let components: Vec<Value> = self
            .components
            .iter()
            .map(|c| {
                let mut v = json!({
                    "type": match c.role {
                        Role::Container => "container",
                        Role::Application => "application",
                        Role::Library => "library",
                        Role::File => "file",
                    },
                    "bom-ref": c.bom_ref,
                    "name": c.name,
                    "version": c.version,
                    "purl": c.purl,
                });
                if !c.hashes.is_empty() {
                    v["hashes"] = c
                        .hashes
                        .iter()
                        .map(|h| json!({"alg": cdx_alg(h.algorithm), "content": h.hex()}))
                        .collect();
                }
                if !c.urls.is_empty() {
                    v["externalReferences"] = c
                        .urls
                        .iter()
                        .map(|u| json!({"type": "distribution", "url": u}))
                        .collect();
                }
                if let Some(license) = &c.license {
                    v["licenses"] = match spdx_expression(license) {
                        Some(expression) => json!([{ "expression": expression }]),
                        None => json!([{ "license": { "name": license } }]),
                    };
                }
                if !c.properties.is_empty() {
                    v["properties"] = c
                        .properties
                        .iter()
                        .map(|(name, value)| json!({"name": name, "value": value}))
                        .collect();
                }
                v
            })
            .collect();
        let mut dependencies = vec![json!({
            "ref": ROOT,
            "dependsOn": unique(self.edges.get(ROOT).map(Vec::as_slice).unwrap_or(&[])),
        })];
        for c in &self.components {
            let depends = unique(self.edges.get(&c.bom_ref).map(Vec::as_slice).unwrap_or(&[]));
            dependencies.push(json!({"ref": c.bom_ref, "dependsOn": depends}));
        }
        json!({
            "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "serialNumber": format!("urn:uuid:{}", self.uuid),
            "version": 1,
            "metadata": {
                "timestamp": self.created,
                "tools": {
                    "components": [{
                        "type": "application",
                        "name": "modelbench",
                        "version": env!("CARGO_PKG_VERSION"),
                    }]
                },
                "component": {
                    "type": "container",
                    "bom-ref": ROOT,
                    "name": self.image_name,
                    "version": self.image_version,
                },
                "properties": [
                    {"name": "modelbench:lock-sha256", "value": self.lock_sha256},
                    {"name": "modelbench:spec-hash", "value": self.spec_hash},
                ],
            },
            "components": components,
            "dependencies": dependencies,
        })
    }

    fn spdx(&self) -> Value {
        let mut ids: BTreeMap<&str, String> = BTreeMap::new();
        let mut taken = BTreeSet::new();
        let mut id_for = |bom_ref: &str| {
            let mut id = format!("SPDXRef-{}", spdx_id_part(bom_ref));
            let base = id.clone();
            let mut n = 2;
            while !taken.insert(id.clone()) {
                id = format!("{base}-{n}");
                n += 1;
            }
            id
        };
        ids.insert(ROOT, id_for("Image"));
        for c in &self.components {
            ids.insert(&c.bom_ref, id_for(&c.bom_ref));
        }
        let mut packages = vec![json!({
            "SPDXID": ids[ROOT],
            "name": self.image_name,
            "versionInfo": self.image_version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "CONTAINER",
            "comment": format!(
                "The image modelbench builds from bench.lock (sha256:{}, spec-hash {}).",
                self.lock_sha256, self.spec_hash
            ),
        })];
        for c in &self.components {
            let mut v = json!({
                "SPDXID": ids[c.bom_ref.as_str()],
                "name": c.name,
                "versionInfo": c.version,
                "downloadLocation": c.urls.first().cloned().unwrap_or_else(|| "NOASSERTION".into()),
                "filesAnalyzed": false,
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "primaryPackagePurpose": match c.role {
                    Role::Container => "CONTAINER",
                    Role::Application => "APPLICATION",
                    Role::Library => "LIBRARY",
                    Role::File => "FILE",
                },
                "externalRefs": [{
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": c.purl,
                }],
            });
            if let Some(license) = &c.license {
                match spdx_expression(license) {
                    Some(expression) => v["licenseDeclared"] = json!(expression),
                    None => {
                        v["licenseComments"] =
                            json!(format!("The upstream declares the licence as: {license}"));
                    }
                }
            }
            if !c.hashes.is_empty() {
                v["checksums"] = c
                    .hashes
                    .iter()
                    .map(|h| json!({"algorithm": spdx_alg(h.algorithm), "checksumValue": h.hex()}))
                    .collect();
            }
            if !c.properties.is_empty() {
                let notes: Vec<String> = c
                    .properties
                    .iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect();
                v["comment"] = Value::String(notes.join("; "));
            }
            packages.push(v);
        }
        let mut relationships = vec![json!({
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": ids[ROOT],
        })];
        let by_ref: BTreeMap<&str, &Component> = self
            .components
            .iter()
            .map(|c| (c.bom_ref.as_str(), c))
            .collect();
        let mut parents: Vec<&str> = vec![ROOT];
        parents.extend(self.components.iter().map(|c| c.bom_ref.as_str()));
        for parent in parents {
            let mut seen = BTreeSet::new();
            for child in self.edges.get(parent).map(Vec::as_slice).unwrap_or(&[]) {
                if !seen.insert(child) {
                    continue;
                }
                let component = by_ref[child.as_str()];
                let relation = if parent == ROOT || component.role != Role::Library {
                    component.relation
                } else {
                    "DEPENDS_ON"
                };
                relationships.push(json!({
                    "spdxElementId": ids[parent],
                    "relationshipType": relation,
                    "relatedSpdxElement": ids[child.as_str()],
                }));
            }
        }
        json!({
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": format!("{}:{}", self.image_name, self.image_version),
            "documentNamespace": format!(
                "https://modelbench.invalid/spdxdocs/{}-{}-{}",
                self.image_name, self.image_version, self.uuid
            ),
            "creationInfo": {
                "created": self.created,
                "creators": [format!("Tool: modelbench-{}", env!("CARGO_PKG_VERSION"))],
                "comment": format!(
                    "Generated from bench.lock sha256:{}; the creation time is derived from the lock, not the clock.",
                    self.lock_sha256
                ),
            },
            "packages": packages,
            "relationships": relationships,
        })
    }
}

/// The refs in first-seen order, each once (CycloneDX `dependsOn` items are unique).
fn unique(refs: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    refs.iter()
        .filter(|r| seen.insert(r.as_str()))
        .cloned()
        .collect()
}

fn cdx_alg(algorithm: HashAlgorithm) -> &'static str {
    match algorithm {
        HashAlgorithm::Sha256 => "SHA-256",
        HashAlgorithm::Sha512 => "SHA-512",
    }
}

fn spdx_alg(algorithm: HashAlgorithm) -> &'static str {
    match algorithm {
        HashAlgorithm::Sha256 => "SHA256",
        HashAlgorithm::Sha512 => "SHA512",
    }
}

/// SPDX ids allow letters, digits, `.` and `-`.
fn spdx_id_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn member_purl(kind: Kind, package: &Package, distro: &str) -> String {
    match kind {
        Kind::Apt => {
            let qualifiers: Vec<(&str, String)> = package
                .arch
                .iter()
                .map(|arch| ("arch", arch.to_string()))
                .collect();
            purl(
                "deb",
                &[distro],
                &package.name,
                Some(&package.version),
                &qualifiers,
            )
        }
        Kind::Npm => {
            let (namespace, name) = match package.name.split_once('/') {
                Some((scope, name)) if scope.starts_with('@') => (Some(scope), name),
                _ => (None, package.name.as_str()),
            };
            purl(
                "npm",
                namespace.as_slice(),
                &name.to_ascii_lowercase(),
                Some(&package.version),
                &[],
            )
        }
        Kind::Conda => {
            let mut qualifiers = Vec::new();
            if let Some(build) = &package.build {
                qualifiers.push(("build", build.to_string()));
            }
            if let Some(subdir) = &package.subdir {
                qualifiers.push(("subdir", subdir.to_string()));
            }
            let kind = if package.file.ends_with(".conda") {
                Some("conda")
            } else if package.file.ends_with(".tar.bz2") {
                Some("tar.bz2")
            } else {
                None
            };
            if let Some(kind) = kind {
                qualifiers.push(("type", kind.to_string()));
            }
            purl(
                "conda",
                &[],
                &package.name,
                Some(&package.version),
                &qualifiers,
            )
        }
        // Only closures have members; a generic purl should one ever appear elsewhere.
        Kind::Oci | Kind::GithubRelease | Kind::Nodejs | Kind::Url | Kind::Git => {
            let mut qualifiers = vec![(
                "checksum",
                format!("{}:{}", package.hash.algorithm.name(), package.hash.hex()),
            )];
            if let Some(url) = package.urls.first() {
                qualifiers.push(("download_url", url.to_string()));
            }
            purl(
                "generic",
                &[],
                &package.name,
                Some(&package.version),
                &qualifiers,
            )
        }
    }
}

/// A canonical package URL (purl-spec; the form packageurl-python prints): segments
/// percent-encoded except `:`, qualifiers sorted by key with `:` and `/` left as they are,
/// empty values left out.
pub fn purl(
    kind: &str,
    namespace: &[&str],
    name: &str,
    version: Option<&str>,
    qualifiers: &[(&str, String)],
) -> String {
    let mut out = format!("pkg:{kind}/");
    for segment in namespace.iter().filter(|s| !s.is_empty()) {
        out.push_str(&encode(segment, ":"));
        out.push('/');
    }
    out.push_str(&encode(name, ":"));
    if let Some(version) = version.filter(|v| !v.is_empty()) {
        out.push('@');
        out.push_str(&encode(version, ":"));
    }
    let mut sorted: Vec<&(&str, String)> =
        qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    sorted.sort_by_key(|(k, _)| *k);
    for (i, (key, value)) in sorted.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        out.push_str(&encode(value, ":/"));
    }
    out
}

/// Percent-encode all but unreserved characters (and `also_safe`).
fn encode(text: &str, also_safe: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let safe = byte.is_ascii_alphanumeric()
            || b"-._~".contains(&byte)
            || also_safe.as_bytes().contains(&byte);
        if safe {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An RFC 9562 version-8 UUID from the first 16 bytes of a digest (the SBOM's serial
/// number is this of the lock's sha256).
pub fn uuid_v8(digest: &[u8]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The document's creation time: `SOURCE_DATE_EPOCH` when set, else the lock's own
/// (`Lock::source_date_epoch`: its newest release date, or 0); `YYYY-MM-DDTHH:MM:SSZ`.
fn created(lock: &Lock, source_date_epoch: Option<&str>) -> Result<String> {
    let seconds = match source_date_epoch.map(str::trim).filter(|s| !s.is_empty()) {
        Some(epoch) => epoch
            .parse::<i64>()
            .with_context(|| format!("SOURCE_DATE_EPOCH `{epoch}` is not a number of seconds"))?,
        None => lock.source_date_epoch(),
    };
    let time = chrono::DateTime::from_timestamp(seconds, 0)
        .with_context(|| format!("SOURCE_DATE_EPOCH `{seconds}` is out of range"))?;
    Ok(time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_follow_the_spec_examples() {
        assert_eq!(
            purl(
                "oci",
                &[],
                "debian",
                Some("sha256:244fd47e07d10"),
                &[
                    ("tag", "latest".into()),
                    ("repository_url", "docker.io/library/debian".into()),
                    ("arch", "amd64".into()),
                ],
            ),
            "pkg:oci/debian@sha256:244fd47e07d10?arch=amd64&repository_url=docker.io/library/debian&tag=latest"
        );
        assert_eq!(
            purl("npm", &["@angular"], "animation", Some("12.3.1"), &[]),
            "pkg:npm/%40angular/animation@12.3.1"
        );
        assert_eq!(
            purl(
                "deb",
                &["debian"],
                "curl",
                Some("7.50.3-1"),
                &[("arch", "i386".into())]
            ),
            "pkg:deb/debian/curl@7.50.3-1?arch=i386"
        );
        assert_eq!(
            purl("deb", &["ubuntu"], "git", Some("1:2.43.0-1ubuntu7"), &[]),
            "pkg:deb/ubuntu/git@1:2.43.0-1ubuntu7"
        );
        assert_eq!(
            purl("github", &["watfaq"], "clash-rs", Some("v0.10.8"), &[]),
            "pkg:github/watfaq/clash-rs@v0.10.8"
        );
    }

    #[test]
    fn declared_licences_are_used_as_spdx_expressions_only_when_they_are_ones() {
        assert_eq!(super::spdx_expression("MIT"), Some("MIT"));
        assert_eq!(
            super::spdx_expression("GPL-3.0-only WITH GCC-exception-3.1"),
            Some("GPL-3.0-only WITH GCC-exception-3.1")
        );
        assert_eq!(
            super::spdx_expression("Apache-2.0 AND BSD-3-Clause"),
            Some("Apache-2.0 AND BSD-3-Clause")
        );
        assert_eq!(super::spdx_expression("BSD 3-Clause"), None);
        assert_eq!(super::spdx_expression("Proprietary"), None);
    }

    #[test]
    fn uuid_is_version_8() {
        let uuid = uuid_v8(&[0xff; 32]);
        assert_eq!(uuid, "ffffffff-ffff-8fff-bfff-ffffffffffff");
    }
}
