//! `tripgate._core`: the thin pyo3 layer under the pure-Python `tripgate` package.
//!
//! It translates types and errors and nothing more: every state, rule and counter lives
//! in the `tripgate` crate. Python code (`python/tripgate/__init__.py`) owns the
//! ergonomic API (keyword options, exceptions, listeners, async support) and subclasses
//! `breaker::Breaker` so that the hot paths (`with breaker:`, `breaker.call(...)`, a decorated
//! sync function) run here without a Python frame of their own.
//!
//! # Outcome codes
//!
//! The Python layer classifies exceptions and results (`_classify_error`,
//! `_classify_result`) and answers with a small integer, one of the `OUTCOME_*`
//! constants exported by the module.
//!
//! # Thread safety
//!
//! Every class is `frozen` and holds only `Sync` data (the core breaker is lock-free;
//! a permit is taken out of its cell exactly once), so the module declares itself safe
//! for free-threaded CPython. No lock is held while user code runs.
//!
//! # Modules
//!
//! `breaker` (the engine and its guarded call), `permit` (a permit answered once),
//! `held` (what a `with` statement holds), `guarded` (the decorator), `config`, `options`
//! (keyword options to the core's config), `duration` (durations users pass), `errors`, `outcome` (outcome codes, state
//! names), `clock` (and the system clock's upkeep thread), `listeners`, `metrics`, `bulkhead`, `fleet` (the fleet crate's
//! `Fleet`, replicas sharing what their breakers learn).

mod breaker;
mod bulkhead;
mod clock;
mod config;
mod duration;
mod errors;
mod fleet;
mod guarded;
mod held;
mod listeners;
mod metrics;
mod operations;
mod options;
mod outcome;
mod permit;
mod with_methods;

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tripgate::{FailureKind, Reason, State};

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<breaker::Breaker>()?;
    m.add_class::<with_methods::Gate>()?;
    m.add_class::<with_methods::WithMethod>()?;
    m.add_class::<permit::Permit>()?;
    m.add_class::<guarded::Guarded>()?;
    m.add_class::<clock::ManualClock>()?;
    m.add_class::<bulkhead::Bulkhead>()?;
    m.add_class::<fleet::Fleet>()?;
    m.add_function(wrap_pyfunction!(fleet::close_fleets, m)?)?;
    m.add_class::<bulkhead::BulkheadSlot>()?;
    m.add_function(wrap_pyfunction!(bulkhead::set_bulkhead_error_class, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::breaker_latency, m)?)?;
    m.add_function(wrap_pyfunction!(errors::set_error_classes, m)?)?;
    m.add_function(wrap_pyfunction!(outcome::http_status_outcome, m)?)?;
    m.add_class::<operations::PyTransitionCounts>()?;
    m.add_function(wrap_pyfunction!(operations::exposition, m)?)?;
    m.add_function(wrap_pyfunction!(operations::readiness, m)?)?;
    m.add("OUTCOME_SUCCESS", outcome::OUTCOME_SUCCESS)?;
    m.add("OUTCOME_IGNORED", outcome::OUTCOME_IGNORED)?;
    m.add("OUTCOME_RELEASE", outcome::OUTCOME_RELEASE)?;
    m.add("OUTCOME_FAILURE", outcome::OUTCOME_FAILURE)?;
    m.add(
        "FAILURE_KINDS",
        PyTuple::new(m.py(), FailureKind::ALL.map(FailureKind::name))?,
    )?;
    m.add("STATES", PyTuple::new(m.py(), State::ALL.map(State::name))?)?;
    m.add("REASONS", PyTuple::new(m.py(), Reason::NAMES)?)?;
    m.add(
        "OPTIONS",
        PyTuple::new(m.py(), options::OPTIONS.iter().map(|(option, _)| *option))?,
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    clock::register_fork_hook(m)?;
    Ok(())
}
