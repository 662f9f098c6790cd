//! Send and receive buffers. Both allocate their storage once, on first use, and
//! never per segment. The receive buffer reassembles out-of-order data in place
//! (RFC 9293 §3.10.7.4, "seventh, process the segment text").
//!
//! Small storage comes from the endpoint's [`BufferPool`] and goes back to it when the
//! connection is freed: a short connection (a request, a reply) then costs no allocation
//! at all once the endpoint is warm, where it cost four mallocs and four frees.

use std::collections::VecDeque;

/// Most small buffers an endpoint keeps for reuse (64 KiB of storage at most).
const POOL_MAX: usize = 1024;

/// Storage of freed connections' small buffers ([`MIN_RING_BYTES`] each), for the next
/// connections to take instead of calling the allocator.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: Vec<Vec<u8>>,
}

impl BufferPool {
    /// A zero-filled buffer of `len` bytes (a receive ring needs its length): pooled
    /// storage when `len` is the small size.
    fn take(&mut self, len: usize) -> Vec<u8> {
        let mut storage = self.take_empty(len);
        storage.resize(len, 0);
        storage
    }

    /// An empty buffer with room for `capacity` bytes: pooled storage for the small size,
    /// else a fresh allocation (not zeroed: a send buffer only appends).
    fn take_empty(&mut self, capacity: usize) -> Vec<u8> {
        if capacity == MIN_RING_BYTES {
            if let Some(storage) = self.free.pop() {
                return storage;
            }
        }
        Vec::with_capacity(capacity)
    }

    /// Keeps `storage` for reuse if it is small and the pool has room; frees it otherwise.
    fn give(&mut self, mut storage: Vec<u8>) {
        if storage.capacity() == MIN_RING_BYTES && self.free.len() < POOL_MAX {
            storage.clear();
            self.free.push(storage);
        }
    }

    /// Buffers held for reuse.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.free.len()
    }
}

/// Bytes the application wrote that are not yet acknowledged: the first byte is at
/// SND.UNA (or ISS+1 before the SYN is acknowledged).
#[derive(Debug)]
pub(crate) struct SendBuffer {
    bytes: VecDeque<u8>,
    capacity: usize,
}

impl SendBuffer {
    pub fn new(capacity: usize) -> Self {
        SendBuffer {
            bytes: VecDeque::new(),
            capacity,
        }
    }
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    pub fn free(&self) -> usize {
        self.capacity - self.bytes.len()
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    /// Append as much of `data` as fits; returns how much was taken.
    pub fn push(&mut self, data: &[u8], pool: &mut BufferPool) -> usize {
        let n = data.len().min(self.free());
        if n > 0 && self.bytes.capacity() == 0 {
            // Storage on demand, as for the receive ring: a 4-byte request takes 64 bytes
            // (from the pool), not a whole `tcp_wmem` (16 KiB, which went through malloc's
            // slow bins and `malloc_consolidate` twice per short connection). Later pushes
            // grow it by doubling, never past `capacity` bytes of data.
            let first = n.next_power_of_two().max(MIN_RING_BYTES).min(self.capacity);
            // O(1): a VecDeque takes over a Vec's allocation as it is.
            self.bytes = VecDeque::from(pool.take_empty(first));
        }
        self.bytes.extend(&data[..n]);
        n
    }

    /// Hand the storage to `pool` (the connection is being freed).
    pub fn release(&mut self, pool: &mut BufferPool) {
        let mut bytes = core::mem::take(&mut self.bytes);
        bytes.clear();
        // O(1) for an empty deque: nothing to move, the allocation is kept.
        pool.give(Vec::from(bytes));
    }
    /// Drop `n` acknowledged bytes from the front.
    pub fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.bytes.len(), "acknowledged more than was buffered");
        // The storage is kept while the connection lives: freeing it whenever the
        // buffer empties made a bulk sender fault in fresh pages every round trip
        // (37 % of bulk time in a profile). A connection that never sent holds none.
        self.bytes.drain(..n.min(self.bytes.len()));
    }
    /// Copy `dst.len()` bytes starting `offset` bytes from the front.
    pub fn copy_out(&self, offset: usize, dst: &mut [u8]) {
        assert!(
            offset + dst.len() <= self.bytes.len(),
            "copy beyond the send buffer"
        );
        let (a, b) = self.bytes.as_slices();
        let mut written = 0;
        if offset < a.len() {
            let n = (a.len() - offset).min(dst.len());
            dst[..n].copy_from_slice(&a[offset..offset + n]);
            written = n;
        }
        if written < dst.len() {
            let start = offset + written - a.len();
            let rest = dst.len() - written;
            dst[written..].copy_from_slice(&b[start..start + rest]);
        }
    }
}

