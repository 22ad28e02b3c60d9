//! npm semver ranges and versions (from specs and from every packument's dependencies):
//! never a panic, and a range that parses formats to a range that parses again and
//! accepts the same versions.
#![no_main]

use libfuzzer_sys::fuzz_target;

// Compiled into the target directly: the fuzz crate needs no other module.
#[allow(dead_code, unused_imports)]
#[path = "../../src/versions/node_semver.rs"]
mod semver;

use semver::{Options, Range, Version};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (range_text, versions) = text.split_once('\n').unwrap_or((text, ""));
    for options in [Options::STRICT, Options::LOOSE] {
        let parsed: Vec<Version> = versions
            .lines()
            .take(4)
            .filter_map(|v| Version::parse(v, options.loose))
            .collect();
        let _ = semver::valid(range_text, options.loose);
        let _ = semver::clean(range_text);
        let _ = semver::valid_range(range_text, options);
        let _ = semver::min_version(range_text, options);
        let Some(range) = Range::parse(range_text, options) else {
            continue;
        };
        let formatted = range.formatted();
        let again = Range::parse(&formatted, options).unwrap_or_else(|| {
            panic!("{range_text:?} formats as {formatted:?}, which does not parse")
        });
        for version in &parsed {
            assert_eq!(
                range.test(version),
                again.test(version),
                "{range_text:?} and its formatted {formatted:?} disagree on {version}"
            );
        }
        let _ = range.intersects(&again, options);
    }
});
