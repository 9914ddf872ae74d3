//! The caller's traffic and the dependency's answers: a deterministic stream of
//! [`Arrival`]s drawn from a [`Scenario`] with its seed.
//!
//! Every arrival consumes the same random draws whatever happens to it, so every
//! candidate sees exactly the same calls, outcomes and latencies; only admission
//! differs.

use crate::engine::Arrival;
use crate::rng::Rng;
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
    sigma: Vec<f64>,
}

impl<'a> Traffic<'a> {
    /// The calls of `scenario`, drawn from its seed.
    pub fn new(scenario: &'a Scenario) -> Self {
        Traffic {
            scenario,
            rng: Rng::new(scenario.seed),
            t: 0.0,
            phase: 0,
            sigma: scenario
                .phases
                .iter()
                .map(|p| sigma(&p.behaviour))
                .collect(),
        }
    }
}

fn sigma(b: &Behaviour) -> f64 {
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
            if (t - phase.start_ns) % period < period / 2 {
                (phase.behaviour, true)
            } else {
                (*baseline, false)
            }
        }
        PhaseKind::Recovery => match phase.ramp_from {
            Some(from) => {
                let f = (t - phase.start_ns) as f64 / (phase.end_ns - phase.start_ns) as f64;
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
        let s = match (p.kind, fault) {
            (PhaseKind::Flapping, false) => sigma(&self.scenario.baseline),
            (PhaseKind::Recovery, _) if p.ramp_from.is_some() => sigma(&b),
            _ => self.sigma[self.phase],
        };
        let u = self.rng.uniform();
        let z = self.rng.normal();
        let mut latency = (b.latency_ns * (s * z).exp()).max(1.0) as u64;
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
