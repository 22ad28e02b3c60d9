//! conda (pixi-global tools): a fixture conda-forge channel in the loopback world, with
//! realistic repodata (noarch packages, `__glibc` requirements, `constrains`, build
//! numbers, files only as `.conda` or only as `.tar.bz2`, a version that exists on one
//! platform only), resolved by modelbench and checked against py-rattler as the oracle:
//! `tests/oracle/conda_solve.py` solves the same specs against the same channel (skipped
//! with a note when `python3 -c 'import rattler'` fails; `pip install py-rattler`).
//! Also: mirror-first URLs, sha256 from the bytes served, errors that name the tool, the
//! spec and the conflict, and lock → lock byte-identical through the CLI.
//!
//! The channel's files are real conda packages (`.tar.bz2` and `.conda`, with `info/` and
//! a payload: `bin/<tool>` scripts, a noarch python package with an entry point, a python
//! providing its interpreter), so the emitted install script runs for real against
//! `tests/oracle/pixi_rattler.py`: a pixi stand-in whose solver and installer are
//! rattler's, the library pixi is built on (skipped like the oracle without py-rattler).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use modelbench::lock::Artifact;
use modelbench::net::Client;
use modelbench::platform::Platform;
use modelbench::resolve::conda::{self, CondaRequest};
use modelbench::resolve::{Context, Problem};
use modelbench::sources::Sources;
use serde_json::{Value, json};

use crate::support::project::{Project, artifact};
use crate::support::registry::{self, IndexKind};
use crate::support::sources::SourcesFile;
use crate::support::world::{Response, World};
use crate::support::{run_fail, sha256_hex, temp_dir};

const SUBDIRS: [&str; 3] = ["linux-64", "linux-aarch64", "noarch"];
const ORACLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/conda_solve.py");

// ---- the fixture channel ----

/// One published file: its repodata record and the bytes served for it.
struct File {
    subdir: String,
    name: String,
    record: Value,
    bytes: Vec<u8>,
}

#[derive(Default)]
pub(crate) struct Channel {
    files: Vec<File>,
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Conda,
    TarBz2,
    Both,
}

struct Pkg<'a> {
    name: &'a str,
    version: &'a str,
    build: &'a str,
    build_number: u64,
    depends: &'a [&'a str],
    constrains: &'a [&'a str],
    format: Format,
    /// `None`: built per platform subdir; `Some("python"/"generic")`: one noarch file.
    noarch: Option<&'a str>,
}

impl<'a> Pkg<'a> {
    fn new(name: &'a str, version: &'a str, build: &'a str, build_number: u64) -> Pkg<'a> {
        Pkg {
            name,
            version,
            build,
            build_number,
            depends: &[],
            constrains: &[],
            format: Format::Conda,
            noarch: None,
        }
    }
    fn depends(mut self, depends: &'a [&'a str]) -> Self {
        self.depends = depends;
        self
    }
    fn constrains(mut self, constrains: &'a [&'a str]) -> Self {
        self.constrains = constrains;
        self
    }
    fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }
    fn noarch(mut self, kind: &'a str) -> Self {
        self.noarch = Some(kind);
        self
    }
}

/// conda's standard prefix placeholder: the installer rewrites it to the environment's
/// prefix in files whose `paths.json` entry names it.
const PLACEHOLDER: &str = "/opt/anaconda1anaconda2anaconda3";
/// The mtime of every archive member (2026-01-01): archives are a pure function of the
/// package.
const MTIME: u64 = 1_767_225_600;

/// One file of a package: its path (in the prefix, or `site-packages/...` for noarch
/// python), bytes, mode, and whether it carries [`PLACEHOLDER`].
struct Entry {
    path: String,
    bytes: Vec<u8>,
    mode: u32,
    placeholder: bool,
}

impl Entry {
    fn new(path: impl Into<String>, bytes: impl Into<Vec<u8>>, mode: u32) -> Entry {
        Entry {
            path: path.into(),
            bytes: bytes.into(),
            mode,
            placeholder: false,
        }
    }
    fn with_placeholder(mut self) -> Entry {
        self.placeholder = true;
        self
    }
}

/// The fixture's executables: each installs `bin/<name>`, a script printing its name and
/// version (and naming its prefix, through the placeholder the installer rewrites).
const TOOLS: [&str; 6] = ["jq", "gh", "btop", "btop-themes", "helix", "sh.tool"];

impl Pkg<'_> {
    /// What the package installs, and its `info/link.json` (noarch python only).
    fn payload(&self) -> (Vec<Entry>, Option<Value>) {
        let (name, version) = (self.name, self.version);
        if self.noarch == Some("python") {
            // A noarch python package: site-packages files, linked below the python of
            // the environment, and an entry point the installer turns into `bin/<name>`.
            let module = name.replace('-', "_");
            let link = json!({
                "noarch": { "type": "python", "entry_points": [format!("{name} = {module}.cli:main")] },
                "package_metadata_version": 1,
            });
            let files = vec![
                Entry::new(format!("site-packages/{module}/__init__.py"), "", 0o644),
                Entry::new(
                    format!("site-packages/{module}/cli.py"),
                    format!("def main():\n    print(\"{name} {version}\")\n"),
                    0o644,
                ),
            ];
            return (files, Some(link));
        }
        if name == "python" {
            // The interpreter the entry points name: `bin/python<major.minor>` (where
            // rattler's installer expects it), the machine's python3 on this prefix's
            // site-packages.
            let abi: Vec<&str> = version.split('.').take(2).collect();
            let abi = abi.join(".");
            let script = format!(
                "#!/bin/sh\n# modelbench fixture: python {version}\n\
                 PYTHONPATH={PLACEHOLDER}/lib/python{abi}/site-packages exec python3 \"$@\"\n"
            );
            let file = Entry::new(format!("bin/python{abi}"), script, 0o755).with_placeholder();
            return (vec![file], None);
        }
        if TOOLS.contains(&name) {
            let script = format!(
                "#!/bin/sh\n# modelbench fixture, installed in {PLACEHOLDER}\necho \"{name} {version}\"\n"
            );
            let file = Entry::new(format!("bin/{name}"), script, 0o755).with_placeholder();
            return (vec![file], None);
        }
        // Libraries and data: one file each.
        let file = Entry::new(
            format!("share/modelbench-fixture/{name}"),
            format!("{name} {version} {}\n", self.build),
            0o644,
        );
        (vec![file], None)
    }

    /// `info/`: index.json (the record's fields), paths.json, files, link.json.
    fn info(&self, index: &Value, payload: &[Entry], link: Option<&Value>) -> Vec<Entry> {
        let paths: Vec<Value> = payload
            .iter()
            .map(|e| {
                let mut path = json!({
                    "_path": e.path,
                    "path_type": "hardlink",
                    "sha256": sha256_hex(&e.bytes),
                    "size_in_bytes": e.bytes.len(),
                });
                if e.placeholder {
                    path["file_mode"] = json!("text");
                    path["prefix_placeholder"] = json!(PLACEHOLDER);
                }
                path
            })
            .collect();
        let mut files: String = payload.iter().map(|e| format!("{}\n", e.path)).collect();
        if files.is_empty() {
            files.push('\n');
        }
        let json = |value: &Value| serde_json::to_vec_pretty(value).unwrap();
        let mut info = vec![
            Entry::new("info/files", files, 0o644),
            Entry::new("info/index.json", json(index), 0o644),
            Entry::new(
                "info/paths.json",
                json(&json!({ "paths": paths, "paths_version": 1 })),
                0o644,
            ),
        ];
        if let Some(link) = link {
            info.push(Entry::new("info/link.json", json(link), 0o644));
        }
        info
    }
}

