//! The config space `tripgate tune` searches: which trip rules may be drawn, and the
//! range of every option, with defaults that suit most dependencies. A scenario file
//! narrows or widens it in a `[tune]` table; candidates are a seeded random sample of
//! it, each value rounded to a number a person would write.

use crate::fields::Fields;
use crate::location::FileError;
use crate::rng::Rng;
use serde::Serialize;
use std::time::Duration;
use tripgate::{
    Config, HalfOpenConfig, OpenConfig, PercentileRule, Quantile, SlowStart, WindowConfig,
    MAX_DURATION, MAX_WINDOW_SIZE,
};

/// A trip rule the search may switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// `failure_rate_threshold`.
    FailureRate,
    /// `slow_call_rate_threshold` with `slow_call_duration`.
    SlowCallRate,
    /// `consecutive_failures`.
    ConsecutiveFailures,
    /// `latency_percentile`.
    LatencyPercentile,
}

impl Rule {
    /// Every rule, in the order documented.
    pub const ALL: [Rule; 4] = [
        Rule::FailureRate,
        Rule::SlowCallRate,
        Rule::ConsecutiveFailures,
        Rule::LatencyPercentile,
    ];

    /// The name used in `[tune] rules`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::FailureRate => "failure_rate",
            Rule::SlowCallRate => "slow_call_rate",
            Rule::ConsecutiveFailures => "consecutive_failures",
            Rule::LatencyPercentile => "latency_percentile",
        }
    }

    /// How likely a candidate is to carry the rule (at least one rule is always drawn).
    fn odds(self) -> f64 {
        match self {
            Rule::FailureRate => 0.75,
            _ => 0.4,
        }
    }
}

/// A window kind the search may draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// The last N calls.
    Count,
    /// The last N seconds.
    Time,
}

/// An inclusive range `[lo, hi]` of one option.
pub type Range<T> = (T, T);

/// The space searched, every range inclusive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Space {
    /// Sampled candidates (the tier presets and the scenario's candidates come on top).
    pub candidates: usize,
    /// Traffic seeds every candidate is evaluated on.
    pub seeds: usize,
    /// Further seeds, never seen by the search, the winner and the presets are
    /// re-evaluated on.
    pub holdout: usize,
    /// Rules that may be drawn.
    pub rules: Vec<Rule>,
    /// `failure_rate_threshold`, steps of 0.05.
    pub failure_rate_threshold: Range<f64>,
    /// `slow_call_rate_threshold`, steps of 0.05.
    pub slow_call_rate_threshold: Range<f64>,
    /// `slow_call_duration`.
    #[serde(with = "ranges")]
    pub slow_call_duration: Range<Duration>,
    /// `consecutive_failures`.
    pub consecutive_failures: Range<u32>,
    /// `latency_percentile.limit` (the quantile is drawn from p90, p95, p99).
    #[serde(with = "ranges")]
    pub latency_percentile_limit: Range<Duration>,
    /// `minimum_calls` (at most the window size for a count window).
    pub minimum_calls: Range<u32>,
    /// Window kinds.
    pub windows: Vec<WindowKind>,
    /// `window.size` of a count window.
    pub window_size: Range<u32>,
    /// `window.duration` of a time window (whole seconds, 10 buckets).
    #[serde(with = "ranges")]
    pub window_duration: Range<Duration>,
    /// `open.duration`; `open.max_duration` is 10 times it.
    #[serde(with = "ranges")]
    pub open_duration: Range<Duration>,
    /// `open.multiplier`, drawn from 1, 1.5, 2, 3, 4 within the range.
    pub backoff_multiplier: Range<f64>,
    /// `half_open.permits`; `half_open.success_threshold` is drawn up to it.
    pub half_open_permits: Range<u32>,
    /// Whether a quarter of the candidates get a slow start (20%..50% over 5s..60s).
    pub slow_start: bool,
}

mod ranges {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(r: &(Duration, Duration), s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(2)?;
        for d in [r.0, r.1] {
            t.serialize_element(&humantime::format_duration(d).to_string())?;
        }
        t.end()
    }
}

impl Default for Space {
    fn default() -> Self {
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        Space {
            candidates: 200,
            seeds: 3,
            holdout: 3,
            rules: Rule::ALL.to_vec(),
            failure_rate_threshold: (0.1, 0.9),
            slow_call_rate_threshold: (0.2, 0.9),
            slow_call_duration: (ms(100), s(2)),
            consecutive_failures: (3, 50),
            latency_percentile_limit: (ms(100), s(2)),
            minimum_calls: (5, 100),
            windows: vec![WindowKind::Count, WindowKind::Time],
            window_size: (20, 1000),
            window_duration: (s(5), s(120)),
            open_duration: (s(1), s(60)),
            backoff_multiplier: (1.0, 4.0),
            half_open_permits: (1, 10),
            slow_start: true,
        }
    }
}

