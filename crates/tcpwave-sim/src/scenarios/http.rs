//! A minimal HTTP/1.0 and HTTP/1.1 on the simulator (RFC 9112 §9: persistence): enough to
//! count connections and TIME_WAIT entries per request. A request is a request line and
//! headers ending in an empty line, without a body; a response carries Content-Length.
//! HTTP/1.0 closes after each response unless `Connection: keep-alive`; HTTP/1.1 keeps
//! the connection unless `Connection: close` (RFC 9112 §9.3).
//!
//! The `http-keep-alive` scenario runs 1000 requests each way.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

use tcpwave::{Config, ConnId, Event, State};
use tcpwave_trace::Trace;

use super::common::*;
use super::keepalive::new_sim;
use crate::app::{app, App, AppCtx, Input};

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Request {
    pub path: String,
    /// "HTTP/1.0" or "HTTP/1.1".
    pub version: String,
    /// The connection stays open after the response (RFC 9112 §9.3).
    pub keep_alive: bool,
}

/// Where a head ends ("\r\n\r\n"), as the length including it.
fn head_len(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// The value of header `name` (case-insensitive) in a head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// The first complete request in `buf` and the bytes it used.
pub(super) fn parse_request(buf: &[u8]) -> Option<(Request, usize)> {
    let len = head_len(buf)?;
    let head = std::str::from_utf8(&buf[..len]).ok()?;
    let mut words = head.split("\r\n").next()?.split(' ');
    let (_method, path, version) = (words.next()?, words.next()?, words.next()?);
    let connection = header(head, "connection").map(str::to_ascii_lowercase);
    let keep_alive = match version {
        "HTTP/1.1" => connection.as_deref() != Some("close"),
        _ => connection.as_deref() == Some("keep-alive"),
    };
    let request = Request {
        path: path.to_string(),
        version: version.to_string(),
        keep_alive,
    };
    Some((request, len))
}

/// A request head: HTTP/1.0 or 1.1, with `Connection: close` when asked.
pub(super) fn request_bytes(path: &str, version: &str, close: bool) -> Vec<u8> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    format!("GET {path} {version}\r\nHost: server\r\n{connection}\r\n").into_bytes()
}

/// A 200 response with a body and Content-Length.
pub(super) fn response_bytes(version: &str, keep_alive: bool, body: &[u8]) -> Vec<u8> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut out = format!(
        "{version} 200 OK\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// The length of the first complete response in `buf` (head and Content-Length body).
pub(super) fn response_len(buf: &[u8]) -> Option<usize> {
    let len = head_len(buf)?;
    let head = std::str::from_utf8(&buf[..len]).ok()?;
    let body: usize = header(head, "content-length")?.parse().ok()?;
    (buf.len() >= len + body).then_some(len + body)
}

/// Bytes received on each connection and not yet consumed.
#[derive(Default)]
pub(super) struct Buffers(BTreeMap<ConnId, Vec<u8>>);

impl Buffers {
    /// Read what arrived; returns (buffer, end of file), or None if the connection is gone.
    pub fn read(&mut self, ctx: &mut AppCtx<'_>, conn: ConnId) -> Option<(&mut Vec<u8>, bool)> {
        if !ctx.connections().contains(&conn) {
            return None;
        }
        let (data, eof) = ctx.recv(conn).ok()?;
        let buf = self.0.entry(conn).or_default();
        buf.extend_from_slice(&data);
        Some((buf, eof))
    }

    pub fn forget(&mut self, conn: ConnId) {
        self.0.remove(&conn);
    }
}

/// Close a connection the application holds, once.
pub(super) fn close_once(ctx: &mut AppCtx<'_>, buffers: &mut Buffers, conn: ConnId) {
    if ctx.connections().contains(&conn) {
        ctx.close(conn);
    }
    buffers.forget(conn);
}

/// An HTTP server on `port` answering every request with `body`; it closes after the
/// response when the request does not keep the connection, and on the client's FIN.
pub(super) fn http_server(port: u16, body: &'static [u8]) -> Box<dyn App> {
    let mut listener = None;
    let mut buffers = Buffers::default();
    app(move |ctx, input| match input {
        Input::Start => listener = ctx.listen(port, 1024).ok(),
        Input::Event(Event::Acceptable { .. }) => {
            if let Some(l) = listener {
                ctx.accept_all(l);
            }
        }
        Input::Event(Event::Readable { conn } | Event::PeerClosed { conn }) => {
            let Some((buf, eof)) = buffers.read(ctx, conn) else {
                return;
            };
            let mut close = eof;
            let mut out = Vec::new();
            while let Some((request, used)) = parse_request(buf) {
                buf.drain(..used);
                out.extend(response_bytes(&request.version, request.keep_alive, body));
                if !request.keep_alive {
                    close = true;
                    break;
                }
            }
            if !out.is_empty() {
                let _ = ctx.send(conn, &out);
            }
            if close {
                close_once(ctx, &mut buffers, conn);
            }
        }
        _ => {}
    })
}

/// What an HTTP client did.
#[derive(Clone, Debug, Default)]
pub struct HttpStats {
    pub requests_done: u64,
    pub connections: u64,
    /// When the last response arrived.
    pub finished_at: Option<tcpwave::Instant>,
}

/// Which protocol the client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMode {
    /// One request per connection; the server closes after the response.
    Http10,
    /// One connection for all requests; the client closes after the last.
    Http11KeepAlive,
}

