//! Stress tests with exact invariants: conserved totals under contention, and never
//! more half-open probes in flight than allowed.

#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Barrier;
use std::time::Duration;
use tripgate::{Breaker, Config, FailureKind, ManualClock, Outcome, State};

const RECORDS: u64 = 100_000;

fn counting_breaker(window_secs: u64, clock: ManualClock) -> Breaker<ManualClock> {
    // No rule can trip: every outcome must simply be counted.
    let config = Config::builder()
        .no_failure_rate()
        .time_window(Duration::from_secs(window_secs), 10)
        .build()
        .unwrap();
    Breaker::with_clock(config, clock).unwrap()
}

#[test]
fn threads_recording_inside_one_window_conserve_every_count() {
    for threads in [2u64, 4, 8] {
        let b = counting_breaker(3600, ManualClock::new());
        let barrier = Barrier::new(threads as usize);
        std::thread::scope(|s| {
            for t in 0..threads {
                let (b, barrier) = (&b, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    for i in 0..RECORDS {
                        let p = b.try_acquire().unwrap();
                        match (i + t) % 10 {
                            0 => p.failure(FailureKind::Timeout),
                            1 => p.ignore(),
                            _ => p.record(Outcome::Success, Duration::from_micros(i % 1000)),
                        }
                    }
                });
            }
        });
        let s = b.snapshot();
        let n = threads * RECORDS;
        assert_eq!(s.calls + s.ignored, n, "{threads} threads");
        assert_eq!(s.failures_by_kind.timeout, n / 10);
        assert_eq!(s.ignored, n / 10);
        assert_eq!(s.window_calls, n - n / 10, "{threads} threads: window");
        assert_eq!(
            s.failure_rate,
            1.0 / 9.0 * (n / 10) as f64 / (n / 10) as f64
        );
        assert_eq!(s.latency.unwrap().count, n - n / 10);
    }
}

#[test]
fn latencies_of_threads_moving_through_buckets_together_are_all_counted_once() {
    // Threads that own a stripe keep a lane of bins for the bucket they record in and
    // move it into the window's histograms when they reach the next one; the others
    // add to those histograms directly. Every sample stays counted, once.
    const BUCKETS: u64 = 6;
    const PER_BUCKET: u64 = 5_000;
    for threads in [2u64, 4, 8] {
        let clock = ManualClock::new();
        let b = counting_breaker(10, clock.clone());
        let barrier = Barrier::new(threads as usize);
        std::thread::scope(|s| {
            for t in 0..threads {
                let (b, barrier, clock) = (&b, &barrier, &clock);
                s.spawn(move || {
                    for bucket in 0..BUCKETS {
                        if barrier.wait().is_leader() {
                            clock.set_nanos(bucket * 1_000_000_000);
                        }
                        barrier.wait();
                        for i in 0..PER_BUCKET {
                            let latency = Duration::from_micros(1 + (i + t) % 500);
                            b.try_acquire().unwrap().record(Outcome::Success, latency);
                        }
                    }
                });
            }
        });
        let latency = b.snapshot().latency.unwrap();
        assert_eq!(
            latency.count,
            threads * BUCKETS * PER_BUCKET,
            "{threads} threads"
        );
        assert!(latency.max <= 510_000, "{latency:?}");
    }
}

