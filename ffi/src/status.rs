//! Status codes, the panic boundary and the thread-local last error.

use crate::raw;
use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The result of a `tg_` call: `TG_OK`, `TG_REJECTED` (a normal outcome, not an error)
/// or a negative error code.
///
/// On a negative code, `tg_last_error_message` describes the error (naming the function,
/// and for a config error the field and its allowed range). Out-parameters are written
/// only when a function returns `TG_OK`.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tg_status {
    /// Success.
    TG_OK = 0,
    /// The breaker (or bulkhead) did not admit the call. Not an error: do not make the
    /// call, and do not record or release anything.
    TG_REJECTED = 1,
    /// A required pointer argument was NULL.
    TG_ERR_NULL = -1,
    /// An argument was out of range (an unknown enum value, a config value or bulkhead
    /// limit outside its allowed range, a config a running breaker cannot take, invalid
    /// UTF-8, a bulkhead permit that holds no slot).
    TG_ERR_INVALID_ARG = -2,
    /// A config text is not valid TOML or JSON, or does not fit the schema.
    TG_ERR_PARSE = -3,
    /// The caller's buffer is too small; the size needed was written to `*needed`.
    TG_ERR_BUFFER_TOO_SMALL = -4,
    /// The operation does not apply to this object (advancing the clock of a breaker
    /// built on the system clock), or needs an optional feature this build of the
    /// library lacks (`tg_features()` lists them).
    TG_ERR_UNSUPPORTED = -5,
    /// A bug: Rust code panicked. The panic was caught at the boundary; the object the
    /// call was given is still safe to free.
    TG_ERR_PANIC = -6,
    /// The registry's last `tg_registry_load` failed and no file has loaded since: it
    /// will not make a breaker from built-in defaults unless the caller allows it with
    /// `tg_registry_allow_defaults`.
    TG_ERR_NOT_LOADED = -7,
    /// A permit was refused: answered already (spent), issued by another breaker, or
    /// altered. Nothing was recorded; do not answer it again.
    TG_ERR_INVALID_PERMIT = -8,
}

pub(crate) use tg_status::*;

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records `message` as this thread's last error and returns `status`.
#[cold]
pub(crate) fn fail(status: tg_status, message: impl Into<String>) -> tg_status {
    let message = message.into();
    // `try_with`: during thread teardown the slot may be gone; the status still stands.
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = message);
    status
}

/// `TG_ERR_NULL` naming the function and the argument.
#[cold]
pub(crate) fn null(func: &str, arg: &str) -> tg_status {
    fail(TG_ERR_NULL, format!("{func}: {arg} is NULL"))
}

/// Writes `text` and a NUL into the caller's `buf` of `len` bytes, and the size needed
/// to `*needed` (when not NULL), for the `tg_*` functions that return text. `TG_OK`
/// when copied, or when `buf` is NULL and `len` 0 (a size query);
/// `TG_ERR_BUFFER_TOO_SMALL` or `TG_ERR_NULL` otherwise.
pub(crate) fn fill_text(
    func: &str,
    text: &str,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> tg_status {
    if buf.is_null() && len > 0 {
        return null(func, "buf");
    }
    let (size, copied) = raw::copy_to_buf(buf, len, text);
    if let Some(out) = raw::Out::new(needed) {
        out.set(size);
    }
    if copied || (buf.is_null() && len == 0) {
        TG_OK
    } else {
        fail(
            TG_ERR_BUFFER_TOO_SMALL,
            format!("{func}: buffer of {len} bytes is too small: {size} needed"),
        )
    }
}

/// Runs `f` behind the panic boundary: a panic becomes `TG_ERR_PANIC`. Use it through
/// [`ffi_panic_boundary!`].
#[inline(always)]
pub(crate) fn guard(func: &'static str, f: impl FnOnce() -> tg_status) -> tg_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(status) => status,
        Err(payload) => panicked(func, payload),
    }
}

/// Runs `f` behind the panic boundary, returning `fallback` on a panic (for the few
/// functions that return something other than a status).
#[inline(always)]
pub(crate) fn guard_or<T>(func: &'static str, fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            panicked(func, payload);
            fallback
        }
    }
}

