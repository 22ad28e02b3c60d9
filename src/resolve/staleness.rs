//! Whether a lock still answers its spec: the one check behind `lock --check`, `emit`
//! (`--locked`), `bump` and `verify --against-upstream`. Each command words the
//! [`Mismatch`]es as it reports them; which ones there are is decided only here.

use std::fmt;

use super::{Plan, UpdatePolicy, covers, needs_resolution};
use crate::lock::{ChecksumError, Kind, Lock};

/// One way a lock fails to answer the spec it is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// An entry edited after locking (requested or not): its pins cannot be trusted.
    Edited(ChecksumError),
    /// The spec asks for an entry the lock does not have.
    NotLocked { kind: Kind, name: String },
    /// The entry was locked for another request: the spec asks `requested` now, the
    /// entry answers `locked`.
    Changed {
        kind: Kind,
        name: String,
        requested: String,
        locked: String,
    },
    /// The entry has nothing for a platform the spec now builds.
    Uncovered {
        kind: Kind,
        name: String,
        requested: String,
        platform: String,
    },
    /// The lock has an entry the spec does not ask for.
    Unrequested { kind: Kind, name: String },
    /// Every entry answers its request, but the spec's hash moved since locking.
    SpecHash { locked: String, current: String },
}

/// Why `lock` does not match the spec whose plan and hash are given, empty when it does.
/// Edited entries come first (lock order), then one mismatch per request that the lock
/// cannot answer (plan order), then entries the spec does not ask for (lock order); the
/// spec hash is reported only when nothing else is, as it then is the only news.
pub fn mismatches(plan: &Plan, lock: &Lock, spec_hash: &str) -> Vec<Mismatch> {
    let mut found: Vec<Mismatch> = lock
        .artifacts
        .iter()
        .filter_map(|artifact| artifact.check_checksum().err())
        .map(Mismatch::Edited)
        .collect();
    for request in needs_resolution(plan, Some(lock), &UpdatePolicy::KeepPins) {
        let (kind, name) = (request.kind, request.name.clone());
        let Some(pinned) = lock.find(kind.as_str(), &name) else {
            found.push(Mismatch::NotLocked { kind, name });
            continue;
        };
        if pinned.check_checksum().is_err() {
            continue; // reported above
        }
        if pinned.request_hash != request.hash() {
            found.push(Mismatch::Changed {
                kind,
                name,
                requested: request.requested.clone(),
                locked: pinned.requested.to_string(),
            });
        } else if let Some(platform) = request.platforms.iter().find(|p| !covers(pinned, p)) {
            found.push(Mismatch::Uncovered {
                kind,
                name,
                requested: request.requested.clone(),
                platform: platform.clone(),
            });
        }
    }
    for artifact in &lock.artifacts {
        if plan.request(artifact.kind, &artifact.name).is_none() {
            found.push(Mismatch::Unrequested {
                kind: artifact.kind,
                name: artifact.name.to_string(),
            });
        }
    }
    if found.is_empty() && lock.spec_hash != spec_hash {
        found.push(Mismatch::SpecHash {
            locked: lock.spec_hash.to_string(),
            current: spec_hash.to_string(),
        });
    }
    found
}

