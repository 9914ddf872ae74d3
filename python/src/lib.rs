//! `tripgate._core`: the thin pyo3 layer under the pure-Python `tripgate` package.
//!
//! It translates types and errors and nothing more: every state, rule and counter lives
//! in the `tripgate` crate. Python code (`python/tripgate/__init__.py`) owns the
//! ergonomic API (keyword options, exceptions, listeners, async support) and subclasses
//! [`Breaker`] so that the hot paths (`with breaker:`, `breaker.call(...)`, a decorated
//! sync function) run here without a Python frame of their own.
//!
//! # Outcome codes
//!
//! The Python layer classifies exceptions and results (`_classify_error`,
//! `_classify_result`) and answers with a small integer, one of the `OUTCOME_*`
//! constants exported by the module.
//!
//! # Thread safety
//!
//! Every class is `frozen` and holds only `Sync` data (the core breaker is lock-free;
//! permits settle through an atomic flag), so the module declares itself safe for
//! free-threaded CPython. No lock is held while user code runs.

mod bulkhead;
mod held;
mod latency;

use held::HeldStack;

use pyo3::exceptions::{PyException, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};
use pyo3::{intern, PyTraverseError, PyVisit};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tripgate::{
    AnyClock, Clock, Config, ConfigError, FailureKind, Outcome, RawPermit, State, Tier,
};

/// Outcome code: the call succeeded.
const OUTCOME_SUCCESS: u8 = 0;
/// Outcome code: counted neither way (an excluded exception).
const OUTCOME_IGNORED: u8 = 1;
/// Outcome code: the permit is given back unrecorded (a cancellation).
const OUTCOME_RELEASE: u8 = 2;
/// Outcome code of the first failure kind; kind `k` is `OUTCOME_FAILURE + k`.
const OUTCOME_FAILURE: u8 = 3;

/// The Python exception class raised on rejection (`tripgate.CircuitBreakerError`),
/// registered once by the package.
static ERROR_CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
/// `types.MethodType`, to bind a guarded function used as a method.
static METHOD_TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn epoch_secs(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

fn state_str<'py>(py: Python<'py>, s: State) -> &'py Bound<'py, PyString> {
    match s {
        State::Closed => intern!(py, "closed"),
        State::Open => intern!(py, "open"),
        State::HalfOpen => intern!(py, "half_open"),
        State::ForcedOpen => intern!(py, "forced_open"),
        State::ForcedClosed => intern!(py, "forced_closed"),
        State::Disabled => intern!(py, "disabled"),
        State::MetricsOnly => intern!(py, "metrics_only"),
    }
}

fn kind_from_name(name: &str) -> PyResult<FailureKind> {
    FailureKind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "invalid failure kind {name:?}: allowed timeout, connection, server_error, rejected, other"
            ))
        })
}

fn outcome_from_code(code: u8) -> PyResult<Option<Outcome>> {
    Ok(Some(match code {
        OUTCOME_SUCCESS => Outcome::Success,
        OUTCOME_IGNORED => Outcome::Ignored,
        OUTCOME_RELEASE => return Ok(None),
        c if (OUTCOME_FAILURE..OUTCOME_FAILURE + 5).contains(&c) => Outcome::Failure(
            FailureKind::from_u8(c - OUTCOME_FAILURE).unwrap_or(FailureKind::Other),
        ),
        c => {
            return Err(PyValueError::new_err(format!(
                "invalid outcome code {c}: allowed 0..=7"
            )))
        }
    }))
}

/// A `ValueError` carrying the core's field, value and allowed range as attributes.
fn config_error(py: Python<'_>, e: &ConfigError) -> PyErr {
    let err = PyValueError::new_err(e.to_string());
    let value = err.value(py);
    let (field, given, allowed) = match e {
        ConfigError::Invalid {
            field,
            value,
            allowed,
        } => (field.as_str(), Some(value.as_str()), Some(allowed.as_str())),
        ConfigError::Parse { .. } => ("", None, None),
    };
    // Attributes on a fresh exception instance cannot fail to be set.
    let _ = value.setattr("field", field);
    let _ = value.setattr("value", given);
    let _ = value.setattr("allowed", allowed);
    err
}

fn parse_config(py: Python<'_>, text: Option<&str>) -> PyResult<Config> {
    match text {
        None => Ok(Config::default()),
        Some(t) => Config::from_str_auto(t).map_err(|e| config_error(py, &e)),
    }
}

