//! Unit tests of every transition, driven by a manual clock.

use super::*;
use crate::{CallEvent, ConfigBuilder, ManualClock, Tier};
use std::sync::Mutex;

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

fn breaker(config: Config) -> (Breaker<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    clock.advance(SEC); // start away from zero
    (Breaker::with_clock(config, clock.clone()).unwrap(), clock)
}

fn count_config(size: u32, min: u32, rate: f64) -> ConfigBuilder {
    Config::builder()
        .count_window(size)
        .minimum_calls(min)
        .failure_rate_threshold(rate)
        .open_duration(10 * SEC)
}

/// A 10 s time window of 10 buckets.
fn time_config(min: u32, rate: f64) -> ConfigBuilder {
    Config::builder()
        .time_window(10 * SEC, 10)
        .minimum_calls(min)
        .failure_rate_threshold(rate)
}

fn ok<C: Clock>(b: &Breaker<C>) {
    b.try_acquire().expect("admitted").success();
}

fn fail<C: Clock>(b: &Breaker<C>) {
    b.try_acquire()
        .expect("admitted")
        .failure(FailureKind::ServerError);
}

fn record_events(b: &Breaker<ManualClock>) -> Arc<Mutex<Vec<Transition>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    b.add_listener(move |t| s.lock().unwrap().push(*t));
    seen
}

#[test]
fn a_rate_exactly_at_the_threshold_trips_and_the_tripping_call_is_not_rejected() {
    let (b, _) = breaker(count_config(10, 4, 0.5).build().unwrap());
    let events = record_events(&b);
    ok(&b);
    ok(&b);
    fail(&b);
    assert_eq!(b.state(), State::Closed);
    // The fourth call is admitted; its failure makes 2/4 = 50% and trips.
    fail(&b);
    assert_eq!(b.state(), State::Open);
    let e = events.lock().unwrap()[0];
    assert_eq!((e.from, e.to), (State::Closed, State::Open));
    assert!(
        matches!(e.reason, Reason::FailureRate { rate, threshold } if rate == 0.5 && threshold == 0.5)
    );
    assert_eq!(e.open_for, Some(10 * SEC));
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.state, State::Open);
    assert_eq!(r.retry_after, Some(10 * SEC));
}

#[test]
fn below_minimum_calls_nothing_trips_until_a_success_reaches_the_minimum() {
    let (b, _) = breaker(count_config(10, 5, 0.5).build().unwrap());
    for _ in 0..4 {
        fail(&b);
    }
    assert_eq!(b.state(), State::Closed, "4 calls < minimum 5");
    // 4 failures of 5 calls = 80%: the success that brings the window to 5 trips it.
    ok(&b);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn consecutive_failures_trip_at_the_limit_and_successes_reset_the_streak() {
    let (b, _) = breaker(
        Config::builder()
            .no_failure_rate()
            .consecutive_failures(3)
            .build()
            .unwrap(),
    );
    fail(&b);
    fail(&b);
    ok(&b);
    assert_eq!(b.snapshot().consecutive_failures, 0);
    fail(&b);
    fail(&b);
    // An ignored outcome neither counts nor resets.
    b.try_acquire().unwrap().ignore();
    assert_eq!(b.snapshot().consecutive_failures, 2);
    assert_eq!(b.state(), State::Closed);
    fail(&b);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn slow_calls_trip_the_slow_rate_and_the_boundary_is_slow() {
    let (b, _) = breaker(
        Config::builder()
            .no_failure_rate()
            .count_window(4)
            .minimum_calls(4)
            .slow_call_rate_threshold(0.5, 100 * MS)
            .build()
            .unwrap(),
    );
    b.try_acquire().unwrap().record(Outcome::Success, 99 * MS);
    b.try_acquire().unwrap().record(Outcome::Success, 10 * MS);
    b.try_acquire().unwrap().record(Outcome::Success, 100 * MS);
    assert_eq!(b.state(), State::Closed);
    b.try_acquire().unwrap().record(Outcome::Success, 500 * MS);
    assert_eq!(b.state(), State::Open);
    let s = b.snapshot();
    assert_eq!(s.slow_calls, 2);
}

#[test]
fn a_latency_percentile_at_its_limit_trips() {
    let (b, _) = breaker(
        Config::builder()
            .no_failure_rate()
            .count_window(100)
            .minimum_calls(10)
            .latency_percentile(0.9, 200 * MS)
            .build()
            .unwrap(),
    );
    let events = record_events(&b);
    for _ in 0..18 {
        b.try_acquire().unwrap().record(Outcome::Success, 10 * MS);
    }
    // 1 of 19 over the limit: p90 is fast.
    b.try_acquire().unwrap().record(Outcome::Success, 300 * MS);
    assert_eq!(b.state(), State::Closed);
    // 2 of 20 at or over: rank ceil(0.9 * 20) = 18 is still fast; 3 of 20 is not.
    b.try_acquire().unwrap().record(Outcome::Success, 200 * MS);
    assert_eq!(b.state(), State::Closed);
    b.try_acquire()
        .unwrap()
        .record(Outcome::Failure(FailureKind::Timeout), 250 * MS);
    assert_eq!(b.state(), State::Open);
    assert!(matches!(
        events.lock().unwrap()[0].reason,
        Reason::LatencyPercentile { .. }
    ));
}

#[test]
fn failure_weights_scale_the_failure_rate() {
    let config = count_config(10, 4, 0.5)
        .failure_weight(FailureKind::Rejected, 0.0)
        .failure_weight(FailureKind::Timeout, 2.0)
        .build()
        .unwrap();
    let (b, _) = breaker(config);
    for _ in 0..4 {
        b.try_acquire().unwrap().failure(FailureKind::Rejected);
    }
    assert_eq!(b.state(), State::Closed, "weight 0 never trips");
    assert_eq!(b.snapshot().failures_by_kind.rejected, 4);
    ok(&b);
    ok(&b);
    // One timeout weighs 2: 2 / 7 < 50%; two weigh 4 / 8 = 50%.
    b.try_acquire().unwrap().failure(FailureKind::Timeout);
    assert_eq!(b.state(), State::Closed);
    b.try_acquire().unwrap().failure(FailureKind::Timeout);
    assert_eq!(b.state(), State::Open);
}

fn tripped(config: Config) -> (Breaker<ManualClock>, ManualClock) {
    let (b, clock) = breaker(config);
    b.force_open();
    b.reset();
    while b.state() == State::Closed {
        fail(&b);
    }
    assert_eq!(b.state(), State::Open);
    (b, clock)
}

/// A clock whose coarse read lags its precise read by a set amount, as a cached clock
/// does between two refreshes.
#[derive(Clone)]
struct LaggingClock {
    precise: ManualClock,
    lag: Arc<std::sync::atomic::AtomicU64>,
}

impl Clock for LaggingClock {
    fn now_nanos(&self) -> u64 {
        self.precise.now_nanos()
    }

    fn coarse_nanos(&self) -> u64 {
        let lag = self.lag.load(std::sync::atomic::Ordering::Relaxed);
        self.precise.now_nanos().saturating_sub(lag)
    }

    fn wall_time(&self, nanos: u64) -> std::time::SystemTime {
        self.precise.wall_time(nanos)
    }
}

#[test]
fn a_call_once_the_open_duration_is_over_is_a_probe_though_the_coarse_clock_lags() {
    let precise = ManualClock::new();
    precise.advance(SEC);
    let lag = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let clock = LaggingClock {
        precise: precise.clone(),
        lag: lag.clone(),
    };
    let config = count_config(2, 2, 0.5).open_duration(SEC).build().unwrap();
    let b = Breaker::with_clock(config, clock).unwrap();
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Open);
    // From here the coarse read is a refresh behind: 1 ms.
    lag.store(1_000_000, std::sync::atomic::Ordering::Relaxed);
    // Far from the deadline a rejection reads the coarse clock alone.
    precise.advance(100 * MS);
    assert_eq!(
        b.try_acquire().unwrap_err().retry_after,
        Some(901 * MS),
        "retry-after from the coarse read"
    );
    // Near it, the precise read decides: 1 ns early is early...
    precise.advance(900 * MS - Duration::from_nanos(1));
    assert_eq!(
        b.try_acquire().unwrap_err().retry_after,
        Some(Duration::from_nanos(1))
    );
    // ...and the deadline itself admits a probe, though the coarse read is 1 ms short.
    precise.advance(Duration::from_nanos(1));
    b.try_acquire().expect("a probe").success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn the_deadline_itself_admits_one_probe_and_its_success_closes() {
    let (b, clock) = tripped(count_config(10, 1, 0.5).build().unwrap());
    let events = record_events(&b);
    clock.advance(10 * SEC - Duration::from_micros(1));
    assert_eq!(
        b.try_acquire().unwrap_err().retry_after,
        Some(Duration::from_micros(1))
    );
    clock.advance(Duration::from_micros(1));
    let probe = b.try_acquire().expect("deadline admits");
    assert!(probe.is_probe());
    assert_eq!(b.state(), State::HalfOpen);
    // One slot: the next caller is rejected while the probe is out.
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.state, State::HalfOpen);
    probe.success();
    assert_eq!(b.state(), State::Closed);
    let e = events.lock().unwrap().clone();
    assert_eq!(e.len(), 2);
    assert_eq!(
        (e[0].to, e[0].reason),
        (State::HalfOpen, Reason::OpenElapsed)
    );
    assert_eq!(
        (e[1].to, e[1].reason),
        (State::Closed, Reason::ProbesSucceeded { successes: 1 })
    );
    // The window restarted on close: one failure of one call would trip at 50%,
    // so check it is empty first.
    assert_eq!(b.snapshot().window_calls, 0);
}

#[test]
fn half_open_never_admits_more_than_its_slots_and_released_slots_come_back() {
    let (b, clock) = tripped(
        count_config(10, 1, 0.5)
            .half_open_permits(2)
            .half_open_success_threshold(3)
            .build()
            .unwrap(),
    );
    clock.advance(10 * SEC);
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());
    assert_eq!(b.snapshot().half_open_probes, 2);
    drop(p1); // released unrecorded
    assert_eq!(b.snapshot().abandoned, 1);
    let p3 = b.try_acquire().unwrap();
    p2.ignore(); // neutral
    assert_eq!(b.snapshot().half_open_successes, 0);
    p3.success();
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.snapshot().half_open_successes, 1);
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.snapshot().half_open_successes, 2);
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_failed_probe_reopens_with_a_longer_backoff_that_decays() {
    let config = count_config(10, 1, 0.5)
        .backoff(2.0, 60 * SEC)
        .backoff_decay(100 * SEC)
        .build()
        .unwrap();
    let (b, clock) = tripped(config);
    assert_eq!(b.retry_after(), Some(10 * SEC));
    clock.advance(10 * SEC);
    b.try_acquire().unwrap().failure(FailureKind::Timeout);
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.retry_after(), Some(20 * SEC));
    assert_eq!(b.snapshot().backoff_level, 1);
    clock.advance(20 * SEC);
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    // Tripping again soon after recovering: flapping grows the open time.
    fail(&b);
    assert_eq!(b.retry_after(), Some(40 * SEC));
    clock.advance(40 * SEC);
    b.try_acquire().unwrap().success();
    // Healthy for 300 s: three decay steps take level 2 + 1 back to 0.
    clock.advance(300 * SEC);
    fail(&b);
    assert_eq!(b.retry_after(), Some(10 * SEC));
}

