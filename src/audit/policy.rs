//! What the audit proxy lets through: the lock's URLs (plain http, checked whole) and the
//! hosts they name (https, checked per host, since a tunnel hides the path).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use url::Url;

use crate::lock::Lock;

/// The allowlist of one audit, built from a lock (and `--allow-host`).
#[derive(Debug, Default, Clone)]
pub struct Policy {
    /// Every URL of the lock, normalized by [`normalize`].
    urls: BTreeSet<String>,
    /// `(host, port)` of every locked URL, and why it is allowed.
    hosts: BTreeMap<(String, u16), HostReason>,
}

/// Why a tunnel to a host is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostReason {
    /// Some locked URL names this host and port.
    Locked,
    /// Named with `--allow-host` (a redirect target of a locked URL, typically).
    Allowed,
}

/// The proxy's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A plain-http `GET`/`HEAD` of a URL the lock names.
    LockedUrl,
    /// A `CONNECT` to a host and port that a locked URL names.
    LockedHost,
    /// A `CONNECT` to a host named with `--allow-host`.
    AllowedHost,
    /// Anything else, with the reason shown in the log and the report.
    Refused(String),
}

impl Verdict {
    pub fn is_refused(&self) -> bool {
        matches!(self, Verdict::Refused(_))
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::LockedUrl => f.write_str("allowed: locked URL"),
            Verdict::LockedHost => f.write_str("allowed: tunnel to a locked host"),
            Verdict::AllowedHost => f.write_str("allowed: tunnel to an --allow-host host"),
            Verdict::Refused(why) => write!(f, "REFUSED: {why}"),
        }
    }
}

/// The form URLs are compared in: parsed and re-serialized (so `HTTP://Host:80/a` and
/// `http://host/a` are one URL), without a fragment (never sent to a server), and with
/// escapes of printable characters that need none decoded (apt asks for
/// `libstdc%2b%2b6_…deb` where the lock says `libstdc++6_…deb`).
pub fn normalize(url: &str) -> Option<String> {
    let mut url = Url::parse(url).ok()?;
    url.set_fragment(None);
    // (Serialized, the first `?` starts the query: one in the path is escaped.)
    Some(match url.as_str().split_once('?') {
        Some((path, query)) => format!(
            "{}?{}",
            decode_needless_escapes(path, b"/?#%"),
            decode_needless_escapes(query, b"/?#%&=+;")
        ),
        None => decode_needless_escapes(url.as_str(), b"/?#%"),
    })
}

/// `%XX` → the character, for printable ASCII other than `keep` and space (decoding
/// those could change what the URL means: `+` is a space in a query, not in a path);
/// other escapes stay, uppercased.
fn decode_needless_escapes(text: &str, keep: &[u8]) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            if byte.is_ascii_graphic() && !keep.contains(&byte) {
                out.push(byte as char);
            } else {
                // Kept, in one case: `%2f` and `%2F` are the same escape.
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
            continue;
        }
        // Multi-byte characters were escaped by the URL parser: the text is ASCII here,
        // but step by character to stay correct if it ever is not.
        let c = text[i..].chars().next().expect("i is a char boundary");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// `(host, port)` of a URL, the port defaulted by scheme; the host lowercased and without
