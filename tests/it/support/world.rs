//! The loopback "world": a small HTTP/1.1 server on 127.0.0.1 that plays the upstreams (GitHub's REST
//! API and release downloads, plain URLs, …) for one test, with fault injection and an access log.
//!
//! std only: one accept thread plus one thread per connection. Every response carries
//! `Connection: close`, so there is no keep-alive state to get wrong, and a client that disconnects at
//! any point only ends its own connection thread. The threads are detached; dropping the [`World`] stops
//! the accept loop and none of them keeps the process alive.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use super::sha256_hex;

/// How long a connection may sit idle while its request is being read.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request head accepted; anything bigger is not a test client.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Pause between bytes for [`Fault::Trickle`].
pub const TRICKLE_INTERVAL: Duration = Duration::from_millis(10);

/// What a route serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Sent as given, after the status line. `Content-Length` and `Connection` are added by the
    /// server unless present here (a `HEAD` route may announce a length for a body it doesn't have).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// `200` with a JSON body.
    pub fn json(value: Value) -> Response {
        Response {
            status: 200,
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: serde_json::to_vec_pretty(&value).expect("JSON value serializes"),
        }
    }

    /// `200` with a binary body.
    pub fn bytes(body: impl Into<Vec<u8>>) -> Response {
        Response {
            status: 200,
            headers: vec![("Content-Type".into(), "application/octet-stream".into())],
            body: body.into(),
        }
    }

    /// `200` with a text body.
    pub fn text(body: impl Into<String>) -> Response {
        Response {
            status: 200,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: body.into().into_bytes(),
        }
    }

    /// A bare status with a GitHub-style JSON error body (`{"message": "<reason>"}`).
    pub fn status(code: u16) -> Response {
        Response::json(json!({
            "message": reason(code),
            "documentation_url": "https://docs.github.com/rest",
        }))
        .with_status(code)
    }

    /// `302 Found` to `location`.
    pub fn redirect(location: &str) -> Response {
        Response {
            status: 302,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
        }
    }

    /// Set a header, replacing any header of the same name.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn with_status(mut self, code: u16) -> Response {
        self.status = code;
        self
    }
}

/// One injected misbehaviour. Faults queue per path and each request to that path takes the next
/// one; when the queue is empty the route answers normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (500, 502, 503, …) and a GitHub-style JSON error body.
    Status(u16),
    /// Answer with this status (usually 429) and `Retry-After: <secs>`.
    RetryAfter(u16, u64),
    /// Send the headers (with the full `Content-Length`) and half the body, then drop the connection.
    Reset,
    /// Send all but the last byte of the announced `Content-Length`, then close.
    Truncate,
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Send the body one byte at a time, [`TRICKLE_INTERVAL`] apart.
    Trickle,
    /// Like [`Fault::Trickle`] with a chosen interval.
    TrickleEvery(Duration),
    /// Flip one byte in the middle of the body: same length, wrong digest.
    CorruptByte,
    /// Serve `200` with a JSON content type and a body that does not parse.
    MalformedJson,
}

/// One served request, as logged.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    pub method: String,
    /// The request target as sent, query string included.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub status: u16,
    pub fault: Option<Fault>,
    /// Body bytes of the answer (what a full delivery sends; 0 for `HEAD` and `304`).
    pub sent: usize,
}