#[test]
fn unreported_probes_are_reclaimed_after_their_lease() {
    let (b, clock) = tripped(
        count_config(10, 1, 0.5)
            .half_open_max_wait(5 * SEC)
            .build()
            .unwrap(),
    );
    let events = record_events(&b);
    clock.advance(10 * SEC);
    let lost = b.try_acquire().unwrap().into_raw();
    clock.advance(4 * SEC);
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(SEC));
    clock.advance(SEC);
    let fresh = b.try_acquire().expect("lease expired: slot reclaimed");
    // Both transitions were won on admission: queued, delivered by the next call that
    // delivers.
    assert!(events.lock().unwrap().is_empty());
    b.dispatch_events();
    assert_eq!(events.lock().unwrap().len(), 2);
    assert_eq!(
        events.lock().unwrap().last().unwrap().reason,
        Reason::ProbeLeaseExpired
    );
    // The written-off probe reports late: counted, but decides nothing.
    b.record_raw(lost, Outcome::Failure(FailureKind::Timeout), None)
        .unwrap();
    assert_eq!(b.state(), State::HalfOpen);
    fresh.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn outcomes_of_an_older_generation_are_counted_but_trip_nothing() {
    let (b, clock) = breaker(count_config(10, 1, 0.5).build().unwrap());
    let old: Vec<_> = (0..5)
        .map(|_| b.try_acquire().unwrap().into_raw())
        .collect();
    fail(&b);
    assert_eq!(b.state(), State::Open);
    clock.advance(10 * SEC);
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    for p in old {
        b.record_raw(p, Outcome::Failure(FailureKind::Other), None)
            .unwrap();
    }
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.snapshot().failures, 6);
}

/// A call admitted before a trip and answered after the recovery is late: it counts in
/// the lifetime totals but stays out of the window the recovery restarted, so that the
/// outage's failures cannot trip the breaker again with the first current outcome.
#[test]
fn a_late_outcome_after_a_recovery_stays_out_of_the_new_window() {
    for config in [count_config(10, 2, 0.5), time_config(2, 0.5)] {
        let (b, clock) = breaker(config.open_duration(10 * SEC).build().unwrap());
        let mut late = (0..3).map(|_| b.try_acquire().unwrap().into_raw());
        let (failure, success, timed) = (late.next(), late.next(), late.next());
        fail(&b);
        fail(&b);
        assert_eq!(b.state(), State::Open);
        clock.advance(10 * SEC);
        ok(&b);
        assert_eq!(b.state(), State::Closed);
        let timeout = Outcome::Failure(FailureKind::Timeout);
        b.record_raw(failure.unwrap(), timeout, None).unwrap();
        b.record_raw(success.unwrap(), Outcome::Success, None)
            .unwrap();
        b.record_raw(timed.unwrap(), Outcome::Success, Some(5_000_000))
            .unwrap();
        let s = b.snapshot();
        assert_eq!((s.window_calls, s.failure_rate), (0, 0.0));
        assert_eq!((s.calls, s.successes, s.failures), (6, 3, 3));
        // One current success: 1 call in the window, nothing failed, no trip.
        ok(&b);
        assert_eq!(b.state(), State::Closed);
        assert_eq!(b.snapshot().window_calls, 1);
        // Current failures still trip.
        fail(&b);
        assert_eq!(b.state(), State::Open);
    }
}

