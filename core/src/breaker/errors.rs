//! What a caller gets back when the breaker says no: [`Rejected`], and [`CallError`]
//! for the calls the breaker runs itself.

use crate::state::State;
use std::fmt;
use std::time::Duration;

/// Why a call was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// The state that rejected the call.
    pub state: State,
    /// How long until a call may be admitted, when known.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "circuit breaker is {}: call rejected", self.state)?;
        if let Some(d) = self.retry_after {
            write!(f, " (retry after {d:?})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejected {}

/// The error of a guarded call: rejected by the breaker, or failed on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError<E> {
    /// The breaker did not admit the call; it was never made.
    Rejected(Rejected),
    /// The call was made and failed.
    Failed(E),
}

impl<E> CallError<E> {
    /// Whether the breaker rejected the call (it was never made).
    pub fn is_rejected(&self) -> bool {
        matches!(self, CallError::Rejected(_))
    }
}

impl<E: fmt::Display> fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Rejected(r) => r.fmt(f),
            CallError::Failed(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for CallError<E> {}
