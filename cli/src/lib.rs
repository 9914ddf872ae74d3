//! The `tripgate` simulator as a library: scenario and trace parsing, the run budget,
//! the discrete-event engine and the reports. The `tripgate` binary is a thin
//! command-line layer over [`simulate`], [`replay`] and [`check`]; the fuzz targets
//! drive the same functions.

pub mod access_log;
pub mod budget;
pub mod candidates;
pub mod check;
pub mod closeness;
pub mod engine;
pub mod examples;
pub mod fields;
pub mod fleet_report;
pub mod histogram;
pub mod location;
pub mod plot;
pub mod replay;
pub mod replicas;
pub mod replicated;
pub mod report;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod store_sim;
pub mod traffic;
pub mod tune;

use access_log::TraceFormat;
use budget::{Caps, Estimate, MAX_SPAN, MAX_SPAN_NS};
use candidates::Candidate;
use engine::{Sim, Span, Timeline};
use fleet_report::FleetReport;
use replicas::FleetSettings;
use replicated::{FleetRun, Variant};
use report::{Meta, Report};
use runner::RunOptions;
use scenario::Scenario;
use std::path::Path;
use std::time::Duration;

/// How a run is carried out, whatever its input.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Threads to simulate candidates on.
    pub threads: usize,
    /// Time-series buckets of the report (at least 1).
    pub buckets: usize,
    /// Caps on the run's calls and memory.
    pub caps: Caps,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            threads: 2,
            buckets: 240,
            caps: Caps::default(),
        }
    }
}

/// The estimate of simulating `sc` with `settings`, before anything is allocated.
pub fn simulate_estimate(sc: &Scenario, settings: &Settings) -> Estimate {
    let timeline = scenario_timeline(sc, settings.buckets);
    Estimate {
        calls: sc.expected_calls(),
        candidates: sc.candidates.len(),
        peak_in_flight: sc.peak_in_flight(),
        fixed_bytes: Sim::fixed_bytes(&timeline).saturating_mul(sc.candidates.len() as u64),
        threads: settings.threads.clamp(1, sc.candidates.len().max(1)),
    }
}

fn scenario_timeline(sc: &Scenario, buckets: usize) -> Timeline {
    let spans = sc
        .phases
        .iter()
        .map(|p| Span {
            name: p.name.clone(),
            kind: p.kind.name().to_string(),
            start_ns: p.start_ns,
            end_ns: p.end_ns,
            fault: p.kind.is_fault(),
        })
        .collect();
    Timeline::new(spans, buckets.max(1))
}

/// Simulates `sc`'s candidates on its traffic, after checking the estimate against
/// `settings.caps`.
pub fn simulate(sc: &Scenario, settings: &Settings) -> Result<Report, String> {
    let estimate = simulate_estimate(sc, settings);
    estimate.check(&settings.caps)?;
    let timeline = scenario_timeline(sc, settings.buckets);
    let runs = runner::run_all(
        &sc.candidates,
        &timeline,
        || traffic::Traffic::new(sc),
        &RunOptions {
            concurrency: sc.concurrency,
            threads: settings.threads,
            expected_calls: estimate.calls,
            in_flight_limit: estimate.in_flight_limit(&settings.caps),
        },
    )?;
    Ok(Report::new(
        simulate_meta(sc),
        &timeline,
        &sc.candidates,
        &runs,
    ))
}

/// The estimate of simulating `sc` as the fleet `fleet` describes: every candidate
/// twice (without and with fleet mode), each replica with its own breaker.
pub fn simulate_fleet_estimate(
    sc: &Scenario,
    fleet: &FleetSettings,
    settings: &Settings,
) -> Estimate {
    let runs = sc.candidates.len().saturating_mul(Variant::BOTH.len());
    let lean = scenario_timeline(sc, 1);
    Estimate {
        calls: sc.expected_calls(),
        candidates: runs,
        peak_in_flight: sc.peak_in_flight(),
        fixed_bytes: Sim::fixed_bytes(&lean)
            .saturating_mul(u64::from(fleet.replicas))
            .saturating_mul(runs as u64),
        threads: settings.threads.clamp(1, runs.max(1)),
    }
}

