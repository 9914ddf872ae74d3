//! The discrete-event simulation of one candidate: calls arrive in time order, the real
//! [`tripgate::Breaker`] on a [`ManualClock`] decides admission, and each admitted call
//! reports its outcome when its latency has elapsed on the virtual clock.
//!
//! Pending calls wait in a min-heap keyed by completion time (ties broken by slab
//! slot, deterministically), so completions and arrivals interleave exactly as they
//! would in time. The engine is single-threaded per candidate; candidates run in
//! parallel on their own breakers and clocks, so results do not depend on scheduling.

use crate::closeness::{Peaks, Sampler};
use crate::histogram::Histogram;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
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
    /// Per phase of the timeline, the peak of each enabled rule's statistic (see
    /// [`crate::closeness`]).
    pub peaks: Vec<Peaks>,
}

/// A call in flight; its completion time and slot index form the heap key.
struct Pending {
    permit: RawPermit,
    outcome: Outcome,
    latency: u64,
}

/// Calls in flight, earliest completion first: a min-heap of 16-byte keys
/// `(completion time << 32) | slot` over a slab of payloads. Ties go to the lower
/// slot, which is deterministic.
#[derive(Default)]
struct InFlight {
    heap: BinaryHeap<Reverse<u128>>,
    slab: Vec<Pending>,
    free: Vec<u32>,
}

impl InFlight {
    fn len(&self) -> usize {
        self.heap.len()
    }

    #[inline]
    fn push(&mut self, at: u64, p: Pending) {
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = p;
                s
            }
            None => {
                self.slab.push(p);
                (self.slab.len() - 1) as u32
            }
        };
        self.heap.push(Reverse(((at as u128) << 32) | slot as u128));
    }

    #[inline]
    fn pop_due(&mut self, now: u64) -> Option<(u64, Pending)> {
        let Reverse(k) = *self.heap.peek()?;
        let at = (k >> 32) as u64;
        if at > now {
            return None;
        }
        self.heap.pop();
        let slot = k as u32;
        self.free.push(slot);
        // The slot keeps the spent permit until it is reused.
        let p = &mut self.slab[slot as usize];
        let permit = std::mem::take(&mut p.permit);
        Some((
            at,
            Pending {
                permit,
                outcome: p.outcome,
                latency: p.latency,
            },
        ))
    }
}

/// A run stopped because one candidate held more calls in flight than its share of
/// `--max-memory` allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooManyInFlight {
    /// The limit that was reached.
    pub limit: u64,
    /// Virtual time it was reached at, nanoseconds.
    pub at_ns: u64,
}

/// One candidate's simulation, fed calls in time order with [`Sim::step`].
pub struct Sim {
    clock: ManualClock,
    breaker: Breaker<ManualClock>,
    log: Arc<Mutex<Vec<TransitionRec>>>,
    cap: u64,
    in_flight_limit: u64,
    heap: InFlight,
    totals: Counters,
    per_phase: Vec<Counters>,
    series: Vec<Bucket>,
    caller_latency: Histogram,
    dependency_latency: Histogram,
    admitted_while_open: u64,
    bucket_ns: u64,
    last_bucket: usize,
    sampler: Sampler,
}

impl Sim {
    /// Bytes one call in flight takes (heap key, payload, free-list slot), doubled for
    /// the spare capacity of growing vectors.
    pub const BYTES_PER_CALL_IN_FLIGHT: u64 = 2
        * (std::mem::size_of::<Reverse<u128>>()
            + std::mem::size_of::<Pending>()
            + std::mem::size_of::<u32>()) as u64;

    /// Bytes a candidate's run needs before its first call: the time series and the two
    /// run-wide latency histograms.
    pub fn fixed_bytes(timeline: &Timeline) -> u64 {
        let bucket = (std::mem::size_of::<Bucket>() as u64).saturating_add(Histogram::HEAP_BYTES);
        (timeline.buckets as u64 + 2)
            .saturating_mul(bucket)
            .saturating_add((timeline.spans.len() as u64).saturating_mul(
                (std::mem::size_of::<Counters>() + std::mem::size_of::<Peaks>()) as u64,
            ))
    }

    /// A fresh breaker configured with `config` on its own virtual clock at 0.
    /// `concurrency` caps the calls in flight (calls beyond it are shed by the caller);
    /// `in_flight_limit` is the most the run may hold (past it, [`Sim::step`] fails).
    pub fn new(
        config: &Config,
        timeline: &Timeline,
        concurrency: Option<u32>,
        in_flight_limit: u64,
    ) -> Result<Sim, tripgate::ConfigError> {
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
        Ok(Sim {
            clock,
            breaker,
            log,
            cap: concurrency.map_or(u64::MAX, u64::from),
            in_flight_limit,
            heap: InFlight::default(),
            totals: Counters::default(),
            per_phase: vec![Counters::default(); timeline.spans.len()],
            series: vec![Bucket::default(); timeline.buckets],
            caller_latency: Histogram::default(),
            dependency_latency: Histogram::default(),
            admitted_while_open: 0,
            bucket_ns: timeline.bucket_ns,
            last_bucket: timeline.buckets.saturating_sub(1),
            sampler: Sampler::new(config, &timeline.spans),
        })
    }

