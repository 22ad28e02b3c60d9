//! The `node_modules` tree npm 7+ builds: a port of Arborist's `buildIdealTree`
//! (`@npmcli/arborist` as bundled with npm 11: `build-ideal-tree.js`, `place-dep.js`,
//! `can-place-dep.js`, `node.js`, `edge.js`, `calc-dep-flags.js`, `optional-set.js`).
//!
//! The layout is part of what gets locked: `npm ci` installs exactly the paths of the
//! package-lock, so they must be the ones npm itself would write. The algorithm places
//! each dependency as shallow as it can without conflicting ("hoisting"), nests on
//! conflict, brings non-optional peer dependencies along with their dependents (via
//! "virtual roots" that hold a peer set until it is placed), replaces shallower nodes
//! when a newer one satisfies all their dependents, and prunes what became redundant.
//! The queue order (depth, then path by ICU collation), the alphabetical order of
//! placements and the document order of dependency maps all shape the result, so they
//! are kept.
//!
//! The tree is the same for every platform (npm locks the optional packages of other
//! platforms too, with their `os`/`cpu`/`libc`); [`Tree::installed`] then computes what
//! a given platform installs, as Arborist's `checkEngineAndPlatform` marks the rest
//! inert.
//!
//! This module is pure: it asks a [`Registry`] for documents and never waits. A missing
//! document aborts the build with [`BuildError::Missing`]; the caller fetches it and
//! builds again (the resolver prefetches the whole closure concurrently first, so that
//! is rare).

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use super::packument::{self, Engines, Manifest, Packument, PickError};
use super::semver::{self, Options, Version};
use super::spec::{RegistrySpec, Selector};

/// Where documents come from. `None`: not fetched yet (the build stops and asks).
pub trait Registry {
    fn packument(&self, name: &str) -> Option<Result<&Packument, String>>;
}

impl Registry for BTreeMap<String, Packument> {
    fn packument(&self, name: &str) -> Option<Result<&Packument, String>> {
        Some(
            self.get(name)
                .ok_or_else(|| format!("`{name}` is not in the registry")),
        )
    }
}

/// An install target as npm-install-checks sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub os: &'static str,
    pub cpu: &'static str,
    pub libc: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// These documents are needed and were not provided.
    Missing(BTreeSet<String>),
    /// npm would refuse too (ERESOLVE, ETARGET on a required package, EBADPLATFORM, …).
    Failed(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Missing(names) => {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                write!(f, "package documents not fetched: {}", names.join(", "))
            }
            BuildError::Failed(message) => f.write_str(message),
        }
    }
}

type NodeId = usize;

/// Nodes a build may create (placed, virtual and replaced ones) before it is taken to
/// churn without end. Real closures of hundreds of packages create a few thousand;
/// npm itself never finishes on trees that reach this (its peer sets keep replacing
/// one another), so giving up with an error is the honest answer.
const MAX_NODES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EdgeType {
    Prod,
    Optional,
    Peer,
    PeerOptional,
}

impl EdgeType {
    fn peer(self) -> bool {
        matches!(self, EdgeType::Peer | EdgeType::PeerOptional)
    }

    fn optional(self) -> bool {
        matches!(self, EdgeType::Optional | EdgeType::PeerOptional)
    }
}

#[derive(Debug, Clone)]
struct Edge {
    name: String,
    spec: String,
    kind: EdgeType,
    peer_conflicted: bool,
}

/// An edge by its source node and position (edges never change once loaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct EdgeRef {
    from: NodeId,
    index: usize,
}

#[derive(Debug, Clone)]
struct Node {
    /// The folder name (an alias's own name, not its target's).
    name: String,
    /// `None` for a node whose manifest could not be loaded (npm's failure node).
    manifest: Option<Arc<Manifest>>,
    error: Option<String>,
    parent: Option<NodeId>,
    /// In insertion order, as a JavaScript `Map`.
    children: Vec<NodeId>,
    edges: Vec<Edge>,
    /// For a virtual root: the node whose dependencies it mirrors.
    source: Option<NodeId>,
    /// Inventory order: bumped whenever the node enters a tree.
    seq: u64,
    optional: bool,
    peer: bool,
}

/// The `CanPlaceDep` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Ok,
    Keep,
    Replace,
    Conflict,
}

/// One `CanPlaceDep` check.
struct Check {
    dep: NodeId,
    target: NodeId,
    edge: EdgeRef,
    parent: Option<usize>,
    peer_path: Vec<NodeId>,
    prefer_dedupe: bool,
    can_place: Place,
    can_place_self: Option<Place>,
    peers_memo: Option<Place>,
    children: Vec<usize>,
}

/// One `PlaceDep`, kept for the visit that follows the placement.
struct Placement {
    edge: EdgeRef,
    parent: Option<usize>,
    can_place: Option<usize>,
    placed: Option<NodeId>,
    need_evaluation: Vec<NodeId>,
    children: Vec<usize>,
}

struct Builder<'r, R: Registry> {
    registry: &'r R,
    engines: Engines,
    nodes: Vec<Node>,
    root: NodeId,
    seq: u64,
    queue: Vec<NodeId>,
    seen: HashSet<NodeId>,
    virtual_roots: HashMap<NodeId, NodeId>,
    peer_set_source: HashMap<NodeId, NodeId>,
    load_failures: Vec<NodeId>,
    picks: HashMap<RegistrySpec, Result<Arc<Manifest>, String>>,
    missing: BTreeSet<String>,
    checks: Vec<Check>,
    placements: Vec<Placement>,
}

/// The built tree.
pub struct Tree {
    nodes: Vec<Node>,
    root: NodeId,
    load_failures: Vec<NodeId>,
    engines: Engines,
}

/// One installed package of a [`Tree`].
#[derive(Debug, Clone)]
pub struct Entry {
    /// `node_modules/a/node_modules/@s/b`.
    pub location: String,
    /// The folder name (differs from the package's name for aliases).
    pub folder: String,
    pub manifest: Arc<Manifest>,
    /// Only reachable through optional dependencies (npm's `optional` flag).
    pub optional: bool,
    /// Only reachable through peer dependencies (npm's `peer` flag).
    pub peer: bool,
    /// Asked for by the root.
    pub requested: bool,
    /// Package names of the tree members that depend on this one.
    pub required_by: Vec<String>,
}

/// Build the tree npm would build for a root whose `package.json` has `dependencies`.
pub fn build<R: Registry>(
    registry: &R,
    dependencies: &[(String, String)],
    engines: &Engines,
) -> Result<Tree, BuildError> {
    let root_manifest = Manifest {
        dependencies: dependencies.to_vec(),
        ..Manifest::default()
    };
    let mut builder = Builder {
        registry,
        engines: engines.clone(),
        nodes: Vec::new(),
        root: 0,
        seq: 0,
        queue: Vec::new(),
        seen: HashSet::new(),
        virtual_roots: HashMap::new(),
        peer_set_source: HashMap::new(),
        load_failures: Vec::new(),
        picks: HashMap::new(),
        missing: BTreeSet::new(),
        checks: Vec::new(),
        placements: Vec::new(),
    };
    builder.root = builder.new_node(String::new(), Some(Arc::new(root_manifest)), None, None);
    builder.nodes[builder.root].optional = false;
    builder.nodes[builder.root].peer = false;
    builder.queue.push(builder.root);
    while let Some(node) = builder.pop_queue() {
        if builder.nodes.len() > MAX_NODES {
            return Err(BuildError::Failed(format!(
                "the tree does not settle: {MAX_NODES} nodes created and still placing (npm loops on such trees too)"
            )));
        }
        let step = builder.build_dep_step(node);
        // A missing document explains any failure that followed it.
        if !builder.missing.is_empty() {
            return Err(BuildError::Missing(std::mem::take(&mut builder.missing)));
        }
        step?;
    }
    builder.calc_dep_flags();
    for &failed in &builder.load_failures {
        if builder.top(failed) == builder.root && !builder.nodes[failed].optional {
            let error = builder.nodes[failed].error.clone().unwrap_or_default();
            return Err(BuildError::Failed(error));
        }
    }
    Ok(Tree {
        root: builder.root,
        load_failures: builder.load_failures,
        engines: builder.engines,
        nodes: builder.nodes,
    })
}

