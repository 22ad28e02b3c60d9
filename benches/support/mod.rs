//! What the benchmarks share: a loopback server for fixed routes, a writer that hashes what
//! it writes, tar headers, and the whole-process measurement (wall time and peak RSS, read
//! from `wait4`'s rusage, children included).

// Each benchmark uses part of this.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// What the server answers: path → (content type, body).
pub struct Routes(pub Vec<(String, &'static str, Body)>);

pub enum Body {
    /// Streamed from disk at each request (layers of a GiB are never held).
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// Answer every connection on `listener` from `routes`, one thread a connection.
pub fn serve(listener: TcpListener, routes: Arc<Routes>) {
    for stream in listener.incoming().flatten() {
        let routes = Arc::clone(&routes);
        std::thread::spawn(move || {
            let _ = answer(stream, &routes);
        });
    }
}

/// One request per connection (`Connection: close`); `HEAD` gets the headers alone.
fn answer(stream: TcpStream, routes: &Routes) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let head = line.starts_with("HEAD ");
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stream);
    let Some((_, content_type, body)) = routes.0.iter().find(|(p, _, _)| *p == path) else {
        return write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    };
    let length = match body {
        Body::File(file) => std::fs::metadata(file)?.len(),
        Body::Bytes(bytes) => bytes.len() as u64,
    };
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )?;
    if !head {
        match body {
            Body::File(file) => {
                std::io::copy(&mut std::fs::File::open(file)?, &mut out)?;
            }
            Body::Bytes(bytes) => out.write_all(bytes)?,
        }
    }
    out.flush()
}

/// Writes through to `inner` and hashes what was written.
pub struct Hashing<W> {
    pub inner: W,
    pub hasher: Sha256,
}

impl<W: Write> Hashing<W> {
    pub fn new(inner: W) -> Hashing<W> {
        Hashing {
            inner,
            hasher: Sha256::new(),
        }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `size` xorshift bytes from `seed` into `out`: incompressible (a gzip layer as large as
/// its content), and the same every time.
pub fn write_noise(out: &mut dyn Write, size: u64, seed: u64) {
    let mut state = 0x9e37_79b9_7f4a_7c15 ^ seed;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
}

/// A ustar header for a regular file `name` of `size` bytes, mode 0644.
pub fn tar_header(name: &str, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// One finished process: wall time since `started`, peak RSS, and whether it exited 0.
pub struct Measured {
    pub wall: Duration,
    /// Linux reports `ru_maxrss` in KiB.
    pub peak_kib: u64,
    /// The raw wait status.
    pub status: i32,
}

impl Measured {
    pub fn success(&self) -> bool {
        libc::WIFEXITED(self.status) && libc::WEXITSTATUS(self.status) == 0
    }
}

/// Reap `child` with `wait4` for its rusage (not `Child::wait`, which would reap it
/// without one).
pub fn wait_measured(child: Child, started: Instant) -> Measured {
    let mut status = 0;
    // SAFETY: plain FFI; `usage` is written by the kernel before wait4 returns.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(waited, pid, "wait4");
    Measured {
        wall,
        peak_kib: usage.ru_maxrss as u64,
        status,
    }
}

/// The `Inst` lines of `apt-get install -s` output as `name version`: what apt would install.
pub fn simulated_installs(stdout: &[u8]) -> BTreeSet<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("Inst "))
        .map(|rest| {
            let name = rest.split_whitespace().next().unwrap();
            let version = rest
                .split('(')
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap();
            format!("{name} {version}")
        })
        .collect()
}
