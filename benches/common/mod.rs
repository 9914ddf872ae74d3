//! The contenders and the workloads, shared by the criterion benches
//! (`benches/breakers.rs`) and the `icount` / `memory` examples.
//!
//! Included with `#[path]` rather than living in the library because the peer breakers
//! are dev-dependencies of this crate, which the library cannot see.
//!
//! Every contender answers the same question through [`Contender::call`]: ask the
//! breaker for admission and, when admitted, run a trivial operation that succeeds or
//! fails and report its outcome. Every contender is configured alike, as far as its API
//! allows: failure-rate window of 100 calls (count-based where the crate has one) or
//! 10 s (time-based), trip at 50 % failures, at least 20 calls in the window, open for
//! 60 s, one half-open probe that closes the breaker on success. Differences are listed
//! in `BENCHMARKS.md` and next to each constructor.

#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tripgate::{Breaker, Clock, Config, FailureKind, ManualClock, State, SystemClock};

/// Calls in the failure-rate window of count-based breakers.
pub const WINDOW_CALLS: u32 = 100;
/// Span of the failure-rate window of time-based breakers.
pub const WINDOW_TIME: Duration = Duration::from_secs(10);
/// Failure rate that trips.
pub const THRESHOLD: f64 = 0.5;
/// Calls the window must hold before the rate may trip.
pub const MINIMUM_CALLS: u32 = 20;
/// How long a tripped breaker stays open.
pub const OPEN_FOR: Duration = Duration::from_secs(60);

/// What one call came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Called {
    /// Admitted; the operation's outcome was recorded.
    Admitted,
    /// Rejected by the breaker; the operation did not run.
    Rejected,
}

/// One breaker, driven through its public API.
pub trait Contender: Send + Sized {
    /// Asks for admission and, when admitted, records a success or (`fail`) a failure.
    fn call(&mut self, fail: bool) -> Called;
    /// Another handle on the same breaker, for a second thread.
    fn share(&self) -> Self;
}

// ------------------------------------------------------------------ async plumbing

struct NoopWake;

impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

fn noop_waker() -> &'static Waker {
    static WAKER: OnceLock<Waker> = OnceLock::new();
    WAKER.get_or_init(|| Waker::from(Arc::new(NoopWake)))
}

/// Drives a future to completion on this thread by polling it. The futures the peers
/// return are ready at once unless another thread holds their lock, in which case this
/// spins until it is released (what a busy executor thread would do).
pub fn poll_ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(noop_waker());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::hint::spin_loop();
    }
}

// ------------------------------------------------------------------ tripgate

/// tripgate's config for these benches: a 10 s time window of 10 buckets, 50 %, at
/// least 20 calls, open 60 s, one probe.
pub fn tripgate_config(track_latency: bool) -> Config {
    tripgate_config_with(
        Config::builder().time_window(WINDOW_TIME, 10),
        track_latency,
    )
}

/// The same with a count window of exactly the last 100 calls (a bucket per call), the
/// window recloser and tower-resilience use.
pub fn tripgate_count_config(track_latency: bool) -> Config {
    tripgate_config_with(Config::builder().count_window(WINDOW_CALLS), track_latency)
}

fn tripgate_config_with(window: tripgate::ConfigBuilder, track_latency: bool) -> Config {
    window
        .failure_rate_threshold(THRESHOLD)
        .minimum_calls(MINIMUM_CALLS)
        .open_duration(OPEN_FOR)
        .half_open_permits(1)
        .half_open_success_threshold(1)
        .track_latency(track_latency)
        .build()
        .expect("valid config")
}

/// tripgate through its guard API: `try_acquire` then `success()` / `failure()`.
pub struct Tripgate<C: Clock = SystemClock>(pub Arc<Breaker<C>>);

impl Tripgate<SystemClock> {
    /// On the system clock; `track_latency` times every call into the histogram.
    pub fn new(track_latency: bool) -> Self {
        Tripgate(Arc::new(
            Breaker::new(tripgate_config(track_latency)).expect("breaker"),
        ))
    }

