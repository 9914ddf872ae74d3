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
//! A trace carries no phases, so faults are found in it: the trace is cut into windows
//! of `fault_window`, and a window whose failure share reaches `fault_threshold` is a
//! fault; consecutive fault windows form one fault phase.

use crate::engine::{Arrival, Span, Timeline};
use crate::location::FileError;
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
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "success" | "ok" | "succeeded" => Outcome::Success,
        "failure" | "error" | "failed" | "fail" => Outcome::Failure(FailureKind::Other),
        "ignored" | "ignore" => Outcome::Ignored,
        k => Outcome::Failure(FailureKind::ALL.into_iter().find(|f| f.name() == k)?),
    })
}

/// Parses a trace. `fault_window_ns` and `fault_threshold` define faults (see module
/// docs); `buckets` is the time-series resolution.
pub fn parse(
    text: &str,
    file: &str,
    fault_window_ns: u64,
    fault_threshold: f64,
    buckets: usize,
) -> Result<Trace, FileError> {
    let mut cols = [0usize, 1, 2];
    let mut rows: Vec<(f64, u64, Outcome, usize)> = Vec::new();
    let mut first = true;
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
        let ts: f64 = get(0, "timestamp")?
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite())
            .ok_or_else(|| {
                FileError::at_line(
                    file,
                    Some(n),
                    "timestamp",
                    format!(
                        "{:?} is not a number of seconds",
                        fields.get(cols[0]).unwrap_or(&"")
                    ),
                )
            })?;
        let lat: f64 = get(1, "latency")?
            .parse()
            .ok()
            .filter(|l: &f64| l.is_finite() && *l >= 0.0)
            .ok_or_else(|| {
                FileError::at_line(
                    file,
                    Some(n),
                    "latency",
                    format!(
                        "{:?} is not a non-negative number of milliseconds",
                        fields.get(cols[1]).unwrap_or(&"")
                    ),
                )
            })?;
        let raw = get(2, "outcome")?;
        let outcome = parse_outcome(raw).ok_or_else(|| {
            FileError::at_line(file, Some(n), "outcome", format!("{raw:?} is not an outcome: expected success, failure, ignored, timeout, connection, server_error, rejected or other"))
        })?;
        rows.push((ts, (lat * 1e6).round() as u64, outcome, n));
    }
    if rows.is_empty() {
        return Err(FileError::whole(file, "the trace has no calls"));
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.3.cmp(&b.3)));
    let origin = rows[0].0;
    let times: Vec<u64> = rows
        .iter()
        .map(|r| ((r.0 - origin) * 1e9).round() as u64)
        .collect();
    let w = fault_window_ns.max(1);
    let end = (times[times.len() - 1] / w + 1) * w;
    let nwin = (end / w) as usize;
    let mut calls = vec![0u64; nwin];
    let mut fails = vec![0u64; nwin];
    for (t, r) in times.iter().zip(&rows) {
        let k = (*t / w) as usize;
        if r.2 != Outcome::Ignored {
            calls[k] += 1;
            fails[k] += matches!(r.2, Outcome::Failure(_)) as u64;
        }
    }
    let is_fault: Vec<bool> = (0..nwin)
        .map(|k| calls[k] > 0 && fails[k] as f64 >= fault_threshold * calls[k] as f64)
        .collect();
    let mut spans: Vec<Span> = Vec::new();
    for (k, &f) in is_fault.iter().enumerate() {
        match spans.last_mut() {
            Some(s) if s.fault == f => s.end_ns = (k as u64 + 1) * w,
            _ => spans.push(Span {
                name: if f { "fault".into() } else { "healthy".into() },
                kind: if f { "fault".into() } else { "healthy".into() },
                start_ns: k as u64 * w,
                end_ns: (k as u64 + 1) * w,
                fault: f,
            }),
        }
    }
    let mut span_of = vec![0u32; nwin];
    for (i, s) in spans.iter().enumerate() {
        for slot in &mut span_of[(s.start_ns / w) as usize..(s.end_ns / w) as usize] {
            *slot = i as u32;
        }
    }
    let arrivals = times
        .iter()
        .zip(&rows)
        .map(|(&t, r)| {
            let k = (t / w) as usize;
            Arrival {
                t_ns: t,
                latency_ns: r.1,
                outcome: r.2,
                phase: span_of[k],
                fault: is_fault[k],
            }
        })
        .collect();
    Ok(Trace {
        arrivals,
        timeline: Timeline::new(spans, buckets),
    })
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
