//! `git`: a git ref (a tag chosen by a version constraint, or a branch) pinned to the
//! full commit SHA it names. This is how the emitted GitHub workflow's code is pinned:
//! the `actions/checkout` action and modelbench itself (the spec's `[workflow]` table).
//!
//! The refs come from the repository's smart HTTP ref advertisement
//! (`GET <repo>/info/refs?service=git-upload-pack`, protocol v0: pkt-lines, annotated
//! tags followed by their peeled `^{}` line; see git's `gitprotocol-http` and
//! `gitprotocol-pack`). That is what `git ls-remote` reads: it works for any https git
//! host (modelbench's own repository need not be on GitHub), needs no token and no API
//! rate limit, and a loopback fixture plays it with a few lines. The GitHub API would
//! give release dates too, but only for GitHub.
//!
//! Nothing from the server is used before it is checked: every SHA must be 40 lowercase
//! hex digits, every ref name free of what git itself forbids (control characters,
//! spaces), and the chosen tag or branch must pass the lock's ref grammar
//! ([`crate::lock::values::ReleaseTag`]). A refusal names the server, the artifact and
//! the value.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Context, Problem};
use crate::lock::values::{GitCommit, ReleaseTag, escape_for_terminal};
use crate::lock::{Artifact, ArtifactWire};

/// A ref advertisement larger than this is refused (repositories with tens of thousands
/// of refs advertise a few MiB).
const ADVERTISEMENT_LIMIT: u64 = 32 * 1024 * 1024;

/// The canonical base of GitHub repositories; a sources file's `github` upstream
/// replaces it at resolve time (a mirror, or a loopback fixture in tests).
const GITHUB: &str = "https://github.com";

/// The repository of the checkout action the workflow uses.
pub const CHECKOUT_REPOSITORY: &str = "https://github.com/actions/checkout";

/// Which ref of the repository to pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GitRef {
    /// The newest tag answering a version constraint: `v4` → the newest `v4.x.y`.
    Tag(String),
    /// The head of a branch.
    Branch(String),
}

