//! deb822 control text (`Release`, `Packages`, dpkg `status`) and dependency fields from an
//! archive or a base image: never a panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

use modelbench::resolve::apt::control;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(paragraphs) = control::paragraphs(text) {
        for paragraph in &paragraphs {
            let _ = paragraph.get("Package");
        }
    }
    for stanza in control::stanzas(text) {
        for field in [
            stanza.depends,
            stanza.pre_depends,
            stanza.provides,
            stanza.conflicts,
        ] {
            let _ = control::parse_relations(field);
        }
        let _ = control::DpkgStatus::parse(stanza.status);
    }
    let _ = control::parse_relations(text);
    let _ = control::Release::parse(text);
    for parts in [1, 2, 7] {
        let chunks = control::split_chunks(text, parts);
        assert_eq!(
            chunks.concat(),
            text,
            "split_chunks({parts}) loses or adds text"
        );
    }
});
