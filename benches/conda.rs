//! One pixi-global tool's environment on a conda-forge-sized channel: read the subdir's
//! `repodata.json` sparsely, collect what the tool reaches, solve with resolvo — what
//! `modelbench lock` does per tool after the download — against py-rattler (rattler's own
//! gateway and solver, what pixi runs) solving the same spec from the same files. Both
//! must give the same package set; the bench checks that, then prints medians, the ratio
//! and modelbench's peak memory.
//!
//! Data: a synthetic channel shaped like conda-forge's `linux-64` (records with depends,
//! constrains, licences, md5/sha256, timestamps; `.conda` and `.tar.bz2`), generated
//! deterministically: `CONDA_BENCH_NAMES` package names (default 30000) × 8 versions × 2
//! builds, about 480k records and 300 MB of JSON. conda-forge itself is out of reach here.
//! Run: `cargo bench --bench conda` (`CONDA_BENCH_RUNS` sets the run count,
//! `CONDA_BENCH_SPLIT=1` prints the read time apart from the solve; the py-rattler side is
//! skipped with a note when `python3 -c 'import rattler'` fails).

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use modelbench::resolve::conda::repodata::{self, Subdir};
use modelbench::resolve::conda::solve::{self, Target};

const ORACLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/conda_solve.py");

/// A small deterministic generator (no dependency for the bench's data).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[allow(clippy::too_many_arguments)] // one record's fields, written in place
fn record(
    out: &mut String,
    file: &str,
    name: &str,
    version: &str,
    build: &str,
    number: u32,
    depends: &[String],
    seed: u64,
) {
    let depends: Vec<String> = depends.iter().map(|d| format!("\"{d}\"")).collect();
    let _ = write!(
        out,
        "\"{file}\":{{\"build\":\"{build}\",\"build_number\":{number},\"constrains\":[\"{name}-doc <0a0\"],\
         \"depends\":[{}],\"license\":\"BSD-3-Clause\",\"license_family\":\"BSD\",\
         \"md5\":\"{seed:032x}\",\"name\":\"{name}\",\"sha256\":\"{seed:064x}\",\"size\":{},\
         \"subdir\":\"linux-64\",\"timestamp\":{},\"version\":\"{version}\"}},",
        depends.join(","),
        100_000 + seed % 9_000_000,
        1_700_000_000_000u64 + seed % 50_000_000_000,
    );
}

/// `linux-64` and `noarch` indices: the noise packages, plus jq's real shape (libgcc,
/// _openmp_mutex, oniguruma) so one spec solves to a known small set.
fn channel(names: u64) -> (String, String) {
    let mut rng = Lcg(42);
    let mut conda = String::with_capacity(names as usize * 16 * 640);
    let mut bz2 = String::new();
    let base = [
        "libgcc >=14".to_string(),
        "__glibc >=2.17,<3.0.a0".to_string(),
    ];
    for i in 0..names {
        let name = format!("pkg{i}");
        for major in 0..8u32 {
            for (b, build) in ["h0", "h1"].iter().enumerate() {
                let mut depends = base.to_vec();
                // Dependencies point to lower-numbered packages, as conda-forge's graph is
                // a DAG; older versions have looser pins.
                for _ in 0..rng.below(4) {
                    if i > 0 {
                        let target = rng.below(i);
                        depends.push(format!("pkg{target} >={}", rng.below(4)));
                    }
                }
                let version = format!("{major}.{}.{}", rng.below(10), rng.below(10));
                let build = format!("{build}_{b}");
                let seed = rng.next() << 20 | i;
                // One in five builds is old enough to exist only as .tar.bz2.
                let (out, ext) = if rng.below(5) == 0 {
                    (&mut bz2, "tar.bz2")
                } else {
                    (&mut conda, "conda")
                };
                let file = format!("{name}-{version}-{build}.{ext}");
                record(
                    out, &file, &name, &version, &build, b as u32, &depends, seed,
                );
            }
        }
    }
    let glibc = ["__glibc >=2.17,<3.0.a0".to_string()];
    record(
        &mut conda,
        "_openmp_mutex-4.5-2_gnu.conda",
        "_openmp_mutex",
        "4.5",
        "2_gnu",
        16,
        &[],
        1,
    );
    for (version, build, n) in [
        ("14.2.0", "h767d61c_2", 2u32),
        ("15.2.0", "h767d61c_20", 20),
    ] {
        record(
            &mut conda,
            &format!("libgcc-{version}-{build}.conda"),
            "libgcc",
            version,
            build,
            n,
            &["_openmp_mutex >=4.5".to_string(), glibc[0].clone()],
            u64::from(n),
        );
    }
    record(
        &mut bz2,
        "oniguruma-6.9.10-hb9d3cd8_0.tar.bz2",
        "oniguruma",
        "6.9.10",
        "hb9d3cd8_0",
        0,
        &["libgcc >=13".to_string(), glibc[0].clone()],
        3,
    );
    record(
        &mut conda,
        "jq-1.7.1-hd590300_0.conda",
        "jq",
        "1.7.1",
        "hd590300_0",
        0,
        &[
            "libgcc >=13".to_string(),
            "oniguruma >=6.9.10,<6.10.0a0".to_string(),
            glibc[0].clone(),
        ],
        4,
    );
    let close = |mut s: String| {
        if s.ends_with(',') {
            s.pop();
        }
        s
    };
    let linux = format!(
        "{{\"info\":{{\"subdir\":\"linux-64\"}},\"packages\":{{{}}},\"packages.conda\":{{{}}},\"removed\":[],\"repodata_version\":1}}",
        close(bz2),
        close(conda)
    );
    let noarch = "{\"info\":{\"subdir\":\"noarch\"},\"packages\":{},\"packages.conda\":{},\"repodata_version\":1}".to_string();
    (linux, noarch)
}

