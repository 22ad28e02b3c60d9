//! Writing the draft as spec text: TOML values quoted by the toml crate, tables in the
//! order a reader expects, the warnings as comments at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::draft::Draft;

use crate::spec::{toml_key as key, toml_quote as q};

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

pub(super) fn write_spec(draft: &Draft, file: &str) -> String {
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
