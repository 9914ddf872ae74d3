//! The configuration types: [`Config`] and its parts, and the limits they are checked
//! against.

pub use crate::adaptive::AdaptiveThreshold;
use crate::outcome::FailureKind;
use crate::state::State;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// Most buckets a window may have.
pub const MAX_BUCKETS: u32 = 4096;
/// Largest count-based window.
pub const MAX_WINDOW_SIZE: u32 = 1_000_000;
/// Most half-open probe slots (the width of the field in the state word).
pub const MAX_HALF_OPEN_PERMITS: u32 = 4095;
/// Largest failure weight.
pub const MAX_FAILURE_WEIGHT: f64 = 100.0;
/// Longest duration any option accepts: 30 days.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// The sliding window over which rates and percentiles are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowConfig {
    /// The last `size` calls, in `buckets` buckets of `size / buckets` calls each. With
    /// `buckets == size` (the default) the window is exactly the last `size` calls; with
    /// fewer buckets it holds between `size - size / buckets + 1` and `size` calls.
    Count {
        /// Calls in the window.
        size: u32,
        /// Buckets; must divide `size`. Defaults to `size`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        buckets: Option<u32>,
    },
    /// The last `duration`, in `buckets` buckets of `duration / buckets` each.
    Time {
        /// Span of the window.
        #[serde(with = "humantime_serde")]
        duration: Duration,
        /// Buckets; must divide `duration` exactly. Defaults to 10.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        buckets: Option<u32>,
    },
}

impl WindowConfig {
    /// The number of buckets, with the default filled in.
    pub fn buckets(&self) -> u32 {
        match *self {
            WindowConfig::Count { size, buckets } => buckets.unwrap_or(size),
            WindowConfig::Time { buckets, .. } => buckets.unwrap_or(10),
        }
    }

    /// Whether this is a time-based window.
    pub fn is_time(&self) -> bool {
        matches!(self, WindowConfig::Time { .. })
    }
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig::Time {
            duration: Duration::from_secs(30),
            buckets: Some(10),
        }
    }
}

/// A quantile such as p99, written `0.99` or `"p99"` in config files.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantile(pub f64);

impl Serialize for Quantile {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Quantile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Name(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(v) => Ok(Quantile(v)),
            Raw::Name(s) => Quantile::from_name(&s).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown quantile {s:?}: expected p50, p90, p95, p99, p999 or a number in (0, 1)"
                ))
            }),
        }
    }
}

impl Quantile {
    /// Parses `p50`, `p90`, `p95`, `p99` or `p999`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(Quantile(match name {
            "p50" => 0.5,
            "p90" => 0.9,
            "p95" => 0.95,
            "p99" => 0.99,
            "p999" => 0.999,
            _ => return None,
        }))
    }
}

/// Trip when a latency quantile over the window reaches a limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PercentileRule {
    /// The quantile, in (0, 1): 0.99 for p99.
    pub quantile: Quantile,
    /// Trip when the quantile is at or above this latency.
    #[serde(with = "humantime_serde")]
    pub limit: Duration,
}

/// Weight of each failure kind in the weighted failure rate (default 1.0 each).
///
/// A weight of 2 makes one such failure count as two; 0 makes the kind count as a call
/// but never as a failure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailureWeights {
    /// Weight of [`FailureKind::Timeout`].
    pub timeout: f64,
    /// Weight of [`FailureKind::Connection`].
    pub connection: f64,
    /// Weight of [`FailureKind::ServerError`].
    pub server_error: f64,
    /// Weight of [`FailureKind::Rejected`].
    pub rejected: f64,
    /// Weight of [`FailureKind::Other`].
    pub other: f64,
}

impl Default for FailureWeights {
    fn default() -> Self {
        FailureWeights {
            timeout: 1.0,
            connection: 1.0,
            server_error: 1.0,
            rejected: 1.0,
            other: 1.0,
        }
    }
}

