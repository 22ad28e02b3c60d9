//! `npm`: a package and a range or dist-tag → the exact version and its whole
//! installed closure, laid out as npm 7+ lays out `node_modules`, each member pinned by
//! its registry `sha512` integrity.
//!
//! The work is split at a seam: [`tree`] is Arborist's tree building, pure and
//! synchronous over documents it is given; this module fetches those documents (each
//! at most once per run, concurrently, following the dependency graph as manifests
//! arrive) and turns the tree into lock entries. Version choice is npm's
//! ([`packument::pick`], over node-semver's rules in [`semver`]), as are `npm:` aliases
//! ([`spec`]), peer dependencies, `optionalDependencies` filtered by `os`/`cpu`/`libc`,
//! and `bundleDependencies` (never fetched: they ship inside their parent's tarball).
//!
//! The tree is one for all platforms, as npm's package-lock is: packages for other
//! platforms are kept (with platform `"none"` when no locked platform installs them)
//! because `npm ci` refuses a lock that lacks them.

pub mod packument;
pub mod spec;
pub mod tree;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};

use super::revalidate::DocumentCache;
use super::{Context, Problem, artifact};
use crate::lock::npm::NO_PLATFORM;
use crate::lock::wire::NpmFactsWire;
use crate::lock::{ALL_PLATFORMS, ArtifactWire, PackageWire};
use crate::net::{DOCUMENT_LIMIT, Hash, HashAlgorithm, NetError};
use crate::platform::Platform;

/// node-semver's rules live below the lock (which checks locked versions by them).
pub use crate::versions::node_semver as semver;
pub use packument::{Engines, Manifest, Packument};
pub use tree::Target;

/// npm's own header for install metadata: the abbreviated document, else the full one.
pub const ACCEPT: &str = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8";
/// Requests at once to the npm registry: documents are small and the closure is wide
/// (a few hundred documents, each known only when its parent arrives), so the default
/// per-host limit would make the resolution wait in line instead of on the longest chain.
/// bun opens up to 64 connections, as here (measured: 32 gave 1.35× the longest chain in
/// `cargo bench --bench npm`, 64 gave 1.16×; npm itself opens 15).
pub const REGISTRY_CONNECTIONS: usize = 64;
/// Rounds of "build, fetch what was missing" before giving up (normally one).
const MAX_ROUNDS: usize = 32;

/// Which tool installs the package in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Installer {
    Npm,
    Bun,
}

#[derive(Debug, Clone, Serialize)]
pub struct NpmRequest {
    /// The registry package (`@anthropic-ai/claude-code`).
    pub package: String,
    /// A dist-tag (`latest`), version or range (`^1.2`).
    pub range: String,
    pub installer: Installer,
    /// A registry mirror tried after the canonical URL (`https://registry.npmmirror.com`).
    pub mirror: Option<String>,
}

/// Tree location → facts.
pub type Facts = BTreeMap<String, NpmFactsWire>;

/// Everything one resolution produced.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub artifact: ArtifactWire,
    pub facts: Facts,
    /// Package documents fetched, in order of arrival (each appears once).
    pub fetched: Vec<String>,
}

/// A global CLI's directory name in the build context and in the image
/// (`@anthropic-ai/claude-code` → `anthropic-ai-claude-code`): lowercase letters and
/// digits, everything else a `-`. The spec refuses two CLIs with the same one.
pub fn dir_name(package: &str) -> String {
    let slug: String = package
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    slug.trim_matches('-').to_string()
}

/// The npm-install-checks target of a platform (Ubuntu images: glibc).
pub fn target(platform: Platform) -> Target {
    let cpu = match platform {
        Platform::LinuxAmd64 => "x64",
        Platform::LinuxArm64 => "arm64",
    };
    Target {
        os: "linux",
        cpu,
        libc: "glibc",
    }
}

