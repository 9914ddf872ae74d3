//! [`FleetConfig`]: what a replica needs to join its fleet, deserializable from the
//! ops config file (TOML, YAML, JSON) and checked field by field.
//!
//! ```
//! use tripgate_fleet::{FleetConfig, Quorum};
//!
//! let config: FleetConfig = toml::from_str(r#"
//!     service = "checkout"
//!     environment = "prod"
//!     replica = "checkout-7f9c"
//!     heartbeat = "1s"
//!     quorum = { share = 0.5 }
//!     [store]
//!     url = "redis://127.0.0.1:6379/0"
//!     username = "tripgate"
//!     password_env = "REDIS_PASSWORD"
//! "#)?;
//! config.validate()?;
//! assert_eq!(config.quorum, Quorum::Share(0.5));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// Longest service, environment, replica or breaker name.
pub const MAX_NAME_LEN: usize = 64;

/// A replica's fleet settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// The service the replicas belong to (first part of the key namespace).
    pub service: String,
    /// The environment (`prod`, `staging`, ...): second part of the key namespace.
    pub environment: String,
    /// This replica's id, unique in the fleet (a pod name, host name and pid, ...).
    pub replica: String,
    /// Where the fleet's state lives.
    pub store: StoreConfig,
    /// How often each replica republishes its opinions and rereads its peers'.
    #[serde(with = "humantime_serde", default = "defaults::heartbeat")]
    pub heartbeat: Duration,
    /// How many replicas must report a breaker open before the others adopt it.
    #[serde(default)]
    pub quorum: Quorum,
    /// When a replica with a healthy window of its own refuses to adopt; `None`: never.
    #[serde(default = "defaults::veto")]
    pub veto: Option<Veto>,
    /// Optional: replicas too quiet to trip on their own trip at the fleet's summed
    /// rate. `None` (the default): off.
    #[serde(default)]
    pub fleet_rate: Option<FleetRate>,
    /// How long the fleet's single recovery probe may take before another replica may
    /// try (the lease key's lifetime).
    #[serde(with = "humantime_serde", default = "defaults::probe_lease")]
    pub probe_lease: Duration,
    /// At most this many opinions are read per breaker (a bound on a flooded namespace).
    #[serde(default = "defaults::max_replicas")]
    pub max_replicas: u32,
}

/// A quorum: a fixed count of replicas, or a share of those currently reporting.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Quorum {
    /// At least this many replicas (this one included) report open.
    Count(u32),
    /// At least this share (0 < share <= 1) of the replicas reporting, and at least one.
    Share(f64),
}

impl Default for Quorum {
    fn default() -> Self {
        Quorum::Count(2)
    }
}

impl Quorum {
    /// How many open reports make a quorum when `live` replicas report.
    pub fn needed(self, live: usize) -> usize {
        match self {
            Quorum::Count(n) => n as usize,
            Quorum::Share(share) => ((share * live as f64).ceil() as usize).max(1),
        }
    }
}

/// A replica vetoes adoption for itself while its own window holds at least
/// `minimum_calls` calls and fails less than `max_failure_rate` of them.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Veto {
    /// Calls in the replica's own window before its view can outvote the fleet.
    pub minimum_calls: u64,
    /// Failure rate (0..1) under which the window counts as healthy.
    pub max_failure_rate: f64,
}

/// The fleet's summed windows as a trip rule for quiet replicas: a replica whose own
/// window holds fewer calls than its breaker's `minimum_calls` opens for
/// `open_duration` when every reporting replica's window added up (this one's
/// included) holds at least `minimum_calls` calls failing at `failure_rate` or more.
/// Such an opening is the replica's own vote, so a quiet fleet recovers through the
/// same single probe as any other.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetRate {
    /// Calls in the summed windows before the rule may fire.
    pub minimum_calls: u64,
    /// Failure rate (0..1] of the summed windows that trips.
    pub failure_rate: f64,
    /// How long a replica opened by this rule stays open.
    #[serde(with = "humantime_serde")]
    pub open_duration: Duration,
}

