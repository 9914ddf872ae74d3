//! One replica's round for one breaker, whatever the store: read the breaker, read the
//! fleet, [`decide`], act on the breaker, publish this replica's opinion. The Redis
//! worker runs it against Redis; the simulator (`tripgate simulate --replicas`) runs
//! the very same step against a simulated store on a virtual clock.
//!
//! The store's side is the [`Exchange`] trait: the four operations a round needs (read
//! the opinions and markers, write an opinion, take the probe lease, announce a
//! recovery), each with the lifetimes this module computes, so that the rules about
//! lifetimes, tokens and markers are written once.

use crate::decide::{decide, own_vote, Action, FleetView, Phase, Rules};
use crate::local::{LocalBreaker, LocalView};
use crate::opinion::{lease_token, Opinion, Vote};
use std::time::Duration;

/// What a round needs from the store, for one breaker (the replica's own id is the
/// store's business: its own opinion is never among the peers read).
pub trait Exchange {
    /// Every other replica's fresh opinion of `breaker`, the recovery marker and the
    /// probe lease's value; `None` when the store cannot be read.
    fn read(&mut self, breaker: &str) -> Option<FleetView>;
    /// Writes this replica's `opinion` of `breaker` for `opinion.ttl`, announcing it to
    /// the peers when `announce`. Returns whether it was written.
    fn publish(&mut self, breaker: &str, opinion: &Opinion, announce: bool) -> bool;
    /// `SET lease token NX` with `lifetime`; when it is taken, deletes the recovery
    /// marker (an earlier recovery's marker must not release this one's holds).
    /// Returns whether this replica took it.
    fn take_lease(&mut self, breaker: &str, token: &str, lifetime: Duration) -> bool;
    /// If the lease still holds `token`, leaves the recovery marker (value `token`) for
    /// `lifetime`, frees the lease and announces it. Returns whether it did.
    fn announce_recovery(&mut self, breaker: &str, token: &str, lifetime: Duration) -> bool;
}

/// Where the fleet stands with one breaker on this replica, between rounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Member {
    /// The fleet's phase with the breaker.
    pub phase: Phase,
    /// The vote and generation last published (`None`: nothing yet, or it failed).
    published: Option<(Vote, u32)>,
}

/// What one round did, for the caller's counters and log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The decision's action.
    pub action: Action,
    /// Whether this replica took the probe lease (and released its breaker to probe).
    pub leased: bool,
    /// Whether a recovery was announced.
    pub announced: bool,
    /// Whether this replica's opinion was written.
    pub published: bool,
}

/// One replica of a fleet: its id, the rules it decides by, its heartbeat and the
/// nonce its lease tokens are drawn from.
#[derive(Debug, Clone)]
pub struct Replica {
    /// This replica's id (in its lease tokens).
    pub id: String,
    /// The rules it decides by.
    pub rules: Rules,
    /// How often it republishes (opinion and marker lifetimes are counted in it).
    pub heartbeat: Duration,
    nonce: u64,
}

impl Replica {
    /// A replica `id` deciding by `rules` every `heartbeat`; `nonce` seeds the tokens
    /// of its leases (any value: two leases of the same replica and generation differ
    /// by it).
    pub fn new(id: impl Into<String>, rules: Rules, heartbeat: Duration, nonce: u64) -> Replica {
        Replica {
            id: id.into(),
            rules,
            heartbeat,
            nonce,
        }
    }

    /// How long an opinion reporting `open_for` lives: past the next heartbeats and
    /// past the open time it reports, so an expiry can never make the fleet forget an
    /// opening early.
    pub fn opinion_lifetime(&self, open_for: Duration) -> Duration {
        (self.heartbeat * 3).max(open_for + self.heartbeat * 2)
    }

    /// How long a recovery marker lives: the lease's lifetime, and at least three
    /// heartbeats so every held replica reads it.
    pub fn marker_lifetime(&self) -> Duration {
        self.rules.probe_lease.max(self.heartbeat * 3)
    }

    fn next_token(&mut self, generation: u32) -> String {
        self.nonce = self
            .nonce
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lease_token(&self.id, generation, self.nonce)
    }

    /// This replica's opinion of a breaker in `view`, given its fleet `phase`.
    pub fn opinion(&self, phase: &Phase, view: &LocalView) -> Opinion {
        let (vote, open_for) = own_vote(phase, view);
        Opinion {
            replica: self.id.clone(),
            generation: view.generation,
            vote,
            open_for,
            ttl: self.opinion_lifetime(open_for),
            calls: view.window_calls,
            failures: view.window_failures.min(view.window_calls),
        }
    }

