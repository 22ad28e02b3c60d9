//! npm's version and range semantics: a port of node-semver 7.8.5, the copy npm 11 bundles.
//!
//! Resolution must agree with npm to the byte, so this follows node-semver's own
//! structure: the same regular expressions (`internal/re.js`, including the "safe"
//! variants with bounded repetition), the same desugaring of `^ ~ x || -` into
//! comparator sets (`classes/range.js`), the same prerelease rule in `testSet`, and the
//! same `loose` / `includePrerelease` options. The `nodejs-semver` crate was measured
//! against node-semver's own test vectors (`tests/fixtures/peer/npm-semver.json`) and
//! disagrees on 14 of 229 `satisfies` cases (`~x`, `^x`, `includePrerelease` lower
//! bounds), 54 of 138 `range_parse` cases and every loose `compare` case: it models a
//! range as merged bounds, so the comparator sets npm reasons about are gone and cannot
//! be restored by a wrapper. `tests/it/npm.rs` runs every vector of the modes below.

use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

use regex_lite::{Captures, Regex};

const MAX_LENGTH: usize = 256;
const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_991;
const MAX_SAFE_BUILD_LENGTH: usize = MAX_LENGTH - 6;

/// node-semver's options object, reduced to the two fields that change behaviour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    pub loose: bool,
    pub include_prerelease: bool,
}

impl Options {
    pub const STRICT: Options = Options {
        loose: false,
        include_prerelease: false,
    };
    /// What npm passes almost everywhere (`semver.satisfies(v, r, true)`).
    pub const LOOSE: Options = Options {
        loose: true,
        include_prerelease: false,
    };
}

// ---- the regular expressions of internal/re.js ----

const LETTERDASHNUMBER: &str = "[a-zA-Z0-9-]";

/// `makeSafeRegex`: bound the greedy tokens so that no input can make matching slow.
fn make_safe(value: &str) -> String {
    let replacements = [
        ("\\s", 1),
        ("\\d", MAX_LENGTH),
        (LETTERDASHNUMBER, MAX_SAFE_BUILD_LENGTH),
    ];
    let mut value = value.to_string();
    for (token, max) in replacements {
        value = value
            .replace(&format!("{token}*"), &format!("{token}{{0,{max}}}"))
            .replace(&format!("{token}+"), &format!("{token}{{1,{max}}}"));
    }
    value
}

struct Patterns {
    full: Regex,
    loose: Regex,
    build_strip: Regex,
    build: Regex,
    hyphen: Regex,
    hyphen_loose: Regex,
    comparator_trim: Regex,
    tilde_trim: Regex,
    caret_trim: Regex,
    tilde: Regex,
    tilde_loose: Regex,
    caret: Regex,
    caret_loose: Regex,
    xrange: Regex,
    xrange_loose: Regex,
    star: Regex,
    gte0: Regex,
    gte0_pre: Regex,
    comparator: Regex,
    comparator_loose: Regex,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let numeric = "0|[1-9]\\d*";
    let numeric_loose = "\\d+";
    let non_numeric = format!("\\d*[a-zA-Z-]{LETTERDASHNUMBER}*");
    let main = format!("({numeric})\\.({numeric})\\.({numeric})");
    let main_loose = format!("({numeric_loose})\\.({numeric_loose})\\.({numeric_loose})");
    let pre_id = format!("(?:{non_numeric}|{numeric})");
    let pre_id_loose = format!("(?:{non_numeric}|{numeric_loose})");
    let pre = format!("(?:-({pre_id}(?:\\.{pre_id})*))");
    let pre_loose = format!("(?:-?({pre_id_loose}(?:\\.{pre_id_loose})*))");
    let build_id = format!("{LETTERDASHNUMBER}+");
    let build = format!("(?:\\+({build_id}(?:\\.{build_id})*))");
    let full_plain = format!("v?{main}{pre}?{build}?");
    let loose_plain = format!("[v=\\s]*{main_loose}{pre_loose}?{build}?");
    let gtlt = "((?:<|>)?=?)";
    let xr_id_loose = format!("{numeric_loose}|x|X|\\*");
    let xr_id = format!("{numeric}|x|X|\\*");
    let xr_plain = format!("[v=\\s]*({xr_id})(?:\\.({xr_id})(?:\\.({xr_id})(?:{pre})?{build}?)?)?");
    let xr_plain_loose = format!(
        "[v=\\s]*({xr_id_loose})(?:\\.({xr_id_loose})(?:\\.({xr_id_loose})(?:{pre_loose})?{build}?)?)?"
    );
    let lone_tilde = "(?:~>?)";
    let lone_caret = "(?:\\^)";

