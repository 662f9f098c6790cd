//! smoltcp 0.14, driven the way its own `loopback` examples drive it: one `Interface` over a
//! `Loopback` device, every socket in one `SocketSet`, `iface.poll(now, ..)` in a loop with
//! the application's work between polls, and a virtual clock moved on by `poll_delay` when
//! nothing else can make progress.
//!
//! smoltcp has no accept queue: a listening socket becomes the connection, so every server
//! side needs its own socket. It has no ephemeral port allocator either: the client picks
//! its local port. Its TIME-WAIT lasts a fixed 10 s inside the socket, and a socket that is
//! not open (CLOSED or TIME-WAIT) is reused by calling `connect`/`listen` on it again, which
//! discards the TIME-WAIT state — what the examples do, and what this driver does.

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{ChecksumCapabilities, Device, DeviceCapabilities, Loopback, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

/// Port of the listener the measured lifecycles connect to.
pub const LIFECYCLE_PORT: u16 = 80;
/// First port of the parked connections' server sockets (60,000 clients per server port).
pub const PARK_PORT: u16 = 1000;
/// Port of the bulk-transfer listener.
pub const BULK_PORT: u16 = 82;
const SERVER: IpAddress = IpAddress::v4(127, 0, 0, 1);
/// Virtual time between two lifecycles (the same as tcpwave's).
pub const LIFECYCLE_GAP: Duration = Duration::from_micros(100);
const POLL_STEP_MAX: usize = 1_000_000;

/// smoltcp's `Loopback`, optionally with a smaller MTU (for MSS 1460) or with checksums
/// computed and verified (the shipped `Loopback` ignores them, like Linux's `lo`).
pub struct Lo {
    inner: Loopback,
    mtu: usize,
    checksums: bool,
    /// Packets delivered so far.
    pub packets: u64,
}

impl Lo {
    /// The shipped device: MTU 65,535, checksums ignored.
    pub fn shipped() -> Lo {
        Lo::new(65_535, false)
    }

    /// The device for an engine name: `smoltcp` (shipped) or `smoltcp-checksums`
    /// (checksums computed and verified), with the MTU `mtu`.
    pub fn for_engine(engine: &str, mtu: usize) -> Option<Lo> {
        match engine {
            "smoltcp" => Some(Lo::new(mtu, false)),
            "smoltcp-checksums" => Some(Lo::new(mtu, true)),
            _ => None,
        }
    }

    pub fn new(mtu: usize, checksums: bool) -> Lo {
        Lo {
            inner: Loopback::new(Medium::Ip),
            mtu,
            checksums,
            packets: 0,
        }
    }
}

impl Device for Lo {
    type RxToken<'a> = <Loopback as Device>::RxToken<'a>;
    type TxToken<'a> = <Loopback as Device>::TxToken<'a>;

    fn receive(&mut self, timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let tokens = self.inner.receive(timestamp);
        self.packets += u64::from(tokens.is_some());
        tokens
    }

    fn transmit(&mut self, timestamp: Instant) -> Option<Self::TxToken<'_>> {
        self.inner.transmit(timestamp)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = self.inner.capabilities();
        caps.max_transmission_unit = self.mtu;
        if self.checksums {
            caps.checksum = ChecksumCapabilities::default();
        }
        caps
    }
}

fn socket(buffer_bytes: usize) -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; buffer_bytes]),
        tcp::SocketBuffer::new(vec![0; buffer_bytes]),
    )
}

/// One interface holding a lifecycle client socket, a lifecycle server socket, and any
/// number of parked connection pairs.
pub struct Net {
    pub iface: Interface,
    pub device: Lo,
    pub sockets: SocketSet<'static>,
    pub now: Instant,
    client: SocketHandle,
    server: SocketHandle,
    next_port: u16,
    /// Parked (client, server) socket pairs.
    pub parked: Vec<(SocketHandle, SocketHandle)>,
    pub polls: u64,
}

