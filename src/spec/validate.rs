//! Semantic checks that serde cannot express: known platforms and tools, users that
//! exist, constraints that parse. Each failure points at the offending value's span.

use std::ops::Range;

use toml::Spanned;

use super::model::Spec;
use crate::image_ref::ImageRef;
use crate::platform::Platform;
use crate::resolve::apt::keys::BuiltinKeyring;
use crate::resolve::github_release::ReleaseConstraint;
use crate::resolve::nodejs::NodeConstraint;

pub struct Invalid {
    pub span: Range<usize>,
    pub message: String,
}

fn invalid<T>(at: &Spanned<T>, message: impl Into<String>) -> Invalid {
    Invalid {
        span: at.span(),
        message: message.into(),
    }
}

/// The tools `[stage-N.tools]` knows how to install.
pub const KNOWN_TOOLS: &[&str] = &["bun", "node", "pixi", "uv"];

/// Names, paths and modes go into `RUN` lines and generated shell scripts unquoted, so
/// they are held to characters that need no quoting.
fn is_shell_safe(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/+-@:".contains(&b))
}

fn is_mode(text: &str) -> bool {
    (3..=4).contains(&text.len()) && text.bytes().all(|b| (b'0'..=b'7').contains(&b))
}

pub fn validate(spec: &Spec) -> Result<(), Invalid> {
    if spec.image.platforms.is_empty() {
        return Err(Invalid {
            span: 0..0,
            message: "`image.platforms` is empty: name at least one platform, e.g. \"linux/amd64\""
                .into(),
        });
    }
    for platform in &spec.image.platforms {
        Platform::parse(platform.get_ref()).map_err(|message| invalid(platform, message))?;
    }
    ImageRef::parse_normalized(spec.base.image.get_ref()).map_err(|err| {
        invalid(
            &spec.base.image,
            format!("`base.image` is not an image reference: {err}"),
        )
    })?;

    let user_names: Vec<&str> = spec
        .users
        .iter()
        .map(|u| u.name.get_ref().as_str())
        .collect();
    for (i, user) in spec.users.iter().enumerate() {
        if user_names[..i].contains(&user.name.get_ref().as_str()) {
            return Err(invalid(
                &user.name,
                format!("user `{}` is defined twice", user.name.get_ref()),
            ));
        }
        let valid_name = user.name.get_ref().bytes().enumerate().all(|(i, b)| {
            b.is_ascii_lowercase() || b == b'_' || (i > 0 && (b.is_ascii_digit() || b == b'-'))
        });
        if !valid_name || user.name.get_ref().is_empty() {
            return Err(invalid(
                &user.name,
                format!(
                    "`{}` is not a user name (lowercase letters, digits, `_`, `-`)",
                    user.name.get_ref()
                ),
            ));
        }
        if user.password.is_some() && user.password_hash.is_some() {
            return Err(invalid(
                &user.name,
                format!(
                    "user `{}` has both `password` and `password-hash`: keep one",
                    user.name.get_ref()
                ),
            ));
        }
    }

    for (tool, settings) in &spec.stage_2.tools {
        if spec.stage_1.tools.contains_key(tool) {
            return Err(invalid(
                &settings.version,
                format!("tool `{tool}` is in both stages; keep one"),
            ));
        }
    }
    for (tool, settings) in &spec.stage_2.tools {
        if spec.stage_1.tools.contains_key(tool) {
            return Err(invalid(
                &settings.version,
                format!("tool `{tool}` is in both stages; keep one"),
            ));
        }
    }
    for (stage_name, stage) in [("stage-1", &spec.stage_1), ("stage-2", &spec.stage_2)] {
        for (tool, settings) in &stage.tools {
            if !KNOWN_TOOLS.contains(&tool.as_str()) {
                return Err(invalid(
                    &settings.version,
                    format!(
                        "unknown tool `{tool}` in `{stage_name}.tools`: known tools are {}",
                        KNOWN_TOOLS.join(", ")
                    ),
                ));
            }
            if !user_names.contains(&settings.user.get_ref().as_str()) {
                return Err(invalid(
                    &settings.user,
                    format!(
                        "tool `{tool}` is for user `{}`, who is not in `[[users]]`",
                        settings.user.get_ref()
                    ),
                ));
            }
            if settings.version.get_ref().trim().is_empty() {
                return Err(invalid(
                    &settings.version,
                    format!("tool `{tool}` has an empty version"),
                ));
            }
            if tool == "node" {
                NodeConstraint::parse(settings.version.get_ref()).map_err(|message| {
                    invalid(&settings.version, format!("tool `node`: {message}"))
                })?;
            } else {
                ReleaseConstraint::parse(settings.version.get_ref()).map_err(|message| {
                    invalid(&settings.version, format!("tool `{tool}`: {message}"))
                })?;
            }
            if let Some(nvm) = &settings.nvm {
                if tool != "node" {
                    return Err(invalid(
                        nvm,
                        format!("`nvm` applies to tool `node` only, not `{tool}`"),
                    ));
                }
                ReleaseConstraint::parse(nvm.get_ref())
                    .map_err(|message| invalid(nvm, format!("tool `node`: nvm {message}")))?;
            }
            if settings.baseline && tool != "bun" {
                return Err(invalid(
                    &settings.version,
                    format!("`baseline` applies to tool `bun` only, not `{tool}`"),
                ));
            }
            for artifact in crate::tools::artifact_names(tool) {
                let taken = [&spec.stage_1, &spec.stage_2].iter().any(|stage| {
                    stage.release.contains_key(*artifact) || stage.url.contains_key(*artifact)
                });
                if taken {
                    return Err(invalid(
                        &settings.version,
                        format!(
                            "tool `{tool}` installs `{artifact}`, which is also the name of a release or url entry"
                        ),
                    ));
                }
            }
        }
        for (name, release) in &stage.release {
            let repo = release.repo.get_ref();
            let parts: Vec<&str> = repo.split('/').collect();
            if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
                return Err(invalid(
                    &release.repo,
                    format!("release `{name}`: `repo` must be `owner/name`, got `{repo}`"),
                ));
            }
            if !is_shell_safe(name) || !is_shell_safe(&release.dest) || !is_mode(&release.mode) {
                return Err(invalid(
                    &release.asset,
                    format!(
                        "release `{name}`: name and `dest` may use letters, digits and `._/+-@:` only, `mode` must be octal like 0755 (got `{}`, `{}`)",
                        release.dest, release.mode
                    ),
                ));
            }
            ReleaseConstraint::parse(release.version.get_ref()).map_err(|message| {
                invalid(&release.version, format!("release `{name}`: {message}"))
            })?;
            if !release.dest.starts_with('/') {
                return Err(invalid(
                    &release.asset,
                    format!(
                        "release `{name}`: `dest` must be an absolute path, got `{}`",
                        release.dest
                    ),
                ));
            }
        }
        for (name, file) in &stage.url {
            if !is_shell_safe(name) || !is_shell_safe(&file.dest) || !is_mode(&file.mode) {
                return Err(invalid(
                    &file.url,
                    format!(
                        "url `{name}`: name and `dest` may use letters, digits and `._/+-@:` only, `mode` must be octal like 0644 (got `{}`, `{}`)",
                        file.dest, file.mode
                    ),
                ));
            }
            let sha = file.sha256.get_ref();
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(
                    &file.sha256,
                    format!("url `{name}`: `sha256` must be 64 hex digits, got `{sha}`"),
                ));
            }
            let parsed = url::Url::parse(file.url.get_ref())
                .map_err(|err| invalid(&file.url, format!("url `{name}`: not a URL: {err}")))?;
            if !matches!(parsed.scheme(), "https" | "http") {
                return Err(invalid(
                    &file.url,
                    format!("url `{name}`: only https (or http) URLs can be fetched"),
                ));
            }
            if !file.dest.starts_with('/') {
                return Err(invalid(
                    &file.url,
                    format!(
                        "url `{name}`: `dest` must be an absolute path, got `{}`",
                        file.dest
                    ),
                ));
            }
        }
        for entry in &stage.pixi_global {
            crate::resolve::conda::solve::parse_spec(entry.get_ref()).map_err(|message| {
                invalid(entry, format!("`{stage_name}.pixi-global`: {message}"))
            })?;
            let env = crate::resolve::conda_tool_name(entry.get_ref());
            if !is_shell_safe(&env) {
                return Err(invalid(
                    entry,
                    format!("`{stage_name}.pixi-global`: `{env}` is not a usable environment name"),
                ));
            }
            let twice = [&spec.stage_1, &spec.stage_2]
                .iter()
                .flat_map(|s| &s.pixi_global)
                .filter(|e| crate::resolve::conda_tool_name(e.get_ref()) == env)
                .count();
            if twice > 1 {
                return Err(invalid(
                    entry,
                    format!("pixi-global tool `{env}` is listed twice (one environment per tool)"),
                ));
            }
        }
        for entry in &stage.apt {
            for alternative in entry.get_ref().split('|') {
                let package = alternative.trim();
                let valid = !package.is_empty()
                    && package.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.:=".contains(&b)
                    });
                if !valid {
                    return Err(invalid(
                        entry,
                        format!("`{stage_name}.apt`: `{package}` is not a Debian package name"),
                    ));
                }
            }
        }
        for (name, storage) in stage.storage.iter().chain(&stage.mount) {
            let kind = storage.kind.get_ref().as_str();
            if !matches!(kind, "host" | "auto-volume" | "manual-volume" | "image") {
                return Err(invalid(
                    &storage.kind,
                    format!(
                        "storage `{name}`: type must be host, auto-volume, manual-volume or image"
                    ),
                ));
            }
            if kind == "host" && storage.host_path.is_none() {
                return Err(invalid(
                    &storage.kind,
                    format!("storage `{name}`: type host needs `host-path`"),
                ));
            }
        }
    }
    validate_globals(spec)?;
    validate_emit(&spec.emit)?;
    if let Some(workflow) = &spec.workflow {
        validate_workflow(workflow)?;
    }
    validate_apt(&spec.apt)
}