/// Simulates `sc`'s candidates as `fleet.replicas` replicas sharing its traffic,
/// without and with fleet mode, after checking the estimate against `settings.caps`.
pub fn simulate_fleet(
    sc: &Scenario,
    fleet: &FleetSettings,
    settings: &Settings,
) -> Result<FleetReport, String> {
    let estimate = simulate_fleet_estimate(sc, fleet, settings);
    estimate.check(&settings.caps)?;
    let timeline = scenario_timeline(sc, 1);
    fleet.check_work(
        timeline.end_ns(),
        estimate.candidates,
        settings.caps.max_calls,
    )?;
    let in_flight_limit = estimate.in_flight_limit(&settings.caps);
    let jobs: Vec<(usize, Variant)> = (0..sc.candidates.len())
        .flat_map(|c| Variant::BOTH.map(|v| (c, v)))
        .collect();
    let threads = settings.threads.clamp(1, jobs.len().max(1));
    let run_job = |&(c, v): &(usize, Variant)| {
        replicated::run_fleet(
            &sc.candidates[c],
            &timeline,
            traffic::Traffic::new(sc),
            fleet,
            v,
            sc.concurrency,
            in_flight_limit,
        )
    };
    let mut runs: Vec<Vec<FleetRun>> = sc.candidates.iter().map(|_| Vec::new()).collect();
    let mut errors = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (jobs, run_job) = (&jobs, &run_job);
                s.spawn(move || {
                    (t..jobs.len())
                        .step_by(threads)
                        .map(|j| (j, run_job(&jobs[j])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut done: Vec<(usize, FleetRun)> = Vec::with_capacity(jobs.len());
        for (t, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok(results) => {
                    for (j, r) in results {
                        match r {
                            Ok(run) => done.push((j, run)),
                            Err(e) => errors.push(e),
                        }
                    }
                }
                Err(_) => errors.push(format!(
                    "fleet simulation thread {t} panicked; this is a bug in tripgate, please report it with the input"
                )),
            }
        }
        // Job order is candidate order, then variant order.
        done.sort_by_key(|(j, _)| *j);
        for (j, run) in done {
            runs[jobs[j].0].push(run);
        }
    });
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    Ok(FleetReport::new(
        simulate_meta(sc),
        &timeline,
        fleet,
        &sc.candidates,
        &runs,
    ))
}

/// What a simulation of `sc` ran, for its report's header.
fn simulate_meta(sc: &Scenario) -> Meta {
    Meta {
        command: "simulate",
        name: sc.name.clone(),
        description: sc.description.clone(),
        seed: sc.seed,
        concurrency: sc.concurrency,
        timeout_ms: (sc.timeout_ns != u64::MAX).then(|| sc.timeout_ns as f64 / 1e6),
    }
}

/// How faults are found in a trace.
#[derive(Debug, Clone, Copy)]
pub struct FaultRule {
    /// A window whose failure share reaches this (0 < t <= 1) is a fault.
    pub threshold: f64,
    /// Width of the windows (1ns..=366 days).
    pub window: Duration,
}

impl FaultRule {
    /// Refuses values out of range, naming the option.
    pub fn check(&self) -> Result<(), String> {
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(format!(
                "--fault-threshold {} is out of range: allowed 0 < t <= 1",
                self.threshold
            ));
        }
        if self.window.is_zero() || self.window > MAX_SPAN {
            return Err(format!(
                "--fault-window {} is out of range: allowed 1ns..={}",
                budget::exact(self.window),
                budget::exact(MAX_SPAN)
            ));
        }
        Ok(())
    }
}