    // `re` (unbounded) is only used for the build stripper; everything else is `safeRe`.
    let unsafe_re = |src: &str| Regex::new(src).expect("node-semver pattern compiles");
    let safe = |src: &str| Regex::new(&make_safe(src)).expect("node-semver pattern compiles");
    Patterns {
        full: safe(&format!("^{full_plain}$")),
        loose: safe(&format!("^{loose_plain}$")),
        build_strip: unsafe_re(&build),
        build: safe(&build),
        hyphen: safe(&format!("^\\s*({xr_plain})\\s+-\\s+({xr_plain})\\s*$")),
        hyphen_loose: safe(&format!(
            "^\\s*({xr_plain_loose})\\s+-\\s+({xr_plain_loose})\\s*$"
        )),
        comparator_trim: safe(&format!("(\\s*){gtlt}\\s*({loose_plain}|{xr_plain})")),
        tilde_trim: safe(&format!("(\\s*){lone_tilde}\\s+")),
        caret_trim: safe(&format!("(\\s*){lone_caret}\\s+")),
        tilde: safe(&format!("^{lone_tilde}{xr_plain}$")),
        tilde_loose: safe(&format!("^{lone_tilde}{xr_plain_loose}$")),
        caret: safe(&format!("^{lone_caret}{xr_plain}$")),
        caret_loose: safe(&format!("^{lone_caret}{xr_plain_loose}$")),
        xrange: safe(&format!("^{gtlt}\\s*{xr_plain}$")),
        xrange_loose: safe(&format!("^{gtlt}\\s*{xr_plain_loose}$")),
        star: safe("(<|>)?=?\\s*\\*"),
        gte0: safe("^\\s*>=\\s*0\\.0\\.0\\s*$"),
        gte0_pre: safe("^\\s*>=\\s*0\\.0\\.0-0\\s*$"),
        comparator: safe(&format!("^{gtlt}\\s*({full_plain})$|^$")),
        comparator_loose: safe(&format!("^{gtlt}\\s*({loose_plain})$|^$")),
    }
});

/// JavaScript's `String.prototype.trim` (which also strips the BOM).
fn js_trim(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// `text.split(/\s+/)`, keeping the empty pieces JavaScript keeps at either end.
fn split_ws(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_whitespace() {
            pieces.push(&text[start..i]);
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if !d.is_whitespace() {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            start = end;
        }
    }
    pieces.push(&text[start..]);
    pieces
}

/// `str.replace(regex, fn)` without the global flag: the first match only.
fn replace_first(text: &str, re: &Regex, f: impl FnOnce(&Captures<'_>) -> String) -> String {
    match re.captures(text) {
        Some(caps) => {
            let whole = caps.get(0).expect("group 0 always matches");
            format!(
                "{}{}{}",
                &text[..whole.start()],
                f(&caps),
                &text[whole.end()..]
            )
        }
        None => text.to_string(),
    }
}

fn group<'t>(caps: &Captures<'t>, i: usize) -> Option<&'t str> {
    caps.get(i).map(|m| m.as_str())
}

/// `+text + 1` for a run of digits: the successor, or a value past `MAX_SAFE_INTEGER`
/// (which no later parse accepts) when JavaScript would lose precision.
fn succ(text: &str) -> String {
    match text.parse::<u64>() {
        Ok(n) if n < MAX_SAFE_INTEGER => (n + 1).to_string(),
        _ => (MAX_SAFE_INTEGER + 1).to_string(),
    }
}

fn is_x(id: Option<&str>) -> bool {
    match id {
        None | Some("") => true,
        Some(id) => id.eq_ignore_ascii_case("x") || id == "*",
    }
}

// ---- SemVer ----

/// A prerelease identifier: numeric ones compare as numbers and sort before the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    Numeric(u64),
    Text(String),
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identifier::Numeric(n) => write!(f, "{n}"),
            Identifier::Text(t) => f.write_str(t),
        }
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Compare numeric strings by value without overflow.
fn cmp_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `compareIdentifiers` of internal/identifiers.js.
fn compare_identifiers(a: &Identifier, b: &Identifier) -> Ordering {
    match (a, b) {
        (Identifier::Numeric(a), Identifier::Numeric(b)) => a.cmp(b),
        _ => {
            let (a, b) = (a.to_string(), b.to_string());
            let (anum, bnum) = (is_digits(&a), is_digits(&b));
            if anum && bnum {
                cmp_digits(&a, &b)
            } else if a == b {
                Ordering::Equal
            } else if anum {
                Ordering::Less
            } else if bnum {
                Ordering::Greater
            } else {
                a.cmp(&b)
            }
        }
    }
}

/// A parsed version (`classes/semver.js`).
#[derive(Debug, Clone)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub prerelease: Vec<Identifier>,
    pub build: Vec<String>,
    /// The formatted version, without build metadata (node-semver's `version`).
    text: String,
}

