//! Replicas as separate processes (this test binary run again in a replica role),
//! driven line by line over stdin, so that a replica can really die: SIGKILL, no
//! goodbye, its keys left behind.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;
use tripgate_fleet::{Keys, Quorum};

const ROLE: &str = "TRIPGATE_FLEET_CHILD";

/// The replica role: runs only when started by the parent with its settings.
#[test]
fn replica_process() {
    let Ok(spec) = std::env::var(ROLE) else {
        return;
    };
    let mut parts = spec.split(' ');
    let (url, svc, id) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut config = fleet_config(svc, id, url, Quorum::Count(2));
    config.probe_lease = Duration::from_secs(1);
    // Opinions live three heartbeats: 3 s here. Each replica is a separate debug
    // process whose worker must beat while the parent drives the others; with 1.5 s a
    // loaded 2-core CI machine let the live replicas' opinions lapse, the fleet fell
    // below quorum and every hold was released at once (three probers, not one).
    config.heartbeat = Duration::from_secs(1);
    let r = Replica::start(config);
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        let mut words = line.split(' ');
        match words.next().unwrap_or("") {
            "trip" => r.trip(),
            "succeed" => r.succeed(words.next().unwrap().parse().unwrap()),
            "advance" => r
                .clock
                .advance(Duration::from_secs(words.next().unwrap().parse().unwrap())),
            "sync" => r.sync(),
            "quit" => break,
            _ => {}
        }
        writeln!(out, "@@ {}", r.state()).unwrap();
        out.flush().unwrap();
    }
}

struct Proc {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Proc {
    fn start(url: &str, svc: &str, id: &str) -> Proc {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "replica_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, format!("{url} {svc} {id}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Proc {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one command; returns the replica's state after it.
    fn send(&mut self, cmd: &str) -> String {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "replica exited"
            );
            // The harness prints its own text on the same stream (the first reply
            // follows "test replica_process ... " on one line).
            if let Some((_, state)) = line.trim_end().split_once("@@ ") {
                return state.to_string();
            }
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        // Bounded: a replica that does not leave within 5 s is killed.
        for _ in 0..250 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }
}

fn sync(ps: &mut [Proc]) -> Vec<String> {
    ps.iter_mut().map(|p| p.send("sync")).collect()
}

#[test]
fn replica_processes_adopt_probe_once_and_survive_a_killed_prober() {
    if std::env::var(ROLE).is_ok() {
        return;
    }
    let Some(url) = redis_url() else { return };
    let svc = service("procs");
    let keys = Keys::new(&svc, "test");
    let mut ps: Vec<Proc> = (0..4)
        .map(|i| Proc::start(&url, &svc, &format!("p{i}")))
        .collect();
    sync(&mut ps);
    for p in &mut ps[..3] {
        assert_eq!(p.send("trip"), "open");
    }
    sync(&mut ps);
    let states = sync(&mut ps);
    assert_eq!(
        states, ["forced_open"; 4],
        "p3 adopted; p0, p1 and p2 are held"
    );

    for p in ps.iter_mut() {
        p.send("advance 31");
    }
    let states = sync(&mut ps);
    let probers: Vec<usize> = (0..4).filter(|&i| states[i] == "closed").collect();
    assert_eq!(probers.len(), 1, "one probe for the fleet: {states:?}");

    // The prober dies holding the lease, its opinion left behind.
    let dead = probers[0];
    ps[dead].kill();
    let dead_key = keys.opinion("db", &format!("p{dead}"));
    let mut conn = connect(&url);
    assert!(eventually(WAIT, || {
        let lease: bool = redis::cmd("EXISTS")
            .arg(keys.lease("db"))
            .query(&mut conn)
            .unwrap();
        let opinion: bool = redis::cmd("EXISTS")
            .arg(&dead_key)
            .query(&mut conn)
            .unwrap();
        !lease && !opinion
    }));
    // The fleet is not wedged: exactly one other replica probes (at least two votes of
    // their own remain, a quorum), and its success releases all.
    let alive: Vec<usize> = (0..4).filter(|&i| i != dead).collect();
    let mut second = Vec::new();
    assert!(eventually(WAIT, || {
        second = alive
            .iter()
            .copied()
            .filter(|&i| ps[i].send("sync") == "closed")
            .collect();
        !second.is_empty()
    }));
    assert_eq!(
        second.len(),
        1,
        "one probe after the lease expired: {second:?}"
    );
    let second = second[0];
    assert_eq!(ps[second].send("succeed 4"), "closed");
    ps[second].send("sync");
    // The recovery ends every hold: p3, which only adopted, is released closed; a
    // replica that had tripped on its own is handed to its own half-open (closing is
    // never propagated), and its own probe closes it.
    for &i in &alive {
        let expected = if i == second || i == 3 {
            "closed"
        } else {
            "half_open"
        };
        assert_eq!(ps[i].send("sync"), expected, "p{i}");
        if expected == "half_open" {
            assert_eq!(ps[i].send("succeed 1"), "closed", "p{i}'s own probe");
        }
    }
}
