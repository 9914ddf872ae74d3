//! Keyword options (`CircuitBreaker(fail_max=5, reset_timeout="30s", ...)`) turned into
//! the core's [`Config`] directly, and config mappings (`from_config({...})`) read in the
//! schema of its files.
//!
//! Types are checked here (a `TypeError` names the option); ranges are the core's
//! ([`Config::validate`]), whose error is re-worded to name the option the user wrote.
//! A number no config field can hold is sent on as a stand-in the core refuses (an
//! integer past `u32` becomes `u32::MAX`, a negative one 0; every count option's range
//! excludes both), so the error still shows the value given and the range allowed.

use crate::duration::duration_arg;
use crate::errors::config_error_for;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};
use std::time::Duration;
use tripgate::{
    AdaptiveThreshold, AntiThrash, Config, FailureKind, PercentileRule, Quantile, SlowStart, State,
    WindowConfig, MAX_DURATION,
};

/// Each keyword option and the config field it sets (dotted, as in config files).
pub(crate) const OPTIONS: &[(&str, &str)] = &[
    ("fail_max", "consecutive_failures"),
    ("failure_rate_threshold", "failure_rate_threshold"),
    ("minimum_calls", "minimum_calls"),
    ("window_size", "window.size"),
    ("window_duration", "window.duration"),
    ("window_buckets", "window.buckets"),
    ("slow_call_duration", "slow_call_duration"),
    ("slow_call_rate_threshold", "slow_call_rate_threshold"),
    ("latency_percentile", "latency_percentile"),
    ("failure_weights", "failure_weights"),
    ("reset_timeout", "open.duration"),
    ("max_reset_timeout", "open.max_duration"),
    ("backoff_multiplier", "open.multiplier"),
    ("jitter", "open.jitter"),
    ("backoff_decay", "open.decay_after"),
    ("success_threshold", "half_open.success_threshold"),
    ("half_open_permits", "half_open.permits"),
    ("half_open_max_wait", "half_open.max_wait"),
    ("slow_start", "slow_start"),
    ("track_latency", "track_latency"),
    ("histogram_precision", "histogram_precision"),
    ("track_in_flight", "track_in_flight"),
    ("seed", "seed"),
    ("adaptive_threshold", "adaptive_threshold"),
    ("anti_thrash", "anti_thrash"),
    ("initial_state", "initial_state"),
    ("call_timeout", "call_timeout"),
];

/// Config fields whose values are durations, for config mappings (numbers there are
/// seconds).
const DURATION_FIELDS: &[&str] = &[
    "window.duration",
    "slow_call_duration",
    "latency_percentile.limit",
    "open.duration",
    "open.max_duration",
    "open.decay_after",
    "half_open.max_wait",
    "slow_start.duration",
    "anti_thrash.min_closed",
    "anti_thrash.min_open",
    "call_timeout",
];

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// An `int` option as a `u32`, or a stand-in outside every count option's range.
fn count(option: &str, v: &Bound<'_, PyAny>) -> PyResult<u32> {
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{option} must be an int, got {}",
            type_name(v)
        )));
    }
    Ok(match v.extract::<u32>() {
        Ok(n) => n,
        Err(_) if v.lt(0)? => 0,
        Err(_) => u32::MAX,
    })
}

/// A number option as an `f64` (NaN and infinities go on to the core, which refuses
/// them by name).
fn number(option: &str, v: &Bound<'_, PyAny>) -> PyResult<f64> {
    if v.is_instance_of::<PyBool>()
        || !(v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>())
    {
        return Err(PyTypeError::new_err(format!(
            "{option} must be a number, got {}",
            type_name(v)
        )));
    }
    // An int too large for a float is an infinity, refused by every range.
    Ok(v.extract::<f64>().unwrap_or(f64::INFINITY))
}

fn flag(option: &str, v: &Bound<'_, PyAny>) -> PyResult<bool> {
    if !v.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{option} must be a bool, got {}",
            type_name(v)
        )));
    }
    v.extract()
}

fn duration(option: &str, v: &Bound<'_, PyAny>) -> PyResult<Duration> {
    duration_arg(option, v, MAX_DURATION)
}