/// A probe that answers but counts against a configured rule fails: slow under a
/// slow-call rate, at the latency limit under a percentile rule. Without such a rule, a
/// slow probe is a success.
#[test]
fn a_probe_that_counts_against_a_rule_fails() {
    let slow_rule = Config::builder()
        .count_window(4)
        .minimum_calls(1)
        .slow_call_rate_threshold(1.0, 100 * MS);
    let percentile_rule = Config::builder()
        .count_window(4)
        .minimum_calls(1)
        .latency_percentile(0.5, 100 * MS);
    let no_rule = count_config(4, 1, 0.5).track_latency(true);
    for (config, reopens) in [(slow_rule, true), (percentile_rule, true), (no_rule, false)] {
        let (b, clock) = tripped(config.open_duration(10 * SEC).build().unwrap());
        clock.advance(10 * SEC);
        let probe = b.try_acquire().expect("a probe");
        assert!(probe.is_probe());
        probe.record(Outcome::Success, 100 * MS);
        let expected = if reopens { State::Open } else { State::Closed };
        assert_eq!(b.state(), expected);
        // A probe under the limit closes.
        clock.advance(60 * SEC);
        let probe = b.try_acquire().expect("a probe");
        probe.record(Outcome::Success, 99 * MS);
        assert_eq!(b.state(), State::Closed);
    }
}

#[test]
fn manual_states_do_what_they_say() {
    let (b, _) = breaker(count_config(10, 1, 0.5).build().unwrap());
    let events = record_events(&b);
    b.force_open();
    let r = b.try_acquire().unwrap_err();
    assert_eq!(
        (r.state, r.retry_after, r.opened_by, &*r.name()),
        (State::ForcedOpen, None, Some(Reason::Manual), "")
    );
    b.force_closed();
    for _ in 0..5 {
        fail(&b);
    }
    assert_eq!(b.state(), State::ForcedClosed);
    assert_eq!(b.snapshot().failures, 5);
    b.disable();
    fail(&b);
    assert_eq!(b.snapshot().failures, 5, "disabled counts nothing");
    b.metrics_only();
    fail(&b);
    assert_eq!((b.state(), b.snapshot().failures), (State::MetricsOnly, 6));
    b.reset();
    let s = b.snapshot();
    assert_eq!(
        (s.state, s.window_calls, s.consecutive_failures, s.failures),
        (State::Closed, 0, 0, 6)
    );
    let e = events.lock().unwrap();
    assert_eq!(e.len(), 5);
    assert!(e.iter().all(|t| t.reason == Reason::Manual));
}

/// A time window after a restart (here the recovery) holds one epoch of one stripe,
/// and failures under `minimum_calls` skip reading it: the success that brings the
/// window to the minimum must still trip on the rate those failures made.
#[test]
fn after_a_recovery_failures_under_the_minimum_wait_and_the_success_that_reaches_it_trips() {
    let (b, clock) = breaker(
        time_config(4, 0.5)
            .open_duration(SEC)
            .half_open_permits(1)
            .half_open_success_threshold(1)
            .build()
            .unwrap(),
    );
    for _ in 0..2 {
        for _ in 0..3 {
            fail(&b);
        }
        assert_eq!(b.state(), State::Closed, "3 calls < minimum 4");
        assert_eq!(b.snapshot().window_calls, 3);
        // 3 failures of 4 calls = 75%.
        ok(&b);
        assert_eq!(b.state(), State::Open);
        clock.advance(SEC);
        ok(&b); // the probe closes it, and the window restarts
        assert_eq!(b.state(), State::Closed);
        assert_eq!(b.snapshot().window_calls, 0);
    }
    // Under the threshold at the minimum, it stays closed; the failures after it read
    // the window again.
    fail(&b);
    ok(&b);
    ok(&b);
    ok(&b);
    assert_eq!(b.state(), State::Closed, "1 of 4 = 25%");
    fail(&b);
    assert_eq!(b.state(), State::Closed, "2 of 5 = 40%");
    fail(&b);
    assert_eq!(b.state(), State::Open, "3 of 6 = 50%");
}

/// Counts in another thread's stripe are read by the failure that may trip: the skip
/// of the window's read holds only while the caller's stripe is the only one in use.
#[test]
fn failures_from_three_threads_under_the_minimum_trip_when_together_they_reach_it() {
    let (b, _) = breaker(time_config(4, 0.5).build().unwrap());
    let b = Arc::new(b);
    for _ in 0..2 {
        let b = b.clone();
        std::thread::spawn(move || fail(&b)).join().unwrap();
    }
    fail(&b);
    assert_eq!(b.state(), State::Closed, "3 calls < minimum 4");
    fail(&b);
    assert_eq!(
        b.state(),
        State::Open,
        "4 failures of 4 calls, from three threads"
    );
}

#[test]
fn a_time_window_forgets_old_failures_by_itself() {
    let (b, clock) = breaker(time_config(4, 0.5).build().unwrap());
    fail(&b);
    fail(&b);
    fail(&b);
    assert_eq!(b.snapshot().window_calls, 3);
    clock.advance(11 * SEC);
    assert_eq!(b.snapshot().window_calls, 0);
    ok(&b);
    fail(&b);
    assert_eq!(b.state(), State::Closed, "the old failures left the window");
}

#[test]
fn reconfiguration_keeps_state_and_window_unless_the_shape_changes() {
    let (b, _) = breaker(count_config(10, 5, 0.5).build().unwrap());
    fail(&b);
    fail(&b);
    ok(&b);
    let bad = count_config(10, 5, 2.0).build_unchecked();
    let err = b.reconfigure(bad).unwrap_err();
    assert_eq!(err.field(), "failure_rate_threshold");
    assert_eq!(b.config().failure_rate_threshold, Some(0.5));
    // Same shape, lower threshold: window kept, and the new rule applies at once.
    b.reconfigure(count_config(10, 3, 0.6).build().unwrap())
        .unwrap();
    assert_eq!(b.snapshot().window_calls, 3);
    ok(&b);
    assert_eq!(b.state(), State::Closed);
    b.reconfigure(count_config(10, 3, 0.5).build().unwrap())
        .unwrap();
    ok(&b); // 2 of 5 = 40%
    fail(&b); // 3 of 6 = 50%
    assert_eq!(b.state(), State::Open);
    // New shape: the window restarts; state is kept.
    b.reconfigure(count_config(5, 3, 0.5).build().unwrap())
        .unwrap();
    let s = b.snapshot();
    assert_eq!((s.state, s.window_calls), (State::Open, 0));
    let err = b
        .reconfigure(count_config(20, 3, 0.5).build().unwrap())
        .unwrap_err();
    assert_eq!(err.field(), "window.buckets");
    assert!(err.to_string().contains("1..=10"), "{err}");
}

