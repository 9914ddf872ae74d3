//! The simulated store of `tripgate simulate --replicas`: what Redis does for a fleet
//! (opinions with lifetimes, the probe lease taken with `SET NX` and its expiry, the
//! recovery marker, announcements), on the virtual clock, with a latency and outages.
//!
//! Opinions are kept in their text form and read back through
//! [`tripgate_fleet::read_peer`], with the key's remaining lifetime in milliseconds as
//! `PTTL` gives it: the simulated fleet reads exactly what a Redis-backed one reads.
//!
//! **Latency.** A replica's operation reaches the store `latency` after its round (so
//! what it writes lands then, and `SET NX` is decided then, in the order the rounds
//! ran), and what it reads is the store as it stood `latency` before its round (the
//! reply's trip back). A value written at `t` is thus read by a peer's round at
//! `t + 2 x latency` at the earliest; an announcement wakes the peers then. The round
//! acts on its breaker at its own instant.
//!
//! **Outages.** During an outage no operation reaches the store: reads fail (the
//! replicas run on local state, as `tripgate_fleet::decide` does without a store) and
//! writes are lost. Lifetimes run on meanwhile.

use crate::replicas::FleetSettings;
use std::time::Duration;
use tripgate_fleet::{read_peer, Exchange, FleetView, Keys, Opinion};

/// One value of a key from the moment it landed: `None` is a deletion.
#[derive(Debug, Clone)]
struct Version {
    landed_ns: u64,
    expires_ns: u64,
    value: Option<String>,
}

/// A key's values in the order they landed; older ones are dropped once no read can
/// see them.
#[derive(Debug, Clone, Default)]
struct Key {
    versions: Vec<Version>,
}

impl Key {
    /// The value at store time `t_ns` and the time it has left.
    fn at(&self, t_ns: u64) -> Option<(&str, u64)> {
        let v = self.versions.iter().rev().find(|v| v.landed_ns <= t_ns)?;
        let left = v.expires_ns.checked_sub(t_ns).filter(|&l| l > 0)?;
        v.value.as_deref().map(|s| (s, left))
    }

    /// Sets the value from `landed_ns` (for `lifetime`; `None` deletes); `floor_ns` is
    /// the earliest store time any later read looks at.
    fn set(&mut self, landed_ns: u64, lifetime: Duration, value: Option<String>, floor_ns: u64) {
        let lifetime = u64::try_from(lifetime.as_nanos()).unwrap_or(u64::MAX);
        self.versions.push(Version {
            landed_ns,
            expires_ns: landed_ns.saturating_add(lifetime),
            value,
        });
        // Every version before the last one landed by `floor_ns` is hidden for good.
        if let Some(seen) = self.versions.iter().rposition(|v| v.landed_ns <= floor_ns) {
            self.versions.drain(..seen);
        }
    }
}

/// What the replicas did with the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreOps {
    /// Reads of the fleet's opinions and markers that reached the store.
    pub reads: u64,
    /// Writes that reached the store (opinions, lease attempts, recovery markers).
    pub writes: u64,
    /// Operations tried while the store was unreachable.
    pub unreachable: u64,
    /// Probe leases taken.
    pub leases: u64,
    /// Recoveries announced.
    pub recoveries: u64,
}

/// The store of one simulated fleet (one breaker name, `replicas` replicas).
#[derive(Debug, Clone)]
pub struct SimStore {
    keys: Keys,
    ids: Vec<String>,
    opinions: Vec<Key>,
    lease: Key,
    recovered: Key,
    latency_ns: u64,
    settings: FleetSettings,
    announced: Vec<u64>,
    ops: StoreOps,
}

/// The name the simulated breaker is shared under.
pub const BREAKER: &str = "dependency";

impl SimStore {
    /// An empty store for the fleet `settings` describes.
    pub fn new(settings: &FleetSettings) -> SimStore {
        let n = settings.replicas as usize;
        SimStore {
            keys: Keys::new("sim", "sim"),
            ids: (0..n).map(replica_id).collect(),
            opinions: vec![Key::default(); n],
            lease: Key::default(),
            recovered: Key::default(),
            latency_ns: u64::try_from(settings.store_latency.as_nanos()).unwrap_or(u64::MAX),
            settings: settings.clone(),
            announced: Vec::new(),
            ops: StoreOps::default(),
        }
    }

