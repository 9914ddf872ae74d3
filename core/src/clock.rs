//! Time sources.
//!
//! Every deadline inside the engine is a monotonic count of nanoseconds from a
//! [`Clock`]. Wall time is used only for reporting (events, snapshots).
//!
//! A clock offers two monotonic readings on one time base:
//! - [`Clock::now_nanos`], precise, used to measure call latency;
//! - [`Clock::coarse_nanos`], possibly coarse (a few milliseconds) but cheaper,
//!   used to pick a window bucket and to check open and lease deadlines.
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

use crate::sync::{Arc, AtomicBool, AtomicU64, Ordering};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
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

/// The machine's monotonic clock, read through the CPU's time-stamp counter.
///
/// A precise read costs about 8 ns (an `rdtsc` and a multiply) where the operating
/// system's monotonic clock costs about 23 ns on the machines we measured (see
/// BENCHMARKS.md). The counter is calibrated against the OS clock once per process (by
/// [`quanta`], 10 to 20 ms, bounded at 200 ms); where the CPU has no invariant counter,
/// the OS clock is used instead.
///
/// The coarse read is a cached clock: while an upkeep thread runs (see
/// [`SystemClock::start_upkeep`]) it is one load of a time that thread refreshes, about
/// 1 ns, normally at most one upkeep interval late (later if the machine starves that
/// thread of CPU). Without one it is the precise read. The
/// engine never starts a thread itself; a service starts one upkeep thread for all its
/// breakers.
#[derive(Debug, Clone)]
pub struct SystemClock {
    counter: quanta::Clock,
    origin: quanta::Instant,
    origin_wall: SystemTime,
}

/// Keeps [`SystemClock`]'s cached time fresh while it lives; dropping it stops the
/// thread, and coarse reads go back to precise reads.
#[derive(Debug)]
pub struct UpkeepHandle {
    inner: Option<quanta::Handle>,
}

impl Drop for UpkeepHandle {
    fn drop(&mut self) {
        // Join the thread, then clear the cached time: a frozen value must not be read
        // as the current time.
        drop(self.inner.take());
        let (zero, _) = quanta::Clock::mock();
        quanta::set_recent(zero.now());
    }
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        let counter = quanta::Clock::new();
        SystemClock {
            origin: counter.now(),
            counter,
            origin_wall: SystemTime::now(),
        }
    }

    /// Starts the thread that refreshes the cached time every `interval` (1 ms is a good
    /// choice), making [`Clock::coarse_nanos`] a single load. One per process: a second
    /// call while the first handle lives fails.
    pub fn start_upkeep(interval: Duration) -> std::io::Result<UpkeepHandle> {
        quanta::Upkeep::new(interval)
            .start()
            .map(|h| UpkeepHandle { inner: Some(h) })
            .map_err(|e| std::io::Error::other(e.to_string()))
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
        nanos_since(self.counter.now(), self.origin)
    }

    #[inline]
    fn coarse_nanos(&self) -> u64 {
        // Zero until an upkeep thread has published a time.
        match nanos_since(self.counter.recent(), self.origin) {
            0 => self.now_nanos(),
            n => n,
        }
    }

    fn wall_time(&self, nanos: u64) -> SystemTime {
        self.origin_wall + Duration::from_nanos(nanos)
    }
}

#[inline]
fn nanos_since(t: quanta::Instant, origin: quanta::Instant) -> u64 {
    let d = t.saturating_duration_since(origin);
    d.as_secs() * 1_000_000_000 + d.subsec_nanos() as u64
}

/// A clock that moves only when told to: for tests and simulations.
///
/// Clones share the same time, so a test keeps one handle and gives another to the
/// breaker.
///
/// It is also a [`Timer`](crate::Timer): its sleeps end when the clock is moved past
/// them ([`advance`](ManualClock::advance) and [`set_nanos`](ManualClock::set_nanos)
/// wake the tasks waiting on them), so async calls with a `call_timeout` are tested
/// without a runtime's timer and without sleeping.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Debug)]
struct ManualInner {
    nanos: AtomicU64,
    /// Whether `sleepers` may hold a sleep: moving the clock looks at the list only
    /// then.
    has_sleepers: AtomicBool,
    /// The sleeps waiting for the clock to reach their end.
    sleepers: parking_lot::Mutex<Sleepers>,
}

impl Default for ManualInner {
    fn default() -> Self {
        ManualInner {
            nanos: AtomicU64::new(0),
            has_sleepers: AtomicBool::new(false),
            sleepers: parking_lot::Mutex::new(Sleepers::default()),
        }
    }
}

/// The sleeps registered with a [`ManualClock`], each once, under the id it was given
/// when first polled: a sleep polled again replaces its waker, and a sleep dropped
/// before its end takes itself out (its task is not kept alive, nor woken, by a clock
/// that reaches the end later).
#[derive(Debug, Default)]
struct Sleepers {
    next_id: u64,
    /// `(id, until, waker)`.
    list: Vec<(u64, u64, Waker)>,
}

