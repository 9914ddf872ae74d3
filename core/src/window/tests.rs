//! Unit tests of the window, on plain numbers for time.

use super::*;
use crate::sync::{totals_stripe, TotalsStripe};

const SEC: u64 = 1_000_000_000;

fn time_window(buckets: u32, latency: bool) -> Window {
    let shape = Shape {
        time: true,
        width: 10 * SEC / buckets as u64,
        buckets,
    };
    Window::new(shape, latency.then(|| Layout::new(5)), 0)
}

fn fail() -> Delta {
    Delta {
        weighted_failures: WEIGHT_SCALE,
        ..Delta::default()
    }
}

#[test]
fn time_window_counts_and_forgets() {
    let w = time_window(10, false);
    for i in 0..10 {
        w.record(
            i * SEC,
            if i % 2 == 0 { fail() } else { Delta::default() },
            None,
            totals_stripe(),
        );
    }
    let s = w.sums(9 * SEC, Needed::ALL);
    assert_eq!((s.calls, s.weighted_failures), (10, 5 * WEIGHT_SCALE));
    assert_eq!(s.failure_rate(), 0.5);
    // One second later the first bucket (a failure) has left.
    let s = w.sums(10 * SEC, Needed::ALL);
    assert_eq!((s.calls, s.weighted_failures), (9, 4 * WEIGHT_SCALE));
    // Idle for a whole window: empty without any writer.
    assert_eq!(w.sums(20 * SEC, Needed::ALL), Sums::default());
    assert_eq!(w.lifetime(), (10, 0));
    // Reusing slots folds the old values into the lifetime totals.
    for i in 0..10 {
        w.record(30 * SEC + i * SEC, Delta::default(), None, totals_stripe());
    }
    assert_eq!(w.lifetime(), (20, 0));
    assert_eq!(w.sums(39 * SEC, Needed::ALL).calls, 10);
}

#[test]
fn count_window_holds_the_last_n_calls() {
    let shape = Shape {
        time: false,
        width: 1,
        buckets: 5,
    };
    let w = Window::new(shape, None, 0);
    for i in 0..12 {
        w.record(
            0,
            if i < 7 { fail() } else { Delta::default() },
            None,
            totals_stripe(),
        );
    }
    let s = w.sums(0, Needed::ALL);
    assert_eq!(s.calls, 5);
    assert_eq!(s.weighted_failures, 0);
    assert_eq!(w.lifetime().0, 12);
}

#[test]
fn a_count_window_success_may_trip_exactly_while_a_failure_is_in_the_window() {
    // Built with 5 buckets of 2 calls. The failure is call 3 (epoch 1): it is in
    // the window until the window's epochs reach 1 + 5, at call 12. Every success
    // before that may trip and says whether it opened a bucket; from call 12 on
    // none may, without a geometry read; after a restart into 2 buckets of 1 the
    // failure has gone at once.
    let shape = Shape {
        time: false,
        width: 2,
        buckets: 5,
    };
    let w = Window::new(shape, None, 0);
    for _ in 0..3 {
        assert!(!w.record_count_success().may_trip, "nothing unhealthy yet");
    }
    w.record(0, fail(), None, totals_stripe());
    for call in 4..12u64 {
        let r = w.record_count_success();
        assert!(r.may_trip, "call {call}");
        assert_eq!(r.rotated, call % 2 == 0, "call {call}");
    }
    for call in 12..20 {
        assert!(!w.record_count_success().may_trip, "call {call}");
    }
    w.record(0, fail(), None, totals_stripe()); // call 20, epoch 10: in the window up to call 30
    let shape = Shape {
        time: false,
        width: 1,
        buckets: 2,
    };
    w.restart(shape, 0);
    assert_eq!(w.sums(0, Needed::ALL), Sums::default());
    // Still under the old hint (call 21 < 30), so the geometry decides: the
    // restart moved the failure out of the window.
    assert!(!w.record_count_success().may_trip);
}