/// The Redis (or Valkey) server and how to reach it.
///
/// TLS: a `rediss://` URL. The server's certificate is checked against the
/// platform's CA bundle, or against `tls_ca_file` alone when it is set, and must name
/// the URL's host (DNS name or IP address). `tls_cert_file` and `tls_key_file` add a
/// client certificate for servers that require one (`tls-auth-clients yes`). There
/// is no switch to turn the checks off: a server with a private or self-made CA is
/// trusted by giving that CA in `tls_ca_file`. The files are read once, when the
/// fleet starts (and by [`FleetConfig::validate`], which checks them).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `redis://host:port/db`, or `rediss://host:port/db` for TLS, without
    /// credentials (see the fields below).
    pub url: String,
    /// ACL user name.
    #[serde(default)]
    pub username: Option<String>,
    /// Password, inline (prefer `password_file` or `password_env`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// A file holding the password (trailing newline trimmed).
    #[serde(default)]
    pub password_file: Option<String>,
    /// An environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// `rediss://` only: a PEM file of the CA certificate(s) to trust instead of the
    /// platform's CA bundle (a private CA).
    #[serde(default)]
    pub tls_ca_file: Option<String>,
    /// `rediss://` only: a PEM file of this client's certificate (then any
    /// intermediates), for a server that requires client certificates. Needs
    /// `tls_key_file`.
    #[serde(default)]
    pub tls_cert_file: Option<String>,
    /// `rediss://` only: the PEM file of `tls_cert_file`'s private key (PKCS#8,
    /// PKCS#1 or SEC1). Its contents are never logged nor shown.
    #[serde(default)]
    pub tls_key_file: Option<String>,
    /// Longest wait to connect (handshake included).
    #[serde(with = "humantime_serde", default = "defaults::connect_timeout")]
    pub connect_timeout: Duration,
    /// Longest wait for one command's reply, or to send it.
    #[serde(with = "humantime_serde", default = "defaults::io_timeout")]
    pub io_timeout: Duration,
    /// First wait before reconnecting after a failure; doubles up to `reconnect_max`.
    #[serde(with = "humantime_serde", default = "defaults::reconnect_min")]
    pub reconnect_min: Duration,
    /// Longest wait between reconnection attempts.
    #[serde(with = "humantime_serde", default = "defaults::reconnect_max")]
    pub reconnect_max: Duration,
}

impl StoreConfig {
    /// A store at `url` with no credentials and the default timeouts.
    pub fn new(url: impl Into<String>) -> StoreConfig {
        StoreConfig {
            url: url.into(),
            username: None,
            password: None,
            password_file: None,
            password_env: None,
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            connect_timeout: defaults::connect_timeout(),
            io_timeout: defaults::io_timeout(),
            reconnect_min: defaults::reconnect_min(),
            reconnect_max: defaults::reconnect_max(),
        }
    }

    /// The password from whichever source is set (at most one is).
    pub(crate) fn resolve_password(&self) -> Result<Option<Secret>, FleetConfigError> {
        if let Some(p) = &self.password {
            return Ok(Some(p.clone()));
        }
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                FleetConfigError::new("store.password_file", format!("cannot read it: {e}"))
            })?;
            return Ok(Some(Secret(
                text.trim_end_matches(['\n', '\r']).to_string(),
            )));
        }
        if let Some(var) = &self.password_env {
            let value = std::env::var(var).map_err(|_| {
                FleetConfigError::new("store.password_env", "the variable is not set")
            })?;
            return Ok(Some(Secret(value)));
        }
        Ok(None)
    }

    /// Whether the URL asks for TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.url.starts_with(TLS_SCHEME)
    }

    /// The TLS files, read and checked: `None` for a `redis://` URL. Each error names
    /// its field and never quotes a file's contents.
    pub(crate) fn resolve_tls(&self) -> Result<Option<redis::TlsCertificates>, FleetConfigError> {
        let fields = [
            ("store.tls_ca_file", &self.tls_ca_file),
            ("store.tls_cert_file", &self.tls_cert_file),
            ("store.tls_key_file", &self.tls_key_file),
        ];
        if !self.is_tls() {
            if let Some((field, _)) = fields.iter().find(|(_, f)| f.is_some()) {
                return Err(FleetConfigError::new(
                    field,
                    "needs a rediss:// store.url (TLS); with redis:// it would be ignored",
                ));
            }
            return Ok(None);
        }
        let roots = match &self.tls_ca_file {
            Some(path) => Some(tls::ca(path)?),
            None => None,
        };
        let client = match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => Some(tls::client(cert, key)?),
            (None, None) => None,
            (Some(_), None) => {
                return Err(FleetConfigError::new(
                    "store.tls_key_file",
                    "required with store.tls_cert_file (the client certificate's key)",
                ))
            }
            (None, Some(_)) => {
                return Err(FleetConfigError::new(
                    "store.tls_cert_file",
                    "required with store.tls_key_file (the key's certificate)",
                ))
            }
        };
        tls::check_together(roots.as_ref(), client.as_ref())?;
        Ok(Some(redis::TlsCertificates {
            client_tls: client.map(|c| redis::ClientTlsConfig {
                client_cert: c.cert_pem,
                client_key: c.key_pem,
            }),
            root_cert: roots.map(|r| r.pem),
        }))
    }
}

