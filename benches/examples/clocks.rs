//! What a clock read and an atomic add cost on this machine: the floors under
//! tripgate's budgets (docs/ARCHITECTURE.md §3). Each figure is
//! the best of 5 rounds of 20 M operations in a loop, in ns per operation.
//!
//! Usage: `cargo run --release -p tripgate-benches --example clocks`. Prints one JSON
//! object per line, `{"op": .., "what": .., "ns": ..}`; `benches/run.sh` saves them to
//! `clocks.jsonl` and `benches/report.py` turns them into the floor column of the
//! budget table.

#[path = "../common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tripgate::{Clock, SystemClock};

const OPS: u32 = 20_000_000;
const ROUNDS: usize = 5;

/// Best ns per call of `op` over the rounds.
fn cost(mut op: impl FnMut() -> u64) -> f64 {
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..OPS {
                black_box(op());
            }
            start.elapsed().as_nanos() as f64 / f64::from(OPS)
        })
        .fold(f64::INFINITY, f64::min)
}

#[cfg(target_arch = "x86_64")]
fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` reads a counter every x86_64 CPU has; it touches no memory.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The OS's coarse monotonic clock, as the coarse-OS-clock contender reads it.
fn coarse_os_clock() -> u64 {
    common::os_clock(libc::CLOCK_MONOTONIC_COARSE)
}

fn main() {
    let clock = SystemClock::new();
    let origin = Instant::now();
    let counter = AtomicU64::new(0);
    // A counter picked by the time, as a time window picks its bucket: the add waits
    // for the clock.
    let counters = [AtomicU64::new(0), AtomicU64::new(0)];
    let add_at = |t: u64| counters[(t & 1) as usize].fetch_add(1, Ordering::Relaxed);
    let mut rows: Vec<(&str, &str, f64)> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    rows.push(("rdtsc", "`rdtsc` alone", cost(rdtsc)));
    rows.push((
        "precise",
        "tripgate `SystemClock::now_nanos` (TSC via quanta, scaled)",
        cost(|| clock.now_nanos()),
    ));
    rows.push((
        "std_instant",
        "`std::time::Instant::now` (vDSO `clock_gettime`)",
        cost(|| origin.elapsed().as_nanos() as u64),
    ));
    rows.push((
        "os_coarse",
        "`clock_gettime(CLOCK_MONOTONIC_COARSE)`",
        cost(coarse_os_clock),
    ));
    rows.push((
        "fetch_add",
        "one `Relaxed` `fetch_add`, uncontended",
        cost(|| counter.fetch_add(1, Ordering::Relaxed)),
    ));
    rows.push((
        "precise_then_add",
        "`now_nanos`, then a `fetch_add` on a counter it picks",
        cost(|| add_at(clock.now_nanos())),
    ));
    rows.push((
        "two_precise_two_adds",
        "two `now_nanos`, then two `fetch_add`s on counters the second picks",
        cost(|| {
            let start = clock.now_nanos();
            let end = clock.now_nanos();
            add_at(end) + add_at(end.wrapping_sub(start))
        }),
    ));
    match SystemClock::start_upkeep(Duration::from_millis(1)) {
        Ok(_upkeep) => {
            std::thread::sleep(Duration::from_millis(10));
            rows.push((
                "cached",
                "`SystemClock::coarse_nanos`, upkeep thread running (one load)",
                cost(|| clock.coarse_nanos()),
            ));
            rows.push((
                "cached_then_add",
                "`coarse_nanos` (upkeep running), then a `fetch_add` on a counter it picks",
                cost(|| add_at(clock.coarse_nanos())),
            ));
        }
        Err(e) => eprintln!("clocks: no upkeep thread ({e}); cached rows skipped"),
    }
    for (key, what, ns) in rows {
        println!(r#"{{"op": "{key}", "what": "{what}", "ns": {ns:.3}}}"#);
    }
}
