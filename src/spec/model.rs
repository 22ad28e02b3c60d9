//! The spec's schema. Every table denies unknown keys so a typo is an error with a line
//! number, not a silently ignored setting. Field docs say what the seed plan key maps to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Spec {
    pub image: Image,
    pub base: Base,
    #[serde(default)]
    pub mirrors: Mirrors,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<Ssh>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<User>,
    #[serde(default)]
    pub apt: AptSettings,
    #[serde(default, rename = "stage-1")]
    pub stage_1: Stage,
    #[serde(default, rename = "stage-2")]
    pub stage_2: Stage,
    #[serde(default)]
    pub checks: Checks,
    /// What the emitted GitHub workflow runs, pinned in the lock as `git` entries (part
    /// of the normalized spec when present: it shapes those pins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowPins>,
    /// How `modelbench bump` may move pins (groups, cooldowns, majors, frozen). Not part
    /// of the normalized spec: a policy change does not make the lock stale.
    #[serde(default, skip_serializing)]
    pub bump: Option<crate::bump::policy::BumpPolicy>,
    /// Where the emitted build context lives, and whether it is committed (then `bump`
    /// re-emits it with the lock). Not part of the normalized spec: it shapes no pin.
    #[serde(default, skip_serializing)]
    pub emit: EmitSettings,
    /// The directory of the spec file: relative paths in the spec (keyrings, a dpkg
    /// status file) are relative to it. Set by the loader, not part of the normalized spec.
    #[serde(skip)]
    pub dir: std::path::PathBuf,
}

/// `[emit]`: the emitted build context as a project keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EmitSettings {
    /// The emitted files are committed next to the lock, so they must move with it:
    /// `bump` re-emits them, and `bump --pr` commits the changed ones with the lock.
    #[serde(default)]
    pub committed: bool,
    /// Where `emit` writes when not given `--out`, relative to the current directory
    /// (as `--out` and the default lock path are); default `build/<spec name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<Spanned<String>>,
}

/// `[workflow]`: the code `emit --github-workflow` runs with a write token, each pinned
/// to a full commit SHA by `lock` and moved by `bump`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WorkflowPins {
    /// `actions/checkout` by a tag constraint (`v4`: the newest `v4.x.y` tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout: Option<Spanned<String>>,
    /// modelbench's own git repository and the ref the workflow installs it from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modelbench: Option<GitSource>,
}

/// A git repository (https) and one of `branch` or `tag` (a version constraint).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GitSource {
    pub git: Spanned<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Spanned<String>>,
}

/// What the image's self-check verifies beyond the lock.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Checks {
    /// Python modules that must import in the final image (`cv2`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub python_imports: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Image {
    /// Image name of both stages (`ig-model-bench`).
    pub name: String,
    /// Tag of the final image (`cu128`).
    pub tag: String,
    /// Tag of the stage-1 image; defaults to `<tag>-stage-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_1_tag: Option<String>,
    /// Each platform gets its own pins (`linux/amd64`, `linux/arm64`).
    pub platforms: Vec<Spanned<String>>,
    /// Reserve NVIDIA GPUs for both stages in the compose file (PeiDocker `device.type: gpu`).
    #[serde(default)]
    pub gpu: bool,
}

impl Image {
    pub fn stage_1_tag(&self) -> String {
        self.stage_1_tag
            .clone()
            .unwrap_or_else(|| format!("{}-stage-1", self.tag))
    }