/// A numeric identifier as the strict grammar has it: `0` or no leading zero.
fn strict_number(text: &str) -> Option<u64> {
    let valid = is_digits(text) && (text == "0" || !text.starts_with('0'));
    valid.then(|| text.parse::<u64>().ok()).flatten()
}

/// The strict grammar (`FULL`) for the usual `1.2.3[-pre][+build]`, without the
/// regular expression: registry documents hold thousands of versions and this is hot.
/// It accepts a subset of what the expression accepts, with the same parts; anything
/// it does not accept goes to the expression.
fn parse_plain(text: &str) -> Option<Version> {
    let text = text.strip_prefix('v').unwrap_or(text);
    let (rest, build) = match text.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (text, None),
    };
    let (main, pre) = match rest.split_once('-') {
        Some((main, pre)) => (main, Some(pre)),
        None => (rest, None),
    };
    let mut parts = main.split('.');
    let (major, minor, patch) = (
        strict_number(parts.next()?)?,
        strict_number(parts.next()?)?,
        strict_number(parts.next()?)?,
    );
    if parts.next().is_some() || [major, minor, patch].iter().any(|&n| n > MAX_SAFE_INTEGER) {
        return None;
    }
    let ident_chars =
        |id: &str| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let mut prerelease = Vec::new();
    if let Some(pre) = pre {
        for id in pre.split('.') {
            if !ident_chars(id) {
                return None;
            }
            if is_digits(id) {
                let n = strict_number(id)?;
                if n >= MAX_SAFE_INTEGER {
                    return None;
                }
                prerelease.push(Identifier::Numeric(n));
            } else {
                prerelease.push(Identifier::Text(id.to_string()));
            }
        }
    }
    let mut build_ids = Vec::new();
    if let Some(build) = build {
        for id in build.split('.') {
            if !ident_chars(id) || id.len() > MAX_SAFE_BUILD_LENGTH {
                return None;
            }
            build_ids.push(id.to_string());
        }
    }
    Some(Version::from_parts(
        major, minor, patch, prerelease, build_ids,
    ))
}

impl Version {
    pub fn parse(text: &str, loose: bool) -> Option<Version> {
        if text.len() > MAX_LENGTH {
            return None;
        }
        if let Some(version) = parse_plain(js_trim(text)) {
            return Some(version);
        }
        let patterns = &*PATTERNS;
        let re = if loose {
            &patterns.loose
        } else {
            &patterns.full
        };
        let caps = re.captures(js_trim(text))?;
        let component = |i: usize| -> Option<u64> {
            let value = caps.get(i)?.as_str().parse::<u64>().ok()?;
            (value <= MAX_SAFE_INTEGER).then_some(value)
        };
        let (major, minor, patch) = (component(1)?, component(2)?, component(3)?);
        let prerelease = match group(&caps, 4) {
            None | Some("") => Vec::new(),
            Some(pre) => pre
                .split('.')
                .map(|id| match id.parse::<u64>() {
                    Ok(n) if is_digits(id) && n < MAX_SAFE_INTEGER => Identifier::Numeric(n),
                    _ => Identifier::Text(id.to_string()),
                })
                .collect(),
        };
        let build = match group(&caps, 5) {
            None | Some("") => Vec::new(),
            Some(build) => build.split('.').map(str::to_string).collect(),
        };
        Some(Version::from_parts(major, minor, patch, prerelease, build))
    }

    fn from_parts(
        major: u64,
        minor: u64,
        patch: u64,
        prerelease: Vec<Identifier>,
        build: Vec<String>,
    ) -> Version {
        let mut text = format!("{major}.{minor}.{patch}");
        if !prerelease.is_empty() {
            let ids: Vec<String> = prerelease.iter().map(Identifier::to_string).collect();
            text.push('-');
            text.push_str(&ids.join("."));
        }
        Version {
            major,
            minor,
            patch,
            prerelease,
            build,
            text,
        }
    }

