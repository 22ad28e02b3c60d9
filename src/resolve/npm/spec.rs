//! Dependency specifiers as npm reads them (`npm-package-arg`), limited to what a
//! registry resolver can pin: dist-tags, versions, ranges and `npm:` aliases of those.
//! Git, file, directory and URL specifiers are refused by name: their bytes have no
//! registry integrity to lock.

use super::semver::{self, Options};

/// How a registry specifier selects a version (`npa`'s `type`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Selector {
    /// `latest`, `next`: a dist-tag.
    Tag(String),
    /// `1.2.3`, `=v1.2.3`: one version (loose syntax allowed).
    Version(String),
    /// `^1.2`, `1.x || >=3`, `*`, `""`.
    Range(String),
}

/// A specifier resolved against the registry: which document to read and what to pick.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistrySpec {
    /// The registry package to fetch (the alias target for `npm:` specs).
    pub name: String,
    pub selector: Selector,
    /// The text after the name, as the picker receives it (`fetchSpec`).
    pub fetch_spec: String,
}

impl RegistrySpec {
    /// `npa.resolve(name, spec)` for registry specs.
    pub fn parse(name: &str, spec: &str) -> Result<RegistrySpec, String> {
        if is_alias(spec) {
            let target = &spec[4..];
            let (alias_name, alias_spec) = split_name_spec(target);
            if alias_name.is_empty() {
                return Err(format!("alias `{spec}` of `{name}` names no package"));
            }
            if is_alias(alias_spec) {
                return Err(format!(
                    "nested alias `{spec}` of `{name}` is not supported"
                ));
            }
            return RegistrySpec::parse(alias_name, alias_spec);
        }
        if let Some(kind) = unsupported_kind(spec) {
            return Err(format!(
                "`{name}@{spec}` is a {kind} dependency; only registry versions can be locked by integrity"
            ));
        }
        let trimmed = spec.trim();
        let selector = if semver::valid(trimmed, true).is_some() {
            Selector::Version(trimmed.to_string())
        } else if semver::valid_range(trimmed, Options::LOOSE).is_some() {
            Selector::Range(trimmed.to_string())
        } else if is_uri_component(trimmed) {
            Selector::Tag(trimmed.to_string())
        } else {
            return Err(format!(
                "`{name}@{spec}`: `{trimmed}` is neither a version, a range nor a dist-tag"
            ));
        };
        Ok(RegistrySpec {
            name: name.to_string(),
            selector,
            fetch_spec: trimmed.to_string(),
        })
    }
}

/// Whether a dependency specifier is an `npm:` alias.
pub fn is_alias(spec: &str) -> bool {
    spec.get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("npm:"))
}

/// `name@spec` as `npa()` splits it (the first `@` after a scope's leading one).
fn split_name_spec(arg: &str) -> (&str, &str) {
    let at = if let Some(rest) = arg.strip_prefix('@') {
        rest.find('@').map(|i| i + 1)
    } else {
        arg.find('@')
    };
    match at {
        Some(i) if i > 0 => (&arg[..i], &arg[i + 1..]),
        _ => (arg, ""),
    }
}

/// Specifier kinds npm would fetch from somewhere other than the registry.
fn unsupported_kind(spec: &str) -> Option<&'static str> {
    let lower = spec.to_ascii_lowercase();
    if lower.starts_with("file:") || spec.starts_with(['.', '/']) || spec.starts_with("~/") {
        return Some("file");
    }
    // `isURL` of npa: an optional `git+`, a scheme, a colon (`github:`, `https:`, `git+ssh:`).
    let rest = lower.strip_prefix("git+").unwrap_or(&lower);
    let scheme_len = rest.bytes().take_while(u8::is_ascii_lowercase).count();
    if scheme_len > 0 && rest.as_bytes().get(scheme_len) == Some(&b':') {
        return Some("git or URL");
    }
    if spec.contains('/') {
        // `user/repo` is a GitHub shorthand; anything else with a slash a path.
        return Some("git or file");
    }
    if lower.ends_with(".tgz") || lower.ends_with(".tar.gz") || lower.ends_with(".tar") {
        return Some("tarball file");
    }
    None
}

/// `encodeURIComponent(spec) === spec`: what npm accepts as a tag name.
fn is_uri_component(spec: &str) -> bool {
    !spec.is_empty()
        && spec
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_like_npa() {
        let sel = |s: &str| RegistrySpec::parse("x", s).map(|r| r.selector);
        assert_eq!(sel("latest"), Ok(Selector::Tag("latest".into())));
        assert_eq!(sel("1.2.3"), Ok(Selector::Version("1.2.3".into())));
        assert_eq!(sel("^1.2"), Ok(Selector::Range("^1.2".into())));
        assert_eq!(sel(""), Ok(Selector::Range("".into())));
        assert_eq!(sel(" >=1 <2 "), Ok(Selector::Range(">=1 <2".into())));
        assert!(sel("github:a/b").is_err());
        assert!(sel("a/b").is_err());
        assert!(sel("file:../x").is_err());
        assert!(sel("https://x/y.tgz").is_err());
    }

    #[test]
    fn aliases_resolve_to_their_target() {
        let spec = RegistrySpec::parse(
            "@openai/codex-linux-x64",
            "npm:@openai/codex@0.169.0-linux-x64",
        )
        .unwrap();
        assert_eq!(spec.name, "@openai/codex");
        assert_eq!(spec.selector, Selector::Version("0.169.0-linux-x64".into()));
        let bare = RegistrySpec::parse("lodash-es", "npm:lodash").unwrap();
        assert_eq!(
            (bare.name.as_str(), bare.selector),
            ("lodash", Selector::Range(String::new()))
        );
    }
}
