//! Access logs as traces: each format read from its fixture in `tests/data/access/`
//! (the same 400 calls, failing from 10 s to 20 s), bad lines reported by line and
//! field, and `tripgate replay --format` end to end.

use std::path::PathBuf;
use std::process::Command;
use tripgate::{FailureKind, Outcome};
use tripgate_cli::access_log::{LogFormat, TraceFormat};
use tripgate_cli::location::FileErrors;
use tripgate_cli::replay::{parse_as, Trace};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/access")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture exists")
}

fn load(name: &str, format: &TraceFormat) -> Result<Trace, FileErrors> {
    parse_as(&read(name), name, format, 1_000_000_000, 0.5, 40)
}

fn declared(f: &str) -> TraceFormat {
    TraceFormat::Declared(LogFormat::parse(f).expect("a valid format"))
}

fn count(t: &Trace, want: fn(&Outcome) -> bool) -> usize {
    t.arrivals.iter().filter(|a| want(&a.outcome)).count()
}

/// Every format of the fixtures gives 400 calls over about 40 s with one fault from
/// about 10 s to 20 s.
fn check_the_fixture_trace(name: &str, t: &Trace) {
    assert_eq!(t.arrivals.len(), 400, "{name}");
    assert!(
        t.arrivals.windows(2).all(|w| w[0].t_ns <= w[1].t_ns),
        "{name}: replayed in time order"
    );
    let end = t.arrivals.last().map_or(0, |a| a.t_ns);
    assert!(
        (39e9..41e9).contains(&(end as f64)),
        "{name}: ends at {end}"
    );
    let faults: Vec<(u64, u64)> = t
        .timeline
        .spans
        .iter()
        .filter(|s| s.fault)
        .map(|s| (s.start_ns / 1_000_000_000, s.end_ns / 1_000_000_000))
        .collect();
    assert_eq!(faults, [(10, 20)], "{name}: {:?}", t.timeline.spans);
    let ignored = count(t, |o| *o == Outcome::Ignored);
    assert!(
        (5..=25).contains(&ignored),
        "{name}: {ignored} 404s ignored"
    );
}

#[test]
fn envoy_json_maps_flags_and_statuses_to_outcomes() {
    let t = load("envoy.jsonl", &TraceFormat::EnvoyJson).expect("parses");
    check_the_fixture_trace("envoy", &t);
    // UF with response_code 0 is a connection failure; UT a timeout (1 s).
    let conn = count(&t, |o| *o == Outcome::Failure(FailureKind::Connection));
    let timeouts: Vec<u64> = t
        .arrivals
        .iter()
        .filter(|a| a.outcome == Outcome::Failure(FailureKind::Timeout))
        .map(|a| a.latency_ns)
        .collect();
    assert!(conn > 20, "{conn} connection failures");
    assert!(timeouts.len() > 15, "{} timeouts", timeouts.len());
    assert!(timeouts.iter().all(|&l| l == 1_000_000_000), "{timeouts:?}");
    // Start times keep their milliseconds: the first call is at 0, the second 88 ms on
    // (to the microsecond: times since the epoch are read as seconds in an f64).
    let gap = t.arrivals[1].t_ns - t.arrivals[0].t_ns;
    assert!(gap.abs_diff(88_000_000) < 1_000, "{gap}");
}

#[test]
fn nginx_combined_moves_end_times_to_starts_and_spreads_seconds() {
    let t = load(
        "nginx_combined.log",
        &TraceFormat::from_name("nginx-combined").expect("preset"),
    )
    .expect("parses");
    check_the_fixture_trace("nginx", &t);
    // 502 (the upstream connection failing) is a server error by the one table; 504 a
    // timeout.
    assert!(count(&t, |o| *o == Outcome::Failure(FailureKind::ServerError)) > 20);
    assert!(count(&t, |o| *o == Outcome::Failure(FailureKind::Timeout)) > 15);
    // The ten calls logged in one second are not replayed as one burst.
    let first_second: Vec<u64> = t
        .arrivals
        .iter()
        .map(|a| a.t_ns)
        .filter(|&ns| ns < 1_000_000_000)
        .collect();
    let mut distinct = first_second.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), first_second.len(), "{first_second:?}");
}

