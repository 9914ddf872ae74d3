//! The Rust side of `ffi/bench/run.sh`: the same acquire + record(success) loops as
//! `ffi/bench/bench.c`, through the Rust API, for comparing the C ABI with it: with a
//! permit (`try_acquire` + `success`), and through `Breaker::call` (C's `tg_call`).
//!
//! Prints `rust <clock> <config> <best ns/op> <median ns/op>` for the permit path and
//! `rust-call system-clock <config> ...` for `call`. Usage:
//! `bench_rust [iterations] [runs]`.

use std::hint::black_box;
use tg_core::{AnyClock, Breaker, Clock, Config, SystemClock};

/// The thread's CPU time in nanoseconds, as `bench.c` reads it: on a shared machine, time
/// spent preempted is not counted.
fn cpu_now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is supported on
    // every platform this benchmark runs on (Linux).
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// How a loop guards its call.
#[derive(Clone, Copy)]
enum Path {
    /// `try_acquire`, then `success` on the permit: C's `tg_try_acquire` + `tg_record`.
    Permit,
    /// `Breaker::call` around a call that succeeds: C's `tg_call`.
    Call,
}

fn bench<C: Clock>(
    label: &str,
    clock_label: &str,
    breaker: &Breaker<C>,
    path: Path,
    iterations: u64,
    runs: usize,
) {
    let breaker = black_box(breaker);
    let mut per_op = Vec::with_capacity(runs);
    let mut made = 0u64;
    for _ in 0..runs {
        let t0 = cpu_now_ns();
        match path {
            Path::Permit => {
                for _ in 0..iterations {
                    if let Ok(permit) = breaker.try_acquire() {
                        permit.success();
                    }
                }
            }
            Path::Call => {
                for _ in 0..iterations {
                    let _ = breaker.call(|| {
                        made += 1;
                        Ok::<(), ()>(())
                    });
                }
            }
        }
        per_op.push((cpu_now_ns() - t0) as f64 / iterations as f64);
    }
    per_op.sort_by(f64::total_cmp);
    let calls = breaker.snapshot().calls;
    assert_eq!(calls, iterations * runs as u64, "lost calls");
    let path_label = match path {
        Path::Permit => "rust",
        Path::Call => {
            assert_eq!(made, calls, "calls not made");
            "rust-call"
        }
    };
    println!(
        "{path_label} {clock_label} {label} {:.2} {:.2}",
        per_op[0],
        per_op[runs / 2]
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let iterations: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000_000);
    let runs: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(7)
        .clamp(1, 64);
    // The C library's breakers on the system clock hold a share in the process's upkeep
    // thread (a cached time for a window's bucket); so does this loop: one time source
    // for both paths.
    let _upkeep = tripgate_ops::upkeep::Lease::take();
    for (label, track) in [("no-latency", false), ("latency", true)] {
        let config = Config {
            track_latency: track,
            ..Config::standard()
        };
        // What a Rust user gets from `Breaker::new`.
        let b = Breaker::new(config.clone()).expect("valid config");
        bench(label, "system-clock", &b, Path::Permit, iterations, runs);
        let b = Breaker::new(config.clone()).expect("valid config");
        bench(label, "system-clock", &b, Path::Call, iterations, runs);
        // The breaker type the C ABI holds (a run-time choice of clock).
        let b = Breaker::with_clock(config, AnyClock::System(SystemClock::new()))
            .expect("valid config");
        bench(label, "any-clock", &b, Path::Permit, iterations, runs);
    }
}
