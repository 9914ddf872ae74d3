//! Cutting connections that stop moving: a socket whose writes make no progress for
//! `write_timeout`, and a streamed body still unfinished at its deadline.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A socket whose writes fail with `TimedOut` once they have been blocked (the peer
/// not reading) for `write_timeout` without a byte going through.
pub(super) struct WriteStallGuard<S> {
    inner: S,
    write_timeout: Duration,
    /// Armed at the first blocked write, disarmed by any progress.
    stalled_since: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteStallGuard<S> {
    pub(super) fn new(inner: S, write_timeout: Duration) -> Self {
        WriteStallGuard {
            inner,
            write_timeout,
            stalled_since: None,
        }
    }

    /// Passes a write's result through, counting how long writes stay blocked.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match poll {
            Poll::Pending => {
                let timeout = self.write_timeout;
                let timer = self
                    .stalled_since
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "admin endpoint: the client read nothing for write_timeout",
                    )));
                }
                Poll::Pending
            }
            ready => {
                self.stalled_since = None;
                ready
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteStallGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteStallGuard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, poll)
    }
}

/// A body of pieces made on demand (one per poll), failing once `deadline` has passed
/// so that a client reading a large response a trickle at a time is cut off too.
///
/// After each piece it yields once to the other tasks of the thread, so that a client
/// reading fast makes the health probes wait for one piece's rendering at most.
pub(super) struct DeadlineStream<I> {
    pieces: I,
    deadline: Instant,
    yield_next: bool,
}

impl<I> DeadlineStream<I> {
    pub(super) fn new(pieces: I, timeout: Duration) -> Self {
        DeadlineStream {
            pieces,
            deadline: Instant::now() + timeout,
            yield_next: false,
        }
    }
}

impl<I: Iterator<Item = String> + Unpin> Body for DeadlineStream<I> {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if std::mem::take(&mut self.yield_next) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.yield_next = true;
        if Instant::now() >= self.deadline {
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "admin endpoint: response not sent within response_timeout",
            ))));
        }
        Poll::Ready(self.pieces.next().map(|p| Ok(Frame::data(Bytes::from(p)))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