thread_local! {
    /// `depValid` answers by (version, has a registry tarball, spec): the builder asks
    /// the same questions many times and each one parses a range.
    static DEP_VALID: RefCell<HashMap<(String, bool, String), bool>> = RefCell::new(HashMap::new());
}

fn dep_valid(version: &str, registry: bool, spec: &str) -> bool {
    let key = (version.to_string(), registry, spec.to_string());
    if let Some(answer) = DEP_VALID.with(|cache| cache.borrow().get(&key).copied()) {
        return answer;
    }
    // The name does not matter for the answer; `x` stands in for it.
    let answer = match RegistrySpec::parse("x", spec).map(|s| s.selector) {
        Ok(Selector::Range(range)) if range.is_empty() || range == "*" => true,
        Ok(Selector::Range(range)) | Ok(Selector::Version(range)) => {
            semver::satisfies(version, &range, Options::LOOSE)
        }
        // Any registry resolution satisfies a tag.
        Ok(Selector::Tag(_)) => registry,
        Err(_) => false,
    };
    DEP_VALID.with(|cache| cache.borrow_mut().insert(key, answer));
    answer
}

// ---- tree queries shared by the builder and the result ----

trait Forest {
    fn nodes(&self) -> &[Node];

    fn node(&self, id: NodeId) -> &Node {
        &self.nodes()[id]
    }

    fn edge(&self, edge: EdgeRef) -> &Edge {
        &self.node(edge.from).edges[edge.index]
    }

    fn top(&self, mut id: NodeId) -> NodeId {
        while let Some(parent) = self.node(id).parent {
            id = parent;
        }
        id
    }

    fn is_top(&self, id: NodeId) -> bool {
        self.node(id).parent.is_none()
    }

    fn child(&self, id: NodeId, name: &str) -> Option<NodeId> {
        self.node(id)
            .children
            .iter()
            .copied()
            .find(|&c| self.node(c).name == name)
    }

    /// `Node.resolve`: the node a `require(name)` from `id` finds.
    fn resolve(&self, mut id: NodeId, name: &str) -> Option<NodeId> {
        loop {
            if let Some(child) = self.child(id, name) {
                return Some(child);
            }
            id = self.node(id).parent?;
        }
    }

    fn edge_out(&self, id: NodeId, name: &str) -> Option<EdgeRef> {
        self.node(id)
            .edges
            .iter()
            .position(|e| e.name == name)
            .map(|index| EdgeRef { from: id, index })
    }

    fn edges_out(&self, id: NodeId) -> Vec<EdgeRef> {
        (0..self.node(id).edges.len())
            .map(|index| EdgeRef { from: id, index })
            .collect()
    }

    fn edge_to(&self, edge: EdgeRef) -> Option<NodeId> {
        self.resolve(edge.from, &self.edge(edge).name)
    }

    fn version(&self, id: NodeId) -> Option<&str> {
        self.node(id).manifest.as_ref().map(|m| m.version.as_str())
    }

    fn package_name(&self, id: NodeId) -> Option<&str> {
        self.node(id).manifest.as_ref().map(|m| m.name.as_str())
    }

    /// `depValid` for registry specifiers.
    fn dep_valid(&self, child: NodeId, spec: &str) -> bool {
        let Some(manifest) = &self.node(child).manifest else {
            return false;
        };
        dep_valid(&manifest.version, manifest.tarball.is_some(), spec)
    }

    /// `Edge.satisfiedBy`.
    fn satisfied_by(&self, edge: EdgeRef, node: NodeId) -> bool {
        let e = self.edge(edge);
        self.node(node).name == e.name && self.dep_valid(node, &e.spec)
    }

    /// `Edge.valid` (no `error`).
    fn edge_valid(&self, edge: EdgeRef) -> bool {
        let e = self.edge(edge);
        match self.edge_to(edge) {
            None => e.kind.optional(),
            Some(to) => {
                if e.kind.peer()
                    && self.node(to).parent == Some(edge.from)
                    && !self.is_top(edge.from)
                {
                    return false;
                }
                self.satisfied_by(edge, to)
            }
        }
    }

    /// Every node of the tree `top` heads, parents before children.
    fn members(&self, top: NodeId) -> Vec<NodeId> {
        let mut out = vec![top];
        let mut i = 0;
        while i < out.len() {
            out.extend(self.node(out[i]).children.iter().copied());
            i += 1;
        }
        out
    }

    /// `node.edgesIn`: edges of the same tree that resolve to `id`.
    fn edges_in(&self, id: NodeId) -> Vec<EdgeRef> {
        let mut out = Vec::new();
        for member in self.members(self.top(id)) {
            for edge in self.edges_out(member) {
                if self.edge_to(edge) == Some(id) {
                    out.push(edge);
                }
            }
        }
        out
    }

    fn is_descendant_of(&self, mut id: NodeId, ancestor: NodeId) -> bool {
        loop {
            if id == ancestor {
                return true;
            }
            match self.node(id).parent {
                Some(parent) => id = parent,
                None => return false,
            }
        }
    }

    fn location(&self, id: NodeId) -> String {
        let mut names = Vec::new();
        let mut current = id;
        while let Some(parent) = self.node(current).parent {
            names.push(self.node(current).name.as_str());
            current = parent;
        }
        names
            .iter()
            .rev()
            .map(|n| format!("node_modules/{n}"))
            .collect::<Vec<_>>()
            .join("/")
    }

    fn depth(&self, mut id: NodeId) -> usize {
        let mut depth = 0;
        while let Some(parent) = self.node(id).parent {
            depth += 1;
            id = parent;
        }
        depth
    }

    /// `gatherDepSet`: `set` plus what only they need, under an edge filter.
    fn gather_dep_set(&self, set: &[NodeId], filter: &dyn Fn(EdgeRef) -> bool) -> Vec<NodeId> {
        let mut deps: Vec<NodeId> = Vec::new();
        for &n in set {
            if !deps.contains(&n) {
                deps.push(n);
            }
        }
        let mut i = 0;
        while i < deps.len() {
            for edge in self.edges_out(deps[i]) {
                if let Some(to) = self.edge_to(edge)
                    && filter(edge)
                    && !deps.contains(&to)
                {
                    deps.push(to);
                }
            }
            i += 1;
        }
        let mut changed = true;
        while changed && !deps.is_empty() {
            changed = false;
            let snapshot = deps.clone();
            for dep in snapshot {
                if !deps.contains(&dep) {
                    continue;
                }
                let outside = self
                    .edges_in(dep)
                    .into_iter()
                    .any(|edge| !deps.contains(&edge.from) && filter(edge));
                if outside {
                    changed = true;
                    deps.retain(|&d| d != dep);
                }
            }
        }
        deps
    }
}

impl<R: Registry> Forest for Builder<'_, R> {
    fn nodes(&self) -> &[Node] {
        &self.nodes
    }
}

impl Forest for Tree {
    fn nodes(&self) -> &[Node] {
        &self.nodes
    }
}

