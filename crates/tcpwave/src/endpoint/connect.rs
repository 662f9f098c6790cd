//! Choosing the local port of an outgoing connection: an explicit port must be free
//! for the destination; port 0 takes an ephemeral port (Linux `__inet_hash_connect`),
//! possibly taking over a TIME_WAIT tuple when `tcp_tw_reuse` allows it.

use std::net::{Ipv4Addr, SocketAddrV4};

use rustc_hash::FxHashMap;

use super::ports::PortCheck;
use super::time_wait::{TimeWaitEntry, TimeWaitTable};
use super::Endpoint;
use crate::config::Config;
use crate::error::Error;
use crate::event::Reason;
use crate::time::{Duration, Instant};
use crate::tuple::FourTuple;

/// How long a TIME_WAIT entry must have existed before `tcp_tw_reuse` may take it over
/// (Linux `tcp_tw_reuse_delay`, 1000 ms).
const TW_REUSE_DELAY: Duration = Duration::from_millis(1000);

/// Linux `tcp_twsk_unique`: reuse needs timestamps on the old connection (RFC 7323 PAWS
/// then protects the new one from its old duplicates), `tcp_tw_reuse` 1 (any
/// destination) or 2 (loopback only), and an entry at least 1 s old. Linux 6.13 and
/// later measure that from the entry into TIME_WAIT (`tw_entry_stamp + 1000 ms`, to the
/// millisecond; before, the second of the last timestamp had to have passed, anywhere
/// from 0 to 1 s). The
/// entry's start is its expiry minus 2·MSL, which a restart (a retransmitted FIN) moves
/// later: reuse then waits longer, never less.
fn reusable(cfg: &Config, tw_len: Duration, entry: &TimeWaitEntry, now: Instant) -> bool {
    let entered = entry.expiry - tw_len;
    reuse_possible(cfg, entry.tuple.local_addr, entry.tuple.remote_addr)
        && entry.timestamps()
        && now >= entered + TW_REUSE_DELAY
}

/// Whether `tcp_tw_reuse` may let connect() take over a TIME_WAIT tuple toward `remote`.
fn reuse_possible(cfg: &Config, local: Ipv4Addr, remote: Ipv4Addr) -> bool {
    match cfg.tcp_tw_reuse {
        1 => true,
        2 => Endpoint::is_loopback_pair(local, remote),
        _ => false,
    }
}

/// (local address, remote address, remote port): one pool of ephemeral ports.
type Destination = (Ipv4Addr, Ipv4Addr, u16);

/// How many 4-tuples toward each destination hold a port of `ip_local_port_range`,
/// live connections and TIME_WAIT entries alike, by port parity.
///
/// Linux `__inet_hash_connect` scans the even ports of the range, then the odd ones,
/// checking each 4-tuple; once a pool is full that is a hash lookup or two per port of
/// the range for every connect(), the CPU cost of port exhaustion. The allocator here
/// follows the same order (so it picks the same ports), and this count lets it answer
/// "in use" for every port of a parity without a lookup when all of that parity's
/// ports are taken. The answer is the same; only the cost differs.
#[derive(Debug, Default)]
pub(crate) struct PortUse {
    by_destination: FxHashMap<Destination, [u32; 2]>,
}

impl PortUse {
    fn slot(range: (u16, u16), tuple: &FourTuple) -> Option<(Destination, usize)> {
        let port = tuple.local_port;
        (range.0 <= port && port <= range.1).then_some((
            (tuple.local_addr, tuple.remote_addr, tuple.remote_port),
            usize::from(port & 1),
        ))
    }

    /// `tuple` became a live connection or a TIME_WAIT entry.
    pub(crate) fn occupy(&mut self, range: (u16, u16), tuple: &FourTuple) {
        if let Some((key, parity)) = Self::slot(range, tuple) {
            self.by_destination.entry(key).or_default()[parity] += 1;
        }
    }

    /// `tuple` is neither a live connection nor a TIME_WAIT entry any more.
    pub(crate) fn release(&mut self, range: (u16, u16), tuple: &FourTuple) {
        let Some((key, parity)) = Self::slot(range, tuple) else {
            return;
        };
        let Some(counts) = self.by_destination.get_mut(&key) else {
            debug_assert!(false, "{tuple} released but never counted");
            return;
        };
        debug_assert!(counts[parity] > 0, "{tuple} released twice");
        counts[parity] = counts[parity].saturating_sub(1);
        if *counts == [0, 0] {
            self.by_destination.remove(&key);
        }
    }

    /// For each parity: every port of that parity in `range` is taken toward `dest`.
    fn full(&self, range: (u16, u16), dest: Destination) -> [bool; 2] {
        let counts = self.by_destination.get(&dest).copied().unwrap_or_default();
        let (low, high) = (u32::from(range.0), u32::from(range.1));
        let evens = high / 2 - (low.max(1) - 1) / 2;
        let odds = (high + 1 - low) - evens;
        [counts[0] >= evens, counts[1] >= odds]
    }

    /// The counts, to compare with a recount (`Endpoint::check_invariants`).
    pub(crate) fn counts(&self) -> &FxHashMap<Destination, [u32; 2]> {
        &self.by_destination
    }

    /// A recount from scratch over `tuples`.
    pub(crate) fn recount<'a>(
        range: (u16, u16),
        tuples: impl Iterator<Item = &'a FourTuple>,
    ) -> FxHashMap<Destination, [u32; 2]> {
        let mut recount = PortUse::default();
        for tuple in tuples {
            recount.occupy(range, tuple);
        }
        recount.by_destination
    }
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
        Some(entry) if reusable(cfg, tw.tw_len(), entry, now) => PortCheck::TimeWaitReusable,
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
            // A parity whose ports are all taken (and none reusable) needs no lookups.
            let full = if reuse_possible(cfg, local_addr, *remote.ip()) {
                [false, false]
            } else {
                let dest = (local_addr, *remote.ip(), remote.port());
                self.port_use.full(cfg.ip_local_port_range, dest)
            };
            self.ports
                .allocate(local_addr, *remote.ip(), remote.port(), |port| {
                    if full[usize::from(port & 1)] {
                        *verdict = PortCheck::InUse;
                        return PortCheck::InUse;
                    }
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
        } else {
            // The caller enters the new connection in the demux map at once.
            self.port_use.occupy(self.cfg.ip_local_port_range, &tuple);
        }
        Ok((tuple, reused))
    }
}
