//! Runs one scenario for N iterations, for `benches/icount.sh` to count instructions
//! under `valgrind --tool=callgrind`: the script runs N and 2N and divides the
//! difference by N, so setup and teardown cancel out.
//!
//! Usage: `icount <scenario> <contender> <iterations>` with scenario `closed`
//! (scenario 1: acquire + record success), `open` (scenario 3: rejection), `churn`
//! (scenario 4: one trip-and-recover cycle per iteration) or `admit` (tripgate's
//! admission alone, `closed` or `open` contender), and contender one of
//! `tripgate`, `tripgate_latency`, `tripgate_call_listener`, `tripgate_count`, `tripgate_count_latency`,
//! `tripgate_fleet`, `atomic_floor`, `failsafe`, `recloser`, `tower_resilience`, `seatbelt`.
//!
//! `tripgate_fleet` is `tripgate` attached to a running fleet (`tripgate-fleet`), its
//! store at `TG_TEST_REDIS_URL` or, unset, at an address where nothing listens.

use std::hint::black_box;
use std::time::Duration;

#[path = "../common/mod.rs"]
mod common;

use common::*;

/// Warm-up calls before the measured ones (the same in both runs, so they cancel).
const WARMUP: u64 = 1000;

#[inline(never)]
fn run<T: Contender>(mut c: T, open: bool, iters: u64) {
    if open {
        trip(&mut c);
    }
    for _ in 0..WARMUP {
        black_box(c.call(black_box(false)));
    }
    let start = std::time::Instant::now();
    measured_calls(&mut c, iters);
    // The measured loop's wall time per call, setup and teardown excluded (read by
    // fleet/bench.sh; icount.sh counts instructions and ignores it).
    println!("{:.2}", start.elapsed().as_nanos() as f64 / iters as f64);
    let expect = if open {
        Called::Rejected
    } else {
        Called::Admitted
    };
    assert_eq!(c.call(false), expect);
}

/// The measured loop: icount.sh collects instructions only inside the `measured_*`
/// functions (`--toggle-collect`), so one-time work (clock calibration, lazy
/// statics) in setup and warm-up is never counted.
#[inline(never)]
fn measured_calls<T: Contender>(c: &mut T, iters: u64) {
    for _ in 0..iters {
        black_box(c.call(black_box(false)));
    }
}

#[inline(never)]
fn measured_admit(breaker: &tripgate::Breaker, iters: u64) {
    for _ in 0..iters {
        black_box(black_box(breaker).acquire_raw().is_ok());
    }
}

fn admit(breaker: &tripgate::Breaker, iters: u64) {
    measured_admit(breaker, WARMUP);
    measured_admit(breaker, iters);
}

#[inline(never)]
fn measured_cycles<T: Churn>(c: &mut T, iters: u64) {
    for _ in 0..iters {
        black_box(c.cycle());
    }
}

fn churn<T: Churn>(mut c: T, iters: u64) {
    for _ in 0..10 {
        black_box(c.cycle());
    }
    measured_cycles(&mut c, iters);
}

/// Scenario 1's breaker attached to a running fleet: its store at
/// `TG_TEST_REDIS_URL`, or, unset, an address where nothing listens (the fleet
/// then runs on local state and reconnects in the background). Either way a call must
/// cost what it costs with no fleet: the fleet works on its own threads.
fn fleet_attached() -> (Tripgate, tripgate_fleet::Fleet) {
    let url =
        std::env::var("TG_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:1/0".to_string());
    let replica = format!("icount-{}", std::process::id());
    let config = tripgate_fleet::FleetConfig::new("benches", "icount", replica, url);
    let fleet = tripgate_fleet::Fleet::start(config).expect("fleet config");
    let t = Tripgate::new(false);
    fleet.attach("scenario", t.0.clone()).expect("attach");
    // One round, so the breaker is attached (its listener registered) before the
    // measured calls; with no store the round ends at the refused connection.
    fleet.sync(Duration::from_secs(2));
    (t, fleet)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: icount <closed|open|churn|admit> <contender> <iterations>");
        std::process::exit(2);
    }
    let iters: u64 = args[3].parse().expect("iterations");
    let open = match args[1].as_str() {
        "closed" => false,
        "open" => true,
        "churn" => {
            match args[2].as_str() {
                "tripgate" => churn(TripgateChurn::new(), iters),
                "failsafe" => {
                    failsafe::clock::freeze(|clock| churn(FailsafeChurn::new(clock), iters))
                }
                "recloser" => churn(RecloserChurn(Recloser::with_wait(Duration::ZERO)), iters),
                "tower_resilience" => churn(TowerChurn(Tower::with_wait(Duration::ZERO)), iters),
                "seatbelt" => churn(seatbelt_churn(), iters),
                other => panic!("unknown churn contender {other}"),
            }
            return;
        }
        "admit" => {
            let mut t = Tripgate::new(false);
            match args[2].as_str() {
                "closed" => {}
                "open" => {
                    trip(&mut t);
                }
                other => panic!("admit takes closed or open, not {other}"),
            }
            admit(&t.0, iters);
            return;
        }
        other => panic!("unknown scenario {other}"),
    };
    match args[2].as_str() {
        "tripgate" => run(Tripgate::new(false), open, iters),
        "tripgate_latency" => run(Tripgate::new(true), open, iters),
        "tripgate_call_listener" => run(Tripgate::with_call_listener(), open, iters),
        "tripgate_fleet" => {
            let (t, fleet) = fleet_attached();
            run(t, open, iters);
            fleet.stop();
        }
        "tripgate_count" => run(Tripgate::count(false), open, iters),
        "tripgate_count_latency" => run(Tripgate::count(true), open, iters),
        "atomic_floor" => run(AtomicFloor::new(open), open, iters),
        "failsafe" if open => run(Failsafe::consecutive(), open, iters),
        "failsafe" => run(Failsafe::new(), open, iters),
        "recloser" => run(Recloser::new(), open, iters),
        "tower_resilience" => run(Tower::new(), open, iters),
        "seatbelt" => run(seatbelt(&system_tick_clock()), open, iters),
        other => panic!("unknown contender {other}"),
    }
}
