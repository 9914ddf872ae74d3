//! tripgate against the Rust circuit breakers people use, and against the hardware's
//! floor (a bare atomic load + `fetch_add`).
//!
//! Run everything, with the report, through `benches/run.sh`; or one group with
//! `cargo bench -p tripgate-benches --bench breakers -- s1_`. The scenarios, the
//! configuration of each peer and what a peer cannot express are in `BENCHMARKS.md`.
//!
//! Bench ids are `<scenario>/<contender>` (`<scenario>/<contender>/<threads>` for the
//! scaling scenario, s7); `benches/report.py` reads them back from
//! `target/criterion/<scenario>/<contender>/new/estimates.json`.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use tripgate::{Breaker, ManualClock, Outcome};

#[path = "../common/mod.rs"]
mod common;

use common::*;

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Scenario 1 or 2: closed breaker, `fail(i)` decides call `i`'s outcome.
fn closed<T: Contender>(g: &mut Group<'_>, name: &str, mut c: T, fail: fn(u64) -> bool) {
    let mut i = 0u64;
    g.bench_function(name, |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(c.call(black_box(fail(i))))
        })
    });
}

fn never(_: u64) -> bool {
    false
}

/// Starts the cached clock's upkeep thread for the breakers created while it lives.
fn upkeep() -> tripgate::UpkeepHandle {
    tripgate::SystemClock::start_upkeep(std::time::Duration::from_millis(1)).expect("upkeep")
}

fn s1_closed_success(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("s1_closed_success");
    closed(&mut g, "tripgate", Tripgate::new(false), never);
    closed(&mut g, "tripgate_latency", Tripgate::new(true), never);
    closed(
        &mut g,
        "tripgate_call_listener",
        Tripgate::with_call_listener(),
        never,
    );
    closed(&mut g, "tripgate_count", Tripgate::count(false), never);
    closed(
        &mut g,
        "tripgate_count_latency",
        Tripgate::count(true),
        never,
    );
    {
        // The same breaker with an upkeep thread refreshing the cached clock, as a
        // service would run it (`SystemClock::start_upkeep`).
        let _upkeep = upkeep();
        closed(&mut g, "tripgate_cached_clock", Tripgate::new(false), never);
    }
    // The kernel's coarse clock instead, which needs no thread.
    closed(
        &mut g,
        "tripgate_coarse_os_clock",
        Tripgate::coarse_os_clock(),
        never,
    );
    closed_floor_and_peers(&mut g, never);
    g.finish();
}

fn s2_closed_1pct_failures(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("s2_closed_1pct_failures");
    closed(&mut g, "tripgate", Tripgate::new(false), one_percent);
    closed(&mut g, "tripgate_latency", Tripgate::new(true), one_percent);
    closed(
        &mut g,
        "tripgate_count",
        Tripgate::count(false),
        one_percent,
    );
    closed_floor_and_peers(&mut g, one_percent);
    g.finish();
}

/// The atomic floor and every peer crate, under `fail` (scenarios 1 and 2).
fn closed_floor_and_peers(g: &mut Group<'_>, fail: fn(u64) -> bool) {
    closed(g, "atomic_floor", AtomicFloor::new(false), fail);
    closed(g, "failsafe", Failsafe::new(), fail);
    closed(g, "recloser", Recloser::new(), fail);
    closed(g, "tower_resilience", Tower::new(), fail);
    closed(g, "seatbelt", seatbelt(&system_tick_clock()), fail);
}

/// Scenario 3: trip the breaker with real failures, then time rejected calls.
fn open<T: Contender>(g: &mut Group<'_>, name: &str, mut c: T) {
    trip(&mut c);
    g.bench_function(name, |b| {
        b.iter(|| {
            let r = c.call(black_box(false));
            debug_assert_eq!(r, Called::Rejected);
            black_box(r)
        })
    });
    assert_eq!(
        c.call(false),
        Called::Rejected,
        "{name} left Open during the bench"
    );
}

fn s3_open_reject(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("s3_open_reject");
    open(&mut g, "tripgate", Tripgate::new(false));
    {
        let _upkeep = upkeep();
        open(&mut g, "tripgate_cached_clock", Tripgate::new(false));
    }
    open(&mut g, "atomic_floor", AtomicFloor::new(true));
    open(&mut g, "failsafe", Failsafe::consecutive());
    open(&mut g, "recloser", Recloser::new());
    open(&mut g, "tower_resilience", Tower::new());
    open(&mut g, "seatbelt", seatbelt(&system_tick_clock()));
    g.finish();
}