/// Keys of the `[tune]` table.
pub const TUNE_KEYS: &[&str] = &[
    "candidates",
    "draws",
    "seeds",
    "holdout",
    "rules",
    "failure_rate_threshold",
    "slow_call_rate_threshold",
    "slow_call_duration",
    "consecutive_failures",
    "latency_percentile_limit",
    "minimum_calls",
    "windows",
    "window_size",
    "window_duration",
    "open_duration",
    "backoff_multiplier",
    "half_open_permits",
    "slow_start",
];

/// Most candidates, seeds or held-out seeds a run may ask for.
pub const MAX_CANDIDATES: usize = 100_000;
/// Most search or held-out seeds.
pub const MAX_SEEDS: usize = 100;

impl Space {
    /// The space of a scenario file's `[tune]` table (the defaults where it is silent,
    /// or when there is none). Every error names its line and field; they come in line order.
    pub fn parse(text: &str, file: &str) -> Result<Space, Vec<FileError>> {
        let mut space = Space::default();
        let root: toml::Table = match toml::from_str(text) {
            Ok(r) => r,
            // The scenario parser reports a syntax error.
            Err(_) => return Ok(space),
        };
        let mut f = Fields::new(file, text);
        if let Some(t) = f.table("", &root, "tune", false) {
            space.read(&mut f, t);
        }
        let mut errors = f.into_errors();
        errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        if errors.is_empty() {
            Ok(space)
        } else {
            Err(errors)
        }
    }