#[test]
fn a_count_window_stays_count_based_and_a_time_window_can_switch_both_ways() {
    let time = |buckets| {
        Config::builder()
            .time_window(10 * SEC, buckets)
            .minimum_calls(3)
            .failure_rate_threshold(0.5)
            .open_duration(10 * SEC)
            .build()
            .unwrap()
    };
    // Built count-based: no call counters per bucket, so never time-based.
    let (b, _) = breaker(count_config(10, 5, 0.5).build().unwrap());
    fail(&b);
    let before = b.config();
    let err = b.reconfigure(time(10)).unwrap_err();
    assert_eq!(err.field(), "window.kind");
    assert!(err.to_string().contains("count"), "{err}");
    assert_eq!(b.config(), before);
    assert_eq!(
        b.snapshot().window_calls,
        1,
        "a refused config changes nothing"
    );
    // Built time-based: count-based and back, counting and tripping in each shape.
    let (b, clock) = breaker(time(10));
    ok(&b);
    b.reconfigure(count_config(10, 3, 0.5).build().unwrap())
        .unwrap();
    ok(&b);
    fail(&b);
    assert_eq!(b.snapshot().window_calls, 2);
    b.reconfigure(time(5)).unwrap();
    ok(&b);
    fail(&b);
    clock.advance(SEC);
    fail(&b);
    let s = b.snapshot();
    assert_eq!((s.state, s.window_calls, s.calls), (State::Open, 3, 6));
}

#[test]
fn listeners_may_reenter_and_a_panicking_listener_is_contained() {
    let (b, _) = breaker(count_config(10, 1, 0.5).build().unwrap());
    let b = Arc::new(b);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (b2, s2) = (Arc::downgrade(&b), seen.clone());
    b.add_listener(move |t| {
        let b = b2.upgrade().unwrap();
        // Re-enter: read the state and the snapshot, even act on the breaker.
        s2.lock()
            .unwrap()
            .push((t.to, b.state(), b.snapshot().state));
    });
    let id = b.add_listener(|_| panic!("listener bug"));
    fail(&*b);
    assert_eq!(
        seen.lock().unwrap()[0],
        (State::Open, State::Open, State::Open)
    );
    assert_eq!(b.snapshot().listener_panics, 1);
    assert!(b.remove_listener(id));
    assert!(!b.remove_listener(id));
}

#[test]
fn call_durations_sum_every_measured_call_by_kind() {
    let (b, clock) = breaker(
        count_config(100, 100, 0.9)
            .slow_call_rate_threshold(1.0, 50 * MS)
            .build()
            .unwrap(),
    );
    let before = b.snapshot().call_durations;
    assert_eq!(
        before,
        Some(CallDurations::default()),
        "timed: zeros, not absent"
    );
    let timed = |d: Duration, answer: fn(Permit<'_, ManualClock>)| {
        let p = b.try_acquire().unwrap();
        clock.advance(d);
        answer(p);
    };
    timed(7 * MS, |p| p.success()); // the plain timed path
    timed(70 * MS, |p| p.success()); // slow: the general path
    timed(20 * MS, |p| p.failure(FailureKind::Timeout));
    timed(3 * MS, |p| p.ignore());
    b.try_acquire().unwrap().record(Outcome::Success, 100 * MS); // given
    drop(b.try_acquire().unwrap()); // abandoned: no outcome, no duration
    let d = b.snapshot().call_durations.unwrap();
    assert_eq!(
        (d.successful, d.failed, d.ignored),
        (177 * MS, 20 * MS, 3 * MS)
    );

    // A breaker that times nothing has no sums until it is given a latency.
    let (b, _) = breaker(
        count_config(100, 100, 0.9)
            .track_latency(false)
            .build()
            .unwrap(),
    );
    ok(&b);
    fail(&b);
    assert_eq!(b.snapshot().call_durations, None);
    b.try_acquire()
        .unwrap()
        .record(Outcome::Failure(FailureKind::Other), 5 * MS);
    let d = b.snapshot().call_durations.unwrap();
    assert_eq!((d.successful, d.failed), (Duration::ZERO, 5 * MS));
}

#[test]
fn snapshot_counts_every_outcome() {
    let (b, clock) = breaker(
        count_config(100, 100, 0.9)
            .track_in_flight(true)
            .slow_call_rate_threshold(1.0, 50 * MS)
            .build()
            .unwrap(),
    );
    let held = b.try_acquire().unwrap();
    assert_eq!(b.snapshot().in_flight, Some(1));
    clock.advance(70 * MS);
    held.success(); // measured: 70 ms, slow
    b.try_acquire().unwrap().record(Outcome::Success, 10 * MS);
    b.try_acquire().unwrap().failure(FailureKind::Timeout);
    b.try_acquire().unwrap().failure(FailureKind::Connection);
    b.try_acquire().unwrap().ignore();
    drop(b.try_acquire().unwrap());
    let s = b.snapshot();
    assert_eq!(
        (s.calls, s.successes, s.failures, s.ignored, s.abandoned),
        (4, 2, 2, 1, 1)
    );
    assert_eq!(
        (s.failures_by_kind.timeout, s.failures_by_kind.connection),
        (1, 1)
    );
    assert_eq!((s.slow_calls, s.in_flight, s.window_calls), (1, Some(0), 4));
    assert_eq!(s.failure_rate, 0.5);
    assert_eq!(s.slow_call_rate, 0.25);
    assert_eq!(s.consecutive_failures, 2);
    assert!(s.last_failure.is_some());
    let l = s.latency.unwrap();
    assert_eq!(l.count, 4);
    assert!((l.max as f64 - 70e6).abs() / 70e6 < 0.032, "{l:?}");
    b.force_open();
    assert!(b.try_acquire().is_err());
    assert_eq!(b.snapshot().rejected, 1);
}

#[test]
fn a_permit_dropped_in_a_panic_is_a_failure() {
    let (b, _) = breaker(count_config(10, 1, 0.5).build().unwrap());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _permit = b.try_acquire().unwrap();
        panic!("boom");
    }));
    assert!(r.is_err());
    let s = b.snapshot();
    assert_eq!((s.failures_by_kind.other, s.state), (1, State::Open));
}

#[test]
fn call_runs_the_closure_and_rejects_when_open() {
    let (b, _) = breaker(count_config(10, 1, 0.5).build().unwrap());
    assert_eq!(b.call(|| Ok::<_, ()>(7)), Ok(7));
    assert_eq!(
        b.call(|| Err::<u8, _>("down")),
        Err(CallError::Failed("down"))
    );
    let mut ran = false;
    let r = b.call(|| {
        ran = true;
        Ok::<_, ()>(())
    });
    assert!(matches!(r, Err(CallError::Rejected(_))) && !ran);
}

#[test]
fn call_async_records_and_a_dropped_future_releases_its_permit() {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    let (b, _) = breaker(
        count_config(10, 1, 0.5)
            .track_in_flight(true)
            .build()
            .unwrap(),
    );
    let mut cx = Context::from_waker(Waker::noop());
    let f = pin!(b.call_async(async { Ok::<_, ()>(1) }));
    assert_eq!(f.poll(&mut cx), Poll::Ready(Ok(1)));
    {
        let mut f = Box::pin(b.call_async(std::future::pending::<Result<(), ()>>()));
        assert!(f.as_mut().poll(&mut cx).is_pending());
        assert_eq!(b.snapshot().in_flight, Some(1));
    }
    let s = b.snapshot();
    assert_eq!((s.successes, s.abandoned, s.in_flight), (1, 1, Some(0)));
}

