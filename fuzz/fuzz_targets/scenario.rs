//! Arbitrary text as a `tripgate simulate` scenario file: parsed into a table, every
//! field checked, the run estimated against small caps, and an accepted scenario
//! simulated (bounded by those caps) and rendered as table, JSON and SVG.
//!
//! Promises checked: never a panic, an abort or a hang, only errors; every error names
//! a file and says what is wrong, and the errors come in line order; an accepted
//! scenario lies within the documented ranges; a run the caps refuse says which option
//! raises them.

#![no_main]

mod common;

use common::SETTINGS;
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tripgate_cli::budget::MAX_SPAN_NS;
use tripgate_cli::scenario::Scenario;
use tripgate_cli::{plot, simulate, simulate_estimate};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Candidate config paths resolve in a directory that does not exist.
    let dir = Path::new("/nonexistent/tripgate-fuzz");
    let sc = match Scenario::parse(&text, "fuzz.toml", dir) {
        Ok(sc) => sc,
        Err(errors) => {
            assert!(!errors.0.is_empty(), "refused without an error");
            let lines: Vec<usize> = errors
                .0
                .iter()
                .map(|e| e.line.unwrap_or(usize::MAX))
                .collect();
            assert!(
                lines.windows(2).all(|w| w[0] <= w[1]),
                "errors out of line order: {lines:?}"
            );
            for e in &errors.0 {
                assert!(
                    !e.message.trim().is_empty(),
                    "an error without a message: {e:?}"
                );
                assert_eq!(e.file, "fuzz.toml");
            }
            assert!(!errors.to_string().is_empty());
            return;
        }
    };
    assert!(!sc.phases.is_empty() && !sc.candidates.is_empty());
    let mut at = 0;
    for p in &sc.phases {
        assert_eq!(p.start_ns, at, "phases are back to back");
        assert!(p.end_ns > p.start_ns && p.end_ns <= MAX_SPAN_NS, "{p:?}");
        assert!(p.rate > 0.0 && p.rate <= 1e7, "{p:?}");
        assert!((0.0..=1.0).contains(&p.behaviour.error_rate), "{p:?}");
        at = p.end_ns;
    }
    let estimate = simulate_estimate(&sc, &SETTINGS);
    let _ = (estimate.memory_bytes(), estimate.seconds());
    match simulate(&sc, &SETTINGS) {
        Ok(report) => {
            assert_eq!(report.candidates.len(), sc.candidates.len());
            for c in &report.candidates {
                assert_eq!(c.admitted_while_open, 0, "{}", c.name);
            }
            let _ = report.to_table();
            let _ = report.to_json();
            let _ = plot::render(&report);
        }
        Err(e) => assert!(
            e.contains("--max-calls") || e.contains("--max-memory"),
            "an accepted scenario failed without naming a cap: {e}"
        ),
    }
});
