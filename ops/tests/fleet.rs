//! Fleet mode from the config file: the `fleet` table is checked at load, and a
//! registry whose settings hold it joins the fleet and shares its breakers. The
//! registry suites need a Redis: `fleet/run_tests.sh` starts one on 127.0.0.1 and sets
//! `TG_TEST_REDIS_URL`; without it they print a notice and skip.
#![cfg(feature = "fleet")]

use std::sync::Arc;
use std::time::Duration;
use tripgate::{FailureKind, ManualClock, State};
use tripgate_ops::file::Format;
use tripgate_ops::{exposition, fleet, reload, EnvVars, Registry, Settings};

const FILE: &str = r#"
environment = "staging"

[services.db]
window = { kind = "count", size = 10 }
minimum_calls = 4
failure_rate_threshold = 0.5
open = { duration = "30s" }

[fleet]
service = "SERVICE"
url = "URL"
heartbeat = "500ms"
quorum = { count = 1 }

[environments.prod.fleet]
quorum = { share = 0.5 }
"#;

fn file(service: &str, url: &str) -> String {
    FILE.replace("SERVICE", service).replace("URL", url)
}

fn parse(text: &str, environment: Option<&str>, env: &EnvVars) -> Result<Settings, String> {
    Settings::parse(text, Format::Toml, "tripgate.toml", environment, env)
        .map_err(|e| e.to_string())
}

fn read(settings: &Settings) -> tripgate_fleet::FleetConfig {
    let section = settings.fleet.as_ref().expect("a fleet table");
    fleet::read(
        section,
        settings.environment.as_deref(),
        settings.replica.as_deref(),
    )
    .unwrap()
}

#[test]
fn the_fleet_table_takes_the_files_environment_its_overlay_and_the_replica_variable() {
    let text = file("checkout", "redis://127.0.0.1:6379/0");
    let env = EnvVars::from_pairs([("TRIPGATE_REPLICA", "pod-7")]);
    let staging = read(&parse(&text, None, &env).unwrap());
    assert_eq!(staging.environment, "staging");
    assert_eq!(staging.replica, "pod-7");
    assert_eq!(staging.store.url, "redis://127.0.0.1:6379/0");
    assert_eq!(staging.quorum, tripgate_fleet::Quorum::Count(1));
    assert_eq!(staging.heartbeat, Duration::from_millis(500));

    let prod = read(&parse(&text, Some("prod"), &EnvVars::empty()).unwrap());
    assert_eq!(prod.environment, "prod");
    assert_eq!(prod.quorum, tripgate_fleet::Quorum::Share(0.5));
    assert_eq!(
        prod.heartbeat,
        Duration::from_millis(500),
        "merged key by key"
    );
    let pid = format!("-{}", std::process::id());
    assert!(
        prod.replica.ends_with(&pid),
        "{} is hostname-pid",
        prod.replica
    );
}

#[test]
fn a_mistake_in_the_fleet_table_fails_the_load_naming_the_field_and_its_line() {
    let bad_share = file("checkout", "redis://h/0").replace("share = 0.5", "share = 1.5");
    let err = parse(&bad_share, Some("prod"), &EnvVars::empty()).unwrap_err();
    assert!(err.contains("field fleet.quorum.share"), "{err}");
    assert!(err.contains("(0, 1]"), "{err}");

    let unknown = file("checkout", "redis://h/0").replace("heartbeat", "heartbeet");
    let err = parse(&unknown, None, &EnvVars::empty()).unwrap_err();
    assert!(
        err.contains("tripgate.toml:13:13: field fleet.heartbeet: unknown field"),
        "{err}"
    );

    let both = file("checkout", "redis://h/0") + "[fleet.store]\nurl = \"redis://h/1\"\n";
    let err = parse(&both, None, &EnvVars::empty()).unwrap_err();
    assert!(err.contains("field fleet.url: set either"), "{err}");

    let no_env = file("checkout", "redis://h/0").replace("environment = \"staging\"", "");
    let err = parse(&no_env, None, &EnvVars::empty()).unwrap_err();
    assert!(err.contains("field fleet.environment: missing"), "{err}");

    let bad_name = file("check out", "redis://h/0");
    let err = parse(&bad_name, None, &EnvVars::empty()).unwrap_err();
    assert!(err.contains("field fleet.service"), "{err}");
}

