use super::*;
use std::time::Duration;

fn field_of(c: &Config) -> Vec<String> {
    c.validate_all()
        .iter()
        .map(|e| e.field().to_string())
        .collect()
}

#[test]
fn presets_have_their_documented_values() {
    let c = Config::critical();
    assert_eq!(c.failure_rate_threshold, Some(0.3));
    assert_eq!(c.minimum_calls, 20);
    assert_eq!(c.open.duration, Duration::from_secs(60));
    let s = Config::standard();
    assert_eq!((s.failure_rate_threshold, s.minimum_calls), (Some(0.5), 10));
    assert_eq!(s.open.duration, Duration::from_secs(30));
    let n = Config::non_critical();
    assert_eq!((n.failure_rate_threshold, n.minimum_calls), (Some(0.7), 5));
    assert_eq!(n.open.duration, Duration::from_secs(10));
    for t in [Tier::Critical, Tier::Standard, Tier::NonCritical] {
        assert!(Config::preset(t).validate().is_ok());
        assert_eq!(Tier::from_name(t.name()), Some(t));
    }
}

#[test]
fn every_invalid_value_names_its_field_and_range() {
    let cases: Vec<(Config, &str, &str)> = vec![
        (
            Config {
                failure_rate_threshold: Some(1.5),
                ..Config::default()
            },
            "failure_rate_threshold",
            "0.0 < t <= 1.0",
        ),
        (
            Config {
                failure_rate_threshold: Some(f64::NAN),
                ..Config::default()
            },
            "failure_rate_threshold",
            "0.0 < t <= 1.0",
        ),
        (
            Config {
                failure_rate_threshold: Some(-0.1),
                ..Config::default()
            },
            "failure_rate_threshold",
            "0.0 < t <= 1.0",
        ),
        (
            Config {
                slow_call_rate_threshold: Some(2.0),
                ..Config::default()
            },
            "slow_call_rate_threshold",
            "0.0 < t <= 1.0",
        ),
        (
            Config {
                window: WindowConfig::Count {
                    size: 0,
                    buckets: None,
                },
                ..Config::default()
            },
            "window.size",
            "1..=",
        ),
        (
            Config {
                window: WindowConfig::Count {
                    size: 10,
                    buckets: Some(3),
                },
                ..Config::default()
            },
            "window.buckets",
            "divisor",
        ),
        (
            Config {
                window: WindowConfig::Time {
                    duration: Duration::ZERO,
                    buckets: None,
                },
                ..Config::default()
            },
            "window.duration",
            "1ms",
        ),
        (
            Config {
                window: WindowConfig::Time {
                    duration: Duration::from_secs(10),
                    buckets: Some(0),
                },
                ..Config::default()
            },
            "window.buckets",
            "1..=4096",
        ),
        (
            Config {
                window: WindowConfig::Time {
                    duration: Duration::from_nanos(1_000_000_001),
                    buckets: Some(10),
                },
                ..Config::default()
            },
            "window.buckets",
            "divides",
        ),
        (
            Config {
                minimum_calls: 0,
                ..Config::default()
            },
            "minimum_calls",
            "1..=",
        ),
        (
            Config {
                consecutive_failures: Some(0),
                ..Config::default()
            },
            "consecutive_failures",
            "1..=",
        ),
        (
            Config {
                slow_call_duration: Duration::ZERO,
                ..Config::default()
            },
            "slow_call_duration",
            "1ns",
        ),
        (
            Config {
                latency_percentile: Some(PercentileRule {
                    quantile: Quantile(1.0),
                    limit: Duration::from_millis(1),
                }),
                ..Config::default()
            },
            "latency_percentile.quantile",
            "0.0 < q < 1.0",
        ),
        (
            Config {
                latency_percentile: Some(PercentileRule {
                    quantile: Quantile(0.99),
                    limit: Duration::ZERO,
                }),
                ..Config::default()
            },
            "latency_percentile.limit",
            "1ns",
        ),
        (
            Config {
                failure_weights: FailureWeights {
                    timeout: f64::NAN,
                    ..FailureWeights::default()
                },
                ..Config::default()
            },
            "failure_weights.timeout",
            "0.0..=100.0",
        ),
        (
            Config {
                failure_weights: FailureWeights {
                    other: -1.0,
                    ..FailureWeights::default()
                },
                ..Config::default()
            },
            "failure_weights.other",
            "0.0..=100.0",
        ),
        (
            Config {
                open: OpenConfig {
                    duration: Duration::ZERO,
                    ..OpenConfig::default()
                },
                ..Config::default()
            },
            "open.duration",
            "1us",
        ),
        (
            Config {
                open: OpenConfig {
                    multiplier: 0.5,
                    ..OpenConfig::default()
                },
                ..Config::default()
            },
            "open.multiplier",
            "1.0..=100.0",
        ),
        (
            Config {
                open: OpenConfig {
                    duration: Duration::from_secs(60),
                    max_duration: Duration::from_secs(10),
                    ..OpenConfig::default()
                },
                ..Config::default()
            },
            "open.max_duration",
            "at least open.duration",
        ),
        (
            Config {
                open: OpenConfig {
                    jitter: 1.5,
                    ..OpenConfig::default()
                },
                ..Config::default()
            },
            "open.jitter",
            "0.0..=1.0",
        ),
        (
            Config {
                open: OpenConfig {
                    decay_after: Duration::ZERO,
                    ..OpenConfig::default()
                },
                ..Config::default()
            },
            "open.decay_after",
            "1ms",
        ),
        (
            Config {
                half_open: HalfOpenConfig {
                    permits: 0,
                    ..HalfOpenConfig::default()
                },
                ..Config::default()
            },
            "half_open.permits",
            "1..=4095",
        ),
        (
            Config {
                half_open: HalfOpenConfig {
                    success_threshold: 0,
                    ..HalfOpenConfig::default()
                },
                ..Config::default()
            },
            "half_open.success_threshold",
            "1..=4095",
        ),
        (
            Config {
                half_open: HalfOpenConfig {
                    max_wait: Duration::ZERO,
                    ..HalfOpenConfig::default()
                },
                ..Config::default()
            },
            "half_open.max_wait",
            "1ms",
        ),
        (
            Config {
                slow_start: Some(SlowStart {
                    initial_fraction: 0.0,
                    duration: Duration::from_secs(1),
                }),
                ..Config::default()
            },
            "slow_start.initial_fraction",
            "0.0 < f <= 1.0",
        ),
        (
            Config {
                slow_start: Some(SlowStart {
                    initial_fraction: 0.5,
                    duration: Duration::ZERO,
                }),
                ..Config::default()
            },
            "slow_start.duration",
            "1ms",
        ),
        (
            Config {
                histogram_precision: 9,
                ..Config::default()
            },
            "histogram_precision",
            "2..=7",
        ),
        (
            Config {
                open: OpenConfig {
                    duration: Duration::from_secs(40 * 24 * 3600),
                    max_duration: Duration::from_secs(40 * 24 * 3600),
                    ..OpenConfig::default()
                },
                ..Config::default()
            },
            "open.duration",
            "30days",
        ),
    ];
    for (config, field, allowed) in cases {
        let err = config.validate().expect_err(field);
        assert_eq!(err.field(), field, "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(field) && msg.contains(allowed),
            "{msg} should name {field} and {allowed}"
        );
    }
}

