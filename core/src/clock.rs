//! Time sources.
//!
//! Every deadline inside the engine is a monotonic count of nanoseconds from a
//! [`Clock`]. Wall time is used only for reporting (events, snapshots).
//!
//! A clock offers two monotonic readings on one time base:
//! - [`Clock::now_nanos`], precise, used to measure call latency;
//! - [`Clock::coarse_nanos`], possibly coarse (a few milliseconds on Linux) but much
//!   cheaper, used to pick a window bucket and to check open and lease deadlines.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use tripgate::{Clock, ManualClock};
//!
//! let clock = ManualClock::new();
//! clock.advance(Duration::from_millis(1500));
//! assert_eq!(clock.now_nanos(), 1_500_000_000);
//! ```

use crate::sync::{Arc, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// A monotonic time source.
pub trait Clock: Send + Sync + 'static {
    /// Monotonic nanoseconds since an arbitrary origin fixed for the clock's life.
    fn now_nanos(&self) -> u64;

    /// The same time base as [`now_nanos`](Clock::now_nanos), allowed to lag it by a few
    /// milliseconds in exchange for being cheap. Defaults to `now_nanos`.
    #[inline]
    fn coarse_nanos(&self) -> u64 {
        self.now_nanos()
    }

    /// Wall-clock time corresponding to the monotonic reading `nanos`, for reports.
    fn wall_time(&self, nanos: u64) -> SystemTime;
}

/// The operating system's monotonic clock.
///
/// On Linux the coarse reading is `CLOCK_MONOTONIC_COARSE` through the vDSO (about
/// 2 ns, resolution one kernel tick); elsewhere both readings use [`std::time::Instant`].
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin_nanos: u64,
    origin_wall: SystemTime,
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        SystemClock {
            origin_nanos: raw_monotonic(),
            origin_wall: SystemTime::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        raw_monotonic().saturating_sub(self.origin_nanos)
    }

    #[inline]
    fn coarse_nanos(&self) -> u64 {
        raw_coarse().saturating_sub(self.origin_nanos)
    }

    fn wall_time(&self, nanos: u64) -> SystemTime {
        self.origin_wall + Duration::from_nanos(nanos)
    }
}

#[cfg(target_os = "linux")]
#[inline]
fn raw_monotonic() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

#[cfg(target_os = "linux")]
#[inline]
fn raw_coarse() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

#[cfg(not(target_os = "linux"))]
#[inline]
fn raw_monotonic() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    // Offset by one second so that a fresh clock never reads zero.
    Instant::now().duration_since(base).as_nanos() as u64 + 1_000_000_000
}

#[cfg(not(target_os = "linux"))]
#[inline]
fn raw_coarse() -> u64 {
    raw_monotonic()
}

/// A clock that moves only when told to: for tests and simulations.
///
/// Clones share the same time, so a test keeps one handle and gives another to the
/// breaker.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock reading zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // ordering: Relaxed, the clock is a value, not a synchronisation point.
        self.nanos.fetch_add(by, Ordering::Relaxed);
    }

    /// Moves the clock forward by `nanos` nanoseconds.
    pub fn advance_nanos(&self, nanos: u64) {
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Sets the clock to `nanos`; a value behind the current time is ignored, so the
    /// clock stays monotonic.
    pub fn set_nanos(&self, nanos: u64) {
        self.nanos.fetch_max(nanos, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::Relaxed)
    }

    fn wall_time(&self, nanos: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos)
    }
}

/// Either clock, chosen at run time: what the C and Python bindings hold, so that
/// their tests can drive a manual clock through the same breaker type.
#[derive(Debug, Clone)]
pub enum AnyClock {
    /// The operating system's clock.
    System(SystemClock),
    /// A manual clock.
    Manual(ManualClock),
}

impl Default for AnyClock {
    fn default() -> Self {
        AnyClock::System(SystemClock::new())
    }
}

impl Clock for AnyClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        match self {
            AnyClock::System(c) => c.now_nanos(),
            AnyClock::Manual(c) => c.now_nanos(),
        }
    }

    #[inline]
    fn coarse_nanos(&self) -> u64 {
        match self {
            AnyClock::System(c) => c.coarse_nanos(),
            AnyClock::Manual(c) => c.coarse_nanos(),
        }
    }

    fn wall_time(&self, nanos: u64) -> SystemTime {
        match self {
            AnyClock::System(c) => c.wall_time(nanos),
            AnyClock::Manual(c) => c.wall_time(nanos),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_monotonic_and_coarse_stays_close() {
        let c = SystemClock::new();
        let a = c.now_nanos();
        let b = c.now_nanos();
        assert!(b >= a);
        let coarse = c.coarse_nanos();
        // The coarse clock lags by at most a few ticks.
        assert!(coarse <= c.now_nanos() + 1_000_000);
    }

    #[test]
    fn manual_clock_never_goes_back() {
        let c = ManualClock::new();
        c.set_nanos(100);
        c.set_nanos(50);
        assert_eq!(c.now_nanos(), 100);
        let shared = c.clone();
        shared.advance(Duration::from_nanos(5));
        assert_eq!(c.now_nanos(), 105);
    }
}
