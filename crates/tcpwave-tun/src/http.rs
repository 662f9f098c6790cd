//! A small HTTP/1.1 server and client over any `Read + Write` (engine or kernel sockets).
//!
//! Server: persistent connections by default (RFC 9112 §9.3), `Connection: close` honoured
//! and echoed, HTTP/1.0 closes unless it asks for keep-alive. Routes: `/` (a greeting),
//! `/bytes/N` (N bytes of a fixed 64-byte text pattern, N ≤ 1 GiB), `/netstat` (the
//! engine's sockets). Request bodies (Content-Length) are read and discarded.

use std::io::{self, Read, Write};

/// Longest request head accepted (request line + headers).
const HEAD_MAX: usize = 16 * 1024;
/// Most requests served on one connection.
const REQUESTS_PER_CONNECTION_MAX: usize = 100_000;
/// Largest `/bytes/N`.
pub const BYTES_MAX: u64 = 1 << 30;
/// Largest request body read and discarded.
const BODY_MAX: u64 = 64 * 1024 * 1024;
/// The `/bytes/N` body repeats this line.
pub const PATTERN: &[u8; 64] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+\n";

/// Byte `i` of every `/bytes/N` body.
pub fn pattern_byte(i: u64) -> u8 {
    PATTERN[(i % PATTERN.len() as u64) as usize]
}

/// Writes `n` bytes of the pattern.
pub fn write_pattern(w: &mut impl Write, n: u64) -> io::Result<()> {
    let block: Vec<u8> = PATTERN.iter().copied().cycle().take(64 * 1024).collect();
    let mut left = n;
    while left > 0 {
        let take = left.min(block.len() as u64) as usize;
        w.write_all(&block[..take])?;
        left -= take as u64;
    }
    Ok(())
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    pub keep_alive: bool,
    pub content_length: u64,
}

/// Parses a request head (without the final blank line).
pub fn parse_request(head: &str) -> Result<Request, String> {
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("bad request line {first:?}"));
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(format!("unsupported version {version:?}"));
    }
    let mut connection = String::new();
    let mut content_length = 0;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("bad header line {line:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            connection = value.to_ascii_lowercase();
        } else if name.eq_ignore_ascii_case("content-length") {
            content_length = value
                .parse()
                .map_err(|_| format!("bad Content-Length {value:?}"))?;
        }
    }
    let keep_alive = if version == "HTTP/1.1" {
        !connection.contains("close")
    } else {
        connection.contains("keep-alive")
    };
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        version: version.to_string(),
        keep_alive,
        content_length,
    })
}

/// What a response carries: a status and either text or a pattern body of some length.
enum Body {
    Text(String),
    Pattern(u64),
}

fn route(req: &Request, netstat: &dyn Fn() -> String) -> (u16, &'static str, Body) {
    if req.method != "GET" && req.method != "HEAD" {
        return (
            405,
            "Method Not Allowed",
            Body::Text("only GET and HEAD\n".into()),
        );
    }
    let path = req.path.split('?').next().unwrap_or_default();
    if path == "/" {
        let text = "hello from tcpwave: a sans-IO TCP engine on a TUN device\n\
                    try /bytes/N or /netstat\n";
        return (200, "OK", Body::Text(text.into()));
    }
    if path == "/netstat" {
        return (200, "OK", Body::Text(netstat()));
    }
    if let Some(n) = path.strip_prefix("/bytes/") {
        return match n.parse::<u64>() {
            Ok(n) if n <= BYTES_MAX => (200, "OK", Body::Pattern(n)),
            _ => (
                400,
                "Bad Request",
                Body::Text(format!("N must be 0..={BYTES_MAX}\n")),
            ),
        };
    }
    (404, "Not Found", Body::Text(format!("no route {path}\n")))
}

/// Serves requests on one connection until the client closes, asks to close, or sends
/// something malformed. Returns how many requests were answered.
pub fn serve_connection<S: Read + Write>(
    mut stream: S,
    netstat: &dyn Fn() -> String,
) -> io::Result<usize> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    for served in 0..REQUESTS_PER_CONNECTION_MAX {
        let Some(head) = read_head(&mut stream, &mut buf)? else {
            return Ok(served);
        };
        let req = match parse_request(&head) {
            Ok(req) => req,
            Err(why) => {
                let body = format!("{why}\n");
                write!(
                    stream,
                    "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )?;
                return Ok(served);
            }
        };
        discard_body(&mut stream, &mut buf, req.content_length)?;
        let (status, reason, body) = route(&req, netstat);
        let len = match &body {
            Body::Text(t) => t.len() as u64,
            Body::Pattern(n) => *n,
        };
        let close = if req.keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nServer: tcpwave\r\nContent-Type: text/plain\r\n\
             Content-Length: {len}\r\n{close}\r\n"
        );
        stream.write_all(head.as_bytes())?;
        if req.method != "HEAD" {
            match body {
                Body::Text(t) => stream.write_all(t.as_bytes())?,
                Body::Pattern(n) => write_pattern(&mut stream, n)?,
            }
        }
        if !req.keep_alive {
            return Ok(served + 1);
        }
    }
    Ok(REQUESTS_PER_CONNECTION_MAX)
}

/// Reads up to the blank line ending a request head; `None` on a clean EOF between
/// requests. Bytes after the head stay in `buf` (pipelining).
fn read_head(stream: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Option<String>> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            return Ok(Some(head));
        }
        if buf.len() > HEAD_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too long",
            ));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "EOF inside a request head",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn discard_body(stream: &mut impl Read, buf: &mut Vec<u8>, len: u64) -> io::Result<()> {
    if len > BODY_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "request body too large",
        ));
    }
    let from_buf = (len as usize).min(buf.len());
    buf.drain(..from_buf);
    let rest = len - from_buf as u64;
    let copied = io::copy(&mut stream.take(rest), &mut io::sink())?;
    if copied < rest {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "EOF inside a request body",
        ));
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A response read by [`get`].
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

/// Sends `GET path` with `Connection: close` and reads the response to EOF. The request
/// goes out in one write, so in one segment (`write!` would hand it over piece by piece).
pub fn get<S: Read + Write>(mut stream: S, host: &str, path: &str) -> io::Result<Response> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tcpwave\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let end = find(&raw, b"\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no HTTP response head"))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    Ok(Response {
        status,
        head,
        body: raw[end + 4..].to_vec(),
    })
}

#[cfg(test)]
mod tests;