/// The driver's entry: documents are shared with the run's other npm tools. Engines
/// are not checked (the Node.js pin is resolved alongside, not before).
pub async fn resolve(
    ctx: &Context,
    _name: &str,
    request: &NpmRequest,
) -> Result<ArtifactWire, Problem> {
    Ok(
        resolve_shared(ctx, &ctx.npm_documents, request, &Engines::default())
            .await?
            .artifact,
    )
}

/// Resolve with the lock-file facts. `engines` are the Node.js/npm versions optional
/// packages and version choice are checked against, as npm does with its own; the
/// default checks nothing.
pub async fn resolve_closure(
    ctx: &Context,
    _name: &str,
    request: &NpmRequest,
    engines: &Engines,
) -> Result<Resolution, Problem> {
    resolve_shared(ctx, &SharedDocuments::default(), request, engines).await
}

/// [`resolve_closure`] with documents shared between the resolutions of one run: a
/// document several tools need is fetched once, even when they ask at the same time.
pub async fn resolve_shared(
    ctx: &Context,
    shared: &SharedDocuments,
    request: &NpmRequest,
    engines: &Engines,
) -> Result<Resolution, Problem> {
    let registry = ctx.sources.upstream("npm");
    ctx.client.raise_host_limit(&registry, REGISTRY_CONNECTIONS);
    let fetcher = Fetcher {
        ctx,
        registry: &registry,
        shared,
    };
    let mut docs = Documents::default();
    let root = vec![(request.package.clone(), request.range.clone())];
    fetcher.prefetch(&mut docs, &root).await?;
    let mut rounds = 0;
    let tree = loop {
        match tree::build(&docs, &root, engines) {
            Ok(tree) => break tree,
            Err(tree::BuildError::Missing(names)) if rounds < MAX_ROUNDS => {
                rounds += 1;
                fetcher.fetch_all(&mut docs, names).await?;
            }
            Err(err) => {
                return Err(Problem::msg(format!(
                    "npm package `{}`: {err}",
                    request.package
                )));
            }
        }
    };
    let resolution = lock_entries(ctx, request, &tree, &docs, &registry)?;
    Ok(Resolution {
        fetched: docs.order.clone(),
        ..resolution
    })
}

/// Package documents of one run, each fetched at most once: concurrent askers of the
/// same document wait for the one request in flight.
#[derive(Clone, Default)]
pub struct SharedDocuments {
    cells: Arc<Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Document>>>>>,
}

/// A fetched document, or why the registry has none (a 404 is an answer).
type Document = Result<Arc<Packument>, String>;

impl SharedDocuments {
    fn cell(&self, url: &str) -> Arc<tokio::sync::OnceCell<Document>> {
        let mut cells = self.cells.lock().expect("document table lock");
        Arc::clone(cells.entry(url.to_string()).or_default())
    }
}