/// `npm-global`/`bun-global`: registry package names (they become directory names in the
/// image), specifiers that a registry resolves, each package once, and the tool that
/// installs them (node for npm, bun for bun) in the same stage or stage 1.
fn validate_globals(spec: &Spec) -> Result<(), Invalid> {
    let mut seen: Vec<&str> = Vec::new();
    let mut dirs: Vec<(String, &str)> = Vec::new();
    for (stage_name, stage) in [("stage-1", &spec.stage_1), ("stage-2", &spec.stage_2)] {
        for (key, tool, globals) in [
            ("npm-global", "node", &stage.npm_global),
            ("bun-global", "bun", &stage.bun_global),
        ] {
            for (package, range) in globals {
                if !is_npm_name(package) {
                    return Err(invalid(
                        range,
                        format!("`{stage_name}.{key}`: `{package}` is not an npm package name"),
                    ));
                }
                if seen.contains(&package.as_str()) {
                    return Err(invalid(
                        range,
                        format!(
                            "`{package}` is listed twice (npm-global/bun-global of both stages): keep one"
                        ),
                    ));
                }
                seen.push(package);
                let dir = crate::resolve::npm::dir_name(package);
                if let Some((_, other)) = dirs.iter().find(|(d, _)| *d == dir) {
                    return Err(invalid(
                        range,
                        format!(
                            "`{package}` and `{other}` would install into the same directory `{dir}`: keep one"
                        ),
                    ));
                }
                dirs.push((dir, package));
                crate::resolve::npm::spec::RegistrySpec::parse(package, range.get_ref().trim())
                    .map_err(|message| {
                        invalid(range, format!("`{stage_name}.{key}`: {message}"))
                    })?;
                let installed = stage.tools.contains_key(tool)
                    || (stage_name == "stage-2" && spec.stage_1.tools.contains_key(tool));
                if !installed {
                    return Err(invalid(
                        range,
                        format!(
                            "`{stage_name}.{key}` needs tool `{tool}` in {stage_name}{}: add `tools.{tool} = {{ version = \"...\", user = \"...\" }}`",
                            if stage_name == "stage-2" {
                                " or stage-1"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// npm's rules for new package names: lowercase, URL-safe, an optional `@scope/`.
fn is_npm_name(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && !p.starts_with(['.', '_'])
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b))
    };
    let unscoped = match name.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('/') {
            Some((scope, rest)) if part(scope) => rest,
            _ => return false,
        },
        None => name,
    };
    name.len() <= 214 && part(unscoped)
}

/// `[emit] out`: emit replaces that directory whole, so it must be a directory of its
/// own below the current one (no absolute path, no `..`, not `.` itself).
fn validate_emit(emit: &super::model::EmitSettings) -> Result<(), Invalid> {
    let Some(out) = &emit.out else {
        return Ok(());
    };
    let path = std::path::Path::new(out.get_ref());
    let mut normal = 0;
    for component in path.components() {
        match component {
            std::path::Component::Normal(_) => normal += 1,
            std::path::Component::CurDir => {}
            _ => {
                return Err(invalid(
                    out,
                    "`emit.out` must be a relative path below the current directory, without `..`",
                ));
            }
        }
    }
    if normal == 0 {
        return Err(invalid(
            out,
            "`emit.out` names no directory: emit replaces it whole, so give it one of its own (e.g. \"build/NAME\")",
        ));
    }
    Ok(())
}

/// `[workflow]`: tag constraints that parse, a branch name the lock's ref grammar takes,
/// and an https repository URL without credentials (the workflow installs from it).
fn validate_workflow(workflow: &super::model::WorkflowPins) -> Result<(), Invalid> {
    use crate::lock::values::{HttpUrl, ReleaseTag};
    use crate::resolve::git::TagConstraint;
    if let Some(checkout) = &workflow.checkout {
        TagConstraint::parse(checkout.get_ref())
            .map_err(|err| invalid(checkout, format!("`workflow.checkout`: {err}")))?;
    }
    let Some(source) = &workflow.modelbench else {
        return Ok(());
    };
    let url = source.git.get_ref();
    if !url.starts_with("https://") || HttpUrl::parse("", url).is_err() {
        return Err(invalid(
            &source.git,
            format!(
                "`workflow.modelbench.git` must be an https URL without credentials, got `{url}`"
            ),
        ));
    }
    match (&source.branch, &source.tag) {
        (Some(branch), None) => {
            ReleaseTag::parse("", branch.get_ref()).map_err(|_| {
                invalid(
                    branch,
                    format!(
                        "`workflow.modelbench.branch` must be {}",
                        ReleaseTag::EXPECTED
                    ),
                )
            })?;
        }
        (None, Some(tag)) => {
            TagConstraint::parse(tag.get_ref())
                .map_err(|err| invalid(tag, format!("`workflow.modelbench.tag`: {err}")))?;
        }
        (Some(_), Some(tag)) => {
            return Err(invalid(
                tag,
                "`workflow.modelbench` takes one of `branch` and `tag`, not both",
            ));
        }
        (None, None) => {
            return Err(invalid(
                &source.git,
                "`workflow.modelbench` needs `branch = \"NAME\"` or `tag = \"v1\"` (a version constraint)",
            ));
        }
    }
    Ok(())
}

/// `[apt]`: archives that can be fetched, paths that are not empty.
fn validate_apt(apt: &super::model::AptSettings) -> Result<(), Invalid> {
    for path in apt.status.iter().chain(&apt.keyring) {
        if path.get_ref().trim().is_empty() {
            return Err(invalid(path, "`apt`: an empty path"));
        }
    }
    if let Some(keyring) = &apt.keyring
        && let Some(Err(message)) = BuiltinKeyring::from_reference(keyring.get_ref())
    {
        return Err(invalid(keyring, format!("`apt.keyring`: {message}")));
    }
    for (number, archive) in apt.archives.iter().enumerate() {
        let at = |what: &str| format!("`apt.archives` #{}: {what}", number + 1);
        let Some(first) = archive.uris.first() else {
            return Err(Invalid {
                span: 0..0,
                message: at("`uris` is empty: name at least one base URI"),
            });
        };
        for uri in &archive.uris {
            let parsed = url::Url::parse(uri.get_ref()).map_err(|err| {
                invalid(uri, at(&format!("`{}` is not a URL: {err}", uri.get_ref())))
            })?;
            if !matches!(parsed.scheme(), "https" | "http") {
                return Err(invalid(
                    uri,
                    at("only http and https archives can be fetched"),
                ));
            }
        }
        let Some(suite) = archive.suites.first() else {
            return Err(invalid(
                first,
                at("`suites` is empty: name at least one suite"),
            ));
        };
        let flat = archive.suites.iter().all(|s| s.get_ref().ends_with('/'));
        if flat && !archive.components.is_empty() {
            return Err(invalid(
                suite,
                at("a flat repository (suite ending in `/`) has no components"),
            ));
        }
        if !flat && archive.components.is_empty() {
            return Err(invalid(
                suite,
                at("`components` is empty: name at least one (`main`)"),
            ));
        }
        // No `signed-by` and not `trusted`: checked against the shipped archive keys.
        for keyring in &archive.signed_by {
            if keyring.get_ref().trim().is_empty() {
                return Err(invalid(keyring, at("an empty `signed-by` path")));
            }
            if let Some(Err(message)) = BuiltinKeyring::from_reference(keyring.get_ref()) {
                return Err(invalid(keyring, at(&message)));
            }
        }
        if let Some(snapshot) = &archive.snapshot {
            if let Some(base) = &snapshot.base {
                url::Url::parse(base.get_ref()).map_err(|err| {
                    invalid(base, at(&format!("snapshot `base` is not a URL: {err}")))
                })?;
            }
            if let Some(timestamp) = &snapshot.timestamp {
                let t = timestamp.get_ref().as_bytes();
                let valid = t.len() == 16
                    && t[8] == b'T'
                    && t[15] == b'Z'
                    && t[..8].iter().chain(&t[9..15]).all(u8::is_ascii_digit);
                if !valid {
                    return Err(invalid(
                        timestamp,
                        at("snapshot `timestamp` must look like 20260701T000000Z"),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn error(extra: &str) -> String {
        let text = format!(
            "[image]\nname = \"x\"\ntag = \"t\"\nplatforms = [\"linux/amd64\"]\n\
             [base]\nimage = \"debian:bookworm\"\n{extra}"
        );
        match crate::spec::LoadedSpec::from_str(Path::new("x.toml"), &text) {
            Ok(_) => panic!("accepted: {extra}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn npm_and_bun_globals_are_checked_with_spans() {
        let users = "[[users]]\nname = \"peid\"\nuid = 1000\ngid = 1000\n";
        let node = "tools.node = { version = \"lts\", user = \"peid\" }\n";
        let err = error(&format!(
            "{users}[stage-2]\nnpm-global = {{ \"tool\" = \"latest\" }}\n"
        ));
        assert!(
            err.contains("needs tool `node` in stage-2 or stage-1"),
            "{err}"
        );
        let err = error(&format!(
            "{users}[stage-2]\n{node}npm-global = {{ \"Bad Name\" = \"1\" }}\n"
        ));
        assert!(
            err.contains("`Bad Name` is not an npm package name"),
            "{err}"
        );
        assert!(err.contains("x.toml:"), "{err}");
        let err = error(&format!(
            "{users}[stage-2]\n{node}npm-global = {{ \"tool\" = \"git+https://x/y.git\" }}\n"
        ));
        assert!(
            err.contains("only registry versions can be locked"),
            "{err}"
        );
        let err = error(&format!(
            "{users}[stage-1]\n{node}npm-global = {{ \"tool\" = \"1\" }}\n\
             [stage-2]\ntools.bun = {{ version = \"latest\", user = \"peid\" }}\n\
             bun-global = {{ \"tool\" = \"2\" }}\n"
        ));
        assert!(err.contains("`tool` is listed twice"), "{err}");
        let err = error(&format!(
            "{users}[stage-2]\n{node}npm-global = {{ \"@a/b-c\" = \"1\", \"a-b-c\" = \"1\" }}\n"
        ));
        assert!(
            err.contains("`a-b-c` and `@a/b-c` would install into the same directory `a-b-c`"),
            "{err}"
        );
        // A stage-2 global may use stage 1's node.
        let ok = format!(
            "[image]\nname = \"x\"\ntag = \"t\"\nplatforms = [\"linux/amd64\"]\n\
             [base]\nimage = \"debian:bookworm\"\n{users}[stage-1]\n{node}\
             [stage-2]\nnpm-global = {{ \"@scope/tool\" = \"^1.2 || 2.x\" }}\n"
        );
        crate::spec::LoadedSpec::from_str(Path::new("x.toml"), &ok)
            .unwrap_or_else(|err| panic!("{err}"));
    }

    #[test]
    fn pixi_global_entries_are_match_specs_once_each() {
        let err = error("[stage-2]\npixi-global = [\"jq >=>1\"]\n");
        assert!(err.contains("x.toml:8:"), "{err}");
        assert!(err.contains("not a conda match spec"), "{err}");
        let err =
            error("[stage-1]\npixi-global = [\"jq\"]\n[stage-2]\npixi-global = [\"jq >=1.7\"]\n");
        assert!(err.contains("`jq` is listed twice"), "{err}");
    }

    #[test]
    fn workflow_pins_are_checked_with_spans() {
        for (extra, needle) in [
            (
                "[workflow]\ncheckout = \"latest\"\n",
                "`workflow.checkout`: `latest` is not a tag constraint",
            ),
            (
                "[workflow]\ncheckuot = \"v4\"\n",
                "unknown field `checkuot`",
            ),
            (
                "[workflow]\nmodelbench = { git = \"http://git.example/m.git\", branch = \"main\" }\n",
                "must be an https URL",
            ),
            (
                "[workflow]\nmodelbench = { git = \"https://u:p@git.example/m.git\", branch = \"main\" }\n",
                "without credentials",
            ),
            (
                "[workflow]\nmodelbench = { git = \"https://git.example/m.git\", branch = \"main;id\" }\n",
                "`workflow.modelbench.branch` must be a release tag",
            ),
            (
                "[workflow]\nmodelbench = { git = \"https://git.example/m.git\" }\n",
                "needs `branch",
            ),
            (
                "[workflow]\nmodelbench = { git = \"https://git.example/m.git\", branch = \"main\", tag = \"v1\" }\n",
                "not both",
            ),
            (
                "[workflow]\nmodelbench = { git = \"https://git.example/m.git\", rev = \"main\" }\n",
                "unknown field `rev`",
            ),
        ] {
            let err = error(extra);
            assert!(err.contains(needle), "{extra}: {err}");
            assert!(err.contains("x.toml:8:"), "{extra}: {err}");
        }
    }

    #[test]
    fn apt_archives_are_checked_with_spans() {
        let err = error(
            "[[apt.archives]]\nuris = [\"ftp://deb.example/debian\"]\nsuites = [\"bookworm\"]\ncomponents = [\"main\"]\ntrusted = true\n",
        );
        assert!(err.contains("x.toml:8:"), "{err}");
        assert!(err.contains("only http and https"), "{err}");
        let err = error(
            "[[apt.archives]]\nuris = [\"https://deb.example/debian\"]\nsuites = [\"bookworm\"]\n",
        );
        assert!(err.contains("`components` is empty"), "{err}");
        // No `signed-by` is fine (the shipped keys check it); an unknown built-in is not.
        let err = error(
            "[[apt.archives]]\nuris = [\"https://deb.example/debian\"]\nsuites = [\"bookworm\"]\ncomponents = [\"main\"]\nsigned-by = [\"builtin:cuda\"]\n",
        );
        assert!(err.contains("x.toml:11:"), "{err}");
        assert!(err.contains("`builtin:cuda` is not a keyring"), "{err}");
        let unsigned = "[image]\nname = \"x\"\ntag = \"t\"\nplatforms = [\"linux/amd64\"]\n\
             [base]\nimage = \"debian:bookworm\"\n[[apt.archives]]\nuris = [\"https://deb.example/debian\"]\n\
             suites = [\"bookworm\"]\ncomponents = [\"main\"]\n";
        crate::spec::LoadedSpec::from_str(Path::new("x.toml"), unsigned)
            .expect("an archive without signed-by is checked against the shipped keys");
        let err = error("[apt]\nkeyring = \"builtin:ubuntu\"\n");
        assert!(err.contains("builtin:ubuntu-archive-keyring"), "{err}");
        let err = error(
            "[[apt.archives]]\nuris = [\"https://deb.example/cuda\"]\nsuites = [\"/\"]\ncomponents = [\"main\"]\ntrusted = true\n",
        );
        assert!(err.contains("flat repository"), "{err}");
        let err = error(
            "[[apt.archives]]\nuris = [\"https://deb.example/debian\"]\nsuites = [\"bookworm\"]\ncomponents = [\"main\"]\ntrusted = true\nsnapshot = { timestamp = \"2026-07-01\" }\n",
        );
        assert!(err.contains("20260701T000000Z"), "{err}");
        let err = error("[apt]\nstatus = \"\"\n");
        assert!(err.contains("empty path"), "{err}");
        let err = error("[apt]\nstatuss = \"x\"\n");
        assert!(err.contains("unknown field"), "{err}");
    }
}