/// The body of every `tg_*_free`: drops the handle behind the panic boundary; NULL is a
/// no-op.
pub(crate) fn free_handle<T>(func: &'static str, handle: *mut T) {
    guard_or(func, (), || raw::free_handle(handle));
}

/// `TG_ERR_INVALID_ARG` with `func: error`, for the errors the core and ops crates word
/// themselves (a config field and its allowed range, a file problem).
#[cold]
pub(crate) fn invalid(func: &str, error: impl std::fmt::Display) -> tg_status {
    fail(TG_ERR_INVALID_ARG, format!("{func}: {error}"))
}

/// `TG_ERR_UNSUPPORTED` for a function whose optional `feature` this build lacks.
#[cold]
#[cfg_attr(all(feature = "admin", feature = "fleet"), allow(dead_code))]
pub(crate) fn unsupported(func: &str, feature: &str) -> tg_status {
    fail(
        TG_ERR_UNSUPPORTED,
        format!("{func}: this libtripgate was built without the `{feature}` feature; build it with `ffi/install.sh --features {feature} PREFIX` (tg_features() lists a build's features)"),
    )
}

/// The body of an exported function that returns a `tg_status`, behind the panic
/// boundary:
///
/// ```ignore
/// ffi_panic_boundary!("tg_state", {
///     let b = try_ref!(breaker);
///     let out = try_out!(out);
///     out.set(b.inner.state().into());
///     TG_OK
/// })
/// ```
///
/// The name is bound to `FUNC` inside the body, where the `try_*!` macros use it to
/// word their errors (`tg_state: breaker is NULL`). `return` in the body returns the
/// function's status.
macro_rules! ffi_panic_boundary {
    ($func:literal, $body:block) => {{
        #[allow(dead_code)]
        const FUNC: &str = $func;
        $crate::status::guard(FUNC, || -> $crate::status::tg_status { $body })
    }};
}

/// Borrows a `const T *` argument, or returns `TG_ERR_NULL` naming it.
macro_rules! try_ref {
    ($arg:ident) => {
        match $crate::raw::borrow($arg) {
            Some(r) => r,
            None => return $crate::status::null(FUNC, stringify!($arg)),
        }
    };
}

/// Borrows a `T *` argument mutably, or returns `TG_ERR_NULL` naming it.
macro_rules! try_mut {
    ($arg:ident) => {
        match $crate::raw::borrow_mut($arg) {
            Some(r) => r,
            None => return $crate::status::null(FUNC, stringify!($arg)),
        }
    };
}

/// Takes an out-parameter (a `raw::Out`, written only once the call has succeeded), or
/// returns `TG_ERR_NULL` naming it.
macro_rules! try_out {
    ($arg:ident) => {
        match $crate::raw::Out::new($arg) {
            Some(out) => out,
            None => return $crate::status::null(FUNC, stringify!($arg)),
        }
    };
}

/// Reads a NUL-terminated UTF-8 string argument, or returns `TG_ERR_NULL` or
/// `TG_ERR_INVALID_ARG` naming it.
macro_rules! try_str {
    ($arg:ident) => {
        match $crate::raw::c_str($arg).map(::std::ffi::CStr::to_str) {
            Some(Ok(s)) => s,
            Some(Err(_)) => {
                return $crate::status::fail(
                    $crate::status::tg_status::TG_ERR_INVALID_ARG,
                    format!("{}: {} is not valid UTF-8", FUNC, stringify!($arg)),
                )
            }
            None => return $crate::status::null(FUNC, stringify!($arg)),
        }
    };
}

pub(crate) use {ffi_panic_boundary, try_mut, try_out, try_ref, try_str};

#[cold]
#[inline(never)]
fn panicked(func: &str, payload: Box<dyn std::any::Any + Send>) -> tg_status {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    let status = fail(TG_ERR_PANIC, format!("{func}: internal panic: {what}"));
    // Dropping the payload could itself panic; never let that unwind into C.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    status
}

