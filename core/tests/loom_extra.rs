//! loom models of the concurrency paths `loom.rs` does not cover: the slow-start ramp
//! flag being cleared while other threads admit and trip, and live reconfiguration
//! racing with records. (Only one thread may take the breaker's `cold` or window
//! geometry lock in a model: they are `parking_lot` mutexes, invisible to loom.) Run
//! with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p tripgate --release --test loom_extra
//! ```
//!
//! (add `-- --ignored` for the models of known bugs, which fail today).

#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use std::time::Duration;
use tripgate::{Breaker, Config, ConfigBuilder, FailureKind, ManualClock, Outcome, State};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

fn base() -> ConfigBuilder {
    Config::builder()
        .no_failure_rate()
        .count_window(4)
        .track_latency(false)
        .consecutive_failures(1)
        .open_duration(Duration::from_secs(1))
}

/// A breaker that has just recovered into a slow-start ramp (flag set in the state
/// word) whose ramp is already over: the next admission clears the flag.
fn ramp_over() -> (Arc<Breaker<ManualClock>>, ManualClock) {
    let clock = ManualClock::new();
    // An initial fraction of 1 admits every call during the ramp: admission is
    // deterministic, and the flag is still set and cleared as for any ramp.
    let config = base()
        .slow_start(1.0, Duration::from_secs(1))
        .build()
        .unwrap();
    let b = Breaker::with_clock(config, clock.clone()).unwrap();
    b.try_acquire().unwrap().failure(FailureKind::Other);
    clock.advance(Duration::from_secs(1));
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    (Arc::new(b), clock)
}

/// Two threads admitted after the ramp both try to clear its flag: both are admitted,
/// the breaker stays Closed in the same generation, and no transition is published.
#[test]
fn racing_ramp_clears_admit_both_and_change_nothing_else() {
    model(|| {
        let (b, clock) = ramp_over();
        clock.advance(Duration::from_secs(2));
        let before = b.snapshot();
        let b1 = b.clone();
        let t = thread::spawn(move || {
            let p = b1.acquire_raw().expect("closed, ramp over");
            b1.record_raw(p, Outcome::Success, Some(1)).unwrap();
        });
        let p = b.acquire_raw().expect("closed, ramp over");
        b.record_raw(p, Outcome::Success, Some(1)).unwrap();
        t.join().unwrap();
        let after = b.snapshot();
        assert_eq!(after.state, State::Closed);
        assert_eq!(after.generation, before.generation);
        assert_eq!(after.transitions, before.transitions);
        assert_eq!(after.calls, before.calls + 2);
    });
}

/// A failure that meets `consecutive_failures` must trip the breaker even if another
/// thread clears the ramp flag at the same moment.
///
/// Known bug D: `Breaker::trip` (core/src/breaker.rs) makes one compare-and-swap from
/// the word `recheck` loaded and gives up if it fails. The ramp clear in `ramp_admits`
/// changes only a flag bit, but that is enough to fail the swap: the breaker stays
/// Closed with `consecutive_failures` already at its limit, and trips only on a later
/// failure. loom finds the interleaving: recheck loads the word, the other thread
/// clears the flag, the trip's swap fails.
#[test]
fn a_ramp_clear_never_loses_a_trip() {
    model(|| {
        let (b, clock) = ramp_over();
        // Admitted during the ramp (flag still set), recorded after it.
        let p = b.acquire_raw().unwrap();
        clock.advance(Duration::from_secs(2));
        let b1 = b.clone();
        let t = thread::spawn(move || {
            if let Ok(p) = b1.acquire_raw() {
                b1.release_raw(p).unwrap();
            }
        });
        b.record_raw(p, Outcome::Failure(FailureKind::Timeout), Some(1))
            .unwrap();
        t.join().unwrap();
        assert_eq!(b.snapshot().consecutive_failures, 1);
        assert_eq!(b.state(), State::Open, "the failure met the limit of 1");
    });
}

// Bug D through `reconfigure` (its flag-only swap racing with a trip's swap: same
// `trip`, same loss) cannot be modelled here: both paths then take the breaker's `cold`
// lock, a `parking_lot::Mutex` that loom does not see, and the model deadlocks when loom
// pauses the holder. A real-thread stress loop did not hit the narrow window in 200,000
// tries on two cores either; the reading of `trip` is the evidence.

/// Reconfiguration racing with records that do not trip: the new config is in force
/// afterwards, nothing is lost from the lifetime totals, the in-flight count (switched
/// on mid-flight) never goes negative, and the window holds what the documented rule
/// says: the records, or (when the reshape restarted it after them) none of them.
#[test]
fn reconfiguration_racing_with_records_loses_nothing() {
    model(|| {
        let clock = ManualClock::new();
        let config = base().consecutive_failures(100).build().unwrap();
        let b = Arc::new(Breaker::with_clock(config, clock).unwrap());
        let p1 = b.acquire_raw().unwrap();
        let b1 = b.clone();
        let t = thread::spawn(move || {
            let new = base()
                .consecutive_failures(100)
                .count_window(2)
                .track_in_flight(true)
                .build()
                .unwrap();
            b1.reconfigure(new).unwrap();
        });
        b.record_raw(p1, Outcome::Failure(FailureKind::Timeout), Some(1))
            .unwrap();
        let p2 = b.acquire_raw().unwrap();
        b.record_raw(p2, Outcome::Success, Some(1)).unwrap();
        t.join().unwrap();
        let s = b.snapshot();
        assert_eq!(s.state, State::Closed);
        assert_eq!((s.calls, s.failures), (2, 1));
        assert_eq!(s.in_flight, Some(0));
        assert!(s.window_calls <= 2, "{s:?}");
        assert_eq!(*b.config(), {
            base()
                .consecutive_failures(100)
                .count_window(2)
                .track_in_flight(true)
                .build()
                .unwrap()
        });
    });
}
