//! Prometheus text exposition (format 0.0.4) of a whole registry.
//!
//! Every sample carries the breaker's name as the label `name` (never `service`, which
//! Kubernetes and Prometheus' service discovery use for the target); one metric family
//! covers every breaker. The `tripgate_circuitbreaker_*` families have the names,
//! labels and units of resilience4j's Micrometer metrics, so a dashboard or an alert
//! written for `resilience4j_circuitbreaker_*` works with the prefix swapped:
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `tripgate_circuitbreaker_state{state}` | gauge | 1 for the exact state (`closed`, `open`, `half_open`, `forced_open`, `forced_closed`, `disabled`, `metrics_only`), 0 for the others |
//! | `tripgate_circuitbreaker_calls_seconds_count{kind}` | summary (count only) | calls by `kind`: `successful`, `failed`, `ignored` (lifetime). Latency sums are not kept for the breaker's life; latency is in `tripgate_call_latency_seconds` |
//! | `tripgate_circuitbreaker_not_permitted_calls_total{kind="not_permitted"}` | counter | calls the breaker refused |
//! | `tripgate_circuitbreaker_failure_rate` | gauge | weighted failure rate over the window, in percent; -1 while the window holds fewer than `minimum_calls` calls |
//! | `tripgate_circuitbreaker_slow_call_rate` | gauge | slow-call rate over the window, in percent; -1 below `minimum_calls` |
//! | `tripgate_circuitbreaker_buffered_calls{kind}` | gauge | calls in the window: `successful`, `failed` (failures weighted by their kind's weight) |
//! | `tripgate_circuitbreaker_transitions_total{from,to}` | counter | transitions by the state left and the state entered, since the breaker was registered |
//! | `tripgate_circuitbreaker_calls_in_flight` | gauge | admitted calls not answered yet (only breakers that count them: `track_in_flight`) |
//! | `tripgate_circuitbreaker_next_probe_seconds` | gauge | seconds until a call may be admitted again (0 while calls are admitted) |
//! | `tripgate_breaker_state` | gauge | 0 closed, 1 half-open, 2 open: the scale the alert rules use. Forced open counts 2; forced closed, disabled and metrics-only count 0 |
//! | `tripgate_breaker_critical` | gauge | 1 when the breaker opening alone makes the process unready |
//! | `tripgate_calls_total{outcome}` | counter | calls by outcome: `success`, `failure`, `ignored`, `abandoned` (permit dropped unrecorded) |
//! | `tripgate_failures_total{kind}` | counter | failures by kind: `timeout`, `connection`, `server_error`, `rejected` (the dependency refused the call), `other` |
//! | `tripgate_slow_calls_total` | counter | calls at least `slow_call_duration` long |
//! | `tripgate_state_duration_seconds` | gauge | time since the last transition |
//! | `tripgate_window_calls` | gauge | calls in the window |
//! | `tripgate_consecutive_failures` | gauge | failures in a row |
//! | `tripgate_half_open_probes` | gauge | probes in flight |
//! | `tripgate_backoff_level` | gauge | consecutive re-trips the open duration is grown by |
//! | `tripgate_listener_panics_total` | counter | listener calls that panicked |
//! | `tripgate_call_latency_seconds{quantile}` | summary | latency over the window: quantiles 0.5, 0.9, 0.95, 0.99, 0.999 (NaN with no sample in the window), with `_sum` and `_count` (only breakers that track latency) |
//!
//! The latency summary describes the sliding window, not the breaker's life: its
//! `_count` and `_sum` go down as old calls leave the window, so use its quantiles, not
//! `rate()` of `_sum`/`_count`. `_sum` is the window's mean (of histogram bin
//! midpoints) times `_count`.

use crate::registry::{NamedSnapshot, Registry};
use std::fmt::Write;
use tripgate::{Clock, FailureKind, State};

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The alert rules' numeric scale for a state: 0 closed, 1 half-open, 2 open.
pub fn state_value(state: State) -> u8 {
    match state {
        State::Closed | State::ForcedClosed | State::Disabled | State::MetricsOnly => 0,
        State::HalfOpen => 1,
        State::Open | State::ForcedOpen => 2,
    }
}

/// The exposition of every breaker in `registry`.
pub fn render<C: Clock + Clone>(registry: &Registry<C>) -> String {
    render_snapshots(&registry.snapshots())
}

/// Escapes a label value: backslash, double quote and newline.
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// A sample value as the text format writes it.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// A family with one value per breaker: name, help, reading.
type Simple = (&'static str, &'static str, fn(&NamedSnapshot) -> f64);

