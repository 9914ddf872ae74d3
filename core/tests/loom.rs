//! loom models of the lock-free parts. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p tripgate --release --test loom`.

#![cfg(loom)]

#[path = "support/probing.rs"]
mod probing;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use probing::due_for_probes;
use std::time::Duration;
use tripgate::{Breaker, Config, FailureKind, ManualClock, State};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

fn half_open(permits: u32, successes: u32) -> (Arc<Breaker<ManualClock>>, ManualClock) {
    let (b, clock) = due_for_probes(2, permits, successes);
    (Arc::new(b), clock)
}

/// Two probes report at once, one success and one failure: exactly one of them moves
/// the breaker, and exactly one event is emitted for that move.
#[test]
fn exactly_one_thread_wins_each_transition() {
    model(|| {
        let (b, _) = half_open(2, 1);
        let p1 = b.acquire_raw().unwrap();
        let p2 = b.acquire_raw().unwrap();
        let events = Arc::new(AtomicUsize::new(0));
        let e = events.clone();
        b.add_listener(move |_| {
            e.fetch_add(1, Ordering::Relaxed);
        });
        let b1 = b.clone();
        let t = thread::spawn(move || {
            b1.record_raw(p1, tripgate::Outcome::Success, Some(1))
                .unwrap();
        });
        b.record_raw(
            p2,
            tripgate::Outcome::Failure(FailureKind::Timeout),
            Some(1),
        )
        .unwrap();
        t.join().unwrap();
        let s = b.state();
        assert!(s == State::Closed || s == State::Open, "{s:?}");
        assert_eq!(events.load(Ordering::Relaxed), 1);
        assert_eq!(b.snapshot().transitions, 3); // trip, half-open, and the one winner
    });
}

/// Three threads race for one probe slot and give it back: never two probes at once,
/// and the slot always comes back.
#[test]
fn half_open_slots_are_bounded_and_always_return() {
    model(|| {
        let (b, _) = half_open(1, 100);
        let inside = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (b, inside) = (b.clone(), inside.clone());
                thread::spawn(move || {
                    if let Ok(p) = b.acquire_raw() {
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        inside.fetch_sub(1, Ordering::SeqCst);
                        b.release_raw(p).unwrap();
                    }
                })
            })
            .collect();
        if let Ok(p) = b.acquire_raw() {
            assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
            inside.fetch_sub(1, Ordering::SeqCst);
            b.release_raw(p).unwrap();
        }
        for h in handles {
            h.join().unwrap();
        }
        let s = b.snapshot();
        assert_eq!(s.state, State::HalfOpen);
        assert_eq!(s.half_open_probes, 0);
    });
}

/// Two threads record into a slot that one of them must rotate to a new epoch:
/// nothing is lost from the lifetime totals, and the window holds exactly the new
/// epoch's records.
#[test]
fn bucket_rotation_loses_no_count() {
    model(|| {
        let clock = ManualClock::new();
        let config = Config::builder()
            .no_failure_rate()
            .track_latency(false)
            .time_window(Duration::from_secs(2), 2)
            .build()
            .unwrap();
        let b = Arc::new(Breaker::with_clock(config, clock.clone()).unwrap());
        // Epoch 0 holds one call; at t = 2 s its slot is reused for epoch 2.
        b.try_acquire().unwrap().success();
        clock.advance(Duration::from_secs(2));
        let b1 = b.clone();
        let t = thread::spawn(move || b1.try_acquire().unwrap().success());
        b.try_acquire().unwrap().failure(FailureKind::Other);
        t.join().unwrap();
        let s = b.snapshot();
        assert_eq!(s.calls, 3);
        assert_eq!(s.window_calls, 2);
        assert_eq!(s.failures, 1);
    });
}

/// Two outcomes recorded at once on a fresh breaker of `window` (at least two calls to
/// trip, 50%), the other thread's a success when `other_succeeds`, this thread's a
/// failure. Nothing is lost from the totals or the window: `failures` and two calls. The
/// rules run on relaxed reads, so each racing record may miss the other's count and the
/// trip can wait for a later record: if the race left the breaker closed, the window
/// already shows the rate that trips, and the next failure trips it.
fn race_two_outcomes_then_a_failure(
    window: impl Fn(tripgate::ConfigBuilder) -> tripgate::ConfigBuilder,
    other_succeeds: bool,
) {
    let clock = ManualClock::new();
    let config = window(Config::builder())
        .minimum_calls(2)
        .failure_rate_threshold(0.5)
        .track_latency(false)
        .build()
        .unwrap();
    let b = Arc::new(Breaker::with_clock(config, clock).unwrap());
    let b1 = b.clone();
    let t = thread::spawn(move || {
        let permit = b1.try_acquire().unwrap();
        if other_succeeds {
            permit.success()
        } else {
            permit.failure(FailureKind::Other)
        }
    });
    b.try_acquire().unwrap().failure(FailureKind::Other);
    t.join().unwrap();
    let s = b.snapshot();
    let failures = if other_succeeds { 1 } else { 2 };
    assert_eq!((s.calls, s.failures, s.window_calls), (2, failures, 2));
    if s.state == State::Closed {
        assert_eq!(s.failure_rate, failures as f64 / 2.0);
        b.try_acquire().unwrap().failure(FailureKind::Other);
        assert_eq!(b.state(), State::Open);
    } else {
        assert_eq!(s.state, State::Open);
    }
}

