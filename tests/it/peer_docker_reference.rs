//! Peer vectors from github.com/distribution/reference (tests/fixtures/peer/docker-reference.json)
//! run against `modelbench::image_ref`: every case of every mode, failures collected and printed.

use std::collections::BTreeMap;

use modelbench::image_ref::{
    AnyReference, ImageRef, RefError, familiar_match, is_identifier, is_valid_domain,
    parse_any_reference, parse_reference_parts, split_name,
};
use serde_json::Value;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/peer/docker-reference.json"
);

/// Every mode the fixture may use, with the number of cases the shared README lists for it.
const MODES: &[(&str, usize)] = &[
    ("parse", 52),
    ("parse_normalized_named", 123),
    ("name_regexp", 63),
    ("domain_regexp", 30),
    ("parse_any_reference", 14),
    ("with_name", 13),
    ("reference_regexp", 12),
    ("parse_docker_ref", 11),
    ("familiar_match", 10),
    ("parse_named", 8),
    ("with_tag", 6),
    ("with_digest", 5),
    ("identifier_regexp", 5),
];

/// The fixture's name for an error: the Go error variable it mirrors.
fn go_error_name(e: &RefError) -> &'static str {
    match e {
        RefError::ReferenceInvalidFormat { .. } => "ErrReferenceInvalidFormat",
        RefError::TagInvalidFormat { .. } => "ErrTagInvalidFormat",
        RefError::DigestInvalidFormat { .. } => "ErrDigestInvalidFormat",
        RefError::DigestInvalidLength { .. } => "digest.ErrDigestInvalidLength",
        RefError::DigestUnsupported { .. } => "digest.ErrDigestUnsupported",
        RefError::NameContainsUppercase { .. } => "ErrNameContainsUppercase",
        RefError::NameEmpty { .. } => "ErrNameEmpty",
        RefError::NameTooLong { .. } => "ErrNameTooLong",
        RefError::NameNotCanonical { .. } => "ErrNameNotCanonical",
        RefError::NameIsIdentifier { .. } => "(ParseNormalizedNamed: 64-byte hex name)",
        RefError::BadPattern { .. } => "path.ErrBadPattern",
    }
}

/// Collects mismatches of one case.
struct Check<'a> {
    case: &'a Value,
    problems: Vec<String>,
}

impl<'a> Check<'a> {
    fn new(case: &'a Value) -> Self {
        Check {
            case,
            problems: Vec::new(),
        }
    }

    fn str(&self, key: &str) -> &'a str {
        self.case[key]
            .as_str()
            .unwrap_or_else(|| panic!("case has no string `{key}`: {}", self.case))
    }

    fn bool(&self, key: &str) -> bool {
        self.case[key]
            .as_bool()
            .unwrap_or_else(|| panic!("case has no bool `{key}`: {}", self.case))
    }

    /// `None`: key absent (not checked). `Some(None)`: JSON null (must be absent).
    fn opt(&self, key: &str) -> Option<Option<&'a str>> {
        let v = self.case.get(key)?;
        Some(if v.is_null() {
            None
        } else {
            Some(
                v.as_str()
                    .unwrap_or_else(|| panic!("`{key}` is not a string: {}", self.case)),
            )
        })
    }

    /// Compares `got` with the case's `key`, if the case has that key.
    fn field(&mut self, key: &str, got: Option<&str>) {
        if let Some(want) = self.opt(key)
            && want != got
        {
            self.problems
                .push(format!("{key}: expected {want:?}, got {got:?}"));
        }
    }

    fn expect(&mut self, what: &str, want: impl std::fmt::Debug, got: impl std::fmt::Debug) {
        let (w, g) = (format!("{want:?}"), format!("{got:?}"));
        if w != g {
            self.problems.push(format!("{what}: expected {w}, got {g}"));
        }
    }

    /// For a case with `valid`: a success is checked by `on_ok`; a failure must be expected and,
    /// when the case names the error, be that error.
    fn outcome<T: std::fmt::Debug>(
        &mut self,
        got: Result<T, RefError>,
        on_ok: impl FnOnce(&mut Self, T),
    ) {
        let valid = self.bool("valid");
        match got {
            Ok(v) if valid => on_ok(self, v),
            Ok(v) => self
                .problems
                .push(format!("expected an error, got Ok({v:?})")),
            Err(e) if valid => self
                .problems
                .push(format!("expected success, got error: {e}")),
            Err(e) => {
                if let Some(Some(want)) = self.opt("error")
                    && want != go_error_name(&e)
                {
                    self.problems.push(format!(
                        "error: expected {want}, got {} ({e})",
                        go_error_name(&e)
                    ));
                }
            }
        }
    }

    fn image_ref(&mut self, r: &ImageRef) {
        self.field("name", Some(&r.name()));
        self.field("domain", r.domain.as_deref());
        self.field("path", Some(&r.path));
        self.field("tag", r.tag.as_deref());
        self.field("digest", r.digest.as_deref());
        self.field("string", Some(&r.to_string()));
        self.field("normalized", Some(&r.to_string()));
        // The README says `familiar` = FamiliarName(), but the one case with a tag and digest
        // (TestParseReferenceWithTagAndDigest) expects FamiliarString(); for name-only
        // references the two are the same, so compare with FamiliarString.
        self.field("familiar", Some(&r.familiar()));
    }
}

