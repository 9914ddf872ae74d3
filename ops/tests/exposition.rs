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

/// `name="<breaker>"` as it appears in a sample (label value escaped).
fn of(breaker: &str) -> String {
    format!("name=\"{}\"", exposition::escape_label(breaker))
}

#[test]
fn every_family_has_help_and_type_and_a_name_label() {
    let r = sample_registry();
    let text = exposition::render(&r);
    for (name, kind) in [
        ("tripgate_circuitbreaker_state", "gauge"),
        ("tripgate_circuitbreaker_calls_seconds", "summary"),
        (
            "tripgate_circuitbreaker_not_permitted_calls_total",
            "counter",
        ),
        ("tripgate_circuitbreaker_failure_rate", "gauge"),
        ("tripgate_circuitbreaker_slow_call_rate", "gauge"),
        ("tripgate_circuitbreaker_buffered_calls", "gauge"),
        ("tripgate_circuitbreaker_transitions_total", "counter"),
        ("tripgate_circuitbreaker_calls_in_flight", "gauge"),
        ("tripgate_circuitbreaker_next_probe_seconds", "gauge"),
        ("tripgate_breaker_state", "gauge"),
        ("tripgate_calls_total", "counter"),
        ("tripgate_failures_total", "counter"),
        ("tripgate_state_duration_seconds", "gauge"),
        ("tripgate_consecutive_failures", "gauge"),
        ("tripgate_call_latency_seconds", "summary"),
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{name}");
        assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{name}");
    }
    // Every sample names its breaker with `name`, never `service` (the target's label
    // in Kubernetes).
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.contains("{name=\""), "{line}");
        assert!(!line.contains("service="), "{line}");
    }
    let (db, api, cache) = (of("database"), of("external \"api\""), of("cache"));
    assert_eq!(
        value(&text, &format!("tripgate_breaker_state{{{db}}}")),
        0.0
    );
    assert_eq!(
        value(&text, &format!("tripgate_breaker_state{{{api}}}")),
        2.0
    );
    assert_eq!(
        value(&text, &format!("tripgate_breaker_state{{{cache}}}")),
        2.0
    );
    // One-hot state, as resilience4j's.
    for (state, v) in [("forced_open", 1.0), ("open", 0.0), ("closed", 0.0)] {
        let line = format!("tripgate_circuitbreaker_state{{{cache},state=\"{state}\"}}");
        assert_eq!(value(&text, &line), v, "{state}");
    }
    assert_eq!(
        value(
            &text,
            &format!("tripgate_calls_total{{{db},outcome=\"success\"}}")
        ),
        5.0
    );
    for (kind, v) in [("successful", 5.0), ("failed", 1.0), ("ignored", 0.0)] {
        let line = format!("tripgate_circuitbreaker_calls_seconds_count{{{db},kind=\"{kind}\"}}");
        assert_eq!(value(&text, &line), v, "{kind}");
    }
    // The summed durations: 3 + 5 + 8 + 13 + 21 ms of successes; the failure took no
    // time on the manual clock.
    for (kind, v) in [("successful", 0.050), ("failed", 0.0), ("ignored", 0.0)] {
        let line = format!("tripgate_circuitbreaker_calls_seconds_sum{{{db},kind=\"{kind}\"}}");
        assert!((value(&text, &line) - v).abs() < 1e-12, "{kind}");
    }
    // A breaker that measures nothing writes counts only.
    assert!(text.contains(&format!(
        "tripgate_circuitbreaker_calls_seconds_count{{{cache},kind=\"successful\"}} 0"
    )));
    assert!(!text.contains(&format!(
        "tripgate_circuitbreaker_calls_seconds_sum{{{cache}"
    )));
    assert_eq!(
        value(
            &text,
            &format!("tripgate_failures_total{{{db},kind=\"timeout\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &format!(
                "tripgate_circuitbreaker_not_permitted_calls_total{{{api},kind=\"not_permitted\"}}"
            )
        ),
        1.0
    );
    assert_eq!(
        value(&text, &format!("tripgate_consecutive_failures{{{api}}}")),
        3.0
    );
    assert_eq!(
        value(
            &text,
            &format!("tripgate_circuitbreaker_next_probe_seconds{{{api}}}")
        ),
        30.0
    );
    // Transitions by from and to.
    assert_eq!(
        value(
            &text,
            &format!(
                "tripgate_circuitbreaker_transitions_total{{{api},from=\"closed\",to=\"open\"}}"
            )
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &format!("tripgate_circuitbreaker_transitions_total{{{cache},from=\"closed\",to=\"forced_open\"}}")
        ),
        1.0
    );
    assert!(!text.contains(&format!("tripgate_circuitbreaker_transitions_total{{{db}")));
    // Latency in seconds, within the histogram's error of the truth: 0 (the failure,
    // timed on a clock that did not move), 3, 5, 8, 13, 21 ms.
    let p50 = value(
        &text,
        &format!("tripgate_call_latency_seconds{{{db},quantile=\"0.5\"}}"),
    );
    assert!((p50 - 0.005).abs() < 0.005 * 0.04, "{p50}");
    let p99 = value(
        &text,
        &format!("tripgate_call_latency_seconds{{{db},quantile=\"0.99\"}}"),
    );
    assert!((p99 - 0.021).abs() < 0.021 * 0.04, "{p99}");
    assert_eq!(
        value(
            &text,
            &format!("tripgate_call_latency_seconds_count{{{db}}}")
        ),
        6.0
    );
    // No latency series for a breaker that does not track it.
    assert!(!text.contains(&format!("tripgate_call_latency_seconds{{{cache}")));
    assert!(text.ends_with('\n'));
}

#[test]
fn rates_are_percent_and_minus_one_below_the_minimum() {
    let r = Registry::with_clock(ManualClock::new());
    let cfg = Config::builder()
        .count_window(10)
        .minimum_calls(4)
        .failure_rate_threshold(0.9)
        .build()
        .unwrap();
    let b = r.get_or_create("b", &cfg).unwrap();
    let rate = |r: &Registry<ManualClock>| {
        value(
            &exposition::render(r),
            &format!("tripgate_circuitbreaker_failure_rate{{{}}}", of("b")),
        )
    };
    b.try_acquire().unwrap().failure(FailureKind::Other);
    for _ in 0..2 {
        b.try_acquire().unwrap().success();
    }
    assert_eq!(rate(&r), -1.0, "3 calls, minimum 4");
    b.try_acquire().unwrap().success();
    assert_eq!(rate(&r), 25.0);
    let text = exposition::render(&r);
    assert_eq!(
        value(
            &text,
            &format!(
                "tripgate_circuitbreaker_buffered_calls{{{},kind=\"failed\"}}",
                of("b")
            )
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &format!(
                "tripgate_circuitbreaker_buffered_calls{{{},kind=\"successful\"}}",
                of("b")
            )
        ),
        3.0
    );
}

#[test]
fn latency_quantiles_are_nan_with_no_sample() {
    let r = Registry::with_clock(ManualClock::new());
    r.get_or_create("idle", &Config::default()).unwrap();
    let text = exposition::render(&r);
    let line = format!(
        "tripgate_call_latency_seconds{{{},quantile=\"0.99\"}}",
        of("idle")
    );
    assert!(value(&text, &line).is_nan(), "{text}");
    assert_eq!(
        value(
            &text,
            &format!("tripgate_call_latency_seconds_count{{{}}}", of("idle"))
        ),
        0.0
    );
}

#[test]
fn state_scale_is_the_alert_scale() {
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
