//! Listening sockets: a SYN queue and an accept queue, both bounded by the listen
//! backlog as in Linux (`inet_csk_reqsk_queue_is_full`, `sk_acceptq_is_full`), and
//! passive open (RFC 9293 §3.10.7.2).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::slab::Handle;
use super::{Endpoint, ListenerId};
use crate::conn::Conn;
use crate::seq::SeqNumber;
use crate::state::State;
use crate::tuple::FourTuple;
use crate::wire::TcpRepr;

#[derive(Debug)]
pub(crate) struct Listener {
    pub local: SocketAddrV4,
    pub backlog: u32,
    /// Connections in SYN-RECEIVED created by this listener.
    pub syn_queue_len: u32,
    /// Established connections waiting for accept().
    pub accept_queue: VecDeque<Handle>,
}

impl Listener {
    pub fn new(local: SocketAddrV4, backlog: u32) -> Listener {
        Listener {
            local,
            backlog,
            syn_queue_len: 0,
            accept_queue: VecDeque::new(),
        }
    }
}

impl Endpoint {
    /// The listener for a local address and port: an exact bind first, then 0.0.0.0.
    pub(crate) fn find_listener(&self, addr: Ipv4Addr, port: u16) -> Option<Handle> {
        self.listen_map
            .get(&(addr, port))
            .or_else(|| self.listen_map.get(&(Ipv4Addr::UNSPECIFIED, port)))
            .copied()
    }

    /// RFC 9293 §3.10.7.2: a segment for a LISTEN socket. `iss` is set when a SYN
    /// reopens a TIME_WAIT tuple (Linux seeds it from the old connection).
    pub(crate) fn listener_segment(
        &mut self,
        lh: Handle,
        tuple: FourTuple,
        seg: &TcpRepr,
        iss: Option<SeqNumber>,
    ) {
        if seg.flags.rst() {
            return;
        }
        if seg.flags.ack() {
            // "any acknowledgment is bad if it arrives on a connection still in the LISTEN state"
            self.queue_reset(tuple, seg.ack, None);
            return;
        }
        if !seg.flags.syn() {
            return;
        }
        let Some(listener) = self.listeners.get(lh) else {
            return;
        };
        if listener.accept_queue.len() >= listener.backlog as usize
            || listener.syn_queue_len >= listener.backlog
        {
            // Linux `tcp_conn_request` drops the SYN (no syncookies here); the client retries.
            self.counters.ListenDrops += 1;
            return;
        }
        let iss = iss.unwrap_or_else(|| self.isn.isn(&tuple, self.cfg.isn_time(self.now)));
        let ts_offset = self.isn.ts_offset(tuple.local_addr, tuple.remote_addr);
        let id = ListenerId(lh);
        let h = self.insert_conn(|ctx| Conn::accept_syn(ctx, tuple, iss, ts_offset, seg, id));
        self.port_use.occupy(self.cfg.ip_local_port_range, &tuple);
        if let Some(listener) = self.listeners.get_mut(lh) {
            listener.syn_queue_len += 1;
        }
        self.after_change(h, State::Listen);
    }
}