    fn read(&mut self, f: &mut Fields<'_>, t: &toml::Table) {
        const T: &str = "tune";
        f.deny_unknown(T, t, TUNE_KEYS);
        let count = |f: &mut Fields<'_>, key, max: usize| {
            f.uint(T, t, key, 0..=max as u64).map(|n| n as usize)
        };
        if let Some(n) = count(f, "candidates", MAX_CANDIDATES) {
            self.candidates = n;
        }
        // `draws`; `seeds` is the older name of the same option.
        for key in ["seeds", "draws"] {
            if let Some(n) = f.uint(T, t, key, 1..=MAX_SEEDS as u64) {
                self.seeds = n as usize;
            }
        }
        if let Some(n) = count(f, "holdout", MAX_SEEDS) {
            self.holdout = n;
        }
        let rules: Vec<(&str, Rule)> = Rule::ALL.iter().map(|r| (r.name(), *r)).collect();
        if let Some(r) = choices(f, t, "rules", &rules) {
            self.rules = r;
        }
        let windows = [("count", WindowKind::Count), ("time", WindowKind::Time)];
        if let Some(w) = choices(f, t, "windows", &windows) {
            self.windows = w;
        }
        let rate = (f64::MIN_POSITIVE, 1.0, "0 < t <= 1");
        range_of(
            f,
            t,
            "failure_rate_threshold",
            &mut self.failure_rate_threshold,
            |f, tb, k| f.float(T, tb, k, rate),
        );
        range_of(
            f,
            t,
            "slow_call_rate_threshold",
            &mut self.slow_call_rate_threshold,
            |f, tb, k| f.float(T, tb, k, rate),
        );
        range_of(
            f,
            t,
            "backoff_multiplier",
            &mut self.backoff_multiplier,
            |f, tb, k| f.float(T, tb, k, (1.0, 100.0, "1.0..=100.0")),
        );
        let spans = Duration::from_millis(1)..=MAX_DURATION;
        for (key, slot) in [
            ("slow_call_duration", &mut self.slow_call_duration),
            (
                "latency_percentile_limit",
                &mut self.latency_percentile_limit,
            ),
            ("window_duration", &mut self.window_duration),
            ("open_duration", &mut self.open_duration),
        ] {
            range_of(f, t, key, slot, |f, tb, k| {
                f.duration(T, tb, k, spans.clone())
            });
        }
        for (key, slot, max) in [
            (
                "consecutive_failures",
                &mut self.consecutive_failures,
                1_000_000u64,
            ),
            ("minimum_calls", &mut self.minimum_calls, 1_000_000),
            ("window_size", &mut self.window_size, MAX_WINDOW_SIZE as u64),
            ("half_open_permits", &mut self.half_open_permits, 100),
        ] {
            range_of(f, t, key, slot, |f, tb, k| {
                f.uint(T, tb, k, 1..=max).map(|n| n as u32)
            });
        }
        match t.get("slow_start") {
            None => {}
            Some(toml::Value::Boolean(b)) => self.slow_start = *b,
            Some(v) => f.error(
                T,
                "slow_start",
                format!("value {v} is of the wrong type: expected true or false"),
            ),
        }
    }

    /// Draws `self.candidates` distinct configs from the space with `seed`; none equal
    /// to one of `taken` (the presets and the scenario's candidates).
    pub fn sample(&self, seed: u64, taken: &[Config]) -> Vec<Config> {
        let mut rng = Rng::new(seed);
        let mut out: Vec<Config> = Vec::with_capacity(self.candidates);
        // A narrow space may hold fewer distinct configs than asked for.
        let mut attempts = self.candidates.saturating_mul(20).max(100);
        while out.len() < self.candidates && attempts > 0 {
            attempts -= 1;
            let c = self.draw(&mut rng);
            if c.validate().is_ok() && !out.contains(&c) && !taken.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// One config of the space.
    fn draw(&self, rng: &mut Rng) -> Config {
        let rules: Vec<Rule> = loop {
            let drawn: Vec<Rule> = self
                .rules
                .iter()
                .copied()
                .filter(|r| rng.uniform() < r.odds())
                .collect();
            if !drawn.is_empty() || self.rules.is_empty() {
                break drawn;
            }
        };
        let has = |r| rules.contains(&r);
        let mut c = Config {
            failure_rate_threshold: None,
            ..Config::standard()
        };
        if has(Rule::FailureRate) {
            c.failure_rate_threshold = Some(step(rng, self.failure_rate_threshold, 20.0));
        }
        if has(Rule::SlowCallRate) {
            c.slow_call_rate_threshold = Some(step(rng, self.slow_call_rate_threshold, 20.0));
            c.slow_call_duration = log_duration(rng, self.slow_call_duration);
        }
        if has(Rule::ConsecutiveFailures) {
            c.consecutive_failures = Some(log_int(rng, self.consecutive_failures));
        }
        if has(Rule::LatencyPercentile) {
            let q = [0.9, 0.95, 0.99][pick(rng, 3)];
            c.latency_percentile = Some(PercentileRule {
                quantile: Quantile(q),
                limit: log_duration(rng, self.latency_percentile_limit),
            });
        }
        let kind = self
            .windows
            .get(pick(rng, self.windows.len()))
            .copied()
            .unwrap_or(WindowKind::Time);
        c.minimum_calls = log_int(rng, self.minimum_calls);
        c.window = match kind {
            WindowKind::Count => {
                let size = log_int(rng, self.window_size);
                c.minimum_calls = c.minimum_calls.min(size);
                WindowConfig::Count {
                    size,
                    buckets: None,
                }
            }
            WindowKind::Time => {
                let d = log_duration(rng, self.window_duration);
                // Whole seconds (at least one) split into 10 whole buckets.
                let secs = d.as_secs().max(1);
                WindowConfig::Time {
                    duration: Duration::from_secs(secs),
                    buckets: Some(10),
                }
            }
        };
        let open = log_duration(rng, self.open_duration);
        let multipliers: Vec<f64> = [1.0, 1.5, 2.0, 3.0, 4.0]
            .into_iter()
            .filter(|m| (self.backoff_multiplier.0..=self.backoff_multiplier.1).contains(m))
            .collect();
        let multiplier = multipliers
            .get(pick(rng, multipliers.len()))
            .copied()
            .unwrap_or(self.backoff_multiplier.0);
        c.open = OpenConfig {
            duration: open,
            multiplier,
            max_duration: (open * 10).min(MAX_DURATION),
            ..OpenConfig::default()
        };
        let permits = log_int(rng, self.half_open_permits);
        c.half_open = HalfOpenConfig {
            permits,
            success_threshold: 1 + pick(rng, permits as usize) as u32,
            ..HalfOpenConfig::default()
        };
        if self.slow_start && rng.uniform() < 0.25 {
            c.slow_start = Some(SlowStart {
                initial_fraction: [0.2, 0.3, 0.5][pick(rng, 3)],
                duration: Duration::from_secs(5 + pick(rng, 12) as u64 * 5),
            });
        }
        c
    }
}

/// Reads `key = [lo, hi]` into `slot`, each bound checked by `one` (called on a table
/// holding just that bound under `key`, so errors name the key and its line).
fn range_of<T: PartialOrd + Copy>(
    f: &mut Fields<'_>,
    t: &toml::Table,
    key: &str,
    slot: &mut Range<T>,
    mut one: impl FnMut(&mut Fields<'_>, &toml::Table, &str) -> Option<T>,
) {
    let Some(v) = t.get(key) else { return };
    let bounds = match v.as_array().map(Vec::as_slice) {
        Some([lo, hi]) => [lo, hi].map(|b| {
            let mut alone = toml::Table::new();
            alone.insert(key.to_string(), b.clone());
            one(f, &alone, key)
        }),
        _ => {
            f.error(
                "tune",
                key,
                format!("value {v} is not a range: expected [low, high]"),
            );
            return;
        }
    };
    if let [Some(lo), Some(hi)] = bounds {
        if lo <= hi {
            *slot = (lo, hi);
        } else {
            f.error(
                "tune",
                key,
                format!("value {v} is not a range: the low bound is above the high one"),
            );
        }
    }
}

/// Reads `key = ["a", "b"]`: a non-empty list of names from `options`.
fn choices<T: Copy + PartialEq>(
    f: &mut Fields<'_>,
    t: &toml::Table,
    key: &str,
    options: &[(&str, T)],
) -> Option<Vec<T>> {
    let v = t.get(key)?;
    let allowed: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
    let items = v.as_array().filter(|a| !a.is_empty());
    let picked: Option<Vec<T>> = items.and_then(|a| {
        a.iter()
            .map(|x| {
                let name = x.as_str()?;
                options.iter().find(|(n, _)| *n == name).map(|(_, o)| *o)
            })
            .collect()
    });
    if picked.is_none() {
        f.error(
            "tune",
            key,
            format!(
                "value {v} is not allowed: expected a non-empty list of {}",
                allowed.join(", ")
            ),
        );
    }
    picked
}

/// An index in `0..n` (0 when `n` is 0).
fn pick(rng: &mut Rng, n: usize) -> usize {
    ((rng.uniform() * n as f64) as usize).min(n.saturating_sub(1))
}

/// A value of `[lo, hi]` on a grid of `1 / per_unit` (kept within the range).
fn step(rng: &mut Rng, (lo, hi): Range<f64>, per_unit: f64) -> f64 {
    let (a, b) = ((lo * per_unit).ceil(), (hi * per_unit).floor());
    if a > b {
        return lo;
    }
    (a + pick(rng, (b - a) as usize + 1) as f64) / per_unit
}

/// Log-uniform in `[lo, hi]`, rounded to two significant digits.
fn log_uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    let x = (lo.ln() + rng.uniform() * (hi.ln() - lo.ln())).exp();
    let scale = 10f64.powf(x.log10().floor() - 1.0);
    ((x / scale).round() * scale).clamp(lo, hi)
}

fn log_int(rng: &mut Rng, (lo, hi): Range<u32>) -> u32 {
    (log_uniform(rng, f64::from(lo.max(1)), f64::from(hi.max(1))).round() as u32).clamp(lo, hi)
}

/// Log-uniform duration, rounded to two significant digits of milliseconds.
fn log_duration(rng: &mut Rng, (lo, hi): Range<Duration>) -> Duration {
    let ms = |d: Duration| (d.as_secs_f64() * 1e3).max(1.0);
    let v = log_uniform(rng, ms(lo), ms(hi)).round() as u64;
    Duration::from_millis(v).clamp(lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_valid_distinct_and_reproducible() {
        let s = Space::default();
        let a = s.sample(7, &[]);
        assert_eq!(a.len(), 200);
        assert_eq!(a, s.sample(7, &[]));
        assert_ne!(a, s.sample(8, &[]));
        for c in &a {
            c.validate().unwrap();
            let f = c.failure_rate_threshold.unwrap_or(0.5);
            assert!((0.1..=0.9).contains(&f), "{f}");
        }
    }

    #[test]
    fn a_tune_table_narrows_the_space_and_bad_values_are_named() {
        let text = "[tune]\ncandidates = 10\nrules = [\"consecutive_failures\"]\nconsecutive_failures = [5, 6]\nwindows = [\"count\"]\n";
        let s = Space::parse(text, "t.toml").unwrap();
        assert_eq!(s.candidates, 10);
        for c in s.sample(1, &[]) {
            assert!(matches!(c.consecutive_failures, Some(5 | 6)));
            assert_eq!(c.failure_rate_threshold, None);
            assert!(!c.window.is_time());
        }
        let e = Space::parse(
            "[tune]\nopen_duration = [\"9s\", \"1s\"]\nwindows = [\"hourly\"]\n",
            "t.toml",
        )
        .unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].field.as_deref(), Some("tune.open_duration"));
        assert_eq!(e[0].line, Some(2));
        assert!(e[1].message.contains("count, time"), "{}", e[1].message);
    }
}
