//! Transition events and their listeners.
//!
//! The thread whose compare-and-swap wins a transition builds one [`Transition`] and
//! queues it; events are delivered to listeners in generation order, after the new
//! state is published and outside every lock, so a listener may call back into the
//! breaker. A listener that panics is caught; the breaker carries on.
//!
//! # Who runs listeners
//!
//! Admission never runs a listener and never waits for one: a caller of `try_acquire`
//! that wins a transition (open to half-open, or a half-open lease reclaim) only queues
//! its event. Every other call that can publish or observe a transition (recording an
//! outcome, releasing a permit, manual control, reconfiguration, a snapshot) and
//! [`Breaker::dispatch_events`](crate::Breaker::dispatch_events) delivers what is
//! queued, on the calling thread, oldest first. One thread delivers at a time: a call
//! that finds another thread delivering leaves its events to that thread and returns
//! without waiting. An admission that wins a transition always holds a probe permit,
//! and that permit's outcome or release delivers the event if nothing else has.
//!
//! The queue is allocated when the first listener is registered (until then events
//! are discarded) and is bounded: events that find it full are dropped and
//! counted in [`Snapshot::events_dropped`](crate::Snapshot::events_dropped).

use crate::outcome::FailureKind;
use crate::state::State;
use crate::sync::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};
use arc_swap::ArcSwap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

/// Why a transition happened.
///
/// Equality compares rates and quantiles bit for bit, so that `Reason` (and
/// [`Rejected`](crate::Rejected), which carries one) is `Eq`.
#[derive(Debug, Clone, Copy)]
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
    /// An operator opened the breaker (`open`, `open_for`, `open_until`).
    ManualOpen,
    /// An operator moved the breaker to half-open.
    ManualHalfOpen,
    /// An operator closed the breaker.
    ManualClose,
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
                let limit = crate::breaker::Rounded(limit);
                write!(f, "p{} latency >= {limit}", quantile * 100.0)
            }
            Reason::OpenElapsed => f.write_str("open duration elapsed"),
            Reason::ProbesSucceeded { successes } => write!(f, "{successes} probes succeeded"),
            Reason::ProbeFailed => f.write_str("probe failed"),
            Reason::ProbeLeaseExpired => f.write_str("probe lease expired"),
            Reason::Manual => f.write_str("manual"),
            Reason::ManualOpen => f.write_str("opened manually"),
            Reason::ManualHalfOpen => f.write_str("half-opened manually"),
            Reason::ManualClose => f.write_str("closed manually"),
        }
    }
}

impl PartialEq for Reason {
    fn eq(&self, other: &Reason) -> bool {
        use Reason::*;
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits();
        match (*self, *other) {
            (
                FailureRate {
                    rate: a,
                    threshold: b,
                },
                FailureRate {
                    rate: c,
                    threshold: d,
                },
            )
            | (
                SlowCallRate {
                    rate: a,
                    threshold: b,
                },
                SlowCallRate {
                    rate: c,
                    threshold: d,
                },
            ) => same(a, c) && same(b, d),
            (
                LatencyPercentile {
                    quantile: a,
                    limit: b,
                },
                LatencyPercentile {
                    quantile: c,
                    limit: d,
                },
            ) => same(a, c) && b == d,
            (
                ConsecutiveFailures { count: a, limit: b },
                ConsecutiveFailures { count: c, limit: d },
            ) => (a, b) == (c, d),
            (ProbesSucceeded { successes: a }, ProbesSucceeded { successes: b }) => a == b,
            (a, b) => {
                std::mem::discriminant(&a) == std::mem::discriminant(&b)
                    && !matches!(
                        a,
                        FailureRate { .. }
                            | SlowCallRate { .. }
                            | LatencyPercentile { .. }
                            | ConsecutiveFailures { .. }
                            | ProbesSucceeded { .. }
                    )
            }
        }
    }
}

impl Eq for Reason {}

impl Reason {
    /// Names by code: the one spelling of each reason's name (see [`codes`](crate::codes)).
    const TABLE: [crate::codes::Name; 12] = [
        crate::codes::name!("failure_rate"),
        crate::codes::name!("slow_call_rate"),
        crate::codes::name!("consecutive_failures"),
        crate::codes::name!("latency_percentile"),
        crate::codes::name!("open_elapsed"),
        crate::codes::name!("probes_succeeded"),
        crate::codes::name!("probe_failed"),
        crate::codes::name!("probe_lease_expired"),
        crate::codes::name!("manual"),
        crate::codes::name!("manual_open"),
        crate::codes::name!("manual_half_open"),
        crate::codes::name!("manual_close"),
    ];

