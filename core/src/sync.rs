//! The atomics the engine uses, imported from one place.
//!
//! Under `RUSTFLAGS="--cfg loom"` every atomic comes from `loom` so that the model
//! checker can explore the interleavings of the lock-free parts, as crossbeam does.
//! Nothing else in the crate names `std::sync::atomic` directly; [`unmodelled`] names
//! the one exception.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

/// Atomics that loom does not model, even under `--cfg loom`: for values that are each
/// read on their own with `Relaxed`, where any mix of old and new values is valid and
/// no other memory is published through them (the breaker's copies of its options).
/// Modelling them adds no behaviour a model could catch, and every store would be one
/// more preemption point: with the trip rules copied there, the reconfiguration model
/// grew from seconds to 40 minutes.
/// The system clock's process-wide cached time (`clock.rs`) is one too: a `static`,
/// which loom's atomics cannot be.
pub(crate) mod unmodelled {
    pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64};
}

/// Adds to a counter of which the caller is the only writer (the owner of its
/// stripe, [`TotalsStripe`]): a plain load and store, not an RMW. Nothing is lost,
/// and a reader, who only loads, sees the old value or the new.
pub(crate) trait OwnerAdd {
    /// The counter's value type.
    type Value;
    /// Adds `delta`, wrapping. Only the counter's one writer may call it.
    fn owner_add(&self, delta: Self::Value);
}

/// `OwnerAdd` for atomic counter types, each with its value type.
macro_rules! owner_add {
    ($($atomic:ty => $value:ty),*) => {$(
        impl OwnerAdd for $atomic {
            type Value = $value;
            #[inline(always)]
            fn owner_add(&self, delta: $value) {
                // ordering: Relaxed, the caller is the only writer (see the trait's doc).
                self.store(
                    self.load(Ordering::Relaxed).wrapping_add(delta),
                    Ordering::Relaxed,
                );
            }
        }
    )*};
}
owner_add!(AtomicU64 => u64, AtomicU32 => u32);

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

/// A number in `0..STRIPES` for the calling thread: which of the shared lifetime-counter
/// stripes it adds to when it owns none (see [`totals_stripe`]).
///
/// Threads are numbered in the order they first ask, so the threads beyond the owners
/// spread evenly. Under loom every thread gets 0.
#[cfg(not(loom))]
#[inline]
pub(crate) fn stripe_index() -> usize {
    use std::cell::Cell;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|s| {
        let v = s.get();
        if v != usize::MAX {
            return v;
        }
        // ordering: Relaxed, the counter only hands out distinct numbers.
        let v = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
        s.set(v);
        v
    })
}

#[cfg(loom)]
#[inline]
pub(crate) fn stripe_index() -> usize {
    0
}

/// Stripes of the breaker's lifetime counters: the first [`OWNED_STRIPES`] each
/// belong to at most one live thread; the other [`STRIPES`] are shared by the threads
/// beyond those, spread over them by [`stripe_index`].
pub(crate) const TOTALS_STRIPES: usize = OWNED_STRIPES + STRIPES;

/// Lifetime-counter stripes that a thread can own (see [`totals_stripe`]): as many as
/// a window has stripes to own ([`TotalsStripe::window`]). An owned stripe takes two
/// cache lines (it counts failures by kind too), so a fourth would take the breaker
/// past its 4 KiB budget.
pub(crate) const OWNED_STRIPES: usize = 3;

/// The calling thread's stripe of the lifetime counters, and whether the thread owns
/// it.
///
/// An RMW (`lock xadd` on x86) costs about 5.5 ns, a quarter of a rejection
/// (BENCHMARKS.md, "Where the time goes": "the lifetime counters' locked adds"). A
/// stripe that only one thread ever writes needs none: its owner adds with a plain
/// load and store, and readers, who only load, see every value whole. So the first
/// [`OWNED_STRIPES`] threads to count each claim a stripe of their own, released when
/// the thread exits; later threads, while all are claimed, share the other stripes by
/// RMW, as every thread did before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TotalsStripe {
    /// In `0..TOTALS_STRIPES`.
    pub(crate) index: usize,
    /// Whether this thread is the stripe's only writer.
    pub(crate) owned: bool,
}

