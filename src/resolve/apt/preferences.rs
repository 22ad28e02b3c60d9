//! apt pinning (`apt_preferences(5)`) as the base image configures it in
//! `/etc/apt/preferences` and `/etc/apt/preferences.d/*`: parsed strictly, then applied
//! as apt's `pkgPolicy` applies it.
//!
//! - A **generic** pin (`Package: *`) with `Pin: release …` or `Pin: origin …` sets the
//!   priority of every index it matches; the first matching pin wins (`InitDefaults`).
//!   apt ignores a generic `Pin: version`, and so does this.
//! - A **specific** pin (`Package: name …`, globs allowed) sets the priority of each
//!   version of those packages it matches (by version, or by a release or origin one of
//!   the version's indices matches), replacing the indices' priorities; the first
//!   matching pin wins.
//!
//! Regular-expression package names or pins (`/…/`) are refused with the file's name:
//! the image is an upstream, and what this reader cannot follow it must not guess.

use super::control;

/// One pin stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// `/etc/apt/preferences.d/cuda stanza 1`.
    pub origin: String,
    /// Package name globs; empty for a generic pin (`Package: *`).
    pub packages: Vec<String>,
    pub pin: PinKind,
    pub priority: i32,
}

/// What a pin matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinKind {
    /// `Pin: release a=stable, n=bookworm, …`: each key and its glob.
    Release(Vec<(ReleaseKey, String)>),
    /// `Pin: origin host`: the host of the archive's URI (`""`: none, never matched).
    Origin(String),
    /// `Pin: version 1.2*`: a glob over the version string.
    Version(String),
}

/// A `Pin: release` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseKey {
    /// `a=`: the Release's `Suite`.
    Archive,
    /// `n=`: `Codename`.
    Codename,
    /// `o=`: `Origin`.
    Origin,
    /// `l=`: `Label`.
    Label,
    /// `c=`: the component.
    Component,
    /// `v=` (or a bare value): `Version`.
    Version,
    /// `b=`: the architecture.
    Architecture,
}

/// What a pin can match of one `Packages` index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexFacts {
    pub origin: Option<String>,
    pub label: Option<String>,
    pub suite: Option<String>,
    pub codename: Option<String>,
    pub version: Option<String>,
    pub component: String,
    pub architecture: String,
    /// Hosts of the archive's URIs (the image's own first).
    pub hosts: Vec<String>,
}

/// The pins of every preferences file the image sees, in apt's order (`preferences`
/// first, then `preferences.d` by name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pub pins: Vec<Pin>,
}

impl Preferences {
    /// Parse `(path, text)` pairs in reading order.
    pub fn parse<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Preferences, String> {
        let mut pins = Vec::new();
        for (path, text) in files {
            pins.extend(parse_file(path, text)?);
        }
        Ok(Preferences { pins })
    }

    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }

    /// The priority generic pins give an index, if one matches.
    pub fn index_priority(&self, facts: &IndexFacts) -> Option<i32> {
        let mut fixed = None;
        for pin in self.pins.iter().filter(|p| p.packages.is_empty()) {
            // apt lets a later priority-1 pin override an earlier one (`InitDefaults`).
            if (fixed.is_none() || pin.priority == 1) && pin.pin.matches_index(facts) {
                fixed = Some(pin.priority);
            }
        }
        fixed
    }

    /// Whether any pin names packages (the solver then asks [`Self::version_priority`]).
    pub fn has_specific(&self) -> bool {
        self.pins.iter().any(|p| !p.packages.is_empty())
    }

    /// The priority a specific pin gives `package` `version`, whose indices are
    /// `indices`, if one matches.
    pub fn version_priority(
        &self,
        package: &str,
        version: &str,
        indices: &[&IndexFacts],
    ) -> Option<i32> {
        self.pins
            .iter()
            .filter(|p| p.packages.iter().any(|g| glob(g, package)))
            .find(|p| match &p.pin {
                PinKind::Version(pattern) => glob(pattern, version),
                other => indices.iter().any(|facts| other.matches_index(facts)),
            })
            .map(|p| p.priority)
    }
}