    /// Every reason's name, indexed by its code.
    pub const NAMES: [&'static str; 12] = {
        let mut out = [""; 12];
        let mut i = 0;
        while i < 12 {
            out[i] = Reason::TABLE[i].0;
            i += 1;
        }
        out
    };

    /// The reason's stable number: 0 failure rate ..= 8 manual (force, disable,
    /// metrics-only, reset), 9 manual open, 10 manual half-open, 11 manual close.
    pub const fn code(&self) -> u8 {
        match self {
            Reason::FailureRate { .. } => 0,
            Reason::SlowCallRate { .. } => 1,
            Reason::ConsecutiveFailures { .. } => 2,
            Reason::LatencyPercentile { .. } => 3,
            Reason::OpenElapsed => 4,
            Reason::ProbesSucceeded { .. } => 5,
            Reason::ProbeFailed => 6,
            Reason::ProbeLeaseExpired => 7,
            Reason::Manual => 8,
            Reason::ManualOpen => 9,
            Reason::ManualHalfOpen => 10,
            Reason::ManualClose => 11,
        }
    }

    /// A short stable name: `failure_rate`, `probe_failed`, ...
    pub const fn name(&self) -> &'static str {
        Reason::TABLE[self.code() as usize].0
    }

    /// One reason of each code, in code order, with the extreme values of each field
    /// (for tests).
    #[cfg(test)]
    pub(crate) fn examples() -> [Reason; 12] {
        [
            Reason::FailureRate {
                rate: 0.55,
                threshold: 0.5,
            },
            Reason::SlowCallRate {
                rate: 1.0,
                threshold: 0.8,
            },
            Reason::ConsecutiveFailures {
                count: u32::MAX,
                limit: 7,
            },
            Reason::LatencyPercentile {
                quantile: 0.99,
                limit: Duration::new(u64::MAX, 999_999_999),
            },
            Reason::OpenElapsed,
            Reason::ProbesSucceeded {
                successes: u32::MAX,
            },
            Reason::ProbeFailed,
            Reason::ProbeLeaseExpired,
            Reason::Manual,
            Reason::ManualOpen,
            Reason::ManualHalfOpen,
            Reason::ManualClose,
        ]
    }

    /// The name of the reason with code `code`, if any.
    pub fn name_of(code: u8) -> Option<&'static str> {
        Reason::TABLE.get(code as usize).map(|n| n.0)
    }

    /// The name of the reason with code `code`, NUL-terminated for C, if any.
    pub fn c_name_of(code: u8) -> Option<&'static std::ffi::CStr> {
        Reason::TABLE.get(code as usize).map(|n| n.1)
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

/// Attention bit: events are queued for the next record to deliver.
pub(crate) const EVENTS_WAITING: u32 = 1;
/// Attention bit: call listeners are registered.
pub(crate) const CALL_LISTENERS: u32 = 2;

/// Events waiting for delivery, at most this many.
pub(crate) const QUEUED_EVENTS: usize = 32;

#[cfg(not(loom))]
type Queue = crossbeam_queue::ArrayQueue<Transition>;

/// Under loom the queue is a mutex loom can see (`ArrayQueue` spins on atomics loom
/// does not see); the models check what is built on the queue, not the queue.
#[cfg(loom)]
struct Queue(loom::sync::Mutex<std::collections::VecDeque<Transition>>);

#[cfg(loom)]
impl Queue {
    fn new(capacity: usize) -> Queue {
        Queue(loom::sync::Mutex::new(
            std::collections::VecDeque::with_capacity(capacity),
        ))
    }
    fn push(&self, t: Transition) -> Result<(), Transition> {
        let mut q = self.0.lock().unwrap();
        if q.len() == QUEUED_EVENTS {
            return Err(t);
        }
        q.push_back(t);
        Ok(())
    }
    fn pop(&self) -> Option<Transition> {
        self.0.lock().unwrap().pop_front()
    }
    fn is_empty(&self) -> bool {
        self.0.lock().unwrap().is_empty()
    }
}

/// Transition events on their way to the listeners: queued by the transition's
/// winner, delivered in generation order by one thread at a time.
pub(crate) struct Events {
    listeners: Listeners<Transition>,
    /// Boxed: the queue's head and tail sit on lines of their own, 256 bytes a
    /// breaker without listeners would carry for nothing.
    queue: OnceLock<Box<Queue>>,
    /// Threads between the start of a transition's swap and the queueing of its event:
    /// while none is, a generation missing from the queue was dropped, not late.
    publishing: AtomicU32,
    dropped: AtomicU64,
    /// Held by the one thread delivering (a token others skip, never wait for).
    delivering: AtomicBool,
    /// Touched only by the holder of `delivering`, so never contended.
    delivery: parking_lot::Mutex<Delivery>,
}

