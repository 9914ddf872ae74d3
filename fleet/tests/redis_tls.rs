//! The fleet over TLS (`rediss://`), against the private Redis that
//! `fleet/run_tests.sh` starts: `fleet/with_redis.sh` gives it a TLS port with a
//! throwaway CA and exports the URL, the CA file and the folder of its certificates.
//! Without them the suites that need a server print a notice and skip; the tests of
//! the config and of the handshake's timeout need no server and always run.

mod common;

use common::*;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tripgate::State;
use tripgate_fleet::{Fleet, FleetConfig, Quorum, Secret};

/// The TLS side of the server `fleet/with_redis.sh` started.
struct Tls {
    url: String,
    ca: String,
    dir: PathBuf,
}

impl Tls {
    fn file(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

fn tls() -> Option<Tls> {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    match (
        var("TG_TEST_REDIS_TLS_URL"),
        var("TG_TEST_REDIS_TLS_CA"),
        var("TG_TEST_REDIS_TLS_DIR"),
    ) {
        (Some(url), Some(ca), Some(dir)) => Some(Tls {
            url,
            ca,
            dir: dir.into(),
        }),
        _ => {
            eprintln!(
                "skipped: TG_TEST_REDIS_TLS_URL is not set (fleet/run_tests.sh starts \
                 a Redis with a TLS port on 127.0.0.1 and sets it)"
            );
            None
        }
    }
}

/// A replica's config on the TLS port, trusting the test CA.
fn tls_config(svc: &str, replica: &str, url: &str, ca: &str, quorum: Quorum) -> FleetConfig {
    let mut c = fleet_config(svc, replica, url, quorum);
    c.store.tls_ca_file = Some(ca.to_string());
    c
}

/// Runs rounds until the replica's store is up, for at most `WAIT`.
fn comes_up(r: &Replica) -> bool {
    eventually(WAIT, || {
        r.sync();
        r.fleet.metrics().store_up
    })
}

/// A few rounds: the connection was tried, and failed every time.
fn stays_down(r: &Replica) -> bool {
    (0..5).all(|_| {
        r.sync();
        std::thread::sleep(Duration::from_millis(50));
        !r.fleet.metrics().store_up
    })
}

#[test]
fn fleets_over_tls_adopt_each_others_open() {
    let Some(tls) = tls() else { return };
    let svc = service("tls-quorum");
    let rs: Vec<Replica> = (0..3)
        .map(|i| {
            let c = tls_config(&svc, &format!("r{i}"), &tls.url, &tls.ca, Quorum::Count(2));
            Replica::start(c)
        })
        .collect();
    let all: Vec<&Replica> = rs.iter().collect();
    sync_all(&all, 1);
    rs[0].trip();
    rs[1].trip();
    sync_all(&all, 2);
    assert_eq!(
        rs[2].state(),
        State::ForcedOpen,
        "r2 adopts r0's and r1's Open"
    );
    assert!(rs[2].rejects(), "an adopting replica rejects calls");
    assert_eq!(rs[2].fleet.metrics().adoptions, 1);
    for r in &rs {
        assert!(r.fleet.metrics().store_up);
    }
    assert!(rs[0].fleet.metrics().publishes >= 2);
}

#[test]
fn a_replica_that_does_not_trust_the_ca_reports_the_store_down_and_calls_flow() {
    let Some(tls) = tls() else { return };
    let svc = service("tls-untrusted");
    let trusting = Replica::start(tls_config(&svc, "r0", &tls.url, &tls.ca, Quorum::Count(1)));
    // No tls_ca_file: the platform's CA bundle, which does not hold the test CA.
    let doubting = Replica::start(fleet_config(&svc, "r1", &tls.url, Quorum::Count(1)));
    assert!(comes_up(&trusting), "the replica trusting the CA connects");
    assert!(
        stays_down(&doubting),
        "the server's certificate was accepted"
    );
    assert!(!doubting.fleet.metrics().subscribed);
    // One vote makes a quorum here, but the doubting replica cannot see it: it stays
    // on its own breaker, and its calls go through.
    trusting.trip();
    trusting.sync();
    doubting.sync();
    assert_eq!(doubting.state(), State::Closed);
    doubting.succeed(50);
    assert_eq!(doubting.fleet.metrics().adoptions, 0);
}

#[test]
fn credentials_travel_over_tls_and_never_show_in_debug() {
    let (Some(tls), Some(plain)) = (tls(), redis_url()) else {
        return;
    };
    let user = format!("tg-tls-{}", std::process::id());
    let password = format!("pw-{}-s3cret", std::process::id());
    let mut admin = connect(&plain);
    redis::cmd("ACL")
        .arg(&["SETUSER", &user, "reset", "on", &format!(">{password}")][..])
        .arg(&["~*", "&*", "+@all"][..])
        .exec(&mut admin)
        .unwrap();
    let svc = service("tls-acl");
    let mut config = tls_config(&svc, "r0", &tls.url, &tls.ca, Quorum::Count(2));
    config.store.username = Some(user.clone());
    config.store.password = Some(Secret::new(password.clone()));
    let shown = format!("{config:?}");
    assert!(!shown.contains(&password), "{shown}");
    assert!(shown.contains("<redacted>") && shown.contains("tls_ca_file"));

    let mut wrong = config.clone();
    wrong.replica = "r1".into();
    wrong.store.password = Some(Secret::new("not-the-password"));
    let good = Replica::start(config);
    let bad = Replica::start(wrong);
    let up = comes_up(&good);
    let down = stays_down(&bad);
    redis::cmd("ACL")
        .arg(&["DELUSER", &user][..])
        .exec(&mut admin)
        .unwrap();
    assert!(up, "the ACL user connects over TLS");
    assert!(down, "a wrong password is refused over TLS too");
}

/// A redis-server of the test's own on 127.0.0.1 that speaks only TLS and requires a
/// client certificate of the test CA.
struct MutualTlsServer {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl MutualTlsServer {
    fn start(tls: &Tls) -> MutualTlsServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("tg-fleet-mtls-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--bind", "127.0.0.1"])
            .args(["--tls-port", &port.to_string()])
            .args(["--tls-cert-file", &tls.file("server.crt")])
            .args(["--tls-key-file", &tls.file("server.key")])
            .args(["--tls-ca-cert-file", &tls.ca])
            .args(["--tls-auth-clients", "yes"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        MutualTlsServer { port, dir, child }
    }

    fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for MutualTlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_server_that_requires_client_certificates_admits_the_one_with_its_certificate() {
    let Some(tls) = tls() else { return };
    let server = MutualTlsServer::start(&tls);
    let svc = service("tls-mutual");
    let mut with_cert = tls_config(&svc, "r0", &server.url(), &tls.ca, Quorum::Count(2));
    with_cert.store.tls_cert_file = Some(tls.file("client.crt"));
    with_cert.store.tls_key_file = Some(tls.file("client.key"));
    let without = tls_config(&svc, "r1", &server.url(), &tls.ca, Quorum::Count(2));
    // Up: the server started and took the client certificate.
    let with_cert = Replica::start(with_cert);
    assert!(
        comes_up(&with_cert),
        "the replica with a client certificate connects"
    );
    let without = Replica::start(without);
    assert!(
        stays_down(&without),
        "the server required no client certificate"
    );
}

#[test]
fn a_rediss_store_with_a_missing_or_bad_tls_file_is_refused_at_start() {
    let url = "rediss://127.0.0.1:1/0";
    let start = |change: &dyn Fn(&mut FleetConfig)| {
        let mut c = FleetConfig::new("svc", "test", "r0", url);
        change(&mut c);
        match Fleet::start(c) {
            Ok(_) => panic!("started"),
            Err(e) => e,
        }
    };
    let missing = "/nonexistent/tripgate-fleet-test/ca.pem".to_string();
    let e = start(&|c| c.store.tls_ca_file = Some(missing.clone()));
    assert_eq!(e.field, "store.tls_ca_file", "{e}");
    assert!(e.to_string().contains("cannot read"), "{e}");

    let dir = std::env::temp_dir().join(format!("tg-fleet-tls-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, "hello, not a certificate\n").unwrap();
    let not_pem = not_pem.to_string_lossy().into_owned();
    let e = start(&|c| c.store.tls_ca_file = Some(not_pem.clone()));
    assert_eq!(e.field, "store.tls_ca_file", "{e}");
    let e = start(&|c| {
        c.store.tls_cert_file = Some(not_pem.clone());
        c.store.tls_key_file = Some(not_pem.clone());
    });
    assert_eq!(e.field, "store.tls_cert_file", "{e}");

    // With the test CA's files: a key that is not a key, and a key of another
    // certificate, are the key file's fault.
    if let Some(tls) = tls() {
        let e = start(&|c| {
            c.store.tls_cert_file = Some(tls.file("client.crt"));
            c.store.tls_key_file = Some(tls.file("client.crt"));
        });
        assert_eq!(e.field, "store.tls_key_file", "{e}");
        let e = start(&|c| {
            c.store.tls_cert_file = Some(tls.file("client.crt"));
            c.store.tls_key_file = Some(tls.file("server.key"));
        });
        assert_eq!(e.field, "store.tls_key_file", "{e}");
        let key = std::fs::read_to_string(tls.file("server.key")).unwrap();
        let body = key.lines().nth(1).unwrap();
        assert!(!e.to_string().contains(body), "{e}");
        let mut fine = FleetConfig::new("svc", "test", "r0", url);
        fine.store.tls_ca_file = Some(tls.ca.clone());
        fine.store.tls_cert_file = Some(tls.file("client.crt"));
        fine.store.tls_key_file = Some(tls.file("client.key"));
        fine.validate().unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A listener on 127.0.0.1 that accepts connections and never says a word: a frozen
/// server, as a TLS client sees it in the middle of its handshake.
fn silent_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        // Ends with the test process; a few connections per test.
        for stream in listener.incoming().take(100).flatten() {
            count.fetch_add(1, Ordering::Relaxed);
            held.push(stream);
        }
    });
    (port, accepted)
}

#[test]
fn a_tls_handshake_with_a_silent_server_ends_within_the_connect_timeout() {
    let (port, accepted) = silent_listener();
    let url = format!("rediss://127.0.0.1:{port}/0");
    let mut c = fleet_config(&service("tls-silent"), "r0", &url, Quorum::Count(2));
    c.store.connect_timeout = Duration::from_millis(300);
    c.store.io_timeout = Duration::from_millis(300);
    // A breaker attached: each round goes to the store (its own connection), beside
    // the subscriber's.
    let r = Replica::start(c);
    for _ in 0..3 {
        let round = Instant::now();
        let finished = r.fleet.sync(WAIT);
        let took = round.elapsed();
        if !finished || took > Duration::from_secs(3) {
            // Dropping the fleet would wait for the hung thread: fail without it.
            std::mem::forget(r);
            panic!("a round hung on the handshake: finished {finished}, after {took:?}");
        }
    }
    assert!(
        eventually(WAIT, || accepted.load(Ordering::Relaxed) >= 2),
        "the worker and the subscriber did not both reach the silent server"
    );
    assert!(!r.fleet.metrics().store_up);
    assert!(!r.fleet.metrics().subscribed);
    let stopping = Instant::now();
    drop(r);
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "{:?}",
        stopping.elapsed()
    );
}
