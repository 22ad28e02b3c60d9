//! Behaviour unchanged across a restructuring (issue 19): the lock and every file `emit`,
//! `emit --github-workflow`, `sbom` and `why` write for the test specs are byte-identical
//! between a baseline binary (built from the revision before the change) and the binary
//! under test, both run in the same loopback world and the same project directory.
//!
//! Ignored by default: it needs the baseline. `just golden REV` builds REV in a scratch
//! worktree and runs it; by hand:
//! `MODELBENCH_BASELINE=path/to/old/modelbench cargo test --test it golden -- --ignored`.
//!
//! A lock format change that is intended (a new field, a version bump) is listed in
//! [`LOCK_LINES_NEW_SINCE_BASELINE`] with the reason; every other difference fails. Emitted
//! files that name the lock's hash (or the SBOM serial number made of it) are compared with
//! it masked, so such a listed change does not hide anything else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::support::project::Project;
use crate::support::read_tree;
use crate::support::world::World;

/// Lock lines (by prefix) that the binary under test may write and the baseline did not,
/// with why.
const LOCK_LINES_NEW_SINCE_BASELINE: &[(&str, &str)] = &[
    // Lock format 2 (docs/lock-format.md): the header and version name the format, each
    // entry gains `source` and `origin`, and `checksum` covers them.
    ("# Format: ", "the header names format v2"),
    ("version = 1\n", "the baseline's format version"),
    ("version = 2\n", "format version 2"),
    ("source = ", "format 2: the entry's upstream identity"),
    ("origin = ", "format 2: the spec entry's key path"),
    (
        "checksum = ",
        "format 2: the checksum covers source and origin",
    ),
];

/// What one binary wrote: relative path → bytes (`lock/…`, `build/…`, `.github/…`,
/// `sbom.json`, and `why <name>` output as `why/<name>`).
type Outputs = BTreeMap<String, Vec<u8>>;

#[test]
#[ignore = "needs a baseline binary: `just golden REV` or MODELBENCH_BASELINE=…"]
fn golden_outputs_match_the_baseline() {
    let baseline = PathBuf::from(
        std::env::var_os("MODELBENCH_BASELINE")
            .expect("MODELBENCH_BASELINE names the baseline modelbench binary"),
    );
    assert!(baseline.is_file(), "no baseline binary at {baseline:?}");

    let mut failures = Vec::new();
    // Every feature the spec has (base, signed apt archive, releases, url, users, tools,
    // proxy, storage, mirrors, GPU, checks).
    {
        let world = World::start();
        let project = Project::new();
        crate::lint::full_spec(&project, &world);
        compare(
            "full",
            &project,
            &baseline,
            &["nano", "uv", "clash-rs"],
            &mut failures,
        );
    }
    // npm and bun globals with their closures.
    {
        let up = crate::tools::upstreams();
        let project = crate::npm_build::npm_globals_project(&up.world);
        compare(
            "npm",
            &project,
            &baseline,
            &["mb-hello", "@mb/sdk"],
            &mut failures,
        );
    }
    // pixi globals (conda closures, a local channel's index).
    {
        let f = crate::conda::fixture();
        crate::conda::serve_pixi(&f.world);
        let project = crate::conda::cli_project(&f.world, r#"["jq", "yq >=3"]"#);
        compare(
            "conda",
            &project,
            &baseline,
            &["jq", "pyyaml"],
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Run the baseline, then the binary under test, in `project`; record every difference.
fn compare(
    scenario: &str,
    project: &Project,
    baseline: &Path,
    why: &[&str],
    failures: &mut Vec<String>,
) {
    let old = outputs(project, Some(baseline), why);
    let new = outputs(project, None, why);
    assert!(
        old.keys().any(|k| k.starts_with("build/")),
        "{scenario}: nothing emitted"
    );
    for path in old
        .keys()
        .chain(new.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (old.get(path), new.get(path)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => failures.push(format!(
                "{scenario}: {path} differs\n{}",
                first_difference(a, b)
            )),
            (Some(_), None) => failures.push(format!("{scenario}: {path} is no longer written")),
            (None, Some(_)) => failures.push(format!("{scenario}: {path} is new")),
            (None, None) => unreachable!(),
        }
    }
    eprintln!("golden {scenario}: {} files compared", old.len());
}

/// Lock, emit (with the workflow), sbom and `why` with `binary` from an empty cache, and
/// what they wrote, normalized (see the module doc).
fn outputs(project: &Project, binary: Option<&Path>, why: &[&str]) -> Outputs {
    for dir in ["lock", "build", ".github", "sbom.json"] {
        let path = project.path(dir);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else if path.exists() {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let cache = project.home.path().join(".cache");
    if cache.exists() {
        std::fs::remove_dir_all(&cache).unwrap();
    }
    project.use_binary(binary.map(Path::to_path_buf));
    let label = binary.map_or("under test".to_string(), |b| b.display().to_string());
    let ok = |args: &[&str]| {
        let output = project.run(args);
        assert!(
            output.success(),
            "modelbench ({label}) {args:?}: {}",
            output.combined()
        );
        output
    };
    ok(&["lock", "specs/test.toml", "--sources", "sources.toml"]);
    ok(&["emit", "specs/test.toml", "--locked", "--github-workflow"]);
    ok(&[
        "sbom",
        "specs/test.toml",
        "--format",
        "cyclonedx",
        "--out",
        "sbom.json",
    ]);
    let mut out = Outputs::new();
    for name in why {
        let output = ok(&["why", name, "specs/test.toml"]);
        out.insert(format!("why/{name}"), output.stdout.into_bytes());
    }
    project.use_binary(None);
    for dir in ["lock", "build", ".github"] {
        for (path, bytes) in read_tree(&project.path(dir)) {
            out.insert(format!("{dir}/{path}"), bytes);
        }
    }
    out.insert(
        "sbom.json".into(),
        std::fs::read(project.path("sbom.json")).unwrap(),
    );

    // Mask the lock's own hash where emitted files name it, and drop the listed new lines.
    let lock = out
        .get("lock/test/bench.lock")
        .cloned()
        .expect("a lock was written");
    let lock_digest = Sha256::digest(&lock);
    let lock_hex = hex::encode(lock_digest);
    // The SBOM's serial number is a UUID made of the lock's sha256.
    let lock_uuid = modelbench::sbom::uuid_v8(&lock_digest);
    for (path, bytes) in out.iter_mut() {
        if path == "lock/test/bench.lock" {
            let text = String::from_utf8(bytes.clone()).unwrap();
            let kept: String = text
                .split_inclusive('\n')
                .filter(|line| {
                    !LOCK_LINES_NEW_SINCE_BASELINE
                        .iter()
                        .any(|(prefix, _)| line.starts_with(prefix))
                })
                .collect();
            *bytes = kept.into_bytes();
        } else if let Ok(text) = String::from_utf8(bytes.clone()) {
            *bytes = text
                .replace(&lock_hex, "<lock-sha256>")
                .replace(&lock_uuid, "<lock-uuid>")
                .into_bytes();
        }
    }
    out
}

/// The first differing line of two files, for the failure message.
fn first_difference(old: &[u8], new: &[u8]) -> String {
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    for (i, (a, b)) in old.lines().zip(new.lines()).enumerate() {
        if a != b {
            return format!("  line {}:\n  - {a}\n  + {b}", i + 1);
        }
    }
    format!(
        "  lengths differ: {} lines vs {} lines",
        old.lines().count(),
        new.lines().count()
    )
}