#[test]
fn apache_combined_reads_microseconds() {
    let t = load(
        "apache_combined.log",
        &TraceFormat::from_name("apache-combined").expect("preset"),
    )
    .expect("parses");
    check_the_fixture_trace("apache", &t);
    // The fixture's first call took 27,782 us.
    let first_line = t
        .arrivals
        .iter()
        .find(|a| a.latency_ns == 27_782_000)
        .expect("the first line's call");
    assert_eq!(first_line.outcome, Outcome::Success);
}

#[test]
fn a_declared_nginx_format_with_msec_and_upstream_time() {
    let f = declared("$msec upstream=$upstream_addr status=$status urt=$upstream_response_time");
    let t = load("nginx_custom.log", &f).expect("parses");
    check_the_fixture_trace("custom", &t);
    // Milliseconds end times: nothing to spread, the start is end minus the time.
    assert_eq!(t.arrivals[0].latency_ns, 28_000_000);
}

#[test]
fn upstream_times_of_several_attempts_add_up() {
    let f = declared("$msec $status $upstream_response_time");
    let t = parse_as(
        "100.500 200 0.100, 0.200 : 0.050\n101.000 200 0.010\n",
        "u.log",
        &f,
        1_000_000_000,
        0.5,
        4,
    )
    .expect("parses");
    assert_eq!(t.arrivals[0].latency_ns, 350_000_000);
    // Its start is 100.5 - 0.35 = 100.15; the other's 100.99.
    assert_eq!(t.arrivals[1].t_ns, 840_000_000);
}

fn errors(name: &str, format: &TraceFormat) -> Vec<(Option<usize>, Option<String>, String)> {
    let e = load(name, format).expect_err("refused");
    e.0.into_iter()
        .map(|e| (e.line, e.field, e.message))
        .collect()
}

#[test]
fn every_bad_envoy_line_is_reported_with_its_line_and_field() {
    let got = errors("envoy_bad.jsonl", &TraceFormat::EnvoyJson);
    let where_: Vec<(usize, &str)> = got
        .iter()
        .map(|(l, f, _)| (l.expect("a line"), f.as_deref().expect("a field")))
        .collect();
    assert_eq!(
        where_,
        [
            (2, "response_code"),
            (3, "json"),
            (5, "duration"),
            (6, "start_time"),
            (7, "response_code"),
            (8, "json"),
            (9, "response_code"),
            (10, "duration"),
        ],
        "{got:#?}"
    );
    assert_eq!(got[0].2, "\"abc\" is not an HTTP status (allowed 0..=999)");
    assert!(got[2].2.contains("allowed 0..="), "{}", got[2].2);
    assert_eq!(got[4].2, "missing `response_code`");
    let shown = load("envoy_bad.jsonl", &TraceFormat::EnvoyJson)
        .expect_err("refused")
        .to_string();
    assert!(
        shown.starts_with("envoy_bad.jsonl: 8 errors\nerror: envoy_bad.jsonl:2: field `response_code`: \"abc\" is not an HTTP status (allowed 0..=999)"),
        "{shown}"
    );
}

