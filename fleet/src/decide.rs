//! The fleet's decisions for one breaker on one replica: a pure function of the
//! breaker's reading, the peers' opinions and the store's two markers, so that every
//! rule is tested with manual clocks and no store.
//!
//! The phases:
//!
//! ```text
//!  Idle ──quorum open, own window not vetoing──▶ Holding{adopted}   (adoption)
//!  Idle ──own trip and quorum open────────────▶ Holding{own vote}
//!  Idle ──quiet, and the fleet's summed windows trip (optional)──▶ Holding{own vote}
//!  Holding ──time left──▶ Holding (calls rejected)
//!  Holding ──a recovery announced since the hold began──▶ Idle (adopted: released;
//!           own vote: into its own half-open, its own probes decide)
//!  Holding ──time up, fleet recovered or no quorum──▶ Idle (released)
//!  Holding ──time up, quorum──▶ try the probe lease ──won──▶ Probing (released)
//!                                                  └─lost─▶ Holding (keeps rejecting)
//!  Probing ──window filled, still closed, lease ours──▶ Idle + announce recovery
//!  Probing ──lease expired or no longer ours, own vote──▶ Holding{own vote} (nothing announced)
//!  Probing ──tripped again, or an adopted prober's lease gone──▶ as from Idle
//! ```
//!
//! Closing is never propagated: a replica's breaker closes only by its own calls. The
//! "recovered" marker only ends holds the fleet placed: an adopted breaker is released
//! (its next calls are judged by its own rules), one that had tripped on its own is
//! handed to its own half-open, so that its own probes close it or open it again.

use crate::config::{FleetRate, Quorum, Veto};
use crate::local::LocalView;
use crate::opinion::Vote;
use std::time::Duration;
use tripgate::State;

/// The rules a fleet decides by (from [`FleetConfig`](crate::FleetConfig)).
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Open reports needed.
    pub quorum: Quorum,
    /// When a healthy replica refuses to adopt.
    pub veto: Option<Veto>,
    /// The probe lease's lifetime.
    pub probe_lease: Duration,
    /// The optional trip rule on the fleet's summed windows.
    pub fleet_rate: Option<FleetRate>,
}

/// A peer's opinion as the decision needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peer {
    /// Its vote.
    pub vote: Vote,
    /// How long its breaker stays open from now.
    pub open_remaining: Duration,
    /// Calls in its window.
    pub calls: u64,
    /// Failures in its window.
    pub failures: u64,
}

/// What the store said this round; `None` in [`decide`] when it could not be read.
#[derive(Debug, Clone, Default)]
pub struct FleetView {
    /// Every other replica's fresh opinion of this breaker.
    pub peers: Vec<Peer>,
    /// Whether a fleet probe recently succeeded (the marker is present).
    pub recovered: bool,
    /// The probe lease's current value, if any.
    pub lease: Option<String>,
}

/// Where the fleet stands with one breaker on this replica.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Phase {
    /// The breaker runs on its own.
    #[default]
    Idle,
    /// The fleet holds the breaker open until `until` (breaker clock nanoseconds).
    Holding {
        /// End of the hold.
        until: u64,
        /// Whether the breaker had tripped on its own (its vote stays open).
        own_vote: bool,
        /// Whether a recovery marker read from now on is news: the store has been
        /// read without one during this hold. A marker left by a recovery before the
        /// hold began (it lives a few heartbeats) ends nothing.
        awaits_recovery: bool,
    },
    /// This replica holds the fleet's probe lease and its breaker probes.
    Probing {
        /// The lease's value.
        token: String,
        /// When the lease expires (breaker clock nanoseconds).
        lease_until: u64,
        /// Whether the breaker had tripped on its own: its open vote stands until the
        /// probe's result is known, so the quorum the other holds rest on does not
        /// vanish because one of its members went probing.
        own_vote: bool,
    },
}

/// What the fleet's thread does after a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    None,
    /// Hold the breaker open (the decision's phase says until when).
    Hold {
        /// Whether this is an adoption (the breaker had not tripped on its own).
        adopted: bool,
    },
    /// End the hold: the breaker runs on its own, closed (an adopted breaker).
    Release,
    /// End the hold of a breaker that had tripped on its own into its own half-open:
    /// its own probes decide (the fleet's probe succeeded meanwhile).
    ReleaseToProbe,
    /// Try to take the probe lease; on success call [`Phase::leased`] and release.
    TryLease,
    /// The probe succeeded: announce recovery if the lease with `token` is still ours.
    AnnounceRecovery {
        /// The lease's value.
        token: String,
    },
}

