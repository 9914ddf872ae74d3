//! Epoch-tagged striped counters: how a count lands in exactly one epoch without a lock.
//!
//! A counter is one `AtomicU64` holding both the epoch it counts for (a 28-bit tag) and
//! its value (36 bits). Adding to it:
//!
//! - current tag: `fetch_add` the value (one RMW, the common case), or, on a stripe the
//!   caller owns (its only writer, `crate::sync::TotalsStripe::window`), a plain load
//!   and store;
//! - older tag: the slot is being reused for a new epoch, so compare-and-swap the whole
//!   word to `(new tag, delta)` (an owner stores it). The one thread whose swap wins
//!   *folds* the old value into a lifetime accumulator; a loser retries and then adds.
//!   No lock, and no count is lost: each lands in exactly one epoch, or in the
//!   accumulator once its epoch has left the window;
//! - newer tag (this thread read the clock a moment before another): add to it.
//!
//! Tags wrap after 2^28 epochs; a slot left untouched for exactly a multiple of that
//! (74 hours at the smallest allowed bucket width of 1 ms, 8.5 years at 1 s) would be
//! read as current until its next write. Likewise a stripe no thread has counted in yet (its
//! counters still 0, tag 0) while the epochs pass through the last 2^12 before a wrap
//! to tag 0: its first count there adds without opening an epoch, so the stripe is not
//! marked used and sums skip it until its next epoch. Values wrap into the tag after 2^36 (68
//! billion) calls per bucket per stripe; weighted failures count in hundredths.

use super::{Delta, EpochMap, Window};
use crate::sync::{AtomicU64, Ordering, TotalsStripe, WindowStripe};

pub(super) const TAG_BITS: u32 = 28;
pub(super) const VALUE_BITS: u32 = 64 - TAG_BITS;
pub(super) const VALUE_MASK: u64 = (1 << VALUE_BITS) - 1;
pub(super) const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
/// How far ahead (in epochs) a tag may be and still count as newer than the writer's
/// epoch rather than stale: clock reads of racing threads differ by far less.
pub(super) const NEWER_BY: u64 = 1 << 12;

/// The value of counter word `word` if it carries epoch `epoch`'s tag (else it counts
/// another epoch).
#[inline(always)]
pub(super) fn value_in(word: u64, epoch: u64) -> Option<u64> {
    (word >> VALUE_BITS == epoch & TAG_MASK).then_some(word & VALUE_MASK)
}

/// Counters per slot and stripe.
pub(super) const CALLS: usize = 0;
pub(super) const WEIGHTED_FAILURES: usize = 1;
pub(super) const SLOW: usize = 2;
pub(super) const OVER_LIMIT: usize = 3;
/// Counter kinds with latency tracking; without it only calls and weighted failures
/// exist (slow and over-limit need a latency).
pub(super) const COUNTERS: usize = 4;
pub(super) const COUNTERS_UNTIMED: usize = 2;
pub(super) const CHUNK: usize = 16;

impl Window {
    /// Whether ring slots keep counter kind `which`.
    #[inline]
    pub(super) fn keeps(&self, which: usize) -> bool {
        (self.first as usize..self.end as usize).contains(&which)
    }

    /// Counter `which` (a kind the slots keep) of ring slot `epoch & slot_mask` in
    /// `stripe`.
    #[inline]
    pub(super) fn counter(&self, stripe: usize, epoch: u64, which: usize) -> &AtomicU64 {
        debug_assert!(self.keeps(which));
        let i = (self.slot_index(stripe, epoch) * self.per_slot) + which - self.first as usize;
        &self.chunks[i / CHUNK][i % CHUNK]
    }

    /// The call counter of ring slot `epoch & slot_mask` in `stripe`: kept only by a
    /// window built time-based, where it comes first in the slot.
    #[inline]
    pub(super) fn calls_counter(&self, stripe: usize, epoch: u64) -> &AtomicU64 {
        debug_assert!(self.keeps(CALLS) && CALLS == 0);
        let i = self.slot_index(stripe, epoch) * self.per_slot;
        &self.chunks[i / CHUNK][i % CHUNK]
    }

    #[inline]
    pub(super) fn slot_index(&self, stripe: usize, epoch: u64) -> usize {
        (stripe << self.slot_shift) + (epoch & self.slot_mask) as usize
    }

    /// The stripe of the calling thread, whose lifetime-counter stripe is `thread` (see
    /// [`TotalsStripe::window`]); a window built count-based has one stripe, shared.
    #[inline]
    pub(super) fn my_stripe(&self, thread: TotalsStripe) -> WindowStripe {
        if self.stripe_mask == 0 {
            return WindowStripe {
                index: 0,
                owned: false,
            };
        }
        let stripe = thread.window();
        debug_assert!(stripe.index <= self.stripe_mask);
        stripe
    }

    pub(super) fn stripes(&self) -> usize {
        self.stripe_mask + 1
    }