#[test]
fn fields_lists_every_field() {
    let c = Config {
        seed: Some(1),
        slow_call_rate_threshold: Some(0.5),
        consecutive_failures: Some(3),
        latency_percentile: Some(PercentileRule {
            quantile: Quantile(0.99),
            limit: Duration::from_millis(1),
        }),
        slow_start: Some(SlowStart {
            initial_fraction: 0.5,
            duration: Duration::from_secs(1),
        }),
        adaptive_threshold: Some(AdaptiveThreshold::default()),
        anti_thrash: Some(AntiThrash::default()),
        ..Config::default()
    };
    let v = serde_json::to_value(&c).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let mut fields = Config::FIELDS.to_vec();
    keys.sort_unstable();
    fields.sort_unstable();
    assert_eq!(keys, fields);
}

#[test]
fn validate_all_reports_every_error() {
    let c = Config {
        minimum_calls: 0,
        failure_rate_threshold: Some(3.0),
        ..Config::default()
    };
    assert_eq!(
        field_of(&c),
        vec!["minimum_calls", "failure_rate_threshold"]
    );
}

#[test]
fn minimum_calls_above_a_count_windows_size_is_refused_with_the_range() {
    let c = Config {
        window: WindowConfig::Count {
            size: 10,
            buckets: None,
        },
        minimum_calls: 11,
        failure_rate_threshold: Some(3.0),
        ..Config::default()
    };
    let errors = c.validate_all();
    assert_eq!(
        field_of(&c),
        vec!["minimum_calls", "failure_rate_threshold"],
        "reported with the other errors of the run"
    );
    let text = errors[0].to_string();
    assert!(
        text.contains("minimum_calls") && text.contains("11") && text.contains("1..=10"),
        "{text}"
    );
    let at_size = Config {
        minimum_calls: 10,
        failure_rate_threshold: Some(0.5),
        ..c.clone()
    };
    assert_eq!(at_size.validate(), Ok(()));
    // A time window holds any number of calls: only the general bound applies.
    let time = Config {
        minimum_calls: 10_000,
        ..Config::default()
    };
    assert_eq!(time.validate(), Ok(()));
}

