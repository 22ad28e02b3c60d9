//! The one network client every resolver borrows: connect and read timeouts, a deadline
//! per attempt scaled by the caller's expected size and a minimum throughput per window
//! (so a trickling server cannot hold a request open, whatever length it announces),
//! bounded retries with jittered backoff for what can heal (never for a host that does
//! not exist, refuses every connection or shows a bad certificate), `Retry-After`,
//! per-host concurrency limits, size limits, streaming download-and-hash, and URL
//! redaction in every message. `--offline` is enforced here, so no resolver can reach the
//! network behind its back.

mod digest;
pub mod inflate;

pub use digest::{Hash, HashAlgorithm};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tokio::sync::Semaphore;

/// Largest JSON or text document accepted (GitHub release lists, indices, packuments).
pub const DOCUMENT_LIMIT: u64 = 64 * 1024 * 1024;
/// Largest artifact downloaded to hash it at lock time.
pub const DOWNLOAD_LIMIT: u64 = 4 * 1024 * 1024 * 1024;

const ATTEMPTS: u32 = 4;
const PER_HOST: usize = 6;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence while reading a body before the attempt counts as failed.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest `Retry-After` or rate-limit reset we wait out before reporting it instead.
const LONGEST_WAIT: Duration = Duration::from_secs(60);
/// Every attempt's grace before its size counts: connecting, TLS, the first byte, and a
/// small file. `MODELBENCH_DEADLINE_FLOOR_MS` overrides it (tests).
const DEADLINE_FLOOR: Duration = Duration::from_secs(120);
/// The slowest average rate accepted past the floor. The read timeout alone cannot stop a
/// server that sends one byte every 29 s; this can.
const MIN_RATE: u64 = 64 * 1024;
/// The throughput window: fewer than [`WINDOW_BYTES`] received in any such window of an
/// attempt's body fails the attempt, however much arrived before (the average rate above
/// would let a server that sent a fast first gigabyte stall for hours).
/// `MODELBENCH_THROUGHPUT_WINDOW_MS` overrides it (tests).
const WINDOW: Duration = Duration::from_secs(30);
/// The least a window must bring (about 17 KiB/s). `MODELBENCH_THROUGHPUT_MIN_BYTES`
/// overrides it (tests).
const WINDOW_BYTES: u64 = 512 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("offline: refusing to fetch {url}")]
    Offline { url: String },
    #[error("{url} answered {status}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status {
        url: String,
        status: u16,
        detail: Option<String>,
    },
    #[error("rate limited by {url}: {message}")]
    RateLimited { url: String, message: String },
    #[error("cannot fetch {url} after {attempts} attempt(s): {message}")]
    Transport {
        url: String,
        attempts: u32,
        message: String,
    },
    #[error("{url} sent more than the {limit} bytes accepted for this document")]
    TooLarge { url: String, limit: u64 },
    #[error("{url} ended after {actual} bytes, {expected} announced")]
    Truncated {
        url: String,
        expected: u64,
        actual: u64,
    },
    #[error("{algorithm} mismatch for `{what}` from {url}: expected {expected}, got {actual}")]
    HashMismatch {
        what: String,
        url: String,
        algorithm: &'static str,
        expected: String,
        actual: String,
    },
    #[error("{url} did not send valid JSON: {message}")]
    Json { url: String, message: String },
    #[error(
        "{url} is plain http; to allow this host, name its http:// base URL in a sources file \
         (`--sources FILE` or MODELBENCH_SOURCES; README \"Sources file\")"
    )]
    Insecure { url: String },
    /// A failure another attempt cannot heal: never retried. `detail` is the innermost
    /// cause, empty when it only restates `cause`.
    #[error("cannot reach {url}: {cause}{}", if detail.is_empty() { String::new() } else { format!("; {detail}") })]
    Unreachable {
        url: String,
        cause: Unreachable,
        detail: String,
    },
    #[error("redirect from {from} to plain http {to} refused")]
    InsecureRedirect { from: String, to: String },
}

impl NetError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, NetError::Status { status: 404, .. })
    }
}

/// Why a host cannot be reached, when retrying cannot help: the name does not exist, no
/// route leads to it (offline), every address refuses the connection, or the TLS
/// certificate is rejected. The usual causes are
/// the same for every upstream (offline, a proxy, a mirror to set), so `lock` sums them up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unreachable {
    HostNotFound,
    NoRoute,
    ConnectionRefused,
    Certificate,
}

