//! What scenarios share: options from the command line, the usual two hosts, and a
//! few small applications (a request/reply server and client).

use std::net::{Ipv4Addr, SocketAddrV4};

use tcpwave::{Config, ConfigError, Duration, Event, Instant};

use crate::app::{app, App, Input};
use crate::sim::{Sim, SimError};

pub const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub const PORT: u16 = 80;
pub const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
pub const REPLY: &[u8] = b"HTTP/1.0 200 OK\r\n\r\nhello\n";

/// How to run a scenario: the seed and `--set KNOB=VALUE` settings for every host.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub seed: u64,
    pub settings: Vec<String>,
}

impl RunOptions {
    /// `base` with the user's settings applied on top.
    pub fn config(&self, mut base: Config) -> Result<Config, ScenarioError> {
        for s in &self.settings {
            base.set_assignment(s)?;
        }
        Ok(base)
    }
}

/// Why a scenario could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("unknown scenario `{name}`; scenarios: {valid} (see `tcpwave scenario --list`)")]
    UnknownScenario { name: String, valid: String },
    #[error(transparent)]
    Setting(#[from] ConfigError),
    #[error(transparent)]
    Sim(#[from] SimError),
}

/// A run long enough for anything short of keepalive to finish.
pub fn secs(s: u64) -> Instant {
    Instant::from_secs(s)
}

pub fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

/// What the server does when the client closes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OnEof {
    /// close() as soon as it reads EOF (Linux then sends FIN+ACK: see `receive_fin`).
    Close,
    /// close() this long after it read EOF, as a server that finishes some work first.
    CloseAfter(Duration),
    /// Read EOF and never close (the CLOSE_WAIT leak).
    Ignore,
}

/// A server that replies `reply` to every chunk it reads and closes (or not) on EOF.
pub fn reply_server(port: u16, reply: &'static [u8], on_eof: OnEof) -> Box<dyn App> {
    reply_server_closing_first(port, reply, on_eof, &[])
}

/// [`reply_server`], except that for a client whose address is in `closes_first` it closes
/// right after its reply, before the client's FIN: the server is the active closer there
/// and holds the TIME_WAIT.
pub fn reply_server_closing_first(
    port: u16,
    reply: &'static [u8],
    on_eof: OnEof,
    closes_first: &'static [Ipv4Addr],
) -> Box<dyn App> {
    let mut listener = None;
    // Connections waiting for their `CloseAfter` wake-up, by token.
    let mut closing = Vec::new();
    app(move |ctx, input| match input {
        Input::Start => listener = ctx.listen(port, 128).ok(),
        Input::Event(Event::Acceptable { .. }) => {
            if let Some(l) = listener {
                ctx.accept_all(l);
            }
        }
        Input::Wake(token) => {
            if let Some(&conn) = closing.get(token as usize) {
                ctx.close(conn);
            }
        }
        Input::Event(Event::Readable { conn } | Event::PeerClosed { conn }) => {
            let Ok((data, eof)) = ctx.recv(conn) else {
                return;
            };
            let first = !closes_first.is_empty()
                && ctx
                    .endpoint()
                    .tuple(conn)
                    .is_some_and(|t| closes_first.contains(&t.remote_addr));
            if !data.is_empty() && !reply.is_empty() {
                let _ = ctx.send(conn, reply);
            }
            if first && !data.is_empty() {
                ctx.close(conn);
            } else if eof && !first {
                match on_eof {
                    OnEof::Close => ctx.close(conn),
                    OnEof::CloseAfter(_) if closing.contains(&conn) => {}
                    OnEof::CloseAfter(delay) => {
                        ctx.wake_after(delay, closing.len() as u64);
                        closing.push(conn);
                    }
                    OnEof::Ignore => {}
                }
            }
        }
        _ => {}
    })
}

/// What the client does once the reply arrived.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum AfterReply {
    Close,
    ShutdownWrite,
    Nothing,
}

/// A client that connects, sends `request`, and then acts on the reply.
/// On EOF from the server it closes.
pub fn request_client(
    server: SocketAddrV4,
    request: &'static [u8],
    after: AfterReply,
) -> Box<dyn App> {
    app(move |ctx, input| match input {
        Input::Start => {
            let _ = ctx.connect(server);
        }
        Input::Event(Event::Connected { conn }) if !request.is_empty() => {
            let _ = ctx.send(conn, request);
        }
        Input::Event(Event::Readable { conn } | Event::PeerClosed { conn }) => {
            let Ok((data, eof)) = ctx.recv(conn) else {
                return;
            };
            if !data.is_empty() {
                match after {
                    AfterReply::Close => ctx.close(conn),
                    AfterReply::ShutdownWrite => ctx.shutdown_write(conn),
                    AfterReply::Nothing => {}
                }
            } else if eof && after != AfterReply::Close {
                ctx.close(conn);
            }
        }
        _ => {}
    })
}

/// The usual pair: client 192.0.2.1 and server 192.0.2.2, 10 ms apart.
pub fn two_hosts(
    name: &str,
    opts: &RunOptions,
    client: Box<dyn App>,
    server: Box<dyn App>,
) -> Result<Sim, ScenarioError> {
    let info = super::find(name).map(|s| s.summary).unwrap_or("");
    let mut sim = Sim::new(name, info, opts.seed);
    let cfg = opts.config(Config::default())?;
    sim.add_host("client", "client", CLIENT, cfg.clone(), Some(client));
    sim.add_host("server", "server", SERVER, cfg, Some(server));
    Ok(sim)
}

pub fn server_addr() -> SocketAddrV4 {
    SocketAddrV4::new(SERVER, PORT)
}
