//! A service with three dependencies guarded by tripgate, run the way production would:
//! breakers from a config file, live reload, Prometheus metrics and health endpoints.
//!
//! ```text
//! cargo run -p tripgate-ops --features admin --example service -- --seconds 6
//! ```
//!
//! The database, the external API and the cache are simulated in-process: the database
//! has an outage in the middle of the run, the external API is slow and flaky, the
//! cache is healthy and serves as the API's fallback (cache first).
//! Options: `--seconds N` (0 runs until killed), `--config PATH` (else
//! `TRIPGATE_CONFIG`, else `ops/examples/tripgate.toml`), `--addr ADDR` (else
//! `TRIPGATE_ADMIN_ADDR`, else `127.0.0.1:0`), `--env NAME` (else `TRIPGATE_ENV`, else
//! the file's `environment`). With `TG_ADMIN_TOKEN` (or `TG_ADMIN_TOKEN_FILE`)
//! set, the admin endpoint also takes control actions from loopback clients:
//!
//! ```text
//! curl -X POST -H "Authorization: Bearer $TG_ADMIN_TOKEN" \
//!      http://127.0.0.1:PORT/breakers/database/force-open
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tripgate::{CallError, FailureKind};
use tripgate_ops::admin::{AdminOptions, ControlToken};
use tripgate_ops::{health, AdminServer, EnvVars, HealthPolicy, Registry, Reloader};

/// Prints `log` records (the reload lines) to stderr.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            eprintln!("[{}] {}", r.level(), r.args());
        }
    }
    fn flush(&self) {}
}

struct Options {
    seconds: u64,
    config: String,
    addr: String,
    env: Option<String>,
}

fn options() -> Options {
    let vars = EnvVars::from_process();
    let mut o = Options {
        seconds: 6,
        config: vars.get("TRIPGATE_CONFIG").map_or_else(
            || concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tripgate.toml").to_string(),
            str::to_string,
        ),
        addr: vars
            .get("TRIPGATE_ADMIN_ADDR")
            .unwrap_or("127.0.0.1:0")
            .to_string(),
        env: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--seconds" => o.seconds = value().parse().expect("--seconds N"),
            "--config" => o.config = value(),
            "--addr" => o.addr = value(),
            "--env" => o.env = Some(value()),
            "-h" | "--help" => {
                println!("service [--seconds N] [--config PATH] [--addr ADDR] [--env NAME]");
                std::process::exit(0);
            }
            other => panic!("unknown option {other}"),
        }
    }
    o
}

/// A simulated dependency call: sleeps its latency, then fails or not.
fn simulate(latency: Duration, fail: bool, kind: FailureKind) -> Result<&'static str, FailureKind> {
    std::thread::sleep(latency);
    if fail {
        Err(kind)
    } else {
        Ok("ok")
    }
}

/// A cheap deterministic pseudo-random stream per worker.
struct Rng(u64);

