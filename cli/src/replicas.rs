//! How a scenario runs as a fleet of replicas (`tripgate simulate --replicas N`, or a
//! `[fleet]` table): how many replicas share the traffic, and the fleet mode they are
//! compared with (heartbeat, quorum, probe lease, and the simulated store's latency
//! and outages). Every default is `tripgate_fleet::FleetConfig`'s.
//!
//! ```toml
//! [fleet]
//! replicas = 10            # 1..=1000
//! heartbeat = "1s"         # 10ms..=1h
//! quorum = 2               # 1..=10000 replicas reporting open
//! probe_lease = "10s"      # 10ms..=1h
//! store_latency = "1ms"    # one way; 0s..=half the heartbeat
//! [[fleet.store_outage]]   # the store is unreachable from `start` for `duration`
//! start = "3m"
//! duration = "2m"
//! ```

use crate::budget::{exact, MAX_SPAN};
use crate::fields::Fields;
use crate::report::group;
use std::time::Duration;
use tripgate_fleet::{FleetConfig, Quorum, Rules};

/// The most replicas a run simulates.
pub const MAX_REPLICAS: u32 = 1000;

/// Keys of the `[fleet]` table and of each `[[fleet.store_outage]]`.
const FLEET_KEYS: &[&str] = &[
    "replicas",
    "heartbeat",
    "quorum",
    "probe_lease",
    "store_latency",
    "store_outage",
];
const OUTAGE_KEYS: &[&str] = &["start", "duration"];

/// A stretch of virtual time during which no replica reaches the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StoreOutage {
    /// Start, nanoseconds from the beginning of the run.
    pub start_ns: u64,
    /// End (exclusive), nanoseconds.
    pub end_ns: u64,
}

/// A fleet of replicas and the fleet mode they run with.
#[derive(Debug, Clone)]
pub struct FleetSettings {
    /// Replicas sharing the traffic (calls dealt round-robin), 1..=[`MAX_REPLICAS`].
    pub replicas: u32,
    /// How often each replica runs a round of its own.
    pub heartbeat: Duration,
    /// The rules every replica decides by (quorum, veto, probe lease, fleet rate).
    pub rules: Rules,
    /// One-way delay between a replica and the store.
    pub store_latency: Duration,
    /// When the store is unreachable, in time order.
    pub store_outages: Vec<StoreOutage>,
}

impl FleetSettings {
    /// `replicas` replicas with every other setting at `FleetConfig`'s default and a
    /// store latency of 1 ms.
    pub fn with_replicas(replicas: u32) -> FleetSettings {
        let defaults = FleetConfig::new("sim", "sim", "r0", "redis://127.0.0.1:6379/0");
        FleetSettings {
            replicas,
            heartbeat: defaults.heartbeat,
            rules: Rules {
                quorum: defaults.quorum,
                veto: defaults.veto,
                probe_lease: defaults.probe_lease,
                fleet_rate: defaults.fleet_rate,
            },
            store_latency: Duration::from_millis(1),
            store_outages: Vec::new(),
        }
    }

    /// Opinions the heartbeat rounds of one run over `duration_ns` read: every replica
    /// reads every other's on each of its heartbeats (the fleet's part of a run's work,
    /// counted against `--max-calls`).
    pub fn heartbeat_reads(&self, duration_ns: u64) -> u64 {
        let heartbeat_ns = u64::try_from(self.heartbeat.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        let n = u64::from(self.replicas);
        (duration_ns / heartbeat_ns + 1)
            .saturating_mul(n)
            .saturating_mul(n.saturating_sub(1))
    }

    /// Refuses a fleet whose heartbeat rounds alone, over `runs` runs of `duration_ns`,
    /// would read more than `max_calls` opinions.
    pub fn check_work(&self, duration_ns: u64, runs: usize, max_calls: u64) -> Result<(), String> {
        let reads = self
            .heartbeat_reads(duration_ns)
            .saturating_mul(runs as u64);
        if reads > max_calls {
            return Err(format!(
                "the fleet's heartbeat rounds would read about {} opinions ({} replicas reading each other every {} for {}, {} runs); \
                 the cap is {} (--max-calls counts them too): raise it with --max-calls, or lower the replicas or lengthen the heartbeat",
                group(reads),
                self.replicas,
                exact(self.heartbeat),
                exact(Duration::from_nanos(duration_ns)),
                runs,
                group(max_calls),
            ));
        }
        Ok(())
    }

    /// Whether the store is unreachable at `t_ns`.
    pub fn store_down(&self, t_ns: u64) -> bool {
        self.store_outages
            .iter()
            .any(|o| o.start_ns <= t_ns && t_ns < o.end_ns)
    }
}

/// The `[fleet]` table of a scenario, each field checked (errors collected in `f`);
/// `None` when there is no such table.
pub fn fleet_fields(f: &mut Fields<'_>, root: &toml::Table) -> Option<FleetSettings> {
    let table = f.table("", root, "fleet", false)?;
    f.deny_unknown("fleet", table, FLEET_KEYS);
    let mut s = FleetSettings::with_replicas(1);
    let replicas = f.uint("fleet", table, "replicas", 1..=u64::from(MAX_REPLICAS));
    s.replicas = replicas.map_or(1, |n| n as u32);
    if table.get("replicas").is_none() {
        f.error(
            "fleet",
            "replicas",
            format!("missing: give how many replicas share the traffic, 1..={MAX_REPLICAS}"),
        );
    }
    let ms = Duration::from_millis;
    let hour = Duration::from_secs(3600);
    if let Some(h) = f.duration("fleet", table, "heartbeat", ms(10)..=hour) {
        s.heartbeat = h;
    }
    if let Some(q) = f.uint("fleet", table, "quorum", 1..=10_000) {
        s.rules.quorum = Quorum::Count(q as u32);
    }
    if let Some(p) = f.duration("fleet", table, "probe_lease", ms(10)..=hour) {
        s.rules.probe_lease = p;
    }
    if let Some(l) = f.duration(
        "fleet",
        table,
        "store_latency",
        Duration::ZERO..=s.heartbeat / 2,
    ) {
        s.store_latency = l;
    }
    for (i, o) in f
        .array_of_tables("fleet", table, "store_outage")
        .into_iter()
        .enumerate()
    {
        let name = format!("fleet.store_outage[{i}]");
        f.deny_unknown(&name, o, OUTAGE_KEYS);
        let start = f.duration(&name, o, "start", Duration::ZERO..=MAX_SPAN);
        let duration = f.duration(&name, o, "duration", Duration::from_nanos(1)..=MAX_SPAN);
        for (key, given) in [("start", start.is_some()), ("duration", duration.is_some())] {
            if !given && !o.contains_key(key) {
                f.error(
                    &name,
                    key,
                    format!("missing: allowed 0s..={} (a duration)", exact(MAX_SPAN)),
                );
            }
        }
        if let (Some(start), Some(duration)) = (start, duration) {
            let start_ns = nanos(start);
            s.store_outages.push(StoreOutage {
                start_ns,
                end_ns: start_ns.saturating_add(nanos(duration)),
            });
        }
    }
    s.store_outages.sort_by_key(|o| (o.start_ns, o.end_ns));
    Some(s)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
