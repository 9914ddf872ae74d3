//! Breaker configuration: the [`Config`] value, its [`ConfigBuilder`], validation,
//! parsing from TOML or JSON, and the three tier presets of the tuning guide.
//!
//! Every invalid value is reported as a [`ConfigError::Invalid`] naming the field (as a
//! dotted path, `window.buckets`), the value, and the allowed range. A `Config` that
//! passed [`Config::validate`] never makes the engine panic.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use tripgate::Config;
//!
//! let config = Config::builder()
//!     .failure_rate_threshold(0.5)
//!     .minimum_calls(20)
//!     .time_window(Duration::from_secs(10), 10)
//!     .open_duration(Duration::from_secs(30))
//!     .build()
//!     .unwrap();
//! assert_eq!(config.minimum_calls, 20);
//!
//! let err = Config::builder().failure_rate_threshold(1.5).build().unwrap_err();
//! assert_eq!(err.field(), "failure_rate_threshold");
//! assert!(err.to_string().contains("0.0 < t <= 1.0"));
//!
//! let parsed = Config::from_toml_str(r#"
//!     failure_rate_threshold = 0.3
//!     minimum_calls = 20
//!     [window]
//!     kind = "time"
//!     duration = "60s"
//!     buckets = 12
//! "#).unwrap();
//! assert_eq!(parsed.window.buckets(), 12);
//! ```

pub use crate::adaptive::AdaptiveThreshold;
use crate::outcome::FailureKind;
use crate::state::State;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
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
    /// Successful probes needed to close.
    pub success_threshold: u32,
    /// After this long with every slot taken and no report, the outstanding probes are
    /// written off and their slots reclaimed.
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
    /// Calls the window must hold before a rate or percentile rule may trip.
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

/// The three tiers of the tuning guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Payments, authentication: 30% failures over at least 20 calls, open 60 s.
    Critical,
    /// Search, recommendations: 50% over at least 10 calls, open 30 s.
    Standard,
    /// Analytics, metrics: 70% over at least 5 calls, open 10 s.
    NonCritical,
}

