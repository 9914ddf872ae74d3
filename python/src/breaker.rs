//! `Breaker`: the engine for Python, subclassed by `tripgate.CircuitBreaker`.

use crate::clock::{secs, system_clock, ManualClock};
use crate::config::build_config;
use crate::duration::duration_arg;
use crate::errors::{self, config_error, config_error_for};
use crate::guarded::Guarded;
use crate::held::{self, HeldStack};
use crate::options::apply_options;
use crate::outcome::{default_error_code, outcome_from_code, state_str, OUTCOME_SUCCESS};
use crate::permit::Permit;
use crate::with_methods::Gate;
use crate::{listeners, metrics};
use pyo3::exceptions::PyRuntimeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tripgate::{AnyClock, Clock, ListenerId, Outcome, RawPermit};

/// The engine: a `tripgate::Breaker` on a system or manual clock.
///
/// Subclassed by `tripgate.CircuitBreaker`, which owns the keyword options; use that.
#[pyclass(module = "tripgate._core", subclass, frozen, weakref)]
pub(crate) struct Breaker {
    shared: Arc<Shared>,
    /// Permits of the `with breaker:` statements open on this breaker (shared with its
    /// gate).
    held: Arc<HeldStack<RawPermit>>,
    /// `enter` and `exit` of this breaker's gate, bound once, for the `with` statement
    /// (see `with_methods`).
    gate_methods: OnceLock<[Py<PyAny>; 2]>,
}

/// The engine and the options the hot paths read.
pub(crate) struct Shared {
    // In an `Arc`: the engine is 128-byte aligned (cache-line padding) and Python
    // allocates objects with 16-byte alignment only.
    pub(crate) inner: tripgate::Breaker<AnyClock>,
    classify_results: AtomicBool,
    /// The engine's call listener that feeds the package's, while it has any, and the
    /// package's callback (for the `before_call` events of the calls it runs).
    call_listener: Mutex<Option<(ListenerId, Py<PyAny>)>>,
    /// Whether `call_listener` holds one: one load per admission when not.
    calls_watched: AtomicBool,
    /// On the system clock, a share in the process's upkeep thread, for as long as the
    /// engine lives.
    _upkeep: Option<tripgate_ops::upkeep::Lease>,
}

impl Breaker {
    /// The engine and its options, shared: holding them keeps the engine, not the
    /// Python object.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// The permits of the open `with` statements, shared.
    pub(crate) fn held(&self) -> Arc<HeldStack<RawPermit>> {
        Arc::clone(&self.held)
    }

    /// `enter` and `exit` of the breaker's gate, made on first use. Two threads that
    /// race to make them both succeed; the first one stored is kept.
    pub(crate) fn gate_methods(&self, slf: &Bound<'_, Breaker>) -> PyResult<&[Py<PyAny>; 2]> {
        if let Some(methods) = self.gate_methods.get() {
            return Ok(methods);
        }
        let made = Gate::bound_methods(slf)?;
        Ok(self.gate_methods.get_or_init(|| made))
    }
}

impl std::ops::Deref for Breaker {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl Shared {
    #[inline]
    pub(crate) fn admit(&self, py: Python<'_>) -> PyResult<RawPermit> {
        let permit = self
            .inner
            .acquire_raw_to_run()
            .map_err(|r| errors::rejected(py, r))?;
        // ordering: Relaxed, a hint; the callback is read under its lock.
        if self.calls_watched.load(Ordering::Relaxed) {
            self.before_call(py);
        }
        Ok(permit)
    }

    /// Tells the package's call listeners that an admitted call is about to run (every
    /// admission the binding makes: guarded calls, `with`, `acquire`).
    #[cold]
    fn before_call(&self, py: Python<'_>) {
        let callback = {
            let slot = self.call_listener.lock().unwrap_or_else(|p| p.into_inner());
            slot.as_ref().map(|(_, cb)| cb.clone_ref(py))
        };
        if let Some(cb) = callback {
            let args = ("before_call", None::<&str>, None::<f64>, None::<&str>);
            if let Err(err) = cb.call1(py, args) {
                err.write_unraisable(py, None);
            }
        }
    }

    /// Answers a guarded call that ended with `code` by the engine's deadline rule
    /// (`complete_raw`): the outcome, or a timeout at or past the permit's deadline; a
    /// release code (the call was cut short: a cancellation, an interrupt) releases
    /// the permit before its deadline and is a timeout after it.
    fn settle(&self, permit: RawPermit, code: u8) -> PyResult<()> {
        match outcome_from_code(code) {
            Ok(outcome) => self.complete(permit, outcome),
            Err(e) => {
                errors::answered(self.inner.release_raw(permit));
                Err(e)
            }
        }
    }

