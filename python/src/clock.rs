//! Time at the boundary: the manual clock for tests, conversions to seconds, and the
//! system clock's upkeep thread (a share per breaker, restarted in a fork's child).

use crate::duration::duration_arg;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tripgate::{AnyClock, Clock};

/// The system clock for a breaker, with a share in the process's upkeep thread: while
/// breakers on it live, a time window picks its bucket by one load (the ops crate's
/// `upkeep`).
pub(crate) fn system_clock() -> (AnyClock, tripgate_ops::upkeep::Lease) {
    (AnyClock::default(), tripgate_ops::upkeep::Lease::take())
}

/// Registers the fork hook: a forked child has no upkeep thread, only the parent's last
/// cached time, which it clears and restarts (`os.register_at_fork`, where the
/// platform forks).
pub(crate) fn register_fork_hook(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let os = m.py().import("os")?;
    if !os.hasattr("register_at_fork")? {
        return Ok(());
    }
    let hook = wrap_pyfunction!(after_fork_in_child, m)?;
    let kwargs = PyDict::new(m.py());
    kwargs.set_item("after_in_child", hook)?;
    os.call_method("register_at_fork", (), Some(&kwargs))?;
    Ok(())
}

/// Run by `os.fork` in the child (see `register_fork_hook`).
#[pyfunction]
fn after_fork_in_child() {
    tripgate_ops::upkeep::after_fork_in_child();
}

/// A duration in seconds.
pub(crate) fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// A wall time in seconds since the epoch (negative before it).
pub(crate) fn epoch_secs(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// A clock that moves only when told to, for deterministic tests.
///
/// Pass it to a breaker as `clock=`; clones of the Rust clock share one time, so
/// advancing this object moves every breaker built on it.
#[pyclass(module = "tripgate._core", frozen)]
pub(crate) struct ManualClock {
    pub(crate) inner: tripgate::ManualClock,
}

#[pymethods]
impl ManualClock {
    #[new]
    fn new() -> Self {
        ManualClock {
            inner: tripgate::ManualClock::new(),
        }
    }

    /// Moves the clock forward by `seconds` (a duration: seconds, `"250ms"` text or a
    /// `timedelta`), at most to the clock's last representable nanosecond.
    fn advance(&self, seconds: &Bound<'_, PyAny>) -> PyResult<()> {
        let left = Duration::from_nanos(u64::MAX - self.inner.now_nanos());
        self.inner.advance(duration_arg("seconds", seconds, left)?);
        Ok(())
    }

    /// Moves the clock forward by `nanos` nanoseconds.
    fn advance_nanos(&self, nanos: u64) -> PyResult<()> {
        let left = u64::MAX - self.inner.now_nanos();
        if nanos > left {
            return Err(PyValueError::new_err(format!(
                "invalid nanos = {nanos}: allowed 0..={left} (the clock's range)"
            )));
        }
        self.inner.advance_nanos(nanos);
        Ok(())
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
