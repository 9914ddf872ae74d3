//! The fleet against a real Redis on 127.0.0.1 (started by `fleet/run_tests.sh`):
//! replicas are threads, each with its own breaker, manual clock and fleet handle.

mod common;

use common::*;
use std::time::Duration;
use tripgate::State;
use tripgate_fleet::{Keys, Quorum};

fn replicas(tag: &str, url: &str, n: usize, quorum: Quorum) -> Vec<Replica> {
    let svc = service(tag);
    let rs: Vec<Replica> = (0..n)
        .map(|i| Replica::start(fleet_config(&svc, &format!("r{i}"), url, quorum)))
        .collect();
    // Every replica reports once before anything happens: a share quorum counts the
    // replicas whose opinions are present.
    sync_all(&all(&rs), 1);
    rs
}

fn all(rs: &[Replica]) -> Vec<&Replica> {
    rs.iter().collect()
}

#[test]
fn an_outage_seen_by_a_quorum_opens_the_others() {
    let Some(url) = redis_url() else { return };
    let rs = replicas("quorum", &url, 4, Quorum::Count(2));
    rs[0].trip();
    rs[1].trip();
    sync_all(&all(&rs), 2);
    for r in &rs[2..] {
        assert_eq!(r.state(), State::ForcedOpen);
        assert!(r.rejects(), "an adopting replica rejects calls");
        assert_eq!(r.fleet.metrics().adoptions, 1);
        assert!(r.fleet.metrics().store_up);
    }
    // The replicas that tripped on their own keep rejecting too.
    assert!(rs[0].rejects() && rs[1].rejects());
    assert!(rs[0].fleet.metrics().publishes >= 2);
}

#[test]
fn a_replica_below_quorum_opens_nobody() {
    let Some(url) = redis_url() else { return };
    let rs = replicas("below", &url, 3, Quorum::Count(2));
    rs[0].trip();
    sync_all(&all(&rs), 2);
    assert_eq!(rs[0].state(), State::Open);
    for r in &rs[1..] {
        assert_eq!(r.state(), State::Closed);
        assert_eq!(r.fleet.metrics().adoptions, 0);
    }
}

#[test]
fn a_share_quorum_counts_the_live_reporters() {
    let Some(url) = redis_url() else { return };
    // 5 replicas, share 0.5: 3 needed. Two trips are not enough, three are.
    let rs = replicas("share", &url, 5, Quorum::Share(0.5));
    rs[0].trip();
    rs[1].trip();
    sync_all(&all(&rs), 2);
    assert_eq!(rs[4].state(), State::Closed);
    rs[2].trip();
    sync_all(&all(&rs), 2);
    assert_eq!(rs[3].state(), State::ForcedOpen);
    assert_eq!(rs[4].state(), State::ForcedOpen);
}

#[test]
fn a_healthy_busy_replica_vetoes_for_itself() {
    let Some(url) = redis_url() else { return };
    let rs = replicas("veto", &url, 4, Quorum::Count(2));
    rs[3].succeed(30);
    rs[0].trip();
    rs[1].trip();
    sync_all(&all(&rs), 2);
    assert_eq!(rs[2].state(), State::ForcedOpen);
    assert_eq!(rs[3].state(), State::Closed, "the veto holds");
    assert!(!rs[3].rejects());
    assert_eq!(rs[3].fleet.metrics().adoptions, 0);
}

