//! Store operations per replica per second at steady state: one replica with 1 and
//! with 10 attached breakers, idle, at 1 000 calls a second and as fast as one thread
//! can call, five seconds each after two of warm-up. The figure is the Redis server's
//! own count of the commands it processed (`INFO stats`, `total_commands_processed`),
//! less this program's own first `INFO`; it should depend on the heartbeat and the
//! number of breakers, not on the call rate.
//!
//! Usage: `fleet/bench.sh` (starts a private Redis on 127.0.0.1), or with a Redis of
//! your own: `TG_TEST_REDIS_URL=redis://127.0.0.1:6379/0 cargo run --release -p
//! tripgate-fleet --example store_load`. Prints a tab-separated table.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tripgate::{Breaker, Config};
use tripgate_fleet::{Fleet, FleetConfig};

/// How long each case is measured, after `WARM_UP`.
const MEASURED: Duration = Duration::from_secs(5);
/// Lets the fleet's first rounds (attachments, first publications) pass.
const WARM_UP: Duration = Duration::from_secs(2);

/// Commands the server has processed so far (before the `INFO` that reads it).
fn commands_processed(con: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query(con)
        .expect("INFO stats");
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("total_commands_processed in INFO stats")
}

/// How fast the replica calls through its breakers.
#[derive(Clone, Copy)]
enum Rate {
    /// No calls at all.
    Idle,
    /// About this many calls a second, over all breakers.
    PerSecond(u64),
    /// As fast as one thread can.
    Flat,
}

impl Rate {
    fn name(self) -> String {
        match self {
            Rate::Idle => "idle".to_string(),
            Rate::PerSecond(n) => format!("{n}/s"),
            Rate::Flat => "flat out".to_string(),
        }
    }
}

/// Calls made and store commands counted, per second, for one replica with
/// `breakers` breakers at `rate`.
fn measure(url: &str, con: &mut redis::Connection, breakers: usize, rate: Rate) -> (f64, f64) {
    let environment = format!("load-{breakers}-{}", rate.name().replace(['/', ' '], "-"));
    let config = FleetConfig::new("benches", environment, "replica-1", url);
    let heartbeat = config.heartbeat;
    let fleet = Fleet::start(config).expect("fleet config");
    let attached: Vec<Arc<Breaker>> = (0..breakers)
        .map(|i| {
            let breaker = Arc::new(Breaker::new(Config::default()).expect("breaker"));
            fleet
                .attach(&format!("dependency-{i}"), breaker.clone())
                .expect("attach");
            breaker
        })
        .collect();
    assert!(fleet.sync(Duration::from_secs(5)), "the store answers");
    std::thread::sleep(WARM_UP.max(2 * heartbeat));

    let before = commands_processed(con);
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < MEASURED {
        match rate {
            Rate::Idle => std::thread::sleep(Duration::from_millis(50)),
            Rate::PerSecond(n) => {
                let due = (start.elapsed().as_secs_f64() * n as f64) as u64;
                if calls >= due {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
            }
            Rate::Flat => {}
        }
        if !matches!(rate, Rate::Idle) {
            for breaker in &attached {
                breaker.try_acquire().expect("closed").success();
                calls += 1;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let after = commands_processed(con);
    fleet.stop();
    // Less the first INFO (the server counts a command once it has run, so the second
    // is not in its own reading).
    let commands = after.saturating_sub(before + 1);
    (calls as f64 / elapsed, commands as f64 / elapsed)
}

fn main() {
    let url = std::env::var("TG_TEST_REDIS_URL")
        .expect("TG_TEST_REDIS_URL (fleet/bench.sh starts a Redis and sets it)");
    let mut con = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection())
        .expect("connect to the store");
    println!("breakers\trate\tcalls_per_second\tstore_commands_per_second");
    for breakers in [1, 10] {
        for rate in [Rate::Idle, Rate::PerSecond(1_000), Rate::Flat] {
            let (calls, commands) = measure(&url, &mut con, breakers, rate);
            println!("{breakers}\t{}\t{calls:.0}\t{commands:.1}", rate.name());
        }
    }
}
