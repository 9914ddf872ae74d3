//! One connection to the store, owned by one fleet thread: connect and I/O timeouts,
//! reconnection with exponential backoff and jitter, and one log line per change of
//! health (never one per operation).

use crate::config::{FleetConfigError, StoreConfig};
use redis::{Connection, ConnectionInfo, IntoConnectionInfo, RedisResult};
use std::time::{Duration, Instant};

/// A connection that reconnects by itself.
pub(crate) struct Store {
    info: ConnectionInfo,
    connect_timeout: Duration,
    io_timeout: Duration,
    reconnect_min: Duration,
    reconnect_max: Duration,
    conn: Option<Connection>,
    up: bool,
    delay: Duration,
    next_attempt: Option<Instant>,
    rng: u64,
    /// Which connection this is, for the log (`store`, `subscriber`).
    role: &'static str,
}

impl Store {
    pub(crate) fn new(config: &StoreConfig, role: &'static str) -> Result<Store, FleetConfigError> {
        let mut info = config
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| FleetConfigError::new("store.url", format!("not a redis URL: {e}")))?;
        info.redis.username = config.username.clone();
        info.redis.password = config.resolve_password()?.map(|s| s.expose().to_string());
        let seed = std::process::id() as u64 ^ (&info as *const ConnectionInfo as u64);
        Ok(Store {
            info,
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

    fn connect(&self) -> RedisResult<Connection> {
        let client = redis::Client::open(self.info.clone())?;
        let conn = client.get_connection_with_timeout(self.connect_timeout)?;
        conn.set_read_timeout(Some(self.io_timeout))?;
        conn.set_write_timeout(Some(self.io_timeout))?;
        Ok(conn)
    }

    /// Marks a reply received: resets the backoff, logs a recovery once.
    pub(crate) fn healthy(&mut self) {
        if !self.up {
            log::info!("tripgate fleet: {} connected", self.role);
        }
        self.up = true;
        self.delay = self.reconnect_min;
        self.next_attempt = None;
    }

    /// Drops the connection and schedules the next attempt; logs the loss once. The
    /// error's text names no credential (the client never puts them in errors), and
    /// the address is not logged.
    pub(crate) fn failed(&mut self, e: &redis::RedisError) {
        if self.up || self.next_attempt.is_none() {
            log::warn!(
                "tripgate fleet: {} unavailable ({:?}); the breakers run on local state",
                self.role,
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
