//! Plain C types: the state and reason enums, the outcome, failure-kind and
//! tier codes, the metrics snapshot and the transition event.
//!
//! Types C only receives (`tg_breaker_state`, `tg_reason`, `tg_status`) are C enums.
//! Codes C passes in (`tg_outcome`, `tg_failure_kind`, `tg_tier`) are `int32_t`
//! typedefs with `#define`d values, so that an out-of-range value is a checked
//! `TG_ERR_INVALID_ARG` rather than undefined behaviour in Rust.

#![allow(non_camel_case_types)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tg_core::{FailureKind, Outcome, Reason, Snapshot, State, Tier, Transition};

/// A breaker's state.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tg_breaker_state {
    /// Calls flow; outcomes are counted and may trip the breaker.
    TG_STATE_CLOSED = 0,
    /// Calls are rejected until the open duration has passed.
    TG_STATE_OPEN = 1,
    /// A bounded number of probes decide between closing and reopening.
    TG_STATE_HALF_OPEN = 2,
    /// Held open by an operator (`tg_force_open`): every call is rejected.
    TG_STATE_FORCED_OPEN = 3,
    /// Held closed by an operator (`tg_force_closed`): calls flow and are counted,
    /// nothing trips.
    TG_STATE_FORCED_CLOSED = 4,
    /// Switched off (`tg_disable`): every call flows, nothing is counted.
    TG_STATE_DISABLED = 5,
    /// Every call flows and is counted, but the breaker never trips (`tg_metrics_only`).
    TG_STATE_METRICS_ONLY = 6,
}

impl From<State> for tg_breaker_state {
    fn from(s: State) -> Self {
        use tg_breaker_state::*;
        match s {
            State::Closed => TG_STATE_CLOSED,
            State::Open => TG_STATE_OPEN,
            State::HalfOpen => TG_STATE_HALF_OPEN,
            State::ForcedOpen => TG_STATE_FORCED_OPEN,
            State::ForcedClosed => TG_STATE_FORCED_CLOSED,
            State::Disabled => TG_STATE_DISABLED,
            State::MetricsOnly => TG_STATE_METRICS_ONLY,
        }
    }
}

/// Why a transition happened.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tg_reason {
    /// The weighted failure rate reached its threshold (`rate`, `threshold`).
    TG_REASON_FAILURE_RATE = 0,
    /// The slow-call rate reached its threshold (`rate`, `threshold`).
    TG_REASON_SLOW_CALL_RATE = 1,
    /// Too many failures in a row (`count`, `limit`).
    TG_REASON_CONSECUTIVE_FAILURES = 2,
    /// A latency quantile reached its limit (`quantile`, `latency_limit_ns`).
    TG_REASON_LATENCY_PERCENTILE = 3,
    /// The open duration passed; the first probe was admitted.
    TG_REASON_OPEN_ELAPSED = 4,
    /// Enough probes succeeded (`count` = successful probes).
    TG_REASON_PROBES_SUCCEEDED = 5,
    /// A probe failed.
    TG_REASON_PROBE_FAILED = 6,
    /// Every probe slot was held past the half-open lease; the slots were reclaimed.
    TG_REASON_PROBE_LEASE_EXPIRED = 7,
    /// An operator call: force, disable, metrics-only or reset.
    TG_REASON_MANUAL = 8,
    /// An operator opened the breaker.
    TG_REASON_MANUAL_OPEN = 9,
    /// An operator moved the breaker to half-open.
    TG_REASON_MANUAL_HALF_OPEN = 10,
    /// An operator closed the breaker.
    TG_REASON_MANUAL_CLOSE = 11,
}

/// The outcome of a guarded call, for `tg_record` and as `tg_call`'s function returns
/// it: one of the `TG_SUCCESS`, `TG_FAILURE_*` and `TG_IGNORED` values.
pub type tg_outcome = i32;
/// The call succeeded (a slow success still counts toward the slow-call rate).
pub const TG_SUCCESS: tg_outcome = 0;
/// The call failed: it did not answer in time.
pub const TG_FAILURE_TIMEOUT: tg_outcome = 1;
/// The call failed: the dependency could not be reached.
pub const TG_FAILURE_CONNECTION: tg_outcome = 2;
/// The call failed: the dependency answered with an error of its own (HTTP 5xx).
pub const TG_FAILURE_SERVER_ERROR: tg_outcome = 3;
/// The call failed: the dependency refused it, shedding load (HTTP 429/503).
pub const TG_FAILURE_REJECTED: tg_outcome = 4;
/// The call failed for another reason.
pub const TG_FAILURE_OTHER: tg_outcome = 5;
/// The call says nothing about the dependency's health (a caller error, a
/// cancellation): counted neither way, resets no streak, frees a half-open slot.
pub const TG_IGNORED: tg_outcome = 6;