/// A clock that moves only when told to, for deterministic tests.
///
/// Pass it to a breaker as `clock=`; clones of the Rust clock share one time, so
/// advancing this object moves every breaker built on it.
#[pyclass(module = "tripgate._core", frozen)]
struct ManualClock {
    inner: tripgate::ManualClock,
}

#[pymethods]
impl ManualClock {
    #[new]
    fn new() -> Self {
        ManualClock {
            inner: tripgate::ManualClock::new(),
        }
    }

    /// Moves the clock forward by `seconds` (a non-negative number).
    fn advance(&self, seconds: f64) -> PyResult<()> {
        if !(seconds >= 0.0 && seconds.is_finite()) {
            return Err(PyValueError::new_err(format!(
                "invalid seconds = {seconds}: allowed a finite number >= 0"
            )));
        }
        self.inner.advance(Duration::from_secs_f64(seconds));
        Ok(())
    }

    /// Moves the clock forward by `nanos` nanoseconds.
    fn advance_nanos(&self, nanos: u64) {
        self.inner.advance_nanos(nanos);
    }

    /// The clock's reading in seconds.
    #[getter]
    fn now(&self) -> f64 {
        self.inner.now_nanos() as f64 / 1e9
    }

    /// The clock's reading in nanoseconds.
    #[getter]
    fn now_nanos(&self) -> u64 {
        self.inner.now_nanos()
    }

    fn __repr__(&self) -> String {
        format!("ManualClock(now={}s)", self.inner.now_nanos() as f64 / 1e9)
    }
}

/// Default classification of an exception raised by a guarded call: an `Exception` is
/// a failure (`TimeoutError`: kind timeout), any other `BaseException` releases the
/// permit.
fn default_error_code(exc: &Bound<'_, PyAny>) -> u8 {
    let py = exc.py();
    if exc.is_instance_of::<pyo3::exceptions::PyTimeoutError>() {
        OUTCOME_FAILURE + FailureKind::Timeout as u8
    } else if exc
        .is_instance(&py.get_type::<PyException>())
        .unwrap_or(false)
    {
        OUTCOME_FAILURE + FailureKind::Other as u8
    } else {
        OUTCOME_RELEASE
    }
}

/// The engine: a `tripgate::Breaker` on a system or manual clock.
///
/// Subclassed by `tripgate.CircuitBreaker`, which owns the keyword options; use that.
#[pyclass(module = "tripgate._core", subclass, frozen, weakref)]
struct Breaker {
    shared: Arc<Shared>,
    /// Permits of the `with breaker:` statements open on this breaker.
    held: HeldStack<RawPermit>,
}

/// What a breaker's Python object and its [`Gate`] share: the engine and the options
/// the hot paths read.
struct Shared {
    // In an `Arc`: the engine is 128-byte aligned (cache-line padding) and Python
    // allocates objects with 16-byte alignment only.
    inner: tripgate::Breaker<AnyClock>,
    name: Option<String>,
    classify_results: AtomicBool,
}

impl std::ops::Deref for Breaker {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl Shared {
    fn rejected_error(&self, py: Python<'_>, r: tripgate::Rejected) -> PyErr {
        let retry_after = r.retry_after.map(secs);
        let message = match (&self.name, retry_after) {
            (Some(n), Some(s)) => {
                format!("circuit breaker {n:?} is {}: retry after {s:.3}s", r.state)
            }
            (Some(n), None) => format!("circuit breaker {n:?} is {}", r.state),
            (None, Some(s)) => format!("circuit breaker is {}: retry after {s:.3}s", r.state),
            (None, None) => format!("circuit breaker is {}", r.state),
        };
        match ERROR_CLASS.get(py) {
            Some(cls) => match cls.bind(py).call1((
                message,
                self.name.as_deref(),
                state_str(py, r.state),
                retry_after,
            )) {
                Ok(exc) => PyErr::from_value(exc),
                Err(e) => e,
            },
            None => PyRuntimeError::new_err(message),
        }
    }

    #[inline]
    fn admit(&self, py: Python<'_>) -> PyResult<RawPermit> {
        self.inner
            .acquire_raw()
            .map_err(|r| self.rejected_error(py, r))
    }

