//! `tripgate._core.Bulkhead`: the patterns crate's [`tripgate_patterns::Bulkhead`] (a
//! wait-free concurrency limit) for Python, plus what asyncio callers need to wait for a
//! slot.
//!
//! # Admission
//!
//! Every slot is taken through the crate's `Bulkhead::try_acquire_owned` (a refusal
//! counted as a rejection by the crate) or, for a waiter's look, `poll_acquire_owned`
//! (a refusal not counted): one `fetch_add` and a compare on the crate's counter, so no
//! path here can admit more than `limit` calls. The figures the crate does not keep
//! (admitted calls, Python-side waits) are counted here.
//!
//! # Waiting (asyncio)
//!
//! The bounded wait itself is written in Python (`tripgate.Bulkhead.acquire_async`),
//! on top of three primitives: `_add_waiter(wake)` queues a waiter's wake callback,
//! `_take(waited)` looks for a slot, `_remove_waiter(token)` leaves the queue. A waiter
//! queues itself *before* it looks, and every path that frees a slot looks at the queue
//! *after* freeing it:
//!
//! - a release (slot answered, `with` exit, slot garbage-collected) wakes one waiter
//!   when any waits;
//! - a refused take wakes one waiter when any waits and the counter reads below the
//!   limit once the refusal's increment is taken back: the crate's counter can refuse a
//!   caller for an instant while another refused caller's increment stands, and the
//!   last of those increments to be taken back is then the only event left to wake a
//!   waiter. (With the GIL, two takes never overlap, so this fires only on
//!   free-threaded CPython, which the module supports.)
//!
//! With `waiting` and the crate's counter both updated with `SeqCst` read-modify-writes
//! and read with `SeqCst` loads, either a waiter's look sees the freed slot, or the
//! freeing path sees the waiter in the queue: no wake-up is lost. A wake callback
//! (`loop.call_soon_threadsafe(...)` in Python) is called outside every lock; one that
//! answers falsy or raises (its event loop is closed) passes the wake to the next waiter.

use crate::held::{caller_frame, HeldStack};
use pyo3::exceptions::{PyException, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyInt, PyTuple, PyType};
use pyo3::{PyTraverseError, PyVisit};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tripgate_patterns::{Bulkhead as Inner, OwnedBulkheadGuard};

/// The largest limit accepted (the counter is a `usize`; a billion calls in flight is
/// beyond any real process).
const MAX_LIMIT: i64 = 1_000_000_000;

/// The Python exception class raised when a bulkhead is full
/// (`tripgate.BulkheadFullError`), registered once by the package.
static FULL_ERROR_CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Async callers waiting for a slot, oldest first, with their wake callbacks.
#[derive(Default)]
struct Waiters {
    next_token: u64,
    queue: VecDeque<(u64, Py<PyAny>)>,
}

/// A concurrency limit for one dependency (`tripgate_patterns::Bulkhead`).
///
/// Subclassed by `tripgate.Bulkhead`, which adds the asyncio wait, the decorator and
/// typed metrics; use that.
#[pyclass(module = "tripgate._core", subclass, frozen, weakref)]
pub(crate) struct Bulkhead {
    inner: Arc<Inner>,
    name: Option<String>,
    admitted: AtomicU64,
    wait_timeouts: AtomicU64,
    admitted_after_wait: AtomicU64,
    /// Entries in `waiters`: read on every release, so the queue's lock is taken only
    /// while someone waits.
    waiting: AtomicUsize,
    waiters: Mutex<Waiters>,
    /// Slots of the `with bulkhead:` statements open on this bulkhead.
    held: HeldStack<OwnedBulkheadGuard>,
}

