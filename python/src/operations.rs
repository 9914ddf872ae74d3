//! Operations over Python breakers: the Prometheus exposition and the readiness rule
//! of `tripgate-ops`, the crate that owns them, so Python services scrape and probe the
//! same families, labels and decisions as Rust ones. `tripgate.prometheus` holds no
//! rule of its own.

use crate::breaker::{Breaker, Shared};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::Arc;
use tripgate::ListenerId;
use tripgate_ops::health::{self, HealthPolicy};
use tripgate_ops::registry::{NamedSnapshot, NamedState, TransitionCounts};

/// A breaker's transitions by from and to, counted from when it is attached (the
/// `tripgate_circuitbreaker_transitions_total` family). Its listener leaves the breaker
/// when it is dropped.
#[pyclass(module = "tripgate._core", name = "TransitionCounts", frozen)]
pub(crate) struct PyTransitionCounts {
    counts: Arc<TransitionCounts>,
    // The engine, not the Python breaker: `tripgate.prometheus` keeps these in a
    // dictionary keyed weakly by the breaker, which a strong reference would pin.
    engine: Arc<Shared>,
    listener: ListenerId,
}

#[pymethods]
impl PyTransitionCounts {
    /// Counts for `breaker`, from now on.
    #[new]
    fn new(breaker: &Bound<'_, Breaker>) -> Self {
        let (counts, listener) = TransitionCounts::attach_removable(&breaker.get().inner);
        PyTransitionCounts {
            counts,
            engine: breaker.get().shared(),
            listener,
        }
    }
}

impl Drop for PyTransitionCounts {
    fn drop(&mut self) {
        self.engine.inner.remove_listener(self.listener);
    }
}

/// The Prometheus text exposition (format 0.0.4) of `(name, breaker, critical,
/// transition counts)` entries, rendered by `tripgate-ops`.
#[pyfunction(name = "_exposition")]
pub(crate) fn exposition(
    py: Python<'_>,
    entries: Vec<(
        String,
        Bound<'_, Breaker>,
        bool,
        Bound<'_, PyTransitionCounts>,
    )>,
) -> String {
    let mut snaps: Vec<NamedSnapshot> = entries
        .iter()
        .map(|(name, breaker, critical, counts)| {
            let engine = &breaker.get().inner;
            NamedSnapshot {
                name: name.clone(),
                critical: *critical,
                snapshot: engine.snapshot(),
                config: engine.config(),
                transitions: Arc::clone(&counts.get().counts),
            }
        })
        .collect();
    snaps.sort_by(|a, b| a.name.cmp(&b.name));
    py.detach(|| tripgate_ops::exposition::render_snapshots(&snaps))
}

/// Readiness of `(name, breaker, critical)` entries by `tripgate-ops`' rule: the HTTP
/// status (200 or 503) and the JSON body as text.
#[pyfunction(name = "_readiness")]
pub(crate) fn readiness(
    entries: Vec<(String, Bound<'_, Breaker>, bool)>,
    open_share: f64,
    critical_opens_fail: bool,
) -> PyResult<(u16, String)> {
    if !(open_share.is_finite() && open_share > 0.0 && open_share <= 1.0) {
        return Err(PyValueError::new_err(format!(
            "invalid open_share = {open_share}: allowed 0 < open_share <= 1"
        )));
    }
    let mut states: Vec<NamedState> = entries
        .iter()
        .map(|(name, breaker, critical)| {
            let engine = &breaker.get().inner;
            NamedState {
                name: name.clone(),
                critical: *critical,
                state: engine.state(),
                retry_after: engine.retry_after(),
            }
        })
        .collect();
    states.sort_by(|a, b| a.name.cmp(&b.name));
    let report = health::readiness_of(
        &states,
        &HealthPolicy {
            open_share,
            critical_opens_fail,
        },
    );
    Ok((report.status, report.body_text()))
}
