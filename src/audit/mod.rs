//! `modelbench audit-proxy`: an HTTP forward proxy for a build that lets through only
//! what the lock names, logs every request, and reports what it saw.
//!
//! Plain-http requests (`GET http://host/path`) are checked whole: forwarded only when the
//! URL is one of the lock's. An https download is a `CONNECT host:443` tunnel whose path
//! the proxy cannot see without breaking TLS, so https is audited per host: a tunnel is
//! opened only to a host (and port) that some locked URL names. For https the guarantee
//! that the bytes are the locked ones comes from the emitted build itself
//! (`modelbench-fetch.sh` checks size and sha256, `npm ci` the sha512 integrity,
//! `install-debs.sh` each .deb's sha256), not from this proxy.
//!
//! Each connection carries one request: the upstream request is sent with
//! `Connection: close` and nothing the client sends after the request head is forwarded,
//! so a second, unaudited request cannot ride on an allowed connection.

pub mod policy;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::lock::Lock;
use crate::spec::LoadedSpec;
use crate::workspace::SpecArgs;
pub use policy::{Policy, Verdict};

/// Largest request head accepted (a build's downloader sends well under 8 KiB).
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting to an upstream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Request headers that belong to the client-proxy hop, not to the upstream.
const HOP_HEADERS: &[&str] = &[
    "connection",
    "proxy-connection",
    "proxy-authorization",
    "keep-alive",
    "te",
    "upgrade",
];

#[derive(Debug, Args)]
pub struct AuditProxyArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Listen on this TCP address (for example 127.0.0.1:3128).
    #[arg(long, value_name = "ADDR", required_unless_present = "socket")]
    pub listen: Option<SocketAddr>,
    /// Listen on this unix socket (to bridge into a build's network namespace).
    #[arg(long, value_name = "PATH", conflicts_with = "listen")]
    pub socket: Option<PathBuf>,
    /// Also write each request's line to FILE (replaced on each run).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Also allow tunnels to HOST[:PORT] (port 443 by default), counted apart: for the
    /// redirect target of a locked https URL (GitHub release downloads redirect to
    /// release-assets.githubusercontent.com).
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    pub allow_hosts: Vec<String>,
    /// Run this command, then stop and report; without it, run until SIGINT or SIGTERM.
    /// With --listen the command gets http_proxy/https_proxy (and uppercase) pointing here.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// What the proxy saw, for the report.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub requests: usize,
    pub locked_urls: usize,
    pub locked_hosts: usize,
    pub allowed_hosts: usize,
    /// One line per refused request.
    pub refused: Vec<String>,
}

impl Tally {
    /// `N requests: A locked URLs, B tunnels to locked hosts, C refused` (plus the
    /// `--allow-host` tunnels when there were any).
    pub fn report_line(&self) -> String {
        let allowed = if self.allowed_hosts > 0 {
            format!(", {} tunnel(s) to --allow-host hosts", self.allowed_hosts)
        } else {
            String::new()
        };
        format!(
            "{} requests: {} locked URLs, {} tunnels to locked hosts{allowed}, {} refused",
            self.requests,
            self.locked_urls,
            self.locked_hosts,
            self.refused.len()
        )
    }
}

/// The shared state of one proxy run: the policy, the log and the tally.
pub struct Audit {
    policy: Policy,
    log: Mutex<Option<std::fs::File>>,
    tally: Mutex<Tally>,
    /// Echo each request's line on stderr.
    echo: bool,
}

impl Audit {
    pub fn new(policy: Policy, log: Option<std::fs::File>, echo: bool) -> Audit {
        Audit {
            policy,
            log: Mutex::new(log),
            tally: Mutex::default(),
            echo,
        }
    }

    pub fn tally(&self) -> Tally {
        self.tally.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Count one request and write its line: `METHOD TARGET VERDICT[ (detail)]`.
    fn record(&self, method: &str, target: &str, verdict: &Verdict, detail: &str) {
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        };
        // A URL may carry credentials or a token; the log and the report must not.
        let target = if method == "CONNECT" {
            target.to_string()
        } else {
            crate::net::redact(target)
        };
        let line = format!("{method} {target} {verdict}{detail}");
        {
            let mut tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
            tally.requests += 1;
            match verdict {
                Verdict::LockedUrl => tally.locked_urls += 1,
                Verdict::LockedHost => tally.locked_hosts += 1,
                Verdict::AllowedHost => tally.allowed_hosts += 1,
                Verdict::Refused(_) => tally.refused.push(line.clone()),
            }
        }
        if self.echo {
            eprintln!("audit-proxy: {line}");
        }
        if let Some(file) = self.log.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            // A log that cannot be written must not stop the build; stderr still has it.
            let _ = writeln!(file, "{line}").and_then(|()| file.flush());
        }
    }
}