/// A 2-sequence option such as `slow_start=(0.2, 30)`.
fn pair<'py>(
    option: &str,
    v: &Bound<'py, PyAny>,
    shape: &str,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let items = if v.is_instance_of::<PyTuple>() || v.is_instance_of::<PyList>() {
        v.try_iter()?.collect::<PyResult<Vec<_>>>()?
    } else {
        Vec::new()
    };
    match <[_; 2]>::try_from(items) {
        Ok([a, b]) => Ok((a, b)),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{option} must be a pair {shape}, got {}",
            v.repr()?
        ))),
    }
}

fn failure_kind(option: &str, key: &Bound<'_, PyAny>) -> PyResult<FailureKind> {
    let name = key
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("{option} keys must be failure kinds")))?
        .to_str()?
        .to_owned();
    FailureKind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "invalid {option} key {name:?}: allowed timeout, connection, server_error, rejected, other"
            ))
        })
}

/// The value of `key` in `opts`, if given.
fn get<'py>(opts: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    opts.get_item(key)
}

/// `base` with the keyword options in `opts` applied. `at_construction`: a `fail_max`
/// given without `failure_rate_threshold` switches the failure-rate rule off (a
/// pybreaker-style breaker).
pub(crate) fn apply_options(
    base: Config,
    opts: &Bound<'_, PyDict>,
    at_construction: bool,
) -> PyResult<Config> {
    for key in opts.keys() {
        let key = key.str()?;
        let key = key.to_str()?;
        if !OPTIONS.iter().any(|(o, _)| *o == key) {
            let allowed: Vec<&str> = OPTIONS.iter().map(|(o, _)| *o).collect();
            return Err(PyTypeError::new_err(format!(
                "unknown option {key}: allowed {}",
                allowed.join(", ")
            )));
        }
    }
    let mut c = base;
    if let Some(v) = get(opts, "fail_max")? {
        c.consecutive_failures = if v.is_none() {
            None
        } else {
            if at_construction && get(opts, "failure_rate_threshold")?.is_none() {
                c.failure_rate_threshold = None;
            }
            Some(count("fail_max", &v)?)
        };
    }
    if let Some(v) = get(opts, "failure_rate_threshold")? {
        c.failure_rate_threshold = optional(&v, |v| number("failure_rate_threshold", v))?;
    }
    if let Some(v) = get(opts, "minimum_calls")? {
        c.minimum_calls = count("minimum_calls", &v)?;
    }
    apply_window(&mut c, opts)?;
    if let Some(v) = get(opts, "slow_call_duration")? {
        c.slow_call_duration = duration("slow_call_duration", &v)?;
    }
    if let Some(v) = get(opts, "slow_call_rate_threshold")? {
        c.slow_call_rate_threshold = optional(&v, |v| number("slow_call_rate_threshold", v))?;
    }
    if let Some(v) = get(opts, "latency_percentile")? {
        c.latency_percentile = optional(&v, |v| {
            let (q, limit) = pair(
                "latency_percentile",
                v,
                "(quantile, limit), e.g. (0.99, 0.25) or (\"p99\", \"250ms\")",
            )?;
            let quantile = match q.cast::<PyString>() {
                Ok(name) => Quantile::from_name(name.to_str()?).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "invalid latency_percentile quantile = {:?}: allowed p50, p90, p95, p99, p999 or a number in (0, 1)",
                        name.to_str().unwrap_or("?")
                    ))
                })?,
                Err(_) => Quantile(number("latency_percentile", &q)?),
            };
            Ok(PercentileRule {
                quantile,
                limit: duration("latency_percentile", &limit)?,
            })
        })?;
    }
    if let Some(v) = get(opts, "failure_weights")? {
        let weights = v.cast::<PyMapping>().map_err(|_| {
            PyTypeError::new_err("failure_weights must be a mapping of failure kind to weight")
        })?;
        for item in weights.items()?.try_iter()? {
            let (kind, w): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
            let kind = failure_kind("failure_weights", &kind)?;
            let w = number(&format!("failure_weights[{:?}]", kind.name()), &w)?;
            c.failure_weights.set(kind, w);
        }
    }
    if let Some(v) = get(opts, "reset_timeout")? {
        c.open.duration = duration("reset_timeout", &v)?;
        if get(opts, "max_reset_timeout")?.is_none() && c.open.max_duration < c.open.duration {
            c.open.max_duration = c.open.duration;
        }
    }
    if let Some(v) = get(opts, "max_reset_timeout")? {
        c.open.max_duration = duration("max_reset_timeout", &v)?;
    }
    if let Some(v) = get(opts, "backoff_multiplier")? {
        c.open.multiplier = number("backoff_multiplier", &v)?;
    }
    if let Some(v) = get(opts, "jitter")? {
        c.open.jitter = number("jitter", &v)?;
    }
    if let Some(v) = get(opts, "backoff_decay")? {
        c.open.decay_after = duration("backoff_decay", &v)?;
    }
    if let Some(v) = get(opts, "success_threshold")? {
        c.half_open.success_threshold = count("success_threshold", &v)?;
    }
    if let Some(v) = get(opts, "half_open_permits")? {
        c.half_open.permits = count("half_open_permits", &v)?;
    }
    if let Some(v) = get(opts, "half_open_max_wait")? {
        c.half_open.max_wait = duration("half_open_max_wait", &v)?;
    }
    if let Some(v) = get(opts, "slow_start")? {
        c.slow_start = optional(&v, |v| {
            let (f, d) = pair("slow_start", v, "(initial_fraction, duration)")?;
            Ok(SlowStart {
                initial_fraction: number("slow_start", &f)?,
                duration: duration("slow_start", &d)?,
            })
        })?;
    }
    if let Some(v) = get(opts, "track_latency")? {
        c.track_latency = flag("track_latency", &v)?;
    }
    if let Some(v) = get(opts, "track_in_flight")? {
        c.track_in_flight = flag("track_in_flight", &v)?;
    }
    if let Some(v) = get(opts, "histogram_precision")? {
        c.histogram_precision = u8::try_from(count("histogram_precision", &v)?).unwrap_or(u8::MAX);
    }
    if let Some(v) = get(opts, "seed")? {
        c.seed = optional(&v, |v| {
            if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
                return Err(PyTypeError::new_err(format!(
                    "seed must be an int, got {}",
                    type_name(v)
                )));
            }
            v.extract::<u64>()
                .ok()
                .filter(|s| *s <= i64::MAX as u64)
                .ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "invalid seed = {}: allowed None or an int in 0..2**63",
                        v.repr().map(|r| r.to_string()).unwrap_or_default()
                    ))
                })
        })?;
    }
    if let Some(v) = get(opts, "adaptive_threshold")? {
        c.adaptive_threshold =
            if v.is_none() || v.is(PyBool::new(v.py(), false)) {
                None
            } else if v.is(PyBool::new(v.py(), true)) {
                Some(AdaptiveThreshold::default())
            } else if v.cast::<PyMapping>().is_ok() {
                let value = to_json(&v, "adaptive_threshold")?;
                Some(serde_json::from_value(value).map_err(|e| {
                    PyValueError::new_err(format!("invalid adaptive_threshold: {e}"))
                })?)
            } else {
                return Err(PyTypeError::new_err(
                "adaptive_threshold must be True (the default bounds), None, or a mapping of its \
                 options (high_volume, high_volume_factor, low_volume, low_volume_factor, \
                 success_streak, success_streak_factor, failure_streak, failure_streak_factor, \
                 min, max)",
            ));
            };
    }
    if let Some(v) = get(opts, "anti_thrash")? {
        c.anti_thrash = optional(&v, |v| {
            let (closed, open) = pair("anti_thrash", v, "(min_closed, min_open)")?;
            Ok(AntiThrash {
                min_closed: duration("anti_thrash", &closed)?,
                min_open: duration("anti_thrash", &open)?,
            })
        })?;
    }
    if let Some(v) = get(opts, "call_timeout")? {
        c.call_timeout = optional(&v, |v| duration("call_timeout", v))?;
    }
    if let Some(v) = get(opts, "initial_state")? {
        if !at_construction {
            return Err(PyTypeError::new_err(
                "initial_state can only be chosen at construction",
            ));
        }
        c.initial_state = state("initial_state", &v)?;
    }
    c.validate()
        .map_err(|e| config_error_for(opts.py(), &e, Some(opts)))?;
    Ok(c)
}