impl Rng {
    fn chance(&mut self, p: f64) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

#[derive(Default)]
struct Tally {
    served: AtomicU64,
    degraded: AtomicU64,
    failed: AtomicU64,
}

/// A plain HTTP GET; the body.
fn get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    Ok(raw
        .split_once("\r\n\r\n")
        .map_or(raw.clone(), |(_, b)| b.to_string()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = log::set_logger(&StderrLog).map(|()| log::set_max_level(log::LevelFilter::Info));
    let o = options();
    let reloader = Reloader::new(&o.config, o.env.as_deref(), EnvVars::from_process());
    let settings = reloader.load()?;
    println!(
        "config {} (environment {}): {}",
        o.config,
        settings.environment.as_deref().unwrap_or("none"),
        settings
            .services
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    let registry = Arc::new(Registry::with_settings(settings));
    let db = registry.breaker("database")?;
    let api = registry.breaker("external_api")?;
    let cache = registry.breaker("cache")?;
    for (name, b) in registry.list() {
        let name = name.clone();
        b.add_listener(move |t| {
            println!(
                "  transition {name}: {} -> {} ({})",
                t.from.name(),
                t.to.name(),
                t.reason
            )
        });
    }
    let _watcher = reloader.watch(Arc::clone(&registry), Duration::from_millis(500));
    let options = AdminOptions {
        control: ControlToken::from_environment()?,
        ..AdminOptions::default()
    };
    let control = options.control.is_some();
    let admin = AdminServer::start_with(
        o.addr.as_str(),
        Arc::clone(&registry),
        HealthPolicy::default(),
        options,
    )?;
    println!(
        "admin endpoint: http://{0}/metrics http://{0}/health/live http://{0}/health/ready",
        admin.local_addr()
    );
    if control {
        println!(
            "  control: POST http://{}/breakers/NAME/ACTION with the token",
            admin.local_addr()
        );
    }

    let start = Instant::now();
    let run_for = Duration::from_secs(o.seconds);
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    // The database is down from 30% to 55% of the run (1.5 s..3 s when run forever).
    let outage = if o.seconds == 0 {
        (Duration::from_millis(1500), Duration::from_millis(3000))
    } else {
        (run_for * 3 / 10, run_for * 55 / 100)
    };
    let workers: Vec<_> = (0..2u64)
        .map(|w| {
            let (db, api, cache) = (Arc::clone(&db), Arc::clone(&api), Arc::clone(&cache));
            let (stop, tally) = (Arc::clone(&stop), Arc::clone(&tally));
            std::thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (w + 1));
                while !stop.load(Ordering::Relaxed) {
                    let t = start.elapsed();
                    let down = t >= outage.0 && t < outage.1;
                    // 1. The database: required. Rejections fail fast.
                    let row = db.call(|| {
                        simulate(
                            Duration::from_micros(300),
                            down || rng.chance(0.01),
                            FailureKind::Connection,
                        )
                    });
                    // 2. The external API, slow and flaky; the cache is its fallback.
                    let slow = rng.chance(0.2);
                    let latency = Duration::from_millis(if slow { 60 } else { 2 });
                    let enrich =
                        api.call(|| simulate(latency, rng.chance(0.08), FailureKind::ServerError));
                    let fallback = match &enrich {
                        Ok(_) => None,
                        Err(_) => Some(cache.call(|| {
                            simulate(
                                Duration::from_micros(100),
                                rng.chance(0.001),
                                FailureKind::Timeout,
                            )
                        })),
                    };
                    match (row, enrich, fallback) {
                        (Err(CallError::Rejected(_)) | Err(CallError::Failed(_)), ..) => {
                            tally.failed.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        (Ok(_), Ok(_), _) => {
                            tally.served.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            tally.degraded.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();

    let mut last_report = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            let ready = health::readiness(&registry, &HealthPolicy::default());
            let states: Vec<String> = registry
                .snapshots()
                .iter()
                .map(|s| format!("{}={}", s.name, s.snapshot.state.name()))
                .collect();
            println!(
                "t={:>4.1}s  {}  ready={}  served={} degraded={} failed={}",
                start.elapsed().as_secs_f64(),
                states.join(" "),
                ready.status,
                tally.served.load(Ordering::Relaxed),
                tally.degraded.load(Ordering::Relaxed),
                tally.failed.load(Ordering::Relaxed),
            );
        }
        if o.seconds > 0 && start.elapsed() >= run_for {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }

    println!("\nwhat happened:");
    for s in registry.snapshots() {
        let n = &s.snapshot;
        let p95 = n
            .latency
            .as_ref()
            .map_or("-".to_string(), |l| format!("{:.1} ms", l.p95 as f64 / 1e6));
        println!(
            "  {:<13} state={:<9} calls={:<6} failures={:<5} rejected={:<6} slow={:<5} transitions={:<3} p95={}",
            s.name, n.state.name(), n.calls, n.failures, n.rejected, n.slow_calls, n.transitions, p95
        );
    }
    println!(
        "  requests: served={} degraded (cache fallback or no enrichment)={} failed (database)={}",
        tally.served.load(Ordering::Relaxed),
        tally.degraded.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    let ready = health::readiness(&registry, &HealthPolicy::default());
    println!("  readiness {}: {}", ready.status, ready.body_text());
    // What Prometheus would scrape, over loopback.
    let scrape = get(admin.local_addr(), "/metrics")?;
    println!("  scraped http://{}/metrics:", admin.local_addr());
    for line in scrape
        .lines()
        .filter(|l| l.starts_with("tripgate_breaker_state{"))
    {
        println!("    {line}");
    }
    admin.shutdown();
    Ok(())
}
