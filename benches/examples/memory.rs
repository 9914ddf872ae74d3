//! Measures the heap a breaker takes, with a counting global allocator: the live bytes
//! after building a boxed breaker (the box holds the breaker itself, so its inline
//! size is counted too) and after 10 000 calls, minus the live bytes before.
//! tripgate's own estimate, `Breaker::memory_bytes()`, is printed beside it.
//!
//! Prints one JSON object per line: `{"contender": .., "measured": .., "after_calls":
//! .., "reported": ..}`; `benches/report.py` reads them from `memory.jsonl`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

#[path = "../common/mod.rs"]
mod common;

use common::*;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to the system allocator unchanged and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` came from this allocator with layout `l`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` came from this allocator with layout `l`.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Builds a contender in a box, measures, runs 10 000 calls (1 % failures), measures
/// again; keeps the box alive until both readings are taken.
fn measure<T: Contender>(
    name: &str,
    make: impl FnOnce() -> T,
    reported: impl Fn(&T) -> Option<usize>,
) {
    let before = live();
    let mut c = Box::new(make());
    let built = live() - before;
    for i in 0..10_000 {
        c.call(one_percent(i));
    }
    let after = live() - before;
    let rep = reported(&c).map_or("null".to_string(), |r| r.to_string());
    println!(
        r#"{{"contender": "{name}", "measured": {built}, "after_calls": {after}, "reported": {rep}}}"#
    );
    drop(c);
}

/// How to build one of tripgate's bench configurations.
type MakeTripgate = fn() -> Tripgate;

fn main() {
    // Touch lazily built process-wide state (clock origins, thread-locals) first so it
    // is not charged to the first breaker.
    let mut warm = Tripgate::new(true);
    warm.call(false);
    let clock = system_tick_clock();
    let _ = seatbelt(&clock).call(false);
    let _ = Tower::new().call(false);
    drop(warm);

    // `Tripgate` holds an `Arc<Breaker>`: the Arc's two counters (16 bytes) are
    // counted with the breaker.
    let tripgates: [(&str, MakeTripgate); 4] = [
        ("tripgate", || Tripgate::new(false)),
        ("tripgate_latency", || Tripgate::new(true)),
        ("tripgate_count", || Tripgate::count(false)),
        ("tripgate_count_latency", || Tripgate::count(true)),
    ];
    for (name, make) in tripgates {
        measure(name, make, |t| Some(t.0.memory_bytes()));
    }
    measure("failsafe", Failsafe::new, |_| None);
    measure("recloser", Recloser::new, |_| None);
    measure("tower_resilience", Tower::new, |_| None);
    measure("seatbelt", || seatbelt(&clock), |_| None);
}
