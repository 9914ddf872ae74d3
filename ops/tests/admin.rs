#![cfg(feature = "admin")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;
use tripgate::{Config, ManualClock};
use tripgate_ops::{AdminServer, HealthPolicy, Registry};

/// A plain HTTP/1.1 GET over loopback: (status, headers, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    assert!(addr.ip().is_loopback());
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

#[test]
fn serves_metrics_and_health_over_loopback() {
    let registry = Arc::new(Registry::with_clock(ManualClock::new()));
    let cfg = Config::builder().consecutive_failures(1).build().unwrap();
    for name in ["database", "external_api", "cache", "search"] {
        registry.get_or_create(name, &cfg).unwrap();
    }
    let server = AdminServer::start(
        "127.0.0.1:0",
        Arc::clone(&registry),
        HealthPolicy::default(),
    )
    .unwrap();
    let addr = server.local_addr();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0);

    let (status, head, body) = get(addr, "/metrics");
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        body.contains("tripgate_breaker_state{name=\"database\"} 0"),
        "{body}"
    );

    let (status, _, body) = get(addr, "/health/live");
    assert_eq!(status, 200);
    assert!(body.contains("\"alive\""));

    let (status, head, body) = get(addr, "/health/ready");
    assert_eq!(status, 200, "{body}");
    assert!(head.to_ascii_lowercase().contains("application/json"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ready"], true);

    // Half the breakers open: 503.
    for name in ["database", "cache"] {
        registry
            .get(name)
            .unwrap()
            .try_acquire()
            .unwrap()
            .failure(tripgate::FailureKind::Connection);
    }
    let (status, _, body) = get(addr, "/health/ready");
    assert_eq!(status, 503, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["circuit_breakers"]["open"], 2);
    let (_, _, metrics) = get(addr, "/metrics");
    assert!(metrics.contains("tripgate_breaker_state{name=\"cache\"} 2"));
    // Liveness does not care.
    assert_eq!(get(addr, "/health/live").0, 200);
    assert_eq!(get(addr, "/nope").0, 404);

    server.shutdown();
}

#[test]
fn scrapes_do_not_stop_the_breakers() {
    let registry = Arc::new(Registry::with_clock(ManualClock::new()));
    let b = registry.get_or_create("db", &Config::standard()).unwrap();
    let server = AdminServer::start(
        "127.0.0.1:0",
        Arc::clone(&registry),
        HealthPolicy::default(),
    )
    .unwrap();
    let addr = server.local_addr();
    let scraper = std::thread::spawn(move || {
        for _ in 0..20 {
            assert_eq!(get(addr, "/metrics").0, 200);
        }
    });
    for _ in 0..20_000 {
        b.try_acquire().unwrap().success();
    }
    scraper.join().unwrap();
    assert_eq!(b.snapshot().calls, 20_000);
    drop(server);
}

/// The status of the raw request `head` (sent as is, then the connection read to its end).
fn status_of_raw(addr: SocketAddr, head: &str) -> u16 {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_request_needs_one_host_in_http_1_1() {
    let registry = Arc::new(Registry::with_clock(ManualClock::new()));
    let server = AdminServer::start("127.0.0.1:0", registry, HealthPolicy::default()).unwrap();
    let addr = server.local_addr();
    let close = "Connection: close\r\n\r\n";
    assert_eq!(
        status_of_raw(
            addr,
            &format!("GET /health/live HTTP/1.1\r\nHost: a\r\n{close}")
        ),
        200
    );
    assert_eq!(
        status_of_raw(addr, &format!("GET /health/live HTTP/1.1\r\n{close}")),
        400
    );
    assert_eq!(
        status_of_raw(
            addr,
            &format!("GET /health/live HTTP/1.1\r\nHost: a\r\nHost: b\r\n{close}")
        ),
        400
    );
    // HTTP/1.0 needs none, and may not send two.
    assert_eq!(
        status_of_raw(addr, "GET /health/live HTTP/1.0\r\n\r\n"),
        200
    );
    assert_eq!(
        status_of_raw(
            addr,
            "GET /health/live HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"
        ),
        400
    );
    server.shutdown();
}
