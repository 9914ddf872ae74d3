//! Metrics at the boundary: a breaker's snapshot as a dict, and its latency percentiles
//! alone (`_breaker_latency`, for the hedge's percentile delay in `tripgate.patterns`).

use crate::breaker::Breaker;
use crate::clock::{epoch_secs, secs};
use crate::outcome::state_str;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tripgate::{FailureKind, Snapshot};

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

/// Every figure of a `Snapshot` as a dict: durations in seconds, wall times in seconds
/// since the epoch.
pub(crate) fn snapshot_dict<'py>(py: Python<'py>, s: &Snapshot) -> PyResult<Bound<'py, PyDict>> {
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
    d.set_item("half_open_successes", s.half_open_successes)?;
    d.set_item("window_calls", s.window_calls)?;
    d.set_item("failure_rate", s.failure_rate)?;
    d.set_item("slow_call_rate", s.slow_call_rate)?;
    d.set_item("consecutive_failures", s.consecutive_failures)?;
    d.set_item("last_failure", s.last_failure.map(epoch_secs))?;
    d.set_item("retry_after", s.retry_after.map(secs))?;
    d.set_item("backoff_level", s.backoff_level)?;
    match s.latency {
        Some(l) => d.set_item("latency", latency_dict(py, &l)?)?,
        None => d.set_item("latency", py.None())?,
    }
    d.set_item("listener_panics", s.listener_panics)?;
    d.set_item("transitions_last_minute", s.transitions_last_minute)?;
    d.set_item(
        "effective_failure_rate_threshold",
        s.effective_failure_rate_threshold,
    )?;
    match s.call_durations {
        Some(c) => {
            let sums = PyDict::new(py);
            sums.set_item("successful", secs(c.successful))?;
            sums.set_item("failed", secs(c.failed))?;
            sums.set_item("ignored", secs(c.ignored))?;
            d.set_item("call_durations", sums)?
        }
        None => d.set_item("call_durations", py.None())?,
    }
    Ok(d)
}
