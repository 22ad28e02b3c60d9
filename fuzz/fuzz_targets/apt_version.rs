//! Debian versions (from `Packages`, `status` and dependency fields, all upstream text):
//! never a panic, and comparison is a total order: reflexive, antisymmetric, transitive
//! on the three versions taken from the input, and consistent with `Hash`.
#![no_main]

use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use libfuzzer_sys::fuzz_target;

use modelbench::resolve::apt::version::Version;

fn hash(v: &Version) -> u64 {
    let mut hasher = DefaultHasher::new();
    v.hash(&mut hasher);
    hasher.finish()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let versions: Vec<Version> = text
        .split('\n')
        .take(3)
        .filter_map(|line| Version::parse_lenient(line).ok().map(|(v, _)| v))
        .collect();
    for v in &versions {
        assert_eq!(v.cmp(v), Ordering::Equal, "{v}");
        let _ = (
            v.epoch(),
            v.upstream(),
            v.revision(),
            v.has_epoch(),
            v.has_revision(),
        );
        let again = Version::parse_lenient(v.as_str())
            .expect("a parsed version reparses")
            .0;
        assert_eq!(v.cmp(&again), Ordering::Equal, "{v}");
    }
    for a in &versions {
        for b in &versions {
            let ab = a.cmp(b);
            assert_eq!(ab, b.cmp(a).reverse(), "{a} vs {b}");
            if ab == Ordering::Equal {
                assert_eq!(hash(a), hash(b), "{a} == {b} but hashes differ");
            }
            for c in &versions {
                if ab != Ordering::Greater && b.cmp(c) != Ordering::Greater {
                    assert_ne!(a.cmp(c), Ordering::Greater, "{a} <= {b} <= {c}");
                }
            }
        }
    }
});