impl Bulkhead {
    fn lock_waiters(&self) -> MutexGuard<'_, Waiters> {
        // No code that can panic runs under this lock; a poisoned lock still holds a
        // consistent queue.
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a slot (counted as admitted) if one is free; a refusal is counted as a
    /// rejection (by the crate's bulkhead) only when `count_refusal`.
    #[inline]
    fn take(&self, count_refusal: bool) -> Option<OwnedBulkheadGuard> {
        let guard = if count_refusal {
            self.inner.try_acquire_owned().ok()
        } else {
            self.inner.poll_acquire_owned()
        }?;
        self.admitted.fetch_add(1, Ordering::Relaxed);
        Some(guard)
    }

    /// Takes a slot or counts a rejection and builds the error to raise.
    fn take_or_reject(&self, py: Python<'_>) -> PyResult<OwnedBulkheadGuard> {
        match self.take(true) {
            Some(g) => Ok(g),
            None => {
                self.refused(py);
                Err(self.full_error(py))
            }
        }
    }

    fn full_error(&self, py: Python<'_>) -> PyErr {
        let limit = self.inner.limit();
        let message = match &self.name {
            Some(n) => format!("bulkhead {n:?} is full: {limit} of {limit} slots in use"),
            None => format!("bulkhead is full: {limit} of {limit} slots in use"),
        };
        match FULL_ERROR_CLASS.get(py) {
            Some(cls) => match cls.bind(py).call1((message, self.name.as_deref(), limit)) {
                Ok(exc) => PyErr::from_value(exc),
                Err(e) => e,
            },
            None => PyRuntimeError::new_err(message),
        }
    }

    /// After a slot was given back: wakes one waiter if any waits.
    #[inline]
    fn released(&self, py: Python<'_>) {
        // ordering: SeqCst, after the crate's SeqCst `fetch_sub` (see the module docs).
        if self.waiting.load(Ordering::SeqCst) != 0 {
            self.wake_one(py);
        }
    }

    /// After a refused take: wakes one waiter if any waits and a slot is free now that
    /// this caller's increment is taken back.
    fn refused(&self, py: Python<'_>) {
        // ordering: SeqCst, after the crate's SeqCst undo (see the module docs).
        if self.waiting.load(Ordering::SeqCst) != 0
            && self.inner.metrics().in_flight < self.inner.limit()
        {
            self.wake_one(py);
        }
    }

    /// Pops waiters until one's wake callback answers truthy.
    fn wake_one(&self, py: Python<'_>) {
        loop {
            let popped = {
                let mut w = self.lock_waiters();
                let popped = w.queue.pop_front();
                if popped.is_some() {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                }
                popped
            };
            let Some((_, wake)) = popped else { return };
            match wake.bind(py).call0().and_then(|r| r.is_truthy()) {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => e.write_unraisable(py, None),
            }
        }
    }

    fn slot(slf: &Bound<'_, Self>, guard: OwnedBulkheadGuard) -> BulkheadSlot {
        BulkheadSlot {
            bulkhead: slf.clone().unbind(),
            guard: Mutex::new(Some(guard)),
        }
    }
}

#[pymethods]
impl Bulkhead {
    /// A bulkhead admitting at most `limit` calls at once (`1..=1000000000`).
    #[new]
    #[pyo3(signature = (limit, *, name=None))]
    fn new(limit: &Bound<'_, PyAny>, name: Option<String>) -> PyResult<Self> {
        if limit.is_instance_of::<PyBool>() || !limit.is_instance_of::<PyInt>() {
            return Err(PyTypeError::new_err(format!(
                "limit must be an int, got {}",
                limit.get_type().name()?
            )));
        }
        let valid = limit
            .extract::<i64>()
            .ok()
            .filter(|v| (1..=MAX_LIMIT).contains(v));
        let Some(value) = valid else {
            return Err(PyValueError::new_err(format!(
                "invalid limit = {limit}: allowed 1..={MAX_LIMIT}"
            )));
        };
        Ok(Bulkhead {
            inner: Arc::new(Inner::new(value as usize)),
            name,
            admitted: AtomicU64::new(0),
            wait_timeouts: AtomicU64::new(0),
            admitted_after_wait: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
            waiters: Mutex::new(Waiters::default()),
            held: HeldStack::default(),
        })
    }