/// A kind of failure, for `tg_config_set_failure_weight`: one of the `TG_KIND_*`
/// values.
pub type tg_failure_kind = i32;
/// Timeouts.
pub const TG_KIND_TIMEOUT: tg_failure_kind = 0;
/// Connection failures.
pub const TG_KIND_CONNECTION: tg_failure_kind = 1;
/// Server errors.
pub const TG_KIND_SERVER_ERROR: tg_failure_kind = 2;
/// Rejections by the dependency.
pub const TG_KIND_REJECTED: tg_failure_kind = 3;
/// Other failures.
pub const TG_KIND_OTHER: tg_failure_kind = 4;

/// A preset tier, for `tg_config_new_preset`: one of the `TG_TIER_*` values.
pub type tg_tier = i32;
/// Payments, authentication: 30% failures over at least 20 calls, open 60 s.
pub const TG_TIER_CRITICAL: tg_tier = 0;
/// Search, recommendations: 50% over at least 10 calls, open 30 s (the default).
pub const TG_TIER_STANDARD: tg_tier = 1;
/// Analytics, metrics: 70% over at least 5 calls, open 10 s.
pub const TG_TIER_NON_CRITICAL: tg_tier = 2;

/// The `tg_outcome` values, as an error message names them.
pub(crate) const OUTCOMES_ALLOWED: &str =
    "allowed TG_SUCCESS (0), TG_FAILURE_TIMEOUT (1) ..= TG_FAILURE_OTHER (5), TG_IGNORED (6)";

pub(crate) fn outcome_from(code: tg_outcome) -> Option<Outcome> {
    u8::try_from(code).ok().and_then(Outcome::from_code)
}

pub(crate) fn kind_from(code: tg_failure_kind) -> Option<FailureKind> {
    u8::try_from(code).ok().and_then(FailureKind::from_code)
}

pub(crate) fn tier_from(code: tg_tier) -> Option<Tier> {
    match code {
        TG_TIER_CRITICAL => Some(Tier::Critical),
        TG_TIER_STANDARD => Some(Tier::Standard),
        TG_TIER_NON_CRITICAL => Some(Tier::NonCritical),
        _ => None,
    }
}

/// How the failure-rate threshold adapts, for `tg_config_set_adaptive_threshold`. Each
/// condition that holds multiplies the configured threshold by its factor; the result is
/// clamped to `[min, max]`. `tg_adaptive_threshold_default` fills in the default
/// numbers.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct tg_adaptive_threshold {
    /// Calls in the window at or above which traffic counts as high.
    pub high_volume: u64,
    /// Factor under high traffic (below 1: stricter); 0.0 < f <= 10.0.
    pub high_volume_factor: f64,
    /// Calls in the window at or below which traffic counts as low (at most
    /// `high_volume`).
    pub low_volume: u64,
    /// Factor under low traffic (above 1: more lenient); 0.0 < f <= 10.0.
    pub low_volume_factor: f64,
    /// Successes in a row that count as a success streak.
    pub success_streak: u64,
    /// Factor after a success streak; 0.0 < f <= 10.0.
    pub success_streak_factor: f64,
    /// Failures in a row that count as a failure streak.
    pub failure_streak: u32,
    /// Factor during a failure streak; 0.0 < f <= 10.0.
    pub failure_streak_factor: f64,
    /// Lowest effective threshold, 0.0..=1.0.
    pub min: f64,
    /// Highest effective threshold, min..=1.0.
    pub max: f64,
}

impl From<tg_core::AdaptiveThreshold> for tg_adaptive_threshold {
    fn from(a: tg_core::AdaptiveThreshold) -> Self {
        tg_adaptive_threshold {
            high_volume: a.high_volume,
            high_volume_factor: a.high_volume_factor,
            low_volume: a.low_volume,
            low_volume_factor: a.low_volume_factor,
            success_streak: a.success_streak,
            success_streak_factor: a.success_streak_factor,
            failure_streak: a.failure_streak,
            failure_streak_factor: a.failure_streak_factor,
            min: a.min,
            max: a.max,
        }
    }
}

