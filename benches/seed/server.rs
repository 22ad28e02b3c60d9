//! The loopback world's HTTP server: fixed routes (bytes or files on disk) with an
//! `ETag` each, answered `304` to a matching `If-None-Match` as the real upstreams do,
//! and the body bytes it sends counted per source kind (the first path segment: `apt`,
//! `conda`, `npm`, …), so a run's transfers are measured where upstream would see them.
//! A path without a route goes to the fallback (npm's recorder), else `404`.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

pub enum Body {
    File(PathBuf),
    Bytes(Vec<u8>),
}

pub struct Route {
    pub content_type: &'static str,
    pub body: Body,
    /// Quoted, as sent; `None`: no validator (answers are always full).
    pub etag: Option<String>,
}

/// Answers a path without a route: `Some((content type, bytes))` to serve, `None` for 404.
pub type Fallback =
    dyn Fn(&str, &[(String, String)]) -> Option<(&'static str, Vec<u8>)> + Send + Sync;

pub struct Server {
    pub addr: SocketAddr,
    routes: Arc<RwLock<HashMap<String, Route>>>,
    sent: Arc<Mutex<BTreeMap<String, Tally>>>,
    missing: Arc<Mutex<Vec<String>>>,
}

/// What one source kind cost: requests, body bytes sent, and `304`s among them.
#[derive(Default, Clone, Copy, Debug)]
pub struct Tally {
    pub requests: u64,
    pub bytes: u64,
    pub not_modified: u64,
}

impl Server {
    pub fn start(fallback: Box<Fallback>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let server = Server {
            addr: listener.local_addr().unwrap(),
            routes: Arc::default(),
            sent: Arc::default(),
            missing: Arc::default(),
        };
        let shared = (
            Arc::clone(&server.routes),
            Arc::clone(&server.sent),
            Arc::clone(&server.missing),
            Arc::new(fallback),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (routes, sent, missing, fallback) = shared.clone();
                std::thread::spawn(move || {
                    let _ = answer(stream, &routes, &sent, &missing, fallback.as_ref());
                });
            }
        });
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn route(&self, path: impl Into<String>, route: Route) {
        self.routes.write().unwrap().insert(path.into(), route);
    }

    /// The tallies so far, and a fresh start.
    pub fn take_tallies(&self) -> BTreeMap<String, Tally> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }

    /// Paths answered `404` so far (what the world lacks, for messages).
    pub fn take_missing(&self) -> Vec<String> {
        std::mem::take(&mut *self.missing.lock().unwrap())
    }
}

/// An `ETag` for `bytes`: a prefix of their SHA-256, quoted.
pub fn etag_of(bytes: &[u8]) -> Option<String> {
    use sha2::Digest;
    Some(format!(
        "\"{}\"",
        &hex::encode(sha2::Sha256::digest(bytes))[..32]
    ))
}

fn kind_of(path: &str) -> String {
    let kind = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match kind {
        "v2" => "image".to_string(),
        other => other.to_string(),
    }
}

/// One request per connection (`Connection: close`), bodies streamed from disk.
fn answer(
    stream: TcpStream,
    routes: &RwLock<HashMap<String, Route>>,
    sent: &Mutex<BTreeMap<String, Tally>>,
    missing: &Mutex<Vec<String>>,
    fallback: &Fallback,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or("GET").to_string();
    let path = words.next().unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let mut out = std::io::BufWriter::with_capacity(
        1 << 20,
        Counting {
            inner: stream,
            written: 0,
        },
    );
    let kind = kind_of(&path);
    let count = |bytes: u64, not_modified: bool| {
        let mut sent = sent.lock().unwrap();
        let tally = sent.entry(kind.clone()).or_default();
        tally.requests += 1;
        tally.bytes += bytes;
        tally.not_modified += u64::from(not_modified);
    };
    let routes = routes.read().unwrap();
    let fallback_body;
    let (content_type, body, etag) = match routes.get(&path) {
        Some(route) => (route.content_type, &route.body, route.etag.as_deref()),
        None => match fallback(&path, &headers) {
            Some((content_type, bytes)) => {
                fallback_body = Body::Bytes(bytes);
                (content_type, &fallback_body, None)
            }
            None => {
                count(0, false);
                missing.lock().unwrap().push(path.clone());
                return write!(
                    out,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        },
    };
    let etag_line = etag.map(|e| format!("ETag: {e}\r\n")).unwrap_or_default();
    if etag.is_some() && header("if-none-match") == etag {
        count(0, true);
        return write!(
            out,
            "HTTP/1.1 304 Not Modified\r\n{etag_line}Connection: close\r\n\r\n"
        );
    }
    let length = match body {
        Body::File(file) => std::fs::metadata(file)?.len(),
        Body::Bytes(bytes) => bytes.len() as u64,
    };
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n{etag_line}Connection: close\r\n\r\n"
    )?;
    if method == "HEAD" {
        count(0, false);
        return out.flush();
    }
    // Counted as it reaches the socket: a client may stop reading early (a layer read
    // top down stops at the status file), and what it did not take was not transferred.
    out.flush()?;
    let head = out.get_ref().written;
    let result = match body {
        Body::File(file) => std::fs::File::open(file)
            .and_then(|mut file| std::io::copy(&mut file, &mut out))
            .map(drop),
        Body::Bytes(bytes) => out.write_all(bytes),
    }
    .and_then(|()| out.flush());
    count(out.get_ref().written - head, false);
    result
}

/// Counts the bytes the socket accepted.
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