    /// As [`Tripgate::new`] with one per-call event listener registered (it only
    /// counts the events): the cost of per-call events on the hot path.
    pub fn with_call_listener() -> Self {
        let t = Tripgate::new(false);
        let seen = std::sync::atomic::AtomicU64::new(0);
        t.0.add_call_listener(move |e| {
            std::hint::black_box(e);
            // ordering: Relaxed, a count nothing else reads.
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        t
    }

    /// With a count window of the last 100 calls instead of the 10 s time window.
    pub fn count(track_latency: bool) -> Self {
        Tripgate(Arc::new(
            Breaker::new(tripgate_count_config(track_latency)).expect("breaker"),
        ))
    }
}

impl Tripgate<CoarseOsClock> {
    /// [`Tripgate::new`] on the kernel's clocks instead of the TSC (see
    /// [`CoarseOsClock`]).
    pub fn coarse_os_clock() -> Self {
        Tripgate(Arc::new(
            Breaker::with_clock(tripgate_config(false), CoarseOsClock::new()).expect("breaker"),
        ))
    }
}

/// The "coarse OS clock" time source for a time window (BENCHMARKS.md, *Where the time
/// goes*): precise reads by `CLOCK_MONOTONIC`, coarse reads (a window's bucket, an
/// admission) by `CLOCK_MONOTONIC_COARSE`, the same kernel clock at the tick's
/// resolution (1 to 4 ms), so both reads share one time base and no thread is needed.
/// A bench contender through the public [`Clock`] trait, to measure the option: core
/// itself reads the TSC (its precise read costs half of `CLOCK_MONOTONIC`'s here).
#[derive(Debug, Clone)]
pub struct CoarseOsClock {
    origin_wall: std::time::SystemTime,
    origin: u64,
}

impl CoarseOsClock {
    /// A clock whose reports count wall time from now.
    pub fn new() -> Self {
        CoarseOsClock {
            origin_wall: std::time::SystemTime::now(),
            origin: os_clock(libc::CLOCK_MONOTONIC),
        }
    }
}

/// `clock_gettime(id)` in nanoseconds.
#[inline]
pub fn os_clock(id: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration, and `id` one
    // of the clocks every Linux kernel since 2.6.32 has.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Clock for CoarseOsClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        os_clock(libc::CLOCK_MONOTONIC).saturating_sub(self.origin)
    }

    #[inline]
    fn coarse_nanos(&self) -> u64 {
        os_clock(libc::CLOCK_MONOTONIC_COARSE).saturating_sub(self.origin)
    }

    fn wall_time(&self, nanos: u64) -> std::time::SystemTime {
        self.origin_wall + Duration::from_nanos(nanos)
    }
}

impl Tripgate<ManualClock> {
    /// On a manual clock (for the state-churn scenario).
    pub fn manual(clock: ManualClock) -> Self {
        Tripgate(Arc::new(
            Breaker::with_clock(tripgate_config(false), clock).expect("breaker"),
        ))
    }
}

impl<C: Clock> Contender for Tripgate<C> {
    #[inline]
    fn call(&mut self, fail: bool) -> Called {
        match self.0.try_acquire() {
            Ok(permit) => {
                if fail {
                    permit.failure(FailureKind::ServerError)
                } else {
                    permit.success()
                }
                Called::Admitted
            }
            Err(_) => Called::Rejected,
        }
    }

    fn share(&self) -> Self {
        Tripgate(Arc::clone(&self.0))
    }
}

// ------------------------------------------------------------------ floor

/// The physical floor: one `Acquire` load of a state word and, when "closed", one
/// `Relaxed` `fetch_add` on a counter. No window, no clock, no state machine.
pub struct AtomicFloor(pub Arc<FloorWords>);

/// The floor's two words, each alone on its cache line.
#[repr(C, align(128))]
pub struct FloorWords {
    state: AtomicU64,
    _pad: [u8; 120],
    counter: AtomicU64,
}

impl AtomicFloor {
    /// A closed (`open == false`) or open floor.
    pub fn new(open: bool) -> Self {
        AtomicFloor(Arc::new(FloorWords {
            state: AtomicU64::new(open as u64),
            _pad: [0; 120],
            counter: AtomicU64::new(0),
        }))
    }

    /// Admission alone: one load.
    #[inline]
    pub fn admit(&self) -> bool {
        self.0.state.load(Ordering::Acquire) == 0
    }
}

impl Contender for AtomicFloor {
    #[inline]
    fn call(&mut self, fail: bool) -> Called {
        if self.0.state.load(Ordering::Acquire) != 0 {
            return Called::Rejected;
        }
        self.0.counter.fetch_add(1 + fail as u64, Ordering::Relaxed);
        Called::Admitted
    }