#[test]
fn the_password_is_never_printed() {
    let text = file("checkout", "redis://h/0").replace(
        "url = \"redis://h/0\"",
        "store = { url = \"redis://h/0\", username = \"tg\", password = \"hunter2\" }",
    );
    let settings = parse(&text, None, &EnvVars::empty()).unwrap();
    assert!(!format!("{settings:?}").contains("hunter2"));
    assert!(!format!("{:?}", read(&settings)).contains("hunter2"));
}

/// The server `fleet/run_tests.sh` started, or `None` (the suite then skips).
fn redis_url() -> Option<String> {
    match std::env::var("TG_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: TG_TEST_REDIS_URL is not set (fleet/run_tests.sh sets it)");
            None
        }
    }
}

fn registry(text: &str, replica: &str) -> Arc<Registry<ManualClock>> {
    let env = EnvVars::from_pairs([("TRIPGATE_REPLICA", replica)]);
    let registry = Arc::new(Registry::with_clock(ManualClock::new()));
    registry.set_settings(parse(text, None, &env).unwrap());
    registry
}

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn registries_sharing_a_fleet_table_adopt_each_others_open_and_export_the_fleets_figures() {
    let Some(url) = redis_url() else { return };
    let text = file(&format!("ops-{}", std::process::id()), &url);
    let (a, b) = (registry(&text, "a"), registry(&text, "b"));
    let (db_a, db_b) = (a.breaker("db").unwrap(), b.breaker("db").unwrap());
    // Not a fleet name: stays local, and nothing breaks.
    let odd = b.breaker("odd name").unwrap();
    for _ in 0..4 {
        db_a.try_acquire().unwrap().failure(FailureKind::Timeout);
    }
    // Open by its own trip; its fleet's worker, woken by the transition, may already
    // hold it open (a quorum of one: its own opinion).
    assert!(matches!(db_a.state(), State::Open | State::ForcedOpen));
    for _ in 0..2 {
        assert!(
            a.fleet_sync(WAIT) && b.fleet_sync(WAIT),
            "a round within {WAIT:?}"
        );
    }
    assert_eq!(db_b.state(), State::ForcedOpen, "b adopts a's open breaker");
    assert_eq!(odd.state(), State::Closed);
    let (replica, metrics) = b.fleet_metrics().unwrap();
    assert_eq!(replica, "b");
    assert!(metrics.store_up && metrics.adoptions == 1, "{metrics:?}");
    let text_b = exposition::render(&b);
    assert!(
        text_b.contains("tripgate_fleet_store_up{replica=\"b\"} 1"),
        "{text_b}"
    );
    assert!(
        text_b.contains("tripgate_fleet_adopt_total{replica=\"b\"} 1"),
        "{text_b}"
    );
    assert!(
        !text_b.contains(&url),
        "the store's address is not exported"
    );

    // A reload without the table leaves the fleet: b's hold is released.
    let alone = text.split("[fleet]").next().unwrap().to_string();
    let env = EnvVars::from_pairs([("TRIPGATE_REPLICA", "b")]);
    reload::apply(&b, parse(&alone, None, &env).unwrap()).unwrap();
    assert!(b.fleet_metrics().is_none());
    assert!(!b.fleet_sync(Duration::from_millis(10)));
    assert_eq!(
        db_b.state(),
        State::Closed,
        "leaving releases the fleet's holds"
    );
    assert!(!exposition::render(&b).contains("tripgate_fleet_"));
}

#[test]
fn a_breaker_removed_from_the_registry_leaves_the_fleet() {
    let Some(url) = redis_url() else { return };
    let text = file(&format!("ops-rm-{}", std::process::id()), &url);
    let (a, b) = (registry(&text, "a"), registry(&text, "b"));
    let db_b = b.breaker("db").unwrap();
    b.remove("db");
    let db_a = a.breaker("db").unwrap();
    for _ in 0..4 {
        db_a.try_acquire().unwrap().failure(FailureKind::Timeout);
    }
    for _ in 0..2 {
        assert!(a.fleet_sync(WAIT) && b.fleet_sync(WAIT));
    }
    assert_eq!(
        db_b.state(),
        State::Closed,
        "a removed breaker is not steered"
    );
    assert_eq!(b.fleet_metrics().unwrap().1.adoptions, 0);
}
