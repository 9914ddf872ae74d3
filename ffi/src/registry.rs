//! `tg_registry`: named breakers, from a config file with the `files` feature,
//! Prometheus text and health reports, through the `tripgate-ops` crate.

use crate::breaker::tg_breaker;
use crate::config::tg_config;
use crate::raw;
use crate::status::*;
use std::ffi::c_char;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use tg_core::{AnyClock, Breaker, ManualClock};
use tripgate_ops::{health, HealthPolicy, Registry};

/// A registry of named breakers sharing one clock and one set of settings (from a
/// config file, see `tg_registry_load`). Create it with `tg_registry_new` and free it
/// with `tg_registry_free`.
///
/// Thread-safe: every function taking a `const tg_registry *` may be called from any
/// number of threads at once. Breaker handles it hands out stay valid after the
/// registry is freed or the breaker removed (each handle shares the breaker).
pub struct tg_registry {
    pub(crate) inner: Arc<Registry<AnyClock>>,
    /// Whether settings from a file are in force, or the built-in defaults are.
    loaded: AtomicU8,
    /// `tg_registry_allow_defaults`: make breakers from the built-in defaults even after
    /// a failed load.
    allow_defaults: AtomicBool,
    /// On the system clock, a share in the process's upkeep thread.
    _upkeep: Option<tripgate_ops::upkeep::Lease>,
}

/// `tg_registry::loaded`: no load was tried; the built-in defaults are in force.
const NEVER_LOADED: u8 = 0;
/// Loads were tried and all failed: the defaults in force were not asked for.
const LOAD_FAILED: u8 = 1;
/// A file loaded; its settings are in force (a later failed load keeps them).
const LOADED: u8 = 2;

