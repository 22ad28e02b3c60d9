//! The closure of a package list, chosen the way `apt-get install` chooses it.
//!
//! This is a port of apt 2.6's marking algorithm (`pkgDepCache::MarkInstall` and its
//! helpers in `apt-pkg/depcache.cc`, the candidate policy of `apt-pkg/policy.cc`), not a
//! general SAT solver, because the lock must hold what apt would install:
//!
//! - **Candidates** (`pkgPolicy::GetCandidateVer`): per package, the highest-priority
//!   version, the highest version among equals; an index's priority is 500, 100 for
//!   `NotAutomatic: yes` + `ButAutomaticUpgrades: yes` (backports), 1 for
//!   `NotAutomatic: yes` alone; the installed version counts 100 and is never downgraded.
//! - **Marking**: every requested package is marked first without dependencies, then each
//!   in order with them, depth first. Each dependency group (`Pre-Depends`, `Depends`,
//!   and `Recommends` when enabled) already satisfied by the future state is left alone;
//!   otherwise its solutions (the target's candidate and the candidates of packages that
//!   `Provides` it, versioned provides included) are ordered as apt orders them
//!   (packages already installed first, then the target itself, then `Essential`,
//!   `Priority` and apt's package order) and the first that installs wins. A dependency
//!   whose solution fails is discarded and the next alternative tried.
//! - **Installed packages** that satisfy a dependency stay; an installed version too old
//!   for a new dependency is upgraded; installed packages whose versioned dependencies
//!   the upgrade would break are upgraded too, as are installed binaries of the same
//!   source; a `Recommends` of an installed package that was not satisfied before is not
//!   pulled in.
//! - `Conflicts`/`Breaks`: an installed package broken by the new set is upgraded when its
//!   candidate fixes it; when only a removal would, the closure fails and names both.
//! - `:any` needs a `Multi-Arch: allowed` version (apt's implicit `pkg:any` provides);
//!   `:native` and the target's own architecture read as plain names.
//!
//! Not ported: apt's scoring problem resolver (`pkgProblemResolver`), which apt runs only
//! when marking leaves something broken; there this solver reports the unmet dependencies
//! with the chain that led to them instead.
//!
//! Parsing splits each index into chunks at paragraph boundaries and parses them in
//! parallel (rayon), a window of chunks at a time; the universe is then interned in index
//! order so package ids follow apt's creation order (the last tie-break apt uses between
//! otherwise equal providers). Every stanza gives its package, version, `Provides` and
//! the names its relationship fields mention (they create packages); the fields
//! themselves stay raw text until a solve reaches the version ([`Universe::deps_for`]),
//! so a closure of a few hundred packages parses a few thousand dependency fields, not
//! the 60 000 of a whole index. A version keeps only what candidate choice reads (its
//! version, priority, architecture) and where its stanza is; packages keep runs in
//! shared lists rather than vectors of their own, so the universe of a 63 000-package
//! index stays a small fraction of the index text.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use rayon::prelude::*;
use serde::Serialize;

use super::control::{self, Dep, DpkgStatus, Stanza};
use super::version::{Relation, Version};

/// One `Packages` index, in the order apt would read it (sources order).
#[derive(Debug, Clone)]
pub struct Index<'a> {
    pub text: &'a str,
    /// apt's pin priority for this index (500, 100 for backports, 1 for NotAutomatic).
    pub priority: i32,
    /// How messages name it (`bookworm/main`).
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// The Debian architecture (`amd64`); `all` packages are read as this architecture.
    pub arch: String,
    /// Install `Recommends` (apt's default is yes).
    pub recommends: bool,
}

/// One entry of the spec's package list: alternatives, the first that exists wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wanted {
    pub alternatives: Vec<String>,
}

impl Wanted {
    /// `libgl1-mesa-glx | libgl1` → two alternatives.
    pub fn parse(text: &str) -> Result<Wanted, String> {
        let alternatives: Vec<String> = text.split('|').map(|a| a.trim().to_string()).collect();
        if alternatives
            .iter()
            .any(|a| a.is_empty() || a.contains(char::is_whitespace))
        {
            return Err(format!(
                "`{text}` is not a package name or `a | b` alternatives"
            ));
        }
        Ok(Wanted { alternatives })
    }
}

impl fmt::Display for Wanted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.alternatives.join(" | "))
    }
}

/// One `.deb` of the closure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub name: String,
    pub version: String,
    /// `amd64` or `all`.
    pub arch: String,
    /// Path below the archive root (`pool/main/n/nano/nano_7.2-1_amd64.deb`).
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    /// The index the file comes from (the first, in sources order, with the highest
    /// priority among those listing this version).
    pub index: usize,
    /// Named in the request (rather than pulled in by a dependency).
    pub requested: bool,
    /// Closure members that depend on (or recommend) this one.
    pub required_by: Vec<String>,
    /// The installed version this replaces, for upgrades.
    pub upgrades: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SolveError {
    #[error("{0}")]
    Index(String),
    #[error(
        "no package `{name}` in {searched}{}",
        if closest.is_empty() { String::new() } else { format!("; closest names: {}", closest.join(", ")) }
    )]
    NotFound {
        name: String,
        searched: String,
        closest: Vec<String>,
    },
    #[error("`{name}` is a virtual package provided by {}; name one of them", providers.join(", "))]
    Virtual {
        name: String,
        providers: Vec<String>,
    },
    #[error("unmet dependencies:\n{report}")]
    Unsatisfiable { report: String },
    #[error("conflicts:\n{report}")]
    Conflict { report: String },
}

/// Parse and solve in one call.
pub fn solve(
    indices: &[Index<'_>],
    status: &str,
    wanted: &[Wanted],
    options: &Options,
) -> Result<Vec<Choice>, SolveError> {
    Universe::build(indices, status, &options.arch)?.solve(wanted, options.recommends)
}

/// A package-specific pin lookup: (package, version, indices listing it) → priority.
pub type VersionPin<'p> = dyn Fn(&str, &str, &[usize]) -> Option<i32> + Sync + 'p;

/// [`solve`] with package-specific pins (apt's `VerPins`): `pin(package, version,
/// indices)` gives the priority that replaces the version's own (the highest of its
/// indices'), `None` to keep it. `indices` are the positions of the indices listing it.
pub fn solve_pinned(
    indices: &[Index<'_>],
    status: &str,
    wanted: &[Wanted],
    options: &Options,
    pin: &VersionPin<'_>,
) -> Result<Vec<Choice>, SolveError> {
    let mut universe = Universe::build(indices, status, &options.arch)?;
    universe.pin_versions(pin);
    universe.solve(wanted, options.recommends)
}

/// Stack for the marking thread: apt's depth limit (3000) times a few KiB per level.
const MARKING_STACK: usize = 64 * 1024 * 1024;

type PkgId = u32;
type VerId = u32;
const STATUS_FILE: usize = usize::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DepKind {
    PreDepends,
    Depends,
    Conflicts,
    Breaks,
    Recommends,
}

impl DepKind {
    fn is_critical(self) -> bool {
        !matches!(self, DepKind::Recommends)
    }

    fn is_negative(self) -> bool {
        matches!(self, DepKind::Conflicts | DepKind::Breaks)
    }

    fn name(self) -> &'static str {
        match self {
            DepKind::PreDepends => "PreDepends",
            DepKind::Depends => "Depends",
            DepKind::Conflicts => "Conflicts",
            DepKind::Breaks => "Breaks",
            DepKind::Recommends => "Recommends",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MultiArch {
    No,
    Same,
    Foreign,
    Allowed,
}

#[derive(Debug)]
struct DepRec {
    parent: VerId,
    kind: DepKind,
    target: PkgId,
    constraint: Option<(Relation, Version)>,
    /// The next record is an alternative of this one.
    or_next: bool,
}

/// The dependency records one solve reads ([`Universe::deps_for`]).
#[derive(Debug, Default)]
struct Deps {
    recs: Vec<DepRec>,
    /// Per version: its records, if it was reached.
    ranges: Vec<Option<Range<u32>>>,
    /// Target package → dependencies of installed versions on it.
    installed_rdeps: FxMap<PkgId, Vec<u32>>,
}

impl Deps {
    /// The records of a version the solve reached.
    fn range(&self, ver: VerId) -> Range<u32> {
        self.ranges
            .get(ver as usize)
            .cloned()
            .flatten()
            .expect("marking reads only the dependencies of versions deps_for reached")
    }
}

#[derive(Debug)]
struct Provide {
    ver: VerId,
    version: Option<Version>,
}

/// A run of entries in one of the universe's shared lists (`Universe::pkg_vers`,
/// `Universe::provides`): one list for all packages instead of a small heap vector
/// each, which for 100 000 packages cost more than the packages themselves.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    start: u32,
    len: u32,
}

impl Run {
    fn range(self) -> Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }

    fn is_empty(self) -> bool {
        self.len == 0
    }
}

#[derive(Debug)]
struct Pkg<'a> {
    name: &'a str,
    /// `any` for the `name:any` pseudo package, a foreign architecture otherwise.
    qualifier: Option<&'a str>,
    /// In `Universe::pkg_vers`, newest first ([`Universe::versions`]).
    versions: Run,
    /// In `Universe::provides` ([`Universe::providers`]).
    provided_by: Run,
    current: Option<VerId>,
    essential: bool,
    important: bool,
    hold: bool,
}

impl Pkg<'_> {
    fn display(&self) -> String {
        match self.qualifier {
            Some(q) => format!("{}:{q}", self.name),
            None => self.name.to_string(),
        }
    }
}

/// Where a stanza is: its text (an index, in order, or the dpkg status after them) and
/// its byte range there. What resolution reads of a version only when a solve reaches
/// it (relationship fields, `Source`, `Filename`, `Size`, `SHA256`) is read again from
/// there ([`Universe::stanza`]) instead of being kept per version.
#[derive(Debug, Clone, Copy)]
struct Place {
    text: u32,
    start: u32,
    len: u32,
}

/// One index listing a version.
#[derive(Debug)]
struct File {
    index: u32,
    priority: i32,
    /// The stanza there (its `Filename`, `Size`, `SHA256`).
    place: Place,
    /// The version's next file in `Universe::files` (sources order), or [`NO_FILE`].
    next: u32,
}

const NO_FILE: u32 = u32::MAX;

#[derive(Debug)]
struct Ver {
    pkg: PkgId,
    version: Version,
    /// `Architecture: all` (else the universe's architecture).
    arch_all: bool,
    multi_arch: MultiArch,
    /// The `Priority` field as apt stores it (required = 1 … extra = 5, absent = 0).
    priority: u8,
    /// The stanza that made this version (the first listing it); its relationship
    /// fields become records only when a solve reaches the version
    /// ([`Universe::deps_for`]).
    place: Place,
    /// Its first file in `Universe::files`, or [`NO_FILE`] (only installed).
    first_file: u32,
    /// The pin priority (highest of its files; the status file counts 100).
    pin: i32,
}

/// What a dependency-like field entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Dep(DepKind),
    /// Suggests, Replaces, Enhances: only their names matter (package creation order).
    Other,
    Provides,
}

/// One entry of a stanza's relationship fields, in apt's field order.
struct FlatDep<'a> {
    field: Field,
    dep: Dep<'a>,
}

