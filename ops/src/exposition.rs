//! Prometheus text exposition (format 0.0.4) of a whole registry.
//!
//! Every metric carries the breaker's name as the label `service`; one metric family
//! covers every breaker. All names start with `tripgate_`:
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `tripgate_breaker_state` | gauge | 0 closed, 1 half-open, 2 open (the seeds' alert scale). Forced open counts 2; forced closed, disabled and metrics-only count 0 |
//! | `tripgate_breaker_state_info{state}` | gauge | 1 for the exact state (`closed`, `open`, `half_open`, `forced_open`, `forced_closed`, `disabled`, `metrics_only`), 0 for the others |
//! | `tripgate_breaker_critical` | gauge | 1 when the breaker is marked critical for readiness |
//! | `tripgate_calls_total{outcome}` | counter | calls by outcome: `success`, `failure`, `ignored`, `abandoned` (permit dropped unrecorded) |
//! | `tripgate_failures_total{kind}` | counter | failures by kind: `timeout`, `connection`, `server_error`, `rejected`, `other` |
//! | `tripgate_slow_calls_total` | counter | successes at least `slow_call_duration` long |
//! | `tripgate_rejected_calls_total` | counter | calls the breaker refused |
//! | `tripgate_transitions_total` | counter | state transitions |
//! | `tripgate_state_duration_seconds` | gauge | time since the last transition |
//! | `tripgate_failure_rate` | gauge | weighted failure rate over the window, 0..1 |
//! | `tripgate_slow_call_rate` | gauge | slow-call rate over the window, 0..1 |
//! | `tripgate_window_calls` | gauge | calls in the window |
//! | `tripgate_consecutive_failures` | gauge | failures in a row |
//! | `tripgate_half_open_probes` | gauge | probes in flight |
//! | `tripgate_backoff_level` | gauge | consecutive re-trips the open duration is grown by |
//! | `tripgate_retry_after_seconds` | gauge | time until a call may be admitted (0 while admitting) |
//! | `tripgate_listener_panics_total` | counter | listener calls that panicked |
//! | `tripgate_call_latency_seconds{quantile}` | summary | latency over the window: quantiles 0.5, 0.9, 0.95, 0.99, 0.999, with `_sum` and `_count` (only breakers that track latency) |
//!
//! The summary describes the sliding window, not the breaker's life: its `_count` and
//! `_sum` go down as old calls leave the window, so use its quantiles, not `rate()` of
//! `_sum`/`_count`. `_sum` is the window's mean (of histogram bin midpoints) times
//! `_count`.

use crate::registry::{NamedSnapshot, Registry};
use std::fmt::Write;
use tripgate::{Clock, FailureKind, State};

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The seeds' numeric scale for a state: 0 closed, 1 half-open, 2 open.
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

    fn sample(&mut self, name: &str, service: &str, extra: Option<(&str, &str)>, v: f64) {
        let _ = write!(self.text, "{name}{{service=\"{}\"", escape_label(service));
        if let Some((k, val)) = extra {
            let _ = write!(self.text, ",{k}=\"{}\"", escape_label(val));
        }
        let _ = writeln!(self.text, "}} {}", format_value(v));
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
            self.sample(name, &s.name, None, f(s));
        }
    }
}

/// The exposition of the given readings.
pub fn render_snapshots(snaps: &[NamedSnapshot]) -> String {
    let mut o = Out {
        text: String::with_capacity(512 + snaps.len() * 2048),
    };
    o.family(
        snaps,
        "tripgate_breaker_state",
        "gauge",
        "Breaker state: 0 closed, 1 half-open, 2 open (forced open 2; forced closed, disabled, metrics-only 0).",
        |s| f64::from(state_value(s.snapshot.state)),
    );
    o.header(
        "tripgate_breaker_state_info",
        "gauge",
        "1 for the breaker's exact state, 0 for the others.",
    );
    for s in snaps {
        for st in State::ALL {
            let v = if st == s.snapshot.state { 1.0 } else { 0.0 };
            o.sample(
                "tripgate_breaker_state_info",
                &s.name,
                Some(("state", st.name())),
                v,
            );
        }
    }
    o.family(
        snaps,
        "tripgate_breaker_critical",
        "gauge",
        "1 when the breaker opening alone makes the process unready.",
        |s| f64::from(u8::from(s.critical)),
    );
    o.header(
        "tripgate_calls_total",
        "counter",
        "Calls by outcome: success, failure, ignored, abandoned (dropped without an outcome).",
    );
    for s in snaps {
        let n = &s.snapshot;
        for (outcome, v) in [
            ("success", n.successes),
            ("failure", n.failures),
            ("ignored", n.ignored),
            ("abandoned", n.abandoned),
        ] {
            o.sample(
                "tripgate_calls_total",
                &s.name,
                Some(("outcome", outcome)),
                v as f64,
            );
        }
    }
    o.header("tripgate_failures_total", "counter", "Failures by kind.");
    for s in snaps {
        for kind in FailureKind::ALL {
            o.sample(
                "tripgate_failures_total",
                &s.name,
                Some(("kind", kind.name())),
                s.snapshot.failures_by_kind.get(kind) as f64,
            );
        }
    }
    let counters: [Simple; 4] = [
        (
            "tripgate_slow_calls_total",
            "Successful calls at least slow_call_duration long.",
            |s| s.snapshot.slow_calls as f64,
        ),
        (
            "tripgate_rejected_calls_total",
            "Calls the breaker refused.",
            |s| s.snapshot.rejected as f64,
        ),
        ("tripgate_transitions_total", "State transitions.", |s| {
            s.snapshot.transitions as f64
        }),
        (
            "tripgate_listener_panics_total",
            "Transition listener calls that panicked (caught).",
            |s| s.snapshot.listener_panics as f64,
        ),
    ];
    for (name, help, f) in counters {
        o.family(snaps, name, "counter", help, f);
    }
    let gauges: [Simple; 8] = [
        (
            "tripgate_state_duration_seconds",
            "Seconds since the last transition.",
            |s| s.snapshot.time_in_state.as_secs_f64(),
        ),
        (
            "tripgate_failure_rate",
            "Weighted failure rate over the sliding window (0..1).",
            |s| s.snapshot.failure_rate,
        ),
        (
            "tripgate_slow_call_rate",
            "Slow-call rate over the sliding window (0..1).",
            |s| s.snapshot.slow_call_rate,
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
        (
            "tripgate_retry_after_seconds",
            "Seconds until a call may be admitted (0 while calls are admitted).",
            |s| s.snapshot.retry_after.map_or(0.0, |d| d.as_secs_f64()),
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
        let secs = |nanos: u64| nanos as f64 / 1e9;
        for (q, v) in [
            ("0.5", l.p50),
            ("0.9", l.p90),
            ("0.95", l.p95),
            ("0.99", l.p99),
            ("0.999", l.p999),
        ] {
            o.sample(name, &s.name, Some(("quantile", q)), secs(v));
        }
        let sum = secs(l.mean) * l.count as f64;
        o.sample(&format!("{name}_sum"), &s.name, None, sum);
        o.sample(&format!("{name}_count"), &s.name, None, l.count as f64);
    }
    o.text
}
