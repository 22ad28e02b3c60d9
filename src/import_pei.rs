//! `modelbench import-pei user_config.yml [--out specs/NAME.toml]`: turn a PeiDocker
//! two-stage config into a modelbench spec.
//!
//! Translated: `stage_1`/`stage_2` `image` (base, output), `ssh` (enable, port, host_port,
//! users with password, uid, gid, pubkey_file/pubkey_text), `proxy` (address, port), `apt`
//! (repo_source, keep_repo_after_build, use_proxy), `device.type: gpu`, `storage`, `mount`,
//! `ports`, `environment`, and `custom.on_build` entries that run the standard installers
//! (install-uv.sh, install-pixi.bash, install-nvm.sh, install-nodejs.sh, install-bun.sh,
//! install-claude-code.sh, install-codex-cli.sh) — directly, or from a custom script found
//! under the config's `installation/` directory — and the lines `pixi global install …`,
//! `bun add -g …`, `npm install -g …`, `apt-get install …` (with the `a || b` fallback idiom
//! as `"a | b"`) and a `curl`/`wget` of a GitHub release asset.
//!
//! Everything else is listed, never dropped silently, as
//! `untranslated: <file>:<line>: <text> (<why>)`, with the line in the YAML file or in the
//! script it came from; assumptions the import made are listed as `note: …`. Both go to
//! standard error and, as comments, to the end of the spec. The spec is checked with the
//! same parser and validator as `lock` before it is written.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::spec::LoadedSpec;

#[derive(Debug, Args)]
pub struct ImportPeiArgs {
    /// The PeiDocker config (`user_config.yml`).
    pub config: PathBuf,
    /// Write the spec to FILE (e.g. specs/NAME.toml) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The PeiDocker `installation/` directory whose custom scripts are read
    /// [default: `installation/` beside the config].
    #[arg(long, value_name = "DIR")]
    pub installation: Option<PathBuf>,
    /// Replace `--out` if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: ImportPeiArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read {}", args.config.display()))?;
    let installation = args.installation.clone().unwrap_or_else(|| {
        args.config
            .parent()
            .unwrap_or(Path::new(""))
            .join("installation")
    });
    let imported = import(&args.config, &text, &installation)?;
    let spec_path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("imported.toml"));
    LoadedSpec::from_str(&spec_path, &imported.spec).map_err(|err| {
        anyhow::anyhow!(
            "the imported spec does not validate (a bug in import-pei, or a value modelbench cannot take):\n{err}\n--- spec ---\n{}",
            imported.spec
        )
    })?;
    for warning in &imported.warnings {
        eprintln!("{warning}");
    }
    match &args.out {
        Some(out) => {
            if out.exists() && !args.force {
                bail!("{} exists; pass --force to replace it", out.display());
            }
            crate::lock::write_atomic(out, imported.spec.as_bytes())
                .with_context(|| format!("cannot write {}", out.display()))?;
            let untranslated = imported
                .warnings
                .iter()
                .filter(|w| w.kind == WarningKind::Untranslated)
                .count();
            eprintln!(
                "{:>12} {} from {} ({untranslated} untranslated)",
                "Imported",
                out.display(),
                args.config.display()
            );
        }
        None => print!("{}", imported.spec),
    }
    Ok(())
}

/// The spec text and what could not be carried over.
#[derive(Debug, Clone)]
pub struct Imported {
    pub spec: String,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// Dropped: modelbench has no equivalent, or the import cannot tell what it does.
    Untranslated,
    /// Translated, with an assumption worth checking.
    Note,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub kind: WarningKind,
    pub file: String,
    pub line: usize,
    pub text: String,
    pub reason: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            WarningKind::Untranslated => "untranslated",
            WarningKind::Note => "note",
        };
        write!(
            f,
            "{kind}: {}:{}: {} ({})",
            self.file, self.line, self.text, self.reason
        )
    }
}

// ---------------------------------------------------------------------------------------
// YAML with line numbers

#[derive(Debug, Clone)]
enum Node {
    Null(usize),
    Scalar(String, usize),
    Seq(Vec<Node>, usize),
    Map(Vec<(String, usize, Node)>, usize),
}

impl Node {
    fn line(&self) -> usize {
        match self {
            Node::Null(l) | Node::Scalar(_, l) | Node::Seq(_, l) | Node::Map(_, l) => *l,
        }
    }

    fn scalar(&self) -> Option<&str> {
        match self {
            Node::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Node::Null(_))
    }

    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries, _) => entries.iter().find(|(k, _, _)| k == key).map(|e| &e.2),
            _ => None,
        }
    }

    fn entries(&self) -> &[(String, usize, Node)] {
        match self {
            Node::Map(entries, _) => entries,
            _ => &[],
        }
    }

    fn bool(&self) -> Option<bool> {
        match self.scalar()? {
            "true" | "True" | "TRUE" | "yes" | "on" => Some(true),
            "false" | "False" | "FALSE" | "no" | "off" => Some(false),
            _ => None,
        }
    }
}

fn convert(node: &MarkedYaml) -> Node {
    let line = node.span.start.line();
    match &node.data {
        YamlData::Value(Scalar::Null) => Node::Null(line),
        YamlData::Value(Scalar::Boolean(b)) => Node::Scalar(b.to_string(), line),
        YamlData::Value(Scalar::Integer(i)) => Node::Scalar(i.to_string(), line),
        YamlData::Value(Scalar::FloatingPoint(f)) => Node::Scalar(f.to_string(), line),
        YamlData::Value(Scalar::String(s)) => Node::Scalar(s.to_string(), line),
        YamlData::Representation(s, _, _) => Node::Scalar(s.to_string(), line),
        YamlData::Sequence(items) => Node::Seq(items.iter().map(convert).collect(), line),
        YamlData::Mapping(map) => Node::Map(
            map.iter()
                .map(|(k, v)| {
                    let key = match convert(k) {
                        Node::Scalar(s, _) => s,
                        _ => String::new(),
                    };
                    (key, k.span.start.line(), convert(v))
                })
                .collect(),
            line,
        ),
        YamlData::Tagged(_, inner) => convert(inner),
        YamlData::Alias(_) | YamlData::BadValue => Node::Null(line),
    }
}

fn parse_yaml(file: &str, text: &str) -> Result<Node> {
    let documents = MarkedYaml::load_from_str(text).map_err(|err| {
        anyhow::anyhow!(
            "{file}:{}:{}: not valid YAML: {}",
            err.marker().line(),
            err.marker().col() + 1,
            err.info()
        )
    })?;
    match documents.first() {
        Some(doc) => Ok(convert(doc)),
        None => bail!("{file} is empty"),
    }
}