/// A tar of `entries` (sorted by path, fixed owner and mtime).
fn tar_of(entries: &[&Entry]) -> Vec<u8> {
    let mut sorted = entries.to_vec();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut builder = tar::Builder::new(Vec::new());
    for entry in sorted {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(entry.bytes.len() as u64);
        header.set_mode(entry.mode);
        header.set_mtime(MTIME);
        header.set_uid(0);
        header.set_gid(0);
        builder
            .append_data(&mut header, &entry.path, entry.bytes.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

/// A package archive: `.tar.bz2` (info/ and the payload in one bzip2'd tar) or `.conda`
/// (a stored zip: metadata.json, pkg-<stem>.tar.zst, info-<stem>.tar.zst).
fn archive(file: &str, info: &[Entry], payload: &[Entry]) -> Vec<u8> {
    use std::io::Write as _;
    if let Some(stem) = file.strip_suffix(".conda") {
        let zst = |entries: Vec<&Entry>| zstd::encode_all(tar_of(&entries).as_slice(), 19).unwrap();
        let members = [
            (
                "metadata.json".to_string(),
                br#"{"conda_pkg_format_version": 2}"#.to_vec(),
            ),
            (format!("pkg-{stem}.tar.zst"), zst(payload.iter().collect())),
            (format!("info-{stem}.tar.zst"), zst(info.iter().collect())),
        ];
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(0o644);
        for (name, bytes) in members {
            zip.start_file(name, options).unwrap();
            zip.write_all(&bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    } else {
        assert!(file.ends_with(".tar.bz2"), "{file}");
        let tar = tar_of(&info.iter().chain(payload).collect::<Vec<_>>());
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
        bz.write_all(&tar).unwrap();
        bz.finish().unwrap()
    }
}

impl Channel {
    /// Publish a package for the given platform subdirs (ignored for noarch packages):
    /// real archives, which rattler's installer can extract and link.
    fn publish(&mut self, pkg: Pkg<'_>, subdirs: &[&str]) {
        let subdirs: Vec<&str> = match pkg.noarch {
            Some(_) => vec!["noarch"],
            None => subdirs.to_vec(),
        };
        let extensions: &[&str] = match pkg.format {
            Format::Conda => &[".conda"],
            Format::TarBz2 => &[".tar.bz2"],
            Format::Both => &[".conda", ".tar.bz2"],
        };
        let (payload, link) = pkg.payload();
        for subdir in subdirs {
            let mut index = json!({
                "build": pkg.build,
                "build_number": pkg.build_number,
                "depends": pkg.depends,
                "license": "MIT",
                "name": pkg.name,
                "subdir": subdir,
                "timestamp": 1_784_923_795_784u64 + pkg.build_number,
                "version": pkg.version,
            });
            if !pkg.constrains.is_empty() {
                index["constrains"] = json!(pkg.constrains);
            }
            if let Some(kind) = pkg.noarch {
                index["noarch"] = json!(kind);
            }
            let info = pkg.info(&index, &payload, link.as_ref());
            for ext in extensions {
                let file = format!("{}-{}-{}{ext}", pkg.name, pkg.version, pkg.build);
                let bytes = archive(&file, &info, &payload);
                let mut record = index.clone();
                record["md5"] = json!(hex::encode(<md5::Md5 as md5::Digest>::digest(&bytes)));
                record["sha256"] = json!(sha256_hex(&bytes));
                record["size"] = json!(bytes.len());
                self.files.push(File {
                    subdir: subdir.to_string(),
                    name: file,
                    record,
                    bytes,
                });
            }
        }
    }

    fn repodata(&self, subdir: &str) -> Value {
        let mut packages = serde_json::Map::new();
        let mut conda = serde_json::Map::new();
        for file in self.files.iter().filter(|f| f.subdir == subdir) {
            let map = if file.name.ends_with(".conda") {
                &mut conda
            } else {
                &mut packages
            };
            map.insert(file.name.clone(), file.record.clone());
        }
        json!({
            "info": { "subdir": subdir },
            "packages": packages,
            "packages.conda": conda,
            "removed": [],
            "repodata_version": 1,
        })
    }

    /// Serve the channel below `prefix` (`/conda/conda-forge`).
    pub(crate) fn serve(&self, world: &World, prefix: &str) {
        for subdir in SUBDIRS {
            world.get(
                &format!("{prefix}/{subdir}/repodata.json"),
                Response::json(self.repodata(subdir)),
            );
        }
        for file in &self.files {
            world.get(
                &format!("{prefix}/{}/{}", file.subdir, file.name),
                Response::bytes(file.bytes.clone()),
            );
        }
    }

    /// The channel as a local directory: the indices and the packages.
    fn write(&self, dir: &Path) {
        for subdir in SUBDIRS {
            std::fs::create_dir_all(dir.join(subdir)).unwrap();
            std::fs::write(
                dir.join(subdir).join("repodata.json"),
                serde_json::to_vec_pretty(&self.repodata(subdir)).unwrap(),
            )
            .unwrap();
        }
        for file in &self.files {
            std::fs::write(dir.join(&file.subdir).join(&file.name), &file.bytes).unwrap();
        }
    }

    fn file(&self, subdir: &str, name: &str) -> &File {
        self.files
            .iter()
            .find(|f| f.subdir == subdir && f.name == name)
            .unwrap_or_else(|| panic!("no fixture file {subdir}/{name}"))
    }
}

/// A small conda-forge: the seed's tools and what they need, shaped like the real thing.
pub(crate) fn fixture_channel() -> Channel {
    let both = ["linux-64", "linux-aarch64"];
    let mut c = Channel::default();
    // libgcc: build-number ordering (20 over 19), both formats (the .conda wins), a
    // virtual package requirement and a `constrains` that keeps libgomp at the same build.
    for (build, number) in [("h767d61c_19", 19), ("h767d61c_20", 20)] {
        let constrains: &[&str] = if number == 20 {
            &["libgomp 15.2.0 h767d61c_20"]
        } else {
            &["libgomp 15.2.0 h767d61c_19"]
        };
        c.publish(
            Pkg::new("libgcc", "15.2.0", build, number)
                .depends(&["__glibc >=2.17,<3.0.a0", "_openmp_mutex >=4.5"])
                .constrains(constrains)
                .format(Format::Both),
            &both,
        );
        c.publish(
            Pkg::new("libgomp", "15.2.0", build, number).depends(&["__glibc >=2.17,<3.0.a0"]),
            &both,
        );
    }
    // A newer libgomp that libgcc's `constrains` must keep out.
    c.publish(
        Pkg::new("libgomp", "16.1.0", "h69a702a_0", 0).depends(&["__glibc >=2.17,<3.0.a0"]),
        &both,
    );
    c.publish(
        Pkg::new("_openmp_mutex", "4.5", "2_gnu", 16)
            .depends(&["libgomp >=7.5.0"])
            .format(Format::TarBz2),
        &both,
    );
    // oniguruma: only as .tar.bz2.
    c.publish(
        Pkg::new("oniguruma", "6.9.10", "hb9d3cd8_0", 0)
            .depends(&["__glibc >=2.17,<3.0.a0", "libgcc >=13"])
            .format(Format::TarBz2),
        &both,
    );
    // jq: 1.8.0 needs a newer glibc than Ubuntu 24.04's 2.39, so 1.7.1 it is.
    c.publish(
        Pkg::new("jq", "1.7.1", "hd590300_0", 0).depends(&[
            "__glibc >=2.17,<3.0.a0",
            "libgcc >=13",
            "oniguruma >=6.9.9,<6.10.0a0",
        ]),
        &both,
    );
    c.publish(
        Pkg::new("jq", "1.8.0", "h2a0b1c4_0", 0).depends(&[
            "__glibc >=2.40,<3.0.a0",
            "libgcc >=14",
            "oniguruma >=6.9.10,<6.10.0a0",
        ]),
        &both,
    );
    // python: 3.13 is newest, but pyyaml is only built for 3.12, so yq gets 3.12.
    for (version, abi) in [("3.12.7", "3.12"), ("3.13.1", "3.13")] {
        let cp = abi.replace('.', "");
        let constrains = format!("python_abi {abi}.* *_cp{cp}");
        let depends = ["__glibc >=2.17,<3.0.a0", "libgcc >=13", "tzdata"];
        c.publish(
            Pkg::new("python", version, "hc5c86c4_0_cpython", 0)
                .depends(&depends)
                .constrains(&[constrains.as_str()]),
            &both,
        );
        let build = format!("8_cp{cp}");
        c.publish(Pkg::new("python_abi", abi, &build, 8), &both);
    }
    c.publish(
        Pkg::new("pyyaml", "6.0.2", "py312h66e93f0_2", 2)
            .depends(&[
                "__glibc >=2.17,<3.0.a0",
                "libgcc >=13",
                "python >=3.12,<3.13.0a0",
                "python_abi 3.12.* *_cp312",
            ])
            .format(Format::Conda),
        &both,
    );
    // noarch: yq (python) and tzdata (generic, only as .conda).
    c.publish(
        Pkg::new("yq", "3.4.3", "pyhd8ed1ab_1", 1)
            .depends(&["jq", "python >=3.9", "pyyaml >=5.3.1"])
            .noarch("python"),
        &[],
    );
    c.publish(
        Pkg::new("yq", "3.4.2", "pyhd8ed1ab_0", 0)
            .depends(&["jq", "python >=3.9", "pyyaml >=5.3.1"])
            .noarch("python"),
        &[],
    );
    c.publish(
        Pkg::new("tzdata", "2025b", "h78e105d_0", 0).noarch("generic"),
        &[],
    );
    // gh: 2.63.0 only on linux-64; linux-aarch64 stops at 2.62.0.
    c.publish(Pkg::new("gh", "2.62.0", "h76a2195_0", 0), &both);
    c.publish(Pkg::new("gh", "2.63.0", "h76a2195_0", 0), &["linux-64"]);
    // btop: needs libgomp, which libgcc's constrains pins to the same build, and
    // btop-themes, a package whose name starts with the tool's and that has its own
    // executable (not btop's to expose).
    c.publish(
        Pkg::new("btop", "1.4.5", "hecca717_0", 0).depends(&[
            "__glibc >=2.17,<3.0.a0",
            "btop-themes",
            "libgcc >=14",
            "libgomp",
        ]),
        &both,
    );
    c.publish(
        Pkg::new("btop-themes", "1.0", "h0", 0).noarch("generic"),
        &[],
    );
    // A name with a dot: a valid conda package and pixi environment name, not a bare
    // TOML key.
    c.publish(Pkg::new("sh.tool", "1.0", "h0", 0).noarch("generic"), &[]);
    // helix: needs a libgcc nobody publishes.
    c.publish(
        Pkg::new("helix", "25.07.1", "h3ab2ad4_0", 0)
            .depends(&["__glibc >=2.17,<3.0.a0", "libgcc >=99"]),
        &both,
    );
    c
}

// ---- running the resolver ----

pub(crate) struct Fixture {
    pub(crate) world: World,
    channel: Channel,
    ctx: Context,
    _dir: tempfile::TempDir,
}

pub(crate) fn fixture() -> Fixture {
    let world = World::start();
    let channel = fixture_channel();
    channel.serve(&world, "/conda/conda-forge");
    channel.serve(&world, "/mirror/conda-forge");
    let dir = temp_dir();
    let sources = SourcesFile::new()
        .conda(&world)
        .write_to(&dir.path().join("sources.toml"));
    let sources = Sources::load(&sources).unwrap();
    let ctx = Context::with_client(
        Client::new(false, sources.insecure_hosts()),
        sources,
        vec![Platform::LinuxAmd64, Platform::LinuxArm64],
    );
    Fixture {
        world,
        channel,
        ctx,
        _dir: dir,
    }
}

fn request(spec: &str, mirror: Option<String>) -> CondaRequest {
    CondaRequest {
        spec: spec.into(),
        channel: "conda-forge".into(),
        mirror,
        glibc: Some(conda::UBUNTU_NOBLE_GLIBC.into()),
        status: None,
        dir: std::path::PathBuf::new(),
        linux: conda::DEFAULT_LINUX.into(),
    }
}

fn resolve(fixture: &Fixture, spec: &str, mirror: Option<String>) -> Result<Artifact, Problem> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(conda::resolve(&fixture.ctx, spec, &request(spec, mirror)))
        .and_then(|wire| Artifact::try_from(wire).map_err(|e| Problem::msg(e.to_string())))
}

/// `subdir/file` of every member for a platform, sorted.
fn files(artifact: &Artifact, platform: &str) -> Vec<String> {
    let mut out: Vec<String> = artifact
        .packages
        .iter()
        .filter(|p| p.platform == platform)
        .map(|p| format!("{}/{}", p.subdir.as_deref().unwrap(), p.file))
        .collect();
    out.sort();
    out
}

fn member<'a>(artifact: &'a Artifact, platform: &str, name: &str) -> &'a modelbench::lock::Package {
    artifact
        .packages
        .iter()
        .find(|p| p.platform == platform && p.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no {name} for {platform} in {:?}",
                files(artifact, platform)
            )
        })
}

