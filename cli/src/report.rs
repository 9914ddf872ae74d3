//! The per-candidate report: trip and recovery times per fault, calls that reached the
//! failing dependency, healthy calls rejected, transitions, and latency percentiles as
//! seen by the caller. Printed as an aligned table or serialized as JSON (stable field
//! order, no wall-clock figures, so the same seed gives byte-identical JSON).

use crate::candidates::Candidate;
use crate::closeness::{Closeness, ClosenessRow, RULE_HEADS};
use crate::engine::{Counters, Run, Timeline, TransitionRec};
use crate::histogram::Histogram;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;
use tripgate::State;

/// The recovery label of a fault that ended closed: core's name for the state.
const CLOSED: &str = State::Closed.name();

/// How caller latency treats rejected calls; printed under the table and in the JSON.
pub const LATENCY_NOTE: &str = "latency is as seen by the caller: calls rejected by the breaker (and calls shed by the caller's concurrency cap) count as ~0 ms fast-fails";

/// What was run, for the report header.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// `simulate` or `replay`.
    pub command: &'static str,
    /// Scenario or trace name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Seed of the traffic (simulate) and of the derived jitter seeds.
    pub seed: u64,
    /// Caller's cap on calls in flight (`None`: unlimited).
    pub concurrency: Option<u32>,
    /// Caller's timeout in ms (`None`: none).
    pub timeout_ms: Option<f64>,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
}

/// Nanoseconds as milliseconds, rounded to the microsecond (as every report writes them).
pub fn ms(ns: u64) -> f64 {
    // Rounded to the microsecond: tidy, and exact in JSON.
    (ns as f64 / 1e3).round() / 1e3
}

impl Percentiles {
    fn of(h: &Histogram) -> Self {
        Percentiles {
            p50: ms(h.quantile(0.5)),
            p90: ms(h.quantile(0.9)),
            p99: ms(h.quantile(0.99)),
            p999: ms(h.quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

/// One fault phase, from one candidate's point of view.
#[derive(Debug, Clone, Serialize)]
pub struct FaultReport {
    /// Index of the phase.
    pub phase: usize,
    /// Phase name.
    pub name: String,
    /// Phase start, ms.
    pub start_ms: f64,
    /// Phase end, ms.
    pub end_ms: f64,
    /// `tripped`, `already_open` (open when the fault began) or `never`.
    pub trip: &'static str,
    /// Time from the fault's start to the breaker opening, ms.
    pub trip_after_ms: Option<f64>,
    /// Calls made during the fault.
    pub calls: u64,
    /// Calls that reached the failing dependency.
    pub reached_dependency: u64,
    /// `closed` (closed when the fault ended), `recovered`, `not_recovered`, or
    /// `next_phase_is_a_fault` (measured at the end of the last fault in a row).
    pub recovery: &'static str,
    /// Time from the fault's end to the breaker closing again, ms.
    pub recover_after_ms: Option<f64>,
}

/// A candidate's results.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateReport {
    /// Name.
    pub name: String,
    /// Where its config came from.
    pub source: String,
    /// The effective config.
    pub config: tripgate::Config,
    /// Call counts over the run.
    pub totals: Counters,
    /// Transitions into Open.
    pub trips: u64,
    /// Trips from Closed while the dependency was healthy.
    pub false_trips: u64,
    /// All transitions (a high count on a steady fault means flapping).
    pub transitions: u64,
    /// Calls admitted while the breaker was open. Always 0 unless the engine is broken.
    pub admitted_while_open: u64,
    /// Calls rejected while the dependency was healthy.
    pub healthy_rejected: u64,
    /// Calls that reached the dependency while it was failing.
    pub reached_failing: u64,
    /// Per fault phase.
    pub faults: Vec<FaultReport>,
    /// How close each rule came to tripping, over the healthy phases and per fault.
    pub closeness: Closeness,
    /// Latency seen by the caller (fast-fails as ~0), ms.
    pub latency_ms: Percentiles,
    /// Latency of the calls that reached the dependency, ms.
    pub dependency_latency_ms: Percentiles,
    /// State after the last call answered.
    pub final_state: State,
    /// Every transition.
    pub transition_log: Vec<TransitionOut>,
    /// Per time bucket.
    pub series: Series,
}

/// A transition, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct TransitionOut {
    /// Virtual time, ms.
    pub at_ms: f64,
    /// From.
    pub from: State,
    /// To.
    pub to: State,
    /// Why.
    pub reason: &'static str,
}

/// Time series, one value per bucket of `bucket_ms`.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// Calls made.
    pub calls: Vec<u64>,
    /// Failed share of the admitted calls (`null` when none were admitted).
    pub error_rate: Vec<Option<f64>>,
    /// Rejected share of the calls.
    pub rejected_rate: Vec<f64>,
    /// p99 latency seen by the caller, ms.
    pub p99_ms: Vec<f64>,
}

/// A phase, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseOut {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Start, ms.
    pub start_ms: f64,
    /// End, ms.
    pub end_ms: f64,
    /// Whether the dependency fails during it.
    pub fault: bool,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What ran.
    pub meta: Meta,
    /// Simulated time, ms.
    pub duration_ms: f64,
    /// Calls made (the same for every candidate).
    pub calls: u64,
    /// Width of a time-series bucket, ms.
    pub bucket_ms: f64,
    /// How caller latency is counted.
    pub latency_note: &'static str,
    /// The phases.
    pub phases: Vec<PhaseOut>,
    /// One entry per candidate, in the order given.
    pub candidates: Vec<CandidateReport>,
}

