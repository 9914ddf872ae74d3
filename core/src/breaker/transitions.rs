//! Transitions won by compare-and-swap, and what the winner does after: deadlines,
//! window restart, backoff, events.

use super::*;

impl<C: Clock> Breaker<C> {
    pub(super) fn trip(&self, mut w: Word, reason: Reason, now: u64) {
        loop {
            let next = w.next(State::Open).with_flags(w.flags() & !FLAG_RAMP);
            match self.transition(w, next) {
                Ok(p) => return self.opened(w, next, reason, now, false, p),
                // Only a flag changed (the ramp ended, a reconfiguration): same state,
                // same generation, so the verdict still stands.
                Err(actual)
                    if actual.state() == State::Closed && actual.generation() == w.generation() =>
                {
                    w = actual
                }
                // Another thread moved the breaker on: its transition stands.
                Err(_) => return,
            }
        }
    }

    /// After winning a transition to Open: deadline, then event.
    pub(super) fn opened(
        &self,
        from: Word,
        to: Word,
        reason: Reason,
        now: u64,
        retrip: bool,
        publishing: Publishing<'_>,
    ) {
        let config = self.config.load();
        let min_open = config.anti_thrash.map_or(0, |a| nanos(a.min_open));
        let duration = self
            .backoff
            .lock()
            .next_open_at_least(&config.open, now, retrip, min_open);
        let until = now.saturating_add(duration);
        self.opened_until(from, to, reason, now, until, publishing);
    }

    /// After winning a transition to Open that lasts until `until`: deadline, event.
    pub(super) fn opened_until(
        &self,
        from: Word,
        to: Word,
        reason: Reason,
        now: u64,
        until: u64,
        publishing: Publishing<'_>,
    ) {
        self.timeline.open_until.set(to.generation(), until);
        self.set_opened_by(reason);
        self.attention.look_again.store(false, Ordering::Relaxed);
        let open_for = Some(Duration::from_nanos(until.saturating_sub(now)));
        self.published(from, to, reason, now, open_for, publishing);
    }

    /// Applies a probe's result to the half-open state. Returns false for a probe of an
    /// earlier generation, which decides nothing.
    pub(super) fn settle_probe(&self, permit: Grant, result: ProbeResult, now: u64) -> bool {
        let mut w = self.load_word();
        loop {
            if w.state() != State::HalfOpen || w.generation() != permit.generation {
                return false;
            }
            if w.probes() == 0 {
                // Every slot of this generation is answered already: this is a copy of
                // a probe answered twice (see the `permit` module). It decides nothing.
                return false;
            }
            let probes = w.probes() - 1;
            let next = match result {
                ProbeResult::Released => w.with_probes(probes),
                ProbeResult::Failed => w.next(State::Open).with_flags(w.flags() & !FLAG_RAMP),
                ProbeResult::Succeeded => {
                    let ok = w.probe_successes() + 1;
                    if ok >= self.options.success_threshold.load(Ordering::Relaxed) {
                        self.close_word(w)
                    } else {
                        w.with_probes(probes).with_probe_successes(ok)
                    }
                }
            };
            let publishing = (next.generation() != w.generation()).then(|| self.events.begin());
            match self.cas(w, next) {
                Ok(()) => {
                    match (next.state(), publishing) {
                        (State::Open, Some(p)) => {
                            self.opened(w, next, Reason::ProbeFailed, now, true, p)
                        }
                        (State::Closed, Some(p)) => {
                            let successes = w.probe_successes() + 1;
                            self.closed(w, next, Reason::ProbesSucceeded { successes }, now, p)
                        }
                        _ => self.deliver_waiting_events(),
                    }
                    return true;
                }
                Err(actual) => w = actual,
            }
        }
    }

    /// The Closed word that follows `w`, with the slow-start ramp flag when configured.
    pub(super) fn close_word(&self, w: Word) -> Word {
        let ramp = self.options.ramp_nanos.load(Ordering::Relaxed) > 0;
        let flags = (w.flags() & !FLAG_RAMP) | if ramp { FLAG_RAMP } else { 0 };
        w.next(State::Closed).with_flags(flags)
    }