fn target() -> Target {
    Target {
        glibc: Some("2.39".into()),
        linux: "4.18".into(),
        archspec: "x86_64".into(),
    }
}

/// The downloaded indices, as `lock` holds them after the download.
fn subdirs(linux: &str, noarch: &str) -> [Subdir; 2] {
    let subdir = |name: &str, text: &str| Subdir {
        subdir: name.into(),
        channel: "https://conda.example/conda-forge".into(),
        url: format!("{name}/repodata.json"),
        body: text.as_bytes().to_vec(),
    };
    [subdir("linux-64", linux), subdir("noarch", noarch)]
}

/// What `lock` does per tool once the indices are downloaded.
fn modelbench_run(subdirs: &[Subdir], spec: &str) -> BTreeSet<String> {
    let spec = solve::parse_spec(spec).expect("spec");
    let name = spec.name.as_exact().unwrap().as_normalized().to_string();
    let refs: Vec<&Subdir> = subdirs.iter().collect();
    let start = Instant::now();
    let records = repodata::reachable(&refs, &[name]).expect("repodata");
    if std::env::var_os("CONDA_BENCH_SPLIT").is_some() {
        eprintln!(
            "  read {} records in {:.2} s",
            records.len(),
            start.elapsed().as_secs_f64()
        );
    }
    solve::solve(&records, &spec, &target())
        .expect("solves")
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r.package_record.subdir,
                r.identifier.to_file_name()
            )
        })
        .collect()
}

fn oracle_run(dir: &Path, spec: &str) -> Option<BTreeSet<String>> {
    let output = Command::new("python3")
        .args([
            ORACLE,
            dir.to_str().unwrap(),
            "linux-64",
            "2.39",
            "4.18",
            "x86_64",
            spec,
        ])
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!("py-rattler: {}", String::from_utf8_lossy(&output.stderr));
        return None;
    }
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    Some(
        answer[spec]["files"]
            .as_array()?
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect(),
    )
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// Peak resident memory of this process so far (Linux), in MiB.
fn peak_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn main() {
    let names: u64 = std::env::var("CONDA_BENCH_NAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let runs: usize = std::env::var("CONDA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let (linux, noarch) = channel(names);
    let dir = tempfile::tempdir().expect("temp dir");
    for (subdir, text) in [("linux-64", &linux), ("noarch", &noarch)] {
        std::fs::create_dir_all(dir.path().join(subdir)).unwrap();
        std::fs::write(dir.path().join(subdir).join("repodata.json"), text).unwrap();
    }
    let records = linux.matches("\"build_number\"").count();
    println!(
        "channel: {records} linux-64 records, {:.0} MB of repodata.json",
        linux.len() as f64 / 1e6
    );

    let subdirs = subdirs(&linux, &noarch);
    // jq: a small closure; the last noise package: a wide one through the DAG.
    let wide = format!("pkg{}", names - 1);
    for spec in ["jq", wide.as_str()] {
        let mut ours = Vec::new();
        let mut answer = BTreeSet::new();
        for _ in 0..runs {
            let start = Instant::now();
            answer = modelbench_run(&subdirs, spec);
            ours.push(start.elapsed());
        }
        let ours = median(ours);
        print!(
            "{spec}: {} packages; modelbench median {:.2} s",
            answer.len(),
            ours.as_secs_f64()
        );
        let mut theirs = Vec::new();
        let mut same = true;
        for _ in 0..runs.min(3) {
            let start = Instant::now();
            match oracle_run(dir.path(), spec) {
                Some(oracle) => {
                    theirs.push(start.elapsed());
                    same &= oracle == answer;
                }
                None => break,
            }
        }
        if theirs.is_empty() {
            println!("; py-rattler not available");
            continue;
        }
        assert!(same, "{spec}: py-rattler solved another set");
        let theirs = median(theirs);
        println!(
            "; py-rattler (same set) median {:.2} s; ratio {:.2}x",
            theirs.as_secs_f64(),
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    }
    if let Some(peak) = peak_mib() {
        println!("modelbench peak memory (incl. the generated JSON): {peak} MiB");
    }
}
