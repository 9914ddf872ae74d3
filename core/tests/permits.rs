//! The raw-permit contract, enforced: a permit answered twice, a permit of another
//! breaker, or made-up bytes are refused with a `PermitError` and change nothing: no
//! state, no probe slot, no lifetime counter.
//!
//! A binding keeps a permit in foreign memory; [`Slot`] plays that part here as the C
//! and Python bindings do: answering takes the permit out and leaves the spent permit
//! behind. [`copy`] duplicates a permit's bytes behind the engine's back, as a C caller
//! copying the struct would.

#![cfg(not(loom))]

#[path = "support/probing.rs"]
mod probing;

use probing::due_for_probes;
use tripgate::{
    Breaker, Config, FailureKind, ManualClock, Outcome, PermitError, RawPermit, Snapshot, State,
};

/// A permit in foreign memory, answered the way the bindings answer it.
struct Slot(RawPermit);

impl Slot {
    fn record(&mut self, b: &Breaker<ManualClock>, outcome: Outcome) -> Result<(), PermitError> {
        b.record_raw(std::mem::take(&mut self.0), outcome, None)
    }

    fn release(&mut self, b: &Breaker<ManualClock>) -> Result<(), PermitError> {
        b.release_raw(std::mem::take(&mut self.0))
    }
}

/// Two permits with the same bytes.
fn copy(p: RawPermit) -> (RawPermit, RawPermit) {
    let words = p.into_words();
    (RawPermit::from_words(words), RawPermit::from_words(words))
}

/// Everything a refused answer must leave alone.
fn counters(b: &Breaker<ManualClock>) -> impl PartialEq + std::fmt::Debug {
    let s: Snapshot = b.snapshot();
    (
        (s.state, s.generation, s.transitions, s.half_open_probes),
        (s.calls, s.successes, s.failures, s.ignored, s.abandoned),
        (
            s.rejected,
            s.in_flight,
            s.window_calls,
            s.consecutive_failures,
        ),
    )
}