    /// Adds `delta`, and in a time window the call itself, to epoch `epoch` (of
    /// geometry `geo`) in the caller's `stripe`; returns whether that opened the epoch
    /// there.
    #[inline]
    pub(super) fn add_counts(
        &self,
        geo: &EpochMap,
        epoch: u64,
        delta: Delta,
        stripe: WindowStripe,
    ) -> bool {
        let time = geo.time;
        if delta.weighted_failures > 0 || delta.slow || delta.over_limit {
            // ordering: Relaxed, hints (see `Recorded::may_trip`). Load first: within
            // one epoch only the first unhealthy record writes, so the line stays
            // shared.
            let mark = epoch.saturating_add(1);
            if self.last_unhealthy.load(Ordering::Relaxed) < mark {
                self.last_unhealthy.fetch_max(mark, Ordering::Relaxed);
            }
            if !time {
                let leaves = geo.first_call_without(epoch, self.capacity);
                if self.healthy_from.load(Ordering::Relaxed) < leaves {
                    self.healthy_from.fetch_max(leaves, Ordering::Relaxed);
                }
            }
        }
        let tag = epoch & TAG_MASK;
        let rotated = time && self.add_call(epoch, stripe);
        let i = stripe.index;
        if delta.weighted_failures > 0 {
            let counter = self.counter(i, epoch, WEIGHTED_FAILURES);
            self.add(counter, stripe, tag, delta.weighted_failures, None);
        }
        if delta.slow && self.keeps(SLOW) {
            self.add(self.counter(i, epoch, SLOW), stripe, tag, 1, Some(SLOW));
        }
        if delta.over_limit && self.keeps(OVER_LIMIT) {
            self.add(self.counter(i, epoch, OVER_LIMIT), stripe, tag, 1, None);
        }
        rotated
    }

    /// Counts one call in epoch `epoch` of a time window, in `stripe`; returns whether
    /// that opened the epoch there.
    #[inline(always)]
    pub(super) fn add_call(&self, epoch: u64, stripe: WindowStripe) -> bool {
        let counter = self.calls_counter(stripe.index, epoch);
        self.add(counter, stripe, epoch & TAG_MASK, 1, Some(CALLS))
    }

    /// Adds `delta` to `counter`, in the caller's `stripe`, for epoch `tag`; returns
    /// whether it rotated the counter. A rotation marks the stripe used
    /// (`stripes_used`).
    #[inline]
    pub(super) fn add(
        &self,
        counter: &AtomicU64,
        stripe: WindowStripe,
        tag: u64,
        delta: u64,
        fold: Option<usize>,
    ) -> bool {
        // ordering: Relaxed throughout. A counter publishes nothing but its own value,
        // and each word carries its epoch with it, so no other memory needs ordering.
        let mut word = counter.load(Ordering::Relaxed);
        loop {
            let have = word >> VALUE_BITS;
            let ahead = have.wrapping_sub(tag) & TAG_MASK;
            if ahead < NEWER_BY {
                // Current epoch (0), or a slightly newer one that a thread whose clock
                // read came a moment later already opened (an owner's own earlier
                // precise read, on an owned stripe). Anything else is stale, however
                // far the wrapped tags say it is.
                if stripe.owned {
                    // The stripe's only writer: a plain load and store lose nothing,
                    // and a reader sees the old word or the new (`TotalsStripe::window`).
                    counter.store(word.wrapping_add(delta), Ordering::Relaxed);
                } else {
                    counter.fetch_add(delta, Ordering::Relaxed);
                }
                return false;
            }
            let opened = (tag << VALUE_BITS) | delta;
            if stripe.owned {
                counter.store(opened, Ordering::Relaxed);
            } else if let Err(actual) =
                counter.compare_exchange_weak(word, opened, Ordering::Relaxed, Ordering::Relaxed)
            {
                word = actual;
                continue;
            }
            self.mark_used(stripe.index);
            if let Some(f) = fold {
                let old = word & VALUE_MASK;
                if old > 0 {
                    self.folded[if f == CALLS { 0 } else { 1 }].fetch_add(old, Ordering::Relaxed);
                }
            }
            return true;
        }
    }

    /// Marks stripe `index` as holding counts, for sums (`stripes_used`). Every count
    /// reaches a stripe first by opening an epoch there: counters start at tag 0, and
    /// epochs at 1.
    #[inline(always)]
    fn mark_used(&self, index: usize) {
        let bit = 1u64 << index;
        // ordering: Relaxed, as the counters' (see `Window::sums`). Load first: the bit
        // is set once for life, and the line stays shared.
        if self.stripes_used.load(Ordering::Relaxed) & bit == 0 {
            self.stripes_used.fetch_or(bit, Ordering::Relaxed);
        }
    }

    /// Lifetime calls and slow calls: folded values plus every counter, plus the
    /// calls numbered while the window was count-based.
    pub(crate) fn lifetime(&self) -> (u64, u64) {
        let mut calls =
            self.folded[0].load(Ordering::Relaxed) + self.cursor.load(Ordering::Relaxed);
        let mut slow = self.folded[1].load(Ordering::Relaxed);
        let (keeps_calls, keeps_slow) = (self.keeps(CALLS), self.keeps(SLOW));
        for stripe in 0..self.stripes() {
            for slot in 0..=self.slot_mask {
                if keeps_calls {
                    calls += self.calls_counter(stripe, slot).load(Ordering::Relaxed) & VALUE_MASK;
                }
                if keeps_slow {
                    slow += self.counter(stripe, slot, SLOW).load(Ordering::Relaxed) & VALUE_MASK;
                }
            }
        }
        (calls, slow)
    }
}
