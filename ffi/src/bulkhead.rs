//! `tg_bulkhead`: a concurrency limit for one dependency, with permits that C hands back
//! by a separate call.
//!
//! The bulkhead is the Rust `tripgate_patterns::Bulkhead`, through its guard-less pair
//! `try_acquire_raw` (wait-free: one `fetch_add` on a counter alone on its cache line
//! and a compare, taken back when over the limit) and `release_raw`, since C has nowhere
//! to keep a guard between two calls.
//!
//! Releasing is where C can go wrong, so it is checked twice:
//! - a permit names the bulkhead that issued it (a process-unique id, never reused) and
//!   `tg_bulkhead_release` clears it: releasing a permit twice, a zeroed permit or
//!   another bulkhead's permit is refused;
//! - the counter never goes below zero: a release with no slot held (a copy of a permit
//!   released after the original) is refused.
//!
//! A refused release changes no count but `invalid_releases`.

use crate::raw;
use crate::status::*;
use std::sync::atomic::{AtomicU64, Ordering};
use tripgate_patterns::Bulkhead;

/// The largest `limit` `tg_bulkhead_new` accepts.
pub const TG_BULKHEAD_LIMIT_MAX: u32 = 1_000_000;

/// Ids of bulkheads, never reused in a process: a permit of a freed bulkhead cannot pass
/// for one of a new bulkhead at the same address. 0 marks an empty permit.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A bulkhead: at most `limit` calls in flight at once to one dependency. Create it
/// with `tg_bulkhead_new` and free it with `tg_bulkhead_free`.
///
/// A breaker reacts to a dependency that fails; a bulkhead caps how much of this
/// program one dependency can tie up while it is merely slow. Give each dependency its
/// own bulkhead (and, usually, its own breaker: ask the bulkhead first, then the
/// breaker).
///
/// Thread-safe: every function taking a `const tg_bulkhead *` may be called from any
/// number of threads at once on the same bulkhead. Only `tg_bulkhead_free` needs the
/// caller to make sure no other call is using it.
pub struct tg_bulkhead {
    inner: Bulkhead,
    id: u64,
    invalid_releases: AtomicU64,
}

impl tg_bulkhead {
    fn new(limit: usize) -> Self {
        tg_bulkhead {
            inner: Bulkhead::new(limit),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            invalid_releases: AtomicU64::new(0),
        }
    }

    #[inline(always)]
    fn take(&self) -> bool {
        self.inner.try_acquire_raw().is_ok()
    }

    #[inline(always)]
    fn give(&self) -> bool {
        self.inner.release_raw()
    }
}

/// Proof of a slot taken by `tg_bulkhead_try_acquire`: a small value, no allocation.
/// Treat the field as opaque. Hand it back exactly once, to the bulkhead that issued
/// it, with `tg_bulkhead_release`, which clears it.
///
/// A zero-initialised permit (`tg_bulkhead_permit p = {0};`) holds no slot: releasing
/// it is refused, so initialising permits that way makes a release after a failed
/// acquire a reported error.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct tg_bulkhead_permit {
    /// The id of the bulkhead that issued the permit; 0 when it holds no slot (never
    /// filled, or already released).
    pub bulkhead_id: u64,
}

/// A reading of a bulkhead, filled by `tg_bulkhead_snapshot`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct tg_bulkhead_metrics {
    /// The limit.
    pub limit: u64,
    /// Slots held now. Under contention at the limit it may read above `limit` for an
    /// instant (a refused caller taking its increment back); nothing is admitted then.
    pub in_flight: u64,
    /// Calls refused by `tg_bulkhead_try_acquire` (`TG_REJECTED`), over the bulkhead's
    /// life.
    pub rejected: u64,
    /// Releases refused with `TG_ERR_INVALID_ARG` (a permit released twice, never
    /// filled, from another bulkhead, or a copy with no slot left to give back): a bug in
    /// the caller. 0 in a correct program.
    pub invalid_releases: u64,
}