fn state_at(log: &[TransitionRec], t: u64) -> State {
    log.iter()
        .take_while(|r| r.at_ns <= t)
        .last()
        .map_or(State::Closed, |r| r.to)
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl Report {
    /// Builds the report of `runs` (one per candidate, same order).
    pub fn new(meta: Meta, timeline: &Timeline, candidates: &[Candidate], runs: &[Run]) -> Report {
        let spans = &timeline.spans;
        let fault_at = |t: u64| {
            spans
                .iter()
                .any(|s| s.fault && s.start_ns <= t && t < s.end_ns)
        };
        let out = candidates
            .iter()
            .zip(runs)
            .map(|(c, r)| {
                let log = &r.transitions;
                let mut faults = Vec::new();
                for (i, s) in spans.iter().enumerate().filter(|(_, s)| s.fault) {
                    let (trip, trip_after) = if state_at(log, s.start_ns) == State::Open {
                        ("already_open", Some(0))
                    } else {
                        match log.iter().find(|x| {
                            x.to == State::Open && x.at_ns >= s.start_ns && x.at_ns < s.end_ns
                        }) {
                            Some(x) => ("tripped", Some(x.at_ns - s.start_ns)),
                            None => ("never", None),
                        }
                    };
                    let last_of_run = spans.get(i + 1).map_or(true, |n| !n.fault);
                    let (recovery, recover_after) = if !last_of_run {
                        ("next_phase_is_a_fault", None)
                    } else if state_at(log, s.end_ns) == State::Closed {
                        (CLOSED, Some(0))
                    } else {
                        match log
                            .iter()
                            .find(|x| x.to == State::Closed && x.at_ns >= s.end_ns)
                        {
                            Some(x) => ("recovered", Some(x.at_ns - s.end_ns)),
                            None => ("not_recovered", None),
                        }
                    };
                    let p = r.per_phase.get(i).copied().unwrap_or_default();
                    faults.push(FaultReport {
                        phase: i,
                        name: s.name.clone(),
                        start_ms: ms(s.start_ns),
                        end_ms: ms(s.end_ns),
                        trip,
                        trip_after_ms: trip_after.map(ms),
                        calls: p.calls,
                        reached_dependency: p.reached_failing,
                        recovery,
                        recover_after_ms: recover_after.map(ms),
                    });
                }
                let series = Series {
                    calls: r.series.iter().map(|b| b.counts.calls).collect(),
                    error_rate: r
                        .series
                        .iter()
                        .map(|b| {
                            (b.counts.admitted > 0)
                                .then(|| round6(b.counts.failed as f64 / b.counts.admitted as f64))
                        })
                        .collect(),
                    rejected_rate: r
                        .series
                        .iter()
                        .map(|b| {
                            if b.counts.calls == 0 {
                                0.0
                            } else {
                                round6(b.counts.rejected as f64 / b.counts.calls as f64)
                            }
                        })
                        .collect(),
                    p99_ms: r
                        .series
                        .iter()
                        .map(|b| ms(b.latency.quantile(0.99)))
                        .collect(),
                };
                let opened: Vec<(u64, &str)> = log
                    .iter()
                    .filter(|x| x.to == State::Open)
                    .map(|x| (x.at_ns, x.reason))
                    .collect();
                let closeness = Closeness::of(&c.config, spans, &r.peaks, &opened);
                CandidateReport {
                    name: c.name.clone(),
                    source: c.source.clone(),
                    config: c.config.clone(),
                    totals: r.totals,
                    trips: log.iter().filter(|x| x.to == State::Open).count() as u64,
                    false_trips: log
                        .iter()
                        .filter(|x| {
                            x.from == State::Closed && x.to == State::Open && !fault_at(x.at_ns)
                        })
                        .count() as u64,
                    transitions: log.len() as u64,
                    admitted_while_open: r.admitted_while_open,
                    healthy_rejected: r.totals.rejected_healthy,
                    reached_failing: r.totals.reached_failing,
                    faults,
                    closeness,
                    latency_ms: Percentiles::of(&r.caller_latency),
                    dependency_latency_ms: Percentiles::of(&r.dependency_latency),
                    final_state: r.final_state,
                    transition_log: log
                        .iter()
                        .map(|x| TransitionOut {
                            at_ms: ms(x.at_ns),
                            from: x.from,
                            to: x.to,
                            reason: x.reason,
                        })
                        .collect(),
                    series,
                }
            })
            .collect();
        Report {
            meta,
            duration_ms: ms(timeline.end_ns()),
            calls: runs.first().map_or(0, |r| r.totals.calls),
            bucket_ms: ms(timeline.bucket_ns),
            latency_note: LATENCY_NOTE,
            phases: phases_out(timeline),
            candidates: out,
        }
    }

    /// Pretty JSON, newline-terminated.
    pub fn to_json(&self) -> String {
        pretty_json(self)
    }

    /// The aligned terminal tables.
    pub fn to_table(&self) -> String {
        let mut o = header(&self.meta, self.calls, self.duration_ms, &self.phases);

        let _ = writeln!(o, "Faults");
        let mut rows = vec![vec![
            "fault".to_string(),
            "candidate".to_string(),
            "trip after".to_string(),
            "reached dep".to_string(),
            "recover after".to_string(),
        ]];
        let nf = self.candidates.first().map_or(0, |c| c.faults.len());
        for f in 0..nf {
            for c in &self.candidates {
                let x = &c.faults[f];
                rows.push(vec![
                    format!("{} @{}", x.name, dur(x.start_ms)),
                    c.name.clone(),
                    trip_cell(x.trip, x.trip_after_ms),
                    format!("{} / {}", group(x.reached_dependency), group(x.calls)),
                    recovery_cell(x.recovery, x.recover_after_ms),
                ]);
            }
        }
        table(&mut o, &rows, 2);
        let _ = writeln!(o);

        let _ = writeln!(
            o,
            "Closeness: each rule's peak statistic / its threshold (\"-\": rule off)"
        );
        closeness_table(
            &mut o,
            self.candidates.iter().map(|c| (&c.name, &c.closeness)),
        );
        let _ = writeln!(o);

        let _ = writeln!(o, "Candidates");
        let mut rows = vec![vec![
            "candidate".to_string(),
            "trips".into(),
            "false trips".into(),
            "transitions".into(),
            "healthy rejected".into(),
            "reached failing".into(),
            "open admits".into(),
            "p50".into(),
            "p90".into(),
            "p99".into(),
            "p99.9".into(),
            "max".into(),
        ]];
        for c in &self.candidates {
            let l = &c.latency_ms;
            rows.push(vec![
                c.name.clone(),
                group(c.trips),
                group(c.false_trips),
                group(c.transitions),
                group(c.healthy_rejected),
                group(c.reached_failing),
                group(c.admitted_while_open),
                dur(l.p50),
                dur(l.p90),
                dur(l.p99),
                dur(l.p999),
                dur(l.max),
            ]);
        }
        table(&mut o, &rows, 1);
        let _ = writeln!(o);
        let _ = writeln!(o, "Note: {LATENCY_NOTE}.");
        let _ = writeln!(o, "  trip after: from the fault's start to the breaker opening; reached dep: calls that reached the");
        let _ = writeln!(o, "  failing dependency / calls made during the fault; recover after: from the fault's end to closing.");
        o
    }
}

/// A report as pretty JSON, newline-terminated.
pub fn pretty_json(report: &impl Serialize) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("a report serializes");
    s.push('\n');
    s
}

