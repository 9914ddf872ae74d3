//! The bulkhead never admits more than its limit; composition in both orders.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;
use tripgate::{Breaker, Config, ManualClock};
use tripgate_patterns::{
    call_breaker_first, call_bulkhead_first, Bulkhead, BulkheadFull, GuardedError,
};

#[test]
fn never_more_than_the_limit_under_32_threads() {
    const THREADS: usize = 32;
    const ROUNDS: usize = 2_000;
    const LIMIT: usize = 5;
    let bulkhead = Arc::new(Bulkhead::new(LIMIT));
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let admitted = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (b, inside, peak, admitted, start) = (
                bulkhead.clone(),
                inside.clone(),
                peak.clone(),
                admitted.clone(),
                start.clone(),
            );
            std::thread::spawn(move || {
                start.wait();
                for i in 0..ROUNDS {
                    if let Ok(_guard) = b.try_acquire() {
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(n, Ordering::SeqCst);
                        admitted.fetch_add(1, Ordering::Relaxed);
                        if i % 7 == 0 {
                            std::thread::yield_now();
                        }
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let m = bulkhead.metrics();
    assert!(peak.load(Ordering::SeqCst) <= LIMIT, "peak {peak:?}");
    assert!(peak.load(Ordering::SeqCst) >= 1);
    assert_eq!(m.in_flight, 0);
    // Every attempt is either admitted or counted as rejected.
    assert_eq!(
        admitted.load(Ordering::Relaxed) as u64 + m.rejected,
        (THREADS * ROUNDS) as u64
    );
}

#[test]
fn owned_guards_release_on_drop() {
    let b = Arc::new(Bulkhead::new(1));
    let g = b.try_acquire_owned().unwrap();
    assert_eq!(
        b.try_acquire_owned().unwrap_err(),
        BulkheadFull { limit: 1 }
    );
    std::thread::spawn(move || drop(g)).join().unwrap();
    assert_eq!(b.metrics().in_flight, 0);
    assert!(b.try_acquire().is_ok());
    assert!(Bulkhead::new(0).try_acquire().is_err());
}

#[tokio::test(start_paused = true)]
async fn async_acquire_waits_for_a_release_then_times_out() {
    let b = Arc::new(Bulkhead::new(1));
    let held = b.try_acquire_owned().unwrap();
    let b2 = b.clone();
    let waiter = tokio::spawn(async move {
        let t0 = tokio::time::Instant::now();
        let g = b2
            .acquire(Duration::from_secs(1), &tokio::time::sleep)
            .await
            .map(|_| ());
        (g, t0.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(held);
    let (got, waited) = waiter.await.unwrap();
    assert!(got.is_ok());
    assert_eq!(waited, Duration::from_millis(100));

    let _held = b.try_acquire().unwrap();
    let t0 = tokio::time::Instant::now();
    let r = b
        .acquire(Duration::from_millis(250), &tokio::time::sleep)
        .await;
    assert!(r.is_err());
    assert_eq!(t0.elapsed(), Duration::from_millis(250));
    let m = b.metrics();
    assert_eq!((m.admitted_after_wait, m.wait_timeouts), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn many_waiters_each_get_a_released_slot() {
    let b = Arc::new(Bulkhead::new(2));
    let held: Vec<_> = (0..2).map(|_| b.try_acquire_owned().unwrap()).collect();
    let waiters: Vec<_> = (0..6)
        .map(|_| {
            let b = b.clone();
            tokio::spawn(async move {
                let _g = b
                    .acquire(Duration::from_secs(5), &tokio::time::sleep)
                    .await?;
                tokio::time::sleep(Duration::from_millis(10)).await;
                Ok::<_, BulkheadFull>(())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1)).await;
    drop(held); // two releases at once must wake two waiters, not one
    for w in waiters {
        w.await.unwrap().unwrap();
    }
    assert_eq!(b.metrics().admitted_after_wait, 6);
    assert_eq!(b.metrics().in_flight, 0);
}

fn breaker() -> Breaker<ManualClock> {
    Breaker::with_clock(Config::default(), ManualClock::new()).unwrap()
}

#[test]
fn bulkhead_first_keeps_a_full_bulkhead_away_from_the_breaker() {
    let (bulkhead, br) = (Bulkhead::new(1), breaker());
    let held = bulkhead.try_acquire().unwrap();
    let r = call_bulkhead_first(&bulkhead, &br, || Ok::<_, ()>(1));
    assert!(matches!(r, Err(GuardedError::Full(_))));
    let s = br.snapshot();
    assert_eq!((s.calls, s.rejected, s.ignored), (0, 0, 0));
    drop(held);

    // Breaker open: the slot is taken and given back at once.
    br.force_open();
    let r = call_bulkhead_first(&bulkhead, &br, || Ok::<_, ()>(1));
    assert!(matches!(r, Err(GuardedError::Rejected(_))));
    assert_eq!(bulkhead.metrics().in_flight, 0);
    assert_eq!(bulkhead.metrics().rejected, 1);
    br.reset();
    assert_eq!(
        call_bulkhead_first(&bulkhead, &br, || Ok::<_, ()>(2)),
        Ok(2)
    );
    assert_eq!(
        call_bulkhead_first(&bulkhead, &br, || Err::<u8, _>("x")),
        Err(GuardedError::Failed("x"))
    );
    assert_eq!((br.snapshot().successes, br.snapshot().failures), (1, 1));
}

#[test]
fn breaker_first_keeps_an_open_breaker_away_from_the_bulkhead() {
    let (bulkhead, br) = (Bulkhead::new(1), breaker());
    br.force_open();
    let r = call_breaker_first(&bulkhead, &br, || Ok::<_, ()>(1));
    assert!(matches!(r, Err(GuardedError::Rejected(_))));
    assert_eq!(bulkhead.metrics().rejected, 0);
    br.reset();

    // Bulkhead full after the breaker admitted: the permit is recorded as ignored.
    let held = bulkhead.try_acquire().unwrap();
    let r = call_breaker_first(&bulkhead, &br, || Ok::<_, ()>(1));
    assert!(matches!(r, Err(GuardedError::Full(_))));
    let s = br.snapshot();
    assert_eq!((s.calls, s.ignored, s.abandoned), (0, 1, 0));
    drop(held);
    assert_eq!(call_breaker_first(&bulkhead, &br, || Ok::<_, ()>(3)), Ok(3));
    assert_eq!(bulkhead.metrics().in_flight, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn waiters_on_many_threads_lose_no_wake_up() {
    const TASKS: usize = 16;
    const ROUNDS: usize = 200;
    let b = Arc::new(Bulkhead::new(2));
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let (b, inside, peak) = (b.clone(), inside.clone(), peak.clone());
        set.spawn(async move {
            for _ in 0..ROUNDS {
                // A lost wake-up would leave a waiter asleep with free slots: 10 s is
                // far beyond any honest wait here, so a timeout means a lost wake-up.
                let _g = b
                    .acquire(Duration::from_secs(10), &tokio::time::sleep)
                    .await
                    .expect("a wake-up was lost");
                let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::task::yield_now().await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    assert!(peak.load(Ordering::SeqCst) <= 2);
    assert_eq!(b.metrics().wait_timeouts, 0);
    assert_eq!(b.metrics().in_flight, 0);
}

#[test]
fn raw_slots_count_like_guards_and_never_go_below_zero() {
    let b = Bulkhead::new(2);
    assert!(b.try_acquire_raw().is_ok());
    assert!(b.try_acquire_raw().is_ok());
    let full = b.try_acquire_raw().unwrap_err();
    assert_eq!(full.limit, 2);
    // A guard and a raw slot share the one count.
    assert!(b.try_acquire().is_err());
    assert!(b.release_raw());
    assert!(b.release_raw());
    // Nothing held: a stray release changes nothing.
    assert!(!b.release_raw());
    let m = b.metrics();
    assert_eq!((m.in_flight, m.rejected), (0, 2));
    assert!(b.try_acquire_raw().is_ok());
    assert_eq!(b.metrics().in_flight, 1);
}

#[test]
fn a_poll_takes_a_free_slot_and_counts_no_refusal() {
    let b = Arc::new(Bulkhead::new(1));
    let held = b.poll_acquire_owned().expect("a free slot");
    assert!(b.poll_acquire_owned().is_none());
    assert_eq!(b.metrics().rejected, 0);
    assert!(b.try_acquire_owned().is_err());
    assert_eq!(b.metrics().rejected, 1);
    drop(held);
    assert!(b.poll_acquire_owned().is_some());
}