pub fn run(args: AuditProxyArgs) -> Result<()> {
    let lock_path = match &args.spec.lock {
        Some(path) => path.clone(),
        None => LoadedSpec::load(&args.spec.spec_path()?)?.default_lock_path(),
    };
    let (_, lock) = Lock::read_required(&lock_path)?;
    // The allowlist is the lock: an entry edited by hand could allow anything.
    for artifact in &lock.artifacts {
        artifact.check_checksum().with_context(|| {
            format!(
                "{}: the audit trusts only what `modelbench lock` wrote",
                lock_path.display()
            )
        })?;
    }
    let mut policy = Policy::from_lock(&lock);
    for host in &args.allow_hosts {
        policy.allow_host(host).map_err(anyhow::Error::msg)?;
    }
    let log = match &args.log {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(path)
                .with_context(|| format!("cannot open the log {}", path.display()))?,
        ),
        None => None,
    };
    let audit = Arc::new(Audit::new(policy, log, true));
    let runtime = crate::runtime::start()?;
    let (urls, hosts) = audit.policy.counts();
    let stopped = runtime.block_on(async {
        let listener = Listener::bind(&args).await?;
        eprintln!(
            "audit-proxy: listening on {} for {}: {urls} locked URL(s) on {hosts} host(s)",
            listener.describe(),
            lock_path.display()
        );
        let accept = tokio::spawn(listener.serve(audit.clone()));
        let stopped = wait_for_stop(&args).await;
        accept.abort();
        // Only a socket we bound is removed (a failed bind returned above).
        if let Some(socket) = &args.socket {
            let _ = std::fs::remove_file(socket);
        }
        stopped
    });
    // Connections still open are cut here; every request was counted when it was decided.
    runtime.shutdown_background();
    let stopped = stopped?;
    let tally = audit.tally();
    println!("audit-proxy: {}", tally.report_line());
    println!(
        "audit-proxy: plain-http requests are checked by whole URL; https by host only (a tunnel hides the path): the emitted scripts check each https download's hash (modelbench-fetch.sh: size and sha256, npm ci: sha512 integrity, install-debs.sh: each .deb's sha256)"
    );
    let mut failures = Vec::new();
    if !tally.refused.is_empty() {
        println!("audit-proxy: refused:");
        for line in &tally.refused {
            println!("  {line}");
        }
        failures.push(format!("{} request(s) refused", tally.refused.len()));
    }
    if let Stopped::Command(status) = stopped
        && !status.success()
    {
        failures.push(format!("the command failed ({status})"));
    }
    if !failures.is_empty() {
        bail!("audit-proxy: {}", failures.join("; "));
    }
    Ok(())
}

/// Why the proxy stopped.
enum Stopped {
    Signal,
    Command(std::process::ExitStatus),
}

/// Run the command to its end, or wait for SIGINT/SIGTERM (which also end the command).
async fn wait_for_stop(args: &AuditProxyArgs) -> Result<Stopped> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let Some((program, rest)) = args.command.split_first() else {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        return Ok(Stopped::Signal);
    };
    let mut command = std::process::Command::new(program);
    command.args(rest);
    if let Some(addr) = args.listen {
        let proxy = format!("http://{addr}");
        for name in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"] {
            command.env(name, &proxy);
        }
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run `{program}`"))?;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                if let Some(status) = child.try_wait().context("cannot wait for the command")? {
                    return Ok(Stopped::Command(status));
                }
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    // Stopped by a signal: the command (ours) does not outlive the proxy it depends on.
    let _ = child.kill();
    let _ = child.wait();
    Ok(Stopped::Signal)
}

enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener, PathBuf),
}