// ---------------------------------------------------------------------------------------
// What the spec will say

#[derive(Debug, Default)]
struct StageDraft {
    apt: Vec<String>,
    /// tool → (version, user)
    tools: BTreeMap<String, (String, String)>,
    npm_global: BTreeMap<String, String>,
    bun_global: BTreeMap<String, String>,
    pixi_global: Vec<String>,
    release: BTreeMap<String, ReleaseDraft>,
    storage: BTreeMap<String, StorageDraft>,
    mount: BTreeMap<String, StorageDraft>,
    ports: Vec<String>,
    environment: BTreeMap<String, String>,
    links: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct ReleaseDraft {
    repo: String,
    version: String,
    asset: String,
    triple: BTreeMap<String, String>,
    dest: String,
}

#[derive(Debug, Clone, Default)]
struct StorageDraft {
    kind: String,
    host_path: Option<String>,
    volume_name: Option<String>,
    dst_path: Option<String>,
}

#[derive(Debug, Clone)]
struct UserDraft {
    name: String,
    uid: Option<u32>,
    gid: Option<u32>,
    password: Option<String>,
    pubkey: Option<String>,
}

#[derive(Debug, Default)]
struct Draft {
    image_name: String,
    tag: String,
    stage_1_tag: Option<String>,
    gpu: bool,
    base_image: String,
    registry_mirror: Option<String>,
    mirrors: BTreeMap<&'static str, String>,
    keep_mirror: Option<bool>,
    recommends: Option<bool>,
    /// address, port, apt, and whether PeiDocker used it during the build at all
    proxy: Option<(String, String, bool, bool)>,
    ssh: Option<(bool, u16, String)>,
    users: Vec<UserDraft>,
    stages: [StageDraft; 2],
    warnings: Vec<Warning>,
}

/// Where a piece of text came from.
#[derive(Debug, Clone)]
struct Loc {
    file: String,
    line: usize,
}

impl Draft {
    fn warn(&mut self, kind: WarningKind, loc: &Loc, text: &str, reason: impl Into<String>) {
        let warning = Warning {
            kind,
            file: loc.file.clone(),
            line: loc.line,
            text: text.trim().to_string(),
            reason: reason.into(),
        };
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }

    fn untranslated(&mut self, loc: &Loc, text: &str, reason: impl Into<String>) {
        self.warn(WarningKind::Untranslated, loc, text, reason);
    }

