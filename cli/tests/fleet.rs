//! `tripgate simulate --replicas N`: the scenario's traffic shared by N replicas, each
//! with its own breaker, without and with fleet mode. Virtual time only.

mod common;

use common::{json, ok_stdout, run};
use serde_json::Value;
use std::path::PathBuf;

/// The default scenario with `extra` appended, written to a file of its own.
fn scenario_with(name: &str, extra: &str) -> PathBuf {
    let default = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/default.toml");
    let text = std::fs::read_to_string(default).unwrap() + extra;
    let dir = std::env::temp_dir().join(format!("tripgate-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Each candidate's variants by name: (`no_fleet`, `fleet`).
fn variants(v: &Value) -> Vec<(String, Value, Value)> {
    v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let vs = c["variants"].as_array().unwrap();
            assert_eq!(vs[0]["variant"], "no_fleet");
            assert_eq!(vs[1]["variant"], "fleet");
            (
                c["name"].as_str().unwrap().to_string(),
                vs[0].clone(),
                vs[1].clone(),
            )
        })
        .collect()
}

/// A variant's figures about calls and breakers (what fleet mode may change), without
/// its name and its store operations.
fn figures(v: &Value) -> Value {
    let mut v = v.clone();
    let o = v.as_object_mut().unwrap();
    o.remove("variant");
    o.remove("store");
    v
}

fn outage(v: &Value) -> &Value {
    v["faults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "outage")
        .expect("the default scenario's outage")
}

#[test]
fn with_ten_replicas_fleet_mode_keeps_calls_off_the_failing_dependency() {
    let v = json(&["simulate", "--replicas", "10", "--json"]);
    assert_eq!(v["fleet"]["replicas"], 10);
    let (mut alone, mut shared) = (0, 0);
    for (name, no_fleet, fleet) in variants(&v) {
        let (a, b) = (outage(&no_fleet), outage(&fleet));
        alone += a["reached_dependency"].as_u64().unwrap();
        shared += b["reached_dependency"].as_u64().unwrap();
        // The same calls either way.
        assert_eq!(a["calls"], b["calls"], "{name}");
        // The first replica trips on its own either way; the fleet follows it sooner.
        assert_eq!(a["first_open_after_ms"], b["first_open_after_ms"], "{name}");
        let all = |f: &Value| f["all_open_after_ms"].as_f64().unwrap();
        assert!(all(b) < all(a), "{name}: {} vs {}", all(b), all(a));
        // The fleet held breakers open and used the store; alone, nobody did.
        assert!(fleet["holds"].as_u64().unwrap() > 0, "{name}");
        assert_eq!(no_fleet["holds"], 0, "{name}");
        assert!(fleet["store"]["reads"].as_u64().unwrap() > 0, "{name}");
        assert!(no_fleet["store"].is_null(), "{name}");
        assert_eq!(fleet["admitted_while_open"], 0, "{name}");
    }
    assert!(
        shared < alone,
        "fleet mode let {shared} calls reach the dead dependency, no fleet {alone}"
    );
}

#[test]
fn one_replica_is_the_same_with_and_without_fleet_and_as_a_single_breaker() {
    let v = json(&["simulate", "--replicas", "1", "--json"]);
    let single = json(&["simulate", "--json"]);
    for (i, (name, no_fleet, fleet)) in variants(&v).into_iter().enumerate() {
        assert_eq!(figures(&no_fleet), figures(&fleet), "{name}");
        let alone = &single["candidates"][i];
        assert_eq!(alone["name"], name.as_str());
        for key in ["reached_failing", "healthy_rejected", "totals"] {
            assert_eq!(fleet[key], alone[key], "{name}: {key}");
        }
        assert_eq!(
            outage(&fleet)["first_open_after_ms"],
            outage(alone)["trip_after_ms"],
            "{name}"
        );
    }
}

#[test]
fn a_store_outage_over_the_faults_leaves_every_replica_on_its_own() {
    // The store is down from before the slowdown to the end of the run.
    let path = scenario_with(
        "store_outage.toml",
        "\n[fleet]\nreplicas = 10\n[[fleet.store_outage]]\nstart = \"1m50s\"\nduration = \"6m10s\"\n",
    );
    let v = json(&["simulate", path.to_str().unwrap(), "--json"]);
    assert_eq!(v["fleet"]["store_outages"][0]["start_ms"], 110_000.0);
    for (name, no_fleet, fleet) in variants(&v) {
        assert_eq!(figures(&no_fleet), figures(&fleet), "{name}");
        assert!(
            fleet["store"]["unreachable"].as_u64().unwrap() > 0,
            "{name}"
        );
    }
    // The same file without the outage: fleet mode acts.
    let path = scenario_with("store_up.toml", "\n[fleet]\nreplicas = 10\n");
    let v = json(&["simulate", path.to_str().unwrap(), "--json"]);
    assert!(variants(&v)
        .iter()
        .any(|(_, no_fleet, fleet)| figures(no_fleet) != figures(fleet)));
}

#[test]
fn the_same_seed_gives_byte_identical_json_whatever_the_threads() {
    let a = ok_stdout(&["simulate", "--replicas", "10", "--json"]);
    let b = ok_stdout(&["simulate", "--replicas", "10", "--json", "--threads", "1"]);
    assert_eq!(a, b);
    let other = ok_stdout(&["simulate", "--replicas", "10", "--json", "--seed", "7"]);
    assert_ne!(a, other);
}

#[test]
fn replica_counts_out_of_range_are_refused_naming_the_field() {
    for n in ["0", "1001", "99999999999", "-3"] {
        let o = run(&["simulate", &format!("--replicas={n}")]);
        assert!(!o.status.success(), "--replicas {n} accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("--replicas") && err.contains("1..=1000"),
            "{err}"
        );
    }
    let cases = [
        ("replicas = 0", "fleet.replicas", "1..=1000"),
        ("replicas = 1001", "fleet.replicas", "1..=1000"),
        (
            "replicas = 3\nstore_latency = \"600ms\"",
            "fleet.store_latency",
            "0s..=500ms",
        ),
        (
            "replicas = 3\nheartbeat = \"1ms\"",
            "fleet.heartbeat",
            "10ms..=1h",
        ),
        ("replicas = 3\nquorum = 0", "fleet.quorum", "1..=10000"),
        ("heartbeat = \"1s\"", "fleet.replicas", "missing"),
        ("replicas = 3\nreplica = 3", "fleet.replica", "unknown"),
    ];
    for (i, (table, field, allowed)) in cases.into_iter().enumerate() {
        let path = scenario_with(&format!("bad{i}.toml"), &format!("\n[fleet]\n{table}\n"));
        let o = run(&["simulate", path.to_str().unwrap()]);
        assert!(!o.status.success(), "{table} accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(field) && err.contains(allowed),
            "{table}: {err}"
        );
    }
}

#[test]
fn a_fleet_too_big_to_simulate_is_refused_before_it_starts() {
    let path = scenario_with(
        "huge.toml",
        "\n[fleet]\nreplicas = 1000\nheartbeat = \"10ms\"\n",
    );
    let o = run(&["simulate", path.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--max-calls") && err.contains("1000 replicas"),
        "{err}"
    );
}

#[test]
fn a_fleet_has_no_chart() {
    let o = run(&["simulate", "--replicas", "2", "--plot", "x.svg"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--plot"));
}