    #[inline]
    fn complete(&mut self, at: u64, p: Pending) {
        self.clock.set_nanos(at);
        // The trip rules are live only while closed.
        let closed = self.breaker.state() == State::Closed;
        // The permit this engine took from its own breaker, answered once: never refused.
        let _ = self
            .breaker
            .record_raw(p.permit, p.outcome, Some(p.latency));
        if closed {
            self.sampler
                .after_record(&self.breaker, at, p.outcome, p.latency);
        }
    }

    /// Processes one call; calls must come in time order. Fails when the calls in
    /// flight reach the limit given to [`Sim::new`].
    #[inline]
    pub fn step(&mut self, a: &Arrival) -> Result<(), TooManyInFlight> {
        while let Some((at, p)) = self.heap.pop_due(a.t_ns) {
            self.complete(at, p);
        }
        self.clock.set_nanos(a.t_ns);
        let mut c = Counters {
            calls: 1,
            ..Counters::default()
        };
        let seen_latency;
        let in_flight = self.heap.len() as u64;
        if in_flight >= self.in_flight_limit && in_flight < self.cap {
            return Err(TooManyInFlight {
                limit: self.in_flight_limit,
                at_ns: a.t_ns,
            });
        }
        if in_flight >= self.cap {
            c.shed = 1;
            seen_latency = 0;
        } else {
            match self.breaker.acquire_raw() {
                Ok(permit) => {
                    if matches!(self.breaker.state(), State::Open | State::ForcedOpen) {
                        self.admitted_while_open += 1;
                    }
                    c.admitted = 1;
                    c.failed = matches!(a.outcome, Outcome::Failure(_)) as u64;
                    c.reached_failing = a.fault as u64;
                    seen_latency = a.latency_ns;
                    self.dependency_latency.record(a.latency_ns);
                    self.heap.push(
                        a.t_ns.saturating_add(a.latency_ns),
                        Pending {
                            permit,
                            outcome: a.outcome,
                            latency: a.latency_ns,
                        },
                    );
                }
                Err(_) => {
                    c.rejected = 1;
                    c.rejected_healthy = !a.fault as u64;
                    seen_latency = 0;
                }
            }
        }
        self.caller_latency.record(seen_latency);
        add(&mut self.totals, &c);
        if let Some(p) = self.per_phase.get_mut(a.phase as usize) {
            add(p, &c);
        }
        let b = &mut self.series[((a.t_ns / self.bucket_ns) as usize).min(self.last_bucket)];
        add(&mut b.counts, &c);
        b.latency.record(seen_latency);
        Ok(())
    }

    /// Lets the calls in flight due by `t_ns` answer and moves the clock to `t_ns` (the
    /// clock never goes back): for a caller that acts on the breaker between calls,
    /// such as the fleet's rounds.
    pub fn advance_to(&mut self, t_ns: u64) {
        while let Some((at, p)) = self.heap.pop_due(t_ns) {
            self.complete(at, p);
        }
        self.clock.set_nanos(t_ns);
    }

    /// The breaker under simulation.
    pub fn breaker(&self) -> &Breaker<ManualClock> {
        &self.breaker
    }

    /// Transitions of the breaker so far.
    pub fn transition_count(&self) -> usize {
        self.log.lock().expect("transition log").len()
    }

    /// Lets every call in flight answer, and returns the results.
    pub fn finish(mut self) -> Run {
        while let Some((at, p)) = self.heap.pop_due(u64::MAX) {
            self.complete(at, p);
        }
        let final_state = self.breaker.state();
        drop(self.breaker);
        let transitions = std::mem::take(&mut *self.log.lock().expect("transition log"));
        Run {
            totals: self.totals,
            per_phase: self.per_phase,
            admitted_while_open: self.admitted_while_open,
            caller_latency: self.caller_latency,
            dependency_latency: self.dependency_latency,
            series: self.series,
            transitions,
            final_state,
            peaks: self.sampler.finish(),
        }
    }
}

/// Adds `b`'s counts to `a`'s.
#[inline]
pub fn add(a: &mut Counters, b: &Counters) {
    a.calls += b.calls;
    a.admitted += b.admitted;
    a.rejected += b.rejected;
    a.shed += b.shed;
    a.failed += b.failed;
    a.reached_failing += b.reached_failing;
    a.rejected_healthy += b.rejected_healthy;
}
