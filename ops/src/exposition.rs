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
//! | `tripgate_circuitbreaker_calls_seconds{kind}` | summary (`_count`, `_sum`) | calls by `kind`: `successful`, `failed`, `ignored`, and their summed duration, since the breaker was built. `_sum` is written for breakers that measure their calls (latency tracked or a `call_timeout` set: every call is measured) or have been given latencies with their outcomes (then `_sum` covers those calls only) |
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
use std::sync::Arc;
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

/// The exposition of every breaker in `registry`, then its fleet's figures (see
/// [`fleet_lines`]).
pub fn render<C: Clock + Clone>(registry: &Registry<C>) -> String {
    render_snapshots(&registry.snapshots()) + &fleet_lines(registry)
}

/// The `tripgate_fleet_*` families (`tripgate_fleet_store_up`, publish and adopt
/// counters, ...) labelled with the replica's id, while `registry` is in a fleet
/// (feature `fleet`); empty otherwise. They never carry the store's address or a
/// credential.
pub fn fleet_lines<C: Clock + Clone>(registry: &Registry<C>) -> String {
    #[cfg(feature = "fleet")]
    if let Some((replica, metrics)) = registry.fleet_metrics() {
        return metrics.prometheus(&replica);
    }
    let _ = registry;
    String::new()
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

/// How a family writes its samples for one breaker.
#[derive(Clone, Copy)]
enum Rows {
    /// One sample, no extra label.
    Value(fn(&NamedSnapshot) -> f64),
    /// Any samples: the writer gets the family's name.
    Custom(fn(&mut dyn Sink, &str, &NamedSnapshot)),
}

/// One metric family: name, type, help, and its samples per breaker.
pub(crate) struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    rows: Rows,
}

const fn gauge(name: &'static str, help: &'static str, f: fn(&NamedSnapshot) -> f64) -> Family {
    Family {
        name,
        kind: "gauge",
        help,
        rows: Rows::Value(f),
    }
}

