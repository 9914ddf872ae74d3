//! Tests of the closeness report: how near each rule came to its threshold, per fault
//! and over the healthy phases.

use std::path::Path;
use tripgate_cli::closeness::{Closeness, Peak, Peaks};
use tripgate_cli::report::Report;
use tripgate_cli::scenario::Scenario;
use tripgate_cli::tune::{self, Input, Options};
use tripgate_cli::Settings;

/// Healthy, a 90% error burst, a latency spike, an outage, health again; one candidate
/// per rule, each with the other rules off.
const FAULTS: &str = r#"
name = "one candidate per rule"
seed = 9
[traffic]
rate = 200
concurrency = 500
timeout = "5s"
[dependency]
latency = "10ms"
latency_p99 = "40ms"
error_rate = 0.01
[[phase]]
kind = "healthy"
duration = "30s"
[[phase]]
kind = "error_burst"
duration = "20s"
error_rate = 0.9
[[phase]]
kind = "healthy"
duration = "30s"
[[phase]]
kind = "latency_spike"
duration = "20s"
latency = "800ms"
latency_p99 = "3s"
[[phase]]
kind = "healthy"
duration = "30s"
[[phase]]
kind = "outage"
duration = "20s"
[[phase]]
kind = "recovery"
duration = "30s"

[[candidate]]
name = "failure"
tier = "standard"
failure_rate_threshold = 0.5
window = { kind = "count", size = 100 }
minimum_calls = 20
open = { duration = "5s" }

[[candidate]]
name = "slow"
tier = "standard"
failure_rate_threshold = "off"
slow_call_rate_threshold = 0.5
slow_call_duration = "300ms"
window = { kind = "time", duration = "10s", buckets = 10 }
minimum_calls = 20
open = { duration = "5s" }

[[candidate]]
name = "p99"
tier = "standard"
failure_rate_threshold = "off"
latency_percentile = { quantile = "p99", limit = "500ms" }
window = { kind = "count", size = 200 }
minimum_calls = 50
open = { duration = "5s" }

[[candidate]]
name = "streak"
tier = "standard"
failure_rate_threshold = "off"
consecutive_failures = 8
open = { duration = "5s" }
"#;

fn run(text: &str, seed: Option<u64>) -> Report {
    let mut sc = Scenario::parse(text, "test.toml", Path::new(".")).expect("scenario parses");
    if let Some(s) = seed {
        sc.seed = s;
    }
    tripgate_cli::simulate(&sc, &Settings::default()).expect("runs")
}

fn closeness<'a>(r: &'a Report, name: &str) -> &'a Closeness {
    &r.candidates
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no candidate {name}"))
        .closeness
}

fn fault<'a>(c: &'a Closeness, name: &str) -> &'a Peaks {
    &c.faults
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fault {name}"))
        .peaks
}

fn value(p: &Option<Peak>) -> f64 {
    p.expect("rule on").value.expect("read")
}

/// Only the rules the candidate has on are reported.
fn only<'a>(p: &'a Peaks, rule: &str) -> &'a Peak {
    let named = [
        ("failure_rate", &p.failure_rate),
        ("slow_call_rate", &p.slow_call_rate),
        ("latency_percentile", &p.latency_percentile),
        ("consecutive_failures", &p.consecutive_failures),
    ];
    for (n, peak) in named {
        assert_eq!(peak.is_some(), n == rule, "{n} in {p:?}");
    }
    named
        .iter()
        .find(|(n, _)| *n == rule)
        .and_then(|(_, p)| p.as_ref())
        .expect("the rule is on")
}

#[test]
fn a_rule_that_trips_peaks_at_or_over_its_threshold() {
    let r = run(FAULTS, None);
    let cases = [
        ("failure", "failure_rate", "error_burst"),
        ("slow", "slow_call_rate", "latency_spike"),
        ("p99", "latency_percentile", "latency_spike"),
        ("streak", "consecutive_failures", "outage"),
    ];
    for (cand, rule, stretch) in cases {
        let c = closeness(&r, cand);
        let p = only(fault(c, stretch), rule);
        let v = p.value.expect("read during the fault");
        assert!(
            p.tripped && p.reached,
            "{cand} in {stretch}: {p:?} (transitions: {:?})",
            r.candidates
                .iter()
                .find(|c| c.name == cand)
                .map(|c| &c.transition_log)
        );
        assert!(v >= p.threshold, "{cand} in {stretch}: {p:?}");
        if rule == "latency_percentile" {
            // The rule holds only once the share exceeds 1 - quantile.
            assert!(v > p.threshold, "{p:?}");
            assert!((p.threshold - 0.01).abs() < 1e-9, "{p:?}");
        }
    }
    // The streak counts failures in a row, and 8 is the limit.
    let s = fault(closeness(&r, "streak"), "outage")
        .consecutive_failures
        .expect("on");
    assert_eq!(s.threshold, 8.0);
    assert_eq!(s.value, Some(8.0), "the breaker opens at the 8th failure");
}