/// A report's first lines: what ran, its calls, duration and phases, then a blank
/// line.
pub fn header(m: &Meta, calls: u64, duration_ms: f64, phases: &[PhaseOut]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "tripgate {}: {}", m.command, m.name);
    if !m.description.is_empty() {
        let _ = writeln!(o, "  {}", m.description.trim());
    }
    let _ = writeln!(
        o,
        "  {} calls over {}, seed {}, concurrency {}, caller timeout {}",
        group(calls),
        dur(duration_ms),
        m.seed,
        m.concurrency
            .map_or("unlimited".to_string(), |c| c.to_string()),
        m.timeout_ms.map_or("none".to_string(), dur),
    );
    let phases: Vec<String> = phases
        .iter()
        .map(|p| format!("{} {}..{}", p.name, dur(p.start_ms), dur(p.end_ms)))
        .collect();
    let _ = writeln!(o, "  phases: {}", phases.join(" | "));
    let _ = writeln!(o);
    o
}

/// A trip's table cell: `already open`, the time it took, or `never`.
pub fn trip_cell(trip: &str, after_ms: Option<f64>) -> String {
    match (trip, after_ms) {
        ("already_open", _) => "already open".into(),
        (_, Some(t)) => dur(t),
        _ => "never".into(),
    }
}

