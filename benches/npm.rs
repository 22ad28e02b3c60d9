//! Benchmark (not a timed test): resolving the five seed CLIs' closures concurrently with
//! 50 ms of latency on every request to a loopback registry, against the longest chain
//! of dependent requests (a document can only be asked for once the document naming it
//! has arrived, so `chain × 50 ms` is the floor). Run with `cargo bench --bench npm`.
//!
//! The documents are the real ones: the first run records them from
//! registry.npmjs.org (network) into `target/npm-bench-documents/`; later runs are
//! offline. Set `MODELBENCH_NPM_BENCH_REFRESH=1` to record again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use modelbench::net::{Client, DOCUMENT_LIMIT};
use modelbench::platform::Platform;
use modelbench::resolve::Context;
use modelbench::resolve::npm::packument::{self, Engines, Manifest, Packument};
use modelbench::resolve::npm::spec::RegistrySpec;
use modelbench::resolve::npm::{self, ACCEPT, Installer, NpmRequest};
use modelbench::sources::Sources;
use sha2::{Digest, Sha256};

#[path = "../tests/it/support/world.rs"]
mod world;

use world::{Response, World};

/// What `world.rs` needs from its support module.
fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

const SEEDS: [&str; 5] = [
    "@anthropic-ai/claude-code",
    "@openai/codex",
    "tavily-mcp",
    "@upstash/context7-mcp",
    "@google/gemini-cli",
];
const LATENCY: Duration = Duration::from_millis(50);
const RUNS: usize = 3;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn context(sources: Sources) -> Context {
    Context::with_client(
        Client::new(false, sources.insecure_hosts()),
        sources,
        vec![Platform::LinuxAmd64, Platform::LinuxArm64],
    )
}

fn request(package: &str) -> NpmRequest {
    NpmRequest {
        package: package.into(),
        range: "latest".into(),
        installer: Installer::Npm,
        mirror: None,
    }
}

fn file_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{}.json", name.replace('/', "__")))
}

/// Every document the seed closures need, recorded from the registry once.
fn documents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let refresh = std::env::var("MODELBENCH_NPM_BENCH_REFRESH").as_deref() == Ok("1");
    let index = dir.join("index.txt");
    if refresh || !index.exists() {
        std::fs::create_dir_all(dir).expect("create the document directory");
        let ctx = context(Sources::default());
        let rt = runtime();
        let mut names = std::collections::BTreeSet::new();
        for seed in SEEDS {
            let resolution = rt
                .block_on(npm::resolve_closure(
                    &ctx,
                    seed,
                    &request(seed),
                    &Engines::default(),
                ))
                .unwrap_or_else(|err| panic!("recording needs registry.npmjs.org: {err}"));
            names.extend(resolution.fetched);
        }
        for name in &names {
            let url = format!(
                "https://registry.npmjs.org/{}",
                name.replacen('/', "%2f", 1)
            );
            let fetched = rt
                .block_on(
                    ctx.client
                        .get_ok(&url, &[("Accept", ACCEPT)], DOCUMENT_LIMIT),
                )
                .expect("document");
            std::fs::write(file_of(dir, name), fetched.body).expect("write a document");
        }
        let list: Vec<&str> = names.iter().map(String::as_str).collect();
        std::fs::write(&index, list.join("\n")).expect("write the index");
        eprintln!("recorded {} documents into {}", names.len(), dir.display());
    }
    std::fs::read_to_string(&index)
        .expect("index")
        .lines()
        .map(|name| {
            let bytes = std::fs::read(file_of(dir, name)).expect("recorded document");
            (name.to_string(), bytes)
        })
        .collect()
}