const fn counter(name: &'static str, help: &'static str, f: fn(&NamedSnapshot) -> f64) -> Family {
    Family {
        name,
        kind: "counter",
        help,
        rows: Rows::Value(f),
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

/// Every family, in exposition order: resilience4j's shapes first, then tripgate's.
static FAMILIES: [Family; 20] = [
    Family {
        name: "tripgate_circuitbreaker_state",
        kind: "gauge",
        help: "1 for the breaker's exact state, 0 for the others.",
        rows: Rows::Custom(|o, name, s| {
            for st in State::ALL {
                let v = f64::from(u8::from(st == s.snapshot.state));
                o.sample(name, &s.name, &[("state", st.name())], v);
            }
        }),
    },
    Family {
        name: "tripgate_circuitbreaker_calls_seconds",
        kind: "summary",
        help: "Calls by kind since the breaker was built (successful, failed, ignored) and their summed duration.",
        rows: Rows::Custom(|o, name, s| {
            let n = &s.snapshot;
            let count = format!("{name}_count");
            let sum = format!("{name}_sum");
            let d = n.call_durations;
            for (kind, calls, seconds) in [
                ("successful", n.successes, d.map(|d| d.successful)),
                ("failed", n.failures, d.map(|d| d.failed)),
                ("ignored", n.ignored, d.map(|d| d.ignored)),
            ] {
                o.sample(&count, &s.name, &[("kind", kind)], calls as f64);
                if let Some(seconds) = seconds {
                    o.sample(&sum, &s.name, &[("kind", kind)], seconds.as_secs_f64());
                }
            }
        }),
    },
    Family {
        name: "tripgate_circuitbreaker_not_permitted_calls_total",
        kind: "counter",
        help: "Calls the breaker refused.",
        rows: Rows::Custom(|o, name, s| {
            let v = s.snapshot.rejected as f64;
            o.sample(name, &s.name, &[("kind", "not_permitted")], v);
        }),
    },
    gauge(
        "tripgate_circuitbreaker_failure_rate",
        "Weighted failure rate over the sliding window, in percent; -1 below minimum_calls.",
        |s| percent_or_unknown(s, s.snapshot.failure_rate),
    ),
    gauge(
        "tripgate_circuitbreaker_slow_call_rate",
        "Slow-call rate over the sliding window, in percent; -1 below minimum_calls.",
        |s| percent_or_unknown(s, s.snapshot.slow_call_rate),
    ),
    Family {
        name: "tripgate_circuitbreaker_buffered_calls",
        kind: "gauge",
        help: "Calls in the sliding window: successful, failed (failures weighted by kind).",
        rows: Rows::Custom(|o, name, s| {
            let calls = s.snapshot.window_calls as f64;
            let failed = (s.snapshot.failure_rate * calls).round();
            o.sample(name, &s.name, &[("kind", "successful")], (calls - failed).max(0.0));
            o.sample(name, &s.name, &[("kind", "failed")], failed);
        }),
    },
    Family {
        name: "tripgate_circuitbreaker_transitions_total",
        kind: "counter",
        help: "Transitions by the state left and the state entered.",
        rows: Rows::Custom(|o, name, s| {
            for (from, to, n) in s.transitions.seen() {
                let labels = [("from", from.name()), ("to", to.name())];
                o.sample(name, &s.name, &labels, n as f64);
            }
        }),
    },
    Family {
        name: "tripgate_circuitbreaker_calls_in_flight",
        kind: "gauge",
        help: "Admitted calls not answered yet (breakers that count them).",
        rows: Rows::Custom(|o, name, s| {
            if let Some(n) = s.snapshot.in_flight {
                o.sample(name, &s.name, &[], n as f64);
            }
        }),
    },
    gauge(
        "tripgate_circuitbreaker_next_probe_seconds",
        "Seconds until a call may be admitted again (0 while calls are admitted).",
        |s| s.snapshot.retry_after.map_or(0.0, |d| d.as_secs_f64()),
    ),
    gauge(
        "tripgate_breaker_state",
        "Breaker state: 0 closed, 1 half-open, 2 open (forced open 2; forced closed, disabled, metrics-only 0).",
        |s| f64::from(state_value(s.snapshot.state)),
    ),
    gauge(
        "tripgate_breaker_critical",
        "1 when the breaker opening alone makes the process unready.",
        |s| f64::from(u8::from(s.critical)),
    ),
    Family {
        name: "tripgate_calls_total",
        kind: "counter",
        help: "Calls by outcome: success, failure, ignored, abandoned (dropped without an outcome).",
        rows: Rows::Custom(|o, name, s| {
            let n = &s.snapshot;
            for (outcome, v) in [
                ("success", n.successes),
                ("failure", n.failures),
                ("ignored", n.ignored),
                ("abandoned", n.abandoned),
            ] {
                o.sample(name, &s.name, &[("outcome", outcome)], v as f64);
            }
        }),
    },
    Family {
        name: "tripgate_failures_total",
        kind: "counter",
        help: "Failures by kind (rejected: the dependency refused the call).",
        rows: Rows::Custom(|o, name, s| {
            for kind in FailureKind::ALL {
                let v = s.snapshot.failures_by_kind.get(kind) as f64;
                o.sample(name, &s.name, &[("kind", kind.name())], v);
            }
        }),
    },
    counter(
        "tripgate_slow_calls_total",
        "Calls at least slow_call_duration long.",
        |s| s.snapshot.slow_calls as f64,
    ),
    counter(
        "tripgate_listener_panics_total",
        "Transition listener calls that panicked (caught).",
        |s| s.snapshot.listener_panics as f64,
    ),
    gauge(
        "tripgate_state_duration_seconds",
        "Seconds since the last transition.",
        |s| s.snapshot.time_in_state.as_secs_f64(),
    ),
    gauge(
        "tripgate_window_calls",
        "Calls in the sliding window.",
        |s| s.snapshot.window_calls as f64,
    ),
    gauge("tripgate_consecutive_failures", "Failures in a row.", |s| {
        f64::from(s.snapshot.consecutive_failures)
    }),
    gauge(
        "tripgate_half_open_probes",
        "Half-open probes in flight.",
        |s| f64::from(s.snapshot.half_open_probes),
    ),
    gauge(
        "tripgate_backoff_level",
        "Consecutive re-trips the open duration is currently grown by.",
        |s| f64::from(s.snapshot.backoff_level),
    ),
];

/// The latency summary, written after [`FAMILIES`] (its samples have three names).
const LATENCY: Family = Family {
    name: "tripgate_call_latency_seconds",
    kind: "summary",
    help: "Call latency over the sliding window (quantiles of the window, not cumulative).",
    rows: Rows::Custom(|o, name, s| {
        let Some(l) = &s.snapshot.latency else {
            return;
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
    }),
};

impl Family {
    /// The family's name, type (`gauge`, `counter`, `summary`) and help.
    pub(crate) fn describe(&self) -> (&'static str, &'static str, &'static str) {
        (self.name, self.kind, self.help)
    }

    /// Writes this family's samples of breaker `s` to `sink`.
    pub(crate) fn write(&self, sink: &mut dyn Sink, s: &NamedSnapshot) {
        match self.rows {
            Rows::Value(v) => sink.sample(self.name, &s.name, &[], v(s)),
            Rows::Custom(w) => w(sink, self.name, s),
        }
    }
}

/// Every family, in exposition order (the latency summary last).
#[cfg(feature = "otel")]
pub(crate) fn families() -> impl Iterator<Item = &'static Family> {
    (0..).map_while(family)
}

fn family(index: usize) -> Option<&'static Family> {
    match index.cmp(&FAMILIES.len()) {
        std::cmp::Ordering::Less => Some(&FAMILIES[index]),
        std::cmp::Ordering::Equal => Some(&LATENCY),
        std::cmp::Ordering::Greater => None,
    }
}

/// Where a family's samples go: the text format ([`Out`]), or another exporter (the
/// OpenTelemetry bridge) that reads the same families.
pub(crate) trait Sink {
    /// One sample of `breaker`, with `labels` after its `name` label.
    fn sample(&mut self, metric: &str, breaker: &str, labels: &[(&str, &str)], v: f64);
}

struct Out {
    text: String,
}

impl Out {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }
}

