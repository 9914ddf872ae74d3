//! What a `with` statement holds between its `__enter__` and its `__exit__`.
//!
//! The statement calls `__exit__` on the object it entered, with nothing that names the
//! entry, so the object must find the permit (or slot) itself. Each breaker and bulkhead
//! keeps its own [`HeldStack`]: entries live exactly as long as the object, so a dropped
//! object leaks nothing and a new object can never settle a dead one's permit.
//!
//! An entry is tagged with the Python frame that ran `__enter__`: the statement's
//! `__exit__` runs in that same frame, whichever thread resumes it, so generators and
//! async generators that interleave `with breaker:` blocks on one thread each get their
//! own permit back. An `__exit__` called from another frame (a helper such as
//! `contextlib.ExitStack`) takes the innermost entry made on its thread; with neither it
//! raises and takes nothing.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::PyTraverseError;
use pyo3::PyVisit;
use std::sync::{Mutex, MutexGuard};
use std::thread::ThreadId;

/// `sys._getframe`, looked up once.
static GET_FRAME: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The innermost running Python frame: the one whose `with` statement called a method
/// written in Rust (such a method has no frame of its own).
pub(crate) fn caller_frame(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    GET_FRAME
        .get_or_try_init(py, || {
            py.import("sys")?.getattr("_getframe").map(Bound::unbind)
        })?
        .bind(py)
        .call0()
}

struct Entry<T> {
    /// Kept alive while held, so no other frame can take its address.
    frame: Py<PyAny>,
    thread: ThreadId,
    held: T,
}

/// The entries of one object's open `with` statements, innermost last.
pub(crate) struct HeldStack<T> {
    entries: Mutex<Vec<Entry<T>>>,
}

impl<T> Default for HeldStack<T> {
    fn default() -> Self {
        HeldStack {
            entries: Mutex::new(Vec::new()),
        }
    }
}

impl<T> HeldStack<T> {
    fn lock(&self) -> MutexGuard<'_, Vec<Entry<T>>> {
        // No code that can panic runs under this lock: a poisoned one is consistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers `held` for the `with` statement running in `frame`.
    pub(crate) fn push(&self, frame: Bound<'_, PyAny>, held: T) {
        let entry = Entry {
            frame: frame.unbind(),
            thread: std::thread::current().id(),
            held,
        };
        self.lock().push(entry);
    }

    /// Takes back what the `with` statement running in the caller's frame holds: the
    /// innermost entry made in that frame, else the innermost made on this thread.
    /// `frame` is asked for only when more than one entry is held.
    pub(crate) fn pop<'py>(
        &self,
        frame: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<T> {
        let thread = std::thread::current().id();
        {
            let mut entries = self.lock();
            // The common case: one statement open, entered on this thread. Both rules
            // pick it, so the frame is not needed.
            if entries.len() == 1 && entries[0].thread == thread {
                return Ok(entries.remove(0).held);
            }
        }
        let frame = frame()?;
        let entry = {
            let mut entries = self.lock();
            let in_frame = entries
                .iter()
                .rposition(|e| e.frame.as_ptr() == frame.as_ptr());
            let index = in_frame.or_else(|| entries.iter().rposition(|e| e.thread == thread));
            index.map(|i| entries.remove(i))
        };
        // The frame reference is dropped here, outside the lock.
        match entry {
            Some(e) => Ok(e.held),
            None => Err(PyRuntimeError::new_err(
                "__exit__ without a matching __enter__ in this frame or on this thread \
                 (nothing was settled); to finish a call on another thread, take a permit \
                 with acquire() and answer it there",
            )),
        }
    }

    /// How many entries are held.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Visits the frames held, for the cycle collector.
    pub(crate) fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        // The lock is never held across Python code, so it is free whenever the collector
        // runs; `try_lock` keeps that an assumption rather than a deadlock.
        if let Ok(entries) = self.entries.try_lock() {
            for e in entries.iter() {
                visit.call(&e.frame)?;
            }
        }
        Ok(())
    }

    /// Forgets every entry (the collector breaks a cycle through a held frame), handing
    /// back what they held.
    pub(crate) fn drain(&self) -> Vec<T> {
        let entries: Vec<Entry<T>> = std::mem::take(&mut *self.lock());
        entries.into_iter().map(|e| e.held).collect()
    }
}
