//! Async calls, timers, owned permits and deadlines, on manual clocks (and, with the
//! `tokio` feature, on tokio's paused clock).

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use tripgate::{
    Breaker, CallError, Clock, Config, ConfigBuilder, FailureKind, ManualClock, Outcome,
    PermitError, RawPermit, State, Timer,
};

const MS: Duration = Duration::from_millis(1);

/// A waker that counts its wakes.
#[derive(Default)]
struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn waker() -> (Arc<Wakes>, Waker) {
    let w = Arc::new(Wakes::default());
    (Arc::clone(&w), Waker::from(w))
}

fn poll<F: Future>(f: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(waker))
}

/// A future that never completes and says when it is dropped.
struct Hangs(Arc<AtomicBool>);

impl Future for Hangs {
    type Output = Result<u32, String>;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Pending
    }
}

impl Drop for Hangs {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A future that completes on its first poll after moving `clock` by `by`.
fn takes(
    clock: &ManualClock,
    by: Duration,
    answer: Result<u32, String>,
) -> impl Future<Output = Result<u32, String>> {
    let clock = clock.clone();
    async move {
        clock.advance(by);
        answer
    }
}

fn timed(timeout: Duration) -> ConfigBuilder {
    Config::builder()
        .count_window(10)
        .minimum_calls(10)
        .call_timeout(timeout)
}

fn breaker(b: ConfigBuilder) -> (Breaker<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(1));
    (
        Breaker::with_clock(b.build().unwrap(), clock.clone()).unwrap(),
        clock,
    )
}

#[test]
fn a_future_still_running_at_the_deadline_is_dropped_and_recorded_as_a_timeout() {
    let (b, clock) = breaker(timed(100 * MS));
    let dropped = Arc::new(AtomicBool::new(false));
    let (wakes, w) = waker();
    let mut call = pin!(b.call_async_with(&clock, Hangs(Arc::clone(&dropped))));
    assert!(poll(call.as_mut(), &w).is_pending());
    clock.advance(99 * MS);
    assert_eq!(
        wakes.0.load(Ordering::SeqCst),
        0,
        "not woken before the deadline"
    );
    assert!(poll(call.as_mut(), &w).is_pending());
    assert!(!dropped.load(Ordering::SeqCst));
    clock.advance(MS);
    assert!(
        wakes.0.load(Ordering::SeqCst) >= 1,
        "the clock wakes the call at its deadline"
    );
    assert_eq!(
        poll(call.as_mut(), &w),
        Poll::Ready(Err(CallError::Timeout(100 * MS)))
    );
    assert!(
        dropped.load(Ordering::SeqCst),
        "the call's future is cancelled"
    );
    let s = b.snapshot();
    assert_eq!(
        (s.failures_by_kind.timeout, s.successes, s.abandoned),
        (1, 0, 0)
    );
}

#[test]
fn a_call_that_ends_before_its_deadline_answers_and_one_ready_at_it_is_a_timeout() {
    let (b, clock) = breaker(timed(100 * MS));
    let (_, w) = waker();
    let mut call = pin!(b.call_async_with(&clock, takes(&clock, 99 * MS, Ok(7))));
    assert_eq!(poll(call.as_mut(), &w), Poll::Ready(Ok(7)));
    // Ready in the poll that reaches the deadline: the result is returned (as a
    // synchronous call's would be) but counted as a timeout.
    let mut call = pin!(b.call_async_with(&clock, takes(&clock, 100 * MS, Ok(8))));
    assert_eq!(poll(call.as_mut(), &w), Poll::Ready(Ok(8)));
    let s = b.snapshot();
    assert_eq!((s.successes, s.failures_by_kind.timeout), (1, 1));
}

