//! A plain single-threaded reference model of a breaker, and a driver that applies one
//! operation sequence to the model and to the real engine and compares them after every
//! step: state, generation, counts, window rates, retry times exactly; percentiles
//! within the histogram's error.
//!
//! Shared by the property test (`core/tests/model.rs`) and the `state_machine` fuzz
//! target (`fuzz/`), which include this file by path.

use std::time::Duration;
use tripgate::{
    Breaker, Config, FailureKind, ManualClock, Outcome, RawPermit, State, WindowConfig,
    MAX_TRACKABLE,
};

const SEC: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

macro_rules! check_eq {
    ($a:expr, $b:expr $(,)?) => {
        check_eq!($a, $b, "")
    };
    ($a:expr, $b:expr, $($fmt:tt)+) => {{
        let (a, b) = (&$a, &$b);
        if a != b {
            return Err(format!("{} != {}: {:?} vs {:?}: {}", stringify!($a), stringify!($b), a, b, format!($($fmt)+)));
        }
    }};
}

macro_rules! check {
    ($c:expr, $($fmt:tt)+) => {
        if !$c {
            return Err(format!($($fmt)+));
        }
    };
}

/// One step of a test.
#[derive(Debug, Clone)]
pub enum Op {
    /// Ask for a permit and hold it.
    Acquire,
    Record {
        index: usize,
        outcome: Outcome,
        latency_ms: Option<u64>,
    },
    Release {
        index: usize,
    },
    /// Answer by the deadline rule (`complete_raw`): `None` is a call its caller cut
    /// short.
    Complete {
        index: usize,
        outcome: Option<Outcome>,
    },
    Advance {
        ms: u64,
    },
    /// Operator: force open.
    ForceOpen,
    /// Operator: reset.
    Reset,
    /// Operator: open as a trip would.
    Open,
    /// Operator: open for exactly this long.
    OpenFor {
        ms: u64,
    },
    /// Operator: half-open.
    HalfOpen,
    /// Operator: close.
    Close,
}

/// One outcome as the model keeps it.
#[derive(Debug, Clone, Copy)]
struct Rec {
    bucket: u64,
    weight: u64,
    slow: bool,
    latency: u64,
}

#[derive(Debug, Clone, Copy)]
struct ModelPermit {
    generation: u32,
    probe: bool,
    start: u64,
    /// Issued while disabled: its outcome is not counted.
    uncounted: bool,
}

/// The reference: plain fields, a list of outcomes, everything recomputed.
struct Model {
    c: Config,
    now: u64,
    state: State,
    generation: u32,
    probes: u32,
    probe_ok: u32,
    open_until: u64,
    lease_until: u64,
    level: u32,
    opened_before: bool,
    closed_at: u64,
    /// Failures in a row among the outcomes of generation `streak_generation`.
    consecutive: u32,
    streak_generation: u32,
    // window
    origin: u64,
    seq: u64,
    recs: Vec<Rec>,
    // totals
    calls: u64,
    failures: u64,
    ignored: u64,
    abandoned: u64,
    rejected: u64,
}

impl Model {
    fn new(c: Config, now: u64) -> Model {
        let mut m = Model::closed(c, now);
        m.state = m.c.initial_state;
        if m.state == State::Open {
            // As after a first trip: level 0.
            m.opened_before = true;
            m.open_until = now.saturating_add(m.c.open.duration.as_nanos() as u64);
        }
        m
    }

    fn closed(c: Config, now: u64) -> Model {
        Model {
            c,
            now,
            state: State::Closed,
            generation: 0,
            probes: 0,
            probe_ok: 0,
            open_until: 0,
            lease_until: 0,
            level: 0,
            opened_before: false,
            closed_at: 0,
            consecutive: 0,
            streak_generation: 0,
            origin: now,
            seq: 0,
            recs: vec![],
            calls: 0,
            failures: 0,
            ignored: 0,
            abandoned: 0,
            rejected: 0,
        }
    }

    fn buckets(&self) -> u64 {
        self.c.window.buckets() as u64
    }

    fn width(&self) -> u64 {
        match self.c.window {
            WindowConfig::Count { size, .. } => (size as u64) / self.buckets(),
            WindowConfig::Time { duration, .. } => duration.as_nanos() as u64 / self.buckets(),
        }
    }