/// [`mismatches`] as one sentence each (what `lock --check`, `bump` and `verify
/// --against-upstream` print).
pub fn staleness(plan: &Plan, lock: &Lock, spec_hash: &str) -> Vec<String> {
    mismatches(plan, lock, spec_hash)
        .iter()
        .map(Mismatch::to_string)
        .collect()
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Edited(edited) => write!(f, "{edited}"),
            Mismatch::NotLocked { kind, name } => write!(f, "{kind} `{name}` is not locked"),
            Mismatch::Changed {
                kind,
                name,
                requested,
                ..
            }
            | Mismatch::Uncovered {
                kind,
                name,
                requested,
                ..
            } => write!(f, "{kind} `{name}` changed in the spec (now `{requested}`)"),
            Mismatch::Unrequested { kind, name } => {
                write!(f, "{kind} `{name}` is locked but no longer in the spec")
            }
            Mismatch::SpecHash { locked, current } => write!(
                f,
                "the spec changed since locking (spec-hash {locked} in the lock, {current} now)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::values::{ArtifactVersion, OneLine};
    use crate::lock::{Artifact, PinWire};
    use crate::net::Hash;
    use crate::spec::LoadedSpec;

    /// A spec building `platforms` from the base image, with `extra` appended.
    fn bare(platforms: &str, extra: &str) -> LoadedSpec {
        let text = format!(
            "[image]\nname = \"x\"\ntag = \"t\"\nplatforms = [{platforms}]\n\n\
             [base]\nimage = \"ubuntu:24.04\"\n{extra}"
        );
        LoadedSpec::from_str(std::path::Path::new("specs/x.toml"), &text)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// The same with a release `tool` at `version`.
    fn spec(platforms: &str, version: &str) -> LoadedSpec {
        bare(
            platforms,
            &format!(
                "\n[stage-2.release.tool]\nrepo = \"o/tool\"\nversion = \"{version}\"\n\
                 asset = \"tool-{{triple}}\"\ndest = \"/usr/local/bin/tool\"\n"
            ),
        )
    }

    /// The lock `modelbench lock` would write for `spec`: every request answered.
    fn answering(spec: &LoadedSpec) -> Lock {
        let plan = super::super::plan(&spec.spec);
        let artifacts = plan
            .requests
            .iter()
            .map(|request| {
                let mut artifact = super::super::artifact(request.kind, "v1");
                artifact.name = request.name.clone();
                artifact.requested = request.requested.clone();
                artifact.request_hash = request.hash();
                for platform in &request.platforms {
                    artifact.platform.insert(
                        platform.clone(),
                        PinWire {
                            file: "tool".into(),
                            urls: vec![
                                "https://github.com/o/tool/releases/download/v1/tool".into(),
                            ],
                            hash: Hash::of_sha256(platform.as_bytes()),
                            size: None,
                        },
                    );
                }
                Artifact::try_from(artifact).unwrap()
            })
            .collect();
        Lock::new(one_line(&spec.hash), artifacts)
    }

    fn one_line(text: &str) -> OneLine {
        OneLine::parse("spec-hash", text).unwrap()
    }

    fn check(spec: &LoadedSpec, lock: &Lock) -> Vec<Mismatch> {
        mismatches(&super::super::plan(&spec.spec), lock, &spec.hash)
    }

    const AMD64: &str = "\"linux/amd64\"";

    #[test]
    fn a_lock_made_for_its_spec_answers_it() {
        let spec = spec(AMD64, "latest");
        assert_eq!(check(&spec, &answering(&spec)), []);
    }

    #[test]
    fn a_changed_constraint_a_new_platform_and_a_new_entry_are_named() {
        let locked = spec(AMD64, "latest");
        let lock = answering(&locked);

        let narrower = spec(AMD64, "^1");
        let found = check(&narrower, &lock);
        assert_eq!(
            found,
            [Mismatch::Changed {
                kind: Kind::GithubRelease,
                name: "tool".into(),
                requested: "^1".into(),
                locked: "latest".into(),
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "github-release `tool` changed in the spec (now `^1`)"
        );

        // The release hash covers the platforms, so a wider spec is a changed request;
        // an entry whose pins lack one of the same request's platforms is uncovered.
        let mut partial = answering(&spec("\"linux/amd64\", \"linux/arm64\"", "latest"));
        let tool = partial.artifacts.iter_mut().find(|a| a.name == "tool");
        tool.unwrap().platform.remove("linux/arm64");
        let partial = Lock::new(partial.spec_hash.clone(), partial.artifacts);
        let wider = spec("\"linux/amd64\", \"linux/arm64\"", "latest");
        assert_eq!(
            check(&wider, &partial),
            [Mismatch::Uncovered {
                kind: Kind::GithubRelease,
                name: "tool".into(),
                requested: "latest".into(),
                platform: "linux/arm64".into(),
            }]
        );

        let mut without_tool = lock.clone();
        without_tool.artifacts.retain(|a| a.name != "tool");
        let found = check(&locked, &without_tool);
        assert_eq!(
            found,
            [Mismatch::NotLocked {
                kind: Kind::GithubRelease,
                name: "tool".into()
            }]
        );
        assert_eq!(found[0].to_string(), "github-release `tool` is not locked");
    }

    #[test]
    fn an_entry_the_spec_no_longer_asks_for_is_named() {
        let lock = answering(&spec(AMD64, "latest"));
        // Its spec hash differs too, but that is no news beside the entry.
        let found = check(&bare(AMD64, ""), &lock);
        assert_eq!(
            found,
            [Mismatch::Unrequested {
                kind: Kind::GithubRelease,
                name: "tool".into()
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "github-release `tool` is locked but no longer in the spec"
        );
    }

    #[test]
    fn an_edited_entry_comes_first_and_a_moved_spec_hash_only_alone() {
        let spec = spec(AMD64, "latest");
        let mut lock = answering(&spec);
        let tool = lock.artifacts.iter_mut().find(|a| a.name == "tool");
        tool.unwrap().version =
            ArtifactVersion::parse(Kind::GithubRelease, "version", "v2").unwrap();
        let found = check(&spec, &lock);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(matches!(&found[0], Mismatch::Edited(_)), "{found:?}");
        assert!(found[0].to_string().contains("was edited after locking"));

        let mut other = answering(&spec);
        other.spec_hash = one_line("sha256:before");
        let found = check(&spec, &other);
        assert_eq!(
            found,
            [Mismatch::SpecHash {
                locked: "sha256:before".into(),
                current: spec.hash.clone(),
            }]
        );
    }
}