/// Scenario 4: one trip-and-recover cycle per iteration.
fn churn<T: Churn>(g: &mut Group<'_>, name: &str, c: &mut T) {
    g.bench_function(name, |b| b.iter(|| black_box(c.cycle())));
}

fn s4_half_open_churn(cr: &mut Criterion) {
    check_churn();
    let mut g = cr.benchmark_group("s4_half_open_churn");
    churn(&mut g, "tripgate", &mut TripgateChurn::new());
    failsafe::clock::freeze(|clock| churn(&mut g, "failsafe", &mut FailsafeChurn::new(clock)));
    churn(
        &mut g,
        "recloser",
        &mut RecloserChurn(Recloser::with_wait(Duration::ZERO)),
    );
    churn(
        &mut g,
        "tower_resilience",
        &mut TowerChurn(Tower::with_wait(Duration::ZERO)),
    );
    churn(&mut g, "seatbelt", &mut seatbelt_churn());
    g.finish();
}

/// Runs `iters` successful calls on each contender, one thread each, started together
/// by a barrier; returns the slowest thread's time, so the figure is the time per call
/// as each thread sees it (throughput is one call per thread per that time).
fn on_threads<T: Contender>(iters: u64, contenders: &[T]) -> Duration {
    let barrier = Barrier::new(contenders.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = contenders
            .iter()
            .map(|c| {
                let (mut c, barrier) = (c.share(), &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(c.call(black_box(false)));
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .max()
            .unwrap_or_default()
    })
}

/// `threads` contenders: shares of one (`shared`), or one each.
fn contenders<T: Contender>(threads: usize, shared: bool, make: &impl Fn() -> T) -> Vec<T> {
    let first = make();
    let mut all: Vec<T> = (1..threads)
        .map(|_| if shared { first.share() } else { make() })
        .collect();
    all.insert(0, first);
    all
}

fn pair<T: Contender>(g: &mut Group<'_>, name: &str, shared: bool, make: impl Fn() -> T) {
    let both = contenders(2, shared, &make);
    g.bench_function(name, |bn| bn.iter_custom(|iters| on_threads(iters, &both)));
}

/// Thread counts for the scaling scenario: 1, 2, 4, ... up to the machine's
/// parallelism (at least 2), so the same bench shows more points on a larger machine.
fn thread_counts() -> Vec<usize> {
    let most = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    std::iter::successors(Some(1usize), |n| Some(n * 2))
        .take_while(|&n| n <= most)
        .collect()
}

fn scale<T: Contender>(g: &mut Group<'_>, name: &str, shared: bool, make: impl Fn() -> T) {
    for threads in thread_counts() {
        let all = contenders(threads, shared, &make);
        g.bench_with_input(
            criterion::BenchmarkId::new(name, threads),
            &all,
            |bn, all| bn.iter_custom(|iters| on_threads(iters, all)),
        );
    }
}

/// Scenario 7: scaling. 1, 2, 4, ... threads of successful calls, on one shared
/// breaker and on one breaker per thread, per op and per thread, for tripgate (default
/// config and without latency) and every peer. Ids are `<group>/<contender>/<threads>`.
fn s7_scaling(cr: &mut Criterion) {
    for (group, shared) in [
        ("s7_scaling_one_breaker", true),
        ("s7_scaling_breaker_per_thread", false),
    ] {
        let mut g = cr.benchmark_group(group);
        scale(&mut g, "tripgate", shared, || Tripgate::new(false));
        scale(&mut g, "tripgate_latency", shared, || Tripgate::new(true));
        scale(&mut g, "tripgate_count", shared, || Tripgate::count(false));
        scale(&mut g, "atomic_floor", shared, || AtomicFloor::new(false));
        scale(&mut g, "failsafe", shared, Failsafe::new);
        scale(&mut g, "recloser", shared, Recloser::new);
        scale(&mut g, "tower_resilience", shared, Tower::new);
        let clock = system_tick_clock();
        scale(&mut g, "seatbelt", shared, || seatbelt(&clock));
        g.finish();
    }
}

fn s5_two_threads(cr: &mut Criterion) {
    for (group, shared) in [
        ("s5_two_threads_one_breaker", true),
        ("s5_two_threads_two_breakers", false),
    ] {
        let mut g = cr.benchmark_group(group);
        pair(&mut g, "tripgate", shared, || Tripgate::new(false));
        pair(&mut g, "tripgate_latency", shared, || Tripgate::new(true));
        pair(&mut g, "tripgate_count", shared, || Tripgate::count(false));
        {
            let _upkeep = upkeep();
            pair(&mut g, "tripgate_cached_clock", shared, || {
                Tripgate::new(false)
            });
        }
        pair(&mut g, "atomic_floor", shared, || AtomicFloor::new(false));
        pair(&mut g, "failsafe", shared, Failsafe::new);
        pair(&mut g, "recloser", shared, Recloser::new);
        pair(&mut g, "tower_resilience", shared, Tower::new);
        let clock = system_tick_clock();
        pair(&mut g, "seatbelt", shared, || seatbelt(&clock));
        g.finish();
    }
}

/// Scenario 6: tripgate's parts on their own.
fn s6_tripgate_parts(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("s6_tripgate_parts");

    // Admission alone takes about as long as the harness's own per-iteration work, so
    // each iteration makes ADMISSIONS of them (report.py divides); tripgate and the
    // floor run the same loop and each answer is only "admitted or not".
    let closed = Breaker::new(tripgate_config(false)).unwrap();
    g.bench_function("admit_closed", |b| {
        b.iter(|| admissions(|| black_box(&closed).acquire_raw().is_ok()))
    });
    let floor = AtomicFloor::new(false);
    g.bench_function("admit_floor_load", |b| {
        b.iter(|| admissions(|| black_box(&floor).admit()))
    });

    let mut open = Tripgate::new(false);
    trip(&mut open);
    g.bench_function("admit_open", |b| {
        b.iter(|| admissions(|| black_box(&open.0).acquire_raw().is_ok()))
    });
    assert!(open.0.acquire_raw().is_err());

    let timed = Breaker::new(tripgate_config(true)).unwrap();
    // One permit's words, answered again and again: a raw record, seal check included.
    let words = timed.acquire_raw().unwrap().into_words();
    g.bench_function("record_success_latency", |b| {
        b.iter(|| {
            let raw = tripgate::RawPermit::from_words(black_box(words));
            black_box(&timed).record_raw(raw, Outcome::Success, None)
        })
    });
    let untimed = Breaker::new(tripgate_config(false)).unwrap();
    // One permit's words, answered again and again: a raw record, seal check included.
    let words = untimed.acquire_raw().unwrap().into_words();
    g.bench_function("record_success_no_latency", |b| {
        b.iter(|| {
            let raw = tripgate::RawPermit::from_words(black_box(words));
            black_box(&untimed).record_raw(raw, Outcome::Success, None)
        })
    });

    let filled = filled_breaker(10_000);
    assert!(filled.snapshot().latency.is_some());
    g.bench_function("snapshot_percentiles", |b| {
        b.iter(|| black_box(black_box(&filled).snapshot()))
    });
    g.finish();
}

/// Admission checks per iteration of the admission benches (see `s6_tripgate_parts`).
const ADMISSIONS: u32 = 100;

/// Makes `ADMISSIONS` admission checks; returns how many admitted.
#[inline(always)]
fn admissions(admit: impl Fn() -> bool) -> u32 {
    let mut n = 0;
    for _ in 0..ADMISSIONS {
        n += admit() as u32;
    }
    n
}

/// A latency-tracking breaker on a manual clock (so its window never empties while the
/// bench runs) holding `calls` successes with latencies spread over 1 us .. 100 ms.
fn filled_breaker(calls: u64) -> Breaker<ManualClock> {
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(1));
    let b = Breaker::with_clock(tripgate_config(true), clock.clone()).unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..calls {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let exp = 10 + (x % 17); // 1 us .. 131 ms, log-spread
        let lat = (1u64 << exp) + x % (1u64 << exp);
        b.try_acquire()
            .unwrap()
            .record(Outcome::Success, Duration::from_nanos(lat));
        if i % 1000 == 0 {
            clock.advance(Duration::from_millis(1));
        }
    }
    b
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = s1_closed_success, s2_closed_1pct_failures, s3_open_reject,
        s4_half_open_churn, s5_two_threads, s6_tripgate_parts, s7_scaling
}
criterion_main!(benches);
