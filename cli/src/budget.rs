//! What a run may cost, estimated before anything is allocated: the calls simulated and
//! the memory the engine needs, checked against caps the user can raise
//! (`--max-calls`, `--max-memory`). The engine also enforces the memory cap while it
//! runs (calls in flight), so a wrong estimate ends in an error, never in an abort.

use crate::engine::Sim;
use crate::report::{dur_ns, group};
use std::fmt;
use std::time::Duration;

/// The longest stretch of simulated time a run covers, and the longest duration any
/// scenario field or trace latency may give: 366 days (so `1y`, 365.25 days, fits).
pub const MAX_SPAN: Duration = Duration::from_secs(366 * 24 * 3600);
/// [`MAX_SPAN`] in nanoseconds.
pub const MAX_SPAN_NS: u64 = MAX_SPAN.as_secs() * 1_000_000_000;
/// Highest call rate a scenario may ask for, calls per second.
pub const MAX_RATE: f64 = 10_000_000.0;
/// Default of `--max-calls`: calls made by the caller (each candidate sees them all).
pub const DEFAULT_MAX_CALLS: u64 = 1_000_000_000;
/// Default of `--max-memory`: 4 GiB.
pub const DEFAULT_MAX_MEMORY: u64 = 4 << 30;
/// Calls simulated per candidate per second on one thread, used to tell how long a
/// refused run would have taken (the `ten_million` example's release build on a
/// shared 2-core machine: 10 million calls through 2 candidates a thread in ~6.5 s).
pub const CALLS_PER_SECOND_PER_THREAD: f64 = 3_000_000.0;

/// The caps a run is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Most calls the caller may make in a run.
    pub max_calls: u64,
    /// Most bytes the run may allocate (estimate, and calls in flight while running).
    pub max_memory: u64,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            max_calls: DEFAULT_MAX_CALLS,
            max_memory: DEFAULT_MAX_MEMORY,
        }
    }
}

/// What a run is expected to need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Calls the caller makes (expected; a Poisson run varies around it).
    pub calls: u64,
    /// Candidates, each of which sees every call.
    pub candidates: usize,
    /// Calls in flight at once, per candidate, at the worst moment (an upper estimate).
    pub peak_in_flight: u64,
    /// Bytes needed before the first call (time series, histograms, loaded input).
    pub fixed_bytes: u64,
    /// Threads the candidates run on.
    pub threads: usize,
}

impl Estimate {
    /// Bytes of the whole run: the fixed part plus every candidate's calls in flight.
    pub fn memory_bytes(&self) -> u64 {
        let in_flight = self
            .peak_in_flight
            .saturating_mul(Sim::BYTES_PER_CALL_IN_FLIGHT)
            .saturating_mul(self.candidates as u64);
        self.fixed_bytes.saturating_add(in_flight)
    }

    /// Rough wall time of the run.
    pub fn seconds(&self) -> f64 {
        let per_thread = self.candidates.div_ceil(self.threads.max(1)).max(1);
        self.calls as f64 * per_thread as f64 / CALLS_PER_SECOND_PER_THREAD
    }

    /// Refuses a run above `caps`, with the figure and the option that raises the cap.
    pub fn check(&self, caps: &Caps) -> Result<(), String> {
        if self.calls > caps.max_calls {
            return Err(format!(
                "the run would make about {} calls for each of {} candidate{} (about {} of work); \
                 the cap is {} calls: raise it with --max-calls, or shorten the scenario or lower its rate",
                group(self.calls),
                self.candidates,
                if self.candidates == 1 { "" } else { "s" },
                dur_ns(seconds_to_ns(self.seconds())),
                group(caps.max_calls),
            ));
        }
        let bytes = self.memory_bytes();
        if bytes > caps.max_memory {
            return Err(format!(
                "the run would need about {} of memory ({} calls in flight at once per candidate, {} candidate{}, {} before the first call); \
                 the cap is {}: raise it with --max-memory, or lower the rate, the latency, the timeout, --buckets or the candidates",
                Bytes(bytes),
                group(self.peak_in_flight),
                self.candidates,
                if self.candidates == 1 { "" } else { "s" },
                Bytes(self.fixed_bytes),
                Bytes(caps.max_memory),
            ));
        }
        Ok(())
    }

