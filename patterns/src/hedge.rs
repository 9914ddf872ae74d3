//! Request hedging: when the primary is slow, ask a secondary too; the first success
//! wins.
//!
//! A [`Hedge`] starts the primary through its breaker. If the primary has not
//! answered after the *hedge delay*, it starts the secondary through the secondary's
//! own breaker, and awaits both; the first success is returned and the other call is
//! cancelled (its future dropped) and recorded on its breaker as
//! [`Ignored`](tripgate::Outcome::Ignored), since a call cut short says nothing about the
//! dependency. A failure does not end the race while the other call runs.
//!
//! Hedging is about latency, not errors: a primary that *fails* before the delay
//! returns its error without a hedge, and a primary whose breaker *rejects* returns
//! [`HedgeError`] at once. To move on after errors, put the hedge in a
//! [`Chain`](crate::Chain) step.
//!
//! # The delay
//!
//! [`HedgeDelay::Fixed`], or [`HedgeDelay::Percentile`]: a percentile of the primary
//! breaker's own latency window (its [`snapshot`](tripgate::Breaker::snapshot)),
//! clamped to a floor and a ceiling. A snapshot costs O(window), so it is never taken
//! per call: the delay is cached, and the first call after each `refresh` period
//! re-reads it (one compare-and-swap picks that call; the others read the cache).
//! Until the window holds `min_samples` timed calls (or if the breaker tracks no
//! latency) the delay is the ceiling.
//!
//! # The cap
//!
//! During an incident every primary call is slow, and hedging every one of them would
//! double the load on a struggling fleet. At most `max_in_flight` secondaries run at
//! once (an atomic counter: one `fetch_add` and a compare, taken back when over);
//! a call that reaches its delay while the cap is full keeps waiting on its primary and
//! is counted in [`HedgeMetrics::capped`].
//!
//! # Timers
//!
//! The hedge sleeps through a [`Sleeper`] (any `Fn(Duration) -> impl Future`), so it
//! runs on any runtime: pass `tokio::time::sleep` on tokio.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tripgate::{Breaker, Config};
//! use tripgate_patterns::hedge::{Hedge, HedgeDelay, Leg};
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
//! # rt.block_on(async {
//! let primary = Arc::new(Breaker::new(Config::default()).unwrap());
//! let secondary = Arc::new(Breaker::new(Config::default()).unwrap());
//! let hedge = Hedge::new(primary, secondary, HedgeDelay::Fixed(Duration::from_millis(20)), tokio::time::sleep)
//!     .with_max_in_flight(4);
//!
//! let answer = hedge
//!     .call(
//!         || async { tokio::time::sleep(Duration::from_millis(500)).await; Ok::<_, ()>("slow") },
//!         || async { Ok("fast") },
//!     )
//!     .await
//!     .unwrap();
//! assert_eq!((answer.value, answer.answered_by, answer.hedged), ("fast", Leg::Secondary, true));
//! assert_eq!(hedge.metrics().losers_cancelled, 1);
//! # });
//! ```

use crate::classify::{default_classify, IgnoreOnDrop};
use crate::sleep::Sleeper;
use crossbeam_utils::CachePadded;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tripgate::{Breaker, CallError, Clock, LatencySummary, Outcome, SystemClock};

/// Which leg of a hedged call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    /// The primary.
    Primary,
    /// The secondary (the hedge).
    Secondary,
}

/// A latency percentile a breaker's snapshot reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Percentile {
    /// Median.
    P50,
    /// 90th.
    P90,
    /// 95th.
    P95,
    /// 99th.
    P99,
    /// 99.9th.
    P999,
}

impl Percentile {
    fn of(self, l: &LatencySummary) -> u64 {
        match self {
            Percentile::P50 => l.p50,
            Percentile::P90 => l.p90,
            Percentile::P95 => l.p95,
            Percentile::P99 => l.p99,
            Percentile::P999 => l.p999,
        }
    }
}

/// How long the primary runs alone before the secondary starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HedgeDelay {
    /// Always this long.
    Fixed(Duration),
    /// A percentile of the primary breaker's latency window, clamped to
    /// `[floor, ceiling]`, re-read at most once per `refresh`. See
    /// [`HedgeDelay::percentile`] for the usual values.
    Percentile {
        /// Which percentile.
        percentile: Percentile,
        /// Never hedge sooner than this.
        floor: Duration,
        /// Never wait longer than this; also the delay while samples are too few.
        ceiling: Duration,
        /// How long a computed delay is used before it is re-read.
        refresh: Duration,
        /// Timed calls the window must hold before its percentile is trusted.
        min_samples: u64,
    },
}

impl HedgeDelay {
    /// A percentile delay clamped to `[floor, ceiling]`, refreshed every second once the
    /// window holds 20 timed calls.
    pub fn percentile(percentile: Percentile, floor: Duration, ceiling: Duration) -> Self {
        HedgeDelay::Percentile {
            percentile,
            floor,
            ceiling: ceiling.max(floor),
            refresh: Duration::from_secs(1),
            min_samples: 20,
        }
    }
}

