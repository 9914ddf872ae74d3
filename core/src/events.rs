//! Transition events and their listeners.
//!
//! The thread whose compare-and-swap wins a transition builds one [`Transition`] and
//! calls every listener with it, after the new state is published and outside every
//! lock, so a listener may call back into the breaker. With no listener registered
//! nothing is allocated. A listener that panics is caught; the breaker carries on.

use crate::state::State;
use crate::sync::{AtomicU64, Ordering};
use arc_swap::ArcSwap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Why a transition happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// The weighted failure rate reached its threshold.
    FailureRate {
        /// Rate over the window.
        rate: f64,
        /// Configured threshold.
        threshold: f64,
    },
    /// The slow-call rate reached its threshold.
    SlowCallRate {
        /// Rate over the window.
        rate: f64,
        /// Configured threshold.
        threshold: f64,
    },
    /// Too many failures in a row.
    ConsecutiveFailures {
        /// Failures in a row.
        count: u32,
        /// Configured limit.
        limit: u32,
    },
    /// A latency quantile over the window reached its limit.
    LatencyPercentile {
        /// The quantile (0.99 for p99).
        quantile: f64,
        /// Configured limit.
        limit: Duration,
    },
    /// The open duration passed; the first probe was admitted.
    OpenElapsed,
    /// Enough probes succeeded.
    ProbesSucceeded {
        /// Successful probes.
        successes: u32,
    },
    /// A probe failed.
    ProbeFailed,
    /// Every probe slot was held past `half_open.max_wait`; the slots were reclaimed.
    ProbeLeaseExpired,
    /// An operator call: force, disable, metrics-only or reset.
    Manual,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Reason::FailureRate { rate, threshold } => {
                write!(
                    f,
                    "failure rate {:.1}% >= {:.1}%",
                    rate * 100.0,
                    threshold * 100.0
                )
            }
            Reason::SlowCallRate { rate, threshold } => {
                write!(
                    f,
                    "slow-call rate {:.1}% >= {:.1}%",
                    rate * 100.0,
                    threshold * 100.0
                )
            }
            Reason::ConsecutiveFailures { count, limit } => {
                write!(f, "{count} consecutive failures >= {limit}")
            }
            Reason::LatencyPercentile { quantile, limit } => {
                write!(f, "p{} latency >= {limit:?}", quantile * 100.0)
            }
            Reason::OpenElapsed => f.write_str("open duration elapsed"),
            Reason::ProbesSucceeded { successes } => write!(f, "{successes} probes succeeded"),
            Reason::ProbeFailed => f.write_str("probe failed"),
            Reason::ProbeLeaseExpired => f.write_str("probe lease expired"),
            Reason::Manual => f.write_str("manual"),
        }
    }
}

impl Reason {
    /// A short stable name: `failure_rate`, `probe_failed`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Reason::FailureRate { .. } => "failure_rate",
            Reason::SlowCallRate { .. } => "slow_call_rate",
            Reason::ConsecutiveFailures { .. } => "consecutive_failures",
            Reason::LatencyPercentile { .. } => "latency_percentile",
            Reason::OpenElapsed => "open_elapsed",
            Reason::ProbesSucceeded { .. } => "probes_succeeded",
            Reason::ProbeFailed => "probe_failed",
            Reason::ProbeLeaseExpired => "probe_lease_expired",
            Reason::Manual => "manual",
        }
    }
}

/// One transition, as listeners see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Why.
    pub reason: Reason,
    /// Generation of the new state.
    pub generation: u32,
    /// Monotonic time of the transition, in the breaker clock's nanoseconds.
    pub at_nanos: u64,
    /// Wall-clock time of the transition, for reports.
    pub at: SystemTime,
    /// For a transition to `Open`, how long it stays open (jitter included).
    pub open_for: Option<Duration>,
}

/// A transition listener.
pub type Listener = Arc<dyn Fn(&Transition) + Send + Sync>;

/// Handle returned by [`Breaker::add_listener`](crate::Breaker::add_listener).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

impl ListenerId {
    /// The id as a number (distinct per breaker), for bindings to hand out.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// The registered listeners. Registration is rare; emission loads a snapshot.
pub(crate) struct Listeners {
    list: ArcSwap<Vec<(ListenerId, Listener)>>,
    next_id: AtomicU64,
    panics: AtomicU64,
}

impl Listeners {
    pub(crate) fn new() -> Listeners {
        Listeners {
            list: ArcSwap::from_pointee(Vec::new()),
            next_id: AtomicU64::new(1),
            panics: AtomicU64::new(0),
        }
    }

    pub(crate) fn add(&self, f: Listener) -> ListenerId {
        // ordering: Relaxed, ids only need to be distinct.
        let id = ListenerId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.list.rcu(|old| {
            let mut v = Vec::clone(old);
            v.push((id, f.clone()));
            v
        });
        id
    }

    pub(crate) fn remove(&self, id: ListenerId) -> bool {
        let mut found = false;
        self.list.rcu(|old| {
            let mut v = Vec::clone(old);
            let before = v.len();
            v.retain(|(i, _)| *i != id);
            found = v.len() != before;
            v
        });
        found
    }

    pub(crate) fn emit(&self, t: &Transition) {
        let list = self.list.load();
        if list.is_empty() {
            return;
        }
        // Call from an owned snapshot: a listener may add or remove listeners.
        let list = arc_swap::Guard::into_inner(list);
        for (_, f) in list.iter() {
            let call = std::panic::AssertUnwindSafe(|| f(t));
            if std::panic::catch_unwind(call).is_err() {
                self.panics.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Listener calls that panicked.
    pub(crate) fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }
}
