//! Which emitter installs each lock entry: emit's one decision per kind.
//!
//! Emit walks the planned requests (one per lock entry, each naming the stage whose table
//! asks for it; `check_lock` has made sure plan and lock agree), and the exhaustive `match`
//! in [`Installs::new`] hands every entry to the emitter that installs it. The Dockerfile
//! steps, the `installation/` tables and the self-check read their entries from here and
//! from nowhere else, so a new `Kind` does not compile until emit knows how the image gets
//! it, and an entry that reaches no install step is refused ([`NoInstaller`]) instead of
//! being listed in `artifacts.tsv` and never installed.

use crate::lock::{Artifact, Kind, Lock};
use crate::resolve::{Plan, Request};
use crate::spec::{Spec, Stage};

/// A lock entry that no emitter installs: a bug in emit, reported rather than built around.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoInstaller {
    pub kind: Kind,
    pub name: String,
}

/// Every lock entry, by the emitter that installs it.
pub(super) struct Installs<'a> {
    /// oci: the image stage 1 is built `FROM`, by digest (`dockerfile.rs`).
    pub base: &'a Artifact,
    /// Stage 1's entries, then stage 2's.
    pub stages: [StageInstalls<'a>; 2],
}

/// The entries a stage's steps install.
#[derive(Default)]
pub(super) struct StageInstalls<'a> {
    /// github-release, url, nodejs: the files `modelbench-fetch.sh` downloads and checks
    /// from the stage's `artifacts.tsv`, sorted by name. Each is either [`Self::placed`] or
    /// one of a tool's ([`Self::tools`]).
    pub fetched: Vec<&'a Artifact>,
    /// The fetched files the spec places at a path (`[stage-N.release.*]`,
    /// `[stage-N.url.*]`), sorted by name.
    pub placed: Vec<Placed<'a>>,
    /// The fetched files `install-tool.sh` installs, per tool in the spec's order.
    pub tools: Vec<ToolInstall<'a>>,
    /// apt: the stage's closure of `.deb` files (`install-debs.sh`, `apt.rs`).
    pub debs: Option<&'a Artifact>,
    /// npm: the global CLIs `install-npm-global.sh` installs with npm or bun (`npm.rs`),
    /// sorted by name.
    pub npm_globals: Vec<&'a Artifact>,
    /// conda: the environments `install-pixi-global.sh` installs (`conda.rs`), in the
    /// spec's order (pixi's global manifest lists them so).
    pub pixi_globals: Vec<&'a Artifact>,
}

/// A fetched file placed at `dest` with `mode`.
pub(super) struct Placed<'a> {
    pub artifact: &'a Artifact,
    pub dest: &'a str,
    pub mode: &'a str,
}

/// A user tool: the entries it installs from, in [`crate::tools::artifact_names`]' order
/// (the first is the tool itself).
pub(super) struct ToolInstall<'a> {
    pub tool: &'a str,
    pub user: &'a str,
    pub artifacts: Vec<&'a Artifact>,
}

impl ToolInstall<'_> {
    /// The tool's own locked version (`v22.11.0`, `0.12.5`, `bun-v1.4.5`).
    pub fn version(&self) -> &str {
        &self.artifacts[0].version
    }
}

impl<'a> Installs<'a> {
    /// Sort the lock's entries by emitter. `plan` is the spec's and `lock` answers every
    /// request of it (checked by `check_lock`).
    pub fn new(spec: &'a Spec, plan: &Plan, lock: &'a Lock) -> Result<Installs<'a>, NoInstaller> {
        let mut base = None;
        let mut stages: [StageInstalls<'a>; 2] = Default::default();
        for request in &plan.requests {
            let artifact = lock
                .find(request.kind, &request.name)
                .expect("check_lock: the lock answers every request");
            let no_installer = || NoInstaller {
                kind: request.kind,
                name: request.name.clone(),
            };
            let stage = |index: Option<usize>| index.ok_or_else(no_installer);
            match request.kind {
                Kind::Oci => {
                    if base.replace(artifact).is_some() {
                        return Err(no_installer());
                    }
                }
                Kind::GithubRelease | Kind::Url | Kind::Nodejs => {
                    stages[stage(requesting_stage(request))?]
                        .fetched
                        .push(artifact);
                }
                // A stage's closure is named after the stage (its origin may be `[ssh]`).
                Kind::Apt => stages[stage(stage_index(&request.name))?].debs = Some(artifact),
                Kind::Npm => stages[stage(requesting_stage(request))?]
                    .npm_globals
                    .push(artifact),
                Kind::Conda => stages[stage(requesting_stage(request))?]
                    .pixi_globals
                    .push(artifact),
                // The pins of the GitHub workflow, which `emit --github-workflow` writes
                // (`bump::workflow`); nothing of them goes into the image.
                Kind::Git => {}
            }
        }
        for (installs, stage) in stages.iter_mut().zip([&spec.stage_1, &spec.stage_2]) {
            installs.split_fetched(stage)?;
            installs.npm_globals.sort_by(|a, b| a.name.cmp(&b.name));
            let position = |artifact: &Artifact| {
                stage.pixi_global.iter().position(|e| {
                    crate::resolve::conda_tool_name(e.get_ref().trim()) == *artifact.name
                })
            };
            installs.pixi_globals.sort_by_key(|a| position(a));
        }
        let base = base.ok_or(NoInstaller {
            kind: Kind::Oci,
            name: "base".into(),
        })?;
        Ok(Installs { base, stages })
    }