#[test]
fn without_a_timer_a_late_completion_is_recorded_as_a_timeout_when_it_returns() {
    let (b, clock) = breaker(timed(100 * MS));
    let (_, w) = waker();
    let mut call = pin!(b.call_async(takes(&clock, 150 * MS, Ok(1))));
    assert_eq!(poll(call.as_mut(), &w), Poll::Ready(Ok(1)));
    let mut call = pin!(b.call_async(takes(&clock, 10 * MS, Err("down".into()))));
    assert_eq!(
        poll(call.as_mut(), &w),
        Poll::Ready(Err(CallError::Failed("down".into())))
    );
    let s = b.snapshot();
    assert_eq!(
        (
            s.failures_by_kind.timeout,
            s.failures_by_kind.other,
            s.successes
        ),
        (1, 1, 0)
    );
}

#[test]
fn without_a_call_timeout_no_sleep_is_armed_and_a_call_dropped_after_the_slow_threshold_is_a_timeout(
) {
    let (b, clock) = breaker(Config::builder().count_window(10).minimum_calls(10));
    let dropped = Arc::new(AtomicBool::new(false));
    let (_, w) = waker();
    {
        let mut call = pin!(b.call_async_with(&clock, Hangs(Arc::clone(&dropped))));
        assert!(poll(call.as_mut(), &w).is_pending());
        clock.advance(Duration::from_secs(3600));
        assert!(
            poll(call.as_mut(), &w).is_pending(),
            "no deadline: it may run"
        );
    }
    assert!(dropped.load(Ordering::SeqCst));
    // Dropped after an hour, past slow_call_duration (5 s): its caller gave up on a
    // dependency that had not answered in a time the breaker counts as slow.
    let s = b.snapshot();
    assert_eq!((s.abandoned, s.failures_by_kind.timeout), (0, 1));
}

#[test]
fn classified_async_calls_record_what_the_classifier_says_unless_late() {
    let (b, clock) = breaker(timed(100 * MS));
    let (_, w) = waker();
    let classify = |r: &Result<u32, String>| match r {
        Ok(0) => Outcome::Ignored,
        Ok(_) => Outcome::Success,
        Err(e) if e == "busy" => Outcome::Failure(FailureKind::Rejected),
        Err(_) => Outcome::Failure(FailureKind::ServerError),
    };
    for (answer, late) in [
        (Ok(0), false),
        (Ok(5), false),
        (Err("busy".to_string()), false),
        (Err("boom".to_string()), false),
        (Ok(5), true),
    ] {
        let by = if late { 100 * MS } else { MS };
        let expected = answer.clone().map_err(CallError::Failed);
        let mut call = pin!(b.call_async_classified(takes(&clock, by, answer), classify));
        assert_eq!(poll(call.as_mut(), &w), Poll::Ready(expected));
    }
    // With a timer, a call cut short never reaches the classifier.
    let dropped = Arc::new(AtomicBool::new(false));
    let mut call = pin!(b.call_async_classified_with(
        &clock,
        Hangs(Arc::clone(&dropped)),
        |_: &Result<u32, String>| -> Outcome { panic!("no result to classify") }
    ));
    assert!(poll(call.as_mut(), &w).is_pending());
    clock.advance(100 * MS);
    assert_eq!(
        poll(call.as_mut(), &w),
        Poll::Ready(Err(CallError::Timeout(100 * MS)))
    );
    let s = b.snapshot();
    let f = s.failures_by_kind;
    assert_eq!(
        (
            s.ignored,
            s.successes,
            f.rejected,
            f.server_error,
            f.timeout
        ),
        (1, 1, 1, 1, 2)
    );
}

