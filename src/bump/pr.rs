//! `bump --pr`: one branch and one pull request per bump group, through GitHub's REST API
//! (octocrab), never through a local git.
//!
//! # What a run does, per group
//!
//! Reads first: the repository (its default branch), the base branch's head and its copy
//! of the lock (which must equal the local one, so a pull request never undoes what the
//! base branch has), then the group's branch `modelbench/<group>`, its pull requests, its
//! copy of the lock and a comparison with the base branch.
//!
//! - No branch: a commit (blob → tree on the base's tree → commit) on the base branch's
//!   head, the branch created on it, a pull request opened, its labels set. With
//!   `[emit] committed`, the tree also carries the emitted files for the new lock.
//! - The branch already carries exactly this lock and the lock on the base branch has not
//!   moved since: **no write at all**, it says so. (If an earlier run stopped after the
//!   branch but before the pull request, or before the body or labels were set, the
//!   missing piece is written: nothing half-done is left for long.)
//! - A new lock: a commit **on top of** the branch's head and a fast-forward ref update
//!   (`force: false`), then the pull request's title and body updated. Review history
//!   stays; nothing is force-pushed.
//! - The lock on the base branch moved since the branch was made: the new commit is a
//!   merge commit with parents (branch head, base head) whose tree is the base's tree plus
//!   the new lock: the branch is rebuilt on the current base, the pull request's diff
//!   shows only this group's change, and it is still a fast-forward of the branch, so the
//!   earlier commits and their review comments stay. (Other files a person committed to
//!   the bot branch do not survive this rebuild; the branch belongs to modelbench.)
//! - A pull request closed without merging while the branch still holds the same lock:
//!   left alone (the change was declined); a different lock opens a new one.
//!
//! Loose git objects written before a failing step are unreferenced and harmless; the
//! visible writes are ordered ref → pull request → labels, and each later run repairs
//! whatever a failed run left out.

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use base64::Engine as _;
use octocrab::Octocrab;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::lock::Lock;

/// What one group's pull request should look like.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub group: String,
    /// `modelbench/<group>`.
    pub branch: String,
    pub title: String,
    pub body: String,
    pub commit_message: String,
    pub labels: Vec<String>,
    /// The lock's path in the repository (`lock/x/bench.lock`).
    pub lock_path: String,
    pub lock_bytes: Vec<u8>,
    /// `[emit] committed`: every emitted file for this lock, committed with it. All of
    /// them, not just those that differ from the base branch: a commit on top of the
    /// branch must also undo what an earlier run changed and this one does not (git
    /// stores an unchanged file as the same blob, so the diff shows only real changes).
    pub emitted: Vec<CommitFile>,
    /// Which emitted files differ from the base branch's.
    pub emitted_changes: Vec<FileNote>,
}

/// An emitted file that differs from the base branch's, for people: a verb
/// (`Updating`) and the path in the repository.
pub type FileNote = (&'static str, String);

/// An emitted file the commit writes besides the lock (emitted files are text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitFile {
    /// The path in the repository.
    pub path: String,
    pub content: String,
    pub executable: bool,
}

/// What a run did for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Opened {
        number: u64,
        url: String,
    },
    /// A new commit on top of the branch.
    Updated {
        number: u64,
        url: String,
        rebuilt: bool,
    },
    /// Nothing written.
    UpToDate {
        number: u64,
        url: String,
    },
    /// The lock was already there; a missing title, body or label was written.
    Repaired {
        number: u64,
        url: String,
    },
    /// A pull request for exactly this lock was closed without merging.
    Declined {
        number: u64,
        url: String,
    },
}

/// The branch pull requests target.
#[derive(Debug, Clone)]
pub struct Base {
    pub branch: String,
    pub sha: String,
}

pub struct GitHub {
    octo: Octocrab,
    owner: String,
    repo: String,
    api: String,
}

#[derive(Deserialize)]
struct RepoInfo {
    default_branch: String,
}

#[derive(Deserialize)]
struct GitRef {
    object: Sha,
}

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

#[derive(Deserialize)]
struct GitCommit {
    tree: Sha,
}

