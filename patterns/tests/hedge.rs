//! Hedging, on tokio's paused clock: the hedge fires only after its delay and never
//! beyond its cap; the loser is cancelled and recorded as ignored.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep, Instant};
use tripgate::{Breaker, CallError, Config, ManualClock, Outcome};
use tripgate_patterns::hedge::{Hedge, HedgeDelay, Leg, Percentile};
use tripgate_patterns::Sleeper;

const MS: Duration = Duration::from_millis(1);

fn breaker() -> Arc<Breaker<ManualClock>> {
    let config = Config::builder()
        .count_window(100)
        .minimum_calls(100)
        .track_latency(true)
        .build()
        .unwrap();
    Arc::new(Breaker::with_clock(config, ManualClock::new()).unwrap())
}

fn hedge(delay: Duration) -> Hedge<impl Sleeper, ManualClock> {
    Hedge::new(breaker(), breaker(), HedgeDelay::Fixed(delay), sleep)
}

/// Sets its flag when dropped: proof that a future was cancelled.
struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn the_hedge_fires_only_after_the_delay_and_the_slow_primary_is_cancelled() {
    let h = hedge(50 * MS);
    let t0 = Instant::now();
    let secondary_started = Arc::new(std::sync::Mutex::new(None));
    let primary_dropped = Arc::new(AtomicBool::new(false));
    let (flag, started) = (primary_dropped.clone(), secondary_started.clone());
    let answer = h
        .call(
            move || async move {
                let _flag = DropFlag(flag);
                sleep(200 * MS).await;
                Ok::<_, ()>("primary")
            },
            move || {
                *started.lock().unwrap() = Some(Instant::now());
                async {
                    sleep(10 * MS).await;
                    Ok("secondary")
                }
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (answer.value, answer.answered_by, answer.hedged),
        ("secondary", Leg::Secondary, true)
    );
    assert_eq!(secondary_started.lock().unwrap().unwrap() - t0, 50 * MS);
    assert_eq!(t0.elapsed(), 60 * MS);
    assert!(primary_dropped.load(Ordering::SeqCst));
    // The loser is recorded as ignored, not abandoned, not a failure.
    let p = h.primary().snapshot();
    assert_eq!((p.ignored, p.calls, p.abandoned), (1, 0, 0));
    assert_eq!(h.secondary().snapshot().successes, 1);
    let m = h.metrics();
    assert_eq!(
        (m.hedges, m.secondary_wins, m.losers_cancelled, m.in_flight),
        (1, 1, 1, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_primary_faster_than_the_delay_is_never_hedged() {
    let h = hedge(50 * MS);
    let secondary_called = AtomicBool::new(false);
    let answer = h
        .call(
            || async {
                sleep(49 * MS).await;
                Ok::<_, ()>(1)
            },
            || {
                secondary_called.store(true, Ordering::SeqCst);
                async { Ok(2) }
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (answer.value, answer.answered_by, answer.hedged),
        (1, Leg::Primary, false)
    );
    assert!(!secondary_called.load(Ordering::SeqCst));
    let s = h.secondary().snapshot();
    assert_eq!(s.calls + s.ignored + s.rejected, 0);
    assert_eq!(h.metrics().hedges, 0);
}

#[tokio::test(start_paused = true)]
async fn when_the_primary_wins_after_hedging_the_secondary_is_ignored() {
    let h = hedge(10 * MS);
    let answer = h
        .call(
            || async {
                sleep(30 * MS).await;
                Ok::<_, ()>("p")
            },
            || async {
                sleep(100 * MS).await;
                Ok("s")
            },
        )
        .await
        .unwrap();
    assert_eq!((answer.answered_by, answer.hedged), (Leg::Primary, true));
    let s = h.secondary().snapshot();
    assert_eq!((s.ignored, s.calls), (1, 0));
    assert_eq!(h.primary().snapshot().successes, 1);
    assert_eq!(h.metrics().in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn hedges_in_flight_never_exceed_the_cap() {
    const CALLS: usize = 20;
    const CAP: usize = 3;
    let h = Arc::new(hedge(10 * MS).with_max_in_flight(CAP));
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CALLS {
        let (h, running, peak) = (h.clone(), running.clone(), peak.clone());
        tasks.spawn(async move {
            h.call(
                || async {
                    sleep(1000 * MS).await;
                    Ok::<_, ()>(Leg::Primary)
                },
                || {
                    let n = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    async move {
                        sleep(100 * MS).await;
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(Leg::Secondary)
                    }
                },
            )
            .await
            .unwrap()
        });
    }
    let mut by_secondary = 0;
    while let Some(r) = tasks.join_next().await {
        let r = r.unwrap();
        assert_eq!(r.value, r.answered_by);
        by_secondary += usize::from(r.answered_by == Leg::Secondary);
    }
    assert_eq!(peak.load(Ordering::SeqCst), CAP);
    assert_eq!(by_secondary, CAP);
    let m = h.metrics();
    assert_eq!(
        (m.hedges, m.capped, m.in_flight),
        (CAP as u64, (CALLS - CAP) as u64, 0)
    );
    // The secondary's breaker saw exactly the hedges, no more.
    assert_eq!(h.secondary().snapshot().successes, CAP as u64);

    // Once the slots are back, the next slow call hedges again.
    let r = h
        .call(
            || async {
                sleep(1000 * MS).await;
                Ok::<_, ()>(1)
            },
            || async { Ok(2) },
        )
        .await
        .unwrap();
    assert_eq!(r.answered_by, Leg::Secondary);
    assert_eq!(h.metrics().hedges, CAP as u64 + 1);
}

#[tokio::test(start_paused = true)]
async fn a_cap_of_zero_turns_hedging_off() {
    let h = hedge(10 * MS).with_max_in_flight(0);
    let r = h
        .call(
            || async {
                sleep(100 * MS).await;
                Ok::<_, ()>(1)
            },
            || async { Ok(2) },
        )
        .await
        .unwrap();
    assert_eq!((r.answered_by, r.hedged), (Leg::Primary, false));
    assert_eq!(h.metrics().capped, 1);
}

#[tokio::test(start_paused = true)]
async fn failures_do_not_end_the_race_while_the_other_leg_runs() {
    // The primary fails after the hedge started: the secondary's success wins.
    let h = hedge(10 * MS);
    let r = h
        .call(
            || async {
                sleep(20 * MS).await;
                Err("p down")
            },
            || async {
                sleep(30 * MS).await;
                Ok(2)
            },
        )
        .await
        .unwrap();
    assert_eq!(r.answered_by, Leg::Secondary);
    assert_eq!(h.primary().snapshot().failures, 1);

    // The secondary fails first: the primary's success still wins.
    let r = h
        .call(
            || async {
                sleep(50 * MS).await;
                Ok(1)
            },
            || async { Err("s down") },
        )
        .await
        .unwrap();
    assert_eq!((r.answered_by, r.value), (Leg::Primary, 1));

    // Both fail: both errors come back.
    let e = h
        .call(
            || async {
                sleep(50 * MS).await;
                Err::<u8, _>("p down")
            },
            || async { Err("s down") },
        )
        .await
        .unwrap_err();
    assert_eq!(e.primary, CallError::Failed("p down"));
    assert_eq!(e.secondary, Some(CallError::Failed("s down")));
}

#[tokio::test(start_paused = true)]
async fn a_primary_failing_before_the_delay_is_not_hedged() {
    let h = hedge(50 * MS);
    let t0 = Instant::now();
    let e = h
        .call(
            || async {
                sleep(5 * MS).await;
                Err::<u8, _>("p down")
            },
            || async { Ok(2) },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.primary, e.secondary),
        (CallError::Failed("p down"), None)
    );
    assert_eq!(t0.elapsed(), 5 * MS);
    assert_eq!(h.metrics().hedges, 0);
}

#[tokio::test(start_paused = true)]
async fn breakers_are_asked_for_each_leg() {
    // Primary open: rejected at once, nothing runs.
    let h = hedge(10 * MS);
    h.primary().force_open();
    let e = h
        .call(|| async { Ok::<u8, ()>(1) }, || async { Ok(2) })
        .await
        .unwrap_err();
    assert!(matches!(e.primary, CallError::Rejected(_)));
    h.primary().reset();

    // Secondary open: no hedge, the primary answers.
    h.secondary().force_open();
    let r = h
        .call(
            || async {
                sleep(50 * MS).await;
                Ok::<u8, ()>(1)
            },
            || async { Ok(2) },
        )
        .await
        .unwrap();
    assert_eq!((r.answered_by, r.hedged), (Leg::Primary, false));
    let m = h.metrics();
    assert_eq!((m.secondary_rejected, m.in_flight), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn dropping_a_hedged_call_records_both_legs_as_ignored() {
    let h = hedge(10 * MS);
    let call = h.call(
        || async {
            sleep(1000 * MS).await;
            Ok::<_, ()>(1)
        },
        || async {
            sleep(1000 * MS).await;
            Ok(2)
        },
    );
    assert!(tokio::time::timeout(50 * MS, call).await.is_err());
    assert_eq!(h.primary().snapshot().ignored, 1);
    assert_eq!(h.secondary().snapshot().ignored, 1);
    assert_eq!(h.metrics().in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn the_classifier_decides_what_each_leg_records() {
    let h = hedge(10 * MS);
    let e = h
        .call_classified(
            || async { Err::<u8, u16>(404) },
            || async { Ok(1) },
            |r: &Result<u8, u16>| match r {
                Err(404) => Outcome::Ignored,
                _ => Outcome::Success,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.primary, CallError::Failed(404));
    let p = h.primary().snapshot();
    assert_eq!((p.ignored, p.failures), (1, 0));
}

#[test]
fn the_percentile_delay_is_cached_and_refreshed_from_the_primary_window() {
    let primary = breaker();
    let clock = primary.clock().clone();
    let delay = HedgeDelay::Percentile {
        percentile: Percentile::P95,
        floor: 5 * MS,
        ceiling: 500 * MS,
        refresh: Duration::from_secs(1),
        min_samples: 20,
    };
    let h = Hedge::new(primary.clone(), breaker(), delay, sleep);
    // No samples yet: the ceiling.
    assert_eq!(h.current_delay(), 500 * MS);

    // 100 calls of 1..=100 ms: p95 is about 95 ms.
    for i in 1..=100u64 {
        primary
            .try_acquire()
            .unwrap()
            .record(Outcome::Success, Duration::from_millis(i));
    }
    // Cached: the new samples are not read before `refresh` has passed.
    assert_eq!(h.current_delay(), 500 * MS);
    clock.advance(Duration::from_secs(1));
    let d = h.current_delay();
    assert!(d.abs_diff(95 * MS) <= 4 * MS, "{d:?}");
    assert_eq!(h.metrics().delay, d);

    // Slower calls move it only at the next refresh, and the ceiling caps it.
    for _ in 0..200 {
        primary
            .try_acquire()
            .unwrap()
            .record(Outcome::Success, Duration::from_secs(2));
    }
    clock.advance(Duration::from_millis(999));
    assert_eq!(h.current_delay(), d);
    clock.advance(MS);
    assert_eq!(h.current_delay(), 500 * MS);

    // Fast calls: the floor holds.
    for _ in 0..200 {
        primary
            .try_acquire()
            .unwrap()
            .record(Outcome::Success, Duration::from_micros(10));
    }
    clock.advance(Duration::from_secs(1));
    assert_eq!(h.current_delay(), 5 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_hedged_call_uses_the_percentile_delay() {
    let primary = breaker();
    for _ in 0..50 {
        primary
            .try_acquire()
            .unwrap()
            .record(Outcome::Success, Duration::from_millis(40));
    }
    let h = Hedge::new(
        primary,
        breaker(),
        HedgeDelay::percentile(Percentile::P99, MS, Duration::from_secs(1)),
        sleep,
    );
    let t0 = Instant::now();
    let started = std::sync::Mutex::new(None);
    h.call(
        || async {
            sleep(Duration::from_secs(5)).await;
            Ok::<_, ()>(())
        },
        || {
            *started.lock().unwrap() = Some(t0.elapsed());
            async { Ok(()) }
        },
    )
    .await
    .unwrap();
    let at = started.lock().unwrap().unwrap();
    assert!(at.abs_diff(40 * MS) <= 2 * MS, "hedged at {at:?}");
}
