//! How close each trip rule came: while a candidate runs, the engine samples the
//! breaker's [`tripgate::RuleReadings`] and keeps, per phase, the peak of each enabled
//! rule's statistic against its threshold.
//!
//! **When it samples.** [`Breaker::rule_readings`] costs a pass over the window's
//! buckets, too dear after every record on big runs. A statistic can only rise when
//! the rules themselves would look again, so the sampler reads after exactly those
//! records (a superset of them):
//! - a failure (it raises the failure rate and the streak);
//! - a call at least as slow as the slow-call duration or the percentile limit,
//!   whichever is lower (it raises the slow or over-limit share);
//! - the first record of each new window bucket (old buckets leaving the window can
//!   raise a rate): per `duration / buckets` of virtual time for a time window, per
//!   `size / buckets` records for a count window with buckets of several calls (a
//!   count window with a bucket per call only ever drops one call as it takes one,
//!   which cannot raise a rate);
//! - every record while the last reading had fewer than `minimum_calls` calls in the
//!   window (the record that brings the window to the minimum may open the gate);
//! - the first record of each phase (its first reading carries what the window
//!   brings into it from the phase before).
//!
//! - and only records made while the breaker was closed: the rules trip from Closed
//!   only (a half-open probe that fails reopens the breaker for another reason), so a
//!   reading in another state would tell nothing about how close a trip came.
//!
//! A healthy run with a bucket per call therefore samples about once per failure or
//! slow call, not once per call.
//!
//! **What it keeps.** Per rule, the reading where the statistic was closest to its
//! threshold (the highest ratio; with a fixed threshold, simply the peak):
//! - failure rate vs the threshold in force (adaptive thresholds included), and
//!   slow-call rate vs its threshold: only from readings whose window held at least
//!   `minimum_calls` calls, the gate the rules apply;
//! - latency percentile: the share of the window's calls at or over the limit against
//!   `1 - quantile`, gated the same way. This is the count the rule itself tests (the
//!   quantile is at or over the limit once fewer than `ceil(quantile * calls)` calls
//!   are under it), so it is exact where a percentile read off the histogram would be
//!   approximate; the rule holds once the share exceeds `1 - quantile` by the rounding
//!   of that rank, so a share exactly at `1 - quantile` has not reached it;
//! - consecutive failures vs the limit (no gate).
//!
//! Each reading is attributed to the phase its virtual time falls in (a call is read
//! when it answers, so a call made late in a fault may count in the next phase).

use crate::engine::Span;
use serde::Serialize;
use tripgate::{Breaker, Config, ManualClock, Outcome, RuleReadings, WindowConfig};

/// The closest one rule came to its threshold over a stretch of the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Peak {
    /// The statistic at its closest approach; `None` when no reading passed the
    /// `minimum_calls` gate.
    pub value: Option<f64>,
    /// The threshold it was read against (the one in force at that reading).
    pub threshold: f64,
    /// Whether the rule held at some reading (`>=`, as the rule tests it).
    pub reached: bool,
    /// Whether the breaker opened for this rule during the stretch.
    pub tripped: bool,
}

impl Peak {
    fn unread(threshold: f64) -> Peak {
        Peak {
            value: None,
            threshold,
            reached: false,
            tripped: false,
        }
    }

    fn ratio(&self) -> f64 {
        match self.value {
            Some(v) if self.threshold > 0.0 => v / self.threshold,
            Some(v) if v > 0.0 => f64::INFINITY,
            Some(_) => 0.0,
            None => f64::NEG_INFINITY,
        }
    }

    /// Keeps the reading closer to its threshold; `reached` and `tripped` add up.
    fn offer(&mut self, value: f64, threshold: f64, reached: bool) {
        let candidate = Peak {
            value: Some(value),
            threshold,
            reached,
            tripped: false,
        };
        if candidate.ratio() > self.ratio() {
            self.value = candidate.value;
            self.threshold = threshold;
        }
        self.reached |= reached;
    }

    fn merge(&mut self, other: &Peak) {
        if other.ratio() > self.ratio() {
            self.value = other.value;
            self.threshold = other.threshold;
        }
        self.reached |= other.reached;
        self.tripped |= other.tripped;
    }