impl LoggedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A deterministic xorshift64 generator (Marsaglia 2003): enough for reproducible jitter.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        // Zero is the one state xorshift never leaves.
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..=max`.
    pub fn up_to(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            self.next_u64()
        } else {
            self.next_u64() % (max + 1)
        }
    }
}

enum Latency {
    None,
    Fixed(Duration),
    /// Uniform in `0..=max`; the sequence is fixed by the seed, the order in which concurrent
    /// requests draw from it is not.
    Random {
        max: Duration,
        rng: XorShift,
    },
}

impl Latency {
    fn next(&mut self) -> Duration {
        match self {
            Latency::None => Duration::ZERO,
            Latency::Fixed(d) => *d,
            Latency::Random { max, rng } => {
                let micros = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
                Duration::from_micros(rng.up_to(micros))
            }
        }
    }
}

struct State {
    /// Keyed by (method, request target).
    routes: HashMap<(String, String), Response>,
    faults: HashMap<String, VecDeque<Fault>>,
    latency: Latency,
    log: Vec<LoggedRequest>,
    /// Path (matched like routes) -> (required `Authorization` value, answer without it).
    auth: HashMap<String, (String, Response)>,
}

struct Shared {
    state: Mutex<State>,
    stopping: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not take the server down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running loopback server. Cheap to start; start one per test.
pub struct World {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl World {
    pub fn start() -> World {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 for the world");
        let addr = listener.local_addr().expect("world listener address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                routes: HashMap::new(),
                faults: HashMap::new(),
                latency: Latency::None,
                log: Vec::new(),
                auth: HashMap::new(),
            }),
            stopping: AtomicBool::new(false),
        });
        let accept_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name(format!("world-accept-{}", addr.port()))
            .spawn(move || accept_loop(listener, accept_shared))
            .expect("spawn the world's accept thread");
        World { addr, shared }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT<path>`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        assert!(path.starts_with('/'), "world paths start with `/`: {path}");
        format!("{}{path}", self.base_url())
    }

    /// Serve `response` for `method path`. `path` may carry a query string: a request matches it
    /// exactly first, then by its path without the query. `HEAD` falls back to the `GET` route.
    pub fn route(&self, method: &str, path: &str, response: Response) {
        self.shared
            .lock()
            .routes
            .insert((method.to_ascii_uppercase(), path.to_string()), response);
    }

    /// `route("GET", path, response)`.
    pub fn get(&self, path: &str, response: Response) {
        self.route("GET", path, response);
    }

    /// Queue a fault for requests to `path` (any method; matched like routes).
    pub fn fault(&self, path: &str, fault: Fault) {
        self.shared
            .lock()
            .faults
            .entry(path.to_string())
            .or_default()
            .push_back(fault);
    }

    /// Queue several faults for `path`, in order.
    pub fn faults(&self, path: &str, faults: impl IntoIterator<Item = Fault>) {
        for fault in faults {
            self.fault(path, fault);
        }
    }

    /// Faults still queued for `path`.
    pub fn pending_faults(&self, path: &str) -> usize {
        self.shared.lock().faults.get(path).map_or(0, VecDeque::len)
    }

    /// Delay every response by `latency` (`Duration::ZERO` turns it off).
    pub fn latency(&self, latency: Duration) {
        self.shared.lock().latency = if latency.is_zero() {
            Latency::None
        } else {
            Latency::Fixed(latency)
        };
    }

    /// Delay every response by a pseudo-random time in `0..=max`, drawn from a sequence fixed by `seed`.
    pub fn random_latency(&self, max: Duration, seed: u64) {
        self.shared.lock().latency = Latency::Random {
            max,
            rng: XorShift::new(seed),
        };
    }

    /// Change the body served by every route registered at exactly `path` (any method), for
    /// instance to tamper with an asset after it was locked. Panics if there is no such route.
    pub fn replace_body(&self, path: &str, body: impl Into<Vec<u8>>) {
        let body = body.into();
        let mut state = self.shared.lock();
        let mut replaced = 0;
        for ((_, route_path), response) in state.routes.iter_mut() {
            if route_path == path {
                response.body = body.clone();
                replaced += 1;
            }
        }
        assert!(replaced > 0, "replace_body: no route at `{path}`");
    }

    /// The access log: (method, request target, status) in arrival order.
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        self.shared
            .lock()
            .log
            .iter()
            .map(|r| (r.method.clone(), r.path.clone(), r.status))
            .collect()
    }

    /// The access log with headers and bodies.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.shared.lock().log.clone()
    }

    /// nvm as the node tool brings it: release `v0.40.3` of `nvm-sh/nvm` and its
    /// `nvm.sh` at that tag (a raw file).
    pub fn serve_nvm(&self) {
        self.github_release_fixture(
            "nvm-sh",
            "nvm",
            &[FixtureRelease::new("v0.40.3", "2026-04-23T00:00:00Z")],
        );
        self.get(
            "/raw/nvm-sh/nvm/v0.40.3/nvm.sh",
            Response::text("# fixture nvm.sh\n"),
        );
    }

    /// Assert that the logged requests whose path `matches` exist, each a conditional GET
    /// with `If-None-Match: etag` answered `304` (a cache revalidating, no body sent).
    pub fn assert_revalidated(&self, matches: impl Fn(&str) -> bool, etag: &str) {
        let asked: Vec<LoggedRequest> = self
            .request_log()
            .into_iter()
            .filter(|r| matches(&r.path))
            .collect();
        assert!(!asked.is_empty(), "the warm run asks upstream again");
        for request in &asked {
            assert_eq!(request.header("if-none-match"), Some(etag), "{request:?}");
            assert_eq!(request.status, 304, "{request:?}");
        }
    }

    /// Requests whose target is `path`, or whose target without its query string is `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.shared
            .lock()
            .log
            .iter()
            .filter(|r| r.path == path || strip_query(&r.path) == path)
            .count()
    }

    pub fn clear_log(&self) {
        self.shared.lock().log.clear();
    }

    /// Requests to `path` (matched like routes, any method) whose `Authorization` header is not
    /// exactly `authorization` get `challenge` instead of the route. Queued faults still come first.
    pub fn require_authorization(&self, path: &str, authorization: &str, challenge: Response) {
        self.shared
            .lock()
            .auth
            .insert(path.to_string(), (authorization.to_string(), challenge));
    }

    /// A Docker-Hub-like registry behind the bearer-token flow (`sources.md` §7), serving one
    /// manifest:
    /// - `/v2/`: 401 with `WWW-Authenticate: Bearer realm="<world>/token",service="registry.test"`
    ///   (no scope), 200 `{}` with the token;
    /// - `/v2/{repo}/manifests/{tag}` and `…/{digest}`: 401 with the same challenge plus
    ///   `scope="repository:{repo}:pull"`; with the token, the manifest with `Content-Type`,
    ///   `Docker-Content-Digest` and `Docker-Distribution-Api-Version` (HEAD: headers only);
    /// - `/token?service=registry.test&scope=repository:{repo}:pull` (or any query): anonymous,
    ///   `{"token", "access_token", "expires_in", "issued_at"}`.
    ///
    /// Returns the registry host (`127.0.0.1:PORT`), the manifest digest and the token.
    pub fn token_registry_fixture(
        &self,
        repo: &str,
        tag: &str,
        media_type: &str,
        manifest: &[u8],
    ) -> TokenRegistry {
        // One token for the whole world, so several repositories can share `/v2/` and `/token`.
        let token = "fixture-token-7f3a9c".to_string();
        let authorization = format!("Bearer {token}");
        let digest = format!("sha256:{}", sha256_hex(manifest));
        let realm = self.url("/token");
        let challenge = |scope: Option<&str>| {
            let mut value = format!("Bearer realm=\"{realm}\",service=\"registry.test\"");
            if let Some(scope) = scope {
                value.push_str(&format!(",scope=\"{scope}\""));
            }
            Response::json(json!({
                "errors": [{ "code": "UNAUTHORIZED", "message": "authentication required", "detail": null }],
            }))
            .with_status(401)
            .header("WWW-Authenticate", value)
            .header("Docker-Distribution-Api-Version", "registry/2.0")
        };

        self.get(
            "/v2/",
            Response::json(json!({})).header("Docker-Distribution-Api-Version", "registry/2.0"),
        );
        self.require_authorization("/v2/", &authorization, challenge(None));
        let scope = format!("repository:{repo}:pull");
        for reference in [tag, digest.as_str()] {
            let path = format!("/v2/{repo}/manifests/{reference}");
            let response = Response {
                status: 200,
                headers: vec![
                    ("Content-Type".into(), media_type.into()),
                    ("Docker-Content-Digest".into(), digest.clone()),
                    (
                        "Docker-Distribution-Api-Version".into(),
                        "registry/2.0".into(),
                    ),
                    ("Etag".into(), format!("\"{digest}\"")),
                ],
                body: manifest.to_vec(),
            };
            self.get(&path, response);
            self.require_authorization(&path, &authorization, challenge(Some(&scope)));
        }
        self.get(
            "/token",
            Response::json(json!({
                "token": token,
                "access_token": token,
                "expires_in": 300,
                "issued_at": "2026-01-01T00:00:00Z",
            })),
        );
        TokenRegistry {
            host: self.addr.to_string(),
            digest,
            token,
        }
    }

    /// The GitHub API base to hand to the code under test (`github-api = "<this>"`).
    pub fn github_api(&self) -> String {
        self.url("/api")
    }

    /// Where a release asset is served: the fixture's `browser_download_url`.
    pub fn github_download_url(&self, owner: &str, repo: &str, tag: &str, name: &str) -> String {
        self.url(&format!(
            "/github/{owner}/{repo}/releases/download/{tag}/{name}"
        ))
    }

    /// Register a GitHub repository with these releases, shaped like the REST API
    /// (`sources.md` §1):
    /// - `/api/repos/{o}/{r}/releases?per_page=100` (also without the query): all releases, newest
    ///   `published_at` first, drafts included, no `Link` header (one page);
    /// - `/api/repos/{o}/{r}/releases/latest`: the newest release that is neither draft nor
    ///   prerelease (404 if none);
    /// - `/api/repos/{o}/{r}/releases/tags/{tag}` for every non-draft release;
    /// - `/api/repos/{o}/{r}/releases/assets/{id}`: a 302 to the download URL;
    /// - asset bytes at `/github/{o}/{r}/releases/download/{tag}/{name}`.
    pub fn github_release_fixture(
        &self,
        owner: &str,
        repo: &str,
        releases: &[FixtureRelease],
    ) -> GithubFixture {
        let api = self.github_api();
        let repo_api = format!("{api}/repos/{owner}/{repo}");
        let mut ordered: Vec<&FixtureRelease> = releases.iter().collect();
        // Newest first; ties keep the caller's order.
        ordered.sort_by(|a, b| b.published_at.cmp(&a.published_at));

        let count = ordered.len();
        let mut served = Vec::new();
        for (rank, release) in ordered.iter().enumerate() {
            // Older releases get smaller ids, as on GitHub.
            let id = 100_000 + (count - rank) as u64;
            let tag = &release.tag;
            let mut assets: Vec<FixtureAsset> = release.assets.clone();
            if let Some(style) = release.sums_file {
                assets.push(FixtureAsset::new(
                    SUMS_FILE,
                    sums_file(&release.assets, style),
                ));
            }
            let mut asset_json = Vec::new();
            for (i, asset) in assets.iter().enumerate() {
                let asset_id = id * 100 + i as u64;
                let download_path = format!(
                    "/github/{owner}/{repo}/releases/download/{tag}/{}",
                    asset.name
                );
                let download_url = self.url(&download_path);
                self.get(&download_path, Response::bytes(asset.bytes.clone()));
                self.get(
                    &format!("/api/repos/{owner}/{repo}/releases/assets/{asset_id}"),
                    Response::redirect(&download_url),
                );
                asset_json.push(asset_object(
                    &repo_api,
                    asset_id,
                    asset,
                    &download_url,
                    &release.published_at,
                ));
            }
            let published = if release.draft {
                Value::Null
            } else {
                Value::String(release.published_at.clone())
            };
            served.push(json!({
                "url": format!("{repo_api}/releases/{id}"),
                "assets_url": format!("{repo_api}/releases/{id}/assets"),
                "upload_url": format!(
                    "{}/repos/{owner}/{repo}/releases/{id}/assets{{?name,label}}",
                    self.url("/uploads")
                ),
                "html_url": self.url(&format!("/github/{owner}/{repo}/releases/tag/{tag}")),
                "id": id,
                "author": bot_user(),
                "node_id": format!("RE_kwDOfixture{id}"),
                "tag_name": tag,
                "target_commitish": "main",
                "name": tag,
                "draft": release.draft,
                "immutable": false,
                "prerelease": release.prerelease,
                "created_at": release.published_at,
                "published_at": published,
                "assets": asset_json,
                "tarball_url": format!("{repo_api}/tarball/{tag}"),
                "zipball_url": format!("{repo_api}/zipball/{tag}"),
                "body": format!("Release {tag}"),
            }));
        }

        // GitHub tags its API answers; a conditional GET with that tag gets `304`.
        let api_response = |value: Value| {
            let etag = format!(
                "W/\"{}\"",
                &super::sha256_hex(value.to_string().as_bytes())[..32]
            );
            Response::json(value)
                .header("ETag", etag)
                .header("X-GitHub-Api-Version-Selected", "2022-11-28")
                .header("X-RateLimit-Limit", "60")
                .header("X-RateLimit-Remaining", "59")
        };
        let list = Value::Array(served.clone());
        self.get(
            &format!("/api/repos/{owner}/{repo}/releases?per_page=100"),
            api_response(list.clone()),
        );
        self.get(
            &format!("/api/repos/{owner}/{repo}/releases"),
            api_response(list),
        );
        for (release, value) in ordered.iter().zip(&served) {
            if !release.draft {
                self.get(
                    &format!("/api/repos/{owner}/{repo}/releases/tags/{}", release.tag),
                    api_response(value.clone()),
                );
            }
        }
        if let Some((_, latest)) = ordered
            .iter()
            .zip(&served)
            .find(|(r, _)| !r.draft && !r.prerelease)
        {
            self.get(
                &format!("/api/repos/{owner}/{repo}/releases/latest"),
                api_response(latest.clone()),
            );
        }

        GithubFixture {
            api,
            base_url: self.base_url(),
            owner: owner.to_string(),
            repo: repo.to_string(),
            releases: served,
        }
    }

    /// The base to hand to the code under test as the `github` upstream (git repositories
    /// on GitHub): `github = "<this>"` in a sources file.
    pub fn github_git(&self) -> String {
        self.url("/git")
    }

    /// Serve a git repository's smart HTTP ref advertisement (protocol v0, what `git
    /// ls-remote` reads) at `/git/{owner}/{repo}/info/refs?service=git-upload-pack`:
    /// the service line, a flush, one pkt-line per `(sha, name)` as given (the first with
    /// its capabilities; `name^{}` lines peel the tag before them), a flush. Calling it
    /// again replaces the refs (a tag added or moved upstream).
    pub fn git_refs_fixture(&self, owner_repo: &str, refs: &[(&str, &str)]) {
        self.get(
            &format!("/git/{owner_repo}/info/refs?service=git-upload-pack"),
            Response::bytes(git_advertisement(refs)).header(
                "content-type",
                "application/x-git-upload-pack-advertisement",
            ),
        );
    }
}

