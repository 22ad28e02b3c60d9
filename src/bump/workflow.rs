//! The GitHub Actions workflow `emit` can write: `modelbench bump --pr` on a schedule,
//! and `modelbench verify --against-upstream` on every pull request that touches a lock.
//!
//! The text is a pure function of [`WorkflowOptions`], so emitting it twice gives the same
//! bytes.
//!
//! The job runs with a token that can push and open pull requests, so everything it runs
//! is pinned by content: the checkout action by full commit SHA (a tag can be moved), and
//! modelbench from a git revision by full commit SHA, never by crate name (modelbench is
//! not published; whoever published a crate under that name would run with the token).

use std::fmt::Write as _;

use crate::lock::values::{GitCommit, ReleaseTag};
use crate::lock::{Kind, Lock};
use crate::resolve::git::{CHECKOUT_NAME, CHECKOUT_REPOSITORY, MODELBENCH_NAME};
use crate::spec::Spec;

/// Where the workflow goes in a repository.
pub const WORKFLOW_PATH: &str = ".github/workflows/modelbench-bump.yml";

/// The secret the workflow reads its token from (falling back to the default token).
pub const TOKEN_SECRET: &str = "MODELBENCH_BUMP_TOKEN";

/// actions/checkout v4.2.2 by commit, for a spec without `[workflow] checkout`: the tag's
/// commit as recorded by dependabot when it moved repositories from v4.2.1 to v4.2.2
/// (sandialabs/staged-script's CHANGELOG and
/// kyverno/website's history, compare eef61447…7871...11bd7190…f683). Update the SHA
/// and the tag in the comment together.
const CHECKOUT: &str = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2";

/// The checkout action by the commit the lock pinned (`[workflow] checkout`): both values
/// typed, so neither can carry a space, a `#` or a line break into the `uses:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutPin {
    pub commit: GitCommit,
    /// The tag the commit was locked from, for the reader (a comment).
    pub tag: ReleaseTag,
}

impl CheckoutPin {
    /// `actions/checkout@<sha> # <tag>`.
    fn uses(&self) -> String {
        format!(
            "{} # {}",
            yaml_word(&format!("actions/checkout@{}", self.commit)),
            self.tag
        )
    }
}

/// Why the lock cannot give the workflow its pins.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PinError {
    #[error(
        "the spec's `[workflow] {key}` has no answer in the lock (no `git {name}` entry, or one from an older spec); run `modelbench lock` first"
    )]
    NotLocked {
        key: &'static str,
        name: &'static str,
    },
    #[error("lock entry `git {name}`: {message}")]
    Invalid { name: &'static str, message: String },
}