    fn current_bucket(&self) -> u64 {
        match self.c.window {
            WindowConfig::Count { .. } => self.seq.saturating_sub(1) / self.width(),
            WindowConfig::Time { .. } => (self.now - self.origin) / self.width(),
        }
    }

    fn window(&self) -> Vec<Rec> {
        let e = self.current_bucket();
        self.recs
            .iter()
            .filter(|r| r.bucket <= e && e - r.bucket < self.buckets())
            .copied()
            .collect()
    }

    fn restart_window(&mut self) {
        self.recs.clear();
        self.origin = self.now;
        self.seq = 0;
    }

    /// A transition carries the streak into the new generation: calls admitted before
    /// it no longer touch it, and it still reads as the failures before it.
    fn transition(&mut self, to: State) {
        self.state = to;
        self.generation = self.generation.wrapping_add(1);
        self.streak_generation = self.generation;
        self.probes = 0;
        self.probe_ok = 0;
    }

    fn open(&mut self, retrip: bool) {
        self.transition(State::Open);
        self.level = if !self.opened_before {
            0
        } else if retrip {
            self.level + 1
        } else {
            let steps = (self.now - self.closed_at) / self.c.open.decay_after.as_nanos() as u64;
            (self.level as u64 + 1).saturating_sub(steps) as u32
        };
        self.opened_before = true;
        let base = self.c.open.duration.as_nanos() as f64;
        let cap = self.c.open.max_duration.as_nanos() as f64;
        let d = (base * self.c.open.multiplier.powi(self.level as i32)).min(cap) as u64;
        self.open_until = self.now.saturating_add(d);
    }

    fn close(&mut self) {
        self.transition(State::Closed);
        self.restart_window();
        self.closed_at = self.now;
    }

    fn acquire(&mut self) -> Option<ModelPermit> {
        let timed = ModelPermit {
            generation: self.generation,
            probe: false,
            start: self.now,
            uncounted: self.state == State::Disabled,
        };
        match self.state {
            State::Closed | State::ForcedClosed | State::MetricsOnly | State::Disabled => {
                Some(timed)
            }
            State::ForcedOpen => {
                self.rejected += 1;
                None
            }
            State::Open => {
                if self.now < self.open_until {
                    self.rejected += 1;
                    return None;
                }
                self.transition(State::HalfOpen);
                self.probes = 1;
                self.lease_until = self.now + self.c.half_open.max_wait.as_nanos() as u64;
                Some(ModelPermit {
                    generation: self.generation,
                    probe: true,
                    start: self.now,
                    uncounted: false,
                })
            }
            State::HalfOpen => {
                if self.probes < self.c.half_open.permits {
                    self.probes += 1;
                } else if self.now >= self.lease_until {
                    self.transition(State::HalfOpen);
                    self.probes = 1;
                } else {
                    self.rejected += 1;
                    return None;
                }
                self.lease_until = self.now + self.c.half_open.max_wait.as_nanos() as u64;
                Some(ModelPermit {
                    generation: self.generation,
                    probe: true,
                    start: self.now,
                    uncounted: false,
                })
            }
        }
    }

    fn settle(&mut self, p: ModelPermit, result: Option<bool>) {
        if self.state != State::HalfOpen || self.generation != p.generation {
            return;
        }
        match result {
            None => self.probes -= 1,
            Some(false) => self.open(true),
            Some(true) => {
                self.probe_ok += 1;
                self.probes -= 1;
                if self.probe_ok >= self.c.half_open.success_threshold {
                    self.close();
                }
            }
        }
    }

    /// The deadline rule: a call answered at or after admission plus `call_timeout` is
    /// a timeout; one cut short (`None`) is a timeout too once it ran for
    /// `slow_call_duration` (when calls carry their start), else it is released.
    fn complete(&mut self, p: ModelPermit, outcome: Option<Outcome>) -> Option<Outcome> {
        let elapsed = self.now - p.start;
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let past_deadline = self.c.call_timeout.is_some_and(|t| elapsed >= nanos(t));
        let start_known = self.c.latency_tracked() || self.c.call_timeout.is_some();
        let slow = start_known && elapsed >= nanos(self.c.slow_call_duration);
        let answer = if past_deadline || (outcome.is_none() && slow) {
            Some(Outcome::Failure(FailureKind::Timeout))
        } else {
            outcome
        };
        match answer {
            Some(o) => self.record(p, o, None),
            None => self.release(p),
        }
        answer
    }

