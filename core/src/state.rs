//! The breaker's states and the packed state word.
//!
//! Everything admission needs to know sits in one `AtomicU64`, so that admission is a
//! single load and every transition is a single compare-and-swap won by exactly one
//! thread:
//!
//! ```text
//!  63            32 31      20 19      8 7   6   5   4   3 2    0
//! +----------------+----------+---------+---+---+---+---+--------+
//! |   generation   | probe ok | probes  | - | F | R | L | state  |
//! +----------------+----------+---------+---+---+---+---+--------+
//! L = time calls (latency tracking)   R = slow-start ramp active
//! F = count calls in flight           probes = half-open probes in flight
//! probe ok = successful probes in this half-open generation
//! ```
//!
//! The generation goes up by one on every transition. A permit carries the generation
//! it was issued in; an outcome from an older generation is counted but cannot drive a
//! transition (one that arrives in Closed after a recovery stays out of the window the
//! recovery restarted: it counts in the lifetime totals only).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum State {
    /// Calls flow; outcomes are counted and may trip the breaker.
    Closed = 0,
    /// Calls are rejected until the open duration has passed.
    Open = 1,
    /// A bounded number of probes decide between closing and reopening.
    HalfOpen = 2,
    /// Held open by an operator: every call is rejected.
    ForcedOpen = 3,
    /// Held closed by an operator: every call flows, outcomes are counted, nothing trips.
    ForcedClosed = 4,
    /// Switched off: every call flows and nothing is counted.
    Disabled = 5,
    /// Every call flows and outcomes are counted, but the breaker never trips.
    MetricsOnly = 6,
}

impl State {
    /// Every state, by numeric value.
    pub const ALL: [State; 7] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::ForcedClosed,
        State::Disabled,
        State::MetricsOnly,
    ];

    /// Names by code: the one spelling of each state's name (see [`codes`](crate::codes)).
    const NAMES: [crate::codes::Name; 7] = [
        crate::codes::name!("closed"),
        crate::codes::name!("open"),
        crate::codes::name!("half_open"),
        crate::codes::name!("forced_open"),
        crate::codes::name!("forced_closed"),
        crate::codes::name!("disabled"),
        crate::codes::name!("metrics_only"),
    ];

    /// The state's stable number (0 closed ..= 6 metrics-only), as C sees it.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The state's name: `closed`, `open`, `half_open`, `forced_open`, ...
    pub const fn name(self) -> &'static str {
        State::NAMES[self as usize].0
    }

    /// The state's name, NUL-terminated, for C.
    pub const fn c_name(self) -> &'static std::ffi::CStr {
        State::NAMES[self as usize].1
    }

    /// The state with numeric value `v`, if any.
    pub fn from_u8(v: u8) -> Option<State> {
        State::ALL.get(v as usize).copied()
    }

    /// The state with code `code`, if any (the inverse of [`code`](State::code)).
    pub fn from_code(code: u8) -> Option<State> {
        State::from_u8(code)
    }

    /// Whether calls are admitted without limit in this state.
    pub fn admits_all(self) -> bool {
        matches!(
            self,
            State::Closed | State::ForcedClosed | State::Disabled | State::MetricsOnly
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub(crate) const STATE_MASK: u64 = 0b111;
/// Calls are timed from admission.
pub(crate) const FLAG_TIMED: u64 = 1 << 3;
/// Slow-start ramp in progress: Closed admission takes the slow path.
pub(crate) const FLAG_RAMP: u64 = 1 << 4;
/// Calls in flight are counted.
pub(crate) const FLAG_IN_FLIGHT: u64 = 1 << 5;
/// A `call_timeout` is set: permits carry their admission time, for their deadline.
pub(crate) const FLAG_DEADLINE: u64 = 1 << 6;
pub(crate) const FLAGS_MASK: u64 = FLAG_TIMED | FLAG_RAMP | FLAG_IN_FLIGHT | FLAG_DEADLINE;

const PROBES_SHIFT: u32 = 8;
const PROBE_OK_SHIFT: u32 = 20;
const FIELD_MASK: u64 = 0xFFF;
const GEN_SHIFT: u32 = 32;

/// A decoded copy of the state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    pub(crate) fn new(state: State, generation: u32, flags: u64) -> Word {
        Word(state as u64 | (flags & FLAGS_MASK) | ((generation as u64) << GEN_SHIFT))
    }

    #[inline]
    pub(crate) fn state(self) -> State {
        // The state field only ever holds values written by `Word::new`.
        State::from_u8((self.0 & STATE_MASK) as u8).unwrap_or(State::Closed)
    }

    #[inline]
    pub(crate) fn generation(self) -> u32 {
        (self.0 >> GEN_SHIFT) as u32
    }

    #[inline]
    pub(crate) fn flags(self) -> u64 {
        self.0 & FLAGS_MASK
    }

    #[inline]
    pub(crate) fn probes(self) -> u32 {
        ((self.0 >> PROBES_SHIFT) & FIELD_MASK) as u32
    }

    #[inline]
    pub(crate) fn probe_successes(self) -> u32 {
        ((self.0 >> PROBE_OK_SHIFT) & FIELD_MASK) as u32
    }

    /// The word of the next generation in `state`, with no probes, keeping the flags.
    pub(crate) fn next(self, state: State) -> Word {
        Word::new(state, self.generation().wrapping_add(1), self.flags())
    }

    pub(crate) fn with_probes(self, probes: u32) -> Word {
        debug_assert!(probes as u64 <= FIELD_MASK);
        Word(
            (self.0 & !(FIELD_MASK << PROBES_SHIFT))
                | ((probes as u64 & FIELD_MASK) << PROBES_SHIFT),
        )
    }

    pub(crate) fn with_probe_successes(self, n: u32) -> Word {
        Word(
            (self.0 & !(FIELD_MASK << PROBE_OK_SHIFT))
                | ((n.min(FIELD_MASK as u32) as u64) << PROBE_OK_SHIFT),
        )
    }

    pub(crate) fn with_flags(self, flags: u64) -> Word {
        Word((self.0 & !FLAGS_MASK) | (flags & FLAGS_MASK))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_without_touching_each_other() {
        let w = Word::new(State::HalfOpen, u32::MAX, FLAG_TIMED | FLAG_IN_FLIGHT)
            .with_probes(4095)
            .with_probe_successes(17);
        assert_eq!(w.state(), State::HalfOpen);
        assert_eq!(w.generation(), u32::MAX);
        assert_eq!(w.probes(), 4095);
        assert_eq!(w.probe_successes(), 17);
        assert_eq!(w.flags(), FLAG_TIMED | FLAG_IN_FLIGHT);
        let n = w.next(State::Closed);
        assert_eq!(
            (n.state(), n.generation(), n.probes(), n.probe_successes()),
            (State::Closed, 0, 0, 0)
        );
        assert_eq!(n.flags(), w.flags());
        for s in State::ALL {
            assert_eq!(State::from_u8(s as u8), Some(s));
            assert_eq!(Word::new(s, 7, 0).state(), s);
        }
    }
}
