//! The fleet-wide report of `tripgate simulate --replicas N`: per candidate, without
//! and with fleet mode, how fast the fleet tripped, how many calls still reached the
//! failing dependency, how many healthy calls it rejected, how fast it recovered, and
//! what it asked of the store. A table or JSON (stable field order, virtual time only:
//! the same seed gives byte-identical JSON).
//!
//! A replica counts as **open** from the moment its breaker leaves Closed (tripped on
//! its own, half-open, or held open by the fleet) until it is Closed again.

use crate::candidates::Candidate;
use crate::engine::{add, Counters, Timeline};
use crate::replicas::FleetSettings;
use crate::replicated::{concurrency_per_replica, FleetRun, Variant};
use crate::report::{
    dur, group, header, ms, phases_out, pretty_json, recovery_cell, table, trip_cell, Meta,
    PhaseOut,
};
use crate::store_sim::StoreOps;
use serde::Serialize;
use std::fmt::Write as _;
use tripgate::State;

/// How the fleet was set up, for the report header.
#[derive(Debug, Clone, Serialize)]
pub struct FleetOut {
    /// Replicas sharing the traffic.
    pub replicas: u32,
    /// How calls are dealt to the replicas.
    pub assignment: &'static str,
    /// Each replica's cap on calls in flight (`None`: unlimited).
    pub concurrency_per_replica: Option<u32>,
    /// Fleet mode's heartbeat, ms.
    pub heartbeat_ms: f64,
    /// Open reports that make a quorum.
    pub quorum: usize,
    /// The veto: a replica with at least this many calls in its window, failing under
    /// `veto_max_failure_rate`, refuses to adopt (`None`: no veto).
    pub veto_minimum_calls: Option<u64>,
    /// The veto's failure rate (`None`: no veto).
    pub veto_max_failure_rate: Option<f64>,
    /// The probe lease's lifetime, ms.
    pub probe_lease_ms: f64,
    /// One-way store latency, ms.
    pub store_latency_ms: f64,
    /// When the store was unreachable, ms.
    pub store_outages: Vec<OutageOut>,
}

/// A store outage, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct OutageOut {
    /// Start, ms.
    pub start_ms: f64,
    /// End, ms.
    pub end_ms: f64,
}

/// One fault phase, fleet-wide.
#[derive(Debug, Clone, Serialize)]
pub struct FleetFault {
    /// Index of the phase.
    pub phase: usize,
    /// Phase name.
    pub name: String,
    /// Phase start, ms.
    pub start_ms: f64,
    /// Phase end, ms.
    pub end_ms: f64,
    /// Calls made during the fault, all replicas.
    pub calls: u64,
    /// Calls that reached the failing dependency, all replicas.
    pub reached_dependency: u64,
    /// `tripped`, `already_open` (a replica was open when the fault began) or `never`.
    pub first_open: &'static str,
    /// From the fault's start to the first replica open, ms.
    pub first_open_after_ms: Option<f64>,
    /// `tripped`, `already_open` or `never`: every replica open at once.
    pub all_open: &'static str,
    /// From the fault's start to the first instant every replica is open at once, ms.
    pub all_open_after_ms: Option<f64>,
    /// `closed` (every replica closed when the fault ended), `recovered`,
    /// `not_recovered`, or `next_phase_is_a_fault`.
    pub recovery: &'static str,
    /// From the fault's end to the first instant every replica is closed at once, ms.
    pub recover_after_ms: Option<f64>,
}

/// One candidate's fleet, with or without fleet mode.
#[derive(Debug, Clone, Serialize)]
pub struct VariantReport {
    /// `no_fleet` or `fleet`.
    pub variant: Variant,
    /// Call counts, all replicas.
    pub totals: Counters,
    /// Breakers tripping on their own (transitions into Open), all replicas.
    pub trips: u64,
    /// Holds the fleet placed (transitions into forced open), all replicas.
    pub holds: u64,
    /// All transitions, all replicas.
    pub transitions: u64,
    /// Calls rejected while the dependency was healthy.
    pub healthy_rejected: u64,
    /// Calls that reached the dependency while it was failing.
    pub reached_failing: u64,
    /// Calls admitted while a breaker was open. Always 0 unless the engine is broken.
    pub admitted_while_open: u64,
    /// Per fault phase.
    pub faults: Vec<FleetFault>,
    /// The store's operations (fleet mode only).
    pub store: Option<StoreOps>,
}