    fn release(&mut self, p: ModelPermit) {
        self.abandoned += 1;
        if p.probe {
            self.settle(p, None);
        }
    }

    fn record(&mut self, p: ModelPermit, outcome: Outcome, latency: Option<u64>) {
        if p.uncounted {
            return;
        }
        let latency = latency.unwrap_or(self.now - p.start);
        let failure = match outcome {
            Outcome::Ignored => {
                self.ignored += 1;
                if p.probe {
                    self.settle(p, None);
                }
                return;
            }
            Outcome::Success => None,
            Outcome::Failure(k) => Some(k),
        };
        let slow = latency >= self.c.slow_call_duration.as_nanos() as u64;
        // A late outcome in Closed (the breaker closed since the call's admission,
        // restarting the window) counts in the totals, not in the window.
        let late = self.state == State::Closed && self.generation != p.generation;
        if !late {
            let bucket = match self.c.window {
                WindowConfig::Count { .. } => {
                    self.seq += 1;
                    (self.seq - 1) / self.width()
                }
                WindowConfig::Time { .. } => (self.now - self.origin) / self.width(),
            };
            let weight = failure.map_or(0, |k| {
                (self.c.failure_weights.get(k) * 100.0).round() as u64
            });
            self.recs.push(Rec {
                bucket,
                weight,
                slow,
                latency,
            });
        }
        self.calls += 1;
        if failure.is_some() {
            self.failures += 1;
        }
        // The streak counts outcomes of one generation: an older one's leaves it alone,
        // a newer one's starts afresh.
        if p.generation.wrapping_sub(self.streak_generation) as i32 >= 0 {
            if p.generation != self.streak_generation {
                self.streak_generation = p.generation;
                self.consecutive = 0;
            }
            self.consecutive = if failure.is_some() {
                self.consecutive + 1
            } else {
                0
            };
        }
        if p.probe {
            // A probe fails when it counts against a configured rule: failed, slow
            // under a slow-call rate, or at the latency limit under a percentile rule.
            let against_a_rule = (slow && self.c.slow_call_rate_threshold.is_some())
                || self
                    .c
                    .latency_percentile
                    .is_some_and(|r| latency >= r.limit.as_nanos() as u64);
            self.settle(p, Some(failure.is_none() && !against_a_rule));
            return;
        }
        if self.state != State::Closed || self.generation != p.generation {
            return;
        }
        if let Some(n) = self.c.consecutive_failures {
            if self.consecutive >= n {
                self.open(false);
                return;
            }
        }
        let w = self.window();
        let n = w.len() as u64;
        if n < self.c.minimum_calls as u64 {
            return;
        }
        let reaches = |v: f64, t: f64| v >= t - t.abs() * 1e-12;
        let mut trip = false;
        if let Some(t) = self.c.failure_rate_threshold {
            let wf: u64 = w.iter().map(|r| r.weight).sum();
            trip |= reaches(wf as f64, t * (n * 100) as f64);
        }
        if let Some(t) = self.c.slow_call_rate_threshold {
            let s = w.iter().filter(|r| r.slow).count() as u64;
            trip |= reaches(s as f64, t * n as f64);
        }
        if let Some(p) = self.c.latency_percentile {
            let mut l: Vec<u64> = w.iter().map(|r| r.latency).collect();
            l.sort_unstable();
            let rank = ((p.quantile.0 * n as f64).ceil() as usize).max(1);
            trip |= l[rank - 1] >= p.limit.as_nanos() as u64;
        }
        if trip {
            self.open(false);
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self.state {
            State::Open => Some(self.open_until.saturating_sub(self.now)),
            State::HalfOpen if self.probes >= self.c.half_open.permits => {
                Some(self.lease_until.saturating_sub(self.now))
            }
            _ => None,
        }
    }
}

/// Applies `ops` to a real breaker and to the model; the first disagreement is an error.
pub fn run(config: Config, ops: Vec<Op>) -> Result<(), String> {
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(1));
    let b = Breaker::with_clock(config.clone(), clock.clone()).unwrap();
    let mut m = Model::new(config, SEC);
    let mut held: Vec<(RawPermit, ModelPermit)> = vec![];
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Acquire => {
                let real = b.acquire_raw();
                let model = m.acquire();
                check_eq!(real.is_ok(), model.is_some(), "step {}: admission", step);
                if let (Ok(r), Some(p)) = (real, model) {
                    check_eq!(r.is_probe(), p.probe);
                    held.push((r, p));
                }
            }
            Op::Record {
                index,
                outcome,
                latency_ms,
            } if !held.is_empty() => {
                let (r, p) = held.remove(index % held.len());
                let lat = latency_ms.map(|ms| ms * MS);
                b.record_raw(r, outcome, lat)
                    .map_err(|e| format!("step {step}: {e}"))?;
                m.record(p, outcome, lat);
            }
            Op::Complete { index, outcome } if !held.is_empty() => {
                let (r, p) = held.remove(index % held.len());
                let real = b
                    .complete_raw(r, outcome, None)
                    .map_err(|e| format!("step {step}: {e}"))?;
                let model = m.complete(p, outcome);
                check_eq!(real, model, "step {}: complete", step);
            }
            Op::Release { index } if !held.is_empty() => {
                let (r, p) = held.remove(index % held.len());
                b.release_raw(r).map_err(|e| format!("step {step}: {e}"))?;
                m.release(p);
            }
            Op::Advance { ms } => {
                clock.advance_nanos(ms * MS);
                m.now += ms * MS;
            }
            Op::ForceOpen => {
                b.force_open();
                if m.state != State::ForcedOpen {
                    m.transition(State::ForcedOpen);
                }
            }
            Op::Open => {
                b.open();
                if m.state != State::Open {
                    m.open(false);
                }
            }
            Op::OpenFor { ms } => {
                b.open_for(Duration::from_millis(ms));
                m.transition(State::Open);
                m.open_until = m.now.saturating_add(ms * MS);
            }
            Op::HalfOpen => {
                b.half_open();
                if m.state != State::HalfOpen {
                    m.transition(State::HalfOpen);
                }
            }
            Op::Close => {
                b.close();
                if m.state != State::Closed {
                    m.close();
                }
            }
            Op::Reset => {
                b.reset();
                if m.state != State::Closed {
                    m.transition(State::Closed);
                }
                m.restart_window();
                m.consecutive = 0;
                m.streak_generation = m.generation;
                m.level = 0;
                m.opened_before = false;
                m.closed_at = m.now;
            }
            _ => {}
        }
        let s = b.snapshot();
        check_eq!(s.state, m.state, "step {}: state", step);
        check_eq!(s.generation, m.generation, "step {}: generation", step);
        check_eq!(
            s.half_open_probes,
            if m.state == State::HalfOpen {
                m.probes
            } else {
                0
            }
        );
        check_eq!(
            s.half_open_successes,
            if m.state == State::HalfOpen {
                m.probe_ok
            } else {
                0
            },
            "step {}: probe successes",
            step
        );
        check_eq!(
            (s.calls, s.failures, s.ignored),
            (m.calls, m.failures, m.ignored)
        );
        check_eq!(
            (s.abandoned, s.rejected),
            (m.abandoned, m.rejected),
            "step {}",
            step
        );
        // The newest streak, whatever its generation: a streak outlives the
        // transition it caused until an outcome of a newer generation starts the next.
        check_eq!(
            s.consecutive_failures,
            m.consecutive,
            "step {}: streak",
            step
        );
        let w = m.window();
        check_eq!(s.window_calls, w.len() as u64, "step {}: window", step);
        let wf: u64 = w.iter().map(|r| r.weight).sum();
        let rate = if w.is_empty() {
            0.0
        } else {
            wf as f64 / 100.0 / w.len() as f64
        };
        check_eq!(s.failure_rate, rate);
        check_eq!(
            s.retry_after.map(|d| d.as_nanos() as u64),
            m.retry_after(),
            "step {}",
            step
        );
        if let Some(l) = s.latency {
            if !w.is_empty() && matches!(m.c.window, WindowConfig::Time { .. }) {
                // The histogram clamps at MAX_TRACKABLE (~9 min); a permit held longer
                // than that (the fuzz target's clock travels far) reads as the clamp.
                let mut v: Vec<u64> = w.iter().map(|r| r.latency.min(MAX_TRACKABLE)).collect();
                v.sort_unstable();
                let p99 = v[((0.99 * v.len() as f64).ceil() as usize).max(1) - 1] as f64;
                let err = (l.p99 as f64 - p99).abs() / p99.max(1.0);
                check!(err <= 0.032 || p99 < 64.0, "p99 {} vs {}", l.p99, p99);
            }
        }
    }
    Ok(())
}
