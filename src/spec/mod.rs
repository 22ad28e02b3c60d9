//! The spec: what a person writes (`specs/NAME.toml`), parsed strictly, validated, and
//! hashed in normalized form so that comments, key order or CRLF do not count as drift.
//!
//! Every requirement of the seed plan has a key here. Parts whose resolver has not landed
//! yet (apt, npm, conda, the user tools) are parsed and validated all the same; `lock`
//! names them in one message instead of skipping them (see [`crate::resolve::plan`]).

pub mod mirror_urls;
mod model;
mod validate;

pub use model::*;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// An error in a spec file, always carrying the file and, when known, the line and column.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read spec `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Syntax errors, unknown keys and wrong types: toml's message already shows the
    /// offending line with a caret.
    #[error("invalid spec {path}:{line}:{column}\n{message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid spec {path}:{line}:{column}: {message}\n{excerpt}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        excerpt: String,
    },
}

/// A parsed, validated spec and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub path: PathBuf,
    /// The spec's name: the file stem (`model-bench-cu128`), used for default paths.
    pub name: String,
    pub spec: Spec,
    /// `sha256:<hex>` of the normalized spec.
    pub hash: String,
}

impl LoadedSpec {
    /// `lock/<spec name>/bench.lock`, where every command looks unless told `--lock`.
    pub fn default_lock_path(&self) -> PathBuf {
        Path::new("lock").join(&self.name).join("bench.lock")
    }

    /// Where `emit` writes without `--out` (and `bump` re-emits): `[emit] out`, else
    /// `build/<spec name>`.
    pub fn default_out_dir(&self) -> PathBuf {
        match &self.spec.emit.out {
            Some(out) => PathBuf::from(out.get_ref()),
            None => Path::new("build").join(&self.name),
        }
    }

    pub fn load(path: &Path) -> Result<LoadedSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_str(path, &text)
    }

    pub fn from_str(path: &Path, text: &str) -> Result<LoadedSpec, SpecError> {
        let mut spec: Spec = toml::from_str(text).map_err(|err| {
            let (line, column) = err
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            SpecError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: err.to_string().trim_end().to_string(),
            }
        })?;
        spec.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        validate::validate(&spec).map_err(|invalid| {
            let (line, column) = line_column(text, invalid.span.start);
            SpecError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message: invalid.message,
                excerpt: excerpt(text, invalid.span.clone()),
            }
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "spec".into());
        let hash = normalized_hash(&spec);
        Ok(LoadedSpec {
            path: path.to_path_buf(),
            name,
            spec,
            hash,
        })
    }
}

/// The hash of the spec as re-serialized from the parsed model: formatting, comments,
/// key order and line endings do not change it, any change of meaning does.
pub fn normalized_hash(spec: &Spec) -> String {
    let normalized = toml::to_string(spec).expect("a parsed spec always serializes");
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(normalized.as_bytes()))
    )
}

/// A TOML string as `toml` itself writes one: how `why`, planned origins and `import-pei`
/// show a spec value.
pub fn toml_quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A TOML key, quoted (as [`toml_quote`]) unless bare.
pub fn toml_key(text: &str) -> String {
    let bare = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if bare {
        text.to_string()
    } else {
        toml_quote(text)
    }
}

/// 1-based line and column of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map(|nl| before[nl + 1..].chars().count() + 1)
        .unwrap_or(before.chars().count() + 1);
    (line, column)
}

/// The line holding `span`, with a caret under the offending text (like toml's own errors).
fn excerpt(text: &str, span: std::ops::Range<usize>) -> String {
    let (line_no, column) = line_column(text, span.start);
    let line = text.lines().nth(line_no - 1).unwrap_or("");
    let width = text[span.start.min(text.len())..span.end.min(text.len())]
        .lines()
        .next()
        .map(|s| s.chars().count())
        .unwrap_or(1)
        .max(1);
    let gutter = line_no.to_string().len();
    format!(
        "{:gutter$} |\n{line_no} | {line}\n{:gutter$} | {}{}",
        "",
        "",
        " ".repeat(column - 1),
        "^".repeat(width)
    )
}