#[test]
fn conda_closure_prefers_newest_within_glibc_constrains_and_build_numbers() {
    let f = fixture();
    // The fixture's archives are a pure function of its packages.
    let again = fixture_channel();
    assert_eq!(again.files.len(), f.channel.files.len());
    for (a, b) in again.files.iter().zip(&f.channel.files) {
        assert!(
            a.bytes == b.bytes,
            "{}/{} differs between runs",
            a.subdir,
            a.name
        );
    }
    let jq = resolve(&f, "jq", None).unwrap();
    assert_eq!(jq.version, "1.7.1", "jq 1.8.0 needs glibc 2.40");
    assert_eq!(
        files(&jq, "linux/amd64"),
        [
            "linux-64/_openmp_mutex-4.5-2_gnu.tar.bz2",
            "linux-64/jq-1.7.1-hd590300_0.conda",
            "linux-64/libgcc-15.2.0-h767d61c_20.conda",
            "linux-64/libgomp-15.2.0-h767d61c_20.conda",
            "linux-64/oniguruma-6.9.10-hb9d3cd8_0.tar.bz2",
        ]
    );
    assert_eq!(
        files(&jq, "linux/arm64"),
        [
            "linux-aarch64/_openmp_mutex-4.5-2_gnu.tar.bz2",
            "linux-aarch64/jq-1.7.1-hd590300_0.conda",
            "linux-aarch64/libgcc-15.2.0-h767d61c_20.conda",
            "linux-aarch64/libgomp-15.2.0-h767d61c_20.conda",
            "linux-aarch64/oniguruma-6.9.10-hb9d3cd8_0.tar.bz2",
        ]
    );
    let top = member(&jq, "linux/amd64", "jq");
    assert!(top.requested);
    assert_eq!(top.build.as_deref(), Some("hd590300_0"));
    let libgcc = member(&jq, "linux/amd64", "libgcc");
    assert!(!libgcc.requested);
    assert_eq!(libgcc.required_by, ["jq", "oniguruma"]);
    // Hashes and sizes are those of the bytes the channel serves; the mirror URL is
    // tried after the canonical one when the spec names no mirror.
    let served = f
        .channel
        .file("linux-64", "libgcc-15.2.0-h767d61c_20.conda");
    assert_eq!(
        libgcc.hash.to_string(),
        format!("sha256:{}", sha256_hex(&served.bytes))
    );
    assert_eq!(libgcc.size, Some(served.bytes.len() as u64));
    assert_eq!(
        libgcc.urls,
        [f.world
            .url("/conda/conda-forge/linux-64/libgcc-15.2.0-h767d61c_20.conda")]
    );

    // btop needs libgomp: the newest (16.1.0) is kept out by libgcc's constrains.
    let btop = resolve(&f, "btop", None).unwrap();
    let gomp = member(&btop, "linux/amd64", "libgomp");
    assert_eq!(
        (gomp.version.as_str(), gomp.build.as_deref()),
        ("15.2.0", Some("h767d61c_20"))
    );
    assert_eq!(gomp.required_by, ["_openmp_mutex", "btop"]);
    // Alone, libgomp has nothing holding it back.
    let libgomp = resolve(&f, "libgomp", None).unwrap();
    assert_eq!(libgomp.version, "16.1.0");

    // yq is noarch python; pyyaml exists only for 3.12, so python is 3.12, not 3.13.
    let yq = resolve(&f, "yq", None).unwrap();
    assert_eq!(yq.version, "3.4.3");
    let top = member(&yq, "linux/arm64", "yq");
    assert_eq!(top.subdir.as_deref(), Some("noarch"));
    assert_eq!(member(&yq, "linux/arm64", "python").version, "3.12.7");
    assert_eq!(
        member(&yq, "linux/arm64", "python_abi").build.as_deref(),
        Some("8_cp312")
    );
    assert_eq!(
        member(&yq, "linux/arm64", "tzdata").file,
        "tzdata-2025b-h78e105d_0.conda"
    );
    assert_eq!(member(&yq, "linux/amd64", "jq").version, "1.7.1");

    // gh: a version that exists on one platform only.
    let gh = resolve(&f, "gh", None).unwrap();
    assert_eq!(gh.version, "2.63.0 (linux/amd64), 2.62.0 (linux/arm64)");
}