impl Net {
    pub fn new(device: Lo) -> Net {
        let mut device = device;
        let now = Instant::from_micros(0);
        let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut device, now);
        iface.update_ip_addrs(|addrs| {
            addrs
                .push(IpCidr::new(SERVER, 8))
                .expect("room for one address");
        });
        let mut sockets = SocketSet::new(Vec::new());
        let server = sockets.add(socket(1024));
        let client = sockets.add(socket(1024));
        sockets
            .get_mut::<tcp::Socket>(server)
            .listen(LIFECYCLE_PORT)
            .expect("listen");
        Net {
            iface,
            device,
            sockets,
            now,
            client,
            server,
            next_port: 1024,
            parked: Vec::new(),
            polls: 0,
        }
    }

    /// One `iface.poll`; true if any socket may have changed.
    pub fn poll(&mut self) -> bool {
        self.polls += 1;
        self.iface
            .poll(self.now, &mut self.device, &mut self.sockets)
            != smoltcp::iface::PollResult::None
    }

    /// Nothing moves without time: jump the clock to the interface's next deadline.
    fn advance_to_deadline(&mut self) {
        match self.iface.poll_delay(self.now, &self.sockets) {
            Some(delay) if delay > Duration::ZERO => self.now += delay,
            Some(_) => {}
            None => panic!("smoltcp: nothing to do and no timer armed: the exchange is stuck"),
        }
    }

    fn take_port(&mut self) -> u16 {
        let port = self.next_port;
        self.next_port = if port == u16::MAX { 1024 } else { port + 1 };
        port
    }

    /// One short connection, as tcpwave's: handshake, "ping", "pong", client close, server
    /// close. The client socket ends in TIME-WAIT; the next lifecycle's `connect` discards it.
    #[inline(never)]
    pub fn lifecycle(&mut self) {
        let port = self.take_port();
        {
            let cx = self.iface.context();
            let client = self.sockets.get_mut::<tcp::Socket>(self.client);
            client
                .connect(cx, (SERVER, LIFECYCLE_PORT), port)
                .expect("connect (the previous connection is CLOSED or TIME-WAIT)");
        }
        let (mut sent, mut served, mut answered, mut server_closed) = (false, false, false, false);
        let mut word = [0u8; 4];
        for _ in 0..POLL_STEP_MAX {
            let changed = self.poll();
            let mut acted = false;
            let server = self.sockets.get_mut::<tcp::Socket>(self.server);
            if !served && server.can_recv() {
                assert_eq!(server.recv_slice(&mut word), Ok(4));
                assert_eq!(server.send_slice(b"pong"), Ok(4));
                served = true;
                acted = true;
            }
            if served && !server_closed && server.state() == tcp::State::CloseWait {
                server.close();
                server_closed = true;
                acted = true;
            }
            let server_done = server.state() == tcp::State::Closed;
            let client = self.sockets.get_mut::<tcp::Socket>(self.client);
            if !sent && client.can_send() {
                assert_eq!(client.send_slice(b"ping"), Ok(4));
                sent = true;
                acted = true;
            }
            if !answered && client.can_recv() {
                assert_eq!(client.recv_slice(&mut word), Ok(4));
                client.close();
                answered = true;
                acted = true;
            }
            if server_done && server_closed && client.state() == tcp::State::TimeWait {
                let server = self.sockets.get_mut::<tcp::Socket>(self.server);
                server.listen(LIFECYCLE_PORT).expect("listen again");
                self.now += LIFECYCLE_GAP;
                return;
            }
            if !changed && !acted {
                self.advance_to_deadline();
            }
        }
        panic!("smoltcp lifecycle did not finish in {POLL_STEP_MAX} polls");
    }

    #[inline(never)]
    pub fn lifecycles(&mut self, count: u64) {
        for _ in 0..count {
            self.lifecycle();
        }
    }

    /// Establish `count` idle connections, each a client socket and a server socket with
    /// `buffer_bytes` buffers, all at once (connect every client, then poll until every
    /// pair is established).
    pub fn park(&mut self, count: u64, buffer_bytes: usize) {
        let first = self.parked.len() as u64;
        for i in first..first + count {
            let server_port = PARK_PORT + (i / 60_000) as u16;
            let client_port = 1024 + (i % 60_000) as u16;
            let server = self.sockets.add(socket(buffer_bytes));
            self.sockets
                .get_mut::<tcp::Socket>(server)
                .listen(server_port)
                .expect("listen");
            let client = self.sockets.add(socket(buffer_bytes));
            let cx = self.iface.context();
            self.sockets
                .get_mut::<tcp::Socket>(client)
                .connect(cx, (SERVER, server_port), client_port)
                .expect("connect");
            self.parked.push((client, server));
        }
        for _ in 0..POLL_STEP_MAX {
            if !self.poll() {
                break;
            }
        }
        for &(client, server) in &self.parked[first as usize..] {
            for handle in [client, server] {
                let state = self.sockets.get::<tcp::Socket>(handle).state();
                assert_eq!(
                    state,
                    tcp::State::Established,
                    "parked connection not established"
                );
            }
        }
    }
}