/// Which of the [`OWNED_STRIPES`] stripes belong to a live thread: bit `i` set, stripe
/// `i` has an owner.
///
/// The hand-over is what makes an owner's plain adds safe: a thread gives its stripe
/// back with `Release` after its last store, and the next owner claims it with
/// `Acquire`, so its first load sees that store (the loom model
/// `an_owned_stripe_handed_over_loses_no_add`).
#[cfg_attr(loom, allow(dead_code))]
pub(crate) struct StripeClaims {
    claimed: AtomicUsize,
}

#[cfg_attr(loom, allow(dead_code))]
impl StripeClaims {
    /// No stripe claimed (for the models; the process-wide claims are a `static`).
    #[cfg(all(test, loom))]
    pub(crate) fn new() -> StripeClaims {
        StripeClaims {
            claimed: AtomicUsize::new(0),
        }
    }

    /// Claims a stripe no live thread owns, or `None` while all have owners.
    pub(crate) fn claim(&self) -> Option<usize> {
        // ordering: Relaxed, only a guess at a free bit: the claim is the exchange.
        let mut claimed = self.claimed.load(Ordering::Relaxed);
        loop {
            let index = (!claimed).trailing_zeros() as usize;
            if index >= OWNED_STRIPES {
                return None;
            }
            // ordering: Acquire on success pairs with the Release of `release`: the
            // new owner's first load of the stripe sees the last owner's last store.
            // Relaxed on failure: nothing is claimed, the loop only retries.
            match self.claimed.compare_exchange_weak(
                claimed,
                claimed | 1 << index,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(index),
                Err(now) => claimed = now,
            }
        }
    }

    /// Gives back stripe `index`, claimed by this thread, after its last store to it.
    pub(crate) fn release(&self, index: usize) {
        // ordering: Release, so that the next owner's Acquire claim sees every store
        // this thread made to the stripe.
        self.claimed.fetch_and(!(1 << index), Ordering::Release);
    }
}

#[cfg(not(loom))]
mod owned_stripes {
    use super::{stripe_index, AtomicUsize, StripeClaims, TotalsStripe, OWNED_STRIPES};
    use std::cell::Cell;

    /// The process's claims: a stripe is owned across every breaker at once.
    static CLAIMS: StripeClaims = StripeClaims {
        claimed: AtomicUsize::new(0),
    };
    /// `index | OWNED` or `index`; `UNSET` before the first count. A `const` cell with
    /// no destructor, so it stays readable while the thread's other thread-locals are
    /// destroyed (a permit dropped by one of them still counts).
    const UNSET: usize = usize::MAX;
    const OWNED: usize = 1 << 8;

    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(UNSET) };
        static CLAIM: Claim = const { Claim(Cell::new(None)) };
    }

    /// Gives the thread's owned stripe back when the thread exits.
    struct Claim(Cell<Option<usize>>);

    impl Drop for Claim {
        fn drop(&mut self) {
            if let Some(index) = self.0.get() {
                // From here on the thread counts on a shared stripe, by RMW.
                STRIPE.with(|s| s.set(shared()));
                CLAIMS.release(index);
            }
        }
    }

    /// This thread's shared stripe: the one a window's counters would give it.
    fn shared() -> usize {
        OWNED_STRIPES + stripe_index()
    }

    /// A stripe of its own for this thread, or `None` if all belong to live threads or
    /// the thread is exiting (its claim could not be given back).
    fn claim() -> Option<usize> {
        let index = CLAIMS.claim()?;
        if CLAIM.try_with(|c| c.0.set(Some(index))).is_err() {
            CLAIMS.release(index);
            return None;
        }
        Some(index)
    }

    #[inline]
    pub(crate) fn totals_stripe() -> TotalsStripe {
        let mut v = STRIPE.with(Cell::get);
        if v == UNSET {
            v = first_stripe();
        }
        TotalsStripe {
            index: v & !OWNED,
            owned: v & OWNED != 0,
        }
    }

    /// The thread's stripe, claimed or assigned on its first count: out of line, so
    /// that every inlined [`totals_stripe`] stays a load and a compare.
    #[cold]
    #[inline(never)]
    fn first_stripe() -> usize {
        let v = claim().map_or_else(shared, |index| index | OWNED);
        STRIPE.with(|s| s.set(v));
        v
    }
}

