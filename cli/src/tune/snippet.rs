//! A config written out ready to use: as a TOML config file (what `tripgate check`,
//! `tripgate simulate --config` and `Config::from_toml_str` load), as Python keyword
//! arguments of `tripgate.CircuitBreaker`, and as C setter calls on a `tg_config`.
//!
//! Each writes only what differs from the standard tier (the default of all three), so
//! the snippet says what the tuning changed. The jitter `seed` is never written: the
//! simulator sets one per run for reproducibility, a service should not.

use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;
use tripgate::{AntiThrash, Config, FailureKind, WindowConfig};

/// The three snippets of one config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snippets {
    /// A TOML config file.
    pub toml: String,
    /// `tripgate.CircuitBreaker(...)`.
    pub python: String,
    /// `tg_config_*` calls.
    pub c: String,
}

impl Snippets {
    /// The snippets of `config` (its `seed` left out).
    pub fn of(config: &Config) -> Snippets {
        let mut c = config.clone();
        c.seed = None;
        Snippets {
            toml: toml_snippet(&c),
            python: python_snippet(&c),
            c: c_snippet(&c),
        }
    }
}

/// Configs whose snippets the bindings' test suites load (`python/tests` and
/// `ffi/tests/run_c_tests.sh`, through the `snippets` example) and `cli/tests/tune.rs`
/// checks: a sample of the default search space, and hand-made ones with what the
/// search never draws (no failure-rate rule, a streak rule, anti-thrash, in-flight
/// tracking, failure weights, a bucketed count window).
pub fn sample_configs() -> Vec<Config> {
    let mut out = crate::tune::space::Space::default().sample(3, &[]);
    out.push(Config {
        failure_rate_threshold: None,
        consecutive_failures: Some(4),
        anti_thrash: Some(AntiThrash::default()),
        track_in_flight: true,
        ..Config::critical()
    });
    let mut weighted = Config::non_critical();
    weighted.failure_weights.set(FailureKind::Timeout, 2.5);
    weighted.window = WindowConfig::Count {
        size: 100,
        buckets: Some(10),
    };
    out.push(weighted);
    for c in &mut out {
        c.seed = None; // as the snippets leave it out
    }
    out
}

fn table_of(c: &Config) -> toml::Table {
    match toml::Value::try_from(c) {
        Ok(toml::Value::Table(t)) => t,
        _ => unreachable!("a Config serializes to a table"),
    }
}

/// The top-level fields that differ from the standard tier, as a TOML document that
/// loads back to `c` (a changed table is written whole).
fn toml_snippet(c: &Config) -> String {
    let base = table_of(&Config::standard());
    let diff: toml::Table = table_of(c)
        .into_iter()
        .filter(|(k, v)| base.get(k) != Some(v))
        .collect();
    let mut out = String::new();
    if c.failure_rate_threshold.is_none() {
        // TOML has no null: leaving the key out would bring the default back.
        out.push_str("failure_rate_threshold = \"off\"\n");
    }
    out.push_str(&toml::to_string_pretty(&diff).expect("a config table serializes"));
    out
}

/// Seconds, as Python reads them.
fn secs(d: Duration) -> String {
    format!("{}", d.as_secs_f64())
}

fn py_opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "None".to_string(), |x| x.to_string())
}

