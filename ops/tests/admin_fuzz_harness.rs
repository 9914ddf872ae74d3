//! The fuzz target's entry point (`admin::fuzzing`, feature `fuzzing`) on the committed
//! starting inputs of `fuzz/initial/admin`: each input is served through the endpoint's
//! own connection handling and gets the answers a TCP client gets.
#![cfg(feature = "fuzzing")]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use tripgate::State;
use tripgate_ops::admin::fuzzing::{Harness, BREAKERS};

fn initial(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/initial/admin")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Status codes of the responses, in order: every `HTTP/1.x NNN ` (a body may end
/// without a line break, and nothing the endpoint echoes holds a space).
fn statuses(out: &[u8]) -> Vec<u16> {
    (0..out.len())
        .filter(|&i| out[i..].starts_with(b"HTTP/1.") && out.get(i + 8) == Some(&b' '))
        .filter_map(|i| {
            std::str::from_utf8(out.get(i + 9..i + 12)?)
                .ok()?
                .parse()
                .ok()
        })
        .collect()
}

fn serve(h: &Harness, name: &str) -> Vec<u16> {
    h.reset();
    let out = h
        .serve(&initial(name))
        .unwrap_or_else(|| panic!("{name}: hung"));
    statuses(&out)
}

#[test]
fn the_starting_inputs_get_the_endpoints_answers() {
    let h = Harness::new().unwrap();
    assert_eq!(serve(&h, "metrics"), [200]);
    assert_eq!(serve(&h, "metrics-pipelined-100"), vec![200; 100]);
    // The `Connection: close` request is the last one answered.
    assert_eq!(
        serve(&h, "health-pipelined"),
        [200, 200, 200, 200, 404, 200]
    );
    assert_eq!(serve(&h, "header-oversized"), [431]);
    assert_eq!(serve(&h, "header-endless"), [431]);
    assert_eq!(serve(&h, "slowloris-after-one"), [200]);
    assert_eq!(serve(&h, "method-brew"), [405]);
    assert_eq!(serve(&h, "method-get-control"), [405]);
    assert_eq!(serve(&h, "control-no-token"), [401]);
    assert_eq!(serve(&h, "control-wrong-token"), [401]);
    assert_eq!(serve(&h, "control-basic"), [401]);
    assert_eq!(serve(&h, "control-body-too-large"), [413]);
    assert_eq!(serve(&h, "control-chunked"), [413]);
    assert_eq!(h.states(), vec![State::Closed; BREAKERS.len()]);
    // With the token: `db` (critical) forced open, and readiness fails.
    assert_eq!(serve(&h, "control-token-force-open"), [200, 503]);
    assert_eq!(h.registry().get("db").unwrap().state(), State::ForcedOpen);
    assert_eq!(
        serve(&h, "control-token-every-action"),
        [200, 200, 200, 200, 200, 404]
    );
    assert_eq!(
        serve(&h, "control-token-escaped-name"),
        [200, 404, 404, 404]
    );
    assert_eq!(h.registry().get("a b").unwrap().state(), State::ForcedOpen);
}

#[test]
fn every_starting_input_ends_and_none_changes_a_breaker_from_afar() {
    let h = Harness::new().unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/initial/admin");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let input = std::fs::read(entry.unwrap().path()).unwrap();
        for peer in [
            SocketAddr::from((Ipv4Addr::LOCALHOST, 1)),
            SocketAddr::from((Ipv4Addr::new(192, 0, 2, 7), 1)),
        ] {
            h.reset();
            let out = h.serve_from(&input, peer).expect("no hang");
            assert!(out.is_empty() || out.starts_with(b"HTTP/1."));
            assert!(statuses(&out).iter().all(|&s| s < 500 || s == 503));
            if !peer.ip().is_loopback() {
                assert_eq!(h.states(), vec![State::Closed; BREAKERS.len()]);
            }
        }
        n += 1;
    }
    assert!(n >= 20, "only {n} starting inputs");
}