/// `localeCompare` with the `en` collator for the ASCII that package paths use:
/// punctuation before digits before letters, letters case-insensitive at first (CLDR
/// root order), then lowercase before uppercase.
pub fn locale_compare(a: &str, b: &str) -> Ordering {
    const ORDER: &str = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz";
    let primary = |c: char| -> (u32, u32) {
        let lower = c.to_ascii_lowercase();
        match ORDER.find(lower) {
            Some(i) if c.is_ascii() => (0, i as u32),
            _ => (1, c as u32),
        }
    };
    let pa: Vec<(u32, u32)> = a.chars().map(primary).collect();
    let pb: Vec<(u32, u32)> = b.chars().map(primary).collect();
    pa.cmp(&pb)
        .then_with(|| {
            // Tertiary: lowercase sorts before uppercase at the first difference.
            for (x, y) in a.chars().zip(b.chars()) {
                if x != y {
                    return x.is_ascii_uppercase().cmp(&y.is_ascii_uppercase());
                }
            }
            Ordering::Equal
        })
        .then_with(|| a.cmp(b))
}

impl<R: Registry> Builder<'_, R> {
    fn new_node(
        &mut self,
        name: String,
        manifest: Option<Arc<Manifest>>,
        error: Option<String>,
        source: Option<NodeId>,
    ) -> NodeId {
        let edges = manifest.as_deref().map(load_edges).unwrap_or_default();
        self.seq += 1;
        self.nodes.push(Node {
            name,
            manifest,
            error,
            parent: None,
            children: Vec::new(),
            edges,
            source,
            seq: self.seq,
            optional: true,
            peer: true,
        });
        self.nodes.len() - 1
    }

    /// Remove a node (and its subtree) from its tree (`node.root = null`).
    fn detach(&mut self, id: NodeId) {
        if let Some(parent) = self.nodes[id].parent.take() {
            self.nodes[parent].children.retain(|&c| c != id);
        }
    }

    /// `node.parent = parent`: a same-named child of `parent` is displaced.
    fn set_parent(&mut self, id: NodeId, parent: NodeId) {
        if self.nodes[id].parent == Some(parent) {
            return;
        }
        self.detach(id);
        let name = self.nodes[id].name.clone();
        self.seq += 1;
        self.nodes[id].seq = self.seq;
        if let Some(existing) = self.child(parent, &name) {
            let slot = self.nodes[parent]
                .children
                .iter()
                .position(|&c| c == existing)
                .expect("child");
            self.nodes[parent].children[slot] = id;
            self.nodes[existing].parent = None;
        } else {
            self.nodes[parent].children.push(id);
        }
        self.nodes[id].parent = Some(parent);
    }

    fn pop_queue(&mut self) -> Option<NodeId> {
        if self.queue.is_empty() {
            return None;
        }
        let mut keyed: Vec<(usize, String, NodeId)> = self
            .queue
            .iter()
            .map(|&n| (self.depth(n), self.location(n), n))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| locale_compare(&a.1, &b.1)));
        self.queue = keyed.into_iter().map(|(_, _, n)| n).collect();
        Some(self.queue.remove(0))
    }

    fn push_queue(&mut self, id: NodeId) {
        if !self.queue.contains(&id) {
            self.queue.push(id);
        }
    }

    fn matches(&self, a: NodeId, b: NodeId) -> bool {
        if a == b {
            return true;
        }
        if self.nodes[a].name != self.nodes[b].name {
            return false;
        }
        match (&self.nodes[a].manifest, &self.nodes[b].manifest) {
            (Some(ma), Some(mb)) => match (&ma.integrity, &mb.integrity) {
                (Some(x), Some(y)) => x == y,
                _ => ma.tarball.is_some() && ma.tarball == mb.tarball,
            },
            _ => false,
        }
    }

    /// `node.satisfies(edge)`.
    fn node_satisfies(&self, node: NodeId, edge: EdgeRef) -> bool {
        self.nodes[node].name == self.edge(edge).name && self.satisfied_by(edge, node)
    }

    /// `this.canReplaceWith(other)`.
    fn can_replace_with(&self, this: NodeId, other: NodeId, ignore_peers: &[String]) -> bool {
        if self.nodes[this].name != self.nodes[other].name {
            return false;
        }
        if self.package_name(this) != self.package_name(other) {
            return false;
        }
        let dep_set = self.gather_dep_set(&[this], &|e| {
            self.edge_to(e) != Some(this) && self.edge_valid(e)
        });
        for edge in self.edges_in(this) {
            let from = edge.from;
            if !self.is_top(this)
                && self.nodes[from].parent == self.nodes[this].parent
                && self.edge(edge).kind.peer()
                && ignore_peers.contains(&self.nodes[from].name)
            {
                continue;
            }
            if !dep_set.contains(&from) && !self.satisfied_by(edge, other) {
                return false;
            }
        }
        true
    }

    /// `deepestNestingTarget(start, name)`.
    fn deepest_nesting_target(&self, start: NodeId, name: &str) -> NodeId {
        let mut target = start;
        loop {
            let Some(parent) = self.nodes[target].parent else {
                return target;
            };
            match self.edge_out(target, name) {
                Some(edge) if self.edge(edge).kind.peer() => target = parent,
                _ => return target,
            }
        }
    }

    fn virtual_root(&mut self, node: NodeId, reuse: bool) -> NodeId {
        if reuse && let Some(&vr) = self.virtual_roots.get(&node) {
            return vr;
        }
        let manifest = self.nodes[node].manifest.clone();
        let vr = self.new_node(self.nodes[node].name.clone(), manifest, None, Some(node));
        self.virtual_roots.insert(node, vr);
        vr
    }

    /// The manifest a specifier picks, memoized as Arborist's manifest cache.
    fn fetch_manifest(&mut self, name: &str, spec: &str) -> Result<Arc<Manifest>, String> {
        let spec = RegistrySpec::parse(name, spec)?;
        if let Some(found) = self.picks.get(&spec) {
            return found.clone();
        }
        let result = match self.registry.packument(&spec.name) {
            None => {
                self.missing.insert(spec.name.clone());
                return Err(format!("`{}` not fetched", spec.name));
            }
            Some(Err(err)) => Err(err),
            Some(Ok(packument)) => packument::pick(packument, &spec, &self.engines)
                .map_err(|err: PickError| err.to_string())
                .and_then(|manifest| {
                    // The version a dist-tag or range picked is the registry's word: it
                    // becomes a lock entry and a path in package-lock.json.
                    crate::lock::values::NpmVersion::parse("version", &manifest.version)
                        .map_err(|err| {
                            format!(
                                "the registry sent a value modelbench refuses to lock for `{}`: {err}",
                                spec.name
                            )
                        })?;
                    Ok(manifest)
                }),
        };
        self.picks.insert(spec, result.clone());
        result
    }

    // ---- buildIdealTree ----

    fn build_dep_step(&mut self, node: NodeId) -> Result<(), BuildError> {
        if self.seen.contains(&node) || self.top(node) != self.root {
            return Ok(());
        }
        if let Some(manifest) = &self.nodes[node].manifest
            && manifest.has_shrinkwrap
            && node != self.root
        {
            return Err(BuildError::Failed(format!(
                "`{}@{}` ships an npm-shrinkwrap.json: its dependencies would come from that file, not from this lock",
                manifest.name, manifest.version
            )));
        }
        self.seen.insert(node);

        let mut tasks: Vec<(EdgeRef, NodeId)> = Vec::new();
        let peer_source = self.peer_set_source.get(&node).copied().unwrap_or(node);
        for edge in self.problem_edges(node) {
            if self.edge(edge).peer_conflicted {
                continue;
            }
            let kind = self.edge(edge).kind;
            let source = if kind.peer() { peer_source } else { node };
            let virtual_root = self.virtual_root(source, true);
            let name = self.edge(edge).name.clone();
            let vr_dep = self
                .edge_out(virtual_root, &name)
                .filter(|&e| self.edge_valid(e))
                .and_then(|e| self.edge_to(e));
            let mut dep = vr_dep.filter(|&d| self.node_satisfies(d, edge));
            if dep.is_none() && kind == EdgeType::PeerOptional {
                let from = self.nodes[edge.from].parent.unwrap_or(edge.from);
                dep = self.find_hoistable_node(from, edge);
            }
            let dep = match dep {
                Some(dep) => dep,
                None => {
                    let mut required = vec![edge.from];
                    let parent = kind.peer().then_some(virtual_root);
                    self.node_from_edge(edge, parent, None, &mut required)?
                }
            };
            if !self.missing.is_empty() {
                return Ok(());
            }
            tasks.push((edge, dep));
        }
        tasks.sort_by(|a, b| locale_compare(&self.edge(a.0).name, &self.edge(b.0).name));

        for (edge, dep) in tasks {
            let placement = self.place_dep(edge, dep, None)?;
            self.visit_placement(placement);
        }
        Ok(())
    }

    fn visit_placement(&mut self, placement: usize) {
        let Some(placed) = self.placements[placement].placed else {
            // Nothing placed here; peers are only placed with their dependent.
            return;
        };
        let edge = self.placements[placement].edge;
        if self.nodes[placed].error.is_some() && !self.load_failures.contains(&placed) {
            self.load_failures.push(placed);
        }
        let check = self.placements[placement]
            .can_place
            .expect("placed nodes have a check");
        let kind = self.check_self(check);
        if matches!(kind, Place::Ok | Place::Replace) {
            for edge_in in self.edges_in(placed) {
                if edge_in == edge {
                    continue;
                }
                if !self.edge(edge_in).peer_conflicted && !self.edge_valid(edge_in) {
                    // npm install re-queues visited dependents too (`save` is on).
                    self.seen.remove(&edge_in.from);
                    self.push_queue(edge_in.from);
                }
            }
        }
        self.push_queue(placed);
        for dep in self.placements[placement].need_evaluation.clone() {
            self.seen.remove(&dep);
            self.push_queue(dep);
        }
        for child in self.placements[placement].children.clone() {
            self.visit_placement(child);
        }
    }

    fn find_hoistable_node(&self, root: NodeId, edge: EdgeRef) -> Option<NodeId> {
        let mut queue: VecDeque<NodeId> = self.nodes[root].children.iter().copied().collect();
        while let Some(node) = queue.pop_front() {
            if self.nodes[node].name == self.edge(edge).name && self.node_satisfies(node, edge) {
                return Some(node);
            }
            queue.extend(self.nodes[node].children.iter().copied());
        }
        None
    }

    fn problem_edges(&self, node: NodeId) -> Vec<EdgeRef> {
        let bundled: &[String] = match (&self.nodes[node].manifest, node == self.root) {
            (Some(m), false) => &m.bundled,
            _ => &[],
        };
        let mut problems = Vec::new();
        for edge in self.edges_out(node) {
            let e = self.edge(edge);
            if bundled.contains(&e.name) {
                continue;
            }
            let to = self.edge_to(edge);
            if let Some(to) = to
                && self.load_failures.contains(&to)
            {
                continue;
            }
            match to {
                None if e.kind != EdgeType::PeerOptional => problems.push(edge),
                None => {}
                Some(_) if !self.edge_valid(edge) => problems.push(edge),
                Some(_) => {}
            }
        }
        problems
    }

    fn node_from_edge(
        &mut self,
        edge: EdgeRef,
        parent: Option<NodeId>,
        second: Option<EdgeRef>,
        required: &mut Vec<NodeId>,
    ) -> Result<NodeId, BuildError> {
        let parent = match parent {
            Some(parent) => parent,
            None => self.virtual_root(edge.from, false),
        };
        let name = self.edge(edge).name.clone();
        let spec = self.edge(edge).spec.clone();
        let first = self.node_from_spec(&name, &spec, parent);
        let second_node = match second {
            Some(second) if !self.edge_valid(second) => {
                let spec2 = self.edge(second).spec.clone();
                Some(self.node_from_spec(&name, &spec2, parent))
            }
            _ => None,
        };
        let node = match second_node {
            Some(second_node) if self.edge_valid(edge) => second_node,
            _ => first,
        };
        self.set_parent(node, parent);
        let edge_kind = self.edge(edge).kind;
        let from_required = required.contains(&edge.from) && edge_kind != EdgeType::PeerOptional;
        let second_required = second.is_some_and(|s| {
            required.contains(&s.from) && self.edge(s).kind != EdgeType::PeerOptional
        });
        if (from_required || second_required) && !required.contains(&node) {
            required.push(node);
        }
        if let Some(source) = self.nodes[parent].source {
            self.peer_set_source.insert(node, source);
        }
        if !self.missing.is_empty() {
            return Ok(node);
        }
        self.load_peer_set(node, required)
    }

    fn node_from_spec(&mut self, name: &str, spec: &str, parent: NodeId) -> NodeId {
        let (manifest, error) = match self.fetch_manifest(name, spec) {
            Ok(manifest) => (Some(manifest), None),
            Err(err) => (None, Some(format!("cannot resolve `{name}@{spec}`: {err}"))),
        };
        let node = self.new_node(name.to_string(), manifest, error, None);
        self.set_parent(node, parent);
        node
    }

    fn load_peer_set(
        &mut self,
        node: NodeId,
        required: &mut Vec<NodeId>,
    ) -> Result<NodeId, BuildError> {
        let mut peer_edges: Vec<EdgeRef> = self
            .edges_out(node)
            .into_iter()
            .filter(|&e| {
                self.edge(e).kind.peer() && !(self.edge_valid(e) && self.edge_to(e).is_some())
            })
            .collect();
        peer_edges.sort_by(|a, b| locale_compare(&self.edge(*a).name, &self.edge(*b).name));

        for edge in peer_edges {
            let Some(parent) = self.nodes[node].parent else {
                break;
            };
            if self.edge_valid(edge) && self.edge_to(edge).is_some() {
                continue;
            }
            let name = self.edge(edge).name.clone();
            let parent_edge = self.edge_out(parent, &name);
            let source = self.nodes[parent].source.unwrap_or(parent);
            // Our project is the root; a conflict among others' peers is only a warning.
            let is_mine = source == self.root;
            let conflict_ok = !is_mine;

            if self.edge_to(edge).is_none() {
                match parent_edge {
                    None => {
                        self.node_from_edge(edge, Some(parent), None, required)?;
                        continue;
                    }
                    Some(parent_edge) => {
                        let dep =
                            self.node_from_edge(parent_edge, Some(parent), Some(edge), required)?;
                        if self.edge_valid(edge) {
                            continue;
                        }
                        if conflict_ok || !required.contains(&dep) {
                            self.nodes[edge.from].edges[edge.index].peer_conflicted = true;
                            continue;
                        }
                        if self.nodes[node].parent.is_none() {
                            break;
                        }
                        return Err(self.peer_conflict(edge));
                    }
                }
            }
            let current = self.edge_to(edge).expect("checked above");
            let dep = self.node_from_edge(edge, None, None, required)?;
            if self.can_replace_with(current, dep, &[]) {
                self.node_from_edge(edge, Some(parent), None, required)?;
                continue;
            }
            if conflict_ok || !required.contains(&edge.from) {
                continue;
            }
            return Err(self.peer_conflict(edge));
        }
        Ok(node)
    }

    fn peer_conflict(&self, edge: EdgeRef) -> BuildError {
        let from = self.nodes[edge.from]
            .manifest
            .as_ref()
            .filter(|_| edge.from != self.root)
            .map(|m| format!("`{}@{}`", m.name, m.version))
            .unwrap_or_else(|| "the root".into());
        let e = self.edge(edge);
        BuildError::Failed(format!(
            "ERESOLVE: cannot satisfy peer dependency `{}@{}` of {from} together with the rest of the tree",
            e.name, e.spec
        ))
    }

    // ---- PlaceDep ----

    fn place_dep(
        &mut self,
        edge: EdgeRef,
        dep: NodeId,
        parent: Option<usize>,
    ) -> Result<usize, BuildError> {
        let id = self.placements.len();
        self.placements.push(Placement {
            edge,
            parent,
            can_place: None,
            placed: None,
            need_evaluation: Vec::new(),
            children: Vec::new(),
        });
        // Nothing to do if the edge is fine as it is.
        if self.edge_to(edge).is_some() && self.edge_valid(edge) {
            return Ok(id);
        }
        let name = self.edge(edge).name.clone();
        let start = self.placement_start(id);
        let mut can_place: Option<usize> = None;
        let mut can_place_self: Option<usize> = None;
        let mut target = Some(start);
        while let Some(candidate) = target {
            target = self.nodes[candidate].parent;
            if !self.is_top(candidate)
                && let Some(target_edge) = self.edge_out(candidate, &name)
                && self.edge(target_edge).kind.peer()
            {
                continue;
            }
            let parent_check = parent.and_then(|p| self.placements[p].can_place);
            let check = self.can_place_dep(dep, candidate, edge, parent_check, Vec::new(), false);
            if self.check_self(check) != Place::Conflict {
                can_place_self = Some(check);
            }
            if self.checks[check].can_place != Place::Conflict {
                can_place = Some(check);
            } else {
                break;
            }
            if self.nodes[dep].error.is_some() {
                break;
            }
        }

        let check = match (can_place, can_place_self) {
            (Some(check), _) => check,
            (None, self_check) => {
                if self.placement_is_mine(id) {
                    let top = self.placements[self.placement_top(id)].edge;
                    return Err(self.peer_conflict(top));
                }
                match self_check {
                    None => {
                        self.warn_peer_conflict(edge);
                        return Ok(id);
                    }
                    Some(check) => check,
                }
            }
        };
        self.placements[id].can_place = Some(check);
        let target = self.checks[check].target;
        let placement = if self.checks[check].can_place == Place::Conflict {
            self.check_self(check)
        } else {
            self.checks[check].can_place
        };

        if placement == Place::Keep {
            if self.edge(edge).kind.peer() && !self.edge_valid(edge) {
                self.warn_peer_conflict(edge);
            }
            self.prune_dedupable(target, true);
            return Ok(id);
        }

        let mut p = Some(target);
        while let Some(ancestor) = p {
            if !self.is_top(ancestor) && self.matches(ancestor, dep) {
                return Err(BuildError::Failed(format!(
                    "`{}` depends on itself through a loop that npm resolves with a symlink; not supported",
                    self.nodes[dep].name
                )));
            }
            p = self.nodes[ancestor].parent;
        }

        let virtual_root = self.nodes[dep].parent;
        let manifest = self.nodes[dep].manifest.clone();
        let error = self.nodes[dep].error.clone();
        let placed = self.new_node(self.nodes[dep].name.clone(), manifest, error, None);
        self.placements[id].placed = Some(placed);

        if let Some(old) = self.child(target, &name) {
            self.replace_old_dep(id, placed, old, target);
        } else {
            self.set_parent(placed, target);
        }

        if self.edge(edge).kind.peer() && !self.node_satisfies(placed, edge) {
            self.warn_peer_conflict(edge);
        }

        if self.edge_valid(edge)
            && let Some(to) = self.edge_to(edge)
            && to != placed
        {
            self.prune_dedupable(to, false);
        }

        let mut same_name: Vec<NodeId> = self
            .members(self.root)
            .into_iter()
            .filter(|&n| self.nodes[n].name == name)
            .collect();
        same_name.sort_by_key(|&n| self.nodes[n].seq);
        for node in same_name {
            if self.nodes[node].parent.is_some()
                && self.top(node) == self.top(target)
                && self.is_descendant_of(node, target)
                && !self.is_top(node)
            {
                self.prune_dedupable(node, false);
                if self.top(node) == self.top(target) {
                    for kid in self.nodes[node].children.clone() {
                        self.prune_dedupable(kid, false);
                    }
                }
            }
        }

        // Place the peers that came along in the virtual root, next to the dependent.
        let Some(virtual_root) = virtual_root else {
            return Ok(id);
        };
        for peer_edge in self.edges_out(placed) {
            let e = self.edge(peer_edge);
            if !e.kind.peer() || e.peer_conflicted || self.edge_valid(peer_edge) {
                continue;
            }
            let peer_name = e.name.clone();
            let Some(peer) = self.child(virtual_root, &peer_name) else {
                continue;
            };
            if !self.node_satisfies(peer, peer_edge) {
                continue;
            }
            let child = self.place_dep(peer_edge, peer, Some(id))?;
            self.placements[id].children.push(child);
        }
        Ok(id)
    }

    fn placement_top(&self, mut id: usize) -> usize {
        while let Some(parent) = self.placements[id].parent {
            id = parent;
        }
        id
    }

    /// `PlaceDep.getStartNode`.
    fn placement_start(&self, id: usize) -> NodeId {
        let from = match self.placements[id].parent {
            Some(parent) => self.placement_start(parent),
            None => self.placements[id].edge.from,
        };
        let name = self.edge(self.placements[id].edge).name.clone();
        self.deepest_nesting_target(from, &name)
    }

    /// `PlaceDep.isMine`: the conflict is the project's own (an ERESOLVE error).
    fn placement_is_mine(&self, id: usize) -> bool {
        let edge = self.placements[self.placement_top(id)].edge;
        let node = edge.from;
        if node == self.root {
            return true;
        }
        if !self.edge(edge).kind.peer() {
            return false;
        }
        let mut has_peer_edges = false;
        for edge_in in self.edges_in(node) {
            if self.edge(edge_in).kind.peer() {
                has_peer_edges = true;
                continue;
            }
            if edge_in.from == self.root {
                return true;
            }
        }
        if has_peer_edges {
            return self
                .peer_entry_sets(node)
                .iter()
                .any(|(entry, _)| entry.from == self.root);
        }
        false
    }

    fn warn_peer_conflict(&mut self, edge: EdgeRef) {
        self.nodes[edge.from].edges[edge.index].peer_conflicted = true;
    }

    fn replace_old_dep(&mut self, id: usize, placed: NodeId, old: NodeId, target: NodeId) {
        let mut old_deps: Vec<NodeId> = Vec::new();
        for edge in self.edges_out(old) {
            let name = self.edge(edge).name.clone();
            if self.edge_out(placed, &name).is_none()
                && let Some(to) = self.edge_to(edge)
            {
                old_deps.extend(self.gather_dep_set(&[to], &|e| self.edge_to(e) != Some(to)));
            }
        }

        let mut prune_peer_sets: Vec<NodeId> = Vec::new();
        for edge in self.edges_in(old) {
            let e = self.edge(edge);
            if self.satisfied_by(edge, placed)
                || !e.kind.peer()
                || self.nodes[edge.from].parent != Some(target)
                || e.peer_conflicted
            {
                continue;
            }
            for (entry_edge, _) in self.peer_entry_sets(edge.from) {
                let Some(entry_node) = self.edge_to(entry_edge) else {
                    continue;
                };
                // Arborist calls `deepestNestingTarget(entryNode)` without a name, which
                // answers the entry node itself.
                if entry_node != target && entry_edge.from != self.root {
                    prune_peer_sets.extend(self.gather_dep_set(&[entry_node], &|e| {
                        self.edge_to(e) != Some(entry_node) && !self.edge(e).peer_conflicted
                    }));
                } else {
                    self.warn_peer_conflict(edge);
                }
            }
        }

        // `placed.replace(old)`: take its place and its children.
        let slot = self.nodes[target]
            .children
            .iter()
            .position(|&c| c == old)
            .expect("old dep is a child");
        self.nodes[target].children[slot] = placed;
        self.nodes[placed].parent = Some(target);
        self.nodes[old].parent = None;
        self.seq += 1;
        self.nodes[placed].seq = self.seq;
        for kid in std::mem::take(&mut self.nodes[old].children) {
            self.nodes[kid].parent = None;
            self.set_parent(kid, placed);
        }
        self.prune_for_replacement(placed, &old_deps);
        for dep in prune_peer_sets {
            for edge in self.edges_in(dep) {
                if !self.placements[id].need_evaluation.contains(&edge.from) {
                    self.placements[id].need_evaluation.push(edge.from);
                }
            }
            self.detach(dep);
        }
    }

    fn prune_for_replacement(&mut self, node: NodeId, old_deps: &[NodeId]) {
        let mut invalid: Vec<NodeId> = self
            .edges_out(node)
            .into_iter()
            .filter(|&e| !self.edge_valid(e))
            .filter_map(|e| self.edge_to(e))
            .collect();
        for &dep in old_deps {
            for d in self.gather_dep_set(&[dep], &|e| {
                self.edge_to(e) != Some(dep) && self.edge_valid(e)
            }) {
                if !invalid.contains(&d) {
                    invalid.push(d);
                }
            }
        }
        let deps = self.gather_dep_set(&invalid, &|e| {
            e.from != node && self.edge_to(e) != Some(node) && self.edge_valid(e)
        });
        for dep in deps {
            self.detach(dep);
        }
    }

    /// `PlaceDep.pruneDedupable`.
    fn prune_dedupable(&mut self, node: NodeId, descend: bool) {
        if self.can_dedupe(node) {
            let deps = self.gather_dep_set(&[node], &|e| {
                self.edge_to(e) != Some(node) && self.edge_valid(e)
            });
            for dep in deps {
                self.detach(dep);
            }
            return;
        }
        if descend {
            let mut children = self.nodes[node].children.clone();
            children.sort_by(|&a, &b| locale_compare(&self.location(a), &self.location(b)));
            for child in children {
                self.prune_dedupable(child, true);
            }
        }
    }

    /// `Node.canDedupe` (no preferDedupe, no explicit request, no overrides).
    fn can_dedupe(&self, node: NodeId) -> bool {
        let Some(parent) = self.nodes[node].parent else {
            return false;
        };
        let Some(grandparent) = self.nodes[parent].parent else {
            return false;
        };
        if self.edges_in(node).is_empty() {
            return true;
        }
        let name = self.nodes[node].name.clone();
        let Some(other) = self.resolve(grandparent, &name) else {
            return false;
        };
        if self.matches(other, node) {
            return true;
        }
        if !self.can_replace_with(node, other, &[]) {
            return false;
        }
        let parse = |id: NodeId| self.version(id).and_then(|v| Version::parse(v, true));
        match (parse(other), parse(node)) {
            (Some(o), Some(n)) => o.compare(&n) != Ordering::Less,
            _ => false,
        }
    }

    /// `peerEntrySets(node)`: entry edge → the peer set it brings in.
    fn peer_entry_sets(&self, node: NodeId) -> Vec<(EdgeRef, Vec<NodeId>)> {
        let mut union = vec![node];
        let mut i = 0;
        while i < union.len() {
            let n = union[i];
            for edge in self.edges_out(n) {
                if self.edge(edge).kind.peer()
                    && self.edge_valid(edge)
                    && let Some(to) = self.edge_to(edge)
                    && !union.contains(&to)
                {
                    union.push(to);
                }
            }
            for edge in self.edges_in(n) {
                if self.edge(edge).kind.peer()
                    && self.edge_valid(edge)
                    && !union.contains(&edge.from)
                {
                    union.push(edge.from);
                }
            }
            i += 1;
        }
        let mut sets: Vec<(EdgeRef, Vec<NodeId>)> = Vec::new();
        for &peer in &union {
            for edge in self.edges_in(peer) {
                if !self.edge_valid(edge) {
                    continue;
                }
                if !self.edge(edge).kind.peer() || self.is_top(edge.from) {
                    let mut sub = vec![peer];
                    let mut j = 0;
                    while j < sub.len() {
                        for e in self.edges_out(sub[j]) {
                            if self.edge(e).kind.peer()
                                && self.edge_valid(e)
                                && let Some(to) = self.edge_to(e)
                                && !sub.contains(&to)
                            {
                                sub.push(to);
                            }
                        }
                        j += 1;
                    }
                    if sub.contains(&node) {
                        match sets.iter_mut().find(|(e, _)| *e == edge) {
                            Some(entry) => entry.1 = sub,
                            None => sets.push((edge, sub)),
                        }
                    }
                }
            }
        }
        sets
    }

    // ---- CanPlaceDep ----

    fn check_self(&self, check: usize) -> Place {
        self.checks[check]
            .can_place_self
            .unwrap_or(self.checks[check].can_place)
    }

    fn can_place_dep(
        &mut self,
        dep: NodeId,
        target: NodeId,
        edge: EdgeRef,
        parent: Option<usize>,
        peer_path: Vec<NodeId>,
        prefer_dedupe: bool,
    ) -> usize {
        let id = self.checks.len();
        let prefer_dedupe = prefer_dedupe || self.edge(edge).kind.peer();
        self.checks.push(Check {
            dep,
            target,
            edge,
            parent,
            peer_path,
            prefer_dedupe,
            can_place: Place::Conflict,
            can_place_self: None,
            peers_memo: None,
            children: Vec::new(),
        });
        let result = self.check_can_place(id);
        self.checks[id].can_place = result;
        if self.checks[id].can_place_self.is_none() {
            self.checks[id].can_place_self = Some(result);
        }
        id
    }

    fn check_can_place(&mut self, id: usize) -> Place {
        let Check {
            dep, target, edge, ..
        } = self.checks[id];
        let name = self.edge(edge).name.clone();
        let current = self.child(target, &name);
        let target_edge = self.edge_out(target, &name);
        if self.nodes[dep].error.is_some() {
            return if current.is_some() {
                Place::Replace
            } else {
                Place::Ok
            };
        }
        if let Some(target_edge) = target_edge {
            if self.edge(target_edge).kind.peer() && !self.is_top(target) {
                return Place::Conflict;
            }
            if current.is_none() && !self.node_satisfies(dep, target_edge) && target_edge != edge {
                return Place::Conflict;
            }
        }
        match current {
            Some(current) => self.check_can_place_current(id, current),
            None => self.check_can_place_no_current(id),
        }
    }

    fn check_can_place_current(&mut self, id: usize, current: NodeId) -> Place {
        let Check {
            dep,
            target,
            edge,
            prefer_dedupe,
            ..
        } = self.checks[id];
        let edge_override = !self.node_satisfies(dep, edge);
        if self.matches(dep, current) && (self.node_satisfies(current, edge) || edge_override) {
            return Place::Keep;
        }
        let cur = self.version(current).and_then(|v| Version::parse(v, true));
        let new = self.version(dep).and_then(|v| Version::parse(v, true));
        let try_replace =
            matches!((&cur, &new), (Some(c), Some(n)) if n.compare(c) != Ordering::Less);
        if try_replace && self.can_replace_with(current, dep, &[]) {
            let peers = self.can_place_peers(id, Place::Replace);
            if peers != Place::Conflict {
                return peers;
            }
        }
        if self.node_satisfies(current, edge) {
            return Place::Keep;
        }
        if prefer_dedupe && !try_replace && self.can_replace_with(current, dep, &[]) {
            let peers = self.can_place_peers(id, Place::Replace);
            if peers != Place::Conflict {
                return peers;
            }
        }
        let my_deepest = self.check_deepest_nesting_target(id);
        if target != my_deepest {
            return Place::Conflict;
        }
        if !self.edge(edge).kind.peer() && target == edge.from {
            return self.can_place_peers(id, Place::Replace);
        }
        if self.checks[id].parent.is_none() && !self.edge(edge).kind.peer() {
            return Place::Conflict;
        }

        let mut can_replace = true;
        let peer_entry_edge = self.checks[self.check_top(id)].edge;
        let dep_parent = self.nodes[dep].parent;
        for (entry_edge, current_peers) in self.peer_entry_sets(current) {
            if entry_edge == edge || entry_edge == peer_entry_edge {
                continue;
            }
            let Some(entry_node) = self.edge_to(entry_edge) else {
                continue;
            };
            let entry_name = self.nodes[entry_node].name.clone();
            let entry_rep = dep_parent.and_then(|p| self.child(p, &entry_name));
            if let Some(entry_rep) = entry_rep {
                let names: Vec<String> = dep_parent
                    .map(|p| {
                        self.nodes[p]
                            .children
                            .iter()
                            .map(|&c| self.nodes[c].name.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                if self.can_replace_with(entry_node, entry_rep, &names) {
                    continue;
                }
            }
            let mut can_clobber = entry_rep.is_none();
            if entry_rep.is_none() {
                let mut walk = vec![entry_node];
                let mut i = 0;
                'outer: while i < walk.len() {
                    for e in self.edges_out(walk[i]) {
                        if !self.edge(e).kind.peer() || !self.edge_valid(e) {
                            continue;
                        }
                        let peer_name = self.edge(e).name.clone();
                        match dep_parent.and_then(|p| self.child(p, &peer_name)) {
                            None => {
                                if let Some(to) = self.edge_to(e)
                                    && !walk.contains(&to)
                                {
                                    walk.push(to);
                                }
                            }
                            Some(rep) => {
                                if !self.node_satisfies(rep, e) {
                                    can_clobber = false;
                                    break 'outer;
                                }
                            }
                        }
                    }
                    i += 1;
                }
            }
            if can_clobber {
                continue;
            }
            for current_peer in current_peers {
                let peer_name = self.nodes[current_peer].name.clone();
                let deepest = self.deepest_nesting_target(entry_edge.from, &peer_name);
                if deepest == target || self.is_descendant_of(target, deepest) {
                    can_replace = false;
                    break;
                }
            }
        }
        if can_replace {
            return self.can_place_peers(id, Place::Replace);
        }
        Place::Conflict
    }

    fn check_can_place_no_current(&mut self, id: usize) -> Place {
        let Check {
            dep, target, edge, ..
        } = self.checks[id];
        let peer_entry_edge = self.checks[self.check_top(id)].edge;
        let name = self.edge(edge).name.clone();
        if target != peer_entry_edge.from
            && let Some(current) = self.resolve(target, &name)
        {
            for edge_in in self.edges_in(current) {
                if self.is_descendant_of(edge_in.from, target)
                    && self.edge_valid(edge_in)
                    && !self.node_satisfies(dep, edge_in)
                {
                    return Place::Conflict;
                }
            }
        }
        self.can_place_peers(id, Place::Ok)
    }

    fn check_top(&self, mut id: usize) -> usize {
        while let Some(parent) = self.checks[id].parent {
            id = parent;
        }
        id
    }

    fn check_deepest_nesting_target(&self, id: usize) -> NodeId {
        let start = match self.checks[id].parent {
            Some(parent) => self.check_deepest_nesting_target(parent),
            None => self.checks[id].edge.from,
        };
        let name = self.edge(self.checks[id].edge).name.clone();
        self.deepest_nesting_target(start, &name)
    }

    fn can_place_peers(&mut self, id: usize, state: Place) -> Place {
        self.checks[id].can_place_self = Some(state);
        if let Some(memo) = self.checks[id].peers_memo {
            return memo;
        }
        let dep = self.checks[id].dep;
        let mut peer_path = self.checks[id].peer_path.clone();
        peer_path.push(dep);
        let mut saw_conflict = false;
        for peer_edge in self.edges_out(dep) {
            if !self.edge(peer_edge).kind.peer() {
                continue;
            }
            let Some(peer) = self.edge_to(peer_edge) else {
                continue;
            };
            if peer_path.contains(&peer) {
                continue;
            }
            let peer_name = self.nodes[peer].name.clone();
            let target = self.deepest_nesting_target(self.checks[id].target, &peer_name);
            let child =
                self.can_place_dep(peer, target, peer_edge, Some(id), peer_path.clone(), true);
            self.checks[id].children.push(child);
            if self.checks[child].can_place == Place::Conflict {
                saw_conflict = true;
            }
        }
        let result = if saw_conflict { Place::Conflict } else { state };
        self.checks[id].peers_memo = Some(result);
        result
    }

    // ---- flags ----

    /// `calcDepFlags`: clear `optional`/`peer` along non-optional/non-peer edges.
    fn calc_dep_flags(&mut self) {
        let mut queue = vec![self.root];
        while let Some(node) = queue.pop() {
            for edge in self.edges_out(node) {
                let Some(to) = self.edge_to(edge) else {
                    continue;
                };
                let kind = self.edge(edge).kind;
                let mut changed = false;
                if self.nodes[to].optional && !self.nodes[node].optional && !kind.optional() {
                    self.nodes[to].optional = false;
                    changed = true;
                }
                if self.nodes[to].peer && !self.nodes[node].peer && !kind.peer() {
                    self.nodes[to].peer = false;
                    changed = true;
                }
                if changed {
                    queue.push(to);
                }
            }
        }
    }
}

/// The edges a manifest declares, in npm's order: peers, optional peers,
/// dependencies, optional dependencies; a later kind takes over an earlier one's name
/// but keeps its position.
fn load_edges(manifest: &Manifest) -> Vec<Edge> {
    let mut edges: Vec<Edge> = Vec::new();
    let mut add =
        |name: &str, spec: &str, kind: EdgeType| match edges.iter_mut().find(|e| e.name == name) {
            Some(edge) => {
                edge.spec = spec.to_string();
                edge.kind = kind;
            }
            None => edges.push(Edge {
                name: name.to_string(),
                spec: spec.to_string(),
                kind,
                peer_conflicted: false,
            }),
        };
    let (optional_peers, peers): (Vec<_>, Vec<_>) = manifest
        .peer_dependencies
        .iter()
        .partition(|(name, _)| manifest.optional_peers.contains(name));
    for (name, spec) in peers {
        add(name, spec, EdgeType::Peer);
    }
    for (name, spec) in optional_peers {
        add(name, spec, EdgeType::PeerOptional);
    }
    for (name, spec) in &manifest.dependencies {
        add(name, spec, EdgeType::Prod);
    }
    for (name, spec) in &manifest.optional_dependencies {
        add(name, spec, EdgeType::Optional);
    }
    edges
}

/// `checkList` of npm-install-checks (`!x` excludes, `any` allows all).
fn check_list(value: &str, list: &[String]) -> bool {
    if list.len() == 1 && list[0] == "any" {
        return true;
    }
    let mut negated = 0;
    let mut matched = false;
    for entry in list {
        match entry.strip_prefix('!') {
            Some(test) => {
                negated += 1;
                if value == test {
                    return false;
                }
            }
            None => matched = matched || value == entry,
        }
    }
    matched || negated == list.len()
}

/// `checkPlatform`: whether a manifest may be installed on `target`.
pub fn platform_ok(manifest: &Manifest, target: &Target) -> bool {
    let ok = |list: &[String], value: &str| list.is_empty() || check_list(value, list);
    ok(&manifest.os, target.os) && ok(&manifest.cpu, target.cpu) && ok(&manifest.libc, target.libc)
}

impl Tree {
    /// Every placed package, sorted by location.
    pub fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for id in self.members(self.root) {
            if id == self.root {
                continue;
            }
            let Some(manifest) = self.nodes[id].manifest.clone() else {
                continue;
            };
            let mut required_by = Vec::new();
            let mut requested = false;
            for edge in self.edges_in(id) {
                if edge.from == self.root {
                    requested = true;
                } else if let Some(name) = self.package_name(edge.from) {
                    required_by.push(name.to_string());
                }
            }
            required_by.sort();
            required_by.dedup();
            out.push(Entry {
                location: self.location(id),
                folder: self.nodes[id].name.clone(),
                manifest,
                optional: self.nodes[id].optional,
                peer: self.nodes[id].peer,
                requested,
                required_by,
            });
        }
        out.sort_by(|a, b| a.location.cmp(&b.location));
        out
    }

    /// The locations `target` installs: optional packages that cannot go there (and
    /// what only they need) are left out, as npm marks them inert. A required package
    /// that cannot go there is an error, as in npm (`EBADPLATFORM`).
    pub fn installed(&self, target: &Target) -> Result<BTreeSet<String>, String> {
        let mut members = self.members(self.root);
        members.sort_by_key(|&n| self.nodes[n].seq);
        let mut inert: HashSet<NodeId> = HashSet::new();
        for &failed in &self.load_failures {
            if self.top(failed) == self.root {
                let set = self.optional_set(failed, &inert);
                inert.extend(set);
            }
        }
        for &id in &members {
            if id == self.root {
                continue;
            }
            let Some(manifest) = &self.nodes[id].manifest else {
                continue;
            };
            if !self.nodes[id].optional {
                if !platform_ok(manifest, target) {
                    return Err(format!(
                        "`{}@{}` is not optional and does not support {}/{} ({}): os {:?}, cpu {:?}, libc {:?}",
                        manifest.name,
                        manifest.version,
                        target.os,
                        target.cpu,
                        target.libc,
                        manifest.os,
                        manifest.cpu,
                        manifest.libc
                    ));
                }
                continue;
            }
            if inert.contains(&id) {
                continue;
            }
            if !platform_ok(manifest, target) || !self.engines.accept(manifest) {
                let set = self.optional_set(id, &inert);
                inert.extend(set);
            }
        }
        Ok(members
            .into_iter()
            .filter(|&id| {
                id != self.root && !inert.contains(&id) && self.nodes[id].manifest.is_some()
            })
            .map(|id| self.location(id))
            .collect())
    }

    /// `optionalSet(node)`: up to the optional boundary, plus what only that needs.
    fn optional_set(&self, node: NodeId, inert: &HashSet<NodeId>) -> Vec<NodeId> {
        let mut set = vec![node];
        let mut i = 0;
        while i < set.len() {
            for edge in self.edges_in(set[i]) {
                if !self.edge(edge).kind.optional() && !set.contains(&edge.from) {
                    set.push(edge.from);
                }
            }
            i += 1;
        }
        let boundary = set.clone();
        self.gather_dep_set(&set, &|e| {
            let to = self.edge_to(e);
            !to.is_some_and(|t| boundary.contains(&t)) && !inert.contains(&e.from)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(docs: &[(&str, String)]) -> BTreeMap<String, Packument> {
        docs.iter()
            .map(|(name, json)| {
                (
                    name.to_string(),
                    Packument::parse(name, json.as_bytes()).unwrap(),
                )
            })
            .collect()
    }

    fn versions(name: &str, versions: &[(&str, &str)]) -> String {
        let body: Vec<String> = versions
            .iter()
            .map(|(v, extra)| {
                format!(
                    r#""{v}":{{"name":"{name}","version":"{v}","dist":{{"tarball":"http://r/{name}-{v}.tgz","integrity":"sha512-{name}{v}"}}{extra}}}"#
                )
            })
            .collect();
        let latest = versions.last().map(|(v, _)| *v).unwrap_or("");
        format!(
            r#"{{"name":"{name}","dist-tags":{{"latest":"{latest}"}},"versions":{{{}}}}}"#,
            body.join(",")
        )
    }

    fn layout(tree: &Tree) -> Vec<String> {
        tree.entries()
            .into_iter()
            .map(|e| format!("{} {}", e.location, e.manifest.version))
            .collect()
    }

    #[test]
    fn conflicts_nest_and_the_rest_hoists() {
        let reg = registry(&[
            (
                "a",
                versions(
                    "a",
                    &[("1.0.0", r#","dependencies":{"c":"^1.0.0","d":"1"}"#)],
                ),
            ),
            (
                "b",
                versions("b", &[("1.0.0", r#","dependencies":{"c":"^2.0.0"}"#)]),
            ),
            ("c", versions("c", &[("1.0.0", ""), ("2.0.0", "")])),
            ("d", versions("d", &[("1.0.0", "")])),
        ]);
        let deps = vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "1".to_string()),
        ];
        let tree = build(&reg, &deps, &Engines::default()).unwrap();
        assert_eq!(
            layout(&tree),
            [
                "node_modules/a 1.0.0",
                "node_modules/b 1.0.0",
                "node_modules/b/node_modules/c 2.0.0",
                "node_modules/c 1.0.0",
                "node_modules/d 1.0.0"
            ]
        );
    }

    #[test]
    fn peers_come_along_and_optional_platform_packages_are_inert() {
        let reg = registry(&[
            (
                "tool",
                versions(
                    "tool",
                    &[(
                        "1.0.0",
                        r#","peerDependencies":{"p":"^1"},"optionalDependencies":{"tool-linux":"1.0.0","tool-mac":"1.0.0"}"#,
                    )],
                ),
            ),
            ("p", versions("p", &[("1.0.0", ""), ("1.1.0", "")])),
            (
                "tool-linux",
                versions(
                    "tool-linux",
                    &[("1.0.0", r#","os":["linux"],"cpu":["x64"]"#)],
                ),
            ),
            (
                "tool-mac",
                versions("tool-mac", &[("1.0.0", r#","os":["darwin"]"#)]),
            ),
        ]);
        let tree = build(
            &reg,
            &[("tool".into(), "latest".into())],
            &Engines::default(),
        )
        .unwrap();
        assert_eq!(tree.entries().len(), 4);
        let linux = Target {
            os: "linux",
            cpu: "x64",
            libc: "glibc",
        };
        let installed: Vec<String> = tree.installed(&linux).unwrap().into_iter().collect();
        assert_eq!(
            installed,
            [
                "node_modules/p",
                "node_modules/tool",
                "node_modules/tool-linux"
            ]
        );
        let arm = Target {
            cpu: "arm64",
            ..linux
        };
        assert_eq!(tree.installed(&arm).unwrap().len(), 2);
    }

    #[test]
    fn collation_matches_icu_en() {
        let mut paths = vec![
            "node_modules/ab",
            "node_modules/a.b",
            "node_modules/a",
            "node_modules/@x/y",
            "node_modules/a-b",
            "node_modules/a_b",
            "node_modules/a/node_modules/b",
            "node_modules/A",
        ];
        paths.sort_by(|a, b| locale_compare(a, b));
        assert_eq!(
            paths,
            [
                "node_modules/@x/y",
                "node_modules/a",
                "node_modules/A",
                "node_modules/a_b",
                "node_modules/a-b",
                "node_modules/a.b",
                "node_modules/a/node_modules/b",
                "node_modules/ab"
            ]
        );
    }
}
