//! loom models of the concurrency paths `loom.rs` does not cover: the slow-start ramp
//! flag being cleared while other threads admit and trip, live reconfiguration racing
//! with records, and transition events won on admission. (Only one thread may take the
//! breaker's backoff, reconfiguration or window geometry lock in a model: they are
//! `parking_lot` mutexes, invisible to loom.) Run with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p tripgate --release --test loom_extra
//! ```

#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use std::time::Duration;
use tripgate::{Breaker, Config, ConfigBuilder, FailureKind, ManualClock, Outcome, Reason, State};

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
/// The interleaving: `recheck` loads the word, the other thread clears the ramp flag
/// (a flag-only swap), the trip's swap fails; `trip` must retry on a word that differs
/// only in its flags.
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
        assert_eq!(b.state(), State::Open, "the failure met the limit of 1");
        // The streak that tripped it, carried into the open generation.
        assert_eq!(b.snapshot().consecutive_failures, 1);
    });
}

// The same race through `reconfigure` (its flag-only swap racing with a trip's swap)
// cannot be modelled here: both paths then take a `parking_lot` lock (reconfiguration,
// backoff) that loom does not see, and the model deadlocks when loom pauses the holder.
// `trip` retries on any word of the same state and generation, whoever changed a flag.

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

/// A breaker on a manual clock, open and past its deadline, with `permits` probe slots
/// and a listener that logs every event.
fn open_past_deadline(
    permits: u32,
) -> (
    Arc<Breaker<ManualClock>>,
    std::sync::Arc<std::sync::Mutex<Vec<State>>>,
) {
    let clock = ManualClock::new();
    let config = base()
        .half_open_permits(permits)
        .half_open_success_threshold(permits)
        .build()
        .unwrap();
    let b = Breaker::with_clock(config, clock.clone()).unwrap();
    b.try_acquire().unwrap().failure(FailureKind::Other);
    clock.advance(Duration::from_secs(1));
    // Listeners run only on the one delivering thread: a std mutex is uncontended.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    b.add_listener(move |t| s.lock().unwrap().push(t.to));
    (Arc::new(b), seen)
}

/// Two callers race to move the breaker from Open to Half-Open with a listener
/// registered: one wins, no admission runs the listener, and the one event is
/// delivered by the next call that delivers, once.
#[test]
fn racing_open_to_half_open_admissions_queue_one_event() {
    model(|| {
        let (b, seen) = open_past_deadline(1);
        let b1 = b.clone();
        let t = thread::spawn(move || b1.acquire_raw().ok());
        let mine = b.acquire_raw().ok();
        let theirs = t.join().unwrap();
        assert!(seen.lock().unwrap().is_empty(), "admission ran a listener");
        let mut probes: Vec<_> = mine.into_iter().chain(theirs).collect();
        assert_eq!(probes.len(), 1, "one slot");
        assert_eq!(b.state(), State::HalfOpen);
        b.record_raw(probes.remove(0), Outcome::Success, Some(1))
            .expect("this breaker's probe");
        assert_eq!(*seen.lock().unwrap(), [State::HalfOpen, State::Closed]);
    });
}

/// The admission that moves the breaker to Half-Open races with a second probe that
/// fails at once (a transition off the admission path, which delivers): whatever the
/// interleaving, listeners see Half-Open before Open, each once.
#[test]
fn events_are_delivered_in_generation_order() {
    model(|| {
        let (b, seen) = open_past_deadline(2);
        let b1 = b.clone();
        let t = thread::spawn(move || b1.acquire_raw().ok());
        if let Ok(p) = b.acquire_raw() {
            b.record_raw(p, Outcome::Failure(FailureKind::Timeout), Some(1))
                .expect("this breaker's probe");
        }
        let theirs = t.join().unwrap();
        if let Some(p) = theirs {
            b.release_raw(p).expect("this breaker's permit");
        }
        b.dispatch_events();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.first(), Some(&State::HalfOpen), "{seen:?}");
        assert!(
            seen.len() <= 2 && seen[1..].iter().all(|s| *s == State::Open),
            "{seen:?}"
        );
        assert_eq!(seen.len() as u64, b.snapshot().transitions - 1, "{seen:?}");
    });
}

/// A rejection racing a new opening (an operator forcing the breaker open after a
/// trip) reads why the breaker opened from a sequence lock: it sees the trip's reason
/// or the operator's, whole, or (having raced the writer twice) none; never a mix.
#[test]
fn a_rejection_racing_an_opening_reads_one_reason_whole() {
    model(|| {
        let clock = ManualClock::new();
        let b = Breaker::with_clock(base().build().unwrap(), clock).unwrap();
        b.try_acquire().unwrap().failure(FailureKind::Other);
        let tripped = Some(Reason::ConsecutiveFailures { count: 1, limit: 1 });
        assert_eq!(b.try_acquire().unwrap_err().opened_by, tripped);
        let b = Arc::new(b);
        let b1 = b.clone();
        let t = thread::spawn(move || b1.force_open());
        let rejected = b.try_acquire().unwrap_err();
        t.join().unwrap();
        assert!(
            [tripped, Some(Reason::Manual), None].contains(&rejected.opened_by),
            "torn reason: {:?}",
            rejected.opened_by
        );
        assert_eq!(b.try_acquire().unwrap_err().opened_by, Some(Reason::Manual));
    });
}