/// A client making `count` requests one after the other.
struct HttpClient {
    server: SocketAddrV4,
    mode: HttpMode,
    count: u64,
    stats: Rc<RefCell<HttpStats>>,
    buffers: Buffers,
    sent: u64,
}

impl HttpClient {
    fn version(&self) -> &'static str {
        match self.mode {
            HttpMode::Http10 => "HTTP/1.0",
            HttpMode::Http11KeepAlive => "HTTP/1.1",
        }
    }

    /// Send the next request: on `conn` (keep-alive) or on a new connection.
    fn next(&mut self, ctx: &mut AppCtx<'_>, conn: Option<ConnId>) {
        match conn {
            Some(conn) => {
                self.sent += 1;
                let request = request_bytes(&format!("/{}", self.sent), self.version(), false);
                let _ = ctx.send(conn, &request);
            }
            None => {
                if ctx.connect(self.server).is_ok() {
                    self.stats.borrow_mut().connections += 1;
                }
            }
        }
    }

    fn on_data(&mut self, ctx: &mut AppCtx<'_>, conn: ConnId) {
        let Some((buf, eof)) = self.buffers.read(ctx, conn) else {
            return;
        };
        let mut answered = false;
        while let Some(len) = response_len(buf) {
            buf.drain(..len);
            answered = true;
        }
        if answered {
            let mut s = self.stats.borrow_mut();
            s.requests_done += 1;
            if s.requests_done == self.count {
                s.finished_at = Some(ctx.now());
            }
        }
        let finished = self.stats.borrow().requests_done >= self.count;
        match self.mode {
            HttpMode::Http10 if eof => {
                close_once(ctx, &mut self.buffers, conn);
                if !finished {
                    self.next(ctx, None);
                }
            }
            HttpMode::Http11KeepAlive if answered && finished => {
                close_once(ctx, &mut self.buffers, conn);
            }
            HttpMode::Http11KeepAlive if answered => self.next(ctx, Some(conn)),
            _ => {}
        }
    }
}

impl App for HttpClient {
    fn handle(&mut self, ctx: &mut AppCtx<'_>, input: Input) {
        match input {
            Input::Start => self.next(ctx, None),
            Input::Event(Event::Connected { conn }) => self.next(ctx, Some(conn)),
            Input::Event(Event::Readable { conn } | Event::PeerClosed { conn }) => {
                self.on_data(ctx, conn)
            }
            _ => {}
        }
    }
}

pub(super) fn http_client(
    server: SocketAddrV4,
    mode: HttpMode,
    count: u64,
    stats: Rc<RefCell<HttpStats>>,
) -> Box<dyn App> {
    Box::new(HttpClient {
        server,
        mode,
        count,
        stats,
        buffers: Buffers::default(),
        sent: 0,
    })
}

