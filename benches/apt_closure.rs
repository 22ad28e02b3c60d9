//! Parse + closure for the seed's package list on the full Debian bookworm `main` amd64
//! index, against `apt-get install -s` on the same uncompressed index and dpkg status
//! with a cold apt cache (a fresh `Dir::Cache` each run, so apt rebuilds its
//! `pkgcache.bin`, as it must after every index change). Both produce the same set; the
//! bench checks that, then prints medians and the ratio.
//!
//! Data: the oracle cache of `tests/it/apt.rs` (`MODELBENCH_APT_CACHE`, default
//! `target/apt-oracle`; fill it once with `MODELBENCH_LIVE=1 cargo test --test it apt`).
//! Run: `cargo bench --bench apt_closure` (`APT_BENCH_RUNS` sets the run count).

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use modelbench::resolve::apt::closure::{Index, Universe, Wanted};

const SEED: &[&str] = &[
    "nano",
    "micro",
    "mc",
    "tmux",
    "curl",
    "wget",
    "git",
    "git-lfs",
    "unzip",
    "qimgv",
    "libgl1-mesa-glx | libgl1",
    "libglib2.0-0",
    "libsm6",
    "libxext6",
    "libxrender1",
    "x11-apps",
    "xauth",
    "libopencv-dev",
    "python3",
    "python3-pip",
    "python3-venv",
];

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// Read both files and resolve: what `modelbench lock` does after the download.
fn modelbench_run(dir: &Path, wanted: &[Wanted]) -> BTreeSet<String> {
    let packages = std::fs::read_to_string(dir.join("Packages")).expect("cached Packages");
    let status = std::fs::read_to_string(dir.join("minbase.status")).expect("cached status");
    let index = [Index {
        text: &packages,
        priority: 500,
        label: "bookworm/main".into(),
    }];
    let universe = Universe::build(&index, &status, "amd64").expect("universe");
    universe
        .solve(wanted, true)
        .expect("the seed list resolves")
        .into_iter()
        .map(|c| format!("{} {}", c.name, c.version))
        .collect()
}

fn apt_run(dir: &Path, names: &[String]) -> BTreeSet<String> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path();
    let lists = root.join("lists");
    let empty = root.join("empty");
    std::fs::create_dir_all(lists.join("partial")).unwrap();
    std::fs::create_dir_all(&empty).unwrap();
    // Hard links where possible: the same bytes apt and modelbench read.
    let link = |from: PathBuf, to: PathBuf| {
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).unwrap();
        }
    };
    link(
        dir.join("InRelease"),
        lists.join("deb.debian.org_debian_dists_bookworm_InRelease"),
    );
    link(
        dir.join("Packages"),
        lists.join("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"),
    );
    std::fs::write(
        root.join("sources.list"),
        "deb http://deb.debian.org/debian bookworm main\n",
    )
    .unwrap();
    std::fs::write(
        root.join("apt.conf"),
        format!(
            "Dir::Etc::Parts \"{}\";\nDir::Etc::main \"/dev/null\";\n",
            empty.display()
        ),
    )
    .unwrap();
    let output = Command::new("apt-get")
        .env("APT_CONFIG", root.join("apt.conf"))
        .args(["install", "-s", "-q"])
        .arg("-o")
        .arg(format!(
            "Dir::State::status={}",
            dir.join("minbase.status").display()
        ))
        .arg("-o")
        .arg(format!("Dir::State::Lists={}", lists.display()))
        .arg("-o")
        .arg(format!("Dir::Cache={}", root.join("cache").display()))
        .arg("-o")
        .arg(format!(
            "Dir::Etc::SourceList={}",
            root.join("sources.list").display()
        ))
        .arg("-o")
        .arg(format!("Dir::Etc::SourceParts={}", empty.display()))
        .args(["-o", "Dir::Etc::Preferences=/dev/null"])
        .arg("-o")
        .arg(format!("Dir::Etc::PreferencesParts={}", empty.display()))
        .arg("-o")
        .arg(format!(
            "Dir::State::extended_states={}",
            root.join("extended_states").display()
        ))
        .args([
            "-o",
            "APT::Architecture=amd64",
            "-o",
            "APT::Architectures=amd64",
            "-o",
            "Debug::NoLocking=1",
        ])
        .args([
            "-o",
            "APT::Install-Recommends=true",
            "-o",
            "APT::Install-Suggests=false",
        ])
        .args(names)
        .output()
        .expect("run apt-get");
    assert!(
        output.status.success(),
        "apt-get failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    support::simulated_installs(&output.stdout)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing useful either.
    let dir = std::env::var_os("MODELBENCH_APT_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/apt-oracle"));
    if !["InRelease", "Packages", "minbase.status"]
        .iter()
        .all(|f| dir.join(f).is_file())
    {
        eprintln!(
            "apt_closure: no oracle data in {}; fill it with `MODELBENCH_LIVE=1 cargo test --test it apt` first",
            dir.display()
        );
        return;
    }
    if Command::new("apt-get").arg("--version").output().is_err() {
        eprintln!("apt_closure: apt-get is not installed");
        return;
    }
    let runs: usize = std::env::var("APT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let wanted: Vec<Wanted> = SEED.iter().map(|w| Wanted::parse(w).unwrap()).collect();
    let names = {
        let packages = std::fs::read_to_string(dir.join("Packages")).unwrap();
        let status = std::fs::read_to_string(dir.join("minbase.status")).unwrap();
        let index = [Index {
            text: &packages,
            priority: 500,
            label: "bookworm/main".into(),
        }];
        Universe::build(&index, &status, "amd64")
            .unwrap()
            .picked_names(&wanted)
            .unwrap()
    };
    // Warm the page cache and check both give the same set.
    let ours = modelbench_run(&dir, &wanted);
    let theirs = apt_run(&dir, &names);
    assert_eq!(ours, theirs, "modelbench and apt-get chose different sets");
    let (mut ours_times, mut apt_times) = (Vec::new(), Vec::new());
    // Interleaved, so background load hits both alike.
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(modelbench_run(&dir, &wanted));
        ours_times.push(start.elapsed());
        let start = Instant::now();
        std::hint::black_box(apt_run(&dir, &names));
        apt_times.push(start.elapsed());
    }
    let (ours_median, apt_median) = (median(ours_times.clone()), median(apt_times.clone()));
    println!(
        "apt_closure: {} packages in the closure of {} seed entries (index: {} MB, {} threads)",
        ours.len(),
        SEED.len(),
        std::fs::metadata(dir.join("Packages"))
            .map(|m| m.len() >> 20)
            .unwrap_or(0),
        rayon::current_num_threads()
    );
    println!(
        "  modelbench parse + closure: median {:.0} ms (min {:.0} ms) over {runs} runs",
        ours_median.as_secs_f64() * 1e3,
        ours_times.iter().min().unwrap().as_secs_f64() * 1e3
    );
    println!(
        "  apt-get install -s, cold cache: median {:.0} ms (min {:.0} ms) over {runs} runs",
        apt_median.as_secs_f64() * 1e3,
        apt_times.iter().min().unwrap().as_secs_f64() * 1e3
    );
    println!(
        "  ratio (apt / modelbench, medians): {:.1}x",
        apt_median.as_secs_f64() / ours_median.as_secs_f64()
    );
}
