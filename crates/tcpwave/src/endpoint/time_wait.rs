//! The compact TIME_WAIT table: what is left of a connection after its close, kept apart from
//! the full TCBs so that millions fit (RFC 9293 §3.6.1, RFC 1337, RFC 6191).
//!
//! Linux keeps a 256-byte `tcp_timewait_sock` per entry. Here an entry is the 40-byte
//! [`TimeWaitEntry`] plus two `u32` list links, 48 bytes, and the whole table stays under
//! 64 bytes per entry at scale (about 60.8 B at 1 million entries, 56.5 B at 10 million):
//!
//! - Expiry order is FIFO: the TIME_WAIT length is one constant per table and a restart (a
//!   retransmitted FIN re-ACKed, RFC 9293 §3.10.7.4) sets the expiry to `now + tw_len`, the
//!   latest of all. So entries sit on one intrusive doubly linked list ordered by expiry, and
//!   insert, restart (move to the tail), remove and pop-expired (from the head) are all O(1):
//!   no timer-wheel entry per TIME_WAIT socket.
//! - The arena is a list of fixed 65536-slot chunks (3 MiB each) rather than one `Vec`, so
//!   growth never copies the table nor doubles its footprint: at most one partly used chunk is
//!   wasted. Only the first chunk grows by doubling, so a small table stays small. Freed slots
//!   go on a free list and are reused; the arena never shrinks.
//! - The tuple -> slot index is a `hashbrown::HashTable<u32>` that stores only the slot number
//!   (4 bytes plus 1 control byte per bucket, load factor up to 7/8) and hashes the tuple stored
//!   in the arena, so the tuple is not stored twice. The hash is SipHash-1-3 under a key: a
//!   fixed one by default (deterministic), or the caller's, so that a peer choosing ports
//!   cannot flood one bucket chain.
//!
//! Cost: one SipHash of 12 bytes and one or two cache misses per lookup. When the index outgrows
//! its capacity, hashbrown rehashes every entry at once (a latency spike proportional to the
//! table size); [`TimeWaitTable::with_capacity_and_key`] sized to `tcp_max_tw_buckets` avoids it.

use core::mem::size_of;
use core::ops::{Deref, DerefMut};

use hashbrown::HashTable;

use crate::seq::SeqNumber;
use crate::sip::SipKey;
use crate::time::{Duration, Instant};
use crate::tuple::FourTuple;

/// Linux's `TCP_TIMEWAIT_LEN`: 60 s, i.e. 2 * MSL with Linux's 30 s MSL.
pub const DEFAULT_TIME_WAIT_LEN: Duration = Duration::from_secs(60);

/// Everything TIME_WAIT needs to answer segments for a closed connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TimeWaitEntry {
    /// The connection's 4-tuple, from this endpoint's point of view.
    pub tuple: FourTuple,
    /// Our next sequence number: after our FIN.
    pub snd_nxt: SeqNumber,
    /// The next sequence number expected from the peer: after its FIN.
    pub rcv_nxt: SeqNumber,
    /// Latest TSval received from the peer (RFC 7323 §4.3), valid if timestamps were negotiated.
    pub ts_recent: u32,
    /// When `ts_recent` was recorded, in whole seconds of the endpoint clock (for `tcp_tw_reuse`'s
    /// "at least 1 s old" rule and RFC 6191).
    pub ts_recent_stamp_secs: u32,
    /// When the entry expires. Kept in nondecreasing order by the table (see `insert`).
    pub expiry: Instant,
    /// Raw (unscaled) window field to advertise in re-ACKs.
    pub window: u16,
    /// Bit 0: `TimeWaitEntry::FLAG_TIMESTAMPS`. Bits 1..=15: when the entry last answered an
    /// out-of-window segment (Linux `tw_last_oow_ack_time`), see
    /// [`TimeWaitEntry::last_oow_ack_tick`]; 0 (as an entry starts) means never. A `u16`
    /// fills what was the entry's padding byte: the entry stays 40 bytes.
    pub flags: u16,
}

impl TimeWaitEntry {
    /// `flags` bit: timestamps were negotiated on the connection.
    pub const FLAG_TIMESTAMPS: u16 = 1 << 0;
    const OOW_TICK_SHIFT: u32 = 1;

    /// True if timestamps were negotiated (`FLAG_TIMESTAMPS`).
    pub fn timestamps(&self) -> bool {
        self.flags & Self::FLAG_TIMESTAMPS != 0
    }

    /// The 15-bit tick at which this entry last sent an ACK in reply to an out-of-window
    /// segment, 0 if it never did (Linux `tcp_time_wait`: `tw_last_oow_ack_time = 0`). The
    /// endpoint defines the tick clock (`tw_process.rs`).
    pub fn last_oow_ack_tick(&self) -> u16 {
        self.flags >> Self::OOW_TICK_SHIFT
    }

