//! The tower layer in a real hyper client against an axum server on 127.0.0.1: after
//! the server's 5xx answers trip the breaker, calls are rejected without reaching it.

use axum::http::StatusCode;
use axum::routing::get;
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tower::{Layer, ServiceExt};
use tripgate::{Breaker, Config, ManualClock, State};
use tripgate_patterns::tower::{BreakerError, BreakerLayer};

#[tokio::test]
async fn the_breaker_opens_on_5xx_and_then_spares_the_server() {
    // The server: counts hits, answers with the status it is told to.
    let hits = Arc::new(AtomicUsize::new(0));
    let status = Arc::new(AtomicU16::new(500));
    let app = {
        let (hits, status) = (hits.clone(), status.clone());
        axum::Router::new().route(
            "/",
            get(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                let code = StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap();
                async move { (code, "hello") }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // The client: hyper behind the breaker layer.
    let clock = ManualClock::new();
    let config = Config::builder()
        .count_window(10)
        .minimum_calls(3)
        .failure_rate_threshold(0.5)
        .open_duration(Duration::from_secs(30))
        .half_open_success_threshold(1)
        .build()
        .unwrap();
    let breaker = Arc::new(Breaker::with_clock(config, clock.clone()).unwrap());
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let service = BreakerLayer::new(breaker.clone()).layer(client);
    let uri: http::Uri = format!("http://{addr}/").parse().unwrap();
    let get = |svc: &_| {
        let svc: tripgate_patterns::tower::BreakerService<_, _, _> = Clone::clone(svc);
        let req = http::Request::get(uri.clone()).body(Empty::new()).unwrap();
        svc.oneshot(req)
    };

    // Three 500s: each reaches the server and comes back as a response; the third trips.
    for i in 1..=3 {
        let r = get(&service).await.unwrap();
        assert_eq!(r.status(), 500);
        assert_eq!(hits.load(Ordering::SeqCst), i);
    }
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(breaker.snapshot().failures_by_kind.server_error, 3);

    // Open: rejected in poll_ready, the server sees nothing.
    for _ in 0..20 {
        match get(&service).await {
            Err(BreakerError::Rejected(r)) => {
                assert_eq!(r.retry_after, Some(Duration::from_secs(30)))
            }
            other => panic!("expected a rejection, got {:?}", other.map(|r| r.status())),
        }
    }
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert_eq!(breaker.snapshot().rejected, 20);

    // The server heals; after the open duration one probe reaches it and closes the
    // breaker.
    status.store(200, Ordering::SeqCst);
    clock.advance(Duration::from_secs(30));
    let r = get(&service).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(hits.load(Ordering::SeqCst), 4);
    assert_eq!(breaker.state(), State::Closed);

    // A 404 is the caller's business: ignored.
    status.store(404, Ordering::SeqCst);
    assert_eq!(get(&service).await.unwrap().status(), 404);
    assert_eq!(breaker.snapshot().ignored, 1);
    server.abort();
}