/// git's pkt-line framing of a protocol-v0 `git-upload-pack` ref advertisement.
pub fn git_advertisement(refs: &[(&str, &str)]) -> Vec<u8> {
    let pkt = |line: &str| format!("{:04x}{line}", line.len() + 4);
    let mut body = pkt("# service=git-upload-pack\n") + "0000";
    for (i, (sha, name)) in refs.iter().enumerate() {
        let capabilities = if i == 0 {
            "\0multi_ack thin-pack side-band side-band-64k ofs-delta shallow no-progress include-tag object-format=sha1 agent=git/2.43.0"
        } else {
            ""
        };
        body += &pkt(&format!("{sha} {name}{capabilities}\n"));
    }
    body += "0000";
    body.into_bytes()
}

/// The id git gives a commit object with this message (and a fixed tree, author and
/// time): sha1 of `commit <size>\0<object>`. What the git fixtures advertise: real
/// object ids of commits that could exist, computed, not made up.
pub fn git_commit_id(message: &str) -> String {
    use sha1::Digest as _;
    // The empty tree's id, as every git computes it.
    let object = format!(
        "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
         author Fixture <fixture@example.invalid> 1767225600 +0000\n\
         committer Fixture <fixture@example.invalid> 1767225600 +0000\n\n{message}\n"
    );
    let mut hasher = sha1::Sha1::new();
    hasher.update(format!("commit {}\0", object.len()).as_bytes());
    hasher.update(object.as_bytes());
    hex::encode(hasher.finalize())
}