impl Unreachable {
    /// Every cause, in the order [`Unreachable::describe`] phrases appear in messages.
    pub const ALL: [Unreachable; 4] = [
        Unreachable::HostNotFound,
        Unreachable::NoRoute,
        Unreachable::ConnectionRefused,
        Unreachable::Certificate,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Unreachable::HostNotFound => "host not found (DNS)",
            Unreachable::NoRoute => "no route to the host",
            Unreachable::ConnectionRefused => "connection refused",
            Unreachable::Certificate => "TLS certificate rejected",
        }
    }

    /// The cause a message of [`NetError::Unreachable`] names, wherever it was wrapped
    /// (some resolvers fold a network error into their own text).
    pub fn named_in(message: &str) -> Option<Unreachable> {
        let (_, rest) = message.split_once("cannot reach ")?;
        Unreachable::ALL
            .into_iter()
            .find(|cause| rest.contains(&format!(": {}", cause.describe())))
    }

    /// The cause behind a failed request, when it is one of these. The chain is walked
    /// down to the I/O error (and the TLS error inside it) that hyper wraps.
    fn of(err: &(dyn std::error::Error + 'static)) -> Option<Unreachable> {
        let mut cause = Some(err);
        while let Some(current) = cause {
            if let Some(io) = current.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => {
                        return Some(Unreachable::ConnectionRefused);
                    }
                    std::io::ErrorKind::NetworkUnreachable
                    | std::io::ErrorKind::HostUnreachable => return Some(Unreachable::NoRoute),
                    _ => {}
                }
                if let Some(inner) = io.get_ref()
                    && let Some(found) = Unreachable::of(inner)
                {
                    return Some(found);
                }
            }
            if let Some(rustls::Error::InvalidCertificate(_)) =
                current.downcast_ref::<rustls::Error>()
            {
                return Some(Unreachable::Certificate);
            }
            // getaddrinfo's answers for a name that does not exist (glibc, musl, BSD). A
            // temporary failure (EAI_AGAIN) is left to the retries.
            let text = current.to_string();
            if [
                "Name or service not known",
                "No address associated with hostname",
                "Name does not resolve",
                "nodename nor servname provided",
            ]
            .iter()
            .any(|phrase| text.contains(phrase))
            {
                return Some(Unreachable::HostNotFound);
            }
            cause = current.source();
        }
        None
    }
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// A fetched document.
#[derive(Debug)]
pub struct Fetched {
    pub url: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Fetched {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, NetError> {
        serde_json::from_slice(&self.body).map_err(|err| NetError::Json {
            url: redact(&self.url),
            message: err.to_string(),
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A response whose body the caller reads as it arrives ([`Client::get_stream`]): for
/// blobs too large to hold (image layers), so memory stays bounded by the caller.
pub struct Streamed {
    pub url: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    response: reqwest::Response,
    deadline: Deadline,
    received: u64,
    limit: u64,
    announced: Option<u64>,
    /// The host's concurrency permit, held until the body is read or dropped.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Streamed {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The next piece of the body, `None` at its end. Fails past `limit` bytes, on a
    /// body shorter than announced, and on the deadline a document has; nothing is
    /// retried once the body has started (the caller has consumed what came).
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, NetError> {
        let url = reqwest::Url::parse(&self.url).map_err(|err| NetError::Transport {
            url: redact(&self.url),
            attempts: 1,
            message: err.to_string(),
        })?;
        let fatal = |retry: Retry| match retry {
            Retry::Fatal(err) => err,
            Retry::Transient(message) | Retry::After(_, message) => NetError::Transport {
                url: redact(&self.url),
                attempts: 1,
                message,
            },
        };
        let next = self
            .deadline
            .run(self.received, self.response.chunk())
            .await
            .map_err(fatal)?
            .map_err(|err| fatal(transport(&url, &err)))?;
        let Some(chunk) = next else {
            if let Some(expected) = self.announced
                && self.received != expected
            {
                return Err(NetError::Truncated {
                    url: redact(&self.url),
                    expected,
                    actual: self.received,
                });
            }
            return Ok(None);
        };
        RECEIVED.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.received += chunk.len() as u64;
        if self.received > self.limit || self.announced.is_some_and(|n| self.received > n) {
            return Err(NetError::TooLarge {
                url: redact(&self.url),
                limit: self.announced.unwrap_or(self.limit).min(self.limit),
            });
        }
        Ok(Some(Vec::from(chunk)))
    }
}

/// Body bytes received by every client of the process (the progress line shows them).
static RECEIVED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Body bytes received so far by this process.
pub fn bytes_received() -> u64 {
    RECEIVED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The per-host limit's key: host and port.
fn host_key(url: &reqwest::Url) -> String {
    format!("{}:{:?}", url.host_str().unwrap_or_default(), url.port())
}

/// What a streamed download measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub sha256: Hash,
    pub size: u64,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    offline: bool,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
    /// Hosts whose plain-http URLs were allowed explicitly (sources file, loopback tests).
    insecure_hosts: Arc<Vec<String>>,
    backoff_base: Duration,
    deadline_floor: Duration,
    window: Window,
}

/// How long one attempt at a request may take in all: the floor, plus its size at the
/// minimum rate. The size is the one the caller expects (from an API or the lock), else
/// what has arrived so far (so a body of unknown length must keep up the minimum rate on
/// average); never more than the request's limit, so a document's deadline has a fixed cap
/// (floor + limit at the minimum rate). The announced `Content-Length` never extends it: a
/// server that announces 10 GB and trickles gets no more time than one that announces
/// nothing. On top, every [`Window`] of the body must bring its share.
struct Deadline {
    start: tokio::time::Instant,
    floor: Duration,
    /// The caller's expected size, capped at the limit.
    size: Option<u64>,
    limit: u64,
    window: Window,
}

/// The minimum-throughput rule: once the headers are in, each window of `length` must
/// bring at least `min_bytes` of the body, or the attempt fails (and is retried like a
/// timeout). A body that is done within one window is never judged by it.
#[derive(Debug, Clone, Copy)]
struct Window {
    length: Duration,
    min_bytes: u64,
    /// Start of the current window and the bytes received by then; none before the body.
    current: Option<(tokio::time::Instant, u64)>,
}

impl Window {
    fn new(length: Duration, min_bytes: u64) -> Window {
        Window {
            length,
            min_bytes,
            current: None,
        }
    }

    /// The body starts now.
    fn open(&mut self, received: u64) {
        self.current = Some((tokio::time::Instant::now(), received));
    }

    fn end(&self) -> Option<tokio::time::Instant> {
        self.current.map(|(start, _)| start + self.length)
    }

    /// Judge every window that has ended by now, with `received` bytes in so far.
    fn judge(&mut self, received: u64) -> Result<(), Retry> {
        let now = tokio::time::Instant::now();
        while let Some((start, at_start)) = self.current
            && start + self.length <= now
        {
            let brought = received - at_start;
            if brought < self.min_bytes {
                return Err(Retry::Transient(format!(
                    "only {} arrived in {:?}, the least accepted is {} per window ({received} bytes received in all)",
                    bytes_text(brought),
                    self.length,
                    bytes_text(self.min_bytes),
                )));
            }
            self.current = Some((start + self.length, received));
        }
        Ok(())
    }
}

/// `512 KiB`, or `100 bytes` when not a whole number of KiB.
fn bytes_text(bytes: u64) -> String {
    if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

impl Deadline {
    fn new(floor: Duration, expected: Option<u64>, limit: u64, window: Window) -> Deadline {
        Deadline {
            start: tokio::time::Instant::now(),
            floor,
            size: expected.map(|n| n.min(limit)),
            limit,
            window,
        }
    }

    fn allowance(&self, received: u64) -> Duration {
        let bytes = self.size.unwrap_or(0).max(received).min(self.limit);
        self.floor + Duration::from_secs_f64(bytes as f64 / MIN_RATE as f64)
    }

    fn at(&self, received: u64) -> tokio::time::Instant {
        self.start + self.allowance(received)
    }

    /// The attempt ran out of time: retried like a timeout.
    fn exceeded(&self, received: u64) -> Retry {
        let expected = match self.size {
            Some(size) => format!("{received} of {size} bytes"),
            None => format!("{received} bytes"),
        };
        Retry::Transient(format!(
            "no complete answer within its {:.1} s deadline ({expected} received; allowed: {:.1} s plus {} KiB/s)",
            self.allowance(received).as_secs_f64(),
            self.floor.as_secs_f64(),
            MIN_RATE / 1024
        ))
    }

    /// `future`, or [`Deadline::exceeded`] once the deadline for `received` bytes passes,
    /// or the throughput rule's error once a window ends having brought too little.
    async fn run<T>(
        &mut self,
        received: u64,
        future: impl std::future::Future<Output = T>,
    ) -> Result<T, Retry> {
        let mut future = std::pin::pin!(future);
        loop {
            let deadline = self.at(received);
            let until = self.window.end().map_or(deadline, |end| end.min(deadline));
            match tokio::time::timeout_at(until, &mut future).await {
                Ok(output) => return Ok(output),
                Err(_) if tokio::time::Instant::now() >= deadline => {
                    return Err(self.exceeded(received));
                }
                Err(_) => self.window.judge(received)?,
            }
        }
    }
}

impl Client {
    pub fn new(offline: bool, insecure_hosts: Vec<String>) -> Client {
        let http = reqwest::Client::builder()
            .user_agent(concat!("modelbench/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                // No downgrade from https to http: hashes still hold, but a token could leak.
                let downgrade = attempt.url().scheme() == "http"
                    && attempt.previous().iter().any(|u| u.scheme() == "https");
                if downgrade || attempt.previous().len() > 10 {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .expect("the TLS backend initializes");
        let millis = |var: &str| std::env::var(var).ok().and_then(|v| v.parse().ok());
        Client {
            http,
            offline,
            hosts: Arc::default(),
            insecure_hosts: Arc::new(insecure_hosts),
            backoff_base: Duration::from_millis(millis("MODELBENCH_RETRY_BASE_MS").unwrap_or(250)),
            deadline_floor: millis("MODELBENCH_DEADLINE_FLOOR_MS")
                .map(Duration::from_millis)
                .unwrap_or(DEADLINE_FLOOR),
            window: Window::new(
                millis("MODELBENCH_THROUGHPUT_WINDOW_MS")
                    .map(Duration::from_millis)
                    .unwrap_or(WINDOW),
                millis("MODELBENCH_THROUGHPUT_MIN_BYTES").unwrap_or(WINDOW_BYTES),
            ),
        }
    }

    pub fn is_offline(&self) -> bool {
        self.offline
    }

    fn check_allowed(&self, url: &str) -> Result<reqwest::Url, NetError> {
        if self.offline {
            return Err(NetError::Offline { url: redact(url) });
        }
        let parsed = reqwest::Url::parse(url).map_err(|err| NetError::Transport {
            url: redact(url),
            attempts: 0,
            message: format!("invalid URL: {err}"),
        })?;
        match parsed.scheme() {
            "https" => Ok(parsed),
            "http" if self.is_insecure_allowed(&parsed) => Ok(parsed),
            _ => Err(NetError::Insecure { url: redact(url) }),
        }
    }

    /// This client, also allowing plain http to `hosts` (`host` or `host:port`): for
    /// signed apt archives found only at resolution time (a base image's sources), whose
    /// Release is signature-checked like the spec's own.
    pub fn allowing_plain_http(&self, hosts: impl IntoIterator<Item = String>) -> Client {
        let mut allowed = (*self.insecure_hosts).clone();
        allowed.extend(hosts);
        Client {
            insecure_hosts: Arc::new(allowed),
            ..self.clone()
        }
    }

    /// Whether a plain-http URL would be fetched (its host was allowed explicitly).
    pub fn allows_plain_http(&self, url: &str) -> bool {
        reqwest::Url::parse(url).is_ok_and(|u| u.scheme() == "http" && self.is_insecure_allowed(&u))
    }

    fn is_insecure_allowed(&self, url: &reqwest::Url) -> bool {
        let host = url.host_str().unwrap_or_default();
        let authority = authority(url).unwrap_or_default();
        self.insecure_hosts
            .iter()
            .any(|allowed| allowed == host || *allowed == authority)
    }

    fn host_permits(&self, url: &reqwest::Url) -> Arc<Semaphore> {
        let mut hosts = self.hosts.lock().expect("host table lock");
        hosts
            .entry(host_key(url))
            .or_insert_with(|| Arc::new(Semaphore::new(PER_HOST)))
            .clone()
    }

    /// Allow `limit` requests at once to the host of `base_url` instead of the default 6,
    /// for upstreams built for many small requests (the npm registry's CDN: npm opens 15
    /// sockets, bun 64). Takes effect if no request has gone to that host yet.
    pub fn raise_host_limit(&self, base_url: &str, limit: usize) {
        if let Ok(url) = reqwest::Url::parse(base_url) {
            let mut hosts = self.hosts.lock().expect("host table lock");
            hosts
                .entry(host_key(&url))
                .or_insert_with(|| Arc::new(Semaphore::new(limit.max(PER_HOST))));
        }
    }

    /// GET a document of at most `limit` bytes. Retries transient failures; returns any
    /// final status (401, 404, …) to the caller, who knows what it means.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        limit: u64,
    ) -> Result<Fetched, NetError> {
        self.fetch(reqwest::Method::GET, url, headers, limit).await
    }

    /// HEAD: headers only.
    pub async fn head(&self, url: &str, headers: &[(&str, &str)]) -> Result<Fetched, NetError> {
        self.fetch(reqwest::Method::HEAD, url, headers, 0).await
    }

    /// GET that must succeed (2xx).
    pub async fn get_ok(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        limit: u64,
    ) -> Result<Fetched, NetError> {
        let fetched = self.get(url, headers, limit).await?;
        if fetched.status.is_success() {
            Ok(fetched)
        } else {
            Err(status_error(&fetched))
        }
    }

    async fn fetch(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
        limit: u64,
    ) -> Result<Fetched, NetError> {
        let parsed = self.check_allowed(url)?;
        let permits = self.host_permits(&parsed);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = {
                let _permit = permits.acquire().await.expect("semaphore never closed");
                self.fetch_once(method.clone(), &parsed, headers, limit)
                    .await
            };
            let (wait, last) = match outcome {
                Ok(fetched) => match retry_wait(&fetched) {
                    Wait::No => return Ok(fetched),
                    Wait::Backoff => (None, format!("answered {}", fetched.status)),
                    Wait::For(duration) if duration <= LONGEST_WAIT => {
                        (Some(duration), format!("answered {}", fetched.status))
                    }
                    Wait::For(duration) => {
                        return Err(NetError::RateLimited {
                            url: redact(url),
                            message: format!(
                                "asked to wait {} s (longer than {} s); set GITHUB_TOKEN or retry later",
                                duration.as_secs(),
                                LONGEST_WAIT.as_secs()
                            ),
                        });
                    }
                },
                Err(Retry::Fatal(err)) => return Err(err),
                Err(Retry::Transient(message)) => (None, message),
                Err(Retry::After(duration, message)) => (Some(duration), message),
            };
            if attempt >= ATTEMPTS {
                return Err(NetError::Transport {
                    url: redact(url),
                    attempts: attempt,
                    message: last,
                });
            }
            let delay = wait.unwrap_or_else(|| self.backoff(attempt));
            tracing_debug(&format!(
                "retrying {} in {:?} (attempt {attempt})",
                redact(url),
                delay
            ));
            tokio::time::sleep(delay).await;
        }
    }

    /// Exponential backoff with jitter (50–100% of the step), so that concurrent
    /// resolvers hitting the same failing host spread out.
    fn backoff(&self, attempt: u32) -> Duration {
        let step = self.backoff_base * 2u32.pow(attempt - 1);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let jitter = 0.5 + f64::from(nanos % 1000) / 2000.0;
        step.mul_f64(jitter)
    }

    async fn fetch_once(
        &self,
        method: reqwest::Method,
        url: &reqwest::Url,
        headers: &[(&str, &str)],
        limit: u64,
    ) -> Result<Fetched, Retry> {
        let mut deadline = Deadline::new(self.deadline_floor, None, limit, self.window);
        let mut request = self.http.request(method.clone(), url.clone());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = deadline
            .run(0, request.send())
            .await?
            .map_err(|err| transport(url, &err))?;
        deadline.window.open(0);
        let status = response.status();
        let final_url = response.url().to_string();
        if url.scheme() == "https" && response.url().scheme() == "http" {
            return Err(Retry::Fatal(NetError::InsecureRedirect {
                from: redact(url.as_str()),
                to: redact(&final_url),
            }));
        }
        let headers = response.headers().clone();
        if method == reqwest::Method::HEAD || !status.is_success() {
            // Error bodies are short and only used for messages: read at most 64 KiB.
            let body = if method == reqwest::Method::HEAD {
                Vec::new()
            } else {
                read_body(url, response, 64 * 1024, true, &mut deadline)
                    .await
                    .unwrap_or_default()
            };
            return Ok(Fetched {
                url: final_url,
                status,
                headers,
                body,
            });
        }
        let body = read_body(url, response, limit, false, &mut deadline).await?;
        Ok(Fetched {
            url: final_url,
            status,
            headers,
            body,
        })
    }

    /// GET whose body the caller reads piece by piece ([`Streamed::chunk`]), for a body
    /// of at most `limit` bytes (`expected`, when known, sets the deadline). Failures
    /// before the body (connecting, 429/5xx) are retried with backoff; any final status
    /// is returned to the caller.
    pub async fn get_stream(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        expected: Option<u64>,
        limit: u64,
    ) -> Result<Streamed, NetError> {
        let parsed = self.check_allowed(url)?;
        let permits = self.host_permits(&parsed);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore never closed");
            let mut deadline = Deadline::new(self.deadline_floor, expected, limit, self.window);
            let mut request = self.http.get(parsed.clone());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let outcome = match deadline.run(0, request.send()).await {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(err)) => Err(transport(&parsed, &err)),
                Err(retry) => Err(retry),
            };
            let message = match outcome {
                Ok(response) => {
                    if parsed.scheme() == "https" && response.url().scheme() == "http" {
                        return Err(NetError::InsecureRedirect {
                            from: redact(url),
                            to: redact(response.url().as_str()),
                        });
                    }
                    let announced = response.content_length();
                    if response.status().is_success() && announced.is_some_and(|n| n > limit) {
                        return Err(NetError::TooLarge {
                            url: redact(url),
                            limit,
                        });
                    }
                    // The throughput rule judges the body from here; an announced length
                    // never stretches the deadline (a server could announce anything).
                    deadline.window.open(0);
                    let streamed = Streamed {
                        url: response.url().to_string(),
                        status: response.status(),
                        headers: response.headers().clone(),
                        response,
                        deadline,
                        received: 0,
                        limit,
                        announced,
                        _permit: permit,
                    };
                    let probe = Fetched {
                        url: streamed.url.clone(),
                        status: streamed.status,
                        headers: streamed.headers.clone(),
                        body: Vec::new(),
                    };
                    match retry_wait(&probe) {
                        Wait::No => return Ok(streamed),
                        _ => format!("answered {}", streamed.status),
                    }
                }
                Err(Retry::Fatal(err)) => return Err(err),
                Err(Retry::Transient(message) | Retry::After(_, message)) => message,
            };
            if attempt >= ATTEMPTS {
                return Err(NetError::Transport {
                    url: redact(url),
                    attempts: attempt,
                    message,
                });
            }
            tokio::time::sleep(self.backoff(attempt)).await;
        }
    }

    /// Stream a file, hashing as it arrives; never keeps it in memory. When `expected` is
    /// given, a mismatch is an error naming `what`, the URL and both values. `size` (from
    /// an API or the lock) sets each attempt's deadline; without it, what has arrived.
    pub async fn download(
        &self,
        what: &str,
        url: &str,
        expected: Option<&Hash>,
        size: Option<u64>,
    ) -> Result<Downloaded, NetError> {
        let parsed = self.check_allowed(url)?;
        let permits = self.host_permits(&parsed);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = {
                let _permit = permits.acquire().await.expect("semaphore never closed");
                self.download_once(&parsed, expected, size).await
            };
            match outcome {
                Ok(downloaded) => {
                    if let Some(expected) = expected {
                        let actual = downloaded.hash(expected.algorithm);
                        if &actual != expected {
                            return Err(NetError::HashMismatch {
                                what: what.to_string(),
                                url: redact(url),
                                algorithm: expected.algorithm.name(),
                                expected: expected.to_string(),
                                actual: actual.to_string(),
                            });
                        }
                    }
                    return Ok(Downloaded {
                        sha256: downloaded.sha256,
                        size: downloaded.size,
                    });
                }
                Err(Retry::Fatal(err)) => return Err(err),
                Err(Retry::Transient(message) | Retry::After(_, message))
                    if attempt >= ATTEMPTS =>
                {
                    return Err(NetError::Transport {
                        url: redact(url),
                        attempts: attempt,
                        message,
                    });
                }
                Err(Retry::After(duration, _)) if duration > LONGEST_WAIT => {
                    return Err(NetError::RateLimited {
                        url: redact(url),
                        message: format!(
                            "asked to wait {} s (longer than {} s); retry later",
                            duration.as_secs(),
                            LONGEST_WAIT.as_secs()
                        ),
                    });
                }
                // The server said how long: a download honours `Retry-After` as a document does.
                Err(Retry::After(duration, message)) => {
                    tracing_debug(&format!(
                        "retrying {} in {duration:?} (attempt {attempt}): {message}",
                        redact(url)
                    ));
                    tokio::time::sleep(duration).await
                }
                Err(Retry::Transient(message)) => {
                    let delay = self.backoff(attempt);
                    tracing_debug(&format!(
                        "retrying {} in {delay:?} (attempt {attempt}): {message}",
                        redact(url)
                    ));
                    tokio::time::sleep(delay).await
                }
            }
        }
    }

    async fn download_once(
        &self,
        url: &reqwest::Url,
        expected: Option<&Hash>,
        size: Option<u64>,
    ) -> Result<digest::Hashed, Retry> {
        let mut deadline = Deadline::new(self.deadline_floor, size, DOWNLOAD_LIMIT, self.window);
        let response = deadline
            .run(0, self.http.get(url.clone()).send())
            .await?
            .map_err(|err| transport(url, &err))?;
        deadline.window.open(0);
        let status = response.status();
        if url.scheme() == "https" && response.url().scheme() == "http" {
            return Err(Retry::Fatal(NetError::InsecureRedirect {
                from: redact(url.as_str()),
                to: redact(response.url().as_str()),
            }));
        }
        if !status.is_success() {
            let fetched = Fetched {
                url: response.url().to_string(),
                status,
                headers: response.headers().clone(),
                body: Vec::new(),
            };
            return match retry_wait(&fetched) {
                Wait::No => Err(Retry::Fatal(status_error(&fetched))),
                Wait::Backoff => Err(Retry::Transient(format!("answered {status}"))),
                Wait::For(duration) => Err(Retry::After(duration, format!("answered {status}"))),
            };
        }
        let announced = response.content_length();
        let mut hasher = digest::MultiHasher::new(expected.map(|h| h.algorithm));
        let mut stream = response.bytes_stream();
        let mut size: u64 = 0;
        while let Some(chunk) = deadline.run(size, stream.next()).await? {
            let chunk = chunk.map_err(|err| transport(url, &err))?;
            RECEIVED.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
            size += chunk.len() as u64;
            if size > DOWNLOAD_LIMIT || announced.is_some_and(|n| size > n) {
                return Err(Retry::Fatal(NetError::TooLarge {
                    url: redact(url.as_str()),
                    limit: announced.unwrap_or(DOWNLOAD_LIMIT),
                }));
            }
            hasher.update(&chunk);
        }
        if let Some(expected_size) = announced
            && size != expected_size
        {
            return Err(Retry::Transient(format!(
                "ended after {size} of {expected_size} bytes"
            )));
        }
        Ok(hasher.finish(size))
    }
}

enum Retry {
    Transient(String),
    /// Transient, and the server named the wait (`Retry-After`, a rate-limit reset).
    After(Duration, String),
    Fatal(NetError),
}

enum Wait {
    No,
    Backoff,
    For(Duration),
}

/// Which answers are worth another attempt, and how long to wait first.
fn retry_wait(fetched: &Fetched) -> Wait {
    let status = fetched.status.as_u16();
    let retry_after = fetched
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // GitHub's primary rate limit: 403/429 with x-ratelimit-remaining: 0 and a reset time.
    let rate_reset = (fetched.header("x-ratelimit-remaining") == Some("0"))
        .then(|| fetched.header("x-ratelimit-reset")?.parse::<u64>().ok())
        .flatten()
        .map(|reset| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            Duration::from_secs(reset.saturating_sub(now) + 1)
        });
    match status {
        // RFC 9110 §10.2.3: `Retry-After` also comes with 503 (maintenance, overload).
        429 | 403 | 503 if retry_after.or(rate_reset).is_some() => {
            Wait::For(retry_after.or(rate_reset).unwrap())
        }
        429 | 500 | 502 | 503 | 504 => Wait::Backoff,
        _ => Wait::No,
    }
}

/// `host[:port]` of a URL, the port only where the URL names one: how a sources file, the
/// spec's archives and the client name a host allowed plain http.
pub fn authority(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// The [`authority`] of `uri` if it is a plain `http://` URL.
pub fn plain_http_authority(uri: &str) -> Option<String> {
    let url = reqwest::Url::parse(uri).ok()?;
    if url.scheme() != "http" {
        return None;
    }
    authority(&url)
}

/// The error a final non-2xx answer stands for, with the server's message as detail.
pub fn status_error(fetched: &Fetched) -> NetError {
    let detail = (!fetched.body.is_empty()).then(|| {
        let text = String::from_utf8_lossy(&fetched.body);
        let text = text.trim();
        // GitHub and registries answer JSON with a message; keep it short.
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| text.chars().take(200).collect())
    });
    NetError::Status {
        url: redact(&fetched.url),
        status: fetched.status.as_u16(),
        detail,
    }
}

async fn read_body(
    url: &reqwest::Url,
    response: reqwest::Response,
    limit: u64,
    lenient: bool,
    deadline: &mut Deadline,
) -> Result<Vec<u8>, Retry> {
    if response.content_length().is_some_and(|n| n > limit) && !lenient {
        return Err(Retry::Fatal(NetError::TooLarge {
            url: redact(url.as_str()),
            limit,
        }));
    }
    let announced = response.content_length();
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = deadline.run(body.len() as u64, stream.next()).await? {
        let chunk = chunk.map_err(|err| transport(url, &err))?;
        RECEIVED.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if body.len() as u64 + chunk.len() as u64 > limit {
            if lenient {
                break;
            }
            return Err(Retry::Fatal(NetError::TooLarge {
                url: redact(url.as_str()),
                limit,
            }));
        }
        body.extend_from_slice(&chunk);
    }
    if let Some(expected) = announced
        && body.len() as u64 != expected
        && !lenient
    {
        return Err(Retry::Transient(format!(
            "ended after {} of {expected} bytes",
            body.len()
        )));
    }
    Ok(body)
}

/// A failed request: fatal when another attempt cannot heal it ([`Unreachable`]), else
/// transient. The message is the cause chain with each cause once and without reqwest's
/// copy of the URL (the caller names it).
fn transport(url: &reqwest::Url, err: &reqwest::Error) -> Retry {
    let message = cause_chain(err, url.as_str());
    match Unreachable::of(err) {
        Some(cause) => {
            // The innermost cause says it best (`Name or service not known`), unless it is
            // the cause again in other words (`Connection refused (os error 111)`).
            let innermost = message.rsplit(": ").next().unwrap_or_default();
            let restates = innermost
                .to_ascii_lowercase()
                .contains(&cause.describe().to_ascii_lowercase());
            Retry::Fatal(NetError::Unreachable {
                url: redact(url.as_str()),
                cause,
                detail: if restates {
                    String::new()
                } else {
                    innermost.to_string()
                },
            })
        }
        None => Retry::Transient(message),
    }
}

/// `a: b: c` from an error and its sources, skipping any that repeats what an earlier one
/// said and reqwest's own `error sending request for url (…)`; credentials never show.
fn cause_chain(err: &(dyn std::error::Error + 'static), url: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(err);
    while let Some(current) = cause {
        let text = current.to_string();
        let says_something_new = !parts.iter().any(|part| part.contains(&text));
        if !text.contains(url) && !text.is_empty() && says_something_new {
            parts.push(text);
        }
        cause = current.source();
    }
    if parts.is_empty() {
        parts.push(err.to_string());
    }
    parts.join(": ").replace(url, &redact(url))
}

/// A URL fit for messages: userinfo and token-like query values removed.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if !parsed.username().is_empty() || parsed.password().is_some() {
                let _ = parsed.set_username("");
                let _ = parsed.set_password(None);
            }
            if parsed.query().is_some() {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .map(|(k, v)| {
                        let secret = [
                            "token",
                            "access_token",
                            "key",
                            "sig",
                            "signature",
                            "password",
                        ]
                        .contains(&k.to_ascii_lowercase().as_str());
                        (
                            k.into_owned(),
                            if secret {
                                "REDACTED".into()
                            } else {
                                v.into_owned()
                            },
                        )
                    })
                    .collect();
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        Err(_) => url.to_string(),
    }
}

static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Print retries and other detail on stderr (`--verbose`; also `MODELBENCH_DEBUG=1`).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn tracing_debug(message: &str) {
    if VERBOSE.load(std::sync::atomic::Ordering::Relaxed)
        || std::env::var_os("MODELBENCH_DEBUG").is_some()
    {
        eprintln!("debug: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window {
        Window::new(WINDOW, WINDOW_BYTES)
    }

    #[test]
    fn deadlines_scale_with_the_expected_size_never_the_announced_one() {
        let floor = Duration::from_secs(120);
        let minute = 60 * MIN_RATE;
        // A download the caller knows the size of.
        let known = Deadline::new(floor, Some(10 * minute), DOWNLOAD_LIMIT, window());
        assert_eq!(known.allowance(0), Duration::from_secs(120 + 600));
        // Unknown size: what arrived so far (a `Content-Length` of 10 GB buys nothing).
        let unknown = Deadline::new(floor, None, DOWNLOAD_LIMIT, window());
        assert_eq!(unknown.allowance(0), floor);
        assert_eq!(unknown.allowance(2 * minute), Duration::from_secs(240));
        // A document never gets more than its limit at the minimum rate: a fixed cap.
        let document = Deadline::new(floor, None, minute, window());
        assert_eq!(document.allowance(10 * minute), Duration::from_secs(180));
        // HEAD (limit 0): the floor.
        assert_eq!(Deadline::new(floor, None, 0, window()).allowance(0), floor);
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_that_brings_too_little_fails_the_attempt_whatever_came_before() {
        let mut window = Window::new(Duration::from_millis(50), 1000);
        // Not judged before the body starts, nor before its first window ends.
        assert!(window.judge(0).is_ok());
        window.open(0);
        assert!(window.judge(10).is_ok());
        tokio::time::sleep(Duration::from_millis(60)).await;
        // A fast first window: 1 MB.
        assert!(window.judge(1_000_000).is_ok());
        tokio::time::sleep(Duration::from_millis(60)).await;
        // Then a stall: 999 bytes in the next window fail it.
        let Err(Retry::Transient(message)) = window.judge(1_000_999) else {
            panic!("a window with 999 of 1000 bytes passed");
        };
        assert_eq!(
            message,
            "only 999 bytes arrived in 50ms, the least accepted is 1000 bytes per window (1000999 bytes received in all)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_ends_at_the_window_not_the_deadline() {
        // A deadline of an hour, a window of 50 ms: a body that never sends fails in ~50 ms.
        let mut deadline = Deadline::new(
            Duration::from_secs(3600),
            Some(DOWNLOAD_LIMIT),
            DOWNLOAD_LIMIT,
            Window::new(Duration::from_millis(50), 1),
        );
        deadline.window.open(0);
        let started = tokio::time::Instant::now();
        let outcome = deadline.run(0, std::future::pending::<()>()).await;
        assert!(
            matches!(outcome, Err(Retry::Transient(m)) if m.starts_with("only 0 bytes arrived in 50ms"))
        );
        assert_eq!(started.elapsed(), Duration::from_millis(50));
    }

    #[test]
    fn failures_retrying_cannot_heal_are_recognised_down_the_chain() {
        #[derive(Debug)]
        struct Wrapper(Box<dyn std::error::Error + Send + Sync>);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("client error (Connect)")
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&*self.0)
            }
        }
        let wrapped = |inner: std::io::Error| Wrapper(Box::new(inner));
        let refused = wrapped(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            Unreachable::of(&refused),
            Some(Unreachable::ConnectionRefused)
        );
        let not_found = wrapped(std::io::Error::other(
            "failed to lookup address information: Name or service not known",
        ));
        assert_eq!(Unreachable::of(&not_found), Some(Unreachable::HostNotFound));
        let offline = wrapped(std::io::Error::from(std::io::ErrorKind::NetworkUnreachable));
        assert_eq!(Unreachable::of(&offline), Some(Unreachable::NoRoute));
        // rustls's error travels inside an io::Error, as tokio-rustls hands it up.
        let certificate = wrapped(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        assert_eq!(
            Unreachable::of(&certificate),
            Some(Unreachable::Certificate)
        );
        // What can heal is left to the retries.
        for healable in [
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
            std::io::Error::from(std::io::ErrorKind::TimedOut),
            std::io::Error::other(
                "failed to lookup address information: Temporary failure in name resolution",
            ),
        ] {
            assert_eq!(Unreachable::of(&wrapped(healable)), None);
        }
        // The cause is found again in a message that wrapped the error's text.
        let message = NetError::Unreachable {
            url: "https://example.com/x".into(),
            cause: Unreachable::HostNotFound,
            detail: "dns error".into(),
        }
        .to_string();
        assert_eq!(
            Unreachable::named_in(&format!("apt stage-1: {message}")),
            Some(Unreachable::HostNotFound)
        );
        assert_eq!(Unreachable::named_in("cannot reach the moon"), None);
    }

    #[test]
    fn cause_chains_say_each_cause_once() {
        #[derive(Debug)]
        struct Layer(&'static str, Option<Box<Layer>>);
        impl std::fmt::Display for Layer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Layer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|l| l as _)
            }
        }
        let url = "https://user:pw@example.com/a";
        let chain = Layer(
            "error sending request for url (https://user:pw@example.com/a)",
            Some(Box::new(Layer(
                "tcp connect error: Connection reset (os error 104)",
                Some(Box::new(Layer("Connection reset (os error 104)", None))),
            ))),
        );
        assert_eq!(
            cause_chain(&chain, url),
            "tcp connect error: Connection reset (os error 104)"
        );
    }

    #[test]
    fn redact_hides_userinfo_and_tokens() {
        assert_eq!(
            redact("https://user:secret@example.com/path?token=abc&page=2"),
            "https://example.com/path?token=REDACTED&page=2"
        );
        assert_eq!(redact("https://example.com/a"), "https://example.com/a");
    }
}