impl Listener {
    async fn bind(args: &AuditProxyArgs) -> Result<Listener> {
        if let Some(path) = &args.socket {
            // A socket left by an earlier run that was killed; anything else is not ours.
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                use std::os::unix::fs::FileTypeExt;
                if !meta.file_type().is_socket() {
                    bail!("{} exists and is not a socket", path.display());
                }
                std::fs::remove_file(path)
                    .with_context(|| format!("cannot remove the old socket {}", path.display()))?;
            }
            let listener = tokio::net::UnixListener::bind(path)
                .with_context(|| format!("cannot listen on {}", path.display()))?;
            return Ok(Listener::Unix(listener, path.clone()));
        }
        let addr = args.listen.expect("clap requires --listen or --socket");
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        Ok(Listener::Tcp(listener))
    }

    fn describe(&self) -> String {
        match self {
            Listener::Tcp(l) => l
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "?".into()),
            Listener::Unix(_, path) => path.display().to_string(),
        }
    }

    async fn serve(self, audit: Arc<Audit>) {
        loop {
            match &self {
                Listener::Tcp(l) => match l.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(handle(audit.clone(), stream));
                    }
                    Err(e) => accept_failed(e).await,
                },
                Listener::Unix(l, _) => match l.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(handle(audit.clone(), stream));
                    }
                    Err(e) => accept_failed(e).await,
                },
            }
        }
    }
}

/// Out of file descriptors and the like: say so, and do not spin.
async fn accept_failed(e: std::io::Error) {
    eprintln!("audit-proxy: accept failed: {e}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// A parsed request head.
struct Head {
    method: String,
    target: String,
    version: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn parse_head(bytes: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let mut parts = lines.next()?.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || method.is_empty() || !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Some(Head {
        method: method.to_string(),
        target: target.to_string(),
        version: version.to_string(),
        headers,
    })
}

/// Read up to the blank line that ends the head; returns the head and any bytes after it.
/// The error is empty when the client closed without sending anything.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(format!("request head over {MAX_HEAD_BYTES} bytes"));
        }
        let n = match tokio::time::timeout(HEAD_TIMEOUT, stream.read(&mut chunk)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(format!("reading the request: {e}")),
            Err(_) => return Err("no complete request head within 30 s".into()),
        };
        if n == 0 && buf.is_empty() {
            return Err(String::new());
        }
        if n == 0 {
            return Err("connection closed before a complete request head".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn respond<S: AsyncWrite + Unpin>(client: &mut S, status: &str, message: &str) {
    let body = format!("modelbench audit-proxy: {message}\n");
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(response.as_bytes()).await;
    let _ = client.shutdown().await;
}

async fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port))).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(format!("cannot connect to {host}:{port}: {e}")),
        Err(_) => Err(format!("connecting to {host}:{port} timed out")),
    }
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(audit: Arc<Audit>, mut client: S) {
    let (head_bytes, rest) = match read_head(&mut client).await {
        Ok(read) => read,
        // A connection that never sent a byte (a port probe) is not a request.
        Err(e) if e.is_empty() => return,
        Err(e) => {
            let verdict = Verdict::Refused(e);
            audit.record("?", "?", &verdict, "");
            respond(&mut client, "400 Bad Request", &verdict.to_string()).await;
            return;
        }
    };
    let Some(head) = parse_head(&head_bytes) else {
        let verdict = Verdict::Refused("malformed request head".into());
        audit.record("?", "?", &verdict, "");
        respond(&mut client, "400 Bad Request", &verdict.to_string()).await;
        return;
    };
    if head.method == "CONNECT" {
        tunnel(&audit, client, &head, rest).await;
    } else {
        forward(&audit, client, &head).await;
    }
}