impl Drop for World {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// What [`World::token_registry_fixture`] registered.
#[derive(Clone, Debug)]
pub struct TokenRegistry {
    /// `127.0.0.1:PORT`, the world itself.
    pub host: String,
    /// `sha256:<hex>` of the manifest.
    pub digest: String,
    pub token: String,
}

/// The name of the checksum asset added by [`FixtureRelease::sums_file`].
pub const SUMS_FILE: &str = "sha256sums.txt";

/// How the API reports an asset's `digest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestMode {
    /// `"sha256:<hex of the bytes>"`, as GitHub does since 2025-06.
    Api,
    /// `"digest": null`.
    Null,
    /// No `digest` key (older responses, some mirrors).
    Absent,
    /// A well-formed sha256 that is not the bytes' digest.
    Wrong,
}

/// Line format of a `sha256sums.txt` asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SumsStyle {
    /// `<hex>  <name>` (`sha256sum` text mode).
    Text,
    /// `<hex> *<name>` (`sha256sum -b`).
    Binary,
}

#[derive(Clone, Debug)]
pub struct FixtureAsset {
    pub name: String,
    pub bytes: Vec<u8>,
    pub digest_mode: DigestMode,
}

impl FixtureAsset {
    pub fn new(name: &str, bytes: impl Into<Vec<u8>>) -> FixtureAsset {
        FixtureAsset {
            name: name.to_string(),
            bytes: bytes.into(),
            digest_mode: DigestMode::Api,
        }
    }

