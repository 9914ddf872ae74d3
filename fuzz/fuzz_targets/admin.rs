//! Arbitrary bytes as the whole input of one client connection to the admin endpoint
//! (`tripgate_ops::admin`): the endpoint's own connection handling (hyper's HTTP/1
//! server with the endpoint's default limits, its routes, workers and control, on with
//! a token), over an in-memory stream instead of a socket. The client closes its
//! writing side once the input is sent, and reads until the endpoint closes.
//!
//! One input in seven comes from a client not on loopback (picked from the input's
//! length, so a committed input enters the corpus as it is).
//!
//! Promises checked: never a panic or a hang (every connection is closed once its input
//! has ended); the endpoint writes only HTTP/1.x responses and never a 5xx other than
//! 503 (too many scrapes); a client without the token, or not on loopback, changes no
//! breaker.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use tripgate_ops::admin::fuzzing::{Harness, TOKEN};

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| Harness::new().expect("the harness starts"))
}

/// The status code of every response head in `out` (`HTTP/1.x NNN `; a body may end
/// without a line break). Bodies cannot forge one: nothing the endpoint echoes from a
/// request holds a space.
fn statuses(out: &[u8]) -> Vec<u16> {
    (0..out.len())
        .filter(|&i| out[i..].starts_with(b"HTTP/1.") && out.get(i + 8) == Some(&b' '))
        .map(|i| {
            let code = out.get(i + 9..i + 12).expect("a status line has a code");
            let code = std::str::from_utf8(code).expect("an ASCII status code");
            code.parse().expect("a numeric status code")
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    h.reset();
    let before = h.states();
    let remote = data.len() % 7 == 6;
    let peer = if remote {
        SocketAddr::from((Ipv4Addr::new(192, 0, 2, 7), 40000))
    } else {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 40000))
    };
    let out = h
        .serve_from(data, peer)
        .expect("the endpoint closed the connection after its input ended");
    if !out.is_empty() {
        assert!(
            out.starts_with(b"HTTP/1."),
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&out[..out.len().min(200)])
        );
    }
    for status in statuses(&out) {
        assert!(
            (100..500).contains(&status) || status == 503 || status == 505,
            "status {status} in {:?}",
            String::from_utf8_lossy(&out[..out.len().min(2000)])
        );
    }
    if remote || !contains(data, TOKEN.as_bytes()) {
        assert_eq!(h.states(), before, "a breaker changed without the token");
    }
});