    fn share(&self) -> Self {
        AtomicFloor(Arc::clone(&self.0))
    }
}

// ------------------------------------------------------------------ failsafe 1.3

/// failsafe's rate policy: an exponentially weighted moving average of the success
/// rate over a 10 s window, at least 20 requests, open 60 s. It cannot express an
/// exact 100-call window, and it never trips during the first 10 s of a policy's life.
pub type FailsafeRate = failsafe::StateMachine<
    failsafe::failure_policy::SuccessRateOverTimeWindow<failsafe::backoff::Constant>,
    (),
>;

/// failsafe with the consecutive-failures policy (used only to reach Open on the real
/// clock: its rate policy cannot trip in the first 10 s; the rejection path does not
/// depend on the policy).
pub type FailsafeConsecutive = failsafe::StateMachine<
    failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::Constant>,
    (),
>;

/// failsafe through `is_call_permitted` + `on_success` / `on_error` (what its `call`
/// does, without the closure plumbing).
pub struct Failsafe<P>(pub failsafe::StateMachine<P, ()>);

impl Failsafe<failsafe::failure_policy::SuccessRateOverTimeWindow<failsafe::backoff::Constant>> {
    /// Rate policy: success rate >= 50 % over 10 s, at least 20 requests.
    pub fn new() -> Self {
        let policy = failsafe::failure_policy::success_rate_over_time_window(
            1.0 - THRESHOLD,
            MINIMUM_CALLS,
            WINDOW_TIME,
            failsafe::backoff::constant(OPEN_FOR),
        );
        Failsafe(failsafe::Config::new().failure_policy(policy).build())
    }
}

impl Failsafe<failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::Constant>> {
    /// Consecutive-failures policy (20 in a row), only to reach Open.
    pub fn consecutive() -> Self {
        let policy = failsafe::failure_policy::consecutive_failures(
            MINIMUM_CALLS,
            failsafe::backoff::constant(OPEN_FOR),
        );
        Failsafe(failsafe::Config::new().failure_policy(policy).build())
    }
}

impl<P: failsafe::FailurePolicy + Send> Contender for Failsafe<P> {
    #[inline]
    fn call(&mut self, fail: bool) -> Called {
        if !self.0.is_call_permitted() {
            return Called::Rejected;
        }
        if std::hint::black_box(fail) {
            self.0.on_error()
        } else {
            self.0.on_success()
        }
        Called::Admitted
    }

    fn share(&self) -> Self {
        Failsafe(self.0.clone())
    }
}

// ------------------------------------------------------------------ recloser 1.4

/// recloser: count-based ring of 100 calls, 50 %; it has no minimum-calls option (the
/// rate is evaluated once the ring is full, so effectively 100 calls), one half-open
/// call, open 60 s (or `open_wait`).
pub struct Recloser(pub Arc<recloser::Recloser>);

impl Recloser {
    /// Open for [`OPEN_FOR`].
    pub fn new() -> Self {
        Self::with_wait(OPEN_FOR)
    }

    /// Open for `open_wait` (recloser reads the real clock only).
    pub fn with_wait(open_wait: Duration) -> Self {
        Recloser(Arc::new(
            recloser::Recloser::custom()
                .error_rate(THRESHOLD as f32)
                .closed_len(WINDOW_CALLS as usize)
                .half_open_len(1)
                .open_wait(open_wait)
                .build(),
        ))
    }
}

impl Contender for Recloser {
    #[inline]
    fn call(&mut self, fail: bool) -> Called {
        let r = self.0.call(|| {
            if std::hint::black_box(fail) {
                Err(())
            } else {
                Ok(())
            }
        });
        match r {
            Err(recloser::Error::Rejected) => Called::Rejected,
            _ => Called::Admitted,
        }
    }