/// The scheme of a TLS store URL.
const TLS_SCHEME: &str = "rediss://";

/// Reading and checking the TLS files with rustls's own parsers, so that a file the
/// connection could not use is refused at start, not at every reconnection.
mod tls {
    use super::FleetConfigError;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rustls::RootCertStore;
    use std::sync::Arc;

    /// A CA file's text and the trust anchors it holds.
    pub(super) struct Roots {
        pub pem: Vec<u8>,
        store: RootCertStore,
    }

    /// A client certificate chain and its key, as PEM text (the key is a secret).
    pub(super) struct Client {
        pub cert_pem: Vec<u8>,
        pub key_pem: Vec<u8>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    }

    fn read(field: &'static str, path: &str) -> Result<Vec<u8>, FleetConfigError> {
        std::fs::read(path)
            .map_err(|e| FleetConfigError::new(field, format!("cannot read it: {e}")))
    }

    fn certificates(
        field: &'static str,
        pem: &[u8],
    ) -> Result<Vec<CertificateDer<'static>>, FleetConfigError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| FleetConfigError::new(field, format!("not valid PEM: {e}")))?;
        if certs.is_empty() {
            return Err(FleetConfigError::new(
                field,
                "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            ));
        }
        Ok(certs)
    }

    pub(super) fn ca(path: &str) -> Result<Roots, FleetConfigError> {
        let field = "store.tls_ca_file";
        let pem = read(field, path)?;
        let mut store = RootCertStore::empty();
        for cert in certificates(field, &pem)? {
            store.add(cert).map_err(|e| {
                FleetConfigError::new(field, format!("a certificate is not a usable CA: {e}"))
            })?;
        }
        Ok(Roots { pem, store })
    }

    pub(super) fn client(cert_path: &str, key_path: &str) -> Result<Client, FleetConfigError> {
        let cert_pem = read("store.tls_cert_file", cert_path)?;
        let chain = certificates("store.tls_cert_file", &cert_pem)?;
        let key_pem = read("store.tls_key_file", key_path)?;
        // The parser's error is not quoted: it could echo a line of the key.
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
            FleetConfigError::new(
                "store.tls_key_file",
                "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
            )
        })?;
        Ok(Client {
            cert_pem,
            key_pem,
            chain,
            key,
        })
    }

    /// Builds the client's TLS settings once, as the connection will: a key that does
    /// not match its certificate, or of a kind rustls cannot sign with, fails here.
    pub(super) fn check_together(
        roots: Option<&Roots>,
        client: Option<&Client>,
    ) -> Result<(), FleetConfigError> {
        let Some(client) = client else { return Ok(()) };
        #[allow(deprecated)] // see store::install_crypto_provider
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| FleetConfigError::new("store.url", format!("TLS: {e}")))?
            .with_root_certificates(
                roots
                    .map(|r| r.store.clone())
                    .unwrap_or_else(RootCertStore::empty),
            );
        builder
            .with_client_auth_cert(client.chain.clone(), client.key.clone_key())
            .map_err(|e| {
                FleetConfigError::new(
                    "store.tls_key_file",
                    format!("does not fit store.tls_cert_file: {e}"),
                )
            })?;
        Ok(())
    }
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("password_file", &self.password_file)
            .field("password_env", &self.password_env)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("tls_key_file", &self.tls_key_file)
            .field("connect_timeout", &self.connect_timeout)
            .field("io_timeout", &self.io_timeout)
            .field("reconnect_min", &self.reconnect_min)
            .field("reconnect_max", &self.reconnect_max)
            .finish()
    }
}

