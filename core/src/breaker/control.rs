//! Manual control, live reconfiguration and listener registration.

use super::*;

impl<C: Clock> Breaker<C> {
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
            let won = next == w || self.cas(w, next).is_ok();
            if !won {
                w = self.load_word();
                continue;
            }
            self.streak.clear(next.generation());
            self.cold.lock().backoff.reset(now);
            self.window
                .restart(Shape::of(&self.config.load().window), now);
            self.hot.needs_eval.store(false, Ordering::Relaxed);
            if !in_place {
                self.published(w, next, Reason::Manual, now, None);
            }
            return;
        }
    }

    pub(super) fn set_manual(&self, to: State) {
        let now = self.clock.coarse_nanos();
        let mut w = self.load_word();
        loop {
            if w.state() == to {
                return;
            }
            let next = w.next(to).with_flags(w.flags() & !FLAG_RAMP);
            match self.cas(w, next) {
                Ok(()) => {
                    self.published(w, next, Reason::Manual, now, None);
                    return;
                }
                Err(actual) => w = actual,
            }
        }
    }

    // ---------------------------------------------------------- reconfiguration

    /// Replaces the config while the breaker runs. An invalid config is refused and
    /// the old one keeps running.
    ///
    /// State, backoff and counters always survive. The window's contents survive when
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
        let _cold = self.cold.lock();
        let reshaped = Shape::of(&old.window) != shape;
        self.config.store(Arc::new(config.clone()));
        self.hot.load_from(&config);
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
        self.hot.needs_eval.store(true, Ordering::Relaxed);
        Ok(())
    }

    // --------------------------------------------------------------- listeners

    /// Registers a transition listener. It runs on the thread that won the transition,
    /// after the new state is published and outside every lock.
    pub fn add_listener(&self, f: impl Fn(&Transition) + Send + Sync + 'static) -> ListenerId {
        self.listeners.add(Arc::new(f) as Listener)
    }

    /// Removes a listener; returns whether it was registered.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.listeners.remove(id)
    }
}
