//! Recorded traces: a CSV of calls (`timestamp,latency,outcome`) replayed against
//! candidate configs.
//!
//! - `timestamp`: seconds (a decimal number; any origin, the first call is time 0);
//! - `latency`: milliseconds (a decimal number);
//! - `outcome`: `success` (or `ok`), `failure` (or `error`, counted as `other`), a
//!   failure kind (`timeout`, `connection`, `server_error`, `rejected`, `other`), or
//!   `ignored`.
//!
//! A header line naming the columns is optional (columns may then come in any order,
//! extra columns are ignored); lines starting with `#` and blank lines are skipped.
//! Rows need not be sorted; they are replayed in timestamp order.
//!
//! Access logs (Envoy JSON, nginx or Apache lines) give the same rows: see
//! [`crate::access_log`] and [`parse_as`].
//!
//! A trace carries no phases, so faults are found in it: the trace is cut into windows
//! of `fault_window`, and a window whose failure share reaches `fault_threshold` is a
//! fault; consecutive fault windows form one fault phase.

use crate::access_log::TraceFormat;
use crate::budget::{exact, MAX_SPAN, MAX_SPAN_NS};
use crate::engine::{Arrival, Span, Timeline};
use crate::location::{FileError, FileErrors};
use std::time::Duration;
use tripgate::{FailureKind, Outcome};

/// A loaded trace.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The calls, in time order, with phases assigned.
    pub arrivals: Vec<Arrival>,
    /// Fault and healthy phases found in it.
    pub timeline: Timeline,
}

fn parse_outcome(s: &str) -> Option<Outcome> {
    let s = s.trim().to_ascii_lowercase();
    // Core's outcome names (`success`, a failure kind's name, `ignored`), then aliases.
    if let Some(code) = Outcome::NAMES.iter().position(|n| *n == s) {
        return u8::try_from(code).ok().and_then(Outcome::from_code);
    }
    Some(match s.as_str() {
        "ok" | "succeeded" => Outcome::Success,
        "failure" | "error" | "failed" | "fail" => Outcome::Failure(FailureKind::Other),
        "ignore" => Outcome::Ignored,
        _ => return None,
    })
}

/// Bytes a trace of `file_len` bytes may need once loaded, before it is read: the text
/// and, for the most rows that many bytes can hold, a parsed row and a call each.
pub fn load_bytes(file_len: u64) -> u64 {
    // The shortest row, `0,0,ok` and its newline, is 7 bytes.
    let rows = file_len / 7 + 1;
    let per_row = (std::mem::size_of::<Row>() + std::mem::size_of::<Arrival>()) as u64;
    file_len.saturating_add(rows.saturating_mul(per_row))
}

/// A parsed row: timestamp (s), latency (ns), outcome, line.
type Row = crate::access_log::Row;

/// Parses a trace written in `format`, reporting every bad line of an access log (see
/// [`parse`] for the rest).
pub fn parse_as(
    text: &str,
    file: &str,
    format: &TraceFormat,
    fault_window_ns: u64,
    fault_threshold: f64,
    buckets: usize,
) -> Result<Trace, FileErrors> {
    let rows = match format {
        TraceFormat::Csv => parse_rows(text, file)?,
        other => {
            let mut rows = crate::access_log::parse_rows(text, file, other)?;
            rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.3.cmp(&b.3)));
            rows
        }
    };
    Ok(from_rows(
        rows,
        file,
        fault_window_ns,
        fault_threshold,
        buckets,
    )?)
}

/// Parses a trace. `fault_window_ns` and `fault_threshold` define faults (see module
/// docs); `buckets` is the time-series resolution. The trace may span at most
/// [`MAX_SPAN`] and each latency be at most as long; `fault_window_ns` is clamped to
/// 1..=[`MAX_SPAN_NS`] (callers check the option's range).
pub fn parse(
    text: &str,
    file: &str,
    fault_window_ns: u64,
    fault_threshold: f64,
    buckets: usize,
) -> Result<Trace, FileError> {
    from_rows(
        parse_rows(text, file)?,
        file,
        fault_window_ns,
        fault_threshold,
        buckets,
    )
}