fn check_case(mode: &str, c: &mut Check<'_>) {
    match mode {
        "parse" => {
            let got = ImageRef::parse(c.str("input"));
            c.outcome(got, |c, r| c.image_ref(&r));
        }
        "with_name" => {
            let got = ImageRef::with_name(c.str("input"));
            c.outcome(got, |c, r| c.image_ref(&r));
        }
        "with_tag" => {
            let got = ImageRef::with_name(c.str("name")).and_then(|r| {
                let r = match c.opt("digest").flatten() {
                    Some(d) => r.with_digest(d)?,
                    None => r,
                };
                r.with_tag(c.str("tag"))
            });
            c.outcome(got, |c, r| c.field("string", Some(&r.to_string())));
        }
        "with_digest" => {
            let got = ImageRef::with_name(c.str("name")).and_then(|r| {
                let r = match c.opt("tag").flatten() {
                    Some(t) => r.with_tag(t)?,
                    None => r,
                };
                r.with_digest(c.str("digest"))
            });
            c.outcome(got, |c, r| c.field("string", Some(&r.to_string())));
        }
        "parse_named" => {
            let got = ImageRef::parse_named(c.str("input"));
            c.outcome(got, |c, r| c.image_ref(&r));
        }
        "parse_normalized_named" => {
            let got = ImageRef::parse_normalized(c.str("input"));
            c.outcome(got, |c, r| c.image_ref(&r));
        }
        "parse_docker_ref" => {
            let got = ImageRef::parse_docker_ref(c.str("input"));
            c.outcome(got, |c, r| c.image_ref(&r));
        }
        "parse_any_reference" => {
            let got = parse_any_reference(c.str("input"));
            c.outcome(got, |c, any| {
                c.field("normalized", Some(&any.to_string()));
                let digest_only = c.bool("digest_only");
                match &any {
                    AnyReference::Named(r) => {
                        c.expect("digest_only", digest_only, false);
                        c.image_ref(r);
                    }
                    AnyReference::Digest(d) => {
                        c.expect("digest_only", digest_only, true);
                        for key in ["name", "domain", "path", "tag"] {
                            c.field(key, None);
                        }
                        c.field("digest", Some(d));
                    }
                }
            });
        }
        "familiar_match" => {
            let got = parse_any_reference(c.str("input"))
                .and_then(|r| familiar_match(c.str("pattern"), &r));
            c.outcome(got, |c, m| {
                let want = c.bool("matches");
                c.expect("matches", want, m);
            });
        }
        "domain_regexp" => {
            let want = c.bool("matches");
            c.expect("matches", want, is_valid_domain(c.str("input")));
        }
        "name_regexp" => {
            let want = c.bool("matches");
            let got = split_name(c.str("input"));
            c.expect("matches", want, got.is_some());
            if let Some((domain, path)) = got {
                c.field("domain", domain);
                c.field("path", Some(path));
            }
        }
        "reference_regexp" => {
            let want = c.bool("matches");
            let got = parse_reference_parts(c.str("input"));
            c.expect("matches", want, got.is_some());
            if let Some(p) = got {
                c.field("name", Some(p.name));
                c.field("tag", p.tag);
                c.field("digest", p.digest);
            }
        }
        "identifier_regexp" => {
            let want = c.bool("matches");
            c.expect("matches", want, is_identifier(c.str("input")));
        }
        other => c.problems.push(format!("unknown mode `{other}`")),
    }
}

#[test]
fn docker_reference_peer_vectors() {
    let text = std::fs::read_to_string(FIXTURE).expect("read docker-reference.json");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("parse docker-reference.json");
    assert_eq!(cases.len(), 352, "case count of the fixture");

    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mode = case["mode"].as_str().expect("case has a mode");
        let mut c = Check::new(case);
        check_case(mode, &mut c);
        *checked.entry(mode).or_default() += 1;
        if !c.problems.is_empty() {
            let input = case
                .get("input")
                .or_else(|| case.get("name"))
                .map(Value::to_string)
                .unwrap_or_default();
            let input = if input.chars().count() > 120 {
                let head: String = input.chars().take(120).collect();
                format!("{head}… ({} chars)", input.chars().count())
            } else {
                input
            };
            failures.push(format!(
                "#{i} {mode} {input}\n    case: {case}\n    {}",
                c.problems.join("\n    ")
            ));
        }
    }

    for (mode, n) in &checked {
        println!("docker-reference: {mode}: {n} cases checked");
    }
    println!(
        "docker-reference: {} cases checked, {} failed, 0 skipped",
        cases.len(),
        failures.len()
    );
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} docker-reference cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let want: BTreeMap<&str, usize> = MODES.iter().copied().collect();
    assert_eq!(checked, want, "cases per mode");
}
