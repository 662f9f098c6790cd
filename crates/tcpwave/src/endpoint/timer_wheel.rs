//! A hierarchical timing wheel: O(1) arm, cancel and expiry for millions of timers, with
//! 1 µs resolution and no tick-by-tick walking.
//!
//! Design. Level `L` has 64 slots of 64^L µs each; 11 levels cover all of `u64` µs. A timer goes
//! to the level of the highest bit in which its deadline differs from the wheel's current time
//! (`elapsed`), and to the slot given by the deadline's 6 bits at that level. So level 0 holds
//! the timers of the current 64 µs block, one slot per µs (exact), level 1 those of the current
//! 4096 µs block, and so on. When time reaches the start of an occupied slot at level `L > 0`,
//! its timers are re-inserted (cascaded) into lower levels; each timer cascades at most 10 times
//! in its life, so expiry stays amortized O(1).
//!
//! Finding the next occupied slot is one `trailing_zeros` per level on a 64-bit occupancy
//! bitmap, so `next_wakeup` and a `pop_expired` that jumps over hours of empty time cost
//! O(levels), never O(ticks). Timers live in an arena (`Vec`) with a free list; each slot is an
//! intrusive doubly linked list of `u32` indices, so `cancel` unlinks in O(1). Lists are
//! appended at the tail and popped at the head, and cascading preserves list order, so timers
//! with equal deadlines fire in the order they were armed.
//!
//! Cost: 24 bytes of links, deadline and generation per timer plus `T` (32 bytes for a 4-byte
//! `T`), and 5.6 KiB of slot heads. The arena grows by amortized doubling and never shrinks.
//! A [`TimerKey`] carries a generation, so cancelling a timer that already fired or was
//! cancelled (even if its arena slot was reused) returns `None`.

use crate::time::Instant;

const LEVEL_BITS: u32 = 6;
const SLOTS_PER_LEVEL: usize = 1 << LEVEL_BITS;
/// ceil(64 / 6): the top level uses only the 4 highest bits of a `u64`.
const LEVEL_COUNT: usize = 11;
const NIL: u32 = u32::MAX;
/// `Entry::level` of an arena entry that is on the free list.
const FREE: u8 = u8::MAX;

/// Names one armed timer. Stale after the timer fires or is cancelled.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TimerKey {
    index: u32,
    generation: u32,
}

#[derive(Clone, Copy)]
struct Entry<T> {
    deadline_micros: u64,
    /// Previous entry in the slot list, or `NIL`.
    prev: u32,
    /// Next entry in the slot list (or in the free list when free), or `NIL`.
    next: u32,
    generation: u32,
    level: u8,
    slot: u8,
    value: T,
}

#[derive(Clone, Copy)]
struct SlotList {
    head: u32,
    tail: u32,
}

const EMPTY_LIST: SlotList = SlotList {
    head: NIL,
    tail: NIL,
};

/// Timers carrying a `T` (typically a connection handle plus a timer kind). See the module docs.
pub struct TimerWheel<T: Copy> {
    entries: Vec<Entry<T>>,
    free_head: u32,
    len: usize,
    /// The wheel's current time: every armed deadline is >= this.
    elapsed_micros: u64,
    /// Latest `now` passed to `pop_expired`, to assert that time never goes backwards.
    latest_now_micros: u64,
    /// Bit `s` of `occupied[L]` is set when slot `s` of level `L` holds a timer.
    occupied: [u64; LEVEL_COUNT],
    slots: Box<[[SlotList; SLOTS_PER_LEVEL]; LEVEL_COUNT]>,
}

