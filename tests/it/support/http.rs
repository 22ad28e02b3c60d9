//! A tiny blocking HTTP/1.1 client over `std::net::TcpStream`, for test plumbing only.
//!
//! The crate's own client is async (reqwest on tokio); tests need something that works from a plain
//! `#[test]` thread without a runtime, and that shows what actually came over the wire — a body shorter
//! than its `Content-Length` is returned as is, not turned into an error, so fault tests can look at it.
//! Every request is sent with `Connection: close` and the response is read to EOF.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long a test request may wait for bytes before giving up.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A response as received: status, headers in wire order, and the body bytes that arrived.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The announced `Content-Length`, if any.
    pub fn content_length(&self) -> Option<usize> {
        self.header("content-length")?.trim().parse().ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics with the body text when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {}", self.text()))
    }
}

/// `GET url`.
pub fn get(url: &str) -> io::Result<HttpResponse> {
    request("GET", url, &[], &[])
}

/// Send one request to an `http://host:port/path` URL and read the whole response.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<HttpResponse> {
    let (host, target) = split_url(url)?;
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;

    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let sends_body = !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH");
    if sends_body
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;

    let raw = read_to_eof(&mut stream)?;
    parse_response(&raw, method == "HEAD")
}

/// Split `http://host:port/path?query` into (`host:port`, `/path?query`).
fn split_url(url: &str) -> io::Result<(&str, &str)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid(format!("only http:// URLs are supported, got `{url}`")))?;
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

/// Read until the peer closes. A reset after some bytes arrived ends the body instead of failing:
/// fault tests want to see how much came through.
fn read_to_eof(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(raw),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if !raw.is_empty() && e.kind() == io::ErrorKind::ConnectionReset => {
                return Ok(raw);
            }
            Err(e) => return Err(e),
        }
    }
}

fn parse_response(raw: &[u8], is_head: bool) -> io::Result<HttpResponse> {
    let end = find(raw, b"\r\n\r\n")
        .ok_or_else(|| invalid(format!("no complete response head in {} bytes", raw.len())))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line `{status_line}`")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut response = HttpResponse {
        status,
        headers,
        body: Vec::new(),
    };
    if is_head || status == 204 || status == 304 {
        return Ok(response);
    }
    let rest = &raw[end + 4..];
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    response.body = if chunked {
        dechunk(rest)
    } else {
        match response.content_length() {
            Some(n) if rest.len() > n => rest[..n].to_vec(),
            _ => rest.to_vec(),
        }
    };
    Ok(response)
}

/// Decode a chunked body leniently: a truncated stream yields what was complete.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = find(rest, b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        rest = &rest[line_end + 2..];
        if size == 0 {
            break;
        }
        let take = size.min(rest.len());
        body.extend_from_slice(&rest[..take]);
        if take < size || rest.len() < size + 2 {
            break;
        }
        rest = &rest[size + 2..];
    }
    body
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
