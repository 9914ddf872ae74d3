//! Scenario files: the caller's traffic, the dependency's behaviour phase by phase, and
//! the candidate breaker configs to compare. TOML, unknown fields denied. The file is
//! parsed into a table, then every field is checked and every error collected: one run
//! reports them all, in line order, each with its line, field, value and allowed range.
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

use crate::budget::{exact, MAX_RATE, MAX_SPAN, MAX_SPAN_NS};
use crate::candidates::{self, Candidate, RawCandidate};
use crate::fields::Fields;
use crate::location::FileError;
use crate::replicas::{fleet_fields, FleetSettings};
use serde::Deserialize;
use std::fmt;
use std::path::Path;
use std::time::Duration;
use tripgate::FailureKind;

/// The default scenario, embedded in the binary (also shipped as
/// `cli/scenarios/default.toml`).
pub const DEFAULT_SCENARIO: &str = include_str!("../scenarios/default.toml");
/// The name the embedded default is reported under.
pub const DEFAULT_NAME: &str = "<embedded default scenario>";

/// What the dependency does during a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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

    /// Every kind, in the order documented.
    pub const ALL: [PhaseKind; 6] = [
        PhaseKind::Healthy,
        PhaseKind::ErrorBurst,
        PhaseKind::LatencySpike,
        PhaseKind::Outage,
        PhaseKind::Flapping,
        PhaseKind::Recovery,
    ];

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArrivalKind {
    /// Exponential gaps (a Poisson process), the usual model of independent callers.
    #[default]
    Poisson,
    /// Evenly spaced calls.
    Uniform,
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
    /// The `[fleet]` table: run as replicas, with and without fleet mode (`None`: one
    /// breaker per candidate).
    pub fleet: Option<FleetSettings>,
}

/// Every error of a scenario file, in line order (errors about the whole file last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioErrors(pub Vec<FileError>);

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::location::write_errors(f, &self.0, 0)
    }
}

impl std::error::Error for ScenarioErrors {}

/// Keys of each table of a scenario file.
const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "seed",
    "traffic",
    "dependency",
    "phase",
    "candidate",
    // Read by `tripgate tune` (the space it searches); other commands ignore it.
    "tune",
    // Read by `tripgate simulate` (the replicas and their fleet mode): see `replicas`.
    "fleet",
];
const TRAFFIC_KEYS: &[&str] = &["rate", "duration", "concurrency", "timeout", "arrival"];
const DEPENDENCY_KEYS: &[&str] = &["latency", "latency_p99", "error_rate", "failure"];
const PHASE_KEYS: &[&str] = &[
    "kind",
    "duration",
    "name",
    "rate",
    "error_rate",
    "failure",
    "latency",
    "latency_p99",
    "period",
];

/// The candidates of a scenario file with their places (every other key ignored).
#[derive(Deserialize)]
struct CandidateTables {
    #[serde(default, rename = "candidate")]
    candidates: Vec<RawCandidate>,
}

/// The shortest flapping period.
const MIN_PERIOD: Duration = Duration::from_millis(2);

impl Scenario {
    /// Expected number of calls (rate times duration, summed over phases).
    pub fn expected_calls(&self) -> u64 {
        self.phases
            .iter()
            .map(|p| p.rate * (p.end_ns - p.start_ns) as f64 / 1e9)
            .sum::<f64>() as u64
    }

    /// Calls in flight at once at the worst moment, per candidate (an upper estimate):
    /// by Little's law, the rate times the mean latency (capped by the caller's
    /// timeout) of the slowest phase, doubled for bursts; at most the concurrency cap
    /// and the calls of the whole run.
    pub fn peak_in_flight(&self) -> u64 {
        let timeout = self.timeout_ns as f64;
        let mean_latency = |b: &Behaviour| {
            let sigma = crate::traffic::sigma(b);
            (b.latency_ns * (sigma * sigma / 2.0).exp()).min(timeout)
        };
        let worst = self
            .phases
            .iter()
            .map(|p| {
                let slowest = [
                    Some(&p.behaviour),
                    p.ramp_from.as_ref(),
                    Some(&self.baseline),
                ]
                .into_iter()
                .flatten()
                .map(mean_latency)
                .fold(0.0, f64::max);
                2.0 * p.rate * slowest / 1e9 + 1.0
            })
            .fold(0.0, f64::max);
        let cap = self.concurrency.map_or(u64::MAX, u64::from);
        (worst as u64)
            .min(cap)
            .min(self.expected_calls().saturating_mul(2).saturating_add(16))
    }

