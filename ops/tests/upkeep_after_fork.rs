//! The process's upkeep thread after a fork, as the bindings' fork hooks drive it. Its
//! own test binary: clearing the cached time is process-wide, and the library's unit
//! tests hold leases of their own in parallel.
//!
//! A fork is stood for by what it leaves: `SystemClock::after_fork_in_child` clears
//! what the parent's thread owned, and the handle still held no longer runs. (The
//! Python and C suites fork for real.)

use std::time::Duration;
use tripgate::SystemClock;
use tripgate_ops::upkeep;

const INTERVAL: Duration = Duration::from_millis(1);

fn one_runs() -> bool {
    SystemClock::start_upkeep(INTERVAL).is_err()
}

#[test]
fn leases_restart_the_thread_after_a_fork_and_the_last_one_stops_it() {
    assert!(!one_runs());
    let lease = upkeep::Lease::take();
    assert!(one_runs());

    // The Python module's hook: clears, and restarts at once while leases live.
    upkeep::after_fork_in_child();
    assert!(one_runs(), "restarted by the hook");

    // The C library's hook only clears: the next lease restarts.
    SystemClock::after_fork_in_child();
    assert!(!one_runs(), "cleared");
    // (That check's own thread, stopped again: none runs.)
    let second = upkeep::Lease::take();
    assert!(one_runs(), "restarted by the next lease");

    drop(lease);
    assert!(one_runs(), "one lease still holds it");
    drop(second);
    assert!(!one_runs(), "the last lease stopped it");
}