/// A credential: shown as `<redacted>` by `Debug`, never logged nor exported.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A config field out of range, named by its path (`store.io_timeout`, `quorum.share`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetConfigError {
    /// The field's path.
    pub field: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl FleetConfigError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        FleetConfigError {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for FleetConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fleet config: {}: {}", self.field, self.message)
    }
}

impl std::error::Error for FleetConfigError {}

/// This process's replica id on a host named `host`: `{host}-{pid}`, the host's
/// characters a name does not allow made `-`, cut so the whole is at most
/// [`MAX_NAME_LEN`] (`replica-{pid}` for an empty host name). The default replica id of
/// every surface (ops config files, Python).
pub fn replica_id(host: &str) -> String {
    let pid = std::process::id().to_string();
    let room = MAX_NAME_LEN - pid.len() - 1;
    let host: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii() && is_name_byte(c as u8) {
                c
            } else {
                '-'
            }
        })
        .take(room)
        .collect();
    let host = if host.is_empty() { "replica" } else { &host };
    format!("{host}-{pid}")
}

/// Checks a name used inside a key: 1 to 64 of `A-Z a-z 0-9 _ . -`.
pub fn check_name(field: &'static str, name: &str) -> Result<(), FleetConfigError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.bytes().all(is_name_byte) {
        return Err(FleetConfigError::new(
            field,
            format!("must be 1 to {MAX_NAME_LEN} of A-Z a-z 0-9 _ . - (got {name:?})"),
        ));
    }
    Ok(())
}

pub(crate) fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

fn check_duration(
    field: &'static str,
    d: Duration,
    min: Duration,
    max: Duration,
) -> Result<(), FleetConfigError> {
    if d < min || d > max {
        return Err(FleetConfigError::new(
            field,
            format!("must be between {min:?} and {max:?} (got {d:?})"),
        ));
    }
    Ok(())
}

impl FleetConfig {
    /// A config with the defaults for `service` in `environment`, as `replica`, on the
    /// store at `url`.
    pub fn new(
        service: impl Into<String>,
        environment: impl Into<String>,
        replica: impl Into<String>,
        url: impl Into<String>,
    ) -> FleetConfig {
        FleetConfig {
            service: service.into(),
            environment: environment.into(),
            replica: replica.into(),
            store: StoreConfig::new(url),
            heartbeat: defaults::heartbeat(),
            quorum: Quorum::default(),
            veto: defaults::veto(),
            fleet_rate: None,
            probe_lease: defaults::probe_lease(),
            max_replicas: defaults::max_replicas(),
        }
    }