    /// Rounded to six decimals, for stable output.
    fn rounded(mut self) -> Peak {
        let r = |x: f64| (x * 1e6).round() / 1e6;
        self.value = self.value.map(r);
        self.threshold = r(self.threshold);
        self
    }

    /// `0.62/0.5 (tripped)`, `3/5`, `-/0.5 (below min calls)`.
    pub fn text(&self) -> String {
        let num = |x: f64| {
            let s = format!("{x:.3}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        };
        let mut s = match self.value {
            Some(v) => format!("{}/{}", num(v), num(self.threshold)),
            None => format!("-/{} (below min calls)", num(self.threshold)),
        };
        if self.tripped {
            s.push_str(" (tripped)");
        } else if self.reached {
            s.push_str(" (reached)");
        }
        s
    }
}

/// The peaks of every enabled rule over one stretch of the run (`None`: rule off).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Peaks {
    /// Readings taken in the stretch.
    pub samples: u64,
    /// Failure rate vs its threshold.
    pub failure_rate: Option<Peak>,
    /// Slow-call rate vs its threshold.
    pub slow_call_rate: Option<Peak>,
    /// Share of calls at or over the percentile rule's limit vs `1 - quantile`.
    pub latency_percentile: Option<Peak>,
    /// Failures in a row vs the limit.
    pub consecutive_failures: Option<Peak>,
}

impl Peaks {
    /// Empty peaks for the rules `config` enables.
    pub fn for_config(config: &Config) -> Peaks {
        Peaks {
            samples: 0,
            failure_rate: config.failure_rate_threshold.map(Peak::unread),
            slow_call_rate: config.slow_call_rate_threshold.map(Peak::unread),
            latency_percentile: config
                .latency_percentile
                .map(|p| Peak::unread(1.0 - p.quantile.0)),
            consecutive_failures: config.consecutive_failures.map(|n| Peak::unread(n as f64)),
        }
    }

    /// Each rule's peak, by its transition-reason name.
    pub fn rules_mut(&mut self) -> [(&'static str, &mut Option<Peak>); 4] {
        [
            ("failure_rate", &mut self.failure_rate),
            ("slow_call_rate", &mut self.slow_call_rate),
            ("latency_percentile", &mut self.latency_percentile),
            ("consecutive_failures", &mut self.consecutive_failures),
        ]
    }

    /// Each rule's peak, in table order.
    pub fn rules(&self) -> [Option<&Peak>; 4] {
        [
            self.failure_rate.as_ref(),
            self.slow_call_rate.as_ref(),
            self.latency_percentile.as_ref(),
            self.consecutive_failures.as_ref(),
        ]
    }

    /// Folds `other` (same config) in: the closer reading of each rule wins.
    pub fn merge(&mut self, other: &Peaks) {
        self.samples += other.samples;
        let theirs = [
            other.failure_rate,
            other.slow_call_rate,
            other.latency_percentile,
            other.consecutive_failures,
        ];
        for ((_, mine), theirs) in self.rules_mut().into_iter().zip(theirs) {
            match (mine.as_mut(), theirs) {
                (Some(m), Some(t)) => m.merge(&t),
                (None, Some(t)) => *mine = Some(t),
                _ => {}
            }
        }
    }

    /// Marks as tripped each rule named by `reasons` (transition reasons into Open).
    pub fn mark_tripped<'a>(&mut self, reasons: impl Iterator<Item = &'a str> + Clone) {
        for (name, peak) in self.rules_mut() {
            if let Some(p) = peak {
                p.tripped |= reasons.clone().any(|r| r == name);
            }
        }
    }

    /// The same peaks rounded to six decimals.
    pub fn rounded(&self) -> Peaks {
        let r = |p: Option<Peak>| p.map(Peak::rounded);
        Peaks {
            samples: self.samples,
            failure_rate: r(self.failure_rate),
            slow_call_rate: r(self.slow_call_rate),
            latency_percentile: r(self.latency_percentile),
            consecutive_failures: r(self.consecutive_failures),
        }
    }

