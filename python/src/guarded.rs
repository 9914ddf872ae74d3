//! `Guarded`: what `@breaker` returns for a plain sync function.

use crate::breaker::Breaker;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

/// `types.MethodType`, to bind a guarded function used as a method.
static METHOD_TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A sync callable guarded by a breaker (what `@breaker` returns for a plain function).
#[pyclass(module = "tripgate._core", frozen, dict, weakref)]
pub(crate) struct Guarded {
    pub(crate) breaker: Py<Breaker>,
    pub(crate) func: Py<PyAny>,
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