impl GitRef {
    /// How the lock's `requested` spells it (`tag v4`, `branch main`).
    pub fn requested(&self) -> String {
        match self {
            GitRef::Tag(constraint) => format!("tag {constraint}"),
            GitRef::Branch(name) => format!("branch {name}"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct GitRequest {
    /// The repository's https URL as the spec names it (written to the lock).
    pub repository: String,
    #[serde(rename = "ref")]
    pub reference: GitRef,
}

/// The lock entry names of the workflow's pins.
pub const CHECKOUT_NAME: &str = "actions/checkout";
pub const MODELBENCH_NAME: &str = "modelbench";

/// A tag constraint: an optional `v`, then one to three numbers (`v4`, `v4.2`, `1.2.3`).
/// A tag answers it when it is the same prefix and a full `x.y.z` (no prerelease, no
/// build metadata) whose leading numbers are the constraint's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagConstraint {
    prefix: &'static str,
    numbers: Vec<u64>,
}

impl TagConstraint {
    pub fn parse(text: &str) -> Result<TagConstraint, String> {
        let (prefix, rest) = match text.strip_prefix('v') {
            Some(rest) => ("v", rest),
            None => ("", text),
        };
        let numbers: Option<Vec<u64>> = rest
            .split('.')
            .map(|part| {
                (!part.is_empty() && part.len() <= 9 && part.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| part.parse().ok())
                    .flatten()
            })
            .collect();
        match numbers {
            Some(numbers) if (1..=3).contains(&numbers.len()) => {
                Ok(TagConstraint { prefix, numbers })
            }
            _ => Err(format!(
                "`{}` is not a tag constraint: write a version prefix such as `v4`, `v4.2` or `v4.2.2`",
                escape_for_terminal(text)
            )),
        }
    }

    /// The version of `tag` when it answers the constraint.
    pub fn version_of(&self, tag: &str) -> Option<semver::Version> {
        let version = semver::Version::parse(tag.strip_prefix(self.prefix)?).ok()?;
        let plain = version.pre.is_empty() && version.build.is_empty();
        let parts = [version.major, version.minor, version.patch];
        (plain
            && self
                .numbers
                .iter()
                .zip(parts)
                .all(|(want, got)| *want == got))
        .then_some(version)
    }
}

/// The URL the advertisement is read from: a GitHub repository through the sources
/// file's `github` upstream, any other repository as the spec names it.
fn fetch_base(ctx: &Context, repository: &str) -> String {
    let repository = repository.trim_end_matches('/');
    match repository.strip_prefix(GITHUB) {
        Some(path) if path.starts_with('/') => format!("{}{path}", ctx.sources.upstream("github")),
        _ => repository.to_string(),
    }
}

/// Where a request's refs come from, for messages.
pub fn upstream(ctx: &Context, request: &GitRequest) -> String {
    format!(
        "the git server of `{}` ({})",
        request.repository,
        crate::net::redact(&fetch_base(ctx, &request.repository))
    )
}

pub async fn resolve(
    ctx: &Context,
    name: &str,
    request: &GitRequest,
) -> Result<ArtifactWire, Problem> {
    let url = format!(
        "{}/info/refs?service=git-upload-pack",
        fetch_base(ctx, &request.repository)
    );
    let fetched = ctx.client.get_ok(&url, &[], ADVERTISEMENT_LIMIT).await?;
    let refuse = |message: String| {
        Problem::msg(format!(
            "{} for git `{name}`: {message}",
            upstream(ctx, request)
        ))
    };
    let content_type = fetched.header("content-type").unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/x-git-upload-pack-advertisement") {
        return Err(refuse(format!(
            "`{url}` is not a smart HTTP git server (content type `{}`, expected `application/x-git-upload-pack-advertisement`)",
            escape_for_terminal(content_type)
        )));
    }
    let refs = parse_advertisement(&fetched.body).map_err(refuse)?;
    let (version, commit) = choose(&refs, &request.reference).map_err(refuse)?;
    let version = ReleaseTag::parse("ref", &version).map_err(|err| refuse(err.to_string()))?;
    let mut artifact = super::artifact(super::Kind::Git, version.as_str());
    artifact.repository = Some(request.repository.clone());
    artifact.commit = Some(commit.as_str().to_string());
    Ok(artifact)
}

/// Whether a lock entry pins a branch (its `requested` is `branch NAME`, as
/// [`GitRef::requested`] writes it): a branch is meant to move, so a new commit under the
pub use crate::lock::diff::{branch_move, is_branch_pin};

/// For `verify --against-upstream`: a branch pin whose branch has moved on says nothing
/// about the locked commit (a branch is meant to move), so it cannot be re-checked, as an
/// apt archive that moved on; a tag that names another commit is a difference.
pub fn moved_branch(request: &super::Request, locked: &Artifact, now: &Artifact) -> Option<String> {
    let super::Detail::Git(GitRequest {
        reference: GitRef::Branch(branch),
        ..
    }) = &request.detail
    else {
        return None;
    };
    (locked.commit != now.commit).then(|| {
        format!(
            "branch `{branch}` has moved on to {} (locked {}); only the branch's head can be confirmed: `modelbench lock --update {}`",
            now.commit.as_deref().unwrap_or("none"),
            locked.commit.as_deref().unwrap_or("none"),
            locked.name
        )
    })
}

/// The ref named by `reference`: its short name and commit.
fn choose(refs: &Refs, reference: &GitRef) -> Result<(String, GitCommit), String> {
    match reference {
        GitRef::Branch(branch) => refs
            .get(&format!("refs/heads/{branch}"))
            .map(|commit| (branch.clone(), commit.clone()))
            .ok_or_else(|| format!("no branch `{branch}`")),
        GitRef::Tag(text) => {
            let constraint = TagConstraint::parse(text)?;
            let newest = refs
                .iter()
                .filter_map(|(name, commit)| {
                    let tag = name.strip_prefix("refs/tags/")?;
                    Some((constraint.version_of(tag)?, tag, commit))
                })
                .max_by(|a, b| a.0.cmp(&b.0));
            match newest {
                Some((_, tag, commit)) => Ok((tag.to_string(), commit.clone())),
                None => Err(format!(
                    "no tag answers `{text}` (a full `x.y.z` version without prerelease)"
                )),
            }
        }
    }
}

/// Ref name → the commit it names (annotated tags peeled).
pub type Refs = BTreeMap<String, GitCommit>;

/// The refs of a protocol-v0 `git-upload-pack` advertisement: `# service=` line, flush,
/// then `<sha> <name>` lines (the first with `\0` and capabilities), then flush. A
/// `<sha> <name>^{}` line gives the commit an annotated tag points to, and replaces the
/// tag object's SHA.
pub fn parse_advertisement(body: &[u8]) -> Result<Refs, String> {
    let mut lines = PktLines { rest: body };
    match lines.next_line()? {
        Some(Some(line)) if line == b"# service=git-upload-pack\n" => {}
        _ => {
            return Err("the advertisement does not start with `# service=git-upload-pack`".into());
        }
    }
    if lines.next_line()? != Some(None) {
        return Err("no flush packet after the service line".into());
    }
    let mut refs = Refs::new();
    let mut peeled: BTreeMap<String, GitCommit> = BTreeMap::new();
    let mut first = true;
    loop {
        let line = match lines.next_line()? {
            Some(Some(line)) => line,
            Some(None) => break,
            None => return Err("the advertisement ends without a flush packet".into()),
        };
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = if first {
            first = false;
            let (refline, capabilities) = match line.iter().position(|b| *b == 0) {
                Some(nul) => (&line[..nul], &line[nul + 1..]),
                None => (line, &[][..]),
            };
            let capabilities = String::from_utf8_lossy(capabilities);
            if let Some(format) = capabilities
                .split(' ')
                .find_map(|c| c.strip_prefix("object-format="))
                .filter(|f| *f != "sha1")
            {
                return Err(format!(
                    "the repository uses object format `{}`; modelbench pins sha1 commits",
                    escape_for_terminal(format)
                ));
            }
            refline
        } else {
            line
        };
        let text = std::str::from_utf8(line)
            .map_err(|_| "a ref line is not UTF-8 (git ref names are)".to_string())?;
        let (sha, name) = text.split_once(' ').ok_or_else(|| {
            format!(
                "a ref line is not `<sha> <name>`: `{}`",
                escape_for_terminal(text)
            )
        })?;
        // git check-ref-format forbids these; a server that sends them is not git.
        if name.is_empty() || name.chars().any(|c| c.is_control() || c == ' ') {
            return Err(format!(
                "the ref name `{}` is not one git allows",
                escape_for_terminal(name)
            ));
        }
        let commit = GitCommit::parse(&format!("ref `{}`", escape_for_terminal(name)), sha)
            .map_err(|err| err.to_string())?;
        // An empty repository advertises the zero SHA with this placeholder name.
        if name == "capabilities^{}" {
            continue;
        }
        if let Some(tag) = name.strip_suffix("^{}") {
            if !refs.contains_key(tag) || peeled.insert(tag.to_string(), commit).is_some() {
                return Err(format!(
                    "the peeled line of `{}` does not follow its tag",
                    escape_for_terminal(tag)
                ));
            }
        } else if refs.insert(name.to_string(), commit).is_some() {
            return Err(format!(
                "the ref `{}` is advertised twice",
                escape_for_terminal(name)
            ));
        }
    }
    if !lines.rest.is_empty() {
        return Err("data after the advertisement's final flush packet".into());
    }
    refs.extend(peeled);
    Ok(refs)
}

/// git's pkt-line framing: four hex digits of length (including themselves), `0000`
/// for a flush packet.
struct PktLines<'a> {
    rest: &'a [u8],
}

impl<'a> PktLines<'a> {
    /// `None` at the end of the body, `Some(None)` for a flush packet.
    #[allow(clippy::option_option)]
    fn next_line(&mut self) -> Result<Option<Option<&'a [u8]>>, String> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let header = self
            .rest
            .get(..4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or("a pkt-line does not start with four hex digits")?;
        let length = usize::from_str_radix(header, 16).expect("four hex digits");
        if length == 0 {
            self.rest = &self.rest[4..];
            return Ok(Some(None));
        }
        if length < 4 || length > self.rest.len() {
            return Err(format!(
                "a pkt-line of length {length} where {} bytes are left",
                self.rest.len()
            ));
        }
        let line = &self.rest[4..length];
        self.rest = &self.rest[length..];
        Ok(Some(Some(line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "11bd71901bbe5b1630ceea73d27597364c9af683";
    const B: &str = "eef61447b9ff4aafe5dcd4e0bbf5d482be7e7871";
    const C: &str = "0123456789abcdef0123456789abcdef01234567";

    fn pkt(line: &str) -> String {
        format!("{:04x}{line}", line.len() + 4)
    }

    fn advertisement(refs: &[(&str, &str)]) -> Vec<u8> {
        let mut body = pkt("# service=git-upload-pack\n") + "0000";
        for (i, (sha, name)) in refs.iter().enumerate() {
            let caps = if i == 0 {
                "\0multi_ack side-band-64k object-format=sha1"
            } else {
                ""
            };
            body += &pkt(&format!("{sha} {name}{caps}\n"));
        }
        body += "0000";
        body.into_bytes()
    }

    fn commit(sha: &str) -> GitCommit {
        GitCommit::parse("", sha).unwrap()
    }

    #[test]
    fn annotated_tags_are_peeled_and_the_newest_matching_tag_wins() {
        let refs = parse_advertisement(&advertisement(&[
            (C, "HEAD"),
            (C, "refs/heads/main"),
            (B, "refs/tags/v4"),
            (A, "refs/tags/v4.2.2"),
            (B, "refs/tags/v4.10.0"),
            (C, "refs/tags/v4.10.0^{}"),
            (C, "refs/tags/v4.11.0-beta.1"),
            (C, "refs/tags/v5.0.0"),
        ]))
        .unwrap();
        assert_eq!(refs["refs/tags/v4.10.0"], commit(C), "peeled");
        assert_eq!(refs["refs/tags/v4.2.2"], commit(A));
        let pick = |r: GitRef| choose(&refs, &r);
        assert_eq!(
            pick(GitRef::Tag("v4".into())).unwrap(),
            ("v4.10.0".to_string(), commit(C))
        );
        assert_eq!(
            pick(GitRef::Tag("v4.2".into())).unwrap(),
            ("v4.2.2".to_string(), commit(A))
        );
        assert_eq!(
            pick(GitRef::Tag("v4.2.2".into())).unwrap(),
            ("v4.2.2".to_string(), commit(A))
        );
        assert!(pick(GitRef::Tag("4".into())).is_err(), "prefix must match");
        assert!(pick(GitRef::Tag("v6".into())).is_err());
        assert_eq!(
            pick(GitRef::Branch("main".into())).unwrap(),
            ("main".to_string(), commit(C))
        );
        assert!(pick(GitRef::Branch("dev".into())).is_err());
    }

    #[test]
    fn tag_constraints_are_version_prefixes() {
        for good in ["v4", "v4.2", "4.2.2", "v0"] {
            assert!(TagConstraint::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "v", "v4.", "v4.2.2.1", "latest", "^4", "v4;id", "v-1"] {
            assert!(TagConstraint::parse(bad).is_err(), "{bad}");
        }
        let v4 = TagConstraint::parse("v4").unwrap();
        assert!(v4.version_of("v4.2.2").is_some());
        assert!(v4.version_of("v4.2.2+build").is_none());
        assert!(v4.version_of("v4.2").is_none());
        assert!(v4.version_of("v40.0.0").is_none());
    }

    #[test]
    fn hostile_advertisements_are_refused() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                advertisement(&[("11bd7190;id", "refs/tags/v4.2.3")]),
                "ref `refs/tags/v4.2.3`",
            ),
            (
                advertisement(&[(&A.to_uppercase(), "refs/tags/v4.2.3")]),
                "40 lowercase hex",
            ),
            (
                advertisement(&[(A, "refs/tags/v4.2.3"), ("$(id)", "refs/tags/v4.2.3^{}")]),
                "$(id)",
            ),
            (
                advertisement(&[(A, "refs/tags/v4.2.3\u{1b}]0;x\u{7}")]),
                "\\u{1b}",
            ),
            (
                advertisement(&[(A, "refs/tags/v4.2.3"), (B, "refs/tags/v4.2.3")]),
                "advertised twice",
            ),
            (advertisement(&[(A, "refs/tags/v9^{}")]), "peeled line"),
            (b"0010not a service".to_vec(), "does not start"),
            (
                b"001e# service=git-upload-pack\n0000ffff".to_vec(),
                "length",
            ),
            (
                b"001e# service=git-upload-pack\n0000zz".to_vec(),
                "four hex digits",
            ),
        ];
        for (body, needle) in cases {
            let err = parse_advertisement(&body).unwrap_err();
            assert!(err.contains(needle), "{err} (wanted {needle})");
            assert!(!err.contains('\u{1b}'), "{err}");
        }
        let sha256 = (pkt("# service=git-upload-pack\n") + "0000")
            + &pkt(&format!("{A} HEAD\0object-format=sha256\n"))
            + "0000";
        assert!(
            parse_advertisement(sha256.as_bytes())
                .unwrap_err()
                .contains("object format `sha256`")
        );
    }

    #[test]
    fn an_empty_repository_has_no_refs() {
        let zero = "0".repeat(40);
        let refs = parse_advertisement(&advertisement(&[(&zero, "capabilities^{}")])).unwrap();
        assert!(refs.is_empty());
    }
}
