//! Arbitrary text as an access log for `tripgate replay --format` / `--log-format`:
//! every input is read as an Envoy JSON log, as each nginx and Apache preset, and under
//! the format its first line declares (when that line is one).
//!
//! Promises checked: never a panic, an abort or a hang, only errors naming a line and a
//! field; an accepted row has a finite start time, and rows come in file order.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tripgate_cli::access_log::{parse_rows, LogFormat, TraceFormat};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let mut formats: Vec<(TraceFormat, &str)> = ["envoy-json", "nginx-combined", "apache-combined"]
        .into_iter()
        .map(|name| (TraceFormat::from_name(name).expect("a preset"), &*text))
        .collect();
    match LogFormat::parse(first) {
        Ok(declared) => formats.push((TraceFormat::Declared(declared), rest)),
        Err(e) => assert!(!e.trim().is_empty()),
    }
    for (format, body) in formats {
        match parse_rows(body, "fuzz.log", &format) {
            Ok(rows) => {
                for row in &rows {
                    assert!(row.0.is_finite(), "start {:?}", row.0);
                }
                assert!(rows.windows(2).all(|w| w[0].3 < w[1].3), "file order");
            }
            Err(e) => {
                let message = e.to_string();
                assert!(message.contains("fuzz.log"), "{message}");
            }
        }
    }
});