/// The longest chain of dependent requests: the breadth-first depth at which an ideal
/// fetcher (asking for each document the moment a manifest names it) finds the last one.
fn longest_chain(docs: &HashMap<String, Packument>) -> usize {
    let engines = Engines::default();
    let mut depth_of: HashMap<String, usize> = HashMap::new();
    let mut seen: HashSet<(RegistrySpec, bool)> = HashSet::new();
    let mut frontier: Vec<(RegistrySpec, bool)> = SEEDS
        .iter()
        .map(|s| (RegistrySpec::parse(s, "latest").expect("seed spec"), true))
        .collect();
    let mut depth = 0;
    while !frontier.is_empty() {
        depth += 1;
        let mut next = Vec::new();
        for (spec, full) in frontier {
            depth_of.entry(spec.name.clone()).or_insert(depth);
            if !seen.insert((spec.clone(), full)) {
                continue;
            }
            let Some(doc) = docs.get(&spec.name) else {
                continue;
            };
            let Ok(manifest) = packument::pick(doc, &spec, &engines) else {
                continue;
            };
            for (name, dep, dep_full) in follow(&manifest, full) {
                if let Ok(dep) = RegistrySpec::parse(&name, &dep) {
                    // Already requested at a lower depth: no new wait.
                    if depth_of.get(&dep.name).is_some_and(|&d| d <= depth) {
                        seen.insert((dep.clone(), dep_full));
                        continue;
                    }
                    next.push((dep, dep_full));
                }
            }
        }
        frontier = next;
    }
    depth_of.values().copied().max().unwrap_or(0)
}

fn follow(manifest: &Manifest, full: bool) -> Vec<(String, String, bool)> {
    let mut out: Vec<(String, String, bool)> = manifest
        .peer_dependencies
        .iter()
        .map(|(n, s)| {
            (
                n.clone(),
                s.clone(),
                full && !manifest.optional_peers.contains(n),
            )
        })
        .collect();
    if full {
        for (name, spec) in manifest
            .dependencies
            .iter()
            .chain(&manifest.optional_dependencies)
        {
            if !manifest.bundled.contains(name) {
                out.push((name.clone(), spec.clone(), true));
            }
        }
    }
    out
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/npm-bench-documents");
    let raw = documents(&dir);
    let parsed: HashMap<String, Packument> = raw
        .iter()
        .map(|(name, bytes)| {
            (
                name.clone(),
                Packument::parse(name, bytes).expect("document parses"),
            )
        })
        .collect();
    let chain = longest_chain(&parsed);

    let world = World::start();
    for (name, bytes) in &raw {
        let response = Response::bytes(bytes.clone()).header("Content-Type", "application/json");
        world.get(&format!("/{}", name.replacen('/', "%2f", 1)), response);
    }
    world.latency(LATENCY);
    let sources_file = dir.join("sources.toml");
    std::fs::write(
        &sources_file,
        format!("[upstream]\nnpm = \"{}\"\n", world.base_url()),
    )
    .expect("sources");
    let ctx = Arc::new(context(Sources::load(&sources_file).expect("sources load")));

    let rt = runtime();
    let mut times = Vec::new();
    for _ in 0..RUNS {
        world.clear_log();
        let started = Instant::now();
        // One store per run, as the driver keeps one per `modelbench lock`.
        let shared = npm::SharedDocuments::default();
        let results =
            rt.block_on(futures_util::future::join_all(SEEDS.iter().map(|seed| {
                let (ctx, shared) = (Arc::clone(&ctx), shared.clone());
                async move {
                    npm::resolve_shared(&ctx, &shared, &request(seed), &Engines::default()).await
                }
            })));
        let elapsed = started.elapsed();
        for (seed, result) in SEEDS.iter().zip(&results) {
            if let Err(err) = result {
                panic!("{seed}: {err}");
            }
        }
        let requests = world.requests().len();
        eprintln!("run: {elapsed:?} for {requests} requests");
        times.push(elapsed);
    }
    times.sort();
    let median = times[RUNS / 2];
    let floor = LATENCY * chain as u32;
    println!(
        "npm seed closures: {} documents, longest chain {chain} requests ({floor:?} at {LATENCY:?} each); \
         median of {RUNS} runs {median:?} = {:.2}× the chain (target ≤ 1.3×)",
        raw.len(),
        median.as_secs_f64() / floor.as_secs_f64()
    );
}