/// A recovery's table cell: `0s (closed)`, the time it took, `not recovered`, or `-`
/// (the next phase is a fault).
pub fn recovery_cell(recovery: &str, after_ms: Option<f64>) -> String {
    match (recovery, after_ms) {
        (CLOSED, _) => "0s (closed)".into(),
        ("recovered", Some(t)) => dur(t),
        ("not_recovered", _) => "not recovered".into(),
        _ => "-".into(),
    }
}

/// The phases of `timeline`, in milliseconds.
pub fn phases_out(timeline: &Timeline) -> Vec<PhaseOut> {
    timeline
        .spans
        .iter()
        .map(|s| PhaseOut {
            name: s.name.clone(),
            kind: s.kind.clone(),
            start_ms: ms(s.start_ns),
            end_ms: ms(s.end_ns),
            fault: s.fault,
        })
        .collect()
}

/// Writes the closeness table of `candidates`: one row per stretch (the healthy phases
/// together, then each fault) and candidate.
pub fn closeness_table<'a>(
    o: &mut String,
    candidates: impl Iterator<Item = (&'a String, &'a Closeness)> + Clone,
) {
    let mut rows = vec![["stretch", "candidate"]
        .into_iter()
        .chain(RULE_HEADS)
        .map(String::from)
        .collect::<Vec<_>>()];
    let stretches = candidates
        .clone()
        .next()
        .map_or(0, |(_, c)| c.faults.len() + 1);
    let all: Vec<(&String, Vec<ClosenessRow>)> = candidates.map(|(n, c)| (n, c.rows())).collect();
    for s in 0..stretches {
        for (name, r) in &all {
            if let Some((stretch, cells)) = r.get(s) {
                let mut row = vec![stretch.clone(), (*name).clone()];
                row.extend(cells.iter().cloned());
                rows.push(row);
            }
        }
    }
    table(o, &rows, 2);
    let _ = writeln!(
        o,
        "  failure/slow rate and over limit (share of calls at or over the percentile's limit, vs"
    );
    let _ = writeln!(
        o,
        "  1 - quantile) count once the window holds minimum_calls; (reached): the rule held;"
    );
    let _ = writeln!(
        o,
        "  (tripped): the breaker opened for it in that stretch; no reading: no call answered there"
    );
    let _ = writeln!(o, "  while the breaker was closed.");
}