impl PinKind {
    fn matches_index(&self, facts: &IndexFacts) -> bool {
        match self {
            PinKind::Version(_) => false,
            PinKind::Origin(host) => !host.is_empty() && facts.hosts.iter().any(|h| h == host),
            PinKind::Release(terms) => terms.iter().all(|(key, pattern)| {
                let value = match key {
                    ReleaseKey::Archive => facts.suite.as_deref(),
                    ReleaseKey::Codename => facts.codename.as_deref(),
                    ReleaseKey::Origin => facts.origin.as_deref(),
                    ReleaseKey::Label => facts.label.as_deref(),
                    ReleaseKey::Component => Some(facts.component.as_str()),
                    ReleaseKey::Version => facts.version.as_deref(),
                    ReleaseKey::Architecture => Some(facts.architecture.as_str()),
                };
                value.is_some_and(|v| glob(pattern, v))
            }),
        }
    }
}

fn parse_file(path: &str, text: &str) -> Result<Vec<Pin>, String> {
    let paragraphs = control::paragraphs(text).map_err(|err| format!("`/{path}`: {err}"))?;
    let mut pins = Vec::new();
    for (number, paragraph) in paragraphs.iter().enumerate() {
        let origin = format!("/{path} stanza {}", number + 1);
        let fail = |why: String| format!("`{origin}`: {why}");
        let (mut package, mut pin, mut priority) = (None, None, None);
        for (name, value) in &paragraph.fields {
            match name.to_ascii_lowercase().as_str() {
                "package" => package = Some(*value),
                "pin" => pin = Some(*value),
                "pin-priority" => priority = Some(*value),
                "explanation" => {}
                _ => return Err(fail(format!("field `{name}` is not a pin field"))),
            }
        }
        let package = package.ok_or_else(|| fail("no `Package`".into()))?;
        let pin = pin.ok_or_else(|| fail("no `Pin`".into()))?;
        let priority: i32 = priority
            .ok_or_else(|| fail("no `Pin-Priority`".into()))?
            .trim()
            .parse()
            .map_err(|_| fail("`Pin-Priority` is not a whole number".into()))?;
        if priority == 0 {
            // apt refuses it too ("No priority (or zero) specified for pin").
            return Err(fail("`Pin-Priority` is 0".into()));
        }
        let names: Vec<&str> = package.split_whitespace().collect();
        for name in &names {
            if name.starts_with('/') {
                return Err(fail(format!(
                    "package pattern `{name}` is a regular expression, which is not read"
                )));
            }
            check_pattern(name).map_err(&fail)?;
        }
        let packages = if names == ["*"] {
            Vec::new()
        } else {
            names.iter().map(|n| n.to_string()).collect()
        };
        pins.push(Pin {
            origin: origin.clone(),
            packages,
            pin: parse_pin(pin).map_err(&fail)?,
            priority,
        });
    }
    Ok(pins)
}

/// A pattern is plain words and globs: no regular expression, no control characters.
fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern.starts_with('/') && pattern.len() > 1 && pattern.ends_with('/') {
        return Err(format!(
            "`{pattern}` is a regular expression, which is not read"
        ));
    }
    if pattern.is_empty() || !pattern.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("`{pattern}` is not a plain name or glob"));
    }
    Ok(())
}

