//! tcpwave on a real Linux network: a TUN device (IFF_TUN | IFF_NO_PI) driven by an event
//! loop on the monotonic clock, with std-like blocking sockets on top, so that the kernel's
//! own TCP, curl and `ss` are the engine's peers.
//!
//! - [`TunDevice`]: the device; [`Stack`]: the engine and its loop thread;
//!   [`TcpListener`] / [`TcpStream`]: blocking sockets with `io::Error`s carrying errno.
//! - [`Lab`]: a private network namespace with the device in it (kernel 192.0.2.1/24,
//!   engine 192.0.2.2), deleted on Drop — the setting of every test and of `tcpwave live`.
//! - [`serve`], [`http`]: what `tcpwave serve` and `tcpwave connect` run;
//!   [`live`]: the `tcpwave live` scenarios; [`kernel`]: the kernel's sockets via `ss`.
//!
//! Network safety: traffic stays inside the namespace a lab creates; addresses are from
//! 192.0.2.0/24 (TEST-NET-1, RFC 5737); nothing touches the host's interfaces or routes.

pub mod device;
pub mod error;
pub mod http;
pub mod kernel;
pub mod lab;
pub mod live;
pub mod netns;
pub mod netstat;
pub mod reach;
pub mod runtime;
pub mod serve;
pub mod signals;
pub mod socket;
pub mod trace;

pub use device::TunDevice;
pub use error::{require_root, TunError};
pub use lab::{Lab, ENGINE_ADDR, KERNEL_ADDR, TUN_NAME};
pub use runtime::{Stack, StackConfig};
pub use socket::{TcpListener, TcpStream};
pub use trace::{Direction, Loss, SegmentTrace, Stats, Trace};