impl From<tg_adaptive_threshold> for tg_core::AdaptiveThreshold {
    fn from(a: tg_adaptive_threshold) -> Self {
        tg_core::AdaptiveThreshold {
            high_volume: a.high_volume,
            high_volume_factor: a.high_volume_factor,
            low_volume: a.low_volume,
            low_volume_factor: a.low_volume_factor,
            success_streak: a.success_streak,
            success_streak_factor: a.success_streak_factor,
            failure_streak: a.failure_streak,
            failure_streak_factor: a.failure_streak_factor,
            min: a.min,
            max: a.max,
        }
    }
}

/// Latency over the window, in nanoseconds.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct tg_latency {
    /// Calls the figures are drawn from.
    pub count: u64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 95th percentile.
    pub p95_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Mean.
    pub mean_ns: u64,
    /// Largest.
    pub max_ns: u64,
}

/// A point-in-time reading of a breaker, filled by `tg_snapshot`: every figure of the
/// Rust `Snapshot`. Totals are over the breaker's life; rates and latencies are over
/// the sliding window. An optional figure comes with a `has_` flag; when the flag is
/// false the figure is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct tg_metrics {
    /// Current state.
    pub state: tg_breaker_state,
    /// Current generation (one per transition).
    pub generation: u32,
    /// Time since the last transition, in nanoseconds.
    pub time_in_state_ns: u64,
    /// Transitions so far.
    pub transitions: u64,
    /// Calls recorded as success or failure.
    pub calls: u64,
    /// Successes.
    pub successes: u64,
    /// Failures, all kinds.
    pub failures: u64,
    /// Failures of kind timeout.
    pub failures_timeout: u64,
    /// Failures of kind connection.
    pub failures_connection: u64,
    /// Failures of kind server error.
    pub failures_server_error: u64,
    /// Failures of kind rejected (by the dependency).
    pub failures_rejected: u64,
    /// Failures of kind other.
    pub failures_other: u64,
    /// Outcomes recorded as ignored.
    pub ignored: u64,
    /// Slow successes.
    pub slow_calls: u64,
    /// Calls rejected by the breaker.
    pub rejected: u64,
    /// Permits released without an outcome (`tg_release`).
    pub abandoned: u64,
    /// Whether `in_flight` is tracked (config `track_in_flight`).
    pub has_in_flight: bool,
    /// Permits issued and not yet answered.
    pub in_flight: u64,
    /// Half-open probes in flight.
    pub half_open_probes: u32,
    /// Failures in a row, up to now.
    pub consecutive_failures: u32,
    /// Calls in the window.
    pub window_calls: u64,
    /// Weighted failure rate over the window, in [0, 1].
    pub failure_rate: f64,
    /// Slow-call rate over the window, in [0, 1].
    pub slow_call_rate: f64,
    /// Whether a failure was ever recorded.
    pub has_last_failure: bool,
    /// Wall time of the last failure, in nanoseconds since the Unix epoch (a manual
    /// clock's wall time is its reading since the epoch).
    pub last_failure_unix_ns: u64,
    /// Whether calls are being rejected with a known wait.
    pub has_retry_after: bool,
    /// How long until a call may be admitted, in nanoseconds.
    pub retry_after_ns: u64,
    /// Consecutive re-trips the open duration is currently grown by.
    pub backoff_level: u32,
    /// Transitions in the last minute: a high figure is flapping.
    pub transitions_last_minute: u32,
    /// Whether a failure-rate rule is configured (and
    /// `effective_failure_rate_threshold` filled).
    pub has_effective_failure_rate_threshold: bool,
    /// The failure-rate threshold in force (adapted when an adaptive threshold is set).
    pub effective_failure_rate_threshold: f64,
    /// Whether latency is tracked (and `latency` filled).
    pub has_latency: bool,
    /// Latency percentiles over the window.
    pub latency: tg_latency,
    /// Listener calls that panicked (and were caught).
    pub listener_panics: u64,
    /// Successful probes so far in the current half-open state (it closes at
    /// `half_open.success_threshold`); 0 in any other state.
    pub half_open_successes: u32,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, nanos)
}

