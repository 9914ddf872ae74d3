//! The trip rules: what the rate and percentile rules make of a window (`>=` everywhere,
//! each gated by `minimum_calls`), and the adaptive failure-rate threshold.

pub(crate) mod adaptive;

use crate::events::Reason;
use crate::window::{Sums, WEIGHT_SCALE};
use std::time::Duration;

/// What the rate and percentile rules make of a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Verdict {
    pub(crate) trip: Option<Reason>,
    /// A rule holds but the window has fewer than `minimum_calls` calls: the next
    /// success must re-check (it may bring the window to the minimum).
    pub(crate) waiting_for_minimum: bool,
}

/// What the slow-call and percentile rules and the `minimum_calls` gate read of the
/// config, as a plain value (the breaker keeps it among its options, so an evaluation
/// loads no config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RateRules {
    pub(crate) slow_call_rate_threshold: Option<f64>,
    /// The quantile and its limit.
    pub(crate) latency_percentile: Option<(f64, Duration)>,
    pub(crate) minimum_calls: u32,
}

/// The rate and percentile rules, in one place: `>=` everywhere, each gated by
/// `minimum_calls`.
pub(crate) fn verdict(rules: &RateRules, failure_threshold: Option<f64>, s: &Sums) -> Verdict {
    let mut reason = None;
    if let Some(t) = failure_threshold {
        // No failure, no failure-rate trip, whatever the threshold (an adaptive one
        // can shrink towards zero); `Window::may_trip` relies on it.
        if s.weighted_failures > 0
            && reaches(
                s.weighted_failures as f64,
                t * (s.calls * WEIGHT_SCALE) as f64,
            )
        {
            reason = Some(Reason::FailureRate {
                rate: s.failure_rate(),
                threshold: t,
            });
        }
    }
    if reason.is_none() {
        if let Some(t) = rules.slow_call_rate_threshold {
            if reaches(s.slow as f64, t * s.calls as f64) {
                reason = Some(Reason::SlowCallRate {
                    rate: s.slow_rate(),
                    threshold: t,
                });
            }
        }
    }
    if reason.is_none() {
        if let Some((quantile, limit)) = rules.latency_percentile {
            // quantile q >= limit  <=>  fewer than ceil(q * n) calls are under the limit.
            let rank = (quantile * s.calls as f64).ceil() as u64;
            if s.calls > 0 && s.calls - s.over_limit < rank.max(1) {
                reason = Some(Reason::LatencyPercentile { quantile, limit });
            }
        }
    }
    let gated = s.calls < rules.minimum_calls as u64;
    Verdict {
        trip: if gated { None } else { reason },
        waiting_for_minimum: gated && reason.is_some(),
    }
}

/// `value >= target`, forgiving the last bits of floating-point rounding so that a
/// rate exactly at its threshold trips.
pub(crate) fn reaches(value: f64, target: f64) -> bool {
    value >= target - target.abs() * 1e-12
}
