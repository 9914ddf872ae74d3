//! `tripgate._core.Fleet`: the fleet crate's [`tripgate_fleet::Fleet`] for Python.
//!
//! Translation only. Keyword arguments (or a mapping) become a JSON value in the schema
//! of [`FleetConfig`] and are deserialized by its own serde impl; ranges are checked by
//! [`FleetConfig::validate`] (inside `Fleet::start`), whose error names the field and is
//! raised as `tripgate.ConfigError`. Types are checked here (a `TypeError` names the
//! field). Every rule (publishing, quorum, holds, the probe lease) is the fleet
//! crate's; a breaker is handed to it as the engine it wraps (see the `LocalBreaker`
//! impl below, which only forwards to the engine's own impl).
//!
//! # Waiting and the GIL
//!
//! Everything that can wait (`sync`, `close`, which joins the fleet's threads, `attach`
//! and `detach`, which queue a message to the worker) runs with the GIL released: the
//! fleet's worker acts on breakers (hold, release) and a breaker's transition listeners
//! take the GIL, so holding it while waiting on the worker could deadlock. A fleet
//! dropped without `close()` is stopped on a thread of its own, never inside the
//! garbage collector; `_close_fleets` (registered with `atexit` by the package) closes
//! the fleets still running when the interpreter exits, so their opinions are
//! withdrawn and their holds released while Python still runs.

use crate::breaker::{Breaker, Shared};
use crate::duration::{duration_arg, DURATION_FORMS};
use crate::errors::{fleet_config_error, named_config_error};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyMapping, PyString};
use serde_json::{Map, Number, Value};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;
use tripgate::{ListenerId, Transition};
use tripgate_fleet::{replica_id, FleetConfig, FleetMetrics, LocalBreaker, LocalView};

/// What a config field holds, for the translation of Python values to the JSON
/// `FleetConfig` deserializes.
#[derive(Clone, Copy)]
enum Kind {
    /// A `str`.
    Text,
    /// A `str` whose value is never shown (not even in a type error).
    Secret,
    /// A duration as the rest of the API takes it; sent on as humantime text.
    Duration,
    /// A non-negative `int` held in 32 bits by the config.
    Count32,
    /// A non-negative `int`.
    Count,
    /// A number (`float` or `int`).
    Number,
    /// `quorum`: an `int` (a count), a `float` (a share), or `{"count": n}` /
    /// `{"share": x}`.
    Quorum,
    /// A mapping with these fields (`true`: required).
    Table(&'static [(&'static str, Kind, bool)]),
    /// `None` (the feature off) or a mapping with these fields.
    OptionalTable(&'static [(&'static str, Kind, bool)]),
}

const VETO: &[(&str, Kind, bool)] = &[
    ("minimum_calls", Kind::Count, true),
    ("max_failure_rate", Kind::Number, true),
];

const FLEET_RATE: &[(&str, Kind, bool)] = &[
    ("minimum_calls", Kind::Count, true),
    ("failure_rate", Kind::Number, true),
    ("open_duration", Kind::Duration, true),
];

const QUORUM: &[(&str, Kind, bool)] = &[
    ("count", Kind::Count32, false),
    ("share", Kind::Number, false),
];

/// `store.*`, also accepted at the top level (`url=...`, `password=...`).
const STORE: &[(&str, Kind, bool)] = &[
    ("url", Kind::Text, true),
    ("username", Kind::Text, false),
    ("password", Kind::Secret, false),
    ("password_file", Kind::Text, false),
    ("password_env", Kind::Text, false),
    ("tls_ca_file", Kind::Text, false),
    ("tls_cert_file", Kind::Text, false),
    ("tls_key_file", Kind::Text, false),
    ("connect_timeout", Kind::Duration, false),
    ("io_timeout", Kind::Duration, false),
    ("reconnect_min", Kind::Duration, false),
    ("reconnect_max", Kind::Duration, false),
];

