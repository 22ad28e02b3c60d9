//! PeiDocker's standard installers (uv, pixi, nvm/node, bun, Claude Code, Codex) as
//! `[stage-N.tools]` and global npm entries, for the user they install for.

use super::draft::{Draft, Loc};

/// The standard PeiDocker installers modelbench has an equivalent for.
pub(super) const INSTALLERS: &[&str] = &[
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

pub(super) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A standard installer: `words[0]` is the script, the rest its arguments.
pub(super) fn installer(
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
pub(super) fn ensure_tool(
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