    fn note(&mut self, loc: &Loc, text: &str, reason: impl Into<String>) {
        self.warn(WarningKind::Note, loc, text, reason);
    }
}

/// Docker Hub pull-through mirrors whose first path component is dropped to get the real
/// reference (the spec names the mirror separately; the digest is the same).
const HUB_MIRRORS: &[&str] = &[
    "docker.1ms.run",
    "docker.m.daocloud.io",
    "dockerproxy.com",
    "dockerproxy.net",
    "docker.nju.edu.cn",
    "docker.mirrors.ustc.edu.cn",
    "hub-mirror.c.163.com",
    "mirror.ccs.tencentyun.com",
    "registry.docker-cn.com",
    "docker.xuanyuan.me",
];

/// PeiDocker's apt `repo_source` names and the mirror modelbench takes for each.
fn apt_mirror(name: &str) -> Option<String> {
    match name {
        "tuna" | "aliyun" | "ustc" => Some(name.to_string()),
        "163" => Some("http://mirrors.163.com/ubuntu".into()),
        "cn" => Some("http://cn.archive.ubuntu.com/ubuntu".into()),
        url if url.starts_with("http://") || url.starts_with("https://") => Some(url.into()),
        _ => None,
    }
}

/// Convert a PeiDocker config. `config` names the file in messages; `installation` is where
/// its custom scripts live.
pub fn import(config: &Path, text: &str, installation: &Path) -> Result<Imported> {
    let file = config.display().to_string();
    let root = parse_yaml(&file, text)?;
    let source_lines: Vec<&str> = text.lines().collect();
    let loc = |line: usize| Loc {
        file: file.clone(),
        line,
    };
    let raw = |line: usize| {
        source_lines
            .get(line.saturating_sub(1))
            .map(|l| l.trim().to_string())
            .unwrap_or_default()
    };
    let mut draft = Draft::default();
    if !matches!(root, Node::Map(..)) {
        bail!("{file}: expected a mapping with `stage_1` and `stage_2`");
    }
    for (key, line, _) in root.entries() {
        if key != "stage_1" && key != "stage_2" {
            draft.untranslated(&loc(*line), &raw(*line), "not a PeiDocker stage");
        }
    }
    let stage_1 = root.get("stage_1").cloned().unwrap_or(Node::Null(1));
    let stage_2 = root.get("stage_2").cloned().unwrap_or(Node::Null(1));

    // image
    let base = stage_1
        .get("image")
        .and_then(|i| i.get("base"))
        .and_then(Node::scalar)
        .map(str::to_string);
    let Some(base) = base else {
        bail!("{file}: `stage_1.image.base` is missing; PeiDocker needs it and so does the spec");
    };
    let (mirror, image) = match base.split_once('/') {
        Some((host, rest)) if HUB_MIRRORS.contains(&host) => (Some(host.to_string()), rest),
        _ => (None, base.as_str()),
    };
    draft.base_image = image.to_string();
    draft.registry_mirror = mirror;
    let output = |stage: &Node| {
        stage
            .get("image")
            .and_then(|i| i.get("output"))
            .and_then(Node::scalar)
            .map(|o| match o.rsplit_once(':') {
                Some((name, tag)) if !tag.contains('/') => (name.to_string(), tag.to_string()),
                _ => (o.to_string(), "latest".to_string()),
            })
    };
    let out_1 = output(&stage_1);
    let out_2 = output(&stage_2);
    let (name, tag) = out_2
        .clone()
        .or_else(|| out_1.clone().map(|(n, t)| (n, format!("{t}-final"))))
        .unwrap_or_else(|| ("pei-image".into(), "stage-2".into()));
    draft.image_name = name;
    draft.tag = tag;
    if let Some((name_1, tag_1)) = &out_1 {
        if name_1 == &draft.image_name {
            if tag_1 != &format!("{}-stage-1", draft.tag) {
                draft.stage_1_tag = Some(tag_1.clone());
            }
        } else {
            let line = stage_1
                .get("image")
                .and_then(|i| i.get("output"))
                .map_or(1, Node::line);
            draft.untranslated(
                &loc(line),
                &raw(line),
                format!(
                    "modelbench names both stages `{}`; stage 1 becomes `{}:{}-stage-1`",
                    draft.image_name, draft.image_name, draft.tag
                ),
            );
        }
    }

    for (index, stage) in [&stage_1, &stage_2].into_iter().enumerate() {
        stage_keys(
            &mut draft,
            index,
            stage,
            &loc,
            &raw,
            installation,
            &source_lines,
        );
    }

    // PeiDocker links /soft/{app,data,workspace} in stage 2 to the volume when that storage
    // is mounted, else to the image's copy.
    let storage = draft.stages[1].storage.clone();
    for name in ["app", "data", "workspace"] {
        let target = match storage.get(name) {
            Some(s) if s.kind != "image" => format!("/hard/volume/{name}"),
            _ => format!("/hard/image/{name}"),
        };
        draft.stages[1]
            .links
            .insert(format!("/soft/{name}"), target);
    }

    let spec = write_spec(&draft, &file);
    Ok(Imported {
        spec,
        warnings: draft.warnings,
    })
}

#[allow(clippy::too_many_arguments)]
fn stage_keys(
    draft: &mut Draft,
    index: usize,
    stage: &Node,
    loc: &dyn Fn(usize) -> Loc,
    raw: &dyn Fn(usize) -> String,
    installation: &Path,
    source_lines: &[&str],
) {
    let stage_name = if index == 0 { "stage_1" } else { "stage_2" };
    for (key, line, value) in stage.entries() {
        let here = loc(*line);
        match key.as_str() {
            "image" => {
                for (k, l, v) in value.entries() {
                    if k == "base" && index == 1 && !v.is_null() {
                        draft.untranslated(
                            &loc(*l),
                            &raw(*l),
                            "stage 2 always builds on stage 1 in modelbench",
                        );
                    } else if k != "base" && k != "output" {
                        draft.untranslated(&loc(*l), &raw(*l), "unknown image key");
                    }
                }
            }
            "ssh" if index == 0 => ssh(draft, value, loc, raw),
            "proxy" if index == 0 => proxy(draft, stage, value, loc, raw),
            "proxy" => {
                for (k, l, v) in value.entries() {
                    if !v.is_null() {
                        draft.untranslated(
                            &loc(*l),
                            &raw(*l),
                            format!("the proxy is set once, for both stages (`{k}` of stage 2)"),
                        );
                    }
                }
            }
            "apt" if index == 0 => apt(draft, value, loc, raw),
            "device" => {
                for (k, l, v) in value.entries() {
                    match (k.as_str(), v.scalar()) {
                        ("type", Some("gpu")) => draft.gpu = true,
                        ("type", Some("cpu")) => {}
                        _ => draft.untranslated(&loc(*l), &raw(*l), "unknown device setting"),
                    }
                }
            }
            "environment" => match value {
                Node::Seq(items, _) => {
                    for item in items {
                        match item.scalar().and_then(|s| s.split_once('=')) {
                            Some((k, v)) => {
                                draft.stages[index]
                                    .environment
                                    .insert(k.trim().to_string(), v.to_string());
                            }
                            None => draft.untranslated(
                                &loc(item.line()),
                                &raw(item.line()),
                                "not KEY=VALUE",
                            ),
                        }
                    }
                }
                Node::Map(entries, _) => {
                    for (k, l, v) in entries {
                        match v.scalar() {
                            Some(v) => {
                                draft.stages[index]
                                    .environment
                                    .insert(k.clone(), v.to_string());
                            }
                            None => draft.untranslated(&loc(*l), &raw(*l), "not a plain value"),
                        }
                    }
                }
                Node::Null(_) => {}
                Node::Scalar(..) => draft.untranslated(&here, &raw(*line), "not a list or map"),
            },
            "ports" => match value {
                Node::Seq(items, _) => {
                    for item in items {
                        match item.scalar() {
                            Some(p) => draft.stages[index].ports.push(p.to_string()),
                            None => draft.untranslated(
                                &loc(item.line()),
                                &raw(item.line()),
                                "not a port mapping",
                            ),
                        }
                    }
                }
                Node::Null(_) => {}
                _ => draft.untranslated(&here, &raw(*line), "not a list"),
            },
            "storage" | "mount" => {
                for (name, l, entry) in value.entries() {
                    let mut storage = StorageDraft::default();
                    for (k, kl, v) in entry.entries() {
                        let text = v.scalar().map(str::to_string);
                        match k.as_str() {
                            "type" => storage.kind = text.unwrap_or_default(),
                            "host_path" => storage.host_path = text,
                            "volume_name" => storage.volume_name = text,
                            "dst_path" => storage.dst_path = text,
                            _ => draft.untranslated(&loc(*kl), &raw(*kl), "unknown storage key"),
                        }
                    }
                    let valid = matches!(
                        storage.kind.as_str(),
                        "host" | "auto-volume" | "manual-volume" | "image"
                    );
                    if !valid || (storage.kind == "image" && key == "mount") {
                        draft.untranslated(
                            &loc(*l),
                            &raw(*l),
                            format!("storage type `{}` cannot be mounted", storage.kind),
                        );
                        continue;
                    }
                    if storage.kind == "host" && storage.host_path.is_none() {
                        draft.untranslated(&loc(*l), &raw(*l), "type host without host_path");
                        continue;
                    }
                    let target = if key == "storage" {
                        &mut draft.stages[index].storage
                    } else {
                        &mut draft.stages[index].mount
                    };
                    target.insert(name.clone(), storage);
                }
            }
            "custom" => {
                for (hook, l, entries) in value.entries() {
                    if hook == "on_build" {
                        let items: Vec<Node> = match entries {
                            Node::Seq(items, _) => items.clone(),
                            Node::Scalar(..) => vec![entries.clone()],
                            _ => Vec::new(),
                        };
                        for item in items {
                            on_build(draft, index, &item, loc, installation, source_lines);
                        }
                    } else {
                        let items: Vec<Node> = match entries {
                            Node::Seq(items, _) => items.clone(),
                            Node::Scalar(..) => vec![entries.clone()],
                            _ => Vec::new(),
                        };
                        if items.is_empty() && !matches!(entries, Node::Seq(..) | Node::Null(_)) {
                            draft.untranslated(&loc(*l), &raw(*l), "unknown hook");
                        }
                        for item in items {
                            draft.untranslated(
                                &loc(item.line()),
                                item.scalar().unwrap_or_default(),
                                format!("`{hook}` runs in the container, not at build time; modelbench has no such hook"),
                            );
                        }
                    }
                }
            }
            other => draft.untranslated(
                &here,
                &raw(*line),
                format!("`{stage_name}.{other}` has no modelbench equivalent"),
            ),
        }
    }
}

fn port_text(node: &Node) -> Option<String> {
    node.scalar().map(str::to_string)
}

fn ssh(draft: &mut Draft, value: &Node, loc: &dyn Fn(usize) -> Loc, raw: &dyn Fn(usize) -> String) {
    let enable = value.get("enable").and_then(Node::bool).unwrap_or(true);
    let port = value
        .get("port")
        .and_then(Node::scalar)
        .map(|p| p.parse::<u16>());
    let port = match port {
        None => 22,
        Some(Ok(p)) => p,
        Some(Err(_)) => {
            let l = value.get("port").map_or(1, Node::line);
            draft.untranslated(&loc(l), &raw(l), "the SSH port must be a number; 22 used");
            22
        }
    };
    let host_port = value
        .get("host_port")
        .and_then(port_text)
        .unwrap_or_else(|| "2222".into());
    draft.ssh = Some((enable, port, host_port));
    for (k, l, _) in value.entries() {
        if !matches!(k.as_str(), "enable" | "port" | "host_port" | "users") {
            draft.untranslated(&loc(*l), &raw(*l), "unknown ssh key");
        }
    }
    let mut next_uid = 1000;
    for (name, line, user) in value.get("users").map(Node::entries).unwrap_or(&[]) {
        if name == "root" {
            draft.untranslated(
                &loc(*line),
                &raw(*line),
                "modelbench does not manage root's password or keys",
            );
            continue;
        }
        let mut draft_user = UserDraft {
            name: name.clone(),
            uid: None,
            gid: None,
            password: None,
            pubkey: None,
        };
        for (k, l, v) in user.entries() {
            let text = v.scalar().map(str::to_string);
            match k.as_str() {
                "password" => draft_user.password = text,
                "uid" => draft_user.uid = text.and_then(|t| t.parse().ok()),
                "gid" => draft_user.gid = text.and_then(|t| t.parse().ok()),
                "pubkey_text" => draft_user.pubkey = text.map(|t| t.trim().to_string()),
                "pubkey_file" => match text.as_deref() {
                    None => {}
                    Some("~") => draft_user.pubkey = Some("~".into()),
                    Some(path) if path.starts_with('/') || path.starts_with("~/") => {
                        draft_user.pubkey = Some(path.into())
                    }
                    Some(path) => draft.untranslated(
                        &loc(*l),
                        &raw(*l),
                        format!("`{path}` is relative to PeiDocker's installation/; give the key or an absolute path as `pubkey`"),
                    ),
                },
                "privkey_file" | "privkey_text" => {
                    if !v.is_null() {
                        draft.untranslated(
                            &loc(*l),
                            &raw(*l),
                            "modelbench puts no private key into an image",
                        );
                    }
                }
                _ => draft.untranslated(&loc(*l), &raw(*l), "unknown user key"),
            }
        }
        if draft_user.uid.is_none() {
            while draft.users.iter().any(|u| u.uid == Some(next_uid)) {
                next_uid += 1;
            }
            draft.note(
                &loc(*line),
                &raw(*line),
                format!("no uid: the spec needs one, {next_uid} chosen"),
            );
            draft_user.uid = Some(next_uid);
            next_uid += 1;
        }
        draft.users.push(draft_user);
    }
}

fn proxy(
    draft: &mut Draft,
    stage: &Node,
    value: &Node,
    loc: &dyn Fn(usize) -> Loc,
    raw: &dyn Fn(usize) -> String,
) {
    let address = value.get("address").and_then(Node::scalar);
    let port = value.get("port").and_then(port_text);
    let global = value
        .get("enable_globally")
        .and_then(Node::bool)
        .unwrap_or(false);
    let apt_proxy = stage
        .get("apt")
        .and_then(|a| a.get("use_proxy"))
        .and_then(Node::bool)
        .unwrap_or(false);
    for (k, l, v) in value.entries() {
        match k.as_str() {
            "address" | "port" | "enable_globally" => {}
            "remove_after_build" => {
                if v.bool() == Some(false) {
                    draft.untranslated(
                        &loc(*l),
                        &raw(*l),
                        "modelbench never keeps the build proxy in the image",
                    );
                }
            }
            "use_https" => {
                if v.bool() == Some(true) {
                    draft.untranslated(&loc(*l), &raw(*l), "the proxy URL is always http://");
                }
            }
            _ => draft.untranslated(&loc(*l), &raw(*l), "unknown proxy key"),
        }
    }
    if let (Some(address), Some(port)) = (address, port) {
        draft.proxy = Some((address.to_string(), port, apt_proxy, global || apt_proxy));
    }
}

fn apt(draft: &mut Draft, value: &Node, loc: &dyn Fn(usize) -> Loc, raw: &dyn Fn(usize) -> String) {
    for (k, l, v) in value.entries() {
        match k.as_str() {
            "repo_source" => match v.scalar() {
                None | Some("") => {}
                Some(source) => match apt_mirror(source) {
                    Some(mirror) => {
                        draft.mirrors.insert("apt", mirror);
                    }
                    None => draft.untranslated(
                        &loc(*l),
                        &raw(*l),
                        "a sources file; name the mirror's URL in [mirrors] apt",
                    ),
                },
            },
            "keep_repo_after_build" => draft.keep_mirror = v.bool(),
            "use_proxy" => {}
            "keep_proxy_after_build" => {
                if v.bool() == Some(true) {
                    draft.untranslated(
                        &loc(*l),
                        &raw(*l),
                        "modelbench never keeps the build proxy in the image",
                    );
                }
            }
            _ => draft.untranslated(&loc(*l), &raw(*l), "unknown apt key"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// custom.on_build

/// The standard PeiDocker installers modelbench has an equivalent for.
const INSTALLERS: &[&str] = &[
    "install-uv.sh",
    "install-pixi.bash",
    "install-pixi.sh",
    "install-nvm.sh",
    "install-nodejs.sh",
    "install-nvm-nodejs.sh",
    "install-nodejs-for-everyone.sh",
    "install-bun.sh",
    "install-claude-code.sh",
    "install-codex-cli.sh",
];

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn on_build(
    draft: &mut Draft,
    stage: usize,
    item: &Node,
    loc: &dyn Fn(usize) -> Loc,
    installation: &Path,
    source_lines: &[&str],
) {
    let Some(entry) = item.scalar() else {
        draft.untranslated(
            &loc(item.line()),
            "(not a string)",
            "an on_build entry is a script path",
        );
        return;
    };
    let first_line = entry.lines().next().unwrap_or_default();
    let words = split_words(first_line);
    let script = words.first().cloned().unwrap_or_default();
    let here = loc(item.line());
    let standard = INSTALLERS.contains(&basename(&script)) && !entry.contains('\n');
    // PeiDocker's own installers (`stage-N/system/...`) are known by name; a custom script
    // of the same name is read like any other.
    if standard && script.contains("system/") {
        installer(draft, stage, &words, None, &here, entry);
        return;
    }
    let is_script = script.ends_with(".sh") || script.ends_with(".bash");
    if is_script && !entry.contains('\n') {
        let path = installation.join(&script);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                if words.len() > 1 {
                    draft.untranslated(
                        &here,
                        entry,
                        "the script's arguments are not followed into it",
                    );
                }
                let file = path.display().to_string();
                let lines: Vec<(usize, String)> = text
                    .lines()
                    .enumerate()
                    .map(|(i, l)| (i + 1, l.to_string()))
                    .collect();
                script_lines(draft, stage, &file, &lines);
            }
            Err(_) if standard => installer(draft, stage, &words, None, &here, entry),
            Err(_) => draft.untranslated(
                &here,
                entry,
                format!("custom script not found at {}", path.display()),
            ),
        }
        return;
    }
    // Inline commands: find each line of the entry in the YAML source for its line number.
    let mut lines = Vec::new();
    let mut search_from = item.line().saturating_sub(1);
    for text in entry.lines() {
        let wanted = text.trim();
        let found = (search_from..source_lines.len())
            .find(|&i| !wanted.is_empty() && source_lines[i].contains(wanted));
        let line = match found {
            Some(i) => {
                search_from = i + 1;
                i + 1
            }
            None => item.line(),
        };
        lines.push((line, text.to_string()));
    }
    script_lines(draft, stage, &here.file, &lines);
}

/// Split a command line into words, honouring single and double quotes and backslashes.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(next) = chars.next() {
                    current.push(next);
                    in_word = true;
                }
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

/// Split at an operator (`&&`, `||`, `;`) outside quotes.
fn split_operator<'a>(text: &'a str, operator: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut quote: Option<char> = None;
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if text[i..].starts_with(operator) => {
                parts.push(&text[start..i]);
                i += operator.len();
                start = i;
                continue;
            }
            None => {}
        }
        i += 1;
    }
    parts.push(&text[start..]);
    parts
}

