//! The shared test vectors of `vectors/`: the same cases the Python suite runs against
//! `tripgate.patterns`, so that the two implementations answer alike.

use serde_json::Value;
use std::time::Duration;
use tripgate::{Breaker, Config, ManualClock};
use tripgate_patterns::chain::Chain;
use tripgate_patterns::graduated::{Graduated, Tier};

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    doc["cases"].as_array().expect("cases").clone()
}

/// A breaker on `clock` held closed: the vectors' calls never trip it on their own.
fn closed_breaker(clock: &ManualClock) -> Breaker<ManualClock> {
    let breaker = Breaker::with_clock(Config::default(), clock.clone()).unwrap();
    breaker.force_closed();
    breaker
}

fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Live => "live",
        Tier::Recent => "recent",
        Tier::Stale => "stale",
        Tier::Default => "default",
    }
}

#[test]
fn graduated_cache_answers_every_shared_vector() {
    let cases = load("graduated.json");
    assert!(cases.len() >= 4);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let clock = ManualClock::new();
        let secs = |v: &Value| Duration::from_secs(v.as_u64().unwrap());
        let mut cache = Graduated::new(
            secs(&case["recent_s"]),
            secs(&case["stale_s"]),
            clock.clone(),
        );
        if let Some(d) = case["default"].as_i64() {
            cache = cache.with_default(d);
        }
        if let Some(c) = case["capacity"].as_u64() {
            cache = cache.with_capacity(c as usize);
        }
        let breaker = closed_breaker(&clock);
        let mut now = 0;
        for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let at = step["at_s"].as_u64().unwrap();
            clock.advance(Duration::from_secs(at - now));
            now = at;
            let key = step["key"].as_str().unwrap_or("k").to_string();
            if let Some(value) = step["insert"].as_i64() {
                cache.insert(key, value);
                continue;
            }
            let served = if step["serve"].as_bool() == Some(true) {
                cache.serve(&key).ok_or(())
            } else {
                let call = step["call"].as_str().unwrap();
                if call == "reject" {
                    breaker.force_open();
                }
                let value = step["value"].as_i64();
                let result = cache
                    .call(key, &breaker, || match call {
                        "ok" => Ok(value.unwrap()),
                        _ => Err("down"),
                    })
                    .map_err(|_| ());
                breaker.force_closed();
                result
            };
            let expect = &step["expect"];
            let at_step = format!("{name}: step {i}");
            match served {
                Ok(s) => {
                    assert_eq!(
                        tier_name(s.tier),
                        expect["tier"].as_str().unwrap(),
                        "{at_step}"
                    );
                    assert_eq!(Some(s.value), expect["value"].as_i64(), "{at_step}");
                    assert_eq!(
                        s.age.map(|a| a.as_secs()),
                        expect["age_s"].as_u64(),
                        "{at_step}"
                    );
                }
                Err(()) => assert!(
                    matches!(expect["tier"].as_str(), Some("error" | "none")),
                    "{at_step}: nothing answered, expected {expect}"
                ),
            }
        }
    }
}

#[test]
fn fallback_chain_answers_every_shared_vector() {
    let cases = load("chain.json");
    assert!(cases.len() >= 4);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let clock = ManualClock::new();
        let steps = case["steps"].as_array().unwrap();
        let breakers: Vec<_> = steps
            .iter()
            .map(|s| {
                let b = closed_breaker(&clock);
                if s["guard"] == "open" {
                    b.force_open();
                }
                b
            })
            .collect();
        let mut chain: Chain<'_, String, &str> = Chain::new();
        for (step, breaker) in steps.iter().zip(&breakers) {
            let result = match step["ok"].as_str() {
                Some(v) => Ok(v.to_string()),
                None => Err("down"),
            };
            let step_name = step["name"].as_str().unwrap();
            chain = match step["guard"].as_str().unwrap() {
                "none" => chain.unguarded(step_name, move || result),
                _ => chain.step(step_name, breaker, move || result),
            };
        }
        let expect = &case["expect"];
        let errors_of = |e: &Value| -> Vec<(usize, bool)> {
            e.as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    (
                        x["index"].as_u64().unwrap() as usize,
                        x["rejected"].as_bool().unwrap(),
                    )
                })
                .collect()
        };
        match chain.run() {
            Ok(answer) => {
                assert_eq!(
                    Some(answer.index as u64),
                    expect["answered"].as_u64(),
                    "{name}"
                );
                assert_eq!(
                    Some(answer.value.as_str()),
                    expect["value"].as_str(),
                    "{name}"
                );
                let errors: Vec<_> = answer
                    .errors
                    .iter()
                    .map(|e| (e.index, e.is_rejected()))
                    .collect();
                assert_eq!(errors, errors_of(&expect["errors"]), "{name}");
            }
            Err(e) => {
                let errors: Vec<_> = e
                    .errors
                    .iter()
                    .map(|e| (e.index, e.is_rejected()))
                    .collect();
                assert_eq!(
                    errors,
                    errors_of(&expect["error"]),
                    "{name}: every step failed"
                );
            }
        }
    }
}
