use super::*;
use core::net::Ipv4Addr;

const TW_LEN: Duration = DEFAULT_TIME_WAIT_LEN;

/// A distinct tuple for each `n` (up to 2^32 of them).
fn tuple(n: u32) -> FourTuple {
    FourTuple {
        local_addr: Ipv4Addr::new(10, 0, 0, 1),
        remote_addr: Ipv4Addr::from(0x0a00_0000 | (n >> 16)),
        local_port: n as u16,
        remote_port: 80,
    }
}

fn entry(n: u32, now: Instant) -> TimeWaitEntry {
    TimeWaitEntry {
        tuple: tuple(n),
        snd_nxt: SeqNumber(1_000 + n),
        rcv_nxt: SeqNumber(2_000 + n),
        ts_recent: n,
        ts_recent_stamp_secs: (now.total_micros() / 1_000_000) as u32,
        expiry: now + TW_LEN,
        window: 512,
        flags: TimeWaitEntry::FLAG_TIMESTAMPS,
    }
}

fn at_secs(secs: u64) -> Instant {
    Instant::from_secs(secs)
}

fn drain(table: &mut TimeWaitTable, now: Instant) -> Vec<u32> {
    let mut out = Vec::new();
    while let Some(expired) = table.pop_expired(now) {
        assert!(expired.expiry <= now);
        out.push(expired.ts_recent);
        assert!(out.len() <= 20_000_000, "drain did not terminate");
    }
    out
}

#[test]
fn entry_and_slot_sizes() {
    assert!(size_of::<TimeWaitEntry>() <= 40);
    assert_eq!(size_of::<Slot>(), 48);
}

#[test]
fn insert_get_and_fields_round_trip() {
    let mut table = TimeWaitTable::new(TW_LEN);
    assert!(table.is_empty());
    assert_eq!(table.next_expiry(), None);
    assert_eq!(table.insert(entry(1, at_secs(0))), None);
    assert_eq!(table.insert(entry(2, at_secs(1))), None);
    assert_eq!(table.len(), 2);
    let got = table.get(&tuple(2)).expect("inserted");
    assert_eq!(*got, entry(2, at_secs(1)));
    assert!(got.timestamps());
    assert_eq!(table.get(&tuple(3)), None);
    assert_eq!(table.next_expiry(), Some(at_secs(60)));
    assert_eq!(table.tw_len(), TW_LEN);
    assert!(format!("{table:?}").contains("len: 2"));
}

#[test]
fn fifo_expiry_with_restarts() {
    let mut table = TimeWaitTable::new(TW_LEN);
    for n in 0..5 {
        table.insert(entry(n, at_secs(u64::from(n))));
    }
    // At t=10 the peer retransmits its FIN on connection 1: its 60 s start again.
    assert!(table.restart(&tuple(1), at_secs(10)));
    assert!(
        !table.restart(&tuple(99), at_secs(10)),
        "no entry, nothing restarted"
    );
    assert_eq!(table.get(&tuple(1)).unwrap().expiry, at_secs(70));
    assert_eq!(drain(&mut table, at_secs(59)), Vec::<u32>::new());
    assert_eq!(drain(&mut table, at_secs(60)), vec![0]);
    assert_eq!(table.next_expiry(), Some(at_secs(62)));
    assert_eq!(drain(&mut table, at_secs(69)), vec![2, 3, 4]);
    assert_eq!(drain(&mut table, at_secs(70)), vec![1]);
    assert!(table.is_empty());
    assert_eq!(table.next_expiry(), None);
}

#[test]
fn remove_from_head_middle_and_tail() {
    let mut table = TimeWaitTable::new(TW_LEN);
    for n in 0..6 {
        table.insert(entry(n, at_secs(u64::from(n))));
    }
    assert_eq!(table.remove(&tuple(3)).map(|e| e.ts_recent), Some(3));
    assert_eq!(table.remove(&tuple(3)), None);
    assert_eq!(table.remove(&tuple(0)).map(|e| e.ts_recent), Some(0));
    assert_eq!(table.remove(&tuple(5)).map(|e| e.ts_recent), Some(5));
    assert_eq!(table.len(), 3);
    let order: Vec<u32> = table.iter().map(|e| e.ts_recent).collect();
    assert_eq!(order, vec![1, 2, 4]);
    assert_eq!(table.next_expiry(), Some(at_secs(61)));
    assert_eq!(drain(&mut table, at_secs(1_000)), vec![1, 2, 4]);
}

#[test]
fn insert_of_existing_tuple_replaces_and_moves_to_tail() {
    let mut table = TimeWaitTable::new(TW_LEN);
    table.insert(entry(1, at_secs(0)));
    table.insert(entry(2, at_secs(1)));
    let mut newer = entry(1, at_secs(5));
    newer.snd_nxt = SeqNumber(777);
    let replaced = table.insert(newer).expect("tuple 1 was present");
    assert_eq!(replaced.snd_nxt, SeqNumber(1_001));
    assert_eq!(table.len(), 2);
    assert_eq!(table.get(&tuple(1)).unwrap().snd_nxt, SeqNumber(777));
    let order: Vec<u32> = table.iter().map(|e| e.ts_recent).collect();
    assert_eq!(order, vec![2, 1]);
}

