//! `tripgate._core._breaker_latency`: a breaker's latency percentiles without the rest
//! of its snapshot, for the hedge's percentile delay (`tripgate.patterns`).

use crate::Breaker;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The latency figures over `breaker`'s window in seconds (`count`, `p50`, `p90`,
/// `p95`, `p99`, `p999`, `mean`, `max`), or `None` when it tracks no latency.
///
/// One pass over the window's histograms (core's `Breaker::latency`): cheaper than
/// `_snapshot()`, which also sums the window's counts and takes the breaker's cold lock.
#[pyfunction(name = "_breaker_latency")]
pub(crate) fn breaker_latency<'py>(
    py: Python<'py>,
    breaker: &Bound<'py, Breaker>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    match breaker.get().inner.latency() {
        Some(l) => latency_dict(py, &l).map(Some),
        None => Ok(None),
    }
}

/// A latency summary as the dict `_snapshot()["latency"]` and `_breaker_latency` return:
/// nanoseconds turned into seconds.
pub(crate) fn latency_dict<'py>(
    py: Python<'py>,
    l: &tripgate::LatencySummary,
) -> PyResult<Bound<'py, PyDict>> {
    let s = |v: u64| v as f64 / 1e9;
    let d = PyDict::new(py);
    d.set_item("count", l.count)?;
    d.set_item("p50", s(l.p50))?;
    d.set_item("p90", s(l.p90))?;
    d.set_item("p95", s(l.p95))?;
    d.set_item("p99", s(l.p99))?;
    d.set_item("p999", s(l.p999))?;
    d.set_item("mean", s(l.mean))?;
    d.set_item("max", s(l.max))?;
    Ok(d)
}
