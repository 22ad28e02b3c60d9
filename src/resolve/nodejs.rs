//! `nodejs`: `lts`, a major (`22`), `lts/<codename>` or an exact version → a release from
//! the dist `index.json` and, per platform, its `.tar.gz` with the sha256 from that
//! release's `SHASUMS256.txt`. The tarball is `.tar.gz`, not `.tar.xz`: every base image
//! can unpack gzip, not every one has xz.

use serde::{Deserialize, Serialize};

use super::{Context, Problem, sums};
use crate::lock::{ArtifactWire, PinWire};
use crate::net::DOCUMENT_LIMIT;
use crate::platform::Platform;

#[derive(Debug, Clone, Serialize)]
pub struct NodeRequest {
    pub version: String,
    /// A binary mirror with the dist layout (npmmirror), tried before the canonical dist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeConstraint {
    /// The newest release of any LTS line.
    Lts,
    /// The newest release of the LTS line with this codename (`lts/jod`).
    LtsNamed(String),
    /// The newest release of a major line.
    Major(u64),
    /// Exactly this version.
    Exact(semver::Version),
}

impl NodeConstraint {
    pub fn parse(text: &str) -> Result<NodeConstraint, String> {
        let text = text.trim();
        let lower = text.to_ascii_lowercase();
        if lower == "lts" || lower == "lts/*" {
            return Ok(NodeConstraint::Lts);
        }
        if let Some(codename) = lower.strip_prefix("lts/") {
            return Ok(NodeConstraint::LtsNamed(codename.to_string()));
        }
        let bare = text.strip_prefix('v').unwrap_or(text);
        if let Ok(major) = bare.parse::<u64>() {
            return Ok(NodeConstraint::Major(major));
        }
        semver::Version::parse(bare)
            .map(NodeConstraint::Exact)
            .map_err(|_| format!("`{text}` is not `lts`, `lts/<codename>`, a major (`22`) or an exact version (`22.11.0`)"))
    }

    fn matches(&self, release: &DistRelease) -> bool {
        let Ok(version) = release.semver() else {
            return false;
        };
        match self {
            NodeConstraint::Lts => release.lts_name().is_some(),
            NodeConstraint::LtsNamed(name) => release
                .lts_name()
                .is_some_and(|n| n.eq_ignore_ascii_case(name)),
            NodeConstraint::Major(major) => version.major == *major,
            NodeConstraint::Exact(exact) => &version == exact,
        }
    }
}

/// One entry of `index.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct DistRelease {
    pub version: String,
    pub date: Option<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub lts: Lts,
}

/// `"lts": false` or `"lts": "Jod"`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub enum Lts {
    #[default]
    None,
    Flag(bool),
    Name(String),
}

impl DistRelease {
    fn semver(&self) -> Result<semver::Version, semver::Error> {
        semver::Version::parse(self.version.trim_start_matches('v'))
    }

    fn lts_name(&self) -> Option<&str> {
        match &self.lts {
            Lts::Name(name) => Some(name),
            _ => None,
        }
    }
}

/// The dist name of a platform (`linux-x64`), as in file names and `files[]`.
pub fn dist_platform(platform: Platform) -> &'static str {
    match platform {
        Platform::LinuxAmd64 => "linux-x64",
        Platform::LinuxArm64 => "linux-arm64",
    }
}

pub async fn resolve(
    ctx: &Context,
    _name: &str,
    request: &NodeRequest,
) -> Result<ArtifactWire, Problem> {
    let constraint = NodeConstraint::parse(&request.version).map_err(Problem::msg)?;
    let dist = ctx.sources.upstream("nodejs");
    let cache = ctx
        .cache
        .as_deref()
        .map(|root| super::revalidate::DocumentCache::new(root, "nodejs"));
    let index: Vec<DistRelease> = super::revalidate::get_ok(
        &ctx.client,
        cache.as_ref(),
        &format!("{dist}/index.json"),
        &[],
        DOCUMENT_LIMIT,
        |fetched| fetched.json(),
    )
    .await?;
    let release = index
        .iter()
        .filter(|r| constraint.matches(r))
        .max_by_key(|r| r.semver().ok())
        .ok_or_else(|| {
            Problem::msg(format!(
                "no Node.js release in {dist}/index.json matches `{}`",
                request.version
            ))
        })?;
    let version = format!("v{}", release.semver().expect("matched releases parse"));

    let sums_url = format!("{dist}/{version}/SHASUMS256.txt");
    let sums_text = super::revalidate::get_ok(
        &ctx.client,
        cache.as_ref(),
        &sums_url,
        &[],
        1024 * 1024,
        |fetched| Ok(fetched.text()),
    )
    .await?;
    let mut artifact = super::artifact(super::Kind::Nodejs, version.clone());
    artifact.published = release.date.clone();
    artifact.release_url = Some(format!("https://nodejs.org/en/blog/release/{version}"));
    for platform in &ctx.platforms {
        let slug = dist_platform(*platform);
        if !release.files.is_empty() && !release.files.iter().any(|f| f == slug) {
            return Err(Problem::msg(format!(
                "Node.js {version} has no {slug} build (it has: {})",
                release.files.join(", ")
            )));
        }
        let file = format!("node-{version}-{slug}.tar.gz");
        let hash = sums::lookup(&sums_text, &file)
            .ok_or_else(|| Problem::msg(format!("{sums_url} has no entry for `{file}`")))?;
        let mut urls = Vec::new();
        if let Some(mirror) = &request.mirror {
            urls.push(format!("{}/{version}/{file}", mirror.trim_end_matches('/')));
        }
        urls.push(format!("{dist}/{version}/{file}"));
        artifact.platform.insert(
            platform.to_string(),
            PinWire {
                file,
                urls,
                hash,
                size: None,
            },
        );
    }
    Ok(artifact)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(version: &str, lts: Lts) -> DistRelease {
        DistRelease {
            version: version.into(),
            date: None,
            files: vec!["linux-x64".into()],
            lts,
        }
    }

    #[test]
    fn constraints() {
        assert_eq!(NodeConstraint::parse("lts").unwrap(), NodeConstraint::Lts);
        assert_eq!(
            NodeConstraint::parse("LTS/Jod").unwrap(),
            NodeConstraint::LtsNamed("jod".into())
        );
        assert_eq!(
            NodeConstraint::parse("22").unwrap(),
            NodeConstraint::Major(22)
        );
        assert_eq!(
            NodeConstraint::parse("v22").unwrap(),
            NodeConstraint::Major(22)
        );
        assert!(matches!(
            NodeConstraint::parse("22.11.0").unwrap(),
            NodeConstraint::Exact(_)
        ));
        assert!(NodeConstraint::parse("latest-ish").is_err());
    }

    #[test]
    fn lts_skips_current_lines() {
        let current = release("v25.1.0", Lts::Flag(false));
        let lts = release("v24.21.0", Lts::Name("Krypton".into()));
        assert!(!NodeConstraint::Lts.matches(&current));
        assert!(NodeConstraint::Lts.matches(&lts));
        assert!(NodeConstraint::LtsNamed("krypton".into()).matches(&lts));
        assert!(NodeConstraint::Major(25).matches(&current));
    }
}