    /// Checks every field; the error names the first one out of range. For a
    /// `rediss://` store it also reads the TLS files and checks that each holds what
    /// it should (missing, unreadable or not PEM: an error naming the field).
    pub fn validate(&self) -> Result<(), FleetConfigError> {
        check_name("service", &self.service)?;
        check_name("environment", &self.environment)?;
        check_name("replica", &self.replica)?;
        let ms = Duration::from_millis;
        let hour = Duration::from_secs(3600);
        check_duration("heartbeat", self.heartbeat, ms(10), hour)?;
        check_duration("probe_lease", self.probe_lease, ms(10), hour)?;
        match self.quorum {
            Quorum::Count(n) if !(1..=10_000).contains(&n) => {
                return Err(FleetConfigError::new(
                    "quorum.count",
                    format!("must be between 1 and 10000 (got {n})"),
                ))
            }
            Quorum::Share(s) if !(s > 0.0 && s <= 1.0) => {
                return Err(FleetConfigError::new(
                    "quorum.share",
                    format!("must be in (0, 1] (got {s})"),
                ))
            }
            _ => {}
        }
        if let Some(v) = self.veto {
            if !(v.max_failure_rate > 0.0 && v.max_failure_rate <= 1.0) {
                return Err(FleetConfigError::new(
                    "veto.max_failure_rate",
                    format!("must be in (0, 1] (got {})", v.max_failure_rate),
                ));
            }
            if v.minimum_calls == 0 {
                return Err(FleetConfigError::new(
                    "veto.minimum_calls",
                    "must be at least 1 (got 0)",
                ));
            }
        }
        if let Some(r) = self.fleet_rate {
            if r.minimum_calls == 0 {
                return Err(FleetConfigError::new(
                    "fleet_rate.minimum_calls",
                    "must be at least 1 (got 0)",
                ));
            }
            if !(r.failure_rate > 0.0 && r.failure_rate <= 1.0) {
                return Err(FleetConfigError::new(
                    "fleet_rate.failure_rate",
                    format!("must be in (0, 1] (got {})", r.failure_rate),
                ));
            }
            check_duration("fleet_rate.open_duration", r.open_duration, ms(1), hour)?;
        }
        if !(1..=10_000).contains(&self.max_replicas) {
            return Err(FleetConfigError::new(
                "max_replicas",
                format!("must be between 1 and 10000 (got {})", self.max_replicas),
            ));
        }
        let s = &self.store;
        let Some(rest) = ["redis://", TLS_SCHEME]
            .iter()
            .find_map(|scheme| s.url.strip_prefix(scheme))
        else {
            return Err(FleetConfigError::new(
                "store.url",
                "must start with redis:// or rediss:// (TLS)",
            ));
        };
        if rest.contains('@') {
            return Err(FleetConfigError::new(
                "store.url",
                "must not carry credentials: use store.username and store.password, \
                 store.password_file or store.password_env",
            ));
        }
        if rest.contains('#') {
            return Err(FleetConfigError::new(
                "store.url",
                "must not have a #fragment (#insecure, which turns certificate checks \
                 off, is not supported: trust a private CA with store.tls_ca_file)",
            ));
        }
        let sources = [
            s.password.is_some(),
            s.password_file.is_some(),
            s.password_env.is_some(),
        ];
        if sources.iter().filter(|&&b| b).count() > 1 {
            return Err(FleetConfigError::new(
                "store.password",
                "set at most one of password, password_file, password_env",
            ));
        }
        let minute = Duration::from_secs(60);
        check_duration("store.connect_timeout", s.connect_timeout, ms(1), minute)?;
        check_duration("store.io_timeout", s.io_timeout, ms(1), minute)?;
        check_duration("store.reconnect_min", s.reconnect_min, ms(1), minute)?;
        check_duration(
            "store.reconnect_max",
            s.reconnect_max,
            s.reconnect_min,
            hour,
        )?;
        s.resolve_tls()?;
        Ok(())
    }
}

mod defaults {
    use super::Veto;
    use std::time::Duration;

