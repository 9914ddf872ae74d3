//! A [`tower`](https://docs.rs/tower) layer that guards a service with a breaker
//! (feature `tower`).
//!
//! [`BreakerLayer`] wraps a service in [`BreakerService`]. Its `poll_ready` asks the
//! breaker first: while the breaker is open it returns
//! [`BreakerError::Rejected`] at once, without polling or calling the inner service, so
//! a caller learns of the outage in nanoseconds and the dependency sees no traffic.
//! When admitted, the permit is held by the service until `call`, then by the response
//! future, which records what a [`Classify`] makes of the result.
//!
//! - A permit taken in `poll_ready` and never used (the service is dropped first) is
//!   released unrecorded, as core's `Permit` does.
//! - A response future dropped before it completes records the call as ignored: a
//!   cancellation says nothing about the dependency.
//! - `call` without a prior `poll_ready` asks the breaker itself.
//! - Latency is measured from admission, that is from the `poll_ready` that admitted.
//!
//! [`HttpStatus`] is the default classifier for `http::Response`s, through the
//! project's one status table, [`Outcome::from_http_status`]: 5xx is a server error, 504
//! a timeout, 429 and 503 are rejections by the dependency (it is shedding load), other
//! 4xx are ignored (the caller's fault, not the dependency's), 1xx-3xx are successes.
//! An `Err` from the inner service (no response at all) is classified by
//! [`HttpStatus::of_error`]: tower's own timeout (`tower::timeout::error::Elapsed`, as
//! `TimeoutLayer` returns it) and an I/O timeout are timeouts, a refused, reset or
//! aborted connection is a connection failure, anything else is
//! [`Other`](FailureKind::Other); the error's `source()` chain is searched too. Any
//! `Fn(&Result<Response, Error>) -> Outcome` is a classifier too.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use tower_layer::Layer;
//! use tower_service::Service;
//! use tripgate::{Breaker, Config};
//! use tripgate_patterns::tower::{BreakerError, BreakerLayer};
//!
//! # struct Echo;
//! # impl Service<u32> for Echo {
//! #     type Response = http::Response<()>;
//! #     type Error = std::convert::Infallible;
//! #     type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
//! #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> { std::task::Poll::Ready(Ok(())) }
//! #     fn call(&mut self, _: u32) -> Self::Future { std::future::ready(Ok(http::Response::new(()))) }
//! # }
//! let breaker = Arc::new(Breaker::new(Config::default())?);
//! let mut service = BreakerLayer::new(breaker.clone()).layer(Echo);
//! breaker.force_open();
//! let waker = std::task::Waker::noop();
//! let ready = service.poll_ready(&mut std::task::Context::from_waker(&waker));
//! assert!(matches!(ready, std::task::Poll::Ready(Err(BreakerError::Rejected(_)))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;
use tripgate::{Breaker, Clock, FailureKind, Outcome, RawPermit, Rejected, SystemClock};

/// What a breaker records for a service's result.
pub trait Classify<T, E> {
    /// The outcome of `result`.
    fn classify(&self, result: &Result<T, E>) -> Outcome;
}

impl<F, T, E> Classify<T, E> for F
where
    F: Fn(&Result<T, E>) -> Outcome,
{
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        self(result)
    }
}

/// The default classifier for `http::Response`s. See the [module documentation](self).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpStatus;

impl HttpStatus {
    /// The outcome of a response with `status`: the project's one HTTP classification,
    /// [`Outcome::from_http_status`] (see its table).
    pub fn of_status(status: http::StatusCode) -> Outcome {
        Outcome::from_http_status(status.as_u16())
    }
}

impl HttpStatus {
    /// The kind of failure an inner service's error is: a timeout for tower's
    /// `Elapsed` or an I/O `TimedOut`; a connection failure for an I/O error that says
    /// the connection was refused, reset, aborted or never made; `Other` otherwise. The
    /// error's `source()` chain is searched, nearest first.
    pub fn of_error(error: &(dyn std::error::Error + 'static)) -> FailureKind {
        use std::io::ErrorKind;
        let mut next = Some(error);
        while let Some(e) = next {
            if e.is::<::tower::timeout::error::Elapsed>() {
                return FailureKind::Timeout;
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    ErrorKind::TimedOut => return FailureKind::Timeout,
                    ErrorKind::ConnectionRefused
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::NotConnected
                    | ErrorKind::AddrNotAvailable
                    | ErrorKind::BrokenPipe => return FailureKind::Connection,
                    _ => {}
                }
            }
            next = e.source();
        }
        FailureKind::Other
    }

    /// [`of_error`](HttpStatus::of_error) of an inner service's error of any type: a
    /// boxed error (tower's `BoxError`, what `TimeoutLayer` returns), tower's `Elapsed`
    /// or an `std::io::Error` is looked into; another type is `Other`.
    fn of_any_error<E: 'static>(error: &E) -> FailureKind {
        type BoxError = Box<dyn std::error::Error + Send + Sync>;
        let any = error as &dyn std::any::Any;
        if let Some(boxed) = any.downcast_ref::<BoxError>() {
            Self::of_error(&**boxed)
        } else if let Some(boxed) = any.downcast_ref::<Box<dyn std::error::Error>>() {
            Self::of_error(&**boxed)
        } else if let Some(e) = any.downcast_ref::<::tower::timeout::error::Elapsed>() {
            Self::of_error(e)
        } else if let Some(e) = any.downcast_ref::<std::io::Error>() {
            Self::of_error(e)
        } else {
            FailureKind::Other
        }
    }
}