#[test]
fn reached_and_tripped_agree_with_the_values_everywhere() {
    let r = run(FAULTS, None);
    for c in &r.candidates {
        let stretches = std::iter::once(&c.closeness.healthy)
            .chain(c.closeness.faults.iter().map(|f| &f.peaks));
        for p in stretches.flat_map(|s| s.rules()).flatten() {
            if p.tripped {
                assert!(p.reached, "{}: {p:?}", c.name);
            }
            if p.reached {
                assert!(p.value.expect("read") >= p.threshold, "{}: {p:?}", c.name);
            }
        }
    }
}

#[test]
fn healthy_stretches_peak_below_every_threshold() {
    // The same candidates on a dependency that stays healthy (1% errors).
    let candidates = FAULTS.split_once("[[candidate]]").expect("candidates").1;
    let text = format!(
        "name = \"healthy\"\nseed = 9\n[traffic]\nrate = 200\n[dependency]\nlatency = \"10ms\"\n\
         latency_p99 = \"40ms\"\nerror_rate = 0.01\n[[phase]]\nkind = \"healthy\"\nduration = \"2m\"\n\
         [[candidate]]{candidates}"
    );
    let r = run(&text, None);
    for c in &r.candidates {
        assert!(c.closeness.faults.is_empty());
        assert_eq!(c.false_trips, 0, "{}", c.name);
        let h = &c.closeness.healthy;
        assert!(h.samples > 0, "{}: {h:?}", c.name);
        for p in h.rules().into_iter().flatten() {
            let v = p.value.expect("read while healthy");
            assert!(v < p.threshold, "{}: {p:?}", c.name);
            assert!(!p.reached && !p.tripped, "{}: {p:?}", c.name);
        }
    }
    // Background errors do show: 1% errors on a 100-call window peak above 0.
    assert!(value(&closeness(&r, "failure").healthy.failure_rate) > 0.0);
}

#[test]
fn a_rule_that_never_trips_on_a_fault_peaks_below_it() {
    // The streak rule alone on a 90% burst: 8 failures in a row do happen at 90%, so
    // take a burst it cannot trip on: 30% errors.
    let text = FAULTS.replace("error_rate = 0.9", "error_rate = 0.3");
    let r = run(&text, None);
    let f = fault(closeness(&r, "failure"), "error_burst");
    let p = f.failure_rate.expect("on");
    assert!(!p.tripped && !p.reached, "{p:?}");
    let v = p.value.expect("read");
    assert!(v > 0.1 && v < 0.5, "{p:?}");
}

#[test]
fn peaks_are_the_same_for_a_seed_and_move_with_it() {
    let a = run(FAULTS, Some(3));
    let b = run(FAULTS, Some(3));
    let c = run(FAULTS, Some(4));
    let all = |r: &Report| {
        r.candidates
            .iter()
            .map(|c| c.closeness.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(all(&a), all(&b));
    assert_ne!(all(&a), all(&c));
    assert_eq!(a.to_json(), b.to_json());
}

#[test]
fn the_table_and_the_json_carry_the_peaks() {
    let r = run(FAULTS, None);
    let table = r.to_table();
    assert!(table.contains("Closeness"), "{table}");
    let section = table
        .split("Closeness")
        .nth(1)
        .expect("a closeness section");
    let line = section
        .lines()
        .find(|l| l.trim_start().starts_with("error_burst") && l.contains(" failure "))
        .unwrap_or_else(|| panic!("no error_burst row for failure: {table}"));
    assert!(line.contains("/0.5 (tripped)"), "{line}");
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
    let peak = &v["candidates"][0]["closeness"]["faults"][0]["peaks"]["failure_rate"];
    assert!(peak["value"].as_f64().expect("numeric") >= 0.5, "{peak}");
    assert_eq!(peak["threshold"].as_f64(), Some(0.5));
    assert_eq!(peak["tripped"].as_bool(), Some(true));
    assert!(v["candidates"][0]["closeness"]["faults"][0]["peaks"]["slow_call_rate"].is_null());
}

#[test]
fn tune_reports_closeness_per_candidate() {
    let text = format!(
        "{}\n[tune]\ncandidates = 4\nseeds = 2\nholdout = 1\n",
        FAULTS.split("[[candidate]]").next().expect("head")
    );
    let input = Input::parse(&text, "tune.toml", Path::new(".")).expect("parses");
    let rep = tune::tune(&input, &Options::default()).expect("tunes");
    for c in &rep.candidates {
        let names: Vec<&str> = c.closeness.faults.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["error_burst", "latency_spike", "outage"],
            "{}",
            c.name
        );
        assert!(c.closeness.healthy.samples > 0, "{}", c.name);
    }
    // The standard tier's failure-rate rule trips on the 90% burst on some draw.
    let standard = rep.candidate("standard").expect("the tier is a candidate");
    let p = standard.closeness.faults[0].peaks.failure_rate.expect("on");
    assert!(p.tripped && p.value.expect("read") >= p.threshold, "{p:?}");
    assert!(rep.holdout.iter().all(|h| h.closeness.faults.len() == 3));
    let table = rep.to_table();
    assert!(
        table.contains("Closeness of the candidates above"),
        "{table}"
    );
    let v: serde_json::Value = serde_json::from_str(&rep.to_json()).expect("json");
    assert!(v["candidates"][0]["closeness"]["healthy"]["samples"].as_u64() > Some(0));
}
