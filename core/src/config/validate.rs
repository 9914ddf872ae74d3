//! Validation: every field checked against its allowed range, and what a running
//! breaker can take live. Every error names the field (a dotted path), the value and
//! the allowed range.

use super::{
    Config, ConfigError, WindowConfig, MAX_BUCKETS, MAX_DURATION, MAX_FAILURE_WEIGHT,
    MAX_HALF_OPEN_PERMITS, MAX_NAME_LEN, MAX_WINDOW_SIZE,
};
use crate::outcome::FailureKind;
use std::fmt;
use std::time::Duration;

impl Config {
    /// Whether a running breaker built with this config can take `new` live (see
    /// [`Breaker::reconfigure`](crate::Breaker::reconfigure)): the window no larger
    /// than the one built (in buckets), time-based only if that one was, latency
    /// tracking not switched on, and the histogram precision unchanged. `new` itself is
    /// not validated here. The error names the field and what a running breaker allows.
    pub fn check_live_change(&self, new: &Config) -> Result<(), ConfigError> {
        LiveLimits::of(self).check(new)
    }

    /// Checks every field; returns the first error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.validate_all().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Checks every field; returns every error, in field order.
    pub fn validate_all(&self) -> Vec<ConfigError> {
        let mut v = Validator::default();
        match self.window {
            WindowConfig::Count { size, buckets } => {
                v.range_u("window.size", size as u64, 1, MAX_WINDOW_SIZE as u64);
                let b = buckets.unwrap_or(size);
                v.range_u("window.buckets", b as u64, 1, MAX_BUCKETS as u64);
                if b != 0 && size != 0 && size % b != 0 {
                    v.push(
                        "window.buckets",
                        b,
                        format!("a divisor of window.size ({size})"),
                    );
                }
            }
            WindowConfig::Time { duration, buckets } => {
                v.duration("window.duration", duration, Duration::from_millis(1));
                let b = buckets.unwrap_or(10);
                v.range_u("window.buckets", b as u64, 1, MAX_BUCKETS as u64);
                if b != 0 && duration / b < Duration::from_millis(1) {
                    v.push(
                        "window.buckets",
                        b,
                        format!(
                            "1..={} for window.duration {} (each bucket at least 1ms)",
                            (duration.as_millis() as u64).clamp(1, MAX_BUCKETS as u64),
                            humantime::format_duration(duration)
                        ),
                    );
                } else if b != 0 && duration.as_nanos() % b as u128 != 0 {
                    v.push(
                        "window.buckets",
                        b,
                        format!(
                            "a number of buckets that divides window.duration ({}) into whole nanoseconds",
                            humantime::format_duration(duration)
                        ),
                    );
                }
            }
        }
        v.range_u("minimum_calls", self.minimum_calls as u64, 1, 1_000_000_000);
        // The rules `minimum_calls` gates. Without any, the minimum gates nothing and
        // any value is harmless (a consecutive-failures breaker on a one-call window).
        let gated = self.failure_rate_threshold.is_some()
            || self.slow_call_rate_threshold.is_some()
            || self.latency_percentile.is_some();
        if let WindowConfig::Count { size, .. } = self.window {
            // A count window never holds more than `size` calls: a larger minimum would
            // keep every gated rule silent forever. Refused rather than capped, so the
            // config says what the breaker does.
            if gated && size >= 1 && self.minimum_calls > size {
                v.push(
                    "minimum_calls",
                    self.minimum_calls,
                    format!("1..={size} (at most window.size: a count window holds no more calls)"),
                );
            }
        }
        if let Some(t) = self.failure_rate_threshold {
            v.rate("failure_rate_threshold", t);
        }
        if let Some(t) = self.slow_call_rate_threshold {
            v.rate("slow_call_rate_threshold", t);
        }
        v.duration(
            "slow_call_duration",
            self.slow_call_duration,
            Duration::from_nanos(1),
        );
        if let Some(n) = self.consecutive_failures {
            v.range_u("consecutive_failures", n as u64, 1, 1_000_000_000);
        }
        if let Some(p) = self.latency_percentile {
            let q = p.quantile.0;
            if !(q > 0.0 && q < 1.0) {
                v.push(
                    "latency_percentile.quantile",
                    q,
                    "0.0 < q < 1.0 (p99 is 0.99)",
                );
            }
            v.duration("latency_percentile.limit", p.limit, Duration::from_nanos(1));
        }
        for kind in FailureKind::ALL {
            let w = self.failure_weights.get(kind);
            if !(0.0..=MAX_FAILURE_WEIGHT).contains(&w) {
                v.push(format!("failure_weights.{}", kind.name()), w, "0.0..=100.0");
            }
        }
        v.duration(
            "open.duration",
            self.open.duration,
            Duration::from_micros(1),
        );
        let m = self.open.multiplier;
        if !(1.0..=100.0).contains(&m) {
            v.push("open.multiplier", m, "1.0..=100.0");
        }
        v.duration(
            "open.max_duration",
            self.open.max_duration,
            Duration::from_micros(1),
        );
        if self.open.max_duration < self.open.duration {
            v.push(
                "open.max_duration",
                humantime::format_duration(self.open.max_duration),
                format!(
                    "at least open.duration ({})",
                    humantime::format_duration(self.open.duration)
                ),
            );
        }
        v.unit("open.jitter", self.open.jitter);
        v.duration(
            "open.decay_after",
            self.open.decay_after,
            Duration::from_millis(1),
        );
        v.range_u(
            "half_open.permits",
            self.half_open.permits as u64,
            1,
            MAX_HALF_OPEN_PERMITS as u64,
        );
        v.range_u(
            "half_open.success_threshold",
            self.half_open.success_threshold as u64,
            1,
            MAX_HALF_OPEN_PERMITS as u64,
        );
        v.duration(
            "half_open.max_wait",
            self.half_open.max_wait,
            Duration::from_millis(1),
        );
        if let Some(s) = self.slow_start {
            let f = s.initial_fraction;
            if !(f > 0.0 && f <= 1.0) {
                v.push("slow_start.initial_fraction", f, "0.0 < f <= 1.0");
            }
            v.duration("slow_start.duration", s.duration, Duration::from_millis(1));
        }
        v.range_u("histogram_precision", self.histogram_precision as u64, 2, 7);
        if let Some(seed) = self.seed {
            // TOML integers are signed 64-bit: a larger seed could not be written back.
            v.range_u("seed", seed, 0, i64::MAX as u64);
        }
        if let Some(a) = &self.adaptive_threshold {
            if self.failure_rate_threshold.is_none() {
                v.push(
                    "adaptive_threshold",
                    "set",
                    "only with failure_rate_threshold (it adapts that threshold)",
                );
            }
            a.validate(&mut |field, value, allowed| v.push(field, value, allowed));
        }
        if let Some(t) = self.anti_thrash {
            if t.min_closed > MAX_DURATION {
                v.duration("anti_thrash.min_closed", t.min_closed, Duration::ZERO);
            }
            if t.min_open > MAX_DURATION {
                v.duration("anti_thrash.min_open", t.min_open, Duration::ZERO);
            }
        }
        if let Some(t) = self.call_timeout {
            v.duration("call_timeout", t, Duration::from_micros(1));
        }
        if self.name.len() > MAX_NAME_LEN {
            v.push(
                "name",
                format!("{} bytes", self.name.len()),
                format!("at most {MAX_NAME_LEN} bytes"),
            );
        }
        v.errors
    }
}