#[test]
fn get_mut_updates_fields() {
    let mut table = TimeWaitTable::new(TW_LEN);
    table.insert(entry(1, at_secs(0)));
    {
        let mut live = table.get_mut(&tuple(1)).expect("inserted");
        live.ts_recent = 4242;
        live.ts_recent_stamp_secs = 9;
        assert_eq!(live.window, 512);
    }
    let got = table.get(&tuple(1)).unwrap();
    assert_eq!((got.ts_recent, got.ts_recent_stamp_secs), (4242, 9));
    assert!(table.get_mut(&tuple(2)).is_none());
}

#[test]
#[cfg_attr(
    debug_assertions,
    should_panic(expected = "changed the tuple or expiry")
)]
fn get_mut_cannot_corrupt_the_index() {
    let mut table = TimeWaitTable::new(TW_LEN);
    table.insert(entry(1, at_secs(0)));
    table.get_mut(&tuple(1)).unwrap().tuple = tuple(2);
    // Release builds get here: the change was undone.
    assert!(table.get(&tuple(1)).is_some());
    assert!(table.get(&tuple(2)).is_none());
}

#[test]
fn reinsertion_after_removal_reuses_slots() {
    let mut table = TimeWaitTable::new(TW_LEN);
    for n in 0..70_000 {
        table.insert(entry(n, at_secs(0)));
    }
    let bytes = table.memory_bytes();
    let expired = drain(&mut table, at_secs(60));
    assert_eq!(expired.len(), 70_000);
    assert_eq!(
        expired,
        (0..70_000).collect::<Vec<u32>>(),
        "FIFO among equal expiries"
    );
    for n in 0..70_000 {
        table.insert(entry(n + 1_000_000, at_secs(61)));
    }
    assert_eq!(table.len(), 70_000);
    assert_eq!(
        table.memory_bytes(),
        bytes,
        "freed slots reused, nothing new allocated"
    );
    assert_eq!(
        table.get(&tuple(1_000_123)).map(|e| e.ts_recent),
        Some(1_000_123)
    );
    assert_eq!(table.get(&tuple(123)), None);
}

#[test]
fn million_entries_cost_at_most_64_bytes_each() {
    let count: u32 = 1_000_000;
    let mut table = TimeWaitTable::new(TW_LEN);
    for n in 0..count {
        table.insert(entry(n, Instant::from_micros(u64::from(n))));
    }
    assert_eq!(table.len(), count as usize);
    let per_entry = table.memory_bytes() as f64 / f64::from(count);
    eprintln!("TIME_WAIT table at 1M entries: {per_entry:.2} bytes/entry");
    assert!(per_entry <= 64.0, "{per_entry:.2} bytes per entry");
    for n in (0..count).step_by(9_973) {
        assert_eq!(
            table.get(&tuple(n)).map(|e| e.snd_nxt),
            Some(SeqNumber(1_000 + n))
        );
    }
    let expired = drain(
        &mut table,
        Instant::from_micros(u64::from(count / 2)) + TW_LEN,
    );
    assert_eq!(expired.len(), count as usize / 2 + 1);
    assert!(
        expired.windows(2).all(|pair| pair[0] < pair[1]),
        "expiry order is insertion order"
    );
}

#[test]
fn presized_table_does_not_grow_its_index() {
    let mut table = TimeWaitTable::with_capacity_and_key(TW_LEN, 100_000, 0xfeed);
    let index_bytes = table.index.allocation_size();
    for n in 0..100_000 {
        table.insert(entry(n, at_secs(0)));
    }
    assert_eq!(table.index.allocation_size(), index_bytes);
    assert!(table.get(&tuple(99_999)).is_some());
}

#[test]
fn matches_a_simple_model_under_random_operations() {
    use std::collections::BTreeMap;
    // A tiny deterministic generator keeps this test free of extra dependencies.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    let mut table = TimeWaitTable::new(Duration::from_secs(5));
    let mut model: BTreeMap<u32, Instant> = BTreeMap::new();
    let mut now = at_secs(0);
    for _ in 0..50_000 {
        let n = next(200) as u32;
        match next(5) {
            0 | 1 => {
                let mut fresh = entry(n, now);
                fresh.expiry = now + Duration::from_secs(5);
                table.insert(fresh);
                model.insert(n, now + Duration::from_secs(5));
            }
            2 => {
                assert_eq!(table.restart(&tuple(n), now), model.contains_key(&n));
                if let Some(expiry) = model.get_mut(&n) {
                    *expiry = now + Duration::from_secs(5);
                }
            }
            3 => assert_eq!(
                table.remove(&tuple(n)).is_some(),
                model.remove(&n).is_some()
            ),
            _ => {
                now += Duration::from_millis(next(2_000));
                while let Some(expired) = table.pop_expired(now) {
                    let n = expired.ts_recent;
                    assert_eq!(model.remove(&n), Some(expired.expiry));
                }
                assert!(model.values().all(|&expiry| expiry > now));
            }
        }
        assert_eq!(table.len(), model.len());
        assert_eq!(table.next_expiry(), model.values().min().copied());
    }
}
