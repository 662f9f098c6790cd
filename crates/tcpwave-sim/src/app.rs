//! Applications on simulated hosts. An application reacts to its host's events and
//! to wake-ups it asked for, and calls the socket API through [`AppCtx`], which
//! records every call in the trace ("what the application did and saw").

use std::net::{Ipv4Addr, SocketAddrV4};

use tcpwave::{
    ConnId, Duration, Endpoint, Error, Event, Instant, ListenerId, Shutdown, SockOpt, State,
};

use crate::recorder::{conn_name, Recorder};

/// What an application is told.
#[derive(Clone, Copy, Debug)]
pub enum Input {
    /// The host started (or restarted).
    Start,
    /// An event from the host's endpoint.
    Event(Event),
    /// A wake-up the application asked for, with its token.
    Wake(u64),
}

/// An application: a closure over its own state is usually enough (see [`FnApp`]).
pub trait App {
    fn handle(&mut self, ctx: &mut AppCtx<'_>, input: Input);
}

/// An application made of one closure.
pub struct FnApp<F: FnMut(&mut AppCtx<'_>, Input)>(pub F);

impl<F: FnMut(&mut AppCtx<'_>, Input)> App for FnApp<F> {
    fn handle(&mut self, ctx: &mut AppCtx<'_>, input: Input) {
        (self.0)(ctx, input)
    }
}

/// Box a closure as an application.
pub fn app(f: impl FnMut(&mut AppCtx<'_>, Input) + 'static) -> Box<dyn App> {
    Box::new(FnApp(f))
}

/// The socket API as an application on a simulated host sees it.
pub struct AppCtx<'a> {
    pub(crate) now: Instant,
    pub(crate) host: &'a str,
    pub(crate) addr: Ipv4Addr,
    pub(crate) endpoint: &'a mut Endpoint,
    pub(crate) rec: &'a mut Recorder,
    pub(crate) wakes: &'a mut Vec<(Instant, u64)>,
    pub(crate) owned: &'a mut Vec<ConnId>,
    pub(crate) listeners: &'a mut Vec<ListenerId>,
}

impl AppCtx<'_> {
    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    fn name(&self, c: ConnId) -> String {
        self.endpoint
            .tuple(c)
            .map(|t| conn_name(&t))
            .unwrap_or_default()
    }

    fn note(&mut self, conn: String, text: String) {
        self.rec.app(self.now, self.host, conn, text);
    }

    /// Record something the application saw (also listed in the outcome).
    pub fn saw(&mut self, conn: Option<ConnId>, text: &str) {
        let name = conn.map(|c| self.name(c)).unwrap_or_default();
        self.saw_on(name, text);
    }

    /// `saw` on a connection named by its tuple (`local->remote`, or empty for none).
    fn saw_on(&mut self, conn: String, text: &str) {
        if !self.rec.recording {
            return;
        }
        self.rec.trace.outcome.app_saw.push(tcpwave_trace::Saw {
            host: self.host.to_string(),
            conn: conn.clone(),
            text: text.to_string(),
        });
        self.note(conn, text.to_string());
    }

    /// connect() from an ephemeral port.
    pub fn connect(&mut self, remote: SocketAddrV4) -> Result<ConnId, Error> {
        self.connect_from(0, remote)
    }

    /// connect() from a given local port (0 = ephemeral).
    pub fn connect_from(&mut self, port: u16, remote: SocketAddrV4) -> Result<ConnId, Error> {
        let local = SocketAddrV4::new(self.addr, port);
        match self.endpoint.connect(self.now, local, remote) {
            Ok(c) => {
                self.owned.push(c);
                let name = self.name(c);
                self.note(name, format!("connect({remote})"));
                Ok(c)
            }
            Err(e) => {
                // The tuple asked for, when the port was chosen; an ephemeral port that
                // could not be found names no connection.
                let conn = if port == 0 {
                    String::new()
                } else {
                    format!("{local}->{remote}")
                };
                self.saw_on(
                    conn,
                    &format!("connect({remote}) failed: {}", e.errno_name()),
                );
                Err(e)
            }
        }
    }

    /// listen() on this host's address.
    pub fn listen(&mut self, port: u16, backlog: u32) -> Result<ListenerId, Error> {
        let l = self
            .endpoint
            .listen(self.now, SocketAddrV4::new(self.addr, port), backlog)?;
        self.listeners.push(l);
        self.note(String::new(), format!("listen(:{port}, backlog {backlog})"));
        Ok(l)
    }

    /// accept() every connection waiting.
    pub fn accept_all(&mut self, l: ListenerId) -> Vec<ConnId> {
        let mut out = Vec::new();
        while let Ok(c) = self.endpoint.accept(self.now, l) {
            self.owned.push(c);
            let name = self.name(c);
            self.note(name, "accept()".to_string());
            out.push(c);
        }
        out
    }

    /// Stop listening.
    pub fn close_listener(&mut self, l: ListenerId) {
        self.listeners.retain(|&x| x != l);
        if self.endpoint.close_listener(self.now, l).is_ok() {
            self.note(String::new(), "close(listener)".to_string());
        }
    }

    /// send() all of `data` that fits.
    pub fn send(&mut self, c: ConnId, data: &[u8]) -> Result<usize, Error> {
        let result = self.endpoint.send(self.now, c, data);
        let name = self.name(c);
        match result {
            Ok(n) => self.note(name, format!("send({n} bytes)")),
            Err(Error::WouldBlock) => {}
            Err(e) => self.saw(Some(c), &format!("send() failed: {}", e.errno_name())),
        }
        result
    }

    /// recv() everything available. `Ok(empty)` with `eof` true means end of file.
    pub fn recv(&mut self, c: ConnId) -> Result<(Vec<u8>, bool), Error> {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.endpoint.recv(self.now, c, &mut buf) {
                Ok(0) => {
                    if !data.is_empty() {
                        let text = format!(
                            "recv() = {} bytes {:?}",
                            data.len(),
                            String::from_utf8_lossy(&data)
                        );
                        self.note(self.name(c), text);
                    }
                    self.saw(Some(c), "recv() = 0: end of file (peer closed)");
                    return Ok((data, true));
                }
                Ok(n) => data.extend_from_slice(&buf[..n]),
                Err(Error::WouldBlock) => break,
                Err(e) => {
                    if data.is_empty() {
                        self.saw(Some(c), &format!("recv() failed: {}", e.errno_name()));
                        return Err(e);
                    }
                    break;
                }
            }
        }
        if !data.is_empty() {
            let text = format!(
                "recv() = {} bytes {:?}",
                data.len(),
                String::from_utf8_lossy(&data)
            );
            let name = self.name(c);
            self.note(name, text);
        }
        Ok((data, false))
    }

