//! Admission: `try_acquire` and its slow paths per state. Wait-free in every state.

use super::*;

impl<C: Clock> Breaker<C> {
    /// Asks to make one call. Wait-free in every state.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_, C>, Rejected> {
        // The fast path builds its permit here rather than through `acquire_raw`'s
        // result: merged with the slow path's (returned through memory), the permit
        // would be stored field by field and reloaded whole, which stalls x86's
        // store-to-load forwarding (several ns a call).
        let w = self.load_word();
        if let Some(grant) = self.admit_closed(w) {
            return Ok(Permit::new(self, grant));
        }
        match self.acquire_slow(w) {
            Ok(grant) => Ok(Permit::new(self, grant)),
            Err(rejected) => Err(rejected),
        }
    }

    /// [`try_acquire`](Breaker::try_acquire) for a breaker shared through an [`Arc`]:
    /// the permit holds a clone of the `Arc`, so it is `Send + 'static` and can move
    /// into a spawned task or thread (see [`OwnedPermit`]). Wait-free, as
    /// `try_acquire`, plus the reference count's increment.
    #[inline]
    pub fn try_acquire_owned(self: &Arc<Self>) -> Result<OwnedPermit<C>, Rejected> {
        let w = self.load_word();
        let grant = match self.admit_closed(w) {
            Some(grant) => grant,
            None => self.acquire_slow(w)?,
        };
        Ok(OwnedPermit::new(Arc::clone(self), grant))
    }

    /// [`try_acquire`](Breaker::try_acquire) for bindings: the permit as a plain value,
    /// sealed with this breaker's key, to be handed back to
    /// [`record_raw`](Breaker::record_raw) or [`release_raw`](Breaker::release_raw)
    /// exactly once. Wait-free in every state; the seal is a few instructions.
    #[inline]
    pub fn acquire_raw(&self) -> Result<RawPermit, Rejected> {
        let w = self.load_word();
        match self.admit_closed(w) {
            Some(grant) => Ok(self.seal(grant)),
            None => self.acquire_slow(w).map(|grant| self.seal(grant)),
        }
    }

    /// [`acquire_raw`](Breaker::acquire_raw) for a call its caller makes right away (a
    /// binding's guarded call): when the call is a half-open probe, the events its
    /// admission queued (the move to Half-Open) are delivered first, on this thread, so
    /// that listeners hear of Half-Open before the probe runs, as resilience4j's, Polly's
    /// and gobreaker's do. The breaker's own call forms ([`call`](Breaker::call) and
    /// the rest) admit this way. Wait-free but for a probe, whose admission may run
    /// listeners.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use tripgate::{Breaker, Config, ManualClock, Outcome, State};
    /// let clock = ManualClock::new();
    /// let config = Config::builder().consecutive_failures(1).open_duration(Duration::from_secs(5));
    /// let breaker = Breaker::with_clock(config.build()?, clock.clone())?;
    /// let heard = Arc::new(Mutex::new(Vec::new()));
    /// let h = heard.clone();
    /// breaker.add_listener(move |t| h.lock().unwrap().push(t.to));
    /// breaker.open();
    /// clock.advance(Duration::from_secs(5));
    /// let probe = breaker.acquire_raw_to_run().expect("a probe");
    /// assert_eq!(*heard.lock().unwrap(), [State::Open, State::HalfOpen]);
    /// breaker.record_raw(probe, Outcome::Success, None)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn acquire_raw_to_run(&self) -> Result<RawPermit, Rejected> {
        let w = self.load_word();
        match self.admit_closed(w) {
            Some(grant) => Ok(self.seal(grant)),
            None => self.acquire_slow_to_run(w).map(|grant| self.seal(grant)),
        }
    }

    /// [`acquire_raw_to_run`](Breaker::acquire_raw_to_run) with an owned [`Permit`]:
    /// the admission of the breaker's own call forms.
    #[inline]
    pub(super) fn admit_to_run(&self) -> Result<Permit<'_, C>, Rejected> {
        let w = self.load_word();
        if let Some(grant) = self.admit_closed(w) {
            return Ok(Permit::new(self, grant));
        }
        self.acquire_slow_to_run(w)
            .map(|grant| Permit::new(self, grant))
    }

    /// The slow path of admission for a call about to run: a probe's caller delivers
    /// what its admission queued before the probe runs.
    #[inline(never)]
    fn acquire_slow_to_run(&self, w: Word) -> Result<Grant, Rejected> {
        let grant = self.acquire_slow(w)?;
        if grant.is_probe() {
            self.deliver_waiting_events();
        }
        Ok(grant)
    }

    /// The common case of admission: Closed, no slow start, not counting calls in
    /// flight. One load (the caller's), no RMW, a clock read only when calls are timed
    /// or under a `call_timeout` (one test of the word either way: a breaker with
    /// neither pays nothing for deadlines).
    #[inline]
    pub(super) fn admit_closed(&self, w: Word) -> Option<Grant> {
        if w.0 & (STATE_MASK | FLAG_RAMP | FLAG_IN_FLIGHT) != State::Closed as u64 {
            return None;
        }
        if w.0 & (FLAG_TIMED | FLAG_DEADLINE) != 0 {
            return Some(self.timed_grant(w));
        }
        Some(Grant {
            generation: w.generation(),
            flags: 0,
            start_nanos: 0,
        })
    }

    /// The grant of a Closed admission that carries its start time. Out of line: the
    /// clock read inlined into every caller of `try_acquire` made the untimed Closed
    /// path dearer too (BENCHMARKS.md, "Where the time goes": "the clock read of
    /// timed admissions inlined into every caller").
    #[inline(never)]
    fn timed_grant(&self, w: Word) -> Grant {
        Grant {
            generation: w.generation(),
            flags: start_flags(w),
            start_nanos: self.clock.now_nanos(),
        }
    }

    #[inline(never)]
    pub(super) fn acquire_slow(&self, w: Word) -> Result<Grant, Rejected> {
        match w.state() {
            State::Closed => {
                if w.0 & FLAG_RAMP != 0 && !self.ramp_admits(w) {
                    return Err(self.reject(State::Closed, Some(Duration::ZERO)));
                }
                Ok(self.issue(w, false))
            }
            State::ForcedClosed | State::MetricsOnly | State::Disabled => Ok(self.issue(w, false)),
            State::Open => self.acquire_open(w),
            State::HalfOpen => self.acquire_half_open(w),
            State::ForcedOpen => Err(self.reject(State::ForcedOpen, None)),
        }
    }

    pub(super) fn issue(&self, w: Word, probe: bool) -> Grant {
        let mut flags = 0;
        let mut start_nanos = 0;
        if w.0 & (FLAG_TIMED | FLAG_DEADLINE) != 0 {
            flags |= start_flags(w);
            start_nanos = self.clock.now_nanos();
        }
        if w.0 & FLAG_IN_FLIGHT != 0 {
            flags |= P_IN_FLIGHT;
            self.totals.bump(IN_FLIGHT, 1);
        }
        if probe {
            flags |= P_PROBE;
        }
        if w.state() == State::Disabled {
            flags |= P_UNCOUNTED;
        }
        Grant {
            generation: w.generation(),
            flags,
            start_nanos,
        }
    }

    pub(super) fn reject(&self, state: State, retry_after: Option<Duration>) -> Rejected {
        self.totals.bump(REJECTED, 1);
        let opened_by = match state {
            State::Open | State::HalfOpen | State::ForcedOpen => self.timeline.opened_by.get(),
            _ => None,
        };
        // Call listeners only: admission delivers no transition event.
        // ordering: Relaxed, as in `attend`.
        if self.attention.flags.load(Ordering::Relaxed) & CALL_LISTENERS != 0 {
            self.call_listeners.emit(&CallEvent::Rejected { state });
        }
        Rejected {
            state,
            retry_after,
            opened_by,
            breaker: self.name.handle(),
        }
    }

    pub(super) fn acquire_open(&self, w: Word) -> Result<Grant, Rejected> {
        let now = self.clock.coarse_nanos();
        match self.timeline.open_until.get(w.generation()) {
            // The opening's winner has not written its deadline yet: just opened.
            None => {
                let base = self.options.base_open_nanos.load(Ordering::Relaxed);
                return Err(self.reject(State::Open, Some(Duration::from_nanos(base))));
            }
            Some(deadline) => {
                if let Some(left) = self.time_left(deadline, now) {
                    return Err(self.reject(State::Open, Some(Duration::from_nanos(left))));
                }
            }
        }
        // The deadline has passed: whoever moves the breaker to half-open takes the
        // first probe slot in the same swap.
        let next = w.next(State::HalfOpen).with_probes(1);
        match self.transition(w, next) {
            Ok(publishing) => {
                self.start_lease(next, now, true);
                self.queued(w, next, Reason::OpenElapsed, now, publishing);
                Ok(self.issue(next, true))
            }
            Err(actual) => match actual.state() {
                State::HalfOpen => self.acquire_half_open(actual),
                s if s.admits_all() => Ok(self.issue(actual, false)),
                s => Err(self.reject(s, Some(Duration::ZERO))),
            },
        }
    }

    /// Takes a probe slot: at most two compare-and-swap attempts, so admission stays
    /// wait-free; losing both to other probes is a rejection.
    pub(super) fn acquire_half_open(&self, mut w: Word) -> Result<Grant, Rejected> {
        let now = self.clock.coarse_nanos();
        let permits = self.options.permits.load(Ordering::Relaxed);
        for _ in 0..2 {
            if w.state() != State::HalfOpen {
                break;
            }
            let (next, reclaim) = if w.probes() < permits {
                (w.with_probes(w.probes() + 1), false)
            } else {
                let until = self.lease_deadline(w, now);
                if let Some(left) = self.time_left(until, now) {
                    return Err(self.reject(State::HalfOpen, Some(Duration::from_nanos(left))));
                }
                // Every slot is held past its lease: write the probes off and start a
                // new half-open generation with this call as its only probe.
                (w.next(State::HalfOpen).with_probes(1), true)
            };
            let publishing = reclaim.then(|| self.events.begin());
            match self.cas(w, next) {
                Ok(()) => {
                    self.start_lease(next, now, reclaim);
                    if let Some(p) = publishing {
                        self.queued(w, next, Reason::ProbeLeaseExpired, now, p);
                    }
                    return Ok(self.issue(next, true));
                }
                Err(actual) => w = actual,
            }
        }
        // Lost both attempts to other threads' transitions; answer from the state they
        // left (one more look, no loop).
        match w.state() {
            State::Closed if w.0 & FLAG_RAMP != 0 && !self.ramp_admits(w) => {
                Err(self.reject(State::Closed, Some(Duration::ZERO)))
            }
            s if s.admits_all() => Ok(self.issue(w, false)),
            s => Err(self.reject(s, Some(Duration::ZERO))),
        }
    }

    /// The time left before `deadline`, `None` once it has passed, from a coarse read
    /// `now`. A coarse read may lag; one that says the deadline is less than that lag
    /// away is confirmed by a precise read, so a caller who waited out an open duration
    /// on a precise clock is admitted (rejections further from it stay one load).
    #[inline]
    fn time_left(&self, deadline: u64, now: u64) -> Option<u64> {
        let left = deadline.checked_sub(now).filter(|&left| left > 0)?;
        if left > crate::clock::COARSE_LAG_NANOS {
            return Some(left);
        }
        deadline
            .checked_sub(self.clock.now_nanos())
            .filter(|&left| left > 0)
    }

    /// A probe of generation `w` was admitted at `now`: the lease runs from the newest
    /// probe. `first` is the generation's first probe, whose admission won the
    /// transition into it.
    pub(super) fn start_lease(&self, w: Word, now: u64, first: bool) {
        if first {
            self.timeline.lease_start.set(w.generation(), now);
        }
        // ordering: Relaxed, a time; `lease_start` tells which generation it serves.
        self.timeline.last_probe.fetch_max(now, Ordering::Relaxed);
    }

    /// When the probe slots of `w`'s generation may be reclaimed: `max_wait` after its
    /// newest probe. A generation whose first probe has not written its start yet is
    /// fresh, not expired.
    pub(super) fn lease_deadline(&self, w: Word, now: u64) -> u64 {
        let lease = self.options.lease_nanos.load(Ordering::Relaxed);
        let newest = match self.timeline.lease_start.get(w.generation()) {
            Some(start) => start.max(self.timeline.last_probe.load(Ordering::Relaxed)),
            None => now,
        };
        newest.saturating_add(lease)
    }

    pub(super) fn ramp_admits(&self, w: Word) -> bool {
        let now = self.clock.coarse_nanos();
        let ramp = self.options.ramp_nanos.load(Ordering::Relaxed);
        let start = self.timeline.ramp_start.get(w.generation()).unwrap_or(now);
        let elapsed = now.saturating_sub(start);
        if ramp == 0 || elapsed >= ramp {
            // Ramp over: clear the flag (one attempt; a later call retries).
            let _ = self.cas(w, w.with_flags(w.flags() & !FLAG_RAMP));
            return true;
        }
        let initial = f64::from_bits(self.options.ramp_initial.load(Ordering::Relaxed));
        let fraction = initial + (1.0 - initial) * elapsed as f64 / ramp as f64;
        // A Weyl sequence spreads admissions evenly: over any run of calls the share
        // admitted is the fraction, without a random generator on the hot path.
        // ordering: Relaxed, the ticket only needs to be distinct.
        let ticket = self.timeline.ramp_ticket.fetch_add(1, Ordering::Relaxed);
        let u = (ticket.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64;
        u < fraction
    }

    /// A swap that starts a new generation: on success, the caller publishes it with
    /// the returned token ([`published`](Breaker::published) or
    /// [`queued`](Breaker::queued)).
    pub(super) fn transition(&self, from: Word, to: Word) -> Result<Publishing<'_>, Word> {
        debug_assert_ne!(from.generation(), to.generation());
        let publishing = self.events.begin();
        self.cas(from, to).map(|()| publishing)
    }

    /// A swap within a generation (probe slots, flags), or one a
    /// [`Publishing`] token already covers.
    pub(super) fn cas(&self, from: Word, to: Word) -> Result<(), Word> {
        // ordering: AcqRel; Release publishes the transition, Acquire on failure lets
        // the caller act on the word it lost to.
        self.word
            .compare_exchange(from.0, to.0, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(Word)
    }
}

/// The permit flags of a grant that carries its admission time: `P_TIMED` when calls
/// are timed, `P_DEADLINE` under a `call_timeout`.
#[inline]
fn start_flags(w: Word) -> u32 {
    let mut flags = 0;
    if w.0 & FLAG_TIMED != 0 {
        flags |= P_TIMED;
    }
    if w.0 & FLAG_DEADLINE != 0 {
        flags |= P_DEADLINE;
    }
    flags
}
