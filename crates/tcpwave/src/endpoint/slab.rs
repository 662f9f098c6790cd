//! A generation-checked slab: values live in one `Vec`, named by a [`Handle`] that carries
//! the slot index and the slot's generation at insertion time.
//!
//! Why: the endpoint keeps every TCB here and refers to them from the demux table, the timer
//! wheel and the accept queues. A plain index would silently point at a *different* connection
//! once its slot is reused; the generation makes such a stale handle miss instead (`None`).
//!
//! Cost: `insert`, `remove`, `get`, `get_mut` and `contains` are O(1) with no allocation except
//! the amortized growth of the `Vec` when no free slot is left. Free slots are reused LIFO
//! through an intrusive free list (the most recently freed slot is the most likely to still be
//! in cache). Memory is never returned: the slab is as large as its high-water mark, plus
//! 8 bytes per slot for the generation and the free-list link. `iter` walks every slot,
//! O(high-water mark), and is meant for snapshots (diagnostics, tests), never per segment.
//!
//! A slot's generation is a `u32` that wraps: a handle held across 2^32 reuses of the very same
//! slot would match again. Nothing in TCP keeps a handle that long.

use core::fmt;

/// End of the free list.
const NIL: u32 = u32::MAX;

/// Names one value in a [`Slab`]: the slot index plus the slot's generation when the value was
/// inserted. A handle whose value was removed never matches again (until the generation wraps).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Handle {
    index: u32,
    generation: u32,
}

impl Handle {
    /// The slot index. Stable for the life of the value; reused after it is removed.
    pub fn index(self) -> u32 {
        self.index
    }

    /// The slot's generation when the value was inserted.
    pub fn generation(self) -> u32 {
        self.generation
    }
}

enum Entry<T> {
    Occupied(T),
    Vacant { next_free: u32 },
}

struct Slot<T> {
    /// Bumped every time the slot's value is removed.
    generation: u32,
    entry: Entry<T>,
}

/// Values of type `T` addressed by generation-checked [`Handle`]s. See the module docs.
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    /// Most recently freed slot, or `NIL`.
    free_head: u32,
    len: usize,
}