    /// The bulkhead's name, if it was given one.
    #[getter]
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The most calls admitted at once.
    #[getter]
    fn limit(&self) -> usize {
        self.inner.limit()
    }

    /// Slots held now.
    #[getter]
    fn in_flight(&self) -> usize {
        // The crate's counter can read above the limit for an instant while a refused
        // caller takes its increment back; that is not an admission.
        self.inner.metrics().in_flight.min(self.inner.limit())
    }

    /// Takes a slot, or returns `None` (counted as rejected) when the bulkhead is full.
    /// Wait-free.
    fn try_acquire(slf: &Bound<'_, Self>) -> Option<BulkheadSlot> {
        let this = slf.get();
        match this.take(true) {
            Some(g) => Some(Bulkhead::slot(slf, g)),
            None => {
                this.refused(slf.py());
                None
            }
        }
    }

    /// Takes a slot, or raises `BulkheadFullError` (counted as rejected). Wait-free.
    fn acquire(slf: &Bound<'_, Self>) -> PyResult<BulkheadSlot> {
        let guard = slf.get().take_or_reject(slf.py())?;
        Ok(Bulkhead::slot(slf, guard))
    }

    /// Calls `func(*args, **kwargs)` holding a slot; raises `BulkheadFullError` without
    /// calling it when the bulkhead is full.
    #[pyo3(signature = (func, /, *args, **kwargs))]
    fn call(
        slf: &Bound<'_, Self>,
        func: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let guard = this.take_or_reject(py)?;
        let result = func.call(args, kwargs);
        drop(guard);
        this.released(py);
        result.map(Bound::unbind)
    }

    fn __enter__(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
        let this = slf.get();
        let frame = caller_frame(slf.py())?;
        let guard = this.take_or_reject(slf.py())?;
        this.held.push(frame, guard);
        Ok(slf.clone().unbind())
    }

    #[pyo3(signature = (exc_type, exc, tb, /))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
        tb: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let _ = (exc_type, exc, tb);
        let guard = self.held.pop(|| caller_frame(py))?;
        drop(guard);
        self.released(py);
        Ok(())
    }

    /// For waiters: takes a slot if one is free. A refusal is not counted (the caller
    /// waits); an admission is counted, and as admitted after a wait when `waited`.
    fn _take(slf: &Bound<'_, Self>, waited: bool) -> Option<BulkheadSlot> {
        let this = slf.get();
        match this.take(false) {
            Some(g) => {
                if waited {
                    this.admitted_after_wait.fetch_add(1, Ordering::Relaxed);
                }
                Some(Bulkhead::slot(slf, g))
            }
            None => {
                this.refused(slf.py());
                None
            }
        }
    }

    /// Queues a waiter: `wake()` is called (from any thread) when a slot may be free; it
    /// answers truthy if it woke its waiter. Returns the waiter's token.
    fn _add_waiter(&self, wake: Py<PyAny>) -> u64 {
        let mut w = self.lock_waiters();
        let token = w.next_token;
        w.next_token += 1;
        w.queue.push_back((token, wake));
        // ordering: SeqCst, before the waiter looks for a slot (see the module docs).
        self.waiting.fetch_add(1, Ordering::SeqCst);
        token
    }

    /// Takes a waiter out of the queue; `False` if it was no longer there (it was woken).
    fn _remove_waiter(&self, token: u64) -> bool {
        let removed = {
            let mut w = self.lock_waiters();
            let i = w.queue.iter().position(|(t, _)| *t == token);
            let removed = i.and_then(|i| w.queue.remove(i));
            if removed.is_some() {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
            }
            removed
        };
        // The callback is dropped here, outside the lock.
        removed.is_some()
    }

    /// Wakes one waiter, if any waits (a waiter that was woken and leaves without a slot
    /// passes its wake-up on).
    fn _wake_one(&self, py: Python<'_>) {
        if self.waiting.load(Ordering::SeqCst) != 0 {
            self.wake_one(py);
        }
    }

    /// Counts a wait that ran out of time.
    fn _note_wait_timeout(&self) {
        self.wait_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// Every figure, as a dict.
    fn _metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("limit", self.inner.limit())?;
        d.set_item("in_flight", self.in_flight())?;
        d.set_item("waiting", self.waiting.load(Ordering::Relaxed))?;
        d.set_item("admitted", self.admitted.load(Ordering::Relaxed))?;
        d.set_item("rejected", self.inner.metrics().rejected)?;
        d.set_item("wait_timeouts", self.wait_timeouts.load(Ordering::Relaxed))?;
        d.set_item(
            "admitted_after_wait",
            self.admitted_after_wait.load(Ordering::Relaxed),
        )?;
        Ok(d)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // The lock is never held across Python code, so it is free whenever the collector
        // runs; `try_lock` keeps that an assumption rather than a deadlock.
        if let Ok(w) = self.waiters.try_lock() {
            for (_, wake) in &w.queue {
                visit.call(wake)?;
            }
        }
        self.held.traverse(&visit)
    }

    fn __clear__(&self) {
        let drained: Vec<_> = {
            let mut w = self.lock_waiters();
            self.waiting.fetch_sub(w.queue.len(), Ordering::SeqCst);
            w.queue.drain(..).collect()
        };
        drop(drained);
        drop(self.held.drain());
    }
}