/// Creates a bulkhead admitting at most `limit` calls at once (`limit`,
/// 1..=`TG_BULKHEAD_LIMIT_MAX`). Free it with `tg_bulkhead_free`.
///
/// Returns `TG_OK` and writes `*out`; `TG_ERR_INVALID_ARG` for a limit out of range
/// (the message names the field, the value and the allowed range); `TG_ERR_NULL` if
/// `out` is NULL.
///
/// Thread safety: may be called from any thread.
#[no_mangle]
pub extern "C" fn tg_bulkhead_new(limit: u32, out: *mut *mut tg_bulkhead) -> tg_status {
    ffi_panic_boundary!("tg_bulkhead_new", {
        let out = try_out!(out);
        if !(1..=TG_BULKHEAD_LIMIT_MAX).contains(&limit) {
            return fail(
                TG_ERR_INVALID_ARG,
                format!("{FUNC}: invalid limit = {limit}: allowed 1..={TG_BULKHEAD_LIMIT_MAX}"),
            );
        }
        out.set(raw::into_handle(tg_bulkhead::new(limit as usize)));
        TG_OK
    })
}

/// Frees a bulkhead. NULL is a no-op. Outstanding permits become meaningless; the
/// handle must not be used afterwards.
///
/// Thread safety: no other call may be using the bulkhead.
#[no_mangle]
pub extern "C" fn tg_bulkhead_free(bulkhead: *mut tg_bulkhead) {
    free_handle("tg_bulkhead_free", bulkhead);
}

/// Asks for a slot. Wait-free: one atomic add and a compare (and, when full, one atomic
/// subtract and a counted rejection); no lock, no allocation, no retry loop.
///
/// - `TG_OK`: a slot is taken and `*out` holds its permit. Make the call, then hand the
///   permit back exactly once with `tg_bulkhead_release`, whatever the call's outcome.
/// - `TG_REJECTED`: the bulkhead is full (counted in `rejected`). Do not make the call;
///   `*out` is not written and there is nothing to release.
/// - `TG_ERR_NULL`: `bulkhead` or `out` is NULL.
///
/// Under contention at the limit a caller may be refused a slot that frees a moment
/// later: the bulkhead errs toward admitting fewer, never more, than its limit.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_bulkhead_try_acquire(
    bulkhead: *const tg_bulkhead,
    out: *mut tg_bulkhead_permit,
) -> tg_status {
    ffi_panic_boundary!("tg_bulkhead_try_acquire", {
        let (b, out) = (try_ref!(bulkhead), try_out!(out));
        if b.take() {
            out.set(tg_bulkhead_permit { bulkhead_id: b.id });
            TG_OK
        } else {
            TG_REJECTED
        }
    })
}

/// Gives back the slot `*permit` holds and clears `*permit`. Wait-free: one atomic
/// subtract.
///
/// Returns `TG_OK`; `TG_ERR_INVALID_ARG`, changing nothing but the bulkhead's
/// `invalid_releases`, when `*permit` holds no slot of this bulkhead: already released,
/// never filled by a `TG_OK` acquire (a zeroed permit), issued by another bulkhead, or a
/// copy of a permit whose slot was already given back while no other slot is held;
/// `TG_ERR_NULL` if `bulkhead` or `permit` is NULL. So a release without an acquire
/// cannot push the count below zero. (A copy of a permit released while other slots are
/// held cannot be told from theirs: release the permit itself, not copies.)
///
/// Thread safety: may be called from any number of threads at once, each with its own
/// permit.
#[no_mangle]
pub extern "C" fn tg_bulkhead_release(
    bulkhead: *const tg_bulkhead,
    permit: *mut tg_bulkhead_permit,
) -> tg_status {
    ffi_panic_boundary!("tg_bulkhead_release", {
        let (b, permit) = (try_ref!(bulkhead), try_mut!(permit));
        if permit.bulkhead_id != b.id {
            return invalid_release(b, permit.bulkhead_id);
        }
        if !b.give() {
            return invalid_release(b, permit.bulkhead_id);
        }
        permit.bulkhead_id = 0;
        TG_OK
    })
}

