//! Ephemeral (local) port selection for `connect()`, as Linux's `__inet_hash_connect`
//! (`net/ipv4/inet_hashtables.c`) does it over `net.ipv4.ip_local_port_range`.
//!
//! The algorithm, which is RFC 6056 §3.3.4's double-hash port selection:
//! 1. `port_offset = F(local addr, remote addr, remote port)`, a keyed SipHash (Linux
//!    `secure_ipv4_port_ephemeral`). Its low 16 bits pick one of 65536 perturbation counters
//!    (`table_perturb`), its high 32 bits are the per-destination starting point.
//! 2. `offset = (table_perturb[index] + (port_offset >> 32)) % remaining`, rounded down to even,
//!    where `remaining` is the range length rounded down to even.
//! 3. Scan `low + offset, +2, +4, ...` with wrap-around: the ports of `low`'s parity first (Linux
//!    leaves the other parity to `bind()`'s port search), then the other parity.
//! 4. Take the first port whose 4-tuple is free *or* held by a TIME_WAIT entry that
//!    `tcp_tw_reuse` allows recycling: `__inet_check_established` returns success for both, so
//!    Linux does not prefer a free port found later over a reusable one found first.
//! 5. Advance `table_perturb[index]` by `max(i, 2 * random_below(8)) + 2`, `i` being the number of
//!    ports skipped in the successful pass: the next connect to the same destination starts just
//!    after this one, with a little jitter.
//!
//! Determinism: Linux fills `table_perturb` and draws the jitter from the kernel's random pool.
//! Here both come from SipHash keyed by keys derived from the endpoint secret, so a simulation
//! replays exactly. A counter's initial value is a hash of its index computed on demand, so
//! the table starts zeroed (256 KiB, allocated at the first `allocate`).
//!
//! Quirks kept from Linux: with a range of odd length the last port of the range is not reached
//! by every starting offset (`remaining` is rounded down to even). Linux also skips
//! `ip_local_reserved_ports` and ports that `bind()` holds: the caller reports those through
//! `check` as [`PortCheck::InUse`].
//!
//! Cost: two SipHashes plus one `check` call per port tried: O(1) when the range is sparsely
//! used, O(range) (28232 `check` calls with the default range) when it is nearly exhausted for
//! that destination, which is also Linux's cost.

use core::net::Ipv4Addr;

use super::isn::derive_key;
use crate::sip::SipKey;

/// Linux's default `net.ipv4.ip_local_port_range`.
pub const DEFAULT_PORT_RANGE: (u16, u16) = (32768, 60999);

/// Number of perturbation counters (Linux `INET_TABLE_PERTURB_SIZE`, 2^16 since 5.19).
const PERTURB_TABLE_SIZE: usize = 1 << 16;

/// What the endpoint knows about one candidate local port for the destination being connected.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PortCheck {
    /// No connection, TIME_WAIT entry or bind uses the 4-tuple with this local port.
    Free,
    /// Taken: a connection on the same 4-tuple, a TIME_WAIT entry that may not be reused, a
    /// `bind()` to the port, or a reserved port.
    InUse,
    /// A TIME_WAIT entry holds the 4-tuple and `tcp_tw_reuse` allows taking it over (the caller
    /// then removes the entry and seeds the new connection from it, as `tcp_twsk_unique` does).
    TimeWaitReusable,
}

/// An invalid `ip_local_port_range`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error(
    "ip_local_port_range {low}..={high} is invalid: the first port must be at least 1 and not \
     greater than the last (Linux's default is 32768 60999)"
)]
pub struct InvalidPortRange {
    /// First port of the rejected range.
    pub low: u16,
    /// Last port of the rejected range.
    pub high: u16,
}

/// Hands out ephemeral ports for active opens. See the module docs.
pub struct PortAllocator {
    low: u16,
    /// Inclusive, like the sysctl.
    high: u16,
    offset_key: SipKey,
    /// Stands in for the random initial contents of Linux's table.
    perturb_seed_key: SipKey,
    /// Stands in for `get_random_u32_below(8)`.
    jitter_key: SipKey,
    jitter_draws: u64,
    /// Linux `table_perturb`: each counter's seed (once `seeded`) plus what connects added;
    /// empty until the first allocation.
    perturb: Vec<u32>,
    /// One bit per counter: its seed was added (a SipHash per counter once, not per connect).
    seeded: Vec<u64>,
}

