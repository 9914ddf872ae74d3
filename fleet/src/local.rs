//! [`LocalBreaker`]: everything the fleet does to a replica's breaker, through the
//! breaker's public API and from the fleet's own thread.
//!
//! This is the one place that maps the fleet's two actions onto the engine:
//! - **hold open** (adoption, or keeping a tripped breaker shut while another replica
//!   probes): [`Breaker::force_open`]; the fleet's thread measures the hold and ends it.
//!   Not [`Breaker::open_for`]: a timed open expires into half-open on the replica's own
//!   clock, so every held replica would probe at its deadline (one probe per replica,
//!   not per fleet), and it could not be told apart from the breaker's own opening
//!   (`is_held` recognises a hold as `ForcedOpen`);
//! - **release to probe** (the fleet recovered while it held a breaker that had tripped
//!   on its own): [`Breaker::half_open`]: closing is never propagated, so that breaker
//!   is closed only by its own `half_open.permits` probes, as it would have been at the
//!   end of its own open time;
//! - **release** (the hold's time is up and this replica won the probe lease, or the
//!   fleet recovered): [`Breaker::reset`], back to Closed with an empty window, so the
//!   next `minimum_calls` calls are this replica's probe, judged by the breaker's own
//!   rules (a failing dependency trips it again at once). Not [`Breaker::half_open`]:
//!   its `half_open.permits` probes would settle the replica alone, while the fleet
//!   announces recovery only once the lease holder's window has filled.
//!
//! The call path never sees the fleet: admission and recording read only the breaker.

use std::sync::Arc;
use std::time::Duration;
use tripgate::{Breaker, Clock, ListenerId, State, Transition};

/// What the fleet reads from a breaker at each round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalView {
    /// The breaker's state.
    pub state: State,
    /// Its generation.
    pub generation: u32,
    /// How long it stays open, when it is open on its own.
    pub open_for: Option<Duration>,
    /// Calls in its window.
    pub window_calls: u64,
    /// Failures in its window (from the weighted rate, rounded).
    pub window_failures: u64,
    /// The breaker's own `minimum_calls`.
    pub minimum_calls: u64,
    /// Now, on the breaker's clock, in nanoseconds.
    pub now_nanos: u64,
}

impl LocalView {
    /// The window's failure rate (0 when empty).
    pub fn failure_rate(&self) -> f64 {
        if self.window_calls == 0 {
            0.0
        } else {
            self.window_failures as f64 / self.window_calls as f64
        }
    }
}

/// A breaker the fleet can read and steer.
pub trait LocalBreaker: Send + Sync + 'static {
    /// A reading for this round.
    fn view(&self) -> LocalView;
    /// Whether `view` is a hold the fleet placed (and nobody has changed since).
    fn is_held(&self, view: &LocalView) -> bool;
    /// Holds the breaker open; the fleet ends the hold with [`release`](Self::release).
    fn hold_open(&self);
    /// Ends a hold: the breaker runs on its own again, and its next calls probe.
    fn release(&self);
    /// Ends a hold into the breaker's own half-open: its own probes close it or open
    /// it again (a breaker that had tripped on its own, once the fleet recovered).
    fn release_to_probe(&self);
    /// Calls `f` on each transition (from the transitioning thread: it must not block).
    fn watch(&self, f: Box<dyn Fn(&Transition) + Send + Sync>) -> ListenerId;
    /// Removes a watch.
    fn unwatch(&self, id: ListenerId);
}

impl<C: Clock> LocalBreaker for Breaker<C> {
    fn view(&self) -> LocalView {
        let s = self.snapshot();
        let config = self.config();
        LocalView {
            state: s.state,
            generation: s.generation,
            open_for: (s.state == State::Open).then(|| s.retry_after.unwrap_or_default()),
            window_calls: s.window_calls,
            window_failures: (s.failure_rate * s.window_calls as f64).round() as u64,
            minimum_calls: u64::from(config.minimum_calls),
            now_nanos: self.clock().now_nanos(),
        }
    }

    fn is_held(&self, view: &LocalView) -> bool {
        view.state == State::ForcedOpen
    }

    fn hold_open(&self) {
        self.force_open();
    }

    fn release(&self) {
        // Only a hold of ours is ended: an operator's change since stands.
        if self.state() == State::ForcedOpen {
            self.reset();
        }
    }

    fn release_to_probe(&self) {
        // Only a hold of ours is ended: an operator's change since stands.
        if self.state() == State::ForcedOpen {
            self.half_open();
        }
    }

    fn watch(&self, f: Box<dyn Fn(&Transition) + Send + Sync>) -> ListenerId {
        self.add_listener(f)
    }

    fn unwatch(&self, id: ListenerId) {
        self.remove_listener(id);
    }
}

/// A shared breaker, as the fleet keeps it.
pub type SharedBreaker = Arc<dyn LocalBreaker>;
