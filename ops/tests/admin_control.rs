//! Control over HTTP: off by default, a token required, each action's effect, and the
//! log line every action leaves.
#![cfg(feature = "admin")]

mod loopback;

use loopback::{request, Reply};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use tripgate::{Config, FailureKind, ManualClock, State};
use tripgate_ops::admin::{AdminOptions, ControlToken, Limits};
use tripgate_ops::{AdminServer, HealthPolicy, Registry};

const TOKEN: &str = "s3cret-token-of-32-bytes-0123456";

/// Keeps every log record's text, for the tests to find theirs.
struct Captured(Mutex<Vec<String>>);

impl log::Log for Captured {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{} {} {}", r.level(), r.target(), r.args()));
    }
    fn flush(&self) {}
}

fn logs() -> &'static Captured {
    static LOGS: OnceLock<&'static Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logger: &'static Captured = Box::leak(Box::new(Captured(Mutex::new(Vec::new()))));
        log::set_logger(logger).unwrap();
        log::set_max_level(log::LevelFilter::Info);
        logger
    })
}

/// The captured lines mentioning `needle`.
fn lines_with(needle: &str) -> Vec<String> {
    let logs = logs().0.lock().unwrap();
    logs.iter()
        .filter(|l| l.contains(needle))
        .cloned()
        .collect()
}

/// A registry with the breaker `name` (trips on one failure) and an endpoint with
/// `control`.
fn serve(name: &str, control: Option<ControlToken>) -> (Arc<Registry<ManualClock>>, AdminServer) {
    logs();
    let registry = Arc::new(Registry::with_clock(ManualClock::new()));
    let cfg = Config::builder().consecutive_failures(1).build().unwrap();
    registry.get_or_create(name, &cfg).unwrap();
    let options = AdminOptions {
        control,
        ..AdminOptions::default()
    };
    let server = AdminServer::start_with(
        "127.0.0.1:0",
        Arc::clone(&registry),
        HealthPolicy::default(),
        options,
    )
    .unwrap();
    (registry, server)
}

fn token() -> Option<ControlToken> {
    Some(ControlToken::new(TOKEN).unwrap())
}

fn act(addr: SocketAddr, name: &str, action: &str, auth: Option<&str>) -> Reply {
    let header = auth.map(|t| format!("Authorization: Bearer {t}"));
    let headers: Vec<&str> = header.iter().map(String::as_str).collect();
    request(
        addr,
        "POST",
        &format!("/breakers/{name}/{action}"),
        &headers,
    )
}

#[test]
fn control_is_off_by_default() {
    let (registry, server) = serve("off-db", None);
    let reply = act(server.local_addr(), "off-db", "force-open", Some(TOKEN));
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(reply.body.contains("control is off"), "{}", reply.body);
    assert_eq!(registry.get("off-db").unwrap().state(), State::Closed);
    assert!(lines_with("off-db").is_empty());
}

#[test]
fn a_missing_or_wrong_token_is_refused_and_changes_nothing() {
    let (registry, server) = serve("auth-db", token());
    let addr = server.local_addr();
    let wrong_same_length = format!("{}7", &TOKEN[..TOKEN.len() - 1]);
    for auth in [
        None,
        Some("nope"),
        Some(wrong_same_length.as_str()),
        Some(""),
    ] {
        let reply = act(addr, "auth-db", "force-open", auth);
        assert_eq!(reply.status, 401, "{auth:?}: {reply:?}");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        assert_eq!(registry.get("auth-db").unwrap().state(), State::Closed);
    }
    // A token sent another way than as a bearer token does not count either.
    let reply = request(
        addr,
        "POST",
        "/breakers/auth-db/force-open",
        &[&format!("Authorization: Basic {TOKEN}")],
    );
    assert_eq!(reply.status, 401);
    assert_eq!(registry.get("auth-db").unwrap().state(), State::Closed);
    assert!(lines_with("admin control: breaker \"auth-db\"").is_empty());
    let refused = lines_with("refused: breaker \"auth-db\" action force-open by 127.0.0.1:");
    assert_eq!(refused.len(), 5, "{refused:?}");
    assert!(refused
        .iter()
        .all(|l| l.starts_with("WARN ") && l.ends_with("missing or wrong token")));
}

