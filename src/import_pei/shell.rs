//! `custom.on_build`: the scripts and inline commands a stage runs at build time, line by
//! line, into draft entries (apt packages, global npm/bun/pixi tools, release downloads,
//! standard installers); every other line is listed as untranslated.

use std::collections::BTreeMap;
use std::path::Path;

use super::draft::{Draft, Loc, ReleaseDraft};
use super::installers::{INSTALLERS, basename, ensure_tool, installer};
use super::yaml::Node;

pub(super) fn on_build(
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