#[test]
fn a_rejected_async_call_never_polls_its_future() {
    let (b, clock) = breaker(timed(100 * MS));
    b.force_open();
    let (_, w) = waker();
    let dropped = Arc::new(AtomicBool::new(false));
    let mut call = pin!(b.call_async_with(&clock, Hangs(Arc::clone(&dropped))));
    match poll(call.as_mut(), &w) {
        Poll::Ready(Err(CallError::Rejected(r))) => assert_eq!(r.state, State::ForcedOpen),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_manual_clock_wakes_a_sleep_once_it_is_reached_and_not_before() {
    let clock = ManualClock::new();
    let (wakes, w) = waker();
    let mut sleep = pin!(clock.sleep(10 * MS));
    assert!(poll(sleep.as_mut(), &w).is_pending());
    assert!(
        poll(sleep.as_mut(), &w).is_pending(),
        "polled twice: one waker kept"
    );
    clock.set_nanos(5_000_000);
    assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
    clock.set_nanos(10_000_000);
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    assert_eq!(poll(sleep.as_mut(), &w), Poll::Ready(()));
    // A sleep of zero is over at once.
    assert_eq!(poll(pin!(clock.sleep(Duration::ZERO)), &w), Poll::Ready(()));
}

#[test]
fn a_sleep_polled_again_wakes_only_its_latest_waker_and_a_dropped_one_never_wakes() {
    let clock = ManualClock::new();
    let (first, w1) = waker();
    let (second, w2) = waker();
    let mut sleep = pin!(clock.sleep(10 * MS));
    assert!(poll(sleep.as_mut(), &w1).is_pending());
    assert!(
        poll(sleep.as_mut(), &w2).is_pending(),
        "moved to another task"
    );
    clock.advance(10 * MS);
    assert_eq!(
        (
            first.0.load(Ordering::SeqCst),
            second.0.load(Ordering::SeqCst)
        ),
        (0, 1),
        "the waker of the latest poll, once"
    );
    // Dropped before its end: the clock forgets it.
    let (dropped, w) = waker();
    {
        let mut sleep = pin!(clock.sleep(10 * MS));
        assert!(poll(sleep.as_mut(), &w).is_pending());
    }
    clock.advance(Duration::from_secs(1));
    assert_eq!(dropped.0.load(Ordering::SeqCst), 0);
}

#[test]
fn an_async_call_dropped_before_its_deadline_is_released_and_its_sleep_forgotten() {
    let (b, clock) = breaker(timed(100 * MS));
    let dropped = Arc::new(AtomicBool::new(false));
    let (wakes, w) = waker();
    {
        let mut call = pin!(b.call_async_with(&clock, Hangs(Arc::clone(&dropped))));
        assert!(poll(call.as_mut(), &w).is_pending());
        clock.advance(50 * MS);
    }
    assert!(dropped.load(Ordering::SeqCst));
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        wakes.0.load(Ordering::SeqCst),
        0,
        "no wake for a call that is gone"
    );
    let s = b.snapshot();
    assert_eq!(
        (s.calls, s.abandoned, s.failures_by_kind.timeout),
        (0, 1, 0),
        "a cancellation is neither a timeout nor a call"
    );
}

#[test]
fn an_async_call_dropped_past_its_deadline_or_slow_threshold_is_a_timeout() {
    let (_, w) = waker();
    // No timer: nothing cuts the call short, its caller drops it past the deadline.
    let (b, clock) = breaker(timed(100 * MS));
    {
        let mut call = pin!(b.call_async(Hangs(Arc::new(AtomicBool::new(false)))));
        assert!(poll(call.as_mut(), &w).is_pending());
        clock.advance(100 * MS);
    }
    let s = b.snapshot();
    assert_eq!((s.failures_by_kind.timeout, s.abandoned), (1, 0));
    // No call_timeout: dropped after slow_call_duration, a timeout (and slow).
    let slow = Config::builder()
        .count_window(10)
        .minimum_calls(10)
        .slow_call_rate_threshold(1.0, 30 * MS);
    let (b, clock) = breaker(slow);
    for wait in [29 * MS, 30 * MS] {
        let mut call = pin!(b.call_async(Hangs(Arc::new(AtomicBool::new(false)))));
        assert!(poll(call.as_mut(), &w).is_pending());
        clock.advance(wait);
    }
    let s = b.snapshot();
    assert_eq!(
        (s.failures_by_kind.timeout, s.slow_calls, s.abandoned),
        (1, 1, 1)
    );
}

#[test]
fn a_probe_cut_short_at_its_deadline_counts_once_as_a_timeout_and_reopens() {
    let (b, clock) = breaker(timed(100 * MS).consecutive_failures(1));
    b.open_for(Duration::from_secs(1));
    clock.advance(Duration::from_secs(1));
    let (_, w) = waker();
    let dropped = Arc::new(AtomicBool::new(false));
    let mut call = pin!(b.call_async_with(&clock, Hangs(Arc::clone(&dropped))));
    assert!(poll(call.as_mut(), &w).is_pending());
    assert_eq!(b.state(), State::HalfOpen);
    clock.advance(100 * MS);
    assert_eq!(
        poll(call.as_mut(), &w),
        Poll::Ready(Err(CallError::Timeout(100 * MS)))
    );
    assert_eq!(b.state(), State::Open, "the failed probe reopens");
    let s = b.snapshot();
    assert_eq!(
        (s.calls, s.failures, s.failures_by_kind.timeout, s.abandoned),
        (1, 1, 1, 0)
    );
}

#[test]
fn an_owned_permit_moves_into_a_thread_and_is_answered_there() {
    let clock = ManualClock::new();
    let b = Arc::new(
        Breaker::with_clock(
            Config::builder()
                .count_window(4)
                .minimum_calls(2)
                .failure_rate_threshold(0.5)
                .call_timeout(100 * MS)
                .build()
                .unwrap(),
            clock.clone(),
        )
        .unwrap(),
    );
    let permits: Vec<_> = (0..2).map(|_| b.try_acquire_owned().unwrap()).collect();
    assert!(permits.iter().all(|p| p.deadline() == Some(100_000_000)));
    let threads: Vec<_> = permits
        .into_iter()
        .map(|p| std::thread::spawn(move || p.failure(FailureKind::Connection)))
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(b.state(), State::Open, "both failures counted: 100% of 2");
    assert_eq!(b.snapshot().failures_by_kind.connection, 2);
    assert!(b.try_acquire_owned().is_err());
}

#[test]
fn an_owned_permit_dropped_unanswered_is_released_and_one_dropped_in_a_panic_fails() {
    let clock = ManualClock::new();
    let config = Config::builder()
        .count_window(4)
        .minimum_calls(1)
        .failure_rate_threshold(0.5)
        .open_duration(Duration::from_secs(1))
        .build()
        .unwrap();
    let b = Arc::new(Breaker::with_clock(config, clock.clone()).unwrap());
    b.open();
    clock.advance(Duration::from_secs(1));
    // The only probe slot: dropped in another thread, it frees the slot.
    let probe = b.try_acquire_owned().unwrap();
    assert!(probe.is_probe());
    assert!(b.try_acquire_owned().is_err(), "the slot is taken");
    std::thread::spawn(move || drop(probe)).join().unwrap();
    assert_eq!(b.snapshot().abandoned, 1);
    // Taken again; this time the thread panics holding it: a failure, and the breaker
    // reopens.
    let probe = b.try_acquire_owned().unwrap();
    let panicked = std::thread::spawn(move || {
        let _held = probe;
        panic!("the call panicked");
    })
    .join();
    assert!(panicked.is_err());
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.snapshot().failures_by_kind.other, 1);
    // Handed over raw: answered through the breaker, once.
    b.close();
    let raw = b.try_acquire_owned().unwrap().into_raw();
    assert_eq!(b.record_raw(raw, Outcome::Success, None), Ok(()));
    assert_eq!(b.snapshot().successes, 1);
}