    /// close().
    pub fn close(&mut self, c: ConnId) {
        let name = self.name(c);
        if self.endpoint.close(self.now, c).is_ok() {
            self.owned.retain(|&x| x != c);
            self.note(name, "close()".to_string());
        }
    }

    /// shutdown(SHUT_WR).
    pub fn shutdown_write(&mut self, c: ConnId) {
        let name = self.name(c);
        match self.endpoint.shutdown(self.now, c, Shutdown::Write) {
            Ok(()) => self.note(name, "shutdown(SHUT_WR)".to_string()),
            Err(e) => self.saw(Some(c), &format!("shutdown() failed: {}", e.errno_name())),
        }
    }

    /// abort(): RST now.
    pub fn abort(&mut self, c: ConnId) {
        let name = self.name(c);
        if self.endpoint.abort(self.now, c).is_ok() {
            self.owned.retain(|&x| x != c);
            self.note(name, "abort()".to_string());
        }
    }

    /// setsockopt().
    pub fn set_option(&mut self, c: ConnId, opt: SockOpt) {
        if self.endpoint.set_option(self.now, c, opt).is_ok() {
            let name = self.name(c);
            self.note(name, format!("setsockopt({})", setsockopt_args(opt)));
        }
    }

    /// The connections this application holds (connected or accepted, not closed).
    pub fn connections(&self) -> Vec<ConnId> {
        self.owned.clone()
    }

