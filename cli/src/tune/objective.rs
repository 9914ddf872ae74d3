//! What `tripgate tune` optimizes: the figures of one candidate's run ([`Scores`]), the
//! objective the user states (a cap on false trips, then one figure to minimize or a
//! weighted sum), and the Pareto front over two chosen figures.

use crate::report::{CandidateReport, Report};
use serde::Serialize;

/// One figure of a run, lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Mean time from a fault's start to the breaker opening, seconds (a fault it never
    /// trips on counts as the whole fault).
    Trip,
    /// Calls that reached the dependency while it was failing.
    Leaked,
    /// Calls rejected while the dependency was healthy.
    Rejected,
    /// Trips from Closed while the dependency was healthy.
    FalseTrips,
    /// Mean time from a fault's end to the breaker closing, seconds (never closing
    /// counts as the rest of the run).
    Recovery,
    /// Transitions (many on a steady fault is flapping).
    Flaps,
    /// The caller's p99 latency, ms (rejected calls count as ~0 ms).
    P99,
}

impl Metric {
    /// Every figure, in table order.
    pub const ALL: [Metric; 7] = [
        Metric::Trip,
        Metric::Leaked,
        Metric::Rejected,
        Metric::FalseTrips,
        Metric::Recovery,
        Metric::Flaps,
        Metric::P99,
    ];

    /// The name used on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Trip => "trip",
            Metric::Leaked => "leaked",
            Metric::Rejected => "rejected",
            Metric::FalseTrips => "false_trips",
            Metric::Recovery => "recovery",
            Metric::Flaps => "flaps",
            Metric::P99 => "p99",
        }
    }

    /// Parses a name of [`Metric::name`].
    pub fn from_name(name: &str) -> Result<Metric, String> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == name.trim())
            .ok_or_else(|| format!("unknown figure {name:?}: expected one of {}", names()))
    }

    /// Parses two different figures written `x,y`.
    pub fn parse_pair(text: &str) -> Result<(Metric, Metric), String> {
        match text
            .split(',')
            .map(Metric::from_name)
            .collect::<Result<Vec<_>, _>>()?
        {
            v if v.len() == 2 && v[0] != v[1] => Ok((v[0], v[1])),
            _ => Err(format!(
                "{text:?}: give two different figures, e.g. leaked,rejected"
            )),
        }
    }

    /// A short label with its unit, for tables and axes.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Trip => "trip (s)",
            Metric::Leaked => "leaked",
            Metric::Rejected => "rejected",
            Metric::FalseTrips => "false trips",
            Metric::Recovery => "recovery (s)",
            Metric::Flaps => "flaps",
            Metric::P99 => "p99 (ms)",
        }
    }
}

fn names() -> String {
    Metric::ALL.map(Metric::name).join(", ")
}

/// The figures of one run, or their mean over several.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Scores {
    /// See [`Metric::Trip`].
    pub trip: f64,
    /// See [`Metric::Leaked`].
    pub leaked: f64,
    /// See [`Metric::Rejected`].
    pub rejected: f64,
    /// See [`Metric::FalseTrips`].
    pub false_trips: f64,
    /// See [`Metric::Recovery`].
    pub recovery: f64,
    /// See [`Metric::Flaps`].
    pub flaps: f64,
    /// See [`Metric::P99`].
    pub p99: f64,
}

impl Scores {
    /// The figure `m`.
    pub fn get(&self, m: Metric) -> f64 {
        match m {
            Metric::Trip => self.trip,
            Metric::Leaked => self.leaked,
            Metric::Rejected => self.rejected,
            Metric::FalseTrips => self.false_trips,
            Metric::Recovery => self.recovery,
            Metric::Flaps => self.flaps,
            Metric::P99 => self.p99,
        }
    }

    fn set(&mut self, m: Metric, v: f64) {
        *match m {
            Metric::Trip => &mut self.trip,
            Metric::Leaked => &mut self.leaked,
            Metric::Rejected => &mut self.rejected,
            Metric::FalseTrips => &mut self.false_trips,
            Metric::Recovery => &mut self.recovery,
            Metric::Flaps => &mut self.flaps,
            Metric::P99 => &mut self.p99,
        } = v;
    }

