//! The atomics the engine uses, imported from one place.
//!
//! Under `RUSTFLAGS="--cfg loom"` every atomic comes from [loom] so that the model
//! checker can explore the interleavings of the lock-free parts, as crossbeam does.
//! Nothing else in the crate names `std::sync::atomic` directly; [`unmodelled`] names
//! the one exception.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

/// Atomics that loom does not model, even under `--cfg loom`: for values that are each
/// read on their own with `Relaxed`, where any mix of old and new values is valid and
/// no other memory is published through them (the breaker's copies of its options).
/// Modelling them adds no behaviour a model could catch, and every store would be one
/// more preemption point: with the trip rules copied there, the reconfiguration model
/// grew from seconds to 40 minutes.
pub(crate) mod unmodelled {
    pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64};
}

/// A pause in a spin loop; under loom, a yield, so the model checker lets the thread
/// being waited for run.
#[cfg(not(loom))]
pub(crate) use std::hint::spin_loop;

/// A pause in a spin loop; under loom, a yield, so the model checker lets the thread
/// being waited for run.
#[cfg(loom)]
pub(crate) fn spin_loop() {
    loom::thread::yield_now();
}

/// Index of the calling thread's counter stripe, in `0..STRIPES`.
///
/// Threads are numbered in the order they first record, so up to `STRIPES` threads
/// never share a stripe. Under loom every thread uses stripe 0, which makes the
/// models exercise the contended case.
#[cfg(not(loom))]
#[inline]
pub(crate) fn stripe_index() -> usize {
    use std::cell::Cell;
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|s| {
        let v = s.get();
        if v != usize::MAX {
            return v;
        }
        // ordering: Relaxed, the counter only hands out distinct numbers.
        let v = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % STRIPES;
        s.set(v);
        v
    })
}

#[cfg(loom)]
#[inline]
pub(crate) fn stripe_index() -> usize {
    0
}

/// Number of counter stripes in a time-based window.
///
/// Two threads recording on one breaker land on different stripes (different cache
/// lines), so they do not bounce a line between cores on every record.
pub(crate) const STRIPES: usize = 4;