    /// Answers a guarded call's permit by the engine's deadline rule.
    #[inline]
    pub(crate) fn complete(&self, permit: RawPermit, outcome: Option<Outcome>) -> PyResult<()> {
        self.inner
            .complete_raw(permit, outcome, None)
            .map(drop)
            .map_err(errors::refused)
    }
}

impl Breaker {
    /// Settles a `with` statement's permit from how its block ended (`exc`: `None` for
    /// a success).
    fn settle_held(slf: &Bound<'_, Breaker>, permit: RawPermit, exc: &Bound<'_, PyAny>) {
        if exc.is_none() {
            errors::answered(
                slf.get()
                    .inner
                    .complete_raw(permit, Some(Outcome::Success), None)
                    .map(drop),
            );
        } else {
            Breaker::settle_error(slf, permit, exc);
        }
    }

    /// Settles `permit` after the call raised `err`; hook errors are reported as
    /// unraisable and the permit is released, so the caller still sees its own error.
    pub(crate) fn settle_error(
        slf: &Bound<'_, Breaker>,
        permit: RawPermit,
        exc: &Bound<'_, PyAny>,
    ) {
        let py = slf.py();
        let this = slf.get();
        let code = slf
            .call_method1(intern!(py, "_classify_error"), (exc,))
            .and_then(|c| c.extract::<u8>());
        // Every path answers the permit exactly once: `settle` releases it itself when
        // the code is invalid.
        let result = match code {
            Ok(c) => this.settle(permit, c),
            Err(e) => {
                errors::answered(this.inner.release_raw(permit));
                Err(e)
            }
        };
        if let Err(e) = result {
            e.write_unraisable(py, Some(slf.as_any()));
        }
    }

    /// Settles `permit` after the call returned `value`. An error in the result hook
    /// releases the permit and propagates (the call's value is lost: the hook is broken).
    pub(crate) fn settle_value(
        slf: &Bound<'_, Breaker>,
        permit: RawPermit,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let this = slf.get();
        if !this.classify_results.load(Ordering::Relaxed) {
            return this.complete(permit, Some(Outcome::Success));
        }
        let code = slf
            .call_method1(intern!(slf.py(), "_classify_result"), (value,))
            .and_then(|c| c.extract::<u8>());
        match code {
            Ok(c) => this.settle(permit, c),
            Err(e) => {
                errors::answered(this.inner.release_raw(permit));
                Err(e)
            }
        }
    }

    /// The guarded call shared by `call` and decorated functions.
    #[inline]
    pub(crate) fn run(
        slf: &Bound<'_, Breaker>,
        func: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let permit = slf.get().admit(py)?;
        match func.call(args, kwargs) {
            Ok(value) => {
                Breaker::settle_value(slf, permit, &value)?;
                Ok(value.unbind())
            }
            Err(err) => {
                Breaker::settle_error(slf, permit, err.value(py).as_any());
                Err(err)
            }
        }
    }
}

#[pymethods]
impl Breaker {
    /// `config` is TOML or JSON text or a mapping in the schema of the Rust `Config`
    /// (`None`: the `tier` preset); `options` are keyword options applied on top.
    #[new]
    #[pyo3(signature = (config=None, *, options=None, tier="standard", clock=None, name=None, classify_results=false))]
    fn new(
        py: Python<'_>,
        config: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
        tier: &str,
        clock: Option<&Bound<'_, ManualClock>>,
        name: Option<String>,
        classify_results: bool,
    ) -> PyResult<Self> {
        let mut config = build_config(config, tier, options)?;
        // One name for the breaker, the engine's (its rejections and their message name
        // the breaker): the keyword wins over the config's.
        if let Some(n) = name {
            config.name = n;
        }
        let (clock, upkeep) = match clock {
            Some(c) => (AnyClock::Manual(c.get().inner.clone()), None),
            None => {
                let (clock, lease) = system_clock();
                (clock, Some(lease))
            }
        };
        let inner =
            tripgate::Breaker::with_clock(config, clock).map_err(|e| config_error(py, &e))?;
        Ok(Breaker {
            shared: Arc::new(Shared {
                inner,
                classify_results: AtomicBool::new(classify_results),
                call_listener: Mutex::new(None),
                calls_watched: AtomicBool::new(false),
                _upkeep: upkeep,
            }),
            held: Arc::default(),
            gate_methods: OnceLock::new(),
        })
    }

    /// The breaker's name, if it was given one (the engine's config carries it).
    #[getter]
    fn name(&self) -> Option<String> {
        let name = &self.inner.config().name;
        (!name.is_empty()).then(|| name.clone())
    }