#[test]
fn every_bad_nginx_and_apache_line_is_reported_with_its_line_and_field() {
    let got = errors(
        "nginx_bad.log",
        &TraceFormat::from_name("nginx-combined").expect("preset"),
    );
    let where_: Vec<(Option<usize>, Option<&str>)> =
        got.iter().map(|(l, f, _)| (*l, f.as_deref())).collect();
    assert_eq!(
        where_,
        [
            (Some(2), Some("status")),
            (Some(3), Some("time_local")),
            (Some(4), Some("request_time")),
            (Some(5), Some("line")),
        ],
        "{got:#?}"
    );
    assert!(
        got[1].2.contains("past the end of the month"),
        "{}",
        got[1].2
    );
    assert_eq!(
        got[3].2,
        r#"the line ends before the "\" " after $http_user_agent (the declared format)"#
    );

    let got = errors(
        "apache_bad.log",
        &TraceFormat::from_name("apache-combined").expect("preset"),
    );
    let where_: Vec<(Option<usize>, Option<&str>)> =
        got.iter().map(|(l, f, _)| (*l, f.as_deref())).collect();
    assert_eq!(
        where_,
        [
            (Some(2), Some("%t")),
            (Some(3), Some("%D")),
            (Some(4), Some("%>s")),
        ],
        "{got:#?}"
    );
    assert!(got[1].2.contains("allowed 0..="), "{}", got[1].2);
}

#[test]
fn errors_past_the_cap_are_counted_not_listed() {
    let log = "garbage\n".repeat(100);
    let e = parse_as(
        &log,
        "g.log",
        &TraceFormat::EnvoyJson,
        1_000_000_000,
        0.5,
        4,
    )
    .expect_err("refused");
    assert_eq!(e.0.len(), tripgate_cli::access_log::MAX_ERRORS);
    assert_eq!(e.1, 100 - tripgate_cli::access_log::MAX_ERRORS);
    let shown = e.to_string();
    assert!(shown.starts_with("g.log: 100 errors\n"), "{shown}");
    assert!(shown.ends_with("... and 80 more not shown"), "{shown}");
}

#[test]
fn hostile_access_logs_are_refused_not_panicked_on() {
    let nginx = TraceFormat::from_name("nginx-combined").expect("preset");
    let cases: [(&str, &TraceFormat, &str); 5] = [
        // Centuries apart: the span cap of the CSV path applies.
        (
            "{\"start_time\":\"0001-01-01T00:00:00Z\",\"response_code\":200,\"duration\":1}\n{\"start_time\":\"9999-12-31T23:59:59Z\",\"response_code\":200,\"duration\":1}\n",
            &TraceFormat::EnvoyJson,
            "timestamp",
        ),
        (
            "{\"start_time\":\"2024-01-01T00:00:00Z\",\"response_code\":200,\"duration\":18446744073709551616}\n",
            &TraceFormat::EnvoyJson,
            "duration",
        ),
        (
            "{\"start_time\":\"2024-01-01T00:00:00Z\",\"response_code\":-200,\"duration\":1}\n",
            &TraceFormat::EnvoyJson,
            "response_code",
        ),
        (
            "1.2.3.4 - - [05/Mar/2024:12:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\" NaN\n",
            &nginx,
            "request_time",
        ),
        (
            "1.2.3.4 - - [05/Mar/2024:12:00:00 +9999] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\" 0.1\n",
            &nginx,
            "time_local",
        ),
    ];
    for (text, format, field) in cases {
        let e = parse_as(text, "h.log", format, 1_000_000_000, 0.5, 4).expect_err(text);
        assert_eq!(e.0[0].field.as_deref(), Some(field), "{e}");
    }
    // Deeply nested JSON is refused by the JSON parser's depth limit.
    let deep = format!("{}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_as(
        &deep,
        "d.log",
        &TraceFormat::EnvoyJson,
        1_000_000_000,
        0.5,
        4
    )
    .is_err());
}

