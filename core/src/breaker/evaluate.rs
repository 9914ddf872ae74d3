//! When the rules run against the window and what a verdict does: the failure-rate
//! threshold in force (adaptive or not) and anti-thrash damping.

use super::*;

impl<C: Clock> Breaker<C> {
    /// Checks the trip rules against the window; trips if one holds. The rules come
    /// from the options; only the adaptive threshold and anti-thrash read the config.
    /// `calls_at_most` bounds the calls in the window (`Recorded::calls_at_most`).
    pub(super) fn evaluate(&self, w: Word, now: u64, consecutive: u32, calls_at_most: u64) {
        let rules = self.options.rules();
        if let Some(limit) = rules.consecutive_limit {
            if consecutive >= limit {
                let reason = Reason::ConsecutiveFailures {
                    count: consecutive,
                    limit,
                };
                self.trip_unless_damped(rules.config_rules, w, reason, now);
                return;
            }
        }
        if calls_at_most < u64::from(rules.rate.minimum_calls)
            && rules.config_rules & RULE_ADAPTIVE == 0
        {
            // Every rate rule waits for `minimum_calls`, so none can trip: the window
            // need not be read (right after each trip and recovery, the window holds
            // one epoch of one stripe). Whether a rule holds is not known, so the next
            // success looks again, as it would if one did. (The adaptive threshold is
            // evaluated all the same: its evaluation keeps the success streak.)
            if !self.attention.look_again.load(Ordering::Relaxed) {
                self.attention.look_again.store(true, Ordering::Relaxed);
            }
            return;
        }
        let needed = Needed {
            failures: rules.failure_threshold.is_some(),
            slow: rules.rate.slow_call_rate_threshold.is_some(),
            over_limit: rules.rate.latency_percentile.is_some(),
        };
        let sums = self.window.sums(now, needed);
        let threshold = if rules.config_rules & RULE_ADAPTIVE != 0 {
            self.failure_threshold(&self.config.load(), &sums, consecutive, true)
        } else {
            rules.failure_threshold
        };
        let verdict = verdict(&rules.rate, threshold, &sums);
        let waiting = verdict.waiting_for_minimum;
        if self.attention.look_again.load(Ordering::Relaxed) != waiting {
            self.attention.look_again.store(waiting, Ordering::Relaxed);
        }
        if let Some(reason) = verdict.trip {
            self.trip_unless_damped(rules.config_rules, w, reason, now);
        }
    }

    /// The failure-rate threshold in force: the configured one, adapted to volume and
    /// streaks when `adaptive_threshold` is set. `at_outcome` is true when an outcome
    /// is being evaluated (a failure ends the success streak it is measured against).
    pub(super) fn failure_threshold(
        &self,
        config: &Config,
        sums: &Sums,
        consecutive: u32,
        at_outcome: bool,
    ) -> Option<f64> {
        let base = config.failure_rate_threshold?;
        let Some(adaptive) = &config.adaptive_threshold else {
            return Some(base);
        };
        // Successes in a row = calls since the last failure, from lifetime totals.
        let total = self.window.lifetime().0;
        let since = self.totals.streak_base.load(Ordering::Relaxed);
        let success_streak = if consecutive > 0 {
            if at_outcome {
                self.totals.streak_base.store(total, Ordering::Relaxed);
            }
            total.saturating_sub(since).saturating_sub(1)
        } else {
            total.saturating_sub(since)
        };
        let signals = Signals {
            volume: sums.calls,
            success_streak,
            failure_streak: consecutive,
        };
        Some(adaptive.effective(base, signals))
    }

    /// Trips, unless anti-thrash holds the breaker closed after a recent recovery; then
    /// the next outcome looks again. `config_rules` as in [`Options::rules`].
    pub(super) fn trip_unless_damped(&self, config_rules: u32, w: Word, reason: Reason, now: u64) {
        let damping = if config_rules & RULE_ANTI_THRASH != 0 {
            self.config.load().anti_thrash
        } else {
            None
        };
        if let Some(damping) = damping {
            let closed = self.timeline.closed_at.load(Ordering::Relaxed);
            let min = nanos(damping.min_closed);
            if closed != 0 && now < (closed - 1).saturating_add(min) {
                self.attention.look_again.store(true, Ordering::Relaxed);
                return;
            }
        }
        self.trip(w, reason, now);
    }
}