struct Delivery {
    /// The generation whose event is delivered next.
    next: u32,
    /// Events taken from the queue and not delivered yet, in generation order.
    pending: Vec<Transition>,
}

/// A transition in progress: from before its swap until its event is queued (or the
/// swap is lost). Dropping it ends it.
///
/// A transition that began while no listener had ever been registered (no queue) holds
/// no count and queues no event: it costs no read-modify-write. A listener registered
/// during such a transition misses only that transition's event, which its deliverer
/// skips as dropped (nothing is in progress for it).
pub(crate) struct Publishing<'a>(Option<&'a AtomicU32>);

impl Drop for Publishing<'_> {
    fn drop(&mut self) {
        let Some(count) = self.0 else {
            return;
        };
        // ordering: Release, so that a deliverer that reads no transition in progress
        // (Acquire) sees the event this one queued. The fence pairs with the one in
        // `take_ready`: either that deliverer sees this end, or this thread's next
        // look at `waiting` sees the deliverer's call for help.
        count.fetch_sub(1, Ordering::Release);
        fence(Ordering::SeqCst);
    }
}

impl Events {
    /// `generation`: the state word's first generation.
    pub(crate) fn new(generation: u32) -> Events {
        Events {
            listeners: Listeners::new(),
            queue: OnceLock::new(),
            publishing: AtomicU32::new(0),
            dropped: AtomicU64::new(0),
            delivering: AtomicBool::new(false),
            delivery: parking_lot::Mutex::new(Delivery {
                next: generation.wrapping_add(1),
                pending: Vec::new(),
            }),
        }
    }

    pub(crate) fn listeners(&self) -> &Listeners<Transition> {
        &self.listeners
    }

    /// Registers `f`; `generation` is the state word's now: the first listener's
    /// queue starts delivering after it (earlier events were discarded).
    pub(crate) fn add(&self, f: Listener, generation: u32) -> ListenerId {
        self.queue.get_or_init(|| {
            self.delivery.lock().next = generation.wrapping_add(1);
            Box::new(Queue::new(QUEUED_EVENTS))
        });
        self.listeners.add(f)
    }

    /// Call before a swap that starts a new generation; keep until its event is queued.
    /// While no listener was ever registered (no queue) there is nothing to deliver to,
    /// and the transition is not counted as in progress (see [`Publishing`]).
    pub(crate) fn begin(&self) -> Publishing<'_> {
        if self.queue.get().is_none() {
            return Publishing(None);
        }
        // ordering: Relaxed; the swap that follows (AcqRel) orders it for deliverers,
        // which reach it through the winners of later generations.
        self.publishing.fetch_add(1, Ordering::Relaxed);
        Publishing(Some(&self.publishing))
    }

    /// Queues the event of a transition this thread won, if its [`begin`](Events::begin)
    /// found a queue; returns whether it did. Never blocks or allocates.
    pub(crate) fn queue(&self, t: Transition, publishing: Publishing<'_>) -> bool {
        let queue = match (publishing.0, self.queue.get()) {
            (Some(_), Some(queue)) => queue,
            _ => return false,
        };
        if queue.push(t).is_err() {
            // ordering: Relaxed, a statistic.
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop(publishing);
        true
    }

    /// Events dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Delivers every queued event whose turn has come, unless another thread is
    /// delivering (it delivers them). `waiting` holds the breaker's
    /// [`EVENTS_WAITING`] bit, which asks the next record to deliver: set when a
    /// delivery stops at a transition in progress.
    pub(crate) fn dispatch(&self, waiting: &AtomicU32) {
        let Some(queue) = self.queue.get() else {
            return;
        };
        loop {
            // ordering: AcqRel on both swaps of the token: a thread that queued an
            // event and found the token held either hands it over (the holder's
            // release swap reads this thread's swap and sees the event) or finds it
            // free.
            if self.delivering.swap(true, Ordering::AcqRel) {
                return;
            }
            loop {
                let ready = self.take_ready(queue, waiting);
                if ready.is_empty() {
                    break;
                }
                for t in &ready {
                    self.listeners.emit(t);
                }
            }
            self.delivering.swap(false, Ordering::AcqRel);
            if queue.is_empty() {
                return;
            }
        }
    }

    /// The events whose turn has come, oldest first. Holder of `delivering` only.
    fn take_ready(&self, queue: &Queue, waiting: &AtomicU32) -> Vec<Transition> {
        let mut d = self.delivery.lock();
        let mut ready = Vec::new();
        let mut drained = false;
        loop {
            if !drained {
                while let Some(t) = queue.pop() {
                    d.pending.push(t);
                }
                let next = d.next;
                d.pending.sort_by_key(|t| t.generation.wrapping_sub(next));
                drained = true;
            }
            let Some(first) = d.pending.first() else {
                break;
            };
            if first.generation != d.next {
                // A gap: a winner between its swap and its queueing (it, or the next
                // call, delivers), or a dropped event. None in progress (and nothing
                // new queued since the look) means dropped: skip it.
                // ordering: Acquire pairs with `Publishing`'s Release.
                if self.publishing.load(Ordering::Acquire) != 0 {
                    // Ask the next record to deliver, then look once more: a swap that
                    // ended in between either sees the request or is seen here.
                    waiting.fetch_or(EVENTS_WAITING, Ordering::Relaxed);
                    fence(Ordering::SeqCst);
                    if self.publishing.load(Ordering::Acquire) != 0 {
                        break;
                    }
                    drained = false;
                    continue;
                }
                if !queue.is_empty() {
                    drained = false;
                    continue;
                }
                d.next = first.generation;
            }
            let t = d.pending.remove(0);
            d.next = t.generation.wrapping_add(1);
            ready.push(t);
        }
        ready
    }
}

