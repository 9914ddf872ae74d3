//! `with breaker:` without a bound-method allocation per statement.
//!
//! CPython 3.11's `with` looks `__enter__` and `__exit__` up on the type and binds
//! each to the instance on every statement: two method objects allocated and freed per
//! block, about 1,000 instructions (BENCHMARKS.md, Python, "where the time goes").
//! `tripgate.CircuitBreaker` installs [`WithMethod`] descriptors instead, whose
//! `__get__` hands back a method bound once per breaker: `enter`/`exit` of the
//! breaker's [`Gate`], made on first use and kept by the breaker.
//!
//! The gate holds what the statement needs (the engine and the breaker's held
//! permits, both shared) and only a weak reference to the breaker, which it returns
//! from `__enter__` and asks to classify an exception: the breaker keeps its gate's
//! methods, the gate does not keep the breaker, so there is no reference cycle and a
//! breaker is freed by its reference count, as before.

use crate::breaker::{Breaker, Shared};
use crate::errors;
use crate::held::{self, HeldStack};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyWeakrefReference};
use std::sync::Arc;
use tripgate::{Outcome, RawPermit};

/// A breaker's gate: the `with` statement's `enter` and `exit`, bound once.
#[pyclass(module = "tripgate._core", frozen)]
pub(crate) struct Gate {
    shared: Arc<Shared>,
    held: Arc<HeldStack<RawPermit>>,
    /// The breaker, weakly: `__enter__` returns it, and an exception is classified by
    /// its (overridable) `_classify_error`.
    breaker: Py<PyWeakrefReference>,
}

impl Gate {
    /// The bound `enter` and `exit` of a new gate for `breaker`.
    pub(crate) fn bound_methods(breaker: &Bound<'_, Breaker>) -> PyResult<[Py<PyAny>; 2]> {
        let py = breaker.py();
        let this = breaker.get();
        let gate = Bound::new(
            py,
            Gate {
                shared: this.shared(),
                held: this.held(),
                breaker: PyWeakrefReference::new(breaker)?.unbind(),
            },
        )?;
        Ok([
            gate.getattr("enter")?.unbind(),
            gate.getattr("exit")?.unbind(),
        ])
    }
}

#[pymethods]
impl Gate {
    /// `__enter__`: takes a permit for the statement running in the caller's frame and
    /// returns the breaker.
    fn enter(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let frame = held::caller_frame(py)?;
        let raw = self.shared.admit(py)?;
        self.held.push(frame, raw);
        Ok(self
            .breaker
            .bind(py)
            .upgrade()
            .map_or_else(|| py.None(), Bound::unbind))
    }

    /// `__exit__`: records the block's outcome on the permit its `__enter__` took;
    /// never swallows the block's exception.
    #[pyo3(signature = (exc_type, exc, tb, /))]
    fn exit(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
        tb: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let _ = (exc_type, tb);
        let raw = self.held.pop(|| held::caller_frame(py))?;
        if exc.is_none() {
            errors::answered(
                self.shared
                    .inner
                    .complete_raw(raw, Some(Outcome::Success), None)
                    .map(drop),
            );
            return Ok(());
        }
        match self.breaker.bind(py).upgrade() {
            Some(breaker) => Breaker::settle_error(breaker.cast::<Breaker>()?, raw, exc),
            // The breaker is gone (its gate was kept by a caller): nothing can classify
            // the exception, so the permit is released unrecorded.
            None => errors::answered(self.shared.inner.release_raw(raw)),
        }
        Ok(())
    }
}

/// `CircuitBreaker.__enter__` / `__exit__`: a descriptor handing out the breaker's
/// gate methods (see the module documentation).
#[pyclass(module = "tripgate._core", frozen)]
pub(crate) struct WithMethod {
    exit: bool,
}

#[pymethods]
impl WithMethod {
    /// `which`: `"enter"` or `"exit"`.
    #[new]
    fn new(which: &str) -> PyResult<Self> {
        match which {
            "enter" => Ok(WithMethod { exit: false }),
            "exit" => Ok(WithMethod { exit: true }),
            _ => Err(PyValueError::new_err(format!(
                "WithMethod: which must be 'enter' or 'exit', not {which:?}"
            ))),
        }
    }

    /// Called on the class (`CircuitBreaker.__enter__(breaker)`, as
    /// `contextlib.ExitStack` does): the breaker's gate method with the other arguments.
    #[pyo3(signature = (obj, *args))]
    fn __call__(&self, obj: &Bound<'_, PyAny>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let breaker = obj.cast::<Breaker>()?;
        let [enter, exit] = breaker.get().gate_methods(breaker)?;
        let method = if self.exit { exit } else { enter };
        method.bind(obj.py()).call1(args).map(Bound::unbind)
    }

    /// The method bound to `obj`'s gate; the descriptor itself on the class.
    fn __get__(
        slf: &Bound<'_, Self>,
        obj: Option<&Bound<'_, PyAny>>,
        cls: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = cls;
        let Some(obj) = obj.filter(|o| !o.is_none()) else {
            return Ok(slf.clone().into_any().unbind());
        };
        let breaker = obj.cast::<Breaker>()?;
        let [enter, exit] = breaker.get().gate_methods(breaker)?;
        let py = slf.py();
        Ok(if slf.get().exit {
            exit.clone_ref(py)
        } else {
            enter.clone_ref(py)
        })
    }
}