#[test]
fn slow_start_ramps_admission_after_closing() {
    let (b, clock) = tripped(
        count_config(10, 1, 0.5)
            .slow_start(0.25, 10 * SEC)
            .build()
            .unwrap(),
    );
    clock.advance(10 * SEC);
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    let admitted = |n: usize| {
        (0..n)
            .filter(|_| match b.try_acquire() {
                Ok(p) => {
                    p.ignore();
                    true
                }
                Err(r) => {
                    assert_eq!(r.state, State::Closed);
                    false
                }
            })
            .count()
    };
    let first = admitted(1000);
    assert!((200..=300).contains(&first), "{first} of 1000 at 25%");
    clock.advance(5 * SEC);
    let half = admitted(1000);
    assert!((575..=675).contains(&half), "{half} of 1000 at 62.5%");
    clock.advance(5 * SEC);
    assert_eq!(admitted(1000), 1000);
}

#[test]
fn jitter_is_reproducible_with_a_seed() {
    let config = count_config(10, 1, 0.5)
        .jitter(0.5)
        .seed(7)
        .build()
        .unwrap();
    let (a, _) = tripped(config.clone());
    let (b, _) = tripped(config);
    let d = a.retry_after().unwrap();
    assert_eq!(Some(d), b.retry_after());
    assert!(d >= 10 * SEC && d < 15 * SEC);
}

#[test]
fn presets_build_breakers() {
    for tier in [Tier::Critical, Tier::Standard, Tier::NonCritical] {
        let (b, _) = breaker(Config::preset(tier));
        ok(&b);
        assert!(b.memory_bytes() < 96 * 1024, "{}", b.memory_bytes());
    }
    let lean = Breaker::new(Config::builder().track_latency(false).build().unwrap()).unwrap();
    assert!(lean.memory_bytes() <= 4096, "{}", lean.memory_bytes());
}

#[test]
fn random_raw_permits_never_panic() {
    let (b, _) = breaker(count_config(10, 1, 0.5).build().unwrap());
    for flags in 0..16 {
        for generation in [0, 1, u32::MAX] {
            let p = Grant {
                generation,
                flags,
                start_nanos: u64::MAX,
            };
            b.record_grant(p, Outcome::Failure(FailureKind::Other), None);
            b.record_grant(p, Outcome::Success, Some(u64::MAX));
            b.release_grant(p);
            let words = [
                (u64::from(generation) << 32) | u64::from(flags),
                u64::MAX,
                1,
            ];
            let forged = || RawPermit::from_words(words);
            assert!(b.record_raw(forged(), Outcome::Success, None).is_err());
            assert!(b.release_raw(forged()).is_err());
        }
    }
}

#[test]
fn the_adaptive_threshold_is_more_lenient_at_low_volume_and_shows_in_the_snapshot() {
    let (b, _) = breaker(
        count_config(10, 10, 0.5)
            .adaptive_threshold(crate::AdaptiveThreshold::default())
            .build()
            .unwrap(),
    );
    for i in 0..10 {
        if i % 2 == 0 {
            fail(&b)
        } else {
            ok(&b)
        }
    }
    // 50% of 10 calls: the fixed threshold would trip; low volume makes it 0.6.
    assert_eq!(b.state(), State::Closed);
    let t = b.snapshot().effective_failure_rate_threshold.unwrap();
    assert!((t - 0.6).abs() < 1e-12, "{t}");
    fail(&b); // the window slides: still 5 of the last 10
    assert_eq!(b.state(), State::Closed);
    fail(&b); // 6 of the last 10 = 60%
    assert_eq!(b.state(), State::Open);
    let err = Config::builder()
        .no_failure_rate()
        .adaptive_threshold(crate::AdaptiveThreshold::default())
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "adaptive_threshold");
}

#[test]
fn anti_thrash_holds_a_recovered_breaker_closed_and_keeps_openings_long() {
    let (b, clock) = tripped(
        count_config(10, 1, 0.5)
            .open_duration(SEC)
            .anti_thrash(30 * SEC, 5 * SEC)
            .build()
            .unwrap(),
    );
    assert_eq!(
        b.retry_after(),
        Some(5 * SEC),
        "min_open lengthens the opening"
    );
    clock.advance(5 * SEC);
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    // Failing again right away: held closed for min_closed.
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Closed);
    clock.advance(30 * SEC);
    // The rule still holds once min_closed has passed: the next outcome trips.
    ok(&b);
    assert_eq!(b.state(), State::Open);
    // force, reset, trip, half-open, close, trip: all within the minute.
    assert_eq!(b.snapshot().transitions_last_minute, 6);
    clock.advance(61 * SEC);
    assert_eq!(b.snapshot().transitions_last_minute, 0);
}

#[test]
fn a_clock_at_its_last_nanosecond_records_failures_and_closes_without_overflow() {
    // Found by the ffi fuzz target: a manual clock started at u64::MAX made the
    // last-failure stamp overflow.
    let clock = ManualClock::new();
    clock.set_nanos(u64::MAX);
    let b = Breaker::with_clock(
        count_config(4, 2, 0.5)
            .half_open_success_threshold(1)
            .anti_thrash(Duration::from_secs(1), Duration::ZERO)
            .build()
            .unwrap(),
        clock.clone(),
    )
    .unwrap();
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Open);
    // The clock cannot move on: the open duration ends at the last nanosecond too, and
    // the probe that closes the breaker stamps the close.
    ok(&b);
    assert_eq!(b.state(), State::Closed);
    fail(&b);
    let s = b.snapshot();
    assert_eq!(s.failures, 3);
    assert!(s.last_failure.is_some());
}