/// A stanza parsed off the main thread: the fields resolution keeps, and its
/// relationship fields flattened into one list.
struct Parsed<'a> {
    package: &'a str,
    version: Version,
    arch_all: bool,
    multi_arch: MultiArch,
    priority: u8,
    essential: bool,
    important: bool,
    status: Option<DpkgStatus<'a>>,
    /// Names in every relationship field (package creation order), `Provides` in full.
    deps: Vec<FlatDep<'a>>,
    /// The stanza's byte range in its text.
    start: u32,
    len: u32,
}

/// The relationship fields that become dependency records, in the order apt's records
/// of one version are kept, with their field names for messages.
const RELATIONS: [(DepKind, &str); 5] = [
    (DepKind::PreDepends, "Pre-Depends"),
    (DepKind::Depends, "Depends"),
    (DepKind::Conflicts, "Conflicts"),
    (DepKind::Breaks, "Breaks"),
    (DepKind::Recommends, "Recommends"),
];

/// `text` is the whole text `stanza` was read from (for its place there).
fn parse_stanza<'a>(
    text: &str,
    stanza: Stanza<'a>,
    arch: &str,
    in_status: bool,
    where_: &str,
) -> Result<Option<Parsed<'a>>, SolveError> {
    if stanza.architecture != arch && stanza.architecture != "all" {
        return Ok(None);
    }
    let status = if in_status {
        match DpkgStatus::parse(stanza.status) {
            Some(status) if status.is_current() => Some(status),
            _ => return Ok(None),
        }
    } else {
        None
    };
    let (version, _warning) = match Version::parse_lenient(stanza.version) {
        Ok(v) => v,
        // apt reads such a stanza anyway; an unparseable version cannot be ordered, so
        // the package is left out (it could never be a candidate).
        Err(_) => return Ok(None),
    };
    let fields = [
        (
            stanza.pre_depends,
            Field::Dep(DepKind::PreDepends),
            "Pre-Depends",
        ),
        (stanza.depends, Field::Dep(DepKind::Depends), "Depends"),
        (
            stanza.conflicts,
            Field::Dep(DepKind::Conflicts),
            "Conflicts",
        ),
        (stanza.breaks, Field::Dep(DepKind::Breaks), "Breaks"),
        (
            stanza.recommends,
            Field::Dep(DepKind::Recommends),
            "Recommends",
        ),
        (stanza.suggests, Field::Other, "Suggests"),
        (stanza.replaces, Field::Other, "Replaces"),
        (stanza.enhances, Field::Other, "Enhances"),
        (stanza.provides, Field::Provides, "Provides"),
    ];
    let mut deps = Vec::new();
    for (text, field, name) in fields {
        if text.is_empty() {
            continue;
        }
        if field == Field::Other {
            for group in text.split(',') {
                for alternative in group.split('|') {
                    let name = alternative
                        .trim()
                        .split(|c: char| c.is_whitespace() || c == '(' || c == ':')
                        .next()
                        .unwrap_or("");
                    if !name.is_empty() {
                        deps.push(FlatDep {
                            field,
                            dep: Dep {
                                name,
                                arch: None,
                                constraint: None,
                            },
                        });
                    }
                }
            }
            continue;
        }
        if let Field::Dep(_) = field {
            // Only the names now (they create packages, in order); the versions are read
            // when a solve reaches this version.
            for (name, arch) in control::relation_names(text) {
                deps.push(FlatDep {
                    field,
                    dep: Dep {
                        name,
                        arch,
                        constraint: None,
                    },
                });
            }
            continue;
        }
        let groups = control::parse_relations(text).map_err(|err| {
            SolveError::Index(format!(
                "{where_}: package `{}` has a malformed {name} field: {err}",
                stanza.package
            ))
        })?;
        for group in groups {
            for dep in group {
                deps.push(FlatDep { field, dep });
            }
        }
    }
    let multi_arch = match stanza.multi_arch {
        "same" => MultiArch::Same,
        "foreign" => MultiArch::Foreign,
        "allowed" => MultiArch::Allowed,
        _ => MultiArch::No,
    };
    let priority = match stanza.priority {
        "" => 0,
        "required" => 1,
        "important" => 2,
        "standard" => 3,
        "optional" => 4,
        _ => 5,
    };
    // The stanza borrows from `text`: its offset there is the distance between them.
    let start = stanza.text.as_ptr() as usize - text.as_ptr() as usize;
    debug_assert!(start + stanza.text.len() <= text.len());
    Ok(Some(Parsed {
        package: stanza.package,
        version,
        arch_all: stanza.architecture == "all",
        multi_arch,
        priority,
        essential: stanza.essential,
        important: stanza.important,
        status,
        deps,
        start: start as u32,
        len: stanza.text.len() as u32,
    }))
}

/// The source package of a stanza and its version (`Source: name (version)`; the
/// package itself when there is no `Source`).
fn source_of<'s>(stanza: &Stanza<'s>) -> (&'s str, &'s str) {
    match stanza.source.split_once(' ') {
        Some((name, rest)) => (
            name,
            rest.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .trim(),
        ),
        None if !stanza.source.is_empty() => (stanza.source, stanza.version),
        None => (stanza.package, stanza.version),
    }
}

/// How much text one parse job takes: small enough that the parsed stanzas in flight
/// (a window of two jobs per thread) stay a few MB, large enough to keep threads busy.
/// A parsed stanza with the names of its relationship fields takes about three times
/// its text: 1 MiB jobs kept ~12 MiB in flight on two threads, and the allocator kept
/// most of that resident after the build (the `apt_lock` bench's peak RSS).
const PARSE_CHUNK: usize = 256 << 10;

/// Parse `text` chunk by chunk in parallel, a window of chunks at a time, handing each
/// window's stanzas to `add` in text order: the parsed form of a whole index is never
/// held at once, only the universe it is added to.
fn parse_text<'a>(
    text: &'a str,
    arch: &str,
    in_status: bool,
    where_: &str,
    mut add: impl FnMut(Parsed<'a>),
) -> Result<(), SolveError> {
    let threads = rayon::current_num_threads();
    let chunks = control::split_chunks(text, (text.len() / PARSE_CHUNK).max(threads));
    for window in chunks.chunks(threads * 2) {
        let parsed: Vec<Result<Vec<Parsed<'a>>, SolveError>> = window
            .par_iter()
            .map(|chunk| {
                let mut out = Vec::new();
                for stanza in control::stanzas(chunk) {
                    if let Some(parsed) = parse_stanza(text, stanza, arch, in_status, where_)? {
                        out.push(parsed);
                    }
                }
                Ok(out)
            })
            .collect();
        for chunk in parsed {
            chunk?.into_iter().for_each(&mut add);
        }
    }
    Ok(())
}

#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &byte in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Every package and version the indices and the status file know, for one architecture.
pub struct Universe<'a> {
    arch: String,
    labels: Vec<String>,
    /// The indices' texts in order, then the dpkg status ([`Place::text`]).
    texts: Vec<&'a str>,
    pkgs: Vec<Pkg<'a>>,
    vers: Vec<Ver>,
    /// Every package's versions, one run each ([`Pkg::versions`]).
    pkg_vers: Vec<VerId>,
    /// Every package's providers, one run each ([`Pkg::provided_by`]).
    provides: Vec<Provide>,
    files: Vec<File>,
    names: FxMap<&'a str, PkgId>,
    any: FxMap<PkgId, PkgId>,
    foreign: FxMap<(&'a str, &'a str), PkgId>,
    /// Source package name → versions of installed packages built from it.
    installed_by_source: FxMap<&'a str, Vec<VerId>>,
    /// While building: each package's last version and each version's previous one
    /// in the same package (to find a version listed again), and the provides as read
    /// (target, provide); [`Universe::finish`] turns them into the runs.
    last_ver: Vec<VerId>,
    prev_ver: Vec<VerId>,
    provides_read: Vec<(PkgId, Provide)>,
}

/// No version ([`Universe::last_ver`], [`Universe::prev_ver`]).
const NO_VER: VerId = VerId::MAX;

impl<'a> Universe<'a> {
    /// Parse the indices (in parallel) and the dpkg status, and link them.
    pub fn build(
        indices: &[Index<'a>],
        status: &'a str,
        arch: &str,
    ) -> Result<Universe<'a>, SolveError> {
        let mut universe = Universe {
            arch: arch.to_string(),
            labels: indices.iter().map(|i| i.label.clone()).collect(),
            texts: indices.iter().map(|i| i.text).chain([status]).collect(),
            pkgs: Vec::new(),
            vers: Vec::new(),
            pkg_vers: Vec::new(),
            provides: Vec::new(),
            files: Vec::new(),
            names: FxMap::default(),
            any: FxMap::default(),
            foreign: FxMap::default(),
            installed_by_source: FxMap::default(),
            last_ver: Vec::new(),
            prev_ver: Vec::new(),
            provides_read: Vec::new(),
        };
        // Each index in sources order (package ids follow apt's creation order), each
        // parsed in parallel chunks.
        for (number, index) in indices.iter().enumerate() {
            // Sized up front (paragraph breaks count the stanzas): growing by doubling
            // copies each list and leaves the old copies to the allocator. Debian's
            // and Ubuntu's indices name about two packages per stanza.
            let stanzas = memchr::memmem::find_iter(index.text.as_bytes(), b"\n\n").count() + 1;
            universe.names.reserve(stanzas * 2);
            universe.pkgs.reserve(stanzas * 2);
            universe.vers.reserve(stanzas);
            universe.files.reserve(stanzas);
            universe.prev_ver.reserve(stanzas);
            parse_text(index.text, arch, false, &index.label, |stanza| {
                universe.add(stanza, number, index.priority)
            })?;
        }
        let status_text = indices.len();
        parse_text(status, arch, true, "dpkg status", |stanza| {
            universe.add(stanza, status_text, 100)
        })?;
        if let Some(&apt) = universe.names.get("apt") {
            // apt marks itself essential (pkgCacheGen::ForceEssential).
            universe.pkgs[apt as usize].essential = true;
            universe.pkgs[apt as usize].important = true;
        }
        universe.finish();
        Ok(universe)
    }

    /// Replace version pins where `pin` says so ([`solve_pinned`]).
    fn pin_versions(&mut self, pin: &VersionPin<'_>) {
        let mut files = Vec::new();
        for ver in 0..self.vers.len() {
            files.clear();
            files.extend(self.files_of(ver as VerId).map(|f| f.index as usize));
            let v = &self.vers[ver];
            if let Some(priority) = pin(self.pkgs[v.pkg as usize].name, v.version.as_str(), &files)
            {
                self.vers[ver].pin = priority;
            }
        }
    }

    fn intern(&mut self, name: &'a str) -> PkgId {
        if let Some(&id) = self.names.get(name) {
            return id;
        }
        let id = self.new_pkg(name, None);
        self.names.insert(name, id);
        id
    }

    fn new_pkg(&mut self, name: &'a str, qualifier: Option<&'a str>) -> PkgId {
        let id = self.pkgs.len() as PkgId;
        self.last_ver.push(NO_VER);
        self.pkgs.push(Pkg {
            name,
            qualifier,
            versions: Run::default(),
            provided_by: Run::default(),
            current: None,
            essential: false,
            important: false,
            hold: false,
        });
        id
    }