    /// The embedded default scenario.
    pub fn default_scenario() -> Scenario {
        Scenario::parse(DEFAULT_SCENARIO, DEFAULT_NAME, Path::new("."))
            .expect("the embedded default scenario is valid")
    }

    /// Reads and parses a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioErrors> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ScenarioErrors(vec![FileError::whole(&file, format!("cannot read: {e}"))])
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Scenario::parse(&text, &file, dir)
    }

    /// Parses scenario text; `file` names it in errors and `dir` resolves the paths of
    /// candidate config files. Every error is reported, in line order.
    pub fn parse(text: &str, file: &str, dir: &Path) -> Result<Scenario, ScenarioErrors> {
        let root: toml::Table = toml::from_str(text).map_err(|e| {
            // The TOML parser leaves some messages empty (a NUL in a comment).
            let msg = match e.message().trim_end() {
                "" => "invalid TOML syntax".to_string(),
                m => m.to_string(),
            };
            ScenarioErrors(vec![match e.span() {
                Some(span) => FileError::at_offset(file, text, span.start, msg),
                None => FileError::whole(file, msg),
            }])
        })?;
        let mut f = Fields::new(file, text);
        let parsed = parse_fields(&mut f, &root, dir);
        let mut errors = f.into_errors();
        match parsed {
            Some(sc) if errors.is_empty() => Ok(sc),
            None if errors.is_empty() => Err(ScenarioErrors(vec![FileError::whole(
                file,
                "not a valid scenario (no field could be blamed; please report this file)",
            )])),
            _ => {
                // Stable: errors on one line keep the order they were found in.
                errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
                Err(ScenarioErrors(errors))
            }
        }
    }
}

/// Checks every field of `root`, collecting errors in `f`; `None` when any failed.
fn parse_fields(f: &mut Fields<'_>, root: &toml::Table, dir: &Path) -> Option<Scenario> {
    let durations = Duration::from_nanos(1)..=MAX_SPAN;
    let rates = (
        f64::MIN_POSITIVE,
        MAX_RATE,
        "0 < rate <= 10000000 calls per second",
    );
    f.deny_unknown("", root, TOP_KEYS);
    let name = f.string("", root, "name");
    let description = f.string("", root, "description");
    let seed = f.uint("", root, "seed", 0..=i64::MAX as u64).unwrap_or(1);

    let empty = toml::Table::new();
    let traffic = f.table("", root, "traffic", true).unwrap_or(&empty);
    f.deny_unknown("traffic", traffic, TRAFFIC_KEYS);
    let rate = f.float("traffic", traffic, "rate", rates);
    if traffic.get("rate").is_none() && root.contains_key("traffic") {
        f.error(
            "traffic",
            "rate",
            "missing: give the calls per second, e.g. `rate = 200`".into(),
        );
    }
    let total = f.duration("traffic", traffic, "duration", durations.clone());
    let concurrency = f
        .uint("traffic", traffic, "concurrency", 1..=u64::from(u32::MAX))
        .map(|c| c as u32);
    let timeout = f.duration("traffic", traffic, "timeout", durations.clone());
    let arrival = f
        .choice(
            "traffic",
            traffic,
            "arrival",
            &[
                ("poisson", ArrivalKind::Poisson),
                ("uniform", ArrivalKind::Uniform),
            ],
        )
        .unwrap_or_default();

    let dependency = f.table("", root, "dependency", false).unwrap_or(&empty);
    f.deny_unknown("dependency", dependency, DEPENDENCY_KEYS);
    let b = behaviour_fields(f, "dependency", dependency);
    let baseline_latency = b.latency.unwrap_or(Duration::from_millis(20));
    let baseline = Behaviour {
        latency_ns: nanos(baseline_latency),
        latency_p99_ns: b.latency_p99.map_or(nanos(baseline_latency) * 4.0, nanos),
        error_rate: b.error_rate.unwrap_or(0.0),
        failure: b.failure.unwrap_or(FailureKind::ServerError),
    };
    check_p99(f, "dependency", &baseline);

    let phase_tables = f.array_of_tables("", root, "phase");
    if phase_tables.is_empty() && !root.contains_key("phase") {
        f.error_whole("phase", "a scenario needs at least one [[phase]]".into());
    }
    let mut phases = Vec::with_capacity(phase_tables.len());
    let mut at = 0u64;
    for (i, p) in phase_tables.iter().enumerate() {
        let table = format!("phase[{i}]");
        let Some(phase) = phase_fields(f, &table, p, at, rate, &baseline) else {
            continue;
        };
        if phase.end_ns > MAX_SPAN_NS {
            f.error(
                &table,
                "duration",
                format!(
                    "the phases add up to {}, past the longest run: allowed at most {} in all",
                    exact(Duration::from_nanos(phase.end_ns)),
                    exact(MAX_SPAN)
                ),
            );
            break;
        }
        at = phase.end_ns;
        phases.push(phase);
    }
    if let (Some(total), Some(rate)) = (total, rate) {
        let total = nanos_u64(total);
        if total < at {
            f.error(
                "traffic",
                "duration",
                format!(
                    "{} is shorter than the phases ({}): allowed at least {} (or omit it)",
                    exact(Duration::from_nanos(total)),
                    exact(Duration::from_nanos(at)),
                    exact(Duration::from_nanos(at)),
                ),
            );
        } else if total > at && !phases.is_empty() {
            phases.push(Phase {
                name: "healthy".into(),
                kind: PhaseKind::Healthy,
                start_ns: at,
                end_ns: total,
                rate,
                behaviour: baseline,
                ramp_from: None,
                period_ns: None,
            });
        }
    }

    let candidates = candidate_fields(f, root, seed, dir);
    let fleet = fleet_fields(f, root);
    Some(Scenario {
        name: name.unwrap_or_else(|| f.file().to_string()),
        description: description.unwrap_or_default(),
        seed,
        concurrency,
        timeout_ns: timeout.map_or(u64::MAX, nanos_u64),
        arrival,
        baseline,
        phases,
        candidates: candidates?,
        fleet,
    })
}