#[derive(Default)]
struct Validator {
    errors: Vec<ConfigError>,
}

impl Validator {
    fn push(
        &mut self,
        field: impl Into<String>,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) {
        self.errors.push(ConfigError::Invalid {
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        });
    }

    fn range_u(&mut self, field: &str, value: u64, lo: u64, hi: u64) {
        if !(lo..=hi).contains(&value) {
            self.push(field, value, format!("{lo}..={hi}"));
        }
    }

    /// A rate threshold: 0 would trip on the first call of every window, whatever
    /// its outcome, so it is refused.
    fn rate(&mut self, field: &str, value: f64) {
        if !(value > 0.0 && value <= 1.0) {
            self.push(field, value, "0.0 < t <= 1.0");
        }
    }

    fn unit(&mut self, field: &str, value: f64) {
        if !(0.0..=1.0).contains(&value) {
            self.push(field, value, "0.0..=1.0");
        }
    }

    fn duration(&mut self, field: &str, value: Duration, min: Duration) {
        if value < min || value > MAX_DURATION {
            self.push(
                field,
                humantime::format_duration(value),
                format!(
                    "{}..={}",
                    humantime::format_duration(min),
                    humantime::format_duration(MAX_DURATION)
                ),
            );
        }
    }
}

/// What a running breaker can take live: fixed by the memory it was built with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LiveLimits {
    /// Window buckets built: the most the window can hold.
    pub(crate) buckets: u32,
    /// Built time-based: a count-built window keeps no call counters per bucket.
    pub(crate) time_based: bool,
    /// The histogram precision, if built with latency tracking.
    pub(crate) histogram_precision: Option<u8>,
}

impl LiveLimits {
    fn of(built: &Config) -> LiveLimits {
        LiveLimits {
            buckets: built.window.buckets(),
            time_based: matches!(built.window, WindowConfig::Time { .. }),
            histogram_precision: built.latency_tracked().then_some(built.histogram_precision),
        }
    }

    /// `Ok` if a breaker built within these limits can take `new` live.
    pub(crate) fn check(&self, new: &Config) -> Result<(), ConfigError> {
        let buckets = new.window.buckets();
        if buckets > self.buckets {
            return Err(ConfigError::invalid(
                "window.buckets",
                buckets,
                format!(
                    "1..={} on a running breaker (the buckets it was built with)",
                    self.buckets
                ),
            ));
        }
        if matches!(new.window, WindowConfig::Time { .. }) && !self.time_based {
            return Err(ConfigError::invalid(
                "window.kind",
                "time",
                "count on a running breaker built with a count window (it keeps no call counters per bucket)",
            ));
        }
        match self.histogram_precision {
            None if new.latency_tracked() => Err(ConfigError::invalid(
                "track_latency",
                true,
                "false on a breaker built without latency tracking (no slow-call or percentile rule either)",
            )),
            Some(p) if new.histogram_precision != p => Err(ConfigError::invalid(
                "histogram_precision",
                new.histogram_precision,
                format!("{p} on a running breaker (its histogram layout)"),
            )),
            _ => Ok(()),
        }
    }
}
