//! Shared pieces of the Redis suites: replicas on manual clocks, a private
//! redis-server process, and a loopback TCP proxy that delays, swallows or cuts traffic.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tripgate::{Breaker, Config, FailureKind, ManualClock, State};
use tripgate_fleet::{Fleet, FleetConfig, Quorum, Veto};

/// The server `fleet/run_tests.sh` started, or `None` (the suite then skips).
pub fn redis_url() -> Option<String> {
    match std::env::var("TG_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "skipped: TG_TEST_REDIS_URL is not set (fleet/run_tests.sh starts a \
                 Redis on 127.0.0.1 and sets it)"
            );
            None
        }
    }
}

/// A namespace no other test shares.
pub fn service(tag: &str) -> String {
    format!("{tag}-{}", std::process::id())
}

pub const OPEN: Duration = Duration::from_secs(30);
pub const WAIT: Duration = Duration::from_secs(10);

pub fn breaker_config() -> Config {
    Config::builder()
        .count_window(50)
        .minimum_calls(4)
        .failure_rate_threshold(0.5)
        .open_duration(OPEN)
        .build()
        .unwrap()
}

pub fn fleet_config(service: &str, replica: &str, url: &str, quorum: Quorum) -> FleetConfig {
    let mut c = FleetConfig::new(service, "test", replica, url);
    c.quorum = quorum;
    // Opinions live three heartbeats: 1.5 s, room for a loaded machine's scheduler.
    c.heartbeat = Duration::from_millis(500);
    c.veto = Some(Veto {
        minimum_calls: 20,
        max_failure_rate: 0.1,
    });
    c.store.connect_timeout = Duration::from_millis(300);
    c.store.io_timeout = Duration::from_millis(300);
    c.store.reconnect_min = Duration::from_millis(20);
    c.store.reconnect_max = Duration::from_millis(200);
    c
}

/// One replica: its own breaker on its own manual clock, and its fleet membership.
pub struct Replica {
    pub clock: ManualClock,
    pub breaker: Arc<Breaker<ManualClock>>,
    pub fleet: Fleet,
}

impl Replica {
    pub fn start(config: FleetConfig) -> Replica {
        Replica::start_at(config, Duration::ZERO)
    }

    /// A replica whose clock starts `offset` later than the others'.
    pub fn start_at(config: FleetConfig, offset: Duration) -> Replica {
        let clock = ManualClock::new();
        clock.advance(offset);
        let breaker = Arc::new(Breaker::with_clock(breaker_config(), clock.clone()).unwrap());
        let fleet = Fleet::start(config).unwrap();
        fleet.attach("db", Arc::clone(&breaker)).unwrap();
        Replica {
            clock,
            breaker,
            fleet,
        }
    }

    /// Four failures: the breaker trips on its own.
    ///
    /// The fleet's thread runs beside the caller and wakes on every transition and
    /// announcement. When the peers already form a quorum, it may hold this breaker
    /// (`ForcedOpen`) between two of these failures (adoption) or right after the trip
    /// (a replica that tripped itself is held for its own time). Either way the replica
    /// ends shut, which is what a caller of `trip` relies on; which of the two happened
    /// is the scheduler's choice, so it is not asserted here.
    pub fn trip(&self) {
        for _ in 0..4 {
            match self.breaker.try_acquire() {
                Ok(permit) => permit.failure(FailureKind::Timeout),
                Err(_) => {
                    assert_eq!(
                        self.breaker.state(),
                        State::ForcedOpen,
                        "only a hold rejects"
                    );
                    return;
                }
            }
        }
        let state = self.breaker.state();
        assert!(
            matches!(state, State::Open | State::ForcedOpen),
            "four failures leave the breaker shut, not {state:?}"
        );
    }

    pub fn succeed(&self, n: usize) {
        for _ in 0..n {
            self.breaker.try_acquire().expect("admitted").success();
        }
    }

    pub fn sync(&self) {
        assert!(
            self.fleet.sync(WAIT),
            "a fleet round did not finish in {WAIT:?}"
        );
    }

