//! What a guarded call reports: success, a kind of failure, or nothing at all.

use serde::{Deserialize, Serialize};

/// Why a call failed. Each kind has its own weight in the failure rate
/// (see [`FailureWeights`](crate::FailureWeights)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum FailureKind {
    /// The call did not answer in time.
    Timeout = 0,
    /// The dependency could not be reached.
    Connection = 1,
    /// The dependency answered with an error of its own (an HTTP 5xx, say).
    ServerError = 2,
    /// The dependency refused the call (an HTTP 429 or 503, say): it is shedding load.
    Rejected = 3,
    /// Any other failure.
    Other = 4,
}

impl FailureKind {
    /// Every kind, in the order of their numeric values.
    pub const ALL: [FailureKind; 5] = [
        FailureKind::Timeout,
        FailureKind::Connection,
        FailureKind::ServerError,
        FailureKind::Rejected,
        FailureKind::Other,
    ];

    /// The kind's name as used in config files and metrics.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::Connection => "connection",
            FailureKind::ServerError => "server_error",
            FailureKind::Rejected => "rejected",
            FailureKind::Other => "other",
        }
    }

    /// The kind with numeric value `v`, if any.
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.get(v as usize).copied()
    }
}

/// The result of one guarded call, as the breaker counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The call succeeded (a slow success still counts toward the slow-call rate).
    Success,
    /// The call failed.
    Failure(FailureKind),
    /// The call says nothing about the dependency's health (a caller error, a
    /// cancellation): counted neither way, resets no streak, frees a half-open slot.
    Ignored,
}