    pub fn platform_names(&self) -> Vec<String> {
        self.platforms.iter().map(|p| p.get_ref().clone()).collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Base {
    /// `registry/repo:tag`; Docker Hub names may be short (`nvidia/cuda:…`).
    pub image: Spanned<String>,
    /// A pull-through mirror of the base's registry (`docker.1ms.run`); same digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_mirror: Option<String>,
}

/// Mirrors tried first at build time; the canonical upstream follows. Well-known names
/// (`tuna`) expand to URLs, any URL works.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Mirrors {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pypi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conda: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub npm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodejs: Option<String>,
}

/// The build-time proxy. It reaches the build only through the builder's predefined proxy
/// args and is never kept in the image (`remove_after_build: true` is the only behaviour).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Proxy {
    pub address: String,
    /// A port or a compose-style variable (`${HOST_PORT_PROXY:-7890}`).
    pub port: String,
    /// Whether apt downloads use the proxy (PeiDocker `apt.use_proxy`).
    #[serde(default)]
    pub apt: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Ssh {
    #[serde(default = "default_true")]
    pub enable: bool,
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    /// Host side of the port mapping (`${HOST_PORT_SSH:-2222}`).
    pub host_port: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct User {
    pub name: Spanned<String>,
    pub uid: u32,
    pub gid: u32,
    /// Plain-text password (the seed's choice): warned about, hashed at emit time so it
    /// never appears in an emitted file or a build log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A crypt(3) hash (`$6$…`), used as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// `~` = the host's public key (`~/.ssh/id_*.pub`), or a path, or the key itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubkey: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AptSettings {
    /// Keep the mirror configured in the image for use at run time (the seed asks for it).
    #[serde(default = "default_true")]
    pub keep_mirror: bool,
    /// Install `Recommends` (apt's default is yes; the seed spec says no).
    #[serde(default = "default_true")]
    pub recommends: bool,
    /// Where packages come from, in apt's order. Unset: the Ubuntu archive of the base
    /// (noble, -updates, -backports, -security), the `[mirrors] apt` mirror first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub archives: Vec<AptArchive>,
    /// What the base image already has installed: a dpkg status file (relative to the
    /// spec), or `"empty"` for a base without dpkg. Unset: read from the base image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Spanned<String>>,
    /// The keyring that signs the default (Ubuntu) archives: a file (relative to the spec)
    /// or a shipped one (`builtin:…`); default `builtin:ubuntu-archive-keyring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyring: Option<Spanned<String>>,
    /// Start from the base image's own apt configuration, as `apt-get install` inside it
    /// would: its sources (in front of `archives`, instead of the default Ubuntu ones),
    /// pins and holds. `false`: only the spec's archives.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub base_sources: bool,
}

fn is_true(value: &bool) -> bool {
    *value
}

impl Default for AptSettings {
    fn default() -> Self {
        AptSettings {
            keep_mirror: true,
            recommends: true,
            archives: Vec::new(),
            status: None,
            keyring: None,
            base_sources: true,
        }
    }
}

/// One apt source (`[[apt.archives]]`), like a deb822 `.sources` stanza.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AptArchive {
    /// Base URIs, tried in order (mirror first, canonical after); same archive behind each.
    pub uris: Vec<Spanned<String>>,
    /// `noble noble-updates`; a flat repository has one suite ending in `/`.
    pub suites: Vec<Spanned<String>>,
    /// `main universe`; empty for a flat repository.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// Keyring files (relative to the spec) or shipped keyrings (`builtin:…`) that must
    /// have signed the Release; none: any shipped keyring.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed_by: Vec<Spanned<String>>,
    /// `[trusted=yes]`: an unsigned Release (the index and `.deb` hashes are still checked).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trusted: bool,
    /// Debian architectures served (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// A snapshot service for the `.deb` files: `{ base = "https://snapshot.ubuntu.com/ubuntu",
    /// timestamp = "20260701T000000Z" }` (either may be left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<AptSnapshot>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AptSnapshot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Spanned<String>>,
}

/// What one stage adds. Stage 1 is the system layer, stage 2 the user's tools.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Stage {
    /// apt packages; `a | b` takes the first that exists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apt: Vec<Spanned<String>>,
    /// The user tools: `uv`, `pixi`, `node`, `bun`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tools: BTreeMap<String, Tool>,
    /// npm global CLIs: package → range or dist-tag.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub npm_global: BTreeMap<String, Spanned<String>>,
    /// bun global CLIs: package → range or dist-tag.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bun_global: BTreeMap<String, Spanned<String>>,
    /// pixi global tools (one conda environment each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pixi_global: Vec<Spanned<String>>,
    /// GitHub release assets (clash-rs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub release: BTreeMap<String, Release>,
    /// Files pinned by hand: URL + hash (the escape hatch, like Nix `fetchurl`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub url: BTreeMap<String, UrlFile>,
    /// Storage (PeiDocker `storage.*`): name → where it comes from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub storage: BTreeMap<String, Storage>,
    /// Extra mounts (PeiDocker `mount.*`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mount: BTreeMap<String, Mount>,
    /// Extra port mappings `host:container`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    /// Run-time environment of the container (compose `environment`), never build secrets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// Symlinks made when the container starts: link → target (`/soft/app` → `/hard/image/app`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Tool {
    /// `latest`, `lts` (node), a major (`22`), a semver range or an exact version.
    pub version: Spanned<String>,
    /// The user the tool is installed for.
    pub user: Spanned<String>,
    /// bun only: the build for CPUs without AVX2.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub baseline: bool,
    /// node only: the nvm release whose layout and `nvm.sh` the image uses (default `latest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvm: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Release {
    /// `owner/name` on GitHub.
    pub repo: Spanned<String>,
    /// `latest` (newest non-prerelease), a semver range (`^0.10`) or an exact tag.
    pub version: Spanned<String>,
    /// Asset name pattern; `{triple}`, `{arch}` and `{version}` expand per platform.
    pub asset: Spanned<String>,
    /// Override of the target triple per platform (default: the musl triple).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub triple: BTreeMap<String, String>,
    /// Where the file goes in the image.
    pub dest: String,
    /// File mode in the image (octal string); default `0755`.
    #[serde(default = "default_exec_mode")]
    pub mode: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct UrlFile {
    pub url: Spanned<String>,
    /// The expected sha256 (hex), checked at lock time and at build time.
    pub sha256: Spanned<String>,
    pub dest: String,
    #[serde(default = "default_file_mode")]
    pub mode: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Storage {
    /// `host`, `auto-volume`, `manual-volume` or `image`.
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_name: Option<String>,
    /// Mount point in the container; PeiDocker's default is `/hard/volume/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_path: Option<String>,
}

pub type Mount = Storage;

fn default_true() -> bool {
    true
}

fn default_ssh_port() -> u16 {
    22
}

fn default_exec_mode() -> String {
    "0755".into()
}

fn default_file_mode() -> String {
    "0644".into()
}