    pub fn state(&self, c: ConnId) -> Option<State> {
        self.endpoint.state(c)
    }

    /// Be woken with `token` after `delay`.
    pub fn wake_after(&mut self, delay: Duration, token: u64) {
        self.wakes.push((self.now + delay, token));
    }

    /// Record events or not from here on (`Sim::set_recording`): a large run's
    /// application can switch recording on for the moment worth drawing.
    pub fn set_recording(&mut self, on: bool) {
        self.rec.recording = on;
    }

    /// Direct access to the host's endpoint (counts, snapshots).
    pub fn endpoint(&self) -> &Endpoint {
        self.endpoint
    }
}

/// A socket option as the `setsockopt()` call a network engineer would write: the
/// option's C name and its value in the unit Linux takes (`SO_LINGER` a `struct linger`
/// in seconds, `TCP_KEEPIDLE` / `TCP_KEEPINTVL` / `TCP_LINGER2` seconds, `TCP_USER_TIMEOUT`
/// milliseconds, flags 0 or 1).
pub fn setsockopt_args(opt: SockOpt) -> String {
    let flag = |on: bool| u8::from(on);
    let secs = |d: Duration| d.total_micros() as f64 / 1e6;
    match opt {
        SockOpt::Linger(Some(d)) => format!("SO_LINGER, {{on, {} s}}", secs(d)),
        SockOpt::Linger(None) => "SO_LINGER, {off}".to_string(),
        SockOpt::KeepAlive(on) => format!("SO_KEEPALIVE, {}", flag(on)),
        SockOpt::NoDelay(on) => format!("TCP_NODELAY, {}", flag(on)),
        SockOpt::KeepIdle(d) => format!("TCP_KEEPIDLE, {}", secs(d)),
        SockOpt::KeepIntvl(d) => format!("TCP_KEEPINTVL, {}", secs(d)),
        SockOpt::KeepCnt(n) => format!("TCP_KEEPCNT, {n}"),
        SockOpt::Linger2(Some(d)) => format!("TCP_LINGER2, {}", secs(d)),
        SockOpt::Linger2(None) => "TCP_LINGER2, -1".to_string(),
        SockOpt::UserTimeout(d) => format!("TCP_USER_TIMEOUT, {} ms", d.total_millis()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_options_read_as_setsockopt_calls() {
        let cases = [
            (
                SockOpt::Linger(Some(Duration::ZERO)),
                "SO_LINGER, {on, 0 s}",
            ),
            (
                SockOpt::Linger(Some(Duration::from_secs(5))),
                "SO_LINGER, {on, 5 s}",
            ),
            (SockOpt::Linger(None), "SO_LINGER, {off}"),
            (SockOpt::KeepAlive(true), "SO_KEEPALIVE, 1"),
            (SockOpt::NoDelay(true), "TCP_NODELAY, 1"),
            (SockOpt::NoDelay(false), "TCP_NODELAY, 0"),
            (
                SockOpt::KeepIdle(Duration::from_secs(60)),
                "TCP_KEEPIDLE, 60",
            ),
            (
                SockOpt::KeepIntvl(Duration::from_secs(10)),
                "TCP_KEEPINTVL, 10",
            ),
            (SockOpt::KeepCnt(3), "TCP_KEEPCNT, 3"),
            (
                SockOpt::Linger2(Some(Duration::from_secs(30))),
                "TCP_LINGER2, 30",
            ),
            (SockOpt::Linger2(None), "TCP_LINGER2, -1"),
            (
                SockOpt::UserTimeout(Duration::from_secs(100)),
                "TCP_USER_TIMEOUT, 100000 ms",
            ),
        ];
        for (opt, text) in cases {
            assert_eq!(setsockopt_args(opt), text, "{opt:?}");
            assert!(
                !setsockopt_args(opt).contains('('),
                "no Rust Debug: {opt:?}"
            );
        }
    }
}