/// A successful hedged call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hedged<T> {
    /// The value.
    pub value: T,
    /// Which leg answered.
    pub answered_by: Leg,
    /// Whether a secondary was started.
    pub hedged: bool,
}

/// A hedged call that returned no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HedgeError<E> {
    /// The primary's error: rejected by its breaker, or failed.
    pub primary: CallError<E>,
    /// The secondary's error, if one was attempted: rejected by its breaker, or failed.
    /// `None` when no hedge was attempted (the primary failed before the delay, or the
    /// cap was full).
    pub secondary: Option<CallError<E>>,
}

impl<E: fmt::Display> fmt::Display for HedgeError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hedged call failed: primary: {}", self.primary)?;
        if let Some(s) = &self.secondary {
            write!(f, "; secondary: {s}")?;
        }
        Ok(())
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for HedgeError<E> {}

/// A reading of a hedge's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HedgeMetrics {
    /// Secondaries started.
    pub hedges: u64,
    /// Calls that reached their delay while the cap was full (no secondary started).
    pub capped: u64,
    /// Calls that reached their delay and whose secondary's breaker rejected it.
    pub secondary_rejected: u64,
    /// Calls the secondary answered.
    pub secondary_wins: u64,
    /// Calls answered while the other leg still ran (the loser, cancelled).
    pub losers_cancelled: u64,
    /// Secondaries running now.
    pub in_flight: usize,
    /// The delay in force (for a percentile delay, the cached value).
    pub delay: Duration,
}

/// Hedged calls between two breakers. See the [module documentation](self).
pub struct Hedge<S: Sleeper, C: Clock = SystemClock> {
    primary: Arc<Breaker<C>>,
    secondary: Arc<Breaker<C>>,
    sleeper: S,
    delay: HedgeDelay,
    max_in_flight: usize,
    in_flight: CachePadded<AtomicUsize>,
    cached_delay: AtomicU64,
    next_refresh: AtomicU64,
    hedges: AtomicU64,
    capped: AtomicU64,
    secondary_rejected: AtomicU64,
    secondary_wins: AtomicU64,
    losers_cancelled: AtomicU64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A secondary's place under the cap, given back when dropped.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<S: Sleeper, C: Clock> Hedge<S, C> {
    /// Hedges calls to `primary` with calls to `secondary` after `delay`, sleeping
    /// through `sleeper`. At most 8 secondaries run at once unless
    /// [`with_max_in_flight`](Hedge::with_max_in_flight) says otherwise.
    pub fn new(
        primary: Arc<Breaker<C>>,
        secondary: Arc<Breaker<C>>,
        delay: HedgeDelay,
        sleeper: S,
    ) -> Self {
        let initial = match delay {
            HedgeDelay::Fixed(d) => d,
            HedgeDelay::Percentile { ceiling, .. } => ceiling,
        };
        Hedge {
            primary,
            secondary,
            sleeper,
            delay,
            max_in_flight: 8,
            in_flight: CachePadded::new(AtomicUsize::new(0)),
            cached_delay: AtomicU64::new(nanos(initial)),
            next_refresh: AtomicU64::new(0),
            hedges: AtomicU64::new(0),
            capped: AtomicU64::new(0),
            secondary_rejected: AtomicU64::new(0),
            secondary_wins: AtomicU64::new(0),
            losers_cancelled: AtomicU64::new(0),
        }
    }

    /// At most `n` secondaries in flight at once (0 turns hedging off).
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// The primary's breaker.
    pub fn primary(&self) -> &Arc<Breaker<C>> {
        &self.primary
    }

    /// The secondary's breaker.
    pub fn secondary(&self) -> &Arc<Breaker<C>> {
        &self.secondary
    }

    /// The hedge delay a call starting now would use. For a percentile delay, reads
    /// the cache, and refreshes it from a snapshot when `refresh` has passed (one
    /// caller per period does).
    pub fn current_delay(&self) -> Duration {
        let HedgeDelay::Percentile {
            percentile,
            floor,
            ceiling,
            refresh,
            min_samples,
        } = self.delay
        else {
            return Duration::from_nanos(self.cached_delay.load(Ordering::Relaxed));
        };
        let now = self.primary.clock().coarse_nanos();
        let next = self.next_refresh.load(Ordering::Relaxed);
        // ordering: Relaxed throughout; the delay is a hint, and a reader that sees the
        // old value for a moment hedges a little early or late.
        if now >= next
            && self
                .next_refresh
                .compare_exchange(
                    next,
                    now.saturating_add(nanos(refresh)),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            let delay = match self.primary.snapshot().latency {
                Some(l) if l.count >= min_samples => {
                    percentile.of(&l).clamp(nanos(floor), nanos(ceiling))
                }
                _ => nanos(ceiling),
            };
            self.cached_delay.store(delay, Ordering::Relaxed);
        }
        Duration::from_nanos(self.cached_delay.load(Ordering::Relaxed))
    }