/// The top level of `FleetConfig` (without `store`, handled apart).
const TOP: &[(&str, Kind, bool)] = &[
    ("service", Kind::Text, true),
    ("environment", Kind::Text, true),
    ("replica", Kind::Text, false),
    ("heartbeat", Kind::Duration, false),
    ("quorum", Kind::Quorum, false),
    ("veto", Kind::OptionalTable(VETO), false),
    ("fleet_rate", Kind::OptionalTable(FLEET_RATE), false),
    ("probe_lease", Kind::Duration, false),
    ("max_replicas", Kind::Count32, false),
];

/// Durations are taken up to this (a century) and sent on for the fleet's own range
/// check, so its error shows the range it allows.
const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 86_400);

fn names(fields: &[(&str, Kind, bool)]) -> String {
    fields
        .iter()
        .map(|(n, _, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

fn type_error(field: &str, expected: &str, value: &Bound<'_, PyAny>) -> PyErr {
    let got = value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    PyTypeError::new_err(format!(
        "fleet config: {field} must be {expected}, got {got}"
    ))
}

/// A non-negative `int` (not a `bool`) as `u64`; past `u64::MAX` it is sent on as
/// `u64::MAX`, past `max` as `max` (a stand-in the fleet's range check refuses, so its
/// error names the range).
fn count(py: Python<'_>, field: &str, value: &Bound<'_, PyAny>, max: u64) -> PyResult<Value> {
    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
        return Err(type_error(field, "an int", value));
    }
    if value.lt(0)? {
        return Err(named_config_error(
            py,
            field,
            format!("fleet config: {field}: must be a non-negative integer (got {value})"),
        ));
    }
    let n = value.extract::<u64>().unwrap_or(u64::MAX).min(max);
    Ok(Value::Number(n.into()))
}

fn translate(py: Python<'_>, field: &str, kind: Kind, value: &Bound<'_, PyAny>) -> PyResult<Value> {
    match kind {
        Kind::Text | Kind::Secret => match value.cast::<PyString>() {
            Ok(s) => Ok(Value::String(s.to_str()?.to_owned())),
            Err(_) => Err(type_error(field, "a str", value)),
        },
        Kind::Duration => {
            let d = duration_arg(field, value, MAX_DURATION).map_err(|e| {
                if e.is_instance_of::<PyTypeError>(py) {
                    e
                } else {
                    named_config_error(
                        py,
                        field,
                        format!("fleet config: {field}: not a duration of {DURATION_FORMS} (got {value})"),
                    )
                }
            })?;
            Ok(Value::String(humantime::format_duration(d).to_string()))
        }
        Kind::Count32 => count(py, field, value, u64::from(u32::MAX)),
        Kind::Count => count(py, field, value, u64::MAX),
        Kind::Number => {
            if value.is_instance_of::<PyBool>()
                || !(value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>())
            {
                return Err(type_error(field, "a number", value));
            }
            let x: f64 = value.extract()?;
            Number::from_f64(x).map(Value::Number).ok_or_else(|| {
                named_config_error(
                    py,
                    field,
                    format!("fleet config: {field}: must be a finite number (got {x})"),
                )
            })
        }
        Kind::Quorum => {
            if value.is_instance_of::<PyBool>() {
                Err(type_error(
                    field,
                    "an int (a count), a float (a share) or a dict",
                    value,
                ))
            } else if value.is_instance_of::<PyInt>() {
                let mut m = Map::new();
                m.insert(
                    "count".into(),
                    translate(py, "quorum.count", Kind::Count32, value)?,
                );
                Ok(Value::Object(m))
            } else if value.is_instance_of::<PyFloat>() {
                let mut m = Map::new();
                m.insert(
                    "share".into(),
                    translate(py, "quorum.share", Kind::Number, value)?,
                );
                Ok(Value::Object(m))
            } else if value.cast::<PyMapping>().is_ok() {
                let table = translate(py, field, Kind::Table(QUORUM), value)?;
                if table.as_object().is_none_or(|m| m.len() != 1) {
                    return Err(named_config_error(
                        py,
                        field,
                        "fleet config: quorum: give exactly one of count (1 to 10000) or \
                         share (0 < share <= 1)"
                            .to_string(),
                    ));
                }
                Ok(table)
            } else {
                Err(type_error(
                    field,
                    "an int (a count), a float (a share) or a dict",
                    value,
                ))
            }
        }
        Kind::OptionalTable(fields) => {
            if value.is_none() {
                Ok(Value::Null)
            } else {
                translate(py, field, Kind::Table(fields), value)
            }
        }
        Kind::Table(fields) => {
            let Ok(mapping) = value.cast::<PyMapping>() else {
                return Err(type_error(field, "a dict", value));
            };
            let mut out = Map::new();
            for item in mapping.items()?.iter() {
                let (key, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
                let key: String = key
                    .extract()
                    .map_err(|_| type_error(&format!("{field} keys"), "str", &key))?;
                let path = format!("{field}.{key}");
                let Some((_, kind, _)) = fields.iter().find(|(n, _, _)| *n == key) else {
                    return Err(unknown(py, &path, fields));
                };
                out.insert(key, translate(py, &path, *kind, &v)?);
            }
            require(py, field, fields, &out)?;
            Ok(Value::Object(out))
        }
    }
}

fn unknown(py: Python<'_>, path: &str, fields: &[(&str, Kind, bool)]) -> PyErr {
    named_config_error(
        py,
        path,
        format!(
            "fleet config: {path}: unknown field (allowed: {})",
            names(fields)
        ),
    )
}

fn require(
    py: Python<'_>,
    table: &str,
    fields: &[(&str, Kind, bool)],
    got: &Map<String, Value>,
) -> PyResult<()> {
    for (name, _, required) in fields {
        if *required && !got.contains_key(*name) {
            let path = if table.is_empty() {
                (*name).to_string()
            } else {
                format!("{table}.{name}")
            };
            return Err(named_config_error(
                py,
                &path,
                format!("fleet config: {path}: required"),
            ));
        }
    }
    Ok(())
}

/// This process's replica id: the fleet crate's [`replica_id`] of the host name.
fn default_replica(py: Python<'_>) -> PyResult<String> {
    let host: String = py
        .import("socket")?
        .call_method0("gethostname")?
        .extract()?;
    Ok(replica_id(&host))
}

/// The `FleetConfig` of a mapping and keyword arguments (the keywords win). Store
/// fields may be given at the top level or under `store`, not both.
fn build_config(
    py: Python<'_>,
    config: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<FleetConfig> {
    let merged = PyDict::new(py);
    if let Some(c) = config {
        if c.cast::<PyMapping>().is_err() {
            return Err(type_error("config", "a dict", c));
        }
        merged.call_method1("update", (c,))?;
    }
    if let Some(k) = kwargs {
        merged.update(k.as_mapping())?;
    }
    let mut top = Map::new();
    let mut store = Map::new();
    for (key, value) in merged.iter() {
        let key: String = key
            .extract()
            .map_err(|_| type_error("config keys", "str", &key))?;
        if key == "store" {
            for (k, v) in store_table(py, &value)? {
                if store.insert(k.clone(), v).is_some() {
                    return Err(twice(py, &k));
                }
            }
        } else if let Some((_, kind, _)) = TOP.iter().find(|(n, _, _)| *n == key) {
            top.insert(key.clone(), translate(py, &key, *kind, &value)?);
        } else if let Some((_, kind, _)) = STORE.iter().find(|(n, _, _)| *n == key) {
            let v = translate(py, &format!("store.{key}"), *kind, &value)?;
            if store.insert(key.clone(), v).is_some() {
                return Err(twice(py, &key));
            }
        } else {
            return Err(named_config_error(
                py,
                &key,
                format!(
                    "fleet config: {key}: unknown field (allowed: {}, store, {})",
                    names(TOP),
                    names(STORE)
                ),
            ));
        }
    }
    if !top.contains_key("replica") {
        top.insert("replica".into(), Value::String(default_replica(py)?));
    }
    require(py, "", TOP, &top)?;
    require(py, "store", STORE, &store)?;
    top.insert("store".into(), Value::Object(store));
    serde_json::from_value(Value::Object(top))
        .map_err(|e| named_config_error(py, "fleet", format!("fleet config: {e}")))
}

/// `store` given as a mapping: its fields, translated.
fn store_table(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Map<String, Value>> {
    let Ok(mapping) = value.cast::<PyMapping>() else {
        return Err(type_error("store", "a dict", value));
    };
    let mut out = Map::new();
    for item in mapping.items()?.iter() {
        let (key, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        let key: String = key
            .extract()
            .map_err(|_| type_error("store keys", "str", &key))?;
        let path = format!("store.{key}");
        let Some((_, kind, _)) = STORE.iter().find(|(n, _, _)| *n == key) else {
            return Err(unknown(py, &path, STORE));
        };
        out.insert(key, translate(py, &path, *kind, &v)?);
    }
    Ok(out)
}

fn twice(py: Python<'_>, key: &str) -> PyErr {
    named_config_error(
        py,
        &format!("store.{key}"),
        format!("fleet config: store.{key}: given twice (at the top level and under store)"),
    )
}

/// The engine a Python breaker wraps, shared with the fleet: each method forwards to
/// the fleet crate's own impl for `tripgate::Breaker` (hold = `force_open`, release =
/// `reset` of a hold), so the binding adds no rule.
impl LocalBreaker for Shared {
    fn view(&self) -> LocalView {
        LocalBreaker::view(&self.inner)
    }

    fn is_held(&self, view: &LocalView) -> bool {
        LocalBreaker::is_held(&self.inner, view)
    }

    fn hold_open(&self) {
        LocalBreaker::hold_open(&self.inner)
    }

    fn release(&self) {
        LocalBreaker::release(&self.inner)
    }

    fn release_to_probe(&self) {
        LocalBreaker::release_to_probe(&self.inner)
    }

    fn watch(&self, f: Box<dyn Fn(&Transition) + Send + Sync>) -> ListenerId {
        LocalBreaker::watch(&self.inner, f)
    }

    fn unwatch(&self, id: ListenerId) {
        LocalBreaker::unwatch(&self.inner, id)
    }
}

/// A running fleet, or the figures it had when it was closed.
struct Slot {
    running: RwLock<Option<tripgate_fleet::Fleet>>,
    last: Mutex<FleetMetrics>,
}

impl Slot {
    /// Stops the fleet if it runs (joins its threads: call without the GIL).
    fn close(&self) {
        let fleet = self
            .running
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(f) = fleet {
            *self.last.lock().unwrap_or_else(|p| p.into_inner()) = f.metrics();
            f.stop();
        }
    }
}

/// Every fleet made in this process, weakly, for `_close_fleets`.
static LIVE: Mutex<Vec<Weak<Slot>>> = Mutex::new(Vec::new());

/// Closes every fleet still running (registered with `atexit` by the package).
#[pyfunction(name = "_close_fleets")]
pub(crate) fn close_fleets(py: Python<'_>) {
    let slots: Vec<Arc<Slot>> = {
        let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|w| w.strong_count() > 0);
        live.iter().filter_map(Weak::upgrade).collect()
    };
    py.detach(|| {
        for s in slots {
            s.close();
        }
    });
}

/// This replica's membership of its fleet (the Rust crate `tripgate-fleet`): replicas
/// of a service share what their breakers learn through Redis or Valkey.
///
/// `Fleet(config=None, /, **options)`: `config` is a dict in the schema of the fleet's
/// config (`fleet/README.md`, *Config*), `options` the same fields as keywords (they
/// win): `service`, `environment`, `replica` (default `{hostname}-{pid}`), `heartbeat`,
/// `quorum` (an int count, a float share, or `{"count": n}` / `{"share": x}`), `veto`
/// (a dict, or `None`: never), `fleet_rate`, `probe_lease`, `max_replicas`, and the
/// store's (top level or under `store`): `url` (`redis://host:port/db`, no
/// credentials), `username`, one of `password` / `password_file` / `password_env`,
/// `connect_timeout`, `io_timeout`, `reconnect_min`, `reconnect_max`. Durations are
/// seconds, text (`"250ms"`) or a `timedelta`. A value out of range raises
/// `tripgate.ConfigError` naming the field (checked by the fleet crate); a wrong type,
/// `TypeError`. The password is never shown.
///
/// Returns at once: the store is reached from the fleet's two threads, and no call
/// through an attached breaker ever waits on it. When at least `quorum` replicas report
/// a breaker open, the others hold theirs open (`forced_open`) unless their own busy,
/// healthy window vetoes it; one replica at a time probes the recovery; closing is
/// never shared. With the store unreachable, every breaker runs on its own.
///
/// `attach(name, breaker)`, `detach(name)`, `sync(timeout=5)` (one full round now,
/// waited for), `metrics()` (a dict), `prometheus()` (text), `close()` (also as a
/// context manager, by garbage collection, and at exit).
#[pyclass(module = "tripgate._core", frozen, weakref)]
pub(crate) struct Fleet {
    slot: Arc<Slot>,
    service: String,
    environment: String,
    replica: String,
    url: String,
}

fn closed() -> PyErr {
    PyRuntimeError::new_err("the fleet is closed")
}

impl Fleet {
    /// Runs `f` on the running fleet without the GIL.
    fn with_fleet<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&tripgate_fleet::Fleet) -> R + Send,
    ) -> PyResult<R> {
        let slot = &self.slot;
        py.detach(|| {
            let guard = slot.running.read().unwrap_or_else(|p| p.into_inner());
            guard.as_ref().map(f)
        })
        .ok_or_else(closed)
    }

    /// The figures, read without the GIL (the lock may wait for a `close`).
    fn figures(&self, py: Python<'_>) -> FleetMetrics {
        let slot = &self.slot;
        py.detach(|| {
            let guard = slot.running.read().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                Some(f) => f.metrics(),
                None => *slot.last.lock().unwrap_or_else(|p| p.into_inner()),
            }
        })
    }

    /// Whether the fleet is closed, read without the GIL.
    fn is_closed(&self, py: Python<'_>) -> bool {
        let slot = &self.slot;
        py.detach(|| {
            slot.running
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .is_none()
        })
    }
}

/// The engine of a `tripgate.CircuitBreaker`.
fn engine_of(breaker: &Bound<'_, PyAny>) -> PyResult<Arc<Shared>> {
    match breaker.cast::<Breaker>() {
        Ok(b) => Ok(b.get().shared()),
        Err(_) => Err(type_error(
            "breaker",
            "a tripgate.CircuitBreaker (a tripgate.pybreaker breaker shares through \
             CircuitRedisStorage)",
            breaker,
        )),
    }
}

#[pymethods]
impl Fleet {
    /// Starts this replica's fleet membership: `config` is a mapping in the schema of
    /// the fleet's config, keyword arguments are applied on top. Returns at once: the
    /// store is reached from the fleet's own threads.
    #[new]
    #[pyo3(signature = (config=None, /, **kwargs))]
    fn new(
        py: Python<'_>,
        config: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let config = build_config(py, config, kwargs)?;
        let (service, environment, replica, url) = (
            config.service.clone(),
            config.environment.clone(),
            config.replica.clone(),
            config.store.url.clone(),
        );
        let fleet = py
            .detach(|| tripgate_fleet::Fleet::start(config))
            .map_err(|e| fleet_config_error(py, &e))?;
        let slot = Arc::new(Slot {
            running: RwLock::new(Some(fleet)),
            last: Mutex::new(FleetMetrics::default()),
        });
        {
            let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
            live.retain(|w| w.strong_count() > 0);
            live.push(Arc::downgrade(&slot));
        }
        Ok(Fleet {
            slot,
            service,
            environment,
            replica,
            url,
        })
    }

    /// The service (first part of the key namespace).
    #[getter]
    fn service(&self) -> &str {
        &self.service
    }

    /// The environment (second part of the key namespace).
    #[getter]
    fn environment(&self) -> &str {
        &self.environment
    }

    /// This replica's id.
    #[getter]
    fn replica(&self) -> &str {
        &self.replica
    }

    /// The store's URL (never carries credentials).
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// Whether `close()` has run.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        self.is_closed(py)
    }

    /// Shares `breaker` with the fleet under `name` (the same name on every replica).
    fn attach(&self, py: Python<'_>, name: &str, breaker: &Bound<'_, PyAny>) -> PyResult<()> {
        let engine = engine_of(breaker)?;
        self.with_fleet(py, |f| f.attach(name, engine))?
            .map_err(|e| fleet_config_error(py, &e))
    }

    /// Stops sharing the breaker `name` (a hold of the fleet's is released). Returns
    /// whether it was attached.
    fn detach(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        self.with_fleet(py, |f| f.detach(name))
    }

    /// Runs one full round now and waits for it, at most `timeout`. Returns whether
    /// it finished in time.
    #[pyo3(signature = (timeout=None))]
    fn sync(&self, py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        let timeout = match timeout {
            Some(t) => duration_arg("timeout", t, Duration::from_secs(3600))?,
            None => Duration::from_secs(5),
        };
        self.with_fleet(py, |f| f.sync(timeout))
    }

    /// The fleet's figures (the last ones once closed).
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = self.figures(py);
        let d = PyDict::new(py);
        d.set_item("store_up", m.store_up)?;
        d.set_item("publishes", m.publishes)?;
        d.set_item("adoptions", m.adoptions)?;
        d.set_item("malformed", m.malformed)?;
        d.set_item("leases", m.leases)?;
        d.set_item("subscribed", m.subscribed)?;
        Ok(d)
    }

    /// The fleet's figures as Prometheus text, labelled with this replica's id.
    fn prometheus(&self, py: Python<'_>) -> String {
        self.figures(py).prometheus(&self.replica)
    }

    /// Releases the fleet's holds, withdraws this replica's opinions and ends the
    /// fleet's threads. Idempotent.
    fn close(&self, py: Python<'_>) {
        let slot = &self.slot;
        py.detach(|| slot.close());
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (exc_type, exc, tb, /))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
        tb: &Bound<'_, PyAny>,
    ) {
        let _ = (exc_type, exc, tb);
        self.close(py);
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Fleet(service={:?}, environment={:?}, replica={:?}, url={:?}, closed={})",
            self.service,
            self.environment,
            self.replica,
            self.url,
            if self.is_closed(py) { "True" } else { "False" }
        )
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let fleet = self
            .slot
            .running
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(fleet) = fleet else { return };
        // Stopping joins the fleet's threads, which may need the GIL (a released hold
        // calls the breaker's listeners): not here, under it, but on a thread of its own.
        let cell = Arc::new(Mutex::new(Some(fleet)));
        let theirs = Arc::clone(&cell);
        let spawned = std::thread::Builder::new()
            .name("tripgate-fleet-stop".into())
            .spawn(move || {
                let f = theirs.lock().unwrap_or_else(|p| p.into_inner()).take();
                drop(f);
            });
        if spawned.is_err() {
            // No thread to spare: stop it here, with the GIL released.
            let f = cell.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(f) = f {
                let _ = Python::try_attach(|py| py.detach(|| f.stop()));
            }
        }
    }
}
