use super::*;
use crate::time::Duration;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn at(micros: u64) -> Instant {
    Instant::from_micros(micros)
}

/// Pops everything due at `now`.
fn drain(wheel: &mut TimerWheel<u32>, now: Instant) -> Vec<(u32, Instant)> {
    let mut out = Vec::new();
    while let Some(fired) = wheel.pop_expired(now) {
        out.push(fired);
        assert!(out.len() <= 10_000_000, "drain did not terminate");
    }
    out
}

#[test]
fn fires_in_deadline_order_then_fifo() {
    let mut wheel = TimerWheel::new(at(1_000));
    wheel.arm(at(5_000), 1);
    wheel.arm(at(1_010), 2);
    wheel.arm(at(70_000_000), 3);
    wheel.arm(at(1_010), 4);
    wheel.arm(at(4_999), 5);
    assert_eq!(wheel.len(), 5);
    assert_eq!(
        wheel.next_wakeup(),
        Some(at(1_010)),
        "exact at the finest level"
    );
    assert_eq!(drain(&mut wheel, at(1_009)), vec![]);
    assert_eq!(
        drain(&mut wheel, at(1_010)),
        vec![(2, at(1_010)), (4, at(1_010))]
    );
    assert_eq!(
        drain(&mut wheel, at(5_000)),
        vec![(5, at(4_999)), (1, at(5_000))]
    );
    assert_eq!(wheel.len(), 1);
    assert_eq!(drain(&mut wheel, at(u64::MAX)), vec![(3, at(70_000_000))]);
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_wakeup(), None);
}

#[test]
fn equal_deadlines_stay_fifo_across_levels() {
    // Timer 1 is armed far ahead (high level), timer 2 with the same deadline once time is
    // close (level 0): 1 must still fire first.
    let mut wheel = TimerWheel::new(at(0));
    wheel.arm(at(1_000_000), 1);
    assert_eq!(drain(&mut wheel, at(999_990)), vec![]);
    wheel.arm(at(1_000_000), 2);
    wheel.arm(at(999_995), 3);
    let fired = drain(&mut wheel, at(1_000_000));
    assert_eq!(
        fired,
        vec![(3, at(999_995)), (1, at(1_000_000)), (2, at(1_000_000))]
    );
}

#[test]
fn past_deadline_fires_at_next_pop_with_clamped_deadline() {
    let mut wheel = TimerWheel::new(at(500));
    let key = wheel.arm(at(100), 7);
    assert_eq!(wheel.deadline(key), Some(at(500)));
    assert_eq!(wheel.next_wakeup(), Some(at(500)));
    assert_eq!(wheel.pop_expired(at(500)), Some((7, at(500))));
    assert_eq!(wheel.pop_expired(at(500)), None);
}

#[test]
fn next_wakeup_never_after_earliest_deadline() {
    let mut wheel = TimerWheel::new(at(0));
    wheel.arm(at(10_000_000), 1);
    let wake = wheel.next_wakeup().unwrap();
    assert!(wake <= at(10_000_000));
    // Following the wakeups reaches the timer exactly, in a bounded number of steps.
    let mut steps = 0;
    loop {
        let wake = wheel.next_wakeup().expect("timer still armed");
        assert!(wake >= wheel.time());
        if let Some(fired) = wheel.pop_expired(wake) {
            assert_eq!(fired, (1, at(10_000_000)));
            break;
        }
        steps += 1;
        assert!(steps <= LEVEL_COUNT, "too many wakeups before the timer");
    }
}

#[test]
fn cancel_returns_value_once_and_stale_keys_miss() {
    let mut wheel = TimerWheel::new(at(0));
    let a = wheel.arm(at(100), 1);
    let b = wheel.arm(at(200), 2);
    assert_eq!(wheel.cancel(a), Some(1));
    assert_eq!(wheel.cancel(a), None);
    assert_eq!(wheel.deadline(a), None);
    // The freed arena entry is reused: the old key must not reach the new timer.
    let c = wheel.arm(at(300), 3);
    assert_eq!(c.index, a.index);
    assert_eq!(wheel.cancel(a), None);
    assert_eq!(wheel.deadline(c), Some(at(300)));
    assert_eq!(wheel.len(), 2);
    assert_eq!(
        drain(&mut wheel, at(1_000)),
        vec![(2, at(200)), (3, at(300))]
    );
    assert_eq!(wheel.cancel(b), None, "a fired timer's key is stale");
    assert_eq!(wheel.cancel(c), None);
}

