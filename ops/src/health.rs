//! Liveness and readiness, as HTTP status plus JSON body.
//!
//! - **Liveness** is always 200 while the process can answer: an open breaker means a
//!   dependency is down, and restarting this pod would not bring it back.
//! - **Readiness** is 503 when at least [`HealthPolicy::open_share`] of the registry's
//!   breakers are open (default one half), or when any breaker marked
//!   critical is open. "Open" means `open` or `forced_open`; a half-open breaker is
//!   reported `degraded` and does not count. An empty registry is ready.
//!
//! Readiness reads each breaker's state word only ([`Registry::states`]), never a full
//! snapshot: it is O(1) a breaker and delivers no pending event, so a probe stays cheap
//! however many breakers there are and whatever their windows hold. The rates and
//! streaks are in the exposition.
//!
//! # Examples
//!
//! ```
//! use tripgate::ManualClock;
//! use tripgate_ops::{health, HealthPolicy, Registry};
//!
//! let registry = Registry::with_clock(ManualClock::new());
//! registry.breaker("database")?;
//! registry.breaker("cache")?.force_open();
//! let report = health::readiness(&registry, &HealthPolicy::default());
//! assert_eq!(report.status, 503);                 // 1 of 2 open: half
//! assert_eq!(report.body["circuit_breakers"]["open"], 1);
//! assert_eq!(health::liveness().status, 200);
//! # Ok::<(), tripgate::ConfigError>(())
//! ```

use crate::registry::{NamedState, Registry};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Value};
use tripgate::{Clock, State};

/// When readiness fails.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthPolicy {
    /// Unready when `open / total >= open_share` (and at least one is open). Default 0.5.
    pub open_share: f64,
    /// Unready when any breaker marked critical is open. Default true.
    pub critical_opens_fail: bool,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            open_share: 0.5,
            critical_opens_fail: true,
        }
    }
}

/// A health answer: HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    /// Whether the check passed.
    pub ready: bool,
    /// 200 or 503.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl HealthReport {
    /// The body as compact JSON text.
    pub fn body_text(&self) -> String {
        self.body.to_string()
    }
}

/// Liveness: always 200.
pub fn liveness() -> HealthReport {
    HealthReport {
        ready: true,
        status: 200,
        body: json!({ "status": "alive" }),
    }
}

fn is_open(state: State) -> bool {
    matches!(state, State::Open | State::ForcedOpen)
}

/// Readiness of a whole registry, from each breaker's state ([`Registry::states`]).
pub fn readiness<C: Clock + Clone>(registry: &Registry<C>, policy: &HealthPolicy) -> HealthReport {
    readiness_of(&registry.states(), policy)
}

/// Readiness from states already read.
pub fn readiness_of(states: &[NamedState], policy: &HealthPolicy) -> HealthReport {
    let body = ReadinessBody::of(states, policy);
    HealthReport {
        ready: body.ready,
        status: body.http_status(),
        // Serializing plain structs cannot fail (string keys, no custom errors).
        body: serde_json::to_value(&body).unwrap_or(Value::Null),
    }
}

/// Readiness as HTTP status and compact JSON text, written straight from the states
/// (no intermediate [`Value`] tree: the admin endpoint's path, cheap at thousands of
/// breakers). The same body as [`readiness`]'s.
#[cfg(any(feature = "admin", test))]
pub(crate) fn readiness_text<C: Clock + Clone>(
    registry: &Registry<C>,
    policy: &HealthPolicy,
) -> (u16, Vec<u8>) {
    let states = registry.states();
    let body = ReadinessBody::of(&states, policy);
    let text = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    (body.http_status(), text)
}

/// The readiness body; the one place its fields are defined.
#[derive(Serialize)]
struct ReadinessBody<'a> {
    status: &'static str,
    ready: bool,
    reason: String,
    circuit_breakers: Counts,
    services: Services<'a>,
}

#[derive(Serialize)]
struct Counts {
    total: usize,
    open: usize,
    open_percentage: f64,
    unready_at_percentage: f64,
}

/// Every breaker by name (the states come sorted by name).
struct Services<'a>(&'a [NamedState]);

#[derive(Serialize)]
struct Service {
    status: &'static str,
    state: &'static str,
    critical: bool,
    retry_after_seconds: Option<f64>,
}

impl Serialize for Services<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for s in self.0 {
            let status = match s.state {
                State::Open | State::ForcedOpen => "unhealthy",
                State::HalfOpen => "degraded",
                _ => "healthy",
            };
            let service = Service {
                status,
                state: s.state.name(),
                critical: s.critical,
                retry_after_seconds: s.retry_after.map(|d| d.as_secs_f64()),
            };
            map.serialize_entry(&s.name, &service)?;
        }
        map.end()
    }
}

impl<'a> ReadinessBody<'a> {
    /// The decision and its body.
    fn of(states: &'a [NamedState], policy: &HealthPolicy) -> Self {
        let total = states.len();
        let open = states.iter().filter(|s| is_open(s.state)).count();
        let share = if total == 0 {
            0.0
        } else {
            open as f64 / total as f64
        };
        let critical_open: Vec<&str> = states
            .iter()
            .filter(|s| s.critical && is_open(s.state))
            .map(|s| s.name.as_str())
            .collect();
        let too_many = open > 0 && share >= policy.open_share;
        let critical = policy.critical_opens_fail && !critical_open.is_empty();
        let ready = !too_many && !critical;
        let reason = if critical {
            format!("critical breaker open: {}", critical_open.join(", "))
        } else if too_many {
            format!(
                "{open} of {total} breakers open (unready at {}%)",
                policy.open_share * 100.0
            )
        } else {
            "ok".to_string()
        };
        ReadinessBody {
            status: if ready { "ready" } else { "not_ready" },
            ready,
            reason,
            circuit_breakers: Counts {
                total,
                open,
                open_percentage: share * 100.0,
                unready_at_percentage: policy.open_share * 100.0,
            },
            services: Services(states),
        }
    }

    fn http_status(&self) -> u16 {
        if self.ready {
            200
        } else {
            503
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tripgate::ManualClock;

    #[test]
    fn the_endpoint_text_is_the_report_body() {
        let r = Registry::with_clock(ManualClock::new());
        for name in ["a", "b\"quoted\"", "c", "d"] {
            r.breaker(name).unwrap();
        }
        r.get("a").unwrap().open();
        r.get("c").unwrap().force_open();
        r.set_critical("c", true);
        for policy in [
            HealthPolicy::default(),
            HealthPolicy {
                open_share: 0.9,
                critical_opens_fail: false,
            },
        ] {
            let report = readiness(&r, &policy);
            let (status, text) = readiness_text(&r, &policy);
            assert_eq!(status, report.status);
            let parsed: Value = serde_json::from_slice(&text).unwrap();
            assert_eq!(parsed, report.body);
            assert_eq!(parsed["services"]["a"]["state"], "open");
        }
    }
}
