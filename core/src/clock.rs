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

use crate::sync::unmodelled::AtomicU64 as AtomicU64Unmodelled;
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
    /// milliseconds (20 at most in normal running) in exchange for being cheap.
    /// Defaults to `now_nanos`.
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
/// the OS clock is used instead. Every `SystemClock` of a process reads the same time
/// base: nanoseconds since the first one was made.
///
/// The coarse read is a cached clock: while an upkeep thread runs (see
/// [`SystemClock::start_upkeep`]) it is one load of a time that thread refreshes, about
/// 1 ns, normally at most one upkeep interval late (later if the machine starves that
/// thread of CPU). Without one it is the precise read. The
/// engine never starts a thread itself; a service starts one upkeep thread for all its
/// breakers.
///
/// A forked child does not inherit the upkeep thread, only its last cached time: call
/// [`SystemClock::after_fork_in_child`] in the child (the Python module and the C
/// library do, from their fork hooks).
#[derive(Debug, Clone)]
pub struct SystemClock {
    counter: quanta::Clock,
    origin: quanta::Instant,
    origin_wall: SystemTime,
}

/// How far behind the precise read a coarse read may be, at most, in normal running:
/// twice the longest upkeep interval [`SystemClock::start_upkeep`] accepts. A
/// deadline that a coarse read says is less than this away is confirmed by a precise
/// read, so a caller who waited out a duration on a precise clock finds it over.
pub(crate) const COARSE_LAG_NANOS: u64 = 2 * MAX_UPKEEP_INTERVAL.as_nanos() as u64;

/// The upkeep intervals [`SystemClock::start_upkeep`] accepts.
const MIN_UPKEEP_INTERVAL: Duration = Duration::from_micros(100);
const MAX_UPKEEP_INTERVAL: Duration = Duration::from_millis(10);

/// The process's cached time, in nanoseconds on the system clock's time base; 0 while
/// no upkeep thread runs (coarse reads are then precise reads). Process-wide, so not a
/// modelled atomic.
static CACHED_NANOS: AtomicU64Unmodelled = AtomicU64Unmodelled::new(0);
/// Which upkeep thread may publish: its id, [`NO_UPKEEP`], or [`STOPPING`] while a
/// handle waits for its thread to end (no other may start until it has).
static UPKEEP: AtomicU64Unmodelled = AtomicU64Unmodelled::new(NO_UPKEEP);
/// Ids for upkeep threads, from 1.
static NEXT_UPKEEP: AtomicU64Unmodelled = AtomicU64Unmodelled::new(1);
const NO_UPKEEP: u64 = 0;
const STOPPING: u64 = u64::MAX;

/// Keeps [`SystemClock`]'s cached time fresh while it lives; dropping it stops the
/// thread, and coarse reads go back to precise reads.
#[derive(Debug)]
pub struct UpkeepHandle {
    id: u64,
    /// The process that started the thread: a fork's child holds a copy of the handle
    /// but not the thread.
    pid: u32,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl UpkeepHandle {
    /// Whether this handle's thread is the one refreshing the cached time: false in a
    /// fork's child (the thread stayed in the parent).
    pub fn is_running(&self) -> bool {
        // ordering: Relaxed, a look at which thread owns the cached time.
        self.pid == std::process::id() && UPKEEP.load(Ordering::Relaxed) == self.id
    }
}

impl Drop for UpkeepHandle {
    fn drop(&mut self) {
        if self.pid != std::process::id() {
            // A fork's child: the thread is the parent's, so there is nothing to join;
            // its time is frozen, unless `after_fork_in_child` already cleared it.
            std::mem::forget(self.thread.take());
            // ordering: Relaxed, as in `after_fork_in_child`.
            if UPKEEP
                .compare_exchange(self.id, NO_UPKEEP, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                CACHED_NANOS.store(0, Ordering::Relaxed);
            }
            return;
        }
        // ordering: Relaxed, the join below is what orders the thread's last store
        // before the clearing store.
        if UPKEEP
            .compare_exchange(self.id, STOPPING, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            // Cleared by `after_fork_in_child` in a process that was not forked.
            return;
        }
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
        // Clear the cached time: a frozen value must not be read as the current time.
        // ordering: Relaxed, a time value; the thread has ended.
        CACHED_NANOS.store(0, Ordering::Relaxed);
        UPKEEP.store(NO_UPKEEP, Ordering::Relaxed);
    }
}

impl SystemClock {
    /// A clock on the process's time base.
    pub fn new() -> Self {
        static BASE: std::sync::OnceLock<SystemClock> = std::sync::OnceLock::new();
        BASE.get_or_init(|| {
            let counter = quanta::Clock::new();
            SystemClock {
                origin: counter.now(),
                counter,
                origin_wall: SystemTime::now(),
            }
        })
        .clone()
    }