impl Sink for Out {
    fn sample(&mut self, metric: &str, breaker: &str, labels: &[(&str, &str)], v: f64) {
        let _ = write!(self.text, "{metric}{{name=\"{}\"", escape_label(breaker));
        for (k, val) in labels {
            let _ = write!(self.text, ",{k}=\"{}\"", escape_label(val));
        }
        let _ = writeln!(self.text, "}} {}", format_value(v));
    }
}

/// Where a [`Chunks`] stopped: the family and the breaker within it to write next.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    family: usize,
    breaker: usize,
}

impl Cursor {
    /// Writes from the cursor on until `out` holds at least `limit` bytes (then stops
    /// after a whole breaker's samples) or everything is written.
    fn write(&mut self, snaps: &[NamedSnapshot], out: &mut Out, limit: usize) {
        while let Some(f) = family(self.family) {
            if self.breaker == 0 {
                let (name, kind, help) = f.describe();
                out.header(name, kind, help);
            }
            while let Some(s) = snaps.get(self.breaker) {
                f.write(out, s);
                self.breaker += 1;
                if out.text.len() >= limit {
                    return;
                }
            }
            self.family += 1;
            self.breaker = 0;
        }
    }
}

/// The exposition of the given readings.
pub fn render_snapshots(snaps: &[NamedSnapshot]) -> String {
    let mut out = Out {
        text: String::with_capacity(512 + snaps.len() * 3072),
    };
    Cursor::default().write(snaps, &mut out, usize::MAX);
    out.text
}

/// The exposition of owned readings, written piece by piece: each item is about
/// `chunk_size` bytes (a whole breaker's samples more at most), and the pieces
/// concatenated are exactly [`render_snapshots`] of the same readings.
///
/// A server streams these so that a large registry's exposition is never held whole:
/// only the readings and one piece are in memory at a time.
///
/// ```
/// use tripgate_ops::{exposition, Registry};
///
/// let registry = Registry::new();
/// registry.breaker("database")?;
/// let snaps = registry.snapshots();
/// let pieces: Vec<String> = exposition::Chunks::new(snaps.clone(), 256).collect();
/// assert!(pieces.len() > 1);
/// assert_eq!(pieces.concat(), exposition::render_snapshots(&snaps));
/// # Ok::<(), tripgate::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Chunks {
    snaps: Arc<Vec<NamedSnapshot>>,
    cursor: Cursor,
    chunk_size: usize,
    tail: Option<String>,
}

impl Chunks {
    /// The exposition of `snaps` in pieces of about `chunk_size` bytes (at least 1).
    pub fn new(snaps: Vec<NamedSnapshot>, chunk_size: usize) -> Chunks {
        Chunks::shared(Arc::new(snaps), chunk_size)
    }

    /// The same, of readings shared with others (several scrapes of one reading).
    pub fn shared(snaps: Arc<Vec<NamedSnapshot>>, chunk_size: usize) -> Chunks {
        Chunks {
            snaps,
            cursor: Cursor::default(),
            chunk_size: chunk_size.max(1),
            tail: None,
        }
    }

    /// The same, with `tail` (more families, such as [`fleet_lines`]) as the last piece.
    pub fn with_tail(mut self, tail: String) -> Chunks {
        self.tail = Some(tail).filter(|t| !t.is_empty());
        self
    }
}

impl Iterator for Chunks {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        if family(self.cursor.family).is_none() {
            return self.tail.take();
        }
        let mut out = Out {
            text: String::with_capacity(self.chunk_size + 1024),
        };
        self.cursor.write(&self.snaps, &mut out, self.chunk_size);
        Some(out.text)
    }
}