const BODY: &[u8] = b"<html>hello</html>\n";
const SERVER_10: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
const CLIENT_11: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const SERVER_11: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 21);

/// 1000 requests one after the other, two ways: an HTTP/1.0 client that opens a
/// connection per request (the server closes after each response, so the server holds
/// a TIME_WAIT entry per request) and an HTTP/1.1 client that keeps one connection for
/// all of them (one TIME_WAIT entry, on the client, which closes at the end). Figures:
/// connections, TIME_WAIT entries per 1000 requests, and the time each took.
pub fn http_keep_alive(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    http_keep_alive_with(opts, 1000)
}

/// `http-keep-alive` with `count` requests per client.
pub fn http_keep_alive_with(opts: &RunOptions, count: u64) -> Result<Trace, ScenarioError> {
    let mut sim = new_sim("http-keep-alive", opts);
    let cfg = opts.config(Config::default())?;
    let stats_10 = Rc::new(RefCell::new(HttpStats::default()));
    let stats_11 = Rc::new(RefCell::new(HttpStats::default()));
    let to_10 = SocketAddrV4::new(SERVER_10, PORT);
    let to_11 = SocketAddrV4::new(SERVER_11, PORT);
    let hosts: [(&str, &str, Ipv4Addr, Box<dyn App>); 4] = [
        (
            "client-1.0",
            "HTTP/1.0 client (a connection per request)",
            CLIENT,
            http_client(to_10, HttpMode::Http10, count, stats_10.clone()),
        ),
        (
            "server-1.0",
            "HTTP server",
            SERVER_10,
            http_server(PORT, BODY),
        ),
        (
            "client-1.1",
            "HTTP/1.1 client (keep-alive)",
            CLIENT_11,
            http_client(to_11, HttpMode::Http11KeepAlive, count, stats_11.clone()),
        ),
        (
            "server-1.1",
            "HTTP server",
            SERVER_11,
            http_server(PORT, BODY),
        ),
    ];
    let mut index = Vec::new();
    for (name, role, addr, app) in hosts {
        index.push(sim.add_host(name, role, addr, cfg.clone(), Some(app)));
    }
    // Draw the first requests only; the rest is counted.
    sim.large_run();
    sim.run_until(secs(0) + ms(150))?;
    sim.set_recording(false);
    for step in 1..=600u64 {
        sim.run_until(secs(step))?;
        let done = [&stats_10, &stats_11]
            .iter()
            .all(|s| s.borrow().finished_at.is_some());
        if done {
            break;
        }
    }
    // The last close reaches the server 10 ms after the last response.
    sim.run_until(sim.now() + ms(500))?;
    // Both finished well within 60 s of their first close: every TIME_WAIT entry they
    // caused is still there.
    let per_1000 = 1000.0 / count as f64;
    for (label, stats, client, server) in [
        ("HTTP/1.0", &stats_10, index[0], index[1]),
        ("HTTP/1.1 keep-alive", &stats_11, index[2], index[3]),
    ] {
        let s = stats.borrow().clone();
        let tw_server = sim.count_state(server, State::TimeWait) as f64;
        let tw_client = sim.count_state(client, State::TimeWait) as f64;
        sim.figure(&format!("{label}: requests"), s.requests_done as f64, "");
        sim.figure(
            &format!("{label}: connections per 1000 requests"),
            s.connections as f64 * per_1000,
            "",
        );
        sim.figure(
            &format!("{label}: server TIME_WAIT per 1000 requests"),
            tw_server * per_1000,
            "entries",
        );
        sim.figure(
            &format!("{label}: client TIME_WAIT per 1000 requests"),
            tw_client * per_1000,
            "entries",
        );
        let took = s.finished_at.map_or(0.0, |t| t.total_micros() as f64 / 1e6);
        sim.figure(&format!("{label}: time for all requests"), took, "s");
    }
    Ok(sim.finish())
}