    /// Record `tick` (below 2^15) as the last out-of-window ACK; 0 forgets it.
    pub fn set_last_oow_ack_tick(&mut self, tick: u16) {
        debug_assert!(tick < 1 << 15, "out-of-window ACK tick {tick} over 15 bits");
        self.flags = (self.flags & Self::FLAG_TIMESTAMPS) | (tick << Self::OOW_TICK_SHIFT);
    }
}

/// End of a list.
const NIL: u32 = u32::MAX;
/// `Slot::prev` of a slot on the free list.
const FREE: u32 = u32::MAX - 1;
const CHUNK_BITS: u32 = 16;
const CHUNK_SLOTS: usize = 1 << CHUNK_BITS;

#[derive(Clone, Copy)]
struct Slot {
    entry: TimeWaitEntry,
    /// Previous slot in expiry order, `NIL` at the head, `FREE` when on the free list.
    prev: u32,
    /// Next slot in expiry order (or in the free list), `NIL` at the end.
    next: u32,
}

const _: () = assert!(
    size_of::<TimeWaitEntry>() <= 40,
    "TimeWaitEntry grew past 40 bytes"
);
const _: () = assert!(size_of::<Slot>() <= 48, "TIME_WAIT slot grew past 48 bytes");

fn slot(chunks: &[Vec<Slot>], index: u32) -> &Slot {
    &chunks[(index >> CHUNK_BITS) as usize][index as usize % CHUNK_SLOTS]
}

fn slot_mut(chunks: &mut [Vec<Slot>], index: u32) -> &mut Slot {
    &mut chunks[(index >> CHUNK_BITS) as usize][index as usize % CHUNK_SLOTS]
}

fn hash_tuple(key: &SipKey, tuple: &FourTuple) -> u64 {
    let mut message = [0u8; 12];
    message[0..4].copy_from_slice(&tuple.local_addr.octets());
    message[4..8].copy_from_slice(&tuple.remote_addr.octets());
    message[8..10].copy_from_slice(&tuple.local_port.to_be_bytes());
    message[10..12].copy_from_slice(&tuple.remote_port.to_be_bytes());
    key.hash13(&message)
}

/// TIME_WAIT entries by 4-tuple, in expiry order. See the module docs.
pub struct TimeWaitTable {
    tw_len: Duration,
    chunks: Vec<Vec<Slot>>,
    index: HashTable<u32>,
    hasher: SipKey,
    len: usize,
    /// Earliest expiry, or `NIL`.
    head: u32,
    /// Latest expiry, or `NIL`.
    tail: u32,
    free_head: u32,
}

impl TimeWaitTable {
    /// An empty table whose entries last `tw_len` (normally [`DEFAULT_TIME_WAIT_LEN`]),
    /// hashing with a fixed key.
    pub fn new(tw_len: Duration) -> Self {
        TimeWaitTable::with_capacity_and_key(tw_len, 0, 0)
    }

    /// An empty table with its index sized for `capacity` entries (no rehash below that) and
    /// its tuple hash keyed by `hash_key` (derive it from the endpoint secret to resist hash
    /// flooding). Arena chunks are still allocated as they fill.
    pub fn with_capacity_and_key(tw_len: Duration, capacity: usize, hash_key: u128) -> Self {
        TimeWaitTable {
            tw_len,
            chunks: Vec::with_capacity(capacity.div_ceil(CHUNK_SLOTS)),
            index: HashTable::with_capacity(capacity),
            hasher: SipKey::new(hash_key),
            len: 0,
            head: NIL,
            tail: NIL,
            free_head: NIL,
        }
    }