#[test]
fn a_success_that_moves_the_time_window_on_can_trip_it() {
    // 2 s window of two buckets. Ten successes, then five failures and four successes
    // a bucket later: 5/19, under 50%. One more bucket on, the ten old successes leave
    // and a success makes 5/10 = 50%: that success trips the breaker.
    let (b, clock) = breaker(
        Config::builder()
            .time_window(2 * SEC, 2)
            .minimum_calls(10)
            .failure_rate_threshold(0.5)
            .build()
            .unwrap(),
    );
    (0..10).for_each(|_| ok(&b));
    clock.advance(SEC);
    (0..5).for_each(|_| fail(&b));
    (0..4).for_each(|_| ok(&b));
    assert_eq!(b.state(), State::Closed);
    clock.advance(SEC);
    ok(&b);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn a_healthy_count_window_never_trips_and_counts_every_call() {
    // A bucket per call: every success moves the window on, and none may trip it, even
    // under an adaptive threshold driven towards zero.
    let adaptive = crate::AdaptiveThreshold {
        min: 0.0,
        success_streak: 1,
        success_streak_factor: 1e-300,
        ..Default::default()
    };
    let (b, _) = breaker(
        count_config(100, 1, 0.5)
            .adaptive_threshold(adaptive)
            .build()
            .unwrap(),
    );
    (0..1000).for_each(|_| ok(&b));
    assert_eq!(b.state(), State::Closed);
    let s = b.snapshot();
    assert_eq!((s.window_calls, s.calls, s.successes), (100, 1000, 1000));

    // Without it, the window is the last 100 calls: the 50th failure makes 50 of 100.
    let (b, _) = breaker(count_config(100, 1, 0.5).build().unwrap());
    (0..1000).for_each(|_| ok(&b));
    (0..49).for_each(|_| fail(&b));
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.snapshot().window_calls, 100);
    fail(&b);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn a_measured_success_is_timed_from_admission_and_slow_from_its_limit() {
    // Successes timed by the breaker itself (no latency passed in) take their own
    // path: under the slow limit they count as plain calls with their latency binned;
    // at the limit they are slow and may trip the slow-call rule. Both windows.
    let windows = [
        Config::builder().count_window(4),
        Config::builder().time_window(10 * SEC, 10),
    ];
    for window in windows {
        let (b, clock) = breaker(
            window
                .no_failure_rate()
                .minimum_calls(4)
                .slow_call_rate_threshold(0.5, 100 * MS)
                .build()
                .unwrap(),
        );
        for held_ms in [10, 99] {
            let p = b.try_acquire().unwrap();
            clock.advance(held_ms * MS);
            p.success();
        }
        let s = b.snapshot();
        assert_eq!((s.window_calls, s.slow_calls, s.successes), (2, 0, 2));
        let l = s.latency.unwrap();
        assert_eq!(l.count, 2);
        let max_ms = l.max as f64 / 1e6;
        assert!((max_ms - 99.0).abs() <= 99.0 * 0.032, "max {max_ms} ms");
        // At the limit: slow. Two slow calls of four reach 50%.
        let p = b.try_acquire().unwrap();
        clock.advance(100 * MS);
        p.success();
        assert_eq!(b.state(), State::Closed);
        let p = b.try_acquire().unwrap();
        clock.advance(300 * MS);
        p.success();
        assert_eq!(b.state(), State::Open);
        let s = b.snapshot();
        assert_eq!((s.window_calls, s.slow_calls, s.successes), (4, 2, 4));
    }
}

#[test]
fn a_success_that_opens_a_count_bucket_can_trip() {
    // Two buckets of two calls, 60%: S S | F F is 50%; the next success opens a
    // bucket, which pushes out the two successes and leaves F F S, 67%. Untimed, so
    // the success takes the plain count-window path.
    let (b, _) = breaker(
        Config::builder()
            .track_latency(false)
            .count_window_buckets(4, 2)
            .minimum_calls(2)
            .failure_rate_threshold(0.6)
            .build()
            .unwrap(),
    );
    ok(&b);
    ok(&b);
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Closed);
    ok(&b);
    assert_eq!(b.state(), State::Open);
}

/// A breaker on a manual clock set to `start`, tripping on one failure, open for `open`.
fn one_failure_trips(start: u64, open: Duration) -> (Breaker<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    clock.set_nanos(start);
    let config = Config::builder()
        .no_failure_rate()
        .consecutive_failures(1)
        .open_duration(open)
        .build()
        .unwrap();
    (Breaker::with_clock(config, clock.clone()).unwrap(), clock)
}

#[test]
fn the_open_deadline_is_exact_to_the_nanosecond() {
    let (b, clock) = one_failure_trips(1, 5 * SEC);
    fail(&b);
    clock.advance(5 * SEC - Duration::from_nanos(1));
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.retry_after, Some(Duration::from_nanos(1)));
    clock.advance_nanos(1);
    assert!(b.try_acquire().expect("the deadline admits").is_probe());
}

#[test]
fn deadlines_saturate_at_any_clock_value() {
    // Unix-epoch nanoseconds: far past 48 bits of microseconds.
    let (b, clock) = one_failure_trips(1_700_000_000_000_000_000, 5 * SEC);
    fail(&b);
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(5 * SEC));
    clock.advance(5 * SEC);
    b.try_acquire().expect("probe").success();
    assert_eq!(b.state(), State::Closed);
    // Near the end of the clock the deadline saturates at its last nanosecond.
    let (b, clock) = one_failure_trips(u64::MAX - 10, 5 * SEC);
    fail(&b);
    assert_eq!(
        b.try_acquire().unwrap_err().retry_after,
        Some(Duration::from_nanos(10))
    );
    clock.set_nanos(u64::MAX);
    assert!(b.try_acquire().expect("saturated deadline").is_probe());
}

#[test]
fn the_lease_and_the_ramp_are_exact_at_any_clock_value() {
    for start in [1, 1_700_000_000_000_000_001] {
        let clock = ManualClock::new();
        clock.set_nanos(start);
        let config = Config::builder()
            .no_failure_rate()
            .consecutive_failures(1)
            .open_duration(SEC)
            .half_open_max_wait(5 * SEC)
            .slow_start(0.25, 10 * SEC)
            .build()
            .unwrap();
        let b = Breaker::with_clock(config, clock.clone()).unwrap();
        fail(&b);
        clock.advance(SEC);
        let _lost = b.try_acquire().unwrap().into_raw();
        clock.advance(5 * SEC - Duration::from_nanos(1));
        assert_eq!(
            b.try_acquire().unwrap_err().retry_after,
            Some(Duration::from_nanos(1)),
            "start {start}"
        );
        clock.advance_nanos(1);
        b.try_acquire().expect("lease over").success();
        assert_eq!(b.state(), State::Closed);
        // The ramp starts at 25% of calls.
        let admitted = (0..1000).filter(|_| b.try_acquire().is_ok()).count();
        assert!((200..=300).contains(&admitted), "start {start}: {admitted}");
    }
}

#[test]
fn reset_of_a_closed_breaker_publishes_nothing_and_clears_the_window_and_streak() {
    let (b, _) = breaker(
        count_config(10, 5, 0.5)
            .consecutive_failures(5)
            .build()
            .unwrap(),
    );
    let events = record_events(&b);
    fail(&b);
    fail(&b);
    ok(&b);
    fail(&b);
    b.reset();
    let s = b.snapshot();
    assert_eq!(
        (
            s.state,
            s.generation,
            s.transitions,
            s.window_calls,
            s.consecutive_failures
        ),
        (State::Closed, 0, 0, 0, 0)
    );
    assert_eq!(s.calls, 4, "lifetime totals survive");
    assert!(events.lock().unwrap().is_empty());
    // Held open twice: one transition.
    b.force_open();
    b.force_open();
    assert_eq!(events.lock().unwrap().len(), 1);
    assert_eq!(b.snapshot().transitions, 1);
}

#[test]
fn the_failure_streak_counts_outcomes_of_the_current_generation_only() {
    let (b, _) = breaker(
        Config::builder()
            .no_failure_rate()
            .consecutive_failures(3)
            .build()
            .unwrap(),
    );
    // A failure admitted before the trip and recorded after it adds nothing.
    let late = b.try_acquire().unwrap();
    fail(&b);
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Open);
    late.failure(FailureKind::Timeout);
    assert_eq!(
        b.snapshot().consecutive_failures,
        3,
        "the failures that tripped it, and not the late one"
    );
    // Held closed: a late success of an earlier generation does not end the streak.
    let (b, _) = breaker(
        Config::builder()
            .no_failure_rate()
            .consecutive_failures(3)
            .build()
            .unwrap(),
    );
    let late = b.try_acquire().unwrap();
    b.force_closed();
    fail(&b);
    late.success();
    fail(&b);
    assert_eq!(b.snapshot().consecutive_failures, 2);
}

