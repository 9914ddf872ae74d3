//! Hostile clients of the admin endpoint, on loopback: the attackers of
//! `admin_attacks.rs` (one attack at a time, the whole process watched) and of
//! `soak.rs` (every attack, round after round, while the service is under load).
//!
//! Each attacker runs on a thread of its own until its [`Signals`] say stop: when told
//! to, or at a deadline of their own ([`Signals::until`]), so that an attack can be
//! repeated in rounds.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tripgate_ops::admin::Limits;

/// The endpoint's limits in these tests: the defaults with shorter timeouts, so that
/// cuts happen within an attack.
pub const LIMITS: Limits = Limits {
    max_connections: 256,
    max_concurrent_scrapes: 4,
    header_read_timeout: Duration::from_secs(1),
    write_timeout: Duration::from_secs(1),
    response_timeout: Duration::from_secs(3),
    max_header_bytes: 16 * 1024,
    max_body_bytes: 1024,
    keep_alive: true,
};

/// An attack's signals: `ready` once it has taken hold, `stop` when it must end (or
/// its `deadline`, if it has one, has passed).
#[derive(Default)]
pub struct Signals {
    pub stop: AtomicBool,
    pub ready: AtomicUsize,
    deadline: Option<Instant>,
}

impl Signals {
    /// Signals that also stop by themselves at `deadline`: one round of an attack
    /// that is repeated, or a whole run that must end on time.
    pub fn until(deadline: Instant) -> Signals {
        Signals {
            deadline: Some(deadline),
            ..Signals::default()
        }
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    pub fn set_ready(&self) {
        self.ready.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits until stopped.
    pub fn hold(&self) {
        while !self.stopped() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One attacker: runs on its own thread until [`Signals::stop`].
pub type Attack<T> = Box<dyn FnOnce(&Signals) -> T + Send>;

/// Whether the server has closed `s` (reading what it sent, for at most `within`).
pub fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = vec![0; 256 * 1024];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true, // reset
        }
    }
    false
}

/// Pipelines `count` requests for `path` on one connection and never reads; at the
/// end, whether the server had cut it.
pub fn pipeline_unread(addr: SocketAddr, path: &'static str, count: usize, stop: &Signals) -> bool {
    let mut s = TcpStream::connect(addr).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").repeat(count);
    s.write_all(req.as_bytes()).unwrap();
    stop.set_ready();
    stop.hold();
    closed_by_server(&mut s, Duration::from_secs(10))
}

/// Sends a header line that never ends, on one connection after another; the bytes
/// each connection took before the server cut it.
pub fn endless_header(addr: SocketAddr, stop: &Signals) -> Vec<usize> {
    let filler = vec![b'a'; 16 * 1024];
    let mut taken = Vec::new();
    stop.set_ready();
    while !stop.stopped() {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_write_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        s.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Endless: ")
            .unwrap();
        let mut sent = 0;
        let cut = loop {
            if stop.stopped() {
                break false;
            }
            match s.write(&filler) {
                Ok(n) => sent += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    // The server stopped reading: it has answered 431 and closed, or
                    // is about to.
                    if closed_by_server(&mut s, Duration::from_secs(2)) {
                        break true;
                    }
                }
                Err(_) => break true,
            }
        };
        if cut {
            taken.push(sent);
        }
    }
    taken
}

/// Opens up to `count` connections that send nothing and holds them until stopped;
/// how many were opened. A connect that fails is tried again, up to three times, as
/// an attacker would: on a busy 2-core machine a handshake can take over a second (a
/// dropped SYN is resent after one), and the attack must be mounted in full.
pub fn idle_connections(addr: SocketAddr, count: usize, stop: &Signals) -> usize {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        if stop.stopped() {
            break;
        }
        let connected =
            (0..3).find_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok());
        if let Some(s) = connected {
            held.push(s);
        }
    }
    stop.set_ready();
    stop.hold();
    held.len()
}

/// `count` connections each sending a request head one byte every 100 ms; the
/// longest any of them stayed open, or `None` if one was never cut.
pub fn slowloris(addr: SocketAddr, count: usize, stop: &Signals) -> Option<Duration> {
    let head = b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ".repeat(1000);
    let mut conns: Vec<(TcpStream, Instant, usize, Option<Duration>)> = (0..count)
        .map(|_| {
            let s = TcpStream::connect(addr).unwrap();
            s.set_nonblocking(true).unwrap();
            (s, Instant::now(), 0, None)
        })
        .collect();
    stop.set_ready();
    let mut buf = [0; 1024];
    while !stop.stopped() {
        for (s, opened, sent, cut) in conns.iter_mut().filter(|c| c.3.is_none()) {
            let gone = match s.read(&mut buf) {
                Ok(_) => true, // EOF, or an error status before the close
                Err(e) if e.kind() == ErrorKind::WouldBlock => false,
                Err(_) => true,
            };
            let gone = gone || s.write(&head[*sent..*sent + 1]).is_err();
            *sent += 1;
            if gone {
                *cut = Some(opened.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    conns
        .iter()
        .map(|c| c.3)
        .try_fold(Duration::ZERO, |m, c| Some(m.max(c?)))
}

/// Pipelines `count` requests for `/metrics` on one connection and reads the answers
/// a trickle at a time (1 KiB every 10 ms) until stopped or cut: a client holding a
/// scrape slot for as long as the server lets it. The bytes it read.
pub fn slow_reader(addr: SocketAddr, count: usize, stop: &Signals) -> usize {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(count);
    s.write_all(req.as_bytes()).unwrap();
    stop.set_ready();
    let mut buf = [0; 1024];
    let mut read = 0;
    while !stop.stopped() {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break, // reset
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    read
}

/// `count` connections, each kept full of pipelined `GET {path}` requests (a batch of
/// 50 written whenever the socket takes it) whose answers are read and dropped as they
/// come, reconnecting when cut: clients that keep every connection mid-request. How
/// many answers' bytes were read in all.
pub fn pipelining_readers(
    addr: SocketAddr,
    path: &'static str,
    count: usize,
    stop: &Signals,
) -> usize {
    let batch = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").repeat(50);
    let open = || -> Option<(TcpStream, usize)> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
        s.set_nonblocking(true).ok()?;
        Some((s, 0))
    };
    // Each connection with how much of the current batch it has written.
    let mut conns: Vec<Option<(TcpStream, usize)>> = (0..count).map(|_| open()).collect();
    stop.set_ready();
    let mut buf = vec![0; 64 * 1024];
    let mut read = 0;
    while !stop.stopped() {
        for conn in conns.iter_mut() {
            let Some((s, written)) = conn else {
                *conn = open();
                continue;
            };
            let mut cut = false;
            loop {
                match s.read(&mut buf) {
                    Ok(0) => {
                        cut = true;
                        break;
                    }
                    Ok(n) => read += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        cut = true;
                        break;
                    }
                }
            }
            match s.write(&batch.as_bytes()[*written..]) {
                Ok(n) => *written = (*written + n) % batch.len(),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => cut = true,
            }
            if cut {
                *conn = None;
            }
        }
    }
    read
}
