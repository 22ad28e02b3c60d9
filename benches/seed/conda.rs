//! A conda-forge-size channel, synthesized (conda-forge is not reachable from the
//! machines this runs on): `SEED_BENCH_CONDA_RECORDS` records (default 30 000) in each
//! of `linux-64` and `noarch`, shaped like conda-forge's (`packages.conda` and
//! `packages`, md5, sha256, size, timestamps in ms, licenses, `__glibc` requirements,
//! python builds per ABI), with the seed's six pixi-global tools and their real
//! dependency shapes among them. Served as conda-forge serves it: `repodata.json` and
//! `repodata.json.zst`, each with an `ETag`. Every record's sha256, md5 and size are of
//! the bytes the fallback serves for its file ([`package_bytes`]), so nothing is made up.

use std::path::{Path, PathBuf};

use md5::Md5;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::server::{Body, Route, Server, etag_of};

pub const CHANNEL: &str = "/conda/conda-forge";

/// The bytes served for a package file of the synthetic channel.
pub fn package_bytes(subdir: &str, file: &str) -> Vec<u8> {
    format!("synthetic conda package {subdir}/{file}\n").into_bytes()
}

struct Channel {
    subdir: &'static str,
    conda: Map<String, Value>,
    tar_bz2: Map<String, Value>,
    stamp: u64,
}

impl Channel {
    fn new(subdir: &'static str) -> Channel {
        Channel {
            subdir,
            conda: Map::new(),
            tar_bz2: Map::new(),
            stamp: 1_700_000_000_000,
        }
    }

    fn len(&self) -> usize {
        self.conda.len() + self.tar_bz2.len()
    }

    /// One record; every seventh as `.tar.bz2` only, as older conda-forge builds are.
    fn add(&mut self, name: &str, version: &str, build: &str, number: u64, depends: &[String]) {
        let old = (self.len() % 7) == 3;
        let file = format!(
            "{name}-{version}-{build}.{}",
            if old { "tar.bz2" } else { "conda" }
        );
        let bytes = package_bytes(self.subdir, &file);
        self.stamp += 61_000;
        let licenses = ["MIT", "BSD-3-Clause", "Apache-2.0", "GPL-3.0-or-later"];
        let families = ["MIT", "BSD", "APACHE", "GPL"];
        let mut record = json!({
            "build": build,
            "build_number": number,
            "depends": depends,
            "license": licenses[self.len() % 4],
            "license_family": families[self.len() % 4],
            "md5": hex::encode(Md5::digest(&bytes)),
            "name": name,
            "sha256": hex::encode(Sha256::digest(&bytes)),
            "size": bytes.len(),
            "subdir": self.subdir,
            "timestamp": self.stamp,
            "version": version,
        });
        if self.subdir == "noarch" {
            record["noarch"] = json!("python");
        }
        if old {
            self.tar_bz2.insert(file, record);
        } else {
            self.conda.insert(file, record);
        }
    }

    fn document(&self) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "info": {"subdir": self.subdir},
            "packages": self.tar_bz2,
            "packages.conda": self.conda,
            "removed": [],
            "repodata_version": 1,
        }))
        .unwrap()
    }
}