#[test]
fn rotation_racing_with_records_loses_nothing() {
    let clock = ManualClock::new();
    let b = counting_breaker(1, clock.clone());
    let stop = AtomicBool::new(false);
    let threads = 4u64;
    std::thread::scope(|s| {
        let ticker = s.spawn(|| {
            // Keep moving time so buckets rotate under the writers' feet.
            while !stop.load(Ordering::Relaxed) {
                clock.advance(Duration::from_millis(7));
                std::thread::yield_now();
            }
        });
        let writers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    for i in 0..RECORDS {
                        let p = b.try_acquire().unwrap();
                        if i % 3 == 0 {
                            p.failure(FailureKind::Other)
                        } else {
                            p.success()
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        ticker.join().unwrap();
    });
    let s = b.snapshot();
    assert_eq!(s.calls, threads * RECORDS);
    assert_eq!(s.failures, threads * RECORDS.div_ceil(3));
    assert_eq!(s.successes, s.calls - s.failures);
}

#[test]
fn sixty_four_threads_never_exceed_the_probe_limit() {
    const PERMITS: u32 = 3;
    let clock = ManualClock::new();
    let config = Config::builder()
        .consecutive_failures(1)
        .open_duration(Duration::from_secs(1))
        .half_open_permits(PERMITS)
        .half_open_success_threshold(1)
        .build()
        .unwrap();
    let b = Breaker::with_clock(config, clock.clone()).unwrap();
    b.try_acquire().unwrap().failure(FailureKind::Other);
    clock.advance(Duration::from_secs(1));
    let in_flight = AtomicU32::new(0);
    let max_seen = AtomicU32::new(0);
    let barrier = Barrier::new(64);
    std::thread::scope(|s| {
        for t in 0..64u32 {
            let (b, in_flight, max_seen, barrier) = (&b, &in_flight, &max_seen, &barrier);
            s.spawn(move || {
                barrier.wait();
                for i in 0..2_000u32 {
                    if let Ok(p) = b.try_acquire() {
                        assert!(p.is_probe());
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        max_seen.fetch_max(now, Ordering::SeqCst);
                        assert!(now <= PERMITS, "{now} probes in flight");
                        std::hint::spin_loop();
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        // Neutral outcomes and abandoned permits: the breaker stays
                        // half-open, so every admission is a probe.
                        if (i + t) % 2 == 0 {
                            p.ignore()
                        } else {
                            drop(p)
                        }
                    }
                }
            });
        }
    });
    assert!(max_seen.load(Ordering::SeqCst) >= 1);
    let s = b.snapshot();
    assert_eq!(s.state, State::HalfOpen);
    assert_eq!(s.half_open_probes, 0, "every slot came back");
}

#[test]
fn racing_failures_trip_once_and_late_failures_add_nothing_to_the_streak() {
    const LIMIT: u32 = 3000;
    const THREADS: u32 = 4;
    let config = Config::builder()
        .no_failure_rate()
        .consecutive_failures(LIMIT)
        .open_duration(Duration::from_secs(60))
        .build()
        .unwrap();
    let b = Breaker::with_clock(config, ManualClock::new()).unwrap();
    let counts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = counts.clone();
    b.add_listener(move |t| {
        if let tripgate::Reason::ConsecutiveFailures { count, .. } = t.reason {
            seen.lock().unwrap().push(count);
        }
    });
    let barrier = Barrier::new(THREADS as usize);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                barrier.wait();
                // Hold a permit across the trip: its failure is recorded after it.
                let mut held = b.try_acquire().ok();
                while let Ok(p) = b.try_acquire() {
                    p.failure(FailureKind::Other);
                }
                if let Some(p) = held.take() {
                    p.failure(FailureKind::Other);
                }
            });
        }
    });
    let s = b.snapshot();
    assert_eq!(s.state, State::Open);
    // The streak that tripped it, carried into the open generation: the failures
    // racing with the trip may be in it, the held permits answered after it are not.
    assert!(
        (LIMIT..LIMIT + THREADS).contains(&s.consecutive_failures),
        "{}",
        s.consecutive_failures
    );
    let counts = counts.lock().unwrap().clone();
    // The trip is decided by a failure that brought the streak to between the limit
    // and the limit plus the other threads' failures racing with it.
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert!((LIMIT..LIMIT + THREADS).contains(&counts[0]), "{counts:?}");
}

/// Four times more threads than the lifetime counters and a time window have stripes a
/// thread can own (three owned; the other nine share the four shared lifetime stripes
/// and the window's one shared stripe), in waves, so that exiting threads give their
/// stripes back and the next wave claims them: every rejection, every outcome (in the
/// window and for life, failures by kind) and every measured duration is counted once,
/// on owned stripes (plain adds) and shared ones (locked adds) alike. Counting on a
/// shared stripe without a locked add loses counts here in every run.
#[test]
fn lifetime_counters_conserve_every_count_across_waves_of_threads() {
    const WAVES: u64 = 3;
    const THREADS: u64 = 12;
    const CALLS: u64 = 50_000;
    let open = Breaker::with_clock(Config::default(), ManualClock::new()).unwrap();
    open.force_open();
    let closed = counting_breaker(60, ManualClock::new());
    for _ in 0..WAVES {
        let barrier = Barrier::new(THREADS as usize);
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    barrier.wait();
                    for _ in 0..CALLS {
                        assert!(open.try_acquire().is_err());
                        let p = closed.try_acquire().unwrap();
                        p.record(Outcome::Success, Duration::from_nanos(3));
                        let p = closed.try_acquire().unwrap();
                        p.record(Outcome::Ignored, Duration::from_nanos(5));
                        let p = closed.try_acquire().unwrap();
                        p.failure(FailureKind::Connection);
                    }
                });
            }
        });
    }
    let calls = WAVES * THREADS * CALLS;
    assert_eq!(open.snapshot().rejected, calls);
    let s = closed.snapshot();
    assert_eq!((s.successes, s.ignored), (calls, calls));
    assert_eq!(s.failures_by_kind.connection, calls);
    assert_eq!((s.calls, s.window_calls), (2 * calls, 2 * calls));
    let durations = s
        .call_durations
        .expect("outcomes were recorded with latencies");
    assert_eq!(durations.successful, Duration::from_nanos(3 * calls));
    assert_eq!(durations.ignored, Duration::from_nanos(5 * calls));
    assert_eq!(durations.failed, Duration::ZERO);
}
