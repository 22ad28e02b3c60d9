//! Debian's real trixie `main` amd64 index, the stand-in for Ubuntu's (Ubuntu's archive
//! is not reachable from the machines this runs on; Debian's is): `InRelease` and
//! `Packages.xz` downloaded once into the bench's cache, the signature checked with the
//! Debian keyring modelbench ships (`gpgv`, when installed; every `lock` checks it again
//! itself), and `Packages.xz` against the SHA-256 the signed Release lists. Served at
//! `/apt/debian` as the archive serves them, by-hash path included.
//!
//! The base image's dpkg status is made from the same index: every `required` and
//! `important` package, installed (a minimal Debian system, as a base image has).

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::server::{Body, Route, Server, etag_of};

const ARCHIVE: &str = "https://deb.debian.org/debian";
const SUITE: &str = "trixie";
const PACKAGES: &str = "main/binary-amd64/Packages.xz";

pub struct Recorded {
    pub in_release: PathBuf,
    pub packages_xz: PathBuf,
    /// The SHA-256 (hex) the Release lists for `main/binary-amd64/Packages.xz`.
    pub packages_sha256: String,
}

/// `curl` `url` to `path` (temp file, then rename), unless it is there already.
pub fn download_once(url: &str, path: &Path, headers: &[&str]) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
    let temp = path.with_extension("part");
    let mut curl = Command::new("curl");
    curl.args(["-fsSL", "--retry", "3", "-o"]).arg(&temp);
    for header in headers {
        curl.args(["-H", header]);
    }
    let status = curl
        .arg(url)
        .status()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    if !status.success() {
        return Err(format!("curl {url} failed ({status})"));
    }
    std::fs::rename(&temp, path).map_err(|e| e.to_string())
}

pub fn record(cache: &Path) -> Recorded {
    let dir = cache.join("debian").join(SUITE);
    let in_release = dir.join("InRelease");
    let packages_xz = dir.join("Packages.xz");
    download_once(
        &format!("{ARCHIVE}/dists/{SUITE}/InRelease"),
        &in_release,
        &[],
    )
    .unwrap_or_else(|e| panic!("recording Debian's InRelease: {e}"));
    let keyring = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/resolve/apt/keys/debian-archive-keyring.pgp");
    match Command::new("gpgv")
        .arg("--keyring")
        .arg(&keyring)
        .arg(&in_release)
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let _ = std::fs::remove_file(&in_release);
            panic!(
                "{} is not signed by {}: {}",
                in_release.display(),
                keyring.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(_) => eprintln!(
            "seed bench: gpgv not installed; InRelease is checked by modelbench's own lock"
        ),
    }
    let release = std::fs::read_to_string(&in_release).unwrap();
    let packages_sha256 = release_sha256(&release, PACKAGES)
        .unwrap_or_else(|| panic!("{} lists no SHA256 for {PACKAGES}", in_release.display()));
    download_once(
        &format!("{ARCHIVE}/dists/{SUITE}/main/binary-amd64/by-hash/SHA256/{packages_sha256}"),
        &packages_xz,
        &[],
    )
    .unwrap_or_else(|e| panic!("recording Debian's Packages.xz: {e}"));
    let actual = hex::encode(Sha256::digest(std::fs::read(&packages_xz).unwrap()));
    if actual != packages_sha256 {
        let _ = std::fs::remove_file(&packages_xz);
        panic!("{PACKAGES}: the Release lists sha256 {packages_sha256}, the download is {actual}");
    }
    Recorded {
        in_release,
        packages_xz,
        packages_sha256,
    }
}

/// The `SHA256:` entry of `file` in a Release.
fn release_sha256(release: &str, file: &str) -> Option<String> {
    let section = release.split("SHA256:").nth(1)?;
    section
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with(' '))
        .find_map(|line| {
            let mut words = line.split_whitespace();
            let (hash, _size, name) = (words.next()?, words.next()?, words.next()?);
            (name == file).then(|| hash.to_string())
        })
}

