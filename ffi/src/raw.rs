//! Every `unsafe` operation of the crate, in one place.
//!
//! The C ABI hands Rust raw pointers; this module turns them into references, writes
//! out-parameters, moves handles in and out of boxes, reads C strings and fills C
//! buffers. Each helper checks for NULL and states, in a `// SAFETY:` comment, the part
//! of the C API contract (documented in `include/tripgate.h`) that makes it sound. The
//! rest of the crate is safe code calling these helpers with pointers exactly as they
//! came from C, through the `try_ref!` family of macros in `status`, as rustls-ffi
//! does with its `try_ref_from_ptr!` family.
//!
//! The contract, once: a non-NULL pointer passed to a `tg_` function points to a live,
//! properly aligned object of the documented type (a handle returned by the matching
//! `_new` function and not yet freed, a caller-owned struct or buffer of the stated
//! size, or a NUL-terminated string), and a handle is not freed while another call uses
//! it.

use std::ffi::{c_char, c_void, CStr};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// Registers `child` to run in the child of every later `fork()`; false if the system
/// refused (out of memory) or has no `fork`.
pub(crate) fn at_fork_in_child(child: extern "C" fn()) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: `child` is a plain `extern "C"` function of this library, with no
        // arguments; glibc forgets it when the library is unloaded (pthread_atfork
        // passes the library's `__dso_handle`), so the pointer never dangles. The
        // handler itself must be async-signal-safe (the caller's is: atomic stores).
        unsafe { libc::pthread_atfork(None, None, Some(child)) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = child;
        false
    }
}

/// Borrows the object behind a `const T *` from C, or `None` for NULL.
#[inline(always)]
pub(crate) fn borrow<'a, T>(ptr: *const T) -> Option<&'a T> {
    // SAFETY: by the C API contract a non-NULL pointer points to a live, aligned `T`
    // (a handle from its `_new` function, not yet freed) that outlives this call; we
    // only create a shared reference, and every handle type tolerates shared access
    // (tg_breaker and tg_bulkhead are Sync; tg_config setters take `*mut` and are
    // documented as not thread-safe).
    unsafe { ptr.as_ref() }
}

/// Borrows the object behind a `T *` from C mutably, or `None` for NULL.
#[inline]
pub(crate) fn borrow_mut<'a, T>(ptr: *mut T) -> Option<&'a mut T> {
    // SAFETY: a non-NULL pointer points to a live, aligned `T` that, by the contract of
    // the functions taking `T *` (the non-thread-safe tg_config setters and
    // tg_breaker_set_listener, and tg_bulkhead_release on the caller's own permit), no
    // other thread or call uses for the duration of this call.
    unsafe { ptr.as_mut() }
}

/// An out-parameter: a caller-owned slot for one `T`, written at most once and only on
/// success.
pub(crate) struct Out<'a, T> {
    ptr: NonNull<T>,
    _slot: PhantomData<&'a mut T>,
}

impl<T> Out<'_, T> {
    /// Wraps a `T *` from C, or `None` for NULL.
    #[inline(always)]
    pub(crate) fn new(ptr: *mut T) -> Option<Self> {
        NonNull::new(ptr).map(|ptr| Out {
            ptr,
            _slot: PhantomData,
        })
    }

    /// Writes the value, without reading or dropping what was there (C may pass
    /// uninitialised memory).
    #[inline(always)]
    pub(crate) fn set(self, value: T) {
        // SAFETY: the pointer is non-NULL (checked in `new`) and, by the C API
        // contract, points to writable, aligned memory for one `T` owned by the caller.
        // `write` neither reads nor drops the old contents; every `T` written through
        // an `Out` is plain data or a raw pointer, so nothing leaks.
        unsafe { self.ptr.as_ptr().write(value) }
    }
}

/// Moves `value` to the heap and hands C an owning pointer to it.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back and drops a handle made by [`into_handle`]; NULL is a no-op.
pub(crate) fn free_handle<T>(ptr: *mut T) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: a non-NULL pointer passed to a `_free` function was returned by the
    // matching `_new` function (that is, by `into_handle::<T>` from a `Box<T>`), has not
    // been freed before, and is not in use by any other call (all C API contract).
    drop(unsafe { Box::from_raw(ptr) });
}

/// Reads a NUL-terminated C string, or `None` for NULL.
pub(crate) fn c_str<'a>(ptr: *const c_char) -> Option<&'a CStr> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-NULL, and by the C API contract it points to a NUL-terminated string
    // that stays valid and unmodified for the duration of the call.
    Some(unsafe { CStr::from_ptr(ptr) })
}

/// Copies `text` and a terminating NUL into the caller's buffer of `len` bytes.
///
/// Returns the bytes needed (`text.len() + 1`) and whether the copy was made. The copy
/// is made only when `buf` is non-NULL and `len` is large enough; otherwise the buffer
/// is not touched.
pub(crate) fn copy_to_buf(buf: *mut c_char, len: usize, text: &str) -> (usize, bool) {
    let needed = text.len() + 1;
    if buf.is_null() || len < needed {
        return (needed, false);
    }
    // SAFETY: `buf` is non-NULL and, by the C API contract, points to at least `len`
    // writable bytes; we write `needed <= len` bytes. `text` is a Rust string and cannot
    // overlap a buffer C owns.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        buf.add(text.len()).write(0);
    }
    (needed, true)
}

/// Copies as much of `text` as fits, with a terminating NUL, into the caller's buffer
/// of `len` bytes, as `snprintf` does, and returns `text.len()`. Writes nothing when
/// `buf` is NULL or `len` is 0.
pub(crate) fn copy_truncated(buf: *mut c_char, len: usize, text: &str) -> usize {
    if buf.is_null() || len == 0 {
        return text.len();
    }
    let n = text.len().min(len - 1);
    // SAFETY: `buf` is non-NULL and, by the C API contract, points to at least `len`
    // writable bytes; we write `n + 1 <= len` bytes. `text` is a Rust string and cannot
    // overlap a buffer C owns.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
        buf.add(n).write(0);
    }
    text.len()
}

/// A C listener: the function pointer and the caller's `userdata`. `E` is the event
/// type it receives (`tg_transition`, `tg_call_event`).
pub(crate) struct CListener<E> {
    pub(crate) callback: extern "C" fn(*mut c_void, *const E),
    pub(crate) userdata: *mut c_void,
}

impl<E> Clone for CListener<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for CListener<E> {}

impl<E> CListener<E> {
    /// Calls the C callback with `event`, valid only during the call.
    pub(crate) fn call(&self, event: &E) {
        (self.callback)(self.userdata, event);
    }
}

// SAFETY: the pointer is never dereferenced by Rust; it is handed back to the C
// callback, which may run on any thread that drives the breaker. The header documents
// that the callback and its userdata must be safe to use from any thread.
unsafe impl<E> Send for CListener<E> {}
// SAFETY: as for `Send`: Rust only copies the pointer value.
unsafe impl<E> Sync for CListener<E> {}