/// Turn a built tree into the artifact's packages and their facts.
fn lock_entries(
    ctx: &Context,
    request: &NpmRequest,
    tree: &tree::Tree,
    docs: &Documents,
    registry: &str,
) -> Result<Resolution, Problem> {
    let entries = tree.entries();
    let mut installed: Vec<(Platform, BTreeSet<String>)> = Vec::new();
    for &platform in &ctx.platforms {
        let set = tree.installed(&target(platform)).map_err(|err| {
            Problem::msg(format!(
                "npm package `{}` on {platform}: {err}",
                request.package
            ))
        })?;
        installed.push((platform, set));
    }
    let top = entries
        .iter()
        .find(|e| e.requested && e.folder == request.package)
        .ok_or_else(|| {
            Problem::msg(format!(
                "`{}` did not resolve to a package",
                request.package
            ))
        })?;
    let mut result = artifact(super::Kind::Npm, top.manifest.version.clone());
    result.release_url = Some(format!(
        "https://www.npmjs.com/package/{}/v/{}",
        top.manifest.name, top.manifest.version
    ));

    let mut facts = Facts::new();
    for entry in &entries {
        let manifest = &entry.manifest;
        let id = format!("{}@{}", manifest.name, manifest.version);
        let hash = match manifest.integrity.as_deref().map(Hash::from_sri) {
            Some(Ok(hash)) if hash.algorithm == HashAlgorithm::Sha512 => hash,
            Some(_) | None => {
                let also = if manifest.shasum.is_some() {
                    " (only a sha1 `shasum`)"
                } else {
                    ""
                };
                return Err(Problem::msg(format!(
                    "`{id}` publishes no sha512 `dist.integrity`{also}; modelbench locks npm packages by sha512"
                )));
            }
        };
        let document_url = docs.url(&manifest.name);
        let canonical = match &manifest.tarball {
            Some(tarball) => join_url(document_url, tarball),
            None => return Err(Problem::msg(format!("`{id}` has no `dist.tarball`"))),
        };
        let mut urls = vec![canonical.clone()];
        if let Some(mirror) = &request.mirror {
            let mirrored = mirror_url(mirror, registry, &canonical, manifest);
            if !urls.contains(&mirrored) {
                urls.push(mirrored);
            }
        }
        let file = canonical
            .rsplit('/')
            .next()
            .map(|f| f.split(['?', '#']).next().unwrap_or(f).to_string())
            .unwrap_or_default();
        let on: Vec<&str> = installed
            .iter()
            .filter(|(_, set)| set.contains(&entry.location))
            .map(|(platform, _)| platform.as_str())
            .collect();
        let keys: Vec<&str> = if on.len() == installed.len() {
            vec![ALL_PLATFORMS]
        } else if on.is_empty() {
            vec![NO_PLATFORM]
        } else {
            on
        };
        for key in keys {
            result.packages.push(PackageWire {
                name: manifest.name.clone(),
                version: manifest.version.clone(),
                platform: key.to_string(),
                arch: None,
                build: None,
                subdir: None,
                noarch: None,
                path: Some(entry.location.clone()),
                file: file.clone(),
                urls: urls.clone(),
                hash: hash.clone(),
                size: None,
                requested: entry.requested,
                required_by: entry.required_by.clone(),
                npm: Some(facts_of(entry)),
                conda: None,
            });
        }
        facts.insert(entry.location.clone(), facts_of(entry));
    }
    result.packages.sort_by(|a, b| {
        (&a.platform, &a.name, &a.version, &a.path).cmp(&(
            &b.platform,
            &b.name,
            &b.version,
            &b.path,
        ))
    });
    Ok(Resolution {
        artifact: result,
        facts,
        fetched: Vec::new(),
    })
}

fn facts_of(entry: &tree::Entry) -> NpmFactsWire {
    let m = &entry.manifest;
    let map = |pairs: &[(String, String)]| pairs.iter().cloned().collect::<BTreeMap<_, _>>();
    NpmFactsWire {
        optional: entry.optional,
        peer: entry.peer,
        dependencies: map(&m.dependencies),
        optional_dependencies: map(&m.optional_dependencies),
        peer_dependencies: map(&m.peer_dependencies),
        optional_peers: m.optional_peers.clone(),
        bundled: m.bundled.clone(),
        bin: m.bin.clone(),
        install_script: m.install_script,
        os: m.os.clone(),
        cpu: m.cpu.clone(),
        libc: m.libc.clone(),
    }
}

/// Resolve a possibly relative tarball URL against its document's URL.
fn join_url(base: &str, reference: &str) -> String {
    match url::Url::parse(base).and_then(|b| b.join(reference)) {
        Ok(joined) => joined.to_string(),
        Err(_) => reference.to_string(),
    }
}

/// The same tarball on a mirror: the registry's path under the mirror's base.
fn mirror_url(mirror: &str, registry: &str, canonical: &str, manifest: &Manifest) -> String {
    let mirror = mirror.trim_end_matches('/');
    for base in [
        registry,
        "https://registry.npmjs.org",
        "https://registry.npmjs.com",
    ] {
        if let Some(rest) = canonical.strip_prefix(base.trim_end_matches('/'))
            && rest.starts_with('/')
        {
            return format!("{mirror}{rest}");
        }
    }
    let unscoped = manifest.name.rsplit('/').next().unwrap_or(&manifest.name);
    format!(
        "{mirror}/{}/-/{unscoped}-{}.tgz",
        manifest.name, manifest.version
    )
}