/// This replica's own vote, as published.
pub fn own_vote(phase: &Phase, view: &LocalView) -> (Vote, Duration) {
    match phase {
        Phase::Holding {
            until,
            own_vote: true,
            ..
        } => (Vote::Open, nanos_until(view.now_nanos, *until)),
        Phase::Holding {
            own_vote: false, ..
        } => (Vote::Adopted, Duration::ZERO),
        Phase::Probing { own_vote: true, .. } if view.state == State::Closed => {
            (Vote::Open, Duration::ZERO)
        }
        _ => match view.state {
            State::Open => (Vote::Open, view.open_for.unwrap_or_default()),
            State::HalfOpen => (Vote::HalfOpen, Duration::ZERO),
            State::ForcedOpen => (Vote::Other, Duration::ZERO),
            State::Closed | State::ForcedClosed | State::Disabled | State::MetricsOnly => {
                (Vote::Closed, Duration::ZERO)
            }
        },
    }
}

fn nanos_until(now: u64, until: u64) -> Duration {
    Duration::from_nanos(until.saturating_sub(now))
}

fn after(now: u64, d: Duration) -> u64 {
    now.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The quorum's verdict: `Some(d)` when enough replicas (this one included) report
/// open, `d` being how long at least a quorum of them stay open.
pub fn quorum_open(quorum: Quorum, own: (Vote, Duration), peers: &[Peer]) -> Option<Duration> {
    let mut down: Vec<Duration> = peers
        .iter()
        .filter(|p| p.vote.is_down())
        .map(|p| p.open_remaining)
        .collect();
    if own.0.is_down() {
        down.push(own.1);
    }
    let needed = quorum.needed(peers.len() + 1);
    if needed == 0 || down.len() < needed {
        return None;
    }
    down.sort_unstable_by(|a, b| b.cmp(a));
    Some(down[needed - 1])
}

/// Whether this replica's own window is healthy enough to refuse adoption.
pub fn vetoes(veto: Option<Veto>, view: &LocalView) -> bool {
    veto.is_some_and(|v| {
        view.window_calls >= v.minimum_calls && view.failure_rate() < v.max_failure_rate
    })
}

/// Whether the fleet's summed windows trip this quiet replica (see [`FleetRate`]).
pub fn fleet_rate_trips(rule: Option<FleetRate>, view: &LocalView, peers: &[Peer]) -> bool {
    let Some(rule) = rule else { return false };
    if view.window_calls >= view.minimum_calls {
        return false;
    }
    let (calls, failures) = peers.iter().fold(
        (
            view.window_calls,
            view.window_failures.min(view.window_calls),
        ),
        |(c, f), p| {
            (
                c.saturating_add(p.calls),
                f.saturating_add(p.failures.min(p.calls)),
            )
        },
    );
    calls >= rule.minimum_calls && failures as f64 >= rule.failure_rate * calls as f64
}

/// One round's decision: the next phase and the action that takes the breaker there.
/// `held` says whether the breaker still shows the fleet's hold (an operator may have
/// changed it since). `fleet` is `None` when the store could not be read: then the
/// breaker is left to itself, and a hold ends when its time is up.
pub fn decide(
    rules: &Rules,
    phase: &Phase,
    view: &LocalView,
    held: bool,
    fleet: Option<&FleetView>,
) -> (Phase, Action) {
    let now = view.now_nanos;
    let stay = (phase.clone(), Action::None);
    let Some(fleet) = fleet else {
        return match phase {
            Phase::Holding { until, .. } if held && now >= *until => (Phase::Idle, Action::Release),
            Phase::Holding { .. } if !held => (Phase::Idle, Action::None),
            Phase::Holding { .. } => stay,
            _ => (Phase::Idle, Action::None),
        };
    };
    let quorum = quorum_open(rules.quorum, own_vote(phase, view), &fleet.peers);
    match phase {
        Phase::Idle => match (view.state, quorum) {
            (State::Closed, Some(d)) if !fleet.recovered && !vetoes(rules.veto, view) => (
                Phase::Holding {
                    until: after(now, d),
                    own_vote: false,
                    awaits_recovery: true,
                },
                Action::Hold { adopted: true },
            ),
            (State::Open, Some(_)) => (
                Phase::Holding {
                    until: after(now, view.open_for.unwrap_or_default()),
                    own_vote: true,
                    awaits_recovery: !fleet.recovered,
                },
                Action::Hold { adopted: false },
            ),
            (State::Closed, None)
                if !fleet.recovered && fleet_rate_trips(rules.fleet_rate, view, &fleet.peers) =>
            {
                let d = rules.fleet_rate.map_or(Duration::ZERO, |r| r.open_duration);
                (
                    Phase::Holding {
                        until: after(now, d),
                        own_vote: true,
                        awaits_recovery: true,
                    },
                    Action::Hold { adopted: false },
                )
            }
            _ => stay,
        },
        Phase::Holding {
            until,
            own_vote,
            awaits_recovery,
        } => {
            if !held {
                (Phase::Idle, Action::None)
            } else if fleet.recovered && (*awaits_recovery || now >= *until) {
                // The fleet's probe succeeded: every hold the fleet placed ends.
                let action = if *own_vote {
                    Action::ReleaseToProbe
                } else {
                    Action::Release
                };
                (Phase::Idle, action)
            } else if now < *until {
                let awaits_recovery = *awaits_recovery || !fleet.recovered;
                (
                    Phase::Holding {
                        until: *until,
                        own_vote: *own_vote,
                        awaits_recovery,
                    },
                    Action::None,
                )
            } else if quorum.is_none() {
                (Phase::Idle, Action::Release)
            } else {
                (phase.clone(), Action::TryLease)
            }
        }
        Phase::Probing {
            token,
            lease_until,
            own_vote,
        } => {
            let lost = fleet.lease.as_deref() != Some(token.as_str());
            let tripped = matches!(view.state, State::Open | State::HalfOpen);
            if !tripped && (now >= *lease_until || lost) && *own_vote {
                // The lease ran out before the probe concluded: nothing was learned, so
                // a replica that had tripped on its own keeps its vote and is held again
                // (the next lease may go to anyone).
                (
                    Phase::Holding {
                        until: now,
                        own_vote: true,
                        awaits_recovery: !fleet.recovered,
                    },
                    Action::Hold { adopted: false },
                )
            } else if tripped || now >= *lease_until || lost {
                // The probe failed, or an adopted replica's lease ran out: the breaker is
                // judged as any other, at once.
                decide(rules, &Phase::Idle, view, held, Some(fleet))
            } else if view.state == State::Closed && view.window_calls >= view.minimum_calls {
                (
                    Phase::Idle,
                    Action::AnnounceRecovery {
                        token: token.clone(),
                    },
                )
            } else {
                stay
            }
        }
    }
}

impl Phase {
    /// The phase after this hold won the probe lease `token` at `now`.
    pub fn leased(&self, token: String, now: u64, lease: Duration) -> Phase {
        Phase::Probing {
            token,
            lease_until: after(now, lease),
            own_vote: matches!(self, Phase::Holding { own_vote: true, .. }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::LocalBreaker;
    use tripgate::{Breaker, Config, FailureKind, ManualClock};

    const S: Duration = Duration::from_secs(1);

    fn rules(quorum: Quorum) -> Rules {
        Rules {
            quorum,
            veto: Some(Veto {
                minimum_calls: 10,
                max_failure_rate: 0.2,
            }),
            probe_lease: 5 * S,
            fleet_rate: None,
        }
    }

    fn view(state: State, now_secs: u64) -> LocalView {
        LocalView {
            state,
            generation: 0,
            open_for: (state == State::Open).then_some(30 * S),
            window_calls: 0,
            window_failures: 0,
            minimum_calls: 4,
            now_nanos: now_secs * 1_000_000_000,
        }
    }

    fn open(secs: u64) -> Peer {
        Peer {
            vote: Vote::Open,
            open_remaining: Duration::from_secs(secs),
            calls: 0,
            failures: 0,
        }
    }

    fn vote(v: Vote) -> Peer {
        Peer {
            vote: v,
            open_remaining: Duration::ZERO,
            calls: 0,
            failures: 0,
        }
    }

    fn fleet(peers: Vec<Peer>) -> FleetView {
        FleetView {
            peers,
            recovered: false,
            lease: Some("t".into()),
        }
    }

    #[test]
    fn a_count_quorum_adopts_for_as_long_as_a_quorum_stays_open() {
        let r = rules(Quorum::Count(2));
        let v = view(State::Closed, 100);
        // One open peer: below quorum.
        let f = fleet(vec![open(30), vote(Vote::Closed)]);
        assert_eq!(
            decide(&r, &Phase::Idle, &v, false, Some(&f)).1,
            Action::None
        );
        // Two: adopted until the second-longest of them ends (20 s from now).
        let f = fleet(vec![open(30), open(20), open(5)]);
        let (phase, action) = decide(&r, &Phase::Idle, &v, false, Some(&f));
        assert_eq!(action, Action::Hold { adopted: true });
        assert_eq!(
            phase,
            Phase::Holding {
                until: 120_000_000_000,
                own_vote: false,
                awaits_recovery: true,
            }
        );
    }

    #[test]
    fn a_share_quorum_counts_live_reporters_and_this_replica() {
        let r = rules(Quorum::Share(0.5));
        let v = view(State::Closed, 0);
        // 4 live (3 peers + us), 2 open: 50% is met.
        let f = fleet(vec![open(10), open(10), vote(Vote::Closed)]);
        assert!(matches!(
            decide(&r, &Phase::Idle, &v, false, Some(&f)).1,
            Action::Hold { .. }
        ));
        // 5 live, 2 open: 40% is not.
        let f = fleet(vec![
            open(10),
            open(10),
            vote(Vote::Closed),
            vote(Vote::Closed),
        ]);
        assert_eq!(
            decide(&r, &Phase::Idle, &v, false, Some(&f)).1,
            Action::None
        );
    }

    #[test]
    fn adopted_holds_and_operator_states_never_count_as_votes() {
        let r = rules(Quorum::Count(2));
        let v = view(State::Closed, 0);
        let f = fleet(vec![open(10), vote(Vote::Adopted), vote(Vote::Other)]);
        assert_eq!(
            decide(&r, &Phase::Idle, &v, false, Some(&f)).1,
            Action::None
        );
        // A half-open replica still reports trouble.
        let f = fleet(vec![open(10), vote(Vote::HalfOpen)]);
        assert!(matches!(
            decide(&r, &Phase::Idle, &v, false, Some(&f)).1,
            Action::Hold { .. }
        ));
    }

    #[test]
    fn a_healthy_busy_window_vetoes_and_a_thin_one_does_not() {
        let r = rules(Quorum::Count(2));
        let f = fleet(vec![open(10), open(10)]);
        let mut v = view(State::Closed, 0);
        v.window_calls = 50;
        v.window_failures = 2;
        assert_eq!(
            decide(&r, &Phase::Idle, &v, false, Some(&f)).1,
            Action::None
        );
        // Failing at 30%: no veto.
        v.window_failures = 15;
        assert!(matches!(
            decide(&r, &Phase::Idle, &v, false, Some(&f)).1,
            Action::Hold { .. }
        ));
        // Under the veto's minimum calls: no veto.
        v.window_calls = 5;
        v.window_failures = 0;
        assert!(matches!(
            decide(&r, &Phase::Idle, &v, false, Some(&f)).1,
            Action::Hold { .. }
        ));
        // Veto off.
        let mut no_veto = r;
        no_veto.veto = None;
        v.window_calls = 50;
        assert!(matches!(
            decide(&no_veto, &Phase::Idle, &v, false, Some(&f)).1,
            Action::Hold { .. }
        ));
    }

    #[test]
    fn a_replica_that_tripped_itself_is_held_for_its_own_time_and_keeps_its_vote() {
        let r = rules(Quorum::Count(2));
        let v = view(State::Open, 10);
        let (phase, action) = decide(&r, &Phase::Idle, &v, false, Some(&fleet(vec![open(3)])));
        assert_eq!(action, Action::Hold { adopted: false });
        assert_eq!(
            phase,
            Phase::Holding {
                until: 40_000_000_000,
                own_vote: true,
                awaits_recovery: true,
            }
        );
        let mut held = view(State::ForcedOpen, 25);
        held.open_for = None;
        assert_eq!(own_vote(&phase, &held), (Vote::Open, 15 * S));
        // Alone (no quorum), its own breaker is left to run its course.
        assert_eq!(
            decide(&r, &Phase::Idle, &v, false, Some(&fleet(vec![]))).1,
            Action::None
        );
    }

    #[test]
    fn close_is_never_propagated() {
        let r = rules(Quorum::Count(1));
        // Every peer closed, this breaker open on its own: nothing to do.
        let f = fleet(vec![vote(Vote::Closed); 5]);
        let v = view(State::Open, 0);
        let (phase, action) = decide(&r, &Phase::Idle, &v, false, Some(&f));
        // Its own vote alone is a quorum of one: held for its own time, not closed.
        assert_eq!(action, Action::Hold { adopted: false });
        let (_, action) = decide(&r, &phase, &view(State::ForcedOpen, 1), true, Some(&f));
        assert_eq!(action, Action::None);
        // A recovery announced during the hold does not close an own trip either: it
        // hands the breaker to its own half-open, whose own probes decide.
        let f = FleetView {
            peers: vec![],
            recovered: true,
            lease: None,
        };
        let (next, action) = decide(&r, &phase, &view(State::ForcedOpen, 29), true, Some(&f));
        assert_eq!((next, action), (Phase::Idle, Action::ReleaseToProbe));
    }

    #[test]
    fn a_recovery_announced_during_a_hold_ends_it_and_an_older_one_does_not() {
        let r = rules(Quorum::Count(2));
        let quorum = fleet(vec![open(60), open(60)]);
        let marked = FleetView {
            recovered: true,
            ..quorum.clone()
        };
        // Tripped on its own while an earlier recovery's marker is still there: held,
        // and that marker ends nothing.
        let (hold, action) = decide(
            &r,
            &Phase::Idle,
            &view(State::Open, 0),
            false,
            Some(&marked),
        );
        assert_eq!(action, Action::Hold { adopted: false });
        let held = view(State::ForcedOpen, 1);
        let (hold, action) = decide(&r, &hold, &held, true, Some(&marked));
        assert_eq!(action, Action::None);
        assert!(matches!(
            hold,
            Phase::Holding {
                awaits_recovery: false,
                ..
            }
        ));
        // The marker goes (a new lease took it): a marker from now on is news.
        let (hold, action) = decide(&r, &hold, &held, true, Some(&quorum));
        assert_eq!(action, Action::None);
        assert!(matches!(
            hold,
            Phase::Holding {
                awaits_recovery: true,
                ..
            }
        ));
        // The fleet's probe succeeded, long before this hold's own time is up: it ends,
        // into the breaker's own half-open; an adopted hold is released outright.
        assert_eq!(
            decide(&r, &hold, &held, true, Some(&marked)),
            (Phase::Idle, Action::ReleaseToProbe)
        );
        let (adopted, action) = decide(
            &r,
            &Phase::Idle,
            &view(State::Closed, 0),
            false,
            Some(&quorum),
        );
        assert_eq!(action, Action::Hold { adopted: true });
        assert_eq!(
            decide(&r, &adopted, &held, true, Some(&marked)),
            (Phase::Idle, Action::Release)
        );
    }

    #[test]
    fn a_hold_ended_into_half_open_is_settled_by_the_breakers_own_probes() {
        let clock = ManualClock::new();
        let config = Config::builder()
            .count_window(10)
            .minimum_calls(4)
            .failure_rate_threshold(0.5)
            .build()
            .unwrap();
        let b = Breaker::with_clock(config, clock).unwrap();
        for _ in 0..4 {
            b.try_acquire().unwrap().failure(FailureKind::Timeout);
        }
        LocalBreaker::hold_open(&b);
        LocalBreaker::release_to_probe(&b);
        assert_eq!(b.state(), State::HalfOpen);
        // An operator's state is left alone.
        b.force_closed();
        LocalBreaker::release_to_probe(&b);
        assert_eq!(b.state(), State::ForcedClosed);
    }

    #[test]
    fn at_the_end_of_a_hold_one_lease_decides_who_probes() {
        let r = rules(Quorum::Count(2));
        let hold = Phase::Holding {
            until: 20_000_000_000,
            own_vote: false,
            awaits_recovery: true,
        };
        let v = view(State::ForcedOpen, 20);
        let f = fleet(vec![open(0), open(0)]);
        assert_eq!(
            decide(&r, &hold, &v, true, Some(&f)),
            (hold.clone(), Action::TryLease)
        );
        // Lost the lease: the worker keeps the phase; calls keep being rejected.
        // The fleet recovered: released.
        let rec = FleetView {
            peers: f.peers.clone(),
            recovered: true,
            lease: None,
        };
        assert_eq!(
            decide(&r, &hold, &v, true, Some(&rec)),
            (Phase::Idle, Action::Release)
        );
        // The voters' opinions expired: no quorum, released.
        assert_eq!(
            decide(&r, &hold, &v, true, Some(&fleet(vec![]))),
            (Phase::Idle, Action::Release)
        );
        // An operator changed the breaker meanwhile: the fleet lets go without touching it.
        assert_eq!(
            decide(&r, &hold, &view(State::Closed, 20), false, Some(&f)),
            (Phase::Idle, Action::None)
        );
    }

    #[test]
    fn a_probe_announces_only_within_its_lease() {
        let r = rules(Quorum::Count(2));
        let hold = Phase::Holding {
            until: 0,
            own_vote: true,
            awaits_recovery: true,
        };
        let probing = hold.leased("t".into(), 0, r.probe_lease);
        // While it probes, a replica that tripped on its own still counts as open.
        assert_eq!(own_vote(&probing, &view(State::Closed, 1)).0, Vote::Open);
        let adopted = Phase::Holding {
            until: 0,
            own_vote: false,
            awaits_recovery: true,
        };
        let adopted_probe = adopted.leased("u".into(), 0, r.probe_lease);
        assert_eq!(
            own_vote(&adopted_probe, &view(State::Closed, 1)).0,
            Vote::Closed
        );
        let mut v = view(State::Closed, 1);
        let f = fleet(vec![open(0), open(0)]);
        // Window not yet filled: wait (peers' open votes do not re-adopt a prober).
        assert_eq!(decide(&r, &probing, &v, false, Some(&f)).1, Action::None);
        v.window_calls = 4;
        assert_eq!(
            decide(&r, &probing, &v, false, Some(&f)),
            (Phase::Idle, Action::AnnounceRecovery { token: "t".into() })
        );
        // The same result after the lease expired is ignored: no announcement; the
        // replica that had tripped on its own is held again with its vote.
        let mut late = v;
        late.now_nanos = 5_000_000_000;
        let held_again = (
            Phase::Holding {
                until: 5_000_000_000,
                own_vote: true,
                awaits_recovery: true,
            },
            Action::Hold { adopted: false },
        );
        assert_eq!(decide(&r, &probing, &late, false, Some(&f)), held_again);
        // So is one whose lease the store no longer holds (expired there, or taken by
        // another replica), whatever this replica's clock says.
        for other in [None, Some("x".to_string())] {
            let moved = FleetView {
                lease: other,
                ..f.clone()
            };
            assert_eq!(
                decide(&r, &probing, &v, false, Some(&moved)).1,
                Action::Hold { adopted: false }
            );
            // An adopted prober is judged afresh: adopted again while the quorum stands.
            assert_eq!(
                decide(&r, &adopted_probe, &v, false, Some(&moved)).1,
                Action::Hold { adopted: true }
            );
        }
        // Without a quorum any more, an adopted prober's breaker simply runs on.
        let alone = FleetView {
            peers: vec![],
            ..f.clone()
        };
        assert_eq!(
            decide(&r, &adopted_probe, &late, false, Some(&alone)),
            (Phase::Idle, Action::None)
        );
        // Tripped again: the probe failed, nothing announced; held for its own time.
        let v = view(State::Open, 2);
        assert_eq!(
            decide(&r, &probing, &v, false, Some(&f)).1,
            Action::Hold { adopted: false }
        );
    }

    #[test]
    fn a_recent_recovery_blocks_readoption() {
        let r = rules(Quorum::Count(2));
        let f = FleetView {
            peers: vec![open(0), open(0)],
            recovered: true,
            lease: None,
        };
        assert_eq!(
            decide(&r, &Phase::Idle, &view(State::Closed, 0), false, Some(&f)).1,
            Action::None
        );
    }

    #[test]
    fn without_the_store_a_hold_ends_on_time_and_nothing_new_starts() {
        let r = rules(Quorum::Count(1));
        let hold = Phase::Holding {
            until: 10_000_000_000,
            own_vote: false,
            awaits_recovery: true,
        };
        assert_eq!(
            decide(&r, &hold, &view(State::ForcedOpen, 9), true, None),
            (hold.clone(), Action::None)
        );
        assert_eq!(
            decide(&r, &hold, &view(State::ForcedOpen, 10), true, None),
            (Phase::Idle, Action::Release)
        );
        assert_eq!(
            decide(&r, &Phase::Idle, &view(State::Open, 0), false, None),
            (Phase::Idle, Action::None)
        );
    }

    #[test]
    fn quiet_replicas_trip_at_the_fleets_summed_rate_and_busy_ones_judge_alone() {
        let mut r = rules(Quorum::Count(3));
        let rule = FleetRate {
            minimum_calls: 10,
            failure_rate: 0.5,
            open_duration: 20 * S,
        };
        let quiet = |calls, failures| Peer {
            vote: Vote::Closed,
            open_remaining: Duration::ZERO,
            calls,
            failures,
        };
        let mut v = view(State::Closed, 0);
        v.window_calls = 2;
        v.window_failures = 2;
        // 2 + 3 + 3 + 3 = 11 calls, 2 + 2 + 2 + 2 = 8 failures: 73% >= 50%.
        let f = fleet(vec![quiet(3, 2), quiet(3, 2), quiet(3, 2)]);
        assert_eq!(
            decide(&r, &Phase::Idle, &v, false, Some(&f)).1,
            Action::None
        );
        r.fleet_rate = Some(rule);
        let (phase, action) = decide(&r, &Phase::Idle, &v, false, Some(&f));
        assert_eq!(action, Action::Hold { adopted: false });
        assert_eq!(
            phase,
            Phase::Holding {
                until: 20_000_000_000,
                own_vote: true,
                awaits_recovery: true,
            }
        );
        // Under the summed minimum, or under the rate: nothing.
        let thin = fleet(vec![quiet(3, 3)]);
        assert_eq!(
            decide(&r, &Phase::Idle, &v, false, Some(&thin)).1,
            Action::None
        );
        let healthy = fleet(vec![quiet(30, 2)]);
        assert_eq!(
            decide(&r, &Phase::Idle, &v, false, Some(&healthy)).1,
            Action::None
        );
        // A replica busy enough to judge for itself is left to its own breaker.
        v.window_calls = 4;
        v.window_failures = 1;
        assert_eq!(
            decide(&r, &Phase::Idle, &v, false, Some(&f)).1,
            Action::None
        );
        // Hostile counts cannot overflow or claim more failures than calls.
        let wild = fleet(vec![quiet(u64::MAX, u64::MAX), quiet(u64::MAX, 0)]);
        v.window_calls = 0;
        let _ = decide(&r, &Phase::Idle, &v, false, Some(&wild));
    }

    #[test]
    fn the_view_of_a_real_breaker_feeds_the_rules() {
        use crate::local::LocalBreaker;
        let clock = ManualClock::new();
        let config = Config::builder()
            .count_window(10)
            .minimum_calls(4)
            .failure_rate_threshold(0.5)
            .open_duration(30 * S)
            .build()
            .unwrap();
        let b = Breaker::with_clock(config, clock.clone()).unwrap();
        for _ in 0..4 {
            b.try_acquire().unwrap().failure(FailureKind::Timeout);
        }
        clock.advance(10 * S);
        let v = b.view();
        assert_eq!(v.state, State::Open);
        assert_eq!(v.open_for, Some(20 * S));
        assert_eq!(own_vote(&Phase::Idle, &v), (Vote::Open, 20 * S));
        b.hold_open();
        assert!(b.is_held(&b.view()));
        b.release();
        assert_eq!(b.state(), State::Closed);
        // An operator's reset stands: release does nothing to a breaker no longer held.
        b.force_closed();
        b.release();
        assert_eq!(b.state(), State::ForcedClosed);
    }
}
