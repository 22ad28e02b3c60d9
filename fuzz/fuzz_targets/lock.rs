//! The lock reader on arbitrary text: never a panic; an accepted lock writes bytes that
//! read back to the same lock and write the same bytes again (the writer is canonical).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use modelbench::lock::Lock;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("lock/fuzz/bench.lock");
    let Ok(lock) = Lock::parse(path, text) else {
        return;
    };
    let bytes = lock.to_bytes();
    let written = String::from_utf8(bytes.clone()).expect("the writer emits UTF-8");
    let again = Lock::parse(path, &written)
        .unwrap_or_else(|err| panic!("written lock rejected: {err}\n{written}"));
    assert_eq!(lock, again, "a written lock reads back differently");
    assert_eq!(bytes, again.to_bytes(), "writing is not idempotent");
});