impl From<&Snapshot> for tg_metrics {
    fn from(s: &Snapshot) -> Self {
        let k = &s.failures_by_kind;
        let latency = s.latency.map(|l| tg_latency {
            count: l.count,
            p50_ns: l.p50,
            p90_ns: l.p90,
            p95_ns: l.p95,
            p99_ns: l.p99,
            p999_ns: l.p999,
            mean_ns: l.mean,
            max_ns: l.max,
        });
        tg_metrics {
            state: s.state.into(),
            generation: s.generation,
            time_in_state_ns: nanos(s.time_in_state),
            transitions: s.transitions,
            calls: s.calls,
            successes: s.successes,
            failures: s.failures,
            failures_timeout: k.timeout,
            failures_connection: k.connection,
            failures_server_error: k.server_error,
            failures_rejected: k.rejected,
            failures_other: k.other,
            ignored: s.ignored,
            slow_calls: s.slow_calls,
            rejected: s.rejected,
            abandoned: s.abandoned,
            has_in_flight: s.in_flight.is_some(),
            in_flight: s.in_flight.unwrap_or(0),
            half_open_probes: s.half_open_probes,
            consecutive_failures: s.consecutive_failures,
            window_calls: s.window_calls,
            failure_rate: s.failure_rate,
            slow_call_rate: s.slow_call_rate,
            has_last_failure: s.last_failure.is_some(),
            last_failure_unix_ns: s.last_failure.map_or(0, unix_nanos),
            has_retry_after: s.retry_after.is_some(),
            retry_after_ns: s.retry_after.map_or(0, nanos),
            backoff_level: s.backoff_level,
            transitions_last_minute: s.transitions_last_minute,
            has_effective_failure_rate_threshold: s.effective_failure_rate_threshold.is_some(),
            effective_failure_rate_threshold: s.effective_failure_rate_threshold.unwrap_or(0.0),
            has_latency: latency.is_some(),
            latency: latency.unwrap_or_default(),
            listener_panics: s.listener_panics,
            half_open_successes: s.half_open_successes,
        }
    }
}

/// One transition, as a listener sees it. The detail fields that do not apply to
/// `reason` are 0.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct tg_transition {
    /// State before.
    pub from: tg_breaker_state,
    /// State after.
    pub to: tg_breaker_state,
    /// Why.
    pub reason: tg_reason,
    /// Generation of the new state.
    pub generation: u32,
    /// Monotonic time of the transition on the breaker's clock, in nanoseconds.
    pub at_ns: u64,
    /// Wall time of the transition, in nanoseconds since the Unix epoch.
    pub at_unix_ns: u64,
    /// Whether `open_for_ns` applies (a transition to open).
    pub has_open_for: bool,
    /// How long the breaker stays open (jitter included), in nanoseconds.
    pub open_for_ns: u64,
    /// `TG_REASON_FAILURE_RATE`, `TG_REASON_SLOW_CALL_RATE`: the rate over the window.
    pub rate: f64,
    /// `TG_REASON_FAILURE_RATE`, `TG_REASON_SLOW_CALL_RATE`: the configured threshold.
    pub threshold: f64,
    /// `TG_REASON_CONSECUTIVE_FAILURES`: failures in a row;
    /// `TG_REASON_PROBES_SUCCEEDED`: successful probes.
    pub count: u32,
    /// `TG_REASON_CONSECUTIVE_FAILURES`: the configured limit.
    pub limit: u32,
    /// `TG_REASON_LATENCY_PERCENTILE`: the quantile (0.99 for p99).
    pub quantile: f64,
    /// `TG_REASON_LATENCY_PERCENTILE`: the configured latency limit, in nanoseconds.
    pub latency_limit_ns: u64,
}

