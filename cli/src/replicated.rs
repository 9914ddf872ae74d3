//! One candidate run as a fleet of replicas: the scenario's calls are dealt
//! round-robin (call `k` to replica `k mod N`), each replica has its own breaker (an
//! [`engine::Sim`](crate::engine::Sim) on the shared virtual time), and in fleet mode
//! each replica runs `tripgate_fleet`'s own round ([`Replica::round`]) against the
//! simulated store ([`SimStore`]).
//!
//! A replica's rounds come when the Redis worker's would: on its heartbeat (replica `i`
//! first at `i x heartbeat / N`, then every heartbeat), when its breaker changes state
//! (at the call that shows it), and when a peer's announcement reaches it (two store
//! latencies after the peer's round). Rounds at the same instant run in replica order.

use crate::candidates::{derived_seed, Candidate};
use crate::engine::{Arrival, Run, Sim, Timeline};
use crate::replicas::FleetSettings;
use crate::store_sim::{replica_id, SimStore, StoreOps, BREAKER};
use std::collections::BTreeSet;
use tripgate_fleet::{Member, Replica};

/// With or without fleet mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// Every replica on its own breaker only.
    NoFleet,
    /// The replicas share opinions through the simulated store.
    Fleet,
}

impl Variant {
    /// Both, in report order.
    pub const BOTH: [Variant; 2] = [Variant::NoFleet, Variant::Fleet];

    /// The name in the table.
    pub fn label(self) -> &'static str {
        match self {
            Variant::NoFleet => "no fleet",
            Variant::Fleet => "fleet",
        }
    }
}

/// What a fleet's run produced.
#[derive(Debug, Clone)]
pub struct FleetRun {
    /// Each replica's run, in replica order.
    pub replicas: Vec<Run>,
    /// The store's operations (`None` without fleet mode).
    pub store: Option<StoreOps>,
}

/// The calls in flight each replica may hold: the caller's cap shared evenly (rounded
/// up), so the fleet as a whole sheds about what one caller would.
pub fn concurrency_per_replica(concurrency: Option<u32>, replicas: u32) -> Option<u32> {
    concurrency.map(|c| c.div_ceil(replicas.max(1)))
}

/// The fleet mode's side of a run: every replica's membership and the store.
struct FleetMode {
    replicas: Vec<Replica>,
    members: Vec<Member>,
    store: SimStore,
    next_beat: Vec<u64>,
    heartbeat_ns: u64,
    wakes: BTreeSet<(u64, usize)>,
}

impl FleetMode {
    fn new(settings: &FleetSettings) -> FleetMode {
        let n = settings.replicas as usize;
        let heartbeat_ns = u64::try_from(settings.heartbeat.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        FleetMode {
            replicas: (0..n)
                .map(|i| Replica::new(replica_id(i), settings.rules, settings.heartbeat, i as u64))
                .collect(),
            members: vec![Member::default(); n],
            store: SimStore::new(settings),
            next_beat: (0..n).map(|i| heartbeat_ns / n as u64 * i as u64).collect(),
            heartbeat_ns,
            wakes: BTreeSet::new(),
        }
    }

    /// Replica `i`'s round at `t_ns`.
    fn round(&mut self, sims: &mut [Sim], seen: &mut [usize], i: usize, t_ns: u64, beat: bool) {
        sims[i].advance_to(t_ns);
        let mut session = self.store.session(i, t_ns);
        self.replicas[i].round(
            BREAKER,
            &mut self.members[i],
            sims[i].breaker(),
            &mut session,
            beat,
        );
        // The round's own holds and releases are no news to it.
        seen[i] = sims[i].transition_count();
        for at in self.store.take_announcements() {
            for peer in (0..sims.len()).filter(|&p| p != i) {
                self.wakes.insert((at, peer));
            }
        }
    }

    /// Every round due by `t_ns`, in time order (heartbeats first at a tie, then wakes).
    fn run_until(&mut self, sims: &mut [Sim], seen: &mut [usize], t_ns: u64) {
        loop {
            let beat = self
                .next_beat
                .iter()
                .enumerate()
                .min_by_key(|&(i, &at)| (at, i))
                .map(|(i, &at)| (at, i));
            let wake = self.wakes.first().copied();
            match (beat, wake) {
                (Some((b, i)), w) if b <= t_ns && w.map_or(true, |(w, _)| b <= w) => {
                    self.next_beat[i] = b.saturating_add(self.heartbeat_ns);
                    self.round(sims, seen, i, b, true);
                }
                (_, Some((w, i))) if w <= t_ns => {
                    self.wakes.pop_first();
                    self.round(sims, seen, i, w, false);
                }
                _ => return,
            }
        }
    }
}

/// Runs `candidate` on `arrivals` as `settings.replicas` replicas, in fleet mode or
/// not. `concurrency` is the caller's cap (shared by the replicas); fails when a
/// replica holds more than `in_flight_limit` calls in flight.
pub fn run_fleet(
    candidate: &Candidate,
    timeline: &Timeline,
    arrivals: impl Iterator<Item = Arrival>,
    settings: &FleetSettings,
    variant: Variant,
    concurrency: Option<u32>,
    in_flight_limit: u64,
) -> Result<FleetRun, String> {
    let n = settings.replicas as usize;
    // The replicas' own series are not reported: one bucket each.
    let lean = Timeline::new(timeline.spans.clone(), 1);
    let per_replica = concurrency_per_replica(concurrency, settings.replicas);
    let mut sims = Vec::with_capacity(n);
    for i in 0..n {
        let mut config = candidate.config.clone();
        if i > 0 {
            // Each replica draws its own jitter; replica 0 is the single breaker's twin.
            config.seed = Some(derived_seed(config.seed.unwrap_or(0), i));
        }
        sims.push(
            Sim::new(&config, &lean, per_replica, in_flight_limit)
                .map_err(|e| format!("candidate {}: {e}", candidate.name))?,
        );
    }
    let mut seen = vec![0usize; n];
    let mut fleet = (variant == Variant::Fleet).then(|| FleetMode::new(settings));
    for (k, a) in arrivals.enumerate() {
        let i = k % n;
        if let Some(f) = fleet.as_mut() {
            f.run_until(&mut sims, &mut seen, a.t_ns);
        }
        sims[i].step(&a).map_err(|e| {
            format!(
                "candidate {}: replica {i}: more than {} calls in flight at {} (its share of --max-memory); \
                 raise --max-memory, or lower the rate, the latency or the timeout",
                candidate.name,
                e.limit,
                crate::report::dur_ns(e.at_ns)
            )
        })?;
        if let Some(f) = fleet.as_mut() {
            if sims[i].transition_count() != seen[i] {
                f.round(&mut sims, &mut seen, i, a.t_ns, false);
            }
        }
    }
    let store = fleet.map(|mut f| {
        f.run_until(&mut sims, &mut seen, timeline.end_ns());
        f.store.ops()
    });
    Ok(FleetRun {
        replicas: sims.into_iter().map(Sim::finish).collect(),
        store,
    })
}