    fn read(&mut self, r: &RuleReadings, gate: bool, quantile: Option<f64>) {
        self.samples += 1;
        if gate {
            if let (Some(p), Some(rate)) = (self.failure_rate.as_mut(), r.failure_rate) {
                let t = r.failure_rate_threshold.unwrap_or(p.threshold);
                p.offer(rate, t, rate > 0.0 && reaches(rate, t));
            }
            if let (Some(p), Some(rate)) = (self.slow_call_rate.as_mut(), r.slow_call_rate) {
                let t = p.threshold;
                p.offer(rate, t, reaches(rate, t));
            }
            if let (Some(p), Some(share), Some(q)) = (
                self.latency_percentile.as_mut(),
                r.over_limit_rate,
                quantile,
            ) {
                // The rule's own test: fewer than ceil(q * n) calls under the limit.
                let n = r.window_calls;
                let over = (share * n as f64).round() as u64;
                let rank = ((q * n as f64).ceil() as u64).max(1);
                let t = p.threshold;
                p.offer(share, t, n > 0 && n.saturating_sub(over) < rank);
            }
        }
        if let Some(p) = self.consecutive_failures.as_mut() {
            let streak = r.consecutive_failures as f64;
            let t = p.threshold;
            p.offer(streak, t, streak >= t);
        }
    }
}

/// `value >= target`, forgiving the last bits of rounding as the rules do.
fn reaches(value: f64, target: f64) -> bool {
    value >= target - target.abs() * 1e-12
}

/// How the sampler notices old buckets leaving the window.
#[derive(Debug, Clone, Copy)]
enum Rotation {
    /// A time window: one bucket per this many nanoseconds.
    Time(u64),
    /// A count window: one bucket per this many records (more than one).
    Count(u64),
    /// A count window with a bucket per call: a record pushes one call out of a full
    /// window, which cannot raise a rate, and a window not yet full only grows.
    PerCall,
}

/// Samples one breaker's readings during a run (see the module docs for when).
#[derive(Debug, Clone)]
pub struct Sampler {
    minimum_calls: u64,
    quantile: Option<f64>,
    /// Calls at least this slow are read after.
    slow_ns: u64,
    failures_matter: bool,
    rotation: Rotation,
    /// Bucket (time) of the last reading, or records since it (count).
    last_slot: u64,
    since: u64,
    warming: bool,
    /// End of the phase of the last reading (the next record past it is read).
    phase_end: u64,
    span_ends: Vec<u64>,
    peaks: Vec<Peaks>,
}

impl Sampler {
    /// A sampler for a breaker configured with `config`, over the phases `spans`.
    pub fn new(config: &Config, spans: &[Span]) -> Sampler {
        let ns = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let mut slow_ns = u64::MAX;
        if config.slow_call_rate_threshold.is_some() {
            slow_ns = slow_ns.min(ns(config.slow_call_duration));
        }
        if let Some(p) = config.latency_percentile {
            slow_ns = slow_ns.min(ns(p.limit));
        }
        let buckets = u64::from(config.window.buckets().max(1));
        let rotation = match config.window {
            WindowConfig::Time { duration, .. } => Rotation::Time((ns(duration) / buckets).max(1)),
            WindowConfig::Count { size, .. } => match u64::from(size) / buckets {
                0 | 1 => Rotation::PerCall,
                n => Rotation::Count(n),
            },
        };
        let any_rule = config.failure_rate_threshold.is_some()
            || config.slow_call_rate_threshold.is_some()
            || config.latency_percentile.is_some()
            || config.consecutive_failures.is_some();
        Sampler {
            minimum_calls: u64::from(config.minimum_calls),
            quantile: config.latency_percentile.map(|p| p.quantile.0),
            slow_ns,
            failures_matter: any_rule,
            rotation,
            last_slot: 0,
            since: 0,
            warming: true,
            phase_end: 0,
            span_ends: spans.iter().map(|s| s.end_ns).collect(),
            peaks: vec![Peaks::for_config(config); spans.len()],
        }
    }

