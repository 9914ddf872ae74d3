//! Outcomes as the Python layer names them: the small integer codes its classifiers
//! answer with, failure kinds and state names.

use pyo3::exceptions::{PyConnectionError, PyException, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;
use tripgate::{FailureKind, Outcome, State};

/// Outcome code: the call succeeded.
pub(crate) const OUTCOME_SUCCESS: u8 = 0;
/// Outcome code: counted neither way (an excluded exception).
pub(crate) const OUTCOME_IGNORED: u8 = 1;
/// Outcome code: the permit is given back unrecorded (a cancellation).
pub(crate) const OUTCOME_RELEASE: u8 = 2;
/// Outcome code of the first failure kind; kind `k` is `OUTCOME_FAILURE + k`.
pub(crate) const OUTCOME_FAILURE: u8 = 3;

/// The states' names (core's), interned once, by code.
static STATE_NAMES: PyOnceLock<Vec<Py<PyString>>> = PyOnceLock::new();

/// The Python name of a state (core's [`State::name`]), interned.
pub(crate) fn state_str<'py>(py: Python<'py>, s: State) -> &'py Bound<'py, PyString> {
    let names = STATE_NAMES.get_or_init(py, || {
        State::ALL
            .iter()
            .map(|s| PyString::intern(py, s.name()).unbind())
            .collect()
    });
    names[s.code() as usize].bind(py)
}

/// A failure kind from its name.
pub(crate) fn kind_from_name(name: &str) -> PyResult<FailureKind> {
    FailureKind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "invalid failure kind {name:?}: allowed timeout, connection, server_error, rejected, other"
            ))
        })
}

/// The outcome an outcome code stands for; `None` for a release.
pub(crate) fn outcome_from_code(code: u8) -> PyResult<Option<Outcome>> {
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

/// The engine's outcome of an HTTP response with `status`, by name: `success`,
/// `ignored` or a failure kind (core's `Outcome::from_http_status`, the project's one
/// status table). A status outside 0..=65535 is no valid response: `other`.
#[pyfunction(name = "_http_status_outcome")]
pub(crate) fn http_status_outcome(status: i64) -> &'static str {
    let status = u16::try_from(status).unwrap_or(0);
    Outcome::from_http_status(status).name()
}

/// `asyncio.TimeoutError`, looked up once (a class of its own before Python 3.11).
static ASYNCIO_TIMEOUT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The default classification of an exception raised by a guarded call, the only one
/// (`tripgate.CircuitBreaker` applies its hooks and exclusions first): `TimeoutError`
/// and `asyncio.TimeoutError` are failures of kind timeout, `ConnectionError` of kind
/// connection, any other `Exception` of kind other; any other `BaseException`
/// (`KeyboardInterrupt`, `asyncio.CancelledError`, ...) releases the permit.
pub(crate) fn default_error_code(exc: &Bound<'_, PyAny>) -> u8 {
    let py = exc.py();
    let asyncio_timeout = ASYNCIO_TIMEOUT.get_or_try_init(py, || {
        py.import("asyncio")?
            .getattr("TimeoutError")
            .map(Bound::unbind)
    });
    let is_timeout = exc.is_instance_of::<PyTimeoutError>()
        || asyncio_timeout.is_ok_and(|t| exc.is_instance(t.bind(py)).unwrap_or(false));
    if is_timeout {
        OUTCOME_FAILURE + FailureKind::Timeout as u8
    } else if exc.is_instance_of::<PyConnectionError>() {
        OUTCOME_FAILURE + FailureKind::Connection as u8
    } else if exc.is_instance_of::<PyException>() {
        OUTCOME_FAILURE + FailureKind::Other as u8
    } else {
        OUTCOME_RELEASE
    }
}
