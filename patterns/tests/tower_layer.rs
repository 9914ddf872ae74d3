//! The tower layer rejects without touching the inner service while open.

use std::future::{ready, Ready};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service, ServiceExt};
use tripgate::{Breaker, Config, FailureKind, ManualClock, Outcome, State};
use tripgate_patterns::tower::{BreakerError, BreakerLayer, HttpStatus};

/// Answers every request with the status it is given, counting what it is asked.
#[derive(Clone, Default)]
struct Mock {
    polled: Arc<AtomicUsize>,
    called: Arc<AtomicUsize>,
}

impl Service<u16> for Mock {
    type Response = http::Response<()>;
    type Error = &'static str;
    type Future = Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.polled.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, status: u16) -> Self::Future {
        self.called.fetch_add(1, Ordering::SeqCst);
        if status == 0 {
            return ready(Err("connection refused"));
        }
        let mut r = http::Response::new(());
        *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
        ready(Ok(r))
    }
}

fn breaker() -> Arc<Breaker<ManualClock>> {
    let config = Config::builder()
        .consecutive_failures(2)
        .no_failure_rate()
        .open_duration(Duration::from_secs(10))
        .half_open_success_threshold(1)
        .build()
        .unwrap();
    Arc::new(Breaker::with_clock(config, ManualClock::new()).unwrap())
}

#[tokio::test]
async fn an_open_breaker_fails_poll_ready_without_touching_the_inner_service() {
    let br = breaker();
    let mock = Mock::default();
    let mut svc = BreakerLayer::new(br.clone()).layer(mock.clone());
    for _ in 0..2 {
        let r = svc.ready().await.unwrap().call(500).await.unwrap();
        assert_eq!(r.status(), 500);
    }
    assert_eq!(br.state(), State::Open);
    let (polled, called) = (
        mock.polled.load(Ordering::SeqCst),
        mock.called.load(Ordering::SeqCst),
    );
    for _ in 0..10 {
        match svc.ready().await {
            Err(BreakerError::Rejected(r)) => assert_eq!(r.state, State::Open),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("admitted while open"),
        }
    }
    assert_eq!(mock.polled.load(Ordering::SeqCst), polled);
    assert_eq!(mock.called.load(Ordering::SeqCst), called);
    assert_eq!(br.snapshot().rejected, 10);

    // After the open duration a probe goes through and its success closes the breaker.
    br.clock().advance(Duration::from_secs(10));
    let r = svc.ready().await.unwrap().call(200).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(br.state(), State::Closed);
}

#[tokio::test]
async fn http_statuses_are_classified() {
    let br = breaker();
    let svc = BreakerLayer::new(br.clone()).layer(Mock::default());
    for status in [200, 204, 301, 404, 400, 429, 503, 500, 0] {
        let _ = svc.clone().oneshot(status).await;
        br.reset();
    }
    let s = br.snapshot();
    assert_eq!(s.successes, 3);
    assert_eq!(s.ignored, 2);
    assert_eq!(s.failures_by_kind.rejected, 2);
    assert_eq!(s.failures_by_kind.server_error, 1);
    assert_eq!(s.failures_by_kind.other, 1);

    use http::StatusCode as S;
    assert_eq!(HttpStatus::of_status(S::OK), Outcome::Success);
    assert_eq!(HttpStatus::of_status(S::NOT_FOUND), Outcome::Ignored);
    assert_eq!(
        HttpStatus::of_status(S::TOO_MANY_REQUESTS),
        Outcome::Failure(FailureKind::Rejected)
    );
    assert_eq!(
        HttpStatus::of_status(S::SERVICE_UNAVAILABLE),
        Outcome::Failure(FailureKind::Rejected)
    );
    assert_eq!(
        HttpStatus::of_status(S::BAD_GATEWAY),
        Outcome::Failure(FailureKind::ServerError)
    );
}

#[tokio::test]
async fn a_custom_classifier_and_inner_errors() {
    let br = breaker();
    let classify = |r: &Result<http::Response<()>, &'static str>| match r {
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure(FailureKind::Connection),
    };
    let svc = BreakerLayer::with_classifier(br.clone(), classify).layer(Mock::default());
    let e = svc.clone().oneshot(0).await.unwrap_err();
    assert_eq!(e, BreakerError::Inner("connection refused"));
    let r = svc.oneshot(500).await.unwrap();
    assert_eq!(r.status(), 500);
    let s = br.snapshot();
    assert_eq!((s.failures_by_kind.connection, s.successes), (1, 1));
}

#[tokio::test]
async fn unused_and_cancelled_permits_are_released() {
    let br = breaker();
    let mut svc = BreakerLayer::new(br.clone()).layer(Mock::default());
    // Ready, then dropped without a call: released unrecorded.
    svc.ready().await.unwrap();
    drop(svc);
    assert_eq!(br.snapshot().abandoned, 1);

    // A response future dropped before it is polled: ignored.
    let mut svc = BreakerLayer::new(br.clone()).layer(Mock::default());
    let fut = svc.ready().await.unwrap().call(200);
    drop(fut);
    let s = br.snapshot();
    assert_eq!((s.ignored, s.calls), (1, 0));

    // `call` without `poll_ready` asks the breaker itself.
    let r = svc.call(200).await.unwrap();
    assert_eq!(r.status(), 200);
    br.force_open();
    assert!(matches!(
        svc.call(200).await,
        Err(BreakerError::Rejected(_))
    ));
}

/// Never answers: the timeout layer around it must.
#[derive(Clone)]
struct Hangs;

impl Service<u16> for Hangs {
    type Response = http::Response<()>;
    type Error = std::convert::Infallible;
    type Future = std::future::Pending<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: u16) -> Self::Future {
        std::future::pending()
    }
}

#[tokio::test(start_paused = true)]
async fn tower_timeouts_are_timeouts_by_default() {
    let br = breaker();
    let svc = BreakerLayer::new(br.clone())
        .layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(50)).layer(Hangs));
    let e = svc.oneshot(200).await.unwrap_err();
    assert!(matches!(e, BreakerError::Inner(_)), "{e}");
    let s = br.snapshot();
    assert_eq!(
        (s.failures_by_kind.timeout, s.failures_by_kind.other),
        (1, 0)
    );
}

#[test]
fn io_errors_are_classified_through_their_source_chain() {
    use std::io::{Error, ErrorKind};
    #[derive(Debug)]
    struct Wrapped(Error);
    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("request failed")
        }
    }
    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    for (kind, expected) in [
        (ErrorKind::TimedOut, FailureKind::Timeout),
        (ErrorKind::ConnectionRefused, FailureKind::Connection),
        (ErrorKind::ConnectionReset, FailureKind::Connection),
        (ErrorKind::InvalidData, FailureKind::Other),
    ] {
        let e = Wrapped(Error::from(kind));
        assert_eq!(HttpStatus::of_error(&e), expected, "{kind:?}");
    }
    assert_eq!(
        HttpStatus::of_error(&tower::timeout::error::Elapsed::new()),
        FailureKind::Timeout
    );
}
