//! The base image's own apt sources: `/etc/apt/sources.list`,
//! `/etc/apt/sources.list.d/*.list` (one-line format) and `*.sources` (deb822), read
//! from its layers top down with whiteouts honoured, parsed strictly, and turned into
//! [`Archive`]s the planner can use (`nvidia/cuda` images name NVIDIA's CUDA repository
//! there, which `apt-get install` inside the image would use).
//!
//! The image is an upstream, not the user: what it names is checked against a grammar,
//! anything this parser cannot read is refused with the file's name, and an archive
//! signed by a key modelbench does not ship and the image does not carry as a file, or
//! marked `trusted=yes`, is refused with a message saying how to list it in the spec
//! instead. Nothing is skipped silently except
//! what apt skips too (`deb-src`, `Enabled: no`, files apt does not read by name).
//!
//! The layer scan ([`Collector`]) runs inside [`super::base_status`]'s streaming pass,
//! which also collects the preferences files ([`super::preferences`]) and the keyrings a
//! source may name; [`super::resolve`] turns what it read into the archive list.

use std::collections::BTreeMap;
use std::io::Read;

use super::index::{Archive, Snapshot};
use super::keys::BuiltinKeyring;
use super::layer_tar::{TarEntry, Whiteout, next_entry, whiteout};

const SOURCES_LIST: &str = "etc/apt/sources.list";
const SOURCES_DIR: &str = "etc/apt/sources.list.d";
const PREFERENCES: &str = "etc/apt/preferences";
const PREFERENCES_DIR: &str = "etc/apt/preferences.d";
const TRUSTED: &str = "etc/apt/trusted.gpg";
const TRUSTED_DIR: &str = "etc/apt/trusted.gpg.d";
/// Where images keep the keyrings their sources name in `signed-by`.
const KEYRING_DIRS: [&str; 2] = ["usr/share/keyrings", "etc/apt/keyrings"];
/// Largest sources, preferences or keyring file taken: real ones are a few KB.
const FILE_LIMIT: u64 = 1024 * 1024;
/// Most files of each kind taken from one layer.
const FILES_LIMIT: usize = 256;

/// What one layer holds of the apt configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerSources {
    /// Sources and preferences files in this layer: path (normalized, no leading `/`)
    /// → text.
    pub files: BTreeMap<String, String>,
    /// Keyring files in this layer (`trusted.gpg.d`, `/usr/share/keyrings`,
    /// `/etc/apt/keyrings`): path → bytes.
    #[serde(default)]
    pub keyrings: BTreeMap<String, Vec<u8>>,
    /// Whiteouts in this layer that may hide such files of the layers below.
    pub hidden: Vec<Hidden>,
}

/// A path a whiteout hides in the layers below.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Hidden {
    /// This path and everything below it (`.wh.name`).
    Path(String),
    /// Everything below this directory, not the directory itself (`.wh..wh..opq`).
    Below(String),
}

impl Hidden {
    fn hides(&self, path: &str) -> bool {
        match self {
            Hidden::Path(p) => path == p || is_below(path, p),
            Hidden::Below(dir) => is_below(path, dir),
        }
    }
}

fn is_below(path: &str, dir: &str) -> bool {
    dir.is_empty() || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// A file name apt reads in a `.d` directory: only these characters (it ignores others).
fn apt_file_name(stem: &str) -> bool {
    !stem.is_empty()
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The name of a file directly in `dir`, if `path` is one.
fn name_in<'a>(path: &'a str, dir: &str) -> Option<&'a str> {
    path.strip_prefix(dir)?
        .strip_prefix('/')
        .filter(|name| !name.contains('/'))
}

/// A file apt reads as sources: `sources.list`, or a `.list`/`.sources` file directly in
/// `sources.list.d` whose name has only the characters apt accepts.
fn is_sources_file(path: &str) -> bool {
    if path == SOURCES_LIST {
        return true;
    }
    name_in(path, SOURCES_DIR).is_some_and(|name| {
        name.strip_suffix(".list")
            .or_else(|| name.strip_suffix(".sources"))
            .is_some_and(apt_file_name)
    })
}

/// A file apt reads as preferences: `preferences`, or a file in `preferences.d` with no
/// extension or `.pref` (apt ignores other names there).
pub fn is_preferences_file(path: &str) -> bool {
    if path == PREFERENCES {
        return true;
    }
    name_in(path, PREFERENCES_DIR).is_some_and(|name| {
        let stem = name.strip_suffix(".pref").unwrap_or(name);
        apt_file_name(stem) && (stem.len() != name.len() || !stem.contains('.'))
    })
}