/// The trace of `rows` (sorted by timestamp).
fn from_rows(
    rows: Vec<Row>,
    file: &str,
    fault_window_ns: u64,
    fault_threshold: f64,
    buckets: usize,
) -> Result<Trace, FileError> {
    let (first, last) = match (rows.first(), rows.last()) {
        (Some(f), Some(l)) => (f, l),
        _ => return Err(FileError::whole(file, "the trace has no calls")),
    };
    let origin = first.0;
    let span_s = last.0 - origin;
    if span_s > MAX_SPAN.as_secs_f64() {
        return Err(FileError::at_line(
            file,
            Some(if first.3 > last.3 { first.3 } else { last.3 }),
            "timestamp",
            format!(
                "the timestamps span {} (line {}: {}, line {}: {}); allowed at most {}: every timestamp must count seconds from the same origin",
                exact(Duration::from_secs(span_s as u64)),
                first.3,
                first.0,
                last.3,
                last.0,
                exact(MAX_SPAN),
            ),
        ));
    }
    // Within MAX_SPAN, so far from u64::MAX.
    let times: Vec<u64> = rows
        .iter()
        .map(|r| ((r.0 - origin) * 1e9).round() as u64)
        .collect();
    let w = fault_window_ns.clamp(1, MAX_SPAN_NS);
    let spans = fault_spans(&times, &rows, w, fault_threshold);
    let mut span = 0;
    let arrivals = times
        .iter()
        .zip(&rows)
        .map(|(&t, r)| {
            while spans[span].end_ns <= t && span + 1 < spans.len() {
                span += 1;
            }
            Arrival {
                t_ns: t,
                latency_ns: r.1,
                outcome: r.2,
                phase: span as u32,
                fault: spans[span].fault,
            }
        })
        .collect();
    Ok(Trace {
        arrivals,
        timeline: Timeline::new(spans, buckets),
    })
}

/// Calls in flight at once at the busiest moment of a replay with every call admitted.
pub fn peak_in_flight(arrivals: &[Arrival]) -> u64 {
    let mut ends: Vec<u64> = arrivals
        .iter()
        .map(|a| a.t_ns.saturating_add(a.latency_ns))
        .collect();
    ends.sort_unstable();
    let mut done = 0;
    let mut peak = 0;
    for (i, a) in arrivals.iter().enumerate() {
        // A call due at the moment another arrives has answered first (as in the engine).
        while done < ends.len() && ends[done] <= a.t_ns {
            done += 1;
        }
        peak = peak.max(i + 1 - done.min(i));
    }
    peak as u64
}

/// The rows of a trace, in timestamp order (file order among equal timestamps).
fn parse_rows(text: &str, file: &str) -> Result<Vec<Row>, FileError> {
    let mut cols = [0usize, 1, 2];
    let mut rows: Vec<Row> = Vec::new();
    let mut first = true;
    let max_latency_ms = MAX_SPAN.as_secs_f64() * 1e3;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = l.split(',').map(str::trim).collect();
        if first {
            first = false;
            if fields[0].parse::<f64>().is_err() {
                for (slot, name) in cols.iter_mut().zip(["timestamp", "latency", "outcome"]) {
                    *slot = fields.iter().position(|f| f.eq_ignore_ascii_case(name)).ok_or_else(|| {
                        FileError::at_line(file, Some(n), name, format!("the header names no `{name}` column (expected timestamp, latency, outcome)"))
                    })?;
                }
                continue;
            }
        }
        let get = |c: usize, name: &str| {
            fields.get(cols[c]).copied().ok_or_else(|| {
                FileError::at_line(
                    file,
                    Some(n),
                    name,
                    format!("missing column {} (`{name}`)", cols[c] + 1),
                )
            })
        };
        let raw = get(0, "timestamp")?;
        let ts: f64 = raw
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite())
            .ok_or_else(|| {
                FileError::at_line(
                    file,
                    Some(n),
                    "timestamp",
                    format!("{raw:?} is not a number of seconds: allowed a finite decimal number"),
                )
            })?;
        let raw = get(1, "latency")?;
        let lat: f64 = raw
            .parse()
            .ok()
            .filter(|l: &f64| (0.0..=max_latency_ms).contains(l))
            .ok_or_else(|| {
                FileError::at_line(
                    file,
                    Some(n),
                    "latency",
                    format!(
                        "{raw:?} is not a latency in milliseconds: allowed 0..={max_latency_ms} ({})",
                        exact(MAX_SPAN)
                    ),
                )
            })?;
        let raw = get(2, "outcome")?;
        let outcome = parse_outcome(raw).ok_or_else(|| {
            FileError::at_line(file, Some(n), "outcome", format!("{raw:?} is not an outcome: expected success, failure, ignored, timeout, connection, server_error, rejected or other"))
        })?;
        rows.push((ts, (lat * 1e6).round() as u64, outcome, n));
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.3.cmp(&b.3)));
    Ok(rows)
}

