//! Every input the fuzzers (`fuzz/`) found a crash with, kept as a regression test: each
//! file under `tests/fixtures/fuzz/<target>/` goes through the same checks as the fuzz
//! target of that name. A new crash input only needs to be copied there.

use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use modelbench::image_ref::ImageRef;
use modelbench::lock::Lock;
use modelbench::resolve::apt::{control, version};
use modelbench::resolve::conda::solve::parse_spec;
use modelbench::resolve::sums::{lookup, parse_sha256_sums};
use modelbench::spec::LoadedSpec;

/// The crash inputs kept for `target`.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<(PathBuf, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn fuzz_regressions_spec() {
    for (path, data) in inputs("spec") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        let Ok(loaded) = LoadedSpec::from_str(Path::new("specs/fuzz.toml"), text) else {
            continue;
        };
        let normalized = toml::to_string(&loaded.spec).unwrap();
        let again = LoadedSpec::from_str(Path::new("specs/fuzz.toml"), &normalized)
            .unwrap_or_else(|err| panic!("{}: normalized spec rejected: {err}", path.display()));
        assert_eq!(loaded.hash, again.hash, "{}", path.display());
    }
}

#[test]
fn fuzz_regressions_conda_spec() {
    let inputs = inputs("conda_spec");
    assert!(
        !inputs.is_empty(),
        "tests/fixtures/fuzz/conda_spec holds the OOM inputs"
    );
    for (path, data) in inputs {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        match parse_spec(text) {
            Ok(spec) => assert!(spec.name.as_exact().is_some(), "{}", path.display()),
            // Both kept inputs are regular expressions that took over 2 GiB to compile.
            Err(message) => assert!(
                message.contains("regular expressions"),
                "{}: {message}",
                path.display()
            ),
        }
    }
}

#[test]
fn fuzz_regressions_lock() {
    for (path, data) in inputs("lock") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        let Ok(lock) = Lock::parse(&path, text) else {
            continue;
        };
        let bytes = lock.to_bytes();
        let again = Lock::parse(&path, std::str::from_utf8(&bytes).unwrap())
            .unwrap_or_else(|err| panic!("{}: written lock rejected: {err}", path.display()));
        assert_eq!(lock, again, "{}", path.display());
        assert_eq!(bytes, again.to_bytes(), "{}", path.display());
    }
}

#[test]
fn fuzz_regressions_sums() {
    for (path, data) in inputs("sums") {
        let text = String::from_utf8_lossy(&data);
        for (name, hash) in &parse_sha256_sums(&text) {
            assert_eq!(
                lookup(&text, name).as_ref(),
                Some(hash),
                "{}",
                path.display()
            );
        }
    }
}

#[test]
fn fuzz_regressions_image_ref() {
    for (path, data) in inputs("image_ref") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        let _ = ImageRef::parse(text);
        let _ = ImageRef::parse_docker_ref(text);
        if let Ok(reference) = ImageRef::parse_normalized(text) {
            let printed = reference.to_string();
            assert_eq!(
                ImageRef::parse_normalized(&printed).ok(),
                Some(reference),
                "{}",
                path.display()
            );
        }
    }
}

fn hash_of(v: &version::Version) -> u64 {
    let mut hasher = DefaultHasher::new();
    v.hash(&mut hasher);
    hasher.finish()
}

/// Found in 2 s: `1.0` and `1.0\0\0\0\0\0\00` compared equal (dpkg ranks NUL as the end of
/// the string) but hashed apart, so a set of versions could hold both. NUL is refused now.
#[test]
fn fuzz_regressions_apt_version() {
    let cases = inputs("apt_version");
    assert!(!cases.is_empty());
    for (path, data) in cases {
        let text = String::from_utf8_lossy(&data);
        let versions: Vec<version::Version> = text
            .split('\n')
            .take(3)
            .filter_map(|line| version::Version::parse_lenient(line).ok().map(|(v, _)| v))
            .collect();
        for a in &versions {
            for b in &versions {
                assert_eq!(a.cmp(b), b.cmp(a).reverse(), "{}", path.display());
                if a.cmp(b) == Ordering::Equal {
                    assert_eq!(hash_of(a), hash_of(b), "{}: {a} == {b}", path.display());
                }
            }
        }
    }
    assert!(version::Version::parse_lenient("1.0\0").is_err());
}

/// Found in 3 s: `split_chunks` sliced a Packages text at a byte offset inside a UTF-8
/// character (`text[end..]`) and panicked; real indices have UTF-8 in descriptions.
#[test]
fn fuzz_regressions_apt_control() {
    let cases = inputs("apt_control");
    assert!(!cases.is_empty());
    for (path, data) in cases {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        let _ = control::paragraphs(text);
        for stanza in control::stanzas(text) {
            let _ = control::parse_relations(stanza.depends);
        }
        let _ = control::Release::parse(text);
        for parts in [1, 2, 7] {
            assert_eq!(
                control::split_chunks(text, parts).concat(),
                text,
                "{}: split_chunks({parts})",
                path.display()
            );
        }
    }
}
