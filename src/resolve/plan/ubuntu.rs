//! The apt archives a spec without `[[apt.archives]]` gets: Ubuntu noble, the release the
//! supported CUDA base images are built on. Every Ubuntu host, suite and component
//! modelbench knows is named here and nowhere else.

use crate::resolve::apt;

/// Ubuntu's release the defaults are for.
const SUITES: [&str; 3] = ["noble", "noble-updates", "noble-backports"];
const SECURITY_SUITES: [&str; 1] = ["noble-security"];
const COMPONENTS: [&str; 4] = ["main", "restricted", "universe", "multiverse"];

/// Where one architecture's packages come from.
struct Archive {
    arch: &'static str,
    /// The canonical archive (plain http: its `Release` is signature-checked).
    canonical: &'static str,
    security: &'static str,
    /// Ubuntu's snapshot service for the same archive.
    snapshot: &'static str,
}

/// amd64 lives on archive/security.ubuntu.com, every other architecture on ports.
const ARCHIVES: [Archive; 2] = [
    Archive {
        arch: "amd64",
        canonical: "http://archive.ubuntu.com/ubuntu",
        security: "http://security.ubuntu.com/ubuntu",
        snapshot: "https://snapshot.ubuntu.com/ubuntu",
    },
    Archive {
        arch: "arm64",
        canonical: "http://ports.ubuntu.com/ubuntu-ports",
        security: "http://ports.ubuntu.com/ubuntu-ports",
        snapshot: "https://snapshot.ubuntu.com/ubuntu-ports",
    },
];

/// Ubuntu noble per architecture, checked with `keyring`: the `[mirrors] apt` mirror
/// (`(ubuntu, ports)` base URLs) first, then the canonical archive; security updates from
/// the security archive only.
pub fn archives(mirror: Option<&(String, String)>, keyring: &str) -> Vec<apt::Archive> {
    let archive = |uris: Vec<String>, suites: &[&str], arch: &str, snapshot: &str| apt::Archive {
        uris,
        suites: suites.iter().map(|s| s.to_string()).collect(),
        components: COMPONENTS.map(String::from).to_vec(),
        signed_by: vec![keyring.to_string()],
        trusted: false,
        architectures: vec![arch.to_string()],
        snapshot: Some(apt::Snapshot {
            base: Some(snapshot.to_string()),
            timestamp: None,
        }),
        priority: None,
    };
    let mut archives = Vec::new();
    for default in &ARCHIVES {
        let mut uris: Vec<String> = mirror
            .map(|(ubuntu, ports)| {
                if default.arch == "amd64" {
                    ubuntu
                } else {
                    ports
                }
            })
            .map(|m| m.trim_end_matches('/').to_string())
            .into_iter()
            .collect();
        uris.push(default.canonical.to_string());
        archives.push(archive(uris, &SUITES, default.arch, default.snapshot));
        archives.push(archive(
            vec![default.security.to_string()],
            &SECURITY_SUITES,
            default.arch,
            default.snapshot,
        ));
    }
    archives
}
