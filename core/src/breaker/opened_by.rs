//! Why the breaker last opened, as rejections read it: a [`Reason`] kept in three
//! words behind a sequence lock.
//!
//! Written on each opening (cold), read by each rejection (hot during an outage, on
//! every core at once). Readers never write, so the line stays shared; a reader that
//! races a writer retries once and, losing again, reports no reason: reading stays
//! wait-free, as admission must be. The protocol is the one of the window's geometry
//! (`window/geometry.rs` explains it), with one copy instead of two: a writer makes
//! the version odd, fences, writes the words and publishes an even version with
//! `Release`; a reader loads the version (`Acquire`), the words, fences (`Acquire`)
//! and loads the version again, and keeps the words only if it is the same even
//! number.

use crate::events::Reason;
use crate::sync::{fence, AtomicU64, Ordering};
use std::time::Duration;

/// The last opening's reason (none before the first).
pub(super) struct OpenedBy {
    /// Even when stable; odd while a writer writes.
    version: AtomicU64,
    /// The reason, encoded by [`encode`].
    words: [AtomicU64; 3],
    /// Serialises writers (openings; cold).
    writer: parking_lot::Mutex<()>,
}

impl OpenedBy {
    pub(super) fn new() -> Self {
        OpenedBy {
            version: AtomicU64::new(0),
            words: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            writer: parking_lot::Mutex::new(()),
        }
    }

    /// Records why the breaker opened.
    pub(super) fn set(&self, reason: Reason) {
        let _writer = self.writer.lock();
        // ordering: Relaxed, writers are serialised by the mutex.
        let v = self.version.load(Ordering::Relaxed);
        // ordering: Relaxed store, then a Release fence: a reader that sees any word
        // below also sees the odd version (it fences with Acquire after its reads).
        self.version.store(v.wrapping_add(1), Ordering::Relaxed);
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
