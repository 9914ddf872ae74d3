//! `Breaker`: the engine for Python, subclassed by `tripgate.CircuitBreaker`.

use crate::clock::{secs, ManualClock};
use crate::config::build_config;
use crate::errors::{self, config_error, config_error_for};
use crate::guarded::Guarded;
use crate::held::{self, HeldStack};
use crate::options::apply_options;
use crate::outcome::{default_error_code, outcome_from_code, state_str, OUTCOME_SUCCESS};
use crate::permit::Permit;
use crate::{listeners, metrics};
use pyo3::exceptions::PyRuntimeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tripgate::{AnyClock, Outcome, RawPermit};

/// The engine: a `tripgate::Breaker` on a system or manual clock.
///
/// Subclassed by `tripgate.CircuitBreaker`, which owns the keyword options; use that.
#[pyclass(module = "tripgate._core", subclass, frozen, weakref)]
pub(crate) struct Breaker {
    shared: Arc<Shared>,
    /// Permits of the `with breaker:` statements open on this breaker.
    held: HeldStack<RawPermit>,
}

/// The engine and the options the hot paths read.
pub(crate) struct Shared {
    // In an `Arc`: the engine is 128-byte aligned (cache-line padding) and Python
    // allocates objects with 16-byte alignment only.
    pub(crate) inner: tripgate::Breaker<AnyClock>,
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
    #[inline]
    pub(crate) fn admit(&self, py: Python<'_>) -> PyResult<RawPermit> {
        self.inner
            .acquire_raw()
            .map_err(|r| errors::rejected(py, self.name.as_deref(), r))
    }

    /// Records `code` for `permit` (or releases it).
    fn settle(&self, permit: RawPermit, code: u8) -> PyResult<()> {
        match outcome_from_code(code) {
            Ok(Some(outcome)) => self
                .inner
                .record_raw(permit, outcome, None)
                .map_err(errors::refused),
            Ok(None) => self.inner.release_raw(permit).map_err(errors::refused),
            Err(e) => {
                errors::answered(self.inner.release_raw(permit));
                Err(e)
            }
        }
    }
}

impl Breaker {
    /// Settles a `with` statement's permit from how its block ended (`exc`: `None` for
    /// a success).
    fn settle_held(slf: &Bound<'_, Breaker>, permit: RawPermit, exc: &Bound<'_, PyAny>) {
        if exc.is_none() {
            errors::answered(slf.get().inner.record_raw(permit, Outcome::Success, None));
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
            return this
                .inner
                .record_raw(permit, Outcome::Success, None)
                .map_err(errors::refused);
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
        let config = build_config(config, tier, options)?;
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