/// The behaviour fields a table gives (`dependency` or a phase), each checked.
struct GivenBehaviour {
    latency: Option<Duration>,
    latency_p99: Option<Duration>,
    error_rate: Option<f64>,
    failure: Option<FailureKind>,
}

fn behaviour_fields(f: &mut Fields<'_>, table: &str, t: &toml::Table) -> GivenBehaviour {
    let durations = Duration::from_nanos(1)..=MAX_SPAN;
    let kinds: Vec<(&str, FailureKind)> = FailureKind::ALL.iter().map(|k| (k.name(), *k)).collect();
    GivenBehaviour {
        latency: f.duration(table, t, "latency", durations.clone()),
        latency_p99: f.duration(table, t, "latency_p99", durations),
        error_rate: f.float(table, t, "error_rate", (0.0, 1.0, "0.0..=1.0")),
        failure: f.choice(table, t, "failure", &kinds),
    }
}

/// One `[[phase]]`, starting at `start`; `None` when a field of it is wrong.
fn phase_fields(
    f: &mut Fields<'_>,
    table: &str,
    p: &toml::Table,
    start: u64,
    traffic_rate: Option<f64>,
    baseline: &Behaviour,
) -> Option<Phase> {
    f.deny_unknown(table, p, PHASE_KEYS);
    let kinds: Vec<(&str, PhaseKind)> = PhaseKind::ALL.iter().map(|k| (k.name(), *k)).collect();
    let kind = f.choice(table, p, "kind", &kinds);
    if !p.contains_key("kind") {
        f.error(table, "kind", format!("missing: allowed {}", names(&kinds)));
    }
    let duration = f.duration(table, p, "duration", Duration::from_nanos(1)..=MAX_SPAN);
    if !p.contains_key("duration") {
        f.error(
            table,
            "duration",
            "missing: give how long the phase lasts, e.g. `duration = \"1m\"`".into(),
        );
    }
    let name = f.string(table, p, "name");
    let rate = f.float(
        table,
        p,
        "rate",
        (
            f64::MIN_POSITIVE,
            MAX_RATE,
            "0 < rate <= 10000000 calls per second",
        ),
    );
    let given = behaviour_fields(f, table, p);
    let period = f.duration(table, p, "period", MIN_PERIOD..=MAX_SPAN);
    let kind = kind?;
    if p.contains_key("period") && kind != PhaseKind::Flapping {
        f.error(
            table,
            "period",
            format!("only a flapping phase has a period, not {}", kind.name()),
        );
    }
    // What the phase kind implies, then what the phase table says over it (a given
    // median without a given p99 implies a p99 of 4x the median).
    let implied = match kind {
        PhaseKind::Healthy | PhaseKind::Recovery => *baseline,
        PhaseKind::ErrorBurst => Behaviour {
            error_rate: 0.5,
            failure: FailureKind::ServerError,
            ..*baseline
        },
        PhaseKind::LatencySpike => Behaviour {
            latency_ns: (baseline.latency_ns * 10.0).min(MAX_SPAN_NS as f64),
            latency_p99_ns: (baseline.latency_p99_ns * 10.0).min(MAX_SPAN_NS as f64),
            ..*baseline
        },
        PhaseKind::Outage | PhaseKind::Flapping => Behaviour {
            latency_ns: 1e6,
            latency_p99_ns: 5e6,
            error_rate: 1.0,
            failure: FailureKind::Connection,
        },
    };
    let behaviour = Behaviour {
        latency_ns: given.latency.map_or(implied.latency_ns, nanos),
        latency_p99_ns: given.latency_p99.map_or(
            given
                .latency
                .map_or(implied.latency_p99_ns, |l| nanos(l) * 4.0),
            nanos,
        ),
        error_rate: given.error_rate.unwrap_or(implied.error_rate),
        failure: given.failure.unwrap_or(implied.failure),
    };
    check_p99(f, table, &behaviour);
    // A recovery ramps from what its table gives back to the baseline.
    let (behaviour, ramp_from) = match kind {
        PhaseKind::Recovery => (*baseline, (behaviour != *baseline).then_some(behaviour)),
        _ => (behaviour, None),
    };
    let period_ns =
        (kind == PhaseKind::Flapping).then(|| nanos_u64(period.unwrap_or(Duration::from_secs(10))));
    let len = nanos_u64(duration?);
    Some(Phase {
        name: name.unwrap_or_else(|| kind.name().to_string()),
        kind,
        start_ns: start,
        // Both at most MAX_SPAN_NS: no overflow.
        end_ns: start + len,
        rate: rate.or(traffic_rate)?,
        behaviour,
        ramp_from,
        period_ns,
    })
}

