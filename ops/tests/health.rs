mod common;

use tripgate::{Config, ManualClock, State};
use tripgate_ops::{health, HealthPolicy, Registry};

fn registry(n: usize) -> Registry<ManualClock> {
    let r = Registry::with_clock(ManualClock::new());
    let cfg = Config::builder().consecutive_failures(2).build().unwrap();
    for i in 0..n {
        r.get_or_create(&format!("dep{i}"), &cfg).unwrap();
    }
    r
}

#[test]
fn readiness_flips_to_503_when_half_the_breakers_open() {
    let r = registry(4);
    let p = HealthPolicy::default();
    assert_eq!(health::readiness(&r, &p).status, 200);
    common::trip(&r.get("dep0").unwrap());
    let one = health::readiness(&r, &p);
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.body["services"]["dep0"]["status"], "unhealthy");
    common::trip(&r.get("dep1").unwrap());
    let two = health::readiness(&r, &p);
    assert_eq!(two.status, 503);
    assert!(!two.ready);
    assert_eq!(two.body["status"], "not_ready");
    assert_eq!(two.body["circuit_breakers"]["open"], 2);
    assert_eq!(two.body["circuit_breakers"]["total"], 4);
    assert_eq!(two.body["circuit_breakers"]["open_percentage"], 50.0);
    // Back to ready once one closes.
    r.get("dep1").unwrap().reset();
    assert_eq!(health::readiness(&r, &p).status, 200);
}

#[test]
fn a_critical_breaker_alone_makes_the_process_unready() {
    let r = registry(10);
    r.set_critical("dep3", true);
    let p = HealthPolicy::default();
    r.get("dep3").unwrap().force_open();
    let rep = health::readiness(&r, &p);
    assert_eq!(rep.status, 503);
    assert!(rep.body["reason"].as_str().unwrap().contains("dep3"));
    let lenient = HealthPolicy {
        critical_opens_fail: false,
        ..p
    };
    assert_eq!(health::readiness(&r, &lenient).status, 200);
}

#[test]
fn share_is_configurable_and_half_open_is_degraded() {
    let r = registry(4);
    let p = HealthPolicy {
        open_share: 0.25,
        ..Default::default()
    };
    let b = r.get("dep0").unwrap();
    common::trip(&b);
    assert_eq!(health::readiness(&r, &p).status, 503);
    r.clock().advance(b.config().open.duration);
    let _probe = b.try_acquire().unwrap();
    let rep = health::readiness(&r, &p);
    assert_eq!(rep.status, 200);
    assert_eq!(rep.body["services"]["dep0"]["status"], "degraded");
}

#[test]
fn liveness_is_always_ok_and_an_empty_registry_is_ready() {
    assert_eq!(health::liveness().status, 200);
    assert_eq!(health::liveness().body["status"], "alive");
    let r = registry(0);
    assert_eq!(health::readiness(&r, &HealthPolicy::default()).status, 200);
}

/// Readiness as it was decided from full snapshots: (ready, open, critical names open).
fn decided_from_snapshots(r: &Registry<ManualClock>, p: &HealthPolicy) -> (bool, u64, Vec<String>) {
    let snaps = r.snapshots();
    let open = |s: &tripgate_ops::registry::NamedSnapshot| {
        matches!(s.snapshot.state, State::Open | State::ForcedOpen)
    };
    let n_open = snaps.iter().filter(|s| open(s)).count();
    let critical: Vec<String> = snaps
        .iter()
        .filter(|s| s.critical && open(s))
        .map(|s| s.name.clone())
        .collect();
    let share = if snaps.is_empty() {
        0.0
    } else {
        n_open as f64 / snaps.len() as f64
    };
    let too_many = n_open > 0 && share >= p.open_share;
    let critical_fails = p.critical_opens_fail && !critical.is_empty();
    let ready = !(too_many || critical_fails);
    (ready, n_open as u64, critical)
}

