//! std-like blocking sockets on the engine: `TcpListener`, `TcpStream` (Read/Write, also
//! through `&TcpStream`, so one thread can read while another writes).
//!
//! Errors are `io::Error`s made from the engine's errno (`From<tcpwave::Error>`), so
//! `ErrorKind::ConnectionReset`, `ConnectionRefused`, `TimedOut`, `BrokenPipe` come out as
//! from a kernel socket. Read and write timeouts fail with `WouldBlock`, as Linux's
//! SO_RCVTIMEO / SO_SNDTIMEO do.

use std::io::{self, Read, Write};
use std::net::{Shutdown as StdShutdown, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use tcpwave::{ConnId, Duration, Error, ListenerId, Shutdown, SockOpt, State};

use crate::runtime::Stack;

/// Listen backlog when `bind` is used.
const DEFAULT_BACKLOG: u32 = 128;

fn to_engine(d: StdDuration) -> Duration {
    Duration::from_micros(d.as_micros().min(u128::from(u64::MAX)) as u64)
}

/// A timeout kept as microseconds in an atomic; 0 means none.
#[derive(Default)]
struct Timeout(AtomicU64);

impl Timeout {
    fn set(&self, d: Option<StdDuration>) -> io::Result<()> {
        let micros = match d {
            Some(d) if d.is_zero() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a zero timeout is not allowed (as with std::net)",
                ))
            }
            Some(d) => d.as_micros().clamp(1, u128::from(u64::MAX)) as u64,
            None => 0,
        };
        self.0.store(micros, Ordering::Relaxed);
        Ok(())
    }

    fn get(&self) -> Option<StdDuration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            micros => Some(StdDuration::from_micros(micros)),
        }
    }

    fn deadline(&self) -> Option<std::time::Instant> {
        self.get().map(|d| std::time::Instant::now() + d)
    }
}

/// A listening socket on the engine.
pub struct TcpListener {
    stack: Stack,
    id: ListenerId,
    local: SocketAddrV4,
    accept_timeout: Timeout,
}

impl TcpListener {
    /// Listens on the stack's address, `port` (which must not be 0).
    pub fn bind(stack: &Stack, port: u16) -> io::Result<TcpListener> {
        Self::bind_with_backlog(stack, port, DEFAULT_BACKLOG)
    }

    pub fn bind_with_backlog(stack: &Stack, port: u16, backlog: u32) -> io::Result<TcpListener> {
        let local = SocketAddrV4::new(stack.addr(), port);
        let id = stack.with_endpoint(|ep, now| ep.listen(now, local, backlog))?;
        Ok(TcpListener {
            stack: stack.clone(),
            id,
            local,
            accept_timeout: Timeout::default(),
        })
    }

    /// Waits for a connection that finished its handshake.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddrV4)> {
        let id = self.id;
        let deadline = self.accept_timeout.deadline();
        let conn =
            self.stack
                .shared()
                .wait_for(deadline, io::ErrorKind::WouldBlock, |core, now| match core
                    .ep
                    .accept(now, id)
                {
                    Ok(conn) => Some(Ok(conn)),
                    Err(Error::WouldBlock) => None,
                    Err(e) => Some(Err(e.into())),
                })?;
        let stream = TcpStream::from_conn(self.stack.clone(), conn);
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }

    /// Makes `accept` give up with `WouldBlock` after this long (None: wait for ever).
    pub fn set_accept_timeout(&self, timeout: Option<StdDuration>) -> io::Result<()> {
        self.accept_timeout.set(timeout)
    }

    pub fn local_addr(&self) -> SocketAddrV4 {
        self.local
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let id = self.id;
        let _ = self
            .stack
            .with_endpoint(|ep, now| ep.close_listener(now, id));
    }
}

/// A connection on the engine. Dropping it is `close()`: the engine finishes the close
/// handshake on its own (FIN_WAIT_2, TIME_WAIT), or resets (SO_LINGER 0, unread data).
pub struct TcpStream {
    stack: Stack,
    id: ConnId,
    read_timeout: Timeout,
    write_timeout: Timeout,
    released: bool,
}

