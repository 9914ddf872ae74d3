//! Transitions won by compare-and-swap, and what the winner does after: deadlines,
//! window restart, backoff, events.

use super::*;

impl<C: Clock> Breaker<C> {
    pub(super) fn trip(&self, mut w: Word, reason: Reason, now: u64) {
        loop {
            let next = w.next(State::Open).with_flags(w.flags() & !FLAG_RAMP);
            match self.cas(w, next) {
                Ok(()) => return self.opened(w, next, reason, now, false),
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
    pub(super) fn opened(&self, from: Word, to: Word, reason: Reason, now: u64, retrip: bool) {
        let config = self.config.load();
        let min_open = config.anti_thrash.map_or(0, |a| {
            u64::try_from(a.min_open.as_nanos()).unwrap_or(u64::MAX)
        });
        let duration =
            self.cold
                .lock()
                .backoff
                .next_open_at_least(&config.open, now, retrip, min_open);
        // ordering: Release pairs with the Acquire load in `acquire_open`.
        self.hot.open_until.store(
            stamp(to.generation(), now.saturating_add(duration)),
            Ordering::Release,
        );
        self.hot.needs_eval.store(false, Ordering::Relaxed);
        self.published(from, to, reason, now, Some(Duration::from_nanos(duration)));
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
                    if ok >= self.hot.success_threshold.load(Ordering::Relaxed) {
                        self.close_word(w)
                    } else {
                        w.with_probes(probes).with_probe_successes(ok)
                    }
                }
            };
            match self.cas(w, next) {
                Ok(()) => {
                    match next.state() {
                        State::Open => self.opened(w, next, Reason::ProbeFailed, now, true),
                        State::Closed => {
                            let successes = w.probe_successes() + 1;
                            self.closed(w, next, Reason::ProbesSucceeded { successes }, now)
                        }
                        _ => {}
                    }
                    return true;
                }
                Err(actual) => w = actual,
            }
        }
    }

    /// The Closed word that follows `w`, with the slow-start ramp flag when configured.
    pub(super) fn close_word(&self, w: Word) -> Word {
        let ramp = self.hot.ramp_nanos.load(Ordering::Relaxed) > 0;
        let flags = (w.flags() & !FLAG_RAMP) | if ramp { FLAG_RAMP } else { 0 };
        w.next(State::Closed).with_flags(flags)
    }

    /// After winning a transition to Closed: fresh window, backoff clock, ramp start.
    pub(super) fn closed(&self, from: Word, to: Word, reason: Reason, now: u64) {
        self.hot
            .closed_at
            .store(now.saturating_add(1), Ordering::Relaxed);
        self.hot
            .ramp_start
            .store(stamp(to.generation(), now), Ordering::Release);
        let shape = Shape::of(&self.config.load().window);
        self.window.restart(shape, now);
        self.hot.needs_eval.store(false, Ordering::Relaxed);
        self.cold.lock().backoff.closed(now);
        self.published(from, to, reason, now, None);
    }

    /// Bookkeeping and event for a transition this thread won.
    pub(super) fn published(
        &self,
        from: Word,
        to: Word,
        reason: Reason,
        now: u64,
        open_for: Option<Duration>,
    ) {
        self.totals.state_since.store(now, Ordering::Relaxed);
        self.totals.transitions.fetch_add(1, Ordering::Relaxed);
        {
            let mut cold = self.cold.lock();
            if cold.recent_transitions.len() == RECENT_TRANSITIONS {
                cold.recent_transitions.pop_front();
            }
            cold.recent_transitions.push_back(now);
        }
        self.listeners.emit(&Transition {
            from: from.state(),
            to: to.state(),
            reason,
            generation: to.generation(),
            at_nanos: now,
            at: self.clock.wall_time(now),
            open_for,
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProbeResult {
    Succeeded,
    Failed,
    Released,
}
