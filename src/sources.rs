//! The sources file (`--sources FILE` or `MODELBENCH_SOURCES`): replaces upstream base
//! URLs at resolve time without editing the spec. A user behind a corporate mirror and a
//! test on loopback use the same mechanism.
//!
//! ```toml
//! [upstream]                      # named upstreams → base URL
//! github-api = "https://ghe.example.com/api/v3"
//! nodejs = "https://npmmirror.com/mirrors/node"
//!
//! [registry]                      # registry host → base URL of its /v2/ API
//! "docker.io" = "https://registry.example.com"
//! ```
//!
//! A `http://` base URL is allowed here: naming it in a sources file is the explicit
//! opt-in. Hashes are enforced whatever the scheme.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Upstreams a sources file may name, with their canonical base URLs.
pub const UPSTREAMS: &[(&str, &str)] = &[
    // conda channels live below it: `<conda>/conda-forge/<subdir>/repodata.json`
    ("conda", "https://conda.anaconda.org"),
    // git repositories on GitHub (`[workflow]` pins): `<github>/<owner>/<repo>`
    ("github", "https://github.com"),
    ("github-api", "https://api.github.com"),
    ("github-raw", "https://raw.githubusercontent.com"),
    ("nodejs", "https://nodejs.org/dist"),
    ("npm", "https://registry.npmjs.org"),
    ("pypi", "https://pypi.org"),
];

#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    #[error("cannot read sources file `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid sources file `{path}`: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    #[serde(default)]
    upstream: BTreeMap<String, String>,
    #[serde(default)]
    registry: BTreeMap<String, String>,
}

impl Sources {
    pub fn load(path: &Path) -> Result<Sources, SourcesError> {
        let text = std::fs::read_to_string(path).map_err(|source| SourcesError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let sources: Sources = toml::from_str(&text).map_err(|err| SourcesError::Invalid {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
        for name in sources.upstream.keys() {
            if !UPSTREAMS.iter().any(|(known, _)| known == name) {
                return Err(SourcesError::Invalid {
                    path: path.to_path_buf(),
                    message: format!(
                        "unknown upstream `{name}`: known are {}",
                        UPSTREAMS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        for (name, base) in sources.upstream.iter().chain(&sources.registry) {
            let parsed = url::Url::parse(base).map_err(|err| SourcesError::Invalid {
                path: path.to_path_buf(),
                message: format!("`{name}` = `{base}` is not a URL: {err}"),
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(SourcesError::Invalid {
                    path: path.to_path_buf(),
                    message: format!("`{name}` = `{base}`: only http and https are supported"),
                });
            }
        }
        Ok(sources)
    }

    /// `host[:port]` of every base URL given as plain `http://`: naming one here is the
    /// explicit opt-in to http for that host.
    pub fn insecure_hosts(&self) -> Vec<String> {
        self.upstream
            .values()
            .chain(self.registry.values())
            .filter_map(|base| crate::net::plain_http_authority(base))
            .collect()
    }

    /// `host[:port]` of every base URL this file names (lowercase).
    pub fn hosts(&self) -> Vec<String> {
        self.upstream
            .values()
            .chain(self.registry.values())
            .filter_map(|base| url::Url::parse(base).ok())
            .filter_map(|url| {
                let host = url.host_str()?.to_ascii_lowercase();
                Some(match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                })
            })
            .collect()
    }

    /// The one loader behind every command's `--sources FILE` (clap fills it from
    /// `MODELBENCH_SOURCES` too): the file at `path`, or the canonical upstreams when
    /// none is given.
    pub fn load_optional(path: Option<&Path>) -> Result<Sources, SourcesError> {
        match path {
            Some(path) => Sources::load(path),
            None => Ok(Sources::default()),
        }
    }

    /// Base URL of a named upstream, without a trailing slash.
    pub fn upstream(&self, name: &str) -> String {
        let base = self
            .upstream
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| {
                UPSTREAMS
                    .iter()
                    .find(|(known, _)| *known == name)
                    .map(|(_, url)| *url)
                    .unwrap_or_else(|| panic!("`{name}` is not a known upstream"))
            });
        base.trim_end_matches('/').to_string()
    }

    /// Base URL of a registry's API for a registry host as written in image references.
    pub fn registry(&self, host: &str) -> String {
        match self.registry.get(host) {
            Some(base) => base.trim_end_matches('/').to_string(),
            None if host == "docker.io" => "https://registry-1.docker.io".into(),
            None => format!("https://{host}"),
        }
    }
}