    /// Renames the breaker while it runs (`None` or `""`: no name); its rejections
    /// name it from now on.
    #[setter]
    fn set_name(&self, py: Python<'_>, name: Option<String>) -> PyResult<()> {
        let mut config = (*self.inner.config()).clone();
        config.name = name.unwrap_or_default();
        self.inner
            .reconfigure(config)
            .map_err(|e| config_error(py, &e))
    }

    /// The current state: `closed`, `open`, `half_open`, `forced_open`,
    /// `forced_closed`, `disabled` or `metrics_only`.
    #[getter]
    fn state<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        state_str(py, self.inner.state()).clone()
    }

    /// Seconds until a call may be admitted; `None` while calls are admitted or when
    /// held open by an operator.
    #[getter]
    fn retry_after(&self) -> Option<f64> {
        self.inner.retry_after().map(secs)
    }

    /// Takes a permit, or raises `CircuitBreakerError`.
    fn acquire(slf: &Bound<'_, Self>) -> PyResult<Permit> {
        let raw = slf.get().admit(slf.py())?;
        Ok(Permit::new(slf.clone().unbind(), raw))
    }

    /// Calls `func(*args, **kwargs)` through the breaker.
    #[pyo3(signature = (func, /, *args, **kwargs))]
    fn call(
        slf: &Bound<'_, Self>,
        func: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        Breaker::run(slf, func, args, kwargs)
    }

    /// Wraps a sync callable: the returned object calls it through the breaker.
    fn _guard(slf: &Bound<'_, Self>, func: Py<PyAny>) -> Guarded {
        Guarded {
            breaker: slf.clone().unbind(),
            func,
        }
    }

    /// Takes a permit (or raises `CircuitBreakerError`) for the `with` statement
    /// running in the caller's frame.
    fn __enter__(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
        let frame = held::caller_frame(slf.py())?;
        Breaker::_hold(slf, &frame)?;
        Ok(slf.clone().unbind())
    }

    /// Records the block's outcome on the permit its `__enter__` took; never swallows
    /// the block's exception.
    #[pyo3(signature = (exc_type, exc, tb, /))]
    fn __exit__(
        slf: &Bound<'_, Self>,
        exc_type: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
        tb: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let _ = (exc_type, tb);
        let py = slf.py();
        let raw = slf.get().held.pop(|| held::caller_frame(py))?;
        Breaker::settle_held(slf, raw, exc);
        Ok(())
    }

    /// `__enter__` for the `with` (or `async with`) statement running in `frame`.
    fn _hold(slf: &Bound<'_, Self>, frame: &Bound<'_, PyAny>) -> PyResult<()> {
        let this = slf.get();
        let raw = this.admit(slf.py())?;
        this.held.push(frame.clone(), raw);
        Ok(())
    }

    /// `__exit__` for the statement running in `frame`: settles its permit from `exc`
    /// (`None`: a success).
    fn _release_held(
        slf: &Bound<'_, Self>,
        frame: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let raw = slf.get().held.pop(|| Ok(frame.clone()))?;
        Breaker::settle_held(slf, raw, exc);
        Ok(())
    }

    /// Permits held by open `with breaker:` statements.
    #[getter]
    fn _held_count(&self) -> usize {
        self.held.len()
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for method in self.gate_methods.get().into_iter().flatten() {
            visit.call(method)?;
        }
        self.held.traverse(&visit)
    }

    fn __clear__(&self) {
        for raw in self.held.drain() {
            errors::answered(self.inner.release_raw(raw));
        }
    }

    /// Default classification of an exception raised by a guarded call (overridden by
    /// `tripgate.CircuitBreaker`, which calls it after its hooks): see
    /// `outcome::default_error_code`.
    fn _classify_error(&self, exc: &Bound<'_, PyAny>) -> u8 {
        default_error_code(exc)
    }

    /// Default classification of a returned value: a success.
    fn _classify_result(&self, value: &Bound<'_, PyAny>) -> u8 {
        let _ = value;
        OUTCOME_SUCCESS
    }

    /// Whether `_classify_result` is consulted for returned values.
    fn _set_classify_results(&self, on: bool) {
        self.classify_results.store(on, Ordering::Relaxed);
    }

    /// Registers `callback(from, to, reason, reason_text, generation, open_for,
    /// at_epoch_seconds)` for every transition. It runs on the thread that won the
    /// transition, after it is published and outside every lock; an exception it
    /// raises is reported as unraisable.
    fn _subscribe(&self, callback: Py<PyAny>) {
        listeners::subscribe(&self.inner, callback);
    }