/// A candidate's results, both ways.
#[derive(Debug, Clone, Serialize)]
pub struct FleetCandidate {
    /// Name.
    pub name: String,
    /// Where its config came from.
    pub source: String,
    /// The effective config (replica 0's; the others draw their own jitter seeds).
    pub config: tripgate::Config,
    /// Without fleet mode, then with it.
    pub variants: Vec<VariantReport>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    /// What ran.
    pub meta: Meta,
    /// Simulated time, ms.
    pub duration_ms: f64,
    /// Calls made, all replicas (the same for every candidate and variant).
    pub calls: u64,
    /// The fleet.
    pub fleet: FleetOut,
    /// The phases.
    pub phases: Vec<PhaseOut>,
    /// One entry per candidate, in the order given.
    pub candidates: Vec<FleetCandidate>,
}

/// Every replica's transitions, in time order: (instant, replica, state entered).
fn merged_transitions(run: &FleetRun) -> Vec<(u64, usize, State)> {
    let mut events: Vec<(u64, usize, State)> = run
        .replicas
        .iter()
        .enumerate()
        .flat_map(|(i, r)| r.transitions.iter().map(move |t| (t.at_ns, i, t.to)))
        .collect();
    // Stable: a replica's transitions at one instant keep their order.
    events.sort_by_key(|e| e.0);
    events
}

/// The first instant in `from..until` at which `want(replicas open)` holds, counting
/// the transitions at or before `from`; `from` itself when it holds there.
fn first_instant(
    events: &[(u64, usize, State)],
    replicas: usize,
    from: u64,
    until: u64,
    want: impl Fn(usize) -> bool,
) -> Option<u64> {
    let mut states = vec![State::Closed; replicas];
    let mut open = 0usize;
    let mut apply = |(_, i, to): (u64, usize, State), open: &mut usize| {
        let was = states[i] != State::Closed;
        let is = to != State::Closed;
        states[i] = to;
        *open = *open + usize::from(is) - usize::from(was);
    };
    let mut rest = events.iter().copied().peekable();
    while let Some(e) = rest.next_if(|e| e.0 <= from) {
        apply(e, &mut open);
    }
    if want(open) {
        return Some(from);
    }
    while let Some(&(t, _, _)) = rest.peek() {
        if t >= until {
            break;
        }
        while let Some(e) = rest.next_if(|e| e.0 == t) {
            apply(e, &mut open);
        }
        if want(open) {
            return Some(t);
        }
    }
    None
}

/// How a fault's start found the fleet: `already_open`, `tripped` after some time, or
/// `never`, for the condition `want`.
fn trip_of(
    events: &[(u64, usize, State)],
    n: usize,
    start: u64,
    end: u64,
    want: impl Fn(usize) -> bool,
) -> (&'static str, Option<f64>) {
    match first_instant(events, n, start, end, want) {
        Some(t) if t == start => ("already_open", Some(0.0)),
        Some(t) => ("tripped", Some(ms(t - start))),
        None => ("never", None),
    }
}

