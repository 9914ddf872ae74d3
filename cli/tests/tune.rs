//! Tests of `tripgate tune`: the search on small scenarios, its held-out draws, the
//! snippets it prints and its determinism.

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tripgate::{Config, WindowConfig};
use tripgate_cli::tune::snippet::{self, Snippets};
use tripgate_cli::tune::{self, Input, Metric, Objective, Options, TuneReport};

/// A healthy minute, then one clean outage, then health again; no background noise.
const CLEAN_OUTAGE: &str = r#"
name = "clean outage"
seed = 5
[traffic]
rate = 100
[dependency]
latency = "10ms"
latency_p99 = "20ms"
[[phase]]
kind = "healthy"
duration = "20s"
[[phase]]
kind = "outage"
duration = "20s"
[[phase]]
kind = "recovery"
duration = "20s"
[tune]
candidates = 30
seeds = 2
holdout = 2
"#;

fn input(text: &str) -> Input {
    Input::parse(text, "clean.toml", Path::new(".")).expect("valid scenario")
}

fn run(objective: Objective) -> TuneReport {
    let opts = Options {
        objective,
        ..Options::default()
    };
    tune::tune(&input(CLEAN_OUTAGE), &opts).expect("the search runs")
}

#[test]
fn on_a_clean_outage_the_fastest_trip_without_false_trips_wins() {
    let objective = Objective::from_args("0", Some("trip"), None).unwrap();
    let rep = run(objective);
    let winner = rep.candidate(&rep.winner).unwrap();
    assert_eq!(winner.worst_false_trips, 0.0);
    assert_eq!(rep.candidates.len(), 33, "30 sampled + 3 tiers");
    let fastest = rep
        .candidates
        .iter()
        .filter(|c| c.worst_false_trips == 0.0)
        .map(|c| c.scores.trip)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(winner.scores.trip, fastest);
    // The printed file is the winner's config.
    assert_eq!(
        Config::from_toml_str(&rep.snippets.toml).unwrap(),
        rep.winner_config
    );
    assert_eq!(rep.winner_config, winner.config);
    // It beats the slowest tier by a wide margin: the search found something.
    let slowest_tier = ["critical", "standard", "non_critical"]
        .map(|t| rep.candidate(t).unwrap().scores.trip)
        .into_iter()
        .fold(0.0, f64::max);
    assert!(
        winner.scores.trip < slowest_tier,
        "{} vs {slowest_tier}",
        winner.scores.trip
    );
    // The winner is on the front, or listed beside it; the front is sorted by leaked.
    let leaked: Vec<f64> = rep
        .front
        .iter()
        .map(|n| rep.candidate(n).unwrap().scores.get(Metric::Leaked))
        .collect();
    assert!(leaked.windows(2).all(|w| w[0] <= w[1]), "{leaked:?}");
}

#[test]
fn a_false_trip_cap_rules_candidates_out() {
    let rep = run(Objective::from_args("0", Some("rejected"), None).unwrap());
    for c in &rep.candidates {
        assert_eq!(c.admitted, c.worst_false_trips == 0.0, "{}", c.name);
    }
    let rep = run(Objective::from_args("none", Some("rejected"), None).unwrap());
    assert!(rep.candidates.iter().all(|c| c.admitted));
}

#[test]
fn the_tune_table_reads_draws_and_its_older_name_seeds() {
    let text = CLEAN_OUTAGE.replace("seeds = 2", "draws = 1");
    let rep = tune::tune(&input(&text), &Options::default()).expect("the search runs");
    assert_eq!(rep.search_seeds.len(), 1, "the default is 3");
}

#[test]
fn held_out_draws_are_disjoint_from_the_search_draws() {
    let rep = run(Objective::default());
    assert_eq!(rep.search_seeds.len(), 2);
    assert_eq!(rep.holdout_seeds.len(), 2);
    for s in &rep.holdout_seeds {
        assert!(!rep.search_seeds.contains(s), "seed {s} is in both");
    }
    let names: Vec<&str> = rep.holdout.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("{} (winner)", rep.winner).as_str(),
            "critical",
            "standard",
            "non_critical"
        ]
    );
    let table = rep.to_table();
    assert!(
        table.contains("Held-out draws (never seen by the search)"),
        "{table}"
    );
}

#[test]
fn the_same_seed_gives_the_same_json_and_another_seed_another_draw() {
    let a = run(Objective::default()).to_json();
    let b = run(Objective::default()).to_json();
    assert_eq!(a, b);
    let opts = Options {
        seed: Some(6),
        ..Options::default()
    };
    let c = tune::tune(&input(CLEAN_OUTAGE), &opts).unwrap().to_json();
    assert_ne!(a, c);
}

