//! Arbitrary text as a `tripgate replay` trace (CSV `timestamp,latency,outcome`),
//! replayed against a tier preset under one of several fault rules (picked from the
//! input's length, so a committed CSV enters the corpus as it is), within small caps;
//! an accepted trace is rendered as table, JSON and SVG.
//!
//! Promises checked: never a panic, an abort or a hang, only errors (with a message);
//! out-of-range fault options are refused naming the option; nothing is admitted while
//! a breaker is open.

#![no_main]

mod common;

use common::SETTINGS;
use libfuzzer_sys::fuzz_target;
use std::time::Duration;
use tripgate_cli::budget::MAX_SPAN;
use tripgate_cli::{candidates, plot, replay_text, FaultRule};

/// Fault windows: the tiny, the usual, the longest, and two out of range.
const WINDOWS: [Duration; 7] = [
    Duration::from_nanos(1),
    Duration::from_micros(1),
    Duration::from_millis(1),
    Duration::from_secs(1),
    MAX_SPAN,
    Duration::ZERO,
    Duration::from_secs(400 * 86_400),
];
const THRESHOLDS: [f64; 6] = [0.25, 1.0, 1e-9, 0.5, 0.0, f64::NAN];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let rule = FaultRule {
        window: WINDOWS[data.len() % WINDOWS.len()],
        threshold: THRESHOLDS[data.len() / WINDOWS.len() % THRESHOLDS.len()],
    };
    let cands = [
        candidates::from_tier("critical", 0, 1).expect("a tier"),
        candidates::from_tier("non_critical", 1, 1).expect("a tier"),
    ];
    match replay_text(&text, "fuzz.csv", "fuzz.csv", &cands, 1, &rule, &SETTINGS) {
        Ok(report) => {
            assert!(rule.check().is_ok(), "a run under a refused rule");
            for c in &report.candidates {
                assert_eq!(c.admitted_while_open, 0, "{}", c.name);
            }
            let _ = report.to_table();
            let _ = report.to_json();
            let _ = plot::render(&report);
        }
        Err(e) => {
            assert!(!e.trim().is_empty());
            if rule.check().is_err() {
                assert!(e.contains("--fault-"), "{e}");
            }
        }
    }
});
