//! The spec parser and validator on arbitrary text: never a panic; an accepted spec
//! re-serializes (the normalized form its hash is taken of) to a spec that is accepted
//! again with the same hash.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use modelbench::spec::{LoadedSpec, normalized_hash};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(loaded) = LoadedSpec::from_str(Path::new("specs/fuzz.toml"), text) else {
        return;
    };
    let normalized = toml::to_string(&loaded.spec).expect("an accepted spec serializes");
    let again = LoadedSpec::from_str(Path::new("specs/fuzz.toml"), &normalized)
        .unwrap_or_else(|err| panic!("normalized spec rejected: {err}\n{normalized}"));
    assert_eq!(loaded.hash, again.hash, "normalizing changed the spec hash");
    assert_eq!(again.hash, normalized_hash(&again.spec));
});
