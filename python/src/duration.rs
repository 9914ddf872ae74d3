//! Durations at the boundary: what a user may pass wherever the API takes a duration.
//!
//! Accepted: seconds as an `int` or a `float`, text such as `"250ms"` or `"1m30s"`
//! (humantime's syntax, as in config files), or a `datetime.timedelta`. A value is taken
//! exactly or refused with a `ValueError` (`TypeError` for a wrong type) naming the
//! option and the allowed range: never clamped, never a panic.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString};
use std::time::Duration;

/// `datetime.timedelta`, looked up once.
static TIMEDELTA: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// What every duration option accepts, for error messages.
pub(crate) const DURATION_FORMS: &str =
    "seconds (int or float), text such as \"250ms\" or \"1m30s\", or a datetime.timedelta";

fn invalid(option: &str, value: &Bound<'_, PyAny>, allowed: &str) -> PyErr {
    let shown = value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".into());
    PyValueError::new_err(format!("invalid {option} = {shown}: allowed {allowed}"))
}

/// `value` as a duration of at most `max`, for `option`.
pub(crate) fn duration_arg(
    option: &str,
    value: &Bound<'_, PyAny>,
    max: Duration,
) -> PyResult<Duration> {
    let py = value.py();
    let range = || {
        format!(
            "0s..={} as {DURATION_FORMS}",
            // Whole seconds: a range's end need not show its nanoseconds.
            humantime::format_duration(Duration::from_secs(max.as_secs()))
        )
    };
    let parsed: Option<Duration> = if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{option} must be a duration ({DURATION_FORMS}), got bool"
        )));
    } else if value.is_instance_of::<PyInt>() {
        // Exact: a huge int (10**400) is refused, not rounded through a float.
        value.extract::<u64>().ok().map(Duration::from_secs)
    } else if value.is_instance_of::<PyFloat>() {
        Duration::try_from_secs_f64(value.extract::<f64>()?).ok()
    } else if let Ok(text) = value.cast::<PyString>() {
        match humantime::parse_duration(text.to_str()?.trim()) {
            Ok(d) => Some(d),
            Err(e) => {
                return Err(PyValueError::new_err(format!(
                    "invalid {option} = {:?}: allowed {} ({e})",
                    text.to_str()?,
                    range()
                )))
            }
        }
    } else if value.is_instance(
        TIMEDELTA
            .get_or_try_init(py, || {
                py.import("datetime")?
                    .getattr("timedelta")
                    .map(Bound::unbind)
            })?
            .bind(py),
    )? {
        timedelta(value)?
    } else {
        return Err(PyTypeError::new_err(format!(
            "{option} must be a duration ({DURATION_FORMS}), got {}",
            value.get_type().name()?
        )));
    };
    match parsed {
        Some(d) if d <= max => Ok(d),
        _ => Err(invalid(option, value, &range())),
    }
}

/// A `timedelta`'s exact duration; `None` when negative.
fn timedelta(value: &Bound<'_, PyAny>) -> PyResult<Option<Duration>> {
    let days: i64 = value.getattr("days")?.extract()?;
    let seconds: u64 = value.getattr("seconds")?.extract()?;
    let micros: u32 = value.getattr("microseconds")?.extract()?;
    // timedelta normalises to 0 <= seconds < 86400 and 0 <= microseconds < 10**6, so
    // only `days` carries the sign.
    Ok(u64::try_from(days)
        .ok()
        .map(|d| Duration::from_secs(d * 86_400 + seconds) + Duration::from_micros(micros.into())))
}

/// `value` as a latency in whole nanoseconds (what the engine records).
pub(crate) fn latency_nanos(option: &str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
    let max = Duration::from_nanos(u64::MAX);
    let d = duration_arg(option, value, max)?;
    // Cannot fail: at most `max`.
    Ok(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
