//! Operation sequences against the plain reference model of `core/tests/support/model.rs`
//! (the file the property test uses, included here by path, not copied): acquire,
//! record success / failure / ignore with latencies, release, advance the manual clock,
//! force open, reset, open, open for a time, half-open, close, from any initial state.
//! Any disagreement between engine and model panics.

#![no_main]

#[path = "../../core/tests/support/model.rs"]
#[allow(dead_code)]
mod model;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use model::Op;
use std::time::Duration;
use tripgate::{Config, FailureKind, Outcome, State};

/// Longest sequence tried: long enough to trip, probe, re-trip and decay many times.
const MAX_OPS: usize = 512;
/// Total clock travel allowed: the window's 28-bit epoch tags wrap after 2^28 bucket
/// widths (74 h at 1 ms), a documented limit (core/src/window.rs); stay inside it.
const MAX_TRAVEL_MS: u64 = 1 << 27;

#[derive(Debug, Arbitrary)]
struct RawConfig {
    count: bool,
    size: u8,
    buckets: u8,
    width_ms: u16,
    minimum_calls: u8,
    failure_rate: Option<u8>,
    slow: Option<(u8, u16)>,
    consecutive: Option<u8>,
    percentile: Option<(u8, u16)>,
    weights: [u8; 5],
    open_ms: u16,
    multiplier: u8,
    max_open_factor: u8,
    decay_ms: u16,
    permits: u8,
    successes: u8,
    max_wait_ms: u16,
    track_latency: bool,
    track_in_flight: bool,
    initial_state: u8,
    call_timeout_ms: Option<u16>,
}

impl RawConfig {
    /// A config the model covers (no jitter, no slow start, default histogram
    /// precision), or `None` when the builder refuses it.
    fn build(&self) -> Option<Config> {
        let ms = |v: u16| Duration::from_millis(u64::from(v).max(1));
        let mut b = Config::builder()
            .minimum_calls(u32::from(self.minimum_calls % 16).max(1))
            .track_latency(self.track_latency)
            .track_in_flight(self.track_in_flight)
            .open_duration(ms(self.open_ms))
            .backoff(
                1.0 + f64::from(self.multiplier % 8) / 2.0,
                ms(self.open_ms) * u32::from(self.max_open_factor % 16).max(1),
            )
            .backoff_decay(ms(self.decay_ms))
            .half_open_permits(u32::from(self.permits % 6).max(1))
            .half_open_success_threshold(u32::from(self.successes % 6).max(1))
            .half_open_max_wait(ms(self.max_wait_ms))
            .initial_state(State::ALL[usize::from(self.initial_state) % State::ALL.len()]);
        b = if self.count {
            let buckets = u32::from(self.buckets % 8).max(1);
            let per = u32::from(self.size % 16).max(1);
            // A count window holds at most its size in calls: a larger minimum is
            // refused, so it is capped here to keep the input useful.
            let size = buckets * per;
            b = b.minimum_calls(u32::from(self.minimum_calls % 16).clamp(1, size));
            if self.size & 0x80 != 0 {
                b.count_window_buckets(size, buckets)
            } else {
                b.count_window(size)
            }
        } else {
            let buckets = u32::from(self.buckets % 12).max(1);
            b.time_window(ms(self.width_ms % 5000) * buckets, buckets)
        };
        // 0 included: the builder refuses it (fixed bug E, fuzz/README.md).
        let rate = |r: u8| f64::from(r % 101) / 100.0;
        b = match self.failure_rate {
            Some(r) => b.failure_rate_threshold(rate(r)),
            None => b.no_failure_rate(),
        };
        if let Some((r, slow_ms)) = self.slow {
            b = b.slow_call_rate_threshold(rate(r), ms(slow_ms % 2000));
        }
        if let Some(n) = self.consecutive {
            b = b.consecutive_failures(u32::from(n % 10).max(1));
        }
        if let Some((q, limit_ms)) = self.percentile {
            let q = [0.5, 0.75, 0.9, 0.95, 0.99, 0.999][usize::from(q % 6)];
            b = b.latency_percentile(q, ms(limit_ms % 2000));
        }
        if let Some(t) = self.call_timeout_ms {
            b = b.call_timeout(ms(t));
        }
        for (kind, w) in FailureKind::ALL.into_iter().zip(self.weights) {
            // Hundredths from 0 to 4.0: zero, fractional and heavy weights.
            b = b.failure_weight(kind, f64::from(w % 101) / 25.0);
        }
        b.build().ok()
    }
}

#[derive(Debug, Arbitrary)]
enum RawOp {
    Acquire,
    Record {
        index: u8,
        outcome: u8,
        latency_ms: Option<u16>,
    },
    Release {
        index: u8,
    },
    Advance {
        ms: u16,
        scale: u8,
    },
    ForceOpen,
    Reset,
    Open,
    OpenFor {
        ms: u16,
    },
    HalfOpen,
    Close,
    /// Answered by the deadline rule; `cut_short`: the caller gave up (no outcome).
    Complete {
        index: u8,
        outcome: u8,
        cut_short: bool,
    },
}

fn outcome(v: u8) -> Outcome {
    match v % 8 {
        0..=2 => Outcome::Success,
        7 => Outcome::Ignored,
        k => Outcome::Failure(FailureKind::from_u8(k - 3).unwrap_or(FailureKind::Other)),
    }
}

fn ops(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<Op>> {
    let mut out = Vec::new();
    let mut travel = 0u64;
    while out.len() < MAX_OPS && !u.is_empty() {
        out.push(match RawOp::arbitrary(u)? {
            RawOp::Acquire => Op::Acquire,
            RawOp::Record {
                index,
                outcome: o,
                latency_ms,
            } => Op::Record {
                index: usize::from(index),
                outcome: outcome(o),
                latency_ms: latency_ms.map(u64::from),
            },
            RawOp::Release { index } => Op::Release {
                index: usize::from(index),
            },
            RawOp::Advance { ms, scale } => {
                let ms = u64::from(ms) * [1, 1, 10, 1000][usize::from(scale % 4)];
                if travel + ms > MAX_TRAVEL_MS {
                    continue;
                }
                travel += ms;
                Op::Advance { ms }
            }
            RawOp::ForceOpen => Op::ForceOpen,
            RawOp::Reset => Op::Reset,
            RawOp::Open => Op::Open,
            RawOp::OpenFor { ms } => Op::OpenFor { ms: u64::from(ms) },
            RawOp::HalfOpen => Op::HalfOpen,
            RawOp::Close => Op::Close,
            RawOp::Complete {
                index,
                outcome: o,
                cut_short,
            } => Op::Complete {
                index: usize::from(index),
                outcome: (!cut_short).then(|| outcome(o)),
            },
        });
    }
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(raw) = RawConfig::arbitrary(&mut u) else {
        return;
    };
    let Some(config) = raw.build() else {
        return;
    };
    let Ok(ops) = ops(&mut u) else {
        return;
    };
    if let Err(e) = model::run(config.clone(), ops.clone()) {
        panic!("engine and model disagree: {e}\nconfig: {config:?}\nops: {ops:?}");
    }
});