    /// The version as node-semver formats it (`1.2.3-beta.1`, no build metadata).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_prerelease(&self) -> bool {
        !self.prerelease.is_empty()
    }

    fn compare_main(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch))
    }

    fn compare_pre(&self, other: &Version) -> Ordering {
        match (self.prerelease.is_empty(), other.prerelease.is_empty()) {
            (false, true) => return Ordering::Less,
            (true, false) => return Ordering::Greater,
            (true, true) => return Ordering::Equal,
            (false, false) => {}
        }
        for i in 0.. {
            match (self.prerelease.get(i), other.prerelease.get(i)) {
                (None, None) => return Ordering::Equal,
                (Some(_), None) => return Ordering::Greater,
                (None, Some(_)) => return Ordering::Less,
                (Some(a), Some(b)) if a == b => continue,
                (Some(a), Some(b)) => return compare_identifiers(a, b),
            }
        }
        Ordering::Equal
    }

    /// Precedence: build metadata never counts.
    pub fn compare(&self, other: &Version) -> Ordering {
        if self.text == other.text {
            return Ordering::Equal;
        }
        self.compare_main(other)
            .then_with(|| self.compare_pre(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.compare(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.compare(other)
    }
}

/// `semver.valid(text, loose)`.
pub fn valid(text: &str, loose: bool) -> Option<String> {
    Version::parse(text, loose).map(|v| v.text)
}

/// `semver.clean(text, { loose: true })` as npm-pick-manifest uses it.
pub fn clean(text: &str) -> Option<String> {
    let trimmed = js_trim(text).trim_start_matches(['=', 'v']);
    valid(trimmed, true)
}

// ---- Comparator ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "",
            Op::Gt => ">",
            Op::Gte => ">=",
            Op::Lt => "<",
            Op::Lte => "<=",
        }
    }

    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Op::Eq => ordering == Ordering::Equal,
            Op::Gt => ordering == Ordering::Greater,
            Op::Gte => ordering != Ordering::Less,
            Op::Lt => ordering == Ordering::Less,
            Op::Lte => ordering != Ordering::Greater,
        }
    }
}

/// One `op version` test; `semver: None` is node-semver's `ANY` (the empty comparator).
#[derive(Debug, Clone)]
pub struct Comparator {
    op: Op,
    semver: Option<Version>,
    value: String,
}

impl Comparator {
    pub fn parse(text: &str, options: Options) -> Option<Comparator> {
        let text = split_ws(js_trim(text)).join(" ");
        let patterns = &*PATTERNS;
        let re = if options.loose {
            &patterns.comparator_loose
        } else {
            &patterns.comparator
        };
        let caps = re.captures(&text)?;
        let op = match group(&caps, 1).unwrap_or("") {
            "" | "=" => Op::Eq,
            ">" => Op::Gt,
            ">=" => Op::Gte,
            "<" => Op::Lt,
            "<=" => Op::Lte,
            _ => return None,
        };
        let semver = match group(&caps, 2) {
            None | Some("") => None,
            Some(version) => Some(Version::parse(version, options.loose)?),
        };
        let value = match &semver {
            None => String::new(),
            Some(v) => format!("{}{}", op.as_str(), v.text),
        };
        Some(Comparator { op, semver, value })
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    pub fn test(&self, version: &Version) -> bool {
        match &self.semver {
            None => true,
            Some(semver) => self.op.holds(version.compare(semver)),
        }
    }

    fn is_null_set(&self) -> bool {
        self.value == "<0.0.0-0"
    }

    fn is_any(&self) -> bool {
        self.value.is_empty()
    }

    /// `Comparator.prototype.intersects`.
    pub fn intersects(&self, other: &Comparator, options: Options) -> bool {
        let (this_semver, other_semver) = match (&self.semver, &other.semver) {
            _ if self.op == Op::Eq && self.is_any() => return true,
            _ if self.op == Op::Eq => {
                return Range::parse(&other.value, options)
                    .is_some_and(|r| r.test_str(&self.value));
            }
            _ if other.op == Op::Eq && other.is_any() => return true,
            (_, Some(other_semver)) if other.op == Op::Eq => {
                return Range::parse(&self.value, options).is_some_and(|r| r.test(other_semver));
            }
            (Some(a), Some(b)) => (a, b),
            _ => return true,
        };
        if options.include_prerelease && (self.value == "<0.0.0-0" || other.value == "<0.0.0-0") {
            return false;
        }
        if !options.include_prerelease
            && (self.value.starts_with("<0.0.0") || other.value.starts_with("<0.0.0"))
        {
            return false;
        }
        let (a, b) = (self.op.as_str(), other.op.as_str());
        if a.starts_with('>') && b.starts_with('>') {
            return true;
        }
        if a.starts_with('<') && b.starts_with('<') {
            return true;
        }
        if this_semver.text == other_semver.text && a.contains('=') && b.contains('=') {
            return true;
        }
        let ordering = this_semver.compare(other_semver);
        if ordering == Ordering::Less && a.starts_with('>') && b.starts_with('<') {
            return true;
        }
        ordering == Ordering::Greater && a.starts_with('<') && b.starts_with('>')
    }
}

// ---- Range ----

/// A range: OR of AND-ed comparator lists (`classes/range.js`).
#[derive(Debug, Clone)]
pub struct Range {
    set: Vec<Vec<Comparator>>,
    options: Options,
}

impl Range {
    /// `new Range(text, options)`; `None` where node-semver throws.
    pub fn parse(text: &str, options: Options) -> Option<Range> {
        let raw = split_ws(js_trim(text)).join(" ");
        let mut set = Vec::new();
        for part in raw.split("||") {
            let comparators = parse_range(js_trim(part), options)?;
            if !comparators.is_empty() {
                set.push(comparators);
            }
        }
        if set.is_empty() {
            return None;
        }
        if set.len() > 1 {
            let first = set[0].clone();
            set.retain(|c| !c[0].is_null_set());
            if set.is_empty() {
                set = vec![first];
            } else if set.len() > 1
                && let Some(any) = set.iter().find(|c| c.len() == 1 && c[0].is_any())
            {
                set = vec![any.clone()];
            }
        }
        Some(Range { set, options })
    }

