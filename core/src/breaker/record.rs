//! Recording outcomes: the plain-success fast paths, the general path, releases.

use super::raw::P_MAY_BE_COPY;
use super::*;

impl<C: Clock> Breaker<C> {
    /// Records the outcome of a call admitted with `permit`. `latency_nanos` overrides
    /// the latency measured from admission. Never panics, whatever the permit holds.
    ///
    /// A permit this breaker did not issue, or one whose answer was already counted, is
    /// refused with a [`PermitError`] and changes nothing.
    #[inline]
    pub fn record_raw(
        &self,
        permit: RawPermit,
        outcome: Outcome,
        latency_nanos: Option<u64>,
    ) -> Result<(), PermitError> {
        let grant = self.redeem(permit)?;
        self.record_grant(grant, outcome, latency_nanos);
        Ok(())
    }

    /// Records the outcome of a call admitted with `permit`, trusted: the path of the
    /// owned [`Permit`], which cannot be forged or answered twice.
    #[inline]
    pub(crate) fn record_grant(&self, permit: Grant, outcome: Outcome, latency_nanos: Option<u64>) {
        if measured_success(permit, 0, outcome, latency_nanos) {
            // The common case. The permit's one needed field goes by register: a
            // permit passed by reference is stored field by field and reloaded whole,
            // which stalls store-to-load forwarding (several ns a call on x86).
            self.record_plain_success(permit.generation);
        } else {
            self.record_other(permit, outcome, latency_nanos);
        }
    }

    /// Every record but a plain success: a timed success takes its own short path
    /// (kept out of the inlined `record_grant`, which stays small), the rest the general
    /// one.
    #[inline(never)]
    pub(super) fn record_other(&self, permit: Grant, outcome: Outcome, latency_nanos: Option<u64>) {
        if measured_success(permit, P_TIMED, outcome, latency_nanos) {
            self.record_timed_success(permit.generation, permit.start_nanos);
        } else if permit.flags & !P_TIMED == P_DEADLINE
            && latency_nanos.is_none()
            && outcome == Outcome::Success
        {
            // A success under a `call_timeout` takes the short path of its kind: the
            // deadline is the caller's business, not the record's.
            if permit.flags & P_TIMED != 0 {
                self.record_timed_success(permit.generation, permit.start_nanos);
            } else {
                self.record_plain_success(permit.generation);
            }
        } else {
            self.record_general(permit, outcome, latency_nanos);
        }
    }

    /// An untimed success in Closed, of a permit of generation `generation`: one
    /// counter, a look at the streak, and a clock read only where a time window needs
    /// one.
    #[inline(never)]
    pub(super) fn record_plain_success(&self, generation: u32) {
        if self.generation_moved(generation) {
            return self.record_late_success(generation);
        }
        // Two functions, reached by tail calls: were they one, the time path's clock
        // reads would make every count-window success save and restore registers too.
        if self.window.built_count_based() {
            self.record_plain_count_success(generation)
        } else {
            self.record_plain_time_success(generation)
        }
    }

    /// Whether the breaker has changed generation since a permit of `generation` was
    /// issued: its outcome is late, and may be kept out of the window
    /// ([`is_late_in_closed`](Breaker::is_late_in_closed)). One load of a line every
    /// admission reads.
    #[inline(always)]
    fn generation_moved(&self, generation: u32) -> bool {
        // ordering: Relaxed, a hint: a transition that races this record is caught by
        // the general path's own look at the word (`is_late_in_closed`, `recheck`).
        Word(self.word.load(Ordering::Relaxed)).generation() != generation
    }

    /// Whether an outcome of a permit of `generation` is late in Closed: the breaker
    /// has closed since the call was admitted, restarting its window, and the outcome
    /// stays out of that window (it counts in the lifetime totals only). It says
    /// nothing about the calls the new window judges; counted there, a failure of the
    /// outage just ended could trip the breaker again with the next current outcome.
    #[inline]
    fn is_late_in_closed(&self, generation: u32) -> bool {
        let w = self.load_word();
        w.generation() != generation && w.state() == State::Closed
    }

    /// A plain success whose generation has moved on: the general path, which keeps it
    /// out of a window restarted since its admission.
    #[cold]
    #[inline(never)]
    fn record_late_success(&self, generation: u32) {
        let permit = Grant {
            generation,
            ..Grant::default()
        };
        self.record_general(permit, Outcome::Success, None);
    }