/// A state option by its name (`tripgate.State` members are their names).
fn state(option: &str, v: &Bound<'_, PyAny>) -> PyResult<State> {
    let names = || State::ALL.map(State::name).join(", ");
    let name = v.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{option} must be a state name ({}), got {}",
            names(),
            type_name(v)
        ))
    })?;
    let name = name.to_str()?;
    State::ALL
        .into_iter()
        .find(|s| s.name() == name)
        .ok_or_else(|| {
            PyValueError::new_err(format!("invalid {option} = {name:?}: allowed {}", names()))
        })
}

/// `None` for a `None` value, else `f(v)`.
fn optional<'py, T>(
    v: &Bound<'py, PyAny>,
    f: impl FnOnce(&Bound<'py, PyAny>) -> PyResult<T>,
) -> PyResult<Option<T>> {
    if v.is_none() {
        Ok(None)
    } else {
        f(v).map(Some)
    }
}

fn apply_window(c: &mut Config, opts: &Bound<'_, PyDict>) -> PyResult<()> {
    let size = get(opts, "window_size")?;
    let span = get(opts, "window_duration")?;
    let buckets = match get(opts, "window_buckets")? {
        None => None,
        Some(b) => Some(optional(&b, |b| count("window_buckets", b))?),
    };
    c.window = match (size, span) {
        (Some(_), Some(_)) => {
            return Err(PyTypeError::new_err(
                "give window_size (a count window) or window_duration (a time window), not both",
            ))
        }
        (Some(size), None) => WindowConfig::Count {
            size: count("window_size", &size)?,
            buckets: buckets.flatten(),
        },
        (None, Some(span)) => WindowConfig::Time {
            duration: duration("window_duration", &span)?,
            buckets: buckets.flatten(),
        },
        (None, None) => match (c.window, buckets) {
            (w, None) => w,
            (WindowConfig::Count { size, .. }, Some(b)) => WindowConfig::Count { size, buckets: b },
            (WindowConfig::Time { duration, .. }, Some(b)) => WindowConfig::Time {
                duration,
                buckets: b,
            },
        },
    };
    Ok(())
}