#[test]
fn the_scheme_is_any_case_and_two_authorizations_are_refused() {
    let (registry, server) = serve("scheme-db", token());
    let addr = server.local_addr();
    let breaker = registry.get("scheme-db").unwrap();
    let lower = format!("Authorization: bearer {TOKEN}");
    let reply = request(addr, "POST", "/breakers/scheme-db/force-open", &[&lower]);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(breaker.state(), State::ForcedOpen);
    // Two Authorization headers: which one counts would depend on the reader.
    let right = format!("Authorization: Bearer {TOKEN}");
    for headers in [
        [right.as_str(), "Authorization: Bearer nope"],
        ["Authorization: Bearer nope", right.as_str()],
    ] {
        let reply = request(addr, "POST", "/breakers/scheme-db/reset", &headers);
        assert_eq!(reply.status, 400, "{reply:?}");
        assert_eq!(breaker.state(), State::ForcedOpen);
    }
}

#[test]
fn a_malformed_escape_in_a_name_is_not_decoded() {
    let (registry, server) = serve("esc-db", token());
    // A breaker whose name `%+A` would have decoded to (`+A` read as hex 0x0A).
    let cfg = Config::builder().consecutive_failures(1).build().unwrap();
    let newline = registry.get_or_create("a\nb", &cfg).unwrap();
    let addr = server.local_addr();
    for name in ["a%+Ab", "a%0", "a%G1b"] {
        let reply = act(addr, name, "force-open", Some(TOKEN));
        assert_eq!(reply.status, 404, "{name}: {reply:?}");
    }
    assert_eq!(newline.state(), State::Closed);
    assert_eq!(act(addr, "a%0Ab", "force-open", Some(TOKEN)).status, 200);
    assert_eq!(newline.state(), State::ForcedOpen);
}

#[test]
fn refusals_cannot_flood_the_log() {
    let (_registry, server) = serve("flood-db", token());
    let addr = server.local_addr();
    let action = "a".repeat(5000);
    let started = std::time::Instant::now();
    for _ in 0..50 {
        assert_eq!(act(addr, "flood-db", &action, Some("nope")).status, 401);
    }
    let seconds = started.elapsed().as_secs() + 1;
    let refused = lines_with("refused: breaker \"flood-db\"");
    // At most 10 lines in each second begun while refusing (one, unless the machine
    // is very slow), each cut.
    assert!(!refused.is_empty());
    assert!(
        refused.len() as u64 <= 10 * seconds,
        "{} lines in {seconds} s",
        refused.len()
    );
    assert!(
        refused
            .iter()
            .all(|l| l.len() < 300 && l.contains(&format!("action {}...", "a".repeat(64)))),
        "{refused:?}"
    );
}

#[test]
fn each_action_sets_its_state_and_is_logged_with_the_client() {
    let (registry, server) = serve("act-db", token());
    let addr = server.local_addr();
    let breaker = registry.get("act-db").unwrap();
    for (action, state) in [
        ("force-open", State::ForcedOpen),
        ("force-closed", State::ForcedClosed),
        ("disable", State::Disabled),
        ("metrics-only", State::MetricsOnly),
        ("reset", State::Closed),
        ("open", State::Open),
        ("half-open", State::HalfOpen),
        ("close", State::Closed),
    ] {
        let before = breaker.state();
        let reply = act(addr, "act-db", action, Some(TOKEN));
        assert_eq!(reply.status, 200, "{action}: {reply:?}");
        assert_eq!(breaker.state(), state, "{action}");
        let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(v["state"], state.name());
        assert_eq!(v["from"], before.name());
        let logged = lines_with(&format!("breaker \"act-db\" action {action} by 127.0.0.1:"));
        assert_eq!(logged.len(), 1, "{action}: {logged:?}");
        assert!(
            logged[0].starts_with("INFO tripgate_ops::admin "),
            "{logged:?}"
        );
        assert!(
            logged[0].ends_with(&format!("{} -> {}", before.name(), state.name())),
            "{logged:?}"
        );
    }
    // reset from Open: back to Closed with the failure streak cleared.
    breaker.try_acquire().unwrap().failure(FailureKind::Timeout);
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(act(addr, "act-db", "reset", Some(TOKEN)).status, 200);
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.snapshot().consecutive_failures, 0);
}

