mod common;

use std::sync::Arc;
use std::time::Duration;
use tripgate::{ManualClock, State};
use tripgate_ops::{EnvVars, Registry, Reloader};

const V1: &str = r#"
[defaults]
consecutive_failures = 3
failure_rate_threshold = 0.5
minimum_calls = 10
open = { duration = "30s" }

[services.database]
critical = false
"#;

fn setup(text: &str) -> (std::path::PathBuf, Reloader, Registry<ManualClock>) {
    let dir = common::temp_dir("reload");
    let path = dir.join("tripgate.toml");
    std::fs::write(&path, text).unwrap();
    let reloader = Reloader::new(&path, None, EnvVars::empty());
    let registry = Registry::with_clock(ManualClock::new());
    registry.set_settings(reloader.load().unwrap());
    (path, reloader, registry)
}

#[test]
fn reload_changes_thresholds_on_an_open_breaker_and_keeps_its_state() {
    let (path, reloader, registry) = setup(V1);
    let db = registry.breaker("database").unwrap();
    common::trip(&db);
    assert_eq!(db.state(), State::Open);
    let before = db.snapshot();
    assert_eq!(before.consecutive_failures, 3);

    let v2 = V1
        .replace("consecutive_failures = 3", "consecutive_failures = 7")
        .replace(
            "failure_rate_threshold = 0.5",
            "failure_rate_threshold = 0.3",
        )
        .replace("critical = false", "critical = true");
    std::fs::write(&path, v2).unwrap();
    let changes = reloader.reload(&registry).unwrap();
    assert_eq!(changes.len(), 1);
    let line = changes[0].to_string();
    assert!(
        line.starts_with("circuit breaker config updated: service=database"),
        "{line}"
    );
    assert!(line.contains("consecutive_failures=7 (was 3)"), "{line}");
    assert!(
        line.contains("failure_rate_threshold=0.3 (was 0.5)"),
        "{line}"
    );
    assert!(line.contains("critical=true (was false)"), "{line}");

    // Same breaker, still open, counters kept, new thresholds in force.
    let same = registry.get("database").unwrap();
    assert!(Arc::ptr_eq(&same, &db));
    assert_eq!(db.state(), State::Open);
    let after = db.snapshot();
    assert_eq!(after.calls, before.calls);
    assert_eq!(after.generation, before.generation);
    assert_eq!(db.config().consecutive_failures, Some(7));
    assert_eq!(db.config().failure_rate_threshold, Some(0.3));
    assert!(registry.entry("database").unwrap().critical);

    // The open duration still ends as configured: recovery works after the reload.
    registry.clock().advance(Duration::from_secs(30));
    db.try_acquire().expect("probe").success();
    assert_eq!(db.state(), State::Closed);
    // Now seven failures in a row are needed.
    for _ in 0..6 {
        db.try_acquire()
            .unwrap()
            .failure(tripgate::FailureKind::Timeout);
    }
    assert_eq!(db.state(), State::Closed);
    db.try_acquire()
        .unwrap()
        .failure(tripgate::FailureKind::Timeout);
    assert_eq!(db.state(), State::Open);
}

#[test]
fn an_invalid_reload_is_refused_whole_and_the_old_config_kept() {
    let (path, reloader, registry) = setup(&format!("{V1}\n[services.cache]\n"));
    let db = registry.breaker("database").unwrap();
    let cache = registry.breaker("cache").unwrap();
    let old_db = db.config();
    let old_cache = cache.config();
    // database's change is valid, cache's is not: neither may be applied.
    let v2 = format!(
        "{}\n[services.cache]\nfailure_rate_threshold = 1.5\n",
        V1.replace("minimum_calls = 10", "minimum_calls = 4")
    );
    std::fs::write(&path, v2).unwrap();
    let e = reloader.reload(&registry).unwrap_err();
    let text = e.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(
        text.contains("service \"cache\": field failure_rate_threshold"),
        "{text}"
    );
    assert!(
        text.contains(": allowed ") && text.contains("1.0"),
        "{text}"
    );
    assert_eq!(e.problems.len(), 1);
    assert_eq!(db.config(), old_db);
    assert_eq!(cache.config(), old_cache);
    assert_eq!(registry.settings().defaults.config.minimum_calls, 10);

    // A syntax error too.
    std::fs::write(&path, "[defaults\n").unwrap();
    let text = reloader.reload(&registry).unwrap_err().to_string();
    assert!(
        text.contains("tripgate.toml:1:") && text.contains("invalid TOML"),
        "{text}"
    );
    assert_eq!(db.config(), old_db);
}