    pub fn heartbeat() -> Duration {
        Duration::from_secs(1)
    }
    pub fn veto() -> Option<Veto> {
        Some(Veto {
            minimum_calls: 20,
            max_failure_rate: 0.1,
        })
    }
    pub fn probe_lease() -> Duration {
        Duration::from_secs(10)
    }
    pub fn max_replicas() -> u32 {
        256
    }
    pub fn connect_timeout() -> Duration {
        Duration::from_millis(500)
    }
    pub fn io_timeout() -> Duration {
        Duration::from_millis(500)
    }
    pub fn reconnect_min() -> Duration {
        Duration::from_millis(100)
    }
    pub fn reconnect_max() -> Duration {
        Duration::from_secs(10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> FleetConfig {
        FleetConfig::new("svc", "test", "r1", "redis://127.0.0.1:6379/0")
    }

    #[test]
    fn a_replica_id_is_the_host_and_pid_kept_to_a_valid_name() {
        let pid = std::process::id();
        assert_eq!(replica_id(" web-1.local\n"), format!("web-1.local-{pid}"));
        assert_eq!(replica_id("héllo wörld"), format!("h-llo-w-rld-{pid}"));
        assert_eq!(replica_id(""), format!("replica-{pid}"));
        let long = replica_id(&"x".repeat(200));
        assert_eq!(long.len(), MAX_NAME_LEN);
        assert!(long.ends_with(&format!("-{pid}")));
        for host in ["a b", "ünï", "", &"y".repeat(80)] {
            check_name("replica", &replica_id(host)).unwrap();
        }
    }

    #[test]
    fn each_bad_field_is_named_with_its_range() {
        type Change = Box<dyn Fn(&mut FleetConfig)>;
        let cases: Vec<(&str, Change)> = vec![
            ("service", Box::new(|c| c.service = "a:b".into())),
            ("replica", Box::new(|c| c.replica = String::new())),
            ("heartbeat", Box::new(|c| c.heartbeat = Duration::ZERO)),
            ("quorum.count", Box::new(|c| c.quorum = Quorum::Count(0))),
            ("quorum.share", Box::new(|c| c.quorum = Quorum::Share(1.5))),
            (
                "quorum.share",
                Box::new(|c| c.quorum = Quorum::Share(f64::NAN)),
            ),
            (
                "veto.max_failure_rate",
                Box::new(|c| {
                    c.veto = Some(Veto {
                        minimum_calls: 1,
                        max_failure_rate: 0.0,
                    })
                }),
            ),
            (
                "fleet_rate.failure_rate",
                Box::new(|c| {
                    c.fleet_rate = Some(FleetRate {
                        minimum_calls: 10,
                        failure_rate: 2.0,
                        open_duration: Duration::from_secs(1),
                    })
                }),
            ),
            ("store.url", Box::new(|c| c.store.url = "http://x".into())),
            (
                "store.url",
                Box::new(|c| c.store.url = "redis://u:pw@127.0.0.1/0".into()),
            ),
            (
                "store.password",
                Box::new(|c| {
                    c.store.password = Some(Secret::new("a"));
                    c.store.password_env = Some("X".into());
                }),
            ),
            (
                "store.reconnect_max",
                Box::new(|c| c.store.reconnect_max = Duration::from_micros(1)),
            ),
            (
                "store.url",
                Box::new(|c| c.store.url = "rediss://u:pw@127.0.0.1/0".into()),
            ),
            (
                "store.url",
                Box::new(|c| c.store.url = "rediss://127.0.0.1/0#insecure".into()),
            ),
            (
                "store.tls_ca_file",
                Box::new(|c| c.store.tls_ca_file = Some("ca.pem".into())),
            ),
            (
                "store.tls_key_file",
                Box::new(|c| c.store.tls_key_file = Some("client.key".into())),
            ),
            (
                "store.tls_ca_file",
                Box::new(|c| {
                    c.store.url = "rediss://127.0.0.1/0".into();
                    c.store.tls_ca_file = Some("/nonexistent/tripgate/ca.pem".into());
                }),
            ),
            (
                "store.tls_key_file",
                Box::new(|c| {
                    c.store.url = "rediss://127.0.0.1/0".into();
                    c.store.tls_cert_file = Some("client.crt".into());
                }),
            ),
            (
                "store.tls_cert_file",
                Box::new(|c| {
                    c.store.url = "rediss://127.0.0.1/0".into();
                    c.store.tls_key_file = Some("client.key".into());
                }),
            ),
        ];
        for (field, change) in cases {
            let mut c = base();
            change(&mut c);
            let e = c.validate().unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
        base().validate().unwrap();
        let mut tls = base();
        tls.store.url = "rediss://redis.example:6380/0".into();
        tls.validate().unwrap();
    }

    #[test]
    fn a_ca_file_that_is_not_pem_is_named() {
        let path = std::env::temp_dir().join(format!("tg-fleet-ca-{}", std::process::id()));
        std::fs::write(&path, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
        let mut c = base();
        c.store.url = "rediss://127.0.0.1/0".into();
        c.store.tls_ca_file = Some(path.to_string_lossy().into_owned());
        let e = c.validate().unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(e.field, "store.tls_ca_file", "{e}");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let mut c = base();
        c.store.password = Some(Secret::new("hunter2"));
        let text = format!("{c:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn quorum_share_rounds_up_and_needs_at_least_one() {
        assert_eq!(Quorum::Share(0.5).needed(5), 3);
        assert_eq!(Quorum::Share(0.5).needed(4), 2);
        assert_eq!(Quorum::Share(0.01).needed(1), 1);
        assert_eq!(Quorum::Share(0.5).needed(0), 1);
        assert_eq!(Quorum::Count(3).needed(1), 3);
    }

    #[test]
    fn password_sources_resolve_and_report_their_field() {
        let mut s = StoreConfig::new("redis://127.0.0.1/0");
        s.password_env = Some("TRIPGATE_FLEET_TEST_SURELY_UNSET".into());
        assert_eq!(
            s.resolve_password().unwrap_err().field,
            "store.password_env"
        );
        let dir = std::env::temp_dir().join(format!("tg-fleet-pw-{}", std::process::id()));
        std::fs::write(&dir, "s3cret\n").unwrap();
        s.password_env = None;
        s.password_file = Some(dir.to_string_lossy().into_owned());
        assert_eq!(s.resolve_password().unwrap().unwrap().expose(), "s3cret");
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(
            s.resolve_password().unwrap_err().field,
            "store.password_file"
        );
    }
}