/// A config mapping (the schema of config files; numbers at duration fields are
/// seconds) as the core's [`Config`].
pub(crate) fn config_from_mapping(mapping: &Bound<'_, PyAny>) -> PyResult<Config> {
    let value = to_json(mapping, "")?;
    let config: Config = serde_json::from_value(value)
        .map_err(|e| PyValueError::new_err(format!("invalid config: {e}")))?;
    config
        .validate()
        .map_err(|e| config_error_for(mapping.py(), &e, None))?;
    Ok(config)
}

/// A Python value as JSON for the core's deserializer; at a duration field (by its
/// dotted `path`) any duration form is turned into exact duration text.
fn to_json(v: &Bound<'_, PyAny>, path: &str) -> PyResult<serde_json::Value> {
    use serde_json::Value;
    if DURATION_FIELDS.contains(&path) && !v.is_instance_of::<PyString>() && !v.is_none() {
        let d = duration(path, v)?;
        return Ok(Value::String(humantime::format_duration(d).to_string()));
    }
    if v.is_none() {
        Ok(Value::Null)
    } else if v.is_instance_of::<PyBool>() {
        Ok(Value::Bool(v.extract()?))
    } else if v.is_instance_of::<PyInt>() {
        match v.extract::<i64>() {
            Ok(n) => Ok(Value::from(n)),
            Err(_) => Ok(Value::from(v.extract::<u64>().unwrap_or(u64::MAX))),
        }
    } else if v.is_instance_of::<PyFloat>() {
        let x: f64 = v.extract()?;
        serde_json::Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| {
                PyValueError::new_err(format!("invalid {path} = {x}: allowed a finite number"))
            })
    } else if let Ok(s) = v.cast::<PyString>() {
        Ok(Value::String(s.to_str()?.to_owned()))
    } else if let Ok(m) = v.cast::<PyMapping>() {
        let mut out = serde_json::Map::new();
        for item in m.items()?.try_iter()? {
            let (k, val): (String, Bound<'_, PyAny>) = item?.extract()?;
            let sub = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            out.insert(k, to_json(&val, &sub)?);
        }
        Ok(Value::Object(out))
    } else if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        v.try_iter()?
            .map(|item| to_json(&item?, path))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array)
    } else {
        Err(PyTypeError::new_err(format!(
            "config value at {path} must be a number, text, bool, list or mapping, got {}",
            type_name(v)
        )))
    }
}