#[derive(Deserialize)]
struct Compare {
    #[serde(default)]
    files: Vec<CompareFile>,
}

#[derive(Deserialize)]
struct CompareFile {
    filename: String,
    #[serde(default)]
    previous_filename: Option<String>,
}

#[derive(Deserialize)]
struct Pull {
    number: u64,
    state: String,
    html_url: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: Option<String>,
    head: PullHead,
    #[serde(default)]
    merged_at: Option<String>,
    #[serde(default)]
    labels: Vec<Label>,
}

#[derive(Deserialize)]
struct PullHead {
    sha: String,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

impl GitHub {
    /// A client for `owner/name` at `api` (`https://api.github.com`, a GHE `/api/v3`, or a
    /// test server). Must run inside a tokio runtime.
    pub fn connect(api: &str, token: &str, repository: &str) -> Result<GitHub> {
        let (owner, repo) = repository
            .split_once('/')
            .ok_or_else(|| anyhow!("`{repository}` is not a GitHub repository (`owner/name`)"))?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("modelbench/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|err| anyhow!("cannot set up the HTTP client: {err}"))?;
        let octo = Octocrab::builder()
            .base_uri(api.trim_end_matches('/'))
            .map_err(|err| anyhow!("`{api}` is not a usable GitHub API URL: {err}"))?
            .personal_token(token.to_string())
            .add_header(
                reqwest::header::HeaderName::from_static("x-github-api-version"),
                "2022-11-28".into(),
            )
            // 5xx and 429 only; 4xx answers are final.
            .add_retry_config(octocrab::service::middleware::retry::RetryConfig::Simple(2))
            .build_with_reqwest(http)
            .map_err(|err| anyhow!("cannot set up the GitHub client: {err}"))?;
        Ok(GitHub {
            octo,
            owner: owner.to_string(),
            repo: repo.to_string(),
            api: api.to_string(),
        })
    }

    fn repo_route(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }

    fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    /// The base branch (`base_branch`, else the repository's default) and its head.
    pub async fn base(&self, base_branch: Option<&str>) -> Result<Base> {
        let branch = match base_branch {
            Some(branch) => branch.to_string(),
            None => {
                let info: RepoInfo = self
                    .get(
                        &self.repo_route(""),
                        &format!("cannot read repository {}", self.full_name()),
                    )
                    .await?;
                info.default_branch
            }
        };
        let head: GitRef = self
            .get_opt(
                &self.repo_route(&format!("/git/ref/heads/{}", encode_path(&branch))),
                &format!("cannot read branch {branch}"),
            )
            .await?
            .ok_or_else(|| {
                anyhow!(
                    "{} has no branch `{branch}` to open pull requests against",
                    self.full_name()
                )
            })?;
        Ok(Base {
            branch,
            sha: head.object.sha,
        })
    }

    /// The lock on the base branch must be the one bump started from.
    pub async fn check_base_lock(&self, base: &Base, lock_path: &str, local: &Lock) -> Result<()> {
        let Some(bytes) = self.file(lock_path, &base.sha).await? else {
            bail!(
                "{lock_path} is not committed on {} of {}: bump --pr updates a committed lock; commit it first",
                base.branch,
                self.full_name()
            );
        };
        let text = String::from_utf8_lossy(&bytes);
        let remote = Lock::parse(Path::new(lock_path), &text)
            .map_err(|err| anyhow!("the lock on {}: {err}", base.branch))?;
        if remote != *local {
            bail!(
                "the lock on {} ({}) differs from the local {lock_path}: run bump --pr from an up-to-date checkout of {}, so that its pull requests do not undo what {} already has",
                base.branch,
                short(&base.sha),
                base.branch,
                base.branch
            );
        }
        Ok(())
    }

    /// Bring the group's branch and pull request to `proposal`.
    pub async fn sync(&self, base: &Base, proposal: &Proposal) -> Result<Outcome> {
        let branch = &proposal.branch;
        let ref_route = self.repo_route(&format!("/git/ref/heads/{}", encode_path(branch)));
        let existing: Option<GitRef> = self
            .get_opt(&ref_route, &format!("cannot read branch {branch}"))
            .await?;
        let Some(head) = existing else {
            let commit = self
                .commit(
                    &base.sha,
                    vec![base.sha.clone()],
                    proposal,
                    &proposal.commit_message,
                )
                .await?;
            let _: Value = self
                .post(
                    &self.repo_route("/git/refs"),
                    &json!({ "ref": format!("refs/heads/{branch}"), "sha": commit }),
                    &format!("cannot create branch {branch}"),
                )
                .await?;
            let pull = self.open_pull(base, proposal).await?;
            return Ok(Outcome::Opened {
                number: pull.number,
                url: pull.html_url,
            });
        };
        let head_sha = head.object.sha;

        let head_filter: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("head", &format!("{}:{branch}", self.owner))
            .append_pair("state", "all")
            .append_pair("per_page", "100")
            .finish();
        let pulls: Vec<Pull> = self
            .get(
                &self.repo_route(&format!("/pulls?{head_filter}")),
                &format!("cannot list the pull requests of {branch}"),
            )
            .await?;
        let open = pulls.iter().find(|p| p.state == "open");
        let branch_lock = self.file(&proposal.lock_path, &head_sha).await?;
        let compare: Compare = self
            .get(
                &self.repo_route(&format!("/compare/{head_sha}...{}", base.sha)),
                &format!("cannot compare {branch} with {}", base.branch),
            )
            .await?;
        let lock_moved = compare.files.iter().any(|f| {
            f.filename == proposal.lock_path
                || f.previous_filename.as_deref() == Some(proposal.lock_path.as_str())
        });
        let same_lock = branch_lock.as_deref() == Some(proposal.lock_bytes.as_slice());

        if same_lock && !lock_moved {
            if let Some(pull) = open {
                let repaired = self.refresh(pull, proposal).await?;
                let (number, url) = (pull.number, pull.html_url.clone());
                return Ok(if repaired {
                    Outcome::Repaired { number, url }
                } else {
                    Outcome::UpToDate { number, url }
                });
            }
            if let Some(closed) = pulls
                .iter()
                .find(|p| p.state == "closed" && p.merged_at.is_none() && p.head.sha == head_sha)
            {
                return Ok(Outcome::Declined {
                    number: closed.number,
                    url: closed.html_url.clone(),
                });
            }
            // The branch is there but its pull request is not: an earlier run stopped.
            let pull = self.open_pull(base, proposal).await?;
            return Ok(Outcome::Opened {
                number: pull.number,
                url: pull.html_url,
            });
        }

        let (tree_of, parents, message) = if lock_moved {
            (
                base.sha.clone(),
                vec![head_sha.clone(), base.sha.clone()],
                format!(
                    "{}\n\nRebuilt on {} ({}): the lock there moved since this branch was made.\nMerge commit: the branch's earlier commits stay.",
                    proposal.commit_message,
                    base.branch,
                    short(&base.sha)
                ),
            )
        } else {
            (
                head_sha.clone(),
                vec![head_sha.clone()],
                proposal.commit_message.clone(),
            )
        };
        let commit = self.commit(&tree_of, parents, proposal, &message).await?;
        let _: Value = self
            .patch(
                &self.repo_route(&format!("/git/refs/heads/{}", encode_path(branch))),
                &json!({ "sha": commit, "force": false }),
                &format!("cannot update branch {branch}"),
            )
            .await?;
        match open {
            Some(pull) => {
                self.refresh(pull, proposal).await?;
                Ok(Outcome::Updated {
                    number: pull.number,
                    url: pull.html_url.clone(),
                    rebuilt: lock_moved,
                })
            }
            None => {
                let pull = self.open_pull(base, proposal).await?;
                Ok(Outcome::Opened {
                    number: pull.number,
                    url: pull.html_url,
                })
            }
        }
    }

    /// blobs (the lock, then each emitted file) → tree (on `tree_of`'s tree) → commit;
    /// returns the commit's sha.
    async fn commit(
        &self,
        tree_of: &str,
        parents: Vec<String>,
        proposal: &Proposal,
        message: &str,
    ) -> Result<String> {
        let base_commit: GitCommit = self
            .get(
                &self.repo_route(&format!("/git/commits/{tree_of}")),
                &format!("cannot read commit {}", short(tree_of)),
            )
            .await?;
        let blob: Sha = self
            .post(
                &self.repo_route("/git/blobs"),
                &json!({
                    "content": base64::engine::general_purpose::STANDARD.encode(&proposal.lock_bytes),
                    "encoding": "base64",
                }),
                &format!("cannot upload {}", proposal.lock_path),
            )
            .await?;
        let mut entries = vec![json!({
            "path": proposal.lock_path,
            "mode": "100644",
            "type": "blob",
            "sha": blob.sha,
        })];
        // Emitted files go inline (`content`): GitHub writes their blobs, one call for all.
        entries.extend(proposal.emitted.iter().map(|file| {
            json!({
                "path": file.path,
                "mode": if file.executable { "100755" } else { "100644" },
                "type": "blob",
                "content": file.content,
            })
        }));
        let tree: Sha = self
            .post(
                &self.repo_route("/git/trees"),
                &json!({ "base_tree": base_commit.tree.sha, "tree": entries }),
                "cannot create the commit's tree",
            )
            .await?;
        let commit: Sha = self
            .post(
                &self.repo_route("/git/commits"),
                &json!({ "message": message, "tree": tree.sha, "parents": parents }),
                &format!("cannot create the commit for {}", proposal.branch),
            )
            .await?;
        Ok(commit.sha)
    }

    async fn open_pull(&self, base: &Base, proposal: &Proposal) -> Result<Pull> {
        let pull: Pull = self
            .post(
                &self.repo_route("/pulls"),
                &json!({
                    "title": proposal.title,
                    "head": proposal.branch,
                    "base": base.branch,
                    "body": proposal.body,
                }),
                &format!("cannot open the pull request for {}", proposal.branch),
            )
            .await?;
        if !proposal.labels.is_empty() {
            self.add_labels(pull.number, &proposal.labels).await?;
        }
        Ok(pull)
    }

    /// Title, body and labels as proposed; true when something was written.
    async fn refresh(&self, pull: &Pull, proposal: &Proposal) -> Result<bool> {
        let mut wrote = false;
        let body = pull.body.as_deref().unwrap_or_default();
        if pull.title != proposal.title || normalize(body) != normalize(&proposal.body) {
            let _: Value = self
                .patch(
                    &self.repo_route(&format!("/pulls/{}", pull.number)),
                    &json!({ "title": proposal.title, "body": proposal.body }),
                    &format!("cannot update pull request #{}", pull.number),
                )
                .await?;
            wrote = true;
        }
        let missing: Vec<String> = proposal
            .labels
            .iter()
            .filter(|l| !pull.labels.iter().any(|have| &have.name == *l))
            .cloned()
            .collect();
        if !missing.is_empty() {
            self.add_labels(pull.number, &missing).await?;
            wrote = true;
        }
        Ok(wrote)
    }

    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<()> {
        let _: Value = self
            .post(
                &self.repo_route(&format!("/issues/{number}/labels")),
                &json!({ "labels": labels }),
                &format!("cannot label pull request #{number}"),
            )
            .await?;
        Ok(())
    }

    /// A file's bytes at a commit; `None` when it is not there.
    async fn file(&self, path: &str, at: &str) -> Result<Option<Vec<u8>>> {
        let action = format!("cannot read {path} at {}", short(at));
        let route = self.repo_route(&format!("/contents/{}?ref={at}", encode_path(path)));
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            reqwest::header::HeaderValue::from_static("application/vnd.github.raw+json"),
        );
        let response = match self.octo._get_with_headers(route, Some(headers)).await {
            Ok(response) => response,
            Err(err) => return Err(self.explain(&action, err)),
        };
        let response = match octocrab::map_github_error(response).await {
            Ok(response) => response,
            Err(err) if status_of(&err) == Some(404) => return Ok(None),
            Err(err) => return Err(self.explain(&action, err)),
        };
        let text = self
            .octo
            .body_to_string(response)
            .await
            .map_err(|err| self.explain(&action, err))?;
        Ok(Some(text.into_bytes()))
    }

