//! Listening sockets: a SYN queue and an accept queue, both bounded by the listen
//! backlog as in Linux (`inet_csk_reqsk_queue_is_full`, `sk_acceptq_is_full`), passive
//! open (RFC 9293 §3.10.7.2), and what closing a listener does to its children (Linux
//! `inet_csk_listen_stop`).
//!
//! Both Linux bounds compare with `>`, so a listener with backlog N holds N + 1
//! connections in each queue before it drops:
//!
//! - include/net/sock.h: `sk_acceptq_is_full(sk)` is
//!   `READ_ONCE(sk->sk_ack_backlog) > READ_ONCE(sk->sk_max_ack_backlog)`, with a note
//!   that whoever thinks it should be `>=` must read commit 64a146513f8f ("\[NET\]: Revert
//!   incorrect accept queue backlog changes."): listen(fd, 0) still lets one connection in.
//! - include/net/inet_connection_sock.h: `inet_csk_reqsk_queue_is_full(sk)` is
//!   `inet_csk_reqsk_queue_len(sk) > READ_ONCE(sk->sk_max_ack_backlog)` since commit
//!   3479c7549fb1 ("tcp/dccp: allow a connection when sk_max_ack_backlog is zero",
//!   January 2025, backported to the stable kernels); it was `>=` before. With
//!   `tcp_syncookies` on, Linux answers a full SYN queue with a SYN cookie; tcpwave has
//!   no SYN cookies and behaves as `tcp_syncookies = 0`: the SYN is dropped.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::slab::Handle;
use super::{Endpoint, ListenerId};
use crate::event::Reason;
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
        // Linux `tcp_conn_request` (net/ipv4/tcp_input.c), in this order:
        //   if ((syncookies == 2 || inet_csk_reqsk_queue_is_full(sk)) && !isn)
        //           { want_cookie = tcp_syn_flood_action(..); if (!want_cookie) goto drop; }
        //   if (sk_acceptq_is_full(sk))
        //           { NET_INC_STATS(.., LINUX_MIB_LISTENOVERFLOWS); goto drop; }
        //   drop: tcp_listendrop(sk);   /* LINUX_MIB_LISTENDROPS */
        // Both bounds let backlog + 1 in (see the module docs). A SYN that reopens a
        // TIME_WAIT tuple (`isn` set) skips the SYN-queue bound but not the accept queue's.
        // The dropped SYN is retransmitted by the client.
        let syn_queue_full = iss.is_none() && listener.syn_queue_len > listener.backlog;
        if syn_queue_full {
            self.counters.TCPReqQFullDrop += 1;
            self.counters.ListenDrops += 1;
            return;
        }
        if self.accept_queue_full(lh) {
            self.counters.ListenOverflows += 1;
            self.counters.ListenDrops += 1;
            return;
        }
        let iss = iss.unwrap_or_else(|| self.isn.isn(&tuple, self.cfg.isn_time(self.now)));
        let ts_offset = self.isn.ts_offset(tuple.local_addr, tuple.remote_addr);
        let id = ListenerId(lh);
        let h = self.insert_conn(tuple, iss, ts_offset, |conn, ctx| {
            conn.open_passive(ctx, seg, id)
        });
        self.port_use.occupy(self.cfg.ip_local_port_range, &tuple);
        if let Some(listener) = self.listeners.get_mut(lh) {
            listener.syn_queue_len += 1;
        }
        self.after_change(h, State::Listen);
    }

    /// close() of a listener, first half: the connections still in SYN-RECEIVED (the
    /// SYN queue) are forgotten at once, without a segment and without counting.
    ///
    /// Linux keeps a half-open connection as a request socket in the established hash
    /// (since 4.4; before, `inet_csk_listen_stop` freed the SYN table with
    /// `reqsk_queue_destroy`). Once the listener has left TCP_LISTEN, a request socket
    /// never answers again:
    ///
    /// - its SYN-ACK timer, `reqsk_timer_handler`, starts with
    ///   `if (inet_sk_state_load(sk_listener) != TCP_LISTEN) { .. goto drop; }` and drops
    ///   it (`inet_csk_reqsk_queue_drop_and_put`) instead of retransmitting;
    /// - a segment for it, in `tcp_v4_rcv` (TCP_NEW_SYN_RECV), meets
    ///   `if (unlikely(sk->sk_state != TCP_LISTEN)) { .. inet_csk_reqsk_queue_drop_and_put(sk,
    ///   req); goto lookup; }`: the request is dropped and the lookup finds no socket, so
    ///   the segment is answered as for a closed port (`tcp_v4_send_reset`).
    ///
    /// Neither path sends anything on its own or touches a MIB counter (the reuseport
    /// migration they try first does not exist here). On the wire this is the same as
    /// freeing the requests now, which is what tcpwave does; each reports
    /// SYN-RECEIVED -> CLOSED with `Reason::ListenerClosed`.
    pub(crate) fn drop_syn_queue(&mut self, lh: Handle) {
        let lid = ListenerId(lh);
        let half_open: Vec<Handle> = self
            .conns
            .iter()
            .filter(|(_, c)| c.listener == Some(lid) && c.state == State::SynReceived)
            .map(|(h, _)| h)
            .collect();
        for h in half_open {
            self.with_conn(h, |conn, ctx| {
                conn.timers.clear_all();
                conn.set_state(ctx, State::Closed, Reason::ListenerClosed);
            });
            // Leaves the SYN queue, leaves the demux map and is freed: a closed child
            // that never reached the accept queue has nobody to report to.
            self.after_change(h, State::SynReceived);
        }
        debug_assert_eq!(self.listeners.get(lh).map(|l| l.syn_queue_len), Some(0));
    }
}
