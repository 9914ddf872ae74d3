//! The process's cached clock, kept fresh for as long as a registry on the system clock
//! lives: one upkeep thread shared by every such registry.
//!
//! A time window must know the time to pick its bucket. On the system clock that is a
//! precise read per record (the TSC, about 10 ns) unless a thread refreshes a cached
//! time, which makes the read one load ([`SystemClock::start_upkeep`]). The core
//! crate starts no thread; a registry is the service's long-lived owner of its
//! breakers, so it holds a [`Lease`] on one such thread: the first lease starts it, the
//! last one given back stops it. Where the process already runs one of its own (a
//! handle from `start_upkeep`), leases start none and the breakers use that one.

use std::sync::Mutex;
use std::time::Duration;
use tripgate::{SystemClock, UpkeepHandle};

/// How often the cached time is refreshed: coarse reads lag by about this much at most
/// (more if the machine starves the thread), well under a window's bucket (10 ms at
/// least) and the millisecond precision documented for open durations.
pub(crate) const INTERVAL: Duration = Duration::from_millis(1);

static SHARED: Mutex<Leases<UpkeepHandle>> = Mutex::new(Leases::new());

/// A share in the process's upkeep thread, held by a [`Registry`](crate::Registry)
/// on the system clock. The thread runs while at least one lease lives.
#[derive(Debug)]
pub(crate) struct Lease(());

impl Lease {
    /// Takes a lease, starting the thread if none of ours runs.
    pub(crate) fn take() -> Lease {
        lock().take(|| SystemClock::start_upkeep(INTERVAL).ok());
        Lease(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Dropped (the thread stopped and joined, about one interval) under the lock: a
        // lease taken meanwhile waits, then starts a new thread, where it would find
        // the old one still running, start none, and be left with precise reads.
        let mut leases = lock();
        drop(leases.give_back());
    }
}

fn lock() -> std::sync::MutexGuard<'static, Leases<UpkeepHandle>> {
    // A panic under this lock leaves a count and an option, both whole.
    SHARED.lock().unwrap_or_else(|e| e.into_inner())
}

/// The count of leases and the thread's handle, if ours runs.
#[derive(Debug)]
struct Leases<H> {
    count: usize,
    handle: Option<H>,
}

impl<H> Leases<H> {
    const fn new() -> Self {
        Leases {
            count: 0,
            handle: None,
        }
    }

    /// One more lease; starts the thread by `start` unless ours runs (`start` gives
    /// `None` when it cannot, e.g. the process runs its own).
    fn take(&mut self, start: impl FnOnce() -> Option<H>) {
        self.count += 1;
        if self.handle.is_none() {
            self.handle = start();
        }
    }

    /// One lease fewer; the handle to drop (stopping the thread) after the last.
    fn give_back(&mut self) -> Option<H> {
        self.count = self.count.saturating_sub(1);
        if self.count == 0 {
            self.handle.take()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_lease_starts_the_thread_and_the_last_one_stops_it() {
        let mut leases = Leases::new();
        let mut starts = 0;
        leases.take(|| {
            starts += 1;
            Some("thread")
        });
        leases.take(|| {
            starts += 1;
            Some("another")
        });
        assert_eq!(starts, 1, "one thread for both");
        assert_eq!(leases.give_back(), None, "one lease still holds it");
        assert_eq!(leases.give_back(), Some("thread"), "the last stops it");
        // When the process runs its own, a lease starts none, and tries again later.
        leases.take(|| None);
        assert_eq!(leases.give_back(), None);
        leases.take(|| Some("again"));
        assert_eq!(leases.give_back(), Some("again"));
    }

    #[test]
    fn a_registry_on_the_system_clock_keeps_the_cached_clock_running_while_it_lives() {
        let registry = crate::Registry::new();
        // One upkeep thread per process: a second cannot start while the registry's runs.
        assert!(SystemClock::start_upkeep(INTERVAL).is_err());
        drop(registry);
    }
}
