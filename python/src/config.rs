//! Configs at the boundary: where a breaker's config comes from (config text, a config
//! mapping, or a tier preset with keyword options).

use crate::errors::config_error;
use crate::options::{apply_options, config_from_mapping};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyMapping, PyString};
use tripgate::{Config, Tier};

/// The preset of the tier named `name`.
fn preset(name: &str) -> PyResult<Config> {
    Tier::from_name(name).map(Config::preset).ok_or_else(|| {
        PyValueError::new_err(format!(
            "invalid tier = {name:?}: allowed critical, standard, non_critical"
        ))
    })
}

/// A breaker's config: from `source` (TOML/JSON text or a config mapping) or else the
/// `tier` preset, with the keyword `options` applied.
pub(crate) fn build_config(
    source: Option<&Bound<'_, PyAny>>,
    tier: &str,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Config> {
    let base = match source {
        None => preset(tier)?,
        Some(s) => {
            if let Ok(text) = s.cast::<PyString>() {
                Config::from_str_auto(text.to_str()?).map_err(|e| config_error(s.py(), &e))?
            } else if s.cast::<PyMapping>().is_ok() {
                config_from_mapping(s)?
            } else {
                return Err(PyTypeError::new_err(
                    "config must be TOML/JSON text or a mapping",
                ));
            }
        }
    };
    match options {
        Some(opts) => apply_options(base, opts, true),
        None => Ok(base),
    }
}