/// A call the breaker runs itself announces Half-Open before its probe runs (as
/// resilience4j, Polly and gobreaker do); a bare permit leaves it queued.
#[test]
fn a_probe_the_breaker_runs_is_announced_before_it_runs() {
    let (b, clock) = tripped(count_config(10, 1, 0.5).build().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    b.add_listener(move |t| s.lock().unwrap().push(t.to));
    clock.advance(10 * SEC);
    let heard_inside = b
        .call(|| Ok::<_, ()>(seen.lock().unwrap().clone()))
        .unwrap();
    assert_eq!(heard_inside, [State::HalfOpen]);
    assert_eq!(*seen.lock().unwrap(), [State::HalfOpen, State::Closed]);

    // The same through `acquire_raw_to_run`, and not through `acquire_raw`.
    b.open();
    clock.advance(60 * SEC);
    let probe = b.acquire_raw().expect("a probe");
    assert_eq!(seen.lock().unwrap().last(), Some(&State::Open));
    b.release_raw(probe).unwrap();
    b.open();
    clock.advance(60 * SEC);
    let probe = b.acquire_raw_to_run().expect("a probe");
    assert_eq!(seen.lock().unwrap().last(), Some(&State::HalfOpen));
    b.record_raw(probe, Outcome::Success, None).unwrap();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn admission_that_wins_open_to_half_open_never_waits_for_a_listener() {
    use std::sync::mpsc;
    let (b, clock) = tripped(count_config(10, 1, 0.5).build().unwrap());
    let b = Arc::new(b);
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let gate_rx = Mutex::new(gate_rx);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    b.add_listener(move |t| {
        if t.to == State::HalfOpen {
            // Blocks until the test opens the gate.
            let _ = gate_rx.lock().unwrap().recv();
        }
        s.lock().unwrap().push((t.to, std::thread::current().id()));
    });
    clock.advance(10 * SEC);
    let (done_tx, done_rx) = mpsc::channel();
    let b2 = b.clone();
    let acquirer = std::thread::spawn(move || {
        let probe = b2.acquire_raw();
        done_tx.send(probe).unwrap();
    });
    // A bound only for the old behaviour, where this never arrives until the gate opens.
    let probe = done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("try_acquire returned while the listener would block")
        .expect("probe");
    assert!(probe.is_probe());
    assert_eq!(b.state(), State::HalfOpen);
    assert!(
        seen.lock().unwrap().is_empty(),
        "no listener ran on admission"
    );
    gate_tx.send(()).unwrap();
    acquirer.join().unwrap();
    // The probe's answer delivers the queued event, then its own, in order, here.
    b.record_raw(probe, Outcome::Success, None)
        .expect("this breaker's probe");
    let here = std::thread::current().id();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(State::HalfOpen, here), (State::Closed, here)]
    );
}

#[test]
fn manual_open_half_open_and_close_behave_as_the_automatic_ones() {
    let (b, clock) = breaker(count_config(10, 1, 0.5).build().unwrap());
    let events = record_events(&b);
    b.open();
    b.open(); // already open: nothing
    assert_eq!(b.retry_after(), Some(10 * SEC));
    clock.advance(10 * SEC);
    let probe = b.try_acquire().expect("open duration over: a probe");
    assert!(probe.is_probe());
    probe.success();
    assert_eq!(b.state(), State::Closed);
    b.open_for(3 * SEC);
    assert_eq!(b.retry_after(), Some(3 * SEC));
    b.open_for(SEC); // a new opening
    assert_eq!(b.retry_after(), Some(SEC));
    let deadline = clock.now_nanos() + 5;
    b.open_until(deadline);
    assert_eq!(b.retry_after(), Some(Duration::from_nanos(5)));
    clock.advance_nanos(5);
    assert!(b.try_acquire().unwrap().is_probe());
    b.close();
    assert_eq!((b.state(), b.snapshot().window_calls), (State::Closed, 0));
    b.half_open();
    assert_eq!(b.state(), State::HalfOpen);
    b.try_acquire().unwrap().failure(FailureKind::Timeout);
    assert_eq!(b.state(), State::Open);
    b.force_open();
    b.half_open();
    b.half_open(); // already half-open: nothing
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    b.close(); // already closed: nothing
    let reasons: Vec<&str> = events
        .lock()
        .unwrap()
        .iter()
        .map(|t| t.reason.name())
        .collect();
    assert_eq!(
        reasons,
        [
            "manual_open",
            "open_elapsed",
            "probes_succeeded",
            "manual_open",
            "manual_open",
            "manual_open",
            "open_elapsed",
            "manual_close",
            "manual_half_open",
            "probe_failed",
            "manual",
            "manual_half_open",
            "probes_succeeded",
        ]
    );
    assert_eq!(Reason::ManualOpen.to_string(), "opened manually");
}

#[test]
fn a_breaker_starts_in_its_initial_state() {
    for state in State::ALL {
        let (b, clock) = breaker(
            count_config(10, 1, 0.5)
                .initial_state(state)
                .build()
                .unwrap(),
        );
        let events = record_events(&b);
        let s = b.snapshot();
        assert_eq!((s.state, s.generation, s.transitions), (state, 0, 0));
        match state {
            State::Open => {
                assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(10 * SEC));
                clock.advance(10 * SEC);
                assert!(b.try_acquire().unwrap().is_probe());
            }
            State::HalfOpen => {
                let p = b.try_acquire().unwrap();
                assert!(p.is_probe());
                p.success();
                assert_eq!(b.state(), State::Closed);
            }
            State::ForcedOpen => assert!(b.try_acquire().is_err()),
            _ => b.try_acquire().unwrap().success(),
        }
        b.dispatch_events();
        assert!(events.lock().unwrap().len() <= 2);
    }
}

#[test]
fn a_slow_failure_counts_as_failed_and_as_slow() {
    let (b, clock) = breaker(
        Config::builder()
            .no_failure_rate()
            .count_window(4)
            .minimum_calls(2)
            .slow_call_rate_threshold(0.5, 100 * MS)
            .build()
            .unwrap(),
    );
    ok(&b);
    // Measured by the breaker: held 100 ms, then failed.
    let p = b.try_acquire().unwrap();
    clock.advance(100 * MS);
    p.failure(FailureKind::Timeout);
    let s = b.snapshot();
    assert_eq!((s.failures, s.slow_calls), (1, 1));
    assert_eq!(s.state, State::Open, "1 slow of 2 calls reaches 50%");
    // Reported by the caller: the same.
    let (b, _) = breaker(count_config(10, 10, 0.9).build().unwrap());
    b.try_acquire()
        .unwrap()
        .record(Outcome::Failure(FailureKind::Other), 5 * SEC);
    assert_eq!(b.snapshot().slow_calls, 1);
}

