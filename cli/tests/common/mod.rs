//! Running the `tripgate` binary from the end-to-end tests.

#![allow(dead_code)]

use serde_json::Value;
use std::process::{Command, Output};

/// The binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tripgate"))
}

/// Runs it with `args`.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("tripgate runs")
}

/// Its stdout, after checking that it succeeded.
pub fn ok_stdout(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

/// Its stdout as JSON, after checking that it succeeded.
pub fn json(args: &[&str]) -> Value {
    serde_json::from_str(&ok_stdout(args)).expect("valid JSON")
}