fn parse_pin(pin: &str) -> Result<PinKind, String> {
    let pin = pin.trim();
    let (kind, data) = pin.split_once(char::is_whitespace).unwrap_or((pin, ""));
    let data = data.trim();
    match kind {
        "version" => {
            check_pattern(data)?;
            Ok(PinKind::Version(data.to_string()))
        }
        "origin" => {
            let host = data.trim_matches('"');
            if !host.is_empty() {
                check_pattern(host)?;
            }
            Ok(PinKind::Origin(host.to_string()))
        }
        "release" => {
            let mut terms = Vec::new();
            for term in data.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                let (key, value) = match term.split_once('=') {
                    Some((key, value)) => {
                        let key = match key.trim() {
                            "a" => ReleaseKey::Archive,
                            "n" => ReleaseKey::Codename,
                            "o" => ReleaseKey::Origin,
                            "l" => ReleaseKey::Label,
                            "c" => ReleaseKey::Component,
                            "v" => ReleaseKey::Version,
                            "b" => ReleaseKey::Architecture,
                            other => {
                                return Err(format!("`{other}=` is not a release pin key"));
                            }
                        };
                        (key, value.trim())
                    }
                    // A bare value is a version (`Pin: release 12`).
                    None => (ReleaseKey::Version, term),
                };
                check_pattern(value)?;
                terms.push((key, value.to_string()));
            }
            if terms.is_empty() {
                return Err("`Pin: release` names nothing to match".into());
            }
            Ok(PinKind::Release(terms))
        }
        other => Err(format!(
            "`Pin: {other}` is not `release`, `origin` or `version`"
        )),
    }
}

