//! [`ConfigBuilder`]: a [`Config`] set up call by call, validated at the end.

use super::{
    AdaptiveThreshold, AntiThrash, Config, ConfigError, PercentileRule, Quantile, SlowStart, Tier,
    WindowConfig,
};
use crate::outcome::FailureKind;
use std::time::Duration;

impl Config {
    /// A builder starting from the standard tier.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config::default(),
        }
    }

    /// A builder starting from this config.
    pub fn to_builder(&self) -> ConfigBuilder {
        ConfigBuilder {
            config: self.clone(),
        }
    }
}

/// Builds a [`Config`]; [`build`](ConfigBuilder::build) validates it.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
}

impl ConfigBuilder {
    /// Starts from a tier preset.
    pub fn from_tier(tier: Tier) -> Self {
        ConfigBuilder {
            config: Config::preset(tier),
        }
    }

    /// A count-based window of the last `size` calls, one bucket per call.
    pub fn count_window(mut self, size: u32) -> Self {
        self.config.window = WindowConfig::Count {
            size,
            buckets: None,
        };
        self
    }

    /// A count-based window of `size` calls in `buckets` buckets.
    pub fn count_window_buckets(mut self, size: u32, buckets: u32) -> Self {
        self.config.window = WindowConfig::Count {
            size,
            buckets: Some(buckets),
        };
        self
    }

    /// A time-based window of `duration` in `buckets` buckets.
    pub fn time_window(mut self, duration: Duration, buckets: u32) -> Self {
        self.config.window = WindowConfig::Time {
            duration,
            buckets: Some(buckets),
        };
        self
    }

    /// Calls needed in the window before a rate or percentile rule may trip.
    pub fn minimum_calls(mut self, n: u32) -> Self {
        self.config.minimum_calls = n;
        self
    }

    /// Trip at this weighted failure rate or above.
    pub fn failure_rate_threshold(mut self, rate: f64) -> Self {
        self.config.failure_rate_threshold = Some(rate);
        self
    }

    /// No failure-rate rule.
    pub fn no_failure_rate(mut self) -> Self {
        self.config.failure_rate_threshold = None;
        self
    }

    /// Trip at this slow-call rate or above; a success taking `slow` or longer is slow.
    pub fn slow_call_rate_threshold(mut self, rate: f64, slow: Duration) -> Self {
        self.config.slow_call_rate_threshold = Some(rate);
        self.config.slow_call_duration = slow;
        self
    }

    /// Trip after `n` failures in a row.
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.config.consecutive_failures = Some(n);
        self
    }

    /// Trip when `quantile` of the window's latencies is `limit` or more.
    pub fn latency_percentile(mut self, quantile: f64, limit: Duration) -> Self {
        self.config.latency_percentile = Some(PercentileRule {
            quantile: Quantile(quantile),
            limit,
        });
        self
    }

    /// Weight of one failure kind.
    pub fn failure_weight(mut self, kind: FailureKind, weight: f64) -> Self {
        self.config.failure_weights.set(kind, weight);
        self
    }

    /// Base open duration (and the cap, if the cap was below it).
    pub fn open_duration(mut self, d: Duration) -> Self {
        self.config.open.set_duration(d);
        self
    }

    /// Exponential backoff of the open duration: factor per re-trip and cap.
    pub fn backoff(mut self, multiplier: f64, max_duration: Duration) -> Self {
        self.config.open.multiplier = multiplier;
        self.config.open.max_duration = max_duration;
        self
    }

    /// Random extra fraction added to each open duration.
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.config.open.jitter = fraction;
        self
    }

    /// Healthy closed time that takes the backoff one step down.
    pub fn backoff_decay(mut self, after: Duration) -> Self {
        self.config.open.decay_after = after;
        self
    }

    /// Probe slots in half-open.
    pub fn half_open_permits(mut self, n: u32) -> Self {
        self.config.half_open.permits = n;
        self
    }

    /// Successful probes needed to close.
    pub fn half_open_success_threshold(mut self, n: u32) -> Self {
        self.config.half_open.success_threshold = n;
        self
    }

    /// Lease after which unreported probes are written off.
    pub fn half_open_max_wait(mut self, d: Duration) -> Self {
        self.config.half_open.max_wait = d;
        self
    }

    /// Slow start after closing.
    pub fn slow_start(mut self, initial_fraction: f64, duration: Duration) -> Self {
        self.config.slow_start = Some(SlowStart {
            initial_fraction,
            duration,
        });
        self
    }

    /// Whether to time calls and keep a latency histogram.
    pub fn track_latency(mut self, on: bool) -> Self {
        self.config.track_latency = on;
        self
    }

    /// Histogram precision in bits (relative error `2^-bits`).
    pub fn histogram_precision(mut self, bits: u8) -> Self {
        self.config.histogram_precision = bits;
        self
    }

    /// Whether to count calls in flight.
    pub fn track_in_flight(mut self, on: bool) -> Self {
        self.config.track_in_flight = on;
        self
    }

    /// Seed for the jitter generator (for reproducible simulations).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// Let the failure-rate threshold adapt to volume and streaks.
    pub fn adaptive_threshold(mut self, adaptive: AdaptiveThreshold) -> Self {
        self.config.adaptive_threshold = Some(adaptive);
        self
    }

    /// Minimum closed time after recovering, and minimum open time.
    pub fn anti_thrash(mut self, min_closed: Duration, min_open: Duration) -> Self {
        self.config.anti_thrash = Some(AntiThrash {
            min_closed,
            min_open,
        });
        self
    }

    /// The state a new breaker starts in.
    pub fn initial_state(mut self, state: crate::State) -> Self {
        self.config.initial_state = state;
        self
    }

    /// Calls the breaker runs itself time out after `timeout` (a timeout failure).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.config.call_timeout = Some(timeout);
        self
    }

    /// The breaker's name, for rejections and reports.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Returns the config without validating it ([`Breaker::new`](crate::Breaker::new)
    /// and [`reconfigure`](crate::Breaker::reconfigure) validate).
    pub fn build_unchecked(self) -> Config {
        self.config
    }

    /// Validates and returns the config.
    pub fn build(self) -> Result<Config, ConfigError> {
        self.config.validate()?;
        Ok(self.config)
    }
}
