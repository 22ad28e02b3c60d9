//! The spec entry at a key path (`stage-2.release.clash-rs`): how a request's origin reads
//! (table, key, value, span for the line, note). Planning makes every request's origin
//! with it, and `why` reads a lock entry's `origin` with it, so `why` shows what planning
//! recorded without planning the spec again.

use crate::lock::Kind;
use crate::resolve::git::{CHECKOUT_NAME, MODELBENCH_NAME};
use crate::resolve::request::Origin;
use crate::spec::Spec;
use crate::spec::{toml_key, toml_quote as quote};

/// The spec entry at key path `path` when it still asks for lock entry `kind` `name`, as
/// planning made its origin (table, key, value, span, note); `None` when the spec no
/// longer has it there.
pub fn origin_at(spec: &Spec, path: &str, kind: Kind, name: &str) -> Option<Origin> {
    let segments = key_segments(path)?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let asks = |wanted: Kind, entry: &str| kind == wanted && name == entry;
    match segments.as_slice() {
        ["base", "image"] => asks(Kind::Oci, "base").then(|| {
            let image = &spec.base.image;
            Origin::new(None, "base", "image", quote(image.get_ref()), image.span())
        }),
        ["ssh", "enable"] => {
            // The SSH server's package is the origin only while stage 1 lists no other.
            let on = spec.ssh.as_ref().is_some_and(|s| s.enable) && spec.stage_1.apt.is_empty();
            (on && asks(Kind::Apt, "stage-1")).then(|| Origin {
                path: "ssh.enable".to_string(),
                stage: None,
                table: "ssh".to_string(),
                key: "enable".to_string(),
                value: "true".to_string(),
                span: None,
                note: Some("the SSH server the spec turns on".to_string()),
            })
        }
        ["workflow", "checkout"] => {
            let constraint = spec.workflow.as_ref()?.checkout.as_ref()?;
            asks(Kind::Git, CHECKOUT_NAME).then(|| {
                let value = quote(constraint.get_ref());
                Origin::new(None, "workflow", "checkout", value, constraint.span())
                    .note("the checkout action of the emitted GitHub workflow")
            })
        }
        ["workflow", "modelbench"] => {
            let source = spec.workflow.as_ref()?.modelbench.as_ref()?;
            asks(Kind::Git, MODELBENCH_NAME).then(|| {
                let shown = match (&source.branch, &source.tag) {
                    (Some(branch), _) => format!("branch = {}", quote(branch.get_ref())),
                    (None, Some(tag)) => format!("tag = {}", quote(tag.get_ref())),
                    (None, None) => String::new(),
                };
                let value = format!("{{ git = {}, {shown} }}", quote(source.git.get_ref()));
                Origin::new(None, "workflow", "modelbench", value, source.git.span())
                    .note("what the emitted GitHub workflow installs and runs")
            })
        }
        [stage_name, rest @ ..] => {
            let (stage_name, stage) = match *stage_name {
                "stage-1" => ("stage-1", &spec.stage_1),
                "stage-2" => ("stage-2", &spec.stage_2),
                _ => return None,
            };
            let stage_key = Some(stage_name);
            match rest {
                ["release", release_name] => {
                    let release = stage.release.get(*release_name)?;
                    asks(Kind::GithubRelease, release_name).then(|| {
                        let table = format!("{stage_name}.release.{}", toml_key(release_name));
                        let value = quote(release.version.get_ref());
                        Origin::new(stage_key, &table, "version", value, release.version.span())
                            .in_table()
                            .note(format!("asset of {}", release.repo.get_ref()))
                    })
                }
                ["url", file_name] => {
                    let file = stage.url.get(*file_name)?;
                    asks(Kind::Url, file_name).then(|| {
                        let table = format!("{stage_name}.url.{}", toml_key(file_name));
                        let value = quote(file.url.get_ref());
                        Origin::new(stage_key, &table, "url", value, file.url.span()).in_table()
                    })
                }
                ["tools", tool] => {
                    let settings = stage.tools.get(*tool)?;
                    if !crate::tools::artifact_names(tool).contains(&name) {
                        return None;
                    }
                    let value = format!(
                        "{{ version = {}, user = {} }}",
                        quote(settings.version.get_ref()),
                        quote(settings.user.get_ref())
                    );
                    let key = format!("tools.{}", toml_key(tool));
                    let origin =
                        Origin::new(stage_key, stage_name, &key, value, settings.version.span());
                    // Node brings nvm along (the image uses NVM's layout).
                    Some(if name == "nvm" {
                        let nvm = settings.nvm.as_ref().map_or("latest", |v| v.get_ref());
                        origin.note(format!(
                            "tool `{tool}` brings `nvm` along (nvm = {})",
                            quote(nvm)
                        ))
                    } else {
                        origin
                    })
                }
                [table @ ("npm-global" | "bun-global"), package] => {
                    let globals = match *table {
                        "npm-global" => &stage.npm_global,
                        _ => &stage.bun_global,
                    };
                    let range = globals.get(*package)?;
                    asks(Kind::Npm, package).then(|| {
                        let key = format!("{table}.{}", toml_key(package));
                        Origin::new(
                            stage_key,
                            stage_name,
                            &key,
                            quote(range.get_ref()),
                            range.span(),
                        )
                    })
                }
                ["pixi-global"] => {
                    let entry = stage.pixi_global.iter().find(|entry| {
                        crate::resolve::conda_tool_name(entry.get_ref().trim()) == name
                    })?;
                    asks(Kind::Conda, name).then(|| {
                        let value = quote(entry.get_ref());
                        Origin::new(stage_key, stage_name, "pixi-global", value, entry.span())
                    })
                }
                ["apt"] => {
                    let first = stage.apt.first()?;
                    asks(Kind::Apt, stage_name).then(|| {
                        let entries: Vec<String> =
                            stage.apt.iter().map(|e| quote(e.get_ref())).collect();
                        let value = format!("[{}]", entries.join(", "));
                        Origin::new(stage_key, stage_name, "apt", value, first.span())
                    })
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The keys of a dotted TOML key path (`stage-1.npm-global."@scope/cli"` → `stage-1`,
/// `npm-global`, `@scope/cli`), read by the TOML parser so quoting is TOML's; `None` for
/// text that is no key path.
fn key_segments(path: &str) -> Option<Vec<String>> {
    let mut table: toml::Table = toml::from_str(&format!("{path} = 0")).ok()?;
    let mut segments = Vec::new();
    loop {
        let mut entries = table.into_iter();
        let (key, value) = entries.next()?;
        if entries.next().is_some() {
            return None;
        }
        segments.push(key);
        match value {
            toml::Value::Table(inner) => table = inner,
            toml::Value::Integer(0) => return Some(segments),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
[image]
name = "x"
tag = "t"
platforms = ["linux/amd64"]

[base]
image = "ubuntu:24.04"

[ssh]
host-port = "2222"

[[users]]
name = "peid"
uid = 1000
gid = 1000

[workflow]
checkout = "v4"
modelbench = { git = "https://git.example/modelbench.git", branch = "main" }

[stage-1]
tools.node = { version = "lts", user = "peid", nvm = "v0.40.1" }
npm-global = { "@mb/sdk" = "^1" }

[stage-1.release.clash-rs]
repo = "Watfaq/clash-rs"
version = "latest"
asset = "clash-{triple}.tar.gz"
dest = "/usr/local/bin/clash"

[stage-2]
apt = ["nano", " tmux "]
tools.pixi = { version = "latest", user = "peid" }
tools.bun = { version = "latest", user = "peid" }
pixi-global = ["yq >=4", " jq "]
bun-global = { "mb-hello" = "^2" }

[stage-2.url."model.bin"]
url = "https://example.com/model.bin"
# The empty file's: nothing is downloaded here.
sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
dest = "/opt/model.bin"
"#;

    /// Planning reads every kind's origin at the path it writes (it panics otherwise), and
    /// reading that path again gives the same origin.
    #[test]
    fn every_planned_origin_reads_back_from_its_path() {
        let loaded = crate::spec::LoadedSpec::from_str(std::path::Path::new("x.toml"), SPEC)
            .unwrap_or_else(|err| panic!("{err}"));
        let plan = crate::resolve::plan(&loaded.spec);
        let kinds: std::collections::BTreeSet<Kind> =
            plan.requests.iter().map(|r| r.kind).collect();
        assert_eq!(kinds.len(), Kind::ALL.len(), "the spec asks for every kind");
        for request in &plan.requests {
            let read = origin_at(
                &loaded.spec,
                &request.origin.path,
                request.kind,
                &request.name,
            );
            assert_eq!(read.as_ref(), Some(&request.origin), "{}", request.name);
        }
        let paths: Vec<&str> = plan
            .requests
            .iter()
            .map(|r| r.origin.path.as_str())
            .collect();
        for path in [
            "ssh.enable",
            "stage-2.url.\"model.bin\"",
            "stage-1.npm-global.\"@mb/sdk\"",
        ] {
            assert!(paths.contains(&path), "{path} in {paths:?}");
        }
    }

    /// A path the spec no longer has, or one that now asks for something else, is `None`.
    #[test]
    fn a_path_the_spec_no_longer_has_reads_as_none() {
        let loaded = crate::spec::LoadedSpec::from_str(std::path::Path::new("x.toml"), SPEC)
            .unwrap_or_else(|err| panic!("{err}"));
        let spec = &loaded.spec;
        let gone = [
            ("stage-2.release.clash-rs", Kind::GithubRelease, "clash-rs"),
            ("stage-1.release.clash-rs", Kind::Url, "clash-rs"),
            ("stage-1.tools.node", Kind::GithubRelease, "uv"),
            ("stage-2.pixi-global", Kind::Conda, "ripgrep"),
            ("stage-1.apt", Kind::Apt, "stage-1"),
            ("stage-1.npm-global.\"@mb/sdk\" = 1 #", Kind::Npm, "@mb/sdk"),
            ("stage-3.apt", Kind::Apt, "stage-3"),
            ("", Kind::Oci, "base"),
        ];
        for (path, kind, name) in gone {
            assert_eq!(origin_at(spec, path, kind, name), None, "{path}");
        }
    }
}
