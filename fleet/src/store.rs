//! One connection to the store (plain or TLS), owned by one fleet thread: connect and
//! I/O timeouts, reconnection with exponential backoff and jitter, and one log line per
//! change of health (never one per operation).

use crate::config::{FleetConfigError, StoreConfig};
use redis::{Client, Connection, ConnectionInfo, IntoConnectionInfo, RedisResult};
use std::time::{Duration, Instant};

/// A connection that reconnects by itself.
pub(crate) struct Store {
    /// The address, credentials and TLS material (no `Debug`: it holds secrets).
    client: Client,
    connect_timeout: Duration,
    io_timeout: Duration,
    reconnect_min: Duration,
    reconnect_max: Duration,
    conn: Option<Connection>,
    up: bool,
    delay: Duration,
    next_attempt: Option<Instant>,
    rng: u64,
    /// Which connection this is, for the log.
    role: Role,
}

/// The two connections of a fleet. The store's health is logged at `warn`/`info`,
/// once per change; the subscriber's at `debug` only, so an outage is one line, not two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The worker's connection: keys and the lease.
    Store,
    /// The subscriber's connection: announcements.
    Subscriber,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Store => "store",
            Role::Subscriber => "subscriber",
        }
    }

    fn level(self, normal: log::Level) -> log::Level {
        match self {
            Role::Store => normal,
            Role::Subscriber => log::Level::Debug,
        }
    }
}

impl Store {
    pub(crate) fn new(config: &StoreConfig, role: Role) -> Result<Store, FleetConfigError> {
        let mut info = config
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| FleetConfigError::new("store.url", format!("not a redis URL: {e}")))?;
        info.redis.username = config.username.clone();
        info.redis.password = config.resolve_password()?.map(|s| s.expose().to_string());
        let seed = std::process::id() as u64 ^ (&info as *const ConnectionInfo as u64);
        let client = match config.resolve_tls()? {
            Some(files) => {
                install_crypto_provider();
                Client::build_with_tls(info, files)
            }
            None => Client::open(info),
        }
        .map_err(|e| FleetConfigError::new("store.url", format!("not usable: {:?}", e.kind())))?;
        Ok(Store {
            client,
            connect_timeout: config.connect_timeout,
            io_timeout: config.io_timeout,
            reconnect_min: config.reconnect_min,
            reconnect_max: config.reconnect_max,
            conn: None,
            up: false,
            delay: config.reconnect_min,
            next_attempt: None,
            rng: seed | 1,
            role,
        })
    }

    /// Whether the last operation succeeded.
    pub(crate) fn is_up(&self) -> bool {
        self.up
    }

    /// Runs `f` on the connection, connecting first if needed and allowed by the
    /// backoff. `None` when the store is unreachable or the operation failed.
    pub(crate) fn run<T>(
        &mut self,
        f: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> Option<T> {
        let conn = self.connection()?;
        match f(conn) {
            Ok(v) => {
                self.healthy();
                Some(v)
            }
            Err(e) => {
                self.failed(&e);
                None
            }
        }
    }

    /// The connection, after connecting when the backoff allows it.
    fn connection(&mut self) -> Option<&mut Connection> {
        if self.conn.is_none() {
            self.conn = Some(self.take()?);
        }
        self.conn.as_mut()
    }

    /// A new connection of the caller's own (the subscriber keeps it), when the
    /// backoff allows an attempt and it succeeds.
    pub(crate) fn take(&mut self) -> Option<Connection> {
        if self.next_attempt.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        match self.connect() {
            Ok(c) => Some(c),
            Err(e) => {
                self.failed(&e);
                None
            }
        }
    }

    /// Connects within `connect_timeout`, TLS handshake, `AUTH` and `SELECT` included
    /// (the redis crate runs them under what is left of it).
    fn connect(&self) -> RedisResult<Connection> {
        let conn = self
            .client
            .get_connection_with_timeout(self.connect_timeout)?;
        conn.set_read_timeout(Some(self.io_timeout))?;
        conn.set_write_timeout(Some(self.io_timeout))?;
        Ok(conn)
    }

    /// Marks a reply received: resets the backoff, logs a recovery once.
    pub(crate) fn healthy(&mut self) {
        if !self.up {
            log::log!(
                self.role.level(log::Level::Info),
                "tripgate fleet: {} connected",
                self.role.name()
            );
        }
        self.up = true;
        self.delay = self.reconnect_min;
        self.next_attempt = None;
    }

    /// Drops the connection and schedules the next attempt; logs the loss once. Only
    /// the error's kind is logged: never its text, the address or a credential.
    pub(crate) fn failed(&mut self, e: &redis::RedisError) {
        if self.up || self.next_attempt.is_none() {
            log::log!(
                self.role.level(log::Level::Warn),
                "tripgate fleet: {} unavailable ({:?}); the breakers run on local state",
                self.role.name(),
                e.kind()
            );
        }
        self.up = false;
        self.conn = None;
        // Jitter: between half and all of the current delay; then double it.
        let jittered = self.delay.mul_f64(0.5 + 0.5 * self.next_random());
        self.next_attempt = Some(Instant::now() + jittered);
        self.delay = (self.delay * 2).min(self.reconnect_max);
    }

    fn next_random(&mut self) -> f64 {
        // xorshift64: jitter only needs to differ between replicas.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Makes ring, the provider this crate builds rustls with, the process's default
/// rustls crypto provider, unless the application installed one already. The redis
/// crate builds its TLS settings with the process default; rustls would pick ring by
/// itself when it is the only provider compiled in, but panics when another crate of
/// the application enables a second one (aws-lc-rs) and nobody chose.
///
/// rustls 0.23.48 deprecates ring's provider for lacking post-quantum key exchange:
/// the classic exchanges (X25519, P-256) stay fully supported and are what most Redis
/// servers negotiate today, and aws-lc-rs would be a far larger C build. An
/// application that wants post-quantum key exchange installs aws-lc-rs's provider as
/// the process default before `Fleet::start`; the fleet then uses it.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err: another thread installed one in between, which is as good.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Every record logged by this test binary.
    static LINES: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, record: &log::Record) {
            let line = record.args().to_string();
            LINES.lock().unwrap().push((record.level(), line));
        }
        fn flush(&self) {}
    }

    #[test]
    fn an_unreachable_store_is_logged_once_without_its_address_or_password() {
        let _ = log::set_logger(&Capture);
        log::set_max_level(log::LevelFilter::Trace);
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = StoreConfig::new(format!("redis://127.0.0.1:{port}/0"));
        config.password = Some(crate::Secret::new("hunter2"));
        config.reconnect_min = Duration::from_millis(1);
        config.reconnect_max = Duration::from_millis(1);
        let mut store = Store::new(&config, Role::Store).unwrap();
        for _ in 0..20 {
            assert!(store
                .run(|c| redis::cmd("PING").query::<String>(c))
                .is_none());
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(!store.is_up());
        let lines = LINES.lock().unwrap();
        let ours: Vec<_> = lines
            .iter()
            .filter(|(_, l)| l.starts_with("tripgate fleet: store"))
            .collect();
        assert_eq!(ours.len(), 1, "{ours:?}");
        assert_eq!(ours[0].0, log::Level::Warn);
        assert!(!ours[0].1.contains("hunter2") && !ours[0].1.contains(&port.to_string()));
    }
}