fn variant_report(
    timeline: &Timeline,
    variant: Variant,
    run: &FleetRun,
    replicas: usize,
) -> VariantReport {
    let spans = &timeline.spans;
    let events = merged_transitions(run);
    let mut totals = Counters::default();
    let mut per_phase = vec![Counters::default(); spans.len()];
    for r in &run.replicas {
        add(&mut totals, &r.totals);
        for (sum, p) in per_phase.iter_mut().zip(&r.per_phase) {
            add(sum, p);
        }
    }
    let mut faults = Vec::new();
    for (i, s) in spans.iter().enumerate().filter(|(_, s)| s.fault) {
        let (first_open, first_after) =
            trip_of(&events, replicas, s.start_ns, s.end_ns, |open| open >= 1);
        let (all_open, all_after) = trip_of(&events, replicas, s.start_ns, s.end_ns, |open| {
            open == replicas
        });
        let last_of_run = spans.get(i + 1).map_or(true, |n| !n.fault);
        let (recovery, recover_after) = if !last_of_run {
            ("next_phase_is_a_fault", None)
        } else {
            match first_instant(&events, replicas, s.end_ns, u64::MAX, |open| open == 0) {
                Some(t) if t == s.end_ns => (State::Closed.name(), Some(0.0)),
                Some(t) => ("recovered", Some(ms(t - s.end_ns))),
                None => ("not_recovered", None),
            }
        };
        faults.push(FleetFault {
            phase: i,
            name: s.name.clone(),
            start_ms: ms(s.start_ns),
            end_ms: ms(s.end_ns),
            calls: per_phase[i].calls,
            reached_dependency: per_phase[i].reached_failing,
            first_open,
            first_open_after_ms: first_after,
            all_open,
            all_open_after_ms: all_after,
            recovery,
            recover_after_ms: recover_after,
        });
    }
    let count = |to: State| events.iter().filter(|e| e.2 == to).count() as u64;
    VariantReport {
        variant,
        totals,
        trips: count(State::Open),
        holds: count(State::ForcedOpen),
        transitions: events.len() as u64,
        healthy_rejected: totals.rejected_healthy,
        reached_failing: totals.reached_failing,
        admitted_while_open: run.replicas.iter().map(|r| r.admitted_while_open).sum(),
        faults,
        store: run.store,
    }
}

impl FleetReport {
    /// Builds the report of `runs` (per candidate, the runs of [`Variant::BOTH`]).
    pub fn new(
        meta: Meta,
        timeline: &Timeline,
        settings: &FleetSettings,
        candidates: &[Candidate],
        runs: &[Vec<FleetRun>],
    ) -> FleetReport {
        let n = settings.replicas as usize;
        let out: Vec<FleetCandidate> = candidates
            .iter()
            .zip(runs)
            .map(|(c, variants)| FleetCandidate {
                name: c.name.clone(),
                source: c.source.clone(),
                config: c.config.clone(),
                variants: Variant::BOTH
                    .iter()
                    .zip(variants)
                    .map(|(v, run)| variant_report(timeline, *v, run, n))
                    .collect(),
            })
            .collect();
        let calls = out
            .first()
            .and_then(|c| c.variants.first())
            .map_or(0, |v| v.totals.calls);
        let rules = &settings.rules;
        FleetReport {
            candidates: out,
            phases: phases_out(timeline),
            fleet: FleetOut {
                replicas: settings.replicas,
                assignment: "round_robin",
                concurrency_per_replica: concurrency_per_replica(
                    meta.concurrency,
                    settings.replicas,
                ),
                heartbeat_ms: ms(nanos(settings.heartbeat)),
                quorum: rules.quorum.needed(n),
                veto_minimum_calls: rules.veto.map(|v| v.minimum_calls),
                veto_max_failure_rate: rules.veto.map(|v| v.max_failure_rate),
                probe_lease_ms: ms(nanos(rules.probe_lease)),
                store_latency_ms: ms(nanos(settings.store_latency)),
                store_outages: settings
                    .store_outages
                    .iter()
                    .map(|o| OutageOut {
                        start_ms: ms(o.start_ns),
                        end_ms: ms(o.end_ns),
                    })
                    .collect(),
            },
            duration_ms: ms(timeline.end_ns()),
            calls,
            meta,
        }
    }

    /// Pretty JSON, newline-terminated.
    pub fn to_json(&self) -> String {
        pretty_json(self)
    }