    /// Records `code` for `permit` (or releases it).
    fn settle(&self, permit: RawPermit, code: u8) -> PyResult<()> {
        match outcome_from_code(code) {
            Ok(Some(outcome)) => {
                self.inner.record_raw(permit, outcome, None);
                Ok(())
            }
            Ok(None) => {
                self.inner.release_raw(permit);
                Ok(())
            }
            Err(e) => {
                self.inner.release_raw(permit);
                Err(e)
            }
        }
    }
}

impl Breaker {
    /// Settles `permit` after the call raised `err`; hook errors are reported as
    /// unraisable and the permit is released, so the caller still sees its own error.
    fn settle_error(slf: &Bound<'_, Breaker>, permit: RawPermit, exc: &Bound<'_, PyAny>) {
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
                this.inner.release_raw(permit);
                Err(e)
            }
        };
        if let Err(e) = result {
            e.write_unraisable(py, Some(slf.as_any()));
        }
    }

    /// Settles `permit` after the call returned `value`. An error in the result hook
    /// releases the permit and propagates (the call's value is lost: the hook is broken).
    fn settle_value(
        slf: &Bound<'_, Breaker>,
        permit: RawPermit,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let this = slf.get();
        if !this.classify_results.load(Ordering::Relaxed) {
            this.inner.record_raw(permit, Outcome::Success, None);
            return Ok(());
        }
        let code = slf
            .call_method1(intern!(slf.py(), "_classify_result"), (value,))
            .and_then(|c| c.extract::<u8>());
        match code {
            Ok(c) => this.settle(permit, c),
            Err(e) => {
                this.inner.release_raw(permit);
                Err(e)
            }
        }
    }

    /// The guarded call shared by `call` and decorated functions.
    #[inline]
    fn run(
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
    /// `config` is TOML or JSON text in the schema of the Rust `Config`
    /// (`None`: the standard tier).
    #[new]
    #[pyo3(signature = (config=None, *, clock=None, name=None, classify_results=false))]
    fn new(
        py: Python<'_>,
        config: Option<&str>,
        clock: Option<&Bound<'_, ManualClock>>,
        name: Option<String>,
        classify_results: bool,
    ) -> PyResult<Self> {
        let config = parse_config(py, config)?;
        let clock = match clock {
            Some(c) => AnyClock::Manual(c.get().inner.clone()),
            None => AnyClock::default(),
        };
        let inner =
            tripgate::Breaker::with_clock(config, clock).map_err(|e| config_error(py, &e))?;
        Ok(Breaker {
            shared: Arc::new(Shared {
                inner,
                name,
                classify_results: AtomicBool::new(classify_results),
            }),
            held: HeldStack::default(),
        })
    }

    /// The breaker's name, if it was given one.
    #[getter]
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
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
        Ok(Permit {
            breaker: slf.clone().unbind(),
            raw,
            done: AtomicBool::new(false),
        })
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
        let frame = held::caller_frame(slf.py())?;
        Breaker::_release_held(slf, &frame, exc)
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
        let this = slf.get();
        let raw = this.held.pop(frame)?;
        if exc.is_none() {
            this.inner.record_raw(raw, Outcome::Success, None);
        } else {
            Breaker::settle_error(slf, raw, exc);
        }
        Ok(())
    }

    /// Permits held by open `with breaker:` statements.
    #[getter]
    fn _held_count(&self) -> usize {
        self.held.len()
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.held.traverse(&visit)
    }

    fn __clear__(&self) {
        for raw in self.held.drain() {
            self.inner.release_raw(raw);
        }
    }

    /// Default classification of an exception raised by a guarded call (overridden by
    /// `tripgate.CircuitBreaker`): an `Exception` is a failure (`TimeoutError`: kind
    /// timeout), any other `BaseException` releases the permit.
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
        self.inner.add_listener(move |t| {
            Python::attach(|py| {
                let args = (
                    state_str(py, t.from),
                    state_str(py, t.to),
                    t.reason.name(),
                    t.reason.to_string(),
                    t.generation,
                    t.open_for.map(secs),
                    epoch_secs(t.at),
                );
                if let Err(e) = callback.call1(py, args) {
                    e.write_unraisable(py, None);
                }
            });
        });
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

    /// Replaces the config (TOML or JSON text) while the breaker runs.
    fn _reconfigure(&self, py: Python<'_>, config: &str) -> PyResult<()> {
        let config = Config::from_str_auto(config).map_err(|e| config_error(py, &e))?;
        self.inner
            .reconfigure(config)
            .map_err(|e| config_error(py, &e))
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
        let s = self.inner.snapshot();
        let d = PyDict::new(py);
        d.set_item("state", state_str(py, s.state))?;
        d.set_item("generation", s.generation)?;
        d.set_item("time_in_state", secs(s.time_in_state))?;
        d.set_item("transitions", s.transitions)?;
        d.set_item("calls", s.calls)?;
        d.set_item("successes", s.successes)?;
        d.set_item("failures", s.failures)?;
        let kinds = PyDict::new(py);
        for k in FailureKind::ALL {
            kinds.set_item(k.name(), s.failures_by_kind.get(k))?;
        }
        d.set_item("failures_by_kind", kinds)?;
        d.set_item("ignored", s.ignored)?;
        d.set_item("slow_calls", s.slow_calls)?;
        d.set_item("rejected", s.rejected)?;
        d.set_item("abandoned", s.abandoned)?;
        d.set_item("in_flight", s.in_flight)?;
        d.set_item("half_open_probes", s.half_open_probes)?;
        d.set_item("window_calls", s.window_calls)?;
        d.set_item("failure_rate", s.failure_rate)?;
        d.set_item("slow_call_rate", s.slow_call_rate)?;
        d.set_item("consecutive_failures", s.consecutive_failures)?;
        d.set_item("last_failure", s.last_failure.map(epoch_secs))?;
        d.set_item("retry_after", s.retry_after.map(secs))?;
        d.set_item("backoff_level", s.backoff_level)?;
        match s.latency {
            Some(l) => d.set_item("latency", latency::latency_dict(py, &l)?)?,
            None => d.set_item("latency", py.None())?,
        }
        d.set_item("listener_panics", s.listener_panics)?;
        d.set_item("transitions_last_minute", s.transitions_last_minute)?;
        d.set_item(
            "effective_failure_rate_threshold",
            s.effective_failure_rate_threshold,
        )?;
        Ok(d)
    }
}