#[cold]
#[inline(never)]
fn invalid_release(b: &tg_bulkhead, permit_id: u64) -> tg_status {
    b.invalid_releases.fetch_add(1, Ordering::Relaxed);
    let why = if permit_id == b.id {
        "no slot is held (a copy of a permit already released?)".to_owned()
    } else if permit_id == 0 {
        "the permit holds no slot (already released, or not filled by a TG_OK tg_bulkhead_try_acquire)".to_owned()
    } else {
        format!(
            "the permit was issued by another bulkhead (id {permit_id}; this one is {})",
            b.id
        )
    };
    fail(
        TG_ERR_INVALID_ARG,
        format!("tg_bulkhead_release: {why}; nothing released"),
    )
}

/// Fills `*out` with the bulkhead's figures: limit, slots in flight, rejections and
/// refused releases. A few relaxed loads: cheap enough to call per request.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_bulkhead_snapshot(
    bulkhead: *const tg_bulkhead,
    out: *mut tg_bulkhead_metrics,
) -> tg_status {
    ffi_panic_boundary!("tg_bulkhead_snapshot", {
        let (b, out) = (try_ref!(bulkhead), try_out!(out));
        let m = b.inner.metrics();
        out.set(tg_bulkhead_metrics {
            limit: m.limit as u64,
            in_flight: m.in_flight as u64,
            rejected: m.rejected,
            invalid_releases: b.invalid_releases.load(Ordering::Relaxed),
        });
        TG_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    fn last_error() -> String {
        let mut buf = [0 as std::ffi::c_char; 512];
        assert!(tg_last_error_message(buf.as_mut_ptr(), buf.len()) < buf.len());
        raw::c_str(buf.as_ptr())
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    fn new(limit: u32) -> *mut tg_bulkhead {
        let mut b = ptr::null_mut();
        assert_eq!(tg_bulkhead_new(limit, &mut b), TG_OK);
        b
    }

    fn snapshot(b: *const tg_bulkhead) -> tg_bulkhead_metrics {
        let mut m = tg_bulkhead_metrics::default();
        assert_eq!(tg_bulkhead_snapshot(b, &mut m), TG_OK);
        m
    }

    #[test]
    fn a_limit_out_of_range_is_refused_with_the_field_and_range() {
        for limit in [0, TG_BULKHEAD_LIMIT_MAX + 1, u32::MAX] {
            let mut out = ptr::null_mut();
            assert_eq!(tg_bulkhead_new(limit, &mut out), TG_ERR_INVALID_ARG);
            assert!(out.is_null());
            assert_eq!(
                last_error(),
                format!("tg_bulkhead_new: invalid limit = {limit}: allowed 1..=1000000")
            );
        }
        assert_eq!(tg_bulkhead_new(1, ptr::null_mut()), TG_ERR_NULL);
        assert_eq!(last_error(), "tg_bulkhead_new: out is NULL");
        tg_bulkhead_free(new(TG_BULKHEAD_LIMIT_MAX));
    }

    #[test]
    fn admits_up_to_the_limit_and_counts_refusals() {
        let b = new(2);
        let (mut p1, mut p2, mut p3) = Default::default();
        assert_eq!(tg_bulkhead_try_acquire(b, &mut p1), TG_OK);
        assert_eq!(tg_bulkhead_try_acquire(b, &mut p2), TG_OK);
        assert_eq!(tg_bulkhead_try_acquire(b, &mut p3), TG_REJECTED);
        assert_eq!(p3, tg_bulkhead_permit::default()); // not written
        let m = snapshot(b);
        assert_eq!((m.limit, m.in_flight, m.rejected), (2, 2, 1));
        assert_eq!(tg_bulkhead_release(b, &mut p1), TG_OK);
        assert_eq!(p1, tg_bulkhead_permit::default()); // cleared
        assert_eq!(tg_bulkhead_try_acquire(b, &mut p3), TG_OK);
        assert_eq!(tg_bulkhead_release(b, &mut p2), TG_OK);
        assert_eq!(tg_bulkhead_release(b, &mut p3), TG_OK);
        assert_eq!(snapshot(b).in_flight, 0);
        tg_bulkhead_free(b);
    }

    #[test]
    fn a_bad_release_is_refused_and_changes_no_slot_count() {
        let (a, b) = (new(4), new(4));
        let mut p = tg_bulkhead_permit::default();
        assert_eq!(tg_bulkhead_release(a, &mut p), TG_ERR_INVALID_ARG);
        assert!(last_error().contains("holds no slot"), "{}", last_error());

        assert_eq!(tg_bulkhead_try_acquire(a, &mut p), TG_OK);
        let copy = p;
        let mut foreign = p;
        assert_eq!(tg_bulkhead_release(b, &mut foreign), TG_ERR_INVALID_ARG);
        assert!(
            last_error().contains("another bulkhead"),
            "{}",
            last_error()
        );
        assert_eq!(foreign, copy); // a refused release leaves the permit alone

        assert_eq!(tg_bulkhead_release(a, &mut p), TG_OK);
        assert_eq!(tg_bulkhead_release(a, &mut p), TG_ERR_INVALID_ARG); // twice
        let mut copy = copy;
        assert_eq!(tg_bulkhead_release(a, &mut copy), TG_ERR_INVALID_ARG); // a copy
        assert!(last_error().contains("no slot is held"), "{}", last_error());

        let m = snapshot(a);
        assert_eq!((m.in_flight, m.invalid_releases), (0, 3));
        assert_eq!(snapshot(b).invalid_releases, 1);
        // The bulkhead still admits exactly its limit.
        let mut ps = [tg_bulkhead_permit::default(); 5];
        let admitted = ps
            .iter_mut()
            .map(|p| tg_bulkhead_try_acquire(a, p))
            .filter(|&s| s == TG_OK)
            .count();
        assert_eq!(admitted, 4);
        tg_bulkhead_free(a);
        tg_bulkhead_free(b);
    }

    #[test]
    fn null_arguments_are_reported() {
        let b = new(1);
        let mut p = tg_bulkhead_permit::default();
        let mut m = tg_bulkhead_metrics::default();
        assert_eq!(tg_bulkhead_try_acquire(ptr::null(), &mut p), TG_ERR_NULL);
        assert_eq!(last_error(), "tg_bulkhead_try_acquire: bulkhead is NULL");
        assert_eq!(tg_bulkhead_try_acquire(b, ptr::null_mut()), TG_ERR_NULL);
        assert_eq!(last_error(), "tg_bulkhead_try_acquire: out is NULL");
        assert_eq!(tg_bulkhead_release(ptr::null(), &mut p), TG_ERR_NULL);
        assert_eq!(tg_bulkhead_release(b, ptr::null_mut()), TG_ERR_NULL);
        assert_eq!(last_error(), "tg_bulkhead_release: permit is NULL");
        assert_eq!(tg_bulkhead_snapshot(ptr::null(), &mut m), TG_ERR_NULL);
        assert_eq!(tg_bulkhead_snapshot(b, ptr::null_mut()), TG_ERR_NULL);
        assert_eq!(snapshot(b).in_flight, 0);
        tg_bulkhead_free(ptr::null_mut());
        tg_bulkhead_free(b);
    }

    #[test]
    fn ids_are_unique() {
        let (a, b) = (new(1), new(1));
        let (mut pa, mut pb) = Default::default();
        assert_eq!(tg_bulkhead_try_acquire(a, &mut pa), TG_OK);
        assert_eq!(tg_bulkhead_try_acquire(b, &mut pb), TG_OK);
        assert_ne!(pa.bulkhead_id, pb.bulkhead_id);
        assert_ne!(pa.bulkhead_id, 0);
        tg_bulkhead_free(a);
        tg_bulkhead_free(b);
    }
}