#[test]
fn the_binary_gives_byte_identical_json_whatever_the_threads() {
    let dir = std::env::temp_dir().join(format!("tripgate-tune-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("clean.toml");
    std::fs::write(&scenario, CLEAN_OUTAGE).unwrap();
    let json = |threads: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_tripgate"))
            .args([
                "tune",
                scenario.to_str().unwrap(),
                "--candidates",
                "8",
                "--json",
            ])
            .args([
                "--threads",
                threads,
                "--weights",
                "trip=1,leaked=2,rejected=5",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let one = json("1");
    assert_eq!(one, json("2"));
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(v["candidates"].as_array().unwrap().len(), 11);
    let plot = dir.join("front.svg");
    let o = Command::new(env!("CARGO_BIN_EXE_tripgate"))
        .args([
            "tune",
            scenario.to_str().unwrap(),
            "--candidates",
            "8",
            "--plot",
        ])
        .arg(&plot)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("(winner)"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Configs the snippets must carry (the ones the bindings' suites load too).
fn configs() -> Vec<Config> {
    snippet::sample_configs()
}

#[test]
fn the_toml_snippet_loads_back_to_the_same_config() {
    for c in configs() {
        let s = Snippets::of(&c);
        let loaded = Config::from_toml_str(&s.toml).unwrap_or_else(|e| panic!("{e}\n{}", s.toml));
        assert_eq!(loaded, c, "{}", s.toml);
        // What `tripgate check` and `simulate --config` read too.
        assert_eq!(Config::from_str_auto(&s.toml).unwrap(), c);
    }
    // The jitter seed the simulator sets is not written.
    let seeded = Config {
        seed: Some(9),
        ..Config::critical()
    };
    assert!(!Snippets::of(&seeded).toml.contains("seed"));
}

fn secs(d: Duration) -> String {
    format!("{}", d.as_secs_f64())
}

#[test]
fn the_python_and_c_snippets_set_every_option_that_differs_from_the_default() {
    // A full load needs the Python extension and a C compiler; this checks that each
    // option that differs from the standard tier is set, to the right value.
    let d = Config::standard();
    for c in configs() {
        let s = Snippets::of(&c);
        let (py, cc) = (&s.python, &s.c);
        let mut want_py: Vec<String> = Vec::new();
        let mut want_c: Vec<String> = Vec::new();
        match c.window {
            w if w == d.window => {}
            WindowConfig::Count { size, buckets } => {
                want_py.push(format!("window_size={size},"));
                want_c.push(match buckets {
                    None => format!("set_count_window(config, {size})"),
                    Some(b) => format!("set_count_window_buckets(config, {size}, {b})"),
                });
            }
            WindowConfig::Time { duration, buckets } => {
                want_py.push(format!("window_duration={},", secs(duration)));
                want_c.push(format!(
                    "set_time_window(config, {}ull, {})",
                    duration.as_nanos(),
                    buckets.unwrap_or(0)
                ));
            }
        }
        if let WindowConfig::Count {
            buckets: Some(b), ..
        }
        | WindowConfig::Time {
            buckets: Some(b), ..
        } = c.window
        {
            if c.window != d.window {
                want_py.push(format!("window_buckets={b},"));
            }
        }
        if c.minimum_calls != d.minimum_calls {
            want_py.push(format!("minimum_calls={},", c.minimum_calls));
            want_c.push(format!("set_minimum_calls(config, {})", c.minimum_calls));
        }
        match c.failure_rate_threshold {
            Some(t) => {
                if Some(t) != d.failure_rate_threshold || c.consecutive_failures.is_some() {
                    want_py.push(format!("failure_rate_threshold={t},"));
                }
                if Some(t) != d.failure_rate_threshold {
                    want_c.push(format!("set_failure_rate_threshold(config, {t:?})"));
                }
            }
            None => {
                want_py.push("failure_rate_threshold=None,".into());
                want_c.push("clear_failure_rate_threshold(config)".into());
            }
        }
        if let Some(n) = c.consecutive_failures {
            want_py.push(format!("fail_max={n},"));
            want_c.push(format!("set_consecutive_failures(config, {n})"));
        }
        if let Some(t) = c.slow_call_rate_threshold {
            want_py.push(format!("slow_call_rate_threshold={t},"));
            want_c.push(format!("set_slow_call_rate_threshold(config, {t:?})"));
        }
        if c.slow_call_duration != d.slow_call_duration {
            want_py.push(format!(
                "slow_call_duration={},",
                secs(c.slow_call_duration)
            ));
            want_c.push(format!(
                "set_slow_call_duration_ns(config, {}ull)",
                c.slow_call_duration.as_nanos()
            ));
        }
        if let Some(p) = c.latency_percentile {
            want_py.push(format!(
                "latency_percentile=({}, {}),",
                p.quantile.0,
                secs(p.limit)
            ));
            want_c.push(format!(
                "set_latency_percentile(config, {:?}, {}ull)",
                p.quantile.0,
                p.limit.as_nanos()
            ));
        }
        if c.failure_weights != d.failure_weights {
            want_py.push(format!("\"timeout\": {:?}", c.failure_weights.timeout));
            want_c.push(format!(
                "set_failure_weight(config, TG_KIND_TIMEOUT, {:?})",
                c.failure_weights.timeout
            ));
        }
        if c.open.duration != d.open.duration {
            want_py.push(format!("reset_timeout={},", secs(c.open.duration)));
            want_c.push(format!(
                "set_open_duration_ns(config, {}ull)",
                c.open.duration.as_nanos()
            ));
        }
        if c.open.max_duration != d.open.max_duration || c.open.multiplier != d.open.multiplier {
            want_c.push(format!(
                "set_backoff(config, {:?}, {}ull)",
                c.open.multiplier,
                c.open.max_duration.as_nanos()
            ));
        }
        if c.open.max_duration != d.open.max_duration {
            want_py.push(format!("max_reset_timeout={},", secs(c.open.max_duration)));
        }
        if c.open.multiplier != d.open.multiplier {
            want_py.push(format!("backoff_multiplier={},", c.open.multiplier));
        }
        if c.half_open.permits != d.half_open.permits {
            want_py.push(format!("half_open_permits={},", c.half_open.permits));
            want_c.push(format!(
                "set_half_open_permits(config, {})",
                c.half_open.permits
            ));
        }
        if c.half_open.success_threshold != d.half_open.success_threshold {
            let n = c.half_open.success_threshold;
            want_py.push(format!("success_threshold={n},"));
            want_c.push(format!("set_half_open_success_threshold(config, {n})"));
        }
        if let Some(ss) = c.slow_start {
            want_py.push(format!(
                "slow_start=({}, {}),",
                ss.initial_fraction,
                secs(ss.duration)
            ));
            want_c.push(format!(
                "set_slow_start(config, {:?}, {}ull)",
                ss.initial_fraction,
                ss.duration.as_nanos()
            ));
        }
        if let Some(t) = c.anti_thrash {
            want_py.push(format!(
                "anti_thrash=({}, {}),",
                secs(t.min_closed),
                secs(t.min_open)
            ));
            want_c.push(format!(
                "set_anti_thrash(config, {}ull, {}ull)",
                t.min_closed.as_nanos(),
                t.min_open.as_nanos()
            ));
        }
        if c.track_in_flight != d.track_in_flight {
            want_py.push(format!(
                "track_in_flight={},",
                if c.track_in_flight { "True" } else { "False" }
            ));
            want_c.push(format!(
                "set_track_in_flight(config, {})",
                c.track_in_flight
            ));
        }
        for w in &want_py {
            assert!(py.contains(w), "python snippet lacks {w}:\n{py}");
        }
        for w in &want_c {
            assert!(
                cc.contains(&format!("tg_config_{w};")),
                "C snippet lacks {w}:\n{cc}"
            );
        }
        // Nothing else: one option per line, one call per line.
        assert_eq!(py.lines().count(), want_py.len() + 2, "{py}");
        assert_eq!(cc.lines().count(), want_c.len() + 2, "{cc}");
    }
}

#[test]
fn a_tune_table_is_checked_and_candidates_are_optional() {
    let text = CLEAN_OUTAGE.replace("candidates = 30", "candidates = 30\nrules = [\"fast\"]");
    let err = Input::parse(&text, "clean.toml", Path::new(".")).unwrap_err();
    assert!(err.contains("clean.toml:20:"), "{err}");
    assert!(
        err.contains("tune.rules") && err.contains("failure_rate"),
        "{err}"
    );
    let text = CLEAN_OUTAGE.replace("seeds = 2", "seeds = 2\nwindow_size = [0, 10]");
    let err = Input::parse(&text, "clean.toml", Path::new(".")).unwrap_err();
    assert!(
        err.contains("tune.window_size") && err.contains("1..="),
        "{err}"
    );
    // With no [[candidate]], the scenario still loads; a search brings its own.
    assert_eq!(input(CLEAN_OUTAGE).space.candidates, 30);
    // `simulate` reads the same file and ignores the [tune] table.
    let with = format!("{CLEAN_OUTAGE}\n[[candidate]]\ntier = \"critical\"\n");
    tripgate_cli::scenario::Scenario::parse(&with, "clean.toml", Path::new(".")).unwrap();
}

#[test]
fn bad_objectives_are_refused_with_the_option_named() {
    assert!(Objective::from_args("-1", None, None)
        .unwrap_err()
        .contains("--max-false-trips"));
    assert!(Objective::from_args("0", Some("speed"), None)
        .unwrap_err()
        .contains("--minimize"));
    assert!(Objective::from_args("0", Some("trip"), Some("leaked=1")).is_err());
    assert!(Metric::parse_pair("leaked,leaked").is_err());
    assert_eq!(
        Metric::parse_pair("trip,p99").unwrap(),
        (Metric::Trip, Metric::P99)
    );
}
