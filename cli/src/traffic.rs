//! The caller's traffic and the dependency's answers: a deterministic stream of
//! [`Arrival`]s drawn from a [`Scenario`] with its seed.
//!
//! Every arrival consumes the same random draws whatever happens to it, so every
//! candidate sees exactly the same calls, outcomes and latencies; only admission
//! differs.

use crate::budget::MAX_SPAN_NS;
use crate::engine::Arrival;
use crate::rng::{inverse_normal_cdf, Rng};
use crate::scenario::{ArrivalKind, Behaviour, Phase, PhaseKind, Scenario};
use tripgate::{FailureKind, Outcome};

/// z-score of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874;

/// The stream of calls of a scenario.
pub struct Traffic<'a> {
    scenario: &'a Scenario,
    rng: Rng,
    t: f64,
    phase: usize,
    tables: Vec<LatencyTable>,
    baseline: LatencyTable,
}

/// Inverse CDF of a lognormal latency: `TABLE_N` quantiles, linearly interpolated;
/// the first and last 1/`TABLE_N` of the distribution are computed exactly.
struct LatencyTable {
    median: f64,
    sigma: f64,
    q: Vec<f64>,
}

const TABLE_N: usize = 1024;

impl LatencyTable {
    fn new(b: &Behaviour) -> Self {
        let s = sigma(b);
        let q = (0..=TABLE_N)
            .map(|i| {
                let p = (i as f64 / TABLE_N as f64).clamp(1e-12, 1.0 - 1e-12);
                b.latency_ns * (s * inverse_normal_cdf(p)).exp()
            })
            .collect();
        LatencyTable {
            median: b.latency_ns,
            sigma: s,
            q,
        }
    }

    #[inline]
    fn sample(&self, u: f64) -> f64 {
        let x = u * TABLE_N as f64;
        let i = x as usize;
        if i == 0 || i >= TABLE_N - 1 {
            let p = u.clamp(1e-17, 1.0 - 1e-17);
            return self.median * (self.sigma * inverse_normal_cdf(p)).exp();
        }
        let f = x - i as f64;
        self.q[i] + (self.q[i + 1] - self.q[i]) * f
    }
}

impl<'a> Traffic<'a> {
    /// The calls of `scenario`, drawn from its seed.
    pub fn new(scenario: &'a Scenario) -> Self {
        Traffic {
            scenario,
            rng: Rng::new(scenario.seed),
            t: 0.0,
            phase: 0,
            tables: scenario
                .phases
                .iter()
                .map(|p| LatencyTable::new(&p.behaviour))
                .collect(),
            baseline: LatencyTable::new(&scenario.baseline),
        }
    }
}

/// The sigma of the lognormal latency with `b`'s median and p99.
pub fn sigma(b: &Behaviour) -> f64 {
    (b.latency_p99_ns / b.latency_ns).ln() / Z99
}

fn lerp(a: f64, b: f64, f: f64) -> f64 {
    a + (b - a) * f
}

/// The behaviour of `phase` at time `t`, and whether the dependency is failing then.
fn behaviour_at(phase: &Phase, baseline: &Behaviour, t: u64) -> (Behaviour, bool) {
    match phase.kind {
        PhaseKind::Flapping => {
            let period = phase.period_ns.unwrap_or(1);
            if t.saturating_sub(phase.start_ns) % period.max(1) < period / 2 {
                (phase.behaviour, true)
            } else {
                (*baseline, false)
            }
        }
        PhaseKind::Recovery => match phase.ramp_from {
            Some(from) => {
                let f = t.saturating_sub(phase.start_ns) as f64
                    / phase.end_ns.saturating_sub(phase.start_ns).max(1) as f64;
                let to = phase.behaviour;
                (
                    Behaviour {
                        latency_ns: lerp(from.latency_ns, to.latency_ns, f),
                        latency_p99_ns: lerp(from.latency_p99_ns, to.latency_p99_ns, f),
                        error_rate: lerp(from.error_rate, to.error_rate, f),
                        failure: from.failure,
                    },
                    false,
                )
            }
            None => (phase.behaviour, false),
        },
        k => (phase.behaviour, k.is_fault()),
    }
}

impl Iterator for Traffic<'_> {
    type Item = Arrival;

    #[inline]
    fn next(&mut self) -> Option<Arrival> {
        let phases = &self.scenario.phases;
        let p = phases.get(self.phase)?;
        let mean_gap = 1e9 / p.rate;
        self.t += match self.scenario.arrival {
            ArrivalKind::Poisson => self.rng.exponential(mean_gap),
            ArrivalKind::Uniform => mean_gap,
        };
        while self.t >= phases[self.phase].end_ns as f64 {
            self.phase += 1;
            if self.phase == phases.len() {
                return None;
            }
        }
        let t = self.t as u64;
        let p = &phases[self.phase];
        let (b, fault) = behaviour_at(p, &self.scenario.baseline, t);
        let u = self.rng.uniform();
        let v = self.rng.uniform();
        let latency = match (p.kind, fault) {
            (PhaseKind::Flapping, false) => self.baseline.sample(v),
            (PhaseKind::Recovery, _) if p.ramp_from.is_some() => {
                let p = v.clamp(1e-17, 1.0 - 1e-17);
                b.latency_ns * (sigma(&b) * inverse_normal_cdf(p)).exp()
            }
            _ => self.tables[self.phase].sample(v),
        };
        // A lognormal tail is unbounded: draws are capped at the longest span a run covers.
        let mut latency = latency.clamp(1.0, MAX_SPAN_NS as f64) as u64;
        let mut outcome = if u < b.error_rate {
            Outcome::Failure(b.failure)
        } else {
            Outcome::Success
        };
        if latency >= self.scenario.timeout_ns {
            latency = self.scenario.timeout_ns;
            outcome = Outcome::Failure(FailureKind::Timeout);
        }
        Some(Arrival {
            t_ns: t,
            latency_ns: latency,
            outcome,
            phase: self.phase as u32,
            fault,
        })
    }
}
