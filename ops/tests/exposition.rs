mod common;

use std::time::Duration;
use tripgate::{Config, FailureKind, ManualClock};
use tripgate_ops::{exposition, Registry};

fn sample_registry() -> Registry<ManualClock> {
    let r = Registry::with_clock(ManualClock::new());
    let cfg = Config::builder().consecutive_failures(3).build().unwrap();
    let db = r.get_or_create("database", &cfg).unwrap();
    for ms in [3, 5, 8, 13, 21] {
        db.try_acquire()
            .unwrap()
            .record(tripgate::Outcome::Success, Duration::from_millis(ms));
    }
    db.try_acquire().unwrap().failure(FailureKind::Timeout);
    let api = r.get_or_create("external \"api\"", &cfg).unwrap();
    common::trip(&api);
    let _ = api.try_acquire();
    let cache = r
        .get_or_create(
            "cache",
            &cfg.to_builder().track_latency(false).build().unwrap(),
        )
        .unwrap();
    cache.force_open();
    r
}

fn value(text: &str, line_start: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no line {line_start}\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn every_family_has_help_and_type_and_a_service_label() {
    let r = sample_registry();
    let text = exposition::render(&r);
    for (name, kind) in [
        ("tripgate_breaker_state", "gauge"),
        ("tripgate_breaker_state_info", "gauge"),
        ("tripgate_calls_total", "counter"),
        ("tripgate_failures_total", "counter"),
        ("tripgate_rejected_calls_total", "counter"),
        ("tripgate_transitions_total", "counter"),
        ("tripgate_state_duration_seconds", "gauge"),
        ("tripgate_failure_rate", "gauge"),
        ("tripgate_slow_call_rate", "gauge"),
        ("tripgate_consecutive_failures", "gauge"),
        ("tripgate_call_latency_seconds", "summary"),
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{name}");
        assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{name}");
    }
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.contains("{service=\""), "{line}");
    }
    assert_eq!(
        value(&text, "tripgate_breaker_state{service=\"database\"}"),
        0.0
    );
    assert_eq!(
        value(
            &text,
            "tripgate_breaker_state{service=\"external \\\"api\\\"\"}"
        ),
        2.0
    );
    assert_eq!(
        value(&text, "tripgate_breaker_state{service=\"cache\"}"),
        2.0
    );
    assert_eq!(
        value(
            &text,
            "tripgate_breaker_state_info{service=\"cache\",state=\"forced_open\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "tripgate_calls_total{service=\"database\",outcome=\"success\"}"
        ),
        5.0
    );
    assert_eq!(
        value(
            &text,
            "tripgate_failures_total{service=\"database\",kind=\"timeout\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "tripgate_rejected_calls_total{service=\"external \\\"api\\\"\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "tripgate_consecutive_failures{service=\"external \\\"api\\\"\"}"
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            "tripgate_retry_after_seconds{service=\"external \\\"api\\\"\"}"
        ),
        30.0
    );
    // Latency in seconds, within the histogram's error of the truth: 0 (the failure,
    // timed on a clock that did not move), 3, 5, 8, 13, 21 ms.
    let p50 = value(
        &text,
        "tripgate_call_latency_seconds{service=\"database\",quantile=\"0.5\"}",
    );
    assert!((p50 - 0.005).abs() < 0.005 * 0.04, "{p50}");
    let p99 = value(
        &text,
        "tripgate_call_latency_seconds{service=\"database\",quantile=\"0.99\"}",
    );
    assert!((p99 - 0.021).abs() < 0.021 * 0.04, "{p99}");
    assert_eq!(
        value(
            &text,
            "tripgate_call_latency_seconds_count{service=\"database\"}"
        ),
        6.0
    );
    // No latency series for a breaker that does not track it.
    assert!(!text.contains("tripgate_call_latency_seconds{service=\"cache\""));
    assert!(text.ends_with('\n'));
}

#[test]
fn state_scale_matches_the_seeds() {
    use tripgate::State::*;
    assert_eq!(exposition::state_value(Closed), 0);
    assert_eq!(exposition::state_value(HalfOpen), 1);
    assert_eq!(exposition::state_value(Open), 2);
    assert_eq!(exposition::state_value(ForcedOpen), 2);
    assert_eq!(exposition::state_value(ForcedClosed), 0);
    assert_eq!(exposition::format_value(f64::NAN), "NaN");
    assert_eq!(exposition::escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

#[test]
fn empty_registry_is_still_valid_exposition() {
    let r = Registry::with_clock(ManualClock::new());
    let text = exposition::render(&r);
    assert!(text.lines().all(|l| l.starts_with('#')));
}
