//! The Linux kernel's TCP over real sockets on loopback (127.0.0.1 only): a server thread
//! that accepts, reads 4 bytes, writes 4 bytes, reads end of file and closes, and the
//! calling thread as the client (connect, write, read, close). Blocking calls, TCP_NODELAY.
//!
//! The client closes first, so the kernel keeps its side in TIME-WAIT (a 256-byte
//! `tw_sock_TCP`); with the default `tcp_tw_reuse = 2` the kernel may recycle a loopback
//! TIME-WAIT tuple for a new connect once its timestamp is a second old.
//!
//! Parked idle connections live in a helper process (`tcpwave-bench kernel-park-server`)
//! that accepts them, so that each process needs only one descriptor per connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A loopback server thread answering one request per connection.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Server {
    pub fn start() -> std::io::Result<Server> {
        let listener = TcpListener::bind(SocketAddrV4::new(LOOPBACK, 0))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut served = 0u64;
            let mut word = [0u8; 4];
            for stream in listener.incoming() {
                if stop_flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                stream.set_nodelay(true).ok();
                if stream.read_exact(&mut word).is_err() {
                    continue;
                }
                stream.write_all(b"pong").expect("server write");
                let n = stream.read(&mut word).expect("server read EOF");
                assert_eq!(n, 0, "expected end of file");
                served += 1;
            }
            served
        });
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// One lifecycle, the calling thread being the client.
    #[inline(never)]
    pub fn lifecycle(&self) {
        let mut stream = TcpStream::connect(self.addr).expect("connect to the loopback server");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream.write_all(b"ping").expect("client write");
        let mut word = [0u8; 4];
        stream.read_exact(&mut word).expect("client read");
        // Dropping the stream is close(): the client's FIN goes first.
    }

    pub fn lifecycles(&self, count: u64) {
        for _ in 0..count {
            self.lifecycle();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept() up.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `count` idle established loopback connections: the client sides here, the server sides
/// in a helper process. Dropping it closes everything.
pub struct Parked {
    clients: Vec<TcpStream>,
    helper: Option<Child>,
    helper_stdin: Option<ChildStdin>,
}

impl Parked {
    /// Spawn `exe kernel-park-server COUNT` and connect `count` clients to it.
    pub fn open(exe: &std::path::Path, count: u64) -> std::io::Result<Parked> {
        if count == 0 {
            return Ok(Parked {
                clients: Vec::new(),
                helper: None,
                helper_stdin: None,
            });
        }
        let mut helper = Command::new(exe)
            .arg("kernel-park-server")
            .arg(count.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = helper.stdin.take();
        let mut out = BufReader::new(helper.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        out.read_line(&mut line)?;
        let port: u16 = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("park server said {line:?}")))?;
        let mut clients = Vec::with_capacity(count as usize);
        for _ in 0..count {
            clients.push(TcpStream::connect(SocketAddrV4::new(LOOPBACK, port))?);
        }
        line.clear();
        out.read_line(&mut line)?;
        if line.trim() != "PARKED" {
            return Err(std::io::Error::other(format!("park server said {line:?}")));
        }
        Ok(Parked {
            clients,
            helper: Some(helper),
            helper_stdin: stdin,
        })
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        self.clients.clear();
        drop(self.helper_stdin.take());
        if let Some(mut helper) = self.helper.take() {
            let _ = helper.wait();
        }
    }
}

/// The helper process: listen on 127.0.0.1, print `PORT n`, accept `count` connections,
/// print `PARKED`, then hold them until standard input closes.
pub fn park_server_main(count: u64) -> std::io::Result<()> {
    let listener = TcpListener::bind(SocketAddrV4::new(LOOPBACK, 0))?;
    let port = listener.local_addr()?.port();
    let mut stdout = std::io::stdout();
    writeln!(stdout, "PORT {port}")?;
    stdout.flush()?;
    let mut held = Vec::with_capacity(count as usize);
    while (held.len() as u64) < count {
        let (stream, _) = listener.accept()?;
        held.push(stream);
    }
    writeln!(stdout, "PARKED")?;
    stdout.flush()?;
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    Ok(())
}

/// The soft and hard RLIMIT_NOFILE, from /proc/self/limits.
pub fn open_files_limit() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line.split_whitespace().skip(3);
    let soft = fields.next()?.parse().ok()?;
    let hard = fields.next()?.parse().ok()?;
    Some((soft, hard))
}

/// A kernel slab's object size from /proc/slabinfo (needs root), e.g. `TCP`, `tw_sock_TCP`.
pub fn slab_object_bytes(name: &str) -> Option<u64> {
    let info = std::fs::read_to_string("/proc/slabinfo").ok()?;
    info.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        (fields.next()? == name).then(|| fields.nth(2)?.parse().ok())?
    })
}