#[test]
fn every_permit_carries_its_deadline_and_a_raw_one_is_checked() {
    let (b, clock) = breaker(timed(250 * MS).track_latency(true));
    let start = clock.now_nanos();
    let p = b.try_acquire().unwrap();
    assert_eq!(p.deadline(), Some(start + 250_000_000));
    clock.advance(10 * MS);
    p.success();
    let s = b.snapshot();
    assert_eq!(s.successes, 1);
    assert!(
        s.latency.is_some_and(|l| l.count == 1),
        "timed too: {:?}",
        s.latency
    );
    let raw = b.acquire_raw().unwrap();
    assert_eq!(b.deadline_raw(&raw), Ok(Some(start + 260_000_000)));
    // A reconfigured timeout moves the deadline of permits out; none removes it.
    let mut c = (*b.config()).clone();
    c.call_timeout = Some(Duration::from_secs(1));
    b.reconfigure(c.clone()).unwrap();
    assert_eq!(b.deadline_raw(&raw), Ok(Some(start + 1_010_000_000)));
    c.call_timeout = None;
    b.reconfigure(c).unwrap();
    assert_eq!(b.deadline_raw(&raw), Ok(None));
    assert_eq!(b.try_acquire().unwrap().deadline(), None);
    // A permit admitted without a timeout gets none from a later one, timed or not.
    let before = b.acquire_raw().unwrap();
    let mut c = (*b.config()).clone();
    c.call_timeout = Some(Duration::from_secs(2));
    b.reconfigure(c).unwrap();
    assert_eq!(b.deadline_raw(&before), Ok(None));
    assert_eq!(b.release_raw(before), Ok(()));
    // Only read: the permit is answered afterwards as usual.
    assert_eq!(b.release_raw(raw), Ok(()));
    assert_eq!(
        b.deadline_raw(&RawPermit::default()),
        Err(PermitError::Spent)
    );
    let (other, _) = breaker(timed(250 * MS));
    let foreign = other.acquire_raw().unwrap();
    assert_eq!(b.deadline_raw(&foreign), Err(PermitError::Foreign));
    other.release_raw(foreign).unwrap();
}

