//! Planning: the spec becomes [`Request`]s, one per lock entry, sorted by (kind, name).
//! Everything here is offline and deterministic; no resolver runs.

use sha2::{Digest, Sha256};

use crate::lock::Kind;
use crate::spec::{Spec, Stage};

use super::request::{Detail, Origin, Plan, Request};
use super::{apt, conda, github_release, npm, oci, url};
use crate::spec::toml_key;

mod origin;
mod tools;
mod ubuntu;
mod workflow;

pub use self::origin::origin_at;

/// Turn a spec into requests, one per artifact.
pub fn plan(spec: &Spec) -> Plan {
    let platforms = spec.image.platform_names();
    let mut requests = vec![Request {
        kind: Kind::Oci,
        name: "base".into(),
        requested: spec.base.image.get_ref().clone(),
        detail: Detail::Oci(oci::OciRequest::from_spec(&spec.base)),
        platforms: platforms.clone(),
        origin: origin(spec, "base.image", Kind::Oci, "base"),
    }];
    for (stage_name, stage) in stages(spec) {
        for (tool, settings) in &stage.tools {
            requests.extend(tools::requests(stage_name, tool, settings, spec));
        }
        for (name, release) in &stage.release {
            requests.push(Request {
                kind: Kind::GithubRelease,
                name: name.clone(),
                requested: release.version.get_ref().clone(),
                detail: Detail::GithubRelease(github_release::ReleaseRequest::from_spec(release)),
                platforms: platforms.clone(),
                origin: origin(
                    spec,
                    &format!("{stage_name}.release.{}", toml_key(name)),
                    Kind::GithubRelease,
                    name,
                ),
            });
        }
        for (name, file) in &stage.url {
            requests.push(Request {
                kind: Kind::Url,
                name: name.clone(),
                requested: file.url.get_ref().clone(),
                detail: Detail::Url(url::UrlRequest::from_spec(file)),
                platforms: platforms.clone(),
                origin: origin(
                    spec,
                    &format!("{stage_name}.url.{}", toml_key(name)),
                    Kind::Url,
                    name,
                ),
            });
        }
    }

    requests.extend(apt_requests(spec, &platforms));
    requests.extend(npm_requests(spec, &platforms));
    requests.extend(conda_requests(spec, &platforms));
    requests.extend(workflow::requests(spec));

    requests.sort_by_key(Request::key);
    Plan { requests }
}

/// The origin of the request for `kind` `name` at key path `path`: the spec entry there,
/// read as `why` reads it at the lock's `origin` ([`origin_at`], one definition for both).
fn origin(spec: &Spec, path: &str, kind: Kind, name: &str) -> Origin {
    origin_at(spec, path, kind, name).unwrap_or_else(|| {
        panic!("planning asks for {kind} `{name}` at `{path}`, where origin_at reads no entry")
    })
}