    /// Replica `replica`'s connection for a round at `now_ns`.
    pub fn session(&mut self, replica: usize, now_ns: u64) -> Session<'_> {
        Session {
            store: self,
            replica,
            now_ns,
        }
    }

    /// The times announcements reach the peers, since the last call.
    pub fn take_announcements(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.announced)
    }

    /// The operations so far.
    pub fn ops(&self) -> StoreOps {
        self.ops
    }
}

/// Replica `i`'s id, in its keys and lease tokens.
pub fn replica_id(i: usize) -> String {
    format!("r{i}")
}

/// One replica's round against the store, at one instant.
pub struct Session<'a> {
    store: &'a mut SimStore,
    replica: usize,
    now_ns: u64,
}

impl Session<'_> {
    /// Whether the operation reaches the store (counted either way).
    fn reachable(&mut self) -> bool {
        let up = !self.store.settings.store_down(self.now_ns);
        if !up {
            self.store.ops.unreachable += 1;
        }
        up
    }

    /// A write reaching the store: the store time it lands at and the earliest store
    /// time a later read looks at; `None` (the write is lost) during an outage.
    fn write(&mut self) -> Option<(u64, u64)> {
        if !self.reachable() {
            return None;
        }
        self.store.ops.writes += 1;
        Some((self.land_ns(), self.read_ns()))
    }

    /// Store time the round's reads see.
    fn read_ns(&self) -> u64 {
        self.now_ns.saturating_sub(self.store.latency_ns)
    }

    /// Store time the round's writes land at.
    fn land_ns(&self) -> u64 {
        self.now_ns.saturating_add(self.store.latency_ns)
    }

    fn announce(&mut self) {
        let at = self.land_ns().saturating_add(self.store.latency_ns);
        self.store.announced.push(at);
    }
}