async fn tunnel<S: AsyncRead + AsyncWrite + Unpin>(
    audit: &Audit,
    mut client: S,
    head: &Head,
    rest: Vec<u8>,
) {
    let verdict = audit.policy.check_connect(&head.target);
    if verdict.is_refused() {
        audit.record("CONNECT", &head.target, &verdict, "");
        respond(
            &mut client,
            "403 Forbidden",
            &format!("CONNECT {} {verdict}", head.target),
        )
        .await;
        return;
    }
    let (host, port) = policy::parse_authority(&head.target).expect("checked by the policy");
    let mut upstream = match connect(&host, port).await {
        Ok(stream) => stream,
        Err(e) => {
            audit.record("CONNECT", &head.target, &verdict, &e);
            respond(&mut client, "502 Bad Gateway", &e).await;
            return;
        }
    };
    audit.record("CONNECT", &head.target, &verdict, "");
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
        || upstream.write_all(&rest).await.is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

async fn forward<S: AsyncRead + AsyncWrite + Unpin>(audit: &Audit, mut client: S, head: &Head) {
    let mut verdict = audit.policy.check_url(&head.method, &head.target);
    let has_body = head
        .header("content-length")
        .is_some_and(|n| n.trim() != "0")
        || head.header("transfer-encoding").is_some();
    if has_body && !verdict.is_refused() {
        verdict = Verdict::Refused("a request with a body is not forwarded".into());
    }
    if verdict.is_refused() {
        audit.record(&head.method, &head.target, &verdict, "");
        respond(
            &mut client,
            "403 Forbidden",
            &format!("{} {} {verdict}", head.method, head.target),
        )
        .await;
        return;
    }
    let url = url::Url::parse(&head.target).expect("checked by the policy");
    let host = url.host_str().unwrap_or_default().to_string();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(80);
    let mut upstream = match connect(host, port).await {
        Ok(stream) => stream,
        Err(e) => {
            audit.record(&head.method, &head.target, &verdict, &e);
            respond(&mut client, "502 Bad Gateway", &e).await;
            return;
        }
    };
    let mut origin_form = url.path().to_string();
    if let Some(query) = url.query() {
        origin_form.push('?');
        origin_form.push_str(query);
    }
    let mut request = format!("{} {origin_form} {}\r\n", head.method, head.version);
    if head.header("host").is_none() {
        request.push_str(&format!(
            "Host: {}\r\n",
            &url[url::Position::BeforeHost..url::Position::AfterPort]
        ));
    }
    for (name, value) in &head.headers {
        if !HOP_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    request.push_str("Connection: close\r\n\r\n");
    if let Err(e) = upstream.write_all(request.as_bytes()).await {
        let e = format!("sending the request upstream: {e}");
        audit.record(&head.method, &head.target, &verdict, &e);
        respond(&mut client, "502 Bad Gateway", &e).await;
        return;
    }
    // The first chunk holds the status line, for the log.
    let mut first = vec![0u8; 16 * 1024];
    let n = match upstream.read(&mut first).await {
        Ok(n) => n,
        Err(e) => {
            let e = format!("reading the upstream response: {e}");
            audit.record(&head.method, &head.target, &verdict, &e);
            respond(&mut client, "502 Bad Gateway", &e).await;
            return;
        }
    };
    let status = first[..n]
        .split(|&b| b == b' ')
        .nth(1)
        .and_then(|s| std::str::from_utf8(s).ok())
        .unwrap_or("no response")
        .to_string();
    audit.record(&head.method, &head.target, &verdict, &status);
    if client.write_all(&first[..n]).await.is_err() {
        return;
    }
    let _ = tokio::io::copy(&mut upstream, &mut client).await;
    let _ = client.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_counts_each_kind() {
        let tally = Tally {
            requests: 4,
            locked_urls: 2,
            locked_hosts: 1,
            allowed_hosts: 0,
            refused: vec!["GET http://x/ REFUSED: not a locked URL".into()],
        };
        assert_eq!(
            tally.report_line(),
            "4 requests: 2 locked URLs, 1 tunnels to locked hosts, 1 refused"
        );
        let tally = Tally {
            allowed_hosts: 1,
            requests: 5,
            ..tally
        };
        assert!(
            tally
                .report_line()
                .contains(", 1 tunnel(s) to --allow-host hosts, 1 refused")
        );
    }

    #[test]
    fn request_heads_parse_and_junk_does_not() {
        let head =
            parse_head(b"GET http://a/b HTTP/1.1\r\nHost: a\r\nUser-Agent: x\r\n\r\n").unwrap();
        assert_eq!(
            (head.method.as_str(), head.target.as_str()),
            ("GET", "http://a/b")
        );
        assert_eq!(head.header("host"), Some("a"));
        assert!(parse_head(b"\x16\x03\x01 binary").is_none());
        assert!(parse_head(b"GET /a\r\n\r\n").is_none());
        assert!(parse_head(b"GET a b c HTTP/1.1\r\n\r\n").is_none());
    }
}