/// A listener of events of type `T`.
pub(crate) type AnyListener<T> = Arc<dyn Fn(&T) + Send + Sync>;

/// The registered listeners of one kind of event (transitions, calls). Registration
/// is rare; emission loads a snapshot.
pub(crate) struct Listeners<T: 'static> {
    list: ArcSwap<Vec<(ListenerId, AnyListener<T>)>>,
    next_id: AtomicU64,
    panics: AtomicU64,
}

impl<T: 'static> Listeners<T> {
    pub(crate) fn new() -> Listeners<T> {
        Listeners {
            list: ArcSwap::from_pointee(Vec::new()),
            next_id: AtomicU64::new(1),
            panics: AtomicU64::new(0),
        }
    }

    pub(crate) fn add(&self, f: AnyListener<T>) -> ListenerId {
        // ordering: Relaxed, ids only need to be distinct.
        let id = ListenerId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.list.rcu(|old| {
            let mut v = Vec::clone(old);
            v.push((id, f.clone()));
            v
        });
        id
    }

    /// Removes `id`; returns whether it was registered, and whether any is left.
    pub(crate) fn remove(&self, id: ListenerId) -> (bool, bool) {
        let mut found = false;
        let mut left = false;
        self.list.rcu(|old| {
            let mut v = Vec::clone(old);
            let before = v.len();
            v.retain(|(i, _)| *i != id);
            found = v.len() != before;
            left = !v.is_empty();
            v
        });
        (found, left)
    }

    pub(crate) fn emit(&self, t: &T) {
        let list = self.list.load();
        if list.is_empty() {
            return;
        }
        // Call from an owned snapshot: a listener may add or remove listeners.
        let list = arc_swap::Guard::into_inner(list);
        for (_, f) in list.iter() {
            let call = std::panic::AssertUnwindSafe(|| f(t));
            if std::panic::catch_unwind(call).is_err() {
                // ordering: Relaxed, a statistic.
                self.panics.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Listener calls that panicked.
    pub(crate) fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }
}

/// One call's fate, as call listeners see it
/// ([`Breaker::add_call_listener`](crate::Breaker::add_call_listener)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEvent {
    /// The call succeeded.
    Success {
        /// Its latency, when measured or reported.
        latency: Option<Duration>,
    },
    /// The call failed.
    Failure {
        /// How.
        kind: FailureKind,
        /// Its latency, when measured or reported.
        latency: Option<Duration>,
    },
    /// The call's outcome was ignored.
    Ignored,
    /// The breaker rejected the call in `state`.
    Rejected {
        /// The state that rejected it.
        state: State,
    },
}

impl CallEvent {
    /// A short stable name: `success`, `failure`, `ignored`, `rejected`.
    pub fn name(&self) -> &'static str {
        match self {
            CallEvent::Success { .. } => "success",
            CallEvent::Failure { .. } => "failure",
            CallEvent::Ignored => "ignored",
            CallEvent::Rejected { .. } => "rejected",
        }
    }
}