    /// node-semver's `range` string (`>=1.2.3 <2.0.0-0||3.x`); empty for `*`.
    pub fn formatted(&self) -> String {
        self.set
            .iter()
            .map(|comparators| {
                comparators
                    .iter()
                    .map(|c| js_trim(&c.value).to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("||")
    }

    /// Whether any comparator list passes, with npm's prerelease rule.
    pub fn test(&self, version: &Version) -> bool {
        self.set
            .iter()
            .any(|comparators| test_set(comparators, version, self.options))
    }

    /// `range.test(string)`: a version that does not parse never satisfies.
    pub fn test_str(&self, version: &str) -> bool {
        !version.is_empty()
            && Version::parse(version, self.options.loose).is_some_and(|v| self.test(&v))
    }

    /// `Range.prototype.intersects`.
    pub fn intersects(&self, other: &Range, options: Options) -> bool {
        self.set.iter().any(|these| {
            is_satisfiable(these, options)
                && other.set.iter().any(|those| {
                    is_satisfiable(those, options)
                        && these
                            .iter()
                            .all(|a| those.iter().all(|b| a.intersects(b, options)))
                })
        })
    }
}

fn is_satisfiable(comparators: &[Comparator], options: Options) -> bool {
    let mut remaining: Vec<&Comparator> = comparators.iter().collect();
    let mut test = remaining.pop();
    let mut result = true;
    while result && !remaining.is_empty() {
        let current = test.expect("set while comparators remain");
        result = remaining
            .iter()
            .all(|other| current.intersects(other, options));
        test = remaining.pop();
    }
    result
}

fn test_set(comparators: &[Comparator], version: &Version, options: Options) -> bool {
    if !comparators.iter().all(|c| c.test(version)) {
        return false;
    }
    if version.is_prerelease() && !options.include_prerelease {
        // A prerelease passes only if some comparator names the same [major, minor, patch]
        // with a prerelease of its own: `^1.2.3-pr.1` allows 1.2.3-pr.2, not 1.2.4-alpha.
        return comparators.iter().any(|c| {
            c.semver.as_ref().is_some_and(|allowed| {
                allowed.is_prerelease()
                    && allowed.major == version.major
                    && allowed.minor == version.minor
                    && allowed.patch == version.patch
            })
        });
    }
    true
}

/// `Range.prototype.parseRange` for one `||` alternative.
fn parse_range(range: &str, options: Options) -> Option<Vec<Comparator>> {
    let patterns = &*PATTERNS;
    let range = patterns.build_strip.replace_all(range, "").into_owned();
    let hyphen = if options.loose {
        &patterns.hyphen_loose
    } else {
        &patterns.hyphen
    };
    let range = replace_first(&range, hyphen, |caps| {
        hyphen_replace(caps, options.include_prerelease)
    });
    let range = patterns
        .comparator_trim
        .replace_all(&range, "$1$2$3")
        .into_owned();
    let range = patterns.tilde_trim.replace_all(&range, "$1~").into_owned();
    let range = patterns.caret_trim.replace_all(&range, "$1^").into_owned();

    let desugared: Vec<String> = range
        .split(' ')
        .map(|comp| parse_comparator(comp, options))
        .collect();
    let joined = desugared.join(" ");
    let gte0 = if options.include_prerelease {
        &patterns.gte0_pre
    } else {
        &patterns.gte0
    };
    let mut list: Vec<String> = split_ws(&joined)
        .into_iter()
        .map(|comp| gte0.replace(js_trim(comp), "").into_owned())
        .collect();
    if options.loose {
        list.retain(|comp| patterns.comparator_loose.is_match(comp));
    }

    let mut result: Vec<Comparator> = Vec::new();
    for text in &list {
        let comparator = Comparator::parse(text, options)?;
        if comparator.is_null_set() {
            return Some(vec![comparator]);
        }
        // A Map keyed by value: the first position is kept, the value replaced.
        match result.iter_mut().find(|c| c.value == comparator.value) {
            Some(existing) => *existing = comparator,
            None => result.push(comparator),
        }
    }
    if result.len() > 1 && result.iter().any(Comparator::is_any) {
        result.retain(|c| !c.is_any());
    }
    Some(result)
}

fn parse_comparator(comp: &str, options: Options) -> String {
    let patterns = &*PATTERNS;
    let comp = patterns.build.replace(comp, "").into_owned();
    let comp = map_words(&comp, |c| replace_caret(c, options));
    let comp = map_words(&comp, |c| replace_tilde(c, options));
    let comp = split_ws(&comp)
        .into_iter()
        .map(|c| replace_xrange(c, options))
        .collect::<Vec<_>>()
        .join(" ");
    patterns.star.replace(js_trim(&comp), "").into_owned()
}

/// `comp.trim().split(/\s+/).map(f).join(' ')`.
fn map_words(comp: &str, f: impl Fn(&str) -> String) -> String {
    split_ws(js_trim(comp))
        .into_iter()
        .map(f)
        .collect::<Vec<_>>()
        .join(" ")
}

fn replace_caret(comp: &str, options: Options) -> String {
    let patterns = &*PATTERNS;
    let re = if options.loose {
        &patterns.caret_loose
    } else {
        &patterns.caret
    };
    let z = if options.include_prerelease { "-0" } else { "" };
    replace_first(comp, re, |caps| {
        let (major, minor, patch, pr) = (
            group(caps, 1),
            group(caps, 2),
            group(caps, 3),
            group(caps, 4),
        );
        let (mj, mn, pt) = (
            major.unwrap_or(""),
            minor.unwrap_or(""),
            patch.unwrap_or(""),
        );
        if is_x(major) {
            String::new()
        } else if is_x(minor) {
            format!(">={mj}.0.0{z} <{}.0.0-0", succ(mj))
        } else if is_x(patch) {
            if mj == "0" {
                format!(">={mj}.{mn}.0{z} <{mj}.{}.0-0", succ(mn))
            } else {
                format!(">={mj}.{mn}.0{z} <{}.0.0-0", succ(mj))
            }
        } else {
            let from = match pr {
                Some(pr) if !pr.is_empty() => format!(">={mj}.{mn}.{pt}-{pr}"),
                _ => format!(">={mj}.{mn}.{pt}"),
            };
            let to = if mj == "0" {
                if mn == "0" {
                    format!("<{mj}.{mn}.{}-0", succ(pt))
                } else {
                    format!("<{mj}.{}.0-0", succ(mn))
                }
            } else {
                format!("<{}.0.0-0", succ(mj))
            };
            format!("{from} {to}")
        }
    })
}

fn replace_tilde(comp: &str, options: Options) -> String {
    let patterns = &*PATTERNS;
    let re = if options.loose {
        &patterns.tilde_loose
    } else {
        &patterns.tilde
    };
    let z = if options.include_prerelease { "-0" } else { "" };
    replace_first(comp, re, |caps| {
        let (major, minor, patch, pr) = (
            group(caps, 1),
            group(caps, 2),
            group(caps, 3),
            group(caps, 4),
        );
        let (mj, mn, pt) = (
            major.unwrap_or(""),
            minor.unwrap_or(""),
            patch.unwrap_or(""),
        );
        if is_x(major) {
            String::new()
        } else if is_x(minor) {
            format!(">={mj}.0.0{z} <{}.0.0-0", succ(mj))
        } else if is_x(patch) {
            format!(">={mj}.{mn}.0{z} <{mj}.{}.0-0", succ(mn))
        } else {
            match pr {
                Some(pr) if !pr.is_empty() => {
                    format!(">={mj}.{mn}.{pt}-{pr} <{mj}.{}.0-0", succ(mn))
                }
                _ => format!(">={mj}.{mn}.{pt} <{mj}.{}.0-0", succ(mn)),
            }
        }
    })
}

fn replace_xrange(comp: &str, options: Options) -> String {
    let comp = js_trim(comp);
    let patterns = &*PATTERNS;
    let re = if options.loose {
        &patterns.xrange_loose
    } else {
        &patterns.xrange
    };
    replace_first(comp, re, |caps| {
        let whole = group(caps, 0).unwrap_or("");
        let mut gtlt = group(caps, 1).unwrap_or("").to_string();
        let (major, minor, patch) = (group(caps, 2), group(caps, 3), group(caps, 4));
        // invalidXRangeOrder: `x.1`, `1.x.2` are not ranges.
        if (is_x(major) && !is_x(minor))
            || (is_x(minor) && patch.is_some_and(|p| !p.is_empty()) && !is_x(patch))
        {
            return comp.to_string();
        }
        let xmajor = is_x(major);
        let xminor = xmajor || is_x(minor);
        let xpatch = xminor || is_x(patch);
        let any_x = xpatch;
        if gtlt == "=" && any_x {
            gtlt = String::new();
        }
        let mut pr = if options.include_prerelease { "-0" } else { "" };
        let mut mj = major.unwrap_or("").to_string();
        let mut mn = minor.unwrap_or("").to_string();
        if xmajor {
            if gtlt == ">" || gtlt == "<" {
                "<0.0.0-0".to_string()
            } else {
                "*".to_string()
            }
        } else if !gtlt.is_empty() && any_x {
            if xminor {
                mn = "0".into();
            }
            // The patch is an x here (some part is), so it becomes 0.
            let pt = "0";
            if gtlt == ">" {
                gtlt = ">=".into();
                if xminor {
                    mj = succ(&mj);
                    mn = "0".into();
                } else {
                    mn = succ(&mn);
                }
            } else if gtlt == "<=" {
                gtlt = "<".into();
                if xminor {
                    mj = succ(&mj);
                } else {
                    mn = succ(&mn);
                }
            }
            if gtlt == "<" {
                pr = "-0";
            }
            format!("{gtlt}{mj}.{mn}.{pt}{pr}")
        } else if xminor {
            format!(">={mj}.0.0{pr} <{}.0.0-0", succ(&mj))
        } else if xpatch {
            format!(">={mj}.{mn}.0{pr} <{mj}.{}.0-0", succ(&mn))
        } else {
            whole.to_string()
        }
    })
}

/// The replacement for `1.2.3 - 2.3.4` (`hyphenReplace`).
fn hyphen_replace(caps: &Captures<'_>, include_prerelease: bool) -> String {
    let z = if include_prerelease { "-0" } else { "" };
    let from = group(caps, 1).unwrap_or("");
    let (f_major, f_minor, f_patch, f_pre) = (
        group(caps, 2),
        group(caps, 3),
        group(caps, 4),
        group(caps, 5),
    );
    let to = group(caps, 7).unwrap_or("");
    let (t_major, t_minor, t_patch, t_pre) = (
        group(caps, 8),
        group(caps, 9),
        group(caps, 10),
        group(caps, 11),
    );
    let (fmj, fmn) = (f_major.unwrap_or(""), f_minor.unwrap_or(""));
    let from = if is_x(f_major) {
        String::new()
    } else if is_x(f_minor) {
        format!(">={fmj}.0.0{z}")
    } else if is_x(f_patch) {
        format!(">={fmj}.{fmn}.0{z}")
    } else if f_pre.is_some_and(|p| !p.is_empty()) {
        format!(">={from}")
    } else {
        format!(">={from}{z}")
    };
    let (tmj, tmn, tpt) = (
        t_major.unwrap_or(""),
        t_minor.unwrap_or(""),
        t_patch.unwrap_or(""),
    );
    let to = if is_x(t_major) {
        String::new()
    } else if is_x(t_minor) {
        format!("<{}.0.0-0", succ(tmj))
    } else if is_x(t_patch) {
        format!("<{tmj}.{}.0-0", succ(tmn))
    } else if let Some(pre) = t_pre.filter(|p| !p.is_empty()) {
        format!("<={tmj}.{tmn}.{tpt}-{pre}")
    } else if include_prerelease {
        format!("<{tmj}.{tmn}.{}-0", succ(tpt))
    } else {
        format!("<={to}")
    };
    js_trim(&format!("{from} {to}")).to_string()
}

// ---- functions and ranges/ ----

/// `semver.validRange(text, options)`: the canonical form, `*` for any version.
pub fn valid_range(text: &str, options: Options) -> Option<String> {
    let range = Range::parse(text, options)?;
    let formatted = range.formatted();
    Some(if formatted.is_empty() {
        "*".into()
    } else {
        formatted
    })
}

/// `semver.satisfies(version, range, options)`.
pub fn satisfies(version: &str, range: &str, options: Options) -> bool {
    Range::parse(range, options).is_some_and(|r| r.test_str(version))
}

/// `semver.maxSatisfying`: the first highest version, as written.
pub fn max_satisfying<'v>(versions: &[&'v str], range: &str, options: Options) -> Option<&'v str> {
    best_satisfying(versions, range, options, Ordering::Less)
}

/// `semver.minSatisfying`: the first lowest version, as written.
pub fn min_satisfying<'v>(versions: &[&'v str], range: &str, options: Options) -> Option<&'v str> {
    best_satisfying(versions, range, options, Ordering::Greater)
}

