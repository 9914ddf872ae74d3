//! Record / advance / restart / reshape sequences on count- and time-based windows,
//! through the public API only (a breaker with no trip rules, read back with
//! `Breaker::snapshot`), against a naive model that keeps every outcome in a `Vec` and
//! recomputes the window from scratch.
//!
//! Checked after every step, exactly: `window_calls`, `failure_rate` (weighted, in
//! hundredths as the engine keeps it), lifetime `calls`, `failures` and `ignored`.
//! Checked on reconfiguration: the documented rule (contents survive an unchanged
//! shape; a new shape restarts the window empty; a window cannot grow past the buckets
//! it was built with, nor become time-based if built count-based).

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;
use tripgate::{Breaker, Config, FailureKind, ManualClock, Outcome, WindowConfig};

const MS: u64 = 1_000_000;
const MAX_OPS: usize = 1024;
/// Total clock travel allowed: the window's 28-bit epoch tags wrap after 2^28 bucket
/// widths (74 h at 1 ms), a documented limit (core/src/window.rs); stay inside it.
const MAX_TRAVEL_MS: u64 = 1 << 27;

#[derive(Debug, Arbitrary, Clone, Copy)]
struct RawShape {
    count: bool,
    buckets: u16,
    per_bucket: u16,
    explicit_buckets: bool,
}

impl RawShape {
    fn window(self) -> WindowConfig {
        let buckets = u32::from(self.buckets % 300).max(1);
        if self.count {
            let size = buckets * u32::from(self.per_bucket % 20).max(1);
            WindowConfig::Count {
                size,
                buckets: (self.explicit_buckets || buckets != size).then_some(buckets),
            }
        } else {
            // Bucket width 1 ms ..= 5 s.
            let width = Duration::from_millis(u64::from(self.per_bucket % 5000).max(1));
            WindowConfig::Time {
                duration: width * buckets,
                buckets: Some(buckets),
            }
        }
    }
}

