//! The admin endpoint under hostile clients, on loopback: each attack runs for a few
//! seconds while the probes are timed and the process is watched.
//!
//! Every attack asserts, over the whole attack:
//! - `/health/live` answers 200 within 100 ms ([`probe_bound`]), and `/health/ready`
//!   within twice what it takes with no attack plus 100 ms (computing readiness is
//!   O(breakers): about 0.1 ms a breaker in a debug build, on a core the attack may
//!   share), the slowest of repeated probes;
//! - resident memory grows by less than [`RSS_GROWTH_BOUND_KIB`] over the baseline
//!   taken once the endpoint and its registry are up;
//! - the endpoint runs on exactly its four threads (`tg-admin*`), and the process gains
//!   no thread beyond the attackers' own;
//! - the attacker's connections are cut by the limits (timeouts, sizes, the connection
//!   cap), not left open.
//!
//! The attacks run one at a time (they measure the whole process), each bounded in
//! time and in connections; the file takes about 30 s on 2 cores.
#![cfg(feature = "admin")]

mod attacks;
mod loopback;

use attacks::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tripgate::Config;
use tripgate_ops::admin::AdminOptions;
use tripgate_ops::{AdminServer, HealthPolicy, Registry};

/// The slowest a health probe may answer during an attack: 100 ms, or
/// `$TRIPGATE_ATTACK_PROBE_BOUND_MS` on a machine too loaded for a latency bound to
/// mean anything (other work on the cores delays every thread, the probes' own too).
fn probe_bound() -> Duration {
    let ms = std::env::var("TRIPGATE_ATTACK_PROBE_BOUND_MS")
        .map(|v| {
            v.parse()
                .expect("TRIPGATE_ATTACK_PROBE_BOUND_MS: milliseconds")
        })
        .unwrap_or(100);
    Duration::from_millis(ms)
}
/// The most resident memory may grow during an attack (64 MiB).
const RSS_GROWTH_BOUND_KIB: u64 = 64 * 1024;
/// How long each attack lasts.
const ATTACK: Duration = Duration::from_secs(3);

/// The attacks measure the whole process: one at a time.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A number field of /proc/self/status (`VmRSS` in KiB, `Threads`).
fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

/// Threads of this process whose name starts with `prefix`.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.starts_with(prefix))
        .count()
}

/// The endpoint's threads: the connections' thread and the three workers.
const ADMIN_THREADS: usize = 4;

/// Open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The soft limit on open files (Max open files in /proc/self/limits).
fn fd_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap_or(1024)
}

struct Endpoint {
    server: AdminServer,
    addr: SocketAddr,
    baseline_rss_kib: u64,
    baseline_threads: u64,
    /// The slowest of a few `/health/ready` probes before the attack: what readiness
    /// itself costs at this registry's size (about 0.1 ms a breaker in a debug build).
    quiet_ready: Duration,
}

/// An endpoint with `breakers` breakers (`b0000`, `b0001`, ...) and [`LIMITS`].
fn endpoint(breakers: usize) -> Endpoint {
    let registry = Arc::new(Registry::new());
    let config = Config::standard();
    for i in 0..breakers {
        registry
            .get_or_create(&format!("b{i:04}"), &config)
            .unwrap();
    }
    let options = AdminOptions {
        limits: LIMITS,
        ..AdminOptions::default()
    };
    let server =
        AdminServer::start_with("127.0.0.1:0", registry, HealthPolicy::default(), options).unwrap();
    let addr = server.local_addr();
    // One warm-up round so that lazily made things (the runtime's buffers, the first
    // connection's allocations) are in the baseline.
    assert_eq!(scrape(addr).0, 200);
    let quiet_ready = (0..5)
        .map(|_| {
            let t = Instant::now();
            assert_eq!(loopback::get(addr, "/health/ready").status, 200);
            t.elapsed()
        })
        .max()
        .unwrap();
    Endpoint {
        server,
        addr,
        baseline_rss_kib: proc_status("VmRSS"),
        baseline_threads: proc_status("Threads"),
        quiet_ready,
    }
}

/// A full `/metrics` read without keeping it: (status, bytes, the last 256 bytes).
fn scrape(addr: SocketAddr) -> (u16, usize, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0;
    let mut head = Vec::new();
    let mut tail = Vec::new();
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        if head.len() < 64 {
            head.extend_from_slice(&buf[..n.min(64)]);
        }
        tail.extend_from_slice(&buf[..n]);
        let cut = tail.len().saturating_sub(256);
        tail.drain(..cut);
        total += n;
    }
    let head = String::from_utf8_lossy(&head);
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, total, String::from_utf8_lossy(&tail).into_owned())
}

/// What was seen while an attack ran.
#[derive(Debug, Default)]
struct Watch {
    slowest_live: Duration,
    slowest_ready: Duration,
    probes: usize,
    max_rss_kib: u64,
    max_threads: u64,
    max_admin_threads: usize,
    max_fds: usize,
}