    fn intern_any(&mut self, name: &'a str) -> PkgId {
        let base = self.intern(name);
        if let Some(&id) = self.any.get(&base) {
            return id;
        }
        let id = self.new_pkg(name, Some("any"));
        self.any.insert(base, id);
        id
    }

    /// The package a dependency on `name[:arch]` points at.
    fn dep_target(&mut self, dep: &Dep<'a>) -> PkgId {
        match dep.arch {
            None | Some("native") => self.intern(dep.name),
            Some("any") => self.intern_any(dep.name),
            Some(arch) if arch == self.arch => self.intern(dep.name),
            Some(arch) => {
                if let Some(&id) = self.foreign.get(&(dep.name, arch)) {
                    return id;
                }
                let id = self.new_pkg(dep.name, Some(arch));
                self.foreign.insert((dep.name, arch), id);
                id
            }
        }
    }

    /// Add one stanza of text `text` (an index's position, or the status after them).
    fn add(&mut self, parsed: Parsed<'a>, text: usize, priority: i32) {
        let pkg = self.intern(parsed.package);
        {
            let p = &mut self.pkgs[pkg as usize];
            p.essential |= parsed.essential;
            p.important |= parsed.important;
            if let Some(status) = parsed.status {
                p.hold = status.is_hold();
            }
        }
        let mut existing = self.last_ver[pkg as usize];
        while existing != NO_VER
            && self.vers[existing as usize].version.as_str() != parsed.version.as_str()
        {
            existing = self.prev_ver[existing as usize];
        }
        let in_status = parsed.status.is_some();
        let place = Place {
            text: text as u32,
            start: parsed.start,
            len: parsed.len,
        };
        let ver = match existing {
            NO_VER => self.new_version(pkg, parsed, place),
            ver => ver,
        };
        let v = &mut self.vers[ver as usize];
        v.pin = v.pin.max(priority);
        if in_status {
            self.pkgs[pkg as usize].current = Some(ver);
            return;
        }
        // Appended after the version's other files: sources order.
        let file = self.files.len() as u32;
        self.files.push(File {
            index: text as u32,
            priority,
            place,
            next: NO_FILE,
        });
        let v = &mut self.vers[ver as usize];
        if v.first_file == NO_FILE {
            v.first_file = file;
            return;
        }
        let mut last = v.first_file;
        while self.files[last as usize].next != NO_FILE {
            last = self.files[last as usize].next;
        }
        self.files[last as usize].next = file;
    }

    fn new_version(&mut self, pkg: PkgId, parsed: Parsed<'a>, place: Place) -> VerId {
        let ver = self.vers.len() as VerId;
        let multi_arch = parsed.multi_arch;
        let own_version = parsed.version.clone();
        self.vers.push(Ver {
            pkg,
            version: parsed.version,
            arch_all: parsed.arch_all,
            multi_arch,
            priority: parsed.priority,
            place,
            first_file: NO_FILE,
            pin: i32::MIN,
        });
        self.prev_ver
            .push(std::mem::replace(&mut self.last_ver[pkg as usize], ver));
        for FlatDep { field, dep } in parsed.deps {
            match field {
                // The package it names (created now, in apt's order); the record itself
                // is made when a solve reaches this version.
                Field::Dep(_) => {
                    self.dep_target(&dep);
                }
                Field::Other => {
                    self.intern(dep.name);
                }
                Field::Provides => {
                    let version = match dep.constraint {
                        Some((Relation::Eq, version)) => Some(version),
                        // apt ignores non-`=` provides (with a warning).
                        Some(_) => continue,
                        None => None,
                    };
                    let target = match dep.arch {
                        Some("any") => self.intern_any(dep.name),
                        _ => self.intern(dep.name),
                    };
                    if dep.arch.is_none() && multi_arch == MultiArch::Allowed {
                        let any = self.intern_any(dep.name);
                        self.provides_read.push((
                            any,
                            Provide {
                                ver,
                                version: version.clone(),
                            },
                        ));
                    }
                    self.provides_read.push((target, Provide { ver, version }));
                }
            }
        }
        if multi_arch == MultiArch::Allowed {
            let any = self.intern_any(parsed.package);
            self.provides_read.push((
                any,
                Provide {
                    ver,
                    version: Some(own_version),
                },
            ));
        }
        ver
    }

    /// Lay the versions and providers read out as one run per package, and index the
    /// installed packages by source.
    fn finish(&mut self) {
        // Versions: by package (counting sort, so sources order within each), then
        // newest first (stable: equal versions keep sources order).
        let mut count = vec![0u32; self.pkgs.len()];
        for v in &self.vers {
            count[v.pkg as usize] += 1;
        }
        let mut next = 0;
        for (pkg, n) in self.pkgs.iter_mut().zip(&count) {
            pkg.versions = Run {
                start: next,
                len: *n,
            };
            next += n;
        }
        drop(count);
        let mut placed = vec![0u32; self.pkgs.len()];
        let mut pkg_vers = vec![0; self.vers.len()];
        for (ver, v) in self.vers.iter().enumerate() {
            let run = self.pkgs[v.pkg as usize].versions;
            pkg_vers[(run.start + placed[v.pkg as usize]) as usize] = ver as VerId;
            placed[v.pkg as usize] += 1;
        }
        drop(placed);
        let vers = &self.vers;
        for pkg in &self.pkgs {
            pkg_vers[pkg.versions.range()]
                .sort_by(|&a, &b| vers[b as usize].version.cmp(&vers[a as usize].version));
        }
        self.pkg_vers = pkg_vers;
        // Providers: by target, in the order read.
        let mut read = std::mem::take(&mut self.provides_read);
        read.sort_by_key(|(target, _)| *target);
        let mut start = 0;
        for group in read.chunk_by(|a, b| a.0 == b.0) {
            self.pkgs[group[0].0 as usize].provided_by = Run {
                start,
                len: group.len() as u32,
            };
            start += group.len() as u32;
        }
        self.provides = read.into_iter().map(|(_, provide)| provide).collect();
        self.last_ver = Vec::new();
        self.prev_ver = Vec::new();
        self.vers.shrink_to_fit();
        self.files.shrink_to_fit();
        for pkg in 0..self.pkgs.len() {
            if self.pkgs[pkg].current.is_none() {
                continue;
            }
            for &ver in &self.pkg_vers[self.pkgs[pkg].versions.range()] {
                let (source, _) = source_of(&self.stanza(self.vers[ver as usize].place));
                self.installed_by_source
                    .entry(source)
                    .or_default()
                    .push(ver);
            }
        }
    }

    /// A package's versions, newest first.
    fn versions(&self, pkg: &Pkg<'_>) -> &[VerId] {
        &self.pkg_vers[pkg.versions.range()]
    }

    /// The versions that provide a package (`Provides`, `Multi-Arch: allowed` for `:any`).
    fn providers(&self, pkg: &Pkg<'_>) -> &[Provide] {
        &self.provides[pkg.provided_by.range()]
    }

    /// The indices listing a version, in sources order.
    fn files_of(&self, ver: VerId) -> impl Iterator<Item = &File> {
        let mut next = self.vers[ver as usize].first_file;
        std::iter::from_fn(move || {
            let file = self.files.get(next as usize)?;
            next = file.next;
            Some(file)
        })
    }

