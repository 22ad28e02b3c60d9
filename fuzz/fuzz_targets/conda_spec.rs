//! A pixi-global entry (a conda match spec as a user writes it) through `parse_spec`:
//! never a panic — it splits the entry by hand to refuse what conda and rattler would read
//! differently — and an accepted entry names exactly one package.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelbench::resolve::conda::solve::parse_spec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = parse_spec(text) {
        assert!(
            spec.name.as_exact().is_some(),
            "{text:?} was accepted without naming one package"
        );
    }
});
