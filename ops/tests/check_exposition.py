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
    "tripgate_breaker_state": "gauge",
    "tripgate_breaker_state_info": "gauge",
    "tripgate_breaker_critical": "gauge",
    "tripgate_calls": "counter",
    "tripgate_failures": "counter",
    "tripgate_slow_calls": "counter",
    "tripgate_rejected_calls": "counter",
    "tripgate_transitions": "counter",
    "tripgate_listener_panics": "counter",
    "tripgate_state_duration_seconds": "gauge",
    "tripgate_failure_rate": "gauge",
    "tripgate_slow_call_rate": "gauge",
    "tripgate_window_calls": "gauge",
    "tripgate_consecutive_failures": "gauge",
    "tripgate_half_open_probes": "gauge",
    "tripgate_backoff_level": "gauge",
    "tripgate_retry_after_seconds": "gauge",
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
        check("service" in s.labels, f"{name}: sample without service label: {s}")
        check(not math.isnan(s.value), f"{name}: NaN sample {s}")
check(set(families) == set(expected), f"unexpected families: {set(families) - set(expected)}")


def value(name, **labels):
    for fam in families.values():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    failures.append(f"no sample {name} {labels}")
    return float("nan")


services = {s.labels["service"] for s in families["tripgate_breaker_state"].samples}
check(services == {"database", "external_api", "cache", 'search "v2"\\beta'}, f"services {services}")
check(value("tripgate_breaker_state", service="database") == 0, "database closed = 0")
check(value("tripgate_breaker_state", service="cache") == 1, "cache half-open = 1")
check(value("tripgate_breaker_state", service="external_api") == 2, "external_api open = 2")
check(value("tripgate_breaker_state", service='search "v2"\\beta') == 2, "forced open = 2")
check(value("tripgate_breaker_state_info", service='search "v2"\\beta', state="forced_open") == 1, "state_info")
check(value("tripgate_breaker_critical", service="database") == 1, "critical")
check(value("tripgate_calls_total", service="database", outcome="success") == 8, "successes")
check(value("tripgate_calls_total", service="database", outcome="ignored") == 1, "ignored")
check(value("tripgate_failures_total", service="external_api", kind="connection") == 1, "by kind")
check(value("tripgate_rejected_calls_total", service="external_api") == 1, "rejections")
check(value("tripgate_consecutive_failures", service="external_api") == 3, "streak")
check(value("tripgate_half_open_probes", service="cache") == 1, "probe in flight")
quantiles = sorted(
    float(s.labels["quantile"])
    for s in families["tripgate_call_latency_seconds"].samples
    if s.labels.get("service") == "database" and "quantile" in s.labels
)
check(quantiles == [0.5, 0.9, 0.95, 0.99, 0.999], f"quantiles {quantiles}")
p50 = value("tripgate_call_latency_seconds", service="database", quantile="0.5")
check(abs(p50 - 0.013) < 0.013 * 0.04, f"p50 {p50} s, expected ~0.013 s")
check(value("tripgate_call_latency_seconds_count", service="database") == 9, "summary count")

if failures:
    print("exposition check FAILED:")
    for f in failures:
        print("  -", f)
    sys.exit(1)
print(f"exposition ok: {len(families)} families, {sum(len(f.samples) for f in families.values())} samples parsed by prometheus_client")
