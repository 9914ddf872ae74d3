//! Breaker configuration, one concept a module:
//!
//! | module | owns |
//! |---|---|
//! | `types` | [`Config`] and its parts, the limits ([`MAX_DURATION`], ...) |
//! | `tier` | the three [`Tier`] presets |
//! | `builder` | [`ConfigBuilder`] |
//! | `validate` | [`Config::validate_all`]: every field against its allowed range |
//! | `error` | [`ConfigError`] |
//! | `text`, `yaml`, `tree` | documents (TOML, YAML, JSON) parsed into a located tree; one config as TOML or JSON ([`Config::from_toml_str`], ...) |
//! | `location` | [`Location`]: a byte offset as line and column |
//! | `aliases` | [`ALIASES`]: other names for fields |
//! | `env` | environment variables as a layer |
//! | `layers` | [`Layers`]: defaults, tier, document, environment overlay, variables, options |
//! | `document` | a document's shape: one breaker's config, or a service map |
//! | `section` | [`Section`]: a top-level table another crate declared and reads (`fleet`) |
//! | `error` | [`ConfigError`]; [`Problems`], every mistake in every source at once |
//!
//! Every invalid value is reported as a [`ConfigError::Invalid`] naming the field (as a
//! dotted path, `window.buckets`), the value, and the allowed range. A `Config` that
//! passed [`Config::validate`] never makes the engine panic.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use tripgate::Config;
//!
//! let config = Config::builder()
//!     .failure_rate_threshold(0.5)
//!     .minimum_calls(20)
//!     .time_window(Duration::from_secs(10), 10)
//!     .open_duration(Duration::from_secs(30))
//!     .build()
//!     .unwrap();
//! assert_eq!(config.minimum_calls, 20);
//!
//! let err = Config::builder().failure_rate_threshold(1.5).build().unwrap_err();
//! assert_eq!(err.field(), "failure_rate_threshold");
//! assert!(err.to_string().contains("0.0 < t <= 1.0"));
//!
//! let parsed = Config::from_toml_str(r#"
//!     failure_rate_threshold = 0.3
//!     minimum_calls = 20
//!     [window]
//!     kind = "time"
//!     duration = "60s"
//!     buckets = 12
//! "#).unwrap();
//! assert_eq!(parsed.window.buckets(), 12);
//! ```

mod aliases;
mod builder;
mod document;
mod env;
mod error;
#[cfg(all(test, not(loom)))]
mod layer_tests;
mod layers;
mod location;
mod section;
#[cfg(all(test, not(loom)))]
mod tests;
mod text;
mod tier;
mod tree;
mod types;
mod validate;
mod yaml;

pub use aliases::{Alias, AliasValue, ALIASES};
pub use builder::ConfigBuilder;
pub use env::{service_token, ENV_PREFIX, RESERVED_VARS, SEED_PREFIX, SEED_VARS};
pub use error::{ConfigError, Problem, Problems};
pub use layers::{Layers, OptionValue, Resolved, ServiceConfig};
pub use location::Location;
pub use section::Section;
pub use text::Format;
pub use tier::Tier;
pub use types::*;
pub(crate) use validate::LiveLimits;