/// Reloads `built` changed into `changed` on a running "database" breaker: refused
/// for `field`, with the config unchanged; returns the error's text.
fn refused_live(built: &str, changed: &str, field: &str) -> String {
    let (path, reloader, registry) = setup(built);
    let db = registry.breaker("database").unwrap();
    let old = db.config();
    std::fs::write(&path, changed).unwrap();
    let e = reloader.reload(&registry).unwrap_err();
    assert_eq!(e.problems[0].field, field);
    assert_eq!(db.config(), old);
    e.to_string()
}

#[test]
fn changes_a_running_breaker_cannot_take_are_refused() {
    let with_window = |window: &str| {
        V1.replace(
            "minimum_calls = 10",
            &format!("minimum_calls = 10\nwindow = {window}"),
        )
    };
    // More buckets than the breaker was built with (the default window has 10).
    let e = refused_live(
        V1,
        &with_window(r#"{ kind = "time", duration = "60s", buckets = 60 }"#),
        "window.buckets",
    );
    assert!(e.contains("on a running breaker"), "{e}");
    // A count window cannot become a time window live.
    let e = refused_live(
        &with_window(r#"{ kind = "count", size = 100 }"#),
        &with_window(r#"{ kind = "time", duration = "10s" }"#),
        "window.kind",
    );
    assert!(e.contains("restart to apply it"), "{e}");
}

#[test]
fn explicit_breakers_are_left_alone_and_new_ones_use_new_settings() {
    let (path, reloader, registry) = setup(V1);
    let own = tripgate::Config::builder()
        .minimum_calls(99)
        .build()
        .unwrap();
    registry.get_or_create("own", &own).unwrap();
    std::fs::write(&path, V1.replace("minimum_calls = 10", "minimum_calls = 4")).unwrap();
    let changes = reloader.reload(&registry).unwrap();
    assert!(changes.is_empty(), "no managed breaker yet: {changes:?}");
    assert_eq!(registry.get("own").unwrap().config().minimum_calls, 99);
    assert_eq!(registry.breaker("later").unwrap().config().minimum_calls, 4);
}

#[test]
fn reload_if_changed_and_the_watcher() {
    let (path, reloader, registry) = setup(V1);
    let db = registry.breaker("database").unwrap();
    assert!(
        reloader.reload_if_changed(&registry).unwrap().is_some(),
        "first read applies"
    );
    assert!(
        reloader.reload_if_changed(&registry).unwrap().is_none(),
        "unchanged"
    );
    std::fs::write(&path, V1.replace("minimum_calls = 10", "minimum_calls = 6")).unwrap();
    let ch = reloader.reload_if_changed(&registry).unwrap().unwrap();
    assert_eq!(ch[0].fields[0].field, "minimum_calls");
    assert_eq!(db.config().minimum_calls, 6);

    let registry = Arc::new(registry);
    let watcher = reloader.watch(Arc::clone(&registry), Duration::from_millis(2));
    std::fs::write(&path, V1.replace("minimum_calls = 10", "minimum_calls = 9")).unwrap();
    let mut waited = 0;
    while db.config().minimum_calls != 9 && waited < 2000 {
        std::thread::sleep(Duration::from_millis(2));
        waited += 2;
    }
    watcher.stop();
    assert_eq!(db.config().minimum_calls, 9);
}