    pub fn digest_mode(mut self, mode: DigestMode) -> FixtureAsset {
        self.digest_mode = mode;
        self
    }

    pub fn sha256(&self) -> String {
        sha256_hex(&self.bytes)
    }
}

#[derive(Clone, Debug)]
pub struct FixtureRelease {
    pub tag: String,
    pub prerelease: bool,
    pub draft: bool,
    /// RFC 3339, e.g. `2025-07-01T12:00:00Z`; orders the list.
    pub published_at: String,
    pub assets: Vec<FixtureAsset>,
    /// Add a `sha256sums.txt` asset covering the other assets.
    pub sums_file: Option<SumsStyle>,
}

impl FixtureRelease {
    pub fn new(tag: &str, published_at: &str) -> FixtureRelease {
        FixtureRelease {
            tag: tag.to_string(),
            prerelease: false,
            draft: false,
            published_at: published_at.to_string(),
            assets: Vec::new(),
            sums_file: None,
        }
    }

    pub fn prerelease(mut self) -> FixtureRelease {
        self.prerelease = true;
        self
    }

    pub fn draft(mut self) -> FixtureRelease {
        self.draft = true;
        self
    }

    /// An asset whose API `digest` is correct.
    pub fn asset(mut self, name: &str, bytes: impl Into<Vec<u8>>) -> FixtureRelease {
        self.assets.push(FixtureAsset::new(name, bytes));
        self
    }