#[cfg(not(loom))]
pub(crate) use owned_stripes::totals_stripe;

/// Under loom every thread shares stripe 0 by RMW: the breaker's models exercise the
/// contended case; an owned stripe's hand-over between threads has a model of its own
/// (`an_owned_stripe_handed_over_loses_no_add`).
#[cfg(loom)]
#[inline]
pub(crate) fn totals_stripe() -> TotalsStripe {
    TotalsStripe {
        index: 0,
        owned: false,
    }
}

/// Number of counter stripes in a time-based window.
///
/// Two threads recording on one breaker land on different stripes (different cache
/// lines), so they do not bounce a line between cores on every record. The first
/// `STRIPES - 1` belong to the threads that own lifetime-counter stripes `0..STRIPES - 1`
/// (see [`TotalsStripe::window`]); the last is shared by every other thread.
pub(crate) const STRIPES: usize = 4;

// A window stripe a thread owns is the lifetime-counter stripe it owns.
const _: () = assert!(STRIPES - 1 == OWNED_STRIPES);

/// The calling thread's stripe of a time window's counters, and whether the thread is
/// its only writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WindowStripe {
    /// In `0..STRIPES`.
    pub(crate) index: usize,
    /// Whether this thread is the stripe's only writer: it adds with a plain load and
    /// store instead of an RMW, as an owner of a lifetime-counter stripe does.
    pub(crate) owned: bool,
}

impl WindowStripe {
    /// The stripe every thread shares, by RMW.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) const SHARED: WindowStripe = WindowStripe {
        index: STRIPES - 1,
        owned: false,
    };
}

impl TotalsStripe {
    /// The window stripe of the thread whose lifetime-counter stripe this is: if the
    /// thread owns lifetime-counter stripe `i` (there are `STRIPES - 1` to own), window
    /// stripe `i`, owned by the same claim (so handed over the same way when the thread
    /// exits); else the shared last one. A record reads the thread's stripe once
    /// ([`totals_stripe`]: a thread-local, which through a shared library is a call)
    /// and hands it to the window and to the lifetime counters.
    ///
    /// A locked add costs 2 to 8 ns on the guests measured (BENCHMARKS.md, table
    /// *Clock reads and adds*, and *Locked instructions*), up to as much as the rest of
    /// a record; an owner pays none. The cost of the shared stripe: a fourth and later
    /// thread recording on one breaker all add to one line, where before they spread
    /// over four.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn window(self) -> WindowStripe {
        if self.owned {
            WindowStripe {
                index: self.index,
                owned: true,
            }
        } else {
            WindowStripe::SHARED
        }
    }

    /// Under loom every thread shares stripe 0 ([`stripe_index`]) by RMW, as for the
    /// lifetime counters.
    #[cfg(loom)]
    #[inline]
    pub(crate) fn window(self) -> WindowStripe {
        WindowStripe {
            index: stripe_index(),
            owned: false,
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::thread;

    /// The last stripe a thread can own, wanted by two threads at once: each waits
    /// until it can claim it, adds to its counter with a plain load and store (as an
    /// owner does), and gives it back. Neither add is lost. With the claim or the
    /// release `Relaxed`, the second owner may load the counter from before the
    /// first's store, and the model finds the lost add.
    #[test]
    fn an_owned_stripe_handed_over_loses_no_add() {
        loom::model(|| {
            let claims = Arc::new(StripeClaims::new());
            for index in 0..OWNED_STRIPES - 1 {
                assert_eq!(claims.claim(), Some(index));
            }
            let counter = Arc::new(AtomicU64::new(0));
            let add = {
                let (claims, counter) = (claims.clone(), counter.clone());
                move || {
                    let index = loop {
                        match claims.claim() {
                            Some(index) => break index,
                            None => spin_loop(),
                        }
                    };
                    assert_eq!(index, OWNED_STRIPES - 1);
                    counter.owner_add(1);
                    claims.release(index);
                }
            };
            let other = thread::spawn(add.clone());
            add();
            other.join().unwrap();
            assert_eq!(counter.load(Ordering::Relaxed), 2);
        });
    }
}