    /// [`record_plain_success`](Breaker::record_plain_success) on a window built
    /// time-based (which may be count-based now).
    #[inline(never)]
    pub(super) fn record_plain_time_success(&self, generation: u32) {
        // The clock first: read before the window's geometry, it keeps few values alive
        // across a clock that may be a call (fewer registers to save). A time-built
        // window that is count-based now reads it for nothing; that is rare.
        let recorded = self
            .window
            .record_success(self.clock.coarse_nanos(), totals_stripe());
        self.after_plain_success(recorded, generation, None);
    }

    /// [`record_plain_success`](Breaker::record_plain_success) on a window built
    /// count-based: no clock read.
    #[inline(never)]
    pub(super) fn record_plain_count_success(&self, generation: u32) {
        let recorded = self.window.record_count_success();
        self.after_plain_success(recorded, generation, None);
    }

    /// What follows the count of a plain success (of `latency`, when timed): the
    /// streak ends, calls for attention are answered, and the rules run if the window
    /// may trip.
    #[inline(always)]
    pub(super) fn after_plain_success(
        &self,
        recorded: Recorded,
        generation: u32,
        latency: Option<u64>,
    ) {
        // One load each while there is no streak and nothing calls for attention: a
        // healthy breaker's line stays shared. The common case returns here, before
        // anything that needs a register saved (BENCHMARKS.md, "Where the time goes":
        // "a healthy success's checks behind the streak's and the listeners' code").
        // ordering: Relaxed, as in `attend`.
        if !recorded.may_trip
            && self.attention.streak.latest() == 0
            && self.attention.flags.load(Ordering::Relaxed) == 0
        {
            return;
        }
        self.attend_plain_success(recorded, generation, latency);
    }

    /// The rest of [`after_plain_success`](Breaker::after_plain_success): a streak to
    /// end, listeners or queued events to serve, or a window that may trip.
    #[inline(never)]
    fn attend_plain_success(&self, recorded: Recorded, generation: u32, latency: Option<u64>) {
        self.attention.streak.success(generation);
        self.attend(|| CallEvent::Success {
            latency: latency.map(Duration::from_nanos),
        });
        if must_look(recorded, self.attention.look_again.load(Ordering::Relaxed)) {
            self.recheck_after_success(generation);
        }
    }

    /// A success timed from `start_nanos`, of a permit of generation `generation` that
    /// is neither a probe nor counted in flight: the latency decides. A call that is
    /// neither slow nor over the percentile limit is counted and binned like a plain
    /// success (no failure, no streak, the rules only if the window may trip); any
    /// other goes the general way, with the time already read.
    #[inline(never)]
    pub(super) fn record_timed_success(&self, generation: u32, start_nanos: u64) {
        let now = self.clock.now_nanos();
        let latency = now.saturating_sub(start_nanos);
        // ordering: Relaxed, options (see `Options::load_from`).
        let slow = self.options.slow_nanos.load(Ordering::Relaxed);
        let limit = self.options.limit_nanos.load(Ordering::Relaxed);
        if latency >= slow.min(limit) || self.generation_moved(generation) {
            let permit = Grant {
                generation,
                flags: P_TIMED,
                start_nanos,
            };
            let stripe = totals_stripe();
            return self.record_measured(permit, Outcome::Success, now, Some(latency), stripe);
        }
        // The thread's stripe, read once for the window and the lifetime counters.
        let stripe = totals_stripe();
        let recorded = self.window.record_timed_success(now, latency, stripe);
        self.totals.bump_in(stripe, SUCCESSFUL_NANOS, latency);
        self.after_plain_success(recorded, generation, Some(latency));
    }

    #[inline(never)]
    pub(super) fn recheck_after_success(&self, generation: u32) {
        let permit = Grant {
            generation,
            ..Grant::default()
        };
        self.recheck(permit, self.clock.coarse_nanos(), 0, u64::MAX);
    }