#[test]
fn probes_and_permits_of_every_admission_path_carry_the_deadline() {
    let (b, clock) = breaker(timed(100 * MS).track_in_flight(true));
    let now = clock.now_nanos();
    // Counted in flight: the slow path of Closed admission.
    let p = b.try_acquire().unwrap();
    assert_eq!(p.deadline(), Some(now + 100_000_000));
    p.success();
    b.open_for(Duration::from_secs(1));
    clock.advance(Duration::from_secs(1));
    let probe = b.try_acquire().unwrap();
    assert!(probe.is_probe());
    assert_eq!(probe.deadline(), Some(clock.now_nanos() + 100_000_000));
    probe.success();
    assert_eq!(b.state(), State::Closed);
    b.force_closed();
    assert!(b.try_acquire().unwrap().deadline().is_some());
    // An untimed breaker's permits have none, and their successes take the plain path.
    let (plain, _) = breaker(Config::builder().count_window(10).minimum_calls(10));
    let p = plain.try_acquire().unwrap();
    assert_eq!(p.deadline(), None);
    p.success();
    assert_eq!(plain.snapshot().successes, 1);
}

#[test]
fn a_synchronous_call_reuses_the_permits_start_for_its_deadline() {
    let (b, clock) = breaker(timed(100 * MS));
    assert_eq!(
        b.call(|| {
            clock.advance(100 * MS);
            Ok::<_, ()>(1)
        }),
        Ok(1)
    );
    assert_eq!(
        b.call(|| {
            clock.advance(99 * MS);
            Ok::<_, ()>(2)
        }),
        Ok(2)
    );
    let s = b.snapshot();
    assert_eq!((s.failures_by_kind.timeout, s.successes), (1, 1));
}

#[test]
fn async_calls_are_send_when_their_parts_are() {
    fn send<T: Send>(_: &T) {}
    let (b, clock) = breaker(timed(MS));
    let with_timer = b.call_async_with(&clock, async { Ok::<u32, String>(1) });
    send(&with_timer);
    let classified = b.call_async_classified(async { Ok::<u32, String>(1) }, |_| Outcome::Success);
    send(&classified);
}

#[cfg(feature = "tokio")]
mod on_tokio {
    use super::*;
    use tripgate::TokioTimer;

