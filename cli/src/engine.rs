//! The discrete-event simulation of one candidate: calls arrive in time order, the real
//! [`tripgate::Breaker`] on a [`ManualClock`] decides admission, and each admitted call
//! reports its outcome when its latency has elapsed on the virtual clock.
//!
//! Pending calls wait in a min-heap keyed by completion time (ties broken by arrival
//! order), so completions and arrivals interleave exactly as they would in time. The
//! engine is single-threaded per candidate; candidates run in parallel on their own
//! breakers and clocks, so results do not depend on scheduling.

use crate::histogram::Histogram;
use serde::Serialize;
use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tripgate::{Breaker, Config, ManualClock, Outcome, RawPermit, State};

/// One call of the caller, with what the dependency would answer if asked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// When the call is made, nanoseconds from the start.
    pub t_ns: u64,
    /// How long the dependency takes to answer.
    pub latency_ns: u64,
    /// What it answers.
    pub outcome: Outcome,
    /// Index of the phase (of the [`Timeline`]) the call falls in.
    pub phase: u32,
    /// Whether the dependency is failing at that moment.
    pub fault: bool,
}

/// A stretch of time with one dependency behaviour.
#[derive(Debug, Clone, Serialize)]
pub struct Span {
    /// Display name.
    pub name: String,
    /// Kind of phase (`healthy`, `outage`...).
    pub kind: String,
    /// Start, nanoseconds.
    pub start_ns: u64,
    /// End (exclusive), nanoseconds.
    pub end_ns: u64,
    /// Whether the dependency is failing during it.
    pub fault: bool,
}

/// The phases of a run and the resolution of its time series.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Back-to-back phases from 0.
    pub spans: Vec<Span>,
    /// Width of one time-series bucket, nanoseconds.
    pub bucket_ns: u64,
    /// Number of buckets.
    pub buckets: usize,
}

impl Timeline {
    /// A timeline over `spans` with about `buckets` time-series buckets.
    pub fn new(spans: Vec<Span>, buckets: usize) -> Self {
        let end = spans.last().map_or(1, |s| s.end_ns).max(1);
        let bucket_ns = end.div_ceil(buckets as u64).max(1);
        Timeline {
            spans,
            bucket_ns,
            buckets: end.div_ceil(bucket_ns) as usize,
        }
    }

    /// End of the last phase.
    pub fn end_ns(&self) -> u64 {
        self.spans.last().map_or(0, |s| s.end_ns)
    }
}

/// Call counts.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counters {
    /// Calls the caller made.
    pub calls: u64,
    /// Calls the breaker admitted (they reached the dependency).
    pub admitted: u64,
    /// Calls the breaker rejected (fast-fails).
    pub rejected: u64,
    /// Calls shed by the caller's concurrency cap (never asked the breaker).
    pub shed: u64,
    /// Admitted calls that failed (timeouts included).
    pub failed: u64,
    /// Admitted calls made while the dependency was failing.
    pub reached_failing: u64,
    /// Calls rejected while the dependency was healthy.
    pub rejected_healthy: u64,
}

/// One time-series bucket.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    /// Counts of calls made in the bucket.
    pub counts: Counters,
    /// Latency seen by the caller (fast-fails as 0).
    pub latency: Histogram,
}

/// A transition of the candidate's breaker.
#[derive(Debug, Clone, Serialize)]
pub struct TransitionRec {
    /// Virtual time, nanoseconds.
    pub at_ns: u64,
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Why (`failure_rate`, `open_elapsed`...).
    pub reason: &'static str,
}

/// Everything one candidate's run produced.
#[derive(Debug, Clone)]
pub struct Run {
    /// Totals over the run.
    pub totals: Counters,
    /// Totals per phase of the timeline.
    pub per_phase: Vec<Counters>,
    /// Calls admitted while the breaker read `Open` right after admission (must be 0).
    pub admitted_while_open: u64,
    /// Latency seen by the caller, rejected and shed calls counted as 0.
    pub caller_latency: Histogram,
    /// Latency of the calls that reached the dependency.
    pub dependency_latency: Histogram,
    /// Time series.
    pub series: Vec<Bucket>,
    /// Every transition, in order.
    pub transitions: Vec<TransitionRec>,
    /// The breaker's state at the end (after the last call answered).
    pub final_state: State,
}