impl<T: Copy> TimerWheel<T> {
    /// An empty wheel whose current time is `now`.
    pub fn new(now: Instant) -> Self {
        TimerWheel {
            entries: Vec::new(),
            free_head: NIL,
            len: 0,
            elapsed_micros: now.total_micros(),
            latest_now_micros: now.total_micros(),
            occupied: [0; LEVEL_COUNT],
            slots: Box::new([[EMPTY_LIST; SLOTS_PER_LEVEL]; LEVEL_COUNT]),
        }
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The wheel's current time: the deadline of the last timer popped, or the `now` of the
    /// last `pop_expired` that returned `None`, whichever is later.
    pub fn time(&self) -> Instant {
        Instant::from_micros(self.elapsed_micros)
    }

    /// Arms a timer. A deadline at or before the wheel's current time is clamped to it: the
    /// timer fires at the next `pop_expired` and reports the clamped deadline. O(1).
    ///
    /// # Panics
    /// If 2^32 - 1 timers are armed at once.
    pub fn arm(&mut self, deadline: Instant, value: T) -> TimerKey {
        let deadline_micros = deadline.total_micros().max(self.elapsed_micros);
        let index = self.allocate_entry(deadline_micros, value);
        self.link(index);
        self.len += 1;
        TimerKey {
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    /// Disarms the timer named by `key` and returns its value, or `None` if it already fired
    /// or was cancelled. O(1).
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        self.live_entry(key)?;
        self.unlink(key.index);
        Some(self.release_entry(key.index))
    }

    /// The (possibly clamped) deadline of the timer named by `key`, or `None` if it is stale.
    pub fn deadline(&self, key: TimerKey) -> Option<Instant> {
        self.live_entry(key)
            .map(|entry| Instant::from_micros(entry.deadline_micros))
    }

    /// A time at or before the earliest armed deadline, `None` when nothing is armed. Exact when
    /// the earliest timer is within the current 64 µs block; otherwise the start of the slot that
    /// holds it (a `pop_expired` at that time cascades and returns `None`). O(levels).
    #[must_use]
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.next_occupied()
            .map(|(_, _, start)| Instant::from_micros(start))
    }

    /// Removes and returns one timer whose deadline is <= `now`, with that deadline; `None` when
    /// there is none left (the wheel's time then becomes `now`). Call until `None`. Timers come
    /// out in nondecreasing deadline order, first-armed first among equal deadlines.
    /// Amortized O(levels) per call however far `now` jumps.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(T, Instant)> {
        let now_micros = now.total_micros();
        debug_assert!(
            now_micros >= self.latest_now_micros,
            "time went backwards: {now:?} < {:?}",
            Instant::from_micros(self.latest_now_micros)
        );
        self.latest_now_micros = self.latest_now_micros.max(now_micros);
        loop {
            let Some((level, slot, start)) =
                self.next_occupied().filter(|&(.., s)| s <= now_micros)
            else {
                self.elapsed_micros = self.elapsed_micros.max(now_micros);
                return None;
            };
            debug_assert!(
                start >= self.elapsed_micros,
                "slot start behind the wheel's time"
            );
            self.elapsed_micros = start;
            if level > 0 {
                self.cascade(level, slot);
                continue;
            }
            let index = self.slots[0][slot].head;
            debug_assert_eq!(self.entries[index as usize].deadline_micros, start);
            self.unlink(index);
            return Some((self.release_entry(index), Instant::from_micros(start)));
        }
    }

    fn live_entry(&self, key: TimerKey) -> Option<&Entry<T>> {
        let entry = self.entries.get(key.index as usize)?;
        (entry.generation == key.generation && entry.level != FREE).then_some(entry)
    }

    fn allocate_entry(&mut self, deadline_micros: u64, value: T) -> u32 {
        let fresh = |generation| Entry {
            deadline_micros,
            prev: NIL,
            next: NIL,
            generation,
            level: FREE,
            slot: 0,
            value,
        };
        if self.free_head != NIL {
            let index = self.free_head;
            let entry = &mut self.entries[index as usize];
            debug_assert_eq!(entry.level, FREE, "free list points at a live timer");
            self.free_head = entry.next;
            *entry = fresh(entry.generation);
            return index;
        }
        let index = u32::try_from(self.entries.len())
            .ok()
            .filter(|&index| index != NIL)
            .expect("timer wheel is full: 2^32 - 1 timers armed");
        self.entries.push(fresh(0));
        index
    }

    /// Puts an unlinked entry on the free list and returns its value.
    fn release_entry(&mut self, index: u32) -> T {
        let entry = &mut self.entries[index as usize];
        entry.level = FREE;
        entry.generation = entry.generation.wrapping_add(1);
        entry.prev = NIL;
        entry.next = self.free_head;
        self.free_head = index;
        self.len -= 1;
        entry.value
    }