    /// The stanza at `place`, read again.
    fn stanza(&self, place: Place) -> Stanza<'a> {
        let start = place.start as usize;
        let text = &self.texts[place.text as usize][start..start + place.len as usize];
        control::stanzas(text)
            .into_iter()
            .next()
            .expect("a place holds the stanza it was read from")
    }

    /// The source package of a version and its version.
    fn source(&self, ver: VerId) -> (&'a str, &'a str) {
        source_of(&self.stanza(self.vers[ver as usize].place))
    }

    /// The package a dependency on `name[:arch]` points at, as [`Self::dep_target`]
    /// made it while the universe was built.
    fn find_target(&self, dep: &Dep<'_>) -> Option<PkgId> {
        match dep.arch {
            None | Some("native") => self.names.get(dep.name).copied(),
            Some("any") => {
                let base = self.names.get(dep.name)?;
                self.any.get(base).copied()
            }
            Some(arch) if arch == self.arch => self.names.get(dep.name).copied(),
            Some(arch) => self.foreign.get(&(dep.name, arch)).copied(),
        }
    }

    /// The dependency records of every version a solve from `roots` can touch, parsed
    /// now from the raw fields: the versions of the roots and of the installed packages,
    /// then of every package their `Pre-Depends`, `Depends` and `Recommends` name or
    /// whose versions provide a name they depend on, transitively. Marking reads the
    /// records of no other version: it installs only dependency solutions, the installed
    /// packages it upgrades and the roots; a `Conflicts`/`Breaks` target is only kept
    /// back or removed, which reads its state, not its records.
    fn deps_for(&self, roots: &[PkgId]) -> Result<Deps, SolveError> {
        let mut deps = Deps {
            recs: Vec::new(),
            ranges: vec![None; self.vers.len()],
            installed_rdeps: FxMap::default(),
        };
        let mut reached = vec![false; self.pkgs.len()];
        let mut queue: Vec<PkgId> = Vec::new();
        let installed = self
            .pkgs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.current.is_some())
            .map(|(id, _)| id as PkgId);
        for pkg in roots.iter().copied().chain(installed) {
            if !std::mem::replace(&mut reached[pkg as usize], true) {
                queue.push(pkg);
            }
        }
        while let Some(pkg) = queue.pop() {
            for &ver in self.versions(&self.pkgs[pkg as usize]) {
                let range = self.parse_relations(ver, &mut deps.recs)?;
                for d in range.clone() {
                    let dep = &deps.recs[d as usize];
                    if dep.kind.is_negative() {
                        continue;
                    }
                    let providers = self.providers(&self.pkgs[dep.target as usize]).iter();
                    let owners = providers.map(|p| self.vers[p.ver as usize].pkg);
                    for next in std::iter::once(dep.target).chain(owners) {
                        if !std::mem::replace(&mut reached[next as usize], true) {
                            queue.push(next);
                        }
                    }
                }
                deps.ranges[ver as usize] = Some(range);
            }
        }
        for pkg in &self.pkgs {
            let Some(current) = pkg.current else { continue };
            for d in deps.range(current) {
                let target = deps.recs[d as usize].target;
                deps.installed_rdeps.entry(target).or_default().push(d);
            }
        }
        Ok(deps)
    }

    /// Parse one version's relationship fields into records appended to `recs`.
    fn parse_relations(
        &self,
        ver: VerId,
        recs: &mut Vec<DepRec>,
    ) -> Result<Range<u32>, SolveError> {
        let start = recs.len() as u32;
        let v = &self.vers[ver as usize];
        let stanza = self.stanza(v.place);
        let relations = [
            stanza.pre_depends,
            stanza.depends,
            stanza.conflicts,
            stanza.breaks,
            stanza.recommends,
        ];
        for ((kind, field), text) in RELATIONS.iter().zip(relations) {
            if text.is_empty() {
                continue;
            }
            let malformed = |err: String| {
                let where_ = self
                    .files_of(ver)
                    .next()
                    .map_or("dpkg status", |f| self.labels[f.index as usize].as_str());
                SolveError::Index(format!(
                    "{where_}: package `{}` has a malformed {field} field: {err}",
                    self.pkgs[v.pkg as usize].name
                ))
            };
            for group in control::parse_relations(text).map_err(malformed)? {
                let count = group.len();
                for (i, dep) in group.into_iter().enumerate() {
                    let target = self.find_target(&dep).ok_or_else(|| {
                        malformed(format!("`{}` was not read when the index was", dep.name))
                    })?;
                    recs.push(DepRec {
                        parent: ver,
                        kind: *kind,
                        target,
                        constraint: dep.constraint,
                        // Negative dependencies have no alternatives in apt.
                        or_next: !kind.is_negative() && i + 1 < count,
                    });
                }
            }
        }
        Ok(start..recs.len() as u32)
    }

    /// Packages (with at least one version) in this universe.
    pub fn package_count(&self) -> usize {
        self.pkgs.iter().filter(|p| !p.versions.is_empty()).count()
    }

    /// Installed packages (dpkg status).
    pub fn installed_count(&self) -> usize {
        self.pkgs.iter().filter(|p| p.current.is_some()).count()
    }

    /// The package each spec entry selects (its first alternative that exists, or the
    /// single provider of a virtual name): what to pass to `apt-get install`.
    pub fn picked_names(&self, wanted: &[Wanted]) -> Result<Vec<String>, SolveError> {
        let marker = Marker::new(self, false);
        wanted
            .iter()
            .map(|entry| {
                self.pick(&marker, entry)
                    .map(|pkg| self.pkgs[pkg as usize].display())
            })
            .collect()
    }

    /// The closure of `wanted`, as `apt-get install` would mark it.
    pub fn solve(&self, wanted: &[Wanted], recommends: bool) -> Result<Vec<Choice>, SolveError> {
        // Marking recurses once per dependency level (apt stops at depth 3000): run it on
        // a thread whose stack is sure to hold that, whatever thread called us.
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("apt-closure".into())
                .stack_size(MARKING_STACK)
                .spawn_scoped(scope, || self.solve_here(wanted, recommends))
                .expect("spawn the marking thread")
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn solve_here(&self, wanted: &[Wanted], recommends: bool) -> Result<Vec<Choice>, SolveError> {
        let mut marker = Marker::new(self, recommends);
        let mut requested = Vec::new();
        for entry in wanted {
            let pkg = self.pick(&marker, entry)?;
            if !requested.contains(&pkg) {
                requested.push(pkg);
            }
        }
        marker.deps = self.deps_for(&requested)?;
        for &pkg in &requested {
            // TryToInstall: the problem resolver's Protect, then mark without dependencies.
            marker.state[pkg as usize].protected = true;
            marker.mark_install(pkg, false, 0, true, false);
        }
        for &pkg in &requested {
            marker.mark_install(pkg, true, 0, true, false);
        }
        marker.check(&requested)?;
        Ok(marker.choices(&requested))
    }

    /// The package a spec entry names: the first alternative with an installable
    /// candidate, else a virtual name with exactly one provider.
    fn pick(&self, policy: &Marker<'_, 'a>, wanted: &Wanted) -> Result<PkgId, SolveError> {
        for name in &wanted.alternatives {
            if let Some(&pkg) = self.names.get(name.as_str())
                && policy.state[pkg as usize].candidate.is_some()
            {
                return Ok(pkg);
            }
        }
        for name in &wanted.alternatives {
            let Some(&pkg) = self.names.get(name.as_str()) else {
                continue;
            };
            let mut providers: Vec<PkgId> = self
                .providers(&self.pkgs[pkg as usize])
                .iter()
                .filter(|p| {
                    policy.state[self.vers[p.ver as usize].pkg as usize].candidate == Some(p.ver)
                })
                .map(|p| self.vers[p.ver as usize].pkg)
                .collect();
            providers.sort_unstable();
            providers.dedup();
            match providers.len() {
                0 => {}
                1 => return Ok(providers[0]),
                _ => {
                    let mut names: Vec<String> = providers
                        .iter()
                        .map(|&p| self.pkgs[p as usize].display())
                        .collect();
                    names.sort();
                    return Err(SolveError::Virtual {
                        name: name.clone(),
                        providers: names,
                    });
                }
            }
        }
        let name = wanted.alternatives.join(" | ");
        let mut closest = BTreeSet::new();
        for alternative in &wanted.alternatives {
            closest.extend(self.closest_names(alternative, 5));
        }
        let mut searched: Vec<&str> = self.labels.iter().map(String::as_str).collect();
        searched.dedup();
        Err(SolveError::NotFound {
            name,
            searched: if searched.is_empty() {
                "no index".into()
            } else {
                format!("{} for {}", searched.join(", "), self.arch)
            },
            closest: closest.into_iter().take(5).collect(),
        })
    }

    /// Real package names near `name`: small edit distance, or `name` as a prefix
    /// (`libglib2.0` → `libglib2.0-0`, `libglib2.0-bin`).
    fn closest_names(&self, name: &str, count: usize) -> Vec<String> {
        let limit = (name.len() / 3).max(2);
        let mut scored: Vec<(usize, &str)> = self
            .pkgs
            .iter()
            .filter(|p| p.qualifier.is_none() && !p.versions.is_empty())
            .filter_map(|p| {
                if p.name.len() > name.len() && p.name.starts_with(name) {
                    return Some((1 + (p.name.len() - name.len()) / 4, p.name));
                }
                if p.name.len().abs_diff(name.len()) > limit {
                    return None;
                }
                let distance = edit_distance(name, p.name, limit);
                (distance <= limit).then_some((distance, p.name))
            })
            .collect();
        scored.sort();
        scored
            .into_iter()
            .take(count)
            .map(|(_, n)| n.to_string())
            .collect()
    }

    fn satisfies(dep: &DepRec, version: &Version) -> bool {
        match &dep.constraint {
            None => true,
            Some((relation, wanted)) => version.relate(*relation, wanted),
        }
    }

    fn satisfies_provide(dep: &DepRec, provided: Option<&Version>) -> bool {
        match (&dep.constraint, provided) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some((relation, wanted)), Some(version)) => version.relate(*relation, wanted),
        }
    }

    fn ver_text(&self, ver: VerId) -> String {
        let v = &self.vers[ver as usize];
        format!("{} {}", self.pkgs[v.pkg as usize].display(), v.version)
    }
}

