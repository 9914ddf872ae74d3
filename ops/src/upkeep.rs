//! The process's cached clock, kept fresh for as long as something that owns breakers
//! on the system clock lives: one upkeep thread shared by every such owner.
//!
//! A time window must know the time to pick its bucket. On the system clock that is a
//! precise read per record (the TSC, about 10 ns) unless a thread refreshes a cached
//! time, which makes the read one load ([`SystemClock::start_upkeep`]). The core
//! crate starts no thread; the long-lived owners of breakers hold a [`Lease`] on one
//! such thread: a [`Registry`](crate::Registry) on the system clock, and in the
//! bindings every breaker and registry on it. The first lease starts the thread, the
//! last one given back stops it. Where the process already runs one of its own (a
//! handle from `start_upkeep`), leases start none and the breakers use that one.
//!
//! A forked child has no upkeep thread, only the parent's last cached time: call
//! [`after_fork_in_child`] in the child. The Python module does from
//! `os.register_at_fork`, the C library clears the cached time from `pthread_atfork`
//! (its next lease restarts the thread).
//!
//! ```
//! use tripgate::{Clock, SystemClock};
//! use tripgate_ops::upkeep;
//!
//! let lease = upkeep::Lease::take();
//! let clock = SystemClock::new();
//! assert!(clock.coarse_nanos() <= clock.now_nanos());
//! drop(lease); // the last lease: the thread stops
//! ```

use std::sync::{Mutex, TryLockError};
use std::time::Duration;
use tripgate::{SystemClock, UpkeepHandle};

/// How often the cached time is refreshed: coarse reads lag by about this much at most
/// (more if the machine starves the thread), well under a window's bucket (10 ms at
/// least) and the millisecond precision documented for open durations.
pub(crate) const INTERVAL: Duration = Duration::from_millis(1);

static SHARED: Mutex<Leases<UpkeepHandle>> = Mutex::new(Leases::new());

/// A share in the process's upkeep thread. The thread runs while at least one lease
/// lives.
#[derive(Debug)]
pub struct Lease(());

impl Lease {
    /// Takes a lease, starting the thread if none of ours runs (or ours stayed in the
    /// parent of a fork).
    pub fn take() -> Lease {
        let mut leases = lock();
        leases.count += 1;
        leases.keep_running(UpkeepHandle::is_running, start);
        Lease(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Dropped (the thread stopped and joined) under the lock: a lease taken
        // meanwhile waits, then starts a new thread, where it would find the old one
        // still running, start none, and be left with precise reads.
        let mut leases = lock();
        drop(leases.give_back());
    }
}

/// To call in a fork's child (before it makes breakers, or right after the fork): the
/// cached time, frozen since the upkeep thread stayed in the parent, is cleared, and
/// the thread restarted if leases live. If the fork caught another thread taking or
/// giving back a lease, the restart is left out: coarse reads are then precise reads.
pub fn after_fork_in_child() {
    SystemClock::after_fork_in_child();
    let mut leases = match SHARED.try_lock() {
        Ok(leases) => leases,
        Err(TryLockError::Poisoned(e)) => e.into_inner(),
        // Held by a thread that did not come along: it is never released.
        Err(TryLockError::WouldBlock) => return,
    };
    leases.keep_running(UpkeepHandle::is_running, start);
}

fn start() -> Option<UpkeepHandle> {
    SystemClock::start_upkeep(INTERVAL).ok()
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

    /// While leases live, makes sure ours runs: a handle whose thread is not
    /// `running` (left in a fork's parent) is replaced by one from `start` (`None`
    /// when it cannot, e.g. the process runs its own).
    fn keep_running(&mut self, running: impl Fn(&H) -> bool, start: impl FnOnce() -> Option<H>) {
        if self.count == 0 || self.handle.as_ref().is_some_and(running) {
            return;
        }
        drop(self.handle.take());
        self.handle = start();
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

    /// One more lease, counted and kept running as `Lease::take` does, with a given
    /// start.
    fn take<H>(leases: &mut Leases<(H, bool)>, start: impl FnOnce() -> Option<(H, bool)>) {
        leases.count += 1;
        leases.keep_running(|(_, running)| *running, start);
    }

    #[test]
    fn the_first_lease_starts_the_thread_and_the_last_one_stops_it() {
        let mut leases = Leases::new();
        let mut starts = 0;
        take(&mut leases, || {
            starts += 1;
            Some(("thread", true))
        });
        take(&mut leases, || {
            starts += 1;
            Some(("another", true))
        });
        assert_eq!(starts, 1, "one thread for both");
        assert_eq!(leases.give_back(), None, "one lease still holds it");
        assert_eq!(
            leases.give_back(),
            Some(("thread", true)),
            "the last stops it"
        );
        // When the process runs its own, a lease starts none, and tries again later.
        take(&mut leases, || None);
        assert_eq!(leases.give_back(), None);
        take(&mut leases, || Some(("again", true)));
        assert_eq!(leases.give_back(), Some(("again", true)));
    }

    #[test]
    fn a_thread_left_in_a_forks_parent_is_replaced_while_leases_live() {
        let mut leases = Leases::new();
        take(&mut leases, || Some(("parent's", true)));
        // The fork: the handle's thread is not in this process.
        leases.handle.as_mut().unwrap().1 = false;
        leases.keep_running(|(_, running)| *running, || Some(("child's", true)));
        assert_eq!(leases.handle, Some(("child's", true)));
        // With no lease left, nothing starts.
        assert_eq!(leases.give_back(), Some(("child's", true)));
        leases.keep_running(|(_, running)| *running, || Some(("unwanted", true)));
        assert_eq!(leases.handle, None);
    }

    #[test]
    fn a_registry_on_the_system_clock_keeps_the_cached_clock_running_while_it_lives() {
        let registry = crate::Registry::new();
        // One upkeep thread per process: a second cannot start while the registry's runs.
        assert!(SystemClock::start_upkeep(INTERVAL).is_err());
        drop(registry);
    }
}
