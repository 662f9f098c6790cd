//! What an application calls on an endpoint: the socket API, sans IO.
//! Every call takes `now`; afterwards drain `poll_transmit` and `poll_event`.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::endpoint::listener::Listener;
use crate::endpoint::{ConnId, Endpoint, ListenerId};
use crate::error::Error;
use crate::options::{SockOpt, SocketOptions};
use crate::state::State;
use crate::time::Instant;

/// Which direction `shutdown` closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// SHUT_RD: Linux TCP only stops delivering; nothing is sent.
    Read,
    /// SHUT_WR: send FIN after the buffered data (half-close).
    Write,
    /// SHUT_RDWR.
    Both,
}

impl Endpoint {
    /// Active open (RFC 9293 §3.10.1). `local` port 0 picks an ephemeral port from
    /// `ip_local_port_range` (EADDRNOTAVAIL when none is free for this destination).
    pub fn connect(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> Result<ConnId, Error> {
        self.advance(now);
        if remote.port() == 0 || remote.ip().is_unspecified() || local.ip().is_unspecified() {
            return Err(Error::InvalidInput);
        }
        let (tuple, reused) = self.pick_local_port(*local.ip(), local.port(), remote)?;
        let iss = match reused {
            // Linux `tcp_twsk_unique`: a reused TIME_WAIT tuple starts above the old SND.NXT.
            Some(entry) => entry.snd_nxt + 65_537u32,
            None => self.isn.isn(&tuple, self.cfg.isn_time(self.now)),
        };
        let ts_offset = self.isn.ts_offset(tuple.local_addr, tuple.remote_addr);
        let h = self.insert_conn(tuple, iss, ts_offset, |conn, ctx| {
            conn.open_active(ctx, SocketOptions::default())
        });
        self.after_change(h, State::Closed);
        Ok(ConnId(h))
    }

    /// listen(): accept connections on `local` (0.0.0.0 for any address).
    /// The backlog bounds both the SYN queue and the accept queue (capped by somaxconn).
    pub fn listen(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        backlog: u32,
    ) -> Result<ListenerId, Error> {
        self.advance(now);
        if local.port() == 0 {
            return Err(Error::InvalidInput);
        }
        let key = (*local.ip(), local.port());
        if self.listen_map.contains_key(&key) {
            return Err(Error::AddrInUse);
        }
        // Linux `__sys_listen` caps the backlog at somaxconn and keeps 0: with the `>`
        // comparisons of `sk_acceptq_is_full` and `inet_csk_reqsk_queue_is_full`, a
        // backlog of 0 still lets one connection in.
        let backlog = backlog.min(self.cfg.somaxconn);
        let h = self.listeners.insert(Listener::new(local, backlog));
        self.listen_map.insert(key, h);
        Ok(ListenerId(h))
    }

    /// accept(): the oldest established connection of the listener.
    pub fn accept(&mut self, now: Instant, listener: ListenerId) -> Result<ConnId, Error> {
        self.advance(now);
        let l = self.listeners.get_mut(listener.0).ok_or(Error::BadHandle)?;
        let h = l.accept_queue.pop_front().ok_or(Error::WouldBlock)?;
        if let Some(conn) = self.conns.get_mut(h) {
            conn.listener = None;
            if conn.state == State::Closed {
                // Reset while waiting in the queue: the application learns it now.
                let err = conn.error.unwrap_or(Error::ConnectionAborted);
                self.events.push_back(crate::event::Event::Error {
                    conn: ConnId(h),
                    error: err,
                });
            } else if conn.opts.keepalive {
                self.with_conn(h, |c, ctx| c.arm_keepalive(ctx));
                self.schedule(h, true);
            }
        }
        Ok(ConnId(h))
    }

    /// Stop listening, as Linux `inet_csk_listen_stop` (net/ipv4/inet_connection_sock.c)
    /// does when the listening socket is closed:
    ///
    /// - connections still in SYN-RECEIVED are forgotten at once, with no segment and no
    ///   counter (see `drop_syn_queue`): the peer's handshake ACK, or any later segment,
    ///   then meets a closed port and draws a RST;
    /// - every connection waiting in the accept queue goes through `inet_child_forget`,
    ///   which calls the protocol's disconnect, `tcp_disconnect`: from ESTABLISHED or
    ///   CLOSE-WAIT (`tcp_need_reset`) it sends `tcp_send_active_reset`'s RST|ACK
    ///   (OutRsts) and `tcp_set_state(TCP_CLOSE)` counts EstabResets; one the peer already
    ///   reset is just freed. The children are orphans (`sock_orphan`): nobody is told.
    pub fn close_listener(&mut self, now: Instant, listener: ListenerId) -> Result<(), Error> {
        self.advance(now);
        if !self.listeners.contains(listener.0) {
            return Err(Error::BadHandle);
        }
        // While the listener still exists, so that its SYN-queue count goes down with them.
        self.drop_syn_queue(listener.0);
        let l = self.listeners.remove(listener.0).ok_or(Error::BadHandle)?;
        self.listen_map.remove(&(*l.local.ip(), l.local.port()));
        let waiting: VecDeque<_> = l.accept_queue;
        for h in waiting {
            if let Some(conn) = self.conns.get_mut(h) {
                conn.listener = None;
            }
            // RFC 9293 §3.10.5 ABORT, which is what tcp_disconnect implements ("ABORT
            // function of RFC793"): RST in a synchronized state, then CLOSED and freed.
            self.abort(now, ConnId(h)).ok();
        }
        Ok(())
    }

    /// Queue data; returns how much fit in the send buffer.
    pub fn send(&mut self, now: Instant, id: ConnId, data: &[u8]) -> Result<usize, Error> {
        self.advance(now);
        let conn = self.conns.get_mut(id.0).ok_or(Error::BadHandle)?;
        if conn.orphaned {
            return Err(Error::BadHandle);
        }
        let n = conn.app_send(data, &mut self.pool)?;
        let before = conn.state;
        self.after_change(id.0, before);
        Ok(n)
    }

    /// Read received data; `Ok(0)` means the peer closed (end of file).
    pub fn recv(&mut self, now: Instant, id: ConnId, buf: &mut [u8]) -> Result<usize, Error> {
        self.advance(now);
        let conn = self.conns.get(id.0).ok_or(Error::BadHandle)?;
        if conn.orphaned {
            return Err(Error::BadHandle);
        }
        let before = conn.state;
        let result = self
            .with_conn(id.0, |c, ctx| c.app_recv(ctx, buf))
            .ok_or(Error::BadHandle)?;
        self.after_change(id.0, before);
        result
    }

    /// shutdown(): `Write` sends FIN after buffered data and keeps receiving.
    pub fn shutdown(&mut self, now: Instant, id: ConnId, how: Shutdown) -> Result<(), Error> {
        self.advance(now);
        let conn = self.conns.get_mut(id.0).ok_or(Error::BadHandle)?;
        if conn.orphaned {
            return Err(Error::BadHandle);
        }
        let before = conn.state;
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            conn.rcv_shutdown = true;
        }
        let result = match how {
            Shutdown::Read => Ok(()),
            _ => self
                .with_conn(id.0, |c, ctx| c.app_shutdown_write(ctx))
                .ok_or(Error::BadHandle)?,
        };
        self.after_change(id.0, before);
        result
    }