impl Tier {
    /// The tier's name in config files.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Critical => "critical",
            Tier::Standard => "standard",
            Tier::NonCritical => "non_critical",
        }
    }

    /// Parses a tier name (`critical`, `standard`, `non_critical` or `non-critical`).
    pub fn from_name(name: &str) -> Option<Tier> {
        match name {
            "critical" => Some(Tier::Critical),
            "standard" => Some(Tier::Standard),
            "non_critical" | "non-critical" | "noncritical" => Some(Tier::NonCritical),
            _ => None,
        }
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

    fn tier(rate: f64, minimum_calls: u32, open_secs: u64) -> Config {
        Config {
            window: WindowConfig::default(),
            minimum_calls,
            failure_rate_threshold: Some(rate),
            slow_call_rate_threshold: None,
            slow_call_duration: Duration::from_secs(5),
            consecutive_failures: None,
            latency_percentile: None,
            failure_weights: FailureWeights::default(),
            open: OpenConfig {
                duration: Duration::from_secs(open_secs),
                max_duration: Duration::from_secs(open_secs * 10),
                ..OpenConfig::default()
            },
            half_open: HalfOpenConfig::default(),
            slow_start: None,
            track_latency: true,
            histogram_precision: 5,
            track_in_flight: false,
            seed: None,
            adaptive_threshold: None,
            anti_thrash: None,
            initial_state: State::Closed,
            call_timeout: None,
            name: String::new(),
        }
    }

    /// Critical tier: trip at 30% failures over at least 20 calls; open 60 s.
    pub fn critical() -> Config {
        Config::tier(0.3, 20, 60)
    }

    /// Standard tier: trip at 50% failures over at least 10 calls; open 30 s.
    pub fn standard() -> Config {
        Config::tier(0.5, 10, 30)
    }

    /// Non-critical tier: trip at 70% failures over at least 5 calls; open 10 s.
    pub fn non_critical() -> Config {
        Config::tier(0.7, 5, 10)
    }

    /// The preset for `tier`.
    pub fn preset(tier: Tier) -> Config {
        match tier {
            Tier::Critical => Config::critical(),
            Tier::Standard => Config::standard(),
            Tier::NonCritical => Config::non_critical(),
        }
    }

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

    /// Whether calls are timed (explicitly, or because a latency rule needs it).
    pub fn latency_tracked(&self) -> bool {
        self.track_latency
            || self.slow_call_rate_threshold.is_some()
            || self.latency_percentile.is_some()
    }

    /// Whether a running breaker built with this config can take `new` live (see
    /// [`Breaker::reconfigure`](crate::Breaker::reconfigure)): the window no larger
    /// than the one built (in buckets), time-based only if that one was, latency
    /// tracking not switched on, and the histogram precision unchanged. `new` itself is
    /// not validated here. The error names the field and what a running breaker allows.
    pub fn check_live_change(&self, new: &Config) -> Result<(), ConfigError> {
        LiveLimits::of(self).check(new)
    }

    /// Parses and validates a TOML document.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = match e.span() {
                Some(span) => line_col(text, span.start),
                None => (None, None),
            };
            ConfigError::Parse {
                format: "TOML",
                message: e.message().to_string(),
                line,
                column,
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses and validates a JSON document.
    pub fn from_json_str(text: &str) -> Result<Config, ConfigError> {
        let config: Config = serde_json::from_str(text).map_err(|e| ConfigError::Parse {
            format: "JSON",
            message: e.to_string(),
            line: Some(e.line()),
            column: Some(e.column()),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses JSON when the text starts with `{`, TOML otherwise.
    pub fn from_str_auto(text: &str) -> Result<Config, ConfigError> {
        if text.trim_start().starts_with('{') {
            Config::from_json_str(text)
        } else {
            Config::from_toml_str(text)
        }
    }

    /// The config as TOML, with every default written out (a disabled failure-rate rule
    /// as `failure_rate_threshold = "off"`: TOML has no null, and leaving the key out
    /// would bring the default back).
    pub fn to_toml_string(&self) -> String {
        let text = toml::to_string_pretty(self).expect("a Config always serializes");
        if self.failure_rate_threshold.is_none() {
            format!("failure_rate_threshold = \"off\"\n{text}")
        } else {
            text
        }
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

fn line_col(text: &str, offset: usize) -> (Option<usize>, Option<usize>) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (Some(line), Some(column))
}

/// Why a config was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A field holds a value outside its allowed range.
    Invalid {
        /// Dotted path of the field, such as `window.buckets`.
        field: String,
        /// The value given.
        value: String,
        /// What is allowed, such as `1..=4096`.
        allowed: String,
    },
    /// The text is not valid TOML or JSON, or does not fit the schema.
    Parse {
        /// `TOML` or `JSON`.
        format: &'static str,
        /// The parser's message (names the unknown or mistyped field).
        message: String,
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// 1-based column of the error, when known.
        column: Option<usize>,
    },
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

impl ConfigError {
    /// The field at fault (`""` for a parse error the parser could not place).
    pub fn field(&self) -> &str {
        match self {
            ConfigError::Invalid { field, .. } => field,
            ConfigError::Parse { .. } => "",
        }
    }

    pub(crate) fn invalid(
        field: &str,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            field: field.to_string(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid {
                field,
                value,
                allowed,
            } => write!(f, "invalid {field} = {value}: allowed {allowed}"),
            ConfigError::Parse {
                format,
                message,
                line,
                column,
            } => {
                write!(f, "invalid {format}")?;
                if let (Some(l), Some(c)) = (line, column) {
                    write!(f, " at line {l}, column {c}")?;
                }
                write!(f, ": {}", message.trim_end())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

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
        self.config.open.duration = d;
        if self.config.open.max_duration < d {
            self.config.open.max_duration = d;
        }
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
    pub fn initial_state(mut self, state: State) -> Self {
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn field_of(c: &Config) -> Vec<String> {
        c.validate_all()
            .iter()
            .map(|e| e.field().to_string())
            .collect()
    }

    #[test]
    fn presets_match_the_tuning_guide() {
        let c = Config::critical();
        assert_eq!(c.failure_rate_threshold, Some(0.3));
        assert_eq!(c.minimum_calls, 20);
        assert_eq!(c.open.duration, Duration::from_secs(60));
        let s = Config::standard();
        assert_eq!((s.failure_rate_threshold, s.minimum_calls), (Some(0.5), 10));
        assert_eq!(s.open.duration, Duration::from_secs(30));
        let n = Config::non_critical();
        assert_eq!((n.failure_rate_threshold, n.minimum_calls), (Some(0.7), 5));
        assert_eq!(n.open.duration, Duration::from_secs(10));
        for t in [Tier::Critical, Tier::Standard, Tier::NonCritical] {
            assert!(Config::preset(t).validate().is_ok());
            assert_eq!(Tier::from_name(t.name()), Some(t));
        }
    }

    #[test]
    fn every_invalid_value_names_its_field_and_range() {
        let cases: Vec<(Config, &str, &str)> = vec![
            (
                Config {
                    failure_rate_threshold: Some(1.5),
                    ..Config::default()
                },
                "failure_rate_threshold",
                "0.0 < t <= 1.0",
            ),
            (
                Config {
                    failure_rate_threshold: Some(f64::NAN),
                    ..Config::default()
                },
                "failure_rate_threshold",
                "0.0 < t <= 1.0",
            ),
            (
                Config {
                    failure_rate_threshold: Some(-0.1),
                    ..Config::default()
                },
                "failure_rate_threshold",
                "0.0 < t <= 1.0",
            ),
            (
                Config {
                    slow_call_rate_threshold: Some(2.0),
                    ..Config::default()
                },
                "slow_call_rate_threshold",
                "0.0 < t <= 1.0",
            ),
            (
                Config {
                    window: WindowConfig::Count {
                        size: 0,
                        buckets: None,
                    },
                    ..Config::default()
                },
                "window.size",
                "1..=",
            ),
            (
                Config {
                    window: WindowConfig::Count {
                        size: 10,
                        buckets: Some(3),
                    },
                    ..Config::default()
                },
                "window.buckets",
                "divisor",
            ),
            (
                Config {
                    window: WindowConfig::Time {
                        duration: Duration::ZERO,
                        buckets: None,
                    },
                    ..Config::default()
                },
                "window.duration",
                "1ms",
            ),
            (
                Config {
                    window: WindowConfig::Time {
                        duration: Duration::from_secs(10),
                        buckets: Some(0),
                    },
                    ..Config::default()
                },
                "window.buckets",
                "1..=4096",
            ),
            (
                Config {
                    window: WindowConfig::Time {
                        duration: Duration::from_nanos(1_000_000_001),
                        buckets: Some(10),
                    },
                    ..Config::default()
                },
                "window.buckets",
                "divides",
            ),
            (
                Config {
                    minimum_calls: 0,
                    ..Config::default()
                },
                "minimum_calls",
                "1..=",
            ),
            (
                Config {
                    consecutive_failures: Some(0),
                    ..Config::default()
                },
                "consecutive_failures",
                "1..=",
            ),
            (
                Config {
                    slow_call_duration: Duration::ZERO,
                    ..Config::default()
                },
                "slow_call_duration",
                "1ns",
            ),
            (
                Config {
                    latency_percentile: Some(PercentileRule {
                        quantile: Quantile(1.0),
                        limit: Duration::from_millis(1),
                    }),
                    ..Config::default()
                },
                "latency_percentile.quantile",
                "0.0 < q < 1.0",
            ),
            (
                Config {
                    latency_percentile: Some(PercentileRule {
                        quantile: Quantile(0.99),
                        limit: Duration::ZERO,
                    }),
                    ..Config::default()
                },
                "latency_percentile.limit",
                "1ns",
            ),
            (
                Config {
                    failure_weights: FailureWeights {
                        timeout: f64::NAN,
                        ..FailureWeights::default()
                    },
                    ..Config::default()
                },
                "failure_weights.timeout",
                "0.0..=100.0",
            ),
            (
                Config {
                    failure_weights: FailureWeights {
                        other: -1.0,
                        ..FailureWeights::default()
                    },
                    ..Config::default()
                },
                "failure_weights.other",
                "0.0..=100.0",
            ),
            (
                Config {
                    open: OpenConfig {
                        duration: Duration::ZERO,
                        ..OpenConfig::default()
                    },
                    ..Config::default()
                },
                "open.duration",
                "1us",
            ),
            (
                Config {
                    open: OpenConfig {
                        multiplier: 0.5,
                        ..OpenConfig::default()
                    },
                    ..Config::default()
                },
                "open.multiplier",
                "1.0..=100.0",
            ),
            (
                Config {
                    open: OpenConfig {
                        duration: Duration::from_secs(60),
                        max_duration: Duration::from_secs(10),
                        ..OpenConfig::default()
                    },
                    ..Config::default()
                },
                "open.max_duration",
                "at least open.duration",
            ),
            (
                Config {
                    open: OpenConfig {
                        jitter: 1.5,
                        ..OpenConfig::default()
                    },
                    ..Config::default()
                },
                "open.jitter",
                "0.0..=1.0",
            ),
            (
                Config {
                    open: OpenConfig {
                        decay_after: Duration::ZERO,
                        ..OpenConfig::default()
                    },
                    ..Config::default()
                },
                "open.decay_after",
                "1ms",
            ),
            (
                Config {
                    half_open: HalfOpenConfig {
                        permits: 0,
                        ..HalfOpenConfig::default()
                    },
                    ..Config::default()
                },
                "half_open.permits",
                "1..=4095",
            ),
            (
                Config {
                    half_open: HalfOpenConfig {
                        success_threshold: 0,
                        ..HalfOpenConfig::default()
                    },
                    ..Config::default()
                },
                "half_open.success_threshold",
                "1..=4095",
            ),
            (
                Config {
                    half_open: HalfOpenConfig {
                        max_wait: Duration::ZERO,
                        ..HalfOpenConfig::default()
                    },
                    ..Config::default()
                },
                "half_open.max_wait",
                "1ms",
            ),
            (
                Config {
                    slow_start: Some(SlowStart {
                        initial_fraction: 0.0,
                        duration: Duration::from_secs(1),
                    }),
                    ..Config::default()
                },
                "slow_start.initial_fraction",
                "0.0 < f <= 1.0",
            ),
            (
                Config {
                    slow_start: Some(SlowStart {
                        initial_fraction: 0.5,
                        duration: Duration::ZERO,
                    }),
                    ..Config::default()
                },
                "slow_start.duration",
                "1ms",
            ),
            (
                Config {
                    histogram_precision: 9,
                    ..Config::default()
                },
                "histogram_precision",
                "2..=7",
            ),
            (
                Config {
                    open: OpenConfig {
                        duration: Duration::from_secs(40 * 24 * 3600),
                        max_duration: Duration::from_secs(40 * 24 * 3600),
                        ..OpenConfig::default()
                    },
                    ..Config::default()
                },
                "open.duration",
                "30days",
            ),
        ];
        for (config, field, allowed) in cases {
            let err = config.validate().expect_err(field);
            assert_eq!(err.field(), field, "{err}");
            let msg = err.to_string();
            assert!(
                msg.contains(field) && msg.contains(allowed),
                "{msg} should name {field} and {allowed}"
            );
        }
    }

    #[test]
    fn fields_lists_every_field() {
        let c = Config {
            seed: Some(1),
            slow_call_rate_threshold: Some(0.5),
            consecutive_failures: Some(3),
            latency_percentile: Some(PercentileRule {
                quantile: Quantile(0.99),
                limit: Duration::from_millis(1),
            }),
            slow_start: Some(SlowStart {
                initial_fraction: 0.5,
                duration: Duration::from_secs(1),
            }),
            adaptive_threshold: Some(AdaptiveThreshold::default()),
            anti_thrash: Some(AntiThrash::default()),
            ..Config::default()
        };
        let v = serde_json::to_value(&c).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut fields = Config::FIELDS.to_vec();
        keys.sort_unstable();
        fields.sort_unstable();
        assert_eq!(keys, fields);
    }

    #[test]
    fn validate_all_reports_every_error() {
        let c = Config {
            minimum_calls: 0,
            failure_rate_threshold: Some(3.0),
            ..Config::default()
        };
        assert_eq!(
            field_of(&c),
            vec!["minimum_calls", "failure_rate_threshold"]
        );
    }

    #[test]
    fn parses_toml_and_json_with_names_and_durations() {
        let t = Config::from_toml_str(
            r#"
            minimum_calls = 5
            consecutive_failures = 3
            latency_percentile = { quantile = "p99", limit = "250ms" }
            [window]
            kind = "count"
            size = 100
            [open]
            duration = "10s"
            multiplier = 2.0
            max_duration = "2m"
            jitter = 0.1
            [failure_weights]
            timeout = 2.0
            "#,
        )
        .unwrap();
        assert_eq!(
            t.window,
            WindowConfig::Count {
                size: 100,
                buckets: None
            }
        );
        assert_eq!(t.window.buckets(), 100);
        assert_eq!(t.latency_percentile.unwrap().quantile, Quantile(0.99));
        assert_eq!(t.failure_weights.timeout, 2.0);
        assert_eq!(t.open.max_duration, Duration::from_secs(120));
        let j = Config::from_json_str(
            r#"{"failure_rate_threshold": 0.3, "window": {"kind": "time", "duration": "1m", "buckets": 6}}"#,
        )
        .unwrap();
        assert_eq!(j.window.buckets(), 6);
        // The printed form parses back to the same config.
        assert_eq!(Config::from_toml_str(&t.to_toml_string()).unwrap(), t);
    }

    #[test]
    fn parse_errors_name_line_and_field() {
        let err = Config::from_toml_str("minimum_calls = 5\nfailure_rate = 0.5\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains("failure_rate"), "{msg}");
        let err = Config::from_json_str("{\"minimum_calls\": -1}").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = Config::from_toml_str("minimum_calls = 0").unwrap_err();
        assert_eq!(err.field(), "minimum_calls");
    }

    #[test]
    fn initial_state_call_timeout_and_name_parse_validate_and_round_trip() {
        let c = Config::from_toml_str(
            "initial_state = \"forced_open\"\ncall_timeout = \"250ms\"\nname = \"inventory\"\n",
        )
        .unwrap();
        assert_eq!(c.initial_state, State::ForcedOpen);
        assert_eq!(c.call_timeout, Some(Duration::from_millis(250)));
        assert_eq!(c.name, "inventory");
        assert_eq!(Config::from_toml_str(&c.to_toml_string()).unwrap(), c);
        let d = Config::default();
        assert_eq!(
            (d.initial_state, d.call_timeout, d.name.as_str()),
            (State::Closed, None, "")
        );
        assert_eq!(Config::from_toml_str(&d.to_toml_string()).unwrap(), d);
        let err = Config::builder()
            .call_timeout(Duration::ZERO)
            .build()
            .unwrap_err();
        assert_eq!(err.field(), "call_timeout");
        let err = Config::builder().name("x".repeat(257)).build().unwrap_err();
        assert_eq!(err.field(), "name");
        assert!(err.to_string().contains("at most 256 bytes"), "{err}");
    }
}
