//! Property test: random operation sequences (calls, answers by the deadline rule of a
//! `call_timeout` or a cancellation, time, and every manual transition, from any
//! initial state) against a plain single-threaded reference
//! model (`support/model.rs`). State, generation, counts, rates and retry times must
//! match exactly.
//!
//! The model keeps every outcome in a list and recomputes the window from scratch on
//! every record; the engine keeps atomic buckets and evaluates rules only when an
//! outcome can change the verdict. Agreement shows the shortcuts are sound.

#![cfg(not(loom))]

#[path = "support/model.rs"]
mod model;

use model::Op;
use proptest::prelude::*;
use std::time::Duration;
use tripgate::{Config, FailureKind, Outcome, State, WindowConfig};

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        4 => Just(Outcome::Success),
        2 => Just(Outcome::Failure(FailureKind::Timeout)),
        1 => Just(Outcome::Failure(FailureKind::Rejected)),
        1 => Just(Outcome::Ignored),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => Just(Op::Acquire),
        8 => (0usize..8, outcome(), proptest::option::of(prop_oneof![0u64..50, 100u64..400]))
            .prop_map(|(index, outcome, latency_ms)| Op::Record { index, outcome, latency_ms }),
        1 => (0usize..8).prop_map(|index| Op::Release { index }),
        2 => (0usize..8, proptest::option::of(outcome()))
            .prop_map(|(index, outcome)| Op::Complete { index, outcome }),
        3 => prop_oneof![0u64..100, 500u64..3000, 5000u64..15_000].prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::ForceOpen),
        1 => Just(Op::Reset),
        1 => Just(Op::Open),
        1 => prop_oneof![0u64..10, 1000u64..20_000].prop_map(|ms| Op::OpenFor { ms }),
        1 => Just(Op::HalfOpen),
        1 => Just(Op::Close),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    let window = prop_oneof![
        (2u32..12).prop_map(|size| WindowConfig::Count {
            size,
            buckets: None
        }),
        Just(WindowConfig::Count {
            size: 12,
            buckets: Some(4)
        }),
        Just(WindowConfig::Time {
            duration: Duration::from_secs(10),
            buckets: Some(5)
        }),
        Just(WindowConfig::Time {
            duration: Duration::from_secs(3),
            buckets: Some(1)
        }),
    ];
    (
        window,
        1u32..6,
        prop_oneof![
            Just(None),
            Just(Some(0.3)),
            Just(Some(0.5)),
            Just(Some(1.0))
        ],
        proptest::option::of(2u32..5),
        any::<bool>(),
        any::<bool>(),
        (1u32..4, 1u32..4),
        (prop_oneof![Just(1.0), Just(2.0)], 0usize..10),
        prop_oneof![Just(None), Just(Some(Duration::from_millis(300)))],
    )
        .prop_map(
            |(
                window,
                min,
                rate,
                consec,
                slow,
                pct,
                (permits, successes),
                (mult, initial),
                timeout,
            )| {
                // Closed most of the time; each other state now and then.
                let initial = State::ALL.get(initial).copied().unwrap_or(State::Closed);
                // A count window holds at most `size` calls: a larger minimum is refused.
                let min = match window {
                    WindowConfig::Count { size, .. } => min.min(size),
                    WindowConfig::Time { .. } => min,
                };
                let mut b = Config::builder()
                    .initial_state(initial)
                    .minimum_calls(min)
                    .open_duration(Duration::from_secs(10))
                    .backoff(mult, Duration::from_secs(40))
                    .backoff_decay(Duration::from_secs(30))
                    .half_open_permits(permits)
                    .half_open_success_threshold(successes)
                    .half_open_max_wait(Duration::from_secs(5))
                    .failure_weight(FailureKind::Timeout, 1.5)
                    .failure_weight(FailureKind::Rejected, 0.25);
                b = match window {
                    WindowConfig::Count {
                        size,
                        buckets: None,
                    } => b.count_window(size),
                    WindowConfig::Count {
                        size,
                        buckets: Some(n),
                    } => b.count_window_buckets(size, n),
                    WindowConfig::Time { duration, buckets } => {
                        b.time_window(duration, buckets.unwrap())
                    }
                };
                b = match rate {
                    Some(r) => b.failure_rate_threshold(r),
                    None => b.no_failure_rate(),
                };
                if let Some(n) = consec {
                    b = b.consecutive_failures(n);
                }
                if slow {
                    b = b.slow_call_rate_threshold(0.5, Duration::from_millis(100));
                }
                if pct {
                    b = b.latency_percentile(0.75, Duration::from_millis(200));
                }
                if let Some(t) = timeout {
                    b = b.call_timeout(t);
                }
                b.build().unwrap()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_reference_model(config in config(), ops in proptest::collection::vec(op(), 1..200)) {
        model::run(config, ops).map_err(TestCaseError::fail)?;
    }
}