    /// Opens the breaker as a trip would: for the configured open duration (with
    /// backoff), then half-open probes decide. Does nothing if it is already open.
    fn open(&self) {
        self.inner.open();
    }

    /// Opens the breaker for `duration` (seconds, `"250ms"` text or a `timedelta`;
    /// exactly, no backoff or jitter), then half-open probes decide. An open breaker
    /// starts a new opening.
    fn open_for(&self, duration: &Bound<'_, PyAny>) -> PyResult<()> {
        let left = u64::MAX - self.inner.clock().now_nanos();
        self.inner.open_for(duration_arg(
            "duration",
            duration,
            Duration::from_nanos(left),
        )?);
        Ok(())
    }

    /// Opens the breaker until `deadline`, a reading of the breaker's clock in seconds
    /// (see `clock_now`; for a `ManualClock`, its `now`), then half-open probes decide.
    /// A deadline already past admits the next call as a probe. An open breaker starts
    /// a new opening.
    fn open_until(&self, deadline: &Bound<'_, PyAny>) -> PyResult<()> {
        let d = duration_arg("deadline", deadline, Duration::from_nanos(u64::MAX))?;
        // Cannot fail: at most `u64::MAX` nanoseconds.
        self.inner
            .open_until(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Ok(())
    }

    /// Moves the breaker to half-open from any state: the next calls are probes.
    fn half_open(&self) {
        self.inner.half_open();
    }

    /// Closes the breaker as recovering probes would (fresh window, slow start if
    /// configured). Does nothing if it is already closed.
    fn close(&self) {
        self.inner.close();
    }

    /// The `call_timeout` in force, in seconds (`None`: calls have no deadline). The
    /// async guards cut a call short there (a permit admitted now has this long left).
    #[getter]
    fn _call_timeout(&self) -> Option<f64> {
        self.inner.config().call_timeout.map(|d| d.as_secs_f64())
    }

    /// The reading of the breaker's clock, in seconds: what `open_until` takes.
    #[getter]
    fn clock_now(&self) -> f64 {
        self.inner.clock().now_nanos() as f64 / 1e9
    }

    /// Feeds every call event to `callback(event, failure_kind, latency, state)` (see
    /// `listeners::subscribe_calls`), and `before_call` for each call the binding
    /// admits, replacing the callback fed before. With none
    /// registered the engine pays one load per record.
    fn _watch_calls(&self, py: Python<'_>, callback: Py<PyAny>) {
        let mut slot = self.call_listener.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((old, _)) = slot.take() {
            self.inner.remove_call_listener(old);
        }
        let id = listeners::subscribe_calls(&self.inner, callback.clone_ref(py));
        *slot = Some((id, callback));
        // ordering: Relaxed, a hint (see `admit`).
        self.calls_watched.store(true, Ordering::Relaxed);
    }

    /// Stops feeding call events: the engine is back to its one load per record.
    fn _unwatch_calls(&self) {
        let mut slot = self.call_listener.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((old, _)) = slot.take() {
            self.inner.remove_call_listener(old);
        }
        // ordering: Relaxed, a hint (see `admit`).
        self.calls_watched.store(false, Ordering::Relaxed);
    }

    /// Holds the breaker open: every call is rejected.
    fn force_open(&self) {
        self.inner.force_open();
    }

    /// Holds the breaker closed: every call flows and is counted; nothing trips.
    fn force_closed(&self) {
        self.inner.force_closed();
    }

    /// Switches the breaker off: every call flows and nothing is counted.
    fn disable(&self) {
        self.inner.disable();
    }

    /// Counts every call but never trips.
    fn metrics_only(&self) {
        self.inner.metrics_only();
    }

    /// Back to closed with an empty window, no failure streak and no backoff.
    fn reset(&self) {
        self.inner.reset();
    }

    /// Applies keyword options to the config in force while the breaker runs.
    fn _reconfigure(&self, options: &Bound<'_, PyDict>) -> PyResult<()> {
        let config = apply_options((*self.inner.config()).clone(), options, false)?;
        self.inner
            .reconfigure(config)
            .map_err(|e| config_error_for(options.py(), &e, Some(options)))
    }

    /// The config in force, as JSON.
    fn _config_json(&self) -> PyResult<String> {
        serde_json::to_string(&*self.inner.config())
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The config in force, as TOML with every default written out.
    fn config_toml(&self) -> String {
        self.inner.config().to_toml_string()
    }

    /// Bytes the engine occupies, heap included.
    fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }

    /// Every figure of the Rust `Snapshot`, durations in seconds, wall times in seconds
    /// since the epoch.
    fn _snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        metrics::snapshot_dict(py, &self.inner.snapshot())
    }
}