impl PortAllocator {
    /// An allocator over the inclusive `range` (`ip_local_port_range`), keyed by the endpoint's
    /// 128-bit `secret`.
    ///
    /// # Panics
    /// If `range` is invalid; validate user input with [`PortAllocator::set_range`] or
    /// [`check_port_range`] first.
    pub fn new(range: (u16, u16), secret: u128) -> Self {
        if let Err(error) = check_port_range(range) {
            panic!("{error}");
        }
        let key = |label: &[u8]| SipKey::new(derive_key(secret, label));
        PortAllocator {
            low: range.0,
            high: range.1,
            offset_key: key(b"tcpwave ephemeral port offset"),
            perturb_seed_key: key(b"tcpwave ephemeral port perturb seed"),
            jitter_key: key(b"tcpwave ephemeral port jitter"),
            jitter_draws: 0,
            perturb: Vec::new(),
            seeded: Vec::new(),
        }
    }

    /// The current inclusive range.
    pub fn range(&self) -> (u16, u16) {
        (self.low, self.high)
    }

    /// Changes the range (writing the sysctl). Ports already handed out stay valid, as in Linux.
    pub fn set_range(&mut self, range: (u16, u16)) -> Result<(), InvalidPortRange> {
        check_port_range(range)?;
        (self.low, self.high) = range;
        Ok(())
    }

    /// Picks a local port for a connection from `local` to `remote:remote_port`, asking `check`
    /// about each candidate in Linux's scan order and returning the first that is
    /// [`PortCheck::Free`] or [`PortCheck::TimeWaitReusable`]. `None` when every port is in use
    /// for this destination: the endpoint reports `EADDRNOTAVAIL`. Calls `check` at most once
    /// per port of the range.
    pub fn allocate(
        &mut self,
        local: Ipv4Addr,
        remote: Ipv4Addr,
        remote_port: u16,
        mut check: impl FnMut(u16) -> PortCheck,
    ) -> Option<u16> {
        let low = u32::from(self.low);
        let high_exclusive = u32::from(self.high) + 1;
        let mut remaining = high_exclusive - low;
        if remaining > 1 {
            remaining &= !1;
        }
        let port_offset = self.port_offset(local, remote, remote_port);
        let index = (port_offset as usize) % PERTURB_TABLE_SIZE;
        let mut offset = self
            .perturbation(index)
            .wrapping_add((port_offset >> 32) as u32);
        offset %= remaining;
        offset &= !1;
        loop {
            let mut port = low + offset;
            let mut tried = 0;
            while tried < remaining {
                if port >= high_exclusive {
                    port -= remaining;
                }
                if check(port as u16) != PortCheck::InUse {
                    self.advance_perturbation(index, tried);
                    return Some(port as u16);
                }
                tried += 2;
                port += 2;
            }
            offset += 1;
            if offset & 1 == 0 || remaining <= 1 {
                return None;
            }
        }
    }

    /// Linux `secure_ipv4_port_ephemeral`: keyed hash of the destination.
    fn port_offset(&self, local: Ipv4Addr, remote: Ipv4Addr, remote_port: u16) -> u64 {
        let mut message = [0u8; 10];
        message[0..4].copy_from_slice(&local.octets());
        message[4..8].copy_from_slice(&remote.octets());
        message[8..10].copy_from_slice(&remote_port.to_be_bytes());
        self.offset_key.hash24(&message)
    }

    /// `table_perturb[index]`: a keyed-hash seed (Linux: random) plus what connects added.
    fn perturbation(&mut self, index: usize) -> u32 {
        if self.perturb.is_empty() {
            self.perturb = vec![0; PERTURB_TABLE_SIZE];
            self.seeded = vec![0; PERTURB_TABLE_SIZE / 64];
        }
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        if self.seeded[word] & bit == 0 {
            let seed = self.perturb_seed_key.hash13(&(index as u32).to_le_bytes()) as u32;
            self.perturb[index] = self.perturb[index].wrapping_add(seed);
            self.seeded[word] |= bit;
        }
        self.perturb[index]
    }

    /// Linux: `i = max(i, get_random_u32_below(8) * 2); table_perturb[index] += i + 2`.
    /// `perturbation(index)` was asked first, so the table exists.
    fn advance_perturbation(&mut self, index: usize, tried: u32) {
        debug_assert!(
            !self.perturb.is_empty(),
            "perturbation() allocates the table"
        );
        let draw = self.jitter_key.hash13(&self.jitter_draws.to_le_bytes());
        self.jitter_draws += 1;
        let jitter = (draw % 8) as u32 * 2;
        let step = tried.max(jitter) + 2;
        self.perturb[index] = self.perturb[index].wrapping_add(step);
    }
}

impl core::fmt::Debug for PortAllocator {
    /// Never prints the keys.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PortAllocator")
            .field("range", &self.range())
            .finish_non_exhaustive()
    }
}