/// A count window of two calls: a success and a failure recorded at once (see
/// `race_two_outcomes_then_a_failure`).
#[test]
fn a_racing_success_and_failure_lose_no_count_and_a_delayed_trip_comes_next() {
    model(|| race_two_outcomes_then_a_failure(|c| c.count_window(2), true));
}

/// A time window right after its start (one epoch): two failures recorded at once, each
/// from its own thread (own stripe). A failure that sees only its own stripe in use and
/// fewer calls than the minimum skips the window's read; the stripes' marks are
/// ordered, so the later of the two sees both stripes and reads the window. Nothing is
/// lost, and if relaxed reads let both miss the other's count, the breaker is closed at
/// 100% and the next failure trips it.
#[test]
fn two_first_failures_in_their_own_stripes_lose_no_count_and_a_delayed_trip_comes_next() {
    model(|| {
        race_two_outcomes_then_a_failure(|c| c.time_window(Duration::from_secs(10), 2), false)
    });
}

/// Two permits with the same bytes: a C caller's copy of a permit struct.
fn copied(p: tripgate::RawPermit) -> (tripgate::RawPermit, tripgate::RawPermit) {
    let words = p.into_words();
    (
        tripgate::RawPermit::from_words(words),
        tripgate::RawPermit::from_words(words),
    )
}

/// A probe and a byte copy of it answered at once, with no other probe out: whatever
/// the interleaving, one answer settles the probe and the other decides nothing (it is
/// refused, or, when both pass the entry check together, settles nothing). Two
/// successes are needed, so the breaker must still be half-open, with its slot free.
#[test]
fn a_probe_and_its_copy_answered_at_once_settle_once() {
    model(|| {
        let (b, _) = half_open(1, 2);
        let (p, copy) = copied(b.acquire_raw().unwrap());
        let b1 = b.clone();
        let t = thread::spawn(move || {
            let _ = b1.record_raw(copy, tripgate::Outcome::Success, Some(1));
        });
        let _ = b.record_raw(p, tripgate::Outcome::Success, Some(1));
        t.join().unwrap();
        let s = b.snapshot();
        assert_eq!((s.state, s.half_open_probes), (State::HalfOpen, 0));
        // One success settled: the next one closes the breaker.
        let next = b.acquire_raw().unwrap();
        b.record_raw(next, tripgate::Outcome::Success, Some(1))
            .unwrap();
        assert_eq!(b.state(), State::Closed);
    });
}

/// Two probes out and a copy of one of them: three answers race, two of them
/// releases. At most two answers settle (the probes issued), the slot count never goes
/// below zero, and the one success cannot reach a threshold of two.
#[test]
fn three_racing_answers_of_two_probes_settle_at_most_two() {
    model(|| {
        let (b, _) = half_open(2, 2);
        let (a, a_copy) = copied(b.acquire_raw().unwrap());
        let c = b.acquire_raw().unwrap();
        let settled = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = [(a, true), (a_copy, false)]
            .into_iter()
            .map(|(p, success)| {
                let (b, settled) = (b.clone(), settled.clone());
                thread::spawn(move || {
                    let outcome = if success {
                        tripgate::Outcome::Success
                    } else {
                        tripgate::Outcome::Ignored
                    };
                    if b.record_raw(p, outcome, Some(1)).is_ok() {
                        settled.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        if b.release_raw(c).is_ok() {
            settled.fetch_add(1, Ordering::Relaxed);
        }
        for h in handles {
            h.join().unwrap();
        }
        let s = b.snapshot();
        assert_eq!((s.state, s.half_open_probes), (State::HalfOpen, 0));
        assert!(settled.load(Ordering::Relaxed) >= 2);
        // Both slots are free again, and no more than two.
        let (x, y) = (b.acquire_raw().unwrap(), b.acquire_raw().unwrap());
        assert!(b.acquire_raw().is_err());
        b.release_raw(x).unwrap();
        b.release_raw(y).unwrap();
    });
}
