//! The admin endpoint's per-response limits: the cap on concurrent scrapes and the
//! deadline on a `/metrics` response read slowly. Loopback only.
#![cfg(feature = "admin")]

mod loopback;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tripgate::Config;
use tripgate_ops::admin::{AdminOptions, Limits};
use tripgate_ops::{AdminServer, HealthPolicy, Registry};

/// An endpoint with 3,000 breakers: an exposition of about 6 MB, more than loopback's
/// socket buffers take from a client that does not read.
fn endpoint(limits: Limits) -> AdminServer {
    let registry = Arc::new(Registry::new());
    for i in 0..3000 {
        registry
            .get_or_create(&format!("b{i:04}"), &Config::standard())
            .unwrap();
    }
    let options = AdminOptions {
        limits,
        ..AdminOptions::default()
    };
    AdminServer::start_with("127.0.0.1:0", registry, HealthPolicy::default(), options).unwrap()
}

fn ask_metrics(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    s
}

#[test]
fn scrapes_beyond_max_concurrent_scrapes_get_503() {
    let limits = Limits {
        max_concurrent_scrapes: 2,
        ..Limits::default()
    };
    let server = endpoint(limits);
    let addr = server.local_addr();
    // Two scrapes in flight, never read.
    let held = [ask_metrics(addr), ask_metrics(addr)];
    let deadline = Instant::now() + Duration::from_secs(10);
    let third = loop {
        let reply = loopback::get(addr, "/metrics");
        if reply.status == 503 || Instant::now() > deadline {
            break reply;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(third.status, 503, "{}", third.head);
    assert_eq!(third.header("retry-after"), Some("1"));
    assert!(
        third.body.contains("max_concurrent_scrapes = 2"),
        "{}",
        third.body
    );
    // The probes do not count as scrapes.
    assert_eq!(loopback::get(addr, "/health/live").status, 200);
    drop(held);
    // Once the held ones are gone, scrapes are served again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while loopback::get(addr, "/metrics").status != 200 {
        assert!(
            Instant::now() < deadline,
            "the scrape permits were not given back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_slow_reader_is_cut_at_response_timeout() {
    let limits = Limits {
        max_concurrent_scrapes: 1,
        response_timeout: Duration::from_secs(1),
        write_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let server = endpoint(limits);
    let addr = server.local_addr();
    let reading = Arc::new(AtomicBool::new(true));
    // About 1 MB a second: the 6 MB exposition would take 6 s.
    let reader = {
        let reading = Arc::clone(&reading);
        std::thread::spawn(move || {
            let mut s = ask_metrics(addr);
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut buf = vec![0; 50 * 1024];
            let mut tail = Vec::new();
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        tail.extend_from_slice(&buf[..n]);
                        tail.drain(..tail.len().saturating_sub(16));
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            reading.store(false, Ordering::SeqCst);
            tail
        })
    };
    // The slow reader holds the only scrape permit until its response is cut.
    let start = Instant::now();
    let freed = loop {
        std::thread::sleep(Duration::from_millis(200));
        let status = loopback::get(addr, "/metrics").status;
        if status == 200 || start.elapsed() > Duration::from_secs(15) {
            break (status, start.elapsed(), reading.load(Ordering::SeqCst));
        }
        assert_eq!(status, 503);
    };
    assert_eq!(freed.0, 200, "the permit was never given back");
    assert!(freed.1 < Duration::from_secs(5), "{freed:?}");
    assert!(freed.2, "the slow reader had finished: {freed:?}");
    // The cut response lacks the chunked body's last, empty chunk.
    let tail = reader.join().unwrap();
    assert!(
        !tail.ends_with(b"\r\n0\r\n\r\n"),
        "the whole response was sent"
    );
}