impl ManualClock {
    /// A clock reading zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.advance_nanos(by);
    }

    /// Moves the clock forward by `nanos` nanoseconds.
    pub fn advance_nanos(&self, nanos: u64) {
        // ordering: SeqCst, paired with `ManualSleep::poll`: either this move sees a
        // sleeper registered, or the sleeper sees the moved time (a store-load pair).
        self.inner.nanos.fetch_add(nanos, Ordering::SeqCst);
        self.wake_due();
    }

    /// Sets the clock to `nanos`; a value behind the current time is ignored, so the
    /// clock stays monotonic.
    pub fn set_nanos(&self, nanos: u64) {
        // ordering: SeqCst, as in `advance_nanos`.
        self.inner.nanos.fetch_max(nanos, Ordering::SeqCst);
        self.wake_due();
    }

    /// Wakes the sleeps the clock has reached.
    #[inline]
    fn wake_due(&self) {
        // ordering: SeqCst, see `advance_nanos`.
        if !self.inner.has_sleepers.load(Ordering::SeqCst) {
            return;
        }
        let mut due = Vec::new();
        {
            let mut sleepers = self.inner.sleepers.lock();
            // ordering: SeqCst, the pair's order kept; the latest time, which includes
            // this thread's own move, decides which sleeps are due.
            let now = self.inner.nanos.load(Ordering::SeqCst);
            sleepers.list.retain(|(_, until, waker)| {
                let waiting = *until > now;
                if !waiting {
                    due.push(waker.clone());
                }
                waiting
            });
            // ordering: SeqCst, see `advance_nanos`; lowered only under the lock, which
            // every registration holds while it raises the flag.
            self.inner
                .has_sleepers
                .store(!sleepers.list.is_empty(), Ordering::SeqCst);
        }
        // Outside the lock: a woken task may poll (and register) at once.
        for waker in due {
            waker.wake();
        }
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        // ordering: Relaxed, the clock is a value, not a synchronisation point.
        self.inner.nanos.load(Ordering::Relaxed)
    }

    fn wall_time(&self, nanos: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos)
    }
}

impl crate::timer::Timer for ManualClock {
    type Sleep = ManualSleep;

    fn sleep(&self, duration: Duration) -> ManualSleep {
        let d = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        ManualSleep {
            clock: self.clone(),
            until: self.now_nanos().saturating_add(d),
            id: None,
        }
    }
}

/// A sleep on a [`ManualClock`]: completes once the clock reads its end or later.
/// Dropped before then, it is forgotten by the clock.
#[derive(Debug)]
#[must_use = "a sleep does nothing unless awaited"]
pub struct ManualSleep {
    clock: ManualClock,
    until: u64,
    /// The id under which the clock keeps this sleep's waker, once polled.
    id: Option<u64>,
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let inner = &this.clock.inner;
        // ordering: Relaxed, a first look; the decisive read is the SeqCst one below.
        if inner.nanos.load(Ordering::Relaxed) >= this.until {
            return Poll::Ready(());
        }
        let mut sleepers = inner.sleepers.lock();
        // ordering: SeqCst, see `ManualClock::advance_nanos`: the flag is raised before
        // the time is read again.
        inner.has_sleepers.store(true, Ordering::SeqCst);
        if inner.nanos.load(Ordering::SeqCst) >= this.until {
            return Poll::Ready(());
        }
        let registered = this
            .id
            .and_then(|id| sleepers.list.iter_mut().find(|(i, _, _)| *i == id));
        match registered {
            Some((_, _, waker)) => {
                if !waker.will_wake(cx.waker()) {
                    waker.clone_from(cx.waker());
                }
            }
            None => {
                let id = sleepers.next_id;
                sleepers.next_id += 1;
                sleepers.list.push((id, this.until, cx.waker().clone()));
                this.id = Some(id);
            }
        }
        Poll::Pending
    }
}

impl Drop for ManualSleep {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let inner = &self.clock.inner;
        let mut sleepers = inner.sleepers.lock();
        if let Some(i) = sleepers.list.iter().position(|(i, _, _)| *i == id) {
            sleepers.list.swap_remove(i);
            // ordering: SeqCst, as in `ManualClock::wake_due` (under the lock).
            inner
                .has_sleepers
                .store(!sleepers.list.is_empty(), Ordering::SeqCst);
        }
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
    fn system_clock_is_monotonic_and_follows_the_os_clock() {
        let c = SystemClock::new();
        let os = std::time::Instant::now();
        let a = c.now_nanos();
        let b = c.now_nanos();
        assert!(b >= a);
        std::thread::sleep(Duration::from_millis(20));
        let ours = c.now_nanos() - a;
        let theirs = os.elapsed().as_nanos() as u64;
        // Calibrated against the OS clock: within 5% over 20 ms.
        assert!(ours.abs_diff(theirs) < theirs / 20, "{ours} vs {theirs}");
    }

    #[test]
    fn the_cached_clock_follows_the_upkeep_thread_and_stops_with_it() {
        let c = SystemClock::new();
        if let Ok(handle) = SystemClock::start_upkeep(Duration::from_millis(1)) {
            std::thread::sleep(Duration::from_millis(5));
            let cached = c.coarse_nanos();
            assert!(cached > 0 && cached <= c.now_nanos());
            drop(handle);
            std::thread::sleep(Duration::from_millis(5));
            // Stopped: coarse reads are precise reads again, not a frozen time.
            let before = c.coarse_nanos();
            std::thread::sleep(Duration::from_millis(2));
            assert!(c.coarse_nanos() >= before + 1_000_000);
        }
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