    pub fn asset_with(mut self, asset: FixtureAsset) -> FixtureRelease {
        self.assets.push(asset);
        self
    }

    pub fn sums_file(mut self, style: SumsStyle) -> FixtureRelease {
        self.sums_file = Some(style);
        self
    }
}

/// What [`World::github_release_fixture`] registered.
#[derive(Clone, Debug)]
pub struct GithubFixture {
    /// The API base (`http://127.0.0.1:PORT/api`).
    pub api: String,
    pub base_url: String,
    pub owner: String,
    pub repo: String,
    /// The release objects as served by the list endpoint, newest first.
    pub releases: Vec<Value>,
}

impl GithubFixture {
    pub fn download_url(&self, tag: &str, name: &str) -> String {
        format!(
            "{}/github/{}/{}/releases/download/{tag}/{name}",
            self.base_url, self.owner, self.repo
        )
    }

    /// The served release object for `tag`; panics if there is none.
    pub fn release(&self, tag: &str) -> &Value {
        self.releases
            .iter()
            .find(|r| r["tag_name"] == tag)
            .unwrap_or_else(|| panic!("no fixture release `{tag}`"))
    }
}

fn sums_file(assets: &[FixtureAsset], style: SumsStyle) -> Vec<u8> {
    // `sha256sum *` lists files in glob (name) order.
    let mut sorted: Vec<&FixtureAsset> = assets.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut text = String::new();
    for asset in sorted {
        let separator = match style {
            SumsStyle::Text => "  ",
            SumsStyle::Binary => " *",
        };
        text.push_str(&format!("{}{separator}{}\n", asset.sha256(), asset.name));
    }
    text.into_bytes()
}