pub fn serve(server: &Server, recorded: &Recorded) {
    let dist = format!("/apt/debian/dists/{SUITE}");
    let in_release = std::fs::read(&recorded.in_release).unwrap();
    server.route(
        format!("{dist}/InRelease"),
        Route {
            content_type: "text/plain",
            etag: etag_of(&in_release),
            body: Body::Bytes(in_release),
        },
    );
    for path in [
        format!("{dist}/{PACKAGES}"),
        format!(
            "{dist}/main/binary-amd64/by-hash/SHA256/{}",
            recorded.packages_sha256
        ),
    ] {
        server.route(
            path,
            Route {
                content_type: "application/x-xz",
                etag: Some(format!("\"{}\"", &recorded.packages_sha256[..32])),
                body: Body::File(recorded.packages_xz.clone()),
            },
        );
    }
}

/// The `[[apt.archives]]` entry of the bench spec.
pub fn archive_toml(server: &Server) -> String {
    format!(
        "[[apt.archives]]\nuris = [\"{}\"]\nsuites = [\"{SUITE}\"]\ncomponents = [\"main\"]\nsigned-by = [\"builtin:debian-archive-keyring\"]\n",
        server.url("/apt/debian")
    )
}

/// A dpkg status of a consistent minimal system: the index's `required` and
/// `important` packages and libc6, with everything they depend on (the first
/// alternative that exists, a virtual name by its first provider), installed.
pub fn base_status(recorded: &Recorded) -> Vec<u8> {
    let mut text = String::new();
    liblzma::read::XzDecoder::new_multi_decoder(
        std::fs::File::open(&recorded.packages_xz).unwrap(),
    )
    .read_to_string(&mut text)
    .expect("Packages.xz decodes");
    let field = |stanza: &str, name: &str| -> Option<String> {
        stanza
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
            .map(str::to_string)
    };
    let mut stanzas: HashMap<String, &str> = HashMap::new();
    let mut providers: HashMap<String, String> = HashMap::new();
    for stanza in text.split("\n\n") {
        let Some(name) = field(stanza, "Package") else {
            continue;
        };
        for provided in field(stanza, "Provides").unwrap_or_default().split(',') {
            let provided = provided.split_whitespace().next().unwrap_or("").to_string();
            providers.entry(provided).or_insert_with(|| name.clone());
        }
        stanzas.entry(name).or_insert(stanza);
    }
    let mut wanted: Vec<String> = stanzas
        .iter()
        .filter(|(name, stanza)| {
            matches!(
                field(stanza, "Priority").as_deref(),
                Some("required" | "important")
            ) || matches!(name.as_str(), "libc6" | "libgcc-s1" | "libc-bin")
        })
        .map(|(name, _)| name.clone())
        .collect();
    let mut installed: BTreeSet<String> = BTreeSet::new();
    while let Some(name) = wanted.pop() {
        if !installed.insert(name.clone()) {
            continue;
        }
        let stanza = stanzas[&name];
        let depends = [field(stanza, "Pre-Depends"), field(stanza, "Depends")];
        for clause in depends.iter().flatten().flat_map(|d| d.split(',')) {
            let chosen = clause.split('|').find_map(|alternative| {
                let dep = alternative.split_whitespace().next()?;
                let dep = dep.split(':').next()?;
                if stanzas.contains_key(dep) {
                    Some(dep.to_string())
                } else {
                    providers.get(dep).cloned()
                }
            });
            if let Some(dep) = chosen {
                wanted.push(dep);
            }
        }
    }
    let keep = [
        "Package",
        "Architecture",
        "Multi-Arch",
        "Version",
        "Priority",
        "Section",
        "Installed-Size",
        "Maintainer",
        "Source",
        "Provides",
        "Pre-Depends",
        "Depends",
        "Breaks",
        "Conflicts",
        "Replaces",
        "Description",
    ];
    let mut status = String::new();
    for name in &installed {
        for line in stanzas[name].lines() {
            let Some((name, _)) = line.split_once(':') else {
                continue;
            };
            if keep.contains(&name) {
                status.push_str(line);
                status.push('\n');
            }
            if name == "Package" {
                status.push_str("Status: install ok installed\n");
            }
        }
        status.push('\n');
    }
    status.into_bytes()
}