#[test]
fn one_probe_for_the_whole_fleet_then_everyone_is_released() {
    let Some(url) = redis_url() else { return };
    let rs = replicas("probe", &url, 4, Quorum::Count(2));
    for r in &rs[..3] {
        r.trip();
    }
    sync_all(&all(&rs), 2);
    assert!(rs.iter().all(|r| r.state() == State::ForcedOpen));
    // The open time passes on every replica.
    for r in &rs {
        r.clock.advance(OPEN + Duration::from_secs(1));
    }
    sync_all(&all(&rs), 2);
    let probers: Vec<usize> = (0..rs.len())
        .filter(|&i| rs[i].state() == State::Closed)
        .collect();
    assert_eq!(probers.len(), 1, "exactly one replica probes");
    let leases: u64 = rs.iter().map(|r| r.fleet.metrics().leases).sum();
    assert_eq!(leases, 1);
    let prober = &rs[probers[0]];
    for (i, r) in rs.iter().enumerate() {
        if i != probers[0] {
            assert!(
                r.rejects(),
                "replica {i} keeps rejecting while the probe runs"
            );
        }
    }
    // The probe's calls succeed: its window fills, the recovery is announced.
    prober.succeed(4);
    prober.sync();
    sync_all(&all(&rs), 1);
    // Every hold ends: replica 3, which only adopted, is released closed; a replica
    // that had tripped on its own goes to its own half-open (closing is never
    // propagated), and its own probe closes it.
    for (i, r) in rs.iter().enumerate() {
        if i == probers[0] || i == 3 {
            assert_eq!(r.state(), State::Closed, "replica {i}");
        } else {
            assert_eq!(r.state(), State::HalfOpen, "replica {i}");
            r.succeed(1);
        }
        assert_eq!(r.state(), State::Closed, "replica {i}");
        assert!(!r.rejects());
    }
}

#[test]
fn a_probe_whose_lease_expires_cannot_wedge_the_fleet_nor_announce_late() {
    let Some(url) = redis_url() else { return };
    let svc = service("lease");
    let keys = Keys::new(&svc, "test");
    let rs: Vec<Replica> = (0..3)
        .map(|i| {
            let mut c = fleet_config(&svc, &format!("r{i}"), &url, Quorum::Count(2));
            c.probe_lease = Duration::from_secs(1);
            Replica::start(c)
        })
        .collect();
    sync_all(&all(&rs), 1);
    for r in &rs {
        r.trip();
    }
    sync_all(&all(&rs), 2);
    for r in &rs {
        r.clock.advance(OPEN + Duration::from_secs(1));
    }
    sync_all(&all(&rs), 1);
    let first: Vec<usize> = (0..3).filter(|&i| rs[i].state() == State::Closed).collect();
    assert_eq!(first.len(), 1);
    let first = first[0];
    // The prober sees too few calls to conclude before its lease runs out in the store.
    let mut conn = connect(&url);
    let lease_of = |conn: &mut redis::Connection| -> Option<String> {
        redis::cmd("GET").arg(keys.lease("db")).query(conn).unwrap()
    };
    let token = lease_of(&mut conn).expect("a lease");
    assert!(token.contains(&format!("replica=r{first} ")), "{token}");
    rs[first].succeed(2);
    assert!(eventually(WAIT, || lease_of(&mut conn) != Some(token.clone())));
    // Its result, complete now but late, is not announced: it is held again with its
    // vote (or is the next prober if it wins the next lease), and the fleet goes on
    // with a new probe.
    for _ in 0..2 {
        if let Ok(p) = rs[first].breaker.try_acquire() {
            p.success();
        }
    }
    sync_all(&all(&rs), 1);
    assert!(rs.iter().filter(|r| r.state() == State::Closed).count() <= 1);
    let exists: bool = redis::cmd("EXISTS")
        .arg(keys.recovered("db"))
        .query(&mut conn)
        .unwrap();
    assert!(!exists, "a result from an expired lease is ignored");
    let mut probers = Vec::new();
    assert!(eventually(WAIT, || {
        sync_all(&all(&rs), 1);
        probers = (0..3).filter(|&i| rs[i].state() == State::Closed).collect();
        !probers.is_empty()
    }));
    assert_eq!(probers.len(), 1, "one probe at a time: {probers:?}");
    // This one concludes in time: everyone is released.
    rs[probers[0]].succeed(4);
    rs[probers[0]].sync();
    sync_all(&all(&rs), 1);
    // The others had tripped on their own: each goes to its own half-open, and its
    // own probe closes it.
    for (i, r) in rs.iter().enumerate() {
        if i != probers[0] {
            assert_eq!(r.state(), State::HalfOpen, "replica {i}");
            r.succeed(1);
        }
    }
    assert!(rs.iter().all(|r| r.state() == State::Closed));
}