#[test]
fn conda_glibc_comes_from_the_base_dpkg_status() {
    let f = fixture();
    let dir = temp_dir();
    let with_status = |text: &str| {
        std::fs::write(dir.path().join("status"), text).unwrap();
        let mut request = request("jq", None);
        request.glibc = None;
        request.status = Some(
            modelbench::resolve::apt::StatusSource::from_file(
                dir.path().join("status").to_str().unwrap(),
            )
            .unwrap(),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(conda::resolve(&f.ctx, "jq", &request))
    };
    let libc = |version: &str| {
        format!("Package: libc6\nStatus: install ok installed\nVersion: {version}\n\n")
    };
    // Ubuntu 24.04's glibc: jq 1.8.0 (needs 2.40) is out of reach.
    assert_eq!(
        with_status(&libc("2.39-0ubuntu8.4")).unwrap().version,
        "1.7.1"
    );
    // A base with glibc 2.40 gets it.
    assert_eq!(
        with_status(&libc("2.40-1ubuntu1")).unwrap().version,
        "1.8.0"
    );
    // No glibc at all (no libc6): what needs __glibc cannot be installed, and the error
    // says why.
    let err = with_status("").unwrap_err().to_string();
    assert!(err.contains("no glibc on the base"), "{err}");
    assert!(err.contains("__glibc"), "{err}");
}

#[test]
fn conda_glibc_is_read_from_the_base_image_layers() {
    let mut f = fixture();
    f.ctx.platforms = vec![Platform::LinuxAmd64];
    let Some(registry) = registry::shared() else {
        return;
    };
    let repo = format!("conda-test/glibc-{}", f.world.addr().port());
    registry.push_image_with_file(
        &repo,
        Some("noble"),
        IndexKind::DockerList,
        "linux/amd64",
        "var/lib/dpkg/status",
        b"Package: libc6\nStatus: install ok installed\nVersion: 2.40-1ubuntu1\n\n",
    );
    let image = registry.reference(&repo, "noble");
    let path = SourcesFile::new()
        .conda(&f.world)
        .registry(registry.host())
        .write_to(&f._dir.path().join("sources-registry.toml"));
    f.ctx.sources = Sources::load(&path).unwrap();
    f.ctx.client = Client::new(false, f.ctx.sources.insecure_hosts());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let resolved = |tool: &str| {
        let mut request = request(tool, None);
        request.glibc = None;
        request.status = Some(modelbench::resolve::apt::StatusSource::BaseImage {
            image: image.clone(),
            mirror: None,
        });
        runtime.block_on(conda::resolve(&f.ctx, tool, &request))
    };
    // The base says glibc 2.40: jq 1.8.0 it is (Ubuntu 24.04's 2.39 would give 1.7.1).
    assert_eq!(resolved("jq").unwrap().version, "1.8.0");
    assert_eq!(resolved("btop").unwrap().version, "1.4.5");
}

#[test]
fn conda_mirror_first_then_canonical_and_repodata_fallback() {
    let f = fixture();
    let mirror = f.world.url("/mirror/conda-forge");
    let jq = resolve(&f, "jq >=1.7", Some(mirror.clone())).unwrap();
    let top = member(&jq, "linux/amd64", "jq");
    assert_eq!(
        top.urls,
        [
            format!("{mirror}/linux-64/jq-1.7.1-hd590300_0.conda"),
            f.world
                .url("/conda/conda-forge/linux-64/jq-1.7.1-hd590300_0.conda"),
        ]
    );
    assert_eq!(
        f.world.hits("/mirror/conda-forge/linux-64/repodata.json"),
        1
    );
    assert_eq!(f.world.hits("/conda/conda-forge/linux-64/repodata.json"), 0);
    // Each index is fetched once per run, not once per platform or per tool.
    assert_eq!(f.world.hits("/mirror/conda-forge/noarch/repodata.json"), 1);
    resolve(&f, "yq", Some(mirror.clone())).unwrap();
    assert_eq!(f.world.hits("/mirror/conda-forge/noarch/repodata.json"), 1);
    assert_eq!(
        f.world
            .hits("/mirror/conda-forge/linux-aarch64/repodata.json"),
        1
    );

    // An index sent gzip-encoded (as conda-forge's CDN does when asked) reads the same.
    let gz = f.world.url("/gz/conda-forge");
    for subdir in SUBDIRS {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(
            &mut encoder,
            &serde_json::to_vec(&f.channel.repodata(subdir)).unwrap(),
        )
        .unwrap();
        f.world.get(
            &format!("/gz/conda-forge/{subdir}/repodata.json"),
            Response::bytes(encoder.finish().unwrap()).header("Content-Encoding", "gzip"),
        );
    }
    let zipped = resolve(&f, "jq", Some(gz)).unwrap();
    assert_eq!(files(&zipped, "linux/amd64"), files(&jq, "linux/amd64"));
    let log = f.world.request_log();
    let asked = log
        .iter()
        .find(|r| r.path == "/gz/conda-forge/linux-64/repodata.json")
        .expect("the gzip index was fetched");
    assert_eq!(asked.header("accept-encoding"), Some("gzip"));

    // A mirror without the index: the canonical channel answers.
    let broken = f.world.url("/nowhere/conda-forge");
    let again = resolve(&f, "jq", Some(broken)).unwrap();
    assert_eq!(files(&again, "linux/amd64"), files(&jq, "linux/amd64"));
}

#[test]
fn conda_errors_name_the_spec_and_the_conflict() {
    let f = fixture();
    let err = resolve(&f, "helix", None).unwrap_err().to_string();
    assert!(err.contains("`helix`"), "{err}");
    assert!(err.contains("linux/amd64"), "{err}");
    assert!(err.contains("libgcc >=99"), "the conflict: {err}");

    let err = resolve(&f, "jq >=2", None).unwrap_err().to_string();
    assert!(err.contains("`jq >=2`"), "{err}");
    assert!(err.contains("jq >=2"), "{err}");

    let err = resolve(&f, "no-such-tool", None).unwrap_err().to_string();
    assert!(err.contains("no-such-tool"), "{err}");

    let err = resolve(&f, "jq >=>1", None).unwrap_err().to_string();
    assert!(err.contains("not a conda match spec"), "{err}");
}

// ---- the oracle ----

pub(crate) fn oracle_available() -> bool {
    crate::support::tools::require(&[&crate::support::tools::PY_RATTLER])
}

/// py-rattler's answer per spec: the files, or an error.
fn oracle(channel: &Path, platform: Platform, specs: &[&str]) -> BTreeMap<String, Value> {
    let output = Command::new("python3")
        .arg(ORACLE)
        .arg(channel)
        .arg(conda::subdir(platform))
        .arg(conda::UBUNTU_NOBLE_GLIBC)
        .arg(conda::DEFAULT_LINUX)
        .arg(platform.machine())
        .args(specs)
        .output()
        .expect("run the oracle");
    assert!(
        output.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("oracle JSON")
}

#[test]
fn conda_oracle_py_rattler_solves_the_same_environments() {
    if !oracle_available() {
        return;
    }
    let f = fixture();
    let dir = temp_dir();
    f.channel.write(dir.path());
    let specs = [
        "jq",
        "yq",
        "btop",
        "gh",
        "libgomp",
        "python",
        "python <3.13",
        "yq <3.4.3",
        "jq >=1.8",
        "helix",
    ];
    let mut compared = 0;
    let mut failures = Vec::new();
    for platform in [Platform::LinuxAmd64, Platform::LinuxArm64] {
        let answers = oracle(dir.path(), platform, &specs);
        for spec in specs {
            let answer = &answers[spec];
            let ours = resolve(&f, spec, None);
            compared += 1;
            match (answer.get("files"), ours) {
                (Some(theirs), Ok(artifact)) => {
                    let theirs: BTreeSet<String> = theirs
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string())
                        .collect();
                    let ours: BTreeSet<String> =
                        files(&artifact, platform.as_str()).into_iter().collect();
                    if theirs != ours {
                        failures.push(format!(
                            "{spec} on {platform}: py-rattler {theirs:?}, modelbench {ours:?}"
                        ));
                    }
                }
                (None, Err(_)) => {}
                (_, ours) => failures.push(format!(
                    "{spec} on {platform}: py-rattler {answer}, modelbench {:?}",
                    ours.map(|a| files(&a, platform.as_str()))
                )),
            }
        }
    }
    eprintln!("conda oracle: {compared} (spec, platform) cases compared with py-rattler");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- through the CLI ----

pub(crate) fn cli_project(world: &World, pixi_global: &str) -> Project {
    let registry = registry::shared_required();
    let base = registry.push_base(&format!("conda-test/base-{}", world.addr().port()));
    let project = Project::new();
    project.spec(&format!(
        r#"[image]
name = "mb-conda"
tag = "t1"
platforms = ["linux/amd64", "linux/arm64"]

[base]
image = "{base}"

[mirrors]
conda = "{mirror}"

[apt]
status = "dpkg-status"

[[users]]
name = "peid"
uid = 3100
gid = 1100

[stage-2]
tools.pixi = {{ version = "0.63.2", user = "peid" }}
pixi-global = {pixi_global}
"#,
        mirror = world.url("/mirror/conda-forge"),
    ));
    // The image's glibc comes from the base's dpkg status (here a file, as `[apt] status`
    // allows; by default the base image's own).
    project.write(
        "specs/dpkg-status",
        "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.39-0ubuntu8.4\n\n",
    );
    project
        .sources_file()
        .conda(world)
        .github_api(world)
        .registry(registry.host())
        .write();
    project
}

/// pixi's GitHub release (the spec's `tools.pixi`) on `world`; its assets are stand-ins.
pub(crate) fn serve_pixi(world: &World) {
    let pixi = crate::support::world::FixtureRelease::new("v0.63.2", "2026-10-01T00:00:00Z")
        .asset(
            "pixi-x86_64-unknown-linux-musl.tar.gz",
            b"pixi amd64".to_vec(),
        )
        .asset(
            "pixi-aarch64-unknown-linux-musl.tar.gz",
            b"pixi arm64".to_vec(),
        );
    world.github_release_fixture("prefix-dev", "pixi", &[pixi]);
}

#[test]
fn conda_lock_twice_is_byte_identical() {
    let f = fixture();
    serve_pixi(&f.world);
    let project = cli_project(&f.world, r#"["jq", "yq >=3"]"#);
    project.lock_ok(&[]);
    let first = project.lock_bytes();
    let lock = project.lock_toml();
    let yq = artifact(&lock, "conda", "yq");
    assert_eq!(yq["requested"].as_str(), Some("yq >=3"));
    assert_eq!(yq["version"].as_str(), Some("3.4.3"));
    let text = String::from_utf8(first.clone()).unwrap();
    assert!(text.contains("build = \"pyhd8ed1ab_1\""), "{text}");
    assert!(text.contains("subdir = \"noarch\""), "{text}");

    // `why` follows a member to the spec line that asked for its environment.
    let why = project.run(&["why", "pyyaml", "specs/test.toml"]);
    assert!(why.success(), "{}", why.combined());
    why.assert_stdout_contains("in conda `yq`");
    why.assert_stdout_contains("pixi-global = \"yq >=3\"");
    let sbom = project.run(&[
        "sbom",
        "specs/test.toml",
        "--format",
        "cyclonedx",
        "--out",
        "sbom.json",
    ]);
    assert!(sbom.success(), "{}", sbom.combined());
    assert!(
        project
            .read("sbom.json")
            .contains("pkg:conda/oniguruma@6.9.10?build=hb9d3cd8_0&subdir=linux-64&type=tar.bz2"),
        "{}",
        project.read("sbom.json")
    );
    // Each conda member carries the licence its record declares (an SPDX expression).
    crate::ux::validate(&project, "cyclonedx", "sbom.json");
    let cdx: Value = serde_json::from_str(&project.read("sbom.json")).unwrap();
    let onig = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "oniguruma")
        .unwrap();
    assert_eq!(onig["licenses"], json!([{ "expression": "MIT" }]), "{onig}");
    let spdx = project.run(&[
        "sbom",
        "specs/test.toml",
        "--format",
        "spdx",
        "--out",
        "sbom.spdx.json",
    ]);
    assert!(spdx.success(), "{}", spdx.combined());
    crate::ux::validate(&project, "spdx", "sbom.spdx.json");
    let spdx: Value = serde_json::from_str(&project.read("sbom.spdx.json")).unwrap();
    let onig = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "oniguruma")
        .unwrap();
    assert_eq!(onig["licenseDeclared"], "MIT", "{onig}");

    std::fs::remove_file(project.lock_path()).unwrap();
    project.lock_ok(&[]);
    assert_eq!(
        project.lock_bytes(),
        first,
        "a second lock must be byte-identical"
    );
    project.lock_ok(&["--update"]);
    assert_eq!(project.lock_bytes(), first, "re-resolving changes nothing");

    // A new libgcc build upstream: jq stays 1.7.1, its environment moves, and the
    // report says so instead of calling it a republish.
    let mut channel = fixture_channel();
    channel.publish(
        Pkg::new("libgcc", "15.2.0", "h767d61c_21", 21)
            .depends(&["__glibc >=2.17,<3.0.a0", "_openmp_mutex >=4.5"])
            .constrains(&["libgomp 15.2.0"]),
        &["linux-64"],
    );
    for prefix in ["/mirror", "/conda"] {
        f.world.replace_body(
            &format!("{prefix}/conda-forge/linux-64/repodata.json"),
            serde_json::to_vec(&channel.repodata("linux-64")).unwrap(),
        );
    }
    let output = project.lock_ok(&["--update"]);
    assert!(
        output
            .combined()
            .contains("Updating conda jq 1.7.1 (closure members changed)"),
        "{}",
        output.combined()
    );
    let lock = lock_of(&project);
    let libgcc = member(lock.find("conda", "jq").unwrap(), "linux/amd64", "libgcc");
    assert_eq!(libgcc.build.as_deref(), Some("h767d61c_21"));
}

/// Serve every subdir's repodata of `channel` under both prefixes with `etag`.
fn serve_repodata_with_etag(world: &World, channel: &Channel, etag: &str) {
    for prefix in ["/mirror", "/conda"] {
        for subdir in SUBDIRS {
            world.get(
                &format!("{prefix}/conda-forge/{subdir}/repodata.json"),
                Response::json(channel.repodata(subdir)).header("ETag", format!("\"{etag}\"")),
            );
        }
    }
}

/// Body bytes the world sent for repodata since its log was last cleared.
fn repodata_bytes_sent(world: &World) -> usize {
    world
        .request_log()
        .iter()
        .filter(|r| r.path.ends_with("/repodata.json"))
        .map(|r| r.sent)
        .sum()
}

/// Issue 20: repodata is cached with its `ETag` and revalidated, so a warm
/// `lock --update` with nothing changed upstream transfers under 1% of a cold lock's
/// repodata bytes; a changed index (new `ETag`) is downloaded again and used, and a
/// damaged cache entry is ignored, not trusted.
#[test]
fn conda_warm_lock_revalidates_repodata_by_etag() {
    let f = fixture();
    serve_pixi(&f.world);
    serve_repodata_with_etag(&f.world, &f.channel, "v1");
    let project = cli_project(&f.world, r#"["jq"]"#);
    f.world.clear_log();
    project.lock_ok(&[]);
    let cold = repodata_bytes_sent(&f.world);
    let first = project.lock_bytes();
    assert!(cold > 0, "the cold lock downloads repodata");

    f.world.clear_log();
    project.lock_ok(&["--update"]);
    let warm = repodata_bytes_sent(&f.world);
    f.world
        .assert_revalidated(|path| path.ends_with("/repodata.json"), "\"v1\"");
    eprintln!("body bytes sent: cold {cold}, warm {warm}");
    assert!(warm * 100 <= cold, "warm {warm} bytes vs cold {cold}");
    assert_eq!(
        project.lock_bytes(),
        first,
        "the cached indices give the same lock"
    );

    // A new libgcc build upstream, under a new ETag: fetched again and used.
    let mut channel = fixture_channel();
    channel.publish(
        Pkg::new("libgcc", "15.2.0", "h767d61c_21", 21)
            .depends(&["__glibc >=2.17,<3.0.a0", "_openmp_mutex >=4.5"])
            .constrains(&["libgomp 15.2.0"]),
        &["linux-64"],
    );
    serve_repodata_with_etag(&f.world, &channel, "v2");
    f.world.clear_log();
    project.lock_ok(&["--update"]);
    assert!(
        repodata_bytes_sent(&f.world) > 0,
        "changed indices are downloaded"
    );
    let lock = lock_of(&project);
    let libgcc = member(lock.find("conda", "jq").unwrap(), "linux/amd64", "libgcc");
    assert_eq!(libgcc.build.as_deref(), Some("h767d61c_21"));
    let second = project.lock_bytes();

    // Damaged cache entries are not used: the next lock downloads the indices in full
    // and locks the same thing.
    let conda_cache = project.cache_dir().join("conda");
    let mut damaged = 0;
    for entry in std::fs::read_dir(&conda_cache).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "body") {
            std::fs::write(&path, b"{\"packages\":{}}").unwrap();
            damaged += 1;
        }
    }
    assert!(
        damaged > 0,
        "repodata is cached in {}",
        conda_cache.display()
    );
    f.world.clear_log();
    project.lock_ok(&["--update"]);
    assert!(
        repodata_bytes_sent(&f.world) * 2 > cold,
        "damaged entries are downloaded again"
    );
    assert_eq!(project.lock_bytes(), second);
}