    /// close(): give up the handle. The connection finishes its close on its own
    /// (FIN, FIN_WAIT_2, TIME_WAIT), or resets (unread data, SO_LINGER 0).
    pub fn close(&mut self, now: Instant, id: ConnId) -> Result<(), Error> {
        self.advance(now);
        let conn = self.conns.get(id.0).ok_or(Error::BadHandle)?;
        if conn.orphaned {
            return Err(Error::BadHandle);
        }
        let before = conn.state;
        self.with_conn(id.0, |c, ctx| c.app_close(ctx));
        self.after_change(id.0, before);
        self.free_if_finished(id);
        Ok(())
    }

    /// abort(): RST now, no TIME_WAIT (RFC 9293 §3.10.5).
    pub fn abort(&mut self, now: Instant, id: ConnId) -> Result<(), Error> {
        self.advance(now);
        let conn = self.conns.get(id.0).ok_or(Error::BadHandle)?;
        if conn.orphaned {
            return Err(Error::BadHandle);
        }
        let before = conn.state;
        self.with_conn(id.0, |c, ctx| c.app_abort(ctx));
        self.after_change(id.0, before);
        self.free_if_finished(id);
        Ok(())
    }

    fn free_if_finished(&mut self, id: ConnId) {
        if let Some(conn) = self.conns.get(id.0) {
            if conn.state == State::Closed && conn.orphaned && !conn.rst_pending {
                self.free(id.0);
            }
        }
    }

    /// setsockopt(). A value out of Linux's range (TCP_KEEPIDLE, TCP_KEEPINTVL and
    /// TCP_KEEPCNT: see [`SockOpt::check`]) is EINVAL and changes nothing.
    pub fn set_option(&mut self, now: Instant, id: ConnId, opt: SockOpt) -> Result<(), Error> {
        self.advance(now);
        let conn = self.conns.get_mut(id.0).ok_or(Error::BadHandle)?;
        if conn.orphaned {
            return Err(Error::BadHandle);
        }
        opt.check()?;
        conn.opts.apply(opt);
        let before = conn.state;
        if matches!(opt, SockOpt::KeepAlive(_) | SockOpt::KeepIdle(_)) {
            self.with_conn(id.0, |c, ctx| c.arm_keepalive(ctx));
        }
        self.after_change(id.0, before);
        Ok(())
    }

    /// getsockopt() for all options at once.
    pub fn options(&self, id: ConnId) -> Result<SocketOptions, Error> {
        self.conns.get(id.0).map(|c| c.opts).ok_or(Error::BadHandle)
    }

    /// The connection's state (CLOSED once it handed over to TIME_WAIT).
    pub fn state(&self, id: ConnId) -> Option<State> {
        self.conns.get(id.0).map(|c| c.state)
    }

    /// The error the connection ended with, if any.
    pub fn error(&self, id: ConnId) -> Option<Error> {
        self.conns.get(id.0).and_then(|c| c.error)
    }

    /// Bytes ready to read.
    pub fn readable_bytes(&self, id: ConnId) -> usize {
        self.conns.get(id.0).map_or(0, |c| c.recv.ready())
    }

    /// Room left in the send buffer.
    pub fn writable_bytes(&self, id: ConnId) -> usize {
        self.conns.get(id.0).map_or(0, |c| c.send.free())
    }

    /// The connection's 4-tuple.
    pub fn tuple(&self, id: ConnId) -> Option<crate::tuple::FourTuple> {
        self.conns.get(id.0).map(|c| c.tuple)
    }

    /// The local address a listener is bound to.
    pub fn listener_addr(&self, id: ListenerId) -> Option<SocketAddrV4> {
        self.listeners.get(id.0).map(|l| l.local)
    }

    /// Loopback addresses, for `tcp_tw_reuse = 2`.
    pub(crate) fn is_loopback_pair(a: Ipv4Addr, b: Ipv4Addr) -> bool {
        a.is_loopback() && b.is_loopback()
    }
}