/// IPv6 brackets.
fn host_port(url: &Url) -> Option<(String, u16)> {
    let host = match url.host()? {
        url::Host::Domain(d) => d.to_ascii_lowercase(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    };
    Some((host, url.port_or_known_default()?))
}

/// Split a `CONNECT` authority (`host:port`, `[v6]:port`) into a lowercased host and port.
pub fn parse_authority(authority: &str) -> Option<(String, u16)> {
    let (host, port) = authority.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(['/', ' ', '@']) {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

impl Policy {
    /// Every URL the lock names: each pin's and each closure member's `urls`.
    pub fn from_lock(lock: &Lock) -> Policy {
        let mut policy = Policy::default();
        for artifact in &lock.artifacts {
            let pins = artifact.platform.values().map(|pin| &pin.urls);
            let members = artifact.packages.iter().map(|package| &package.urls);
            for url in pins.chain(members).flatten() {
                policy.add_url(url);
            }
        }
        policy
    }

    fn add_url(&mut self, url: &str) {
        let Ok(parsed) = Url::parse(url) else {
            return;
        };
        if let Some(key) = host_port(&parsed) {
            self.hosts.entry(key).or_insert(HostReason::Locked);
        }
        if let Some(normal) = normalize(url) {
            self.urls.insert(normal);
        }
    }

    /// Also allow tunnels to `host[:port]` (port 443 when not given).
    pub fn allow_host(&mut self, host_and_port: &str) -> Result<(), String> {
        let key = if host_and_port.contains(':') && !host_and_port.ends_with(']') {
            parse_authority(host_and_port)
        } else {
            parse_authority(&format!("{host_and_port}:443"))
        }
        .ok_or_else(|| format!("`--allow-host {host_and_port}`: expected HOST or HOST:PORT"))?;
        self.hosts.entry(key).or_insert(HostReason::Allowed);
        Ok(())
    }

    /// How many distinct URLs and hosts are allowed.
    pub fn counts(&self) -> (usize, usize) {
        (self.urls.len(), self.hosts.len())
    }

    /// A plain-http request for an absolute URL.
    pub fn check_url(&self, method: &str, url: &str) -> Verdict {
        let Ok(parsed) = Url::parse(url) else {
            return Verdict::Refused("not an absolute URL (this is a forward proxy)".into());
        };
        if parsed.scheme() != "http" {
            return Verdict::Refused(format!(
                "`{}` URL without CONNECT: only plain-http URLs are forwarded as requests",
                parsed.scheme()
            ));
        }
        if method != "GET" && method != "HEAD" {
            return Verdict::Refused(format!("method {method}: only GET and HEAD are forwarded"));
        }
        match normalize(url) {
            Some(normal) if self.urls.contains(&normal) => Verdict::LockedUrl,
            _ => Verdict::Refused("not a locked URL".into()),
        }
    }

    /// A `CONNECT host:port` tunnel.
    pub fn check_connect(&self, authority: &str) -> Verdict {
        let Some(key) = parse_authority(authority) else {
            return Verdict::Refused("malformed CONNECT authority (expected host:port)".into());
        };
        match self.hosts.get(&key) {
            Some(HostReason::Locked) => Verdict::LockedHost,
            Some(HostReason::Allowed) => Verdict::AllowedHost,
            None => Verdict::Refused("no locked URL names this host and port".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(urls: &[&str]) -> Policy {
        let mut policy = Policy::default();
        for url in urls {
            policy.add_url(url);
        }
        policy
    }

    #[test]
    fn locked_url_passes_in_any_spelling_and_others_are_refused() {
        let p = policy(&["http://Archive.example.org:80/pool/a.deb"]);
        assert_eq!(
            p.check_url("GET", "http://archive.example.org/pool/a.deb"),
            Verdict::LockedUrl
        );
        assert_eq!(
            p.check_url("GET", "http://archive.example.org/pool/a.deb#x"),
            Verdict::LockedUrl
        );
        assert!(
            p.check_url("GET", "http://archive.example.org/pool/b.deb")
                .is_refused()
        );
        assert!(
            p.check_url("GET", "http://archive.example.org/pool/a.deb?x=1")
                .is_refused()
        );
        assert!(
            p.check_url("POST", "http://archive.example.org/pool/a.deb")
                .is_refused()
        );
        assert!(p.check_url("GET", "/pool/a.deb").is_refused());
    }

    #[test]
    fn needless_escapes_do_not_make_another_url_but_delimiters_do() {
        let p = policy(&["http://deb.example.org/pool/libstdc++6_14~1_amd64.deb"]);
        assert_eq!(
            p.check_url(
                "GET",
                "http://deb.example.org/pool/libstdc%2b%2b6_14%7E1_amd64.deb"
            ),
            Verdict::LockedUrl
        );
        let p = policy(&["http://example.org/a%2Fb", "http://example.org/q?x=1%262"]);
        assert_eq!(
            p.check_url("GET", "http://example.org/a%2fb"),
            Verdict::LockedUrl,
            "the case of an escape's hex digits does not matter"
        );
        assert!(p.check_url("GET", "http://example.org/a/b").is_refused());
        assert!(
            p.check_url("GET", "http://example.org/q?x=1&2")
                .is_refused()
        );
        let p = policy(&["http://example.org/q?x=a%2Bb"]);
        assert!(
            p.check_url("GET", "http://example.org/q?x=a+b")
                .is_refused()
        );
    }

    #[test]
    fn connect_passes_only_to_hosts_and_ports_of_locked_urls() {
        let mut p = policy(&[
            "https://github.com/o/r/releases/download/v1/a",
            "http://127.0.0.1:8080/x",
        ]);
        assert_eq!(p.check_connect("github.com:443"), Verdict::LockedHost);
        assert_eq!(p.check_connect("GitHub.com:443"), Verdict::LockedHost);
        assert_eq!(p.check_connect("127.0.0.1:8080"), Verdict::LockedHost);
        assert!(p.check_connect("github.com:22").is_refused());
        assert!(p.check_connect("evil.example:443").is_refused());
        assert!(p.check_connect("github.com").is_refused());
        p.allow_host("release-assets.githubusercontent.com")
            .unwrap();
        assert_eq!(
            p.check_connect("release-assets.githubusercontent.com:443"),
            Verdict::AllowedHost
        );
        // A locked host stays "locked" when also allowed by hand.
        p.allow_host("github.com:443").unwrap();
        assert_eq!(p.check_connect("github.com:443"), Verdict::LockedHost);
        assert!(p.allow_host("a b").is_err());
    }

    #[test]
    fn ipv6_authorities_are_parsed() {
        let p = policy(&["https://[::1]:8443/a"]);
        assert_eq!(p.check_connect("[::1]:8443"), Verdict::LockedHost);
        assert_eq!(parse_authority("[::1]:1"), Some(("::1".into(), 1)));
    }
}
