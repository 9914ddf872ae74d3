//! Configs at the boundary: parsing TOML/JSON text and the tier presets.

use crate::errors::config_error;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use tripgate::{Config, Tier};

/// Parses and validates config text; `None` is the standard tier.
pub(crate) fn parse_config(py: Python<'_>, text: Option<&str>) -> PyResult<Config> {
    match text {
        None => Ok(Config::default()),
        Some(t) => Config::from_str_auto(t).map_err(|e| config_error(py, &e)),
    }
}

/// The preset config of a tier (`critical`, `standard` or `non_critical`) as JSON.
#[pyfunction]
pub(crate) fn preset_json(tier: &str) -> PyResult<String> {
    let tier = Tier::from_name(tier).ok_or_else(|| {
        PyValueError::new_err(format!(
            "invalid tier = {tier:?}: allowed critical, standard, non_critical"
        ))
    })?;
    serde_json::to_string(&Config::preset(tier)).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Parses and validates a config (TOML, or JSON when it starts with `{`); returns it as
/// JSON with every default filled in.
#[pyfunction]
pub(crate) fn normalize_config(py: Python<'_>, text: &str) -> PyResult<String> {
    let config = Config::from_str_auto(text).map_err(|e| config_error(py, &e))?;
    serde_json::to_string(&config).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}