#[test]
fn cancel_from_middle_of_slot_keeps_others() {
    let mut wheel = TimerWheel::new(at(0));
    let keys: Vec<TimerKey> = (0..5).map(|i| wheel.arm(at(40), i)).collect();
    assert_eq!(wheel.cancel(keys[2]), Some(2));
    assert_eq!(wheel.cancel(keys[0]), Some(0));
    assert_eq!(wheel.cancel(keys[4]), Some(4));
    assert_eq!(drain(&mut wheel, at(40)), vec![(1, at(40)), (3, at(40))]);
    assert_eq!(wheel.next_wakeup(), None);
}

#[test]
fn rearm_moves_the_deadline() {
    let mut wheel = TimerWheel::new(at(0));
    let key = wheel.arm(at(1_000), 9);
    let value = wheel.cancel(key).unwrap();
    let key = wheel.arm(at(3_000), value);
    assert_eq!(drain(&mut wheel, at(2_000)), vec![]);
    assert_eq!(wheel.deadline(key), Some(at(3_000)));
    assert_eq!(drain(&mut wheel, at(3_000)), vec![(9, at(3_000))]);
}

#[test]
fn extreme_deadlines_work() {
    let mut wheel = TimerWheel::new(at(0));
    wheel.arm(at(u64::MAX), 1);
    wheel.arm(at(1u64 << 63), 2);
    wheel.arm(at(0), 3);
    assert_eq!(wheel.next_wakeup(), Some(at(0)));
    let fired = drain(&mut wheel, at(u64::MAX));
    assert_eq!(
        fired,
        vec![(3, at(0)), (2, at(1u64 << 63)), (1, at(u64::MAX))]
    );
}

#[test]
fn huge_gap_with_100k_timers_expires_all_in_order() {
    let start = at(1_000_000);
    let mut wheel = TimerWheel::new(start);
    let two_hours = Duration::from_secs(2 * 3600);
    let timer_count: u32 = 100_000;
    // Deadlines spread pseudo-randomly over one second, two hours ahead.
    for i in 0..timer_count {
        let spread_micros = (u64::from(i) * 7_919) % 1_000_000;
        wheel.arm(start + two_hours + Duration::from_micros(spread_micros), i);
    }
    assert_eq!(wheel.len(), timer_count as usize);
    assert!(wheel.next_wakeup().unwrap() <= start + two_hours);
    assert_eq!(
        drain(&mut wheel, start + (two_hours - Duration::from_micros(1))),
        vec![]
    );
    let fired = drain(&mut wheel, start + two_hours + Duration::from_secs(1));
    assert_eq!(fired.len(), timer_count as usize);
    for pair in fired.windows(2) {
        let ((a, deadline_a), (b, deadline_b)) = (pair[0], pair[1]);
        assert!(
            deadline_a <= deadline_b,
            "out of order: {deadline_a:?} then {deadline_b:?}"
        );
        if deadline_a == deadline_b {
            assert!(a < b, "equal deadlines must fire in arm order");
        }
    }
    for &(value, deadline) in &fired {
        let spread_micros = (u64::from(value) * 7_919) % 1_000_000;
        assert_eq!(
            deadline,
            start + two_hours + Duration::from_micros(spread_micros)
        );
    }
    assert!(wheel.is_empty());
}

#[test]
fn long_empty_advance_is_cheap() {
    // Stepping through 2 hours in 1 ms increments with one far timer must not walk µs ticks:
    // 7.2 million calls would take far too long if each scanned slots tick by tick.
    let mut wheel = TimerWheel::new(at(0));
    wheel.arm(at(7_200_000_000), 1);
    let mut now = 0;
    while now < 7_200_000_000 {
        now += 1_000;
        if let Some(fired) = wheel.pop_expired(at(now)) {
            assert_eq!(fired, (1, at(7_200_000_000)));
            assert_eq!(now, 7_200_000_000);
        }
    }
    assert!(wheel.is_empty());
}

#[test]
#[should_panic(expected = "time went backwards")]
#[cfg(debug_assertions)]
fn time_going_backwards_is_caught() {
    let mut wheel: TimerWheel<u32> = TimerWheel::new(at(100));
    let _ = wheel.pop_expired(at(200));
    let _ = wheel.pop_expired(at(150));
}

#[derive(Clone, Debug)]
enum Op {
    Arm { delay_micros: u64, past: bool },
    Cancel { pick: usize },
    Advance { delta_micros: u64 },
}

