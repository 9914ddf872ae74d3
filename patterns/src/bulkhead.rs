//! A bulkhead: at most `limit` calls in flight to one dependency.
//!
//! A breaker reacts to a dependency that fails; a bulkhead caps how much of *this*
//! service one dependency can tie up while it is merely slow, before a breaker has
//! anything to count. Each dependency gets its own [`Bulkhead`], so a slow one exhausts
//! its own slots and no one else's.
//!
//! # Admission
//!
//! [`try_acquire`](Bulkhead::try_acquire) is wait-free: one `fetch_add` on a counter
//! that lives alone on its cache line, and a compare. Over the limit it takes the
//! increment back (a `fetch_sub`) and counts the rejection. The [`BulkheadGuard`] it
//! returns releases the slot when dropped: one `fetch_sub`, and one load of a waiter
//! count on the same cache line (a wake-up is sent only while an async caller waits).
//!
//! The counter may read above `limit` for an instant while a rejected caller takes its
//! increment back; another caller arriving in that instant is rejected too. So under
//! contention at the limit a caller can be refused a slot that frees a moment later:
//! the bulkhead errs toward admitting fewer, never more, than `limit`.
//!
//! # Waiting
//!
//! [`acquire`](Bulkhead::acquire) lets an async caller wait up to a bound for a slot,
//! on any runtime: it sleeps through a [`Sleeper`] and is woken by
//! [`event_listener`] (small, runtime-agnostic, the waker list under `async-lock`),
//! whose list is allocated only when someone first waits.
//! (An async semaphore such as `tokio::sync::Semaphore` would tie the crate to one
//! runtime and make the sync path a compare-and-swap loop on its own counter instead
//! of one add on ours.) Waiting is not FIFO: a caller that arrives while others wait may
//! take a freed slot first.
//!
//! # Examples
//!
//! ```
//! use tripgate_patterns::Bulkhead;
//!
//! let bulkhead = Bulkhead::new(2);
//! let a = bulkhead.try_acquire().unwrap();
//! let _b = bulkhead.try_acquire().unwrap();
//! assert!(bulkhead.try_acquire().is_err()); // full
//! drop(a);
//! assert!(bulkhead.try_acquire().is_ok());
//! assert_eq!(bulkhead.metrics().rejected, 1);
//! ```

use crate::sleep::Sleeper;
use crossbeam_utils::CachePadded;
use event_listener::Event;
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// A bulkhead was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkheadFull {
    /// The bulkhead's limit.
    pub limit: usize,
}

impl fmt::Display for BulkheadFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bulkhead full: {} calls in flight", self.limit)
    }
}

impl std::error::Error for BulkheadFull {}

/// A reading of a bulkhead's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BulkheadMetrics {
    /// The limit.
    pub limit: usize,
    /// Slots held now (may read above the limit for an instant; see the module docs).
    pub in_flight: usize,
    /// Calls refused at once by [`Bulkhead::try_acquire`].
    pub rejected: u64,
    /// Waits in [`Bulkhead::acquire`] that ran out of time.
    pub wait_timeouts: u64,
    /// Calls admitted by [`Bulkhead::acquire`] after waiting.
    pub admitted_after_wait: u64,
}

/// The counters every admission and release touch, on one cache line of their own.
struct Hot {
    /// Slots held (plus, for an instant, increments being taken back).
    in_flight: AtomicUsize,
    /// Async callers waiting in `acquire`: a release notifies only when this is not 0.
    waiters: AtomicUsize,
}

/// A concurrency limit for one dependency. See the [module documentation](self).
pub struct Bulkhead {
    hot: CachePadded<Hot>,
    limit: usize,
    rejected: AtomicU64,
    wait_timeouts: AtomicU64,
    admitted_after_wait: AtomicU64,
    released: Event,
}

impl fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulkhead")
            .field("metrics", &self.metrics())
            .finish()
    }
}

impl Bulkhead {
    /// A bulkhead admitting at most `limit` calls at once (a limit of 0 admits none).
    pub fn new(limit: usize) -> Self {
        Bulkhead {
            hot: CachePadded::new(Hot {
                in_flight: AtomicUsize::new(0),
                waiters: AtomicUsize::new(0),
            }),
            limit,
            rejected: AtomicU64::new(0),
            wait_timeouts: AtomicU64::new(0),
            admitted_after_wait: AtomicU64::new(0),
            released: Event::new(),
        }
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Takes a slot if one is free. Wait-free; a refusal is counted in
    /// [`BulkheadMetrics::rejected`].
    #[inline]
    pub fn try_acquire(&self) -> Result<BulkheadGuard<'_>, BulkheadFull> {
        if self.take() {
            Ok(BulkheadGuard { bulkhead: self })
        } else {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            Err(BulkheadFull { limit: self.limit })
        }
    }

    /// [`try_acquire`](Bulkhead::try_acquire) with a guard that owns an `Arc` of the
    /// bulkhead, for a spawned task or a response future.
    #[inline]
    pub fn try_acquire_owned(self: &Arc<Self>) -> Result<OwnedBulkheadGuard, BulkheadFull> {
        if self.take() {
            Ok(OwnedBulkheadGuard {
                bulkhead: Arc::clone(self),
            })
        } else {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            Err(BulkheadFull { limit: self.limit })
        }
    }

    /// Takes a slot if one is free, counting no rejection when none is: for a caller
    /// with a wait of its own that looks again later (a binding's event loop), which
    /// counts what it decides is a rejection through
    /// [`try_acquire_owned`](Bulkhead::try_acquire_owned). Wait-free.
    #[inline]
    pub fn poll_acquire_owned(self: &Arc<Self>) -> Option<OwnedBulkheadGuard> {
        self.take().then(|| OwnedBulkheadGuard {
            bulkhead: Arc::clone(self),
        })
    }

