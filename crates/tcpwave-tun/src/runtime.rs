//! The event loop: one thread owns the TUN device's receive side and the engine's timers;
//! application threads call the engine under the same lock and transmit what their call
//! produced themselves, so a write goes out without a thread hop.
//!
//! Per RFC-less but necessary rules of the sans-IO contract (see `tcpwave::endpoint`):
//! `now` comes from the monotonic clock *read under the lock*, so it never goes backwards
//! between calls; after every input or call the transmit queue and the events are drained;
//! the loop sleeps until `poll_timeout` (capped, so a stop request is seen within a second).

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use tcpwave::{Config, Endpoint, Instant};

use crate::device::TunDevice;
use crate::error::TunError;
use crate::trace::{Direction, Loss, LossRng, SegmentTrace, Stats, Trace};

/// Packets read per wake-up before the loop looks at its timers again.
const RX_BATCH_MAX: usize = 256;
/// Longest sleep of the loop and of a blocked application call between checks.
const IDLE_SLICE_MS: i32 = 200;
/// Traces a subscriber may have queued before new ones are dropped (and counted).
const TRACE_QUEUE_MAX: usize = 65_536;
/// Transmit and receive buffers: larger than any IPv4 packet.
const PACKET_BUFFER_LEN: usize = 65_536;

/// What the runtime needs to know: the engine's address and configuration.
#[derive(Clone, Debug)]
pub struct StackConfig {
    /// The address the engine answers as (e.g. 192.0.2.2, with the kernel on 192.0.2.1/24).
    pub addr: Ipv4Addr,
    pub engine: Config,
    /// Drop packets at random in both directions (for when `tc netem` is missing).
    pub loss: Option<Loss>,
}

impl StackConfig {
    pub fn new(addr: Ipv4Addr) -> StackConfig {
        StackConfig {
            addr,
            engine: Config::default(),
            loss: None,
        }
    }
}

/// The engine and everything only the lock holder may touch.
pub(crate) struct Core {
    pub ep: Endpoint,
    addr: Ipv4Addr,
    last_now: Instant,
    loss: Option<LossRng>,
    pub stats: Stats,
    tx: Vec<u8>,
    subscribers: Vec<(SyncSender<Trace>, bool)>,
    /// When the loop thread will next look at the timers (None: after an idle slice).
    loop_deadline: Option<Instant>,
}

pub(crate) struct Shared {
    core: Mutex<Core>,
    changed: Condvar,
    device: TunDevice,
    wake: OwnedFd,
    origin: std::time::Instant,
    stop: AtomicBool,
}

/// A running engine on a TUN device. Cheap to clone; the loop stops when the last clone
/// (and the last socket made from it) is dropped.
#[derive(Clone)]
pub struct Stack {
    inner: Arc<StackInner>,
}