    /// Starts the thread that refreshes the cached time every `interval` (between
    /// 100 µs and 10 ms; 1 ms is a good choice), making [`Clock::coarse_nanos`] a
    /// single load. One per process: a second call while the first handle lives fails.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tripgate::{Clock, SystemClock};
    ///
    /// let clock = SystemClock::new();
    /// let upkeep = SystemClock::start_upkeep(Duration::from_millis(1)).unwrap();
    /// assert!(clock.coarse_nanos() <= clock.now_nanos());
    /// assert!(SystemClock::start_upkeep(Duration::from_millis(1)).is_err());
    /// drop(upkeep);
    /// ```
    pub fn start_upkeep(interval: Duration) -> std::io::Result<UpkeepHandle> {
        if !(MIN_UPKEEP_INTERVAL..=MAX_UPKEEP_INTERVAL).contains(&interval) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "interval: {interval:?} is out of range, it must be within \
                     {MIN_UPKEEP_INTERVAL:?}..={MAX_UPKEEP_INTERVAL:?}"
                ),
            ));
        }
        // ordering: Relaxed, ids only need to be distinct.
        let id = NEXT_UPKEEP.fetch_add(1, Ordering::Relaxed);
        // ordering: Relaxed, the slot is claimed by the exchange alone; the cached time
        // is a value, published by itself.
        if UPKEEP
            .compare_exchange(NO_UPKEEP, id, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "an upkeep thread already runs in this process",
            ));
        }
        let clock = SystemClock::new();
        let refresh = move || CACHED_NANOS.store(clock.now_nanos().max(1), Ordering::Relaxed);
        refresh();
        let spawned = std::thread::Builder::new()
            .name("tripgate-upkeep".into())
            .spawn(move || {
                // ordering: Relaxed, the handle's join orders this thread's last store.
                while UPKEEP.load(Ordering::Relaxed) == id {
                    refresh();
                    std::thread::park_timeout(interval);
                }
            });
        match spawned {
            Ok(thread) => Ok(UpkeepHandle {
                id,
                pid: std::process::id(),
                thread: Some(thread),
            }),
            Err(e) => {
                CACHED_NANOS.store(0, Ordering::Relaxed);
                UPKEEP.store(NO_UPKEEP, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// To call in a fork's child: the upkeep thread stayed in the parent, so the
    /// cached time is frozen. Clears it (coarse reads become precise reads) and lets a
    /// new upkeep thread start. Only two atomic stores: safe in a `pthread_atfork`
    /// child handler.
    pub fn after_fork_in_child() {
        // ordering: Relaxed, the child runs one thread here.
        CACHED_NANOS.store(0, Ordering::Relaxed);
        UPKEEP.store(NO_UPKEEP, Ordering::Relaxed);
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
        let d = self.counter.now().saturating_duration_since(self.origin);
        d.as_secs() * 1_000_000_000 + d.subsec_nanos() as u64
    }

    #[inline]
    fn coarse_nanos(&self) -> u64 {
        // ordering: Relaxed, a time value; no other memory is published through it.
        match CACHED_NANOS.load(Ordering::Relaxed) {
            0 => self.now_nanos(),
            n => n,
        }
    }

    fn wall_time(&self, nanos: u64) -> SystemTime {
        self.origin_wall + Duration::from_nanos(nanos)
    }
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

    /// The upkeep thread is process-wide, so its whole life is one test: tests of a
    /// binary run at once.
    #[test]
    fn the_cached_clock_follows_one_upkeep_thread_stops_with_it_and_restarts_after_a_fork() {
        let c = SystemClock::new();
        for wrong in [Duration::from_micros(99), Duration::from_millis(11)] {
            let e = SystemClock::start_upkeep(wrong).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
            assert!(e.to_string().starts_with("interval:"), "{e}");
        }
        let handle = SystemClock::start_upkeep(Duration::from_millis(1)).unwrap();
        assert!(handle.is_running());
        let e = SystemClock::start_upkeep(Duration::from_millis(1)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        let cached = c.coarse_nanos();
        assert!(cached > 0 && cached <= c.now_nanos());
        // The thread moves the cached time on (waiting is the point here: a real thread
        // on the real clock).
        assert_moves_on(&c);

        // What a fork's child hook does: the cached time is cleared (coarse reads are
        // precise reads, not a frozen time) and a new upkeep may start.
        SystemClock::after_fork_in_child();
        assert!(!handle.is_running());
        let before = c.coarse_nanos();
        std::thread::sleep(Duration::from_millis(2));
        assert!(c.coarse_nanos() >= before + 1_000_000, "not frozen");
        let restarted = SystemClock::start_upkeep(Duration::from_millis(1)).unwrap();
        // The old handle leaves the new thread alone.
        drop(handle);
        assert!(restarted.is_running());
        assert_moves_on(&c);

        drop(restarted);
        // Stopped: coarse reads are precise reads again, and another may start.
        let before = c.coarse_nanos();
        std::thread::sleep(Duration::from_millis(2));
        assert!(c.coarse_nanos() >= before + 1_000_000, "not frozen");
        drop(SystemClock::start_upkeep(Duration::from_millis(1)).unwrap());
    }

    /// Waits (5 s at most) for the cached time to move on.
    fn assert_moves_on(c: &SystemClock) {
        let cached = c.coarse_nanos();
        let give_up = std::time::Instant::now() + Duration::from_secs(5);
        while c.coarse_nanos() == cached {
            assert!(
                std::time::Instant::now() < give_up,
                "the cached time is frozen"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    #[test]
    fn every_system_clock_of_the_process_reads_one_time_base() {
        let (a, b) = (SystemClock::new(), SystemClock::new());
        let (x, y, z) = (a.now_nanos(), b.now_nanos(), a.now_nanos());
        assert!(x <= y && y <= z);
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
