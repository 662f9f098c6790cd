//! tcpwave: a sans-IO TCP connection-lifecycle engine.
//!
//! Read RFC 9293 first (§3.3.2 for the state diagram, §3.10 for event processing),
//! then RFC 6298 (RTO), RFC 7323 (window scale, timestamps), RFC 5681 (congestion
//! control). Where Linux differs from the letter of an RFC, the "linux" profile follows
//! Linux and the code says so.
//!
//! The engine performs no I/O, reads no clock and draws no OS randomness: time is
//! passed in, randomness comes from `Config::isn_secret`. Start at [`Endpoint`].

pub mod api;
pub mod config;
mod conn;
pub mod counters;
pub mod endpoint;
pub mod error;
pub mod event;
pub mod options;
pub mod seq;
mod sip;
pub mod state;
pub mod time;
pub mod tuple;
pub mod wire;

pub use api::Shutdown;
pub use config::{Config, ConfigError, KNOBS};
pub use counters::Counters;
pub use endpoint::{ConnId, ConnInfo, Endpoint, ListenerId, SocketInfo};
pub use error::Error;
pub use event::{Event, Reason};
pub use options::{
    SockOpt, SocketOptions, MAX_TCP_KEEPCNT, MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MIN_TCP_KEEPALIVE,
};
pub use seq::SeqNumber;
pub use state::State;
pub use time::{Duration, Instant};
pub use tuple::FourTuple;