/// A keyring file a source may name or apt trusts for every source.
fn is_keyring_file(path: &str) -> bool {
    path == TRUSTED
        || name_in(path, TRUSTED_DIR)
            .is_some_and(|name| name.ends_with(".gpg") || name.ends_with(".asc"))
        || KEYRING_DIRS
            .iter()
            .any(|dir| name_in(path, dir).is_some_and(|name| !name.starts_with('.')))
}

/// Files and directories the scan collects from or whose whiteouts it keeps.
const WATCHED: [&str; 8] = [
    SOURCES_LIST,
    SOURCES_DIR,
    PREFERENCES,
    PREFERENCES_DIR,
    TRUSTED,
    TRUSTED_DIR,
    KEYRING_DIRS[0],
    KEYRING_DIRS[1],
];

/// Whether a hidden path can cover a collected file (an ancestor of one, or inside a
/// watched directory).
fn may_hide_collected(path: &str) -> bool {
    WATCHED
        .iter()
        .any(|w| path.is_empty() || *w == path || is_below(w, path) || is_below(path, w))
}

/// Collects one layer's apt configuration while the layer's tar is walked once (with
/// the dpkg status, [`super::base_status`]). A file it cannot take is remembered, not
/// fatal to the walk: a spec that ignores the base's sources still gets the status.
#[derive(Debug, Default)]
pub struct Collector {
    layer: LayerSources,
    refused: Option<String>,
}

impl Collector {
    /// Take `entry` if it is an apt configuration file (reading its data); `false` if the
    /// caller must skip it.
    pub(super) fn take(&mut self, entry: &TarEntry, tar: &mut impl Read) -> Result<bool, String> {
        // A `.wh.` name is a whiteout, never a file, even where a sources file could be.
        if whiteout(&entry.path).is_some() {
            return Ok(false);
        }
        let text = is_sources_file(&entry.path) || is_preferences_file(&entry.path);
        if !text && !is_keyring_file(&entry.path) {
            return Ok(false);
        }
        if entry.is_dir() {
            return Ok(false);
        }
        let refuse = |this: &mut Collector, why: String| {
            this.refused.get_or_insert(why);
        };
        if !entry.is_file() && !text {
            // A linked keyring is left out: a source that needs it is refused then.
            return Ok(false);
        }
        if !entry.is_file() {
            // apt would follow a link; this scan reads one layer at a time and cannot.
            refuse(
                self,
                format!(
                    "`/{}` is a link or special file; only regular apt configuration files are read",
                    entry.path
                ),
            );
            return Ok(false);
        }
        let taken = if text {
            self.layer.files.len()
        } else {
            self.layer.keyrings.len()
        };
        if taken == FILES_LIMIT {
            refuse(
                self,
                format!("more than {FILES_LIMIT} apt configuration files of one kind in one layer"),
            );
            return Ok(false);
        }
        if entry.size() > FILE_LIMIT {
            refuse(
                self,
                format!(
                    "`/{}` has {} bytes where at most {FILE_LIMIT} are read",
                    entry.path,
                    entry.size()
                ),
            );
            return Ok(false);
        }
        let data = entry.read(tar, FILE_LIMIT)?;
        if !text {
            self.layer.keyrings.insert(entry.path.clone(), data);
            return Ok(true);
        }
        match String::from_utf8(data) {
            Ok(text) => {
                self.layer.files.insert(entry.path.clone(), text);
            }
            Err(_) => refuse(self, format!("`/{}` is not UTF-8", entry.path)),
        }
        Ok(true)
    }

    /// Note a whiteout (an entry the caller skipped) that may hide collected files.
    pub(super) fn note(&mut self, path: &str) {
        let hidden = match whiteout(path) {
            Some(Whiteout::Opaque(dir)) => Hidden::Below(dir.to_string()),
            Some(Whiteout::Path(target)) => Hidden::Path(target),
            None => return,
        };
        let (Hidden::Path(p) | Hidden::Below(p)) = &hidden;
        if may_hide_collected(p) {
            self.layer.hidden.push(hidden);
        }
    }

    /// The layer's files, or why they cannot be read.
    pub fn finish(self) -> Result<LayerSources, String> {
        match self.refused {
            Some(why) => Err(why),
            None => Ok(self.layer),
        }
    }
}