impl FailureWeights {
    /// The weight of `kind`.
    pub fn get(&self, kind: FailureKind) -> f64 {
        match kind {
            FailureKind::Timeout => self.timeout,
            FailureKind::Connection => self.connection,
            FailureKind::ServerError => self.server_error,
            FailureKind::Rejected => self.rejected,
            FailureKind::Other => self.other,
        }
    }

    /// Sets the weight of `kind`.
    pub fn set(&mut self, kind: FailureKind, weight: f64) {
        match kind {
            FailureKind::Timeout => self.timeout = weight,
            FailureKind::Connection => self.connection = weight,
            FailureKind::ServerError => self.server_error = weight,
            FailureKind::Rejected => self.rejected = weight,
            FailureKind::Other => self.other = weight,
        }
    }
}

/// How long the breaker stays open, and how that grows when it keeps re-tripping.
///
/// The `n`th consecutive opening (counting from 0) lasts
/// `min(duration * multiplier^n, max_duration) * (1 + jitter * u)` with `u` uniform in
/// `[0, 1)`. The count `n` goes up by one on each re-trip and down by one for each
/// `decay_after` the breaker then spends closed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenConfig {
    /// Base open duration.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// Growth factor per consecutive re-trip, at least 1.
    pub multiplier: f64,
    /// Cap on the grown duration (before jitter).
    #[serde(with = "humantime_serde")]
    pub max_duration: Duration,
    /// Random extra fraction in `[0, 1]` added to each open duration, to spread a
    /// fleet's probes.
    pub jitter: f64,
    /// Healthy closed time that takes the backoff one step back down.
    #[serde(with = "humantime_serde")]
    pub decay_after: Duration,
}

impl OpenConfig {
    /// Sets the base open duration, raising the cap to it when the cap was lower: the
    /// one rule every way of setting the open duration follows.
    pub fn set_duration(&mut self, duration: Duration) {
        self.duration = duration;
        if self.max_duration < duration {
            self.max_duration = duration;
        }
    }
}

impl Default for OpenConfig {
    fn default() -> Self {
        OpenConfig {
            duration: Duration::from_secs(30),
            multiplier: 1.0,
            max_duration: Duration::from_secs(300),
            jitter: 0.0,
            decay_after: Duration::from_secs(60),
        }
    }
}

/// Half-open probing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HalfOpenConfig {
    /// Probes allowed in flight at once.
    pub permits: u32,
    /// Successful probes needed to close. A probe fails (and reopens the breaker) when
    /// it fails, or when it counts against a configured rule: slow under a slow-call
    /// rate, at the latency limit under a percentile rule.
    pub success_threshold: u32,
    /// After this long with every slot taken and no report, the outstanding probes are
    /// written off and their slots reclaimed; the breaker stays half-open (unlike
    /// resilience4j's `maxWaitDurationInHalfOpenState`, which opens it).
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
}