    fn share(&self) -> Self {
        Recloser(Arc::clone(&self.0))
    }
}

// ------------------------------------------------------------------ tower-resilience 0.14

type TowerInner = tower::util::ServiceFn<fn(bool) -> std::future::Ready<Result<(), u8>>>;
type TowerService = tower_resilience_circuitbreaker::CircuitBreaker<
    TowerInner,
    tower_resilience_circuitbreaker::DefaultClassifier,
>;

fn tower_op(fail: bool) -> std::future::Ready<Result<(), u8>> {
    std::future::ready(if std::hint::black_box(fail) {
        Err(1)
    } else {
        Ok(())
    })
}

/// tower-resilience-circuitbreaker as a tower `Service` (its only interface):
/// `poll_ready` + `call`, the returned boxed future polled to completion. Count-based
/// window of 100 calls, 50 %, one half-open call, open 60 s. `minimum_number_of_calls`
/// is set to 20 but a count-based window is only evaluated once full (100 calls); its
/// time-based window honours the minimum but keeps one record per call in a `VecDeque`
/// (unbounded under load), so the bounded count-based mode is the one measured.
pub struct Tower(pub TowerService);

impl Tower {
    /// Open for [`OPEN_FOR`].
    pub fn new() -> Self {
        Self::with_wait(OPEN_FOR)
    }

    /// Open for `wait` (tower-resilience reads the real clock only).
    pub fn with_wait(wait: Duration) -> Self {
        use tower::Layer;
        let layer = tower_resilience_circuitbreaker::CircuitBreakerLayer::builder()
            .failure_rate_threshold(THRESHOLD)
            .sliding_window_type(tower_resilience_circuitbreaker::SlidingWindowType::CountBased)
            .sliding_window_size(WINDOW_CALLS as usize)
            .minimum_number_of_calls(MINIMUM_CALLS as usize)
            .permitted_calls_in_half_open(1)
            .wait_duration_in_open(wait)
            .build()
            .expect("tower-resilience config");
        let op: fn(bool) -> std::future::Ready<Result<(), u8>> = tower_op;
        Tower(layer.layer(tower::service_fn(op)))
    }

    /// The breaker's state, read without its lock.
    pub fn state(&self) -> tower_resilience_circuitbreaker::CircuitState {
        self.0.state_sync()
    }
}

impl Contender for Tower {
    #[inline]
    fn call(&mut self, fail: bool) -> Called {
        use tower::Service;
        let svc = &mut self.0;
        match poll_ready(std::future::poll_fn(|cx| svc.poll_ready(cx))) {
            Ok(()) => {}
            Err(_) => return Called::Rejected,
        }
        match poll_ready(self.0.call(fail)) {
            Err(tower_resilience_circuitbreaker::CircuitBreakerError::OpenCircuit) => {
                Called::Rejected
            }
            _ => Called::Admitted,
        }
    }

    fn share(&self) -> Self {
        Tower(self.0.clone())
    }
}

// ------------------------------------------------------------------ seatbelt 0.11

/// seatbelt's answer when the breaker rejects.
pub const SEATBELT_REJECTED: u8 = 2;

/// seatbelt's breaker as a `layered` service over a trivial operation. Time-based
/// sampling window of 10 s (it has no count-based window), 50 %, min throughput 20,
/// break 60 s, quick half-open (one probe). Driven on the system clock, or on a
/// `tick::ClockControl` for the churn scenario.
pub struct Seatbelt<S>(pub Arc<S>);

/// Builds the seatbelt service on `clock`.
pub fn seatbelt(
    clock: &tick::Clock,
) -> Seatbelt<impl layered::Service<bool, Out = Result<(), u8>>> {
    use layered::Stack;
    use seatbelt::breaker::{Breaker as SbBreaker, HalfOpenMode};
    use seatbelt::{RecoveryInfo, ResilienceContext};
    let context = ResilienceContext::new(clock);
    let stack = (
        SbBreaker::layer("bench", &context)
            .recovery_with(|r: &Result<(), u8>, _| match r {
                Ok(()) => RecoveryInfo::never(),
                Err(_) => RecoveryInfo::retry(),
            })
            .rejected_input_error(|_, _| SEATBELT_REJECTED)
            .failure_threshold(THRESHOLD as f32)
            .min_throughput(MINIMUM_CALLS)
            .sampling_duration(WINDOW_TIME)
            .break_duration(OPEN_FOR)
            .half_open_mode(HalfOpenMode::quick()),
        layered::Execute::new(|fail: bool| async move {
            if std::hint::black_box(fail) {
                Err(1u8)
            } else {
                Ok(())
            }
        }),
    );
    Seatbelt(Arc::new(stack.into_service()))
}

/// A real (system) `tick` clock with no runtime: the breaker registers no timers. The
/// driver is leaked so the clock stays alive for the process.
pub fn system_tick_clock() -> tick::Clock {
    let (clock, driver) = tick::runtime::InactiveClock::default().activate(noop_waker().clone());
    std::mem::forget(driver);
    clock
}

impl<S: layered::Service<bool, Out = Result<(), u8>> + 'static> Contender for Seatbelt<S> {
    #[inline]
    fn call(&mut self, fail: bool) -> Called {
        match poll_ready(self.0.execute(fail)) {
            Err(SEATBELT_REJECTED) => Called::Rejected,
            _ => Called::Admitted,
        }
    }

