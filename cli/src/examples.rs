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
    /// Whether it is a trace for `tripgate replay` (rather than a scenario).
    pub is_trace: bool,
}

/// Every embedded example; the trace is for `tripgate replay`, the others are scenarios.
pub const EXAMPLES: &[Example] = &[
    Example {
        name: "default",
        about: "an order service calling an inventory service that slows down, then fails (what `tripgate simulate` runs)",
        text: DEFAULT_SCENARIO,
        is_trace: false,
    },
    Example {
        name: "flapping",
        about: "a dependency down 10 s of every 20 s; backoff and more probes against the tiers",
        text: include_str!("../scenarios/flapping.toml"),
        is_trace: false,
    },
    Example {
        name: "latency_spike",
        about: "a slowdown without errors; failure rate against slow-call and p99 rules",
        text: include_str!("../scenarios/latency_spike.toml"),
        is_trace: false,
    },
    Example {
        name: "ten_million",
        about: "10 million calls through the three tiers (a speed benchmark)",
        text: include_str!("../scenarios/ten_million.toml"),
        is_trace: false,
    },
    Example {
        name: "trace",
        about: "a recorded trace (CSV) with a 40 s burst of failures, for `tripgate replay`",
        text: include_str!("../scenarios/example_trace.csv"),
        is_trace: true,
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