impl From<&Transition> for tg_transition {
    fn from(t: &Transition) -> Self {
        use tg_reason::*;
        let mut out = tg_transition {
            from: t.from.into(),
            to: t.to.into(),
            reason: TG_REASON_MANUAL,
            generation: t.generation,
            at_ns: t.at_nanos,
            at_unix_ns: unix_nanos(t.at),
            has_open_for: t.open_for.is_some(),
            open_for_ns: t.open_for.map_or(0, nanos),
            rate: 0.0,
            threshold: 0.0,
            count: 0,
            limit: 0,
            quantile: 0.0,
            latency_limit_ns: 0,
        };
        out.reason = match t.reason {
            Reason::FailureRate { rate, threshold } => {
                (out.rate, out.threshold) = (rate, threshold);
                TG_REASON_FAILURE_RATE
            }
            Reason::SlowCallRate { rate, threshold } => {
                (out.rate, out.threshold) = (rate, threshold);
                TG_REASON_SLOW_CALL_RATE
            }
            Reason::ConsecutiveFailures { count, limit } => {
                (out.count, out.limit) = (count, limit);
                TG_REASON_CONSECUTIVE_FAILURES
            }
            Reason::LatencyPercentile { quantile, limit } => {
                (out.quantile, out.latency_limit_ns) = (quantile, nanos(limit));
                TG_REASON_LATENCY_PERCENTILE
            }
            Reason::OpenElapsed => TG_REASON_OPEN_ELAPSED,
            Reason::ProbesSucceeded { successes } => {
                out.count = successes;
                TG_REASON_PROBES_SUCCEEDED
            }
            Reason::ProbeFailed => TG_REASON_PROBE_FAILED,
            Reason::ProbeLeaseExpired => TG_REASON_PROBE_LEASE_EXPIRED,
            Reason::Manual => TG_REASON_MANUAL,
            Reason::ManualOpen => TG_REASON_MANUAL_OPEN,
            Reason::ManualHalfOpen => TG_REASON_MANUAL_HALF_OPEN,
            Reason::ManualClose => TG_REASON_MANUAL_CLOSE,
        };
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Every C constant equals core's code, and every core variant has a C constant
    /// (the `From` matches are exhaustive; these loops check the numbers).
    #[test]
    fn c_constants_equal_core_codes() {
        for s in State::ALL {
            assert_eq!(tg_breaker_state::from(s) as i32, i32::from(s.code()), "{s}");
        }
        let reasons = [
            Reason::FailureRate {
                rate: 0.5,
                threshold: 0.5,
            },
            Reason::SlowCallRate {
                rate: 0.5,
                threshold: 0.5,
            },
            Reason::ConsecutiveFailures { count: 1, limit: 1 },
            Reason::LatencyPercentile {
                quantile: 0.99,
                limit: Duration::from_secs(1),
            },
            Reason::OpenElapsed,
            Reason::ProbesSucceeded { successes: 1 },
            Reason::ProbeFailed,
            Reason::ProbeLeaseExpired,
            Reason::Manual,
            Reason::ManualOpen,
            Reason::ManualHalfOpen,
            Reason::ManualClose,
        ];
        assert_eq!(reasons.len(), Reason::NAMES.len());
        for r in reasons {
            let t = Transition {
                from: State::Closed,
                to: State::Open,
                reason: r,
                generation: 1,
                at_nanos: 0,
                at: SystemTime::UNIX_EPOCH,
                open_for: None,
            };
            assert_eq!(
                tg_transition::from(&t).reason as i32,
                i32::from(r.code()),
                "{}",
                r.name()
            );
        }
        let kinds = [
            (TG_KIND_TIMEOUT, TG_FAILURE_TIMEOUT, FailureKind::Timeout),
            (
                TG_KIND_CONNECTION,
                TG_FAILURE_CONNECTION,
                FailureKind::Connection,
            ),
            (
                TG_KIND_SERVER_ERROR,
                TG_FAILURE_SERVER_ERROR,
                FailureKind::ServerError,
            ),
            (TG_KIND_REJECTED, TG_FAILURE_REJECTED, FailureKind::Rejected),
            (TG_KIND_OTHER, TG_FAILURE_OTHER, FailureKind::Other),
        ];
        assert_eq!(kinds.len(), FailureKind::ALL.len());
        for (kind, outcome, k) in kinds {
            assert_eq!(kind, i32::from(k.code()));
            assert_eq!(outcome, i32::from(Outcome::Failure(k).code()));
            assert_eq!(kind_from(kind), Some(k));
            assert_eq!(outcome_from(outcome), Some(Outcome::Failure(k)));
        }
        assert_eq!(TG_SUCCESS, i32::from(Outcome::Success.code()));
        assert_eq!(TG_IGNORED, i32::from(Outcome::Ignored.code()));
        assert_eq!(outcome_from(TG_SUCCESS), Some(Outcome::Success));
        assert_eq!(outcome_from(TG_IGNORED), Some(Outcome::Ignored));
        assert_eq!(outcome_from(7), None);
        assert_eq!(outcome_from(-1), None);
    }
}