    pub fn state(&self) -> State {
        self.breaker.state()
    }

    pub fn rejects(&self) -> bool {
        self.breaker.try_acquire().is_err()
    }
}

/// Every replica runs a round, in order, `times` times.
pub fn sync_all(replicas: &[&Replica], times: usize) {
    for _ in 0..times {
        for r in replicas {
            r.sync();
        }
    }
}

/// A plain connection for the tests' own reads and writes.
pub fn connect(url: &str) -> redis::Connection {
    let c = redis::Client::open(url).unwrap();
    let conn = c
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    conn
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private redis-server on 127.0.0.1, for the tests that stop, freeze and kill it.
pub struct RedisProcess {
    pub port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl RedisProcess {
    pub fn start() -> RedisProcess {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("tg-fleet-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut r = RedisProcess {
            port,
            dir,
            child: None,
        };
        r.restart();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// (Re)starts the server on the same port and waits until it answers.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(c) = redis::Client::open(self.url()) {
                if let Ok(mut conn) = c.get_connection_with_timeout(Duration::from_millis(200)) {
                    if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                        return;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {pid}");
    }

    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    /// SIGKILL, then reaps the process.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            // A frozen server ignores SIGKILL until continued on some kernels' views of
            // it; continue it first.
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the proxy does to traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Forwards everything.
    Pass = 0,
    /// Holds every chunk 2 s before forwarding it.
    Delay = 1,
    /// Reads and discards everything (a partition that keeps connections up).
    Swallow = 2,
    /// Closes every connection and every new one at once.
    Cut = 3,
}

/// A loopback TCP proxy in front of a Redis, for fault injection.
pub struct Proxy {
    pub port: u16,
    mode: Arc<AtomicU8>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    pub fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(Mode::Pass as u8));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let (m, s) = (Arc::clone(&mode), Arc::clone(&streams));
        std::thread::spawn(move || {
            // Ends with the test process; at most a few dozen connections per test.
            for client in listener.incoming().take(200) {
                let Ok(client) = client else { continue };
                if m.load(Ordering::Relaxed) == Mode::Cut as u8 {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                    continue;
                };
                {
                    let mut list = s.lock().unwrap();
                    list.push(client.try_clone().unwrap());
                    list.push(server.try_clone().unwrap());
                }
                pump(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    Arc::clone(&m),
                );
                pump(server, client, Arc::clone(&m));
            }
        });
        Proxy {
            port,
            mode,
            streams,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::Relaxed);
        if mode == Mode::Cut {
            for s in self.streams.lock().unwrap().drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, mode: Arc<AtomicU8>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            match mode.load(Ordering::Relaxed) {
                m if m == Mode::Swallow as u8 => continue,
                m if m == Mode::Cut as u8 => break,
                m if m == Mode::Delay as u8 => std::thread::sleep(Duration::from_secs(2)),
                _ => {}
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// Runs `calls` admissions with a recorded outcome on `breaker` from a thread while
/// `during` runs, and returns the longest one and how many were refused or lost.
pub fn measure_calls<R>(
    breaker: &Arc<Breaker<ManualClock>>,
    during: impl FnOnce() -> R,
) -> (Duration, u64, R) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (b, flag) = (Arc::clone(breaker), Arc::clone(&stop));
    let load = std::thread::spawn(move || {
        let mut worst = Duration::ZERO;
        let mut refused = 0u64;
        let mut n = 0u64;
        while !flag.load(Ordering::Relaxed) && n < 50_000_000 {
            let t = Instant::now();
            match b.try_acquire() {
                Ok(p) => p.success(),
                Err(_) => refused += 1,
            }
            worst = worst.max(t.elapsed());
            n += 1;
            if n % 1024 == 0 {
                std::thread::yield_now();
            }
        }
        (worst, refused)
    });
    let r = during();
    stop.store(true, Ordering::Relaxed);
    let (worst, refused) = load.join().unwrap();
    (worst, refused, r)
}

/// Polls `f` every 20 ms for at most `limit`.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