fn python_snippet(c: &Config) -> String {
    let d = Config::standard();
    let mut kw: Vec<(&str, String)> = Vec::new();
    if c.window != d.window {
        let buckets = match c.window {
            WindowConfig::Count { size, buckets } => {
                kw.push(("window_size", size.to_string()));
                buckets
            }
            WindowConfig::Time { duration, buckets } => {
                kw.push(("window_duration", secs(duration)));
                buckets
            }
        };
        if let Some(b) = buckets {
            kw.push(("window_buckets", b.to_string()));
        }
    }
    if c.minimum_calls != d.minimum_calls {
        kw.push(("minimum_calls", c.minimum_calls.to_string()));
    }
    // `fail_max` without `failure_rate_threshold` switches the rate rule off: say it.
    if c.failure_rate_threshold != d.failure_rate_threshold || c.consecutive_failures.is_some() {
        kw.push(("failure_rate_threshold", py_opt(c.failure_rate_threshold)));
    }
    if let Some(n) = c.consecutive_failures {
        kw.push(("fail_max", n.to_string()));
    }
    if c.slow_call_rate_threshold != d.slow_call_rate_threshold {
        kw.push((
            "slow_call_rate_threshold",
            py_opt(c.slow_call_rate_threshold),
        ));
    }
    if c.slow_call_duration != d.slow_call_duration {
        kw.push(("slow_call_duration", secs(c.slow_call_duration)));
    }
    if let Some(p) = c.latency_percentile {
        kw.push((
            "latency_percentile",
            format!("({}, {})", p.quantile.0, secs(p.limit)),
        ));
    }
    if c.failure_weights != d.failure_weights {
        let w: Vec<String> = FailureKind::ALL
            .iter()
            .map(|k| format!("\"{}\": {:?}", k.name(), c.failure_weights.get(*k)))
            .collect();
        kw.push(("failure_weights", format!("{{{}}}", w.join(", "))));
    }
    let (o, od) = (&c.open, &d.open);
    for (name, v, dv) in [
        ("reset_timeout", o.duration, od.duration),
        ("max_reset_timeout", o.max_duration, od.max_duration),
        ("backoff_decay", o.decay_after, od.decay_after),
    ] {
        if v != dv {
            kw.push((name, secs(v)));
        }
    }
    if o.multiplier != od.multiplier {
        kw.push(("backoff_multiplier", o.multiplier.to_string()));
    }
    if o.jitter != od.jitter {
        kw.push(("jitter", o.jitter.to_string()));
    }
    let (h, hd) = (&c.half_open, &d.half_open);
    if h.permits != hd.permits {
        kw.push(("half_open_permits", h.permits.to_string()));
    }
    if h.success_threshold != hd.success_threshold {
        kw.push(("success_threshold", h.success_threshold.to_string()));
    }
    if h.max_wait != hd.max_wait {
        kw.push(("half_open_max_wait", secs(h.max_wait)));
    }
    if let Some(s) = c.slow_start {
        kw.push((
            "slow_start",
            format!("({}, {})", s.initial_fraction, secs(s.duration)),
        ));
    }
    if let Some(a) = &c.adaptive_threshold {
        let json = serde_json::to_string(a).expect("an adaptive threshold serializes");
        kw.push(("adaptive_threshold", json));
    }
    if let Some(t) = c.anti_thrash {
        kw.push((
            "anti_thrash",
            format!("({}, {})", secs(t.min_closed), secs(t.min_open)),
        ));
    }
    let flag = |b: bool| if b { "True" } else { "False" }.to_string();
    if c.track_latency != d.track_latency {
        kw.push(("track_latency", flag(c.track_latency)));
    }
    if c.track_in_flight != d.track_in_flight {
        kw.push(("track_in_flight", flag(c.track_in_flight)));
    }
    if c.histogram_precision != d.histogram_precision {
        kw.push(("histogram_precision", c.histogram_precision.to_string()));
    }
    let mut out = String::from("breaker = tripgate.CircuitBreaker(\n");
    for (k, v) in kw {
        let _ = writeln!(out, "    {k}={v},");
    }
    out.push_str(")\n");
    out
}

fn ns(d: Duration) -> String {
    format!("{}ull", d.as_nanos())
}