fn asset_object(
    repo_api: &str,
    id: u64,
    asset: &FixtureAsset,
    download_url: &str,
    published_at: &str,
) -> Value {
    let mut object = json!({
        "url": format!("{repo_api}/releases/assets/{id}"),
        "browser_download_url": download_url,
        "id": id,
        "node_id": format!("RA_kwDOfixture{id}"),
        "name": asset.name,
        "label": "",
        "state": "uploaded",
        "content_type": content_type(&asset.name),
        "size": asset.bytes.len(),
        "download_count": 42,
        "created_at": published_at,
        "updated_at": published_at,
        "uploader": bot_user(),
    });
    let digest = match asset.digest_mode {
        DigestMode::Api => Some(Value::String(format!("sha256:{}", asset.sha256()))),
        DigestMode::Null => Some(Value::Null),
        DigestMode::Absent => None,
        DigestMode::Wrong => {
            let mut other = asset.bytes.clone();
            other.extend_from_slice(b"wrong");
            Some(Value::String(format!("sha256:{}", sha256_hex(&other))))
        }
    };
    if let Some(digest) = digest {
        object["digest"] = digest;
    }
    object
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        "application/gzip"
    } else if name.ends_with(".zip") {
        "application/zip"
    } else if name.ends_with(".tar.xz") {
        "application/x-xz"
    } else if name.ends_with(".txt") {
        "text/plain"
    } else {
        "application/octet-stream"
    }
}

fn bot_user() -> Value {
    json!({
        "login": "github-actions[bot]",
        "id": 41898282,
        "node_id": "MDM6Qm90NDE4OTgyODI=",
        "type": "Bot",
        "site_admin": false,
    })
}

// ---- the server ----

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// How the body goes out.
enum Delivery {
    Full,
    /// Announce `announced` bytes, send the first `sent`, then close.
    Partial {
        announced: usize,
        sent: usize,
    },
    Trickle(Duration),
}

struct Plan {
    response: Response,
    delivery: Delivery,
    delay: Duration,
    head_only: bool,
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        match conn {
            Ok(stream) => {
                let shared = Arc::clone(&shared);
                let spawned = thread::Builder::new()
                    .name("world-conn".into())
                    .spawn(move || serve(stream, &shared));
                if spawned.is_err() {
                    thread::sleep(Duration::from_millis(10));
                }
            }
            // EMFILE and friends: back off instead of spinning.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(REQUEST_READ_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Ok(Some(request)) = read_request(&stream) else {
        return;
    };
    let plan = plan(shared, request);
    // The client may be gone by now; that is its business.
    let _ = send(&stream, plan);
}

fn read_request(stream: &TcpStream) -> io::Result<Option<Request>> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut head_bytes = 0;
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let method = method.to_ascii_uppercase();
    let target = origin_form(target).to_string();

    let mut headers = Vec::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        head_bytes += n;
        if n == 0 || head_bytes > MAX_HEAD_BYTES {
            return Ok(None);
        }
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
    };

    if header("expect").is_some_and(|v| v == "100-continue") {
        let mut out: &TcpStream = reader.get_ref();
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        read_chunked(&mut reader, &mut body)?;
    } else if let Some(length) = header("content-length").and_then(|v| v.parse::<u64>().ok()) {
        (&mut reader).take(length).read_to_end(&mut body)?;
    }
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

fn read_chunked(reader: &mut impl BufRead, body: &mut Vec<u8>) -> io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let size_text = line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(());
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        reader.read_line(&mut line)?;
    }
}