/// Walk one layer's tar for apt configuration files and the whiteouts that may hide
/// them, skipping all other file data.
pub fn scan_tar(mut tar: impl Read) -> Result<LayerSources, String> {
    let mut collector = Collector::default();
    while let Some(entry) = next_entry(&mut tar)? {
        if !collector.take(&entry, &mut tar)? {
            entry.skip(&mut tar)?;
            collector.note(&entry.path);
        }
    }
    collector.finish()
}

/// What the image sees of one kind of file, given its layers top down: an upper layer's
/// file wins, and a layer's whiteouts hide what the layers below it have.
fn overlay_of<T: Clone>(
    layers_top_down: &[LayerSources],
    files: impl Fn(&LayerSources) -> &BTreeMap<String, T>,
) -> BTreeMap<String, T> {
    let mut seen: BTreeMap<String, T> = BTreeMap::new();
    let mut hidden: Vec<&Hidden> = Vec::new();
    for layer in layers_top_down {
        for (path, data) in files(layer) {
            if !seen.contains_key(path) && !hidden.iter().any(|h| h.hides(path)) {
                seen.insert(path.clone(), data.clone());
            }
        }
        hidden.extend(&layer.hidden);
    }
    seen
}

/// The sources and preferences files the image sees. In apt's reading order
/// (`sources.list` first, then `sources.list.d` by name).
pub fn overlay(layers_top_down: &[LayerSources]) -> BTreeMap<String, String> {
    overlay_of(layers_top_down, |l| &l.files)
}

/// The keyring files the image sees.
pub fn overlay_keyrings(layers_top_down: &[LayerSources]) -> BTreeMap<String, Vec<u8>> {
    overlay_of(layers_top_down, |l| &l.keyrings)
}

/// One `deb` source line or deb822 stanza, as written in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    /// Where it was read: `/etc/apt/sources.list.d/cuda.list:3` or `…/ubuntu.sources`
    /// stanza 2.
    pub origin: String,
    pub uris: Vec<String>,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    /// Keyring paths (inside the image) or fingerprints.
    pub signed_by: Vec<String>,
    pub architectures: Vec<String>,
    pub trusted: bool,
}

/// Options apt reads that change nothing about which archive is used or how it is
/// checked (languages, download details, validity windows).
const HARMLESS_OPTIONS: [&str; 9] = [
    "lang",
    "target",
    "pdiffs",
    "by-hash",
    "check-date",
    "check-valid-until",
    "date-max-future",
    "valid-until-min",
    "valid-until-max",
];

/// The same options as deb822 fields (lowercase); `X-…` fields are extensions apt ignores.
const HARMLESS_FIELDS: [&str; 9] = [
    "languages",
    "targets",
    "pdiffs",
    "by-hash",
    "check-date",
    "check-valid-until",
    "date-max-future",
    "valid-until-min",
    "valid-until-max",
];

/// Parse a one-line-format file (`sources.list`, `*.list`). `deb-src` lines are left out,
/// as they name no binary packages.
pub fn parse_list(path: &str, text: &str) -> Result<Vec<SourceEntry>, String> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let origin = format!("/{path}:{}", number + 1);
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fail = |why: String| format!("`{origin}`: {why}");
        let (kind, rest) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| fail(format!("`{line}` is not a `deb URI SUITE …` line")))?;
        match kind {
            "deb" => {}
            "deb-src" => continue,
            other => return Err(fail(format!("unknown source type `{other}`"))),
        }
        let rest = rest.trim_start();
        let (options, rest) = match rest.strip_prefix('[') {
            Some(inner) => {
                let (options, rest) = inner
                    .split_once(']')
                    .ok_or_else(|| fail("an option list `[` without `]`".into()))?;
                (options, rest)
            }
            None => ("", rest),
        };
        let mut entry = SourceEntry {
            origin: origin.clone(),
            uris: Vec::new(),
            suites: Vec::new(),
            components: Vec::new(),
            signed_by: Vec::new(),
            architectures: Vec::new(),
            trusted: false,
        };
        for option in options.split_whitespace() {
            let (key, value) = option
                .split_once('=')
                .ok_or_else(|| fail(format!("option `{option}` is not `key=value`")))?;
            let values = || value.split(',').map(String::from).collect::<Vec<_>>();
            match key {
                "arch" => entry.architectures = values(),
                "signed-by" => entry.signed_by = values(),
                "trusted" => entry.trusted = yes_no(value).map_err(fail)?,
                key if HARMLESS_OPTIONS.contains(&key) => {}
                key => return Err(fail(format!("option `{key}` is not supported"))),
            }
        }
        let mut words = rest.split_whitespace();
        let uri = words
            .next()
            .ok_or_else(|| fail("no URI after `deb`".into()))?;
        let suite = words
            .next()
            .ok_or_else(|| fail(format!("no suite after `{uri}`")))?;
        entry.uris.push(uri.to_string());
        entry.suites.push(suite.to_string());
        entry.components = words.map(String::from).collect();
        check(&entry).map_err(fail)?;
        entries.push(entry);
    }
    Ok(entries)
}

