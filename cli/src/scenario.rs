//! Scenario files: the caller's traffic, the dependency's behaviour phase by phase, and
//! the candidate breaker configs to compare. TOML, unknown fields denied; every error
//! names the line and the field.
//!
//! ```toml
//! name = "order-service -> inventory-service"
//! seed = 42
//! [traffic]
//! rate = 200            # calls per second
//! concurrency = 64      # calls in flight at most; more are shed by the caller
//! timeout = "1s"        # the caller's timeout: slower calls fail as timeouts
//! [dependency]          # healthy behaviour (baseline for every phase)
//! latency = "20ms"      # median
//! latency_p99 = "80ms"
//! error_rate = 0.001
//! [[phase]]
//! kind = "healthy"
//! duration = "2m"
//! [[phase]]
//! kind = "outage"
//! duration = "1m"
//! [[candidate]]
//! tier = "critical"
//! ```

use crate::candidates::{self, Candidate, RawCandidate};
use crate::location::{find_key_line, FileError};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;
use tripgate::FailureKind;

/// The default scenario, embedded in the binary (also shipped as
/// `cli/scenarios/default.toml`).
pub const DEFAULT_SCENARIO: &str = include_str!("../scenarios/default.toml");
/// The name the embedded default is reported under.
pub const DEFAULT_NAME: &str = "<embedded default scenario>";

/// What the dependency does during a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    /// Baseline behaviour.
    Healthy,
    /// A share of calls fail (`error_rate`, default 0.5; `failure`, default
    /// `server_error`).
    ErrorBurst,
    /// Calls slow down (`latency` and `latency_p99`, default 10x the baseline); calls
    /// slower than the caller's timeout fail as timeouts.
    LatencySpike,
    /// Every call fails (`failure`, default `connection`, after `latency`, default 1ms).
    Outage,
    /// Alternates outage and health: the first half of every `period` (default 10s) is
    /// an outage, the second half healthy.
    Flapping,
    /// Healthy again; `error_rate` and `latency`, when given, ramp linearly from those
    /// values down to the baseline over the phase.
    Recovery,
}

impl PhaseKind {
    /// Whether the dependency is (at least partly) failing during such a phase.
    pub fn is_fault(self) -> bool {
        !matches!(self, PhaseKind::Healthy | PhaseKind::Recovery)
    }

    /// The name used in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            PhaseKind::Healthy => "healthy",
            PhaseKind::ErrorBurst => "error_burst",
            PhaseKind::LatencySpike => "latency_spike",
            PhaseKind::Outage => "outage",
            PhaseKind::Flapping => "flapping",
            PhaseKind::Recovery => "recovery",
        }
    }
}

/// How calls arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalKind {
    /// Exponential gaps (a Poisson process), the usual model of independent callers.
    #[default]
    Poisson,
    /// Evenly spaced calls.
    Uniform,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrafficFile {
    rate: f64,
    #[serde(default, with = "humantime_serde")]
    duration: Option<Duration>,
    #[serde(default)]
    concurrency: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    #[serde(default)]
    arrival: ArrivalKind,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DependencyFile {
    #[serde(default, with = "humantime_serde")]
    latency: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    latency_p99: Option<Duration>,
    #[serde(default)]
    error_rate: Option<f64>,
    #[serde(default)]
    failure: Option<FailureKind>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseFile {
    kind: PhaseKind,
    #[serde(with = "humantime_serde")]
    duration: Duration,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    rate: Option<f64>,
    #[serde(default)]
    error_rate: Option<f64>,
    #[serde(default)]
    failure: Option<FailureKind>,
    #[serde(default, with = "humantime_serde")]
    latency: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    latency_p99: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    period: Option<Duration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
    traffic: TrafficFile,
    #[serde(default)]
    dependency: DependencyFile,
    #[serde(default, rename = "phase")]
    phases: Vec<PhaseFile>,
    #[serde(default, rename = "candidate")]
    candidates: Vec<RawCandidate>,
}

/// The dependency's behaviour at one moment.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Behaviour {
    /// Median latency, nanoseconds.
    pub latency_ns: f64,
    /// 99th percentile latency, nanoseconds.
    pub latency_p99_ns: f64,
    /// Share of calls that fail.
    pub error_rate: f64,
    /// How they fail.
    #[serde(serialize_with = "ser_kind")]
    pub failure: FailureKind,
}

fn ser_kind<S: serde::Serializer>(k: &FailureKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(k.name())
}

/// One phase of the scenario, with every default resolved.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Phase {
    /// Display name (the kind unless named).
    pub name: String,
    /// What happens.
    pub kind: PhaseKind,
    /// Start, nanoseconds from the beginning.
    pub start_ns: u64,
    /// End (exclusive).
    pub end_ns: u64,
    /// Calls per second during the phase.
    pub rate: f64,
    /// Behaviour while failing (for flapping: the bad half), or throughout.
    pub behaviour: Behaviour,
    /// Start of a recovery ramp (recovery only).
    pub ramp_from: Option<Behaviour>,
    /// Flapping period.
    pub period_ns: Option<u64>,
}

