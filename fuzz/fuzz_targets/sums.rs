//! Checksum files (`sha256sum` output, sidecars, SHASUMS256.txt) on arbitrary text: never
//! a panic, and every parsed entry is found again by `lookup` with the same hash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelbench::resolve::sums::{lookup, parse_sha256_sums};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let sums = parse_sha256_sums(&text);
    for (name, hash) in &sums {
        assert_eq!(hash.hex().len(), 64);
        assert_eq!(
            lookup(&text, name).as_ref(),
            Some(hash),
            "lookup({name:?}) disagrees with the parse"
        );
    }
    // An arbitrary file name taken from the input's last line.
    if let Some(file) = text.lines().last() {
        let _ = lookup(&text, file.trim());
    }
});
