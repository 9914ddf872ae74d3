mod common;

use std::sync::Arc;
use tripgate::{Config, ManualClock, State};
use tripgate_ops::{EnvVars, Registry, Settings};

#[test]
fn get_or_create_list_remove() {
    let r = Registry::with_clock(ManualClock::new());
    assert!(r.is_empty());
    let cfg = Config::builder().consecutive_failures(3).build().unwrap();
    let a = r.get_or_create("payments", &cfg).unwrap();
    // A second call returns the same breaker and keeps its config.
    let b = r.get_or_create("payments", &Config::critical()).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(b.config().consecutive_failures, Some(3));
    r.breaker("search").unwrap();
    assert_eq!(r.names(), ["payments", "search"]);
    assert_eq!(r.list().len(), 2);
    assert!(!r.entry("payments").unwrap().managed);
    assert!(r.entry("search").unwrap().managed);
    let removed = r.remove("payments").unwrap();
    assert!(Arc::ptr_eq(&removed, &a));
    assert!(r.remove("payments").is_none());
    assert_eq!(r.len(), 1);
    // The removed breaker still works for whoever holds it.
    removed.try_acquire().unwrap().success();
}

#[test]
fn invalid_config_is_refused() {
    let r = Registry::with_clock(ManualClock::new());
    let mut bad = Config::standard();
    bad.minimum_calls = 0;
    let e = r.get_or_create("x", &bad).err().unwrap();
    assert_eq!(e.field(), "minimum_calls");
    assert!(r.is_empty());
}

#[test]
fn breakers_come_from_settings() {
    let text = r#"
        [defaults]
        tier = "non_critical"
        [services.database]
        tier = "critical"
        critical = true
    "#;
    let s = Settings::parse(
        text,
        tripgate_ops::file::Format::Toml,
        "t.toml",
        None,
        &EnvVars::empty(),
    )
    .unwrap();
    let r = Registry::with_clock(ManualClock::new());
    r.set_settings(s);
    assert_eq!(r.breaker("database").unwrap().config().minimum_calls, 20);
    assert!(r.entry("database").unwrap().critical);
    assert_eq!(r.breaker("other").unwrap().config().minimum_calls, 5);
}

#[test]
fn concurrent_lookups_and_creation_agree() {
    let r = Arc::new(Registry::with_clock(ManualClock::new()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let r = Arc::clone(&r);
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                for i in 0..50 {
                    let b = r.breaker(&format!("svc{}", (i + t) % 10)).unwrap();
                    b.try_acquire().unwrap().success();
                    seen.push(Arc::as_ptr(&b) as usize);
                }
                seen
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(r.len(), 10);
    let calls: u64 = r.snapshots().iter().map(|s| s.snapshot.calls).sum();
    assert_eq!(calls, 200, "no breaker was created twice");
    assert!(r
        .snapshots()
        .iter()
        .all(|s| s.snapshot.state == State::Closed));
}