/// The `[[candidate]]` tables, each resolved; `None` when any failed.
fn candidate_fields(
    f: &mut Fields<'_>,
    root: &toml::Table,
    seed: u64,
    dir: &Path,
) -> Option<Vec<Candidate>> {
    let count = f.array_of_tables("", root, "candidate").len();
    if count == 0 {
        if !root.contains_key("candidate") {
            f.error_whole(
                "candidate",
                "a scenario needs at least one [[candidate]]".into(),
            );
        }
        return None;
    }
    let (file, text) = (f.file().to_string(), f.text().to_string());
    let raw: CandidateTables = match toml::from_str(&text) {
        Ok(raw) => raw,
        Err(e) => {
            // A shape `Fields` accepts but a candidate does not (a dotted key, say).
            let msg = format!("not a candidate table: {}", e.message().trim_end());
            f.push(match e.span() {
                Some(span) => FileError::at_offset(&file, &text, span.start, msg),
                None => FileError::at_line(&file, None, "candidate", msg),
            });
            return None;
        }
    };
    let mut out = Vec::with_capacity(raw.candidates.len());
    for (i, c) in raw.candidates.iter().enumerate() {
        match candidates::resolve(c, i, seed, &file, &text, dir) {
            Ok(c) => out.push(c),
            Err(e) => f.push(e),
        }
    }
    if out.len() != raw.candidates.len() {
        return None;
    }
    if let Err(e) = candidates::check_unique_names(&out, &file) {
        f.push(e);
        return None;
    }
    Some(out)
}

fn check_p99(f: &mut Fields<'_>, table: &str, b: &Behaviour) {
    if b.latency_p99_ns < b.latency_ns {
        f.error(
            table,
            "latency_p99",
            format!(
                "{} is below the median latency {}: allowed at least the median",
                exact(Duration::from_nanos(b.latency_p99_ns as u64)),
                exact(Duration::from_nanos(b.latency_ns as u64))
            ),
        );
    }
}

fn names<T>(options: &[(&str, T)]) -> String {
    options
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

fn nanos(d: Duration) -> f64 {
    d.as_nanos() as f64
}

/// Nanoseconds of a duration already checked to be at most [`MAX_SPAN`].
fn nanos_u64(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
