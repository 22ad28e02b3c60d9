//! Image references on arbitrary text (they come from specs and from registries' answers):
//! never a panic, and a normalized reference prints to a string that parses back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelbench::image_ref::ImageRef;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = ImageRef::parse(text);
    let _ = ImageRef::parse_docker_ref(text);
    let Ok(reference) = ImageRef::parse_normalized(text) else {
        return;
    };
    let printed = reference.to_string();
    let again = ImageRef::parse_normalized(&printed).unwrap_or_else(|err| {
        panic!("{text:?} printed as {printed:?}, which does not parse: {err}")
    });
    assert_eq!(reference, again, "{text:?} -> {printed:?}");
    assert_eq!(ImageRef::parse_named(&printed).ok().as_ref(), Some(&again));
});