    /// How long an entry lasts after its insertion or last restart.
    pub fn tw_len(&self) -> Duration {
        self.tw_len
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the table holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `entry` at the end of the expiry order, replacing (and returning) any entry with the
    /// same tuple. Set `entry.expiry` to `now + tw_len()`: it must not be earlier than the latest
    /// expiry in the table (asserted in debug builds, raised to it in release builds), which
    /// holds whenever time does not go backwards. O(1) amortized.
    ///
    /// # Panics
    /// If the table would exceed 2^32 - 2 slots.
    pub fn insert(&mut self, mut entry: TimeWaitEntry) -> Option<TimeWaitEntry> {
        // One SipHash serves both the removal of a same-tuple entry and the insertion.
        let hash = hash_tuple(&self.hasher, &entry.tuple);
        let replaced = self.remove_hashed(hash, &entry.tuple);
        if self.tail != NIL {
            let latest = slot(&self.chunks, self.tail).entry.expiry;
            debug_assert!(entry.expiry >= latest, "TIME_WAIT expiry out of order");
            entry.expiry = entry.expiry.max(latest);
        }
        let index = self.allocate_slot(entry);
        self.link_tail(index);
        let (chunks, hasher) = (&self.chunks, &self.hasher);
        self.index.insert_unique(hash, index, |&i| {
            hash_tuple(hasher, &slot(chunks, i).entry.tuple)
        });
        self.len += 1;
        replaced
    }

    /// The entry for `tuple`, if it is in TIME_WAIT. O(1).
    pub fn get(&self, tuple: &FourTuple) -> Option<&TimeWaitEntry> {
        self.find(tuple)
            .map(|index| &slot(&self.chunks, index).entry)
    }

    /// The entry for `tuple`, to update (e.g. `ts_recent`). Changing `tuple` or `expiry` through
    /// it is a bug: asserted in debug builds and undone when the guard drops. Use `restart` to
    /// move the expiry. O(1).
    pub fn get_mut(&mut self, tuple: &FourTuple) -> Option<TimeWaitEntryMut<'_>> {
        let index = self.find(tuple)?;
        let entry = &mut slot_mut(&mut self.chunks, index).entry;
        let (saved_tuple, saved_expiry) = (entry.tuple, entry.expiry);
        Some(TimeWaitEntryMut {
            entry,
            saved_tuple,
            saved_expiry,
        })
    }

    /// Restarts the TIME_WAIT timer of `tuple` (RFC 9293 §3.10.7.4: a retransmitted FIN was
    /// acknowledged again): expiry becomes `now + tw_len` and the entry moves to the end of the
    /// expiry order. Returns false if `tuple` has no entry. O(1).
    pub fn restart(&mut self, tuple: &FourTuple, now: Instant) -> bool {
        let Some(index) = self.find(tuple) else {
            return false;
        };
        self.unlink(index);
        let mut expiry = now + self.tw_len;
        if self.tail != NIL {
            let latest = slot(&self.chunks, self.tail).entry.expiry;
            debug_assert!(
                expiry >= latest,
                "time went backwards: restart before the latest expiry"
            );
            expiry = expiry.max(latest);
        }
        slot_mut(&mut self.chunks, index).entry.expiry = expiry;
        self.link_tail(index);
        true
    }

    /// Removes and returns the entry for `tuple` (e.g. a SYN reused the tuple, or a RST was
    /// accepted). O(1).
    pub fn remove(&mut self, tuple: &FourTuple) -> Option<TimeWaitEntry> {
        let hash = hash_tuple(&self.hasher, tuple);
        self.remove_hashed(hash, tuple)
    }

    /// `remove` with the tuple's hash already computed.
    fn remove_hashed(&mut self, hash: u64, tuple: &FourTuple) -> Option<TimeWaitEntry> {
        let chunks = &self.chunks;
        let found = self
            .index
            .find_entry(hash, |&i| slot(chunks, i).entry.tuple == *tuple)
            .ok()?;
        let (index, _) = found.remove();
        Some(self.release(index))
    }

    /// The earliest expiry, when the caller must next call `pop_expired`. O(1).
    #[must_use]
    pub fn next_expiry(&self) -> Option<Instant> {
        (self.head != NIL).then(|| slot(&self.chunks, self.head).entry.expiry)
    }

    /// Removes and returns the entry with the earliest expiry if it is <= `now`; call until
    /// `None`. O(1).
    pub fn pop_expired(&mut self, now: Instant) -> Option<TimeWaitEntry> {
        let head = self.head;
        if head == NIL || slot(&self.chunks, head).entry.expiry > now {
            return None;
        }
        let hash = hash_tuple(&self.hasher, &slot(&self.chunks, head).entry.tuple);
        let found = self.index.find_entry(hash, |&i| i == head);
        let (removed, _) = found.expect("TIME_WAIT index lost an entry").remove();
        debug_assert_eq!(removed, head);
        Some(self.release(head))
    }