/// Smallest receive ring allocated. Rings are powers of two from here, so a 4-byte request
/// costs a 64-byte allocation and a full-sized Ethernet segment a 2 KiB one.
const MIN_RING_BYTES: usize = 64;

/// Most out-of-order ranges kept at once; a segment that would need a fifth is dropped
/// (the peer retransmits it), which bounds the work per segment.
const MAX_RANGES: usize = 4;

/// Received bytes: `ready` in-order bytes for the application, then room for the rest
/// of the window where out-of-order segments are written at their offset. The ring is
/// allocated on demand and grows up to `capacity` (the window); it is freed when empty.
#[derive(Debug)]
pub(crate) struct RecvBuffer {
    ring: Vec<u8>,
    capacity: usize,
    head: usize,
    ready: usize,
    /// Out-of-order ranges as (start, end) offsets past the in-order data, sorted,
    /// disjoint and not touching.
    ranges: [(u32, u32); MAX_RANGES],
    range_count: usize,
}

impl RecvBuffer {
    pub fn new(capacity: usize) -> Self {
        RecvBuffer {
            ring: Vec::new(),
            capacity,
            head: 0,
            ready: 0,
            ranges: [(0, 0); MAX_RANGES],
            range_count: 0,
        }
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    /// In-order bytes waiting for the application.
    pub fn ready(&self) -> usize {
        self.ready
    }
    /// Room past the in-order data: the receive window.
    pub fn window(&self) -> usize {
        self.capacity - self.ready
    }
    /// Out-of-order ranges as offsets past RCV.NXT.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges[..self.range_count]
    }
    pub fn has_out_of_order(&self) -> bool {
        self.range_count > 0
    }

    /// Store `data` that starts `offset` bytes past RCV.NXT (clipped to the window).
    /// Returns how many bytes became in-order (how far RCV.NXT advances).
    pub fn insert(&mut self, offset: usize, data: &[u8], pool: &mut BufferPool) -> usize {
        let window = self.window();
        if offset >= window || data.is_empty() {
            return 0;
        }
        let data = &data[..data.len().min(window - offset)];
        if offset == 0 && self.range_count == 0 {
            // The common case, in order with nothing out of order held: no range to merge.
            self.write_at(0, data, pool);
            self.ready += data.len();
            return data.len();
        }
        let (start, end) = (offset as u32, (offset + data.len()) as u32);
        if !self.merge_range(start, end) {
            return 0;
        }
        self.write_at(offset, data, pool);
        if self.range_count > 0 && self.ranges[0].0 == 0 {
            let advanced = self.ranges[0].1;
            self.remove_range(0);
            for r in &mut self.ranges[..self.range_count] {
                r.0 -= advanced;
                r.1 -= advanced;
            }
            self.ready += advanced as usize;
            return advanced as usize;
        }
        0
    }

    fn write_at(&mut self, offset: usize, data: &[u8], pool: &mut BufferPool) {
        self.reserve(self.ready + offset + data.len(), pool);
        let ring_len = self.ring.len();
        let mut pos = (self.head + self.ready + offset) % ring_len;
        let first = data.len().min(ring_len - pos);
        self.ring[pos..pos + first].copy_from_slice(&data[..first]);
        if first < data.len() {
            pos = 0;
            self.ring[pos..data.len() - first].copy_from_slice(&data[first..]);
        }
    }