fn edit_distance(a: &str, b: &str, limit: usize) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        let mut row_min = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            row_min = row_min.min(current[j]);
        }
        if row_min > limit {
            return limit + 1;
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Keep,
    Install,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Now,
    Install,
    Candidate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selector {
    Candidate,
    Installed,
    CandidateAndInstalled,
}

#[derive(Debug, Clone)]
struct State {
    candidate: Option<VerId>,
    install: Option<VerId>,
    mode: Mode,
    protected: bool,
    auto: bool,
    /// apt's `StateCache::Status`: 2 for a new install (or no candidate), else the
    /// comparison of candidate with installed version.
    status: i8,
}

/// apt's `pkgDepCache` marking state over a [`Universe`].
struct Marker<'u, 'a> {
    u: &'u Universe<'a>,
    state: Vec<State>,
    recommends: bool,
    /// The dependency records of the versions this solve can reach.
    deps: Deps,
    /// Why a package was first marked: (depending package, dependency).
    reason: FxMap<PkgId, (PkgId, u32)>,
    /// The dependency group that made marking a package fail, for error reports.
    failed: FxMap<PkgId, u32>,
}

impl<'u, 'a> Marker<'u, 'a> {
    fn new(u: &'u Universe<'a>, recommends: bool) -> Marker<'u, 'a> {
        let state = u
            .pkgs
            .iter()
            .map(|pkg| {
                let candidate = candidate_version(u, pkg);
                let status = match (pkg.current, candidate) {
                    (Some(current), Some(candidate)) => {
                        match u.vers[candidate as usize]
                            .version
                            .cmp(&u.vers[current as usize].version)
                        {
                            Ordering::Less => -1,
                            Ordering::Equal => 0,
                            Ordering::Greater => 1,
                        }
                    }
                    _ => 2,
                };
                State {
                    candidate,
                    install: pkg.current,
                    mode: Mode::Keep,
                    protected: false,
                    auto: false,
                    status,
                }
            })
            .collect();
        Marker {
            u,
            state,
            recommends,
            deps: Deps::default(),
            reason: FxMap::default(),
            failed: FxMap::default(),
        }
    }

    fn pkg_of(&self, ver: VerId) -> PkgId {
        self.u.vers[ver as usize].pkg
    }

    fn dep_text(&self, d: u32) -> String {
        let dep = &self.deps.recs[d as usize];
        let target = self.u.pkgs[dep.target as usize].display();
        match &dep.constraint {
            Some((relation, version)) => format!("{target} ({relation} {version})"),
            None => target,
        }
    }

    fn current(&self, pkg: PkgId) -> Option<VerId> {
        self.u.pkgs[pkg as usize].current
    }

    fn ver_for(&self, pkg: PkgId, which: Which) -> Option<VerId> {
        match which {
            Which::Now => self.current(pkg),
            Which::Install => self.state[pkg as usize].install,
            Which::Candidate => self.state[pkg as usize].candidate,
        }
    }

    fn is_important(&self, d: u32) -> bool {
        let kind = self.deps.recs[d as usize].kind;
        kind.is_critical() || (kind == DepKind::Recommends && self.recommends)
    }

    /// apt's `CheckDep`: is the dependency matched by the target or a provider in the
    /// given state? (For negative dependencies: is the conflict present?)
    fn check_dep(&self, d: u32, which: Which) -> bool {
        let u = self.u;
        let dep = &self.deps.recs[d as usize];
        let parent = u.vers[dep.parent as usize].pkg;
        let negative = dep.kind.is_negative();
        if !(negative && dep.target == parent)
            && let Some(ver) = self.ver_for(dep.target, which)
            && Universe::satisfies(dep, &u.vers[ver as usize].version)
        {
            return true;
        }
        for provide in u.providers(&u.pkgs[dep.target as usize]) {
            let owner = u.vers[provide.ver as usize].pkg;
            if negative && owner == parent {
                continue;
            }
            if self.ver_for(owner, which) != Some(provide.ver) {
                continue;
            }
            if Universe::satisfies_provide(dep, provide.version.as_ref()) {
                return true;
            }
        }
        false
    }

    /// The dependency is fine in the future state (negative ones: no conflict).
    fn dep_ok(&self, d: u32, which: Which) -> bool {
        self.check_dep(d, which) != self.deps.recs[d as usize].kind.is_negative()
    }

    /// The or-group starting at `start`: its last record.
    fn group_end(&self, start: u32) -> u32 {
        let mut d = start;
        while self.deps.recs[d as usize].or_next {
            d += 1;
        }
        d
    }

    fn group_ok(&self, start: u32, end: u32, which: Which) -> bool {
        (start..=end).any(|d| self.dep_ok(d, which))
    }

    /// Or-groups of a version: (start, end) pairs.
    fn groups(&self, ver: VerId) -> Vec<(u32, u32)> {
        let range = self.deps.range(ver);
        let mut out = Vec::new();
        let mut d = range.start;
        while d < range.end {
            let end = self.group_end(d);
            out.push((d, end));
            d = end + 1;
        }
        out
    }

    /// `InstBroken` (critical only) or `InstPolicyBroken` (important too).
    fn inst_broken(&self, pkg: PkgId, policy: bool) -> bool {
        let Some(ver) = self.state[pkg as usize].install else {
            return false;
        };
        self.groups(ver).into_iter().any(|(start, end)| {
            let relevant = if policy {
                self.is_important(start)
            } else {
                self.deps.recs[start as usize].kind.is_critical()
            };
            relevant && !self.group_ok(start, end, Which::Install)
        })
    }

    fn is_mode_change_ok(&self, mode: Mode, pkg: PkgId, depth: u32, from_user: bool) -> bool {
        if depth > 3000 || self.u.pkgs[pkg as usize].versions.is_empty() {
            return false;
        }
        if from_user {
            return true;
        }
        let p = &self.state[pkg as usize];
        if p.mode == mode {
            return true;
        }
        if p.protected {
            return false;
        }
        let info = &self.u.pkgs[pkg as usize];
        if mode != Mode::Keep && info.hold {
            return false;
        }
        if mode == Mode::Delete && (info.essential || info.important) {
            return false;
        }
        true
    }

    fn mark_keep(&mut self, pkg: PkgId, from_user: bool, depth: u32) -> bool {
        if !self.is_mode_change_ok(Mode::Keep, pkg, depth, from_user) {
            return false;
        }
        let current = self.current(pkg);
        let p = &mut self.state[pkg as usize];
        if p.mode == Mode::Keep {
            return true;
        }
        p.mode = Mode::Keep;
        p.install = current;
        true
    }

    fn is_delete_ok(&self, pkg: PkgId, from_user: bool) -> bool {
        let p = &self.state[pkg as usize];
        !(!from_user
            && self.current(pkg).is_none()
            && p.install.is_some()
            && p.status == 2
            && !p.auto)
    }

    fn mark_delete(&mut self, pkg: PkgId, depth: u32, from_user: bool) -> bool {
        if !self.is_mode_change_ok(Mode::Delete, pkg, depth, from_user) {
            return false;
        }
        let p = &self.state[pkg as usize];
        if p.mode == Mode::Delete || p.install.is_none() {
            return true;
        }
        if !self.is_delete_ok(pkg, from_user) {
            return false;
        }
        let current = self.current(pkg);
        let p = &mut self.state[pkg as usize];
        p.mode = if current.is_none() {
            Mode::Keep
        } else {
            Mode::Delete
        };
        p.install = None;
        true
    }

    fn state_change(&mut self, pkg: PkgId, auto_inst: bool, from_user: bool) {
        let current = self.current(pkg);
        let p = &mut self.state[pkg as usize];
        if p.protected && p.install == p.candidate {
            return;
        }
        p.mode = Mode::Install;
        p.install = p.candidate;
        if from_user {
            if p.status == 2 || (current.is_some() && auto_inst) {
                p.auto = false;
            }
        } else if p.status == 2 {
            p.auto = true;
        }
        if p.candidate == current {
            p.mode = Mode::Keep;
        }
    }

    fn discard_candidate(&mut self, pkg: PkgId) {
        let p = &mut self.state[pkg as usize];
        p.candidate = p.install;
    }

    fn discard_install(&mut self, pkg: PkgId) {
        let current = self.current(pkg);
        let p = &mut self.state[pkg as usize];
        if p.mode == Mode::Keep && p.install == p.candidate && p.candidate == current {
            return;
        }
        p.install = current;
        p.mode = Mode::Keep;
        self.discard_candidate(pkg);
    }

    /// `IsInstallOkDependenciesSatisfiableByCandidates`.
    fn is_install_ok(&mut self, pkg: PkgId, auto_inst: bool) -> bool {
        if !auto_inst {
            return true;
        }
        let current = self.current(pkg);
        let Some(candidate) = self.state[pkg as usize].candidate else {
            return true;
        };
        if Some(candidate) == current {
            return true;
        }
        for (start, end) in self.groups(candidate) {
            let kind = self.deps.recs[start as usize].kind;
            if !kind.is_critical() || kind.is_negative() {
                continue;
            }
            let found = (start..=end)
                .any(|d| self.check_dep(d, Which::Install) || self.check_dep(d, Which::Candidate));
            if found {
                continue;
            }
            self.failed.entry(pkg).or_insert(start);
            let p = &mut self.state[pkg as usize];
            if !p.protected {
                match current {
                    Some(current) => {
                        if p.candidate == p.install && p.mode == Mode::Install {
                            p.install = Some(current);
                        }
                        p.candidate = Some(current);
                    }
                    None => p.candidate = None,
                }
                if p.mode != Mode::Delete {
                    p.mode = Mode::Keep;
                }
            }
            return false;
        }
        true
    }

    /// `VersionContainerInterface::FromDependency` for one record.
    fn dependency_solutions(&self, d: u32, selector: Selector, out: &mut Vec<VerId>) {
        if selector == Selector::CandidateAndInstalled {
            self.dependency_solutions(d, Selector::Candidate, out);
            self.dependency_solutions(d, Selector::Installed, out);
            return;
        }
        let which = if selector == Selector::Candidate {
            Which::Candidate
        } else {
            Which::Now
        };
        let u = self.u;
        let dep = &self.deps.recs[d as usize];
        let parent = u.vers[dep.parent as usize].pkg;
        let negative = dep.kind.is_negative();
        if !(negative && dep.target == parent)
            && let Some(ver) = self.ver_for(dep.target, which)
            && Universe::satisfies(dep, &u.vers[ver as usize].version)
        {
            out.push(ver);
        }
        for provide in u.providers(&u.pkgs[dep.target as usize]) {
            let owner = u.vers[provide.ver as usize].pkg;
            if negative && owner == parent {
                continue;
            }
            if self.ver_for(owner, which) == Some(provide.ver)
                && Universe::satisfies_provide(dep, provide.version.as_ref())
            {
                out.push(provide.ver);
            }
        }
    }

    /// apt's `CompareProviders`: `Less` puts `a` first.
    fn compare_providers(&self, target: PkgId, a: VerId, b: VerId) -> Ordering {
        let u = self.u;
        let (pa, pb) = (self.pkg_of(a), self.pkg_of(b));
        let (sa, sb) = (&self.state[pa as usize], &self.state[pb as usize]);
        if sa.protected != sb.protected {
            return if sa.protected {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (va, vb) = (&u.vers[a as usize], &u.vers[b as usize]);
        let (ia, ib) = (self.current(pa).is_some(), self.current(pb).is_some());
        if va.multi_arch == MultiArch::Same || vb.multi_arch == MultiArch::Same {
            let inst_a = va.multi_arch == MultiArch::Same && ia;
            let inst_b = vb.multi_arch == MultiArch::Same && ib;
            if inst_a != inst_b {
                return if inst_a {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
        }
        if ia != ib {
            return if ia {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if pa != pb {
            if pa == target {
                return Ordering::Less;
            }
            if pb == target {
                return Ordering::Greater;
            }
        }
        let (ka, kb) = (&u.pkgs[pa as usize], &u.pkgs[pb as usize]);
        if ka.essential != kb.essential {
            return if ka.essential {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if ka.important != kb.important {
            return if ka.important {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if va.priority != vb.priority {
            return va.priority.cmp(&vb.priority);
        }
        pb.cmp(&pa)
    }

    /// `getAllPossibleSolutions`.
    fn possible_solutions(
        &self,
        start: u32,
        end: u32,
        selector: Selector,
        sorted: bool,
    ) -> Vec<VerId> {
        let mut upgrades = Vec::new();
        let mut new_installs = Vec::new();
        for d in start..=end {
            let mut list = Vec::new();
            self.dependency_solutions(d, selector, &mut list);
            if !sorted {
                upgrades.extend(list);
                continue;
            }
            let target = self.deps.recs[d as usize].target;
            list.sort_by(|&a, &b| self.compare_providers(target, a, b));
            for ver in list {
                if self.current(self.pkg_of(ver)).is_some() {
                    upgrades.push(ver);
                } else {
                    new_installs.push(ver);
                }
            }
        }
        if upgrades.is_empty() {
            upgrades = new_installs;
        } else {
            upgrades.extend(new_installs);
        }
        if !sorted {
            upgrades.sort_unstable();
        }
        upgrades.dedup();
        if !self.deps.recs[end as usize].kind.is_negative() {
            upgrades.retain(|&ver| {
                let pkg = self.pkg_of(ver);
                let s = &self.state[pkg as usize];
                !(s.protected
                    && (s.mode == Mode::Delete
                        || (s.mode == Mode::Keep && self.current(pkg).is_none())))
            });
        }
        upgrades
    }

    fn collect_dependencies(
        &self,
        ver: VerId,
        to_install: &mut Vec<u32>,
        to_remove: &mut Vec<u32>,
    ) {
        let propagate = self.state[self.pkg_of(ver) as usize].protected;
        for (start, end) in self.groups(ver) {
            let found = self.group_ok(start, end, Which::Install);
            if found && !propagate {
                continue;
            }
            if !self.is_important(start) {
                continue;
            }
            if self.deps.recs[start as usize].kind.is_negative() {
                to_remove.push(start);
            } else {
                to_install.push(start);
            }
        }
    }

    fn mark_delete_for_not_upgradeable(
        &mut self,
        depth: u32,
        pkg: PkgId,
        propagate: bool,
        delayed: &mut Vec<PkgId>,
    ) -> bool {
        if !propagate {
            if self.state[pkg as usize].mode == Mode::Delete {
                return true;
            }
            if !self.is_mode_change_ok(Mode::Delete, pkg, depth, false)
                || !self.is_delete_ok(pkg, false)
            {
                return false;
            }
            delayed.push(pkg);
            return true;
        }
        if self.state[pkg as usize].mode != Mode::Delete && !self.mark_delete(pkg, depth + 1, false)
        {
            return false;
        }
        self.discard_candidate(pkg);
        self.state[pkg as usize].protected = true;
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn remove_conflicts_if_not_upgradeable(
        &mut self,
        depth: u32,
        to_remove: &mut Vec<u32>,
        to_upgrade: &mut Vec<PkgId>,
        delayed: &mut Vec<PkgId>,
        propagate: bool,
        from_user: bool,
    ) -> bool {
        let mut failed = false;
        let mut bad_candidate = Vec::new();
        let give_up = |failed: bool| failed && !propagate && !from_user;
        for d in std::mem::take(to_remove) {
            for ver in self.possible_solutions(d, d, Selector::Candidate, true) {
                let pkg = self.pkg_of(ver);
                if self.state[pkg as usize].candidate != Some(ver) {
                    continue;
                }
                if self.current(pkg) != Some(ver) {
                    if self.state[pkg as usize].mode == Mode::Install
                        && !self.mark_keep(pkg, false, depth)
                    {
                        failed = true;
                        if give_up(failed) {
                            break;
                        }
                    } else if propagate {
                        self.discard_candidate(pkg);
                        if self.current(pkg).is_none() {
                            self.state[pkg as usize].protected = true;
                        }
                    } else {
                        bad_candidate.push(pkg);
                    }
                } else if !self.mark_delete_for_not_upgradeable(depth, pkg, propagate, delayed) {
                    failed = true;
                    if give_up(failed) {
                        break;
                    }
                }
            }
            if give_up(failed) {
                break;
            }
            for ver in self.possible_solutions(d, d, Selector::Installed, true) {
                let pkg = self.pkg_of(ver);
                let candidate = self.state[pkg as usize].candidate;
                if candidate != Some(ver) && candidate.is_some() && !bad_candidate.contains(&pkg) {
                    to_upgrade.push(pkg);
                } else if candidate == self.current(pkg) {
                } else if !self.mark_delete_for_not_upgradeable(depth, pkg, propagate, delayed) {
                    failed = true;
                    if give_up(failed) {
                        break;
                    }
                }
            }
            if give_up(failed) {
                break;
            }
        }
        !failed
    }

    fn collect_reverse_depends(&self, ver: VerId, to_upgrade: &mut Vec<PkgId>) {
        let pkg = self.pkg_of(ver);
        let Some(current) = self.current(pkg) else {
            return;
        };
        let Some(rdeps) = self.deps.installed_rdeps.get(&pkg) else {
            return;
        };
        for &d in rdeps {
            let dep = &self.deps.recs[d as usize];
            let parent = self.pkg_of(dep.parent);
            if self.current(parent) != Some(dep.parent)
                || self.state[parent as usize].mode == Mode::Install
            {
                continue;
            }
            if !self.is_important(d) || dep.kind.is_negative() {
                continue;
            }
            let versions = &self.u.vers;
            if !Universe::satisfies(dep, &versions[current as usize].version)
                || Universe::satisfies(dep, &versions[ver as usize].version)
            {
                continue;
            }
            if !to_upgrade.contains(&parent) {
                to_upgrade.push(parent);
            }
        }
    }

    fn upgrade_or_remove_conflicts(
        &mut self,
        depth: u32,
        force: bool,
        to_upgrade: &mut Vec<PkgId>,
        propagate: bool,
        from_user: bool,
    ) -> bool {
        let mut failed = false;
        for pkg in std::mem::take(to_upgrade) {
            if self.state[pkg as usize].mode != Mode::Install
                && !self.mark_install(pkg, true, depth + 1, false, force)
            {
                if !self.mark_delete(pkg, depth + 1, false) {
                    failed = true;
                    if !propagate && !from_user {
                        break;
                    }
                } else if propagate {
                    self.state[pkg as usize].protected = true;
                }
            }
        }
        !failed
    }

    fn upgrade_other_binaries(&mut self, depth: u32, force: bool, pkg: PkgId, ver: VerId) {
        let u = self.u;
        let (source, source_version) = u.source(ver);
        let Some(others) = u.installed_by_source.get(source) else {
            return;
        };
        let mut to_upgrade = BTreeSet::new();
        for &other in others {
            let other_pkg = self.pkg_of(other);
            if other_pkg == pkg {
                continue;
            }
            let current = self.current(other_pkg);
            if current.is_none() || current == Some(other) {
                continue;
            }
            let s = &self.state[other_pkg as usize];
            if s.mode == Mode::Install && s.install == Some(other) {
                continue;
            }
            if u.source(other).1 != source_version || s.candidate != Some(other) {
                continue;
            }
            to_upgrade.insert(other_pkg);
        }
        for &other in &to_upgrade {
            self.mark_install(other, false, depth + 1, false, force);
        }
        for &other in &to_upgrade {
            self.mark_install(other, true, depth + 1, false, force);
        }
    }

    fn install_dependencies(
        &mut self,
        pkg: PkgId,
        depth: u32,
        force: bool,
        to_install: &mut Vec<u32>,
        propagate: bool,
        from_user: bool,
    ) -> bool {
        let mut failed = false;
        for start in std::mem::take(to_install) {
            let end = self.group_end(start);
            let mut found = self.group_ok(start, end, Which::Install);
            if found && !propagate {
                continue;
            }
            let critical = self.deps.recs[start as usize].kind.is_critical();
            if found {
                if !critical {
                    continue;
                }
                let solutions =
                    self.possible_solutions(start, end, Selector::CandidateAndInstalled, false);
                if solutions.len() != 1 {
                    continue;
                }
                let target = self.pkg_of(solutions[0]);
                if self.state[target as usize].protected {
                    continue;
                }
                self.state[target as usize].protected = true;
                if !self.mark_install(target, true, depth + 1, false, force) {
                    failed = true;
                }
                continue;
            }
            if let Some(current) = self.current(pkg)
                && !force
                && !critical
                && !self.new_or_previously_satisfied(current, self.deps.recs[start as usize].target)
            {
                continue;
            }
            let solutions = self.possible_solutions(start, end, Selector::Candidate, true);
            for &ver in &solutions {
                let target = self.pkg_of(ver);
                if self.state[target as usize].candidate != Some(ver) {
                    continue;
                }
                self.reason.entry(target).or_insert((pkg, start));
                if propagate && critical && solutions.len() == 1 {
                    if !self.mark_install(target, false, depth + 1, false, force) {
                        continue;
                    }
                    self.state[target as usize].protected = true;
                }
                if !self.mark_install(target, true, depth + 1, false, force) {
                    continue;
                }
                found = true;
                break;
            }
            if !found && critical {
                self.failed.entry(pkg).or_insert(start);
                failed = true;
                if !propagate && !from_user {
                    break;
                }
            }
        }
        !failed
    }

    /// For a non-critical dependency of an installed package's new version: install it
    /// only if the installed version did not depend on the target, or its dependency on
    /// it was satisfied (apt bug #470115).
    fn new_or_previously_satisfied(&self, current: VerId, target: PkgId) -> bool {
        let mut is_new = true;
        for (start, end) in self.groups(current) {
            for d in start..=end {
                let dep = &self.deps.recs[d as usize];
                if dep.kind.is_critical() || !self.is_important(d) || dep.target != target {
                    continue;
                }
                is_new = false;
                if (start..=end).any(|m| self.check_dep(m, Which::Now)) {
                    return true;
                }
                break;
            }
        }
        is_new
    }

    /// `pkgDepCache::MarkInstall`.
    fn mark_install(
        &mut self,
        pkg: PkgId,
        auto_inst: bool,
        depth: u32,
        from_user: bool,
        force: bool,
    ) -> bool {
        let current = self.current(pkg);
        {
            let p = &self.state[pkg as usize];
            let dependencies_only = p.protected
                && p.mode == Mode::Keep
                && p.candidate.is_some()
                && p.candidate == current;
            if !dependencies_only && !self.is_mode_change_ok(Mode::Install, pkg, depth, from_user) {
                return false;
            }
        }
        let Some(candidate) = self.state[pkg as usize].candidate else {
            return false;
        };
        if !self.state[pkg as usize].protected
            && !self.inst_broken(pkg, true)
            && !self.inst_broken(pkg, false)
        {
            let p = &self.state[pkg as usize];
            if Some(candidate) == current {
                if p.install.is_none() {
                    return self.mark_keep(pkg, from_user, depth + 1);
                }
                return true;
            } else if p.mode == Mode::Install {
                return true;
            }
        }
        if !self.is_install_ok(pkg, auto_inst) {
            return false;
        }
        if from_user {
            self.state_change(pkg, auto_inst, from_user);
        }
        let protected_now = self.state[pkg as usize].protected;
        let fail_early = !protected_now && !from_user;
        let mut has_failed = false;
        let mut to_install = Vec::new();
        let mut to_remove = Vec::new();
        let mut to_upgrade = Vec::new();
        let mut delayed = Vec::new();
        if auto_inst {
            let Some(pv) = self.state[pkg as usize].candidate else {
                return false;
            };
            self.collect_dependencies(pv, &mut to_install, &mut to_remove);
            if !self.remove_conflicts_if_not_upgradeable(
                depth,
                &mut to_remove,
                &mut to_upgrade,
                &mut delayed,
                protected_now,
                from_user,
            ) {
                if fail_early {
                    return false;
                }
                has_failed = true;
            }
            self.collect_reverse_depends(pv, &mut to_upgrade);
        }
        if !from_user {
            self.state_change(pkg, auto_inst, from_user);
        }
        if !auto_inst {
            return !has_failed;
        }
        let already = self.state[pkg as usize].protected;
        self.state[pkg as usize].protected = true;
        let result = self.mark_install_dependencies(
            pkg,
            depth,
            force,
            already,
            from_user,
            fail_early,
            has_failed,
            &mut to_install,
            &mut to_upgrade,
            delayed,
        );
        if !already {
            self.state[pkg as usize].protected = false;
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn mark_install_dependencies(
        &mut self,
        pkg: PkgId,
        depth: u32,
        force: bool,
        propagate: bool,
        from_user: bool,
        fail_early: bool,
        mut has_failed: bool,
        to_install: &mut Vec<u32>,
        to_upgrade: &mut Vec<PkgId>,
        delayed: Vec<PkgId>,
    ) -> bool {
        if let Some(candidate) = self.state[pkg as usize].candidate {
            self.upgrade_other_binaries(depth, force, pkg, candidate);
        }
        if !self.upgrade_or_remove_conflicts(depth, force, to_upgrade, propagate, from_user) {
            if fail_early {
                self.discard_install(pkg);
                return false;
            }
            has_failed = true;
        }
        if !self.install_dependencies(pkg, depth, force, to_install, propagate, from_user) {
            if fail_early {
                self.discard_install(pkg);
                return false;
            }
            has_failed = true;
        }
        for removal in delayed {
            if !self.mark_delete(removal, depth, false) {
                if fail_early {
                    self.discard_install(pkg);
                    return false;
                }
                has_failed = true;
            }
        }
        !has_failed
    }

    /// After marking: what apt would report as broken or removed.
    fn check(&self, requested: &[PkgId]) -> Result<(), SolveError> {
        let u = self.u;
        let mut unmet = Vec::new();
        let mut conflicts = Vec::new();
        for (id, s) in self.state.iter().enumerate() {
            let pkg = id as PkgId;
            if s.mode == Mode::Delete {
                conflicts.push(format!(
                    "{} would have to be removed{}",
                    u.pkgs[id].display(),
                    self.removal_cause(pkg)
                ));
            }
            let Some(ver) = s.install else { continue };
            for (start, end) in self.groups(ver) {
                let kind = self.deps.recs[start as usize].kind;
                if !kind.is_critical() || self.group_ok(start, end, Which::Install) {
                    continue;
                }
                if kind.is_negative() {
                    let other: Vec<String> = (start..=end)
                        .flat_map(|d| {
                            let mut hits = Vec::new();
                            self.solutions_installed(d, &mut hits);
                            hits
                        })
                        .map(|v| u.ver_text(v))
                        .collect();
                    conflicts.push(format!(
                        "{} {}: {} (installed with {})",
                        u.ver_text(ver),
                        kind.name(),
                        self.dep_text(start),
                        other.join(", ")
                    ));
                } else {
                    let mut text = String::new();
                    self.explain(pkg, ver, start, end, 0, &mut Vec::new(), &mut text);
                    unmet.push(format!("{text}{}", self.chain(pkg, requested)));
                }
            }
        }
        if !unmet.is_empty() {
            unmet.sort();
            unmet.dedup();
            return Err(SolveError::Unsatisfiable {
                report: unmet.join("\n"),
            });
        }
        if !conflicts.is_empty() {
            conflicts.sort();
            conflicts.dedup();
            return Err(SolveError::Conflict {
                report: conflicts.join("\n"),
            });
        }
        Ok(())
    }

    fn solutions_installed(&self, d: u32, out: &mut Vec<VerId>) {
        let u = self.u;
        let dep = &self.deps.recs[d as usize];
        let parent = self.pkg_of(dep.parent);
        if dep.target != parent
            && let Some(ver) = self.state[dep.target as usize].install
            && Universe::satisfies(dep, &u.vers[ver as usize].version)
        {
            out.push(ver);
        }
        for provide in u.providers(&u.pkgs[dep.target as usize]) {
            let owner = self.pkg_of(provide.ver);
            if owner != parent
                && self.state[owner as usize].install == Some(provide.ver)
                && Universe::satisfies_provide(dep, provide.version.as_ref())
            {
                out.push(provide.ver);
            }
        }
    }

    fn removal_cause(&self, pkg: PkgId) -> String {
        let Some(current) = self.current(pkg) else {
            return String::new();
        };
        let u = self.u;
        for (id, s) in self.state.iter().enumerate() {
            let Some(ver) = s.install else { continue };
            for d in self.deps.range(ver) {
                let dep = &self.deps.recs[d as usize];
                if dep.kind.is_negative()
                    && dep.target == pkg
                    && Universe::satisfies(dep, &u.vers[current as usize].version)
                {
                    return format!(
                        ": {} {} {}",
                        u.pkgs[id].display(),
                        dep.kind.name(),
                        self.dep_text(d)
                    );
                }
            }
        }
        String::new()
    }

    /// `requested → … → pkg`: how marking reached a package (apt's "Installing X as
    /// Depends of Y" trail), empty for a requested package.
    fn chain(&self, pkg: PkgId, requested: &[PkgId]) -> String {
        let u = self.u;
        let mut trail = vec![u.pkgs[pkg as usize].display()];
        let mut at = pkg;
        let mut seen = BTreeSet::from([pkg]);
        while !requested.contains(&at) {
            let Some(&(parent, _)) = self.reason.get(&at) else {
                break;
            };
            if !seen.insert(parent) {
                break;
            }
            trail.push(u.pkgs[parent as usize].display());
            at = parent;
        }
        if trail.len() == 1 {
            return String::new();
        }
        trail.reverse();
        format!("  (pulled in by {})\n", trail.join(" → "))
    }

    /// apt's "but it is not installable" lines, descending into alternatives that
    /// failed.
    #[allow(clippy::too_many_arguments)]
    fn explain(
        &self,
        pkg: PkgId,
        ver: VerId,
        start: u32,
        end: u32,
        indent: usize,
        seen: &mut Vec<PkgId>,
        out: &mut String,
    ) {
        use std::fmt::Write as _;
        let u = self.u;
        if seen.contains(&pkg) || seen.len() > 12 {
            return;
        }
        seen.push(pkg);
        let pad = "  ".repeat(indent);
        let alternatives: Vec<String> = (start..=end).map(|d| self.dep_text(d)).collect();
        let _ = writeln!(
            out,
            "{pad}{} {}: {}",
            u.ver_text(ver),
            self.deps.recs[start as usize].kind.name(),
            alternatives.join(" | ")
        );
        for d in start..=end {
            let dep = &self.deps.recs[d as usize];
            let target = &u.pkgs[dep.target as usize];
            let name = target.display();
            // The policy's candidate, even if marking discarded it as uninstallable.
            let candidate = self.state[dep.target as usize]
                .candidate
                .or_else(|| candidate_version(u, target));
            let failed = self.failed.get(&dep.target).copied();
            let why = match candidate {
                None if target.versions.is_empty() && !target.provided_by.is_empty() => {
                    format!("{name} is a virtual package whose providers cannot be installed")
                }
                None if target.versions.is_empty() => format!("{name} is not in any index"),
                None => format!("{name} has no installable version"),
                Some(c) if !Universe::satisfies(dep, &u.vers[c as usize].version) => {
                    format!("{name} {} is the candidate", u.vers[c as usize].version)
                }
                Some(_) if failed.is_some() => format!("{name} cannot be installed"),
                Some(c) => format!(
                    "{name} {} is not going to be installed",
                    u.vers[c as usize].version
                ),
            };
            let _ = writeln!(out, "{pad}  but {why}");
            if let Some(c) = candidate
                && Universe::satisfies(dep, &u.vers[c as usize].version)
                && let Some(failed) = failed
            {
                let failed_end = self.group_end(failed);
                self.explain(dep.target, c, failed, failed_end, indent + 2, seen, out);
            }
        }
        seen.pop();
    }

    fn choices(&self, requested: &[PkgId]) -> Vec<Choice> {
        let u = self.u;
        let mut chosen: Vec<(PkgId, VerId)> = Vec::new();
        for (id, s) in self.state.iter().enumerate() {
            if s.mode == Mode::Install
                && let Some(ver) = s.install
                && Some(ver) != u.pkgs[id].current
            {
                chosen.push((id as PkgId, ver));
            }
        }
        let members: BTreeSet<PkgId> = chosen.iter().map(|(p, _)| *p).collect();
        let mut required_by: FxMap<PkgId, BTreeSet<String>> = FxMap::default();
        for &(pkg, ver) in &chosen {
            for (start, end) in self.groups(ver) {
                let kind = self.deps.recs[start as usize].kind;
                if kind.is_negative() || !self.is_important(start) {
                    continue;
                }
                for d in start..=end {
                    let mut hits = Vec::new();
                    self.solutions_installed(d, &mut hits);
                    for hit in hits {
                        let target = self.pkg_of(hit);
                        if members.contains(&target) && target != pkg {
                            required_by
                                .entry(target)
                                .or_default()
                                .insert(u.pkgs[pkg as usize].display());
                        }
                    }
                }
            }
        }
        let mut out: Vec<Choice> = chosen
            .into_iter()
            .map(|(pkg, ver)| {
                let v = &u.vers[ver as usize];
                let file = u
                    .files_of(ver)
                    .max_by_key(|f| (f.priority, std::cmp::Reverse(f.index)));
                let stanza = file.map(|f| u.stanza(f.place));
                let stanza = stanza.as_ref();
                Choice {
                    name: u.pkgs[pkg as usize].display(),
                    version: v.version.to_string(),
                    arch: if v.arch_all { "all" } else { u.arch.as_str() }.to_string(),
                    filename: stanza.map(|s| s.filename.to_string()).unwrap_or_default(),
                    size: stanza.and_then(|s| s.size.trim().parse().ok()).unwrap_or(0),
                    sha256: stanza
                        .map(|s| s.sha256.to_ascii_lowercase())
                        .unwrap_or_default(),
                    index: file.map_or(STATUS_FILE, |f| f.index as usize),
                    requested: requested.contains(&pkg),
                    required_by: required_by
                        .remove(&pkg)
                        .map(|s| s.into_iter().collect())
                        .unwrap_or_default(),
                    upgrades: u.pkgs[pkg as usize]
                        .current
                        .map(|c| u.vers[c as usize].version.to_string()),
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

/// `pkgPolicy::GetCandidateVer`.
fn candidate_version(u: &Universe<'_>, pkg: &Pkg<'_>) -> Option<VerId> {
    let current = pkg.current.map(|c| &u.vers[c as usize].version);
    let mut candidate = None;
    let mut best = -1;
    for &ver in u.versions(pkg) {
        let v = &u.vers[ver as usize];
        let mut pin = v.pin;
        if v.first_file == NO_FILE && pkg.current != Some(ver) {
            pin = -1;
        }
        if pin == 0 || pin <= best {
            continue;
        }
        if let Some(current) = current
            && pin < 1000
            && v.version < *current
        {
            continue;
        }
        best = pin;
        candidate = Some(ver);
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Packages stanza: `extra` holds more fields, one per line.
    fn stanza(name: &str, version: &str, extra: &str) -> String {
        let mut text = format!(
            "Package: {name}\nVersion: {version}\nArchitecture: amd64\nFilename: pool/{name}_{version}_amd64.deb\nSize: 100\nSHA256: {}\n",
            "ab".repeat(32)
        );
        for line in extra.lines().map(str::trim).filter(|l| !l.is_empty()) {
            text.push_str(line);
            text.push('\n');
        }
        text.push('\n');
        text
    }

    fn installed(name: &str, version: &str, extra: &str) -> String {
        stanza(
            name,
            version,
            &format!("Status: install ok installed\n{extra}"),
        )
    }

    fn solve_with(
        indices: &[(&str, i32)],
        status: &str,
        wanted: &[&str],
        recommends: bool,
    ) -> Result<Vec<Choice>, SolveError> {
        let indices: Vec<Index<'_>> = indices
            .iter()
            .enumerate()
            .map(|(i, (text, priority))| Index {
                text,
                priority: *priority,
                label: format!("suite{i}/main"),
            })
            .collect();
        let wanted: Vec<Wanted> = wanted.iter().map(|w| Wanted::parse(w).unwrap()).collect();
        solve(
            &indices,
            status,
            &wanted,
            &Options {
                arch: "amd64".into(),
                recommends,
            },
        )
    }

    fn names(index: &str, status: &str, wanted: &[&str], recommends: bool) -> Vec<String> {
        solve_with(&[(index, 500)], status, wanted, recommends)
            .unwrap_or_else(|err| panic!("{err}"))
            .into_iter()
            .map(|c| format!("{} {}", c.name, c.version))
            .collect()
    }

    #[test]
    fn depends_and_pre_depends_are_followed() {
        let index = [
            stanza("app", "1.0", "Pre-Depends: base\nDepends: lib (>= 2)"),
            stanza("base", "1", ""),
            stanza("lib", "2.1", "Depends: leaf"),
            stanza("leaf", "0.1", ""),
            stanza("unrelated", "1", ""),
        ]
        .concat();
        assert_eq!(
            names(&index, "", &["app"], true),
            ["app 1.0", "base 1", "leaf 0.1", "lib 2.1"]
        );
    }

    #[test]
    fn alternatives_take_the_first_installable() {
        let index = [
            stanza("app", "1", "Depends: missing | broken | good | other"),
            stanza("broken", "1", "Depends: nowhere"),
            stanza("good", "1", ""),
            stanza("other", "1", ""),
        ]
        .concat();
        // `missing` does not exist, `broken` cannot be installed: `good`.
        assert_eq!(names(&index, "", &["app"], true), ["app 1", "good 1"]);
        // An installed later alternative already satisfies the group.
        assert_eq!(
            names(&index, &installed("other", "1", ""), &["app"], true),
            ["app 1"]
        );
    }

    #[test]
    fn virtual_packages_and_versioned_provides() {
        let index = [
            stanza("app", "1", "Depends: editor, api (>= 2)"),
            stanza("nano", "7", "Provides: editor\nPriority: important"),
            stanza("vim", "9", "Provides: editor\nPriority: optional"),
            stanza("old-impl", "1", "Provides: api (= 1)"),
            stanza("unversioned-impl", "1", "Provides: api"),
            stanza("new-impl", "1", "Provides: api (= 2.5)"),
        ]
        .concat();
        // The editor with the higher Priority field; the only provider of api >= 2.
        assert_eq!(
            names(&index, "", &["app"], true),
            ["app 1", "nano 7", "new-impl 1"]
        );
        // An installed provider wins over everything.
        assert_eq!(
            names(
                &index,
                &installed("vim", "9", "Provides: editor"),
                &["app"],
                true
            ),
            ["app 1", "new-impl 1"]
        );
    }

    #[test]
    fn epochs_and_tildes_decide_constraints() {
        let index = [
            stanza("app", "1", "Depends: lib (>= 1:1.0), pre (<< 2.0)"),
            stanza("lib", "1:0.5", ""),
            stanza("pre", "2.0~rc1", ""),
        ]
        .concat();
        // 1:0.5 >= 1:1.0 is false… but 1:0.5 > 2.0 without epoch; here the epoch is equal.
        let err = solve_with(&[(&index, 500)], "", &["app"], true).unwrap_err();
        assert!(err.to_string().contains("lib (>= 1:1.0)"), "{err}");
        let index = index.replace("Version: 1:0.5", "Version: 1:1.0~beta");
        assert!(
            solve_with(&[(&index, 500)], "", &["app"], true).is_err(),
            "1:1.0~beta < 1:1.0"
        );
        let index = index.replace("Version: 1:1.0~beta", "Version: 1:1.0");
        assert_eq!(
            names(&index, "", &["app"], true),
            ["app 1", "lib 1:1.0", "pre 2.0~rc1"]
        );
    }

    #[test]
    fn any_qualifier_needs_multi_arch_allowed() {
        let index = [
            stanza("tool", "1", "Depends: python3:any (>= 3.11)"),
            stanza("python3", "3.11.2", "Multi-Arch: allowed"),
        ]
        .concat();
        assert_eq!(
            names(&index, "", &["tool"], true),
            ["python3 3.11.2", "tool 1"]
        );
        let index = index.replace("Multi-Arch: allowed", "Multi-Arch: foreign");
        let err = solve_with(&[(&index, 500)], "", &["tool"], true).unwrap_err();
        assert!(err.to_string().contains("python3:any"), "{err}");
        // Architecture-qualified names for the native architecture read as plain names.
        let index = [
            stanza("tool", "1", "Depends: lib:amd64, lib2:native"),
            stanza("lib", "1", ""),
            stanza("lib2", "1", ""),
        ]
        .concat();
        assert_eq!(
            names(&index, "", &["tool"], true),
            ["lib 1", "lib2 1", "tool 1"]
        );
    }

    #[test]
    fn candidates_follow_priority_then_version() {
        let main = [
            stanza("app", "1.0", ""),
            stanza("only-bpo-dep", "1", "Depends: fresh"),
        ]
        .concat();
        let backports = [stanza("app", "2.0~bpo1", ""), stanza("fresh", "3", "")].concat();
        let pick = |main_prio, bpo_prio, want: &str| {
            let got: Vec<String> = solve_with(
                &[(&main, main_prio), (&backports, bpo_prio)],
                "",
                &[want],
                true,
            )
            .unwrap()
            .into_iter()
            .map(|c| format!("{} {} from {}", c.name, c.version, c.index))
            .collect();
            got
        };
        // Backports (NotAutomatic + ButAutomaticUpgrades: 100) lose to main's 500…
        assert_eq!(pick(500, 100, "app"), ["app 1.0 from 0"]);
        // … equal priorities take the higher version …
        assert_eq!(pick(500, 500, "app"), ["app 2.0~bpo1 from 1"]);
        // … and a package only in backports is still a candidate.
        assert_eq!(
            pick(500, 1, "only-bpo-dep"),
            ["fresh 3 from 1", "only-bpo-dep 1 from 0"]
        );
        // An installed version is never downgraded, whatever the priorities.
        let status = installed("app", "2.0~bpo1", "");
        assert!(
            solve_with(&[(&main, 500), (&backports, 100)], &status, &["app"], true)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn installed_packages_stay_unless_too_old() {
        let index = [
            stanza("app", "1", "Depends: lib (>= 2)"),
            stanza("lib", "2.5", "Source: libsrc"),
            stanza("lib-bin", "2.5", "Source: libsrc\nDepends: lib (= 2.5)"),
            stanza("user", "1", "Depends: lib (<< 2)"),
            stanza("user", "2", "Depends: lib (>= 2)"),
        ]
        .concat();
        let status = [
            installed("lib", "1.0", "Source: libsrc"),
            installed("lib-bin", "1.0", "Source: libsrc\nDepends: lib (= 1.0)"),
            installed("user", "1", "Depends: lib (<< 2)"),
        ]
        .concat();
        let choices = solve_with(&[(&index, 500)], &status, &["app"], true).unwrap();
        let got: Vec<String> = choices
            .iter()
            .map(|c| {
                format!(
                    "{} {} (was {})",
                    c.name,
                    c.version,
                    c.upgrades.as_deref().unwrap_or("-")
                )
            })
            .collect();
        // lib is upgraded for app; lib-bin follows its source; user would break and is upgraded.
        assert_eq!(
            got,
            [
                "app 1 (was -)",
                "lib 2.5 (was 1.0)",
                "lib-bin 2.5 (was 1.0)",
                "user 2 (was 1)"
            ]
        );
        // Satisfied already: nothing to do.
        let status = installed("lib", "2.5", "Source: libsrc");
        assert_eq!(names(&index, &status, &["app"], true), ["app 1"]);
    }

    #[test]
    fn recommends_follow_the_option_and_old_unsatisfied_ones_stay_out() {
        let index = [
            stanza("app", "2", "Depends: base\nRecommends: extra"),
            stanza("base", "2", "Recommends: base-extra"),
            stanza("extra", "1", ""),
            stanza("base-extra", "1", ""),
        ]
        .concat();
        assert_eq!(
            names(&index, "", &["app"], true),
            ["app 2", "base 2", "base-extra 1", "extra 1"]
        );
        assert_eq!(names(&index, "", &["app"], false), ["app 2", "base 2"]);
        // base is installed without its recommendation: upgrading it would not add it, and a
        // satisfied installed base is left alone.
        let status = installed("base", "2", "Recommends: base-extra");
        assert_eq!(names(&index, &status, &["app"], true), ["app 2", "extra 1"]);
    }

    #[test]
    fn conflicts_are_reported_and_breaks_fixed_by_upgrades() {
        let index = [
            stanza("new", "1", "Conflicts: old"),
            stanza("newer", "1", "Breaks: fixable (<< 2)"),
            stanza("fixable", "2", ""),
        ]
        .concat();
        let status = [installed("old", "1", ""), installed("fixable", "1", "")].concat();
        let err = solve_with(&[(&index, 500)], &status, &["new"], true).unwrap_err();
        assert!(matches!(err, SolveError::Conflict { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("old would have to be removed: new Conflicts old"),
            "{err}"
        );
        assert_eq!(
            names(&index, &status, &["newer"], true),
            ["fixable 2", "newer 1"]
        );
        // Two requested packages that conflict with each other.
        let index = [stanza("a", "1", "Conflicts: b"), stanza("b", "1", "")].concat();
        let err = solve_with(&[(&index, 500)], "", &["a", "b"], true).unwrap_err();
        assert!(err.to_string().contains("Conflicts"), "{err}");
    }

    #[test]
    fn spec_alternatives_and_virtual_names() {
        let index = [
            stanza("libgl1", "1.6", ""),
            stanza("mta-a", "1", "Provides: mail-transport-agent"),
            stanza("mta-b", "1", "Provides: mail-transport-agent"),
            stanza("only", "1", "Provides: single-virtual"),
        ]
        .concat();
        assert_eq!(
            names(&index, "", &["libgl1-mesa-glx | libgl1"], true),
            ["libgl1 1.6"]
        );
        assert_eq!(names(&index, "", &["single-virtual"], true), ["only 1"]);
        let err = solve_with(&[(&index, 500)], "", &["mail-transport-agent"], true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`mail-transport-agent` is a virtual package provided by mta-a, mta-b; name one of them"
        );
        let choices = solve_with(&[(&index, 500)], "", &["libgl1"], true).unwrap();
        assert!(choices[0].requested);
    }

    #[test]
    fn missing_names_list_suites_and_closest_names() {
        let index = [
            stanza("libglib2.0-0", "2.74", ""),
            stanza("libglib2.0-bin", "2.74", ""),
        ]
        .concat();
        let err =
            solve_with(&[(&index, 500), (&index, 100)], "", &["libglib2.0"], true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no package `libglib2.0` in suite0/main, suite1/main for amd64; closest names: libglib2.0-0, libglib2.0-bin"
        );
    }

    #[test]
    fn unsatisfiable_dependencies_print_the_chain() {
        let index = [
            stanza("app", "1", "Depends: mid"),
            stanza("mid", "1", "Depends: leaf (>= 2)"),
            stanza("leaf", "1", ""),
        ]
        .concat();
        let err = solve_with(&[(&index, 500)], "", &["app"], true)
            .unwrap_err()
            .to_string();
        // As apt: the user's package marks its only solution protected, so `mid` stays
        // marked with its dependency unmet.
        assert_eq!(
            err,
            "unmet dependencies:\nmid 1 Depends: leaf (>= 2)\n  but leaf 1 is the candidate\n  (pulled in by app → mid)\n"
        );
        // Alternatives that both fail: the report descends into each failure.
        let index = [
            stanza("app", "1", "Depends: mid | other | gone"),
            stanza("mid", "1", "Depends: leaf (>= 2)"),
            stanza("other", "1", "Depends: nothere"),
            stanza("leaf", "1", ""),
        ]
        .concat();
        let err = solve_with(&[(&index, 500)], "", &["app"], true)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "unmet dependencies:\n\
             app 1 Depends: mid | other | gone\n\
             \x20 but mid cannot be installed\n\
             \x20   mid 1 Depends: leaf (>= 2)\n\
             \x20     but leaf 1 is the candidate\n\
             \x20 but other cannot be installed\n\
             \x20   other 1 Depends: nothere\n\
             \x20     but nothere is not in any index\n\
             \x20 but gone is not in any index\n"
        );
    }

    #[test]
    fn required_by_names_the_dependers() {
        let index = [
            stanza("a", "1", "Depends: c"),
            stanza("b", "1", "Recommends: c"),
            stanza("c", "1", ""),
        ]
        .concat();
        let choices = solve_with(&[(&index, 500)], "", &["a", "b"], true).unwrap();
        let c = choices.iter().find(|c| c.name == "c").unwrap();
        assert_eq!(c.required_by, ["a", "b"]);
        assert!(!c.requested);
        assert_eq!(c.sha256, "ab".repeat(32));
        assert_eq!(c.filename, "pool/c_1_amd64.deb");
    }

    #[test]
    fn held_packages_are_not_upgraded_for_a_dependency() {
        let index = [
            stanza("app", "1", "Depends: lib (>= 2)"),
            stanza("lib", "2", ""),
        ]
        .concat();
        let status = stanza("lib", "1", "Status: hold ok installed");
        let err = solve_with(&[(&index, 500)], &status, &["app"], true).unwrap_err();
        assert!(err.to_string().contains("lib (>= 2)"), "{err}");
    }

    #[test]
    fn deep_dependency_chains_fit_the_marking_stack() {
        let depth = 2000;
        let index: String = (0..depth)
            .map(|i| {
                let extra = if i + 1 < depth {
                    format!("Depends: p{}", i + 1)
                } else {
                    String::new()
                };
                stanza(&format!("p{i}"), "1", &extra)
            })
            .collect();
        assert_eq!(
            solve_with(&[(&index, 500)], "", &["p0"], true)
                .unwrap()
                .len(),
            depth
        );
    }
}