/// The documents of one run: fetched at most once each.
#[derive(Default)]
struct Documents {
    docs: HashMap<String, Document>,
    order: Vec<String>,
}

impl Documents {
    fn url(&self, name: &str) -> &str {
        match self.docs.get(name) {
            Some(Ok(doc)) => &doc.url,
            _ => "",
        }
    }

    fn insert(&mut self, name: String, doc: Document) {
        self.order.push(name.clone());
        self.docs.insert(name, doc);
    }
}

impl tree::Registry for Documents {
    fn packument(&self, name: &str) -> Option<Result<&Packument, String>> {
        self.docs
            .get(name)
            .map(|d| d.as_deref().map_err(String::clone))
    }
}

/// How far to follow a manifest's dependencies while prefetching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Reach {
    /// It gets installed: all its dependencies are needed.
    Full,
    /// Only an optional peer: npm loads its peer set but installs nothing more.
    Peers,
}

/// Prefetch bookkeeping: who waits for which document.
struct Prefetch {
    waiting: HashMap<String, Vec<(spec::RegistrySpec, Reach)>>,
    requested: HashSet<String>,
    work: Vec<(spec::RegistrySpec, Reach)>,
}

impl Prefetch {
    /// Queue a pick; returns a document to start fetching, if it is the first ask.
    fn want(&mut self, spec: spec::RegistrySpec, reach: Reach, docs: &Documents) -> Option<String> {
        if docs.docs.contains_key(&spec.name) {
            self.work.push((spec, reach));
            return None;
        }
        let name = spec.name.clone();
        self.waiting
            .entry(name.clone())
            .or_default()
            .push((spec, reach));
        self.requested.insert(name.clone()).then_some(name)
    }
}

struct Fetcher<'a> {
    ctx: &'a Context,
    registry: &'a str,
    shared: &'a SharedDocuments,
}

type Fetch = Result<(String, Document), Problem>;

