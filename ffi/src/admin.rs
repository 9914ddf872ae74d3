//! `tg_admin`: the embedded admin endpoint (`/metrics`, `/health/live`,
//! `/health/ready`) serving a `tg_registry`, through `tripgate-ops`' `AdminServer`.
//!
//! Built with the `admin` feature. Without it the functions stay in the library (one
//! header, one set of symbols for every build) and `tg_admin_serve` returns
//! `TG_ERR_UNSUPPORTED`; no HTTP server is linked.

use crate::raw;
use crate::registry::tg_registry;
use crate::status::*;
use std::ffi::c_char;

#[cfg(feature = "admin")]
use tripgate_ops::AdminServer;
#[cfg(not(feature = "admin"))]
use without_admin::AdminServer;

/// Without the `admin` feature no server can be started: an `AdminServer` cannot
/// exist, and the functions that take a running endpoint have nothing to do.
#[cfg(not(feature = "admin"))]
mod without_admin {
    /// Uninhabited: no value of it is ever made.
    pub(super) enum AdminServer {}

    impl AdminServer {
        pub(super) fn local_addr(&self) -> std::net::SocketAddr {
            match *self {}
        }
    }
}

/// A running admin endpoint (`/metrics`, `/health/live`, `/health/ready`), started by
/// `tg_admin_serve` and stopped by `tg_admin_free`.
pub struct tg_admin {
    inner: AdminServer,
}

/// Starts the admin endpoint on `addr` (`"127.0.0.1:0"` picks a free port; in a pod,
/// `"0.0.0.0:9090"`), serving `GET /metrics`, `/health/live` and `/health/ready` for
/// `registry` on a thread of its own. It only reads snapshots, never blocking the
/// breakers. The endpoint keeps the registry alive until `tg_admin_free`.
///
/// Returns `TG_OK` and writes `*out`, `TG_ERR_NULL`, or `TG_ERR_INVALID_ARG` (the
/// address cannot be parsed or bound; the message says why).
///
/// Needs the `admin` feature: without it, returns `TG_ERR_UNSUPPORTED` (and
/// `tg_features()` lacks `TG_FEATURE_ADMIN`).
///
/// Thread safety: may be called from any thread.
#[no_mangle]
pub extern "C" fn tg_admin_serve(
    registry: *const tg_registry,
    addr: *const c_char,
    out: *mut *mut tg_admin,
) -> tg_status {
    ffi_panic_boundary!("tg_admin_serve", {
        let (r, addr, out) = (try_ref!(registry), try_str!(addr), try_out!(out));
        serve(FUNC, r, addr, out)
    })
}

/// Writes the TCP port the admin endpoint listens on (the real one when started on
/// port 0) to `*out`.
///
/// Thread safety: may be called from any thread.
#[no_mangle]
pub extern "C" fn tg_admin_port(admin: *const tg_admin, out: *mut u16) -> tg_status {
    ffi_panic_boundary!("tg_admin_port", {
        let (a, out) = (try_ref!(admin), try_out!(out));
        out.set(a.inner.local_addr().port());
        TG_OK
    })
}

/// Stops the admin endpoint, waits for its thread, and frees it. NULL is a no-op.
///
/// Thread safety: no other call may be using the endpoint.
#[no_mangle]
pub extern "C" fn tg_admin_free(admin: *mut tg_admin) {
    free_handle("tg_admin_free", admin);
}

/// Starts the server (the `admin` feature).
#[cfg(feature = "admin")]
fn serve(func: &str, r: &tg_registry, addr: &str, out: raw::Out<*mut tg_admin>) -> tg_status {
    use std::sync::Arc;
    use tripgate_ops::HealthPolicy;
    match AdminServer::start(addr, Arc::clone(&r.inner), HealthPolicy::default()) {
        Ok(inner) => {
            out.set(raw::into_handle(tg_admin { inner }));
            TG_OK
        }
        Err(e) => invalid(func, format_args!("{addr}: {e}")),
    }
}

/// Built without the `admin` feature: no HTTP server is linked.
#[cfg(not(feature = "admin"))]
fn serve(func: &str, _: &tg_registry, _: &str, _: raw::Out<*mut tg_admin>) -> tg_status {
    unsupported(func, "admin")
}