#[test]
fn replay_reads_each_format_from_the_command_line() {
    let bin = env!("CARGO_BIN_EXE_tripgate");
    let runs: [(&str, Vec<&str>); 4] = [
        ("envoy.jsonl", vec!["--format", "envoy-json"]),
        ("nginx_combined.log", vec!["--format", "nginx-combined"]),
        ("apache_combined.log", vec!["--format", "apache-combined"]),
        (
            "nginx_custom.log",
            vec![
                "--log-format",
                "$msec upstream=$upstream_addr status=$status urt=$upstream_response_time",
            ],
        ),
    ];
    for (file, args) in runs {
        let path = fixture(file);
        let out = Command::new(bin)
            .arg("replay")
            .arg(&path)
            .args(&args)
            .args(["--tier", "critical", "--json"])
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["calls"], 400, "{file}");
        let c = &v["candidates"][0];
        assert_eq!(c["faults"][0]["trip"], "tripped", "{file}: {}", c["faults"]);
    }
    // A CSV read as Envoy JSON names the line and the field.
    let out = Command::new(bin)
        .arg("replay")
        .arg(fixture("nginx_bad.log"))
        .args(["--format", "envoy-json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nginx_bad.log:1: field `json`: not a JSON object"),
        "{err}"
    );
    // An unknown format and a format without a duration are refused up front.
    for (args, want) in [
        (
            vec!["--format", "w3c"],
            "allowed csv, envoy-json, nginx-combined, apache-combined",
        ),
        (
            vec!["--log-format", "$status [$time_local]"],
            "declares no duration field",
        ),
    ] {
        let out = Command::new(bin)
            .arg("replay")
            .arg(fixture("envoy.jsonl"))
            .args(&args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn tune_searches_on_an_access_log() {
    use tripgate_cli::tune::{self, Input, Options, TraceSource};
    use tripgate_cli::FaultRule;
    let source = TraceSource {
        text: read("envoy.jsonl"),
        file: "envoy.jsonl".into(),
        name: "envoy.jsonl".into(),
        format: TraceFormat::EnvoyJson,
        rule: FaultRule {
            threshold: 0.25,
            window: std::time::Duration::from_secs(1),
        },
    };
    let input = Input::default_input().with_trace(source.clone());
    let opts = Options {
        candidates: Some(12),
        ..Options::default()
    };
    let rep = tune::tune(&input, &opts).expect("tunes");
    assert_eq!(rep.scenario, "envoy.jsonl");
    assert_eq!(rep.calls_per_seed, [400], "one recording, replayed once");
    assert!(rep.holdout.is_empty());
    // Every candidate sees the one fault of the recording.
    for c in &rep.candidates {
        let names: Vec<&str> = c.closeness.faults.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["fault"], "{}", c.name);
    }
    // The winner stops at least some of the failing calls the standard tier lets through.
    let w = rep.candidate(&rep.winner).expect("winner");
    let standard = rep.candidate("standard").expect("tier");
    assert!(
        w.scores.leaked < standard.scores.leaked,
        "{:?} vs {:?}",
        w.scores,
        standard.scores
    );
    // Held-out draws of a recording would be the same calls: refused.
    let e = tune::tune(
        &input,
        &Options {
            holdout: Some(1),
            ..Options::default()
        },
    )
    .expect_err("refused");
    assert!(e.contains("--holdout"), "{e}");
    // A bad line stops the search with its line and field.
    let bad = Input::default_input().with_trace(TraceSource {
        text: read("envoy_bad.jsonl"),
        file: "envoy_bad.jsonl".into(),
        ..source
    });
    let e = tune::tune(&bad, &opts).expect_err("refused");
    assert!(
        e.contains("envoy_bad.jsonl:2: field `response_code`"),
        "{e}"
    );
}

#[test]
fn tune_reads_a_trace_from_the_command_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_tripgate"))
        .args(["tune", "--candidates", "8", "--json", "--trace"])
        .arg(fixture("nginx_combined.log"))
        .args(["--format", "nginx-combined"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["scenario"], "nginx_combined.log");
    assert_eq!(v["calls_per_seed"][0], 400);
    // --format without --trace is refused by the parser.
    let out = Command::new(env!("CARGO_BIN_EXE_tripgate"))
        .args(["tune", "--format", "envoy-json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
