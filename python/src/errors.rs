//! Python exceptions raised by the extension: rejections (`CircuitBreakerError`, a
//! class the package registers) and invalid configs (`ValueError` carrying the field).

use crate::clock::secs;
use crate::options::OPTIONS;
use crate::outcome::state_str;
use pyo3::exceptions::{PyException, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};
use tripgate::ConfigError;

/// The Python exception class raised on rejection (`tripgate.CircuitBreakerError`),
/// registered once by the package.
static ERROR_CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The `CircuitBreakerError` for a rejected call: the engine's `Rejected` with its
/// message (the core's `Display`, durations rounded there), the breaker's name, the
/// state, `retry_after` in seconds and the name of the reason of the last opening.
pub(crate) fn rejected(py: Python<'_>, r: tripgate::Rejected) -> PyErr {
    let message = r.to_string();
    let name = r.name();
    let name = (!name.is_empty()).then_some(&*name);
    let retry_after = r.retry_after.map(secs);
    let reason = r.opened_by.map(|reason| reason.name());
    match ERROR_CLASS.get(py) {
        Some(cls) => {
            match cls
                .bind(py)
                .call1((message, name, state_str(py, r.state), retry_after, reason))
            {
                Ok(exc) => PyErr::from_value(exc),
                Err(e) => e,
            }
        }
        None => PyRuntimeError::new_err(message),
    }
}

/// `tripgate.ConfigError` (a `ValueError` subclass), registered once by the package.
static CONFIG_ERROR_CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A `ConfigError` for a config the core refused.
pub(crate) fn config_error(py: Python<'_>, e: &ConfigError) -> PyErr {
    config_error_for(py, e, None)
}

/// A `ConfigError` for a config the core refused; when the field at fault was set by
/// one of the keyword `options`, the message names that option and the value given,
/// e.g. `invalid fail_max = 0: allowed 1..=1000000000 (config field consecutive_failures)`.
/// The error carries `option`, `field` and `allowed` as attributes.
pub(crate) fn config_error_for(
    py: Python<'_>,
    e: &ConfigError,
    options: Option<&Bound<'_, PyDict>>,
) -> PyErr {
    let (field, allowed) = match e {
        ConfigError::Invalid { field, allowed, .. } => (field.as_str(), Some(allowed.as_str())),
        ConfigError::Parse { .. } => ("", None),
    };
    // The option that sets the field (exactly, or a part of it: `failure_weights.timeout`).
    let given = options.and_then(|opts| {
        let mut candidates = OPTIONS.iter().filter(|(_, f)| {
            !field.is_empty() && (*f == field || field.starts_with(&format!("{f}.")))
        });
        candidates.find_map(|(option, _)| {
            let value = opts.get_item(option).ok().flatten()?;
            Some((*option, value.repr().ok()?.to_string()))
        })
    });
    let (option, message) = match (&given, allowed) {
        (Some((option, value)), Some(allowed)) => (
            *option,
            format!("invalid {option} = {value}: allowed {allowed} (config field {field})"),
        ),
        _ => ("", e.to_string()),
    };
    let option = if option.is_empty() { field } else { option };
    let made = CONFIG_ERROR_CLASS
        .get(py)
        .map(|cls| cls.bind(py).call1((&message, option, field, allowed)));
    match made {
        Some(Ok(exc)) => PyErr::from_value(exc),
        Some(Err(e)) => e,
        None => PyValueError::new_err(message),
    }
}

/// Registers the exception classes the extension raises: `rejected` on rejection,
/// called as `rejected(message, name, state, retry_after, reason)`, and `config` (a
/// `ValueError` subclass) for an invalid option, called as
/// `config(message, option, field, allowed)`.
#[pyfunction(name = "_set_error_classes")]
pub(crate) fn set_error_classes(
    py: Python<'_>,
    rejected: &Bound<'_, PyType>,
    config: &Bound<'_, PyType>,
) -> PyResult<()> {
    if !rejected.is_subclass_of::<PyException>()? {
        return Err(PyTypeError::new_err(
            "the rejection class must subclass Exception",
        ));
    }
    if !config.is_subclass_of::<PyValueError>()? {
        return Err(PyTypeError::new_err(
            "the config error class must subclass ValueError",
        ));
    }
    // A second registration (a reload of the package) keeps the first classes.
    let _ = ERROR_CLASS.set(py, rejected.clone().into_any().unbind());
    let _ = CONFIG_ERROR_CLASS.set(py, config.clone().into_any().unbind());
    Ok(())
}

/// A permit the engine refused (answered already, or not this breaker's) as a
/// `RuntimeError` naming why.
pub(crate) fn refused(e: tripgate::PermitError) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

/// The answer of a permit this binding took out of its own cell or stack: issued by
/// this breaker and taken out exactly once, so the engine has no reason to refuse it
/// and nothing is left to report (used where Python gets no result: exits, drops).
pub(crate) fn answered(result: Result<(), tripgate::PermitError>) {
    let _ = result;
}

/// A `ConfigError` for a fleet config field (`quorum.share`, `store.url`, ...):
/// `option` and `field` are the field's path, `allowed` what the message says of it.
pub(crate) fn named_config_error(py: Python<'_>, field: &str, message: String) -> PyErr {
    let allowed = message
        .strip_prefix(&format!("fleet config: {field}: "))
        .map(str::to_owned);
    let made = CONFIG_ERROR_CLASS
        .get(py)
        .map(|cls| cls.bind(py).call1((&message, field, field, allowed)));
    match made {
        Some(Ok(exc)) => PyErr::from_value(exc),
        Some(Err(e)) => e,
        None => PyValueError::new_err(message),
    }
}

/// A `ConfigError` for a fleet config the fleet crate refused: its message names the
/// field and what is allowed.
pub(crate) fn fleet_config_error(py: Python<'_>, e: &tripgate_fleet::FleetConfigError) -> PyErr {
    named_config_error(py, e.field, e.to_string())
}