    /// Make the ring hold at least `needed` bytes past `head` (never more than `capacity`).
    /// Storage grows on demand, at least doubling, so a connection that receives a few bytes
    /// pays for (and zeroes) a small ring, not a whole `tcp_rmem` (128 KiB by default, which
    /// cost a 128 KiB memset and an mmap/munmap or brk pair per request in profiles).
    fn reserve(&mut self, needed: usize, pool: &mut BufferPool) {
        let old_len = self.ring.len();
        if needed <= old_len {
            return;
        }
        debug_assert!(needed <= self.capacity, "data past the receive window");
        let new_len = needed
            .next_power_of_two()
            .max(old_len * 2)
            .max(MIN_RING_BYTES)
            .min(self.capacity);
        let mut ring = pool.take(new_len);
        // Copy the whole old ring, unwrapped so that `head` moves to 0: it holds the in-order
        // bytes and the out-of-order ranges (and gaps, which are never read before written).
        let tail = old_len - self.head;
        ring[..tail].copy_from_slice(&self.ring[self.head..]);
        ring[tail..old_len].copy_from_slice(&self.ring[..self.head]);
        pool.give(core::mem::replace(&mut self.ring, ring));
        self.head = 0;
    }

    /// Hand the storage to `pool` (the connection is being freed).
    pub fn release(&mut self, pool: &mut BufferPool) {
        pool.give(core::mem::take(&mut self.ring));
        self.head = 0;
        self.ready = 0;
        self.range_count = 0;
    }

    /// Merge [start, end) into the range list; false if it would need too many ranges.
    fn merge_range(&mut self, start: u32, end: u32) -> bool {
        let (mut start, mut end) = (start, end);
        let mut i = 0;
        // Absorb every range that overlaps or touches [start, end).
        while i < self.range_count {
            let (s, e) = self.ranges[i];
            if e < start || s > end {
                i += 1;
                continue;
            }
            start = start.min(s);
            end = end.max(e);
            self.remove_range(i);
        }
        if self.range_count == MAX_RANGES {
            let last = self.ranges[MAX_RANGES - 1];
            if start > last.0 {
                // Beyond every kept range: drop it, the peer will send it again.
                return false;
            }
            // Keep the lower (sooner useful) data and forget the highest range, as
            // Linux's tcp_prune_ofo_queue prunes from the right. In-order data (start 0)
            // must always be taken, or a receiver with every slot holding later data
            // would refuse RCV.NXT for ever (found by the chaos test).
            self.remove_range(MAX_RANGES - 1);
        }
        let at = self.ranges[..self.range_count]
            .iter()
            .position(|r| r.0 > start)
            .unwrap_or(self.range_count);
        self.ranges.copy_within(at..self.range_count, at + 1);
        self.ranges[at] = (start, end);
        self.range_count += 1;
        true
    }

    fn remove_range(&mut self, i: usize) {
        self.ranges.copy_within(i + 1..self.range_count, i);
        self.range_count -= 1;
    }