/// Times the health probes and samples the process until `until`.
fn watch(addr: SocketAddr, until: Instant) -> Watch {
    let mut w = Watch::default();
    while Instant::now() < until {
        for (path, slowest) in [
            ("/health/live", &mut w.slowest_live),
            ("/health/ready", &mut w.slowest_ready),
        ] {
            let t = Instant::now();
            let reply = loopback::get(addr, path);
            let took = t.elapsed();
            assert_eq!(reply.status, 200, "{path}: {reply:?}");
            *slowest = (*slowest).max(took);
        }
        w.probes += 1;
        w.max_rss_kib = w.max_rss_kib.max(proc_status("VmRSS"));
        w.max_threads = w.max_threads.max(proc_status("Threads"));
        w.max_admin_threads = w.max_admin_threads.max(threads_named("tg-admin"));
        w.max_fds = w.max_fds.max(open_fds());
        std::thread::sleep(Duration::from_millis(10));
    }
    w
}

impl Endpoint {
    /// Asserts what must hold under every attack, given how many threads the
    /// attackers run.
    fn assert_held(&self, w: &Watch, attacker_threads: u64) {
        eprintln!(
            "{w:?} baseline rss {} KiB, quiet ready {:?}",
            self.baseline_rss_kib, self.quiet_ready
        );
        assert!(w.probes >= 3, "too few probes: {w:?}");
        let bound = probe_bound();
        assert!(w.slowest_live < bound, "/health/live: {w:?}");
        // Readiness is CPU work of O(breakers) on a thread of its own: an attack that
        // takes a core may slow it down, but never makes it wait behind other work.
        assert!(
            w.slowest_ready < self.quiet_ready.max(bound / 4) * 2 + bound,
            "/health/ready (quiet: {:?}): {w:?}",
            self.quiet_ready
        );
        let growth = w.max_rss_kib.saturating_sub(self.baseline_rss_kib);
        assert!(
            growth < RSS_GROWTH_BOUND_KIB,
            "RSS grew by {growth} KiB: {w:?}"
        );
        assert_eq!(w.max_admin_threads, ADMIN_THREADS, "{w:?}");
        // The test harness may start one more thread of its own meanwhile.
        assert!(
            w.max_threads <= self.baseline_threads + attacker_threads + 1,
            "threads: baseline {}, {w:?}",
            self.baseline_threads
        );
    }
}

/// Runs the attack for [`ATTACK`] while watching; stops and joins it.
fn under_attack<T: Send + 'static>(ep: &Endpoint, attacks: Vec<Attack<T>>) -> (Watch, Vec<T>) {
    let signals = Arc::new(Signals::default());
    let count = attacks.len();
    let handles: Vec<JoinHandle<T>> = attacks
        .into_iter()
        .map(|a| {
            let s = Arc::clone(&signals);
            std::thread::spawn(move || a(&s))
        })
        .collect();
    // Let every attack take hold (at most 10 s) before timing the probes.
    let setup = Instant::now();
    while signals.ready.load(Ordering::Relaxed) < count && setup.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    let w = watch(ep.addr, Instant::now() + ATTACK);
    signals.stop.store(true, Ordering::Relaxed);
    let results = handles.into_iter().map(|h| h.join().unwrap()).collect();
    (w, results)
}

#[test]
fn a_pipelined_unread_metrics_holds_up_only_its_own_connection() {
    let _one = one_at_a_time();
    let ep = endpoint(500);
    let addr = ep.addr;
    let (w, cut) = under_attack(
        &ep,
        vec![Box::new(move |stop: &Signals| {
            pipeline_unread(addr, "/metrics", 100, stop)
        })],
    );
    ep.assert_held(&w, 1);
    assert_eq!(
        cut,
        [true],
        "the unread connection was not cut by write_timeout"
    );
    assert_eq!(scrape(addr).0, 200);
    ep.server.shutdown();
}

#[test]
fn b_an_unread_scrape_of_3000_breakers_is_streamed_not_held() {
    let _one = one_at_a_time();
    let ep = endpoint(3000);
    let addr = ep.addr;
    let (w, cut) = under_attack(
        &ep,
        vec![Box::new(move |stop: &Signals| {
            pipeline_unread(addr, "/metrics", 1, stop)
        })],
    );
    ep.assert_held(&w, 1);
    assert_eq!(
        cut,
        [true],
        "the unread connection was not cut by write_timeout"
    );
    // A scrape afterwards gets the whole exposition.
    let (status, bytes, tail) = scrape(addr);
    assert_eq!(status, 200);
    assert!(bytes > 5_000_000, "scrape: {bytes} bytes");
    assert!(tail.contains("name=\"b2999\""), "{tail}");
    ep.server.shutdown();
}

#[test]
fn c_an_endless_header_line_is_cut_at_max_header_bytes() {
    let _one = one_at_a_time();
    let ep = endpoint(100);
    let addr = ep.addr;
    let (w, mut taken) = under_attack(
        &ep,
        vec![Box::new(move |stop: &Signals| endless_header(addr, stop))],
    );
    ep.assert_held(&w, 1);
    let taken = taken.pop().unwrap();
    assert!(!taken.is_empty(), "no endless header was cut");
    // What was written before the cut is the server's 16 KiB plus what the kernel's
    // socket buffers took on both sides.
    let most = taken.iter().max().unwrap();
    assert!(*most < 16 << 20, "{taken:?}");
    ep.server.shutdown();
}