impl TcpStream {
    fn from_conn(stack: Stack, id: ConnId) -> TcpStream {
        TcpStream {
            stack,
            id,
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
            released: false,
        }
    }

    /// Active open from the stack's address and an ephemeral port. Blocks until the
    /// handshake completes or fails (ECONNREFUSED, ETIMEDOUT after tcp_syn_retries).
    pub fn connect(stack: &Stack, remote: SocketAddrV4) -> io::Result<TcpStream> {
        Self::connect_inner(stack, remote, None)
    }

    /// Like `connect`, but gives up after `timeout`: the connection is closed (its
    /// `SYN_SENT -> CLOSED` change is preceded by [`Trace::ConnectTimedOut`]) and the error
    /// is `TimedOut`, "connect timed out after N s". The engine's own give-up (retransmissions
    /// exhausted, tcp_syn_retries) is also `TimedOut`, with the engine's message.
    ///
    /// [`Trace::ConnectTimedOut`]: crate::trace::Trace::ConnectTimedOut
    pub fn connect_timeout(
        stack: &Stack,
        remote: SocketAddrV4,
        timeout: StdDuration,
    ) -> io::Result<TcpStream> {
        Self::connect_inner(stack, remote, Some(timeout))
    }

    fn connect_inner(
        stack: &Stack,
        remote: SocketAddrV4,
        timeout: Option<StdDuration>,
    ) -> io::Result<TcpStream> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let local = SocketAddrV4::new(stack.addr(), 0);
        let id = stack.with_endpoint(|ep, now| ep.connect(now, local, remote))?;
        let mut stream = TcpStream::from_conn(stack.clone(), id);
        let result =
            stack
                .shared()
                .wait_for(deadline, io::ErrorKind::TimedOut, |core, _| {
                    match core.ep.state(id) {
                        Some(State::SynSent | State::SynReceived) => None,
                        Some(State::Closed) | None => {
                            let err = core.ep.error(id).unwrap_or(Error::ConnectionAborted);
                            Some(Err(err.into()))
                        }
                        Some(_) => Some(Ok(())),
                    }
                });
        let after = match (result, timeout) {
            (Ok(()), _) => return Ok(stream),
            (Err(e), Some(after)) if e.kind() == io::ErrorKind::TimedOut => after,
            (Err(e), _) => return Err(e),
        };
        // Still connecting: our deadline passed, not the engine's (which would have closed
        // the connection). Say so in the trace, then close, under one lock.
        let ours = stack.shared().with(|core, now| {
            if !matches!(core.ep.state(id), Some(State::SynSent | State::SynReceived)) {
                return false;
            }
            let at = stack.elapsed();
            core.note(crate::trace::Trace::ConnectTimedOut {
                at,
                conn: id,
                after,
            });
            let _ = core.ep.close(now, id);
            true
        });
        if !ours {
            let err = stack
                .with_endpoint(|ep, _| ep.error(id))
                .unwrap_or(Error::TimedOut);
            return Err(err.into());
        }
        stream.released = true;
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "connect timed out after {} (no SYN-ACK from {remote})",
                crate::trace::seconds(after)
            ),
        ))
    }

    /// The engine's handle of this connection (for matching events).
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The connection's state now.
    pub fn state(&self) -> State {
        let id = self.id;
        self.stack
            .with_endpoint(|ep, _| ep.state(id))
            .unwrap_or(State::Closed)
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddrV4> {
        self.tuple().map(|t| t.remote())
    }

    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        self.tuple().map(|t| t.local())
    }

    fn tuple(&self) -> io::Result<tcpwave::FourTuple> {
        let id = self.id;
        self.stack
            .with_endpoint(|ep, _| ep.tuple(id))
            .ok_or_else(|| Error::NotConnected.into())
    }

    /// shutdown(2): `Write` sends FIN after the buffered data and keeps receiving.
    pub fn shutdown(&self, how: StdShutdown) -> io::Result<()> {
        let how = match how {
            StdShutdown::Read => Shutdown::Read,
            StdShutdown::Write => Shutdown::Write,
            StdShutdown::Both => Shutdown::Both,
        };
        let id = self.id;
        Ok(self
            .stack
            .with_endpoint(|ep, now| ep.shutdown(now, id, how))?)
    }

    /// SO_LINGER. `Some(ZERO)` makes close (and Drop) reset the connection: RST, no FIN,
    /// no TIME_WAIT.
    pub fn set_linger(&self, linger: Option<StdDuration>) -> io::Result<()> {
        self.set_option(SockOpt::Linger(linger.map(to_engine)))
    }

    /// SO_KEEPALIVE with TCP_KEEPIDLE: `Some(idle)` turns probes on after `idle` of silence.
    pub fn set_keepalive(&self, idle: Option<StdDuration>) -> io::Result<()> {
        match idle {
            Some(idle) => {
                self.set_option(SockOpt::KeepIdle(to_engine(idle)))?;
                self.set_option(SockOpt::KeepAlive(true))
            }
            None => self.set_option(SockOpt::KeepAlive(false)),
        }
    }

    /// TCP_KEEPINTVL and TCP_KEEPCNT.
    pub fn set_keepalive_probes(&self, interval: StdDuration, count: u32) -> io::Result<()> {
        self.set_option(SockOpt::KeepIntvl(to_engine(interval)))?;
        self.set_option(SockOpt::KeepCnt(count))
    }

    /// TCP_NODELAY: turn Nagle's algorithm off.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.set_option(SockOpt::NoDelay(nodelay))
    }

    /// TCP_LINGER2: how long this connection, once closed, waits in FIN_WAIT_2.
    pub fn set_linger2(&self, linger2: Option<StdDuration>) -> io::Result<()> {
        self.set_option(SockOpt::Linger2(linger2.map(to_engine)))
    }

    fn set_option(&self, opt: SockOpt) -> io::Result<()> {
        let id = self.id;
        Ok(self
            .stack
            .with_endpoint(|ep, now| ep.set_option(now, id, opt))?)
    }

    pub fn set_read_timeout(&self, timeout: Option<StdDuration>) -> io::Result<()> {
        self.read_timeout.set(timeout)
    }

    pub fn set_write_timeout(&self, timeout: Option<StdDuration>) -> io::Result<()> {
        self.write_timeout.set(timeout)
    }

    /// Resets the connection now (RFC 9293 §3.10.5 ABORT): RST, no TIME_WAIT.
    pub fn abort(mut self) -> io::Result<()> {
        self.released = true;
        let id = self.id;
        Ok(self.stack.with_endpoint(|ep, now| ep.abort(now, id))?)
    }

    /// close(2), reporting a failure that Drop would swallow.
    pub fn close(mut self) -> io::Result<()> {
        self.released = true;
        let id = self.id;
        Ok(self.stack.with_endpoint(|ep, now| ep.close(now, id))?)
    }

    fn read_inner(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let id = self.id;
        self.stack.shared().wait_for(
            self.read_timeout.deadline(),
            io::ErrorKind::WouldBlock,
            |core, now| match core.ep.recv(now, id, buf) {
                Ok(n) => Some(Ok(n)),
                Err(Error::WouldBlock) => None,
                Err(e) => Some(Err(e.into())),
            },
        )
    }

    fn write_inner(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let id = self.id;
        self.stack.shared().wait_for(
            self.write_timeout.deadline(),
            io::ErrorKind::WouldBlock,
            |core, now| match core.ep.send(now, id, buf) {
                Ok(n) => Some(Ok(n)),
                Err(Error::WouldBlock) => None,
                Err(e) => Some(Err(e.into())),
            },
        )
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        if !self.released {
            let id = self.id;
            let _ = self.stack.with_endpoint(|ep, now| ep.close(now, id));
        }
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TcpStream({})", self.id)
    }
}