fn best_satisfying<'v>(
    versions: &[&'v str],
    range: &str,
    options: Options,
    replace_when: Ordering,
) -> Option<&'v str> {
    let range = Range::parse(range, options)?;
    let mut best: Option<(&'v str, Version)> = None;
    for &text in versions {
        if !range.test_str(text) {
            continue;
        }
        let Some(version) = Version::parse(text, options.loose) else {
            continue;
        };
        if best
            .as_ref()
            .is_none_or(|(_, b)| b.compare(&version) == replace_when)
        {
            best = Some((text, version));
        }
    }
    best.map(|(text, _)| text)
}

/// `semver.minVersion(range)`.
pub fn min_version(range: &str, options: Options) -> Option<Version> {
    let range = Range::parse(range, options)?;
    for candidate in ["0.0.0", "0.0.0-0"] {
        let version = Version::parse(candidate, false).expect("literal version");
        if range.test(&version) {
            return Some(version);
        }
    }
    let mut min: Option<Version> = None;
    for comparators in &range.set {
        let mut set_min: Option<Version> = None;
        for comparator in comparators {
            let Some(semver) = &comparator.semver else {
                continue;
            };
            let candidate = match comparator.op {
                Op::Gt => {
                    let (mut patch, mut pre) = (semver.patch, semver.prerelease.clone());
                    if pre.is_empty() {
                        patch += 1;
                    } else {
                        pre.push(Identifier::Numeric(0));
                    }
                    Version::from_parts(semver.major, semver.minor, patch, pre, Vec::new())
                }
                Op::Eq | Op::Gte => semver.clone(),
                Op::Lt | Op::Lte => continue,
            };
            if set_min
                .as_ref()
                .is_none_or(|m| candidate.compare(m) == Ordering::Greater)
            {
                set_min = Some(candidate);
            }
        }
        if let Some(set_min) = set_min
            && min
                .as_ref()
                .is_none_or(|m| m.compare(&set_min) == Ordering::Greater)
        {
            min = Some(set_min);
        }
    }
    min.filter(|m| range.test(m))
}

