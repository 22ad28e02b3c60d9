//! What the spec will say: the draft the config and its scripts are translated into, and
//! the warnings gathered on the way.

use std::collections::BTreeMap;

use super::{Warning, WarningKind};

#[derive(Debug, Default)]
pub(super) struct StageDraft {
    pub(super) apt: Vec<String>,
    /// tool → (version, user)
    pub(super) tools: BTreeMap<String, (String, String)>,
    pub(super) npm_global: BTreeMap<String, String>,
    pub(super) bun_global: BTreeMap<String, String>,
    pub(super) pixi_global: Vec<String>,
    pub(super) release: BTreeMap<String, ReleaseDraft>,
    pub(super) storage: BTreeMap<String, StorageDraft>,
    pub(super) mount: BTreeMap<String, StorageDraft>,
    pub(super) ports: Vec<String>,
    pub(super) environment: BTreeMap<String, String>,
    pub(super) links: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub(super) struct ReleaseDraft {
    pub(super) repo: String,
    pub(super) version: String,
    pub(super) asset: String,
    pub(super) triple: BTreeMap<String, String>,
    pub(super) dest: String,
}

#[derive(Debug, Clone, Default)]
pub(super) struct StorageDraft {
    pub(super) kind: String,
    pub(super) host_path: Option<String>,
    pub(super) volume_name: Option<String>,
    pub(super) dst_path: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct UserDraft {
    pub(super) name: String,
    pub(super) uid: Option<u32>,
    pub(super) gid: Option<u32>,
    pub(super) password: Option<String>,
    pub(super) pubkey: Option<String>,
}

#[derive(Debug, Default)]
pub(super) struct Draft {
    pub(super) image_name: String,
    pub(super) tag: String,
    pub(super) stage_1_tag: Option<String>,
    pub(super) gpu: bool,
    pub(super) base_image: String,
    pub(super) registry_mirror: Option<String>,
    pub(super) mirrors: BTreeMap<&'static str, String>,
    pub(super) keep_mirror: Option<bool>,
    pub(super) recommends: Option<bool>,
    /// address, port, apt, and whether PeiDocker used it during the build at all
    pub(super) proxy: Option<(String, String, bool, bool)>,
    pub(super) ssh: Option<(bool, u16, String)>,
    pub(super) users: Vec<UserDraft>,
    pub(super) stages: [StageDraft; 2],
    pub(super) warnings: Vec<Warning>,
}

/// Where a piece of text came from.
#[derive(Debug, Clone)]
pub(super) struct Loc {
    pub(super) file: String,
    pub(super) line: usize,
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

    pub(super) fn untranslated(&mut self, loc: &Loc, text: &str, reason: impl Into<String>) {
        self.warn(WarningKind::Untranslated, loc, text, reason);
    }

    pub(super) fn note(&mut self, loc: &Loc, text: &str, reason: impl Into<String>) {
        self.warn(WarningKind::Note, loc, text, reason);
    }
}