    /// The figures of candidate `c` of simulation report `rep`.
    pub fn of(c: &CandidateReport, rep: &Report) -> Scores {
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        let trips: Vec<f64> = c
            .faults
            .iter()
            .map(|f| f.trip_after_ms.unwrap_or(f.end_ms - f.start_ms) / 1e3)
            .collect();
        let recoveries: Vec<f64> = c
            .faults
            .iter()
            .filter_map(|f| match f.recovery {
                "next_phase_is_a_fault" => None,
                "not_recovered" => Some((rep.duration_ms - f.end_ms) / 1e3),
                _ => Some(f.recover_after_ms.unwrap_or(0.0) / 1e3),
            })
            .collect();
        Scores {
            trip: mean(&trips),
            leaked: c.reached_failing as f64,
            rejected: c.healthy_rejected as f64,
            false_trips: c.false_trips as f64,
            recovery: mean(&recoveries),
            flaps: c.transitions as f64,
            p99: c.latency_ms.p99,
        }
    }

    /// The mean of `runs` (zero when empty), each figure rounded to 1e-6 so that the
    /// JSON stays short.
    pub fn mean(runs: &[Scores]) -> Scores {
        let mut out = Scores::default();
        for m in Metric::ALL {
            let sum: f64 = runs.iter().map(|s| s.get(m)).sum();
            let v = if runs.is_empty() {
                0.0
            } else {
                sum / runs.len() as f64
            };
            out.set(m, (v * 1e6).round() / 1e6);
        }
        out
    }

    /// The largest of each figure over `all` (1 where it is 0 everywhere): the scales
    /// the weighted sum divides by.
    pub fn scales<'a>(all: impl Iterator<Item = &'a Scores>) -> Scores {
        let mut out = Scores::default();
        for s in all {
            for m in Metric::ALL {
                out.set(m, out.get(m).max(s.get(m)));
            }
        }
        for m in Metric::ALL {
            if out.get(m) <= 0.0 {
                out.set(m, 1.0);
            }
        }
        out
    }
}

/// The user's objective.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Objective {
    /// A candidate with more false trips than this on any search seed is out
    /// (`None`: no cap).
    pub max_false_trips: Option<u32>,
    /// Figures and weights of the sum to minimize; each figure is divided by its largest
    /// value among the candidates, so weights compare like with like.
    #[serde(serialize_with = "weights_as_map")]
    pub weights: Vec<(Metric, f64)>,
}

/// Weights in the JSON as `{"trip": 1.0, ...}`, in the order given.
fn weights_as_map<S: serde::Serializer>(w: &[(Metric, f64)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(w.len()))?;
    for (metric, weight) in w {
        m.serialize_entry(metric.name(), weight)?;
    }
    m.end()
}

impl Default for Objective {
    fn default() -> Self {
        Objective {
            max_false_trips: Some(0),
            weights: [
                Metric::Trip,
                Metric::Leaked,
                Metric::Rejected,
                Metric::Recovery,
                Metric::Flaps,
            ]
            .map(|m| (m, 1.0))
            .to_vec(),
        }
    }
}

impl Objective {
    /// The objective of the command line: `--max-false-trips N|none`, then
    /// `--minimize FIGURE` or `--weights ...` (the default weights when neither).
    pub fn from_args(
        max_false_trips: &str,
        minimize: Option<&str>,
        weights: Option<&str>,
    ) -> Result<Objective, String> {
        let max_false_trips = match max_false_trips.trim() {
            "none" => None,
            n => Some(n.parse().map_err(|_| {
                format!(
                    "--max-false-trips {n:?} is out of range: allowed a whole number >= 0, or none"
                )
            })?),
        };
        let weights = match (minimize, weights) {
            (Some(_), Some(_)) => return Err("give --minimize or --weights, not both".into()),
            (Some(m), None) => vec![(
                Metric::from_name(m).map_err(|e| format!("--minimize: {e}"))?,
                1.0,
            )],
            (None, Some(w)) => Objective::parse_weights(w)?,
            (None, None) => Objective::default().weights,
        };
        Ok(Objective {
            max_false_trips,
            weights,
        })
    }

