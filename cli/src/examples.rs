//! The shipped scenarios and trace, embedded in the binary so that every example of
//! `--help` runs from any directory: `tripgate simulate --example NAME`, and
//! `tripgate example NAME` prints one to start a file from.

use crate::scenario::DEFAULT_SCENARIO;

/// An embedded example file.
pub struct Example {
    /// What `--example` and `tripgate example` take.
    pub name: &'static str,
    /// One line on what it shows.
    pub about: &'static str,
    /// The file's text.
    pub text: &'static str,
    /// For a trace (rather than a scenario): the file name to write it to and the
    /// options `tripgate replay` reads it with.
    pub trace: Option<(&'static str, &'static str)>,
}

/// Every embedded example; the traces are for `tripgate replay`, the others are scenarios.
pub const EXAMPLES: &[Example] = &[
    Example {
        name: "default",
        about: "an order service calling an inventory service that slows down, then fails (what `tripgate simulate` runs)",
        text: DEFAULT_SCENARIO,
        trace: None,
    },
    Example {
        name: "flapping",
        about: "a dependency down 10 s of every 20 s; backoff and more probes against the tiers",
        text: include_str!("../scenarios/flapping.toml"),
        trace: None,
    },
    Example {
        name: "latency_spike",
        about: "a slowdown without errors; failure rate against slow-call and p99 rules",
        text: include_str!("../scenarios/latency_spike.toml"),
        trace: None,
    },
    Example {
        name: "ten_million",
        about: "10 million calls through the three tiers (a speed benchmark)",
        text: include_str!("../scenarios/ten_million.toml"),
        trace: None,
    },
    Example {
        name: "trace",
        about: "a recorded trace (CSV) with a 40 s burst of failures, for `tripgate replay`",
        text: include_str!("../scenarios/example_trace.csv"),
        trace: Some(("trace.csv", "")),
    },
    Example {
        name: "nginx_log",
        about: "an nginx access log (combined + $request_time) with 10 s of failures, for `tripgate replay --format nginx-combined`",
        text: include_str!("../tests/data/access/nginx_combined.log"),
        trace: Some(("access.log", " --format nginx-combined")),
    },
    Example {
        name: "envoy_log",
        about: "an Envoy JSON access log with 10 s of upstream failures, for `tripgate replay --format envoy-json`",
        text: include_str!("../tests/data/access/envoy.jsonl"),
        trace: Some(("envoy.log", " --format envoy-json")),
    },
];

/// The example called `name`, or an error listing them all.
pub fn find(name: &str) -> Result<&'static Example, String> {
    EXAMPLES.iter().find(|e| e.name == name).ok_or_else(|| {
        format!(
            "no example {name:?}: allowed {}",
            EXAMPLES
                .iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The list printed by `tripgate example` without a name.
pub fn list() -> String {
    let width = EXAMPLES.iter().map(|e| e.name.len()).max().unwrap_or(0);
    EXAMPLES
        .iter()
        .map(|e| format!("{:width$}  {}\n", e.name, e.about))
        .collect()
}
