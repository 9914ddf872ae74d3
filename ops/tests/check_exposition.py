"""Parses tripgate's exposition with prometheus_client's real parser and checks it.

Usage: python check_exposition.py FILE
"""
import math
import sys

from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1], encoding="utf-8").read()
families = {f.name: f for f in text_string_to_metric_families(text)}

expected = {
    # prometheus_client strips _total from counter family names.
    "tripgate_circuitbreaker_state": "gauge",
    "tripgate_circuitbreaker_calls_seconds": "summary",
    "tripgate_circuitbreaker_not_permitted_calls": "counter",
    "tripgate_circuitbreaker_failure_rate": "gauge",
    "tripgate_circuitbreaker_slow_call_rate": "gauge",
    "tripgate_circuitbreaker_buffered_calls": "gauge",
    "tripgate_circuitbreaker_transitions": "counter",
    "tripgate_circuitbreaker_calls_in_flight": "gauge",
    "tripgate_circuitbreaker_next_probe_seconds": "gauge",
    "tripgate_breaker_state": "gauge",
    "tripgate_breaker_critical": "gauge",
    "tripgate_calls": "counter",
    "tripgate_failures": "counter",
    "tripgate_slow_calls": "counter",
    "tripgate_listener_panics": "counter",
    "tripgate_state_duration_seconds": "gauge",
    "tripgate_window_calls": "gauge",
    "tripgate_consecutive_failures": "gauge",
    "tripgate_half_open_probes": "gauge",
    "tripgate_backoff_level": "gauge",
    "tripgate_call_latency_seconds": "summary",
}
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


for name, kind in expected.items():
    fam = families.get(name)
    check(fam is not None, f"missing family {name}")
    if fam is None:
        continue
    check(fam.type == kind, f"{name}: type {fam.type}, expected {kind}")
    check(bool(fam.documentation), f"{name}: no HELP")
    for s in fam.samples:
        check("name" in s.labels, f"{name}: sample without name label: {s}")
        check("service" not in s.labels, f"{name}: a service label clashes with the target's: {s}")
        # NaN only for the quantiles of a window with no sample.
        check(not math.isnan(s.value) or "quantile" in s.labels, f"{name}: NaN sample {s}")
check(set(families) == set(expected), f"unexpected families: {set(families) - set(expected)}")


def value(metric, /, **labels):
    for fam in families.values():
        for s in fam.samples:
            if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    failures.append(f"no sample {metric} {labels}")
    return float("nan")


names = {s.labels["name"] for s in families["tripgate_breaker_state"].samples}
check(names == {"database", "external_api", "cache", 'search "v2"\\beta'}, f"names {names}")
check(value("tripgate_breaker_state", name="database") == 0, "database closed = 0")
check(value("tripgate_breaker_state", name="cache") == 1, "cache half-open = 1")
check(value("tripgate_breaker_state", name="external_api") == 2, "external_api open = 2")
check(value("tripgate_breaker_state", name='search "v2"\\beta') == 2, "forced open = 2")
check(value("tripgate_circuitbreaker_state", name='search "v2"\\beta', state="forced_open") == 1, "one-hot state")
check(value("tripgate_breaker_critical", name="database") == 1, "critical")
check(value("tripgate_calls_total", name="database", outcome="success") == 8, "successes")
check(value("tripgate_calls_total", name="database", outcome="ignored") == 1, "ignored")
check(value("tripgate_failures_total", name="external_api", kind="connection") == 1, "by kind")
check(value("tripgate_circuitbreaker_not_permitted_calls_total", name="external_api", kind="not_permitted") == 1, "rejections")
check(value("tripgate_circuitbreaker_transitions_total", name="external_api", **{"from": "closed", "to": "open"}) == 1, "transitions by from and to")
check(value("tripgate_consecutive_failures", name="external_api") == 3, "streak")
check(value("tripgate_half_open_probes", name="cache") == 1, "probe in flight")
quantiles = sorted(
    float(s.labels["quantile"])
    for s in families["tripgate_call_latency_seconds"].samples
    if s.labels.get("name") == "database" and "quantile" in s.labels
)
check(quantiles == [0.5, 0.9, 0.95, 0.99, 0.999], f"quantiles {quantiles}")
p50 = value("tripgate_call_latency_seconds", name="database", quantile="0.5")
check(abs(p50 - 0.013) < 0.013 * 0.04, f"p50 {p50} s, expected ~0.013 s")
check(value("tripgate_call_latency_seconds_count", name="database") == 9, "summary count")

if failures:
    print("exposition check FAILED:")
    for f in failures:
        print("  -", f)
    sys.exit(1)
print(f"exposition ok: {len(families)} families, {sum(len(f.samples) for f in families.values())} samples parsed by prometheus_client")