impl<T> Slab<T> {
    /// An empty slab; allocates nothing until the first insert.
    pub fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free_head: NIL,
            len: 0,
        }
    }

    /// An empty slab with room for `capacity` values before it reallocates.
    pub fn with_capacity(capacity: usize) -> Self {
        Slab {
            slots: Vec::with_capacity(capacity),
            free_head: NIL,
            len: 0,
        }
    }

    /// Number of values stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no value is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The handle the next `insert` will return (lets a value learn its own handle
    /// before it is stored).
    pub fn vacant_handle(&self) -> Handle {
        if self.free_head != NIL {
            let index = self.free_head;
            Handle {
                index,
                generation: self.slots[index as usize].generation,
            }
        } else {
            Handle {
                index: self.slots.len() as u32,
                generation: 0,
            }
        }
    }

    /// Stores `value` and returns its handle. Reuses the most recently freed slot if any.
    ///
    /// # Panics
    /// If 2^32 - 1 slots are already in use (the index would collide with the list end).
    #[inline]
    pub fn insert(&mut self, value: T) -> Handle {
        self.insert_with(|| value)
    }

    /// Stores the value `make` returns, made where the slot is written so that a large
    /// value need not be built elsewhere and copied in; returns its handle. As `insert`.
    #[inline]
    pub fn insert_with(&mut self, make: impl FnOnce() -> T) -> Handle {
        let handle = if self.free_head != NIL {
            let index = self.free_head;
            let slot = &mut self.slots[index as usize];
            let Entry::Vacant { next_free } = slot.entry else {
                unreachable!("free list points at an occupied slot {index}");
            };
            self.free_head = next_free;
            slot.entry = Entry::Occupied(make());
            Handle {
                index,
                generation: slot.generation,
            }
        } else {
            let index = u32::try_from(self.slots.len())
                .ok()
                .filter(|&index| index != NIL)
                .expect("slab is full: 2^32 - 1 slots in use");
            self.slots.push(Slot {
                generation: 0,
                entry: Entry::Occupied(make()),
            });
            Handle {
                index,
                generation: 0,
            }
        };
        self.len += 1;
        handle
    }

    /// Removes and returns the value named by `handle`, or `None` if the handle is stale
    /// (already removed, possibly with its slot reused since).
    pub fn remove(&mut self, handle: Handle) -> Option<T> {
        let (entry, vacant) = self.vacate(handle)?;
        match core::mem::replace(entry, vacant) {
            Entry::Occupied(value) => Some(value),
            Entry::Vacant { .. } => unreachable!("vacate checked the slot is occupied"),
        }
    }

    /// Drops the value named by `handle` where it lies, without the move out of the slab
    /// that `remove` makes (a copy of the whole value, hundreds of bytes for a TCB);
    /// false if the handle is stale.
    pub fn discard(&mut self, handle: Handle) -> bool {
        match self.vacate(handle) {
            Some((entry, vacant)) => {
                *entry = vacant;
                true
            }
            None => false,
        }
    }

    /// Frees the slot `handle` names (new generation, head of the free list) and returns
    /// its entry, still holding the value, with the `Vacant` entry the caller must put there.
    fn vacate(&mut self, handle: Handle) -> Option<(&mut Entry<T>, Entry<T>)> {
        let next_free = self.free_head;
        let slot = self.slots.get_mut(handle.index as usize)?;
        if slot.generation != handle.generation || matches!(slot.entry, Entry::Vacant { .. }) {
            return None;
        }
        slot.generation = slot.generation.wrapping_add(1);
        self.free_head = handle.index;
        self.len -= 1;
        Some((&mut slot.entry, Entry::Vacant { next_free }))
    }

    /// The value named by `handle`, or `None` if the handle is stale.
    pub fn get(&self, handle: Handle) -> Option<&T> {
        let slot = self.slots.get(handle.index as usize)?;
        match &slot.entry {
            Entry::Occupied(value) if slot.generation == handle.generation => Some(value),
            _ => None,
        }
    }

    /// The value named by `handle`, mutably, or `None` if the handle is stale.
    pub fn get_mut(&mut self, handle: Handle) -> Option<&mut T> {
        let slot = self.slots.get_mut(handle.index as usize)?;
        match &mut slot.entry {
            Entry::Occupied(value) if slot.generation == handle.generation => Some(value),
            _ => None,
        }
    }

    /// True if `handle` names a stored value.
    pub fn contains(&self, handle: Handle) -> bool {
        self.get(handle).is_some()
    }

    /// Every stored value with its handle, in slot order. O(high-water mark): for snapshots
    /// and diagnostics only, never on a per-segment path.
    pub fn iter(&self) -> impl Iterator<Item = (Handle, &T)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| match &slot.entry {
                Entry::Occupied(value) => Some((
                    Handle {
                        index: index as u32,
                        generation: slot.generation,
                    },
                    value,
                )),
                Entry::Vacant { .. } => None,
            })
    }
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for Slab<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove_round_trip() {
        let mut slab = Slab::new();
        assert!(slab.is_empty());
        let a = slab.insert("a");
        let b = slab.insert("b");
        assert_eq!(slab.len(), 2);
        assert_eq!(slab.get(a), Some(&"a"));
        assert_eq!(slab.get(b), Some(&"b"));
        assert!(slab.contains(a));
        *slab.get_mut(b).unwrap() = "B";
        assert_eq!(slab.remove(b), Some("B"));
        assert_eq!(slab.len(), 1);
        assert!(!slab.contains(b));
        assert_eq!(slab.remove(a), Some("a"));
        assert!(slab.is_empty());
    }

    #[test]
    fn stale_handle_misses_after_slot_reuse() {
        let mut slab = Slab::with_capacity(4);
        let old = slab.insert(1u32);
        assert_eq!(slab.remove(old), Some(1));
        let new = slab.insert(2u32);
        assert_eq!(new.index(), old.index(), "the freed slot is reused");
        assert_ne!(new.generation(), old.generation());
        assert_ne!(new, old);
        assert_eq!(slab.get(old), None);
        assert_eq!(slab.get_mut(old), None);
        assert!(!slab.contains(old));
        assert_eq!(
            slab.remove(old),
            None,
            "a stale handle must not remove the new value"
        );
        assert_eq!(slab.get(new), Some(&2));
        assert_eq!(slab.len(), 1);
    }

    #[test]
    fn double_remove_returns_none_and_keeps_len() {
        let mut slab = Slab::new();
        let h = slab.insert(7u8);
        let _other = slab.insert(8u8);
        assert_eq!(slab.remove(h), Some(7));
        assert_eq!(slab.remove(h), None);
        assert_eq!(slab.len(), 1);
    }

    #[test]
    fn free_slots_are_reused_lifo() {
        let mut slab = Slab::new();
        let handles: Vec<Handle> = (0..5).map(|i| slab.insert(i)).collect();
        slab.remove(handles[1]);
        slab.remove(handles[3]);
        assert_eq!(slab.insert(10).index(), 3, "most recently freed first");
        assert_eq!(slab.insert(11).index(), 1);
        assert_eq!(slab.insert(12).index(), 5, "then the slab grows");
        assert_eq!(slab.len(), 6);
    }

    #[test]
    fn discard_frees_like_remove() {
        let mut slab = Slab::new();
        let a = slab.insert(String::from("a"));
        let b = slab.insert(String::from("b"));
        assert!(slab.discard(a));
        assert!(!slab.discard(a), "a stale handle discards nothing");
        assert_eq!(slab.len(), 1);
        assert_eq!(slab.get(a), None);
        let c = slab.insert(String::from("c"));
        assert_eq!(c.index(), a.index(), "the discarded slot is reused first");
        assert!(!slab.discard(a), "nor does it hit the slot's new value");
        assert_eq!(slab.get(c).map(String::as_str), Some("c"));
        assert_eq!(slab.get(b).map(String::as_str), Some("b"));
    }

    #[test]
    fn out_of_range_handle_misses() {
        let mut slab: Slab<u8> = Slab::new();
        slab.insert(1);
        let foreign = Handle {
            index: 40,
            generation: 0,
        };
        assert_eq!(slab.get(foreign), None);
        assert_eq!(slab.remove(foreign), None);
    }

    #[test]
    fn iter_yields_live_values_with_working_handles() {
        let mut slab = Slab::new();
        let a = slab.insert('a');
        let b = slab.insert('b');
        let c = slab.insert('c');
        slab.remove(b);
        let seen: Vec<(Handle, char)> = slab.iter().map(|(h, &v)| (h, v)).collect();
        assert_eq!(seen, vec![(a, 'a'), (c, 'c')]);
        for (handle, value) in slab.iter() {
            assert_eq!(slab.get(handle), Some(value));
        }
        assert_eq!(format!("{slab:?}").matches('\'').count(), 4);
    }
}