fn c_snippet(c: &Config) -> String {
    let d = Config::standard();
    let mut calls: Vec<String> = Vec::new();
    let mut call = |f: &str, args: String| calls.push(format!("tg_config_{f}(config{args});"));
    // Each C setter checks the whole config. The default window is a time window, which
    // puts no bound on `minimum_calls`, so the minimum goes first: a count window set
    // after it is then checked against the minimum the snippet wants.
    if c.minimum_calls != d.minimum_calls {
        call("set_minimum_calls", format!(", {}", c.minimum_calls));
    }
    if c.window != d.window {
        match c.window {
            WindowConfig::Count {
                size,
                buckets: None,
            } => call("set_count_window", format!(", {size}")),
            WindowConfig::Count {
                size,
                buckets: Some(b),
            } => call("set_count_window_buckets", format!(", {size}, {b}")),
            WindowConfig::Time { duration, buckets } => call(
                "set_time_window",
                format!(", {}, {}", ns(duration), buckets.unwrap_or(0)),
            ),
        }
    }
    match c.failure_rate_threshold {
        _ if c.failure_rate_threshold == d.failure_rate_threshold => {}
        Some(t) => call("set_failure_rate_threshold", format!(", {t:?}")),
        None => call("clear_failure_rate_threshold", String::new()),
    }
    if let Some(t) = c.slow_call_rate_threshold {
        call("set_slow_call_rate_threshold", format!(", {t:?}"));
    }
    if c.slow_call_duration != d.slow_call_duration {
        call(
            "set_slow_call_duration_ns",
            format!(", {}", ns(c.slow_call_duration)),
        );
    }
    if let Some(n) = c.consecutive_failures {
        call("set_consecutive_failures", format!(", {n}"));
    }
    if let Some(p) = c.latency_percentile {
        call(
            "set_latency_percentile",
            format!(", {:?}, {}", p.quantile.0, ns(p.limit)),
        );
    }
    for k in FailureKind::ALL {
        let w = c.failure_weights.get(k);
        if w != d.failure_weights.get(k) {
            let kind = format!("TG_KIND_{}", k.name().to_ascii_uppercase());
            call("set_failure_weight", format!(", {kind}, {w:?}"));
        }
    }
    let (o, od) = (&c.open, &d.open);
    if o.duration != od.duration {
        call("set_open_duration_ns", format!(", {}", ns(o.duration)));
    }
    if o.multiplier != od.multiplier || o.max_duration != od.max_duration {
        call(
            "set_backoff",
            format!(", {:?}, {}", o.multiplier, ns(o.max_duration)),
        );
    }
    if o.jitter != od.jitter {
        call("set_jitter", format!(", {:?}", o.jitter));
    }
    if o.decay_after != od.decay_after {
        call("set_backoff_decay_ns", format!(", {}", ns(o.decay_after)));
    }
    let (h, hd) = (&c.half_open, &d.half_open);
    if h.permits != hd.permits {
        call("set_half_open_permits", format!(", {}", h.permits));
    }
    if h.success_threshold != hd.success_threshold {
        call(
            "set_half_open_success_threshold",
            format!(", {}", h.success_threshold),
        );
    }
    if h.max_wait != hd.max_wait {
        call("set_half_open_max_wait_ns", format!(", {}", ns(h.max_wait)));
    }
    if let Some(s) = c.slow_start {
        call(
            "set_slow_start",
            format!(", {:?}, {}", s.initial_fraction, ns(s.duration)),
        );
    }
    if let Some(t) = c.anti_thrash {
        call(
            "set_anti_thrash",
            format!(", {}, {}", ns(t.min_closed), ns(t.min_open)),
        );
    }
    if c.track_latency != d.track_latency {
        call("set_track_latency", format!(", {}", c.track_latency));
    }
    if c.track_in_flight != d.track_in_flight {
        call("set_track_in_flight", format!(", {}", c.track_in_flight));
    }
    if c.histogram_precision != d.histogram_precision {
        call(
            "set_histogram_precision",
            format!(", {}", c.histogram_precision),
        );
    }
    let mut out = String::from(
        "tg_config *config = NULL;\ntg_config_new(&config);  /* the standard tier; each call below returns TG_OK or an error status */\n",
    );
    if let Some(a) = &c.adaptive_threshold {
        out.push_str("tg_adaptive_threshold adaptive;\n");
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(a) {
            for (k, v) in fields {
                let _ = writeln!(out, "adaptive.{k} = {v};");
            }
        }
        calls.push("tg_config_set_adaptive_threshold(config, &adaptive);".to_string());
    }
    for line in calls {
        out.push_str(&line);
        out.push('\n');
    }
    out
}