    fn system(timeout: Duration) -> Arc<Breaker> {
        Arc::new(Breaker::new(timed(timeout).build().unwrap()).unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_past_its_timeout_is_cut_short_on_paused_time() {
        let b = system(50 * MS);
        let dropped = Arc::new(AtomicBool::new(false));
        let started = tokio::time::Instant::now();
        let answer = b
            .call_async_with(&TokioTimer, Hangs(Arc::clone(&dropped)))
            .await;
        assert_eq!(answer, Err(CallError::Timeout(50 * MS)));
        assert!(dropped.load(Ordering::SeqCst));
        // Paused time jumps straight to the sleep's end: the deadline, not later (less
        // the real time between admission and arming).
        let waited = started.elapsed();
        assert!(waited <= 50 * MS, "{waited:?}");
        let answer = b
            .call_async_with(&TokioTimer, async {
                tokio::time::sleep(10 * MS).await;
                Ok::<_, String>(3)
            })
            .await;
        assert_eq!(answer, Ok(3));
        let s = b.snapshot();
        assert_eq!((s.failures_by_kind.timeout, s.successes), (1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn an_owned_permit_moves_into_a_spawned_task() {
        let b = system(50 * MS);
        let permit = b.try_acquire_owned().unwrap();
        assert!(permit.deadline().is_some());
        tokio::spawn(async move {
            tokio::time::sleep(MS).await;
            permit.failure(FailureKind::ServerError);
        })
        .await
        .unwrap();
        assert_eq!(b.snapshot().failures_by_kind.server_error, 1);
        // A whole call, timer and all, runs in a spawned task.
        let shared = Arc::clone(&b);
        let answer = tokio::spawn(async move {
            shared
                .call_async_with(&TokioTimer, std::future::pending::<Result<(), String>>())
                .await
        })
        .await
        .unwrap();
        assert_eq!(answer, Err(CallError::Timeout(50 * MS)));
    }
}

#[test]
fn a_raw_call_completed_late_or_cancelled_late_is_a_timeout_and_one_cancelled_early_is_released() {
    let (b, clock) = breaker(timed(50 * MS));
    let timeout = Some(Outcome::Failure(FailureKind::Timeout));
    // Before the deadline: the outcome as given; a cancellation releases.
    let p = b.acquire_raw().unwrap();
    clock.advance(49 * MS);
    assert_eq!(
        b.complete_raw(p, Some(Outcome::Ignored), None),
        Ok(Some(Outcome::Ignored))
    );
    let p = b.acquire_raw().unwrap();
    assert_eq!(b.complete_raw(p, None, None), Ok(None));
    // At the deadline and after: a timeout, whatever the call said or whether it was
    // cancelled.
    for outcome in [Some(Outcome::Success), Some(Outcome::Ignored), None] {
        let p = b.acquire_raw().unwrap();
        clock.advance(50 * MS);
        assert_eq!(b.complete_raw(p, outcome, None), Ok(timeout));
    }
    let s = b.snapshot();
    assert_eq!(
        (
            s.failures_by_kind.timeout,
            s.ignored,
            s.abandoned,
            s.successes
        ),
        (3, 1, 1, 0)
    );
    // A permit of another breaker is refused and changes nothing.
    let (other, _) = breaker(timed(50 * MS));
    let foreign = other.acquire_raw().unwrap();
    assert!(b.complete_raw(foreign, None, None).is_err());
    assert_eq!(b.snapshot().abandoned, 1);
    // A call cut short after running for slow_call_duration is a timeout (and slow),
    // even without a call_timeout; one cut short earlier is released.
    let slow = Config::builder()
        .slow_call_rate_threshold(1.0, Duration::from_millis(20))
        .track_latency(true);
    let (b, clock) = breaker(slow);
    let p = b.acquire_raw().unwrap();
    clock.advance(19 * MS);
    assert_eq!(b.complete_raw(p, None, None), Ok(None));
    let p = b.acquire_raw().unwrap();
    clock.advance(20 * MS);
    assert_eq!(b.complete_raw(p, None, None), Ok(timeout));
    let s = b.snapshot();
    assert_eq!(
        (s.failures_by_kind.timeout, s.slow_calls, s.abandoned),
        (1, 1, 1)
    );
    // Without a call_timeout there is no deadline: a late answer counts as given.
    let (b, clock) = breaker(Config::builder());
    let p = b.acquire_raw().unwrap();
    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        b.complete_raw(p, Some(Outcome::Success), None),
        Ok(Some(Outcome::Success))
    );
}
