//! Load tests: 16 `std::thread`s hammering one breaker, and a registry-sized set of
//! 1,000 breakers. Exact invariants only (no timing): totals are conserved, no call
//! panics, half-open never has more probes in flight than allowed, and memory stays
//! under the design's per-breaker budgets.
//!
//! Time is a shared `ManualClock` that the threads themselves move, so transitions
//! happen under load without sleeps. Sized to finish in a few seconds in debug builds
//! on two cores.

#![cfg(not(loom))]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;
use tripgate::{Breaker, Config, FailureKind, ManualClock, Outcome, State};

const THREADS: usize = 16;

/// A small xorshift per thread: deterministic per seed, no shared state.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// What one thread did, to be summed and compared with the breaker's totals.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    successes: u64,
    failures: u64,
    ignored: u64,
    abandoned: u64,
    rejected: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.successes += o.successes;
        self.failures += o.failures;
        self.ignored += o.ignored;
        self.abandoned += o.abandoned;
        self.rejected += o.rejected;
    }

    fn attempts(&self) -> u64 {
        self.successes + self.failures + self.ignored + self.abandoned + self.rejected
    }
}

/// One call through `b`: acquire, then record a success, a failure, an ignore, or drop
/// the permit unrecorded, as `r` says.
fn one_call(b: &Breaker<ManualClock>, r: u64, fail_per_mille: u64, t: &mut Tally) {
    match b.try_acquire() {
        Err(_) => t.rejected += 1,
        Ok(p) => match r % 1000 {
            x if x < fail_per_mille => {
                p.failure(FailureKind::from_u8((r >> 10) as u8 % 5).unwrap());
                t.failures += 1;
            }
            x if x < fail_per_mille + 20 => {
                p.ignore();
                t.ignored += 1;
            }
            x if x < fail_per_mille + 30 => {
                drop(p);
                t.abandoned += 1;
            }
            _ => {
                p.record(Outcome::Success, Duration::from_micros(r % 5000));
                t.successes += 1;
            }
        },
    }
}

fn check_totals(b: &Breaker<ManualClock>, t: &Tally) {
    let s = b.snapshot();
    assert_eq!(
        Tally {
            successes: s.successes,
            failures: s.failures,
            ignored: s.ignored,
            abandoned: s.abandoned,
            rejected: s.rejected,
        },
        *t
    );
    assert_eq!(s.calls, t.successes + t.failures);
    assert_eq!(s.failures_by_kind.total(), s.failures);
}

/// 16 threads x 20,000 calls into one breaker that never trips, with the clock still:
/// every outcome lands in the one current bucket, so the window itself holds exactly
/// the N x M calls (design invariant 5), and every lifetime total is exact.
#[test]
fn sixteen_threads_on_one_breaker_conserve_every_total() {
    const CALLS: u64 = 20_000;
    let clock = ManualClock::new();
    let config = Config::builder()
        .no_failure_rate()
        .time_window(Duration::from_secs(10), 10)
        .track_in_flight(true)
        .build()
        .unwrap();
    let b = Arc::new(Breaker::with_clock(config, clock).unwrap());
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let (b, start) = (b.clone(), start.clone());
            thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
                let mut t = Tally::default();
                start.wait();
                for _ in 0..CALLS {
                    one_call(&b, rng.next(), 300, &mut t);
                }
                t
            })
        })
        .collect();
    let mut total = Tally::default();
    for h in handles {
        total.add(&h.join().expect("no thread panicked"));
    }
    assert_eq!(total.attempts(), THREADS as u64 * CALLS);
    assert_eq!(total.rejected, 0, "a breaker without rules rejects nothing");
    check_totals(&b, &total);
    let s = b.snapshot();
    assert_eq!(s.state, State::Closed);
    assert_eq!(s.window_calls, total.successes + total.failures);
    assert_eq!(s.in_flight, Some(0), "every permit came back");
    let rate = s.failure_rate;
    let expected = total.failures as f64 / (total.successes + total.failures) as f64;
    assert!((rate - expected).abs() < 1e-9, "{rate} vs {expected}");
}