#[derive(Debug, Arbitrary)]
enum RawOp {
    Record {
        outcome: u8,
        latency_ms: Option<u16>,
    },
    Advance {
        ms: u16,
        scale: u8,
    },
    Reset,
    Reconfigure {
        shape: RawShape,
        weights: Option<[u8; 5]>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Rec {
    bucket: u64,
    weight: u64,
}

/// The naive window.
struct Naive {
    window: WindowConfig,
    capacity: u32,
    weights: [u64; 5],
    now: u64,
    origin: u64,
    seq: u64,
    recs: Vec<Rec>,
    calls: u64,
    failures: u64,
    ignored: u64,
}

impl Naive {
    fn buckets(&self) -> u64 {
        u64::from(self.window.buckets())
    }

    fn width(&self) -> u64 {
        match self.window {
            WindowConfig::Count { size, .. } => u64::from(size) / self.buckets(),
            WindowConfig::Time { duration, .. } => duration.as_nanos() as u64 / self.buckets(),
        }
    }

    fn bucket_at(&self, seq: u64) -> u64 {
        match self.window {
            WindowConfig::Count { .. } => seq.saturating_sub(1) / self.width(),
            WindowConfig::Time { .. } => (self.now - self.origin) / self.width(),
        }
    }

    fn live(&self) -> impl Iterator<Item = &Rec> {
        let e = self.bucket_at(self.seq);
        let n = self.buckets();
        self.recs
            .iter()
            .filter(move |r| r.bucket <= e && e - r.bucket < n)
    }

    fn restart(&mut self) {
        self.recs.clear();
        self.seq = 0;
        self.origin = self.now;
    }

    fn record(&mut self, outcome: Outcome) {
        let weight = match outcome {
            Outcome::Ignored => {
                self.ignored += 1;
                return;
            }
            Outcome::Success => 0,
            Outcome::Failure(k) => {
                self.failures += 1;
                self.weights[k as usize]
            }
        };
        self.calls += 1;
        self.seq += 1;
        let bucket = self.bucket_at(self.seq);
        self.recs.push(Rec { bucket, weight });
    }
}

fn shape_of(w: &WindowConfig) -> (bool, u64, u32) {
    let b = w.buckets();
    match *w {
        WindowConfig::Count { size, .. } => (false, u64::from(size / b), b),
        WindowConfig::Time { duration, .. } => (true, duration.as_nanos() as u64 / u64::from(b), b),
    }
}

fn outcome(v: u8) -> Outcome {
    match v % 8 {
        0..=2 => Outcome::Success,
        7 => Outcome::Ignored,
        k => Outcome::Failure(FailureKind::from_u8(k - 3).unwrap_or(FailureKind::Other)),
    }
}

fn weights_of(c: &Config) -> [u64; 5] {
    FailureKind::ALL.map(|k| (c.failure_weights.get(k) * 100.0).round() as u64)
}

fn with_weights(mut b: tripgate::ConfigBuilder, w: [u8; 5]) -> tripgate::ConfigBuilder {
    for (kind, w) in FailureKind::ALL.into_iter().zip(w) {
        b = b.failure_weight(kind, f64::from(w % 101) / 25.0);
    }
    b
}

fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let shape = RawShape::arbitrary(u)?;
    let weights = <[u8; 5]>::arbitrary(u)?;
    let track_latency = bool::arbitrary(u)?;
    let mut builder = Config::builder()
        .no_failure_rate()
        .track_latency(track_latency);
    builder = with_weights(builder, weights);
    builder = match shape.window() {
        WindowConfig::Count {
            size,
            buckets: Some(b),
        } => builder.count_window_buckets(size, b),
        WindowConfig::Count { size, .. } => builder.count_window(size),
        WindowConfig::Time { duration, buckets } => {
            builder.time_window(duration, buckets.unwrap_or(10))
        }
    };
    let Ok(config) = builder.build() else {
        return Ok(());
    };
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(1));
    let breaker = Breaker::with_clock(config.clone(), clock.clone()).expect("a valid config");
    let built_count = matches!(config.window, WindowConfig::Count { .. });
    let mut m = Naive {
        window: config.window,
        capacity: config.window.buckets(),
        weights: weights_of(&config),
        now: 1_000_000_000,
        origin: 1_000_000_000,
        seq: 0,
        recs: Vec::new(),
        calls: 0,
        failures: 0,
        ignored: 0,
    };
    let mut ops = Vec::new();
    while ops.len() < MAX_OPS && !u.is_empty() {
        ops.push(RawOp::arbitrary(u)?);
    }
    let mut travel = 0;
    for (step, op) in ops.iter().enumerate() {
        match *op {
            RawOp::Record {
                outcome: o,
                latency_ms,
            } => {
                let o = outcome(o);
                let permit = breaker
                    .try_acquire()
                    .expect("a breaker without rules admits");
                match latency_ms {
                    Some(ms) => permit.record(o, Duration::from_millis(u64::from(ms))),
                    None => match o {
                        Outcome::Success => permit.success(),
                        Outcome::Failure(k) => permit.failure(k),
                        Outcome::Ignored => permit.ignore(),
                    },
                }
                m.record(o);
            }
            RawOp::Advance { ms, scale } => {
                let ms = u64::from(ms) * [1, 1, 10, 1000][usize::from(scale % 4)];
                if travel + ms <= MAX_TRAVEL_MS {
                    travel += ms;
                    clock.advance_nanos(ms * MS);
                    m.now += ms * MS;
                }
            }
            RawOp::Reset => {
                breaker.reset();
                m.restart();
            }
            RawOp::Reconfigure { shape, weights } => {
                let window = shape.window();
                let mut b = breaker.config().to_builder();
                b = match window {
                    WindowConfig::Count {
                        size,
                        buckets: Some(n),
                    } => b.count_window_buckets(size, n),
                    WindowConfig::Count { size, .. } => b.count_window(size),
                    WindowConfig::Time { duration, buckets } => {
                        b.time_window(duration, buckets.unwrap_or(10))
                    }
                };
                if let Some(w) = weights {
                    b = with_weights(b, w);
                }
                let Ok(new) = b.build() else { continue };
                let result = breaker.reconfigure(new.clone());
                if window.buckets() > m.capacity {
                    let err = result.expect_err("a window cannot outgrow its buckets");
                    assert_eq!(err.field(), "window.buckets", "{err}");
                } else if built_count && matches!(window, WindowConfig::Time { .. }) {
                    let err = result.expect_err("a count window cannot become time-based");
                    assert_eq!(err.field(), "window.kind", "{err}");
                } else {
                    result.unwrap_or_else(|e| panic!("step {step}: refused {new:?}: {e}"));
                    if shape_of(&window) != shape_of(&m.window) {
                        m.window = window;
                        m.restart();
                    }
                    m.weights = weights_of(&new);
                }
            }
        }
        let s = breaker.snapshot();
        let live: Vec<Rec> = m.live().copied().collect();
        let wf: u64 = live.iter().map(|r| r.weight).sum();
        let rate = if live.is_empty() {
            0.0
        } else {
            wf as f64 / 100.0 / live.len() as f64
        };
        assert_eq!(
            (s.window_calls, s.failure_rate),
            (live.len() as u64, rate),
            "step {step}: window of {:?} at {} ns; built as {config:?}; ops {ops:?}",
            m.window,
            m.now - m.origin
        );
        assert_eq!(
            (s.calls, s.failures, s.ignored),
            (m.calls, m.failures, m.ignored),
            "step {step}: lifetime totals; ops {ops:?}"
        );
        assert_eq!(
            s.state,
            tripgate::State::Closed,
            "step {step}: no rule, no trip"
        );
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
