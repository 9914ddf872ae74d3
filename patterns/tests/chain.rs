//! The fallback chain reports the step that answered and the errors before it.

use std::cell::Cell;
use std::time::Duration;
use tripgate::{Breaker, CallError, Config, FailureKind, ManualClock, Outcome, State};
use tripgate_patterns::chain::{AsyncChain, Chain};

fn breaker(clock: &ManualClock) -> Breaker<ManualClock> {
    let config = Config::builder()
        .count_window(10)
        .minimum_calls(2)
        .failure_rate_threshold(0.5)
        .open_duration(Duration::from_secs(30))
        .build()
        .unwrap();
    Breaker::with_clock(config, clock.clone()).unwrap()
}

#[test]
fn first_step_answers_and_later_steps_never_run() {
    let clock = ManualClock::new();
    let (a, b) = (breaker(&clock), breaker(&clock));
    let ran_b = Cell::new(false);
    let answer = Chain::new()
        .step("primary", &a, || Ok::<_, &str>(1))
        .step("fallback", &b, || {
            ran_b.set(true);
            Ok(2)
        })
        .run()
        .unwrap();
    assert_eq!((answer.value, answer.index, answer.name), (1, 0, "primary"));
    assert!(answer.errors.is_empty());
    assert!(!ran_b.get());
    assert_eq!(a.snapshot().successes, 1);
    assert_eq!(b.snapshot().calls + b.snapshot().rejected, 0);
}

#[test]
fn a_rejected_then_a_failed_step_hand_over_to_the_cache() {
    let clock = ManualClock::new();
    let (primary, fallback) = (breaker(&clock), breaker(&clock));
    primary.force_open();
    let answer = Chain::new()
        .step("primary", &primary, || Ok::<_, String>("live"))
        .step("fallback", &fallback, || Err("fallback down".to_string()))
        .unguarded("cache", || Ok("cached"))
        .run()
        .unwrap();
    assert_eq!(
        (answer.index, answer.name, answer.value),
        (2, "cache", "cached")
    );
    assert_eq!(answer.errors.len(), 2);
    assert_eq!(
        (answer.errors[0].index, answer.errors[0].name),
        (0, "primary")
    );
    assert!(answer.errors[0].is_rejected());
    assert_eq!(
        (answer.errors[1].index, answer.errors[1].name),
        (1, "fallback")
    );
    assert_eq!(
        answer.errors[1].error,
        CallError::Failed("fallback down".to_string())
    );
    assert_eq!(primary.snapshot().rejected, 1);
    assert_eq!(fallback.snapshot().failures_by_kind.other, 1);
}

#[test]
fn every_step_failing_returns_every_error_in_order() {
    let clock = ManualClock::new();
    let (a, b) = (breaker(&clock), breaker(&clock));
    let err = Chain::<u8, _>::new()
        .step("a", &a, || Err(1))
        .step("b", &b, || Err(2))
        .unguarded("c", || Err(3))
        .run()
        .unwrap_err();
    let got: Vec<_> = err
        .errors
        .iter()
        .map(|e| (e.index, e.name, e.error.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, "a", CallError::Failed(1)),
            (1, "b", CallError::Failed(2)),
            (2, "c", CallError::Failed(3)),
        ]
    );
    assert!(err.to_string().contains("step 2 (c)"));
    assert!(Chain::<u8, u8>::new().run().unwrap_err().errors.is_empty());
}

#[test]
fn the_classifier_decides_what_each_breaker_records() {
    let clock = ManualClock::new();
    let (a, b) = (breaker(&clock), breaker(&clock));
    // A "not found" is the caller's business: ignored, but the chain still moves on.
    let answer = Chain::new()
        .step("a", &a, || Err(404))
        .step("b", &b, || Err(503))
        .unguarded("default", || Ok("default"))
        .classify(|r: &Result<&str, u16>| match r {
            Ok(_) => Outcome::Success,
            Err(404) => Outcome::Ignored,
            Err(_) => Outcome::Failure(FailureKind::Rejected),
        })
        .run()
        .unwrap();
    assert_eq!(answer.name, "default");
    assert_eq!((a.snapshot().ignored, a.snapshot().failures), (1, 0));
    assert_eq!(b.snapshot().failures_by_kind.rejected, 1);
}

#[test]
fn a_chain_trips_its_primary_and_then_skips_it() {
    let clock = ManualClock::new();
    let (primary, cache) = (breaker(&clock), breaker(&clock));
    let calls = Cell::new(0);
    for _ in 0..5 {
        let answer = Chain::new()
            .step("primary", &primary, || {
                calls.set(calls.get() + 1);
                Err("down")
            })
            .step("cache", &cache, || Ok(0))
            .run()
            .unwrap();
        assert_eq!(answer.name, "cache");
    }
    // Two failures of two calls trip it; the last three calls never reach it.
    assert_eq!(calls.get(), 2);
    assert_eq!(primary.state(), State::Open);
    assert_eq!(primary.snapshot().rejected, 3);
}

#[tokio::test]
async fn async_chain_reports_the_answering_step() {
    let clock = ManualClock::new();
    let (a, b) = (breaker(&clock), breaker(&clock));
    a.force_open();
    let answer = AsyncChain::new()
        .step("a", &a, || async { Ok::<_, &str>(1) })
        .step("b", &b, || async {
            tokio::task::yield_now().await;
            Err("b failed")
        })
        .unguarded("c", || async { Ok(3) })
        .run()
        .await
        .unwrap();
    assert_eq!((answer.index, answer.name, answer.value), (2, "c", 3));
    assert!(answer.errors[0].is_rejected());
    assert_eq!(answer.errors[1].error, CallError::Failed("b failed"));
    assert_eq!(b.snapshot().failures, 1);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_async_chain_records_the_running_step_as_ignored() {
    let clock = ManualClock::new();
    let a = breaker(&clock);
    let run = AsyncChain::new()
        .step("a", &a, || async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok::<_, ()>(1)
        })
        .run();
    let timed_out = tokio::time::timeout(Duration::from_millis(5), run).await;
    assert!(timed_out.is_err());
    let s = a.snapshot();
    assert_eq!((s.ignored, s.calls, s.abandoned), (1, 0, 0));
}

#[test]
fn the_async_chain_future_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let clock = ManualClock::new();
    let a = breaker(&clock);
    let fut = AsyncChain::new()
        .step("a", &a, || async { Ok::<_, ()>(1) })
        .run();
    is_send(&fut);
}