/// Which side of a range [`outside`] asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `gtr`: greater than every version the range allows.
    Above,
    /// `ltr`: less than every version the range allows.
    Below,
}

/// `semver.outside(version, range, hilo, options)`; `None` where node-semver throws.
pub fn outside(version: &str, range: &str, side: Side, options: Options) -> Option<bool> {
    let version = Version::parse(version, options.loose)?;
    let range = Range::parse(range, options)?;
    if range.test(&version) {
        return Some(false);
    }
    let (gt, comp, ecomp) = match side {
        Side::Above => (Ordering::Greater, Op::Gt, Op::Gte),
        Side::Below => (Ordering::Less, Op::Lt, Op::Lte),
    };
    let lt = gt.reverse();
    let any = Comparator::parse(">=0.0.0", Options::STRICT).expect("literal comparator");
    for comparators in &range.set {
        let mut high: Option<&Comparator> = None;
        let mut low: Option<&Comparator> = None;
        for comparator in comparators {
            let comparator = if comparator.semver.is_none() {
                &any
            } else {
                comparator
            };
            let h = *high.get_or_insert(comparator);
            let l = *low.get_or_insert(comparator);
            let semver = comparator.semver.as_ref().expect("ANY replaced above");
            if semver.compare(h.semver.as_ref().expect("not ANY")) == gt {
                high = Some(comparator);
            } else if semver.compare(l.semver.as_ref().expect("not ANY")) == lt {
                low = Some(comparator);
            }
        }
        let (Some(high), Some(low)) = (high, low) else {
            continue;
        };
        if high.op == comp || high.op == ecomp {
            return Some(false);
        }
        let low_semver = low.semver.as_ref().expect("not ANY");
        let ordering = version.compare(low_semver);
        // `ltefn(version, low.semver)` and `ltfn(version, low.semver)` in the flipped sense.
        let below = ordering == lt;
        if ((low.op == Op::Eq || low.op == comp) && (below || ordering == Ordering::Equal))
            || (low.op == ecomp && below)
        {
            return Some(false);
        }
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carets_tildes_and_x_ranges_desugar_like_node_semver() {
        let canonical = |r: &str| valid_range(r, Options::STRICT);
        assert_eq!(canonical("^1.2.3").as_deref(), Some(">=1.2.3 <2.0.0-0"));
        assert_eq!(canonical("~1.2").as_deref(), Some(">=1.2.0 <1.3.0-0"));
        assert_eq!(
            canonical("1.x || >=2.5.0").as_deref(),
            Some(">=1.0.0 <2.0.0-0||>=2.5.0")
        );
        assert_eq!(
            canonical("1.2.3 - 2.3").as_deref(),
            Some(">=1.2.3 <2.4.0-0")
        );
        assert_eq!(canonical("*").as_deref(), Some("*"));
        assert_eq!(canonical("1.x.5"), None);
    }

    #[test]
    fn prereleases_need_a_matching_tuple() {
        assert!(satisfies("1.2.3-pr.2", "^1.2.3-pr.1", Options::LOOSE));
        assert!(!satisfies("1.2.4-alpha", "^1.2.3-pr.1", Options::LOOSE));
        assert!(!satisfies("0.169.0-linux-x64", "*", Options::LOOSE));
        assert!(satisfies(
            "0.169.0-linux-x64",
            "0.169.0-linux-x64",
            Options::LOOSE
        ));
        let engines = Options {
            loose: false,
            include_prerelease: true,
        };
        assert!(satisfies("23.0.0-nightly", ">=22", engines));
    }
}