    async fn get<T: DeserializeOwned>(&self, route: &str, action: &str) -> Result<T> {
        self.octo
            .get::<T, _, ()>(route, None)
            .await
            .map_err(|err| self.explain(action, err))
    }

    async fn get_opt<T: DeserializeOwned>(&self, route: &str, action: &str) -> Result<Option<T>> {
        match self.octo.get::<T, _, ()>(route, None).await {
            Ok(value) => Ok(Some(value)),
            Err(err) if status_of(&err) == Some(404) => Ok(None),
            Err(err) => Err(self.explain(action, err)),
        }
    }

    async fn post<T: DeserializeOwned>(
        &self,
        route: &str,
        body: &Value,
        action: &str,
    ) -> Result<T> {
        self.octo
            .post::<_, T>(route, Some(body))
            .await
            .map_err(|err| self.explain(action, err))
    }

    async fn patch<T: DeserializeOwned>(
        &self,
        route: &str,
        body: &Value,
        action: &str,
    ) -> Result<T> {
        self.octo
            .patch::<T, _, _>(route, Some(body))
            .await
            .map_err(|err| self.explain(action, err))
    }

    /// A GitHub error as a sentence that says what to do.
    fn explain(&self, action: &str, err: octocrab::Error) -> anyhow::Error {
        let octocrab::Error::GitHub { source, .. } = &err else {
            return anyhow!("{action}: cannot talk to GitHub at {}: {err}", self.api);
        };
        let status = source.status_code;
        let details: Vec<String> = source
            .errors
            .iter()
            .flatten()
            .map(|e| match e.get("message").and_then(Value::as_str) {
                Some(message) => message.to_string(),
                None => e.to_string(),
            })
            .collect();
        let mut said = source.message.trim().to_string();
        if !details.is_empty() {
            said = format!("{said}: {}", details.join("; "));
        }
        let lower = said.to_ascii_lowercase();
        let repo = self.full_name();
        let hint = match status.as_u16() {
            401 => "GitHub does not accept the token: GITHUB_TOKEN is wrong, expired or revoked".to_string(),
            403 if lower.contains("rate limit") => {
                "GitHub's rate limit is used up; run again later".to_string()
            }
            403 => format!(
                "the token lacks permission on {repo}: bump --pr needs `contents: write` and `pull-requests: write` (a fine-grained token: Contents and Pull requests, read and write; in Actions: the workflow's `permissions:`)"
            ),
            404 => format!(
                "not found: the repository {repo} does not exist, or the token cannot see it"
            ),
            409 => "GitHub reports a conflict; run again once the repository settles".to_string(),
            422 if lower.contains("protected branch") || lower.contains("rule violation") || lower.contains("ruleset") => {
                "branch protection or a ruleset forbids this write: exempt `modelbench/*` from the rule, or let the token bypass it".to_string()
            }
            422 if lower.contains("fast forward") => {
                "the branch moved while bump ran; run bump again".to_string()
            }
            422 => "GitHub rejected the request as invalid".to_string(),
            _ => String::new(),
        };
        let reason = status.canonical_reason().unwrap_or("");
        if hint.is_empty() {
            anyhow!(
                "{action}: GitHub answered {} {reason} ({said})",
                status.as_u16()
            )
        } else {
            anyhow!(
                "{action}: GitHub answered {} {reason} ({said}): {hint}",
                status.as_u16()
            )
        }
    }
}

fn status_of(err: &octocrab::Error) -> Option<u16> {
    match err {
        octocrab::Error::GitHub { source, .. } => Some(source.status_code.as_u16()),
        _ => None,
    }
}

/// Percent-encode a path for a URL, keeping `/`.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Bodies edited on the web come back with CRLF.
fn normalize(body: &str) -> String {
    body.replace("\r\n", "\n").trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_but_keep_slashes() {
        assert_eq!(encode_path("lock/x/bench.lock"), "lock/x/bench.lock");
        assert_eq!(encode_path("a b/c#d"), "a%20b/c%23d");
        assert_eq!(encode_path("modelbench/cuda-base"), "modelbench/cuda-base");
    }
}