/// `fnmatch` with `*` and `?` (apt matches pins with `fnmatch`).
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUDA_PIN: &str = "\
Package: *
Pin: origin developer.download.nvidia.com
Pin-Priority: 600
";

    fn facts(suite: &str, host: &str) -> IndexFacts {
        IndexFacts {
            origin: Some("Debian".into()),
            label: Some("Debian".into()),
            suite: Some(suite.into()),
            codename: Some("bookworm".into()),
            version: Some("12.8".into()),
            component: "main".into(),
            architecture: "amd64".into(),
            hosts: vec![host.into()],
        }
    }

    #[test]
    fn generic_pins_set_index_priorities_first_match_wins() {
        let text = "\
# comments are fine
Package: *
Pin: release a=stable-backports
Pin-Priority: 50

Explanation: keep the local archive above the rest
Package: *
Pin: release o=Debian, n=book*
Pin-Priority: 700
";
        let prefs = Preferences::parse([
            ("etc/apt/preferences.d/cuda-repository-pin-600", CUDA_PIN),
            ("etc/apt/preferences.d/debian", text),
        ])
        .unwrap();
        assert_eq!(prefs.pins.len(), 3);
        assert_eq!(
            prefs.pins[2].origin,
            "/etc/apt/preferences.d/debian stanza 2"
        );
        let cuda = facts("x", "developer.download.nvidia.com");
        assert_eq!(prefs.index_priority(&cuda), Some(600));
        assert_eq!(
            prefs.index_priority(&facts("stable-backports", "deb.example")),
            Some(50)
        );
        assert_eq!(
            prefs.index_priority(&facts("stable", "deb.example")),
            Some(700)
        );
        let mut other = facts("stable", "deb.example");
        other.codename = Some("trixie".into());
        assert_eq!(prefs.index_priority(&other), None);
        assert!(!prefs.has_specific());
    }

    #[test]
    fn specific_pins_match_versions_by_version_or_release() {
        let text = "\
Package: hello libhello*
Pin: version 1.0*
Pin-Priority: 1001

Package: tool
Pin: release a=unstable
Pin-Priority: -1
";
        let prefs = Preferences::parse([("etc/apt/preferences", text)]).unwrap();
        assert!(prefs.has_specific());
        let stable = facts("stable", "deb.example");
        let unstable = facts("unstable", "deb.example");
        assert_eq!(
            prefs.version_priority("hello", "1.0-2", &[&stable]),
            Some(1001)
        );
        assert_eq!(
            prefs.version_priority("libhello1", "1.0", &[&stable]),
            Some(1001)
        );
        assert_eq!(prefs.version_priority("hello", "2.0", &[&stable]), None);
        assert_eq!(
            prefs.version_priority("tool", "3", &[&stable, &unstable]),
            Some(-1)
        );
        assert_eq!(prefs.version_priority("tool", "3", &[&stable]), None);
        assert_eq!(prefs.version_priority("other", "1.0", &[&unstable]), None);
    }

    #[test]
    fn refuses_pins_it_cannot_read_naming_the_file() {
        for (text, why) in [
            ("Package: *\nPin: release a=x\n", "no `Pin-Priority`"),
            ("Pin: release a=x\nPin-Priority: 5\n", "no `Package`"),
            ("Package: *\nPin: release a=x\nPin-Priority: 0\n", "is 0"),
            (
                "Package: *\nPin: release a=x\nPin-Priority: high\n",
                "not a whole number",
            ),
            (
                "Package: /^lib/\nPin: release a=x\nPin-Priority: 5\n",
                "regular expression",
            ),
            (
                "Package: *\nPin: label x\nPin-Priority: 5\n",
                "`Pin: label`",
            ),
            (
                "Package: *\nPin: release q=x\nPin-Priority: 5\n",
                "`q=` is not",
            ),
            (
                "Package: *\nPin: release a=x\nPin-Priority: 5\nColour: red\n",
                "field `Colour`",
            ),
        ] {
            let err = Preferences::parse([("etc/apt/preferences.d/x", text)]).unwrap_err();
            assert!(
                err.starts_with("`/etc/apt/preferences.d/x stanza 1`") && err.contains(why),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn globs_match_like_fnmatch() {
        for (pattern, text, expected) in [
            ("*", "anything", true),
            ("lib*", "libc6", true),
            ("lib*", "glibc", false),
            ("1.?-*", "1.2-3", true),
            ("1.?-*", "1.22-3", false),
            ("*bpo*", "2.0~bpo12+1", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ] {
            assert_eq!(glob(pattern, text), expected, "{pattern} {text}");
        }
    }

    /// The pins drive the solver as apt's policy does: a package pin picks an older
    /// version over a newer one, a pin of 1000 and more downgrades an installed version,
    /// a negative one keeps a version out.
    #[test]
    fn package_pins_steer_the_solver() {
        use super::super::closure::{self, Index, Options, Wanted};
        let stanza = |name: &str, version: &str| {
            format!(
                "Package: {name}\nVersion: {version}\nArchitecture: amd64\n\
                 Filename: pool/{name}_{version}_amd64.deb\nSize: 1\nSHA256: {}\n\n",
                "ab".repeat(32)
            )
        };
        let main = [stanza("app", "1.0"), stanza("app", "2.0")].concat();
        let indices = [Index {
            text: &main,
            priority: 500,
            label: "stable/main".into(),
        }];
        let facts = [facts("stable", "deb.example")];
        let options = Options {
            arch: "amd64".into(),
            recommends: false,
        };
        let wanted = [Wanted::parse("app").unwrap()];
        let solve = |prefs: &str, status: &str| {
            let prefs = Preferences::parse([("etc/apt/preferences", prefs)]).unwrap();
            let pin = |package: &str, version: &str, at: &[usize]| {
                let at: Vec<&IndexFacts> = at.iter().map(|&i| &facts[i]).collect();
                prefs.version_priority(package, version, &at)
            };
            closure::solve_pinned(&indices, status, &wanted, &options, &pin)
                .map(|c| c.iter().map(|c| c.version.clone()).collect::<Vec<_>>())
        };
        assert_eq!(solve("", "").unwrap(), ["2.0"]);
        let down = "Package: app\nPin: version 1.*\nPin-Priority: 600\n";
        assert_eq!(solve(down, "").unwrap(), ["1.0"]);
        let blocked = "Package: app\nPin: release a=stable\nPin-Priority: -1\n";
        assert!(solve(blocked, "").is_err());
        let installed =
            "Package: app\nStatus: install ok installed\nVersion: 2.0\nArchitecture: amd64\n\n";
        // 600 does not downgrade what is installed (nothing to install); 1001 does.
        assert!(solve(down, installed).unwrap().is_empty());
        let force = "Package: app\nPin: version 1.*\nPin-Priority: 1001\n";
        assert_eq!(solve(force, installed).unwrap(), ["1.0"]);
    }
}