    /// Called after each record made while the breaker was closed, at virtual time
    /// `at`: reads the breaker when the record may have moved a peak.
    #[inline]
    pub fn after_record(
        &mut self,
        breaker: &Breaker<ManualClock>,
        at: u64,
        outcome: Outcome,
        latency_ns: u64,
    ) {
        if !self.failures_matter || matches!(outcome, Outcome::Ignored) {
            return;
        }
        self.since += 1;
        let rotated = match self.rotation {
            Rotation::Time(w) => at / w != self.last_slot,
            Rotation::Count(n) => self.since >= n,
            Rotation::PerCall => false,
        };
        // A new phase: its first reading carries what the window brings into it.
        let new_phase = at >= self.phase_end;
        let look = self.warming
            || rotated
            || new_phase
            || matches!(outcome, Outcome::Failure(_))
            || latency_ns >= self.slow_ns;
        if !look {
            return;
        }
        if let Rotation::Time(w) = self.rotation {
            self.last_slot = at / w;
        }
        self.since = 0;
        let r = breaker.rule_readings();
        let gate = r.window_calls >= self.minimum_calls;
        self.warming = !gate;
        let phase = self
            .span_ends
            .partition_point(|&end| end <= at)
            .min(self.peaks.len().saturating_sub(1));
        self.phase_end = self.span_ends.get(phase).copied().unwrap_or(u64::MAX);
        if phase + 1 == self.span_ends.len() {
            // Calls answering after the last phase count in it.
            self.phase_end = u64::MAX;
        }
        if let Some(p) = self.peaks.get_mut(phase) {
            p.read(&r, gate, self.quantile);
        }
    }

    /// The peaks per phase.
    pub fn finish(self) -> Vec<Peaks> {
        self.peaks
    }
}

/// A candidate's peaks: over the healthy phases together, and per fault phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Closeness {
    /// Every healthy phase together: how near a false trip came.
    pub healthy: Peaks,
    /// One entry per fault phase, in order.
    pub faults: Vec<FaultPeaks>,
}

/// The peaks of one fault phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultPeaks {
    /// Index of the phase.
    pub phase: usize,
    /// Phase name.
    pub name: String,
    /// The peaks.
    pub peaks: Peaks,
}

impl Closeness {
    /// Groups the per-phase `peaks` of a run by `spans`, marking each rule the breaker
    /// opened for (`opened`: time and reason of each transition into Open).
    pub fn of(config: &Config, spans: &[Span], peaks: &[Peaks], opened: &[(u64, &str)]) -> Self {
        let reasons_in = |start: u64, end: u64| {
            opened
                .iter()
                .filter(move |(t, _)| *t >= start && *t < end)
                .map(|(_, r)| *r)
        };
        let mut healthy = Peaks::for_config(config);
        let mut faults = Vec::new();
        for (i, (s, p)) in spans.iter().zip(peaks).enumerate() {
            let mut p = p.clone();
            p.mark_tripped(reasons_in(s.start_ns, s.end_ns));
            if s.fault {
                faults.push(FaultPeaks {
                    phase: i,
                    name: s.name.clone(),
                    peaks: p.rounded(),
                });
            } else {
                healthy.merge(&p);
            }
        }
        Closeness {
            healthy: healthy.rounded(),
            faults,
        }
    }

    /// Folds in the closeness of another run of the same config on the same phases
    /// (another traffic draw): the closer reading of each rule wins.
    pub fn merge(&mut self, other: &Closeness) {
        self.healthy.merge(&other.healthy);
        if self.faults.is_empty() {
            self.faults = other.faults.clone();
            return;
        }
        for (mine, theirs) in self.faults.iter_mut().zip(&other.faults) {
            mine.peaks.merge(&theirs.peaks);
        }
    }

    /// Table rows: the stretch, then each rule's cell (`-` when off).
    pub fn rows(&self) -> Vec<ClosenessRow> {
        let cells = |p: &Peaks| {
            p.rules().map(|r| match r {
                None => "-".to_string(),
                Some(_) if p.samples == 0 => "no reading".to_string(),
                Some(peak) => peak.text(),
            })
        };
        let mut out = vec![("healthy".to_string(), cells(&self.healthy))];
        for f in &self.faults {
            out.push((f.name.clone(), cells(&f.peaks)));
        }
        out
    }
}

/// A row of [`Closeness::rows`]: the stretch and one cell per rule.
pub type ClosenessRow = (String, [String; 4]);

