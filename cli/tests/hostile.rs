//! Hostile inputs: every one must end, quickly, with exit status 0 or 1 (never a
//! panic's 101, never an abort's signal) and, when refused, an error naming the field
//! or option and the allowed range. The inputs live in `tests/hostile/` and also seed
//! the `scenario` and `trace` fuzz targets.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tripgate_cli::candidates;
use tripgate_cli::engine::{Arrival, Sim, Span, Timeline};
use tripgate_cli::runner::{run_all, RunOptions};

fn hostile(kind: &str, name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/hostile")
        .join(kind)
        .join(name)
        .display()
        .to_string()
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with a deadline: a run still going after it is a hang.
fn run(args: &[&str]) -> Ran {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tripgate"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tripgate starts");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{args:?} still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The run is refused with status 1 and an error holding every one of `wanted`.
fn refused(args: &[&str], wanted: &[&str]) -> String {
    let r = run(args);
    assert_eq!(
        r.code,
        Some(1),
        "{args:?}: exit {:?}, stderr:\n{}",
        r.code,
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
    for w in wanted {
        assert!(r.stderr.contains(w), "{args:?}: no {w:?} in:\n{}", r.stderr);
    }
    r.stderr
}

fn accepted(args: &[&str]) -> Ran {
    let r = run(args);
    assert_eq!(r.code, Some(0), "{args:?}: {}", r.stderr);
    r
}

#[test]
fn a_latency_of_u64_max_seconds_is_refused_with_its_range() {
    let f = hostile("scenario", "latency_u64_max_seconds.toml");
    refused(
        &["simulate", &f],
        &[
            "dependency.latency",
            "18446744073709551615s",
            "allowed 1ns..=366d",
            ":4",
        ],
    );
}

#[test]
fn a_timeout_past_u64_nanoseconds_is_refused_not_truncated() {
    let f = hostile("scenario", "timeout_past_u64_nanoseconds.toml");
    refused(
        &["simulate", &f],
        &["traffic.timeout", "18446744074s", "366d"],
    );
}

#[test]
fn the_longest_timeout_is_taken_exactly() {
    let dir = std::env::temp_dir().join(format!("tripgate-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("timeout.toml");
    std::fs::write(
        &f,
        "[traffic]\nrate = 10\ntimeout = \"366d\"\n[[phase]]\nkind = \"healthy\"\nduration = \"1s\"\n[[candidate]]\ntier = \"critical\"\n",
    )
    .unwrap();
    let r = accepted(&["simulate", f.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["meta"]["timeout_ms"], 366.0 * 86_400_000.0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_traffic_duration_of_500_years_is_refused() {
    let f = hostile("scenario", "duration_500_years.toml");
    refused(&["simulate", &f], &["traffic.duration", "500y", "366d"]);
}

#[test]
fn a_year_at_ten_million_calls_per_second_is_refused_by_the_call_cap() {
    let f = hostile("scenario", "year_at_ten_million_per_second.toml");
    refused(&["simulate", &f], &["--max-calls", "315"]);
}

#[test]
fn a_year_long_latency_at_ten_million_per_second_is_refused_by_the_memory_cap() {
    let f = hostile("scenario", "latency_a_year_at_ten_million_per_second.toml");
    refused(&["simulate", &f], &["--max-memory", "calls in flight"]);
}

#[test]
fn calls_in_flight_past_the_limit_stop_the_engine_with_an_error() {
    // Whatever the estimate said, the engine's own guard holds.
    let c = candidates::from_tier("critical", 0, 1).unwrap();
    let timeline = Timeline::new(vec![healthy_span()], 10);
    let mut sim = Sim::new(&c.config, &timeline, None, 3).unwrap();
    let call = |t_ns| Arrival {
        t_ns,
        latency_ns: 1_000_000_000,
        outcome: tripgate::Outcome::Success,
        phase: 0,
        fault: false,
    };
    for t in 0..3 {
        sim.step(&call(t)).unwrap();
    }
    let e = sim.step(&call(3)).unwrap_err();
    assert_eq!((e.limit, e.at_ns), (3, 3));
}

fn healthy_span() -> Span {
    Span {
        name: "healthy".into(),
        kind: "healthy".into(),
        start_ns: 0,
        end_ns: 1_000_000_000,
        fault: false,
    }
}

#[test]
fn negative_nan_and_mistyped_values_are_refused_with_their_fields() {
    refused(
        &["simulate", &hostile("scenario", "negative_duration.toml")],
        &["phase[0].duration", "\"-1s\"", "allowed 1ns..=366d"],
    );
    refused(
        &[
            "simulate",
            &hostile("scenario", "rate_nan_and_minus_infinity.toml"),
        ],
        &[
            "traffic.rate",
            "nan",
            "phase[0].rate",
            "-inf",
            "0 < rate <= 10000000",
        ],
    );
    refused(
        &[
            "simulate",
            &hostile("scenario", "negative_seed_and_number_latency.toml"),
        ],
        &[
            "seed",
            "-1",
            "allowed 0..=",
            "phase[0].latency",
            "duration string",
        ],
    );
    refused(
        &["simulate", &hostile("scenario", "flapping_period_1ns.toml")],
        &["phase[0].period", "allowed 2ms..=366d"],
    );
    refused(
        &[
            "simulate",
            &hostile("scenario", "phases_longer_than_a_year.toml"),
        ],
        &["phase[1].duration", "400d", "allowed at most 366d"],
    );
}

#[test]
fn a_trace_spanning_centuries_is_refused_naming_the_lines() {
    refused(
        &["replay", &hostile("trace", "centuries.csv")],
        &["timestamp", "line 2", "line 3", "allowed at most 366d"],
    );
    refused(
        &["replay", &hostile("trace", "minus_1e18.csv")],
        &["timestamp", "line 3", "-1000000000000000000"],
    );
}

#[test]
fn a_relative_timestamp_among_unix_epoch_rows_is_refused() {
    refused(
        &["replay", &hostile("trace", "stray_relative_timestamp.csv")],
        &["line 4", "same origin"],
    );
}

#[test]
fn absurd_latencies_and_timestamps_in_a_trace_are_refused() {
    refused(
        &["replay", &hostile("trace", "latency_1e300_ms.csv")],
        &["latency", ".csv:2:", "allowed 0..="],
    );
    refused(
        &["replay", &hostile("trace", "nan_timestamp.csv")],
        &["timestamp", ".csv:2:", "finite"],
    );
}

#[test]
fn a_tiny_fault_window_over_a_long_trace_runs_in_bounded_memory() {
    let f = hostile("trace", "unix_epoch_rows.csv");
    let r = accepted(&["replay", &f, "--fault-window", "1us", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["calls"], 5);
    let r = accepted(&["replay", &f, "--fault-window", "1ns", "--threads", "1"]);
    assert!(r.stdout.contains("Faults"), "{}", r.stdout);
}

#[test]
fn fault_options_out_of_range_are_refused() {
    let f = hostile("trace", "unix_epoch_rows.csv");
    refused(
        &["replay", &f, "--fault-window", "0s"],
        &["--fault-window", "allowed 1ns..=366d"],
    );
    refused(
        &["replay", &f, "--fault-window", "500y"],
        &["--fault-window", "allowed 1ns..=366d"],
    );
    refused(
        &["replay", &f, "--fault-threshold", "NaN"],
        &["--fault-threshold", "0 < t <= 1"],
    );
}

#[test]
fn a_panicking_worker_ends_the_run_with_an_error() {
    let cands = vec![
        candidates::from_tier("critical", 0, 1).unwrap(),
        candidates::from_tier("standard", 1, 1).unwrap(),
    ];
    let timeline = Timeline::new(vec![healthy_span()], 10);
    let opts = RunOptions {
        concurrency: None,
        threads: 2,
        expected_calls: 1,
        in_flight_limit: 1000,
    };
    let thread_index = std::sync::atomic::AtomicUsize::new(0);
    let err = run_all(
        &cands,
        &timeline,
        || {
            // The second worker's calls blow up.
            let n = thread_index.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (0..10u64).map(move |i| {
                assert!(n == 0 || i < 3, "injected worker failure");
                Arrival {
                    t_ns: i,
                    latency_ns: 1,
                    outcome: tripgate::Outcome::Success,
                    phase: 0,
                    fault: false,
                }
            })
        },
        &opts,
    )
    .unwrap_err();
    assert!(
        err.contains("panicked") && err.contains("injected worker failure"),
        "{err}"
    );
}

#[test]
fn a_nul_byte_in_a_comment_gets_a_message() {
    refused(
        &["simulate", &hostile("scenario", "nul_in_a_comment.toml")],
        &[":1:", "invalid TOML syntax"],
    );
}

#[test]
fn a_dotted_key_in_a_candidate_is_reported_not_dropped() {
    let err = refused(
        &[
            "simulate",
            &hostile("scenario", "dotted_key_in_a_candidate.toml"),
        ],
        &["not a candidate table"],
    );
    assert!(!err.trim_end().ends_with("error:"), "{err}");
}
