//! Manual control, live reconfiguration and listener registration.

use super::*;

impl<C: Clock> Breaker<C> {
    /// Opens the breaker as a trip would: for the configured open duration (with
    /// backoff), then half-open probes decide. Does nothing if it is already open.
    pub fn open(&self) {
        self.open_manually(None);
    }

    /// Opens the breaker for `duration` (exactly: no backoff, no jitter), then
    /// half-open probes decide. An open breaker starts a new opening.
    pub fn open_for(&self, duration: Duration) {
        let now = self.clock.coarse_nanos();
        self.open_manually(Some(now.saturating_add(nanos(duration))));
    }

    /// Opens the breaker until `deadline_nanos` on its clock
    /// ([`Clock::now_nanos`]), then half-open probes decide. A deadline already past
    /// admits the next call as a probe. An open breaker starts a new opening.
    pub fn open_until(&self, deadline_nanos: u64) {
        self.open_manually(Some(deadline_nanos));
    }

    /// Moves the breaker to Half-Open from any state: the next calls are probes.
    /// Does nothing if it is already half-open.
    pub fn half_open(&self) {
        let now = self.clock.coarse_nanos();
        self.transition_manually(State::HalfOpen, |w, next, p| {
            self.timeline.lease_start.set(next.generation(), now);
            self.published(w, next, Reason::ManualHalfOpen, now, None, p);
        });
    }

    /// Closes the breaker as recovering probes would: fresh window, slow start if
    /// configured. Does nothing if it is already closed.
    pub fn close(&self) {
        let now = self.clock.coarse_nanos();
        self.transition_manually(State::Closed, |w, next, p| {
            self.closed(w, next, Reason::ManualClose, now, p)
        });
    }

    fn open_manually(&self, until: Option<u64>) {
        let now = self.clock.coarse_nanos();
        let mut w = self.load_word();
        loop {
            if until.is_none() && w.state() == State::Open {
                return self.dispatch_events();
            }
            let next = w.next(State::Open).with_flags(w.flags() & !FLAG_RAMP);
            match self.transition(w, next) {
                Ok(p) => {
                    return match until {
                        None => self.opened(w, next, Reason::ManualOpen, now, false, p),
                        Some(t) => self.opened_until(w, next, Reason::ManualOpen, now, t, p),
                    }
                }
                Err(actual) => w = actual,
            }
        }
    }