fn delay_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..64u64,
        0..5_000u64,
        0..10_000_000u64,
        0..(1u64 << 40),
        Just(u64::MAX),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (delay_strategy(), prop::bool::weighted(0.1))
            .prop_map(|(delay_micros, past)| Op::Arm { delay_micros, past }),
        2 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        3 => delay_strategy().prop_map(|delta_micros| Op::Advance { delta_micros }),
    ]
}

/// The reference: a BTreeMap ordered by (deadline, arm sequence).
struct Model {
    now_micros: u64,
    armed: BTreeMap<(u64, u64), u32>,
    /// Every key ever issued, with its model position while armed.
    keys: Vec<(TimerKey, Option<(u64, u64)>)>,
}

fn check_against_model(ops: &[Op], start_micros: u64) {
    let mut wheel = TimerWheel::new(at(start_micros));
    let mut model = Model {
        now_micros: start_micros,
        armed: BTreeMap::new(),
        keys: Vec::new(),
    };
    for (sequence, op) in ops.iter().enumerate() {
        let sequence = sequence as u64;
        match *op {
            Op::Arm { delay_micros, past } => {
                let deadline = if past {
                    model.now_micros.saturating_sub(delay_micros)
                } else {
                    model.now_micros.saturating_add(delay_micros)
                };
                let value = sequence as u32;
                let key = wheel.arm(at(deadline), value);
                let position = (deadline.max(model.now_micros), sequence);
                assert_eq!(wheel.deadline(key), Some(at(position.0)));
                model.armed.insert(position, value);
                model.keys.push((key, Some(position)));
            }
            Op::Cancel { pick } if !model.keys.is_empty() => {
                let slot = pick % model.keys.len();
                let (key, position) = model.keys[slot];
                let expected = position.and_then(|p| model.armed.remove(&p));
                assert_eq!(wheel.cancel(key), expected);
                model.keys[slot].1 = None;
            }
            Op::Cancel { .. } => {}
            Op::Advance { delta_micros } => advance(&mut wheel, &mut model, delta_micros),
        }
        assert_eq!(wheel.len(), model.armed.len());
        if let Some((&(earliest, _), _)) = model.armed.first_key_value() {
            let wake = wheel.next_wakeup().expect("armed timers need a wakeup");
            assert!(
                wake <= at(earliest),
                "wakeup {wake:?} after deadline {earliest}"
            );
            assert!(wake >= wheel.time());
        } else {
            assert_eq!(wheel.next_wakeup(), None);
        }
    }
}

fn advance(wheel: &mut TimerWheel<u32>, model: &mut Model, delta_micros: u64) {
    model.now_micros = model.now_micros.saturating_add(delta_micros);
    let fired = drain(wheel, at(model.now_micros));
    let mut expected = Vec::new();
    while let Some(entry) = model.armed.first_entry() {
        if entry.key().0 > model.now_micros {
            break;
        }
        let ((deadline, _), value) = entry.remove_entry();
        expected.push((value, at(deadline)));
    }
    assert_eq!(fired, expected);
    for (_, position) in &mut model.keys {
        if position.is_some_and(|p| p.0 <= model.now_micros) {
            *position = None;
        }
    }
    assert_eq!(wheel.time(), at(model.now_micros));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn matches_btreemap_model(
        ops in prop::collection::vec(op_strategy(), 1..200),
        start_micros in prop_oneof![Just(0u64), 0..(1u64 << 50), Just(u64::MAX - (1 << 20))],
    ) {
        check_against_model(&ops, start_micros);
    }
}

#[test]
fn million_timers_over_two_hours_of_one_ms_steps() {
    // The simulator's load: 1 million timers armed over two hours of virtual time, the clock
    // advanced 1 ms at a time, each timer re-armed once when it fires.
    let two_hours_micros: u64 = 7_200_000_000;
    let timer_count: u64 = 1_000_000;
    let mut wheel = TimerWheel::new(at(0));
    for i in 0..timer_count {
        let deadline = (i * 6_151_111) % two_hours_micros;
        wheel.arm(at(deadline), i as u32);
    }
    let mut fired_count: u64 = 0;
    let mut last = at(0);
    let mut now = 0;
    while now <= two_hours_micros + 1_000_000 {
        while let Some((value, deadline)) = wheel.pop_expired(at(now)) {
            assert!(deadline >= last && deadline <= at(now));
            last = deadline;
            fired_count += 1;
            if value < 1 << 31 {
                wheel.arm(deadline + Duration::from_secs(1), value | 1 << 31);
            }
        }
        now += 1_000;
    }
    assert_eq!(fired_count, 2 * timer_count);
    assert!(wheel.is_empty());
}