struct StackInner {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for StackInner {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake_loop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Stack {
    /// Starts the event loop on `device`.
    pub fn new(device: TunDevice, cfg: StackConfig) -> Result<Stack, TunError> {
        // SAFETY: eventfd has no memory preconditions; the result is checked.
        let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(TunError::io(
                "creating an eventfd",
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: `raw` is a fresh fd that nothing else owns.
        let wake = unsafe { OwnedFd::from_raw_fd(raw) };
        let origin = std::time::Instant::now();
        let core = Core {
            ep: Endpoint::new(cfg.engine, Instant::ZERO),
            addr: cfg.addr,
            last_now: Instant::ZERO,
            loss: cfg.loss.map(LossRng::new),
            stats: Stats::default(),
            tx: vec![0; PACKET_BUFFER_LEN],
            subscribers: Vec::new(),
            loop_deadline: None,
        };
        let shared = Arc::new(Shared {
            core: Mutex::new(core),
            changed: Condvar::new(),
            device,
            wake,
            origin,
            stop: AtomicBool::new(false),
        });
        let loop_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("tcpwave-tun-loop".into())
            .spawn(move || run_loop(&loop_shared))
            .map_err(|e| TunError::io("spawning the event loop", e))?;
        Ok(Stack {
            inner: Arc::new(StackInner {
                shared,
                thread: Some(thread),
            }),
        })
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The engine's IPv4 address.
    pub fn addr(&self) -> Ipv4Addr {
        self.shared().with(|core, _| core.addr)
    }

    /// The TUN device's name.
    pub fn device_name(&self) -> &str {
        self.shared().device.name()
    }

    /// Time since the stack started (the origin of every trace's `at`).
    pub fn elapsed(&self) -> std::time::Duration {
        self.shared().origin.elapsed()
    }

    /// Receive every engine event from now on, and every segment when `segments` is true.
    /// The queue holds 65536 entries; past that, traces are dropped and counted.
    pub fn subscribe(&self, segments: bool) -> Receiver<Trace> {
        let (tx, rx) = std::sync::mpsc::sync_channel(TRACE_QUEUE_MAX);
        self.shared()
            .with(|core, _| core.subscribers.push((tx, segments)));
        rx
    }

    /// Runs `f` on the engine under the lock, then transmits and publishes what it caused.
    pub fn with_endpoint<R>(&self, f: impl FnOnce(&mut Endpoint, Instant) -> R) -> R {
        self.shared().with(|core, now| f(&mut core.ep, now))
    }

    /// Every listener, connection and TIME_WAIT entry (a `netstat` of the engine).
    pub fn snapshot(&self) -> Vec<tcpwave::SocketInfo> {
        self.shared().with(|core, _| core.ep.snapshot())
    }

    /// The engine's counters (`nstat` names).
    pub fn counters(&self) -> tcpwave::Counters {
        self.shared().with(|core, _| *core.ep.counters())
    }

    /// Packet counts of the runtime itself.
    pub fn stats(&self) -> Stats {
        self.shared().with(|core, _| core.stats)
    }

    /// The engine's clock now (what `SocketInfo::timer` is measured against).
    pub fn now(&self) -> Instant {
        self.shared().with(|_, now| now)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` under the lock with the current time, then flushes.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Core, Instant) -> R) -> R {
        let mut core = self.lock();
        let now = core.clock(self.origin);
        let r = f(&mut core, now);
        self.after(&mut core, now);
        r
    }

    /// Blocks until `step` returns `Some`, re-running it whenever the engine changed.
    /// Past `deadline`, fails with `timeout_kind` (WouldBlock for socket timeouts, as Linux).
    pub(crate) fn wait_for<T>(
        &self,
        deadline: Option<std::time::Instant>,
        timeout_kind: io::ErrorKind,
        mut step: impl FnMut(&mut Core, Instant) -> Option<io::Result<T>>,
    ) -> io::Result<T> {
        let mut core = self.lock();
        loop {
            let now = core.clock(self.origin);
            let result = step(&mut core, now);
            self.after(&mut core, now);
            if let Some(result) = result {
                return result;
            }
            if self.stop.load(Ordering::Acquire) {
                return Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "the TUN stack stopped",
                ));
            }
            let mut slice = std::time::Duration::from_millis(IDLE_SLICE_MS as u64);
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(timeout_kind, "timed out"));
                }
                slice = slice.min(left);
            }
            core = match self.changed.wait_timeout(core, slice) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Transmit what the engine queued, publish its events, wake whoever waits.
    fn after(&self, core: &mut Core, now: Instant) {
        core.transmit(now, &self.device, self.origin);
        core.publish_events(self.origin);
        if let Some(next) = core.ep.poll_timeout() {
            if core.loop_deadline.map_or(true, |d| next < d) {
                core.loop_deadline = Some(next);
                self.wake_loop();
            }
        }
        self.changed.notify_all();
    }

    fn wake_loop(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd.
        unsafe { libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    fn drain_wake(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our non-blocking eventfd.
        unsafe { libc::read(self.wake.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
    }

    /// Reads up to RX_BATCH_MAX packets and feeds them to the engine.
    fn receive_batch(&self, buf: &mut [u8]) {
        let mut core = self.lock();
        let now = core.clock(self.origin);
        for _ in 0..RX_BATCH_MAX {
            match self.device.recv(buf) {
                Ok(n) => core.input(now, &buf[..n], self.origin),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    core.stats.read_errors += 1;
                    break;
                }
            }
        }
        self.after(&mut core, now);
    }
}

impl Core {
    /// The engine clock: microseconds since the stack started, never going backwards.
    fn clock(&mut self, origin: std::time::Instant) -> Instant {
        let now = Instant::from_micros(origin.elapsed().as_micros() as u64);
        self.last_now = self.last_now.max(now);
        self.last_now
    }

    /// One packet from the kernel. Only IPv4 TCP to our address reaches the engine; the
    /// rest (IPv6 router solicitations, ICMP, other hosts) is counted and ignored.
    fn input(&mut self, now: Instant, packet: &[u8], origin: std::time::Instant) {
        let ours = packet.len() >= 20
            && packet[0] >> 4 == 4
            && packet[9] == tcpwave::wire::IP_PROTO_TCP
            && packet[16..20] == self.addr.octets();
        if !ours {
            self.stats.ignored += 1;
            return;
        }
        let dropped = self.loss.as_mut().is_some_and(LossRng::drop_next);
        self.trace_segment(Direction::In, packet, dropped, origin);
        if dropped {
            self.stats.dropped_in += 1;
            return;
        }
        match self.ep.handle_packet(now, packet) {
            Ok(()) => self.stats.packets_in += 1,
            Err(_) => self.stats.malformed += 1,
        }
    }

    fn transmit(&mut self, now: Instant, device: &TunDevice, origin: std::time::Instant) {
        let mut tx = std::mem::take(&mut self.tx);
        while let Some(n) = self.ep.poll_transmit(now, &mut tx) {
            let packet = &tx[..n];
            let dropped = self.loss.as_mut().is_some_and(LossRng::drop_next);
            self.trace_segment(Direction::Out, packet, dropped, origin);
            if dropped {
                self.stats.dropped_out += 1;
                continue;
            }
            match device.send(packet) {
                Ok(()) => self.stats.packets_out += 1,
                // Like a full device queue on a real link: the packet is lost and TCP
                // retransmits it.
                Err(_) => self.stats.write_errors += 1,
            }
        }
        self.tx = tx;
    }

    fn publish_events(&mut self, origin: std::time::Instant) {
        while let Some(event) = self.ep.poll_event() {
            if self.subscribers.is_empty() {
                continue;
            }
            let at = origin.elapsed();
            self.publish(Trace::Event { at, event }, false);
        }
    }

    fn trace_segment(
        &mut self,
        dir: Direction,
        packet: &[u8],
        dropped: bool,
        origin: std::time::Instant,
    ) {
        if !self.subscribers.iter().any(|(_, segments)| *segments) {
            return;
        }
        if let Ok((ip, tcp, payload)) = tcpwave::wire::parse_ipv4_tcp(packet) {
            let trace = Trace::Segment(SegmentTrace {
                at: origin.elapsed(),
                direction: dir,
                src: ip.src,
                dst: ip.dst,
                tcp,
                payload_len: payload.len(),
                dropped,
            });
            self.publish(trace, true);
        }
    }

    /// Publishes a trace of the runtime's own (not an engine event) to every subscriber.
    pub(crate) fn note(&mut self, trace: Trace) {
        self.publish(trace, false);
    }

    fn publish(&mut self, trace: Trace, segment: bool) {
        let mut overflow = 0;
        self.subscribers.retain(|(tx, wants_segments)| {
            if segment && !wants_segments {
                return true;
            }
            match tx.try_send(trace.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    overflow += 1;
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        });
        self.stats.trace_overflow += overflow;
    }
}

/// The loop thread: timers, then sleep on the device and the wake-up eventfd.
fn run_loop(shared: &Shared) {
    let mut rx = vec![0u8; PACKET_BUFFER_LEN];
    while !shared.stop.load(Ordering::Acquire) {
        let timeout_ms = {
            let mut core = shared.lock();
            let now = core.clock(shared.origin);
            if core.ep.poll_timeout().is_some_and(|t| t <= now) {
                core.ep.handle_timeout(now);
            }
            shared.after(&mut core, now);
            let deadline = core.ep.poll_timeout();
            core.loop_deadline = deadline;
            match deadline {
                // Round up: waking early only spins; at least 1 ms so a timer the wheel
                // reports as due but has not fired yet does not spin either.
                Some(at) => (at.saturating_since(now).total_micros().div_ceil(1000) as i32)
                    .clamp(1, IDLE_SLICE_MS),
                None => IDLE_SLICE_MS,
            }
        };
        let mut fds = [
            libc::pollfd {
                fd: shared.device.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: shared.wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a live array of two pollfd structs.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
        if ready <= 0 {
            continue;
        }
        if fds[1].revents != 0 {
            shared.drain_wake();
        }
        if fds[0].revents != 0 {
            shared.receive_batch(&mut rx);
        }
    }
}