/// 16 threads on one breaker that trips, opens, probes and closes over and over (the
/// threads move the clock when they are rejected). Per generation, never more probes
/// in flight than `half_open_permits`; every attempt is accounted for exactly.
#[test]
fn half_open_never_admits_more_probes_than_allowed_under_load() {
    const CALLS: u64 = 10_000;
    const PERMITS: u32 = 3;
    let clock = ManualClock::new();
    let config = Config::builder()
        .count_window(20)
        .minimum_calls(10)
        .failure_rate_threshold(0.4)
        .open_duration(Duration::from_millis(5))
        .half_open_permits(PERMITS)
        .half_open_success_threshold(5)
        .half_open_max_wait(Duration::from_millis(50))
        .build()
        .unwrap();
    let b = Arc::new(Breaker::with_clock(config, clock.clone()).unwrap());
    // Probes in flight, by generation (mod the table size).
    let in_flight: Arc<Vec<AtomicUsize>> =
        Arc::new((0..4096).map(|_| AtomicUsize::new(0)).collect());
    let max_seen = Arc::new(AtomicUsize::new(0));
    let probes = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let (b, clock, start) = (b.clone(), clock.clone(), start.clone());
            let (in_flight, max_seen, probes) =
                (in_flight.clone(), max_seen.clone(), probes.clone());
            thread::spawn(move || {
                let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (i as u64 + 1));
                let mut t = Tally::default();
                start.wait();
                for _ in 0..CALLS {
                    let r = rng.next();
                    match b.try_acquire() {
                        Err(_) => {
                            t.rejected += 1;
                            clock.advance(Duration::from_micros(200));
                        }
                        Ok(p) => {
                            let slot = &in_flight[p.generation() as usize % 4096];
                            if p.is_probe() {
                                probes.fetch_add(1, Ordering::Relaxed);
                                let now = slot.fetch_add(1, Ordering::SeqCst) + 1;
                                max_seen.fetch_max(now, Ordering::Relaxed);
                                assert!(
                                    now <= PERMITS as usize,
                                    "{now} probes in flight in one generation"
                                );
                                // Hold the slot a moment so that others contend for it.
                                thread::yield_now();
                                slot.fetch_sub(1, Ordering::SeqCst);
                            }
                            // Failure-heavy, so that probes fail and the breaker re-trips.
                            match r % 10 {
                                0..=3 => {
                                    p.failure(FailureKind::ServerError);
                                    t.failures += 1;
                                }
                                4 => {
                                    p.ignore();
                                    t.ignored += 1;
                                }
                                5 => {
                                    drop(p);
                                    t.abandoned += 1;
                                }
                                _ => {
                                    p.success();
                                    t.successes += 1;
                                }
                            }
                        }
                    }
                }
                t
            })
        })
        .collect();
    let mut total = Tally::default();
    for h in handles {
        total.add(&h.join().expect("no thread panicked"));
    }
    assert_eq!(total.attempts(), THREADS as u64 * CALLS);
    check_totals(&b, &total);
    let s = b.snapshot();
    assert!(s.half_open_probes <= PERMITS);
    assert!(max_seen.load(Ordering::Relaxed) <= PERMITS as usize);
    assert!(
        s.transitions >= 10 && probes.load(Ordering::Relaxed) >= 10,
        "the load should drive the breaker through half-open repeatedly: {s:?}"
    );
}

/// A registry-sized set: 1,000 breakers, 16 threads, 12,000 calls each spread at random
/// over the set, failures concentrated on a tenth of the breakers so those trip, open
/// and recover while the rest stay closed. Per breaker, totals are exact; memory stays
/// under the design's per-breaker budgets (4 KiB without latency tracking, 96 KiB
/// with), so the whole registry is under 4 MiB (respectively 96 MiB).
#[test]
fn a_thousand_breakers_under_sixteen_threads() {
    const BREAKERS: usize = 1000;
    const CALLS: u64 = 12_000;
    let clock = ManualClock::new();
    let config = |latency: bool| {
        Config::builder()
            .time_window(Duration::from_secs(10), 10)
            .minimum_calls(5)
            .failure_rate_threshold(0.5)
            .open_duration(Duration::from_millis(20))
            .track_latency(latency)
            .build()
            .unwrap()
    };
    // Half the registry tracks latency, half does not.
    let breakers: Arc<Vec<Breaker<ManualClock>>> = Arc::new(
        (0..BREAKERS)
            .map(|i| Breaker::with_clock(config(i % 2 == 0), clock.clone()).unwrap())
            .collect(),
    );
    let mut bytes = [0usize; 2];
    for (i, b) in breakers.iter().enumerate() {
        let m = b.memory_bytes();
        let budget = if i % 2 == 0 { 96 * 1024 } else { 4 * 1024 };
        assert!(
            m <= budget,
            "breaker {i}: {m} bytes over its {budget}-byte budget"
        );
        bytes[i % 2] += m;
    }
    assert!(
        bytes[1] * 2 <= 4 << 20,
        "1,000 untimed breakers: {} bytes",
        bytes[1] * 2
    );
    assert!(
        bytes[0] * 2 <= 96 << 20,
        "1,000 timed breakers: {} bytes",
        bytes[0] * 2
    );

    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let (breakers, clock, start) = (breakers.clone(), clock.clone(), start.clone());
            thread::spawn(move || {
                let mut rng = Rng(0xA076_1D64_78BD_642F ^ (i as u64 + 1));
                let mut tallies = vec![Tally::default(); BREAKERS];
                start.wait();
                for n in 0..CALLS {
                    let r = rng.next();
                    let k = (r >> 20) as usize % BREAKERS;
                    let fail = if k % 10 == 0 { 700 } else { 20 };
                    one_call(&breakers[k], r, fail, &mut tallies[k]);
                    if n % 64 == 0 {
                        clock.advance(Duration::from_millis(1));
                    }
                }
                tallies
            })
        })
        .collect();
    let mut totals = vec![Tally::default(); BREAKERS];
    for h in handles {
        for (total, t) in totals.iter_mut().zip(h.join().expect("no thread panicked")) {
            total.add(&t);
        }
    }
    let mut tripped = 0;
    for (b, t) in breakers.iter().zip(&totals) {
        check_totals(b, t);
        let s = b.snapshot();
        assert!(s.half_open_probes <= 1);
        tripped += usize::from(s.transitions > 0);
    }
    let attempts: u64 = totals.iter().map(Tally::attempts).sum();
    assert_eq!(attempts, THREADS as u64 * CALLS);
    assert!(tripped >= 50, "the failing tenth should trip: {tripped}");
}