struct Pending {
    at: u64,
    seq: u64,
    permit: RawPermit,
    outcome: Outcome,
    latency: u64,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    // Reversed: BinaryHeap is a max-heap and we want the earliest completion first.
    fn cmp(&self, o: &Self) -> CmpOrdering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// How often (in calls) a run reports progress.
const PROGRESS_EVERY: u64 = 1 << 16;

/// Runs `arrivals` through a breaker configured with `config`.
///
/// `concurrency` caps the calls in flight (calls beyond it are shed by the caller);
/// `progress` is bumped as calls are processed.
pub fn run(
    config: &Config,
    arrivals: impl Iterator<Item = Arrival>,
    timeline: &Timeline,
    concurrency: Option<u32>,
    progress: &AtomicU64,
) -> Result<Run, tripgate::ConfigError> {
    let clock = ManualClock::new();
    let breaker = Breaker::with_clock(config.clone(), clock.clone())?;
    let log: Arc<Mutex<Vec<TransitionRec>>> = Arc::default();
    let sink = Arc::clone(&log);
    breaker.add_listener(move |t| {
        sink.lock().expect("transition log").push(TransitionRec {
            at_ns: t.at_nanos,
            from: t.from,
            to: t.to,
            reason: t.reason.name(),
        });
    });
    let cap = concurrency.map_or(u64::MAX, u64::from);
    let mut heap: BinaryHeap<Pending> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut totals = Counters::default();
    let mut per_phase = vec![Counters::default(); timeline.spans.len()];
    let mut series = vec![Bucket::default(); timeline.buckets];
    let mut caller_latency = Histogram::default();
    let mut dependency_latency = Histogram::default();
    let mut admitted_while_open = 0u64;
    let mut since_report = 0u64;
    let last_bucket = timeline.buckets.saturating_sub(1);

    let complete = |p: Pending| {
        clock.set_nanos(p.at);
        breaker.record_raw(p.permit, p.outcome, Some(p.latency));
    };
    for a in arrivals {
        while heap.peek().is_some_and(|p| p.at <= a.t_ns) {
            complete(heap.pop().expect("peeked"));
        }
        clock.set_nanos(a.t_ns);
        let mut c = Counters {
            calls: 1,
            ..Counters::default()
        };
        let seen_latency;
        if heap.len() as u64 >= cap {
            c.shed = 1;
            seen_latency = 0;
        } else {
            match breaker.acquire_raw() {
                Ok(permit) => {
                    if matches!(breaker.state(), State::Open | State::ForcedOpen) {
                        admitted_while_open += 1;
                    }
                    c.admitted = 1;
                    c.failed = matches!(a.outcome, Outcome::Failure(_)) as u64;
                    c.reached_failing = a.fault as u64;
                    seen_latency = a.latency_ns;
                    dependency_latency.record(a.latency_ns);
                    heap.push(Pending {
                        at: a.t_ns + a.latency_ns,
                        seq,
                        permit,
                        outcome: a.outcome,
                        latency: a.latency_ns,
                    });
                    seq += 1;
                }
                Err(_) => {
                    c.rejected = 1;
                    c.rejected_healthy = !a.fault as u64;
                    seen_latency = 0;
                }
            }
        }
        caller_latency.record(seen_latency);
        add(&mut totals, &c);
        if let Some(p) = per_phase.get_mut(a.phase as usize) {
            add(p, &c);
        }
        let b = &mut series[((a.t_ns / timeline.bucket_ns) as usize).min(last_bucket)];
        add(&mut b.counts, &c);
        b.latency.record(seen_latency);
        since_report += 1;
        if since_report == PROGRESS_EVERY {
            progress.fetch_add(since_report, Ordering::Relaxed);
            since_report = 0;
        }
    }
    while let Some(p) = heap.pop() {
        complete(p);
    }
    progress.fetch_add(since_report, Ordering::Relaxed);
    let final_state = breaker.state();
    drop(breaker);
    let transitions = std::mem::take(&mut *log.lock().expect("transition log"));
    Ok(Run {
        totals,
        per_phase,
        admitted_while_open,
        caller_latency,
        dependency_latency,
        series,
        transitions,
        final_state,
    })
}

#[inline]
fn add(a: &mut Counters, b: &Counters) {
    a.calls += b.calls;
    a.admitted += b.admitted;
    a.rejected += b.rejected;
    a.shed += b.shed;
    a.failed += b.failed;
    a.reached_failing += b.reached_failing;
    a.rejected_healthy += b.rejected_healthy;
}
