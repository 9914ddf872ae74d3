//! A thread that computes one kind of answer for every request waiting on it, once
//! for all of them: the work never piles up however many clients ask at once, and
//! never runs on the thread that serves the connections.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

struct Waiting<T> {
    /// Requests waiting for the next answer computed.
    waiters: Vec<oneshot::Sender<Arc<T>>>,
    stop: bool,
}

struct Queue<T> {
    waiting: Mutex<Waiting<T>>,
    wake: Condvar,
}

impl<T> Queue<T> {
    fn lock(&self) -> MutexGuard<'_, Waiting<T>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Computes `T` on a thread of its own; each answer is computed after every request
/// it serves was made, so it is never stale.
pub(super) struct Worker<T> {
    queue: Arc<Queue<T>>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Send + Sync + 'static> Worker<T> {
    /// Starts the thread `name`, computing with `compute`.
    pub(super) fn spawn(name: &str, compute: impl Fn() -> T + Send + 'static) -> io::Result<Self> {
        let queue = Arc::new(Queue {
            waiting: Mutex::new(Waiting {
                waiters: Vec::new(),
                stop: false,
            }),
            wake: Condvar::new(),
        });
        let q = Arc::clone(&queue);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || loop {
                let waiters = {
                    let mut w = q.lock();
                    while w.waiters.is_empty() && !w.stop {
                        w = q.wake.wait(w).unwrap_or_else(|e| e.into_inner());
                    }
                    if w.stop {
                        return;
                    }
                    std::mem::take(&mut w.waiters)
                };
                // A panic drops the waiters' senders: they answer an error, and the
                // worker goes on serving.
                let computed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&compute));
                let Ok(answer) = computed.map(Arc::new) else {
                    continue;
                };
                for w in waiters {
                    let _ = w.send(Arc::clone(&answer)); // its client may have gone
                }
            })?;
        Ok(Worker {
            queue,
            thread: Some(thread),
        })
    }

    /// An answer computed after this call; `None` if the worker has stopped.
    pub(super) async fn get(&self) -> Option<Arc<T>> {
        let (tx, rx) = oneshot::channel();
        self.queue.lock().waiters.push(tx);
        self.queue.wake.notify_one();
        rx.await.ok()
    }
}

impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        self.queue.lock().stop = true;
        self.queue.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