impl Default for HalfOpenConfig {
    fn default() -> Self {
        HalfOpenConfig {
            permits: 1,
            success_threshold: 1,
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Slow start after closing: admission ramps linearly from `initial_fraction` of calls
/// to all of them over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowStart {
    /// Fraction of calls admitted right after closing, in (0, 1].
    pub initial_fraction: f64,
    /// Time to reach full admission.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
}

/// A breaker's complete configuration. `Default` is the standard tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The sliding window.
    pub window: WindowConfig,
    /// Calls the window must hold before a rate or percentile rule may trip. With a
    /// count window and such a rule configured, at most its `size` (a larger value is
    /// refused, not capped).
    pub minimum_calls: u32,
    /// Trip when the weighted failure rate is at or above this, in (0, 1]. Written
    /// `"off"` in a file to turn the rule off (leaving the key out keeps the default).
    #[serde(deserialize_with = "off_or_number::deserialize")]
    pub failure_rate_threshold: Option<f64>,
    /// Trip when the slow-call rate is at or above this, in (0, 1].
    pub slow_call_rate_threshold: Option<f64>,
    /// A success at least this slow is a slow call.
    #[serde(with = "humantime_serde")]
    pub slow_call_duration: Duration,
    /// Trip after this many failures in a row.
    pub consecutive_failures: Option<u32>,
    /// Trip when a latency quantile over the window reaches a limit.
    pub latency_percentile: Option<PercentileRule>,
    /// Weight of each failure kind in the failure rate.
    pub failure_weights: FailureWeights,
    /// Open duration and backoff.
    pub open: OpenConfig,
    /// Half-open probing.
    pub half_open: HalfOpenConfig,
    /// Optional slow start after closing.
    pub slow_start: Option<SlowStart>,
    /// Measure call latency and keep a latency histogram over the window. Implied by a
    /// slow-call or percentile rule.
    pub track_latency: bool,
    /// Histogram precision in bits: relative error is `2^-bits` (5 gives 3.125%).
    pub histogram_precision: u8,
    /// Count calls in flight (costs one atomic add on admission and one on record).
    pub track_in_flight: bool,
    /// Seed for the jitter generator; `None` seeds it from the clock.
    pub seed: Option<u64>,
    /// Let the failure-rate threshold follow volume and streaks.
    pub adaptive_threshold: Option<AdaptiveThreshold>,
    /// Damping against flapping: minimum closed and open times.
    pub anti_thrash: Option<AntiThrash>,
    /// The state a new breaker starts in (`open` and `half_open` as after a trip).
    pub initial_state: State,
    /// A call the breaker runs itself that takes this long or longer is a timeout
    /// failure; every permit carries the deadline.
    #[serde(with = "humantime_serde")]
    pub call_timeout: Option<Duration>,
    /// The breaker's name, for rejections and reports (at most 256 bytes).
    pub name: String,
}

/// Longest breaker name.
pub const MAX_NAME_LEN: usize = 256;

/// Protection against thrashing (opening and closing in quick succession).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AntiThrash {
    /// After recovering (half-open to closed), the breaker may not trip again before it
    /// has been closed this long; a rule that holds sooner trips once this has passed.
    #[serde(with = "humantime_serde")]
    pub min_closed: Duration,
    /// No opening is shorter than this, whatever the backoff says.
    #[serde(with = "humantime_serde")]
    pub min_open: Duration,
}

impl Default for AntiThrash {
    fn default() -> Self {
        AntiThrash {
            min_closed: Duration::from_secs(10),
            min_open: Duration::ZERO,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::standard()
    }
}

impl Config {
    /// The top-level field names, as written in config files.
    pub const FIELDS: &'static [&'static str] = &[
        "window",
        "minimum_calls",
        "failure_rate_threshold",
        "slow_call_rate_threshold",
        "slow_call_duration",
        "consecutive_failures",
        "latency_percentile",
        "failure_weights",
        "open",
        "half_open",
        "slow_start",
        "track_latency",
        "histogram_precision",
        "track_in_flight",
        "seed",
        "adaptive_threshold",
        "anti_thrash",
        "initial_state",
        "call_timeout",
        "name",
    ];

    /// Whether calls are timed (explicitly, or because a latency rule needs it).
    pub fn latency_tracked(&self) -> bool {
        self.track_latency
            || self.slow_call_rate_threshold.is_some()
            || self.latency_percentile.is_some()
    }
}

/// An optional number whose default is `Some`: `None` must survive a round trip through
/// TOML, which has no null, so it is read from `"off"` (or JSON's `null`), and
/// [`Config::to_toml_string`] writes it so.
mod off_or_number {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Word(String),
            Null(Option<()>),
        }
        match Raw::deserialize(d)? {
            Raw::Num(x) => Ok(Some(x)),
            Raw::Word(w) if w == "off" || w == "none" => Ok(None),
            Raw::Null(None) => Ok(None),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "expected a number in (0, 1] or \"off\", found {w:?}"
            ))),
            Raw::Null(Some(())) => Err(serde::de::Error::custom(
                "expected a number in (0, 1] or \"off\"",
            )),
        }
    }
}