/// Parse a deb822 `.sources` file. Stanzas with `Enabled: no` and those of type
/// `deb-src` only are left out, as apt leaves them out of a binary install.
pub fn parse_sources(path: &str, text: &str) -> Result<Vec<SourceEntry>, String> {
    let paragraphs = super::control::paragraphs(text).map_err(|err| format!("`/{path}`: {err}"))?;
    let mut entries = Vec::new();
    for (number, paragraph) in paragraphs.iter().enumerate() {
        let origin = format!("/{path} stanza {}", number + 1);
        let fail = |why: String| format!("`{origin}`: {why}");
        let mut entry = SourceEntry {
            origin: origin.clone(),
            uris: Vec::new(),
            suites: Vec::new(),
            components: Vec::new(),
            signed_by: Vec::new(),
            architectures: Vec::new(),
            trusted: false,
        };
        let mut types = Vec::new();
        let mut enabled = true;
        for (name, value) in &paragraph.fields {
            let words = || {
                value
                    .split_whitespace()
                    .map(String::from)
                    .collect::<Vec<_>>()
            };
            match name.to_ascii_lowercase().as_str() {
                "types" => types = words(),
                "uris" => entry.uris = words(),
                "suites" => entry.suites = words(),
                "components" => entry.components = words(),
                "architectures" => entry.architectures = words(),
                "signed-by" => {
                    if value.contains("-----BEGIN PGP") {
                        return Err(fail(
                            "a key written inside `Signed-By` is not read; list this archive \
                             in the spec's `[[apt.archives]]` with a `signed-by` keyring file"
                                .into(),
                        ));
                    }
                    entry.signed_by = value
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|w| !w.is_empty())
                        .map(String::from)
                        .collect();
                }
                "trusted" => entry.trusted = yes_no(value).map_err(fail)?,
                "enabled" => enabled = yes_no(value).map_err(fail)?,
                other if other.starts_with("x-") || HARMLESS_FIELDS.contains(&other) => {}
                _ => return Err(fail(format!("field `{name}` is not supported"))),
            }
        }
        if let Some(bad) = types
            .iter()
            .find(|t| !matches!(t.as_str(), "deb" | "deb-src"))
        {
            return Err(fail(format!("unknown source type `{bad}`")));
        }
        if types.is_empty() {
            return Err(fail("no `Types`".into()));
        }
        if !enabled || !types.iter().any(|t| t == "deb") {
            continue;
        }
        if entry.uris.is_empty() || entry.suites.is_empty() {
            return Err(fail("a stanza needs `URIs` and `Suites`".into()));
        }
        check(&entry).map_err(fail)?;
        entries.push(entry);
    }
    Ok(entries)
}

fn yes_no(value: &str) -> Result<bool, String> {
    match value.trim() {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(format!("`{other}` is not `yes` or `no`")),
    }
}

/// The grammar an image's source must follow before any of it is used: http(s) URIs,
/// plain suite and component names (no `$(ARCH)` substitutions), a flat repository
/// (suite ending in `/`) without components and any other suite with some.
fn check(entry: &SourceEntry) -> Result<(), String> {
    for uri in &entry.uris {
        let rest = uri
            .strip_prefix("https://")
            .or_else(|| uri.strip_prefix("http://"))
            .ok_or_else(|| format!("URI `{uri}` is not http:// or https://"))?;
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
            return Err(format!("URI `{uri}` is not a plain URL"));
        }
    }
    let plain = |word: &str| {
        !word.is_empty()
            && word
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-~/".contains(&b))
    };
    for word in entry
        .suites
        .iter()
        .chain(&entry.components)
        .chain(&entry.architectures)
    {
        if !plain(word) {
            return Err(format!(
                "`{word}` is not a plain suite, component or architecture name"
            ));
        }
    }
    for suite in &entry.suites {
        match (suite.ends_with('/'), entry.components.is_empty()) {
            (true, false) => {
                return Err(format!("flat suite `{suite}` takes no components"));
            }
            (false, true) => return Err(format!("suite `{suite}` names no components")),
            _ => {}
        }
    }
    Ok(())
}

