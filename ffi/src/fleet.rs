//! `tg_registry_fleet_*`: a registry's membership of its fleet (replicas sharing what
//! their breakers learn through Redis), through `tripgate-ops`.
//!
//! A registry joins a fleet when the file `tg_registry_load` loads has a `fleet` table
//! (its fields: `ops/README.md`, "Fleet mode"), and leaves it when a reload drops the
//! table. Built with the `fleet` feature; without it the functions stay in the library
//! and return `TG_ERR_UNSUPPORTED`, and a file with a `fleet` table fails to load.

use crate::registry::tg_registry;
use crate::status::*;

/// A reading of a registry's fleet membership (`tg_registry_fleet_status`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct tg_fleet_status {
    /// True while the registry is in a fleet; every other field is 0 when false.
    pub joined: bool,
    /// True while the fleet's store (Redis) answers.
    pub store_up: bool,
    /// True while the fleet listens to its peers' announcements.
    pub subscribed: bool,
    /// Opinions this replica wrote to the store.
    pub publishes: u64,
    /// Breakers held open on the fleet's word.
    pub adoptions: u64,
    /// Malformed or foreign values under the fleet's namespace, ignored.
    pub malformed: u64,
    /// Recovery probe leases this replica won.
    pub leases: u64,
}

/// Writes the registry's fleet membership to `*out` (`joined` false when the loaded
/// file has no `fleet` table). Never waits on the store: the figures are the fleet
/// thread's last.
///
/// Returns `TG_OK`, `TG_ERR_NULL`, or `TG_ERR_UNSUPPORTED` (built without `fleet`:
/// `tg_features()` lacks `TG_FEATURE_FLEET`).
///
/// Thread safety: may be called from any thread, concurrently with every other call.
#[no_mangle]
pub extern "C" fn tg_registry_fleet_status(
    registry: *const tg_registry,
    out: *mut tg_fleet_status,
) -> tg_status {
    ffi_panic_boundary!("tg_registry_fleet_status", {
        let (r, out) = (try_ref!(registry), try_out!(out));
        match status(FUNC, r) {
            Ok(s) => {
                out.set(s);
                TG_OK
            }
            Err(e) => e,
        }
    })
}

/// Runs one full fleet round now (read the peers' opinions, decide, publish this
/// replica's) and waits at most `timeout_ms` for it; `*done` (may be NULL) is true when
/// it finished in time, false when it did not or the registry is in no fleet. For
/// tests, and for a replica that wants its opinions out before it takes traffic. The
/// breakers' calls never wait on it.
///
/// Returns `TG_OK`, `TG_ERR_NULL`, or `TG_ERR_UNSUPPORTED` (built without `fleet`).
///
/// Thread safety: may be called from any thread; a concurrent reload waits for the
/// round.
#[no_mangle]
pub extern "C" fn tg_registry_fleet_sync(
    registry: *const tg_registry,
    timeout_ms: u64,
    done: *mut bool,
) -> tg_status {
    ffi_panic_boundary!("tg_registry_fleet_sync", {
        let r = try_ref!(registry);
        match sync(FUNC, r, timeout_ms) {
            Ok(finished) => {
                if !done.is_null() {
                    try_out!(done).set(finished);
                }
                TG_OK
            }
            Err(e) => e,
        }
    })
}

#[cfg(feature = "fleet")]
fn status(_: &str, r: &tg_registry) -> Result<tg_fleet_status, tg_status> {
    Ok(match r.inner.fleet_metrics() {
        None => tg_fleet_status::default(),
        Some((_, m)) => tg_fleet_status {
            joined: true,
            store_up: m.store_up,
            subscribed: m.subscribed,
            publishes: m.publishes,
            adoptions: m.adoptions,
            malformed: m.malformed,
            leases: m.leases,
        },
    })
}

#[cfg(feature = "fleet")]
fn sync(_: &str, r: &tg_registry, timeout_ms: u64) -> Result<bool, tg_status> {
    Ok(r.inner
        .fleet_sync(std::time::Duration::from_millis(timeout_ms)))
}

/// Built without the `fleet` feature: no fleet client is linked.
#[cfg(not(feature = "fleet"))]
fn status(func: &str, _: &tg_registry) -> Result<tg_fleet_status, tg_status> {
    Err(unsupported(func, "fleet"))
}

/// Built without the `fleet` feature.
#[cfg(not(feature = "fleet"))]
fn sync(func: &str, _: &tg_registry, _: u64) -> Result<bool, tg_status> {
    Err(unsupported(func, "fleet"))
}