    /// Appends entry `index` to the tail of the slot its deadline maps to at the current time.
    fn link(&mut self, index: u32) {
        let deadline_micros = self.entries[index as usize].deadline_micros;
        debug_assert!(
            deadline_micros >= self.elapsed_micros,
            "deadline behind the wheel"
        );
        let level = level_for(self.elapsed_micros, deadline_micros);
        let slot = slot_for(deadline_micros, level);
        let list = &mut self.slots[level][slot];
        let old_tail = list.tail;
        if old_tail == NIL {
            list.head = index;
        } else {
            self.entries[old_tail as usize].next = index;
        }
        list.tail = index;
        self.occupied[level] |= 1 << slot;
        let entry = &mut self.entries[index as usize];
        entry.prev = old_tail;
        entry.next = NIL;
        entry.level = level as u8;
        entry.slot = slot as u8;
    }

    /// Removes live entry `index` from its slot list.
    fn unlink(&mut self, index: u32) {
        let Entry {
            prev,
            next,
            level,
            slot,
            ..
        } = self.entries[index as usize];
        debug_assert_ne!(level, FREE, "unlinking a free entry");
        let (level, slot) = (level as usize, slot as usize);
        let list = &mut self.slots[level][slot];
        if prev == NIL {
            list.head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NIL {
            list.tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
        if list.head == NIL {
            debug_assert_eq!(list.tail, NIL);
            self.occupied[level] &= !(1 << slot);
        }
    }

    /// Re-inserts every timer of slot `slot` at `level` now that time reached its start. They all
    /// land in lower levels, in their original order.
    fn cascade(&mut self, level: usize, slot: usize) {
        let list = core::mem::replace(&mut self.slots[level][slot], EMPTY_LIST);
        self.occupied[level] &= !(1 << slot);
        let mut index = list.head;
        while index != NIL {
            let next = self.entries[index as usize].next;
            self.link(index);
            debug_assert!((self.entries[index as usize].level as usize) < level);
            index = next;
        }
    }

    /// The earliest occupied slot as (level, slot, start time in µs). Timers at a lower level are
    /// all earlier than any timer at a higher level, so the first non-empty level decides.
    fn next_occupied(&self) -> Option<(usize, usize, u64)> {
        let level = self.occupied.iter().position(|&bits| bits != 0)?;
        let shift = LEVEL_BITS * level as u32;
        let current = ((self.elapsed_micros >> shift) as usize) % SLOTS_PER_LEVEL;
        let bits = self.occupied[level];
        // Level 0 may hold the current µs; higher levels only slots after the current one.
        let first_allowed = if level == 0 { current } else { current + 1 };
        debug_assert!(
            first_allowed < SLOTS_PER_LEVEL && bits >> first_allowed << first_allowed == bits,
            "level {level} holds a slot before the wheel's time"
        );
        let slot = bits.trailing_zeros() as usize;
        let start = block_start(self.elapsed_micros, level) + ((slot as u64) << shift);
        Some((level, slot, start))
    }
}

/// The level at which `deadline` lives when the wheel's time is `elapsed`: the level that holds
/// the highest bit in which they differ (level 0 when they are in the same 64 µs block).
fn level_for(elapsed_micros: u64, deadline_micros: u64) -> usize {
    let differing = (elapsed_micros ^ deadline_micros) | (SLOTS_PER_LEVEL as u64 - 1);
    let highest_bit = 63 - differing.leading_zeros();
    (highest_bit / LEVEL_BITS) as usize
}

fn slot_for(deadline_micros: u64, level: usize) -> usize {
    ((deadline_micros >> (LEVEL_BITS * level as u32)) as usize) % SLOTS_PER_LEVEL
}

/// Start of the block covered by all of `level`'s slots that contains `elapsed`.
fn block_start(elapsed_micros: u64, level: usize) -> u64 {
    let block_bits = LEVEL_BITS * (level as u32 + 1);
    if block_bits >= 64 {
        0
    } else {
        elapsed_micros & !((1u64 << block_bits) - 1)
    }
}

#[cfg(test)]
mod tests;
