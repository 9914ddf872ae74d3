mod common;

use tripgate::{Config, ManualClock};
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