/// Outcome of a bulk transfer.
#[derive(Clone, Copy, Debug)]
pub struct BulkResult {
    pub bytes: u64,
    pub wall_seconds: f64,
}

/// One stream over the loopback device: the client writes `total_bytes` through a 64 KiB
/// application buffer with `send_slice`, the server reads with `recv_slice`, both sockets
/// with `buffer_bytes` buffers, as in smoltcp's `loopback_benchmark` example.
pub fn bulk(device: Lo, buffer_bytes: usize, total_bytes: u64) -> BulkResult {
    let mut net = Net::new(device);
    let server = net.sockets.add(socket(buffer_bytes));
    let client = net.sockets.add(socket(buffer_bytes));
    net.sockets
        .get_mut::<tcp::Socket>(server)
        .listen(BULK_PORT)
        .expect("listen");
    let cx = net.iface.context();
    net.sockets
        .get_mut::<tcp::Socket>(client)
        .connect(cx, (SERVER, BULK_PORT), 50_000)
        .expect("connect");
    let app_out = vec![0x5au8; 65_536];
    let mut app_in = vec![0u8; 65_536];
    let (mut sent, mut received) = (0u64, 0u64);
    let start = std::time::Instant::now();
    let mut steps = 0u64;
    while received < total_bytes {
        steps += 1;
        assert!(steps < 1 << 40, "bulk transfer stalled");
        let changed = net.poll();
        let mut acted = false;
        let socket = net.sockets.get_mut::<tcp::Socket>(server);
        while socket.can_recv() {
            let n = socket.recv_slice(&mut app_in).expect("recv");
            received += n as u64;
            acted |= n > 0;
        }
        let socket = net.sockets.get_mut::<tcp::Socket>(client);
        while sent < total_bytes && socket.can_send() {
            let want = (total_bytes - sent).min(app_out.len() as u64) as usize;
            let n = socket.send_slice(&app_out[..want]).expect("send");
            sent += n as u64;
            if n == 0 {
                break;
            }
            acted = true;
        }
        if !changed && !acted {
            net.advance_to_deadline();
        }
    }
    BulkResult {
        bytes: received,
        wall_seconds: start.elapsed().as_secs_f64(),
    }
}

/// Bytes one smoltcp TCP socket occupies in a `SocketSet`, without its data buffers.
pub fn socket_storage_bytes() -> usize {
    core::mem::size_of::<smoltcp::iface::SocketStorage<'static>>()
}

/// Bytes of the `tcp::Socket` struct alone.
pub fn tcp_socket_bytes() -> usize {
    core::mem::size_of::<tcp::Socket<'static>>()
}