#[test]
fn unknown_breakers_and_actions_are_404_and_other_methods_405() {
    let (registry, server) = serve("db/x", token());
    let addr = server.local_addr();
    let reply = act(addr, "nope", "force-open", Some(TOKEN));
    assert_eq!(reply.status, 404, "{reply:?}");
    assert!(
        reply.body.contains("no breaker named \"nope\""),
        "{}",
        reply.body
    );
    let reply = act(addr, "db%2Fx", "explode", Some(TOKEN));
    assert_eq!(reply.status, 404);
    assert!(reply
        .body
        .contains("force-open, force-closed, disable, metrics-only, reset"));
    // A name with escapes is decoded.
    assert_eq!(act(addr, "db%2Fx", "force-open", Some(TOKEN)).status, 200);
    assert_eq!(registry.get("db/x").unwrap().state(), State::ForcedOpen);
    for method in ["GET", "PUT", "DELETE"] {
        let reply = request(addr, method, "/breakers/db%2Fx/reset", &[]);
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("POST"));
    }
    assert_eq!(registry.get("db/x").unwrap().state(), State::ForcedOpen);
    let reply = request(addr, "POST", "/metrics", &[]);
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, HEAD"));
}

#[test]
fn a_body_too_large_is_refused() {
    let (registry, server) = serve("body-db", token());
    let big = "x".repeat(4096);
    let reply = request(
        server.local_addr(),
        "POST",
        "/breakers/body-db/force-open",
        &[
            &format!("Authorization: Bearer {TOKEN}"),
            &format!("Content-Length: {}\r\n\r\n{big}", big.len()),
        ],
    );
    assert_eq!(reply.status, 413, "{reply:?}");
    assert_eq!(registry.get("body-db").unwrap().state(), State::Closed);
}

#[test]
fn tokens_come_from_a_file_or_the_environment_and_are_checked() {
    let dir = std::env::temp_dir().join(format!("tripgate-admin-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let from_file = ControlToken::from_file(&file).unwrap();
    let (registry, server) = serve("file-db", Some(from_file));
    assert_eq!(
        act(server.local_addr(), "file-db", "disable", Some(TOKEN)).status,
        200
    );
    assert_eq!(registry.get("file-db").unwrap().state(), State::Disabled);

    std::env::set_var("TRIPGATE_TEST_CONTROL_TOKEN", format!(" {TOKEN} "));
    let from_env = ControlToken::from_env("TRIPGATE_TEST_CONTROL_TOKEN").unwrap();
    assert!(from_env.is_some());
    assert!(ControlToken::from_env("TRIPGATE_TEST_UNSET_TOKEN")
        .unwrap()
        .is_none());
    assert!(
        !format!("{from_env:?}").contains(TOKEN),
        "Debug shows the token"
    );

    let short = ControlToken::new("short").unwrap_err();
    assert!(
        short.to_string().contains("at least 16 bytes, got 5"),
        "{short}"
    );
    let spaced = ControlToken::new("a token with spaces in it").unwrap_err();
    assert!(
        spaced.to_string().contains("byte 1 is not visible ASCII"),
        "{spaced}"
    );
    std::fs::write(&file, "short\n").unwrap();
    let err = ControlToken::from_file(&file).unwrap_err();
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
    let missing = ControlToken::from_file(dir.join("missing")).unwrap_err();
    assert!(
        missing.to_string().contains("admin control token file"),
        "{missing}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn limits_out_of_range_name_the_field() {
    let registry = Arc::new(Registry::new());
    let options = AdminOptions {
        limits: Limits {
            max_header_bytes: 100,
            ..Limits::default()
        },
        ..AdminOptions::default()
    };
    let err = AdminServer::start_with("127.0.0.1:0", registry, HealthPolicy::default(), options)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(
        err.to_string()
            .contains("max_header_bytes = 100 is outside 8192..=1048576"),
        "{err}"
    );
}