/// The column heads of [`Closeness::rows`].
pub const RULE_HEADS: [&str; 4] = ["failure rate", "slow rate", "over limit", "streak"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use std::time::Duration;
    use tripgate::{FailureKind, State};

    /// Drives one breaker through `calls` sequential calls (a call every 10ms; errors,
    /// slow calls and bursts of both), feeding a sampler and, beside it, peaks read
    /// after every record made while closed; returns both.
    fn sampled_and_exhaustive(config: Config, calls: u64, seed: u64) -> (Peaks, Peaks) {
        let spans = [Span {
            name: "all".into(),
            kind: "healthy".into(),
            start_ns: 0,
            end_ns: u64::MAX,
            fault: false,
        }];
        let clock = ManualClock::new();
        let b = Breaker::with_clock(config.clone(), clock.clone()).expect("valid config");
        let mut sampler = Sampler::new(&config, &spans);
        let mut every = Peaks::for_config(&config);
        let quantile = config.latency_percentile.map(|p| p.quantile.0);
        let mut rng = Rng::new(seed);
        for i in 0..calls {
            let at = i * 10_000_000;
            clock.set_nanos(at);
            // Bad stretches of 200 calls every 2000.
            let bad = i % 2000 >= 1800;
            let (p_fail, p_slow) = if bad { (0.35, 0.35) } else { (0.02, 0.01) };
            let u = rng.uniform();
            let outcome = if u < p_fail {
                Outcome::Failure(FailureKind::ServerError)
            } else if u < p_fail + 0.01 {
                Outcome::Ignored
            } else {
                Outcome::Success
            };
            let latency = if rng.uniform() < p_slow {
                900_000_000
            } else {
                5_000_000
            };
            let Ok(permit) = b.acquire_raw() else {
                continue;
            };
            let closed = b.state() == State::Closed;
            let _ = b.record_raw(permit, outcome, Some(latency));
            if closed {
                sampler.after_record(&b, at, outcome, latency);
                if !matches!(outcome, Outcome::Ignored) {
                    let r = b.rule_readings();
                    every.read(
                        &r,
                        r.window_calls >= u64::from(config.minimum_calls),
                        quantile,
                    );
                }
            }
        }
        let mut peaks = sampler.finish();
        (peaks.remove(0), every)
    }

    #[test]
    fn sampling_finds_the_peaks_reading_after_every_record_finds() {
        let base = Config::builder()
            .failure_rate_threshold(0.3)
            .slow_call_rate_threshold(0.3, Duration::from_millis(500))
            .latency_percentile(0.95, Duration::from_millis(800))
            .consecutive_failures(6)
            .minimum_calls(20)
            .open_duration(Duration::from_secs(2));
        let configs = [
            base.clone().count_window(100).build().expect("valid"),
            base.clone()
                .count_window_buckets(100, 10)
                .build()
                .expect("valid"),
            base.time_window(Duration::from_secs(5), 10)
                .build()
                .expect("valid"),
        ];
        for (k, config) in configs.into_iter().enumerate() {
            let (sampled, every) = sampled_and_exhaustive(config, 20_000, 7 + k as u64);
            assert!(
                sampled.samples * 3 < every.samples,
                "config {k}: {} samples of {}",
                sampled.samples,
                every.samples
            );
            for (s, e) in sampled.rules().into_iter().zip(every.rules()) {
                let (s, e) = (s.expect("on"), e.expect("on"));
                assert_eq!(s.value, e.value, "config {k}: {s:?} vs {e:?}");
                assert_eq!(s.reached, e.reached, "config {k}: {s:?} vs {e:?}");
            }
            // The bad stretches do trip something: the comparison is not vacuous.
            assert!(
                every.rules().into_iter().flatten().any(|p| p.reached),
                "config {k}"
            );
        }
    }

    #[test]
    fn the_closer_reading_wins_and_reached_adds_up() {
        let mut p = Peak::unread(0.5);
        p.offer(0.2, 0.5, false);
        p.offer(0.6, 0.5, true);
        p.offer(0.4, 0.5, false);
        assert_eq!(p.value, Some(0.6));
        assert!(p.reached);
        // An adaptive threshold: 0.3 of 0.25 is closer than 0.6 of 0.5.
        p.offer(0.3, 0.2, true);
        assert_eq!((p.value, p.threshold), (Some(0.3), 0.2));
        assert_eq!(p.text(), "0.3/0.2 (reached)");
        assert_eq!(Peak::unread(5.0).text(), "-/5 (below min calls)");
    }
}