#[test]
fn d_idle_connections_cannot_lock_the_probes_out() {
    let _one = one_at_a_time();
    let ep = endpoint(100);
    let addr = ep.addr;
    // Each connection takes a descriptor on both ends, both in this process; keep
    // clear of the limit (2,000 connections need about 4,300).
    let count = 2000.min(fd_limit().saturating_sub(LIMITS.max_connections + 300) / 2);
    assert!(
        count >= 300,
        "too few file descriptors for this test: {}",
        fd_limit()
    );
    let fds_before = open_fds();
    let (w, opened) = under_attack(
        &ep,
        vec![Box::new(move |stop: &Signals| {
            idle_connections(addr, count, stop)
        })],
    );
    ep.assert_held(&w, 1);
    assert_eq!(opened, [count]);
    // The server side holds at most max_connections of them (and the probe's own).
    let server_side = w.max_fds.saturating_sub(fds_before + count);
    assert!(
        server_side <= LIMITS.max_connections + 4,
        "{server_side} server-side connections open"
    );
    ep.server.shutdown();
}

/// Every slot taken by a connection kept full of pipelined `GET {path}` requests, the
/// answers read: the probes must still get in, and get answered in time.
fn every_slot_pipelining(path: &'static str) {
    let _one = one_at_a_time();
    let ep = endpoint(100);
    let addr = ep.addr;
    let (w, read) = under_attack(
        &ep,
        vec![Box::new(move |stop: &Signals| {
            pipelining_readers(addr, path, LIMITS.max_connections, stop)
        })],
    );
    ep.assert_held(&w, 1);
    assert!(read[0] > 0, "the attack got no answer");
    ep.server.shutdown();
}

#[test]
fn d2_connections_kept_mid_request_cannot_lock_the_probes_out() {
    // Each request waits on the readiness worker, so each connection is nearly always
    // mid-request: no idle one to close for a probe.
    every_slot_pipelining("/health/ready");
}

#[test]
fn d3_requests_pipelined_elsewhere_do_not_hold_the_probes_up() {
    // Answered at once (no worker to wait on): each connection always has its next
    // request ready, and a probe must not wait behind them all.
    every_slot_pipelining("/health/live");
}

#[test]
fn e_slowloris_heads_are_cut_at_header_read_timeout() {
    let _one = one_at_a_time();
    let ep = endpoint(100);
    let addr = ep.addr;
    let (w, longest) = under_attack(
        &ep,
        vec![Box::new(move |stop: &Signals| slowloris(addr, 50, stop))],
    );
    ep.assert_held(&w, 1);
    let longest = longest[0].expect("a slow head was never cut");
    assert!(
        longest < LIMITS.header_read_timeout + Duration::from_millis(700),
        "a slow head lived {longest:?}"
    );
    ep.server.shutdown();
}

#[test]
fn f_every_attack_at_once() {
    let _one = one_at_a_time();
    let ep = endpoint(3000);
    let addr = ep.addr;
    let idle = 2000.min(fd_limit().saturating_sub(LIMITS.max_connections + 400) / 2);
    #[derive(Debug)]
    enum Seen {
        Cut(bool),
        /// Endless headers cut, and the most bytes one took.
        Taken(usize, Option<usize>),
        Opened(usize),
        Longest(Option<Duration>),
    }
    let (w, seen) = under_attack(
        &ep,
        vec![
            Box::new(move |stop: &Signals| Seen::Cut(pipeline_unread(addr, "/metrics", 100, stop))),
            Box::new(move |stop: &Signals| Seen::Cut(pipeline_unread(addr, "/metrics", 1, stop))),
            Box::new(move |stop: &Signals| {
                let taken = endless_header(addr, stop);
                Seen::Taken(taken.len(), taken.iter().copied().max())
            }),
            Box::new(move |stop: &Signals| Seen::Opened(idle_connections(addr, idle, stop))),
            Box::new(move |stop: &Signals| Seen::Longest(slowloris(addr, 50, stop))),
        ],
    );
    ep.assert_held(&w, 5);
    eprintln!("{seen:?}");
    // Connections may be cut by the cap too here (the idle ones push out the others);
    // each attacker must still have been cut, whatever cut it.
    for s in &seen {
        match s {
            Seen::Cut(cut) => assert!(cut, "{seen:?}"),
            Seen::Taken(cut, most) => {
                assert!(*cut > 0, "{seen:?}");
                assert!(most.is_some_and(|m| m < 16 << 20), "{seen:?}");
            }
            // The attacker's own connects may miss a few (its backlog, its clock):
            // what matters is that nearly all were open at once.
            Seen::Opened(n) => assert!(*n >= idle * 9 / 10, "{seen:?}"),
            Seen::Longest(l) => assert!(l.is_some(), "{seen:?}"),
        }
    }
    ep.server.shutdown();
}