/// `channel`'s repodata of `subdir` as zstd, as conda-forge serves `repodata.json.zst`.
fn repodata_zst(channel: &Channel, subdir: &str) -> Vec<u8> {
    let json = serde_json::to_vec(&channel.repodata(subdir)).unwrap();
    zstd::bulk::compress(&json, 19).unwrap()
}

/// (path, status) of every logged request whose path starts with `prefix`, in order.
fn asked_under(world: &World, prefix: &str) -> Vec<(String, u16)> {
    world
        .request_log()
        .into_iter()
        .filter(|r| r.path.starts_with(prefix) && r.path.contains("/repodata.json"))
        .map(|r| (r.path, r.status))
        .collect()
}

/// Issue 20: `repodata.json.zst` is asked first, as conda and rattler ask, and
/// `repodata.json` only on its `404`: a channel serving only `.zst`, one serving both
/// (the `.zst` is used, the JSON never asked) and one serving only JSON lock the same
/// environments.
#[test]
fn conda_repodata_zst_first_and_json_on_404() {
    let f = fixture();
    for subdir in SUBDIRS {
        let zst = repodata_zst(&f.channel, subdir);
        f.world.get(
            &format!("/zst/conda-forge/{subdir}/repodata.json.zst"),
            Response::bytes(zst.clone()),
        );
        f.world.get(
            &format!("/both/conda-forge/{subdir}/repodata.json.zst"),
            Response::bytes(zst),
        );
        f.world.get(
            &format!("/both/conda-forge/{subdir}/repodata.json"),
            Response::json(f.channel.repodata(subdir)),
        );
    }

    // Only JSON (the fixture's mirror): each subdir's `.zst` answers 404, then the JSON.
    let json_only = resolve(&f, "jq", Some(f.world.url("/mirror/conda-forge"))).unwrap();
    for subdir in SUBDIRS {
        let base = format!("/mirror/conda-forge/{subdir}/repodata.json");
        assert_eq!(
            asked_under(&f.world, &format!("/mirror/conda-forge/{subdir}/")),
            [(format!("{base}.zst"), 404), (base, 200)]
        );
    }

    for prefix in ["/zst", "/both"] {
        f.world.clear_log();
        let mirror = f.world.url(&format!("{prefix}/conda-forge"));
        let locked = resolve(&f, "jq", Some(mirror)).unwrap();
        for platform in ["linux/amd64", "linux/arm64"] {
            assert_eq!(
                files(&locked, platform),
                files(&json_only, platform),
                "{prefix}"
            );
        }
        let mut asked = asked_under(&f.world, prefix);
        asked.sort();
        let expected: Vec<(String, u16)> = SUBDIRS
            .iter()
            .map(|s| (format!("{prefix}/conda-forge/{s}/repodata.json.zst"), 200))
            .collect();
        assert_eq!(asked, expected, "only the .zst is asked under {prefix}");
        assert!(
            asked_under(&f.world, "/conda/").is_empty(),
            "the canonical channel is not needed"
        );
    }
}

/// A fresh run's context against `f`'s world whose cache is `cache`.
fn context_with_cache(f: &Fixture, cache: &Path) -> Context {
    let sources = SourcesFile::new()
        .conda(&f.world)
        .write_to(&cache.join("sources.toml"));
    let sources = Sources::load(&sources).unwrap();
    let mut ctx = Context::with_client(
        Client::new(false, sources.insecure_hosts()),
        sources,
        vec![Platform::LinuxAmd64],
    );
    ctx.cache = Some(cache.join("cache"));
    ctx
}

/// Issue 20: a `repodata.json.zst` is cached decoded with its `ETag` and revalidated like
/// the JSON: a second run sends `If-None-Match`, gets `304` and locks the same from the
/// cache; a stream cut short is refused, naming its URL, not read as an index.
#[test]
fn conda_repodata_zst_is_cached_and_revalidated() {
    let f = fixture();
    for subdir in SUBDIRS {
        f.world.get(
            &format!("/zst/conda-forge/{subdir}/repodata.json.zst"),
            Response::bytes(repodata_zst(&f.channel, subdir)).header("ETag", "\"z1\""),
        );
    }
    let dir = temp_dir();
    let run = || {
        let ctx = context_with_cache(&f, dir.path());
        let mirror = f.world.url("/zst/conda-forge");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(conda::resolve(&ctx, "jq", &request("jq", Some(mirror))))
            .map(|wire| Artifact::try_from(wire).unwrap())
    };
    f.world.clear_log();
    let cold = run().unwrap();
    let cold_bytes: usize = f.world.request_log().iter().map(|r| r.sent).sum();
    assert!(cold_bytes > 0);
    f.world.clear_log();
    let warm = run().unwrap();
    f.world
        .assert_revalidated(|path| path.ends_with("/repodata.json.zst"), "\"z1\"");
    assert_eq!(f.world.hits("/zst/conda-forge/linux-64/repodata.json"), 0);
    assert_eq!(files(&warm, "linux/amd64"), files(&cold, "linux/amd64"));

    // A new index whose stream is cut in half: refused with its URL, not cached.
    let zst = repodata_zst(&f.channel, "linux-64");
    f.world.get(
        "/zst/conda-forge/linux-64/repodata.json.zst",
        Response::bytes(zst[..zst.len() / 2].to_vec()).header("ETag", "\"z2\""),
    );
    let err = run().unwrap_err().to_string();
    let url = f.world.url("/zst/conda-forge/linux-64/repodata.json.zst");
    assert!(
        err.contains(&format!("{url} is not valid zstd data"))
            && err.contains("ends inside a frame"),
        "{err}"
    );
}

