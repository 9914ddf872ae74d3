//! Hostile values under the namespace: whatever bytes sit under a key, reading them
//! never panics, a value is trusted only in its one canonical form, and nothing that
//! is refused can make a replica adopt.

use proptest::prelude::*;
use std::time::Duration;
use tripgate::State;
use tripgate_fleet::{
    decide, read_peer, Action, FleetView, Keys, LocalView, Opinion, Phase, Quorum, Rules, Vote,
};

fn keys() -> Keys {
    Keys::new("svc", "test")
}

fn closed_view() -> LocalView {
    LocalView {
        state: State::Closed,
        generation: 0,
        open_for: None,
        window_calls: 0,
        window_failures: 0,
        minimum_calls: 4,
        now_nanos: 0,
    }
}

fn vote() -> impl Strategy<Value = Vote> {
    prop_oneof![
        Just(Vote::Closed),
        Just(Vote::Open),
        Just(Vote::HalfOpen),
        Just(Vote::Adopted),
        Just(Vote::Other),
    ]
}

prop_compose! {
    fn opinion()(replica in "[A-Za-z0-9_.-]{1,64}", generation: u32, vote in vote(),
                 open_ms in 0u64..=86_400_000, extra_ms in 1u64..=1_000_000,
                 calls in 0u64..1_000_000, fail_share in 0.0f64..=1.0) -> Opinion {
        Opinion {
            replica,
            generation,
            vote,
            open_for: Duration::from_millis(open_ms),
            ttl: Duration::from_millis((open_ms + extra_ms).min(86_400_000)),
            calls,
            failures: (calls as f64 * fail_share) as u64,
        }
    }
}

/// A valid value with one byte changed, inserted or removed.
fn mutated() -> impl Strategy<Value = (Opinion, Vec<u8>)> {
    (opinion(), any::<prop::sample::Index>(), any::<u8>(), 0..3u8).prop_map(|(o, at, byte, how)| {
        let mut v = o.encode().into_bytes();
        let i = at.index(v.len());
        match how {
            0 => v[i] = byte,
            1 => v.insert(i, byte),
            _ => {
                v.remove(i);
            }
        }
        (o, v)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_bytes_are_read_without_panic_and_trusted_only_when_canonical(
        value in prop::collection::vec(any::<u8>(), 0..400),
        key in prop::collection::vec(any::<u8>(), 0..100),
        pttl in any::<i64>(),
    ) {
        let _ = read_peer(&keys(), "db", "me", &key, Some(&value), pttl);
        if let Some(o) = Opinion::parse(&value, "r1") {
            prop_assert_eq!(o.encode().into_bytes(), value);
        }
    }

    #[test]
    fn a_valid_value_round_trips_and_a_changed_one_is_refused_or_canonical(
        (o, changed) in mutated()
    ) {
        prop_assert_eq!(Opinion::parse(o.encode().as_bytes(), &o.replica), Some(o.clone()));
        if let Some(p) = Opinion::parse(&changed, &o.replica) {
            // A change can only yield another well-formed value, never a lenient read.
            prop_assert_eq!(p.encode().into_bytes(), changed);
        }
    }

    #[test]
    fn refused_entries_never_make_a_replica_adopt(
        values in prop::collection::vec((mutated(), any::<i64>()), 1..20)
    ) {
        let k = keys();
        let mut peers = Vec::new();
        let mut refused = 0;
        for ((o, bytes), pttl) in &values {
            let key = k.opinion("db", &o.replica);
            match read_peer(&k, "db", "me", key.as_bytes(), Some(bytes), *pttl) {
                Ok(Some(p)) => peers.push(p),
                Ok(None) => {}
                Err(()) => refused += 1,
            }
        }
        // A quorum of one: any open vote that was read adopts. Adoption happens only
        // when some value was canonical, unexpired and open.
        let canonical_open = values.iter().any(|((o, bytes), pttl)| {
            Opinion::parse(bytes, &o.replica).is_some_and(|p| {
                p.encode().as_bytes() == bytes.as_slice()
                    && p.vote.is_down()
                    && *pttl > 0
                    && (*pttl as u128) <= p.ttl.as_millis()
            })
        });
        let rules = Rules {
            quorum: Quorum::Count(1),
            veto: None,
            probe_lease: Duration::from_secs(1),
            fleet_rate: None,
        };
        let accepted = peers.len();
        let fleet = FleetView {
            peers,
            recovered: false,
            lease: None,
        };
        let (_, action) = decide(&rules, &Phase::Idle, &closed_view(), false, Some(&fleet));
        prop_assert_eq!(action == Action::Hold { adopted: true }, canonical_open);
        prop_assert!(accepted + refused <= values.len());
    }

    #[test]
    fn foreign_keys_are_refused_whatever_their_value(
        o in opinion(), suffix in "[a-z:]{1,10}", pttl in 1i64..1_000_000
    ) {
        let k = keys();
        let value = o.encode();
        for key in [
            format!("tripgate:svc:other:opinion:db:{}", o.replica),
            format!("tripgate:svc:test:opinion:db:{}:{suffix}", o.replica),
            format!("tripgate:svc:test:lease:db{suffix}"),
            format!("other:{}", o.replica),
        ] {
            prop_assert_eq!(read_peer(&k, "db", "me", key.as_bytes(), Some(value.as_bytes()), pttl), Err(()));
        }
    }
}

#[test]
fn a_value_under_another_replicas_key_or_without_expiry_is_refused() {
    let k = keys();
    let o = Opinion {
        replica: "r1".into(),
        generation: 1,
        vote: Vote::Open,
        open_for: Duration::from_secs(30),
        ttl: Duration::from_secs(32),
        calls: 10,
        failures: 10,
    };
    let v = o.encode();
    let good = k.opinion("db", "r1");
    assert!(matches!(
        read_peer(&k, "db", "me", good.as_bytes(), Some(v.as_bytes()), 31_000),
        Ok(Some(_))
    ));
    let copied = k.opinion("db", "r2");
    assert_eq!(
        read_peer(
            &k,
            "db",
            "me",
            copied.as_bytes(),
            Some(v.as_bytes()),
            31_000
        ),
        Err(())
    );
    // PTTL -1: no expiry; we always set one.
    assert_eq!(
        read_peer(&k, "db", "me", good.as_bytes(), Some(v.as_bytes()), -1),
        Err(())
    );
    // Longer left than it was given: not written by a replica.
    assert_eq!(
        read_peer(&k, "db", "me", good.as_bytes(), Some(v.as_bytes()), 40_000),
        Err(())
    );
    // Our own opinion and a key that vanished are skipped, not counted.
    let own = k.opinion("db", "me");
    assert_eq!(
        read_peer(&k, "db", "me", own.as_bytes(), Some(v.as_bytes()), 31_000),
        Ok(None)
    );
    assert_eq!(
        read_peer(&k, "db", "me", good.as_bytes(), None, -2),
        Ok(None)
    );
}