    fn share(&self) -> Self {
        Seatbelt(Arc::clone(&self.0))
    }
}

// ------------------------------------------------------------------ workloads

/// Fails calls until the breaker rejects one; returns the failed calls. Panics after
/// 10 000 (the breaker would not trip).
pub fn trip<T: Contender>(c: &mut T) -> u32 {
    for n in 0..10_000 {
        if c.call(true) == Called::Rejected {
            return n;
        }
    }
    panic!("breaker did not trip after 10000 failures");
}

/// The 1 %-failure pattern: call `i` fails when `i % 100 == 99`.
#[inline]
pub fn one_percent(i: u64) -> bool {
    i % 100 == 99
}

/// One trip-and-recover cycle, per contender: fail the calls that trip it, let the open
/// duration pass, and close it with one successful probe. Returns the calls made.
pub trait Churn {
    /// Runs one cycle.
    fn cycle(&mut self) -> u32;
}

/// tripgate on a manual clock.
pub struct TripgateChurn {
    /// The breaker.
    pub tg: Tripgate<ManualClock>,
    /// Its clock.
    pub clock: ManualClock,
}

impl TripgateChurn {
    /// A closed breaker on a fresh manual clock.
    pub fn new() -> Self {
        let clock = ManualClock::new();
        clock.advance(Duration::from_secs(1));
        TripgateChurn {
            tg: Tripgate::manual(clock.clone()),
            clock,
        }
    }
}

impl Churn for TripgateChurn {
    #[inline]
    fn cycle(&mut self) -> u32 {
        for _ in 0..MINIMUM_CALLS {
            self.tg.call(true);
        }
        debug_assert_eq!(self.tg.0.state(), State::Open);
        self.clock.advance(OPEN_FOR);
        self.tg.call(false);
        debug_assert_eq!(self.tg.0.state(), State::Closed);
        MINIMUM_CALLS + 1
    }
}

/// recloser: open wait of zero (it reads only the real clock, so time cannot be
/// advanced; a zero wait makes "the open duration has passed" true at once). Its ring
/// must fill before the rate is evaluated: it trips on the 101st failure.
pub struct RecloserChurn(pub Recloser);

/// Failures that trip recloser's 100-call ring (checked by [`check_churn`]).
pub const RECLOSER_TRIP: u32 = WINDOW_CALLS + 1;

impl Churn for RecloserChurn {
    #[inline]
    fn cycle(&mut self) -> u32 {
        for _ in 0..RECLOSER_TRIP {
            self.0.call(true);
        }
        self.0.call(false);
        RECLOSER_TRIP + 1
    }
}

/// tower-resilience: open wait of zero, for the same reason as recloser. Its
/// count-based window is evaluated only once full, so it trips on the 100th failure
/// (`minimum_number_of_calls` cannot lower that).
pub struct TowerChurn(pub Tower);

impl Churn for TowerChurn {
    #[inline]
    fn cycle(&mut self) -> u32 {
        for _ in 0..WINDOW_CALLS {
            self.0.call(true);
        }
        self.0.call(false);
        WINDOW_CALLS + 1
    }
}

/// seatbelt on a `tick::ClockControl`.
pub struct SeatbeltChurn<S> {
    /// The service.
    pub sb: Seatbelt<S>,
    /// Its clock's control.
    pub control: tick::ClockControl,
}

/// seatbelt on a controlled clock.
pub fn seatbelt_churn() -> SeatbeltChurn<impl layered::Service<bool, Out = Result<(), u8>>> {
    let control = tick::ClockControl::new();
    let sb = seatbelt(&control.to_clock());
    SeatbeltChurn { sb, control }
}