/// Issue 16: a 3 MB gzip bomb as a mirror's repodata once drove a lock to 4 GB of memory.
/// It is refused once it inflates past 64 times its size, naming the URL and the limit.
#[test]
fn conda_lock_refuses_a_gzip_bomb_for_repodata() {
    let f = fixture();
    serve_pixi(&f.world);
    // 3 MiB of gzip: one member inflating to 10 MiB of zeros, repeated (gzip allows
    // members back to back); about 3 GiB once inflated.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut encoder, &vec![0u8; 10 << 20]).unwrap();
    let member = encoder.finish().unwrap();
    let bomb: Vec<u8> = member.repeat((3 << 20) / member.len());
    assert!(
        bomb.len() > 2 << 20 && bomb.len() <= 3 << 20,
        "{}",
        bomb.len()
    );
    f.world.get(
        "/mirror/conda-forge/linux-64/repodata.json",
        Response::bytes(bomb.clone()).header("Content-Encoding", "gzip"),
    );
    let project = cli_project(&f.world, r#"["jq"]"#);
    let output = run_fail(&mut project.lock_command(&[]));
    let err = output.combined();
    let url = f.world.url("/mirror/conda-forge/linux-64/repodata.json");
    assert!(
        err.contains(&format!(
            "{url} inflates to more than {} bytes ({} bytes of gzip); refused as a decompression bomb",
            bomb.len() * 64,
            bomb.len()
        )),
        "{err}"
    );
    assert!(err.contains("cannot resolve conda `jq`"), "{err}");
    assert!(!project.lock_path().exists(), "no lock on failure");
}

#[test]
fn conda_lock_failure_names_tool_spec_and_conflict() {
    let f = fixture();
    serve_pixi(&f.world);
    let project = cli_project(&f.world, r#"["jq", "helix"]"#);
    let output = run_fail(&mut project.lock_command(&[]));
    let err = output.combined();
    assert!(
        err.contains("cannot resolve conda `helix` (helix)"),
        "{err}"
    );
    assert!(err.contains("libgcc >=99"), "{err}");
    assert!(!project.lock_path().exists(), "no lock on failure");
}

// ---- emit: the manifest, the local channel, the check ----

pub(crate) fn locked_and_emitted(f: &Fixture, tools: &str) -> Project {
    serve_pixi(&f.world);
    let project = cli_project(&f.world, tools);
    project.lock_ok(&[]);
    let output = project.emit(&[]);
    if !output.success() {
        output.print("modelbench emit");
        panic!("emit failed");
    }
    project
}

fn lock_of(project: &Project) -> modelbench::lock::Lock {
    modelbench::lock::Lock::parse(
        &project.lock_path(),
        &String::from_utf8(project.lock_bytes()).unwrap(),
    )
    .unwrap()
}

#[test]
fn conda_emit_pins_every_member_and_fills_a_local_channel_from_the_lock() {
    let f = fixture();
    let project = locked_and_emitted(&f, r#"["jq", "yq"]"#);
    let lock = lock_of(&project);
    let out = project.out_dir();
    let stage = out.join("installation/stage-2");
    let read = |path: &str| std::fs::read_to_string(stage.join(path)).unwrap();

    for (platform, slug, subdir) in [
        ("linux/amd64", "linux-amd64", "linux-64"),
        ("linux/arm64", "linux-arm64", "linux-aarch64"),
    ] {
        let manifest: toml::Table =
            toml::from_str(&read(&format!("conda/{slug}/pixi-global.toml"))).unwrap();
        assert_eq!(manifest["version"].as_integer(), Some(1));
        let envs = manifest["envs"].as_table().unwrap();
        assert_eq!(envs.keys().collect::<Vec<_>>(), ["jq", "yq"]);
        for (env, table) in envs {
            assert_eq!(
                table["channels"].as_array().unwrap()[0].as_str(),
                Some("file:///modelbench/conda-channel")
            );
            assert_eq!(table["platform"].as_str(), Some(subdir));
            let dependencies = table["dependencies"].as_table().unwrap();
            let artifact = lock.find("conda", env).unwrap();
            let members: Vec<_> = artifact
                .packages
                .iter()
                .filter(|p| p.platform == platform)
                .collect();
            assert_eq!(dependencies.len(), members.len(), "{env} {platform}");
            for member in members {
                let pin = dependencies[member.name.as_str()].as_table().unwrap();
                assert_eq!(
                    pin["version"].as_str().unwrap(),
                    format!("=={}", member.version)
                );
                assert_eq!(pin["build"].as_str(), member.build.as_deref());
                assert_eq!(pin["sha256"].as_str().unwrap(), member.hash.hex());
            }
        }

        // The channel index lists exactly the locked files of the platform, with the
        // locked hashes; noarch python stays noarch python.
        let mut listed = BTreeMap::new();
        for dir in [subdir, "noarch"] {
            let index: Value =
                serde_json::from_str(&read(&format!("conda/{slug}/channel/{dir}/repodata.json")))
                    .unwrap();
            for key in ["packages", "packages.conda"] {
                for (file, record) in index[key].as_object().unwrap() {
                    listed.insert(format!("{dir}/{file}"), record.clone());
                }
            }
        }
        let locked: BTreeSet<String> = ["jq", "yq"]
            .iter()
            .flat_map(|env| files(lock.find("conda", env).unwrap(), platform))
            .collect();
        assert_eq!(listed.keys().cloned().collect::<BTreeSet<_>>(), locked);
        let yq = &listed["noarch/yq-3.4.3-pyhd8ed1ab_1.conda"];
        assert_eq!(yq["noarch"], "python");
        assert_eq!(
            yq["sha256"].as_str().unwrap(),
            sha256_hex(
                &f.channel
                    .file("noarch", "yq-3.4.3-pyhd8ed1ab_1.conda")
                    .bytes
            )
        );
        // Every record is the channel's own, as published (depends with their versions
        // and virtual packages, constrains, build number, license, md5, timestamp), so
        // the installed conda-meta records are what an install from conda-forge writes.
        for (path, record) in &listed {
            let (dir, file) = path.split_once('/').unwrap();
            assert_eq!(record, &f.channel.file(dir, file).record, "{path}");
        }
        assert_eq!(
            yq["depends"],
            json!(["jq", "python >=3.9", "pyyaml >=5.3.1"])
        );
    }

    // Each locked file is fetched once per platform (libgcc is in both environments),
    // mirror first.
    let artifacts = read("artifacts.tsv");
    let libgcc: Vec<&str> = artifacts
        .lines()
        .filter(|l| l.starts_with("conda:linux-64/libgcc-15.2.0-h767d61c_20.conda\t"))
        .collect();
    assert_eq!(libgcc.len(), 1, "{artifacts}");
    let columns: Vec<&str> = libgcc[0].split('\t').collect();
    assert_eq!(columns[1], "linux/amd64");
    assert_eq!(
        columns[2],
        format!(
            "sha256:{}",
            sha256_hex(
                &f.channel
                    .file("linux-64", "libgcc-15.2.0-h767d61c_20.conda")
                    .bytes
            )
        )
    );
    assert_eq!(
        &columns[4..],
        [
            f.world
                .url("/mirror/conda-forge/linux-64/libgcc-15.2.0-h767d61c_20.conda"),
            f.world
                .url("/conda/conda-forge/linux-64/libgcc-15.2.0-h767d61c_20.conda"),
        ]
    );

    // The Dockerfile installs them after pixi, as pixi's user; the self-check re-checks.
    let dockerfile = std::fs::read_to_string(out.join("stage-2.Dockerfile")).unwrap();
    let pixi = dockerfile
        .find("install-tool.sh")
        .expect("pixi is installed");
    let globals = dockerfile
        .find("RUN sh /modelbench/installation/install-pixi-global.sh /modelbench/installation/stage-2 peid")
        .unwrap_or_else(|| panic!("{dockerfile}"));
    assert!(pixi < globals, "{dockerfile}");
    assert!(read("self-check.sh").contains(
        "check_conda_envs peid /modelbench/installation/stage-2/conda/packages.tsv /modelbench/installation/check-conda-envs.sh\n\
         check_conda_exposed peid /modelbench/installation/stage-2/conda/exposed.tsv\n"
    ));

    // Emit is deterministic.
    let first = read("conda/linux-amd64/channel/linux-64/repodata.json");
    let manifest = read("conda/linux-amd64/pixi-global.toml");
    project.emit_ok(&[]);
    assert_eq!(
        read("conda/linux-amd64/channel/linux-64/repodata.json"),
        first
    );
    assert_eq!(read("conda/linux-amd64/pixi-global.toml"), manifest);
}

#[test]
fn conda_emit_from_a_lock_without_record_facts_names_dependencies_by_member() {
    // A lock written before `[artifact.package.conda]` existed (its checksums made for
    // that content): the index still lists every locked file, with each member's
    // dependencies by name and build number 0, so the pins still install.
    let f = fixture();
    let project = locked_and_emitted(&f, r#"["yq"]"#);
    let lock = lock_of(&project);
    let mut artifacts = lock.artifacts.clone();
    for package in artifacts.iter_mut().flat_map(|a| a.packages.iter_mut()) {
        package.conda = None;
    }
    let older = modelbench::lock::Lock::new(lock.spec_hash.clone(), artifacts);
    std::fs::write(project.lock_path(), older.to_bytes()).unwrap();
    project.emit_ok(&[]);
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(
            project
                .out_dir()
                .join("installation/stage-2/conda/linux-amd64/channel/noarch/repodata.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let yq = &index["packages.conda"]["yq-3.4.3-pyhd8ed1ab_1.conda"];
    assert_eq!(yq["build_number"], 0);
    let mut depends: Vec<&str> = yq["depends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    depends.sort();
    assert_eq!(depends, ["jq", "python", "pyyaml"]);
    assert!(yq.get("license").is_none(), "{yq}");
}

#[test]
fn conda_oracle_the_generated_channel_solves_to_the_locked_set() {
    // What pixi will see at build time: only the local channel. py-rattler solving each
    // tool against it (with the target's virtual packages) must give the locked set.
    if !oracle_available() {
        return;
    }
    let f = fixture();
    let project = locked_and_emitted(&f, r#"["jq", "yq", "btop", "gh"]"#);
    let lock = lock_of(&project);
    let conda = project.out_dir().join("installation/stage-2/conda");
    let mut compared = 0;
    for platform in [Platform::LinuxAmd64, Platform::LinuxArm64] {
        let channel = conda
            .join(platform.as_str().replace('/', "-"))
            .join("channel");
        let answers = oracle(&channel, platform, &["jq", "yq", "btop", "gh"]);
        for env in ["jq", "yq", "btop", "gh"] {
            let theirs: BTreeSet<String> = answers[env]["files"]
                .as_array()
                .unwrap_or_else(|| panic!("{env}: {}", answers[env]))
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            let ours: BTreeSet<String> = files(lock.find("conda", env).unwrap(), platform.as_str())
                .into_iter()
                .collect();
            assert_eq!(theirs, ours, "{env} on {platform}");
            compared += 1;
        }
    }
    eprintln!("conda oracle: {compared} environments solved from the generated channel");
}

/// A conda-meta record as rattler writes it (pretty JSON, per-file hashes nested below).
fn record_json(name: &str, version: &str, build: &str, sha256: &str, pretty: bool) -> String {
    let record = json!({
        "build": build,
        "build_number": 0,
        "depends": [],
        "files": [format!("bin/{name}"), "share/doc/x"],
        "name": name,
        "paths_data": { "paths": [
            { "_path": format!("bin/{name}"), "path_type": "hardlink", "sha256": "0".repeat(64), "size_in_bytes": 1 }
        ], "paths_version": 1 },
        "requested_spec": "name with \"quotes\" and {braces}",
        "sha256": sha256,
        "subdir": "linux-64",
        "version": version,
    });
    if pretty {
        serde_json::to_string_pretty(&record).unwrap()
    } else {
        record.to_string()
    }
}

#[test]
fn conda_check_script_compares_installed_records_with_the_lock() {
    let f = fixture();
    let project = locked_and_emitted(&f, r#"["jq", "gh"]"#);
    let out = project.out_dir();
    let tsv = out.join("installation/stage-2/conda/packages.tsv");
    let script = out.join("installation/common/check-conda-envs.sh");
    let envs = temp_dir();
    let table = std::fs::read_to_string(&tsv).unwrap();
    let mut records = Vec::new();
    for (i, line) in table.lines().filter(|l| !l.starts_with('#')).enumerate() {
        let c: Vec<&str> = line.split('\t').collect();
        if c[0] != "linux/amd64" {
            continue;
        }
        let path = envs
            .path()
            .join(c[1])
            .join("conda-meta")
            .join(format!("{}-{}-{}.json", c[2], c[3], c[4]));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // Both layouts a writer may use.
        std::fs::write(&path, record_json(c[2], c[3], c[4], c[5], i % 2 == 0)).unwrap();
        records.push((path, c[5].to_string()));
    }
    assert!(records.len() >= 6, "{table}");
    let check = || {
        let mut cmd = Command::new("sh");
        cmd.arg(&script)
            .arg(&tsv)
            .arg(envs.path())
            .arg("linux/amd64");
        crate::support::run(&mut cmd)
    };
    let ok = check();
    assert!(ok.success(), "{}", ok.combined());
    ok.assert_stdout_contains("match the lock");

    // A record whose sha256 differs from the lock fails the build, naming the package.
    let (path, sha) = &records[0];
    let good = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, good.replace(sha.as_str(), &"f".repeat(64))).unwrap();
    let tampered = check();
    assert!(!tampered.success(), "a tampered record must fail");
    let name = path.file_name().unwrap().to_string_lossy();
    let package = name.split('-').next().unwrap();
    tampered.assert_stderr_contains(package);
    std::fs::write(path, &good).unwrap();
    assert!(check().success());

    // A package nobody locked, in a locked environment.
    let extra = path.with_file_name("evil-1.0-h0.json");
    std::fs::write(
        &extra,
        record_json("evil", "1.0", "h0", &"a".repeat(64), true),
    )
    .unwrap();
    let output = check();
    assert!(!output.success());
    output.assert_stderr_contains("evil");
    std::fs::remove_file(&extra).unwrap();

    // A locked package that is not installed.
    std::fs::remove_file(path).unwrap();
    let output = check();
    assert!(!output.success());
    output.assert_stderr_contains(package);
}

/// The stand-in for pixi (no pixi binary can be obtained here): rattler's solver and
/// installer behind the two pixi commands install-pixi-global.sh runs.
pub(crate) const PIXI_RATTLER: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/pixi_rattler.py");

/// This machine's platform: the environments are installed for it (pixi detects the
/// virtual packages of the machine it runs on).
fn host_platform() -> Platform {
    match std::env::consts::ARCH {
        "aarch64" => Platform::LinuxArm64,
        _ => Platform::LinuxAmd64,
    }
}

/// A run of the emitted `install-pixi-global.sh`: `installation/` laid out as the
/// Dockerfile copies it, and a home whose `~/.pixi/bin/pixi` is [`PIXI_RATTLER`].
struct Installed {
    sandbox: tempfile::TempDir,
    output: crate::support::Output,
}

impl Installed {
    fn path(&self, path: &str) -> std::path::PathBuf {
        self.sandbox.path().join(path)
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.path(path))
            .unwrap_or_else(|e| panic!("{path}: {e}\n{}", self.output.combined()))
    }

    /// `check-conda-envs.sh` over the installed environments, as the self-check runs it.
    fn check(&self) -> crate::support::Output {
        let mut cmd = Command::new("sh");
        cmd.arg(self.path("installation/check-conda-envs.sh"))
            .arg(self.path("installation/stage-2/conda/packages.tsv"))
            .arg(self.path("home/.pixi/envs"))
            .arg(host_platform().as_str());
        crate::support::run(&mut cmd)
    }

    /// The stand-in pixi, as the user runs it.
    fn pixi(&self, args: &[&str]) -> crate::support::Output {
        let mut cmd = Command::new(self.path("home/.pixi/bin/pixi"));
        cmd.args(args).env("HOME", self.path("home"));
        crate::support::run(&mut cmd)
    }
}

fn install_globals(project: &Project) -> Installed {
    let sandbox = temp_dir();
    let root = sandbox.path();
    let emitted = project.out_dir().join("installation");
    let copy = |from: &Path, to: &Path| {
        assert!(
            Command::new("cp")
                .arg("-R")
                .arg(format!("{}/.", from.display()))
                .arg(to)
                .status()
                .unwrap()
                .success()
        );
    };
    std::fs::create_dir_all(root.join("installation/stage-2")).unwrap();
    copy(&emitted.join("common"), &root.join("installation"));
    copy(&emitted.join("stage-2"), &root.join("installation/stage-2"));
    let bin = root.join("home/.pixi/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(PIXI_RATTLER, bin.join("pixi")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("pixi"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg(root.join("installation/install-pixi-global.sh"))
        .arg(root.join("installation/stage-2"))
        .arg(user.trim())
        .env("TARGETPLATFORM", host_platform().as_str())
        .env("MODELBENCH_USER_HOME", root.join("home"))
        .env("MODELBENCH_CONDA_CHANNEL", root.join("channel"));
    let output = crate::support::run(&mut cmd);
    Installed { sandbox, output }
}

#[test]
fn conda_tool_with_a_dot_in_its_name_is_one_environment() {
    // `[envs.sh.tool]` would be a table `tool` inside an environment `sh`.
    let f = fixture();
    let project = locked_and_emitted(&f, r#"["jq", "sh.tool"]"#);
    let manifest: toml::Table = toml::from_str(
        &std::fs::read_to_string(
            project
                .out_dir()
                .join("installation/stage-2/conda/linux-amd64/pixi-global.toml"),
        )
        .unwrap(),
    )
    .unwrap();
    let envs = manifest["envs"].as_table().unwrap();
    assert_eq!(envs.keys().collect::<Vec<_>>(), ["jq", "sh.tool"]);
    assert!(envs["sh.tool"]["dependencies"].get("sh.tool").is_some());
    if !oracle_available() {
        return;
    }
    let run = install_globals(&project);
    assert!(run.output.success(), "{}", run.output.combined());
    run.output
        .assert_stdout_contains("2 environment(s) installed for");
    assert_eq!(
        run.read("installation/stage-2/conda/exposed.tsv"),
        "jq\tjq\nsh.tool\tsh.tool\n"
    );
    let output = crate::support::run(&mut Command::new(run.path("home/.pixi/bin/sh.tool")));
    assert_eq!(output.stdout, "sh.tool 1.0\n", "{}", output.combined());
}

#[test]
fn conda_install_script_installs_the_locked_files_with_rattler_and_exposes_the_tools() {
    if !oracle_available() {
        return;
    }
    let f = fixture();
    let project = locked_and_emitted(&f, r#"["jq", "yq", "gh", "btop"]"#);
    let lock = lock_of(&project);
    let platform = host_platform();
    let run = install_globals(&project);
    assert!(run.output.success(), "{}", run.output.combined());
    // check-conda-envs.sh passed on the records rattler's installer wrote.
    assert!(
        run.output.stdout.contains("match the lock"),
        "{}",
        run.output.combined()
    );
    // Each requested package's executables, not those of a dependency whose name starts
    // with the tool's (btop-themes' bin/btop-themes in btop's environment).
    assert_eq!(
        run.read("installation/stage-2/conda/exposed.tsv"),
        "btop\tbtop\ngh\tgh\njq\tjq\nyq\tyq\n"
    );
    assert!(run.path("home/.pixi/envs/btop/bin/btop-themes").exists());
    assert!(!run.path("home/.pixi/bin/btop-themes").exists());

    // The exposed tools run: jq and gh are the packages' own bin/ scripts; yq is the
    // entry point the installer generated from info/link.json, run by the environment's
    // python with the environment's site-packages.
    let version = |env: &str| {
        lock.find("conda", env)
            .unwrap()
            .packages
            .iter()
            .find(|p| p.name == env && p.platform == platform.as_str())
            .unwrap()
            .version
            .clone()
    };
    for tool in ["jq", "gh", "yq", "btop"] {
        let mut cmd = Command::new(run.path(&format!("home/.pixi/bin/{tool}")));
        let output = crate::support::run(&mut cmd);
        assert!(output.success(), "{tool}: {}", output.combined());
        assert_eq!(output.stdout, format!("{tool} {}\n", version(tool)));
    }
    assert_eq!(version("jq"), "1.7.1");

    // What the installer did with the archives: the placeholder in jq's script names
    // the environment now; every environment has the locked records (jq's come from a
    // .conda-only jq and a .tar.bz2-only oniguruma) and pixi's marker.
    let envs = run.path("home/.pixi/envs");
    let script = std::fs::read_to_string(envs.join("jq/bin/jq")).unwrap();
    assert!(
        script.contains(&format!("installed in {}", envs.join("jq").display())),
        "{script}"
    );
    assert!(!script.contains("anaconda1anaconda2"), "{script}");
    let record = |env: &str, name: &str| -> Value {
        let meta = envs.join(env).join("conda-meta");
        let path = std::fs::read_dir(&meta)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let file = p.file_name().unwrap().to_string_lossy();
                file.ends_with(".json")
                    && file.strip_prefix(name).is_some_and(|rest| {
                        rest.starts_with('-') && !rest[1..].starts_with(|c: char| c.is_alphabetic())
                    })
            })
            .unwrap_or_else(|| panic!("no record of {name} in {}", meta.display()));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    for env in ["jq", "yq", "gh", "btop"] {
        let meta = envs.join(env).join("conda-meta");
        assert!(meta.join("pixi").is_file(), "pixi's marker in {env}");
        let records = std::fs::read_dir(&meta)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "json")
            })
            .count();
        let locked = files(lock.find("conda", env).unwrap(), platform.as_str()).len();
        assert_eq!(records, locked, "{env}");
    }
    assert!(
        record("jq", "jq")["fn"]
            .as_str()
            .unwrap()
            .ends_with(".conda")
    );
    assert!(
        record("jq", "oniguruma")["fn"]
            .as_str()
            .unwrap()
            .ends_with(".tar.bz2")
    );
    // yq's record lists the entry point among its files (that is how the install script
    // finds it to expose), and its site-packages below the environment's python 3.12.
    let yq = record("yq", "yq");
    let yq_files: Vec<&str> = yq["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(yq_files.contains(&"bin/yq"), "{yq}");
    assert!(
        yq_files.contains(&"lib/python3.12/site-packages/yq/cli.py"),
        "{yq}"
    );
    let entry_point = yq["paths_data"]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["_path"] == "bin/yq")
        .unwrap();
    assert_eq!(entry_point["path_type"], "unix_python_entry_point");
    // Every installed record carries the channel's own record (from the lock's
    // `[artifact.package.conda]`): depends with versions and virtual packages, build
    // number, license, md5, timestamp, as an install from conda-forge writes them.
    let subdir = conda::subdir(platform);
    for (env, name, dir) in [
        ("jq", "jq", subdir),
        ("jq", "oniguruma", subdir),
        ("yq", "yq", "noarch"),
        ("yq", "python", subdir),
    ] {
        let installed = record(env, name);
        let file = installed["fn"].as_str().unwrap();
        let published = &f.channel.file(dir, file).record;
        for key in [
            "build_number",
            "depends",
            "license",
            "md5",
            "sha256",
            "timestamp",
        ] {
            assert!(!published[key].is_null(), "{env}/{name}: {key}");
            assert_eq!(installed[key], published[key], "{env}/{name}: {key}");
        }
    }

    // The manifest records what was exposed (pixi does), then names conda-forge; the
    // local channel is gone; every file came through the mirror.
    let manifest = run.read("home/.pixi/manifests/pixi-global.toml");
    let parsed: toml::Table = toml::from_str(&manifest).unwrap();
    for env in ["jq", "yq", "gh", "btop"] {
        assert_eq!(
            parsed["envs"][env]["exposed"][env].as_str(),
            Some(env),
            "{manifest}"
        );
    }
    assert!(
        manifest.contains("channels = [\"conda-forge\"]"),
        "{manifest}"
    );
    assert!(!manifest.contains("file://"), "{manifest}");
    assert!(
        !run.path("channel").exists(),
        "the local channel is removed"
    );
    assert_eq!(
        f.world.hits(&format!(
            "/mirror/conda-forge/{subdir}/jq-1.7.1-hd590300_0.conda"
        )),
        1
    );
    assert_eq!(
        f.world.hits(&format!(
            "/conda/conda-forge/{subdir}/jq-1.7.1-hd590300_0.conda"
        )),
        0
    );

    // The stand-in is no pixi: anything else is refused.
    let other = run.pixi(&["global", "install", "jq"]);
    assert_eq!(other.status, Some(2), "{}", other.combined());
}

#[test]
fn conda_check_script_fails_on_rattler_environments_changed_after_the_install() {
    if !oracle_available() {
        return;
    }
    let f = fixture();
    let project = locked_and_emitted(&f, r#"["jq", "gh"]"#);
    let run = install_globals(&project);
    assert!(run.output.success(), "{}", run.output.combined());
    let ok = run.check();
    assert!(ok.success(), "{}", ok.combined());

    // A record edited after the install: another version than the one locked.
    let path = run.path("home/.pixi/envs/jq/conda-meta/oniguruma-6.9.10-hb9d3cd8_0.json");
    let good = std::fs::read_to_string(&path).unwrap();
    let edited = good.replace("\"version\": \"6.9.10\"", "\"version\": \"6.9.11\"");
    assert_ne!(
        edited, good,
        "rattler writes `\"version\": \"...\"`: {good}"
    );
    std::fs::write(&path, edited).unwrap();
    let output = run.check();
    assert!(!output.success(), "{}", output.combined());
    output.assert_stderr_contains("jq\toniguruma\t6.9.11\thb9d3cd8_0");
    std::fs::write(&path, &good).unwrap();
    assert!(run.check().success());

    // One more package installed into jq's environment by rattler: what `pixi global
    // add --environment jq gh` does, here a sync of a manifest that asks for it.
    let channel = temp_dir();
    f.channel.write(channel.path());
    let manifest_path = run.path("home/.pixi/manifests/pixi-global.toml");
    let mut manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    for (name, env) in manifest["envs"].as_table_mut().unwrap().iter_mut() {
        let env = env.as_table_mut().unwrap();
        env["channels"] =
            toml::Value::Array(vec![format!("file://{}", channel.path().display()).into()]);
        if name == "jq" {
            env["dependencies"]
                .as_table_mut()
                .unwrap()
                .insert("gh".into(), "*".into());
        }
    }
    std::fs::write(&manifest_path, toml::to_string(&manifest).unwrap()).unwrap();
    let sync = run.pixi(&["global", "sync"]);
    assert!(sync.success(), "{}", sync.combined());
    assert!(run.path("home/.pixi/envs/jq/bin/gh").exists());
    let output = run.check();
    assert!(!output.success(), "{}", output.combined());
    let extra = output
        .stderr
        .split("installed but not locked:")
        .nth(1)
        .unwrap_or_else(|| panic!("{}", output.stderr));
    assert!(extra.contains("  jq\tgh\t"), "{}", output.stderr);
}

#[test]
fn conda_install_script_refuses_bytes_that_differ_from_the_lock() {
    let f = fixture();
    let project = locked_and_emitted(&f, r#"["jq"]"#);
    let subdir = conda::subdir(host_platform());
    for prefix in ["/mirror", "/conda"] {
        f.world.replace_body(
            &format!("{prefix}/conda-forge/{subdir}/oniguruma-6.9.10-hb9d3cd8_0.tar.bz2"),
            b"not the locked bytes".to_vec(),
        );
    }
    let run = install_globals(&project);
    assert!(!run.output.success(), "{}", run.output.combined());
    assert!(
        run.output.stderr.contains("sha256 mismatch")
            || run.output.stderr.contains("size mismatch"),
        "{}",
        run.output.stderr
    );
    run.output.assert_stderr_contains("oniguruma");
    assert!(
        !run.path("home/.pixi/envs").exists() && !run.path("home/.pixi/manifests").exists(),
        "pixi never ran"
    );
}

#[test]
fn conda_emitted_steps_and_scripts_pass_the_linters() {
    let Some((hadolint, shellcheck)) = crate::lint::linters() else {
        return;
    };
    let f = fixture();
    let project = locked_and_emitted(&f, r#"["jq", "yq"]"#);
    let out = project.out_dir();
    let mut findings = Vec::new();
    for dockerfile in ["stage-2.Dockerfile", "merged.Dockerfile"] {
        let mut cmd = Command::new(&hadolint);
        cmd.arg("--no-color").arg(dockerfile).current_dir(&out);
        let output = crate::support::run(&mut cmd);
        if !output.success() || !output.combined().trim().is_empty() {
            findings.push(format!("hadolint {dockerfile}: {}", output.combined()));
        }
    }
    for script in [
        "installation/stage-2/self-check.sh",
        "installation/common/install-pixi-global.sh",
        "installation/common/check-conda-envs.sh",
        "installation/common/self-check-lib.sh",
    ] {
        let mut cmd = Command::new(&shellcheck);
        cmd.args([
            "--color=never",
            "--external-sources",
            "--source-path=SCRIPTDIR",
        ])
        .arg(script)
        .current_dir(&out);
        let output = crate::support::run(&mut cmd);
        if !output.success() || !output.combined().trim().is_empty() {
            findings.push(format!("shellcheck {script}: {}", output.combined()));
        }
    }
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}
