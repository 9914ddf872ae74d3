//! End-to-end tests of the `tripgate` binary.

mod common;

use common::{json, ok_stdout, run};
use serde_json::Value;
use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn scenarios(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

fn candidate<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no candidate {name}"))
}

#[test]
fn default_scenario_reports_all_three_tiers() {
    let table = ok_stdout(&["simulate"]);
    for tier in ["critical", "standard", "non_critical"] {
        assert!(table.contains(tier), "{table}");
    }
    assert!(table.contains("~0 ms fast-fails"), "{table}");
    let v = json(&["simulate", "--json"]);
    let names: Vec<&str> = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["critical", "standard", "non_critical"]);
    for c in v["candidates"].as_array().unwrap() {
        assert_eq!(c["admitted_while_open"], 0);
        // Every tier trips on the outage.
        let outage = c["faults"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "outage")
            .unwrap();
        assert_ne!(outage["trip"], "never", "{}", c["name"]);
    }
}

#[test]
fn lower_threshold_trips_first_on_the_same_burst() {
    let v = json(&["simulate", data("burst.toml").to_str().unwrap(), "--json"]);
    let t30 = candidate(&v, "t30")["faults"][0]["trip_after_ms"]
        .as_f64()
        .expect("t30 trips");
    let t70 = candidate(&v, "t70")["faults"][0]["trip_after_ms"]
        .as_f64()
        .expect("t70 trips");
    assert!(t30 < t70, "30% tripped after {t30} ms, 70% after {t70} ms");
    // ... and lets fewer calls reach the failing dependency.
    let r30 = candidate(&v, "t30")["reached_failing"].as_u64().unwrap();
    let r70 = candidate(&v, "t70")["reached_failing"].as_u64().unwrap();
    assert!(r30 < r70, "{r30} vs {r70}");
}

#[test]
fn nothing_reaches_the_dependency_while_open() {
    for file in ["burst.toml"] {
        let v = json(&["simulate", data(file).to_str().unwrap(), "--json"]);
        for c in v["candidates"].as_array().unwrap() {
            assert!(c["trips"].as_u64().unwrap() > 0);
            assert_eq!(c["admitted_while_open"], 0, "{}", c["name"]);
        }
    }
    let v = json(&[
        "simulate",
        scenarios("flapping.toml").to_str().unwrap(),
        "--json",
    ]);
    for c in v["candidates"].as_array().unwrap() {
        assert_eq!(c["admitted_while_open"], 0, "{}", c["name"]);
    }
}

#[test]
fn same_seed_gives_identical_json_and_another_seed_does_not() {
    let path = data("burst.toml");
    let p = path.to_str().unwrap();
    let a = run(&["simulate", p, "--json"]).stdout;
    let b = run(&["simulate", p, "--json", "--threads", "1"]).stdout;
    assert!(!a.is_empty());
    assert_eq!(a, b, "same seed, different bytes");
    let c = run(&["simulate", p, "--json", "--seed", "6"]).stdout;
    assert_ne!(a, c);
}

#[test]
fn bad_scenarios_name_line_and_field() {
    let cases = [
        ("bad_unknown.toml", ".toml:5:", "traffic.concurency"),
        ("bad_candidate.toml", ".toml:12:", "failure_rate_treshold"),
        ("bad_value.toml", ".toml:9:", "phase[0].error_rate"),
    ];
    for (file, line, field) in cases {
        let o = run(&["simulate", data(file).to_str().unwrap()]);
        assert!(!o.status.success(), "{file} should fail");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(line) && err.contains(field), "{file}: {err}");
    }
}