/// Fault and healthy spans from 0 to the end of the last call's window: a window of
/// `w` whose failure share reaches `threshold` is a fault, a window without counted
/// calls is healthy. Only windows with calls are visited, so memory is bounded by the
/// rows whatever the window.
fn fault_spans(times: &[u64], rows: &[Row], w: u64, threshold: f64) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    let mut cur = (0u64, false); // start and fault flag of the open span
    let mut switch = |spans: &mut Vec<Span>, at: u64, fault: bool| {
        if fault != cur.1 {
            if at > cur.0 {
                spans.push(span(cur.0, at, cur.1));
            }
            cur = (at, fault);
        }
    };
    let mut i = 0;
    let mut prev_window: Option<u64> = None;
    while i < times.len() {
        let k = times[i] / w;
        let (mut calls, mut fails) = (0u64, 0u64);
        while i < times.len() && times[i] / w == k {
            if rows[i].2 != Outcome::Ignored {
                calls += 1;
                fails += matches!(rows[i].2, Outcome::Failure(_)) as u64;
            }
            i += 1;
        }
        if prev_window.is_some_and(|p| p + 1 < k) {
            // The windows between two with calls are healthy.
            let after_prev = (prev_window.unwrap_or(0) + 1) * w;
            switch(&mut spans, after_prev, false);
        }
        switch(
            &mut spans,
            k * w,
            calls > 0 && fails as f64 >= threshold * calls as f64,
        );
        prev_window = Some(k);
    }
    let end = (prev_window.unwrap_or(0) + 1) * w;
    spans.push(span(cur.0, end, cur.1));
    spans
}

fn span(start_ns: u64, end_ns: u64, fault: bool) -> Span {
    let name = if fault { "fault" } else { "healthy" };
    Span {
        name: name.into(),
        kind: name.into(),
        start_ns,
        end_ns,
        fault,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_faults_and_orders_rows() {
        let csv = "timestamp,latency,outcome\n0.5,10,success\n0.1,10,ok\n1.2,5,timeout\n1.3,5,error\n2.5,10,success\n";
        let t = parse(csv, "t.csv", 1_000_000_000, 0.5, 10).unwrap();
        assert_eq!(t.arrivals.len(), 5);
        assert_eq!(t.arrivals[0].t_ns, 0);
        let kinds: Vec<bool> = t.timeline.spans.iter().map(|s| s.fault).collect();
        assert_eq!(kinds, vec![false, true, false]);
        assert!(t.arrivals[2].fault);
    }

    #[test]
    fn bad_rows_name_line_and_column() {
        let e = parse(
            "timestamp,latency,outcome\n0.1,abc,ok\n",
            "t.csv",
            1_000_000_000,
            0.5,
            10,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert_eq!(e.field.as_deref(), Some("latency"));
        let e = parse("0.1,1,maybe\n", "t.csv", 1_000_000_000, 0.5, 10).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("outcome"));
    }
}