#[test]
fn a_probe_recorded_three_times_counts_once() {
    let b = due_for_probes(10, 3, 3).0;
    let mut probe = Slot(b.acquire_raw().unwrap());
    assert!(probe.0.is_probe());
    let (original, dup) = copy(std::mem::take(&mut probe.0));
    probe.0 = original;
    probe.record(&b, Outcome::Success).unwrap();
    let before = counters(&b);
    assert_eq!(probe.record(&b, Outcome::Success), Err(PermitError::Spent));
    assert_eq!(
        b.record_raw(dup, Outcome::Success, None),
        Err(PermitError::Spent),
        "a copy answered after its original, with no other probe out"
    );
    assert_eq!(counters(&b), before);
    assert_eq!(b.state(), State::HalfOpen, "one real probe of three needed");
    // The two probes still needed close it.
    for _ in 0..2 {
        b.record_raw(b.acquire_raw().unwrap(), Outcome::Success, None)
            .unwrap();
    }
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_probe_released_twice_frees_one_slot() {
    let b = due_for_probes(10, 2, 5).0;
    let mut first = Slot(b.acquire_raw().unwrap());
    let _second = b.acquire_raw().unwrap();
    assert!(b.acquire_raw().is_err(), "two slots, both taken");
    first.release(&b).unwrap();
    let before = counters(&b);
    assert_eq!(first.release(&b), Err(PermitError::Spent));
    assert_eq!(counters(&b), before);
    let _third = b.acquire_raw().expect("the one freed slot");
    assert!(
        b.acquire_raw().is_err(),
        "a second release must not let a third probe in"
    );
    assert_eq!(b.snapshot().half_open_probes, 2);
}

#[test]
fn a_copied_probe_never_lets_more_than_the_limit_decide() {
    // With another probe out a copy cannot be told from its original: it takes that
    // probe's place, and the last of the three answers is the surplus.
    let b = due_for_probes(10, 3, 3).0;
    let (a, a_copy) = copy(b.acquire_raw().unwrap());
    let c = b.acquire_raw().unwrap();
    b.record_raw(a, Outcome::Success, None).unwrap();
    b.record_raw(a_copy, Outcome::Success, None).unwrap();
    let before = counters(&b);
    assert_eq!(
        b.record_raw(c, Outcome::Success, None),
        Err(PermitError::Spent)
    );
    assert_eq!(counters(&b), before);
    assert_eq!(
        b.state(),
        State::HalfOpen,
        "two answers counted, three needed"
    );
}

#[test]
fn a_permit_of_another_breaker_changes_nothing() {
    let a = due_for_probes(10, 1, 1).0;
    let b = due_for_probes(10, 1, 1).0;
    let theirs = a.acquire_raw().unwrap();
    let _ours = b.acquire_raw().unwrap();
    let before = counters(&b);
    assert_eq!(
        b.record_raw(theirs, Outcome::Success, None),
        Err(PermitError::Foreign)
    );
    assert!(a.acquire_raw().is_err(), "a's only slot is out");
    assert_eq!(
        counters(&b),
        before,
        "b's probe is still out, b still half-open"
    );
    assert_eq!(b.state(), State::HalfOpen);

    // The same in Closed, where the generations of the two breakers also agree.
    let (a, b) = (due_for_probes(10, 1, 1).0, due_for_probes(10, 1, 1).0);
    for br in [&a, &b] {
        br.try_acquire().unwrap().success();
    }
    let before = counters(&b);
    let theirs = a.acquire_raw().unwrap();
    assert_eq!(
        b.record_raw(theirs, Outcome::Failure(FailureKind::Timeout), None),
        Err(PermitError::Foreign)
    );
    assert_eq!(counters(&b), before);
}

#[test]
fn a_permit_counted_in_flight_is_uncounted_once() {
    let clock = ManualClock::new();
    let config = Config::builder().track_in_flight(true).build().unwrap();
    let b = Breaker::with_clock(config, clock).unwrap();
    let mut slot = Slot(b.acquire_raw().unwrap());
    assert_eq!(b.snapshot().in_flight, Some(1));
    let (original, dup) = copy(std::mem::take(&mut slot.0));
    slot.0 = original;
    slot.record(&b, Outcome::Success).unwrap();
    let before = counters(&b);
    assert_eq!(slot.record(&b, Outcome::Success), Err(PermitError::Spent));
    assert_eq!(slot.release(&b), Err(PermitError::Spent));
    assert_eq!(b.release_raw(dup), Err(PermitError::Spent));
    assert_eq!(counters(&b), before);
    assert_eq!(b.snapshot().in_flight, Some(0));
}

/// Random words, and `real`'s words with one bit flipped, are refused on `b` and change
/// nothing; `real` itself is then still good.
fn assert_refuses_made_up_permits(b: &Breaker<ManualClock>, real: RawPermit) -> RawPermit {
    let before = counters(b);
    let words = real.into_words();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..3_000usize {
        let forged = if i % 4 == 3 {
            [next(), next(), next()]
        } else {
            let mut w = words;
            w[i % 4] ^= 1 << (next() % 64);
            w
        };
        let outcome = [Outcome::Success, Outcome::Failure(FailureKind::Timeout)][i % 2];
        let refused = b.record_raw(RawPermit::from_words(forged), outcome, None);
        assert!(refused.is_err(), "{forged:x?} accepted");
        assert!(b.release_raw(RawPermit::from_words(forged)).is_err());
    }
    assert_eq!(counters(b), before);
    RawPermit::from_words(words)
}

#[test]
fn made_up_permits_are_refused() {
    let b = due_for_probes(10, 1, 1).0;
    let probe = assert_refuses_made_up_permits(&b, b.acquire_raw().unwrap());
    b.record_raw(probe, Outcome::Success, None).unwrap();
    assert_eq!(b.state(), State::Closed);
    let plain = assert_refuses_made_up_permits(&b, b.acquire_raw().unwrap());
    b.record_raw(plain, Outcome::Failure(FailureKind::Other), None)
        .unwrap();
    assert_eq!(b.state(), State::Open);
}

#[test]
fn refusals_explain_themselves() {
    assert!(PermitError::Spent.to_string().contains("already answered"));
    assert!(PermitError::Foreign
        .to_string()
        .contains("not issued by this breaker"));
    assert!(RawPermit::default().is_spent());
}
