//! Which hosts a lock may send the build to: those the spec names (its URLs, mirrors and
//! archives, the base image's registry), the sources file's, and each kind's canonical
//! upstream. A lock edited in a pull request can be resealed by anyone (its checksums are
//! typo guards), so a URL on any other host is refused by `lock --check`, `emit` and
//! `verify` before anything is fetched from it.
//!
//! Only what the build fetches is checked: `release-url` is a page for humans (its grammar
//! is checked when the lock is read). An apt member's snapshot URL comes from the
//! archive's signed `Release` (`Snapshots:`), which cannot be checked offline: it is
//! allowed when it is `<base>/<timestamp>/` plus the pool path of one of the member's
//! URLs on a named host.
//!
//! Loopback hosts are always allowed: they are the building machine itself, never a
//! server the lock's editor controls (and the loopback test world lives there).

use std::collections::BTreeSet;

use super::{Detail, Plan};
use crate::image_ref::ImageRef;
use crate::lock::Lock;
use crate::lock::values::escape_for_terminal;
use crate::sources::{Sources, UPSTREAMS};

/// Hosts every lock may use besides the spec's: where the canonical upstreams serve
/// their files (GitHub release downloads live on github.com, not api.github.com).
const CANONICAL_HOSTS: &[&str] = &[
    "github.com",
    "objects.githubusercontent.com",
    "release-assets.githubusercontent.com",
    "registry-1.docker.io",
    "docker.io",
];

/// One reason per URL or image of `lock` on a host nothing names; empty when all are
/// named.
pub fn unnamed_hosts(plan: &Plan, sources: &Sources, lock: &Lock) -> Vec<String> {
    let named = named_hosts(plan, sources);
    let allowed = |host: &str| named.contains(host) || is_loopback(host);
    let mut problems = Vec::new();
    for artifact in &lock.artifacts {
        let pins = artifact
            .platform
            .values()
            .flat_map(|pin| &pin.urls)
            .chain(artifact.packages.iter().flat_map(|p| &p.urls))
            .filter(|url| !is_apt_snapshot(artifact, url))
            .map(|url| (url.as_str(), host_of_url(url)));
        let images = artifact
            .images
            .iter()
            .map(|image| (image.as_str(), image_host(image)));
        for (value, host) in pins.chain(images) {
            if !host.as_deref().is_some_and(allowed) {
                problems.push(format!(
                    "{} `{}` points at host `{}`, which neither the spec, the sources file nor a known upstream names: `{}`",
                    artifact.kind,
                    escape_for_terminal(&artifact.name),
                    escape_for_terminal(host.as_deref().unwrap_or("")),
                    escape_for_terminal(value)
                ));
            }
        }
    }
    problems
}

/// Whether `url` is the snapshot form of another URL of the same apt member:
/// `…/YYYYMMDDTHHMMSSZ/pool/…` with the pool path of one of its URLs that is not itself a
/// snapshot URL (those are host-checked, so the pair stands on a named host).
fn is_apt_snapshot(artifact: &crate::lock::Artifact, url: &str) -> bool {
    if artifact.kind != crate::lock::Kind::Apt {
        return false;
    }
    let Some(pool) = snapshot_pool_path(url) else {
        return false;
    };
    let suffix = format!("/pool/{pool}");
    artifact.packages.iter().any(|member| {
        member
            .urls
            .iter()
            .any(|url| url.ends_with(&suffix) && snapshot_pool_path(url).is_none())
    })
}

/// The pool path of `…/YYYYMMDDTHHMMSSZ/pool/<path>`.
fn snapshot_pool_path(url: &str) -> Option<&str> {
    let (before, pool) = url.split_once("/pool/")?;
    let stamp = before.rsplit('/').next()?.as_bytes();
    let digits = |range: std::ops::Range<usize>| stamp[range].iter().all(u8::is_ascii_digit);
    let is_stamp =
        stamp.len() == 16 && stamp[8] == b'T' && stamp[15] == b'Z' && digits(0..8) && digits(9..15);
    is_stamp.then_some(pool)
}

/// Every `host[:port]` the spec (through its plan) and the sources file name.
fn named_hosts(plan: &Plan, sources: &Sources) -> BTreeSet<String> {
    let mut hosts: BTreeSet<String> = CANONICAL_HOSTS.iter().map(|h| h.to_string()).collect();
    for (name, canonical) in UPSTREAMS {
        hosts.extend(host_of_url(canonical));
        hosts.extend(host_of_url(&sources.upstream(name)));
    }
    hosts.extend(sources.hosts());
    for request in &plan.requests {
        // Every URL anywhere in the request: spec URLs, mirrors, apt archives.
        let value = serde_json::to_value(&request.detail).unwrap_or_default();
        collect_url_hosts(&value, &mut hosts);
        if let Detail::Oci(oci) = &request.detail {
            for image in std::iter::once(&oci.image).chain(&oci.mirror) {
                if let Ok(reference) = ImageRef::parse_docker_ref(image) {
                    let host = reference.registry_host();
                    hosts.extend(host_of_url(&sources.registry(&host)));
                    hosts.extend(reference.domain.clone());
                    hosts.insert(host);
                } else {
                    // A mirror given as a host or URL rather than a reference.
                    hosts.extend(host_of_url(image));
                    hosts.insert(image.trim_end_matches('/').to_ascii_lowercase());
                }
            }
        }
    }
    hosts
}

fn collect_url_hosts(value: &serde_json::Value, hosts: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::String(text) => hosts.extend(host_of_url(text)),
        serde_json::Value::Array(items) => {
            items.iter().for_each(|item| collect_url_hosts(item, hosts))
        }
        serde_json::Value::Object(map) => {
            map.values().for_each(|item| collect_url_hosts(item, hosts))
        }
        _ => {}
    }
}

/// `host[:port]`, lowercase, of `scheme://[user@]host[:port]/…`; lenient, so a URL
/// template from the spec (`https://mirror.example/{url}`) names its host too.
fn host_of_url(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("://")?;
    let authority = rest.split(['/', '?', '#', '{']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn image_host(image: &str) -> Option<String> {
    ImageRef::parse(image)
        .ok()
        .and_then(|reference| reference.domain)
        .map(|domain| domain.to_ascii_lowercase())
}

fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_urls_and_templates() {
        assert_eq!(
            host_of_url("https://User:pw@Mirror.example:8443/x").as_deref(),
            Some("mirror.example:8443")
        );
        assert_eq!(
            host_of_url("https://gh.example/{url}").as_deref(),
            Some("gh.example")
        );
        assert_eq!(host_of_url("not a url"), None);
        assert!(is_loopback("127.0.0.1:8080"));
        assert!(is_loopback("[::1]:80"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("evil.example"));
        assert!(!is_loopback("127.0.0.1.evil.example"));
        assert_eq!(
            snapshot_pool_path("http://snap.example/d/20260711T161637Z/pool/main/h/hello.deb"),
            Some("main/h/hello.deb")
        );
        assert_eq!(
            snapshot_pool_path("http://archive.example/d/pool/main/h/hello.deb"),
            None
        );
    }
}
