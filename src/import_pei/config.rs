//! The config's keys, stage by stage, into the draft: image, ssh and users, proxy, apt,
//! device, environment, ports, storage and mounts; `custom.on_build` goes to [`super::shell`].

use std::path::Path;

use anyhow::{Result, bail};

use super::Imported;
use super::draft::{Draft, Loc, StorageDraft, UserDraft};
use super::shell::on_build;
use super::write::write_spec;
use super::yaml::{Node, parse_yaml};

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