/// A permit: proof of admission, answered exactly once with an outcome.
///
/// Dropped unanswered, it is released (metric `abandoned`). Usable as a context
/// manager: the outcome is then taken from how the block exits.
#[pyclass(module = "tripgate._core", frozen)]
struct Permit {
    breaker: Py<Breaker>,
    raw: RawPermit,
    done: AtomicBool,
}

impl Permit {
    fn take(&self) -> PyResult<()> {
        if self.done.swap(true, Ordering::AcqRel) {
            Err(PyRuntimeError::new_err("permit already answered"))
        } else {
            Ok(())
        }
    }

    fn record(&self, outcome: Outcome, latency: Option<f64>) -> PyResult<()> {
        let latency = match latency {
            None => None,
            Some(s) if s >= 0.0 && s.is_finite() => {
                Some(Duration::from_secs_f64(s).as_nanos().min(u64::MAX as u128) as u64)
            }
            Some(s) => {
                return Err(PyValueError::new_err(format!(
                    "invalid latency = {s}: allowed a finite number of seconds >= 0"
                )))
            }
        };
        self.take()?;
        self.breaker
            .get()
            .inner
            .record_raw(self.raw, outcome, latency);
        Ok(())
    }
}

#[pymethods]
impl Permit {
    /// The call succeeded.
    #[pyo3(signature = (latency=None))]
    fn success(&self, latency: Option<f64>) -> PyResult<()> {
        self.record(Outcome::Success, latency)
    }

    /// The call failed with `kind`: `timeout`, `connection`, `server_error`,
    /// `rejected` or `other`.
    #[pyo3(signature = (kind="other", latency=None))]
    fn failure(&self, kind: &str, latency: Option<f64>) -> PyResult<()> {
        self.record(Outcome::Failure(kind_from_name(kind)?), latency)
    }

    /// The call says nothing about the dependency's health: counted neither way.
    fn ignore(&self) -> PyResult<()> {
        self.record(Outcome::Ignored, None)
    }

    /// Gives the permit back unrecorded (metric `abandoned`).
    fn release(&self) -> PyResult<()> {
        self.take()?;
        self.breaker.get().inner.release_raw(self.raw);
        Ok(())
    }

    /// Whether this permit is a half-open probe.
    #[getter]
    fn is_probe(&self) -> bool {
        self.raw.is_probe()
    }

    /// Whether the permit has been answered.
    #[getter]
    fn done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Settles the permit after the call raised `exc`, as a guarded call would.
    fn _settle_error(&self, py: Python<'_>, exc: &Bound<'_, PyAny>) -> PyResult<()> {
        self.take()?;
        Breaker::settle_error(self.breaker.bind(py), self.raw, exc);
        Ok(())
    }

