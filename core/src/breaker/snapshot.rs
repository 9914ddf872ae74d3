//! The read side: retry-after, latency figures, snapshots, memory.

use super::*;

impl<C: Clock> Breaker<C> {
    /// How long until a call may be admitted; `None` while calls are admitted, or
    /// when held open by an operator.
    pub fn retry_after(&self) -> Option<Duration> {
        let w = self.load_word();
        let now = self.clock.coarse_nanos();
        match w.state() {
            State::Open => Some(Duration::from_nanos(
                self.timeline
                    .open_until
                    .get(w.generation())
                    .map_or(self.options.base_open_nanos.load(Ordering::Relaxed), |d| {
                        d.saturating_sub(now)
                    }),
            )),
            State::HalfOpen if w.probes() >= self.options.permits.load(Ordering::Relaxed) => Some(
                Duration::from_nanos(self.lease_deadline(w, now).saturating_sub(now)),
            ),
            _ => None,
        }
    }

    /// Latency figures over the window, when latency is tracked: the percentiles of
    /// [`snapshot`](Breaker::snapshot) without the rest (one pass over the histograms).
    pub fn latency(&self) -> Option<crate::LatencySummary> {
        self.window.latency(self.clock.now_nanos())
    }

    /// What each enabled trip rule reads from the window now (see [`RuleReadings`]):
    /// the same counters, the same threshold in force and the same streak the rules
    /// are checked against when an outcome is recorded. Costs one pass over the
    /// window's buckets; takes no lock writers need.
    ///
    /// ```
    /// use tripgate::{Breaker, Config, FailureKind, Outcome};
    /// let b = Breaker::new(Config::builder().count_window(10).minimum_calls(10).build().unwrap()).unwrap();
    /// b.try_acquire().unwrap().record(Outcome::Success, std::time::Duration::from_millis(5));
    /// b.try_acquire().unwrap().failure(FailureKind::Timeout);
    /// let r = b.rule_readings();
    /// assert_eq!(r.window_calls, 2);
    /// assert_eq!(r.failure_rate, Some(0.5));
    /// assert_eq!(r.consecutive_failures, 1);
    /// ```
    pub fn rule_readings(&self) -> RuleReadings {
        let w = self.load_word();
        let now = self.clock.now_nanos();
        let config = self.config.load();
        let needed = Needed {
            failures: config.failure_rate_threshold.is_some(),
            slow: config.slow_call_rate_threshold.is_some(),
            over_limit: config.latency_percentile.is_some(),
        };
        let sums = self.window.sums(now, needed);
        let share = |n: u64| {
            if sums.calls == 0 {
                0.0
            } else {
                n as f64 / sums.calls as f64
            }
        };
        RuleReadings {
            window_calls: sums.calls,
            failure_rate: needed.failures.then(|| sums.failure_rate()),
            failure_rate_threshold: self.failure_threshold(
                &config,
                &sums,
                self.attention.streak.get(w.generation()),
                false,
            ),
            slow_call_rate: needed.slow.then(|| sums.slow_rate()),
            over_limit_rate: needed.over_limit.then(|| share(sums.over_limit)),
            consecutive_failures: self.attention.streak.latest(),
        }
    }

    /// A reading of every figure. Costs O(window); takes no lock writers need.
    pub fn snapshot(&self) -> Snapshot {
        self.dispatch_events();
        let w = self.load_word();
        let now = self.clock.now_nanos();
        let sums = self.window.sums(now, Needed::ALL);
        let (calls, slow_calls) = self.window.lifetime();
        let config = self.config.load();
        let f = |k: FailureKind| self.totals.failures(k);
        let failures_by_kind = FailureCounts {
            timeout: f(FailureKind::Timeout),
            connection: f(FailureKind::Connection),
            server_error: f(FailureKind::ServerError),
            rejected: f(FailureKind::Rejected),
            other: f(FailureKind::Other),
        };
        let failures = failures_by_kind.total();
        let last_failure = match self.totals.last_failure.load(Ordering::Relaxed) {
            0 => None,
            t => Some(self.clock.wall_time(t - 1)),
        };
        Snapshot {
            state: w.state(),
            generation: w.generation(),
            time_in_state: Duration::from_nanos(
                now.saturating_sub(self.timeline.state_since.load(Ordering::Relaxed)),
            ),
            transitions: self.timeline.transitions.load(Ordering::Relaxed),
            calls,
            successes: calls.saturating_sub(failures),
            failures,
            failures_by_kind,
            ignored: self.totals.sum(IGNORED),
            slow_calls,
            rejected: self.totals.sum(REJECTED),
            abandoned: self.totals.sum(ABANDONED),
            in_flight: (w.0 & FLAG_IN_FLIGHT != 0).then(|| self.totals.sum(IN_FLIGHT)),
            half_open_probes: if w.state() == State::HalfOpen {
                w.probes()
            } else {
                0
            },
            half_open_successes: if w.state() == State::HalfOpen {
                w.probe_successes()
            } else {
                0
            },
            window_calls: sums.calls,
            failure_rate: sums.failure_rate(),
            slow_call_rate: sums.slow_rate(),
            consecutive_failures: self.attention.streak.latest(),
            last_failure,
            retry_after: self.retry_after(),
            backoff_level: self.backoff.lock().level(),
            transitions_last_minute: self.timeline.recent.within(now, 60_000_000_000),
            effective_failure_rate_threshold: self.failure_threshold(
                &config,
                &sums,
                self.attention.streak.get(w.generation()),
                false,
            ),
            latency: self.window.latency(now),
            call_durations: self.call_durations(w),
            listener_panics: self.events.listeners().panics(),
            events_dropped: self.events.dropped(),
        }
    }

    /// The summed durations by kind, once calls are timed or a duration was recorded.
    fn call_durations(&self, w: Word) -> Option<CallDurations> {
        let sum = |which| Duration::from_nanos(self.totals.sum(which));
        let durations = CallDurations {
            successful: sum(SUCCESSFUL_NANOS),
            failed: sum(FAILED_NANOS),
            ignored: sum(IGNORED_NANOS),
        };
        let measured = w.0 & FLAG_TIMED != 0 || durations != CallDurations::default();
        measured.then_some(durations)
    }

    /// Bytes this breaker occupies, heap included.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() - std::mem::size_of::<Window>()
            + self.window.memory()
            + std::mem::size_of::<Config>()
    }
}