#[test]
fn a_rejection_carries_the_name_and_the_reason_of_the_last_opening() {
    let (b, clock) = breaker(count_config(4, 2, 0.5).name("inventory").build().unwrap());
    ok(&b);
    fail(&b);
    clock.advance(9 * SEC + 147 * MS);
    let r = b.try_acquire().unwrap_err();
    assert_eq!(&*r.name(), "inventory");
    assert_eq!(
        r.opened_by,
        Some(Reason::FailureRate {
            rate: 0.5,
            threshold: 0.5
        })
    );
    assert_eq!(
        r.to_string(),
        "circuit breaker 'inventory' is open (failure rate 50.0% >= 50.0%): call rejected, \
         retry after 853ms"
    );
    b.open_for(SEC);
    assert_eq!(
        b.try_acquire().unwrap_err().opened_by,
        Some(Reason::ManualOpen)
    );
}

#[test]
fn call_listeners_see_every_outcome_and_rejection_with_its_payload() {
    let (b, clock) = breaker(
        count_config(10, 3, 0.5)
            .slow_call_rate_threshold(1.0, SEC)
            .build()
            .unwrap(),
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let id = b.add_call_listener(move |e| s.lock().unwrap().push(*e));
    let p = b.try_acquire().unwrap();
    clock.advance(3 * MS);
    p.success();
    b.try_acquire().unwrap().record(Outcome::Success, 7 * MS);
    b.try_acquire().unwrap().ignore();
    b.try_acquire()
        .unwrap()
        .record(Outcome::Failure(FailureKind::Timeout), 9 * MS);
    b.try_acquire().unwrap().failure(FailureKind::Connection);
    assert_eq!(b.state(), State::Open);
    assert!(b.try_acquire().is_err());
    let ms = |n| Some(n * MS);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            CallEvent::Success { latency: ms(3) },
            CallEvent::Success { latency: ms(7) },
            CallEvent::Ignored,
            CallEvent::Failure {
                kind: FailureKind::Timeout,
                latency: ms(9)
            },
            CallEvent::Failure {
                kind: FailureKind::Connection,
                latency: ms(0)
            },
            CallEvent::Rejected { state: State::Open },
        ]
    );
    assert!(b.remove_call_listener(id));
    assert!(!b.remove_call_listener(id));
    assert!(b.try_acquire().is_err());
    assert_eq!(seen.lock().unwrap().len(), 6, "removed: nothing more");
    assert_eq!(b.attention.flags.load(Ordering::Relaxed), 0);
}

#[test]
fn a_call_that_outlives_its_timeout_is_recorded_as_a_timeout() {
    let (b, clock) = breaker(
        count_config(10, 10, 0.9)
            .call_timeout(100 * MS)
            .build()
            .unwrap(),
    );
    assert_eq!(
        b.call(|| {
            clock.advance(100 * MS);
            Ok::<_, ()>(1)
        }),
        Ok(1),
        "the result is still returned"
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
fn rule_readings_read_what_the_rules_compare() {
    let (b, _) = breaker(
        count_config(10, 4, 0.5)
            .slow_call_rate_threshold(0.9, 100 * MS)
            .latency_percentile(0.9, 200 * MS)
            .consecutive_failures(5)
            .build()
            .unwrap(),
    );
    let r = b.rule_readings();
    assert_eq!(r.window_calls, 0);
    assert_eq!(r.failure_rate, Some(0.0));
    assert_eq!(r.failure_rate_threshold, Some(0.5));
    b.try_acquire().unwrap().record(Outcome::Success, 150 * MS);
    b.try_acquire().unwrap().record(Outcome::Success, 250 * MS);
    fail(&b);
    let r = b.rule_readings();
    assert_eq!(r.window_calls, 3);
    assert!((r.failure_rate.unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert!((r.slow_call_rate.unwrap() - 2.0 / 3.0).abs() < 1e-9);
    assert!((r.over_limit_rate.unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(r.consecutive_failures, 1);
    // The tripping outcome stays readable: the window restarts on closing, not opening.
    fail(&b);
    assert_eq!(b.state(), State::Open);
    let r = b.rule_readings();
    assert_eq!(r.failure_rate, Some(0.5));
    assert!(r.failure_rate.unwrap() >= r.failure_rate_threshold.unwrap());
    assert_eq!(r.consecutive_failures, 2);
}

#[test]
fn rule_readings_leave_rules_that_are_off() {
    let (b, _) = breaker(
        Config::builder()
            .no_failure_rate()
            .count_window(10)
            .consecutive_failures(3)
            .build()
            .unwrap(),
    );
    fail(&b);
    let r = b.rule_readings();
    assert_eq!(r.failure_rate, None);
    assert_eq!(r.failure_rate_threshold, None);
    assert_eq!(r.slow_call_rate, None);
    assert_eq!(r.over_limit_rate, None);
    assert_eq!((r.window_calls, r.consecutive_failures), (1, 1));
}

#[test]
fn a_reconfiguration_that_renames_the_breaker_renames_its_rejections() {
    let clock = ManualClock::new();
    let config = Config::builder()
        .name("billing")
        .consecutive_failures(1)
        .build()
        .unwrap();
    let b = Breaker::with_clock(config, clock).unwrap();
    b.force_open();
    assert_eq!(&*b.try_acquire().unwrap_err().name(), "billing");
    let mut renamed = (*b.config()).clone();
    renamed.name = "payments".into();
    b.reconfigure(renamed).unwrap();
    let rejected = b.try_acquire().unwrap_err();
    assert_eq!(&*rejected.name(), "payments");
    assert!(rejected.to_string().contains("'payments'"), "{rejected}");
}

#[test]
fn the_options_carry_the_configs_trip_rules_exactly_across_a_reconfiguration() {
    let every_rule = Config::builder()
        .failure_rate_threshold(0.37)
        .slow_call_rate_threshold(0.61, Duration::from_millis(250))
        .latency_percentile(0.999, Duration::from_nanos(1_234_567_891))
        .consecutive_failures(17)
        .minimum_calls(9)
        .anti_thrash(Duration::from_secs(1), Duration::from_secs(2))
        .build()
        .unwrap();
    let (b, _) = breaker(every_rule);
    let rules = b.options.rules();
    assert_eq!(rules.consecutive_limit, Some(17));
    assert_eq!(rules.failure_threshold, Some(0.37));
    assert_eq!(
        rules.rate,
        RateRules {
            slow_call_rate_threshold: Some(0.61),
            latency_percentile: Some((0.999, Duration::from_nanos(1_234_567_891))),
            minimum_calls: 9,
        }
    );
    assert_eq!(rules.config_rules, RULE_ANTI_THRASH);
    // Rules switched off read as none.
    let fewer = Config::builder()
        .no_failure_rate()
        .consecutive_failures(3)
        .build()
        .unwrap();
    b.reconfigure(fewer.clone()).unwrap();
    let rules = b.options.rules();
    assert_eq!(
        (
            rules.consecutive_limit,
            rules.failure_threshold,
            rules.config_rules
        ),
        (Some(3), None, 0)
    );
    assert_eq!(
        rules.rate,
        RateRules {
            slow_call_rate_threshold: fewer.slow_call_rate_threshold,
            latency_percentile: None,
            minimum_calls: fewer.minimum_calls,
        }
    );
}