#[test]
fn a_stopped_replica_withdraws_and_a_silent_one_expires() {
    let Some(url) = redis_url() else { return };
    let svc = service("expiry");
    let keys = Keys::new(&svc, "test");
    let mut conn = connect(&url);
    let a = Replica::start(fleet_config(&svc, "a", &url, Quorum::Count(2)));
    a.trip();
    a.sync();
    let key_a = keys.opinion("db", "a");
    let ttl: i64 = redis::cmd("PTTL").arg(&key_a).query(&mut conn).unwrap();
    // The key outlives the open time it reports (30 s): an expiry cannot re-close early.
    assert!(ttl > OPEN.as_millis() as i64, "PTTL {ttl}");
    a.fleet.stop();
    let exists: bool = redis::cmd("EXISTS").arg(&key_a).query(&mut conn).unwrap();
    assert!(!exists, "a replica that stops withdraws its opinion");

    // A replica cut off from the store (as if killed): its last opinion expires by
    // itself. Closed opinions live three heartbeats (1.5 s here).
    let proxy = Proxy::start(url_port(&url));
    let b = Replica::start(fleet_config(&svc, "b", &proxy.url(), Quorum::Count(2)));
    b.sync();
    let key_b = keys.opinion("db", "b");
    assert!(redis::cmd("EXISTS")
        .arg(&key_b)
        .query::<bool>(&mut conn)
        .unwrap());
    proxy.set(Mode::Cut);
    assert!(eventually(WAIT, || {
        !redis::cmd("EXISTS")
            .arg(&key_b)
            .query::<bool>(&mut conn)
            .unwrap()
    }));
    assert!(
        !b.rejects(),
        "the cut-off replica keeps serving on local state"
    );
}

#[test]
fn replicas_whose_clocks_differ_by_minutes_reach_the_same_decisions() {
    let Some(url) = redis_url() else { return };
    let svc = service("skew");
    let offsets = [0u64, 180, 420, 60];
    let rs: Vec<Replica> = offsets
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            Replica::start_at(
                fleet_config(&svc, &format!("r{i}"), &url, Quorum::Count(2)),
                Duration::from_secs(s),
            )
        })
        .collect();
    rs[0].trip();
    rs[1].trip();
    sync_all(&all(&rs), 2);
    assert_eq!(rs[2].state(), State::ForcedOpen);
    assert_eq!(rs[3].state(), State::ForcedOpen);
    // Each holds for the open time it was told (a remaining duration), measured on its
    // own clock: 1 s before the end every replica still holds ...
    for r in &rs {
        r.clock.advance(OPEN - Duration::from_secs(2));
    }
    sync_all(&all(&rs), 1);
    assert!(rs.iter().all(|r| r.state() == State::ForcedOpen));
    // ... and past it, exactly one probes, whatever its clock reads.
    for r in &rs {
        r.clock.advance(Duration::from_secs(3));
    }
    sync_all(&all(&rs), 1);
    assert_eq!(rs.iter().filter(|r| r.state() == State::Closed).count(), 1);
}

