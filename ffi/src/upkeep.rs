//! The system clock's upkeep thread for the C library: each breaker (`tg_breaker_new`)
//! and registry on the system clock holds a share in it (the ops crate's
//! `upkeep::Lease`), so that while they live a time window picks its bucket by one load
//! of a cached time. A handle to a registry's breaker takes none: looked up per call,
//! it would cost a lock; the registry holds one (a handle that outlives its registry
//! reads the precise clock once no share is left).
//!
//! A fork's child inherits no thread, only the last cached time: a `pthread_atfork`
//! child handler clears it (coarse reads become precise reads), and the child's next
//! share restarts the thread. Where the handler cannot be registered, no share is
//! taken: breakers read the precise clock, rather than risk a frozen time after a fork.

use std::sync::OnceLock;
use tg_core::{AnyClock, SystemClock};
use tripgate_ops::upkeep::Lease;

/// A share in the upkeep thread for a breaker or registry on `clock`; none on a manual
/// clock.
pub(crate) fn lease_for(clock: &AnyClock) -> Option<Lease> {
    match clock {
        AnyClock::System(_) if fork_hook_registered() => Some(Lease::take()),
        _ => None,
    }
}

/// Registers the fork hook once per process; whether it is in place.
fn fork_hook_registered() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| crate::raw::at_fork_in_child(after_fork_in_child))
}

/// Run by `fork()` in the child: two atomic stores, async-signal-safe as a handler in a
/// threaded process's child must be.
extern "C" fn after_fork_in_child() {
    SystemClock::after_fork_in_child();
}