    #[inline(never)]
    pub(super) fn record_general(
        &self,
        permit: Grant,
        outcome: Outcome,
        latency_nanos: Option<u64>,
    ) {
        // The thread's stripe, read once for every count this record makes.
        let stripe = totals_stripe();
        if permit.flags & P_IN_FLIGHT != 0 {
            self.totals.bump_in(stripe, IN_FLIGHT, u64::MAX); // wrapping -1
        }
        if permit.flags & P_UNCOUNTED != 0 {
            return;
        }
        let (now, latency) = match latency_nanos {
            Some(l) => (self.clock.coarse_nanos(), Some(l)),
            None if permit.flags & P_TIMED != 0 => {
                let now = self.clock.now_nanos();
                (now, Some(now.saturating_sub(permit.start_nanos)))
            }
            None => (self.clock.coarse_nanos(), None),
        };
        self.record_measured(permit, outcome, now, latency, stripe);
    }

    /// [`record_general`](Breaker::record_general) once the time is read and the
    /// latency known, for a permit whose outcome counts, by the thread whose stripe
    /// is `stripe` (read once by the caller, for the window and the lifetime counters).
    pub(super) fn record_measured(
        &self,
        permit: Grant,
        outcome: Outcome,
        now: u64,
        latency: Option<u64>,
        stripe: TotalsStripe,
    ) {
        // Decided first, and the late record made by its own copy of the body: with
        // the choice inside, every record of this path kept more values alive (15 more
        // instructions a record, in spills, for a case that is rare).
        if self.is_late_in_closed(permit.generation) {
            return self.record_late(permit, outcome, now, latency, stripe);
        }
        self.record_outcome::<true>(permit, outcome, now, latency, stripe);
    }

    /// [`record_measured`](Breaker::record_measured) of a late outcome in Closed
    /// ([`is_late_in_closed`](Breaker::is_late_in_closed)): everything but the window.
    #[cold]
    #[inline(never)]
    fn record_late(
        &self,
        permit: Grant,
        outcome: Outcome,
        now: u64,
        latency: Option<u64>,
        stripe: TotalsStripe,
    ) {
        self.record_outcome::<false>(permit, outcome, now, latency, stripe);
    }

    /// The body of [`record_measured`](Breaker::record_measured): the outcome counted
    /// in the lifetime totals, and in the window when `IN_WINDOW`.
    #[inline(always)]
    fn record_outcome<const IN_WINDOW: bool>(
        &self,
        permit: Grant,
        outcome: Outcome,
        now: u64,
        latency: Option<u64>,
        stripe: TotalsStripe,
    ) {
        let kind = match outcome {
            Outcome::Ignored => {
                self.totals.bump_in(stripe, IGNORED, 1);
                if let Some(latency) = latency {
                    self.totals.bump_in(stripe, IGNORED_NANOS, latency);
                }
                self.attend(|| CallEvent::Ignored);
                if permit.is_probe() {
                    self.settle_probe(permit, ProbeResult::Released, now);
                }
                // A transition this record lost may have left events to deliver.
                self.deliver_waiting_events();
                return;
            }
            Outcome::Success => None,
            Outcome::Failure(k) => Some(k),
        };
        let lat = latency.unwrap_or(0);
        if latency.is_some() {
            let sum = if kind.is_some() {
                FAILED_NANOS
            } else {
                SUCCESSFUL_NANOS
            };
            self.totals.bump_in(stripe, sum, lat);
        }
        let delta = Delta {
            weighted_failures: kind.map_or(0, |k| {
                self.options.weights[k as usize].load(Ordering::Relaxed) as u64
            }),
            // Slow whatever the outcome: a slow failure is failed and slow.
            slow: latency.is_some() && lat >= self.options.slow_nanos.load(Ordering::Relaxed),
            over_limit: latency.is_some()
                && lat >= self.options.limit_nanos.load(Ordering::Relaxed),
        };
        let look_again = self.attention.look_again.load(Ordering::Relaxed);
        let recorded = if IN_WINDOW {
            self.window.record(now, delta, latency, stripe)
        } else {
            self.window.count_outside(delta.slow)
        };
        let consecutive = match kind {
            Some(k) => {
                self.totals.count_failure_in(stripe, k);
                // ordering: Relaxed, statistics and a streak; no memory is published.
                self.totals
                    .last_failure
                    .store(now.saturating_add(1), Ordering::Relaxed);
                self.attention.streak.failure(permit.generation)
            }
            None => {
                self.attention.streak.success(permit.generation);
                0
            }
        };
        self.attend(|| {
            let latency = latency.map(Duration::from_nanos);
            match kind {
                Some(kind) => CallEvent::Failure { kind, latency },
                None => CallEvent::Success { latency },
            }
        });
        if permit.is_probe() {
            let result = if kind.is_some() || self.against_a_rule(delta) {
                ProbeResult::Failed
            } else {
                ProbeResult::Succeeded
            };
            if self.settle_probe(permit, result, now) {
                return;
            }
            // A probe of an earlier generation is a late outcome like any other.
        }
        let changed_window = IN_WINDOW && (kind.is_some() || delta.slow || delta.over_limit);
        if changed_window || must_look(recorded, look_again) {
            self.recheck(permit, now, consecutive, recorded.calls_at_most);
        }
        // A transition this record lost may have left events to deliver.
        self.deliver_waiting_events();
    }

