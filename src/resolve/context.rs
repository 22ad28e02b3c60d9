//! What a resolver may use during one run: the one client, the upstream base URLs, the
//! platforms, shared per-run state, and where to report progress.

use crate::net::Client;
use crate::platform::Platform;
use crate::sources::Sources;

use super::plan::apt_archives;
use super::request::Request;
use super::{apt, conda, npm};

/// Everything a resolver may use: the one client, the upstream base URLs, the platforms.
pub struct Context {
    pub client: Client,
    pub sources: Sources,
    pub platforms: Vec<Platform>,
    pub github_token: Option<String>,
    /// Told about each resolution as it finishes (progress output); none by default.
    pub reporter: Option<Box<dyn Reporter>>,
    /// npm documents of this run, shared by every npm tool (each fetched once).
    pub npm_documents: npm::SharedDocuments,
    /// conda repodata and base-image glibc of this run, shared by every conda tool.
    pub conda_indexes: conda::SharedIndexes,
    /// Base image layers scanned in this run (apt's and conda's readers share them).
    pub layer_scans: apt::base_status::LayerScans,
    /// Where answers that never go stale are kept between runs (what each layer of a
    /// base says about its dpkg status, apt indices by hash and revalidated `InRelease`
    /// files); `None`: nothing is kept. The CLI sets
    /// [`super::cache::user_cache_dir`]; tests and library callers choose.
    pub cache: Option<std::path::PathBuf>,
}

/// Progress of a run, for the terminal or a log. Called from the resolving tasks.
pub trait Reporter: Send + Sync {
    /// These requests need the network.
    fn started(&self, requests: &[&Request]);
    /// One finished; `version` is `None` when it failed.
    fn finished(&self, request: &Request, version: Option<&str>);
}

impl Context {
    /// The context for resolving `spec`: one client (offline or not, http allowed only
    /// where the sources file names it), the spec's platforms, `GITHUB_TOKEN` if set.
    pub fn new(
        spec: &crate::spec::Spec,
        sources: Sources,
        offline: bool,
        github_token: Option<String>,
    ) -> Context {
        // Signed apt archives may be plain http (Ubuntu's own are): their Release is
        // signature-checked and every index and .deb hash-checked against it. Unsigned
        // (`trusted`) archives get no such allowance.
        let mut insecure_hosts = sources.insecure_hosts();
        for archive in apt_archives(spec).iter().filter(|a| !a.trusted) {
            insecure_hosts.extend(
                archive
                    .uris
                    .iter()
                    .filter_map(|uri| crate::net::plain_http_authority(uri)),
            );
        }
        let platforms = spec
            .image
            .platform_names()
            .iter()
            .map(|p| Platform::parse(p).expect("validated with the spec"))
            .collect();
        Context {
            github_token,
            ..Context::with_client(Client::new(offline, insecure_hosts), sources, platforms)
        }
    }

    /// A context around a given client, for `platforms`: no token, no reporter, no cache
    /// directory, and this run's shared state fresh (what tests, benchmarks and library
    /// callers start from; set `cache` to keep answers in a directory of their own).
    pub fn with_client(client: Client, sources: Sources, platforms: Vec<Platform>) -> Context {
        Context {
            client,
            sources,
            platforms,
            github_token: None,
            reporter: None,
            npm_documents: npm::SharedDocuments::default(),
            conda_indexes: conda::SharedIndexes::default(),
            layer_scans: apt::base_status::LayerScans::default(),
            cache: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Spec;

    #[test]
    fn signed_apt_archives_may_be_plain_http_nothing_else() {
        let spec: Spec = toml::from_str(
            "[image]\nname = \"x\"\ntag = \"t\"\nplatforms = [\"linux/amd64\"]\n[base]\nimage = \"ubuntu:24.04\"\n",
        )
        .unwrap();
        let ctx = Context::new(&spec, Sources::default(), true, None);
        assert!(
            ctx.client
                .allows_plain_http("http://archive.ubuntu.com/ubuntu/dists/noble/InRelease")
        );
        assert!(
            ctx.client
                .allows_plain_http("http://security.ubuntu.com/ubuntu/pool/x.deb")
        );
        assert!(!ctx.client.allows_plain_http("http://api.github.com/repos"));
        assert!(!ctx.client.allows_plain_http("http://example.com/x"));
    }
}