    /// Calls in flight one candidate may hold before the run exceeds `caps` (the engine
    /// stops the run with an error past it).
    pub fn in_flight_limit(&self, caps: &Caps) -> u64 {
        let spare = caps.max_memory.saturating_sub(self.fixed_bytes);
        (spare / Sim::BYTES_PER_CALL_IN_FLIGHT / self.candidates.max(1) as u64).max(1)
    }
}

/// A duration written exactly in days, hours, minutes, seconds and sub-seconds
/// (`366d`, `1h30m`, `2ms`, `1ns`), for ranges in error messages; humantime's own
/// format counts years of 365.25 days, which reads oddly for a range.
pub fn exact(d: Duration) -> String {
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, len) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= len {
            out.push_str(&format!("{}{unit}", secs / len));
            secs %= len;
        }
    }
    let nanos = d.subsec_nanos();
    for (unit, len) in [("ms", 1_000_000), ("us", 1_000), ("ns", 1)] {
        if (nanos / len) % 1000 > 0 {
            out.push_str(&format!("{}{unit}", (nanos / len) % 1000));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

fn seconds_to_ns(s: f64) -> u64 {
    // Saturating float-to-int conversion.
    (s * 1e9) as u64
}

/// A byte count written with a binary unit: `512 B`, `3.2 MiB`, `13.6 GiB`.
#[derive(Debug, Clone, Copy)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 < 1024 {
            return write!(f, "{} B", self.0);
        }
        let mut v = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while v >= 1024.0 && unit + 1 < UNITS.len() {
            v /= 1024.0;
            unit += 1;
        }
        write!(f, "{v:.1} {}", UNITS[unit])
    }
}

/// Parses a byte count for `--max-memory`: a whole number with an optional unit `B`,
/// `K`/`KiB`, `M`/`MiB`, `G`/`GiB`, `T`/`TiB` (all binary, case-insensitive).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "{s:?} is not a byte count: expected e.g. 512MiB, 4GiB or 1T"
            ))
        }
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a byte count: expected e.g. 512MiB, 4GiB or 1T"))?;
    n.checked_mul(1 << shift)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("{s:?} is out of range: allowed 1B..=16EiB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_parse_and_print() {
        assert_eq!(parse_bytes("4GiB"), Ok(4 << 30));
        assert_eq!(parse_bytes("512m"), Ok(512 << 20));
        assert_eq!(parse_bytes("100"), Ok(100));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("99999999999T").is_err());
        assert!(parse_bytes("-1G").is_err());
        assert_eq!(Bytes(13_600_000_000).to_string(), "12.7 GiB");
        assert_eq!(Bytes(10).to_string(), "10 B");
        assert_eq!(exact(MAX_SPAN), "366d");
        assert_eq!(exact(Duration::from_nanos(90_002_000_001)), "1m30s2ms1ns");
        assert_eq!(exact(Duration::ZERO), "0s");
    }

    #[test]
    fn a_run_above_a_cap_is_refused_with_the_option_to_raise_it() {
        let e = Estimate {
            calls: 10,
            candidates: 2,
            peak_in_flight: u64::MAX,
            fixed_bytes: 0,
            threads: 2,
        };
        assert!(e
            .check(&Caps::default())
            .unwrap_err()
            .contains("--max-memory"));
        let e = Estimate {
            calls: u64::MAX,
            peak_in_flight: 1,
            ..e
        };
        assert!(e
            .check(&Caps::default())
            .unwrap_err()
            .contains("--max-calls"));
    }
}