    /// One round for the breaker `name`: decides on the breaker's reading and the
    /// store's, acts on the breaker, and publishes this replica's opinion when it
    /// changed or on a heartbeat (`beat`).
    pub fn round<B: LocalBreaker + ?Sized>(
        &mut self,
        name: &str,
        member: &mut Member,
        breaker: &B,
        store: &mut impl Exchange,
        beat: bool,
    ) -> Step {
        let mut view = breaker.view();
        let phase = member.phase.clone();
        let held = matches!(phase, Phase::Holding { .. }) && breaker.is_held(&view);
        let fleet = store.read(name);
        let (mut next, action) = decide(&self.rules, &phase, &view, held, fleet.as_ref());
        let mut step = Step {
            action: action.clone(),
            leased: false,
            announced: false,
            published: false,
        };
        match &action {
            Action::None => {}
            Action::Hold { .. } => breaker.hold_open(),
            Action::Release => breaker.release(),
            Action::ReleaseToProbe => breaker.release_to_probe(),
            Action::TryLease => {
                let token = self.next_token(view.generation);
                if store.take_lease(name, &token, self.rules.probe_lease) {
                    next = phase.leased(token, view.now_nanos, self.rules.probe_lease);
                    breaker.release();
                    step.leased = true;
                }
            }
            Action::AnnounceRecovery { token } => {
                step.announced = store.announce_recovery(name, token, self.marker_lifetime());
            }
        }
        if action != Action::None {
            view = breaker.view();
        }
        member.phase = next;
        let opinion = self.opinion(&member.phase, &view);
        let current = (opinion.vote, opinion.generation);
        let changed = member.published != Some(current);
        if (beat || changed) && store.publish(name, &opinion, changed) {
            member.published = Some(current);
            step.published = true;
        }
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Quorum;
    use tripgate::{Breaker, Config, FailureKind, ManualClock, State};

    const S: Duration = Duration::from_secs(1);

    /// A store that answers with fixed peers and records what it is asked.
    #[derive(Default)]
    struct Scripted {
        view: Option<FleetView>,
        lease_free: bool,
        published: Vec<Opinion>,
        leases: Vec<(String, Duration)>,
    }

    impl Exchange for Scripted {
        fn read(&mut self, _: &str) -> Option<FleetView> {
            self.view.clone()
        }
        fn publish(&mut self, _: &str, opinion: &Opinion, _: bool) -> bool {
            self.published.push(opinion.clone());
            true
        }
        fn take_lease(&mut self, _: &str, token: &str, lifetime: Duration) -> bool {
            self.leases.push((token.to_string(), lifetime));
            std::mem::take(&mut self.lease_free)
        }
        fn announce_recovery(&mut self, _: &str, _: &str, _: Duration) -> bool {
            true
        }
    }

    fn rules() -> Rules {
        Rules {
            quorum: Quorum::Count(2),
            veto: None,
            probe_lease: 5 * S,
            fleet_rate: None,
        }
    }

    fn open_peer() -> crate::Peer {
        crate::Peer {
            vote: Vote::Open,
            open_remaining: 20 * S,
            calls: 0,
            failures: 0,
        }
    }

    #[test]
    fn a_round_adopts_publishes_and_later_probes_through_the_lease() {
        let clock = ManualClock::new();
        let config = Config::builder().minimum_calls(4).build().unwrap();
        let b = Breaker::with_clock(config, clock.clone()).unwrap();
        let mut replica = Replica::new("r-1", rules(), S, 7);
        let mut member = Member::default();
        let mut store = Scripted {
            view: Some(FleetView {
                peers: vec![open_peer(), open_peer()],
                recovered: false,
                lease: None,
            }),
            ..Scripted::default()
        };
        let step = replica.round("db", &mut member, &b, &mut store, false);
        assert_eq!(step.action, Action::Hold { adopted: true });
        assert_eq!(b.state(), State::ForcedOpen);
        assert_eq!(store.published.len(), 1);
        assert_eq!(store.published[0].vote, Vote::Adopted);
        assert_eq!(store.published[0].ttl, 3 * S);
        // Nothing changed and no heartbeat: nothing written.
        let step = replica.round("db", &mut member, &b, &mut store, false);
        assert!(!step.published);
        // The hold's time is up; the lease is lost once, then won.
        clock.advance(20 * S);
        let step = replica.round("db", &mut member, &b, &mut store, true);
        assert_eq!((step.action, step.leased), (Action::TryLease, false));
        assert_eq!(b.state(), State::ForcedOpen);
        store.lease_free = true;
        let step = replica.round("db", &mut member, &b, &mut store, true);
        assert!(step.leased);
        assert_eq!(b.state(), State::Closed);
        assert!(matches!(member.phase, Phase::Probing { .. }));
        // Two tokens drawn, different, each with the probe lease's lifetime.
        assert_eq!(store.leases.len(), 2);
        assert_ne!(store.leases[0].0, store.leases[1].0);
        assert!(store.leases.iter().all(|(_, l)| *l == 5 * S));
    }

    #[test]
    fn an_opinion_outlives_the_open_time_it_reports() {
        let clock = ManualClock::new();
        let config = Config::builder()
            .count_window(4)
            .minimum_calls(4)
            .open_duration(30 * S)
            .build()
            .unwrap();
        let b = Breaker::with_clock(config, clock).unwrap();
        for _ in 0..4 {
            b.try_acquire().unwrap().failure(FailureKind::Timeout);
        }
        let replica = Replica::new("r-1", rules(), S, 0);
        let o = replica.opinion(&Phase::Idle, &b.view());
        assert_eq!((o.vote, o.open_for, o.ttl), (Vote::Open, 30 * S, 32 * S));
        assert_eq!(replica.marker_lifetime(), 5 * S);
    }
}