    /// Moves the breaker to `to` unless it is there; `won` publishes the transition.
    fn transition_manually(&self, to: State, won: impl Fn(Word, Word, Publishing<'_>)) {
        let mut w = self.load_word();
        loop {
            if w.state() == to {
                return self.dispatch_events();
            }
            let next = match to {
                State::Closed => self.close_word(w),
                _ => w.next(to).with_flags(w.flags() & !FLAG_RAMP),
            };
            match self.transition(w, next) {
                Ok(p) => return won(w, next, p),
                Err(actual) => w = actual,
            }
        }
    }

    /// Holds the breaker open: every call is rejected until another manual call.
    pub fn force_open(&self) {
        self.set_manual(State::ForcedOpen);
    }

    /// Holds the breaker closed: every call flows and is counted; nothing trips.
    pub fn force_closed(&self) {
        self.set_manual(State::ForcedClosed);
    }

    /// Switches the breaker off: every call flows and nothing is counted.
    pub fn disable(&self) {
        self.set_manual(State::Disabled);
    }

    /// Counts every call but never trips.
    pub fn metrics_only(&self) {
        self.set_manual(State::MetricsOnly);
    }

    /// Back to Closed with an empty window, no failure streak, no slow-start ramp and no
    /// backoff; lifetime totals are kept.
    ///
    /// A breaker already Closed stays in its generation and publishes no transition: the
    /// window, streak, ramp and backoff are cleared in place, and calls admitted before
    /// the reset count in the fresh window when they report.
    pub fn reset(&self) {
        let now = self.clock.coarse_nanos();
        let mut w = self.load_word();
        loop {
            let in_place = w.state() == State::Closed;
            let next = if in_place {
                w.with_flags(w.flags() & !FLAG_RAMP)
            } else {
                w.next(State::Closed).with_flags(w.flags() & !FLAG_RAMP)
            };
            let publishing = if in_place {
                if next != w {
                    if let Err(actual) = self.cas(w, next) {
                        w = actual;
                        continue;
                    }
                }
                None
            } else {
                match self.transition(w, next) {
                    Ok(p) => Some(p),
                    Err(actual) => {
                        w = actual;
                        continue;
                    }
                }
            };
            self.attention.streak.clear(next.generation());
            self.backoff.lock().reset(now);
            self.window
                .restart(Shape::of(&self.config.load().window), now);
            self.attention.look_again.store(false, Ordering::Relaxed);
            match publishing {
                Some(p) => self.published(w, next, Reason::Manual, now, None, p),
                None => self.dispatch_events(),
            }
            return;
        }
    }

    pub(super) fn set_manual(&self, to: State) {
        let now = self.clock.coarse_nanos();
        self.transition_manually(to, |w, next, p| {
            if to == State::ForcedOpen {
                self.set_opened_by(Reason::Manual);
            }
            self.published(w, next, Reason::Manual, now, None, p)
        });
    }

    // ---------------------------------------------------------- reconfiguration

    /// Replaces the config while the breaker runs. An invalid config is refused and
    /// the old one keeps running.
    ///
    /// State, backoff and counters always survive; a new `name` is what rejections
    /// carry from then on. The window's contents survive when
    /// its shape (kind, size or duration, buckets) is unchanged; otherwise the window
    /// restarts empty in the new shape. A window can never grow past the buckets it
    /// was built with, a window built count-based cannot become time-based (it keeps
    /// no call counters per bucket), and latency tracking or histogram precision
    /// cannot be switched on or changed live: all need memory the breaker does not
    /// have (build a new breaker instead).
    pub fn reconfigure(&self, config: Config) -> Result<(), ConfigError> {
        config.validate()?;
        let old = self.config.load_full();
        LiveLimits {
            buckets: self.window.capacity(),
            time_based: !self.window.built_count_based(),
            histogram_precision: self
                .window
                .has_histograms()
                .then_some(old.histogram_precision),
        }
        .check(&config)?;
        let shape = Shape::of(&config.window);
        let now = self.clock.coarse_nanos();
        let reconfiguring = self.reconfiguring.lock();
        let reshaped = Shape::of(&old.window) != shape;
        if config.name != old.name {
            self.set_rejection_name(&config.name);
        }
        self.config.store(Arc::new(config.clone()));
        self.options.load_from(&config);
        let mut w = self.load_word();
        loop {
            let mut flags = Self::flags_for(&config) | (w.flags() & FLAG_RAMP);
            if config.slow_start.is_none() {
                flags &= !FLAG_RAMP;
            }
            if flags == w.flags() {
                break;
            }
            match self.cas(w, w.with_flags(flags)) {
                Ok(()) => break,
                Err(actual) => w = actual,
            }
        }
        if reshaped {
            self.window.restart(shape, now);
        }
        self.attention.look_again.store(true, Ordering::Relaxed);
        drop(reconfiguring);
        self.dispatch_events();
        Ok(())
    }

    // --------------------------------------------------------------- listeners

    /// Registers a transition listener. It runs after the new state is published,
    /// outside every lock, on the thread that delivers the event: the one that won the
    /// transition, except on admission (see [`dispatch_events`](Breaker::dispatch_events)).
    ///
    /// It sees every transition that begins after this call returns. The first
    /// listener of a breaker may miss a transition racing with its registration (one
    /// that began before it and completed after): a breaker with no listener keeps no
    /// events at all.
    pub fn add_listener(&self, f: impl Fn(&Transition) + Send + Sync + 'static) -> ListenerId {
        self.events
            .add(Arc::new(f) as Listener, self.load_word().generation())
    }

    /// Delivers the events of transitions won on admission that no later call has
    /// delivered yet, on this thread (unless another thread is delivering: it delivers
    /// them, and this call returns at once).
    ///
    /// Admission (`try_acquire`, `acquire_raw`) never runs listeners: a caller that
    /// moves the breaker from Open to Half-Open, or reclaims expired probe slots, only
    /// queues the event. Any later call that records, releases, controls, reconfigures
    /// or takes a snapshot delivers it first, and the winner's own probe permit is such
    /// a call. A call about to run ([`call`](Breaker::call) and its forms,
    /// [`acquire_raw_to_run`](Breaker::acquire_raw_to_run)) delivers it before the
    /// probe runs.
    pub fn dispatch_events(&self) {
        // ordering: Relaxed; the queue synchronises what it holds. Load first: the bit
        // is rarely set, and a clear that finds it unset would write the line for
        // nothing (a bit set after the load asks the next record to deliver, which is
        // harmless).
        if self.attention.flags.load(Ordering::Relaxed) & EVENTS_WAITING != 0 {
            self.attention
                .flags
                .fetch_and(!EVENTS_WAITING, Ordering::Relaxed);
        }
        self.events.dispatch(&self.attention.flags);
    }

    /// Removes a listener; returns whether it was registered.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.events.listeners().remove(id).0
    }

    /// Registers a call listener: it sees every counted outcome (success, failure,
    /// ignored) and every rejection, inline on the thread that records or is
    /// rejected, so it must be quick. With none registered, a record pays one load.
    pub fn add_call_listener(&self, f: impl Fn(&CallEvent) + Send + Sync + 'static) -> ListenerId {
        let id = self.call_listeners.add(Arc::new(f));
        // ordering: Relaxed; a record racing with the registration may miss it.
        self.attention
            .flags
            .fetch_or(CALL_LISTENERS, Ordering::Relaxed);
        id
    }

    /// Removes a call listener; returns whether it was registered.
    pub fn remove_call_listener(&self, id: ListenerId) -> bool {
        let (found, left) = self.call_listeners.remove(id);
        if !left {
            self.attention
                .flags
                .fetch_and(!CALL_LISTENERS, Ordering::Relaxed);
        }
        found
    }
}