impl<S: layered::Service<bool, Out = Result<(), u8>> + 'static> Churn for SeatbeltChurn<S> {
    #[inline]
    fn cycle(&mut self) -> u32 {
        for _ in 0..MINIMUM_CALLS {
            self.sb.call(true);
        }
        self.control.advance(OPEN_FOR + Duration::from_secs(1));
        self.sb.call(false);
        MINIMUM_CALLS + 1
    }
}

/// failsafe's rate policy under `failsafe::clock::freeze` (its only mock clock, valid
/// inside the closure on this thread). Its policy may trip only once a full window has
/// passed since it was (re)armed, so each cycle first advances 10 s; the EMA then needs
/// `trip_calls` failures (measured at setup) to fall under 50 %.
pub struct FailsafeChurn<'a> {
    /// The breaker.
    pub fs:
        Failsafe<failsafe::failure_policy::SuccessRateOverTimeWindow<failsafe::backoff::Constant>>,
    /// The frozen clock.
    pub clock: &'a mut failsafe::clock::MockClock,
    /// Failures that trip it.
    pub trip_calls: u32,
}

impl<'a> FailsafeChurn<'a> {
    /// Builds the breaker inside the frozen clock and measures its trip count.
    pub fn new(clock: &'a mut failsafe::clock::MockClock) -> Self {
        let mut fs = Failsafe::new();
        clock.advance(WINDOW_TIME);
        let trip_calls = trip(&mut fs);
        clock.advance(OPEN_FOR + Duration::from_secs(1));
        assert_eq!(fs.call(false), Called::Admitted);
        FailsafeChurn {
            fs,
            clock,
            trip_calls,
        }
    }
}

impl Churn for FailsafeChurn<'_> {
    #[inline]
    fn cycle(&mut self) -> u32 {
        self.clock.advance(WINDOW_TIME);
        for _ in 0..self.trip_calls {
            self.fs.call(true);
        }
        self.clock.advance(OPEN_FOR + Duration::from_secs(1));
        self.fs.call(false);
        self.trip_calls + 1
    }
}

/// Checks that each churn cycle really trips and recovers, with the contender's own
/// state readers or a rejected call. Panics otherwise.
pub fn check_churn() {
    // tripgate: state after each phase (debug_asserts are off in bench builds).
    let mut t = TripgateChurn::new();
    for _ in 0..3 {
        for _ in 0..MINIMUM_CALLS {
            t.tg.call(true);
        }
        assert_eq!(t.tg.0.state(), State::Open);
        t.clock.advance(OPEN_FOR);
        t.tg.call(false);
        assert_eq!(t.tg.0.state(), State::Closed);
    }
    // recloser: with a long wait, 101 failures trip and the next call is rejected.
    let mut r = Recloser::new();
    assert_eq!(trip(&mut r), RECLOSER_TRIP);
    // tower: state after each phase.
    let mut tw = TowerChurn(Tower::with_wait(Duration::ZERO));
    for _ in 0..3 {
        for _ in 0..WINDOW_CALLS - 1 {
            tw.0.call(true);
        }
        assert_eq!(
            tw.0.state(),
            tower_resilience_circuitbreaker::CircuitState::Closed
        );
        tw.0.call(true);
        assert_eq!(
            tw.0.state(),
            tower_resilience_circuitbreaker::CircuitState::Open
        );
        tw.0.call(false);
        assert_eq!(
            tw.0.state(),
            tower_resilience_circuitbreaker::CircuitState::Closed
        );
    }
    // seatbelt: after each cycle's failures the next call is rejected.
    let mut s = seatbelt_churn();
    for _ in 0..3 {
        for _ in 0..MINIMUM_CALLS {
            s.sb.call(true);
        }
        assert_eq!(s.sb.call(true), Called::Rejected);
        s.control.advance(OPEN_FOR + Duration::from_secs(1));
        assert_eq!(s.sb.call(false), Called::Admitted);
        assert_eq!(s.sb.call(false), Called::Admitted);
    }
    // failsafe: the trip count is stable from cycle to cycle.
    failsafe::clock::freeze(|clock| {
        let mut f = FailsafeChurn::new(clock);
        let n = f.trip_calls;
        for _ in 0..3 {
            f.clock.advance(WINDOW_TIME);
            assert_eq!(trip(&mut f.fs), n);
            f.clock.advance(OPEN_FOR + Duration::from_secs(1));
            assert_eq!(f.fs.call(false), Called::Admitted);
        }
    });
}