    /// Takes a slot with no guard, for a caller that gives it back by a separate call
    /// (the C ABI, which has nowhere to keep a guard). Wait-free, as `try_acquire`; give
    /// the slot back with [`release_raw`](Bulkhead::release_raw).
    #[inline]
    pub fn try_acquire_raw(&self) -> Result<(), BulkheadFull> {
        if self.take() {
            Ok(())
        } else {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            Err(BulkheadFull { limit: self.limit })
        }
    }

    /// Gives back a slot taken by [`try_acquire_raw`](Bulkhead::try_acquire_raw).
    /// Returns `false`, changing nothing, when no slot is held: the count never goes
    /// below zero, whatever the caller does.
    #[inline]
    pub fn release_raw(&self) -> bool {
        // ordering: SeqCst, see `take`.
        let released = self
            .hot
            .in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if released && self.hot.waiters.load(Ordering::SeqCst) != 0 {
            self.released.notify_additional(1);
        }
        released
    }

    /// Takes a slot, waiting up to `max_wait` for one to free; the wait sleeps through
    /// `sleeper` (for example `tokio::time::sleep`). Dropping the future gives up the
    /// wait. A wait that runs out is counted in [`BulkheadMetrics::wait_timeouts`].
    pub async fn acquire<S: Sleeper>(
        &self,
        max_wait: Duration,
        sleeper: &S,
    ) -> Result<BulkheadGuard<'_>, BulkheadFull> {
        if self.take() {
            return Ok(BulkheadGuard { bulkhead: self });
        }
        let _waiting = Waiting::new(&self.hot.waiters);
        let mut deadline = pin!(sleeper.sleep(max_wait));
        loop {
            // Listen first, then look: a release between the two wakes this listener.
            let mut listener = self.released.listen();
            if self.take() {
                self.admitted_after_wait.fetch_add(1, Ordering::Relaxed);
                return Ok(BulkheadGuard { bulkhead: self });
            }
            let timed_out = std::future::poll_fn(|cx| {
                if std::pin::Pin::new(&mut listener).poll(cx).is_ready() {
                    Poll::Ready(false)
                } else if deadline.as_mut().poll(cx).is_ready() {
                    Poll::Ready(true)
                } else {
                    Poll::Pending
                }
            })
            .await;
            if timed_out {
                // One last look: a slot may have freed as the deadline passed.
                if self.take() {
                    self.admitted_after_wait.fetch_add(1, Ordering::Relaxed);
                    return Ok(BulkheadGuard { bulkhead: self });
                }
                self.wait_timeouts.fetch_add(1, Ordering::Relaxed);
                return Err(BulkheadFull { limit: self.limit });
            }
        }
    }

    /// A reading of the figures.
    pub fn metrics(&self) -> BulkheadMetrics {
        BulkheadMetrics {
            limit: self.limit,
            in_flight: self.hot.in_flight.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            wait_timeouts: self.wait_timeouts.load(Ordering::Relaxed),
            admitted_after_wait: self.admitted_after_wait.load(Ordering::Relaxed),
        }
    }

    /// One `fetch_add` and a compare; over the limit, the increment is taken back.
    #[inline]
    fn take(&self) -> bool {
        // ordering: SeqCst. It acquires what the slot's previous holder did before its
        // release, and it orders against `give` for waking: a waiter counts itself in
        // `waiters`, then takes (SeqCst); a release gives (SeqCst), then reads `waiters`
        // (SeqCst). In the single order of SeqCst operations either the take comes after
        // the give and sees the slot, or the waiter's count comes before the read and the
        // release notifies. On x86 a SeqCst RMW is the same `lock xadd` as an Acquire
        // one and a SeqCst load a plain load.
        let before = self.hot.in_flight.fetch_add(1, Ordering::SeqCst);
        if before < self.limit {
            return true;
        }
        let before_undo = self.hot.in_flight.fetch_sub(1, Ordering::SeqCst);
        if before_undo <= self.limit && self.hot.waiters.load(Ordering::SeqCst) != 0 {
            // A real slot freed while our increment stood; a waiter woken by that release
            // may have looked during that instant and gone back to sleep: wake one.
            self.released.notify_additional(1);
        }
        false
    }

    #[inline]
    fn give(&self) {
        self.hot.in_flight.fetch_sub(1, Ordering::SeqCst);
        // ordering: SeqCst, see `take`.
        if self.hot.waiters.load(Ordering::SeqCst) != 0 {
            self.released.notify_additional(1);
        }
    }
}

/// Counts one async caller in `waiters` while it lives (a dropped wait included).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(waiters: &'a AtomicUsize) -> Self {
        waiters.fetch_add(1, Ordering::SeqCst);
        Waiting(waiters)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A slot in a [`Bulkhead`], released when dropped.
#[must_use = "the slot is released when the guard is dropped"]
#[derive(Debug)]
pub struct BulkheadGuard<'a> {
    bulkhead: &'a Bulkhead,
}

impl Drop for BulkheadGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.bulkhead.give();
    }
}

/// A slot in an `Arc<Bulkhead>`, released when dropped.
#[must_use = "the slot is released when the guard is dropped"]
#[derive(Debug)]
pub struct OwnedBulkheadGuard {
    bulkhead: Arc<Bulkhead>,
}

impl Drop for OwnedBulkheadGuard {
    #[inline]
    fn drop(&mut self) {
        self.bulkhead.give();
    }
}