    /// Every entry in expiry order. O(len): for snapshots and diagnostics only.
    pub fn iter(&self) -> impl Iterator<Item = &TimeWaitEntry> + '_ {
        let mut cursor = self.head;
        core::iter::from_fn(move || {
            if cursor == NIL {
                return None;
            }
            let current = slot(&self.chunks, cursor);
            cursor = current.next;
            Some(&current.entry)
        })
    }

    /// Bytes the table holds on the heap and inline: arena capacity, chunk list and index
    /// allocation. Divide by `len()` for the per-entry cost the benchmarks report.
    pub fn memory_bytes(&self) -> usize {
        let slot_capacity: usize = self.chunks.iter().map(Vec::capacity).sum();
        slot_capacity * size_of::<Slot>()
            + self.chunks.capacity() * size_of::<Vec<Slot>>()
            + self.index.allocation_size()
            + size_of::<Self>()
    }

    fn find(&self, tuple: &FourTuple) -> Option<u32> {
        if self.len == 0 {
            // A server whose clients close first never holds TIME_WAIT: no SipHash per SYN.
            return None;
        }
        let hash = hash_tuple(&self.hasher, tuple);
        self.index
            .find(hash, |&i| slot(&self.chunks, i).entry.tuple == *tuple)
            .copied()
    }

    /// A slot holding `entry`, unlinked: the most recently freed one, or a new one.
    fn allocate_slot(&mut self, entry: TimeWaitEntry) -> u32 {
        let fresh = Slot {
            entry,
            prev: NIL,
            next: NIL,
        };
        if self.free_head != NIL {
            let index = self.free_head;
            let reused = slot_mut(&mut self.chunks, index);
            debug_assert_eq!(reused.prev, FREE, "free list points at a live entry");
            self.free_head = reused.next;
            *reused = fresh;
            return index;
        }
        let last_chunk_full = match self.chunks.last() {
            Some(chunk) => chunk.len() == CHUNK_SLOTS,
            None => true,
        };
        if last_chunk_full {
            // The first chunk starts empty and doubles; later ones are allocated whole.
            let capacity = if self.chunks.is_empty() {
                0
            } else {
                CHUNK_SLOTS
            };
            self.chunks.push(Vec::with_capacity(capacity));
        }
        let chunk_number = self.chunks.len() - 1;
        let chunk = &mut self.chunks[chunk_number];
        if chunk.len() == chunk.capacity() {
            let target = (chunk.capacity() * 2).clamp(8, CHUNK_SLOTS);
            chunk.reserve_exact(target - chunk.len());
        }
        let index = (chunk_number << CHUNK_BITS) + chunk.len();
        assert!(
            index < FREE as usize,
            "TIME_WAIT table is full: 2^32 - 2 entries"
        );
        chunk.push(fresh);
        index as u32
    }

    /// Unlinks live slot `index` (already gone from the index) and frees it.
    fn release(&mut self, index: u32) -> TimeWaitEntry {
        self.unlink(index);
        let freed = slot_mut(&mut self.chunks, index);
        freed.prev = FREE;
        freed.next = self.free_head;
        self.free_head = index;
        self.len -= 1;
        freed.entry
    }

    fn link_tail(&mut self, index: u32) {
        let old_tail = self.tail;
        if old_tail == NIL {
            self.head = index;
        } else {
            slot_mut(&mut self.chunks, old_tail).next = index;
        }
        let linked = slot_mut(&mut self.chunks, index);
        linked.prev = old_tail;
        linked.next = NIL;
        self.tail = index;
    }

    fn unlink(&mut self, index: u32) {
        let Slot { prev, next, .. } = *slot(&self.chunks, index);
        debug_assert_ne!(prev, FREE, "unlinking a free slot");
        if prev == NIL {
            self.head = next;
        } else {
            slot_mut(&mut self.chunks, prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            slot_mut(&mut self.chunks, next).prev = prev;
        }
    }
}

impl core::fmt::Debug for TimeWaitTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TimeWaitTable")
            .field("tw_len", &self.tw_len)
            .field("len", &self.len)
            .field("next_expiry", &self.next_expiry())
            .finish_non_exhaustive()
    }
}

/// Mutable access to one TIME_WAIT entry, from [`TimeWaitTable::get_mut`]. Derefs to the entry;
/// on drop, a changed `tuple` or `expiry` (which would corrupt the index or the expiry order) is
/// restored, and debug builds panic.
pub struct TimeWaitEntryMut<'a> {
    entry: &'a mut TimeWaitEntry,
    // Named apart from the entry's fields so that `guard.tuple` reaches the entry.
    saved_tuple: FourTuple,
    saved_expiry: Instant,
}

impl Deref for TimeWaitEntryMut<'_> {
    type Target = TimeWaitEntry;
    fn deref(&self) -> &TimeWaitEntry {
        self.entry
    }
}

impl DerefMut for TimeWaitEntryMut<'_> {
    fn deref_mut(&mut self) -> &mut TimeWaitEntry {
        self.entry
    }
}

impl Drop for TimeWaitEntryMut<'_> {
    fn drop(&mut self) {
        let changed =
            self.entry.tuple != self.saved_tuple || self.entry.expiry != self.saved_expiry;
        if changed {
            self.entry.tuple = self.saved_tuple;
            self.entry.expiry = self.saved_expiry;
            if cfg!(debug_assertions) && !std::thread::panicking() {
                panic!("TimeWaitTable::get_mut changed the tuple or expiry; use restart/remove");
            }
        }
    }
}

#[cfg(test)]
mod tests;
