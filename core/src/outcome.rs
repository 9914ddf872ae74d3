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

    /// Names by code: the one spelling of each kind's name (see [`codes`](crate::codes)).
    const NAMES: [crate::codes::Name; 5] = [
        crate::codes::name!("timeout"),
        crate::codes::name!("connection"),
        crate::codes::name!("server_error"),
        crate::codes::name!("rejected"),
        crate::codes::name!("other"),
    ];

    /// The kind's stable number (0 timeout ..= 4 other). Its outcome's code is one more.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The kind's name as used in config files and metrics.
    pub const fn name(self) -> &'static str {
        FailureKind::NAMES[self as usize].0
    }

    /// The kind's name, NUL-terminated, for C.
    pub const fn c_name(self) -> &'static std::ffi::CStr {
        FailureKind::NAMES[self as usize].1
    }

    /// The kind with numeric value `v`, if any.
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.get(v as usize).copied()
    }

    /// The kind with code `code`, if any (the inverse of [`code`](FailureKind::code)).
    pub fn from_code(code: u8) -> Option<Self> {
        Self::from_u8(code)
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

impl Outcome {
    /// Outcome names by code: `success`, the five failure kinds' names, `ignored`.
    pub const NAMES: [&'static str; 7] = [
        "success",
        FailureKind::Timeout.name(),
        FailureKind::Connection.name(),
        FailureKind::ServerError.name(),
        FailureKind::Rejected.name(),
        FailureKind::Other.name(),
        "ignored",
    ];

    /// The outcome's stable number: 0 success, 1 + the kind's code for a failure
    /// (1 timeout ..= 5 other), 6 ignored.
    pub const fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failure(k) => 1 + k.code(),
            Outcome::Ignored => 6,
        }
    }

    /// The outcome with code `code`, if any (the inverse of [`code`](Outcome::code)).
    pub fn from_code(code: u8) -> Option<Outcome> {
        match code {
            0 => Some(Outcome::Success),
            6 => Some(Outcome::Ignored),
            c => FailureKind::from_code(c.wrapping_sub(1)).map(Outcome::Failure),
        }
    }

    /// The outcome's name: `success`, `ignored`, or the failure kind's name.
    pub const fn name(self) -> &'static str {
        Outcome::NAMES[self.code() as usize]
    }

    /// The outcome of an HTTP response with `status`: the one HTTP classification of
    /// the project (the tower layer, the simulator's access-log replay and the bindings
    /// all map statuses through it).
    ///
    /// | status                        | outcome                                   |
    /// |-------------------------------|-------------------------------------------|
    /// | 100–399                       | `Success`                                 |
    /// | 429, 503                      | `Failure(Rejected)`: the dependency sheds load |
    /// | 504                           | `Failure(Timeout)`: a gateway gave up waiting  |
    /// | any other 500–599             | `Failure(ServerError)`                    |
    /// | any other 400–499             | `Ignored`: a caller error says nothing of the dependency's health |
    /// | anything else (0, 600+)       | `Failure(Other)`: no valid response       |
    ///
    /// ```
    /// use tripgate::{FailureKind, Outcome};
    /// assert_eq!(Outcome::from_http_status(200), Outcome::Success);
    /// assert_eq!(Outcome::from_http_status(503), Outcome::Failure(FailureKind::Rejected));
    /// assert_eq!(Outcome::from_http_status(404), Outcome::Ignored);
    /// ```
    pub fn from_http_status(status: u16) -> Outcome {
        match status {
            100..=399 => Outcome::Success,
            429 | 503 => Outcome::Failure(FailureKind::Rejected),
            504 => Outcome::Failure(FailureKind::Timeout),
            500..=599 => Outcome::Failure(FailureKind::ServerError),
            400..=499 => Outcome::Ignored,
            _ => Outcome::Failure(FailureKind::Other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_follow_the_table() {
        let cases = [
            (100, Outcome::Success),
            (200, Outcome::Success),
            (204, Outcome::Success),
            (304, Outcome::Success),
            (399, Outcome::Success),
            (400, Outcome::Ignored),
            (404, Outcome::Ignored),
            (408, Outcome::Ignored),
            (499, Outcome::Ignored),
            (429, Outcome::Failure(FailureKind::Rejected)),
            (503, Outcome::Failure(FailureKind::Rejected)),
            (504, Outcome::Failure(FailureKind::Timeout)),
            (500, Outcome::Failure(FailureKind::ServerError)),
            (502, Outcome::Failure(FailureKind::ServerError)),
            (599, Outcome::Failure(FailureKind::ServerError)),
            (0, Outcome::Failure(FailureKind::Other)),
            (99, Outcome::Failure(FailureKind::Other)),
            (600, Outcome::Failure(FailureKind::Other)),
        ];
        for (status, want) in cases {
            assert_eq!(Outcome::from_http_status(status), want, "status {status}");
        }
    }
}