#[test]
fn readiness_from_states_decides_as_from_snapshots_in_every_state() {
    let r = registry(7);
    // One breaker in each state: closed, open, half-open (a probe out), forced open,
    // forced closed, disabled, metrics only.
    common::trip(&r.get("dep1").unwrap());
    let half = r.get("dep2").unwrap();
    common::trip(&half);
    r.clock().advance(half.config().open.duration);
    let probe = half.try_acquire().unwrap();
    r.get("dep3").unwrap().force_open();
    r.get("dep4").unwrap().force_closed();
    r.get("dep5").unwrap().disable();
    r.get("dep6").unwrap().metrics_only();
    // dep1 stays open although its open duration has passed: an open breaker moves on
    // only when a call is admitted.
    let policies = [
        HealthPolicy::default(),
        HealthPolicy {
            open_share: 0.25,
            ..Default::default()
        },
        HealthPolicy {
            open_share: 0.3,
            critical_opens_fail: false,
        },
        HealthPolicy {
            open_share: 1.0,
            ..Default::default()
        },
    ];
    for critical in [None, Some("dep0"), Some("dep2"), Some("dep3"), Some("dep1")] {
        for name in r.names() {
            r.set_critical(&name, Some(name.as_str()) == critical);
        }
        for p in &policies {
            let rep = health::readiness(&r, p);
            let (ready, open, critical_open) = decided_from_snapshots(&r, p);
            assert_eq!(
                rep.ready, ready,
                "critical {critical:?}, {p:?}: {}",
                rep.body
            );
            assert_eq!(rep.status, if ready { 200 } else { 503 });
            assert_eq!(rep.body["circuit_breakers"]["open"], open);
            assert_eq!(rep.body["circuit_breakers"]["total"], 7);
            for name in &critical_open {
                if p.critical_opens_fail {
                    assert!(rep.body["reason"].as_str().unwrap().contains(name.as_str()));
                }
            }
        }
    }
    let rep = health::readiness(&r, &HealthPolicy::default());
    let services = &rep.body["services"];
    let expect = [
        ("dep0", "closed", "healthy"),
        ("dep1", "open", "unhealthy"),
        ("dep2", "half_open", "degraded"),
        ("dep3", "forced_open", "unhealthy"),
        ("dep4", "forced_closed", "healthy"),
        ("dep5", "disabled", "healthy"),
        ("dep6", "metrics_only", "healthy"),
    ];
    for (name, state, status) in expect {
        assert_eq!(services[name]["state"], state, "{name}: {services}");
        assert_eq!(services[name]["status"], status, "{name}: {services}");
        let snap = r.get(name).unwrap().snapshot();
        assert_eq!(snap.state.name(), state);
        assert_eq!(
            services[name]["retry_after_seconds"].as_f64(),
            snap.retry_after.map(|d| d.as_secs_f64()),
            "{name}"
        );
    }
    // An open breaker says when it admits again; a closed one does not.
    assert!(services["dep1"]["retry_after_seconds"].as_f64().is_some());
    assert!(services["dep0"]["retry_after_seconds"].is_null());
    drop(probe);
}

#[test]
fn readiness_reads_states_and_takes_no_snapshot() {
    // A snapshot delivers the transition events that admission queued; reading the
    // state word does not. A breaker moved to half-open by an admission (its probe
    // still out) has that event pending: readiness must see the new state without
    // delivering it, and a snapshot does deliver it (so this test can fail).
    let r = registry(2);
    let b = r.get("dep0").unwrap();
    common::trip(&b);
    r.clock().advance(b.config().open.duration);
    let probe = b.try_acquire().unwrap();
    let entry = r.entry("dep0").unwrap();
    let to_half_open = || {
        entry
            .transitions
            .seen()
            .filter(|&(from, to, _)| from == State::Open && to == State::HalfOpen)
            .map(|(_, _, n)| n)
            .sum::<u64>()
    };
    assert_eq!(to_half_open(), 0, "the event is pending");
    let rep = health::readiness(&r, &HealthPolicy::default());
    assert_eq!(rep.body["services"]["dep0"]["state"], "half_open");
    assert_eq!(rep.status, 200);
    assert_eq!(r.states()[0].state, State::HalfOpen);
    assert_eq!(
        to_half_open(),
        0,
        "readiness delivered an event: it took a snapshot"
    );
    let _ = r.snapshots();
    assert_eq!(to_half_open(), 1, "a snapshot delivers the pending event");
    drop(probe);
}