/// Lines harmless to leave out: the environment modelbench's build already provides.
fn ignorable(words: &[String]) -> bool {
    let first = words.first().map(String::as_str).unwrap_or_default();
    let second = words.get(1).map(String::as_str).unwrap_or_default();
    match first {
        "set" | "echo" | "printf" | "true" | ":" | "mkdir" => true,
        "export" => words
            .iter()
            .skip(1)
            .all(|w| w.starts_with("DEBIAN_FRONTEND=")),
        // `NAME=value` alone: a shell variable for the lines that follow.
        _ if words.len() == 1 && is_assignment(first) => true,
        "apt-get" | "apt" => matches!(second, "update" | "clean" | "autoclean" | "autoremove"),
        "rm" => words.iter().any(|w| w.starts_with("/var/lib/apt/lists")),
        _ => false,
    }
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn script_lines(draft: &mut Draft, stage: usize, file: &str, lines: &[(usize, String)]) {
    // Join continuation lines; keep the first line's number.
    let mut joined: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (line, text) in lines {
        let (start, mut acc) = pending.take().unwrap_or((*line, String::new()));
        let trimmed = text.trim_end();
        if let Some(stripped) = trimmed.strip_suffix('\\') {
            acc.push_str(stripped);
            acc.push(' ');
            pending = Some((start, acc));
        } else {
            acc.push_str(trimmed);
            joined.push((start, acc));
        }
    }
    if let Some(rest) = pending {
        joined.push(rest);
    }
    let mut downloaded: Vec<String> = Vec::new();
    for (line, text) in joined {
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let here = Loc {
            file: file.to_string(),
            line,
        };
        if let Err(reason) = command_line(draft, stage, trimmed, None, &here, &mut downloaded) {
            draft.untranslated(&here, trimmed, reason);
        }
    }
}

fn command_line(
    draft: &mut Draft,
    stage: usize,
    text: &str,
    user: Option<&str>,
    here: &Loc,
    downloaded: &mut Vec<String>,
) -> Result<(), String> {
    // `apt-get install -y a || apt-get install -y b`: the first that exists.
    let alternatives = split_operator(text, "||");
    if alternatives.len() > 1 {
        let singles: Option<Vec<String>> = alternatives
            .iter()
            .map(|part| {
                let words = split_words(part.trim());
                let packages = apt_packages(&words)?;
                (packages.0.len() == 1).then(|| packages.0[0].clone())
            })
            .collect();
        match singles {
            Some(packages) => {
                let entry = packages.join(" | ");
                push_unique(&mut draft.stages[stage].apt, entry);
                return Ok(());
            }
            None => return Err("a shell fallback modelbench cannot express".into()),
        }
    }
    let mut first_error = None;
    for part in split_operator(text, "&&")
        .into_iter()
        .flat_map(|p| split_operator(p, ";"))
    {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if let Err(reason) = command(draft, stage, part, user, here, downloaded) {
            first_error.get_or_insert(reason);
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// The packages of an `apt-get install` / `apt install` command, and whether it turned
/// recommends off.
fn apt_packages(words: &[String]) -> Option<(Vec<String>, bool)> {
    let words: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .skip_while(|w| *w == "sudo" || w.starts_with("DEBIAN_FRONTEND="))
        .collect();
    if !matches!(words.first(), Some(&"apt-get") | Some(&"apt")) {
        return None;
    }
    let install = words.iter().position(|w| *w == "install")?;
    let mut no_recommends = false;
    let mut packages = Vec::new();
    for word in &words[install + 1..] {
        if *word == "--no-install-recommends" {
            no_recommends = true;
        } else if word.starts_with('-') {
            continue;
        } else {
            packages.push(word.to_string());
        }
    }
    Some((packages, no_recommends))
}

fn debian_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.:=".contains(&b))
}

/// `pkg`, `pkg@range`, `@scope/pkg`, `@scope/pkg@range` → (name, range).
fn npm_spec(word: &str) -> Option<(String, String)> {
    let (name, range) = match word.strip_prefix('@') {
        Some(rest) => match rest.split_once('@') {
            Some((name, range)) => (format!("@{name}"), range.to_string()),
            None => (word.to_string(), String::new()),
        },
        None => match word.split_once('@') {
            Some((name, range)) => (name.to_string(), range.to_string()),
            None => (word.to_string(), String::new()),
        },
    };
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@/._-".contains(&b))
        && !range.contains('$');
    let range = if range.is_empty() {
        "latest".to_string()
    } else {
        range
    };
    valid.then_some((name, range))
}

fn command(
    draft: &mut Draft,
    stage: usize,
    text: &str,
    user: Option<&str>,
    here: &Loc,
    downloaded: &mut Vec<String>,
) -> Result<(), String> {
    let words = split_words(text);
    if words.is_empty() || ignorable(&words) {
        return Ok(());
    }
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    // Wrappers that run a command as another user or through a shell.
    match w.as_slice() {
        ["su", rest @ ..] | ["runuser", rest @ ..] => {
            let c = rest.iter().position(|x| *x == "-c");
            let name = rest
                .iter()
                .enumerate()
                .find(|(i, x)| !x.starts_with('-') && Some(*i) != c.map(|c| c + 1))
                .map(|(_, x)| *x);
            if let (Some(inner), Some(name)) = (c.and_then(|c| rest.get(c + 1)), name) {
                return command_line(draft, stage, inner, Some(name), here, downloaded);
            }
        }
        ["sudo", "-u", name, rest @ ..] | ["sudo", "-H", "-u", name, rest @ ..] => {
            return command_line(draft, stage, &rest.join(" "), Some(name), here, downloaded);
        }
        ["sudo", rest @ ..] => {
            return command_line(draft, stage, &rest.join(" "), user, here, downloaded);
        }
        ["bash" | "sh", flag, inner] if flag.starts_with('-') && flag.contains('c') => {
            return command_line(draft, stage, inner, user, here, downloaded);
        }
        ["bash" | "sh" | "source" | ".", script, ..] if INSTALLERS.contains(&basename(script)) => {
            installer(draft, stage, &words[1..], user, here, text);
            return Ok(());
        }
        [script, ..] if INSTALLERS.contains(&basename(script)) => {
            installer(draft, stage, &words, user, here, text);
            return Ok(());
        }
        ["chmod", _, target] if downloaded.iter().any(|d| d == target) => return Ok(()),
        _ => {}
    }
    if let Some((packages, no_recommends)) = apt_packages(&words) {
        let bad: Vec<&String> = packages.iter().filter(|p| !debian_name(p)).collect();
        if !bad.is_empty() || packages.is_empty() {
            return Err("package names that are not literal".into());
        }
        if no_recommends {
            draft.recommends = Some(false);
        }
        for package in packages {
            push_unique(&mut draft.stages[stage].apt, package);
        }
        return Ok(());
    }
    match w.as_slice() {
        ["pixi", "global", "install", rest @ ..] => {
            let mut tools = Vec::new();
            let mut skip = false;
            for word in rest {
                if skip {
                    skip = false;
                } else if matches!(*word, "-c" | "--channel") {
                    skip = true;
                } else if word.starts_with('-') {
                } else if word
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                {
                    tools.push(word.to_string());
                } else {
                    return Err(format!("`{word}` is not a plain package name"));
                }
            }
            for tool in tools {
                push_unique(&mut draft.stages[stage].pixi_global, tool);
            }
        }
        ["bun", "add" | "install" | "i", rest @ ..] | ["npm", "install" | "i", rest @ ..]
            if rest.iter().any(|x| *x == "-g" || *x == "--global") =>
        {
            let bun = w[0] == "bun";
            let mut specs = Vec::new();
            for word in rest.iter().filter(|x| !x.starts_with('-')) {
                match npm_spec(word) {
                    Some(spec) => specs.push(spec),
                    None => {
                        return Err(format!("`{word}` is not a plain package spec"));
                    }
                }
            }
            let map = if bun {
                &mut draft.stages[stage].bun_global
            } else {
                &mut draft.stages[stage].npm_global
            };
            for (name, range) in specs {
                map.insert(name, range);
            }
            let tool = if bun { "bun" } else { "node" };
            ensure_tool(draft, stage, tool, user.map(str::to_string), here, text);
        }
        ["curl" | "wget", ..] => match release_download(&w) {
            Some(release) => {
                downloaded.push(release.dest.clone());
                let name = release
                    .repo
                    .rsplit('/')
                    .next()
                    .unwrap_or("release")
                    .to_ascii_lowercase();
                draft.stages[stage].release.insert(name, release);
            }
            None => {
                return Err(
                    "only a plain download of one GitHub release asset translates (as a release)"
                        .into(),
                );
            }
        },
        _ => return Err("not a command modelbench knows how to pin".into()),
    }
    Ok(())
}

/// `curl -fsSL -o DEST https://github.com/O/R/releases/{latest/download,download/TAG}/ASSET`
/// (or `wget -O DEST URL`) → a release entry.
fn release_download(words: &[&str]) -> Option<ReleaseDraft> {
    let mut dest = None;
    let mut url = None;
    let mut i = 1;
    while i < words.len() {
        let word = words[i];
        if matches!(word, "-o" | "-O" | "--output" | "--output-document") {
            dest = words.get(i + 1).map(|s| s.to_string());
            i += 2;
            continue;
        }
        if let Some(value) = word
            .strip_prefix("--output=")
            .or_else(|| word.strip_prefix("--output-document="))
        {
            dest = Some(value.to_string());
        } else if word.starts_with("https://") {
            url = Some(word.to_string());
        }
        i += 1;
    }
    let url = url?;
    let dest = dest.filter(|d| d.starts_with('/') && !d.contains('$'))?;
    if url.contains('$') {
        return None;
    }
    let path = url.strip_prefix("https://github.com/")?;
    let parts: Vec<&str> = path.split('/').collect();
    let (owner, repo, version, asset) = match parts.as_slice() {
        [owner, repo, "releases", "latest", "download", asset] => (*owner, *repo, "latest", *asset),
        [owner, repo, "releases", "download", tag, asset] => (*owner, *repo, *tag, *asset),
        _ => return None,
    };
    if [".tar.gz", ".tgz", ".zip", ".tar.xz"]
        .iter()
        .any(|ext| asset.ends_with(ext))
    {
        return None; // an archive is unpacked by the script; a release places files as is
    }
    let mut triple = BTreeMap::new();
    let mut pattern = asset.to_string();
    for (known, platform, default) in [
        ("x86_64-unknown-linux-musl", "linux/amd64", true),
        ("aarch64-unknown-linux-musl", "linux/arm64", true),
        ("x86_64-unknown-linux-gnu", "linux/amd64", false),
        ("aarch64-unknown-linux-gnu", "linux/arm64", false),
    ] {
        if pattern.contains(known) {
            pattern = pattern.replace(known, "{triple}");
            if !default {
                triple.insert(platform.to_string(), known.to_string());
            }
        }
    }
    if version != "latest" && pattern.contains(version) {
        pattern = pattern.replace(version, "{version}");
    }
    let dest = if dest.ends_with('/') {
        format!("{dest}{asset}")
    } else {
        dest
    };
    Some(ReleaseDraft {
        repo: format!("{owner}/{repo}"),
        version: version.to_string(),
        asset: pattern,
        triple,
        dest,
    })
}

/// A standard installer: `words[0]` is the script, the rest its arguments.
fn installer(
    draft: &mut Draft,
    stage: usize,
    words: &[String],
    user: Option<&str>,
    here: &Loc,
    text: &str,
) {
    let script = basename(&words[0]).to_string();
    let mut user = user.map(str::to_string);
    let mut version: Option<String> = None;
    let mut i = 1;
    while i < words.len() {
        let word = words[i].as_str();
        let (flag, inline) = match word.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (word, None),
        };
        let mut value = || {
            inline.clone().or_else(|| {
                i += 1;
                words.get(i).cloned()
            })
        };
        match flag {
            "--user" => user = value(),
            "--version" | "--node-version" => version = value(),
            "--pypi-repo" => {
                if let Some(v) = value() {
                    draft.mirrors.insert("pypi", v);
                }
            }
            "--conda-repo" => {
                if let Some(v) = value() {
                    draft.mirrors.insert("conda", v);
                }
            }
            "--npm-repo" => {
                if let Some(v) = value() {
                    draft.mirrors.insert("npm", v);
                }
            }
            "--with-cn-mirror" => {
                draft
                    .mirrors
                    .insert("nodejs", "https://npmmirror.com/mirrors/node".into());
                draft
                    .mirrors
                    .insert("npm", "https://registry.npmmirror.com".into());
            }
            _ => draft.untranslated(
                here,
                word,
                format!("an option of {script} modelbench does not know"),
            ),
        }
        i += 1;
    }
    let npm_tool = match script.as_str() {
        "install-claude-code.sh" => Some("@anthropic-ai/claude-code"),
        "install-codex-cli.sh" => Some("@openai/codex"),
        _ => None,
    };
    if let Some(package) = npm_tool {
        draft.stages[stage].npm_global.insert(
            package.to_string(),
            version.unwrap_or_else(|| "latest".into()),
        );
        ensure_tool(draft, stage, "node", user, here, text);
        return;
    }
    let tool = match script.as_str() {
        "install-uv.sh" => "uv",
        "install-pixi.bash" | "install-pixi.sh" => "pixi",
        "install-bun.sh" => "bun",
        _ => "node",
    };
    add_tool(draft, stage, tool, user, version, here, text);
}

/// A global CLI needs its installer's tool (node for npm, bun for bun) in its stage or
/// stage 1: add it at its default version when the config installs it nowhere.
fn ensure_tool(
    draft: &mut Draft,
    stage: usize,
    tool: &str,
    user: Option<String>,
    here: &Loc,
    text: &str,
) {
    if draft.stages[stage].tools.contains_key(tool) || draft.stages[0].tools.contains_key(tool) {
        return;
    }
    let installs_later = draft.stages[1 - stage].tools.contains_key(tool);
    if !installs_later {
        draft.note(
            here,
            text,
            format!("needs tool `{tool}`, which the config does not install: added at its default version"),
        );
    }
    add_tool(draft, stage, tool, user, None, here, text);
}

/// `[stage-N.tools] TOOL` for `user` (the config's first user when none is named).
fn add_tool(
    draft: &mut Draft,
    stage: usize,
    tool: &str,
    user: Option<String>,
    version: Option<String>,
    here: &Loc,
    text: &str,
) {
    let known_users: Vec<String> = draft.users.iter().map(|u| u.name.clone()).collect();
    let user = match user {
        Some(user) if known_users.contains(&user) => user,
        Some(user) => {
            draft.untranslated(
                here,
                text,
                format!("installs for `{user}`, who is not an SSH user of the config"),
            );
            return;
        }
        None => match known_users.first() {
            Some(first) => {
                draft.note(
                    here,
                    text,
                    format!("no --user: installed for `{first}`, the config's first user"),
                );
                first.clone()
            }
            None => {
                draft.untranslated(
                    here,
                    text,
                    "modelbench installs tools for a user; the config has none",
                );
                return;
            }
        },
    };
    if draft.stages[1 - stage].tools.contains_key(tool) {
        draft.note(
            here,
            text,
            format!("`{tool}` is installed in the other stage already"),
        );
        return;
    }
    let default = if tool == "node" { "lts" } else { "latest" };
    let entry = draft.stages[stage]
        .tools
        .entry(tool.to_string())
        .or_insert_with(|| (default.to_string(), user.clone()));
    if let Some(version) = version {
        entry.0 = version;
    }
}

// ---------------------------------------------------------------------------------------
// Writing the spec

fn q(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn key(text: &str) -> String {
    let bare = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if bare { text.to_string() } else { q(text) }
}

fn string_list(items: &[String]) -> String {
    let one_line = format!(
        "[{}]",
        items.iter().map(|i| q(i)).collect::<Vec<_>>().join(", ")
    );
    if one_line.len() <= 80 {
        return one_line;
    }
    let mut out = String::from("[\n");
    for item in items {
        let _ = writeln!(out, "    {},", q(item));
    }
    out.push(']');
    out
}

fn inline_map(map: &BTreeMap<String, String>) -> String {
    let items: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{} = {}", key(k), q(v)))
        .collect();
    format!("{{ {} }}", items.join(", "))
}

fn write_spec(draft: &Draft, file: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Imported by `modelbench import-pei` from {file}; review it, then `modelbench lock`."
    );
    if !draft.warnings.is_empty() {
        out.push_str("# What could not be translated is listed at the end.\n");
    }
    out.push_str("\n[image]\n");
    let _ = writeln!(out, "name = {}", q(&draft.image_name));
    let _ = writeln!(out, "tag = {}", q(&draft.tag));
    if let Some(tag) = &draft.stage_1_tag {
        let _ = writeln!(out, "stage-1-tag = {}", q(tag));
    }
    out.push_str("platforms = [\"linux/amd64\"]   # PeiDocker builds for the host's platform\n");
    if draft.gpu {
        out.push_str("gpu = true\n");
    }

    out.push_str("\n[base]\n");
    let _ = writeln!(out, "image = {}", q(&draft.base_image));
    if let Some(mirror) = &draft.registry_mirror {
        let _ = writeln!(out, "registry-mirror = {}", q(mirror));
    }

    if !draft.mirrors.is_empty() {
        out.push_str("\n[mirrors]\n");
        for (name, mirror) in &draft.mirrors {
            let _ = writeln!(out, "{name} = {}", q(mirror));
        }
    }
    if draft.keep_mirror.is_some() || draft.recommends.is_some() {
        out.push_str("\n[apt]\n");
        if let Some(keep) = draft.keep_mirror {
            let _ = writeln!(out, "keep-mirror = {keep}");
        }
        if let Some(recommends) = draft.recommends {
            let _ = writeln!(out, "recommends = {recommends}");
        }
    }
    if let Some((address, port, apt, used)) = &draft.proxy {
        let prefix = if *used { "" } else { "# " };
        if !used {
            out.push_str(
                "\n# PeiDocker defined this proxy but did not use it for the build (enable_globally\n# and apt.use_proxy were off); uncomment to pass it to the build.\n",
            );
        } else {
            out.push_str("\n# build time only: never in /etc/environment, ENV or history\n");
        }
        let _ = writeln!(out, "{prefix}[proxy]");
        let _ = writeln!(out, "{prefix}address = {}", q(address));
        let _ = writeln!(out, "{prefix}port = {}", q(port));
        let _ = writeln!(out, "{prefix}apt = {apt}");
    }
    if let Some((enable, port, host_port)) = &draft.ssh {
        out.push_str("\n[ssh]\n");
        if !enable {
            out.push_str("enable = false\n");
        }
        let _ = writeln!(out, "port = {port}");
        let _ = writeln!(out, "host-port = {}", q(host_port));
    }
    for user in &draft.users {
        out.push_str("\n[[users]]\n");
        let _ = writeln!(out, "name = {}", q(&user.name));
        let uid = user.uid.unwrap_or(1000);
        let _ = writeln!(out, "uid = {uid}");
        let _ = writeln!(out, "gid = {}", user.gid.unwrap_or(uid));
        if let Some(password) = &user.password {
            let _ = writeln!(
                out,
                "password = {}   # emitted only as a SHA-512 crypt hash; prefer password-hash",
                q(password)
            );
        }
        if let Some(pubkey) = &user.pubkey {
            let _ = writeln!(out, "pubkey = {}", q(pubkey));
        }
    }

    for (index, stage) in draft.stages.iter().enumerate() {
        let name = format!("stage-{}", index + 1);
        let mut body = String::new();
        if !stage.apt.is_empty() {
            let _ = writeln!(body, "apt = {}", string_list(&stage.apt));
        }
        for (tool, (version, user)) in &stage.tools {
            let _ = writeln!(
                body,
                "tools.{} = {{ version = {}, user = {} }}",
                key(tool),
                q(version),
                q(user)
            );
        }
        if !stage.npm_global.is_empty() {
            let _ = writeln!(body, "npm-global = {}", inline_map(&stage.npm_global));
        }
        if !stage.bun_global.is_empty() {
            let _ = writeln!(body, "bun-global = {}", inline_map(&stage.bun_global));
        }
        if !stage.pixi_global.is_empty() {
            let _ = writeln!(body, "pixi-global = {}", string_list(&stage.pixi_global));
        }
        if !stage.ports.is_empty() {
            let _ = writeln!(body, "ports = {}", string_list(&stage.ports));
        }
        if !stage.environment.is_empty() {
            let _ = writeln!(body, "environment = {}", inline_map(&stage.environment));
        }
        if !stage.links.is_empty() {
            let _ = writeln!(
                body,
                "links = {}   # PeiDocker's /soft layout, made at container start",
                inline_map(&stage.links)
            );
        }
        if !body.is_empty() {
            let _ = write!(out, "\n[{name}]\n{body}");
        }
        for (release_name, release) in &stage.release {
            let _ = writeln!(out, "\n[{name}.release.{}]", key(release_name));
            let _ = writeln!(out, "repo = {}", q(&release.repo));
            let _ = writeln!(out, "version = {}", q(&release.version));
            let _ = writeln!(out, "asset = {}", q(&release.asset));
            if !release.triple.is_empty() {
                let _ = writeln!(out, "triple = {}", inline_map(&release.triple));
            }
            let _ = writeln!(out, "dest = {}", q(&release.dest));
        }
        for (table, entries) in [("storage", &stage.storage), ("mount", &stage.mount)] {
            for (entry_name, storage) in entries {
                let _ = writeln!(out, "\n[{name}.{table}.{}]", key(entry_name));
                let _ = writeln!(out, "type = {}", q(&storage.kind));
                for (k, v) in [
                    ("host-path", &storage.host_path),
                    ("volume-name", &storage.volume_name),
                    ("dst-path", &storage.dst_path),
                ] {
                    if let Some(v) = v {
                        let _ = writeln!(out, "{k} = {}", q(v));
                    }
                }
            }
        }
    }

    if !draft.warnings.is_empty() {
        out.push_str("\n# Not translated (or translated with an assumption):\n");
        for warning in &draft.warnings {
            let _ = writeln!(out, "# {warning}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_operators() {
        assert_eq!(
            split_words(r#"su - peid -c "bash /x/install-nvm.sh --with-cn-mirror""#),
            vec![
                "su",
                "-",
                "peid",
                "-c",
                "bash /x/install-nvm.sh --with-cn-mirror"
            ]
        );
        assert_eq!(
            split_operator("apt-get install -y a || apt-get install -y 'b||c'", "||").len(),
            2
        );
        assert_eq!(
            npm_spec("@upstash/context7-mcp@latest"),
            Some(("@upstash/context7-mcp".into(), "latest".into()))
        );
        assert_eq!(
            npm_spec("tavily-mcp"),
            Some(("tavily-mcp".into(), "latest".into()))
        );
    }

    #[test]
    fn yaml_lines_are_one_based() {
        let node = parse_yaml("t.yml", "a:\n  b: 1\n  c:\n    - x\n    - |\n      y\n").unwrap();
        let a = node.get("a").unwrap();
        assert_eq!(a.get("b").unwrap().line(), 2);
        let Node::Seq(items, _) = a.get("c").unwrap() else {
            panic!("a sequence")
        };
        assert_eq!(items[0].line(), 4);
        assert_eq!(items[1].scalar(), Some("y\n"));
    }

    #[test]
    fn release_downloads() {
        let words = split_words(
            "curl -fsSL -o /hard/image/app/clash/clash-rs https://github.com/Watfaq/clash-rs/releases/latest/download/clash-rs-x86_64-unknown-linux-musl",
        );
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let release = release_download(&w).unwrap();
        assert_eq!(release.repo, "Watfaq/clash-rs");
        assert_eq!(release.version, "latest");
        assert_eq!(release.asset, "clash-rs-{triple}");
        assert_eq!(release.dest, "/hard/image/app/clash/clash-rs");
    }
}
