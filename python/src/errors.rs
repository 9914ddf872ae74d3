//! Python exceptions raised by the extension: rejections (`CircuitBreakerError`, a
//! class the package registers) and invalid configs (`ValueError` carrying the field).

use crate::clock::secs;
use crate::outcome::state_str;
use pyo3::exceptions::{PyException, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use tripgate::ConfigError;

/// The Python exception class raised on rejection (`tripgate.CircuitBreakerError`),
/// registered once by the package.
static ERROR_CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The `CircuitBreakerError` for a call the breaker named `name` rejected.
pub(crate) fn rejected(py: Python<'_>, name: Option<&str>, r: tripgate::Rejected) -> PyErr {
    let retry_after = r.retry_after.map(secs);
    let message = match (name, retry_after) {
        (Some(n), Some(s)) => {
            format!("circuit breaker {n:?} is {}: retry after {s:.3}s", r.state)
        }
        (Some(n), None) => format!("circuit breaker {n:?} is {}", r.state),
        (None, Some(s)) => format!("circuit breaker is {}: retry after {s:.3}s", r.state),
        (None, None) => format!("circuit breaker is {}", r.state),
    };
    match ERROR_CLASS.get(py) {
        Some(cls) => match cls
            .bind(py)
            .call1((message, name, state_str(py, r.state), retry_after))
        {
            Ok(exc) => PyErr::from_value(exc),
            Err(e) => e,
        },
        None => PyRuntimeError::new_err(message),
    }
}

/// A `ValueError` carrying the core's field, value and allowed range as attributes.
pub(crate) fn config_error(py: Python<'_>, e: &ConfigError) -> PyErr {
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

/// Registers the exception class raised on rejection; it is called as
/// `cls(message, name, state, retry_after)`.
fn register_error_class(py: Python<'_>, cls: &Bound<'_, PyType>) -> PyResult<()> {
    if !cls.is_subclass_of::<PyException>()? {
        return Err(PyTypeError::new_err(
            "the error class must subclass Exception",
        ));
    }
    // A second registration (a reload of the package) keeps the first class.
    let _ = ERROR_CLASS.set(py, cls.clone().into_any().unbind());
    Ok(())
}

#[pyfunction(name = "_set_error_class")]
pub(crate) fn set_error_class(py: Python<'_>, cls: &Bound<'_, PyType>) -> PyResult<()> {
    register_error_class(py, cls)
}