    /// A reading of the figures.
    pub fn metrics(&self) -> HedgeMetrics {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        HedgeMetrics {
            hedges: r(&self.hedges),
            capped: r(&self.capped),
            secondary_rejected: r(&self.secondary_rejected),
            secondary_wins: r(&self.secondary_wins),
            losers_cancelled: r(&self.losers_cancelled),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            delay: Duration::from_nanos(r(&self.cached_delay)),
        }
    }

    /// Takes a place under the cap: one `fetch_add` and a compare.
    fn take_slot(&self) -> Option<Slot<'_>> {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) < self.max_in_flight {
            Some(Slot(&self.in_flight))
        } else {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            None
        }
    }

    /// Runs `primary`, hedged by `secondary`. `Ok` is a success, `Err` a failure of
    /// kind `Other`. Each closure is called only if its leg starts.
    pub async fn call<T, E, P, Q>(
        &self,
        primary: impl FnOnce() -> P,
        secondary: impl FnOnce() -> Q,
    ) -> Result<Hedged<T>, HedgeError<E>>
    where
        P: Future<Output = Result<T, E>>,
        Q: Future<Output = Result<T, E>>,
    {
        self.call_classified(primary, secondary, default_classify)
            .await
    }

    /// [`call`](Hedge::call) with a classifier for what each leg's breaker records.
    /// Dropping the returned future records every leg still running as ignored.
    pub async fn call_classified<T, E, P, Q>(
        &self,
        primary: impl FnOnce() -> P,
        secondary: impl FnOnce() -> Q,
        classify: impl Fn(&Result<T, E>) -> Outcome,
    ) -> Result<Hedged<T>, HedgeError<E>>
    where
        P: Future<Output = Result<T, E>>,
        Q: Future<Output = Result<T, E>>,
    {
        let mut p_guard = match self.primary.try_acquire() {
            Ok(p) => Some(IgnoreOnDrop::new(p)),
            Err(r) => {
                return Err(HedgeError {
                    primary: CallError::Rejected(r),
                    secondary: None,
                })
            }
        };
        let delay = self.current_delay();
        // Guards are declared before the futures they answer for, so the futures drop
        // first (locals drop in reverse order) and the guards then record "ignored".
        let mut s_guard = None;
        let mut slot = None;
        let mut s_start = Some(secondary);
        let mut p_fut = pin!(Some(primary()));
        let mut s_fut = pin!(None::<Q>);
        let mut timer = pin!(Some(self.sleeper.sleep(delay)));
        let mut p_err = None;
        let mut s_err = None;
        let mut hedged = false;

        poll_fn(|cx| {
            if let Some(f) = p_fut.as_mut().as_pin_mut() {
                if let Poll::Ready(r) = f.poll(cx) {
                    p_fut.set(None);
                    if let Some(g) = p_guard.take() {
                        g.record(classify(&r));
                    }
                    match r {
                        Ok(value) => {
                            if s_fut.is_some() {
                                self.losers_cancelled.fetch_add(1, Ordering::Relaxed);
                            }
                            return Poll::Ready(Ok(Hedged {
                                value,
                                answered_by: Leg::Primary,
                                hedged,
                            }));
                        }
                        Err(e) => p_err = Some(e),
                    }
                }
            }
            if let Some(t) = timer.as_mut().as_pin_mut() {
                if p_fut.is_none() {
                    // The primary failed before the delay: no hedge.
                    timer.set(None);
                } else if t.poll(cx).is_ready() {
                    timer.set(None);
                    match self.take_slot() {
                        None => {
                            self.capped.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(s) => match self.secondary.try_acquire() {
                            Err(r) => {
                                self.secondary_rejected.fetch_add(1, Ordering::Relaxed);
                                s_err = Some(CallError::Rejected(r));
                            }
                            Ok(permit) => {
                                self.hedges.fetch_add(1, Ordering::Relaxed);
                                hedged = true;
                                slot = Some(s);
                                s_guard = Some(IgnoreOnDrop::new(permit));
                                if let Some(start) = s_start.take() {
                                    s_fut.set(Some(start()));
                                }
                            }
                        },
                    }
                }
            }
            if let Some(f) = s_fut.as_mut().as_pin_mut() {
                if let Poll::Ready(r) = f.poll(cx) {
                    s_fut.set(None);
                    drop(slot.take());
                    if let Some(g) = s_guard.take() {
                        g.record(classify(&r));
                    }
                    match r {
                        Ok(value) => {
                            self.secondary_wins.fetch_add(1, Ordering::Relaxed);
                            if p_fut.is_some() {
                                self.losers_cancelled.fetch_add(1, Ordering::Relaxed);
                            }
                            return Poll::Ready(Ok(Hedged {
                                value,
                                answered_by: Leg::Secondary,
                                hedged,
                            }));
                        }
                        Err(e) => s_err = Some(CallError::Failed(e)),
                    }
                }
            }
            if p_fut.is_none() && s_fut.is_none() && timer.is_none() {
                let primary = match p_err.take() {
                    Some(e) => CallError::Failed(e),
                    None => unreachable!("the primary finished without a value or an error"),
                };
                return Poll::Ready(Err(HedgeError {
                    primary,
                    secondary: s_err.take(),
                }));
            }
            Poll::Pending
        })
        .await
    }
}