    /// Parses `--weights trip=1,leaked=2,...`.
    pub fn parse_weights(text: &str) -> Result<Vec<(Metric, f64)>, String> {
        let mut out: Vec<(Metric, f64)> = Vec::new();
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, w) = part.split_once('=').ok_or_else(|| {
                format!("--weights: {part:?} is not FIGURE=WEIGHT (e.g. leaked=2)")
            })?;
            let m = Metric::from_name(name).map_err(|e| format!("--weights: {e}"))?;
            let w: f64 = w
                .trim()
                .parse()
                .ok()
                .filter(|w: &f64| w.is_finite() && *w >= 0.0)
                .ok_or_else(|| {
                    format!(
                        "--weights: weight {w:?} of {} is out of range: allowed a number >= 0",
                        m.name()
                    )
                })?;
            if out.iter().any(|(x, _)| *x == m) {
                return Err(format!("--weights: {} is given twice", m.name()));
            }
            out.push((m, w));
        }
        if !out.iter().any(|(_, w)| *w > 0.0) {
            return Err(format!(
                "--weights: give at least one positive weight, e.g. leaked=2,rejected=1 (figures: {})",
                names()
            ));
        }
        Ok(out)
    }

    /// The weighted sum of `s`, each figure divided by its scale.
    pub fn score(&self, s: &Scores, scales: &Scores) -> f64 {
        let v: f64 = self
            .weights
            .iter()
            .map(|(m, w)| w * s.get(*m) / scales.get(*m))
            .sum();
        (v * 1e6).round() / 1e6
    }

    /// Every figure, equally weighted and scaled: the tie-break between equal scores.
    pub fn tie_break(s: &Scores, scales: &Scores) -> f64 {
        Metric::ALL.iter().map(|m| s.get(*m) / scales.get(*m)).sum()
    }

    /// Whether a candidate whose worst search seed had `worst_false_trips` may win.
    pub fn admits(&self, worst_false_trips: f64) -> bool {
        self.max_false_trips
            .map_or(true, |max| worst_false_trips <= f64::from(max))
    }

    /// The objective in words.
    pub fn describe(&self) -> String {
        let sum: Vec<String> = self
            .weights
            .iter()
            .filter(|(_, w)| *w > 0.0)
            .map(|(m, w)| {
                if *w == 1.0 {
                    m.name().to_string()
                } else {
                    format!("{w}*{}", m.name())
                }
            })
            .collect();
        let goal = if sum.len() == 1 {
            format!("minimize {}", sum[0])
        } else {
            format!(
                "minimize {} (each divided by its largest value among the candidates)",
                sum.join(" + ")
            )
        };
        match self.max_false_trips {
            Some(n) => format!(
                "at most {n} false trip{} on every search draw; {goal}",
                if n == 1 { "" } else { "s" }
            ),
            None => goal,
        }
    }
}

/// Indices of the points not dominated on both figures (lower is better), by
/// increasing `x`. Ties keep the lowest index.
pub fn pareto_front(points: &[(usize, f64, f64)]) -> Vec<usize> {
    let mut sorted: Vec<&(usize, f64, f64)> = points.iter().collect();
    sorted.sort_by(|a, b| {
        a.1.total_cmp(&b.1)
            .then(a.2.total_cmp(&b.2))
            .then(a.0.cmp(&b.0))
    });
    let mut best_y = f64::INFINITY;
    let mut out = Vec::new();
    for &&(i, _, y) in &sorted {
        if y < best_y {
            best_y = y;
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_parse_and_bad_ones_are_named() {
        let w = Objective::parse_weights("trip=1, leaked=2,rejected=5").unwrap();
        assert_eq!(
            w,
            vec![
                (Metric::Trip, 1.0),
                (Metric::Leaked, 2.0),
                (Metric::Rejected, 5.0)
            ]
        );
        assert!(Objective::parse_weights("trip=x")
            .unwrap_err()
            .contains("trip"));
        assert!(Objective::parse_weights("speed=1")
            .unwrap_err()
            .contains("leaked"));
        assert!(Objective::parse_weights("trip=0").is_err());
        assert!(Objective::parse_weights("trip=1,trip=2")
            .unwrap_err()
            .contains("twice"));
    }

    #[test]
    fn the_front_keeps_only_undominated_points() {
        let pts = [
            (0, 1.0, 9.0),
            (1, 2.0, 5.0),
            (2, 3.0, 6.0),
            (3, 4.0, 1.0),
            (4, 2.0, 5.0),
        ];
        assert_eq!(pareto_front(&pts), vec![0, 1, 3]);
    }
}
