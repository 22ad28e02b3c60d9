//! Semantic checks that serde cannot express: known platforms and tools, users that
//! exist, constraints that parse. Each failure points at the offending value's span.

use std::ops::Range;

use toml::Spanned;

use super::model::Spec;
use crate::image_ref::ImageRef;
use crate::platform::Platform;
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
    Ok(())
}