/// Writes `rows` as an aligned table indented by two spaces, the first `left_cols`
/// columns left-aligned and the others right-aligned.
pub fn table(o: &mut String, rows: &[Vec<String>], left_cols: usize) {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = widths[i] - cell.chars().count();
            if i < left_cols {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        let _ = writeln!(o, "  {}", line.trim_end());
    }
}

/// `12,345,678`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A duration in ns, written as [`dur`] writes it.
pub fn dur_ns(ns: u64) -> String {
    dur(ns as f64 / 1e6)
}

/// A duration in ms, written the one way every report, table, title and axis writes
/// durations: three significant digits below a minute, trailing zeros dropped, in the
/// largest unit that keeps the number at least 1 (`850us`, `17ms`, `2.79s`, `30s`);
/// whole seconds from a minute to a day (`1m30s`, `2h5m`); days beyond (`1.5d`, `1216d`).
pub fn dur(ms: f64) -> String {
    if !ms.is_finite() || ms <= 0.0 {
        return "0s".into();
    }
    // Where three significant digits would round up into the next unit, use that unit.
    let days = ms / 86_400e3;
    if days >= 0.9995 {
        // Days: three significant digits, whole days from 1000 on.
        return if days < 999.5 {
            format!("{}d", three_digits(days))
        } else {
            format!("{days:.0}d")
        };
    }
    if ms >= 59_950.0 {
        let secs = (ms / 1000.0).round() as u64;
        return humantime::format_duration(Duration::from_secs(secs))
            .to_string()
            .replace(' ', "");
    }
    let (value, unit) = if ms >= 999.5 {
        (ms / 1e3, "s")
    } else if ms >= 0.9995 {
        (ms, "ms")
    } else if ms >= 0.000_999_5 {
        (ms * 1e3, "us")
    } else {
        (ms * 1e6, "ns")
    };
    format!("{}{unit}", three_digits(value))
}

/// `value` (1 <= value < 1000) to three significant digits, trailing zeros dropped.
fn three_digits(value: f64) -> String {
    let decimals = if value >= 99.95 {
        0
    } else if value >= 9.995 {
        1
    } else {
        2
    };
    let s = format!("{value:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::dur;

    #[test]
    fn one_rounding_rule_for_every_duration() {
        let cases = [
            (0.0, "0s"),
            (0.000_5, "500ns"),
            (0.85, "850us"),
            (0.9996, "1ms"),
            (2.789, "2.79ms"),
            (17.0, "17ms"),
            (297.6, "298ms"),
            (999.6, "1s"),
            (1_000.0, "1s"),
            (2_790.0, "2.79s"),
            (28_500.0, "28.5s"),
            (30_000.0, "30s"),
            (59_960.0, "1m"),
            (90_000.0, "1m30s"),
            (86_000_000.0, "23h53m20s"),
            (86_399_000.0, "1d"),
            (86_400_000.0, "1d"),
            (1.5 * 86_400_000.0, "1.5d"),
            (1e14, "1157407d"),
        ];
        for (ms, want) in cases {
            assert_eq!(dur(ms), want, "{ms} ms");
        }
    }
}