    /// After winning a transition to Closed: fresh window, backoff clock, ramp start.
    pub(super) fn closed(
        &self,
        from: Word,
        to: Word,
        reason: Reason,
        now: u64,
        publishing: Publishing<'_>,
    ) {
        self.timeline
            .closed_at
            .store(now.saturating_add(1), Ordering::Relaxed);
        // Read only under the ramp flag, which only this transition sets.
        if to.flags() & FLAG_RAMP != 0 {
            self.timeline.ramp_start.set(to.generation(), now);
        }
        let shape = Shape::of(&self.config.load().window);
        self.window.restart(shape, now);
        self.attention.look_again.store(false, Ordering::Relaxed);
        self.backoff.lock().closed(now);
        self.published(from, to, reason, now, None, publishing);
    }

    /// Bookkeeping and event for a transition this thread won off the admission path:
    /// the event is queued behind any older one and delivered (see
    /// [`dispatch_events`](Breaker::dispatch_events)).
    pub(super) fn published(
        &self,
        from: Word,
        to: Word,
        reason: Reason,
        now: u64,
        open_for: Option<Duration>,
        publishing: Publishing<'_>,
    ) {
        self.announce(from, to, reason, now, open_for, publishing);
        self.dispatch_events();
    }

    /// [`published`](Breaker::published) for a transition won on admission: the event
    /// is only queued, for the next call that delivers (no lock, no listener here).
    pub(super) fn queued(
        &self,
        from: Word,
        to: Word,
        reason: Reason,
        now: u64,
        publishing: Publishing<'_>,
    ) {
        if self.announce(from, to, reason, now, None, publishing) {
            // ordering: Release, so that a record that sees the flag (Relaxed, then the
            // queue's own synchronisation) finds the event queued.
            self.attention
                .flags
                .fetch_or(EVENTS_WAITING, Ordering::Release);
        }
    }

    fn announce(
        &self,
        from: Word,
        to: Word,
        reason: Reason,
        now: u64,
        open_for: Option<Duration>,
        publishing: Publishing<'_>,
    ) -> bool {
        // The streak moves into the new generation with its count: outcomes of calls
        // admitted before the transition no longer touch it, and readers still see it.
        // (On an admission path this may retry only while a record races with it.)
        self.attention.streak.carry_into(to.generation());
        // ordering: Relaxed, statistics.
        self.timeline.state_since.store(now, Ordering::Relaxed);
        self.timeline.transitions.fetch_add(1, Ordering::Relaxed);
        self.timeline.recent.push(to.generation(), now);
        let event = Transition {
            from: from.state(),
            to: to.state(),
            reason,
            generation: to.generation(),
            at_nanos: now,
            at: self.clock.wall_time(now),
            open_for,
        };
        self.events.queue(event, publishing)
    }

    /// What a record or release does about events queued on admission: one load while
    /// there are none.
    #[inline]
    pub(super) fn deliver_waiting_events(&self) {
        // ordering: Relaxed; the queue synchronises what it holds.
        if self.attention.flags.load(Ordering::Relaxed) & EVENTS_WAITING != 0 {
            self.dispatch_events();
        }
    }

    /// What a record does after counting its outcome: deliver queued transition events
    /// and tell call listeners. One load while there is nothing to do.
    #[inline]
    pub(super) fn attend(&self, call: impl FnOnce() -> CallEvent) {
        // ordering: Relaxed; the queue and the listener list synchronise themselves.
        let flags = self.attention.flags.load(Ordering::Relaxed);
        if flags != 0 {
            self.attend_flags(flags, call());
        }
    }

    #[inline(never)]
    fn attend_flags(&self, flags: u32, call: CallEvent) {
        if flags & EVENTS_WAITING != 0 {
            self.dispatch_events();
        }
        if flags & CALL_LISTENERS != 0 {
            self.call_listeners.emit(&call);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProbeResult {
    Succeeded,
    Failed,
    Released,
}