fn deps(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The seed's tools and what they really need, then filler up to `records`.
fn channels(records: usize) -> (Channel, Channel) {
    let mut linux = Channel::new("linux-64");
    let mut noarch = Channel::new("noarch");
    let glibc = "__glibc >=2.17,<3.0.a0";
    for (n, v) in ["13.2.0", "14.2.0", "15.1.0", "15.2.0"].iter().enumerate() {
        let b = format!("h767d61c_{n}");
        linux.add(
            "libgcc",
            v,
            &b,
            n as u64,
            &deps(&[glibc, "_openmp_mutex >=4.5"]),
        );
        linux.add("libgcc-ng", v, &b, n as u64, &[format!("libgcc {v}")]);
        linux.add("libgomp", v, &b, n as u64, &deps(&[glibc]));
        linux.add("libstdcxx", v, &b, n as u64, &[format!("libgcc {v}")]);
    }
    linux.add(
        "_openmp_mutex",
        "4.5",
        "2_gnu",
        2,
        &deps(&["_libgcc_mutex 0.1 conda_forge", "libgomp >=7.5.0"]),
    );
    linux.add("_libgcc_mutex", "0.1", "conda_forge", 0, &[]);
    let c_lib = |linux: &mut Channel, name: &str, versions: &[&str], extra: &[&str]| {
        for (n, v) in versions.iter().enumerate() {
            let mut d = deps(&[glibc, "libgcc >=14"]);
            d.extend(deps(extra));
            linux.add(name, v, &format!("hb9d3cd8_{n}"), n as u64, &d);
        }
    };
    c_lib(&mut linux, "oniguruma", &["6.9.9", "6.9.10"], &[]);
    c_lib(
        &mut linux,
        "jq",
        &["1.6", "1.7.1", "1.8.0", "1.8.1"],
        &["oniguruma >=6.9.10,<6.10.0a0"],
    );
    c_lib(
        &mut linux,
        "btop",
        &["1.3.2", "1.4.4", "1.4.5"],
        &["libstdcxx >=14"],
    );
    c_lib(
        &mut linux,
        "helix",
        &["24.7", "25.1.1", "25.7.1"],
        &["libstdcxx >=14"],
    );
    c_lib(&mut linux, "libzlib", &["1.3.1"], &[]);
    c_lib(
        &mut linux,
        "openssl",
        &["3.4.1", "3.5.2"],
        &["ca-certificates"],
    );
    c_lib(&mut linux, "ncurses", &["6.5"], &[]);
    c_lib(&mut linux, "readline", &["8.2"], &["ncurses >=6.5,<7.0a0"]);
    c_lib(&mut linux, "liblzma", &["5.8.1"], &[]);
    c_lib(&mut linux, "bzip2", &["1.0.8"], &[]);
    c_lib(&mut linux, "libffi", &["3.4.6"], &[]);
    c_lib(
        &mut linux,
        "libsqlite",
        &["3.50.4"],
        &["libzlib >=1.3.1,<2.0a0"],
    );
    c_lib(&mut linux, "libuuid", &["2.38.1"], &[]);
    c_lib(&mut linux, "tk", &["8.6.13"], &["libzlib >=1.3.1,<2.0a0"]);
    c_lib(&mut linux, "yaml", &["0.2.5"], &[]);
    c_lib(&mut linux, "libexpat", &["2.7.1"], &[]);
    linux.add("gh", "2.76.2", "h76a2195_0", 0, &[]);
    linux.add("gh", "2.78.0", "h76a2195_0", 0, &[]);
    noarch.add(
        "ca-certificates",
        "2025.8.3",
        "hbd8a1cb_0",
        0,
        &deps(&["__unix"]),
    );
    noarch.add("tzdata", "2025b", "h78e105d_0", 0, &[]);
    let pythons = [
        ("3.10", "3.10.18"),
        ("3.11", "3.11.13"),
        ("3.12", "3.12.11"),
        ("3.13", "3.13.7"),
    ];
    for (abi, version) in pythons {
        let cp = format!("cp{}", abi.replace('.', ""));
        linux.add("python_abi", abi, &format!("8_{cp}"), 8, &[]);
        let mut d = deps(&[
            glibc,
            "libgcc >=14",
            "bzip2 >=1.0.8,<2.0a0",
            "libexpat >=2.7.1,<3.0a0",
            "libffi >=3.4.6,<3.5.0a0",
            "liblzma >=5.8.1,<6.0a0",
            "libsqlite >=3.50.4,<4.0a0",
            "libuuid >=2.38.1,<3.0a0",
            "libzlib >=1.3.1,<2.0a0",
            "ncurses >=6.5,<7.0a0",
            "openssl >=3.5.2,<4.0a0",
            "readline >=8.2,<9.0a0",
            "tk >=8.6.13,<8.7.0a0",
            "tzdata",
        ]);
        d.push(format!("python_abi {abi}.* *_{cp}"));
        linux.add("python", version, "h9e4cc4f_0_cpython", 0, &d);
        for (name, v, extra) in [
            ("pyyaml", "6.0.2", "yaml >=0.2.5,<0.3.0a0"),
            ("psutil", "7.0.0", "libgcc >=14"),
        ] {
            let mut d = deps(&[glibc, "libgcc >=14", extra]);
            d.push(format!("python {abi}.* *_cpython"));
            d.push(format!("python_abi {abi}.* *_{cp}"));
            linux.add(name, v, &format!("py{}h9ecbd09_0", &cp[2..]), 0, &d);
        }
    }
    for (name, v, d) in [
        (
            "yq",
            "3.4.3",
            deps(&[
                "python >=3.9",
                "pyyaml >=5.3.1",
                "xmltodict >=0.11.0",
                "tomlkit >=0.11.6",
                "argcomplete >=1.8.1",
                "jq",
            ]),
        ),
        ("xmltodict", "0.14.2", deps(&["python >=3.9"])),
        ("tomlkit", "0.13.3", deps(&["python >=3.9"])),
        ("argcomplete", "3.6.2", deps(&["python >=3.9"])),
        (
            "nvitop",
            "1.5.2",
            deps(&[
                "python >=3.9",
                "nvidia-ml-py >=11.450.51,<13.581.0a0",
                "psutil >=5.6.6",
                "termcolor >=1.0.0",
                "colorama >=0.4.0",
            ]),
        ),
        ("nvidia-ml-py", "12.575.51", deps(&["python >=3.9"])),
        ("termcolor", "3.1.0", deps(&["python >=3.9"])),
        ("colorama", "0.4.6", deps(&["python >=3.9"])),
    ] {
        noarch.add(name, v, "pyhd8ed1ab_0", 0, &d);
    }
    // Filler: libraries and python packages of many versions and builds, depending on
    // each other and on the base libraries, as the other 30 000 names of the channel.
    let mut index = 0usize;
    while linux.len() < records || noarch.len() < records {
        let family = index / 12;
        let version = format!("{}.{}.{}", family % 9, index % 12, index % 5);
        if linux.len() < records {
            let name = format!(
                "lib{}-{}",
                ["core", "io", "net", "gfx", "math", "db"][family % 6],
                family
            );
            let mut d = deps(&[glibc, "libgcc >=14", "libstdcxx >=14"]);
            if family > 0 {
                d.push(format!(
                    "lib{}-{} >=0",
                    ["core", "io", "net", "gfx", "math", "db"][(family - 1) % 6],
                    family - 1
                ));
            }
            linux.add(
                &name,
                &version,
                &format!("h{:07x}_{}", index * 2654435761 % 0xfff_ffff, index % 3),
                (index % 3) as u64,
                &d,
            );
        }
        if noarch.len() < records {
            let name = format!(
                "py-{}-{}",
                ["tools", "client", "utils", "plugin"][family % 4],
                family
            );
            noarch.add(
                &name,
                &version,
                "pyhd8ed1ab_0",
                0,
                &deps(&["python >=3.9", "typing_extensions >=4.0"]),
            );
        }
        index += 1;
    }
    (linux, noarch)
}

pub struct Generated {
    /// (subdir, repodata.json, repodata.json.zst)
    pub files: Vec<(&'static str, PathBuf, PathBuf)>,
}

pub fn generate(cache: &Path, records: usize) -> Generated {
    let dir = cache.join(format!("conda-{records}"));
    let subdirs = ["linux-64", "noarch"];
    let paths = |subdir: &str| {
        (
            dir.join(subdir).join("repodata.json"),
            dir.join(subdir).join("repodata.json.zst"),
        )
    };
    if subdirs.iter().any(|s| !paths(s).1.exists()) {
        eprintln!("seed bench: generating a {records}-record conda channel per subdir");
        let (linux, noarch) = channels(records);
        for channel in [linux, noarch] {
            let (json, zst) = paths(channel.subdir);
            std::fs::create_dir_all(json.parent().unwrap()).unwrap();
            let body = channel.document();
            std::fs::write(&json, &body).unwrap();
            // conda-forge's own level for repodata.json.zst.
            let packed = zstd::bulk::compress(&body, 16).unwrap();
            let temp = zst.with_extension("part");
            std::fs::write(&temp, packed).unwrap();
            std::fs::rename(temp, &zst).unwrap();
        }
    }
    Generated {
        files: subdirs
            .iter()
            .map(|s| {
                let (json, zst) = paths(s);
                (*s, json, zst)
            })
            .collect(),
    }
}

pub fn serve(server: &Server, generated: &Generated) {
    for (subdir, json, zst) in &generated.files {
        for (path, name, content_type) in [
            (json, "repodata.json", "application/json"),
            (zst, "repodata.json.zst", "application/zstd"),
        ] {
            let bytes = std::fs::read(path).unwrap();
            server.route(
                format!("{CHANNEL}/{subdir}/{name}"),
                Route {
                    content_type,
                    etag: etag_of(&bytes),
                    body: Body::Bytes(bytes),
                },
            );
        }
    }
}
