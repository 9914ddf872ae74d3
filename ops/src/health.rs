//! Liveness and readiness, as HTTP status plus JSON body.
//!
//! - **Liveness** is always 200 while the process can answer: an open breaker means a
//!   dependency is down, and restarting this pod would not bring it back.
//! - **Readiness** is 503 when at least [`HealthPolicy::open_share`] of the registry's
//!   breakers are open (default one half), or when any breaker marked
//!   critical is open. "Open" means `open` or `forced_open`; a half-open breaker is
//!   reported `degraded` and does not count. An empty registry is ready.
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

use crate::registry::{NamedSnapshot, Registry};
use serde_json::{json, Map, Value};
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

/// Readiness of a whole registry.
pub fn readiness<C: Clock + Clone>(registry: &Registry<C>, policy: &HealthPolicy) -> HealthReport {
    readiness_of(&registry.snapshots(), policy)
}

/// Readiness from readings already taken.
pub fn readiness_of(snaps: &[NamedSnapshot], policy: &HealthPolicy) -> HealthReport {
    let total = snaps.len();
    let open = snaps.iter().filter(|s| is_open(s.snapshot.state)).count();
    let share = if total == 0 {
        0.0
    } else {
        open as f64 / total as f64
    };
    let critical_open: Vec<&str> = snaps
        .iter()
        .filter(|s| s.critical && is_open(s.snapshot.state))
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
    let mut services = Map::new();
    for s in snaps {
        let n = &s.snapshot;
        let status = match n.state {
            State::Open | State::ForcedOpen => "unhealthy",
            State::HalfOpen => "degraded",
            _ => "healthy",
        };
        services.insert(
            s.name.clone(),
            json!({
                "status": status,
                "state": n.state.name(),
                "critical": s.critical,
                "consecutive_failures": n.consecutive_failures,
                "failure_rate": n.failure_rate,
                "retry_after_seconds": n.retry_after.map(|d| d.as_secs_f64()),
            }),
        );
    }
    HealthReport {
        ready,
        status: if ready { 200 } else { 503 },
        body: json!({
            "status": if ready { "ready" } else { "not_ready" },
            "ready": ready,
            "reason": reason,
            "circuit_breakers": {
                "total": total,
                "open": open,
                "open_percentage": share * 100.0,
                "unready_at_percentage": policy.open_share * 100.0,
            },
            "services": services,
        }),
    }
}