    /// The entry `name` that a tool of either stage installs from (npm globals run on the
    /// node of stage 1 or of their own stage).
    pub fn tool_artifact(&self, name: &str) -> Option<&'a Artifact> {
        self.stages
            .iter()
            .flat_map(|stage| &stage.tools)
            .flat_map(|tool| &tool.artifacts)
            .find(|a| a.name == name)
            .copied()
    }
}

impl<'a> StageInstalls<'a> {
    /// Split the fetched files into placed ones and tools' ones; one that is neither would
    /// be downloaded and never installed.
    fn split_fetched(&mut self, stage: &'a Stage) -> Result<(), NoInstaller> {
        self.fetched.sort_by(|a, b| a.name.cmp(&b.name));
        let take = |name: &str| self.fetched.iter().copied().find(|a| a.name == name);
        for (tool, settings) in &stage.tools {
            let artifacts = crate::tools::artifact_names(tool)
                .iter()
                .map(|name| take(name).expect("check_lock: the lock answers every request"))
                .collect();
            self.tools.push(ToolInstall {
                tool,
                user: settings.user.get_ref(),
                artifacts,
            });
        }
        for artifact in &self.fetched {
            let name = artifact.name.as_str();
            let at = stage
                .release
                .get(name)
                .map(|r| (r.dest.as_str(), r.mode.as_str()))
                .or_else(|| {
                    stage
                        .url
                        .get(name)
                        .map(|u| (u.dest.as_str(), u.mode.as_str()))
                });
            let by_tool = self
                .tools
                .iter()
                .any(|t| t.artifacts.iter().any(|a| a.name == name));
            match (at, by_tool) {
                (Some((dest, mode)), false) => self.placed.push(Placed {
                    artifact,
                    dest,
                    mode,
                }),
                (None, true) => {}
                _ => {
                    return Err(NoInstaller {
                        kind: artifact.kind,
                        name: name.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The stage whose table asks for `request` (`None` for the base image and the workflow).
fn requesting_stage(request: &Request) -> Option<usize> {
    request.origin.stage.and_then(stage_index)
}

/// `stage-1` → 0, `stage-2` → 1.
fn stage_index(name: &str) -> Option<usize> {
    match name {
        "stage-1" => Some(0),
        "stage-2" => Some(1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::ArtifactWire;
    use crate::resolve::{Detail, Origin};

    const SPEC: &str = r#"
[image]
name = "x"
tag = "t"
platforms = ["linux/amd64"]

[base]
image = "ubuntu:24.04"

[[users]]
name = "peid"
uid = 1000
gid = 1000

[workflow]
checkout = "v4"

[stage-1]
apt = ["nano"]
tools.node = { version = "lts", user = "peid" }
npm-global = { "mb-hello" = "^1" }

[stage-1.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "latest"
asset = "clash-{triple}.tar.gz"
dest = "/usr/local/bin/clash"

[stage-2]
apt = ["tmux"]
tools.pixi = { version = "latest", user = "peid" }
tools.bun = { version = "latest", user = "peid" }
pixi-global = ["yq >=4", "jq"]
bun-global = { "@mb/sdk" = "^2" }

[stage-2.url.model]
url = "https://example.com/model.bin"
# The empty file's: nothing is downloaded here.
sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
dest = "/opt/model.bin"
"#;

    /// A lock entry for `request`, its version in the kind's grammar.
    fn entry(request: &Request) -> Artifact {
        let version = match request.kind {
            Kind::Apt => format!("sha256:{}", "0".repeat(64)),
            Kind::Conda | Kind::Npm => "1.0.0".into(),
            Kind::Oci => "24.04".into(),
            Kind::GithubRelease | Kind::Git => "v1.0.0".into(),
            Kind::Nodejs => "v22.11.0".into(),
            Kind::Url => "0123456789ab".into(),
        };
        let mut wire = ArtifactWire::new(request.kind, version);
        wire.name = request.name.clone();
        wire.requested = request.requested.clone();
        wire.request_hash = "sha256:r".into();
        if request.kind == Kind::Git {
            wire.repository = Some("https://github.com/actions/checkout".into());
            wire.commit = Some("a".repeat(40));
        }
        Artifact::try_from(wire).unwrap_or_else(|err| panic!("{}: {err}", request.name))
    }

    fn spec_plan_lock() -> (Spec, Plan, Lock) {
        let loaded = crate::spec::LoadedSpec::from_str(std::path::Path::new("x.toml"), SPEC)
            .unwrap_or_else(|err| panic!("{err}"));
        let plan = crate::resolve::plan(&loaded.spec);
        let spec_hash = crate::lock::values::OneLine::parse("spec-hash", "sha256:s").unwrap();
        let lock = Lock::new(spec_hash, plan.requests.iter().map(entry).collect());
        (loaded.spec, plan, lock)
    }

    /// Every lock entry reaches exactly one emitter (git none: it is the workflow's), in
    /// the stage that asks for it.
    #[test]
    fn every_entry_has_one_installer() {
        let (spec, plan, lock) = spec_plan_lock();
        // A new kind fails here until the spec below asks for it and its emitter is tested.
        let kinds: std::collections::BTreeSet<Kind> =
            lock.artifacts.iter().map(|a| a.kind).collect();
        assert_eq!(kinds.len(), Kind::ALL.len(), "the spec asks for every kind");
        let installs = Installs::new(&spec, &plan, &lock).unwrap();
        let names = |stage: &StageInstalls, pick: fn(&StageInstalls) -> Vec<String>| pick(stage);
        let fetched = |s: &StageInstalls| s.fetched.iter().map(|a| a.name.to_string()).collect();
        let placed = |s: &StageInstalls| {
            s.placed
                .iter()
                .map(|p| p.artifact.name.to_string())
                .collect()
        };
        let tools = |s: &StageInstalls| s.tools.iter().map(|t| t.tool.to_string()).collect();
        let debs = |s: &StageInstalls| s.debs.iter().map(|a| a.name.to_string()).collect();
        let npm = |s: &StageInstalls| s.npm_globals.iter().map(|a| a.name.to_string()).collect();
        let conda = |s: &StageInstalls| s.pixi_globals.iter().map(|a| a.name.to_string()).collect();
        let [one, two] = &installs.stages;
        assert_eq!(&*installs.base.name, "base");
        assert_eq!(names(one, fetched), ["clash-rs", "node", "nvm"]);
        assert_eq!(names(one, placed), ["clash-rs"]);
        assert_eq!(names(one, tools), ["node"]);
        assert_eq!(one.tools[0].artifacts.len(), 2, "node brings nvm");
        assert_eq!(names(one, debs), ["stage-1"]);
        assert_eq!(names(one, npm), ["mb-hello"]);
        assert!(one.pixi_globals.is_empty());
        assert_eq!(names(two, fetched), ["bun", "model", "pixi"]);
        assert_eq!(names(two, placed), ["model"]);
        assert_eq!(names(two, tools), ["bun", "pixi"]);
        assert_eq!(names(two, debs), ["stage-2"]);
        assert_eq!(names(two, npm), ["@mb/sdk"]);
        // The spec's order, not the name's: pixi's manifest lists them so.
        assert_eq!(names(two, conda), ["yq", "jq"]);

        // Each entry is counted once: the emitters together install all but git.
        let installed = 1 + [one, two]
            .iter()
            .map(|s| {
                s.fetched.len() + s.debs.iter().count() + s.npm_globals.len() + s.pixi_globals.len()
            })
            .sum::<usize>();
        let git = lock
            .artifacts
            .iter()
            .filter(|a| a.kind == Kind::Git)
            .count();
        assert_eq!(git, 1);
        assert_eq!(installed + git, lock.artifacts.len());
    }

    /// A downloaded file that no step installs is refused, naming it, rather than listed
    /// in `artifacts.tsv` and left out of the image.
    #[test]
    fn a_fetched_entry_no_step_installs_is_refused() {
        let (spec, mut plan, lock) = spec_plan_lock();
        let mut stray = plan
            .request(Kind::GithubRelease, "clash-rs")
            .unwrap()
            .clone();
        stray.name = "stray".into();
        let mut entries = lock.artifacts.clone();
        entries.push(entry(&stray));
        plan.requests.push(stray);
        let lock = Lock::new(lock.spec_hash.clone(), entries);
        let refused = Installs::new(&spec, &plan, &lock).err();
        let expected = NoInstaller {
            kind: Kind::GithubRelease,
            name: "stray".into(),
        };
        assert_eq!(refused, Some(expected));

        // So is an entry asked for outside the stages' tables.
        let (spec, mut plan, lock) = spec_plan_lock();
        let request = plan
            .requests
            .iter_mut()
            .find(|r| r.kind == Kind::Npm)
            .unwrap();
        request.origin = Origin {
            stage: None,
            ..request.origin.clone()
        };
        assert!(matches!(request.detail, Detail::Npm(_)));
        let refused = Installs::new(&spec, &plan, &lock).err();
        assert_eq!(refused.map(|r| r.kind), Some(Kind::Npm));
    }
}
