//! Choosing the local port of an outgoing connection: an explicit port must be free
//! for the destination; port 0 takes an ephemeral port (Linux `__inet_hash_connect`),
//! possibly taking over a TIME_WAIT tuple when `tcp_tw_reuse` allows it.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::ports::PortCheck;
use super::time_wait::{TimeWaitEntry, TimeWaitTable};
use super::Endpoint;
use crate::config::Config;
use crate::error::Error;
use crate::event::Reason;
use crate::time::Instant;
use crate::tuple::FourTuple;

/// Linux `tcp_twsk_unique`: reuse needs a recorded timestamp at least one second old,
/// and `tcp_tw_reuse` 1 (any destination) or 2 (loopback only).
fn reusable(cfg: &Config, entry: &TimeWaitEntry, now: Instant) -> bool {
    let allowed = match cfg.tcp_tw_reuse {
        1 => true,
        2 => Endpoint::is_loopback_pair(entry.tuple.local_addr, entry.tuple.remote_addr),
        _ => false,
    };
    let now_secs = (now.total_micros() / 1_000_000) as u32;
    allowed && entry.timestamps() && now_secs > entry.ts_recent_stamp_secs
}

fn check(
    tw: &TimeWaitTable,
    cfg: &Config,
    now: Instant,
    in_use: bool,
    tuple: &FourTuple,
) -> PortCheck {
    if in_use {
        return PortCheck::InUse;
    }
    match tw.get(tuple) {
        Some(entry) if reusable(cfg, entry, now) => PortCheck::TimeWaitReusable,
        Some(_) => PortCheck::InUse,
        None => PortCheck::Free,
    }
}

impl Endpoint {
    /// The 4-tuple for a new connection, and the TIME_WAIT entry it took over, if any.
    pub(crate) fn pick_local_port(
        &mut self,
        local_addr: Ipv4Addr,
        local_port: u16,
        remote: SocketAddrV4,
    ) -> Result<(FourTuple, Option<TimeWaitEntry>), Error> {
        let tuple_for = |port| FourTuple::new(SocketAddrV4::new(local_addr, port), remote);
        // The verdict on the port finally taken: only a reusable TIME_WAIT tuple needs the
        // table touched again (a second SipHash and probe per connect otherwise).
        let mut verdict = PortCheck::Free;
        let port = if local_port != 0 {
            let tuple = tuple_for(local_port);
            let in_use = self.demux.contains_key(&tuple);
            verdict = check(&self.time_wait, &self.cfg, self.now, in_use, &tuple);
            match verdict {
                PortCheck::InUse => return Err(Error::AddrNotAvailable),
                _ => local_port,
            }
        } else {
            let (demux, tw, cfg, now) = (&self.demux, &self.time_wait, &self.cfg, self.now);
            let listen_map = &self.listen_map;
            let verdict = &mut verdict;
            self.ports
                .allocate(local_addr, *remote.ip(), remote.port(), |port| {
                    let tuple = tuple_for(port);
                    let bound = listen_map.contains_key(&(local_addr, port))
                        || listen_map.contains_key(&(Ipv4Addr::UNSPECIFIED, port));
                    *verdict = check(tw, cfg, now, bound || demux.contains_key(&tuple), &tuple);
                    *verdict
                })
                .ok_or(Error::AddrNotAvailable)?
        };
        let tuple = tuple_for(port);
        let reused = match verdict {
            PortCheck::TimeWaitReusable => self.time_wait.remove(&tuple),
            _ => None,
        };
        debug_assert!(
            reused.is_some() || self.time_wait.get(&tuple).is_none(),
            "a free port's tuple has no TIME_WAIT entry"
        );
        if reused.is_some() {
            self.counters.TWRecycled += 1;
            self.time_wait_closed(tuple, Reason::TimeWaitReused);
        }
        Ok((tuple, reused))
    }
}