/// Decide the answer under the lock (route, fault, latency) and log it; the sending happens after.
fn plan(shared: &Shared, request: Request) -> Plan {
    let mut state = shared.lock();
    let fault = pop_fault(&mut state.faults, &request.target);
    let latency = state.latency.next();
    let head_only = request.method == "HEAD";
    let mut response =
        find_route(&state.routes, &request.method, &request.target).unwrap_or_else(not_found);
    let guard = [request.target.as_str(), strip_query(&request.target)]
        .into_iter()
        .find_map(|key| state.auth.get(key));
    if let Some((required, challenge)) = guard {
        let given = request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.as_str());
        if given != Some(required.as_str()) {
            response = challenge.clone();
        }
    }
    // Conditional GET (RFC 9110 §13.1.2): a route with an `ETag` answers `304 Not
    // Modified`, without a body, to a request that names that tag.
    let etag = response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("etag"))
        .map(|(_, v)| v.clone());
    let revalidated = etag.is_some_and(|etag| {
        request
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("if-none-match") && *v == etag)
    });
    if revalidated && response.status == 200 {
        response = Response {
            status: 304,
            headers: response.headers.clone(),
            body: Vec::new(),
        };
    }
    let mut delivery = Delivery::Full;
    let mut delay = latency;

    match &fault {
        None => {}
        Some(Fault::Status(code)) => response = Response::status(*code),
        Some(Fault::RetryAfter(code, secs)) => {
            response = Response::status(*code)
                .header("Retry-After", secs.to_string())
                .header("X-RateLimit-Remaining", "0");
        }
        Some(Fault::Reset) => {
            let announced = response.body.len().max(1);
            delivery = Delivery::Partial {
                announced,
                sent: response.body.len() / 2,
            };
        }
        Some(Fault::Truncate) => {
            let announced = response.body.len().max(1);
            delivery = Delivery::Partial {
                announced,
                sent: announced - 1,
            };
        }
        Some(Fault::Delay(d)) => delay += *d,
        Some(Fault::Trickle) => delivery = Delivery::Trickle(TRICKLE_INTERVAL),
        Some(Fault::TrickleEvery(d)) => delivery = Delivery::Trickle(*d),
        Some(Fault::CorruptByte) if !response.body.is_empty() => {
            let middle = response.body.len() / 2;
            response.body[middle] ^= 0xff;
        }
        // Nothing to corrupt.
        Some(Fault::CorruptByte) => {}
        Some(Fault::MalformedJson) => {
            let mut body = response.body[..response.body.len() / 2].to_vec();
            // Cut inside a string this stays unterminated; outside one `<` is not JSON.
            body.extend_from_slice(b"<<malformed");
            response = Response {
                status: 200,
                headers: vec![(
                    "Content-Type".into(),
                    "application/json; charset=utf-8".into(),
                )],
                body,
            };
        }
    }

    state.log.push(LoggedRequest {
        method: request.method,
        path: request.target,
        headers: request.headers,
        body: request.body,
        status: response.status,
        fault,
        sent: if head_only { 0 } else { response.body.len() },
    });
    Plan {
        response,
        delivery,
        delay,
        head_only,
    }
}

fn send(stream: &TcpStream, plan: Plan) -> io::Result<()> {
    let Plan {
        response,
        delivery,
        delay,
        head_only,
    } = plan;
    if !delay.is_zero() {
        thread::sleep(delay);
    }
    let mut out = stream;
    let announced = match delivery {
        Delivery::Partial { announced, .. } => announced,
        _ => response.body.len(),
    };
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    let has = |name: &str| {
        response
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if !has("content-length") {
        head.push_str(&format!("Content-Length: {announced}\r\n"));
    }
    if !has("connection") {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("Server: modelbench-test-world\r\n");
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;

    if !head_only {
        match delivery {
            Delivery::Full => out.write_all(&response.body)?,
            Delivery::Partial { sent, .. } => {
                out.write_all(&response.body[..sent.min(response.body.len())])?;
                out.flush()?;
                let _ = stream.shutdown(Shutdown::Both);
                return Ok(());
            }
            Delivery::Trickle(interval) => {
                for byte in &response.body {
                    out.write_all(std::slice::from_ref(byte))?;
                    out.flush()?;
                    thread::sleep(interval);
                }
            }
        }
    }
    out.flush()?;
    // Half-close and wait briefly for the client to finish, so the close is a FIN, not a reset
    // that could discard the response still in flight.
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut sink = [0u8; 1024];
    while matches!(out.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}

fn pop_fault(faults: &mut HashMap<String, VecDeque<Fault>>, target: &str) -> Option<Fault> {
    for key in [target, strip_query(target)] {
        if let Some(queue) = faults.get_mut(key)
            && let Some(fault) = queue.pop_front()
        {
            return Some(fault);
        }
    }
    None
}

fn find_route(
    routes: &HashMap<(String, String), Response>,
    method: &str,
    target: &str,
) -> Option<Response> {
    let methods: &[&str] = if method == "HEAD" {
        &["HEAD", "GET"]
    } else {
        &[method]
    };
    for path in [target, strip_query(target)] {
        for m in methods {
            if let Some(response) = routes.get(&(m.to_string(), path.to_string())) {
                return Some(response.clone());
            }
        }
    }
    None
}

fn not_found() -> Response {
    Response::status(404)
}

fn strip_query(target: &str) -> &str {
    target.split_once('?').map_or(target, |(path, _)| path)
}

/// Reduce an absolute-form target (`http://host/path`) to its path.
fn origin_form(target: &str) -> &str {
    match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
