//! What a caller gets back when the breaker says no: [`Rejected`], and [`CallError`]
//! for the calls the breaker runs itself.

use super::names::NameHandle;
use crate::events::Reason;
use crate::state::State;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Why a call was not admitted: which breaker, in which state, why it opened, and
/// when to come back.
///
/// Displays as, for example, `circuit breaker 'inventory' is open (failure rate
/// 55.0% >= 50.0%): call rejected, retry after 853ms`.
///
/// A plain `Copy` value: making one bumps no reference count and dropping one does
/// nothing, so a rejection costs the same on every core during an outage. It names
/// its breaker by a handle, read by [`name`](Rejected::name).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// The state that rejected the call.
    pub state: State,
    /// How long until a call may be admitted, when known.
    pub retry_after: Option<Duration>,
    /// Why the breaker last opened (held open, for `ForcedOpen`), when the state is
    /// one of the open ones.
    pub opened_by: Option<Reason>,
    /// The breaker that rejected the call.
    pub(super) breaker: NameHandle,
}

impl Rejected {
    /// A rejection made by hand (a test double, a binding's own refusal), naming no
    /// breaker.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tripgate::{Rejected, State};
    ///
    /// let r = Rejected::new(State::Open, Some(Duration::from_millis(853)), None);
    /// assert_eq!(r.to_string(), "circuit breaker is open: call rejected, retry after 853ms");
    /// assert_eq!(&*r.name(), "");
    /// ```
    pub fn new(state: State, retry_after: Option<Duration>, opened_by: Option<Reason>) -> Self {
        Rejected {
            state,
            retry_after,
            opened_by,
            breaker: NameHandle::UNNAMED,
        }
    }

    /// The name of the breaker that rejected the call (`Config::name`, as renamed
    /// since by a reconfiguration); empty when unnamed, and once that breaker is
    /// dropped.
    ///
    /// ```
    /// use tripgate::{Breaker, Config};
    ///
    /// let breaker = Breaker::new(Config::builder().name("inventory").build()?)?;
    /// breaker.force_open();
    /// let rejected = breaker.try_acquire().unwrap_err();
    /// assert_eq!(&*rejected.name(), "inventory");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> Arc<str> {
        self.breaker.get().unwrap_or_else(|| Arc::from(""))
    }
}

impl fmt::Debug for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("state", &self.state)
            .field("retry_after", &self.retry_after)
            .field("opened_by", &self.opened_by)
            .field("name", &self.name())
            .finish()
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("circuit breaker ")?;
        let name = self.name();
        if !name.is_empty() {
            write!(f, "'{name}' ")?;
        }
        write!(f, "is {}", self.state)?;
        if let Some(reason) = &self.opened_by {
            write!(f, " ({reason})")?;
        }
        f.write_str(": call rejected")?;
        if let Some(d) = self.retry_after {
            write!(f, ", retry after {}", Rounded(d))?;
        }
        Ok(())
    }
}

/// A duration rounded for people: at most three significant digits in the largest
/// unit that keeps it at least one (`1.23s`, `853ms`, `40us`, `7ns`).
pub(crate) struct Rounded(pub(crate) Duration);

impl fmt::Display for Rounded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(f64, &str); 4] = [(1.0, "ns"), (1e3, "us"), (1e6, "ms"), (1e9, "s")];
        let nanos = self.0.as_nanos() as f64;
        let mut unit = UNITS
            .iter()
            .rposition(|&(scale, _)| nanos >= scale)
            .unwrap_or(0);
        loop {
            let (scale, name) = UNITS[unit];
            let value = nanos / scale;
            let decimals = if value >= 100.0 || unit == 0 {
                0
            } else if value >= 10.0 {
                1
            } else {
                2
            };
            let text = format!("{value:.decimals$}");
            // 999.6ms rounds to 1000ms: say 1s instead.
            if unit + 1 < UNITS.len() && text.parse::<f64>().unwrap_or(0.0) >= 1000.0 {
                unit += 1;
                continue;
            }
            let text = if text.contains('.') {
                text.trim_end_matches('0').trim_end_matches('.')
            } else {
                &text
            };
            return write!(f, "{text}{name}");
        }
    }
}

impl std::error::Error for Rejected {}

/// The error of a guarded call: rejected by the breaker, failed on its own, or cut
/// short at its `call_timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError<E> {
    /// The breaker did not admit the call; it was never made.
    Rejected(Rejected),
    /// The call was made and failed.
    Failed(E),
    /// The call was still running at its deadline (admission plus the `call_timeout`,
    /// the duration carried here): it was cancelled (its future dropped) and recorded
    /// as a [`FailureKind::Timeout`](crate::FailureKind::Timeout). Only an async call
    /// given a [`Timer`](crate::Timer) is cut short; see
    /// [`Breaker::call_async_with`](crate::Breaker::call_async_with).
    Timeout(Duration),
}

impl<E> CallError<E> {
    /// Whether the breaker rejected the call (it was never made).
    pub fn is_rejected(&self) -> bool {
        matches!(self, CallError::Rejected(_))
    }

    /// Whether the call was cut short at its deadline.
    pub fn is_timeout(&self) -> bool {
        matches!(self, CallError::Timeout(_))
    }
}

impl<E: fmt::Display> fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Rejected(r) => r.fmt(f),
            CallError::Failed(e) => e.fmt(f),
            CallError::Timeout(d) => write!(f, "call timed out after {}", Rounded(*d)),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for CallError<E> {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::breaker::names::NameSlot;

    #[test]
    fn durations_round_to_three_significant_digits() {
        let r = |nanos: u64| Rounded(Duration::from_nanos(nanos)).to_string();
        assert_eq!(r(0), "0ns");
        assert_eq!(r(7), "7ns");
        assert_eq!(r(999), "999ns");
        assert_eq!(r(40_000), "40us");
        assert_eq!(r(1_234), "1.23us");
        assert_eq!(r(853_400_000), "853ms");
        assert_eq!(r(999_600_000), "1s");
        assert_eq!(r(1_200_000_000), "1.2s");
        assert_eq!(r(12_345_000_000), "12.3s");
        assert_eq!(r(3_600_000_000_000), "3600s");
    }

    #[test]
    fn a_rejection_says_who_and_why() {
        let inventory = NameSlot::new("inventory");
        let r = Rejected {
            state: State::Open,
            retry_after: Some(Duration::from_millis(853)),
            opened_by: Some(Reason::FailureRate {
                rate: 0.55,
                threshold: 0.5,
            }),
            breaker: inventory.handle(),
        };
        assert_eq!(
            r.to_string(),
            "circuit breaker 'inventory' is open (failure rate 55.0% >= 50.0%): \
             call rejected, retry after 853ms"
        );
        // Once its breaker is gone, a rejection names none.
        drop(inventory);
        assert_eq!(
            r.to_string(),
            "circuit breaker is open (failure rate 55.0% >= 50.0%): \
             call rejected, retry after 853ms"
        );
        let r = Rejected::new(State::ForcedOpen, None, None);
        assert_eq!(
            r.to_string(),
            "circuit breaker is forced_open: call rejected"
        );
        let t = CallError::<String>::Timeout(Duration::from_millis(250));
        assert_eq!(t.to_string(), "call timed out after 250ms");
        assert!(t.is_timeout() && !t.is_rejected());
    }
}