/// The stages by the name their tables have in the spec.
fn stages(spec: &Spec) -> [(&'static str, &Stage); 2] {
    [("stage-1", &spec.stage_1), ("stage-2", &spec.stage_2)]
}

/// One request per npm or bun global CLI, named by its package (the spec makes sure a
/// package is listed once). Both installers share one resolver: bun installs the same
/// closure from a `bun.lock` generated from it.
fn npm_requests(spec: &Spec, platforms: &[String]) -> Vec<Request> {
    let mut requests = Vec::new();
    for (stage_name, stage) in stages(spec) {
        for (installer, table, globals) in [
            (npm::Installer::Npm, "npm-global", &stage.npm_global),
            (npm::Installer::Bun, "bun-global", &stage.bun_global),
        ] {
            for (package, range) in globals {
                requests.push(Request {
                    kind: Kind::Npm,
                    name: package.clone(),
                    requested: range.get_ref().clone(),
                    detail: Detail::Npm(npm::NpmRequest {
                        package: package.clone(),
                        range: range.get_ref().trim().to_string(),
                        installer,
                        mirror: spec
                            .mirrors
                            .npm
                            .as_ref()
                            .map(|m| m.trim_end_matches('/').to_string()),
                    }),
                    platforms: platforms.to_vec(),
                    origin: origin(
                        spec,
                        &format!("{stage_name}.{table}.{}", toml_key(package)),
                        Kind::Npm,
                        package,
                    ),
                });
            }
        }
    }
    requests
}

/// What the base image has installed (`[apt] status`): a status file, `empty`, or by
/// default the base image's own dpkg status. apt solves on top of it; conda reads the
/// image's glibc from it.
fn base_status(spec: &Spec) -> apt::StatusSource {
    match spec.apt.status.as_ref().map(|s| s.get_ref().as_str()) {
        Some("empty") => apt::StatusSource::Empty,
        Some(path) => apt::StatusSource::File {
            path: path.to_string(),
            // Unreadable: resolution reports the read error.
            sha256: std::fs::read(spec.dir.join(path))
                .map(|bytes| hex::encode(Sha256::digest(bytes)))
                .unwrap_or_default(),
        },
        None => apt::StatusSource::BaseImage {
            image: spec.base.image.get_ref().clone(),
            mirror: spec.base.registry_mirror.clone(),
        },
    }
}

/// The apt packages of each stage, as the spec lists them: stage 1 gets
/// `openssh-server` when the SSH server is enabled.
pub fn apt_packages(spec: &Spec) -> [Vec<String>; 2] {
    let entries = |stage: &crate::spec::Stage| -> Vec<String> {
        stage
            .apt
            .iter()
            .map(|p| p.get_ref().trim().to_string())
            .collect()
    };
    let mut stage_1 = entries(&spec.stage_1);
    if spec.ssh.as_ref().is_some_and(|s| s.enable) && !stage_1.iter().any(|p| p == "openssh-server")
    {
        stage_1.push("openssh-server".to_string());
    }
    [stage_1, entries(&spec.stage_2)]
}

/// One conda request per `pixi-global` entry (pixi global makes one environment per
/// tool), named by the tool: its match spec's package name.
fn conda_requests(spec: &Spec, platforms: &[String]) -> Vec<Request> {
    let mirror = spec
        .mirrors
        .conda
        .as_deref()
        .map(crate::spec::mirror_urls::conda);
    stages(spec)
        .into_iter()
        .flat_map(|(stage_name, stage)| stage.pixi_global.iter().map(move |e| (stage_name, e)))
        .map(|(stage_name, entry)| {
            let text = entry.get_ref().trim().to_string();
            let name = conda::conda_tool_name(&text);
            Request {
                kind: Kind::Conda,
                origin: origin(
                    spec,
                    &format!("{stage_name}.pixi-global"),
                    Kind::Conda,
                    &name,
                ),
                name,
                requested: text.clone(),
                detail: Detail::Conda(conda::CondaRequest {
                    spec: text,
                    channel: "conda-forge".to_string(),
                    mirror: mirror.clone(),
                    glibc: None,
                    status: Some(base_status(spec)),
                    dir: spec.dir.clone(),
                    linux: conda::DEFAULT_LINUX.to_string(),
                }),
                platforms: platforms.to_vec(),
            }
        })
        .collect()
}

/// One apt request per stage with packages (`stage-1`, `stage-2`). Stage 2 is solved
/// together with stage 1's list (`earlier`) so both closures are consistent, and locks
/// only what stage 1 does not already install.
fn apt_requests(spec: &Spec, platforms: &[String]) -> Vec<Request> {
    let [stage_1, stage_2] = apt_packages(spec);
    let archives = apt_archives(spec);
    let status = base_status(spec);
    let base_sources = if spec.apt.base_sources {
        apt::BaseSources::Read {
            mirror: spec
                .mirrors
                .apt
                .as_deref()
                .map(crate::spec::mirror_urls::apt),
            // The default Ubuntu archives stand in for the image's own sources.
            replace_defaults: spec.apt.archives.is_empty(),
        }
    } else {
        apt::BaseSources::Ignore
    };
    let mut requests = Vec::new();
    for ((name, stage), packages, earlier) in [
        (stages(spec)[0], &stage_1, &Vec::new()),
        (stages(spec)[1], &stage_2, &stage_1),
    ] {
        if packages.is_empty() {
            continue;
        }
        let path = match stage.apt.first() {
            Some(_) => format!("{name}.apt"),
            // Only `openssh-server`, for the SSH server.
            None => "ssh.enable".to_string(),
        };
        let origin = origin(spec, &path, Kind::Apt, name);
        requests.push(Request {
            kind: Kind::Apt,
            name: name.to_string(),
            requested: packages.join(", "),
            detail: Detail::Apt(apt::AptRequest {
                packages: packages.clone(),
                recommends: spec.apt.recommends,
                archives: archives.clone(),
                status: status.clone(),
                earlier: earlier.clone(),
                dir: spec.dir.clone(),
                base_sources: base_sources.clone(),
            }),
            platforms: platforms.to_vec(),
            origin,
        });
    }
    requests
}

/// The spec's `[[apt.archives]]`, else Ubuntu's defaults ([`ubuntu::archives`]) behind the
/// `[mirrors] apt` mirror.
pub(super) fn apt_archives(spec: &Spec) -> Vec<apt::Archive> {
    if !spec.apt.archives.is_empty() {
        return spec
            .apt
            .archives
            .iter()
            .map(|a| apt::Archive {
                uris: a.uris.iter().map(|u| u.get_ref().clone()).collect(),
                suites: a.suites.iter().map(|s| s.get_ref().clone()).collect(),
                components: a.components.clone(),
                signed_by: if a.signed_by.is_empty() && !a.trusted {
                    // No `signed-by`: any shipped archive key, as apt takes any key of
                    // `trusted.gpg.d` for a source without one.
                    apt::keys::BuiltinKeyring::ALL
                        .iter()
                        .map(|k| k.reference())
                        .collect()
                } else {
                    a.signed_by.iter().map(|k| k.get_ref().clone()).collect()
                },
                trusted: a.trusted,
                architectures: a.architectures.clone(),
                snapshot: a.snapshot.as_ref().map(|s| apt::Snapshot {
                    base: s.base.as_ref().map(|b| b.get_ref().clone()),
                    timestamp: s.timestamp.as_ref().map(|t| t.get_ref().clone()),
                }),
                priority: None,
            })
            .collect();
    }
    let keyring = spec
        .apt
        .keyring
        .as_ref()
        .map(|k| k.get_ref().clone())
        .unwrap_or_else(|| apt::keys::BuiltinKeyring::UbuntuArchive.reference());
    let mirror = spec
        .mirrors
        .apt
        .as_deref()
        .map(crate::spec::mirror_urls::apt);
    ubuntu::archives(mirror.as_ref(), &keyring)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::LoadedSpec;

    fn plan_of(extra: &str) -> Plan {
        let text = format!(
            "[image]\nname = \"x\"\ntag = \"t\"\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n\n\
             [base]\nimage = \"nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04\"\n{extra}"
        );
        let spec = LoadedSpec::from_str(std::path::Path::new("specs/x.toml"), &text)
            .unwrap_or_else(|err| panic!("{err}"));
        plan(&spec.spec)
    }

    fn apt_detail<'a>(plan: &'a Plan, name: &str) -> &'a apt::AptRequest {
        let request = plan
            .requests
            .iter()
            .find(|r| r.kind == Kind::Apt && r.name == name)
            .unwrap_or_else(|| panic!("no apt request {name}"));
        match &request.detail {
            Detail::Apt(detail) => detail,
            _ => unreachable!(),
        }
    }

    #[test]
    fn apt_requests_per_stage_with_ubuntu_defaults_behind_the_mirror() {
        let plan = plan_of(
            "[mirrors]\napt = \"tuna\"\n[apt]\nrecommends = false\nstatus = \"empty\"\n\
             [ssh]\nhost-port = \"2222\"\n\
             [stage-1]\napt = [\"nano\", \"libgl1-mesa-glx | libgl1\"]\n\
             [stage-2]\napt = [\"tmux\"]\n",
        );
        let one = apt_detail(&plan, "stage-1");
        assert_eq!(
            one.packages,
            ["nano", "libgl1-mesa-glx | libgl1", "openssh-server"]
        );
        assert!(!one.recommends);
        assert!(one.earlier.is_empty());
        assert_eq!(one.status, apt::StatusSource::Empty);
        let amd64 = &one.archives[0];
        assert_eq!(
            amd64.uris,
            [
                "https://mirrors.tuna.tsinghua.edu.cn/ubuntu",
                "http://archive.ubuntu.com/ubuntu"
            ]
        );
        assert_eq!(amd64.suites, ["noble", "noble-updates", "noble-backports"]);
        assert_eq!(
            amd64.components,
            ["main", "restricted", "universe", "multiverse"]
        );
        assert_eq!(one.archives[1].uris, ["http://security.ubuntu.com/ubuntu"]);
        assert_eq!(one.archives[1].suites, ["noble-security"]);
        assert_eq!(
            one.archives[2].uris,
            [
                "https://mirrors.tuna.tsinghua.edu.cn/ubuntu-ports",
                "http://ports.ubuntu.com/ubuntu-ports"
            ]
        );
        assert_eq!(one.archives[2].architectures, ["arm64"]);
        // Ubuntu's archives are checked with the shipped Ubuntu keyring, never a host file.
        for archive in &one.archives {
            assert_eq!(archive.signed_by, ["builtin:ubuntu-archive-keyring"]);
        }
        let two = apt_detail(&plan, "stage-2");
        assert_eq!(two.packages, ["tmux"]);
        assert_eq!(two.earlier, one.packages);
    }

    #[test]
    fn conda_requests_one_per_pixi_global_tool_named_by_its_package() {
        let plan = plan_of(
            "[mirrors]\nconda = \"tuna\"\n[[users]]\nname = \"peid\"\nuid = 3100\ngid = 1100\n\
             [stage-2]\ntools.pixi = { version = \"latest\", user = \"peid\" }\n\
             pixi-global = [\"jq\", \"yq >=4\"]\n",
        );
        let conda: Vec<&Request> = plan
            .requests
            .iter()
            .filter(|r| r.kind == Kind::Conda)
            .collect();
        let names: Vec<(&str, &str)> = conda
            .iter()
            .map(|r| (r.name.as_str(), r.requested.as_str()))
            .collect();
        assert_eq!(names, [("jq", "jq"), ("yq", "yq >=4")]);
        let Detail::Conda(detail) = &conda[1].detail else {
            unreachable!()
        };
        assert_eq!(detail.spec, "yq >=4");
        assert_eq!(detail.channel, "conda-forge");
        assert_eq!(
            detail.mirror.as_deref(),
            Some("https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge")
        );
        assert!(matches!(
            detail.status,
            Some(apt::StatusSource::BaseImage { .. })
        ));
        assert_eq!(conda[0].platforms, ["linux/amd64", "linux/arm64"]);
    }

    #[test]
    fn apt_archives_from_the_spec_and_the_base_image_status_by_default() {
        let plan = plan_of(
            "[[apt.archives]]\nuris = [\"https://deb.example/debian\"]\nsuites = [\"bookworm\"]\n\
             components = [\"main\"]\nsigned-by = [\"keys/archive.gpg\"]\n\
             snapshot = { base = \"https://snapshot.example/debian\", timestamp = \"20260701T000000Z\" }\n\
             [stage-2]\napt = [\"git\"]\n",
        );
        assert!(plan.requests.iter().all(|r| r.name != "stage-1"));
        let two = apt_detail(&plan, "stage-2");
        assert!(two.earlier.is_empty());
        assert_eq!(two.archives.len(), 1);
        assert_eq!(two.archives[0].signed_by, ["keys/archive.gpg"]);
        assert_eq!(two.dir, std::path::Path::new("specs"));
        assert_eq!(
            two.archives[0]
                .snapshot
                .as_ref()
                .unwrap()
                .timestamp
                .as_deref(),
            Some("20260701T000000Z")
        );
        assert!(matches!(two.status, apt::StatusSource::BaseImage { .. }));

        // An archive without `signed-by` (and not `trusted`) takes any shipped keyring, as
        // apt takes any key of `trusted.gpg.d`; a `trusted` one takes none.
        let plan = plan_of(
            "[[apt.archives]]\nuris = [\"https://deb.example/debian\"]\nsuites = [\"trixie\"]\n\
             components = [\"main\"]\n\
             [[apt.archives]]\nuris = [\"https://deb.example/local\"]\nsuites = [\"/\"]\n\
             trusted = true\n[stage-2]\napt = [\"git\"]\n",
        );
        let two = apt_detail(&plan, "stage-2");
        assert_eq!(
            two.archives[0].signed_by,
            [
                "builtin:ubuntu-archive-keyring",
                "builtin:debian-archive-keyring"
            ]
        );
        assert!(two.archives[1].signed_by.is_empty());
    }

    #[test]
    fn each_tool_plans_the_entries_emit_installs_from() {
        let plan = plan_of(
            "[[users]]\nname = \"peid\"\nuid = 3100\ngid = 1100\n[stage-2]\n\
             tools.node = { version = \"lts\", user = \"peid\" }\n\
             tools.uv = { version = \"latest\", user = \"peid\" }\n\
             tools.pixi = { version = \"latest\", user = \"peid\" }\n\
             tools.bun = { version = \"latest\", user = \"peid\" }\n",
        );
        for tool in ["node", "uv", "pixi", "bun"] {
            for name in crate::tools::artifact_names(tool) {
                assert!(
                    plan.requests.iter().any(|r| r.name == *name),
                    "tool {tool}: no request {name}"
                );
            }
        }
        let tool_entries: usize = ["node", "uv", "pixi", "bun"]
            .iter()
            .map(|t| crate::tools::artifact_names(t).len())
            .sum();
        // The base image plus one request per tool entry, nothing else.
        assert_eq!(plan.requests.len(), 1 + tool_entries);
    }

    #[test]
    fn every_request_names_the_spec_entry_it_comes_from() {
        let plan = plan_of(
            "[ssh]\nhost-port = \"2222\"\n[[users]]\nname = \"peid\"\nuid = 3100\ngid = 1100\n\
             [stage-2]\napt = [\"tmux\"]\nnpm-global = { \"@mb/sdk\" = \"^1\" }\n\
             tools.node = { version = \"lts\", user = \"peid\" }\n\
             tools.pixi = { version = \"latest\", user = \"peid\" }\n\
             pixi-global = [\"yq >=4\"]\n\
             [stage-2.url.data]\nurl = \"https://dl.example/d.bin\"\nsha256 = \"abababababababababababababababababababababababababababababababab\"\ndest = \"/d.bin\"\n",
        );
        let origin = |kind: Kind, name: &str| {
            let request = plan.request(kind, name).unwrap_or_else(|| panic!("{name}"));
            (request.origin.path.as_str(), request.detail.source())
        };
        // stage 1 asks for no apt package of its own: the SSH server does.
        assert_eq!(origin(Kind::Apt, "stage-1"), ("ssh.enable", None));
        assert_eq!(origin(Kind::Apt, "stage-2"), ("stage-2.apt", None));
        assert_eq!(
            origin(Kind::Npm, "@mb/sdk"),
            ("stage-2.npm-global.\"@mb/sdk\"", Some("npm:@mb/sdk".into()))
        );
        assert_eq!(
            origin(Kind::Conda, "yq"),
            ("stage-2.pixi-global", Some("conda:conda-forge/yq".into()))
        );
        assert_eq!(
            origin(Kind::Url, "data"),
            (
                "stage-2.url.data",
                Some("url:https://dl.example/d.bin".into())
            )
        );
        let base = plan.request(Kind::Oci, "base").unwrap();
        assert_eq!(base.origin.path, "base.image");
        assert_eq!(base.origin.span.as_ref().map(|s| s.start > 0), Some(true));
        // The origin is not part of what the request asks: moving it changes no hash.
        let mut moved = base.clone();
        moved.origin = Origin::default();
        assert_eq!(moved.hash(), base.hash());
    }
}
