//! [`FleetMetrics`]: the fleet's own figures, as a snapshot and as Prometheus lines.
//! No label or value ever carries a credential or the store's address.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A reading of the fleet's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FleetMetrics {
    /// Whether the last store operation succeeded.
    pub store_up: bool,
    /// Opinions written.
    pub publishes: u64,
    /// Breakers held open on the fleet's word (adoptions).
    pub adoptions: u64,
    /// Values under the namespace refused as malformed or foreign.
    pub malformed: u64,
    /// Recovery probe leases won by this replica.
    pub leases: u64,
    /// Whether the subscriber listens to the fleet's announcements.
    pub subscribed: bool,
}

impl FleetMetrics {
    /// Prometheus text exposition (format 0.0.4), `replica` as a label.
    pub fn prometheus(&self, replica: &str) -> String {
        let families: [(&str, &str, &str, u64); 6] = [
            (
                "tripgate_fleet_store_up",
                "gauge",
                "1 while the fleet store answers.",
                u64::from(self.store_up),
            ),
            (
                "tripgate_fleet_publish_total",
                "counter",
                "Opinions this replica wrote to the store.",
                self.publishes,
            ),
            (
                "tripgate_fleet_adopt_total",
                "counter",
                "Breakers held open on the fleet's word.",
                self.adoptions,
            ),
            (
                "tripgate_fleet_malformed_total",
                "counter",
                "Malformed or foreign values under the namespace, ignored.",
                self.malformed,
            ),
            (
                "tripgate_fleet_lease_total",
                "counter",
                "Recovery probe leases this replica won.",
                self.leases,
            ),
            (
                "tripgate_fleet_subscribed",
                "gauge",
                "1 while the fleet's announcements are listened to.",
                u64::from(self.subscribed),
            ),
        ];
        let mut out = String::with_capacity(1024);
        for (name, kind, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name}{{replica=\"{replica}\"}} {value}");
        }
        out
    }
}

/// The live counters behind [`FleetMetrics`].
// ordering: every field is Relaxed; each is an independent figure read for reports.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) store_up: AtomicBool,
    pub(crate) publishes: AtomicU64,
    pub(crate) adoptions: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) leases: AtomicU64,
    pub(crate) subscribed: AtomicBool,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    pub(crate) fn read(&self) -> FleetMetrics {
        FleetMetrics {
            store_up: self.store_up.load(Ordering::Relaxed),
            publishes: self.publishes.load(Ordering::Relaxed),
            adoptions: self.adoptions.load(Ordering::Relaxed),
            malformed: self.malformed.load(Ordering::Relaxed),
            leases: self.leases.load(Ordering::Relaxed),
            subscribed: self.subscribed.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_exposed_with_its_value() {
        let m = FleetMetrics {
            store_up: true,
            publishes: 3,
            adoptions: 1,
            malformed: 2,
            leases: 0,
            subscribed: false,
        };
        let text = m.prometheus("r1");
        for line in [
            "tripgate_fleet_store_up{replica=\"r1\"} 1",
            "tripgate_fleet_publish_total{replica=\"r1\"} 3",
            "tripgate_fleet_adopt_total{replica=\"r1\"} 1",
            "tripgate_fleet_malformed_total{replica=\"r1\"} 2",
            "# TYPE tripgate_fleet_publish_total counter",
            "tripgate_fleet_subscribed{replica=\"r1\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }
}
