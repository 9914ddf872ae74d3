//! Prints a sample Prometheus exposition of a registry whose breakers are in every
//! interesting state (closed with latency, open, half-open, forced open, no latency
//! tracking, a name that needs escaping). Deterministic: a manual clock.
//!
//! `cargo run -p tripgate-ops --example exposition` — `ops/tests/check_exposition.sh`
//! feeds its output to real parsers.

use std::time::Duration;
use tripgate::{Config, FailureKind, ManualClock, Outcome};
use tripgate_ops::{exposition, Registry};

fn main() {
    let r = Registry::with_clock(ManualClock::new());
    let cfg = Config::builder()
        .count_window(100)
        .consecutive_failures(3)
        .seed(7)
        .build()
        .expect("valid");
    let db = r.get_or_create("database", &cfg).expect("valid");
    for ms in [3u64, 5, 8, 13, 21, 34, 55, 89] {
        db.try_acquire()
            .expect("closed")
            .record(Outcome::Success, Duration::from_millis(ms));
    }
    db.try_acquire()
        .expect("closed")
        .failure(FailureKind::Timeout);
    db.try_acquire().expect("closed").ignore();
    r.set_critical("database", true);

    let api = r.get_or_create("external_api", &cfg).expect("valid");
    for kind in [
        FailureKind::Connection,
        FailureKind::ServerError,
        FailureKind::Timeout,
    ] {
        api.try_acquire().expect("closed").failure(kind);
    }
    let _ = api.try_acquire();

    let cache = r.get_or_create("cache", &cfg).expect("valid");
    for _ in 0..3 {
        cache
            .try_acquire()
            .expect("closed")
            .failure(FailureKind::Other);
    }
    r.clock().advance(Duration::from_secs(31));
    let probe = cache.try_acquire().expect("probe");
    let _in_flight = probe.into_raw();

    let off = r
        .get_or_create(
            "search \"v2\"\\beta",
            &cfg.to_builder()
                .track_latency(false)
                .build()
                .expect("valid"),
        )
        .expect("valid");
    off.force_open();
    print!("{}", exposition::render(&r));
}
