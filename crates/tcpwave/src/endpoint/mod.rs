//! Many connections: demux, listeners, TIME_WAIT table, ports, ISNs, timers.

pub mod isn;
pub mod ports;
pub mod slab;
pub mod time_wait;
pub mod timer_wheel;