impl Exchange for Session<'_> {
    fn read(&mut self, breaker: &str) -> Option<FleetView> {
        if !self.reachable() {
            return None;
        }
        self.store.ops.reads += 1;
        let at = self.read_ns();
        let own = &self.store.ids[self.replica];
        let mut peers = Vec::new();
        for (id, key) in self.store.ids.iter().zip(&self.store.opinions) {
            let Some((value, left_ns)) = key.at(at) else {
                continue;
            };
            // PTTL: whole milliseconds left, at least 1 while the key lives.
            let pttl_ms = i64::try_from(left_ns.div_ceil(1_000_000)).unwrap_or(i64::MAX);
            let name = self.store.keys.opinion(breaker, id);
            if let Ok(Some(peer)) = read_peer(
                &self.store.keys,
                breaker,
                own,
                name.as_bytes(),
                Some(value.as_bytes()),
                pttl_ms,
            ) {
                peers.push(peer);
            }
        }
        Some(FleetView {
            peers,
            recovered: self.store.recovered.at(at).is_some(),
            lease: self.store.lease.at(at).map(|(v, _)| v.to_string()),
        })
    }

    fn publish(&mut self, _: &str, opinion: &Opinion, announce: bool) -> bool {
        let Some((land, floor)) = self.write() else {
            return false;
        };
        self.store.opinions[self.replica].set(land, opinion.ttl, Some(opinion.encode()), floor);
        if announce {
            self.announce();
        }
        true
    }

    fn take_lease(&mut self, _: &str, token: &str, lifetime: Duration) -> bool {
        let Some((land, floor)) = self.write() else {
            return false;
        };
        if self.store.lease.at(land).is_some() {
            return false;
        }
        self.store
            .lease
            .set(land, lifetime, Some(token.to_string()), floor);
        self.store.recovered.set(land, Duration::MAX, None, floor);
        self.store.ops.leases += 1;
        true
    }

    fn announce_recovery(&mut self, _: &str, token: &str, lifetime: Duration) -> bool {
        let Some((land, floor)) = self.write() else {
            return false;
        };
        if self.store.lease.at(land).map(|(v, _)| v) != Some(token) {
            return false;
        }
        self.store
            .recovered
            .set(land, lifetime, Some(token.to_string()), floor);
        self.store.lease.set(land, Duration::MAX, None, floor);
        self.store.ops.recoveries += 1;
        self.announce();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tripgate_fleet::Vote;

    const MS: u64 = 1_000_000;

    fn settings(latency_ms: u64) -> FleetSettings {
        let mut s = FleetSettings::with_replicas(3);
        s.store_latency = Duration::from_millis(latency_ms);
        s
    }

    fn opinion(replica: &str, vote: Vote, open_ms: u64, ttl_ms: u64) -> Opinion {
        Opinion {
            replica: replica.into(),
            generation: 1,
            vote,
            open_for: Duration::from_millis(open_ms),
            ttl: Duration::from_millis(ttl_ms),
            calls: 10,
            failures: 10,
        }
    }

    #[test]
    fn a_peer_reads_an_opinion_two_latencies_later_with_its_open_time_aged() {
        let mut store = SimStore::new(&settings(5));
        let o = opinion("r1", Vote::Open, 30_000, 32_000);
        assert!(store.session(1, 1_000 * MS).publish(BREAKER, &o, true));
        assert_eq!(store.take_announcements(), vec![1_010 * MS]);
        // Not yet there 9 ms later; there 10 ms later; never its own.
        let early = store.session(0, 1_009 * MS).read(BREAKER).unwrap();
        assert!(early.peers.is_empty());
        let seen = store.session(0, 1_010 * MS).read(BREAKER).unwrap();
        assert_eq!(seen.peers.len(), 1);
        assert_eq!(seen.peers[0].vote, Vote::Open);
        // Landed at the very store time read (as with Redis, the trip there is not
        // counted); 10 ms later, 10 ms of the open time are gone.
        assert_eq!(seen.peers[0].open_remaining, Duration::from_secs(30));
        let later = store.session(0, 1_020 * MS).read(BREAKER).unwrap();
        assert_eq!(later.peers[0].open_remaining, Duration::from_millis(29_990));
        assert!(store
            .session(1, 2_000 * MS)
            .read(BREAKER)
            .unwrap()
            .peers
            .is_empty());
        // Expired with its lifetime.
        let gone = store.session(0, 33_100 * MS).read(BREAKER).unwrap();
        assert!(gone.peers.is_empty());
    }

    #[test]
    fn one_lease_at_a_time_and_the_marker_only_from_its_holder() {
        let mut store = SimStore::new(&settings(0));
        let lease = Duration::from_secs(10);
        assert!(store.session(0, 0).take_lease(BREAKER, "a", lease));
        assert!(!store.session(1, 0).take_lease(BREAKER, "b", lease));
        assert!(!store.session(1, MS).announce_recovery(BREAKER, "b", lease));
        assert!(store.session(0, MS).announce_recovery(BREAKER, "a", lease));
        let v = store.session(2, 2 * MS).read(BREAKER).unwrap();
        assert!(v.recovered && v.lease.is_none());
        // The lease expires by itself; a new one clears the marker.
        assert!(store.session(1, 3 * MS).take_lease(BREAKER, "c", lease));
        let v = store.session(2, 4 * MS).read(BREAKER).unwrap();
        assert!(!v.recovered);
        assert!(store
            .session(2, 3 * MS + 10_000 * MS)
            .take_lease(BREAKER, "d", lease));
        assert_eq!(store.ops().leases, 3);
    }

    #[test]
    fn an_outage_refuses_every_operation() {
        let mut s = settings(0);
        s.store_outages = vec![crate::replicas::StoreOutage {
            start_ns: 100 * MS,
            end_ns: 200 * MS,
        }];
        let mut store = SimStore::new(&s);
        let o = opinion("r0", Vote::Open, 0, 3_000);
        assert!(store.session(0, 150 * MS).read(BREAKER).is_none());
        assert!(!store.session(0, 150 * MS).publish(BREAKER, &o, true));
        assert!(!store
            .session(0, 199 * MS)
            .take_lease(BREAKER, "a", Duration::from_secs(1)));
        assert!(store.session(0, 200 * MS).read(BREAKER).is_some());
        assert_eq!(store.ops().unreachable, 3);
    }
}