    /// Whether a healthy-looking call still counts against a configured rule: slow
    /// under a slow-call rate, or at the latency limit under a percentile rule. A probe
    /// that does fails: the dependency answers, but not as the rules ask.
    fn against_a_rule(&self, delta: Delta) -> bool {
        let configured = |rule: &crate::sync::unmodelled::AtomicU64| {
            // ordering: Relaxed, options (see `Options::load_from`).
            !f64::from_bits(rule.load(Ordering::Relaxed)).is_nan()
        };
        (delta.slow && configured(&self.options.slow_threshold))
            || (delta.over_limit && configured(&self.options.quantile))
    }

    /// The outcome just recorded may change the verdict: evaluate the rules if it may
    /// drive a transition. `calls_at_most` as in `Recorded::calls_at_most`.
    #[inline(never)]
    pub(super) fn recheck(&self, permit: Grant, now: u64, consecutive: u32, calls_at_most: u64) {
        let w = self.load_word();
        if w.state() == State::Closed {
            if w.generation() == permit.generation {
                self.evaluate(w, now, consecutive, calls_at_most);
            } else {
                // A late outcome may not trip the breaker itself. One that arrives in
                // Closed stays out of the window, but one that raced the transition may
                // have reached it: the next current outcome must look.
                self.attention.look_again.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Answers a call that has ended, by the deadline rule every binding shares: the
    /// call's `outcome` is recorded, or a [`FailureKind::Timeout`] instead when the call
    /// ended at or after its deadline (admission plus the `call_timeout` it was admitted
    /// under, on the breaker's clock). `None` says the call was cut short by its caller
    /// (a cancellation, an interrupt): a timeout as well if the deadline had passed or
    /// the call had run for at least `slow_call_duration` (the dependency had not
    /// answered in a time the breaker already counts as slow; known when the permit
    /// carries its start: latency tracking or a `call_timeout`), else the permit is
    /// released unrecorded, since a caller giving up early says nothing about the
    /// dependency. Returns what was recorded (`None`: released).
    ///
    /// A permit this breaker did not issue, or one whose answer was already counted, is
    /// refused with a [`PermitError`] and changes nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tripgate::{Breaker, Config, FailureKind, ManualClock, Outcome};
    /// let clock = ManualClock::new();
    /// let config = Config::builder().call_timeout(Duration::from_millis(50)).build()?;
    /// let breaker = Breaker::with_clock(config, clock.clone())?;
    /// let early = breaker.acquire_raw()?;
    /// assert_eq!(breaker.complete_raw(early, None, None), Ok(None)); // released
    /// let late = breaker.acquire_raw()?;
    /// clock.advance(Duration::from_millis(50));
    /// let timeout = Some(Outcome::Failure(FailureKind::Timeout));
    /// assert_eq!(breaker.complete_raw(late, Some(Outcome::Success), None), Ok(timeout));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn complete_raw(
        &self,
        permit: RawPermit,
        outcome: Option<Outcome>,
        latency_nanos: Option<u64>,
    ) -> Result<Option<Outcome>, PermitError> {
        let grant = self.permit_key.open(permit)?;
        // The common answer on a path with nothing else on it: a binding takes this
        // path for every call, and with the rest inlined here it saved and restored six
        // registers (BENCHMARKS.md, *C ABI*). A call answered, of a grant that is neither
        // a probe nor counted in flight (nothing to check but its seal, see `redeem`)
        // and has no deadline (nothing to decide, see `complete_grant`), is recorded as
        // answered.
        if grant.flags & (P_MAY_BE_COPY | P_DEADLINE) == 0 {
            if let Some(answer) = outcome {
                // A timed success (latency tracked) goes straight to its path, with
                // the grant's two fields in registers: inlined at a binding's few call
                // sites, this can afford the test that `record_grant`, inlined into
                // every Rust caller's `success`, leaves to `record_other`.
                if measured_success(grant, P_TIMED, answer, latency_nanos) {
                    self.record_timed_success(grant.generation, grant.start_nanos);
                } else {
                    self.record_grant(grant, answer, latency_nanos);
                }
                return Ok(outcome);
            }
        }
        self.complete_sealed(grant, outcome, latency_nanos)
    }

    /// [`complete_raw`](Breaker::complete_raw) of any other answer, once the permit's
    /// seal is checked.
    #[inline(never)]
    fn complete_sealed(
        &self,
        grant: Grant,
        outcome: Option<Outcome>,
        latency_nanos: Option<u64>,
    ) -> Result<Option<Outcome>, PermitError> {
        self.check_unspent(grant)?;
        Ok(self.complete_grant(grant, outcome, latency_nanos))
    }

    /// [`complete_raw`](Breaker::complete_raw), trusted: the path of the owned
    /// [`Permit`] and of async calls dropped by their caller.
    pub(crate) fn complete_grant(
        &self,
        grant: Grant,
        outcome: Option<Outcome>,
        latency_nanos: Option<u64>,
    ) -> Option<Outcome> {
        let deadline = self.grant_deadline(grant);
        // One clock read, and none for an answered call without a deadline (the rest).
        let late = (deadline.is_some() || outcome.is_none()) && {
            let now = self.clock.now_nanos();
            // ordering: Relaxed, an option (see `Options::load_from`).
            let slow = self.options.slow_nanos.load(Ordering::Relaxed);
            deadline.is_some_and(|d| now >= d)
                || (outcome.is_none()
                    && grant
                        .start()
                        .is_some_and(|start| now.saturating_sub(start) >= slow))
        };
        let answer = if late {
            Some(Outcome::Failure(FailureKind::Timeout))
        } else {
            outcome
        };
        match answer {
            Some(o) => self.record_grant(grant, o, latency_nanos),
            None => self.release_grant(grant),
        }
        answer
    }

    /// Gives a permit back unrecorded (metric `abandoned`): frees a probe slot.
    ///
    /// A permit this breaker did not issue, or one whose answer was already counted, is
    /// refused with a [`PermitError`] and changes nothing.
    pub fn release_raw(&self, permit: RawPermit) -> Result<(), PermitError> {
        let grant = self.redeem(permit)?;
        self.release_grant(grant);
        Ok(())
    }

    /// Gives a permit back unrecorded, trusted: the path of the owned [`Permit`].
    pub(crate) fn release_grant(&self, permit: Grant) {
        let stripe = totals_stripe();
        if permit.flags & P_IN_FLIGHT != 0 {
            self.totals.bump_in(stripe, IN_FLIGHT, u64::MAX);
        }
        self.totals.bump_in(stripe, ABANDONED, 1);
        let now = self.clock.coarse_nanos();
        if !(permit.is_probe() && self.settle_probe(permit, ProbeResult::Released, now)) {
            self.deliver_waiting_events();
        }
    }
}

/// Whether a healthy record must run the rules: it opened a new epoch (old buckets left
/// the window, which can raise a rate) or an earlier look asked for another
/// (`look_again`), and the window may hold something that can trip a rule at all. A
/// window with no failure, slow call or call over the limit cannot trip, so a healthy
/// breaker with a bucket per call skips the rules on every call.
#[inline]
pub(super) fn must_look(recorded: Recorded, look_again: bool) -> bool {
    (recorded.rotated || look_again) && recorded.may_trip
}

/// Whether an answer is a success whose latency the engine measures (none given), of a
/// grant whose flags are exactly `flags`: the answers that have short paths.
#[inline(always)]
fn measured_success(grant: Grant, flags: u32, outcome: Outcome, latency: Option<u64>) -> bool {
    grant.flags == flags && latency.is_none() && outcome == Outcome::Success
}