#[test]
fn restart_empties_and_reshapes() {
    let w = time_window(10, true);
    for i in 0..5 {
        w.record(i * SEC, fail(), Some(1_000_000), totals_stripe());
    }
    w.restart(
        Shape {
            time: true,
            width: SEC / 2,
            buckets: 4,
        },
        5 * SEC,
    );
    assert_eq!(w.sums(5 * SEC, Needed::ALL), Sums::default());
    assert_eq!(w.latency(5 * SEC).unwrap().count, 0);
    w.record(5 * SEC, fail(), Some(2_000_000), totals_stripe());
    w.record(6 * SEC, Delta::default(), Some(2_000_000), totals_stripe());
    assert_eq!(w.sums(6 * SEC, Needed::ALL).calls, 2);
    assert_eq!(w.latency(6 * SEC).unwrap().count, 2);
    // 2 s window now: at 7.5 s the record at 5 s has left.
    assert_eq!(w.sums(7 * SEC + SEC / 2, Needed::ALL).calls, 1);
    assert_eq!(w.lifetime().0, 7);
}

#[test]
fn latency_follows_the_window() {
    let w = time_window(10, true);
    for i in 0..100u64 {
        w.record(
            SEC,
            Delta::default(),
            Some((i + 1) * 1_000_000),
            totals_stripe(),
        );
    }
    let l = w.latency(SEC).unwrap();
    assert_eq!(l.count, 100);
    assert!((l.p50 as f64 - 50e6).abs() / 50e6 < 0.032, "{l:?}");
    assert!((l.p99 as f64 - 99e6).abs() / 99e6 < 0.032, "{l:?}");
    assert_eq!(w.latency(12 * SEC).unwrap().count, 0);
}

#[test]
fn many_buckets_group_histograms() {
    let shape = Shape {
        time: false,
        width: 1,
        buckets: 100,
    };
    let w = Window::new(shape, Some(Layout::new(5)), 0);
    for _ in 0..1000 {
        w.record(0, Delta::default(), Some(1000), totals_stripe());
    }
    assert_eq!(w.sums(0, Needed::ALL).calls, 100);
    let n = w.latency(0).unwrap().count;
    // Histograms cover the window rounded up to whole groups of 7 buckets.
    assert!((100..=100 + 2 * 7).contains(&n), "{n}");
}

#[test]
fn latency_sums_the_ring_and_the_owners_lanes_which_move_their_counts_on() {
    // 10 buckets of a second, a histogram each.
    let w = time_window(10, true);
    let owner = |index| TotalsStripe { index, owned: true };
    // A thread that owns no stripe adds to the ring itself.
    let shared = TotalsStripe {
        index: crate::sync::OWNED_STRIPES,
        owned: false,
    };
    let record = |at: u64, ms: u64, thread| {
        w.record(at, Delta::default(), Some(ms * 1_000_000), thread);
    };
    for _ in 0..30 {
        record(SEC, 1, owner(0));
        record(SEC, 2, owner(1));
        record(SEC, 3, shared);
    }
    let l = w.latency(SEC).unwrap();
    assert_eq!(l.count, 90);
    assert!((l.p50 as f64 - 2e6).abs() / 2e6 < 0.032, "{l:?}");
    assert!((l.max as f64 - 3e6).abs() / 3e6 < 0.032, "{l:?}");
    // The owner of stripe 0 moves on a second: its lane's 30 go to the ring, and
    // every sample is still counted once.
    (0..3).for_each(|_| record(2 * SEC, 5, owner(0)));
    let l = w.latency(2 * SEC).unwrap();
    assert_eq!(l.count, 93, "{l:?}");
    assert!((l.p50 as f64 - 2e6).abs() / 2e6 < 0.032, "{l:?}");
    // At 11 s the first second has left the window: the ring's histogram of it (the
    // shared thread's 30 and the 30 moved there), and the lane of stripe 1, which
    // still holds it. The second second's 3 samples, moved to the ring now, stay.
    (0..4).for_each(|_| record(11 * SEC, 7, owner(0)));
    let l = w.latency(11 * SEC).unwrap();
    assert_eq!(l.count, 7, "{l:?}");
    assert!((l.max as f64 - 7e6).abs() / 7e6 < 0.032, "{l:?}");
    // The ring comes back to the first second's histogram for 11 s: cleared before
    // it counts again.
    record(11 * SEC, 9, shared);
    assert_eq!(w.latency(11 * SEC).unwrap().count, 8);
}
