//! The 4-tuple that names a connection.

use core::fmt;
use core::net::{Ipv4Addr, SocketAddrV4};

/// (local address, local port, remote address, remote port), always from this endpoint's
/// point of view. 12 bytes, `Copy`, hashed by the endpoint's deterministic hasher.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FourTuple {
    pub local_addr: Ipv4Addr,
    pub remote_addr: Ipv4Addr,
    pub local_port: u16,
    pub remote_port: u16,
}

impl FourTuple {
    pub fn new(local: SocketAddrV4, remote: SocketAddrV4) -> Self {
        FourTuple {
            local_addr: *local.ip(),
            remote_addr: *remote.ip(),
            local_port: local.port(),
            remote_port: remote.port(),
        }
    }
    pub fn local(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.local_addr, self.local_port)
    }
    pub fn remote(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.remote_addr, self.remote_port)
    }
}

impl fmt::Debug for FourTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}->{}", self.local(), self.remote())
    }
}

impl fmt::Display for FourTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