    /// The aligned terminal tables.
    pub fn to_table(&self) -> String {
        let mut o = header(&self.meta, self.calls, self.duration_ms, &self.phases);
        let f = &self.fleet;
        let _ = writeln!(
            o,
            "Fleet: {} replicas, calls dealt round-robin, concurrency {} per replica",
            f.replicas,
            f.concurrency_per_replica
                .map_or("unlimited".to_string(), |c| c.to_string()),
        );
        let veto = match (f.veto_minimum_calls, f.veto_max_failure_rate) {
            (Some(c), Some(r)) => format!("veto from {c} calls failing under {r}"),
            _ => "no veto".into(),
        };
        let outages: Vec<String> = f
            .store_outages
            .iter()
            .map(|o| format!("{}..{}", dur(o.start_ms), dur(o.end_ms)))
            .collect();
        let _ = writeln!(
            o,
            "  fleet mode: heartbeat {}, quorum {}, {veto}, probe lease {}, store latency {}, store outages: {}",
            dur(f.heartbeat_ms),
            f.quorum,
            dur(f.probe_lease_ms),
            dur(f.store_latency_ms),
            if outages.is_empty() { "none".into() } else { outages.join(", ") },
        );
        let _ = writeln!(o);

        let _ = writeln!(o, "Faults, fleet-wide");
        let mut rows = vec![[
            "fault",
            "candidate",
            "mode",
            "first open",
            "all open",
            "reached dep",
            "all closed after",
        ]
        .map(String::from)
        .to_vec()];
        let nf = self
            .candidates
            .first()
            .and_then(|c| c.variants.first())
            .map_or(0, |v| v.faults.len());
        for i in 0..nf {
            for c in &self.candidates {
                for v in &c.variants {
                    let x = &v.faults[i];
                    rows.push(vec![
                        format!("{} @{}", x.name, dur(x.start_ms)),
                        c.name.clone(),
                        v.variant.label().into(),
                        trip_cell(x.first_open, x.first_open_after_ms),
                        trip_cell(x.all_open, x.all_open_after_ms),
                        format!("{} / {}", group(x.reached_dependency), group(x.calls)),
                        recovery_cell(x.recovery, x.recover_after_ms),
                    ]);
                }
            }
        }
        table(&mut o, &rows, 3);
        let _ = writeln!(o);

        let _ = writeln!(o, "Candidates, fleet-wide");
        let mut rows = vec![[
            "candidate",
            "mode",
            "trips",
            "holds",
            "transitions",
            "healthy rejected",
            "reached failing",
            "open admits",
            "store reads",
            "store writes",
            "leases",
        ]
        .map(String::from)
        .to_vec()];
        for c in &self.candidates {
            for v in &c.variants {
                let store =
                    |f: fn(&StoreOps) -> u64| v.store.as_ref().map_or("-".into(), |s| group(f(s)));
                rows.push(vec![
                    c.name.clone(),
                    v.variant.label().into(),
                    group(v.trips),
                    group(v.holds),
                    group(v.transitions),
                    group(v.healthy_rejected),
                    group(v.reached_failing),
                    group(v.admitted_while_open),
                    store(|s| s.reads),
                    store(|s| s.writes),
                    store(|s| s.leases),
                ]);
            }
        }
        table(&mut o, &rows, 2);
        let _ = writeln!(o);
        let _ = writeln!(o, "Note: a replica is open from leaving Closed (tripped, half-open, or held by the fleet) until");
        let _ = writeln!(o, "  it is Closed again. first open / all open: from the fault's start to the first replica open /");
        let _ = writeln!(o, "  to every replica open at once; reached dep: calls that reached the failing dependency / calls");
        let _ = writeln!(o, "  made during the fault, all replicas; all closed after: from the fault's end to every replica");
        let _ = writeln!(o, "  closed at once; holds: breakers the fleet held open.");
        o
    }
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::first_instant;
    use tripgate::State;

    #[test]
    fn open_and_closed_fleets_are_found_at_the_instant_they_happen() {
        // Two replicas: 0 opens at 10, 1 at 20 (half-open at 25 still counts as open),
        // 0 closes at 30, 1 at 40.
        let events = [
            (10, 0, State::Open),
            (20, 1, State::Open),
            (25, 1, State::HalfOpen),
            (30, 0, State::Closed),
            (40, 1, State::Closed),
        ];
        assert_eq!(first_instant(&events, 2, 0, 100, |o| o >= 1), Some(10));
        assert_eq!(first_instant(&events, 2, 0, 100, |o| o == 2), Some(20));
        // Not before `until`; and already true at `from` gives `from`.
        assert_eq!(first_instant(&events, 2, 0, 20, |o| o == 2), None);
        assert_eq!(first_instant(&events, 2, 26, 100, |o| o == 2), Some(26));
        assert_eq!(
            first_instant(&events, 2, 26, u64::MAX, |o| o == 0),
            Some(40)
        );
    }
}