/// Where the workflow gets modelbench from: always a git revision by full commit SHA.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Install {
    /// The repository's variables `MODELBENCH_GIT_URL` (https) and `MODELBENCH_GIT_REV`
    /// (a full commit SHA), checked by the step before anything is built: a fork or an
    /// internal mirror sets its own, and a pull request cannot change them.
    #[default]
    RepositoryVariables,
    /// A revision written into the workflow (made by [`Install::git_revision`]).
    GitRevision { url: String, rev: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InstallError {
    #[error("`{0}` is not an https URL of a git repository without credentials")]
    Url(String),
    #[error("`{0}` is not a full commit SHA (40 lowercase hex digits); a tag or branch can move")]
    Rev(String),
}

impl Install {
    /// `cargo install --locked --git URL --rev REV modelbench`, with both checked: they go
    /// into the workflow's shell step.
    pub fn git_revision(url: &str, rev: &str) -> Result<Install, InstallError> {
        let plain = |c: char| c.is_ascii_alphanumeric() || "-._~/:%+".contains(c);
        let host_and_path = url.strip_prefix("https://").unwrap_or_default();
        if host_and_path.is_empty() || !host_and_path.chars().all(plain) {
            return Err(InstallError::Url(crate::emit::quote::escaped(url)));
        }
        if rev.len() != 40 || !rev.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(InstallError::Rev(crate::emit::quote::escaped(rev)));
        }
        Ok(Install::GitRevision {
            url: url.to_string(),
            rev: rev.to_string(),
        })
    }

    /// The workflow step that puts `modelbench` on the PATH.
    fn step(&self) -> String {
        match self {
            Install::GitRevision { url, rev } => format!(
                "      - name: Install modelbench from a pinned git revision\n        run: {}\n",
                yaml_word(&format!(
                    "cargo install --locked --git {} --rev {} modelbench",
                    shell_word(url),
                    shell_word(rev)
                ))
            ),
            Install::RepositoryVariables => r#"      - name: Install modelbench from a pinned git revision
        # Set the repository variables MODELBENCH_GIT_URL (https URL of modelbench's git
        # repository) and MODELBENCH_GIT_REV (a full commit SHA, not a tag or branch).
        env:
          MODELBENCH_GIT_URL: ${{ vars.MODELBENCH_GIT_URL }}
          MODELBENCH_GIT_REV: ${{ vars.MODELBENCH_GIT_REV }}
        run: |
          case $MODELBENCH_GIT_URL in
            https://*) ;;
            *) echo "::error::set the repository variable MODELBENCH_GIT_URL to the https URL of modelbench's git repository" >&2; exit 1 ;;
          esac
          if ! printf '%s\n' "$MODELBENCH_GIT_REV" | grep -Eqx '[0-9a-f]{40}'; then
            echo "::error::set the repository variable MODELBENCH_GIT_REV to a full commit SHA of modelbench (a tag or branch can move)" >&2
            exit 1
          fi
          cargo install --locked --git "$MODELBENCH_GIT_URL" --rev "$MODELBENCH_GIT_REV" modelbench
"#
            .to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowOptions {
    /// The spec, relative to the repository root.
    pub spec_path: String,
    /// The lock, relative to the repository root, when not the default path.
    pub lock_path: Option<String>,
    /// A cron line (UTC); default Monday 04:17, off the top of the hour.
    pub cron: String,
    /// Where the step that puts `modelbench` on the PATH gets it.
    pub install: Install,
    /// The checkout action the lock pinned; `None`: the built-in v4.2.2 commit.
    pub checkout: Option<CheckoutPin>,
}

impl WorkflowOptions {
    /// Take the checkout action and modelbench from the lock's `git` entries when the
    /// spec's `[workflow]` table asks for them (without it: the built-in checkout commit
    /// and the repository variables, as before). Each value is parsed again into its
    /// type here, so only a full SHA, a plain tag and an https URL reach the text.
    pub fn with_lock_pins(mut self, spec: &Spec, lock: &Lock) -> Result<Self, PinError> {
        let Some(workflow) = &spec.workflow else {
            return Ok(self);
        };
        let entry = |key: &'static str, name: &'static str, repository: &str| {
            lock.find(Kind::Git, name)
                .filter(|a| a.repository.as_deref() == Some(repository))
                .ok_or(PinError::NotLocked { key, name })
        };
        let commit_of = |name: &'static str, artifact: &crate::lock::Artifact| {
            GitCommit::parse("commit", artifact.commit.as_deref().unwrap_or_default()).map_err(
                |err| PinError::Invalid {
                    name,
                    message: err.to_string(),
                },
            )
        };
        if workflow.checkout.is_some() {
            let artifact = entry("checkout", CHECKOUT_NAME, CHECKOUT_REPOSITORY)?;
            self.checkout = Some(CheckoutPin {
                commit: commit_of(CHECKOUT_NAME, artifact)?,
                tag: ReleaseTag::parse("version", &artifact.version).map_err(|err| {
                    PinError::Invalid {
                        name: CHECKOUT_NAME,
                        message: err.to_string(),
                    }
                })?,
            });
        }
        if let Some(source) = &workflow.modelbench {
            let artifact = entry("modelbench", MODELBENCH_NAME, source.git.get_ref())?;
            let commit = commit_of(MODELBENCH_NAME, artifact)?;
            self.install =
                Install::git_revision(source.git.get_ref(), commit.as_str()).map_err(|err| {
                    PinError::Invalid {
                        name: MODELBENCH_NAME,
                        message: err.to_string(),
                    }
                })?;
        }
        Ok(self)
    }
}

impl Default for WorkflowOptions {
    fn default() -> Self {
        WorkflowOptions {
            spec_path: "specs/model-bench-cu128.toml".into(),
            lock_path: None,
            cron: "17 4 * * 1".into(),
            install: Install::default(),
            checkout: None,
        }
    }
}

/// The workflow file's text.
pub fn github_workflow(options: &WorkflowOptions) -> String {
    let mut command = format!("modelbench bump {} --pr", shell_word(&options.spec_path));
    if let Some(lock) = &options.lock_path {
        let _ = write!(command, " --lock {}", shell_word(lock));
    }
    let command = yaml_word(&command);
    let mut check = format!(
        "modelbench verify {} --against-upstream",
        shell_word(&options.spec_path)
    );
    let mut lock_paths = vec!["lock/**".to_string()];
    if let Some(lock) = &options.lock_path {
        let _ = write!(check, " --lock {}", shell_word(lock));
        if !lock.starts_with("lock/") {
            lock_paths.push(lock.clone());
        }
    }
    let paths: String = lock_paths
        .iter()
        .map(|p| format!("      - {}\n", yaml_quoted(p)))
        .collect();
    format!(
        r#"# @generated by modelbench emit; edit the spec, not this file.
#
# Runs `modelbench bump --pr` on a schedule: one pull request per bump group of the
# spec's [bump] table (branch modelbench/<group>), its body the lock diff table. Later
# runs add a commit on top of the same branch and update the body; a run with nothing
# new writes nothing. Versions and hashes always move together.
#
# THE TOKEN MATTERS. Pull requests opened or pushed with the default GITHUB_TOKEN of
# Actions do NOT trigger other workflows (GitHub does this to prevent recursive runs),
# so the pull request's CI - the build that checks every locked hash - would never
# start. Give this workflow a token that does trigger them and store it as the
# repository secret {TOKEN_SECRET}:
#   - a GitHub App installation token (recommended; e.g. made in an earlier step with
#     actions/create-github-app-token), or
#   - a fine-grained personal access token for this repository with
#     "Contents: read and write" and "Pull requests: read and write".
# Without the secret the default token is used: the pull request is still opened and
# updated, but its checks only run after someone closes and reopens it.
#
# A pull request that touches a lock is checked against the world, not against itself
# (anyone can edit a lock and recompute its entry checksums): the job `verify-lock`
# resolves every entry again at its locked version and fails when a URL, hash, size or
# closure member differs from what the upstream says. It runs with a read-only token.
name: modelbench bump

on:
  schedule:
    - cron: "{cron}"
  workflow_dispatch: {{}}
  pull_request:
    paths:
{paths}
permissions:
  contents: write
  pull-requests: write

concurrency:
  group: modelbench-${{{{ github.event_name == 'pull_request' && github.ref || 'bump' }}}}
  cancel-in-progress: false

jobs:
  bump:
    if: github.event_name != 'pull_request'
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - uses: {checkout}
        with:
          persist-credentials: false
{install}      - name: Bump the lock and open or update the pull requests
        env:
          GITHUB_TOKEN: ${{{{ secrets.{TOKEN_SECRET} || secrets.GITHUB_TOKEN }}}}
        run: {command}

  verify-lock:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    timeout-minutes: 30
    permissions:
      contents: read
    steps:
      - uses: {checkout}
        with:
          persist-credentials: false
{install}      - name: Check every pin of the lock against its upstream
        env:
          GITHUB_TOKEN: ${{{{ github.token }}}}
        run: {check}
"#,
        check = yaml_word(&check),
        cron = options.cron.replace('"', ""),
        install = options.install.step(),
        checkout = options
            .checkout
            .as_ref()
            .map_or_else(|| CHECKOUT.to_string(), CheckoutPin::uses),
    )
}

/// A shell word: as is when it has nothing special, else single-quoted.
fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// A single-quoted YAML scalar (a glob such as `lock/**` is not plain YAML).
fn yaml_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A plain YAML scalar when safe, else single-quoted.
fn yaml_word(text: &str) -> String {
    let plain = !text.is_empty()
        && !text.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.ends_with(char::is_whitespace);
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_explains_the_token_and_runs_bump() {
        let text = github_workflow(&WorkflowOptions {
            spec_path: "specs/x.toml".into(),
            lock_path: Some("lock/x/bench.lock".into()),
            ..WorkflowOptions::default()
        });
        assert!(text.contains("do NOT trigger other workflows"));
        assert!(text.contains("secrets.MODELBENCH_BUMP_TOKEN || secrets.GITHUB_TOKEN"));
        assert!(text.contains("run: modelbench bump specs/x.toml --pr --lock lock/x/bench.lock"));
        assert!(text.contains("cron: \"17 4 * * 1\""));
        assert!(text.contains("pull-requests: write"));
        assert!(!text.contains('\t'));
        assert_eq!(
            text,
            github_workflow(&WorkflowOptions {
                spec_path: "specs/x.toml".into(),
                lock_path: Some("lock/x/bench.lock".into()),
                ..WorkflowOptions::default()
            })
        );
    }

    #[test]
    fn workflow_runs_only_pinned_code() {
        let text = github_workflow(&WorkflowOptions::default());
        assert!(
            text.contains(
                "uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
            ),
            "{text}"
        );
        assert!(!text.contains("@v4\n"), "{text}");
        assert!(
            text.contains(r#"cargo install --locked --git "$MODELBENCH_GIT_URL" --rev "$MODELBENCH_GIT_REV" modelbench"#),
            "{text}"
        );
        assert!(
            !text.contains("cargo install --locked modelbench"),
            "{text}"
        );
        // Every `uses:` names a full commit SHA.
        for line in text.lines().filter(|l| l.contains("uses:")) {
            let reference = line.split('@').nth(1).unwrap_or_default();
            let sha = reference.split_whitespace().next().unwrap_or_default();
            assert!(
                sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "{line}"
            );
        }
        // The variables' check in the step refuses what is not a full SHA or https.
        let run: String = text
            .split("run: |\n")
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|l| l.starts_with("          "))
            .map(|l| format!("{}\n", &l[10..]))
            .collect();
        let check = run.replace("cargo install", "echo would install");
        for (url, rev, ok) in [
            (
                "https://git.example/modelbench.git",
                "0123456789abcdef0123456789abcdef01234567",
                true,
            ),
            ("https://git.example/modelbench.git", "v1.0.0", false),
            (
                "https://git.example/modelbench.git",
                "0123456789abcdef",
                false,
            ),
            (
                "http://git.example/modelbench.git",
                "0123456789abcdef0123456789abcdef01234567",
                false,
            ),
        ] {
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(&check)
                .env("MODELBENCH_GIT_URL", url)
                .env("MODELBENCH_GIT_REV", rev)
                .output()
                .unwrap();
            assert_eq!(status.status.success(), ok, "{url} {rev}: {status:?}");
        }
    }

    /// The workflow is YAML whose steps are what the text says (python3's yaml when there).
    #[test]
    fn workflow_parses_as_yaml_with_pinned_steps() {
        let text = github_workflow(&WorkflowOptions::default());
        let script = "import sys, yaml, json; print(json.dumps(yaml.safe_load(sys.stdin)))";
        let child = std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs python3 with PyYAML"
            );
            eprintln!("skipped: install python3 and PyYAML (python3-yaml) to parse the workflow");
            return;
        };
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if stderr.contains("No module named 'yaml'") && std::env::var_os("CI").is_none() {
                eprintln!("skipped: install PyYAML (python3-yaml) to parse the workflow");
                return;
            }
            panic!("not YAML: {stderr}\n{text}");
        }
        let workflow: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let steps = workflow["jobs"]["bump"]["steps"].as_array().unwrap();
        assert_eq!(
            steps[0]["uses"],
            "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"
        );
        assert_eq!(
            steps[1]["env"]["MODELBENCH_GIT_REV"],
            "${{ vars.MODELBENCH_GIT_REV }}"
        );
        assert!(
            steps[1]["run"]
                .as_str()
                .unwrap()
                .ends_with("--rev \"$MODELBENCH_GIT_REV\" modelbench\n")
        );
        assert!(
            steps[2]["run"]
                .as_str()
                .unwrap()
                .starts_with("modelbench bump ")
        );
    }

    #[test]
    fn a_git_revision_in_the_workflow_is_checked() {
        let install = Install::git_revision(
            "https://git.example/org/modelbench.git",
            "0123456789abcdef0123456789abcdef01234567",
        )
        .unwrap();
        let text = github_workflow(&WorkflowOptions {
            install,
            ..WorkflowOptions::default()
        });
        assert!(
            text.contains("run: cargo install --locked --git 'https://git.example/org/modelbench.git' --rev 0123456789abcdef0123456789abcdef01234567 modelbench\n"),
            "{text}"
        );
        for (url, rev) in [
            (
                "https://user:token@git.example/m.git",
                "0123456789abcdef0123456789abcdef01234567",
            ),
            (
                "http://git.example/m.git",
                "0123456789abcdef0123456789abcdef01234567",
            ),
            (
                "https://git.example/m.git; curl evil",
                "0123456789abcdef0123456789abcdef01234567",
            ),
            ("https://git.example/m.git", "main"),
            (
                "https://git.example/m.git",
                "0123456789ABCDEF0123456789ABCDEF01234567",
            ),
        ] {
            assert!(Install::git_revision(url, rev).is_err(), "{url} {rev}");
        }
    }

    #[test]
    fn workflow_takes_its_pins_from_the_lock() {
        let spec = crate::spec::LoadedSpec::from_str(
            std::path::Path::new("x.toml"),
            "[image]\nname = \"x\"\ntag = \"t\"\nplatforms = [\"linux/amd64\"]\n\
             [base]\nimage = \"debian:bookworm\"\n\
             [workflow]\ncheckout = \"v4\"\n\
             modelbench = { git = \"https://git.example/m.git\", tag = \"v1\" }\n",
        )
        .unwrap()
        .spec;
        let checkout_sha = "eef61447b9ff4aafe5dcd4e0bbf5d482be7e7871";
        let modelbench_sha = "0123456789abcdef0123456789abcdef01234567";
        let git = |name: &str, version: &str, repository: &str, commit: &str| {
            let mut artifact = crate::resolve::artifact(Kind::Git, version);
            artifact.name = name.to_string();
            artifact.repository = Some(repository.to_string());
            artifact.commit = Some(commit.to_string());
            artifact
        };
        let typed = |wire| crate::lock::Artifact::try_from(wire).unwrap();
        let spec_hash = crate::lock::values::OneLine::parse("spec-hash", "sha256:x").unwrap();
        let lock = Lock::new(
            spec_hash.clone(),
            vec![
                typed(git(
                    CHECKOUT_NAME,
                    "v4.2.1",
                    CHECKOUT_REPOSITORY,
                    checkout_sha,
                )),
                typed(git(
                    MODELBENCH_NAME,
                    "v1.0.3",
                    "https://git.example/m.git",
                    modelbench_sha,
                )),
            ],
        );
        let options = WorkflowOptions::default()
            .with_lock_pins(&spec, &lock)
            .unwrap();
        let text = github_workflow(&options);
        assert!(
            text.contains(&format!(
                "      - uses: actions/checkout@{checkout_sha} # v4.2.1\n"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("run: cargo install --locked --git 'https://git.example/m.git' --rev {modelbench_sha} modelbench\n")),
            "{text}"
        );
        assert!(!text.contains("vars."), "{text}");

        // Not locked (or locked for another repository): refused, nothing made up.
        let partial = Lock::new(spec_hash, lock.artifacts[..1].to_vec());
        assert_eq!(
            WorkflowOptions::default().with_lock_pins(&spec, &partial),
            Err(PinError::NotLocked {
                key: "modelbench",
                name: MODELBENCH_NAME
            })
        );
        // A hostile commit or version never becomes a typed entry (the conversion the
        // lock's reader and the resolver driver share refuses it), so it cannot reach
        // the workflow.
        let mut hostile = git(CHECKOUT_NAME, "v4.2.1", CHECKOUT_REPOSITORY, checkout_sha);
        hostile.commit = Some(format!("{checkout_sha}\n      - run: id"));
        let err = crate::lock::Artifact::try_from(&hostile).unwrap_err();
        assert_eq!(err.field, "commit");
        hostile.commit = Some(checkout_sha.into());
        hostile.version = "v4 # x\nrun: id".into();
        let err = crate::lock::Artifact::try_from(&hostile).unwrap_err();
        assert_eq!(err.field, "version");
        // Without the table: the built-in commit and the repository variables.
        let plain = crate::spec::LoadedSpec::from_str(
            std::path::Path::new("x.toml"),
            "[image]\nname = \"x\"\ntag = \"t\"\nplatforms = [\"linux/amd64\"]\n\
             [base]\nimage = \"debian:bookworm\"\n",
        )
        .unwrap()
        .spec;
        assert_eq!(
            WorkflowOptions::default().with_lock_pins(&plain, &lock),
            Ok(WorkflowOptions::default())
        );
    }

    #[test]
    fn pull_requests_that_touch_a_lock_are_verified_read_only() {
        let text = github_workflow(&WorkflowOptions {
            spec_path: "specs/x.toml".into(),
            lock_path: Some("locks/x.lock".into()),
            ..WorkflowOptions::default()
        });
        assert!(
            text.contains(
                "  pull_request:\n    paths:\n      - 'lock/**'\n      - 'locks/x.lock'\n"
            ),
            "{text}"
        );
        let (bump, verify) = text.split_once("  verify-lock:\n").unwrap();
        // The bump job, with its write token, never runs for a pull request.
        assert!(
            bump.contains("  bump:\n    if: github.event_name != 'pull_request'\n"),
            "{text}"
        );
        assert!(verify.starts_with("    if: github.event_name == 'pull_request'\n"));
        assert!(
            verify.contains("    permissions:\n      contents: read\n    steps:"),
            "{verify}"
        );
        assert!(!verify.contains("write"), "{verify}");
        assert!(!verify.contains("secrets."), "{verify}");
        assert!(
            verify.contains(
                "run: modelbench verify specs/x.toml --against-upstream --lock locks/x.lock\n"
            ),
            "{verify}"
        );
        let default = github_workflow(&WorkflowOptions::default());
        assert!(
            default.contains("    paths:\n      - 'lock/**'\n\n"),
            "{default}"
        );
        // Pull request checks do not queue behind the weekly bump (nor each other's).
        assert!(
            default.contains(
                "group: modelbench-${{ github.event_name == 'pull_request' && github.ref || 'bump' }}\n"
            ),
            "{default}"
        );
        assert!(
            default.contains(
                "run: modelbench verify specs/model-bench-cu128.toml --against-upstream\n"
            ),
            "{default}"
        );
    }

    #[test]
    fn odd_words_are_quoted() {
        assert_eq!(yaml_word("specs/a.toml"), "specs/a.toml");
        assert_eq!(yaml_word("a: b"), "'a: b'");
        assert_eq!(yaml_word("it's"), "it's");
        assert_eq!(yaml_word("'x"), "'''x'");
        assert_eq!(shell_word("specs/a b.toml"), "'specs/a b.toml'");
        let text = github_workflow(&WorkflowOptions {
            spec_path: "specs/a: b.toml".into(),
            ..WorkflowOptions::default()
        });
        assert!(
            text.contains("run: 'modelbench bump ''specs/a: b.toml'' --pr'"),
            "{text}"
        );
    }
}
