//! Config files: TOML, YAML or JSON, every service's breaker in one document.
//!
//! ```toml
//! environment = "production"        # the overlay used when none is asked for
//!
//! [defaults]                        # every service starts here
//! tier = "standard"                 # a preset: critical, standard, non_critical
//! minimum_calls = 10
//!
//! [services.database]
//! tier = "critical"
//! critical = true                   # its opening alone makes the process unready
//! consecutive_failures = 5
//! open = { duration = "30s" }
//!
//! [services.external_api]           # familiar names work too (aliases)
//! failure_threshold = 3             # integer >= 1: consecutive failures; (0, 1): failure rate
//! recovery_timeout_seconds = 60     # open.duration
//! timeout_seconds = 5               # slow_call_duration
//! success_threshold = 2             # half_open.success_threshold
//!
//! [environments.development.defaults]
//! minimum_calls = 2
//! [environments.production.services.database]
//! open = { duration = "60s" }
//! ```
//!
//! The shape, the merge order (defaults ← tier preset ← service ← environment overlay
//! ← environment variables), the aliases ([`tripgate::config::ALIASES`]) and the
//! derived rules are the core crate's [`tripgate::config::Layers`]; this module reads
//! the file and keeps the result as [`Settings`]. `critical` (default false) is not a
//! breaker field: it marks the service for readiness (see [`health`](crate::health)).
//! A file with several mistakes reports them all in one [`LoadError`], each with its
//! line.
//!
//! A `[fleet]` table (and `[environments.<name>.fleet]`) configures fleet mode: see
//! [`fleet`](crate::fleet).

use crate::env::{service_token, EnvVars};
use crate::error::LoadError;
use crate::fleet;
use std::collections::BTreeMap;
use std::path::Path;
pub use tripgate::config::{Format, ServiceConfig as ServiceSpec};
use tripgate::config::{Layers, Resolved, Section};

/// Every service's settings, resolved from one file, one environment and one set of
/// environment variables. Valid as a whole: loading fails if any service is invalid.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where the settings came from (a file path).
    pub source: String,
    /// The environment whose overlay was applied, if any.
    pub environment: Option<String>,
    /// The settings of a service the file does not name.
    pub defaults: ServiceSpec,
    /// The settings of each service named in the file (or in an environment variable).
    pub services: BTreeMap<String, ServiceSpec>,
    /// The `fleet` table, the environment's overlay laid over it (see
    /// [`fleet`](crate::fleet)); checked at load.
    pub fleet: Option<Section>,
    /// This replica's id in the fleet from `TRIPGATE_REPLICA`, when set.
    pub replica: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            source: "built-in defaults".to_string(),
            environment: None,
            defaults: ServiceSpec::default(),
            services: BTreeMap::new(),
            fleet: None,
            replica: None,
        }
    }
}

impl Settings {
    /// Reads and resolves the file at `path` (format from its extension). The
    /// environment is `environment`, else `TRIPGATE_ENV`, else the file's
    /// `environment` key, else none.
    pub fn load(
        path: impl AsRef<Path>,
        environment: Option<&str>,
        env: &EnvVars,
    ) -> Result<Settings, LoadError> {
        let path = path.as_ref();
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| LoadError::one(&source, None, "", format!("cannot read: {e}")))?;
        Settings::parse(&text, Format::from_path(path), &source, environment, env)
    }

    /// Resolves a config document held in memory; `source` names it in errors.
    pub fn parse(
        text: &str,
        format: Format,
        source: &str,
        environment: Option<&str>,
        env: &EnvVars,
    ) -> Result<Settings, LoadError> {
        let layers = Layers::new()
            .document(text, format, source)
            .section(fleet::SECTION)
            .environment(environment);
        Settings::resolve(layers, source, env)
    }

    /// Settings from environment variables alone (no file).
    pub fn from_env(env: &EnvVars) -> Result<Settings, LoadError> {
        Settings::resolve(Layers::new(), "environment", env)
    }

    fn resolve(layers: Layers, source: &str, env: &EnvVars) -> Result<Settings, LoadError> {
        let Resolved {
            environment,
            defaults,
            services,
            warnings,
            mut sections,
        } = layers
            .env_vars(env.pairs())
            .strict(env.is_strict())
            .resolve()?;
        let fleet = sections.remove(fleet::SECTION);
        let replica = env.get(fleet::REPLICA_VAR).map(str::to_string);
        if let Some(section) = &fleet {
            fleet::check(section, environment.as_deref(), replica.as_deref())
                .map_err(|p| LoadError { problems: vec![p] })?;
        }
        for w in warnings {
            log::warn!("{w}");
        }
        Ok(Settings {
            source: source.to_string(),
            environment,
            defaults,
            services,
            fleet,
            replica,
        })
    }

    /// The settings for service `name`: its own, else those of a service matched by
    /// its variable token (`external-api` and `external_api` match), else the defaults.
    pub fn spec(&self, name: &str) -> &ServiceSpec {
        if let Some(s) = self.services.get(name) {
            return s;
        }
        let token = service_token(name);
        self.services
            .iter()
            .find(|(n, _)| service_token(n) == token)
            .map_or(&self.defaults, |(_, s)| s)
    }
}
