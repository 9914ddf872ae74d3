//! Cutting connections that stop moving: a socket whose writes make no progress for
//! `write_timeout`, and a streamed body still unfinished at its deadline, whose pieces
//! are rendered on a thread of their own.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;
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

/// Work for the render thread.
pub(super) type Job = Box<dyn FnOnce() + Send>;

/// A thread that runs [`Job`]s in order; it ends once every sender is gone.
pub(super) fn render_thread(name: &str) -> io::Result<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            for job in rx {
                job();
            }
        })?;
    Ok(tx)
}

enum Next<I> {
    /// The pieces, none being rendered.
    Idle(I),
    /// The render thread has them, making the next piece.
    Rendering(oneshot::Receiver<(I, Option<String>)>),
    Done,
}

/// A body of pieces rendered one at a time on the render thread as the client reads,
/// failing once its deadline has passed so that a client reading a large response a
/// trickle at a time is cut off too. The connections' thread only moves bytes.
pub(super) struct RenderedBody<I> {
    next: Next<I>,
    render: mpsc::Sender<Job>,
    deadline: Instant,
}

impl<I> RenderedBody<I> {
    pub(super) fn new(pieces: I, render: mpsc::Sender<Job>, timeout: Duration) -> Self {
        RenderedBody {
            next: Next::Idle(pieces),
            render,
            deadline: Instant::now() + timeout,
        }
    }
}

impl<I: Iterator<Item = String> + Send + Unpin + 'static> Body for RenderedBody<I> {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "admin endpoint: response not sent within response_timeout",
            ))));
        }
        loop {
            match std::mem::replace(&mut self.next, Next::Done) {
                Next::Idle(mut pieces) => {
                    let (tx, rx) = oneshot::channel();
                    let job: Job = Box::new(move || {
                        let piece = pieces.next();
                        let _ = tx.send((pieces, piece)); // the client may have gone
                    });
                    if self.render.send(job).is_err() {
                        return Poll::Ready(Some(Err(io::Error::other(
                            "admin endpoint: the render thread has stopped",
                        ))));
                    }
                    self.next = Next::Rendering(rx);
                }
                Next::Rendering(mut rx) => {
                    return match Pin::new(&mut rx).poll(cx) {
                        Poll::Pending => {
                            self.next = Next::Rendering(rx);
                            Poll::Pending
                        }
                        Poll::Ready(Ok((pieces, Some(piece)))) => {
                            self.next = Next::Idle(pieces);
                            Poll::Ready(Some(Ok(Frame::data(Bytes::from(piece)))))
                        }
                        Poll::Ready(Ok((_, None))) => Poll::Ready(None),
                        Poll::Ready(Err(_)) => Poll::Ready(Some(Err(io::Error::other(
                            "admin endpoint: a piece of the response was lost",
                        )))),
                    };
                }
                Next::Done => return Poll::Ready(None),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.next, Next::Done)
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
