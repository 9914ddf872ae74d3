//! A breaker due for probing, shared by the permit tests and the loom models.

use std::time::Duration;
use tripgate::{Breaker, Config, FailureKind, ManualClock};

/// A breaker with a count window of `window` calls, tripped by one failure and due
/// for probing (the open duration, 1 s, has passed on its manual clock): the next
/// acquire is a probe. `permits` probes at once, `successes` to close.
pub fn due_for_probes(
    window: u32,
    permits: u32,
    successes: u32,
) -> (Breaker<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    let config = Config::builder()
        .no_failure_rate()
        .count_window(window)
        .track_latency(false)
        .consecutive_failures(1)
        .open_duration(Duration::from_secs(1))
        .half_open_permits(permits)
        .half_open_success_threshold(successes)
        .build()
        .unwrap();
    let b = Breaker::with_clock(config, clock.clone()).unwrap();
    b.try_acquire().unwrap().failure(FailureKind::Other);
    clock.advance(Duration::from_secs(1));
    (b, clock)
}
