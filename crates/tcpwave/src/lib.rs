//! tcpwave: a sans-IO TCP connection-lifecycle engine.
//!
//! Read RFC 9293 first (§3.3.2 for the state diagram, §3.10 for event processing),
//! then RFC 6298 (RTO), RFC 7323 (window scale, timestamps), RFC 5681 (congestion
//! control). Where Linux differs from the letter of an RFC, the "linux" profile follows
//! Linux and the code says so.
//!
//! The engine performs no I/O, reads no clock and draws no OS randomness: time is
//! passed in, randomness comes from `Config::isn_secret`.

pub mod seq;
pub mod time;
pub mod wire;

pub use seq::SeqNumber;
pub use time::{Duration, Instant};
pub mod endpoint;
pub mod tuple;

pub use tuple::FourTuple;