/// Replays the trace file at `path` (written in `format`) against `candidates`:
/// refuses a file whose loading alone would pass `--max-memory` before reading it.
pub fn replay(
    path: &Path,
    format: &TraceFormat,
    candidates: &[Candidate],
    seed: u64,
    rule: &FaultRule,
    settings: &Settings,
) -> Result<Report, String> {
    rule.check()?;
    let (text, file, name) = read_trace(path, settings)?;
    let trace = TraceText {
        text: &text,
        file: &file,
        name: &name,
        format,
    };
    replay_text_as(&trace, candidates, seed, rule, settings)
}

/// Reads the trace file at `path` (its text, its path as errors name it, its file
/// name): refuses a file whose loading alone would pass `--max-memory` before reading it.
pub fn read_trace(path: &Path, settings: &Settings) -> Result<(String, String, String), String> {
    let file = path.display().to_string();
    let len = std::fs::metadata(path)
        .map_err(|e| format!("{file}: cannot read: {e}"))?
        .len();
    let need = replay::load_bytes(len);
    if need > settings.caps.max_memory {
        return Err(format!(
            "{file}: loading this {} trace needs up to {}; the cap is {}: raise it with --max-memory",
            budget::Bytes(len),
            budget::Bytes(need),
            budget::Bytes(settings.caps.max_memory)
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: cannot read: {e}"))?;
    let name = path
        .file_name()
        .map_or(file.clone(), |n| n.to_string_lossy().into_owned());
    Ok((text, file, name))
}

/// A trace's text and how to read it.
#[derive(Debug, Clone, Copy)]
pub struct TraceText<'a> {
    /// The contents.
    pub text: &'a str,
    /// The file, as errors name it.
    pub file: &'a str,
    /// The trace's name in the report.
    pub name: &'a str,
    /// How it is written.
    pub format: &'a TraceFormat,
}

/// Replays CSV trace `text` (named `file` in errors, `name` in the report).
pub fn replay_text(
    text: &str,
    file: &str,
    name: &str,
    candidates: &[Candidate],
    seed: u64,
    rule: &FaultRule,
    settings: &Settings,
) -> Result<Report, String> {
    let trace = TraceText {
        text,
        file,
        name,
        format: &TraceFormat::Csv,
    };
    replay_text_as(&trace, candidates, seed, rule, settings)
}

/// Replays `trace` against `candidates`.
pub fn replay_text_as(
    trace: &TraceText,
    candidates: &[Candidate],
    seed: u64,
    rule: &FaultRule,
    settings: &Settings,
) -> Result<Report, String> {
    let TraceText {
        text,
        file,
        name,
        format,
    } = *trace;
    rule.check()?;
    let window_ns =
        u64::try_from(rule.window.as_nanos()).map_or(MAX_SPAN_NS, |w| w.min(MAX_SPAN_NS));
    let trace = replay::parse_as(
        text,
        file,
        format,
        window_ns,
        rule.threshold,
        settings.buckets.max(1),
    )
    .map_err(|e| e.to_string())?;
    let estimate = Estimate {
        calls: trace.arrivals.len() as u64,
        candidates: candidates.len(),
        peak_in_flight: replay::peak_in_flight(&trace.arrivals),
        fixed_bytes: Sim::fixed_bytes(&trace.timeline)
            .saturating_mul(candidates.len() as u64)
            .saturating_add(replay::load_bytes(text.len() as u64)),
        threads: settings.threads.clamp(1, candidates.len().max(1)),
    };
    estimate.check(&settings.caps)?;
    let runs = runner::run_all(
        candidates,
        &trace.timeline,
        || trace.arrivals.iter().copied(),
        &RunOptions {
            concurrency: None,
            threads: settings.threads,
            expected_calls: estimate.calls,
            in_flight_limit: estimate.in_flight_limit(&settings.caps),
        },
    )?;
    let meta = Meta {
        command: "replay",
        name: name.to_string(),
        description: format!(
            "faults: {}-wide windows with a failure share >= {}",
            humantime::format_duration(rule.window),
            rule.threshold
        ),
        seed,
        concurrency: None,
        timeout_ms: None,
    };
    Ok(Report::new(meta, &trace.timeline, candidates, &runs))
}
