//! How long an opening lasts: exponential backoff over consecutive re-trips, decay
//! after a healthy period, and jitter. Cold path: used once per opening, under the
//! breaker's recovery lock.

use crate::config::OpenConfig;

/// Backoff memory of one breaker.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    /// Level of the last opening; the next one lasts `base * multiplier^level`.
    level: u32,
    opened_before: bool,
    /// When the breaker last closed (ns).
    closed_at: u64,
    rng: u64,
}

impl Backoff {
    pub(crate) fn new(seed: u64) -> Backoff {
        Backoff {
            level: 0,
            opened_before: false,
            closed_at: 0,
            // xorshift must not start at zero.
            rng: seed ^ 0x9E37_79B9_7F4A_7C15 | 1,
        }
    }

    /// The level the next opening would use.
    pub(crate) fn level(&self) -> u32 {
        self.level
    }

    /// The breaker closed at `now`.
    pub(crate) fn closed(&mut self, now: u64) {
        self.closed_at = now;
    }

    /// Forget every re-trip (a reset).
    pub(crate) fn reset(&mut self, now: u64) {
        self.level = 0;
        self.opened_before = false;
        self.closed_at = now;
    }

    /// Open duration in ns for an opening at `now`. `retrip` is a failed probe (the
    /// breaker never closed in between).
    pub(crate) fn next_open(&mut self, open: &OpenConfig, now: u64, retrip: bool) -> u64 {
        self.level = if !self.opened_before {
            0
        } else if retrip {
            self.level.saturating_add(1)
        } else {
            let healthy = now.saturating_sub(self.closed_at);
            let decay = open.decay_after.as_nanos().max(1) as u64;
            let steps = (healthy / decay).min(u32::MAX as u64) as u32;
            self.level.saturating_add(1).saturating_sub(steps)
        };
        self.opened_before = true;
        let base = open.duration.as_nanos() as f64;
        let cap = open.max_duration.as_nanos() as f64;
        let grown = (base * open.multiplier.powi(self.level.min(1024) as i32)).min(cap);
        let jitter = if open.jitter > 0.0 {
            grown * open.jitter * self.uniform()
        } else {
            0.0
        };
        (grown + jitter) as u64
    }

    /// [`next_open`](Backoff::next_open), but never shorter than `min_open` ns.
    pub(crate) fn next_open_at_least(
        &mut self,
        open: &OpenConfig,
        now: u64,
        retrip: bool,
        min_open: u64,
    ) -> u64 {
        self.next_open(open, now, retrip).max(min_open)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    const S: u64 = 1_000_000_000;

    fn open(mult: f64, jitter: f64) -> OpenConfig {
        OpenConfig {
            duration: Duration::from_secs(10),
            multiplier: mult,
            max_duration: Duration::from_secs(60),
            jitter,
            decay_after: Duration::from_secs(100),
        }
    }

    #[test]
    fn grows_on_retrips_caps_and_decays() {
        let o = open(2.0, 0.0);
        let mut b = Backoff::new(1);
        assert_eq!(b.next_open(&o, 0, false), 10 * S);
        assert_eq!(b.next_open(&o, 10 * S, true), 20 * S);
        assert_eq!(b.next_open(&o, 30 * S, true), 40 * S);
        assert_eq!(b.next_open(&o, 70 * S, true), 60 * S); // capped
                                                           // Closed, then tripped again soon: flapping keeps growing.
        b.closed(200 * S);
        assert_eq!(b.next_open(&o, 210 * S, false), 60 * S);
        assert_eq!(b.level(), 4);
        // Closed for 350 s = 3 decay steps: level 4 + 1 - 3 = 2.
        b.closed(300 * S);
        assert_eq!(b.next_open(&o, 650 * S, false), 40 * S);
        b.reset(700 * S);
        assert_eq!(b.next_open(&o, 701 * S, false), 10 * S);
    }

    #[test]
    fn jitter_adds_at_most_the_fraction_and_is_seeded() {
        let o = open(1.0, 0.5);
        let mut a = Backoff::new(42);
        let mut b = Backoff::new(42);
        for _ in 0..100 {
            let d = a.next_open(&o, 0, true);
            assert!((10 * S..15 * S).contains(&d));
            assert_eq!(d, b.next_open(&o, 0, true));
        }
    }
}
