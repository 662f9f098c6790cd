//! Serving on the engine: HTTP/1.1, echo or discard, one thread per connection.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::runtime::Stack;
use crate::socket::{TcpListener, TcpStream};

/// How often blocked calls look at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(200);
/// A connection idle this long (no request, no data) is closed by the server.
const IDLE_MAX: Duration = Duration::from_secs(60);

/// What the server does with each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServeMode {
    /// HTTP/1.1 with keep-alive (see `http`).
    Http,
    /// Write back everything read; close after the client's FIN.
    Echo,
    /// Read and throw away; close after the client's FIN.
    Discard,
}

impl ServeMode {
    /// How `tcpwave serve` names the mode: `HTTP`, `echo`, `discard`.
    pub fn name(self) -> &'static str {
        match self {
            ServeMode::Http => "HTTP",
            ServeMode::Echo => "echo",
            ServeMode::Discard => "discard",
        }
    }
}

impl std::fmt::Display for ServeMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Server limits.
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    pub port: u16,
    pub mode: ServeMode,
    /// Connections served at once; further ones wait in the accept queue.
    pub connections_max: usize,
    /// Stop after accepting this many connections (None: until stopped).
    pub accepts_max: Option<u64>,
}

/// Totals when the server stops.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServeSummary {
    pub connections: u64,
    pub bytes_in: u64,
}

/// Accepts and serves until `stop` is set (or `accepts_max` is reached and those
/// connections are done).
pub fn serve(stack: &Stack, opts: ServeOptions, stop: &AtomicBool) -> io::Result<ServeSummary> {
    let listener = TcpListener::bind(stack, opts.port)?;
    listener.set_accept_timeout(Some(STOP_POLL))?;
    let active = Arc::new(AtomicUsize::new(0));
    let bytes_in = Arc::new(AtomicU64::new(0));
    let mut accepted = 0u64;
    std::thread::scope(|scope| -> io::Result<()> {
        while !stop.load(Ordering::Relaxed) && opts.accepts_max.map_or(true, |m| accepted < m) {
            if active.load(Ordering::Acquire) >= opts.connections_max.max(1) {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            let (stream, _peer) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            };
            accepted += 1;
            active.fetch_add(1, Ordering::AcqRel);
            let (active, bytes_in, stack) = (Arc::clone(&active), Arc::clone(&bytes_in), stack);
            scope.spawn(move || {
                let n = serve_one(stack, stream, opts.mode, stop).unwrap_or(0);
                bytes_in.fetch_add(n, Ordering::Relaxed);
                active.fetch_sub(1, Ordering::AcqRel);
            });
        }
        Ok(())
    })?;
    Ok(ServeSummary {
        connections: accepted,
        bytes_in: bytes_in.load(Ordering::Relaxed),
    })
}

/// Serves one connection, then closes it (Drop). Returns the bytes read.
fn serve_one(
    stack: &Stack,
    stream: TcpStream,
    mode: ServeMode,
    stop: &AtomicBool,
) -> io::Result<u64> {
    stream.set_read_timeout(Some(STOP_POLL))?;
    let mut reader = Patient {
        stream: &stream,
        stop,
        bytes: 0,
    };
    match mode {
        ServeMode::Http => {
            let netstat = || crate::netstat::render(stack);
            let mut both = Duplex {
                reader: &mut reader,
                writer: &stream,
            };
            crate::http::serve_connection(&mut both, &netstat)?;
        }
        ServeMode::Echo => {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = reader.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                (&stream).write_all(&buf[..n])?;
            }
        }
        ServeMode::Discard => {
            io::copy(&mut reader, &mut io::sink())?;
        }
    }
    Ok(reader.bytes)
}

/// Reads that wait through the short socket timeout until data, EOF, the stop flag or
/// IDLE_MAX of silence.
struct Patient<'a> {
    stream: &'a TcpStream,
    stop: &'a AtomicBool,
    bytes: u64,
}

impl Read for Patient<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let started = Instant::now();
        loop {
            let mut stream: &TcpStream = self.stream;
            match stream.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.stop.load(Ordering::Relaxed) || started.elapsed() > IDLE_MAX {
                        return Ok(0);
                    }
                }
                Ok(n) => {
                    self.bytes += n as u64;
                    return Ok(n);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A reader and a writer seen as one stream.
struct Duplex<'a, R> {
    reader: &'a mut R,
    writer: &'a TcpStream,
}

impl<R: Read> Read for Duplex<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl<R> Write for Duplex<'_, R> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.writer).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