#[test]
fn malformed_and_foreign_values_are_counted_and_never_trusted() {
    let Some(url) = redis_url() else { return };
    let svc = service("hostile");
    let keys = Keys::new(&svc, "test");
    let mut conn = connect(&url);
    let op = |r: &str| keys.opinion("db", r);
    let open = |r: &str| {
        format!("tg1 replica={r} gen=1 state=open open_ms=30000 ttl_ms=60000 calls=9 failures=9")
    };
    // Open "votes" that must not count: garbage, a copy under another replica's key,
    // no expiry, a longer life than written, a hash where a string belongs.
    let _: () = redis::cmd("SET")
        .arg(op("x1"))
        .arg("garbage")
        .arg("PX")
        .arg(60_000)
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(op("x2"))
        .arg(open("x9"))
        .arg("PX")
        .arg(60_000)
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(op("x3"))
        .arg(open("x3"))
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(op("x4"))
        .arg(open("x4"))
        .arg("PX")
        .arg(600_000)
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg(op("x5"))
        .arg("state")
        .arg("open")
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(op("x6"))
        .arg(vec![0xffu8; 300])
        .arg("PX")
        .arg(60_000)
        .query(&mut conn)
        .unwrap();
    let r = Replica::start(fleet_config(&svc, "me", &url, Quorum::Count(1)));
    r.sync();
    assert_eq!(r.state(), State::Closed, "nothing refused is trusted");
    assert!(r.fleet.metrics().malformed >= 5, "{:?}", r.fleet.metrics());
    assert!(r.fleet.metrics().store_up);
    // One real open opinion is trusted (quorum of one).
    let _: () = redis::cmd("SET")
        .arg(op("x7"))
        .arg(open("x7"))
        .arg("PX")
        .arg(60_000)
        .query(&mut conn)
        .unwrap();
    r.sync();
    assert_eq!(r.state(), State::ForcedOpen);
    let text = r.fleet.prometheus();
    assert!(
        text.contains("tripgate_fleet_adopt_total{replica=\"me\"} 1"),
        "{text}"
    );
    let _: () = redis::cmd("DEL")
        .arg(op("x3"))
        .arg(op("x5"))
        .query(&mut conn)
        .unwrap();
}

fn url_port(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn quiet_replicas_trip_together_at_the_fleets_summed_rate() {
    let Some(url) = redis_url() else { return };
    let svc = service("rate");
    let rs: Vec<Replica> = (0..4)
        .map(|i| {
            let mut c = fleet_config(&svc, &format!("r{i}"), &url, Quorum::Count(2));
            c.fleet_rate = Some(tripgate_fleet::FleetRate {
                minimum_calls: 6,
                failure_rate: 0.5,
                open_duration: OPEN,
            });
            Replica::start(c)
        })
        .collect();
    sync_all(&all(&rs), 1);
    // Two failures each: under every breaker's minimum of 4, nobody trips alone.
    for r in &rs {
        for _ in 0..2 {
            r.breaker
                .try_acquire()
                .unwrap()
                .failure(tripgate::FailureKind::Timeout);
        }
        assert_eq!(r.state(), State::Closed);
    }
    sync_all(&all(&rs), 2);
    // 8 calls, 8 failures across the fleet: every quiet replica opens.
    assert!(rs.iter().all(|r| r.state() == State::ForcedOpen));
    assert!(rs.iter().all(|r| r.rejects()));
    // And they recover through one probe, like any other opening.
    for r in &rs {
        r.clock.advance(OPEN + Duration::from_secs(1));
    }
    sync_all(&all(&rs), 1);
    assert_eq!(rs.iter().filter(|r| r.state() == State::Closed).count(), 1);
}

#[test]
fn transitions_and_announcements_drive_the_fleet_between_heartbeats() {
    let Some(url) = redis_url() else { return };
    let svc = service("wake");
    // Heartbeats far apart: only a breaker's transition (its listener wakes its
    // fleet, which publishes and announces) and the announcement (which wakes the
    // others' subscribers) can move anything within the test's time.
    let rs: Vec<Replica> = (0..3)
        .map(|i| {
            let mut c = fleet_config(&svc, &format!("r{i}"), &url, Quorum::Count(2));
            c.heartbeat = Duration::from_secs(60);
            Replica::start(c)
        })
        .collect();
    sync_all(&all(&rs), 1);
    assert!(eventually(WAIT, || rs
        .iter()
        .all(|r| r.fleet.metrics().subscribed)));
    rs[0].trip();
    rs[1].trip();
    assert!(
        eventually(WAIT, || rs[2].state() == State::ForcedOpen),
        "adopted without a heartbeat or a sync"
    );
}