impl<B, E: 'static> Classify<http::Response<B>, E> for HttpStatus {
    fn classify(&self, result: &Result<http::Response<B>, E>) -> Outcome {
        match result {
            Ok(response) => Self::of_status(response.status()),
            Err(e) => Outcome::Failure(Self::of_any_error(e)),
        }
    }
}

/// The error of a guarded service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakerError<E> {
    /// The breaker rejected the call; the inner service was not asked.
    Rejected(Rejected),
    /// The inner service's error.
    Inner(E),
}

impl<E: fmt::Display> fmt::Display for BreakerError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakerError::Rejected(r) => r.fmt(f),
            BreakerError::Inner(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for BreakerError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BreakerError::Rejected(r) => Some(r),
            BreakerError::Inner(e) => Some(e),
        }
    }
}

/// Wraps services in a [`BreakerService`] sharing one breaker.
pub struct BreakerLayer<C: Clock = SystemClock, K = HttpStatus> {
    breaker: Arc<Breaker<C>>,
    classify: K,
}

impl<C: Clock, K: Clone> Clone for BreakerLayer<C, K> {
    fn clone(&self) -> Self {
        BreakerLayer {
            breaker: Arc::clone(&self.breaker),
            classify: self.classify.clone(),
        }
    }
}

impl<C: Clock> BreakerLayer<C, HttpStatus> {
    /// A layer classifying HTTP responses with [`HttpStatus`].
    pub fn new(breaker: Arc<Breaker<C>>) -> Self {
        BreakerLayer {
            breaker,
            classify: HttpStatus,
        }
    }
}

impl<C: Clock, K> BreakerLayer<C, K> {
    /// A layer classifying results with `classify`.
    pub fn with_classifier(breaker: Arc<Breaker<C>>, classify: K) -> Self {
        BreakerLayer { breaker, classify }
    }
}

impl<S, C: Clock, K: Clone> Layer<S> for BreakerLayer<C, K> {
    type Service = BreakerService<S, C, K>;

    fn layer(&self, inner: S) -> Self::Service {
        BreakerService {
            inner,
            breaker: Arc::clone(&self.breaker),
            classify: self.classify.clone(),
            permit: None,
        }
    }
}

/// A service guarded by a breaker. See the [module documentation](self).
pub struct BreakerService<S, C: Clock = SystemClock, K = HttpStatus> {
    inner: S,
    breaker: Arc<Breaker<C>>,
    classify: K,
    permit: Option<RawPermit>,
}

impl<S, C: Clock, K> BreakerService<S, C, K> {
    /// The breaker.
    pub fn breaker(&self) -> &Arc<Breaker<C>> {
        &self.breaker
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: Clone, C: Clock, K: Clone> Clone for BreakerService<S, C, K> {
    /// A clone holds no permit: it asks the breaker in its own `poll_ready`.
    fn clone(&self) -> Self {
        BreakerService {
            inner: self.inner.clone(),
            breaker: Arc::clone(&self.breaker),
            classify: self.classify.clone(),
            permit: None,
        }
    }
}

impl<S, C: Clock, K> Drop for BreakerService<S, C, K> {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            let _ = self.breaker.release_raw(p);
        }
    }
}

impl<S, Req, C, K> Service<Req> for BreakerService<S, C, K>
where
    S: Service<Req>,
    C: Clock,
    K: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BreakerError<S::Error>;
    type Future = ResponseFuture<S::Future, C, K>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.permit.is_none() {
            match self.breaker.acquire_raw() {
                Ok(p) => self.permit = Some(p),
                Err(r) => return Poll::Ready(Err(BreakerError::Rejected(r))),
            }
        }
        match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => {
                if let Some(p) = self.permit.take() {
                    let _ = self.breaker.release_raw(p);
                }
                Poll::Ready(Err(BreakerError::Inner(e)))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let permit = match self
            .permit
            .take()
            .map_or_else(|| self.breaker.acquire_raw(), Ok)
        {
            Ok(p) => p,
            Err(r) => {
                return ResponseFuture {
                    inner: None,
                    rejected: Some(r),
                    permit: None,
                    breaker: Arc::clone(&self.breaker),
                    classify: self.classify.clone(),
                }
            }
        };
        ResponseFuture {
            inner: Some(self.inner.call(req)),
            rejected: None,
            permit: Some(permit),
            breaker: Arc::clone(&self.breaker),
            classify: self.classify.clone(),
        }
    }
}

pin_project! {
    /// The response future of a [`BreakerService`]: records the outcome when it
    /// completes, or "ignored" when dropped before.
    pub struct ResponseFuture<F, C: Clock, K> {
        #[pin]
        inner: Option<F>,
        rejected: Option<Rejected>,
        permit: Option<RawPermit>,
        breaker: Arc<Breaker<C>>,
        classify: K,
    }

    impl<F, C: Clock, K> PinnedDrop for ResponseFuture<F, C, K> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(p) = this.permit.take() {
                let _ = this.breaker.record_raw(p, Outcome::Ignored, None);
            }
        }
    }
}

impl<F, C, K, T, E> Future for ResponseFuture<F, C, K>
where
    F: Future<Output = Result<T, E>>,
    C: Clock,
    K: Classify<T, E>,
{
    type Output = Result<T, BreakerError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(r) = this.rejected.take() {
            return Poll::Ready(Err(BreakerError::Rejected(r)));
        }
        let Some(inner) = this.inner.as_pin_mut() else {
            panic!("ResponseFuture polled after completion");
        };
        let result = std::task::ready!(inner.poll(cx));
        if let Some(p) = this.permit.take() {
            // The permit this service took from its own breaker, answered once: never
            // refused.
            let _ = this
                .breaker
                .record_raw(p, this.classify.classify(&result), None);
        }
        Poll::Ready(result.map_err(BreakerError::Inner))
    }
}