/// A parsed, validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The seed of the traffic and of the candidates' jitter.
    pub seed: u64,
    /// Caller's in-flight cap (`None`: unlimited).
    pub concurrency: Option<u32>,
    /// Caller's timeout.
    pub timeout_ns: u64,
    /// Arrival process.
    pub arrival: ArrivalKind,
    /// Healthy behaviour.
    pub baseline: Behaviour,
    /// Phases, back to back from 0.
    pub phases: Vec<Phase>,
    /// The candidates; at least one.
    pub candidates: Vec<Candidate>,
}

impl Scenario {
    /// Expected number of calls (rate times duration, summed over phases).
    pub fn expected_calls(&self) -> u64 {
        self.phases
            .iter()
            .map(|p| p.rate * (p.end_ns - p.start_ns) as f64 / 1e9)
            .sum::<f64>() as u64
    }

    /// The embedded default scenario.
    pub fn default_scenario() -> Scenario {
        Scenario::parse(DEFAULT_SCENARIO, DEFAULT_NAME, Path::new("."))
            .expect("the embedded default scenario is valid")
    }

    /// Reads and parses a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, FileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| FileError::whole(&file, format!("cannot read: {e}")))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Scenario::parse(&text, &file, dir)
    }

    /// Parses scenario text; `file` names it in errors and `dir` resolves the paths of
    /// candidate config files.
    pub fn parse(text: &str, file: &str, dir: &Path) -> Result<Scenario, FileError> {
        let raw: ScenarioFile = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            match e.span() {
                Some(span) => FileError::at_offset(file, text, span.start, msg),
                None => FileError::whole(file, msg),
            }
        })?;
        let bad = |table: &str, key: &str, msg: String| {
            FileError::at_line(
                file,
                find_key_line(text, table, key),
                &if table.is_empty() {
                    key.to_string()
                } else {
                    format!("{table}.{key}")
                },
                msg,
            )
        };
        let t = &raw.traffic;
        if !(t.rate.is_finite() && t.rate > 0.0 && t.rate <= 10_000_000.0) {
            return Err(bad(
                "traffic",
                "rate",
                format!(
                    "{} is out of range: allowed 0 < rate <= 10000000 calls per second",
                    t.rate
                ),
            ));
        }
        if t.concurrency == Some(0) {
            return Err(bad(
                "traffic",
                "concurrency",
                "0 is out of range: allowed 1..=4294967295 (omit for unlimited)".into(),
            ));
        }
        if t.timeout == Some(Duration::ZERO) {
            return Err(bad(
                "traffic",
                "timeout",
                "0s is out of range: allowed at least 1ns".into(),
            ));
        }
        let d = &raw.dependency;
        let baseline_latency = d.latency.unwrap_or(Duration::from_millis(20));
        let baseline = Behaviour {
            latency_ns: baseline_latency.as_nanos() as f64,
            latency_p99_ns: d.latency_p99.unwrap_or(baseline_latency * 4).as_nanos() as f64,
            error_rate: d.error_rate.unwrap_or(0.0),
            failure: d.failure.unwrap_or(FailureKind::ServerError),
        };
        check_behaviour(&baseline, "dependency", &bad)?;
        if raw.phases.is_empty() {
            return Err(FileError::at_line(
                file,
                None,
                "phase",
                "a scenario needs at least one [[phase]]",
            ));
        }
        let mut phases = Vec::with_capacity(raw.phases.len());
        let mut at = 0u64;
        for (i, p) in raw.phases.iter().enumerate() {
            let table = format!("phase[{i}]");
            if p.duration.is_zero() {
                return Err(bad(
                    &table,
                    "duration",
                    "0s is out of range: a phase lasts at least 1ns".into(),
                ));
            }
            let rate = p.rate.unwrap_or(t.rate);
            if !(rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0) {
                return Err(bad(
                    &table,
                    "rate",
                    format!("{rate} is out of range: allowed 0 < rate <= 10000000"),
                ));
            }
            // What the phase kind implies, then what the phase table says over it (a
            // given median without a given p99 implies a p99 of 4x the median).
            let implied = match p.kind {
                PhaseKind::Healthy | PhaseKind::Recovery => baseline,
                PhaseKind::ErrorBurst => Behaviour {
                    error_rate: 0.5,
                    failure: FailureKind::ServerError,
                    ..baseline
                },
                PhaseKind::LatencySpike => Behaviour {
                    latency_ns: baseline.latency_ns * 10.0,
                    latency_p99_ns: baseline.latency_p99_ns * 10.0,
                    ..baseline
                },
                PhaseKind::Outage | PhaseKind::Flapping => Behaviour {
                    latency_ns: 1e6,
                    latency_p99_ns: 5e6,
                    error_rate: 1.0,
                    failure: FailureKind::Connection,
                },
            };
            let nanos = |d: Duration| d.as_nanos() as f64;
            let given = Behaviour {
                latency_ns: p.latency.map_or(implied.latency_ns, nanos),
                latency_p99_ns: p.latency_p99.map_or(
                    p.latency.map_or(implied.latency_p99_ns, |l| nanos(l) * 4.0),
                    nanos,
                ),
                error_rate: p.error_rate.unwrap_or(implied.error_rate),
                failure: p.failure.unwrap_or(implied.failure),
            };
            // A recovery ramps from what its table gives back to the baseline.
            let (behaviour, ramp_from) = match p.kind {
                PhaseKind::Recovery => (baseline, (given != baseline).then_some(given)),
                _ => (given, None),
            };
            check_behaviour(&behaviour, &table, &bad)?;
            if let Some(from) = &ramp_from {
                check_behaviour(from, &table, &bad)?;
            }
            let period_ns = match (p.kind, p.period) {
                (PhaseKind::Flapping, period) => {
                    let period = period.unwrap_or(Duration::from_secs(10));
                    if period < Duration::from_millis(2) {
                        return Err(bad(
                            &table,
                            "period",
                            "out of range: allowed at least 2ms".into(),
                        ));
                    }
                    Some(period.as_nanos() as u64)
                }
                (_, Some(_)) => {
                    return Err(bad(
                        &table,
                        "period",
                        format!("only a flapping phase has a period, not {}", p.kind.name()),
                    ))
                }
                (_, None) => None,
            };
            let len = u64::try_from(p.duration.as_nanos()).unwrap_or(u64::MAX);
            let end = at
                .checked_add(len)
                .filter(|&e| e <= 365 * 24 * 3600 * 1_000_000_000)
                .ok_or_else(|| {
                    bad(
                        &table,
                        "duration",
                        "the scenario is longer than a year".into(),
                    )
                })?;
            phases.push(Phase {
                name: p.name.clone().unwrap_or_else(|| p.kind.name().to_string()),
                kind: p.kind,
                start_ns: at,
                end_ns: end,
                rate,
                behaviour,
                ramp_from,
                period_ns,
            });
            at = end;
        }
        if let Some(total) = t.duration {
            let total = total.as_nanos() as u64;
            if total < at {
                return Err(bad(
                    "traffic",
                    "duration",
                    format!(
                        "{} is shorter than the phases ({}); omit it or make it at least as long",
                        humantime::format_duration(Duration::from_nanos(total)),
                        humantime::format_duration(Duration::from_nanos(at))
                    ),
                ));
            }
            if total > at {
                phases.push(Phase {
                    name: "healthy".into(),
                    kind: PhaseKind::Healthy,
                    start_ns: at,
                    end_ns: total,
                    rate: t.rate,
                    behaviour: baseline,
                    ramp_from: None,
                    period_ns: None,
                });
            }
        }
        let seed = raw.seed.unwrap_or(1);
        if raw.candidates.is_empty() {
            return Err(FileError::at_line(
                file,
                None,
                "candidate",
                "a scenario needs at least one [[candidate]]",
            ));
        }
        let candidates = raw
            .candidates
            .iter()
            .enumerate()
            .map(|(i, c)| candidates::resolve(c, i, seed, file, text, dir))
            .collect::<Result<Vec<_>, _>>()?;
        candidates::check_unique_names(&candidates, file)?;
        Ok(Scenario {
            name: raw.name.unwrap_or_else(|| file.to_string()),
            description: raw.description.unwrap_or_default(),
            seed,
            concurrency: t.concurrency,
            timeout_ns: t.timeout.map_or(u64::MAX, |d| d.as_nanos() as u64),
            arrival: t.arrival,
            baseline,
            phases,
            candidates,
        })
    }
}

fn check_behaviour(
    b: &Behaviour,
    table: &str,
    bad: &impl Fn(&str, &str, String) -> FileError,
) -> Result<(), FileError> {
    if !(0.0..=1.0).contains(&b.error_rate) {
        return Err(bad(
            table,
            "error_rate",
            format!("{} is out of range: allowed 0.0..=1.0", b.error_rate),
        ));
    }
    if b.latency_ns < 1.0 {
        return Err(bad(
            table,
            "latency",
            "out of range: allowed at least 1ns".into(),
        ));
    }
    if b.latency_p99_ns < b.latency_ns {
        return Err(bad(
            table,
            "latency_p99",
            format!(
                "{} is below the median latency {}: allowed at least the median",
                humantime::format_duration(Duration::from_nanos(b.latency_p99_ns as u64)),
                humantime::format_duration(Duration::from_nanos(b.latency_ns as u64))
            ),
        ));
    }
    Ok(())
}