    /// Copy in-order bytes into `dst`; returns how many.
    pub fn read(&mut self, dst: &mut [u8]) -> usize {
        let n = dst.len().min(self.ready);
        let ring_len = self.ring.len();
        let first = n.min(ring_len - self.head);
        dst[..first].copy_from_slice(&self.ring[self.head..self.head + first]);
        if first < n {
            dst[first..n].copy_from_slice(&self.ring[..n - first]);
        }
        self.head = (self.head + n) % ring_len.max(1);
        self.ready -= n;
        if self.ready == 0 && self.range_count == 0 {
            // Empty: start again at the front so the next burst is contiguous. The
            // storage is kept (see SendBuffer::consume).
            self.head = 0;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_buffer_wraps_and_copies() {
        let mut pool = BufferPool::default();
        let mut b = SendBuffer::new(8);
        assert_eq!(b.push(b"abcdef", &mut pool), 6);
        b.consume(4);
        assert_eq!(b.push(b"ghijklmn", &mut pool), 6);
        let mut out = [0u8; 8];
        b.copy_out(0, &mut out);
        assert_eq!(&out, b"efghijkl");
        let mut two = [0u8; 2];
        b.copy_out(5, &mut two);
        assert_eq!(&two, b"jk");
    }

    #[test]
    fn small_storage_goes_back_to_the_pool_and_is_reused() {
        let mut pool = BufferPool::default();
        let mut send = SendBuffer::new(16_384);
        let mut recv = RecvBuffer::new(131_072);
        assert_eq!(send.push(b"ping", &mut pool), 4);
        assert_eq!(recv.insert(0, b"pong", &mut pool), 4);
        assert_eq!(
            pool.len(),
            0,
            "nothing pooled yet: both came from the allocator"
        );
        send.release(&mut pool);
        recv.release(&mut pool);
        assert_eq!(pool.len(), 2);
        assert_eq!((send.len(), recv.ready(), recv.window()), (0, 0, 131_072));

        // The next connection's buffers take the pooled storage and work as new.
        let mut send = SendBuffer::new(16_384);
        let mut recv = RecvBuffer::new(131_072);
        assert_eq!(send.push(b"abcd", &mut pool), 4);
        assert_eq!(recv.insert(2, b"cd", &mut pool), 0);
        assert_eq!(recv.insert(0, b"ab", &mut pool), 4);
        assert_eq!(pool.len(), 0, "both reused");
        let mut out = [0u8; 4];
        send.copy_out(0, &mut out);
        assert_eq!(&out, b"abcd");
        assert_eq!(recv.read(&mut out), 4);
        assert_eq!(&out, b"abcd");

        // A ring that grew past the small size is not pooled (its small start was).
        let mut big = RecvBuffer::new(131_072);
        assert_eq!(big.insert(0, &[7u8; 10], &mut pool), 10);
        assert_eq!(big.insert(0, &[8u8; 3000], &mut pool), 3000);
        assert_eq!(pool.len(), 1, "the 64-byte ring it outgrew");
        big.release(&mut pool);
        assert_eq!(pool.len(), 1, "a 4 KiB ring goes back to the allocator");
    }

    #[test]
    fn in_order_data_is_ready_at_once() {
        let mut pool = BufferPool::default();
        let mut r = RecvBuffer::new(16);
        assert_eq!(r.insert(0, b"hello", &mut pool), 5);
        let mut out = [0u8; 16];
        assert_eq!(r.read(&mut out), 5);
        assert_eq!(&out[..5], b"hello");
        assert_eq!(r.window(), 16);
    }

    #[test]
    fn out_of_order_is_reassembled() {
        let mut pool = BufferPool::default();
        let mut r = RecvBuffer::new(16);
        assert_eq!(r.insert(6, b"world", &mut pool), 0);
        assert_eq!(r.insert(3, b"lo ", &mut pool), 0);
        assert_eq!(r.ranges(), &[(3, 11)]);
        assert_eq!(r.insert(0, b"hel", &mut pool), 11);
        let mut out = [0u8; 16];
        assert_eq!(r.read(&mut out), 11);
        assert_eq!(&out[..11], b"hello world");
    }

    #[test]
    fn data_beyond_window_is_clipped() {
        let mut pool = BufferPool::default();
        let mut r = RecvBuffer::new(4);
        assert_eq!(r.insert(0, b"abcdef", &mut pool), 4);
        assert_eq!(r.window(), 0);
        assert_eq!(r.insert(0, b"x", &mut pool), 0);
    }

    #[test]
    fn too_many_holes_drops_the_segment() {
        let mut pool = BufferPool::default();
        let mut r = RecvBuffer::new(64);
        for i in 0..4 {
            assert_eq!(r.insert(2 + i * 4, b"x", &mut pool), 0);
        }
        assert_eq!(r.ranges().len(), 4);
        r.insert(40, b"y", &mut pool);
        assert_eq!(r.ranges().len(), 4, "a fifth hole is refused");
        assert_eq!(r.insert(0, b"ab", &mut pool), 3);
    }

    #[test]
    fn in_order_data_is_taken_even_when_every_range_slot_is_used() {
        let mut pool = BufferPool::default();
        let mut r = RecvBuffer::new(64);
        for i in 0..4 {
            assert_eq!(r.insert(4 + i * 4, b"x", &mut pool), 0);
        }
        assert_eq!(r.ranges(), &[(4, 5), (8, 9), (12, 13), (16, 17)]);
        assert_eq!(r.insert(0, b"ab", &mut pool), 2, "RCV.NXT must advance");
        assert_eq!(
            r.ranges(),
            &[(2, 3), (6, 7), (10, 11)],
            "the highest range was forgotten"
        );
        assert_eq!(r.insert(8, b"z", &mut pool), 0);
        assert_eq!(r.ranges().len(), 4);
        assert_eq!(
            r.insert(30, b"w", &mut pool),
            0,
            "beyond every range with no slot: refused"
        );
        assert_eq!(r.ranges().len(), 4);
    }

    #[test]
    fn ring_grows_on_demand_keeping_wrapped_and_out_of_order_bytes() {
        let mut pool = BufferPool::default();
        let mut r = RecvBuffer::new(64 * 1024);
        assert_eq!(r.insert(0, b"ping", &mut pool), 4);
        assert_eq!(
            r.ring.len(),
            MIN_RING_BYTES,
            "a small ring for a small request"
        );
        let mut out = vec![0u8; 64 * 1024];
        // Move head near the end of the small ring, so the next bytes wrap.
        let filler = vec![7u8; MIN_RING_BYTES - 10];
        assert_eq!(r.insert(0, &filler, &mut pool), filler.len());
        assert_eq!(r.read(&mut out[..MIN_RING_BYTES - 8]), MIN_RING_BYTES - 8);
        let head_bytes: Vec<u8> = (0..20u8).collect();
        assert_eq!(
            r.insert(2, &head_bytes[2..18], &mut pool),
            0,
            "out of order"
        );
        assert_eq!(r.insert(2, &head_bytes[2..20], &mut pool), 0);
        let big: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        assert_eq!(
            r.insert(20, &big, &mut pool),
            0,
            "grows past the small ring"
        );
        assert!(r.ring.len() >= 5022);
        assert_eq!(r.insert(0, &head_bytes[..2], &mut pool), 20 + 5000);
        let n = r.read(&mut out);
        assert_eq!(n, 2 + 20 + 5000);
        assert_eq!(
            &out[..2],
            &[7, 7],
            "the two filler bytes left before the wrap"
        );
        assert_eq!(&out[2..22], &head_bytes[..]);
        assert_eq!(&out[22..n], &big[..]);
        assert_eq!(r.head, 0, "an emptied buffer starts again at the front");
        assert_eq!(r.insert(0, b"next", &mut pool), 4);
        let mut again = [0u8; 4];
        assert_eq!(r.read(&mut again), 4);
        assert_eq!(&again, b"next");
    }

    #[test]
    fn duplicate_overlapping_data_merges() {
        let mut pool = BufferPool::default();
        let mut r = RecvBuffer::new(32);
        r.insert(4, b"efgh", &mut pool);
        r.insert(6, b"ghij", &mut pool);
        assert_eq!(r.ranges(), &[(4, 10)]);
        assert_eq!(r.insert(0, b"abcdefgh", &mut pool), 10);
        let mut out = [0u8; 10];
        r.read(&mut out);
        assert_eq!(&out, b"abcdefghij");
    }
}
