//! The read side: a [`Snapshot`] of a breaker's state and figures.

use crate::histogram::LatencySummary;
use crate::outcome::FailureKind;
use crate::state::State;
use serde::Serialize;
use std::time::{Duration, SystemTime};

/// Failures by kind, over the breaker's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FailureCounts {
    /// Timeouts.
    pub timeout: u64,
    /// Connection failures.
    pub connection: u64,
    /// Server errors.
    pub server_error: u64,
    /// Rejections by the dependency.
    pub rejected: u64,
    /// Other failures.
    pub other: u64,
}

impl FailureCounts {
    /// Count for `kind`.
    pub fn get(&self, kind: FailureKind) -> u64 {
        match kind {
            FailureKind::Timeout => self.timeout,
            FailureKind::Connection => self.connection,
            FailureKind::ServerError => self.server_error,
            FailureKind::Rejected => self.rejected,
            FailureKind::Other => self.other,
        }
    }

    /// Sum over every kind.
    pub fn total(&self) -> u64 {
        self.timeout + self.connection + self.server_error + self.rejected + self.other
    }
}

/// The measured durations of calls by kind, summed over the breaker's life: with the
/// call counts by kind, the sum and count of a Prometheus summary (resilience4j's
/// `calls_seconds`). A call is measured when latency is tracked or a `call_timeout` is
/// set (every call then), or when its outcome is recorded with a latency. The sums
/// wrap after 2^64 nanoseconds (584 years of summed call time), which a counter's
/// reader sees as a reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CallDurations {
    /// Summed duration of successful calls.
    pub successful: Duration,
    /// Summed duration of failed calls.
    pub failed: Duration,
    /// Summed duration of calls whose outcome was ignored.
    pub ignored: Duration,
}

/// What each trip rule reads from the window right now: the statistic every enabled
/// rule compares with its threshold, as [`Breaker::rule_readings`](crate::Breaker::rule_readings)
/// reads it. `None` for a rule the config leaves off. Cheaper than a
/// [`Snapshot`]: one pass over the window's counters the rules use, no histogram.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct RuleReadings {
    /// Calls in the window: the rate and percentile rules trip only from
    /// `minimum_calls` on.
    pub window_calls: u64,
    /// Weighted failure rate over the window, when the failure-rate rule is on.
    pub failure_rate: Option<f64>,
    /// The failure-rate threshold in force (adapted when `adaptive_threshold` is set).
    pub failure_rate_threshold: Option<f64>,
    /// Slow-call rate over the window, when the slow-call rule is on.
    pub slow_call_rate: Option<f64>,
    /// Share of the window's calls at or over the latency-percentile rule's limit, when
    /// that rule is on. The rule holds once fewer than `ceil(quantile * calls)` calls
    /// are under the limit, so it never holds below a share of `1 - quantile`.
    pub over_limit_rate: Option<f64>,
    /// Failures in a row among the calls admitted since the last transition (what the
    /// consecutive-failures rule counts).
    pub consecutive_failures: u32,
}

/// A point-in-time reading of a breaker. Totals are over the breaker's life; rates and
/// latencies are over the sliding window. Taken without stopping writers, so figures
/// read a moment apart may disagree by the records in flight.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Current state.
    pub state: State,
    /// Current generation (one per transition).
    pub generation: u32,
    /// Time since the last transition.
    pub time_in_state: Duration,
    /// Transitions so far.
    pub transitions: u64,
    /// Calls recorded as success or failure.
    pub calls: u64,
    /// Successes.
    pub successes: u64,
    /// Failures, all kinds.
    pub failures: u64,
    /// Failures by kind.
    pub failures_by_kind: FailureCounts,
    /// Outcomes recorded as ignored.
    pub ignored: u64,
    /// Slow calls, successes and failures alike.
    pub slow_calls: u64,
    /// Calls rejected by the breaker.
    pub rejected: u64,
    /// Permits dropped without an outcome.
    pub abandoned: u64,
    /// Permits issued and not yet answered, when `track_in_flight` is on.
    pub in_flight: Option<u64>,
    /// Half-open probes in flight.
    pub half_open_probes: u32,
    /// Successful probes so far in the current half-open state (it closes at
    /// `half_open.success_threshold`).
    pub half_open_successes: u32,
    /// Calls in the window.
    pub window_calls: u64,
    /// Weighted failure rate over the window's calls, whatever their number (0 for an
    /// empty window): the rules compare it only from `minimum_calls` on (the Prometheus
    /// gauge says -1 below that, as resilience4j does).
    pub failure_rate: f64,
    /// Slow-call rate over the window's calls, read as `failure_rate` is.
    pub slow_call_rate: f64,
    /// Failures in a row among the calls admitted since the last transition.
    pub consecutive_failures: u32,
    /// Wall time of the last failure.
    pub last_failure: Option<SystemTime>,
    /// How long until a call may be admitted, when calls are being rejected.
    pub retry_after: Option<Duration>,
    /// Consecutive re-trips the open duration is currently grown by.
    pub backoff_level: u32,
    /// Transitions in the last minute, up to 32: a high figure is flapping.
    pub transitions_last_minute: u32,
    /// The failure-rate threshold in force (adapted when `adaptive_threshold` is set).
    pub effective_failure_rate_threshold: Option<f64>,
    /// Latency over the window (nanoseconds), when latency is tracked.
    pub latency: Option<LatencySummary>,
    /// Measured call durations by kind over the breaker's life: `Some` once the
    /// breaker measures its calls or has been given a latency (see [`CallDurations`]).
    pub call_durations: Option<CallDurations>,
    /// Listener calls that panicked (and were caught).
    pub listener_panics: u64,
    /// Transition events never delivered: they found the delivery queue full (a
    /// listener that blocks for long, on a breaker that keeps changing state).
    pub events_dropped: u64,
}