/// Checks an `ip_local_port_range` value: `1 <= low <= high`.
pub fn check_port_range(range: (u16, u16)) -> Result<(), InvalidPortRange> {
    let (low, high) = range;
    if low == 0 || low > high {
        return Err(InvalidPortRange { low, high });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const SECRET: u128 = 0x5eed_0000_0000_0000_0000_0000_0000_0001;
    const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    fn in_use_by(used: &HashSet<u16>) -> impl FnMut(u16) -> PortCheck + '_ {
        |port| {
            if used.contains(&port) {
                PortCheck::InUse
            } else {
                PortCheck::Free
            }
        }
    }

    #[test]
    fn hands_out_every_port_once_then_none() {
        let mut ports = PortAllocator::new(DEFAULT_PORT_RANGE, SECRET);
        // A bitmap, not a HashSet: once the even ports are gone every connect scans all of
        // them first (Linux does too), so this test makes ~200 million `check` calls.
        let mut used = vec![false; 65_536];
        for count in 0..28_232 {
            let port = ports
                .allocate(LOCAL, SERVER, 80, |port| {
                    if used[usize::from(port)] {
                        PortCheck::InUse
                    } else {
                        PortCheck::Free
                    }
                })
                .unwrap_or_else(|| panic!("no port left after {count}"));
            assert!((32768..=60999).contains(&port));
            assert!(!used[usize::from(port)], "port {port} handed out twice");
            used[usize::from(port)] = true;
        }
        assert_eq!(used.iter().filter(|&&taken| taken).count(), 28_232);
        let mut calls = 0;
        let exhausted = ports.allocate(LOCAL, SERVER, 80, |port| {
            calls += 1;
            assert!(used[usize::from(port)]);
            PortCheck::InUse
        });
        assert_eq!(exhausted, None);
        assert_eq!(calls, 28_232, "each port asked about exactly once");
    }

    #[test]
    fn successive_connects_take_nearby_successive_ports() {
        let mut ports = PortAllocator::new(DEFAULT_PORT_RANGE, SECRET);
        let mut used = HashSet::new();
        let first = ports
            .allocate(LOCAL, SERVER, 443, in_use_by(&used))
            .unwrap();
        used.insert(first);
        let second = ports
            .allocate(LOCAL, SERVER, 443, in_use_by(&used))
            .unwrap();
        let distance = (u32::from(second) + 28_232 - u32::from(first)) % 28_232;
        assert!(
            distance % 2 == 0 && (2..=16).contains(&distance),
            "distance {distance}"
        );
    }

    #[test]
    fn even_ports_first_then_odd() {
        let mut ports = PortAllocator::new(DEFAULT_PORT_RANGE, SECRET);
        for _ in 0..100 {
            let port = ports
                .allocate(LOCAL, SERVER, 80, |_| PortCheck::Free)
                .unwrap();
            assert_eq!(port % 2, 0, "low (32768) is even, so even ports come first");
        }
        let odd = ports.allocate(LOCAL, SERVER, 80, |port| {
            if port % 2 == 0 {
                PortCheck::InUse
            } else {
                PortCheck::Free
            }
        });
        assert_eq!(odd.map(|port| port % 2), Some(1));
        let mut odd_low = PortAllocator::new((1001, 2000), SECRET);
        let port = odd_low
            .allocate(LOCAL, SERVER, 80, |_| PortCheck::Free)
            .unwrap();
        assert_eq!(port % 2, 1, "the first pass follows low's parity");
    }

    #[test]
    fn destinations_are_independent() {
        let mut ports = PortAllocator::new((5000, 5999), SECRET);
        // Exhaust every port towards SERVER:80 (the check is per 4-tuple).
        let mut used: HashSet<(Ipv4Addr, u16, u16)> = HashSet::new();
        let mut allocate = |ports: &mut PortAllocator, remote: Ipv4Addr, remote_port: u16| {
            let port = ports.allocate(LOCAL, remote, remote_port, |port| {
                if used.contains(&(remote, remote_port, port)) {
                    PortCheck::InUse
                } else {
                    PortCheck::Free
                }
            })?;
            assert!(used.insert((remote, remote_port, port)));
            Some(port)
        };
        let mut count = 0;
        while allocate(&mut ports, SERVER, 80).is_some() {
            count += 1;
        }
        assert_eq!(count, 1000);
        assert!(allocate(&mut ports, SERVER, 81).is_some());
        assert!(allocate(&mut ports, Ipv4Addr::new(10, 0, 0, 3), 80).is_some());
        // Different destinations start at different places.
        let mut fresh = PortAllocator::new(DEFAULT_PORT_RANGE, SECRET);
        let starts: HashSet<u16> = (1..=20)
            .map(|port| {
                fresh
                    .allocate(LOCAL, SERVER, port, |_| PortCheck::Free)
                    .unwrap()
            })
            .collect();
        assert!(
            starts.len() >= 15,
            "only {} distinct starting ports",
            starts.len()
        );
    }

    #[test]
    fn freed_port_is_found_again() {
        let mut ports = PortAllocator::new((5000, 5099), SECRET);
        let mut used = HashSet::new();
        while let Some(port) = ports.allocate(LOCAL, SERVER, 80, in_use_by(&used)) {
            used.insert(port);
        }
        assert_eq!(used.len(), 100);
        assert!(used.remove(&5042));
        assert_eq!(
            ports.allocate(LOCAL, SERVER, 80, in_use_by(&used)),
            Some(5042)
        );
    }

    #[test]
    fn time_wait_reuse_is_honoured_in_scan_order() {
        let mut ports = PortAllocator::new(DEFAULT_PORT_RANGE, SECRET);
        let only_reusable = ports.allocate(LOCAL, SERVER, 80, |port| {
            if port == 40001 {
                PortCheck::TimeWaitReusable
            } else {
                PortCheck::InUse
            }
        });
        assert_eq!(only_reusable, Some(40001));
        // Linux takes the first acceptable port in scan order, free or reusable alike: an
        // all-reusable range and an all-free range give the same port from the same state.
        let mut a = PortAllocator::new(DEFAULT_PORT_RANGE, SECRET);
        let mut b = PortAllocator::new(DEFAULT_PORT_RANGE, SECRET);
        let reusable = a.allocate(LOCAL, SERVER, 80, |_| PortCheck::TimeWaitReusable);
        let free = b.allocate(LOCAL, SERVER, 80, |_| PortCheck::Free);
        assert_eq!(reusable, free);
        assert!(reusable.is_some());
    }

    #[test]
    fn deterministic_per_secret() {
        let run = |secret| {
            let mut ports = PortAllocator::new(DEFAULT_PORT_RANGE, secret);
            (0..10u16)
                .map(|i| {
                    ports
                        .allocate(LOCAL, SERVER, 1000 + i, |_| PortCheck::Free)
                        .unwrap()
                })
                .collect::<Vec<u16>>()
        };
        assert_eq!(run(SECRET), run(SECRET));
        assert_ne!(run(SECRET), run(SECRET + 1));
    }

    #[test]
    fn tiny_and_odd_ranges() {
        let mut single = PortAllocator::new((7000, 7000), SECRET);
        assert_eq!(
            single.allocate(LOCAL, SERVER, 80, |_| PortCheck::Free),
            Some(7000)
        );
        assert_eq!(
            single.allocate(LOCAL, SERVER, 80, |_| PortCheck::InUse),
            None
        );
        let mut top = PortAllocator::new((65533, 65535), SECRET);
        let mut seen = HashSet::new();
        for _ in 0..50 {
            let port = top.allocate(LOCAL, SERVER, 80, |port| {
                if seen.contains(&port) {
                    PortCheck::InUse
                } else {
                    PortCheck::Free
                }
            });
            if let Some(port) = port {
                assert!(port >= 65533);
                seen.insert(port);
            }
        }
        assert!(
            seen.len() >= 2,
            "an odd-length range reaches all but possibly its last port"
        );
    }

    #[test]
    fn invalid_ranges_are_rejected_with_a_message() {
        let mut ports = PortAllocator::new(DEFAULT_PORT_RANGE, SECRET);
        let error = ports.set_range((61000, 32768)).unwrap_err();
        assert_eq!(
            error,
            InvalidPortRange {
                low: 61000,
                high: 32768
            }
        );
        assert!(error.to_string().contains("61000..=32768"));
        assert!(ports.set_range((0, 10)).is_err());
        assert_eq!(
            ports.range(),
            DEFAULT_PORT_RANGE,
            "a rejected range changes nothing"
        );
        ports.set_range((2000, 2001)).unwrap();
        let port = ports
            .allocate(LOCAL, SERVER, 80, |_| PortCheck::Free)
            .unwrap();
        assert!(port == 2000 || port == 2001);
        assert!(format!("{ports:?}").contains("2000"));
    }

    #[test]
    #[should_panic(expected = "ip_local_port_range 10..=5 is invalid")]
    fn new_panics_on_an_invalid_range() {
        let _ = PortAllocator::new((10, 5), SECRET);
    }
}
