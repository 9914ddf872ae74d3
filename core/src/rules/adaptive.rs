//! Adaptive failure-rate threshold: the threshold the failure-rate rule uses follows
//! recent volume and streaks — stricter under high
//! traffic or a failure streak, more lenient under low traffic or after a long run of
//! successes — and stays within configured bounds.
//!
//! Evaluated only when the rules are (on a failure, or when a success may change the
//! verdict), never on admission.

use serde::{Deserialize, Serialize};

/// How the failure-rate threshold adapts. Each condition that holds multiplies the
/// configured threshold by its factor; the result is clamped to `[min, max]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaptiveThreshold {
    /// Calls in the window at or above which traffic counts as high.
    pub high_volume: u64,
    /// Factor under high traffic (below 1: stricter).
    pub high_volume_factor: f64,
    /// Calls in the window at or below which traffic counts as low.
    pub low_volume: u64,
    /// Factor under low traffic (above 1: more lenient).
    pub low_volume_factor: f64,
    /// Successes in a row (before the current outcome) that count as a success streak.
    pub success_streak: u64,
    /// Factor after a success streak.
    pub success_streak_factor: f64,
    /// Failures in a row that count as a failure streak.
    pub failure_streak: u32,
    /// Factor during a failure streak.
    pub failure_streak_factor: f64,
    /// Lowest effective threshold.
    pub min: f64,
    /// Highest effective threshold.
    pub max: f64,
}

impl Default for AdaptiveThreshold {
    /// The default numbers: 0.8x above 1000 calls, 1.2x below 100, 1.1x after
    /// 50 successes in a row, 0.9x after 10 failures in a row.
    fn default() -> Self {
        AdaptiveThreshold {
            high_volume: 1000,
            high_volume_factor: 0.8,
            low_volume: 100,
            low_volume_factor: 1.2,
            success_streak: 50,
            success_streak_factor: 1.1,
            failure_streak: 10,
            failure_streak_factor: 0.9,
            min: 0.05,
            max: 1.0,
        }
    }
}

/// What the threshold adapts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Signals {
    /// Calls in the window.
    pub(crate) volume: u64,
    /// Successes in a row before the current outcome.
    pub(crate) success_streak: u64,
    /// Failures in a row, the current outcome included.
    pub(crate) failure_streak: u32,
}

impl AdaptiveThreshold {
    /// The threshold the failure-rate rule uses instead of `base`.
    pub(crate) fn effective(&self, base: f64, s: Signals) -> f64 {
        let mut t = base;
        if s.volume >= self.high_volume {
            t *= self.high_volume_factor;
        } else if s.volume <= self.low_volume {
            t *= self.low_volume_factor;
        }
        if s.success_streak >= self.success_streak {
            t *= self.success_streak_factor;
        }
        if s.failure_streak >= self.failure_streak {
            t *= self.failure_streak_factor;
        }
        t.clamp(self.min, self.max)
    }

    pub(crate) fn validate(&self, v: &mut impl FnMut(String, String, String)) {
        let factors = [
            ("high_volume_factor", self.high_volume_factor),
            ("low_volume_factor", self.low_volume_factor),
            ("success_streak_factor", self.success_streak_factor),
            ("failure_streak_factor", self.failure_streak_factor),
        ];
        for (name, f) in factors {
            if !(f > 0.0 && f <= 10.0) {
                v(
                    format!("adaptive_threshold.{name}"),
                    f.to_string(),
                    "0.0 < f <= 10.0".into(),
                );
            }
        }
        if self.low_volume > self.high_volume {
            v(
                "adaptive_threshold.low_volume".into(),
                self.low_volume.to_string(),
                format!(
                    "at most adaptive_threshold.high_volume ({})",
                    self.high_volume
                ),
            );
        }
        if !(0.0..=1.0).contains(&self.min) {
            v(
                "adaptive_threshold.min".into(),
                self.min.to_string(),
                "0.0..=1.0".into(),
            );
        }
        if !(self.min..=1.0).contains(&self.max) {
            v(
                "adaptive_threshold.max".into(),
                self.max.to_string(),
                format!("adaptive_threshold.min ({})..=1.0", self.min),
            );
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn follows_volume_and_streaks_within_bounds() {
        let a = AdaptiveThreshold::default();
        let s = |volume, success_streak, failure_streak| Signals {
            volume,
            success_streak,
            failure_streak,
        };
        assert_eq!(a.effective(0.5, s(500, 0, 1)), 0.5);
        assert!((a.effective(0.5, s(5000, 0, 1)) - 0.4).abs() < 1e-12);
        assert!((a.effective(0.5, s(50, 0, 1)) - 0.6).abs() < 1e-12);
        assert!((a.effective(0.5, s(500, 60, 1)) - 0.55).abs() < 1e-12);
        assert!((a.effective(0.5, s(5000, 0, 12)) - 0.36).abs() < 1e-12);
        assert_eq!(a.effective(0.9, s(50, 60, 0)), 1.0, "clamped to max");
        assert_eq!(a.effective(0.01, s(5000, 0, 20)), 0.05, "clamped to min");
    }
}
