//! Why the breaker last opened, as rejections read it: a [`Reason`] kept in three
//! words behind a sequence lock.
//!
//! Written on each opening (cold), read by each rejection (hot during an outage, on
//! every core at once). Readers never write, so the line stays shared; a reader that
//! races a writer retries once and, losing again, reports no reason: reading stays
//! wait-free, as admission must be. The protocol is the one of the window's geometry
//! (`window/geometry.rs` explains it), with one copy instead of two: a writer makes
//! the version odd (a compare-and-swap, which also keeps writers apart), fences,
//! writes the words and publishes an even version with `Release`; a reader loads the version (`Acquire`), the words, fences (`Acquire`)
//! and loads the version again, and keeps the words only if it is the same even
//! number.

use crate::events::Reason;
use crate::sync::{fence, spin_loop, AtomicU64, Ordering};
use std::time::Duration;

/// The last opening's reason (none before the first). Four words: it fills the
/// timeline's last line.
pub(super) struct OpenedBy {
    /// Even when stable; odd while a writer writes.
    version: AtomicU64,
    /// The reason, encoded by [`encode`].
    words: [AtomicU64; 3],
}

impl OpenedBy {
    pub(super) fn new() -> Self {
        OpenedBy {
            version: AtomicU64::new(0),
            words: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
        }
    }

    /// Records why the breaker opened.
    pub(super) fn set(&self, reason: Reason) {
        // Writers take turns by making the version odd (openings are rare and a write
        // is a few stores, so a writer that finds another spins briefly).
        // ordering: Relaxed load; the swap below decides.
        let mut v = self.version.load(Ordering::Relaxed);
        loop {
            if v & 1 == 1 {
                spin_loop();
                // ordering: Relaxed, as above.
                v = self.version.load(Ordering::Relaxed);
                continue;
            }
            // ordering: Acquire on success, after the previous writer's Release store;
            // then a Release fence: a reader that sees any word below also sees the
            // odd version (it fences with Acquire after its reads).
            match self.version.compare_exchange_weak(
                v,
                v.wrapping_add(1),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => v = actual,
            }
        }
        fence(Ordering::Release);
        for (word, value) in self.words.iter().zip(encode(reason)) {
            // ordering: Relaxed, published by the version's Release store.
            word.store(value, Ordering::Relaxed);
        }
        // ordering: Release, publishes the words.
        self.version.store(v.wrapping_add(2), Ordering::Release);
    }

    /// Why the breaker last opened; `None` before the first opening, or when two
    /// attempts both raced an opening (the rejection then carries no reason).
    #[inline]
    pub(super) fn get(&self) -> Option<Reason> {
        for _ in 0..2 {
            // ordering: Acquire, pairs with the writer's Release store.
            let before = self.version.load(Ordering::Acquire);
            if before & 1 == 0 {
                // ordering: Relaxed loads, checked by the version around them.
                let words = [
                    self.words[0].load(Ordering::Relaxed),
                    self.words[1].load(Ordering::Relaxed),
                    self.words[2].load(Ordering::Relaxed),
                ];
                // ordering: Acquire fence, so the version read next is at least the
                // one of any writer whose words were read.
                fence(Ordering::Acquire);
                if self.version.load(Ordering::Relaxed) == before {
                    return decode(words);
                }
            }
        }
        None
    }
}

/// Tag 0 is "none"; tag `code + 1` is the reason with that code.
fn encode(reason: Reason) -> [u64; 3] {
    let tag = reason.code() as u64 + 1;
    match reason {
        Reason::FailureRate { rate, threshold } | Reason::SlowCallRate { rate, threshold } => {
            [tag, rate.to_bits(), threshold.to_bits()]
        }
        Reason::ConsecutiveFailures { count, limit } => [tag, count as u64, limit as u64],
        Reason::LatencyPercentile { quantile, limit } => [
            tag | (u64::from(limit.subsec_nanos()) << 32),
            quantile.to_bits(),
            limit.as_secs(),
        ],
        Reason::ProbesSucceeded { successes } => [tag, successes as u64, 0],
        Reason::OpenElapsed
        | Reason::ProbeFailed
        | Reason::ProbeLeaseExpired
        | Reason::Manual
        | Reason::ManualOpen
        | Reason::ManualHalfOpen
        | Reason::ManualClose => [tag, 0, 0],
    }
}

fn decode([tag, a, b]: [u64; 3]) -> Option<Reason> {
    Some(match tag as u32 {
        0 => return None,
        1 => Reason::FailureRate {
            rate: f64::from_bits(a),
            threshold: f64::from_bits(b),
        },
        2 => Reason::SlowCallRate {
            rate: f64::from_bits(a),
            threshold: f64::from_bits(b),
        },
        3 => Reason::ConsecutiveFailures {
            count: a as u32,
            limit: b as u32,
        },
        4 => Reason::LatencyPercentile {
            quantile: f64::from_bits(a),
            limit: Duration::new(b, (tag >> 32) as u32),
        },
        5 => Reason::OpenElapsed,
        6 => Reason::ProbesSucceeded {
            successes: a as u32,
        },
        7 => Reason::ProbeFailed,
        8 => Reason::ProbeLeaseExpired,
        9 => Reason::Manual,
        10 => Reason::ManualOpen,
        11 => Reason::ManualHalfOpen,
        12 => Reason::ManualClose,
        _ => return None,
    })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_as_written() {
        let cell = OpenedBy::new();
        assert_eq!(cell.get(), None);
        let reasons = Reason::examples();
        for reason in reasons {
            cell.set(reason);
            assert_eq!(cell.get(), Some(reason));
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// Two openings write at once while a rejection reads: the writers take turns (the
    /// cell ends holding one of them whole) and the reader sees the old reason, one of
    /// the new ones, or none; never a mix.
    #[test]
    fn racing_writers_take_turns_and_a_reader_never_sees_a_mix() {
        let old = Reason::ConsecutiveFailures { count: 3, limit: 3 };
        let a = Reason::FailureRate {
            rate: 0.75,
            threshold: 0.5,
        };
        let b = Reason::ProbesSucceeded { successes: 9 };
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(move || {
            let cell = Arc::new(OpenedBy::new());
            cell.set(old);
            let (c1, c2) = (cell.clone(), cell.clone());
            let t1 = thread::spawn(move || c1.set(a));
            let t2 = thread::spawn(move || c2.get());
            cell.set(b);
            t1.join().unwrap();
            let seen = t2.join().unwrap();
            assert!(
                [None, Some(old), Some(a), Some(b)].contains(&seen),
                "{seen:?}"
            );
            assert!([Some(a), Some(b)].contains(&cell.get()));
        });
    }
}