/// A slot in a bulkhead, given back by `release()`, on leaving `with slot:`, or when
/// the object is garbage-collected.
#[pyclass(module = "tripgate._core", frozen)]
pub(crate) struct BulkheadSlot {
    bulkhead: Py<Bulkhead>,
    guard: Mutex<Option<OwnedBulkheadGuard>>,
}

impl BulkheadSlot {
    fn give_back(&self, py: Python<'_>) -> bool {
        let guard = self.guard.lock().unwrap_or_else(|e| e.into_inner()).take();
        match guard {
            Some(g) => {
                drop(g);
                self.bulkhead.get().released(py);
                true
            }
            None => false,
        }
    }
}

#[pymethods]
impl BulkheadSlot {
    /// Gives the slot back; raises `RuntimeError` if it was already given back.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        if self.give_back(py) {
            Ok(())
        } else {
            Err(PyRuntimeError::new_err("bulkhead slot already released"))
        }
    }

    /// Whether the slot has been given back.
    #[getter]
    fn released(&self) -> bool {
        self.guard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// The bulkhead the slot belongs to.
    #[getter]
    fn bulkhead(&self, py: Python<'_>) -> Py<Bulkhead> {
        self.bulkhead.clone_ref(py)
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
        self.give_back(py);
    }

    fn __repr__(&self) -> String {
        format!("BulkheadSlot(released={})", self.released())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.bulkhead)
    }
}

impl Drop for BulkheadSlot {
    fn drop(&mut self) {
        let guard = self
            .guard
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(g) = guard {
            drop(g);
            let bulkhead = self.bulkhead.get();
            if bulkhead.waiting.load(Ordering::SeqCst) != 0 {
                Python::attach(|py| bulkhead.wake_one(py));
            }
        }
    }
}

/// Registers the exception class raised when a bulkhead is full; it is called as
/// `cls(message, name, limit)`.
#[pyfunction(name = "_set_bulkhead_error_class")]
pub(crate) fn set_bulkhead_error_class(py: Python<'_>, cls: &Bound<'_, PyType>) -> PyResult<()> {
    if !cls.is_subclass_of::<PyException>()? {
        return Err(PyTypeError::new_err(
            "the error class must subclass Exception",
        ));
    }
    // A second registration (a reload of the package) keeps the first class.
    let _ = FULL_ERROR_CLASS.set(py, cls.clone().into_any().unbind());
    Ok(())
}