struct Out {
    text: String,
}

impl Out {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One sample of `breaker`, with `labels` after its `name` label.
    fn sample(&mut self, metric: &str, breaker: &str, labels: &[(&str, &str)], v: f64) {
        let _ = write!(self.text, "{metric}{{name=\"{}\"", escape_label(breaker));
        for (k, val) in labels {
            let _ = write!(self.text, ",{k}=\"{}\"", escape_label(val));
        }
        let _ = writeln!(self.text, "}} {}", format_value(v));
    }

    /// One family with samples labelled by `label`: `values(snapshot)` gives the
    /// label values and readings of each breaker. The samples are named `family`
    /// followed by `suffix` (`_count` for a summary's count).
    fn labelled<const N: usize>(
        &mut self,
        snaps: &[NamedSnapshot],
        (family, kind, help): (&str, &str, &str),
        (suffix, label): (&str, &str),
        values: impl Fn(&NamedSnapshot) -> [(&'static str, f64); N],
    ) {
        self.header(family, kind, help);
        let metric = format!("{family}{suffix}");
        for s in snaps {
            for (value, v) in values(s) {
                self.sample(&metric, &s.name, &[(label, value)], v);
            }
        }
    }

    /// One family with one sample per breaker.
    fn family(
        &mut self,
        snaps: &[NamedSnapshot],
        name: &str,
        kind: &str,
        help: &str,
        f: impl Fn(&NamedSnapshot) -> f64,
    ) {
        self.header(name, kind, help);
        for s in snaps {
            self.sample(name, &s.name, &[], f(s));
        }
    }
}

/// A rate over the window in percent, or -1 while the window holds fewer than
/// `minimum_calls` calls (resilience4j's convention: the rate means nothing yet).
fn percent_or_unknown(s: &NamedSnapshot, rate: f64) -> f64 {
    if s.snapshot.window_calls < u64::from(s.config.minimum_calls) {
        -1.0
    } else {
        rate * 100.0
    }
}

/// The exposition of the given readings.
pub fn render_snapshots(snaps: &[NamedSnapshot]) -> String {
    let mut o = Out {
        text: String::with_capacity(512 + snaps.len() * 3072),
    };
    o.header(
        "tripgate_circuitbreaker_state",
        "gauge",
        "1 for the breaker's exact state, 0 for the others.",
    );
    for s in snaps {
        for st in State::ALL {
            let v = f64::from(u8::from(st == s.snapshot.state));
            o.sample(
                "tripgate_circuitbreaker_state",
                &s.name,
                &[("state", st.name())],
                v,
            );
        }
    }
    o.labelled(
        snaps,
        (
            "tripgate_circuitbreaker_calls_seconds",
            "summary",
            "Calls by kind since the breaker was built: successful, failed, ignored (count only).",
        ),
        ("_count", "kind"),
        |s| {
            let n = &s.snapshot;
            [
                ("successful", n.successes as f64),
                ("failed", n.failures as f64),
                ("ignored", n.ignored as f64),
            ]
        },
    );
    o.labelled(
        snaps,
        (
            "tripgate_circuitbreaker_not_permitted_calls_total",
            "counter",
            "Calls the breaker refused.",
        ),
        ("", "kind"),
        |s| [("not_permitted", s.snapshot.rejected as f64)],
    );
    o.family(
        snaps,
        "tripgate_circuitbreaker_failure_rate",
        "gauge",
        "Weighted failure rate over the sliding window, in percent; -1 below minimum_calls.",
        |s| percent_or_unknown(s, s.snapshot.failure_rate),
    );
    o.family(
        snaps,
        "tripgate_circuitbreaker_slow_call_rate",
        "gauge",
        "Slow-call rate over the sliding window, in percent; -1 below minimum_calls.",
        |s| percent_or_unknown(s, s.snapshot.slow_call_rate),
    );
    o.labelled(
        snaps,
        (
            "tripgate_circuitbreaker_buffered_calls",
            "gauge",
            "Calls in the sliding window: successful, failed (failures weighted by kind).",
        ),
        ("", "kind"),
        |s| {
            let calls = s.snapshot.window_calls as f64;
            let failed = (s.snapshot.failure_rate * calls).round();
            [
                ("successful", (calls - failed).max(0.0)),
                ("failed", failed),
            ]
        },
    );
    o.header(
        "tripgate_circuitbreaker_transitions_total",
        "counter",
        "Transitions by the state left and the state entered.",
    );
    for s in snaps {
        for (from, to, n) in &s.transitions {
            o.sample(
                "tripgate_circuitbreaker_transitions_total",
                &s.name,
                &[("from", from.name()), ("to", to.name())],
                *n as f64,
            );
        }
    }
    o.header(
        "tripgate_circuitbreaker_calls_in_flight",
        "gauge",
        "Admitted calls not answered yet (breakers that count them).",
    );
    for s in snaps {
        if let Some(n) = s.snapshot.in_flight {
            o.sample(
                "tripgate_circuitbreaker_calls_in_flight",
                &s.name,
                &[],
                n as f64,
            );
        }
    }
    o.family(
        snaps,
        "tripgate_circuitbreaker_next_probe_seconds",
        "gauge",
        "Seconds until a call may be admitted again (0 while calls are admitted).",
        |s| s.snapshot.retry_after.map_or(0.0, |d| d.as_secs_f64()),
    );
    o.family(
        snaps,
        "tripgate_breaker_state",
        "gauge",
        "Breaker state: 0 closed, 1 half-open, 2 open (forced open 2; forced closed, disabled, metrics-only 0).",
        |s| f64::from(state_value(s.snapshot.state)),
    );
    o.family(
        snaps,
        "tripgate_breaker_critical",
        "gauge",
        "1 when the breaker opening alone makes the process unready.",
        |s| f64::from(u8::from(s.critical)),
    );
    o.labelled(
        snaps,
        (
            "tripgate_calls_total",
            "counter",
            "Calls by outcome: success, failure, ignored, abandoned (dropped without an outcome).",
        ),
        ("", "outcome"),
        |s| {
            let n = &s.snapshot;
            [
                ("success", n.successes as f64),
                ("failure", n.failures as f64),
                ("ignored", n.ignored as f64),
                ("abandoned", n.abandoned as f64),
            ]
        },
    );
    o.labelled(
        snaps,
        (
            "tripgate_failures_total",
            "counter",
            "Failures by kind (rejected: the dependency refused the call).",
        ),
        ("", "kind"),
        |s| FailureKind::ALL.map(|k| (k.name(), s.snapshot.failures_by_kind.get(k) as f64)),
    );
    let counters: [Simple; 2] = [
        (
            "tripgate_slow_calls_total",
            "Calls at least slow_call_duration long.",
            |s| s.snapshot.slow_calls as f64,
        ),
        (
            "tripgate_listener_panics_total",
            "Transition listener calls that panicked (caught).",
            |s| s.snapshot.listener_panics as f64,
        ),
    ];
    for (name, help, f) in counters {
        o.family(snaps, name, "counter", help, f);
    }
    let gauges: [Simple; 5] = [
        (
            "tripgate_state_duration_seconds",
            "Seconds since the last transition.",
            |s| s.snapshot.time_in_state.as_secs_f64(),
        ),
        (
            "tripgate_window_calls",
            "Calls in the sliding window.",
            |s| s.snapshot.window_calls as f64,
        ),
        ("tripgate_consecutive_failures", "Failures in a row.", |s| {
            f64::from(s.snapshot.consecutive_failures)
        }),
        (
            "tripgate_half_open_probes",
            "Half-open probes in flight.",
            |s| f64::from(s.snapshot.half_open_probes),
        ),
        (
            "tripgate_backoff_level",
            "Consecutive re-trips the open duration is currently grown by.",
            |s| f64::from(s.snapshot.backoff_level),
        ),
    ];
    for (name, help, f) in gauges {
        o.family(snaps, name, "gauge", help, f);
    }
    let name = "tripgate_call_latency_seconds";
    o.header(
        name,
        "summary",
        "Call latency over the sliding window (quantiles of the window, not cumulative).",
    );
    for s in snaps {
        let Some(l) = &s.snapshot.latency else {
            continue;
        };
        // No sample in the window: the quantiles are unknown, not zero.
        let secs = |nanos: u64| {
            if l.count == 0 {
                f64::NAN
            } else {
                nanos as f64 / 1e9
            }
        };
        for (q, v) in [
            ("0.5", l.p50),
            ("0.9", l.p90),
            ("0.95", l.p95),
            ("0.99", l.p99),
            ("0.999", l.p999),
        ] {
            o.sample(name, &s.name, &[("quantile", q)], secs(v));
        }
        let sum = if l.count == 0 {
            0.0
        } else {
            l.mean as f64 / 1e9 * l.count as f64
        };
        o.sample(&format!("{name}_sum"), &s.name, &[], sum);
        o.sample(&format!("{name}_count"), &s.name, &[], l.count as f64);
    }
    o.text
}
