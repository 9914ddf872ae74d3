//! The OpenTelemetry bridge, read back through an SDK meter provider and an in-memory
//! exporter: every family arrives, with the breaker as the `name` attribute and the
//! values the Prometheus exposition shows.
#![cfg(feature = "otel")]

mod common;

use opentelemetry::metrics::MeterProvider;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use std::collections::HashMap;
use std::sync::Arc;
use tripgate::{FailureKind, ManualClock};
use tripgate_ops::Registry;

/// Every data point collected, as (metric, sorted attributes) -> value.
fn points(all: &[ResourceMetrics]) -> HashMap<(String, Vec<(String, String)>), f64> {
    let mut out = HashMap::new();
    let newest = all.last().expect("one collection");
    for scope in newest.scope_metrics() {
        for metric in scope.metrics() {
            let name = metric.name().to_string();
            let mut put = |attrs: Vec<(String, String)>, v: f64| {
                let mut attrs = attrs;
                attrs.sort();
                out.insert((name.clone(), attrs), v);
            };
            let attrs_of = |it: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
                it.map(|kv| (kv.key.to_string(), kv.value.to_string()))
                    .collect::<Vec<_>>()
            };
            match metric.data() {
                AggregatedMetrics::F64(MetricData::Gauge(g)) => {
                    for p in g.data_points() {
                        put(attrs_of(&mut p.attributes()), p.value());
                    }
                }
                AggregatedMetrics::F64(MetricData::Sum(s)) => {
                    for p in s.data_points() {
                        put(attrs_of(&mut p.attributes()), p.value());
                    }
                }
                other => panic!("{name}: unexpected data {other:?}"),
            }
        }
    }
    out
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn every_family_reaches_an_in_memory_exporter_with_the_exposition_values() {
    let registry = Arc::new(Registry::with_clock(ManualClock::new()));
    let db = registry.breaker("database").unwrap();
    for _ in 0..3 {
        db.try_acquire().unwrap().success();
    }
    db.try_acquire().unwrap().failure(FailureKind::Timeout);
    let api = registry.breaker("api").unwrap();
    common::trip(&api);
    let _ = api.try_acquire(); // refused

    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let _bridge = tripgate_ops::otel::register(Arc::clone(&registry), &provider.meter("tripgate"));
    provider.force_flush().unwrap();
    let got = points(&exporter.get_finished_metrics().unwrap());

    let at = |metric: &str, labels: &[(&str, &str)]| {
        *got.get(&(metric.to_string(), attrs(labels)))
            .unwrap_or_else(|| panic!("no point {metric} {labels:?}"))
    };
    // Gauges: one-hot state, the alert scale.
    assert_eq!(
        at(
            "tripgate_circuitbreaker_state",
            &[("name", "api"), ("state", "open")]
        ),
        1.0
    );
    assert_eq!(
        at(
            "tripgate_circuitbreaker_state",
            &[("name", "api"), ("state", "closed")]
        ),
        0.0
    );
    assert_eq!(at("tripgate_breaker_state", &[("name", "database")]), 0.0);
    assert_eq!(at("tripgate_breaker_state", &[("name", "api")]), 2.0);
    // Counters, named without _total.
    assert_eq!(
        at(
            "tripgate_calls",
            &[("name", "database"), ("outcome", "success")]
        ),
        3.0
    );
    assert_eq!(
        at(
            "tripgate_failures",
            &[("name", "database"), ("kind", "timeout")]
        ),
        1.0
    );
    assert_eq!(
        at(
            "tripgate_circuitbreaker_not_permitted_calls",
            &[("name", "api"), ("kind", "not_permitted")]
        ),
        1.0
    );
    assert_eq!(
        at(
            "tripgate_circuitbreaker_transitions",
            &[("name", "api"), ("from", "closed"), ("to", "open")]
        ),
        1.0
    );
    // Every family of the exposition has an instrument, and no other appears.
    let names: std::collections::BTreeSet<&str> = got.keys().map(|(m, _)| m.as_str()).collect();
    let text = tripgate_ops::exposition::render(&registry);
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let family = line.split(' ').nth(2).unwrap();
        let expected = family.strip_suffix("_total").unwrap_or(family);
        if family == "tripgate_circuitbreaker_calls_seconds"
            || family == "tripgate_circuitbreaker_calls_in_flight"
        {
            continue; // a count-only summary, and a family these breakers do not fill
        }
        assert!(
            names.contains(expected),
            "{expected} missing from {names:?}"
        );
    }
}
