//! Running [`tripgate`] breakers in production.
//!
//! A service usually guards several dependencies (a database, an external API, a
//! cache), wants their thresholds in a config file it can change without a restart,
//! and must expose their state to Prometheus and to Kubernetes probes. This crate is
//! that operating layer, built on the core crate's public API only:
//!
//! | module | owns |
//! |---|---|
//! | [`registry`] | [`Registry`]: named breakers, get-or-create, lock-free lookup |
//! | [`file`](mod@file) | config files (TOML or YAML): defaults, services, tiers, environment overlays |
//! | [`env`](mod@env) | environment-variable overrides (`TRIPGATE_<SERVICE>_<FIELD>`, `CIRCUIT_BREAKER_*`) |
//! | [`reload`] | live reload: validate everything, then reconfigure running breakers |
//! | [`exposition`] | Prometheus text exposition (format 0.0.4) of a whole registry |
//! | [`health`] | liveness and readiness reports (JSON bodies, HTTP status) |
//! | [`fleet`] | the `fleet` table; (feature `fleet`) the registry's membership of its fleet |
//! | `admin` | (feature `admin`) an embedded HTTP endpoint serving the above |
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use tripgate_ops::{file::Format, EnvVars, Registry, Settings};
//!
//! let text = r#"
//!     [defaults]
//!     tier = "standard"
//!
//!     [services.database]
//!     tier = "critical"
//!     critical = true
//!
//!     [environments.development.defaults]
//!     minimum_calls = 2
//! "#;
//! let settings = Settings::parse(text, Format::Toml, "tripgate.toml",
//!                                Some("development"), &EnvVars::empty())?;
//! let registry = Arc::new(Registry::with_settings(settings));
//! let db = registry.breaker("database")?;
//! assert_eq!(db.config().failure_rate_threshold, Some(0.3));
//! assert!(tripgate_ops::exposition::render(&registry).contains("tripgate_breaker_state{name=\"database\"} 0"));
//! assert!(tripgate_ops::health::readiness(&registry, &Default::default()).ready);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "admin")]
pub mod admin;
pub mod env;
pub mod error;
pub mod exposition;
pub mod file;
pub mod fleet;
pub mod health;
#[cfg(feature = "otel")]
pub mod otel;
pub mod registry;
pub mod reload;
pub mod upkeep;

#[cfg(feature = "admin")]
pub use admin::AdminServer;
pub use env::EnvVars;
pub use error::{LoadError, Problem};
pub use file::{ServiceSpec, Settings};
pub use health::{HealthPolicy, HealthReport};
pub use registry::Registry;
pub use reload::{Change, FieldChange, Reloader, Watcher};