impl Fetcher<'_> {
    /// A document from the run's store, fetched if nobody has yet.
    async fn fetch(&self, name: String) -> Fetch {
        // A dependency name is the registry's word: checked before it becomes a URL path
        // (`../../x` would leave the registry's namespace) or a lock entry.
        if let Err(err) = crate::lock::values::NpmName::parse("dependency", &name) {
            return Err(Problem::msg(format!(
                "the npm registry ({}) sent a value modelbench refuses to lock: {err}",
                crate::net::redact(self.registry)
            )));
        }
        let escaped = name.replacen('/', "%2f", 1);
        let url = format!("{}/{escaped}", self.registry);
        let cell = self.shared.cell(&url);
        let doc = cell.get_or_try_init(|| self.download(&name, &url)).await?;
        Ok((name, doc.clone()))
    }

    /// `GET <registry>/<name>`; a 404 is an answer (the package does not exist), not a
    /// failure of the run. A copy in the run's cache is revalidated (`If-None-Match` /
    /// `If-Modified-Since`) and used on `304`.
    async fn download(&self, name: &str, url: &str) -> Result<Document, Problem> {
        let cache = self
            .ctx
            .cache
            .as_deref()
            .map(|root| DocumentCache::new(root, "npm"));
        let cached = cache.as_ref().and_then(|c| c.get(url));
        let mut headers = vec![("Accept", ACCEPT)];
        headers.extend(cached.as_ref().map(|c| c.conditions()).unwrap_or_default());
        let fetched = self.ctx.client.get(url, &headers, DOCUMENT_LIMIT).await?;
        let document_url = fetched.url.clone();
        // The answer's headers when its body is new (kept once it parses).
        let (body, fresh) = match (fetched.status.as_u16(), cached) {
            (304, Some(cached)) => (cached.body, None),
            (status, _) if (200..300).contains(&status) => (fetched.body, Some(fetched.headers)),
            (404, _) => {
                return Ok(Err(format!(
                    "`{name}` is not in the registry ({url} answered 404)"
                )));
            }
            (status, _) => {
                return Err(Problem::Net(NetError::Status {
                    url: crate::net::redact(url),
                    status,
                    detail: None,
                }));
            }
        };
        let parse_name = name.to_string();
        // Large documents take a while to parse; keep them off the async workers.
        let (parsed, body) =
            tokio::task::spawn_blocking(move || (Packument::parse(&parse_name, &body), body))
                .await
                .map_err(|err| {
                    Problem::msg(format!("parsing the document of `{name}` failed: {err}"))
                })?;
        match parsed {
            Ok(mut doc) => {
                if let (Some(cache), Some(headers)) = (&cache, fresh) {
                    cache.store(url, &headers, &body);
                }
                doc.url = document_url;
                Ok(Ok(Arc::new(doc)))
            }
            Err(err) => Err(Problem::msg(format!("{url}: {err}"))),
        }
    }

    /// Fetch these documents (no further expansion).
    async fn fetch_all(
        &self,
        docs: &mut Documents,
        names: BTreeSet<String>,
    ) -> Result<(), Problem> {
        let mut in_flight: FuturesUnordered<_> = names
            .into_iter()
            .filter(|n| !docs.docs.contains_key(n))
            .map(|n| self.fetch(n))
            .collect();
        while let Some(result) = in_flight.next().await {
            let (name, doc) = result?;
            docs.insert(name, doc);
        }
        Ok(())
    }

    /// Fetch the closure of `roots` concurrently: as each document arrives, pick the
    /// versions it is asked for and request the documents their dependencies name. The
    /// longest wait is the longest chain of dependent documents.
    async fn prefetch(
        &self,
        docs: &mut Documents,
        roots: &[(String, String)],
    ) -> Result<(), Problem> {
        let mut state = Prefetch {
            waiting: HashMap::new(),
            requested: docs.docs.keys().cloned().collect(),
            work: Vec::new(),
        };
        let mut done: HashSet<(spec::RegistrySpec, Reach)> = HashSet::new();
        let mut in_flight = FuturesUnordered::new();
        let engines = Engines::default();
        for (name, range) in roots {
            if let Ok(spec) = spec::RegistrySpec::parse(name, range)
                && let Some(fetch) = state.want(spec, Reach::Full, docs)
            {
                in_flight.push(self.fetch(fetch));
            }
        }
        loop {
            while let Some((spec, reach)) = state.work.pop() {
                if !done.insert((spec.clone(), reach)) {
                    continue;
                }
                let Some(Ok(doc)) = docs.docs.get(&spec.name) else {
                    continue;
                };
                let Ok(manifest) = packument::pick(doc, &spec, &engines) else {
                    continue;
                };
                for (dep_name, dep_spec, dep_reach) in follow(&manifest, reach) {
                    if let Ok(dep) = spec::RegistrySpec::parse(&dep_name, &dep_spec)
                        && let Some(fetch) = state.want(dep, dep_reach, docs)
                    {
                        in_flight.push(self.fetch(fetch));
                    }
                }
            }
            let Some(result) = in_flight.next().await else {
                break;
            };
            let (name, doc) = result?;
            docs.insert(name.clone(), doc);
            let ready = state.waiting.remove(&name).unwrap_or_default();
            state.work.extend(ready);
        }
        Ok(())
    }
}

/// The dependencies to prefetch for a manifest reached with `reach`.
fn follow(manifest: &Manifest, reach: Reach) -> Vec<(String, String, Reach)> {
    let mut out = Vec::new();
    for (name, spec) in &manifest.peer_dependencies {
        let kind = if manifest.optional_peers.contains(name) {
            Reach::Peers
        } else {
            reach
        };
        out.push((name.clone(), spec.clone(), kind));
    }
    if reach == Reach::Full {
        for (name, spec) in manifest
            .dependencies
            .iter()
            .chain(&manifest.optional_dependencies)
        {
            if !manifest.bundled.contains(name) {
                out.push((name.clone(), spec.clone(), Reach::Full));
            }
        }
    }
    out
}