#[test]
fn minimum_calls_above_a_count_windows_size_is_refused_only_when_it_gates_a_rule() {
    // Consecutive failures alone (a pybreaker-style breaker): the minimum, 10 in the
    // standard tier, gates nothing, so a one-call window is fine.
    let streak_only = || {
        Config::builder()
            .count_window(1)
            .no_failure_rate()
            .consecutive_failures(5)
    };
    let c = streak_only().build().unwrap();
    assert_eq!(c.minimum_calls, 10);
    // Each gated rule alone makes it an error.
    let slow = streak_only().slow_call_rate_threshold(0.5, Duration::from_millis(100));
    let pct = streak_only().latency_percentile(0.99, Duration::from_millis(100));
    let rate = streak_only().failure_rate_threshold(0.5);
    for b in [slow, pct, rate] {
        let errors = b.build_unchecked().validate_all();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].to_string().contains("1..=1"), "{}", errors[0]);
    }
}

#[test]
fn parses_toml_and_json_with_names_and_durations() {
    let t = Config::from_toml_str(
        r#"
        minimum_calls = 5
        consecutive_failures = 3
        latency_percentile = { quantile = "p99", limit = "250ms" }
        [window]
        kind = "count"
        size = 100
        [open]
        duration = "10s"
        multiplier = 2.0
        max_duration = "2m"
        jitter = 0.1
        [failure_weights]
        timeout = 2.0
        "#,
    )
    .unwrap();
    assert_eq!(
        t.window,
        WindowConfig::Count {
            size: 100,
            buckets: None
        }
    );
    assert_eq!(t.window.buckets(), 100);
    assert_eq!(t.latency_percentile.unwrap().quantile, Quantile(0.99));
    assert_eq!(t.failure_weights.timeout, 2.0);
    assert_eq!(t.open.max_duration, Duration::from_secs(120));
    let j = Config::from_json_str(
        r#"{"failure_rate_threshold": 0.3, "window": {"kind": "time", "duration": "1m", "buckets": 6}}"#,
    )
    .unwrap();
    assert_eq!(j.window.buckets(), 6);
    // The printed form parses back to the same config.
    assert_eq!(Config::from_toml_str(&t.to_toml_string()).unwrap(), t);
}

#[test]
fn parse_errors_name_line_and_field() {
    let err = Config::from_toml_str("minimum_calls = 5\nfailure_rate = 0.5\n").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("line 2"), "{msg}");
    assert!(msg.contains("failure_rate"), "{msg}");
    let err = Config::from_json_str("{\"minimum_calls\": -1}").unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    let err = Config::from_toml_str("minimum_calls = 0").unwrap_err();
    assert_eq!(err.field(), "minimum_calls");
}

#[test]
fn initial_state_call_timeout_and_name_parse_validate_and_round_trip() {
    use crate::State;
    let c = Config::from_toml_str(
        "initial_state = \"forced_open\"\ncall_timeout = \"250ms\"\nname = \"inventory\"\n",
    )
    .unwrap();
    assert_eq!(c.initial_state, State::ForcedOpen);
    assert_eq!(c.call_timeout, Some(Duration::from_millis(250)));
    assert_eq!(c.name, "inventory");
    assert_eq!(Config::from_toml_str(&c.to_toml_string()).unwrap(), c);
    let d = Config::default();
    assert_eq!(
        (d.initial_state, d.call_timeout, d.name.as_str()),
        (State::Closed, None, "")
    );
    assert_eq!(Config::from_toml_str(&d.to_toml_string()).unwrap(), d);
    let err = Config::builder()
        .call_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "call_timeout");
    let err = Config::builder().name("x".repeat(257)).build().unwrap_err();
    assert_eq!(err.field(), "name");
    assert!(err.to_string().contains("at most 256 bytes"), "{err}");
}