/// A static, human-readable description of a status code (`"TG_OK: success"`,
/// `"TG_ERR_NULL: a required pointer argument was NULL"`, ...), or
/// `"unknown status"`. Never NULL; the string must not be freed.
///
/// Takes the code as a plain `int32_t` (any value is accepted), like rustls-ffi's
/// `rustls_error`.
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn tg_status_str(status: i32) -> *const c_char {
    let s: &'static CStr = match status {
        0 => c"TG_OK: success",
        1 => c"TG_REJECTED: the breaker or bulkhead did not admit the call",
        -1 => c"TG_ERR_NULL: a required pointer argument was NULL",
        -2 => c"TG_ERR_INVALID_ARG: an argument was out of range",
        -3 => c"TG_ERR_PARSE: the config text could not be parsed",
        -4 => c"TG_ERR_BUFFER_TOO_SMALL: the buffer is too small",
        -5 => c"TG_ERR_UNSUPPORTED: the operation does not apply to this object",
        -6 => c"TG_ERR_PANIC: internal error (a Rust panic was caught)",
        -7 => c"TG_ERR_NOT_LOADED: the registry's config file failed to load",
        -8 => {
            c"TG_ERR_INVALID_PERMIT: the permit was answered already, or not issued by this breaker"
        }
        _ => c"unknown status",
    };
    s.as_ptr()
}

/// Copies this thread's last error message into `buf`, as `snprintf` does: at most
/// `len - 1` bytes of it and a terminating NUL (a message longer than that is cut short,
/// at a byte boundary), and returns the message's full length, NUL not included.
///
/// The message describes the most recent call on this thread that returned a negative
/// status; it is `""` if there was none. Successful calls do not clear it.
///
/// - A return value `>= len` means the message was truncated; a buffer of
///   `return value + 1` bytes holds all of it.
/// - With `len == 0` nothing is written (`buf` may then be NULL): a size query.
/// - `buf == NULL` with `len > 0` writes nothing either.
///
/// Unlike the functions that return a document (`tg_config_to_toml`,
/// `tg_registry_prometheus`), which refuse a short buffer with
/// `TG_ERR_BUFFER_TOO_SMALL`, a message for people is worth showing in part.
///
/// This function never changes the last error, and never fails.
///
/// Thread safety: may be called from any thread; each thread sees its own last error.
#[no_mangle]
pub extern "C" fn tg_last_error_message(buf: *mut c_char, len: usize) -> usize {
    // Not via `guard`: a panic here must not overwrite the message being read.
    guard_quietly(0, || {
        LAST_ERROR
            .try_with(|e| raw::copy_truncated(buf, len, &e.borrow()))
            .unwrap_or(0)
    })
}

/// Runs `f`, returning `fallback` if it panics, without recording anything.
fn guard_quietly<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Panics on purpose behind the panic boundary: returns `TG_ERR_PANIC`. Built only with
/// the `testing` feature, for the C tests; not part of the header.
///
/// cbindgen:ignore
#[cfg(feature = "testing")]
#[no_mangle]
pub extern "C" fn tg_testing_panic() -> tg_status {
    ffi_panic_boundary!("tg_testing_panic", {
        panic!("deliberate panic for the test")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        let size = tg_last_error_message(std::ptr::null_mut(), 0) + 1;
        let mut buf = vec![0 as c_char; size];
        assert_eq!(tg_last_error_message(buf.as_mut_ptr(), size), size - 1);
        raw::c_str(buf.as_ptr())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = guard("f", || panic!("boom"));
        assert_eq!(status, TG_ERR_PANIC);
        assert_eq!(last_error(), "f: internal panic: boom");
        assert_eq!(guard_or("g", 7, || panic!("{}", String::from("owned"))), 7);
        assert_eq!(last_error(), "g: internal panic: owned");
    }

    #[test]
    fn the_last_error_is_truncated_like_snprintf() {
        fail(TG_ERR_INVALID_ARG, "0123456789");
        let mut buf = [b'x' as c_char; 6];
        assert_eq!(tg_last_error_message(buf.as_mut_ptr(), 4), 10);
        assert_eq!(raw::c_str(buf.as_ptr()).unwrap().to_bytes(), b"012");
        assert_eq!(buf[4..], [b'x' as c_char; 2]); // nothing past `len`
        assert_eq!(tg_last_error_message(buf.as_mut_ptr(), 1), 10);
        assert_eq!(buf[0], 0);
        assert_eq!(tg_last_error_message(std::ptr::null_mut(), 5), 10);
        assert_eq!(last_error(), "0123456789");
    }
}