#[test]
fn check_accepts_a_good_config_and_lists_every_error_of_a_bad_one() {
    let out = ok_stdout(&["check", data("good_config.toml").to_str().unwrap()]);
    assert!(out.contains("failure_rate_threshold = 0.4"), "{out}");
    assert!(out.contains("[half_open]"), "defaults filled in: {out}");
    let o = run(&["check", data("bad_config.toml").to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    for (field, allowed) in [
        ("failure_rate_threshold", "0.0..=1.0"),
        ("minimum_calls", "1..="),
        ("open.jitter", "0.0..=1.0"),
        ("half_open.permits", "1..=4095"),
    ] {
        assert!(
            err.contains(field) && err.contains(allowed),
            "{field}: {err}"
        );
    }
    assert!(err.contains("4 errors"), "{err}");
}

#[test]
fn replay_runs_the_example_trace() {
    let v = json(&[
        "replay",
        scenarios("example_trace.csv").to_str().unwrap(),
        "--tier",
        "critical",
        "--config",
        data("good_config.toml").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["meta"]["command"], "replay");
    assert_eq!(v["candidates"].as_array().unwrap().len(), 2);
    assert!(v["calls"].as_u64().unwrap() > 1000);
    let faults = v["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["fault"] == true)
        .count();
    assert_eq!(faults, 1, "the trace has one burst");
    for c in v["candidates"].as_array().unwrap() {
        assert_eq!(c["faults"][0]["trip"], "tripped", "{}", c["name"]);
        assert_eq!(c["admitted_while_open"], 0);
    }
}

#[test]
fn plot_is_well_formed_svg() {
    let dir = std::env::temp_dir().join(format!("tripgate-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("burst.svg");
    let _ = ok_stdout(&[
        "simulate",
        data("burst.toml").to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    let body = std::fs::read_to_string(&svg).unwrap();
    assert!(body.starts_with("<?xml") && body.trim_end().ends_with("</svg>"));
    assert!(body.contains("t30") && body.contains("t70"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_subcommand_has_help_with_examples() {
    for sub in ["simulate", "replay", "check"] {
        let out = ok_stdout(&[sub, "--help"]);
        assert!(out.contains("Examples:"), "{sub}: {out}");
    }
}

#[test]
fn every_error_of_a_scenario_comes_in_one_run_in_line_order() {
    let o = run(&["simulate", data("six_mistakes.toml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("6 errors"), "{err}");
    let wanted = [
        (":2:", "`sede`", "allowed name, description, seed"),
        (":5:", "`traffic.rate`", "allowed 0 < rate"),
        (":6:", "`traffic.timeout`", "allowed 1ns..=366d"),
        (":9:", "`dependency.error_rate`", "allowed 0.0..=1.0"),
        (":16:", "`phase[1].kind`", "allowed healthy, error_burst"),
        (":21:", "`candidate[0].failure_rate_threshold`", "invalid"),
    ];
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), wanted.len() + 1, "{err}");
    for (line, (at, field, allowed)) in lines[1..].iter().zip(wanted) {
        assert!(
            line.contains(at) && line.contains(field) && line.contains(allowed),
            "{line}"
        );
    }
    assert!(err.contains("failure_rate_threshold = 2: allowed"), "{err}");
}

#[test]
fn every_help_example_runs_from_any_directory() {
    let dir = std::env::temp_dir().join(format!("tripgate-help-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_tripgate"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for sub in ["", "check", "simulate", "replay", "example"] {
        let args: Vec<&str> = [sub, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        for line in ok_stdout(&args).lines() {
            let Some(cmd) = line.strip_prefix("  tripgate ") else {
                continue;
            };
            let o = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("tripgate {cmd}"))
                .current_dir(&dir)
                .env("PATH", &path)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "`tripgate {cmd}` ({sub} --help) failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 12, "only {ran} examples found");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_file_written_is_announced() {
    let dir = std::env::temp_dir().join(format!("tripgate-wrote-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, svg) = (dir.join("out.json"), dir.join("out.svg"));
    let o = run(&[
        "simulate",
        data("burst.toml").to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    for f in [&json, &svg] {
        assert!(err.contains(&format!("wrote {}", f.display())), "{err}");
        assert!(f.exists());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_plot_shares_one_latency_axis_and_round_time_ticks() {
    let dir = std::env::temp_dir().join(format!("tripgate-axis-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("default.svg");
    let _ = ok_stdout(&["simulate", "--plot", svg.to_str().unwrap()]);
    let body = std::fs::read_to_string(&svg).unwrap();
    // Three candidates, each with the same latency ticks, up to the same decade.
    assert_eq!(body.matches(">1s</text>").count(), 3, "one axis for all");
    assert_eq!(body.matches(">100us</text>").count(), 3, "one axis for all");
    // The default scenario lasts 8 minutes: a tick every minute.
    for label in ["0s", "1m", "4m", "8m"] {
        assert_eq!(
            body.matches(&format!(">{label}</text>")).count(),
            3,
            "{label}"
        );
    }
    assert!(!body.contains("48s</text>"), "no odd ticks");
    std::fs::remove_dir_all(&dir).ok();
}