/// Parse every sources file the image sees (from [`overlay`]), in apt's order.
pub fn parse_files(files: &BTreeMap<String, String>) -> Result<Vec<SourceEntry>, String> {
    let mut entries = Vec::new();
    for (path, text) in files {
        if !is_sources_file(path) {
            continue;
        }
        if path.ends_with(".sources") {
            entries.extend(parse_sources(path, text)?);
        } else {
            entries.extend(parse_list(path, text)?);
        }
    }
    Ok(entries)
}

/// Which of the spec's mirror URLs serves one of Ubuntu's canonical archives.
#[derive(Clone, Copy)]
enum MirroredBy {
    Main,
    Ports,
    /// Security updates stay on the official host, as `setup-apt-mirror.sh` leaves them
    /// (and the default archives do).
    Nothing,
}

/// Ubuntu's canonical archives (host and path): which mirror URL serves each and its
/// snapshot service.
const UBUNTU_ARCHIVES: [(&str, MirroredBy, &str); 3] = [
    (
        "archive.ubuntu.com/ubuntu",
        MirroredBy::Main,
        "https://snapshot.ubuntu.com/ubuntu",
    ),
    (
        "security.ubuntu.com/ubuntu",
        MirroredBy::Nothing,
        "https://snapshot.ubuntu.com/ubuntu",
    ),
    (
        "ports.ubuntu.com/ubuntu-ports",
        MirroredBy::Ports,
        "https://snapshot.ubuntu.com/ubuntu-ports",
    ),
];

/// Keyring files the distributions install, and the shipped keyring with the same keys.
const KNOWN_KEYRINGS: [(&str, BuiltinKeyring); 3] = [
    (
        "/usr/share/keyrings/ubuntu-archive-keyring.gpg",
        BuiltinKeyring::UbuntuArchive,
    ),
    (
        "/usr/share/keyrings/debian-archive-keyring.gpg",
        BuiltinKeyring::DebianArchive,
    ),
    (
        "/usr/share/keyrings/debian-archive-keyring.pgp",
        BuiltinKeyring::DebianArchive,
    ),
];

/// How an archive's `signed-by` names a keyring file read from the base image's layers.
pub const IMAGE_KEYRING: &str = "image:";

/// The image's sources as archives, in apt's order. `mirror` is the spec's apt mirror
/// expanded (`mirror_urls::apt`: main archive, ports): it goes in front of each URI that
/// is Ubuntu's canonical main or ports archive, which stays as the fallback (as for the
/// default archives; security updates are not mirrored). Keyrings the distributions
/// install are mapped to the shipped ones; any other must be a file the image carries
/// (`keyrings`, named `image:/path`), else it is an error naming the archive, as is
/// `trusted=yes` (the image's word is not the user's).
pub fn to_archives(
    entries: &[SourceEntry],
    mirror: Option<&(String, String)>,
    keyrings: &BTreeMap<String, Vec<u8>>,
) -> Result<Vec<Archive>, String> {
    entries
        .iter()
        .map(|entry| to_archive(entry, mirror, keyrings))
        .collect()
}

/// `` `URI SUITE` (from `/etc/apt/…`) ``, as messages name an image's archive.
pub fn describe(entry: &SourceEntry) -> String {
    format!(
        "`{} {}` (from `{}`)",
        entry.uris.join(" "),
        entry.suites.join(" "),
        entry.origin
    )
}