impl tg_registry {
    /// Records how a load went: a success is final, a failure counts only while no file
    /// has loaded.
    fn record_load(&self, status: tg_status) {
        // ordering: Relaxed: a flag read on its own, guarding no other data.
        if status == TG_OK {
            self.loaded.store(LOADED, Ordering::Relaxed);
        } else {
            let _ = self.loaded.compare_exchange(
                NEVER_LOADED,
                LOAD_FAILED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Whether a new breaker would come from defaults nobody asked for.
    fn refuses_defaults(&self) -> bool {
        // ordering: Relaxed: independent flags; a load racing this call may or may not
        // be seen, as with any call racing a reload.
        self.loaded.load(Ordering::Relaxed) == LOAD_FAILED
            && !self.allow_defaults.load(Ordering::Relaxed)
    }
}

/// Hands out a new, empty registry on `clock`.
fn hand_out_registry(clock: AnyClock, out: raw::Out<*mut tg_registry>) -> tg_status {
    out.set(raw::into_handle(tg_registry {
        _upkeep: crate::upkeep::lease_for(&clock),
        inner: Arc::new(Registry::with_clock(clock)),
        loaded: AtomicU8::new(NEVER_LOADED),
        allow_defaults: AtomicBool::new(false),
    }));
    TG_OK
}

/// Creates an empty registry on the system's monotonic clock, with built-in default
/// settings (the standard tier) until `tg_registry_load` loads a file.
///
/// Returns `TG_OK` and writes `*out`, or `TG_ERR_NULL`.
///
/// Thread safety: may be called from any thread.
#[no_mangle]
pub extern "C" fn tg_registry_new(out: *mut *mut tg_registry) -> tg_status {
    ffi_panic_boundary!("tg_registry_new", {
        hand_out_registry(AnyClock::default(), try_out!(out))
    })
}

/// Creates an empty registry whose breakers share one manual clock reading `start_ns`;
/// `tg_clock_advance_ns` on any of its breakers moves them all. For tests.
///
/// Thread safety: may be called from any thread.
#[no_mangle]
pub extern "C" fn tg_registry_new_with_manual_clock(
    start_ns: u64,
    out: *mut *mut tg_registry,
) -> tg_status {
    ffi_panic_boundary!("tg_registry_new_with_manual_clock", {
        let out = try_out!(out);
        let clock = ManualClock::new();
        clock.set_nanos(start_ns);
        hand_out_registry(AnyClock::Manual(clock), out)
    })
}

/// Frees a registry. NULL is a no-op. Breaker handles obtained from it stay valid; an
/// admin endpoint serving it keeps serving until `tg_admin_free`.
///
/// Thread safety: no other call may be using the registry.
#[no_mangle]
pub extern "C" fn tg_registry_free(registry: *mut tg_registry) {
    free_handle("tg_registry_free", registry);
}

/// Loads the config file at `path` (TOML, or YAML for `.yaml`/`.yml`, JSON for
/// `.json`) in `environment` (NULL: `TRIPGATE_ENV`, else the file's `environment`
/// key), with the process's `TRIPGATE_*` and `CIRCUIT_BREAKER_*` variables, and applies
/// it: running breakers created from settings are reconfigured (keeping their state),
/// later ones are created from it. Call it again to reload.
///
/// All or nothing: an invalid file changes nothing and returns `TG_ERR_INVALID_ARG`;
/// `tg_last_error_message` names the file, the service, the field and the allowed
/// range of every problem, one per line. Until a file loads, a failed load keeps
/// `tg_registry_breaker` from making breakers from the built-in defaults (see there).
///
/// Needs the `files` feature: without it, returns `TG_ERR_UNSUPPORTED` (and
/// `tg_features()` lacks `TG_FEATURE_FILES`), which counts as a failed load.
///
/// Thread safety: may be called from any thread, concurrently with every other call.
#[no_mangle]
pub extern "C" fn tg_registry_load(
    registry: *const tg_registry,
    path: *const c_char,
    environment: *const c_char,
) -> tg_status {
    ffi_panic_boundary!("tg_registry_load", {
        let r = try_ref!(registry);
        let path = try_str!(path);
        let environment = if environment.is_null() {
            None
        } else {
            Some(try_str!(environment))
        };
        let status = load(FUNC, r, path, environment);
        r.record_load(status);
        status
    })
}

fn hand_out(b: Arc<Breaker<AnyClock>>, out: raw::Out<*mut tg_breaker>) -> tg_status {
    out.set(raw::into_handle(tg_breaker::shared(b)));
    TG_OK
}

/// Writes a new handle to the breaker named `name`, creating the breaker from the
/// registry's settings (its service entry, else the defaults) if it does not exist.
/// Every call hands out a new handle to the same breaker: free each with
/// `tg_breaker_free` (the breaker lives on while the registry or another handle has it).
///
/// After a failed `tg_registry_load`, while no file has loaded, a breaker that does
/// not exist yet is not made from the built-in defaults: the call returns
/// `TG_ERR_NOT_LOADED` unless `tg_registry_allow_defaults(registry, true)` was called.
/// (A reload that fails after a good one keeps the good file's settings, and breakers
/// are made from those.)
///
/// Returns `TG_OK`, `TG_ERR_NULL`, `TG_ERR_NOT_LOADED`, or `TG_ERR_INVALID_ARG` (name
/// not UTF-8).
///
/// Thread safety: may be called from any thread, concurrently with every other call.
#[no_mangle]
pub extern "C" fn tg_registry_breaker(
    registry: *const tg_registry,
    name: *const c_char,
    out: *mut *mut tg_breaker,
) -> tg_status {
    ffi_panic_boundary!("tg_registry_breaker", {
        let (r, name, out) = (try_ref!(registry), try_str!(name), try_out!(out));
        if r.refuses_defaults() && r.inner.get(name).is_none() {
            return fail(
                TG_ERR_NOT_LOADED,
                format!("{FUNC}: {name:?}: the registry's config file failed to load (see the error of tg_registry_load); fix the file and load it again, or call tg_registry_allow_defaults(registry, true) to make breakers from the built-in defaults"),
            );
        }
        match r.inner.breaker(name) {
            Ok(b) => hand_out(b, out),
            Err(e) => invalid(FUNC, e),
        }
    })
}

/// Whether `tg_registry_breaker` may make breakers from the built-in defaults after a
/// failed `tg_registry_load` (default: no, it returns `TG_ERR_NOT_LOADED`). A service
/// that would rather run with defaults than not at all opts in with `true`.
///
/// Thread safety: may be called from any thread, concurrently with every other call.
#[no_mangle]
pub extern "C" fn tg_registry_allow_defaults(
    registry: *const tg_registry,
    allow: bool,
) -> tg_status {
    ffi_panic_boundary!("tg_registry_allow_defaults", {
        // ordering: Relaxed: a flag read on its own (see `refuses_defaults`).
        try_ref!(registry)
            .allow_defaults
            .store(allow, Ordering::Relaxed);
        TG_OK
    })
}

/// As `tg_registry_breaker`, but a breaker created by this call is built from a copy
/// of `config` (which the caller still owns) and is left alone by `tg_registry_load`.
/// An existing breaker keeps its config.
///
/// Thread safety: as `tg_registry_breaker`; `config` must not be modified meanwhile.
#[no_mangle]
pub extern "C" fn tg_registry_get_or_create(
    registry: *const tg_registry,
    name: *const c_char,
    config: *const tg_config,
    out: *mut *mut tg_breaker,
) -> tg_status {
    ffi_panic_boundary!("tg_registry_get_or_create", {
        let (r, name) = (try_ref!(registry), try_str!(name));
        let (config, out) = (try_ref!(config), try_out!(out));
        match r.inner.get_or_create(name, &config.inner) {
            Ok(b) => hand_out(b, out),
            Err(e) => invalid(FUNC, e),
        }
    })
}

/// Removes the breaker named `name` from the registry (handles to it stay valid).
/// Returns `TG_OK`, or `TG_ERR_INVALID_ARG` when no breaker has that name.
///
/// Thread safety: may be called from any thread, concurrently with every other call.
#[no_mangle]
pub extern "C" fn tg_registry_remove(
    registry: *const tg_registry,
    name: *const c_char,
) -> tg_status {
    ffi_panic_boundary!("tg_registry_remove", {
        let (r, name) = (try_ref!(registry), try_str!(name));
        match r.inner.remove(name) {
            Some(_) => TG_OK,
            None => invalid(FUNC, format_args!("no breaker named {name:?}")),
        }
    })
}

/// Marks the breaker `name` critical (its opening alone makes readiness fail) or not.
/// Returns `TG_OK`, or `TG_ERR_INVALID_ARG` when no breaker has that name.
///
/// Thread safety: may be called from any thread, concurrently with every other call.
#[no_mangle]
pub extern "C" fn tg_registry_set_critical(
    registry: *const tg_registry,
    name: *const c_char,
    critical: bool,
) -> tg_status {
    ffi_panic_boundary!("tg_registry_set_critical", {
        let (r, name) = (try_ref!(registry), try_str!(name));
        if r.inner.set_critical(name, critical) {
            TG_OK
        } else {
            invalid(FUNC, format_args!("no breaker named {name:?}"))
        }
    })
}

/// Writes the number of breakers in the registry to `*out`.
///
/// Thread safety: may be called from any thread, concurrently with every other call.
#[no_mangle]
pub extern "C" fn tg_registry_len(registry: *const tg_registry, out: *mut usize) -> tg_status {
    ffi_panic_boundary!("tg_registry_len", {
        let (r, out) = (try_ref!(registry), try_out!(out));
        out.set(r.inner.len());
        TG_OK
    })
}

/// Copies the Prometheus text exposition (format 0.0.4) of every breaker, with a NUL,
/// into `buf`. Metric names and labels: `ops/README.md` (`tripgate_breaker_state`
/// with 0 closed, 1 half-open, 2 open; `name="<breaker>"` on every series).
///
/// `*needed` (may be NULL) receives the size needed, NUL included; it is written on
/// `TG_OK` and on `TG_ERR_BUFFER_TOO_SMALL`. With `buf == NULL` and `len == 0` the call
/// only reports the size and returns `TG_OK` (the text may grow between two calls:
/// allow some slack).
///
/// Thread safety: may be called from any thread, concurrently with every other call.
#[no_mangle]
pub extern "C" fn tg_registry_prometheus(
    registry: *const tg_registry,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> tg_status {
    ffi_panic_boundary!("tg_registry_prometheus", {
        let r = try_ref!(registry);
        fill_text(
            FUNC,
            &tripgate_ops::exposition::render(&r.inner),
            buf,
            len,
            needed,
        )
    })
}

/// Readiness, as the admin endpoint's `/health/ready` answers it: writes the HTTP
/// status (200, or 503 when at least half the breakers are open or a critical one is)
/// to `*http_status` and the JSON body, with a NUL, into `buf`. Buffer rules as
/// `tg_registry_prometheus`; `*http_status` is written on `TG_OK` only.
///
/// Thread safety: may be called from any thread, concurrently with every other call.
#[no_mangle]
pub extern "C" fn tg_registry_readiness(
    registry: *const tg_registry,
    http_status: *mut u16,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> tg_status {
    ffi_panic_boundary!("tg_registry_readiness", {
        let (r, status_out) = (try_ref!(registry), try_out!(http_status));
        let report = health::readiness(&r.inner, &HealthPolicy::default());
        let s = fill_text(FUNC, &report.body_text(), buf, len, needed);
        if s == TG_OK {
            status_out.set(report.status);
        }
        s
    })
}

/// Loads and applies a config file (the `files` feature).
#[cfg(feature = "files")]
fn load(func: &str, r: &tg_registry, path: &str, environment: Option<&str>) -> tg_status {
    use tripgate_ops::{reload, EnvVars, Settings};
    let loaded = Settings::load(path, environment, &EnvVars::from_process())
        .and_then(|s| reload::apply(&r.inner, s));
    match loaded {
        Ok(_) => TG_OK,
        Err(e) => invalid(func, e),
    }
}

/// Built without the `files` feature: no file parser is linked.
#[cfg(not(feature = "files"))]
fn load(func: &str, _: &tg_registry, _: &str, _: Option<&str>) -> tg_status {
    unsupported(func, "files")
}