    /// Settles the permit after the call returned `value`, as a guarded call would.
    fn _settle_value(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.take()?;
        Breaker::settle_value(self.breaker.bind(py), self.raw, value)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (exc_type, exc, tb, /))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
        tb: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let _ = (exc_type, tb);
        if self.done.swap(true, Ordering::AcqRel) {
            return Ok(false);
        }
        if exc.is_none() {
            self.breaker
                .get()
                .inner
                .record_raw(self.raw, Outcome::Success, None);
        } else {
            Breaker::settle_error(self.breaker.bind(py), self.raw, exc);
        }
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "Permit(probe={}, done={})",
            self.raw.is_probe(),
            self.done.load(Ordering::Relaxed)
        )
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.breaker)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done.swap(true, Ordering::AcqRel) {
            self.breaker.get().inner.release_raw(self.raw);
        }
    }
}

/// A sync callable guarded by a breaker (what `@breaker` returns for a plain function).
#[pyclass(module = "tripgate._core", frozen, dict, weakref)]
struct Guarded {
    breaker: Py<Breaker>,
    func: Py<PyAny>,
}

#[pymethods]
impl Guarded {
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        Breaker::run(self.breaker.bind(py), self.func.bind(py), args, kwargs)
    }

    /// Binds like a function, so a guarded function works as a method.
    fn __get__(
        slf: &Bound<'_, Self>,
        obj: Option<&Bound<'_, PyAny>>,
        cls: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = cls;
        let py = slf.py();
        match obj {
            None => Ok(slf.clone().into_any().unbind()),
            Some(o) if o.is_none() => Ok(slf.clone().into_any().unbind()),
            Some(o) => {
                let mt = METHOD_TYPE.get_or_try_init(py, || {
                    py.import("types")?.getattr("MethodType").map(Bound::unbind)
                })?;
                Ok(mt.bind(py).call1((slf, o))?.unbind())
            }
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("<guarded {}>", self.func.bind(py).repr()?))
    }

    /// The breaker guarding the call.
    #[getter]
    fn breaker(&self, py: Python<'_>) -> Py<Breaker> {
        self.breaker.clone_ref(py)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.breaker)?;
        visit.call(&self.func)
    }
}

/// Registers the exception class raised on rejection; it is called as
/// `cls(message, name, state, retry_after)`.
fn _set_error_class(py: Python<'_>, cls: &Bound<'_, PyType>) -> PyResult<()> {
    if !cls.is_subclass_of::<PyException>()? {
        return Err(PyTypeError::new_err(
            "the error class must subclass Exception",
        ));
    }
    // A second registration (a reload of the package) keeps the first class.
    let _ = ERROR_CLASS.set(py, cls.clone().into_any().unbind());
    Ok(())
}

/// The preset config of a tier (`critical`, `standard` or `non_critical`) as JSON.
#[pyfunction]
fn preset_json(tier: &str) -> PyResult<String> {
    let tier = Tier::from_name(tier).ok_or_else(|| {
        PyValueError::new_err(format!(
            "invalid tier = {tier:?}: allowed critical, standard, non_critical"
        ))
    })?;
    serde_json::to_string(&Config::preset(tier)).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Parses and validates a config (TOML, or JSON when it starts with `{`); returns it as
/// JSON with every default filled in.
#[pyfunction]
fn normalize_config(py: Python<'_>, text: &str) -> PyResult<String> {
    let config = Config::from_str_auto(text).map_err(|e| config_error(py, &e))?;
    serde_json::to_string(&config).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

#[pyfunction(name = "_set_error_class")]
fn set_error_class(py: Python<'_>, cls: &Bound<'_, PyType>) -> PyResult<()> {
    _set_error_class(py, cls)
}

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Breaker>()?;
    m.add_class::<Permit>()?;
    m.add_class::<Guarded>()?;
    m.add_class::<ManualClock>()?;
    m.add_class::<bulkhead::Bulkhead>()?;
    m.add_class::<bulkhead::BulkheadSlot>()?;
    m.add_function(wrap_pyfunction!(bulkhead::set_bulkhead_error_class, m)?)?;
    m.add_function(wrap_pyfunction!(latency::breaker_latency, m)?)?;
    m.add_function(wrap_pyfunction!(preset_json, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_config, m)?)?;
    m.add_function(wrap_pyfunction!(set_error_class, m)?)?;
    m.add("OUTCOME_SUCCESS", OUTCOME_SUCCESS)?;
    m.add("OUTCOME_IGNORED", OUTCOME_IGNORED)?;
    m.add("OUTCOME_RELEASE", OUTCOME_RELEASE)?;
    m.add("OUTCOME_FAILURE", OUTCOME_FAILURE)?;
    m.add(
        "FAILURE_KINDS",
        PyTuple::new(m.py(), FailureKind::ALL.map(FailureKind::name))?,
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