fn to_archive(
    entry: &SourceEntry,
    mirror: Option<&(String, String)>,
    keyrings: &BTreeMap<String, Vec<u8>>,
) -> Result<Archive, String> {
    let name = describe(entry);
    if entry.trusted {
        return Err(format!(
            "the base image marks archive {name} `trusted=yes`; modelbench does not take an \
             unsigned archive on the image's word: list it in the spec's `[[apt.archives]]` \
             with `trusted = true` if that is meant"
        ));
    }
    let signed_by = if entry.signed_by.is_empty() {
        // No `signed-by`: apt takes any key it trusts globally (`trusted.gpg`,
        // `trusted.gpg.d`); here, any shipped key and those files of the image (the
        // Release signature is still checked, so nothing is trusted blindly).
        BuiltinKeyring::ALL
            .iter()
            .map(|k| k.reference())
            .chain(
                keyrings
                    .keys()
                    .filter(|path| *path == TRUSTED || name_in(path, TRUSTED_DIR).is_some())
                    .map(|path| format!("{IMAGE_KEYRING}/{path}")),
            )
            .collect()
    } else {
        entry
            .signed_by
            .iter()
            .map(|key| {
                if let Some((_, builtin)) = KNOWN_KEYRINGS.iter().find(|(path, _)| path == key) {
                    return Ok(builtin.reference());
                }
                if keyrings.contains_key(key.trim_start_matches('/')) {
                    return Ok(format!("{IMAGE_KEYRING}{key}"));
                }
                Err(format!(
                    "the base image's archive {name} is signed by `{key}`, a key \
                     modelbench does not ship and the image does not carry as a file: list \
                     this archive in the spec's `[[apt.archives]]` with a `signed-by` keyring \
                     file (it then replaces the image's entry), or set `[apt] base-sources = \
                     false` to ignore the image's sources"
                ))
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut uris = Vec::new();
    let mut snapshot = None;
    for uri in &entry.uris {
        let canonical = uri.trim_end_matches('/');
        let host_path = canonical
            .strip_prefix("http://")
            .or_else(|| canonical.strip_prefix("https://"))
            .unwrap_or(canonical);
        if let Some((_, mirrored_by, snapshot_base)) = UBUNTU_ARCHIVES
            .iter()
            .find(|(archive, _, _)| *archive == host_path)
        {
            let mirrored = match (mirrored_by, mirror) {
                (MirroredBy::Main, Some((main, _))) => Some(main),
                (MirroredBy::Ports, Some((_, ports))) => Some(ports),
                _ => None,
            };
            if let Some(mirrored) = mirrored {
                uris.push(mirrored.trim_end_matches('/').to_string());
            }
            snapshot = Some(Snapshot {
                base: Some(snapshot_base.to_string()),
                timestamp: None,
            });
        }
        uris.push(canonical.to_string());
    }
    uris.dedup();
    Ok(Archive {
        uris,
        suites: entry.suites.clone(),
        components: entry.components.clone(),
        signed_by,
        trusted: false,
        architectures: entry.architectures.clone(),
        snapshot,
        priority: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::base_status::tests::{entry, tar};
    use super::*;

    const CUDA_LIST: &str = "deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] \
        https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2404/x86_64/ /\n";

    const UBUNTU_SOURCES: &str = "\
# Ubuntu sources have moved to /etc/apt/sources.list.d/ubuntu.sources
Types: deb
URIs: http://archive.ubuntu.com/ubuntu/
Suites: noble noble-updates noble-backports
Components: main restricted universe multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg

## security
Types: deb deb-src
URIs: http://security.ubuntu.com/ubuntu/
Suites: noble-security
Components: main restricted
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg

Types: deb
URIs: http://example.invalid/off
Suites: noble
Components: main
Enabled: no
";

    #[test]
    fn parses_one_line_sources_with_options_and_comments() {
        let text = "\
# a comment line
deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/x.gpg lang=en] http://example.org/debian bookworm main contrib # trailing
deb-src http://example.org/debian bookworm main

deb [ trusted=yes ] https://example.org/flat ./
";
        let entries = parse_list("etc/apt/sources.list", text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].origin, "/etc/apt/sources.list:2");
        assert_eq!(entries[0].uris, ["http://example.org/debian"]);
        assert_eq!(entries[0].suites, ["bookworm"]);
        assert_eq!(entries[0].components, ["main", "contrib"]);
        assert_eq!(entries[0].architectures, ["amd64", "arm64"]);
        assert_eq!(entries[0].signed_by, ["/usr/share/keyrings/x.gpg"]);
        assert!(!entries[0].trusted);
        assert_eq!(entries[1].suites, ["./"]);
        assert!(entries[1].components.is_empty());
        assert!(entries[1].trusted);
    }

    #[test]
    fn refuses_one_line_sources_it_cannot_read_naming_the_file() {
        for (text, why) in [
            (
                "deb-foo http://a/ x main\n",
                "unknown source type `deb-foo`",
            ),
            ("deb [arch=amd64 http://a/ x main\n", "without `]`"),
            (
                "deb [inrelease-path=x] http://a/ x main\n",
                "option `inrelease-path`",
            ),
            ("deb file:/srv/repo x main\n", "is not http:// or https://"),
            ("deb http://a/ noble\n", "names no components"),
            ("deb http://a/ ./ main\n", "takes no components"),
            ("deb http://a/ $(ARCH)/ \n", "not a plain suite"),
            (
                "deb [trusted=maybe] http://a/ x main\n",
                "`maybe` is not `yes` or `no`",
            ),
        ] {
            let err = parse_list("etc/apt/sources.list.d/x.list", text).unwrap_err();
            assert!(
                err.starts_with("`/etc/apt/sources.list.d/x.list:1`") && err.contains(why),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn parses_deb822_sources_skipping_disabled_and_source_only() {
        let entries =
            parse_sources("etc/apt/sources.list.d/ubuntu.sources", UBUNTU_SOURCES).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0].origin,
            "/etc/apt/sources.list.d/ubuntu.sources stanza 1"
        );
        assert_eq!(
            entries[0].suites,
            ["noble", "noble-updates", "noble-backports"]
        );
        assert_eq!(
            entries[0].components,
            ["main", "restricted", "universe", "multiverse"]
        );
        assert_eq!(entries[1].uris, ["http://security.ubuntu.com/ubuntu/"]);
        assert_eq!(
            entries[1].signed_by,
            ["/usr/share/keyrings/ubuntu-archive-keyring.gpg"]
        );
    }

    #[test]
    fn refuses_deb822_sources_it_cannot_read_naming_the_file() {
        for (text, why) in [
            (
                "Types: deb\nURIs: http://a/\nSuites: x\nComponents: main\nFoo: 1\n",
                "field `Foo`",
            ),
            (
                "URIs: http://a/\nSuites: x\nComponents: main\n",
                "no `Types`",
            ),
            (
                "Types: deb\nSuites: x\nComponents: main\n",
                "needs `URIs` and `Suites`",
            ),
            (
                "Types: deb\nURIs: http://a/\nSuites: x\nComponents: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n",
                "a key written inside `Signed-By`",
            ),
            ("Types: deb\nnot a field\n", "not a `Field: value` line"),
        ] {
            let err = parse_sources("etc/apt/sources.list.d/x.sources", text).unwrap_err();
            assert!(
                err.starts_with("`/etc/apt/sources.list.d/x.sources") && err.contains(why),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn reads_sources_from_layers_top_down_with_whiteouts() {
        let lower = scan_tar(
            &tar(&[
                entry(
                    "./etc/apt/sources.list",
                    b'0',
                    b"deb http://lower/ a main\n",
                ),
                entry(
                    "./etc/apt/sources.list.d/old.list",
                    b'0',
                    b"deb http://old/ a main\n",
                ),
                entry(
                    "./etc/apt/sources.list.d/kept.list",
                    b'0',
                    b"deb http://k/ a main\n",
                ),
                entry("./etc/apt/sources.list.d/README", b'0', b"not a source"),
                entry("./etc/apt/apt.conf.d/x.list", b'0', b"elsewhere"),
                entry("./usr/bin/.wh.tool", b'0', b""),
            ])[..],
        )
        .unwrap();
        assert_eq!(
            lower.files.keys().collect::<Vec<_>>(),
            [
                "etc/apt/sources.list",
                "etc/apt/sources.list.d/kept.list",
                "etc/apt/sources.list.d/old.list"
            ]
        );
        assert!(lower.hidden.is_empty(), "{:?}", lower.hidden);
        let upper = scan_tar(
            &tar(&[
                entry("etc/apt/sources.list", b'0', b"deb http://upper/ a main\n"),
                entry("etc/apt/sources.list.d/.wh.old.list", b'0', b""),
                entry(
                    "etc/apt/sources.list.d/cuda.list",
                    b'0',
                    CUDA_LIST.as_bytes(),
                ),
            ])[..],
        )
        .unwrap();
        assert_eq!(
            upper.hidden,
            [Hidden::Path("etc/apt/sources.list.d/old.list".into())]
        );
        let seen = overlay(&[upper.clone(), lower.clone()]);
        assert_eq!(
            seen.keys().collect::<Vec<_>>(),
            [
                "etc/apt/sources.list",
                "etc/apt/sources.list.d/cuda.list",
                "etc/apt/sources.list.d/kept.list"
            ]
        );
        assert_eq!(seen["etc/apt/sources.list"], "deb http://upper/ a main\n");
        // An opaque sources.list.d hides everything below it in lower layers, not the
        // layer's own files.
        let opaque = scan_tar(
            &tar(&[
                entry("etc/apt/sources.list.d/.wh..wh..opq", b'0', b""),
                entry("etc/apt/sources.list.d/new.sources", b'0', b"Types: deb\n"),
            ])[..],
        )
        .unwrap();
        let seen = overlay(&[opaque, upper, lower.clone()]);
        assert_eq!(
            seen.keys().collect::<Vec<_>>(),
            ["etc/apt/sources.list", "etc/apt/sources.list.d/new.sources"]
        );
        assert_eq!(seen["etc/apt/sources.list"], "deb http://upper/ a main\n");
        // Deleting /etc/apt hides all of it.
        let gone = scan_tar(&tar(&[entry("etc/.wh.apt", b'0', b"")])[..]).unwrap();
        assert!(overlay(&[gone.clone(), lower.clone()]).is_empty());
        // A symlinked sources file is refused, not skipped.
        let err =
            scan_tar(&tar(&[entry("etc/apt/sources.list.d/a.list", b'2', b"")])[..]).unwrap_err();
        assert!(
            err.contains("`/etc/apt/sources.list.d/a.list` is a link"),
            "{err}"
        );
        // A file too large to be a sources file is refused with its name.
        let big = vec![b'#'; FILE_LIMIT as usize + 1];
        let err = scan_tar(&tar(&[entry("etc/apt/sources.list", b'0', &big)])[..]).unwrap_err();
        assert!(err.contains("`/etc/apt/sources.list`"), "{err}");
    }

    #[test]
    fn turns_sources_into_archives_with_the_mirror_in_front_of_ubuntu() {
        let mut files = BTreeMap::new();
        files.insert(
            "etc/apt/sources.list.d/ubuntu.sources".to_string(),
            UBUNTU_SOURCES.to_string(),
        );
        files.insert(
            "etc/apt/sources.list".to_string(),
            "deb [arch=arm64] http://ports.ubuntu.com/ubuntu-ports noble main\n\
             deb https://example.org/debian bookworm main\n"
                .to_string(),
        );
        let entries = parse_files(&files).unwrap();
        let mirror = crate::spec::mirror_urls::apt("https://mirror.example/ubuntu");
        let archives = to_archives(&entries, Some(&mirror), &BTreeMap::new()).unwrap();
        let uris: Vec<_> = archives.iter().map(|a| a.uris.clone()).collect();
        assert_eq!(
            uris,
            [
                vec![
                    "https://mirror.example/ubuntu-ports",
                    "http://ports.ubuntu.com/ubuntu-ports"
                ],
                vec!["https://example.org/debian"],
                vec![
                    "https://mirror.example/ubuntu",
                    "http://archive.ubuntu.com/ubuntu"
                ],
                vec!["http://security.ubuntu.com/ubuntu"],
            ]
        );
        assert_eq!(archives[0].architectures, ["arm64"]);
        assert_eq!(
            archives[2].signed_by,
            [BuiltinKeyring::UbuntuArchive.reference()]
        );
        // No signed-by: any shipped key (still checked against the Release).
        assert_eq!(archives[1].signed_by.len(), BuiltinKeyring::ALL.len());
        assert_eq!(archives[1].snapshot, None);
        assert!(archives[2].snapshot.is_some());
        // Without a mirror the canonical URI stands alone.
        let plain = to_archives(&entries[2..3], None, &BTreeMap::new()).unwrap();
        assert_eq!(plain[0].uris, ["http://archive.ubuntu.com/ubuntu"]);
    }

    #[test]
    fn refuses_image_archives_signed_by_an_unshipped_key_or_trusted() {
        let cuda = parse_list("etc/apt/sources.list.d/cuda.list", CUDA_LIST).unwrap();
        let err = to_archives(&cuda, None, &BTreeMap::new()).unwrap_err();
        assert!(
            err.contains("developer.download.nvidia.com/compute/cuda/repos/ubuntu2404/x86_64/ /")
                && err.contains("/etc/apt/sources.list.d/cuda.list:1")
                && err.contains("`/usr/share/keyrings/cuda-archive-keyring.gpg`")
                && err.contains("`signed-by`")
                && err.contains("[[apt.archives]]"),
            "{err}"
        );
        let trusted =
            parse_list("etc/apt/sources.list", "deb [trusted=yes] http://a/ ./\n").unwrap();
        let err = to_archives(&trusted, None, &BTreeMap::new()).unwrap_err();
        assert!(
            err.contains("trusted=yes") && err.contains("`trusted = true`"),
            "{err}"
        );
    }
}
