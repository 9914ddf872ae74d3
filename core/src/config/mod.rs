//! Breaker configuration, one concept a module:
//!
//! | module | owns |
//! |---|---|
//! | `types` | [`Config`] and its parts, the limits ([`MAX_DURATION`], ...) |
//! | `tier` | the three [`Tier`] presets |
//! | `builder` | [`ConfigBuilder`] |
//! | `validate` | [`Config::validate_all`]: every field against its allowed range |
//! | `error` | [`ConfigError`] |
//! | `text` | one config as TOML or JSON ([`Config::from_toml_str`], ...) |
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

mod builder;
mod error;
#[cfg(all(test, not(loom)))]
mod tests;
mod text;
mod tier;
mod types;
mod validate;

pub use builder::ConfigBuilder;
pub use error::ConfigError;
pub use tier::Tier;
pub use types::*;
pub(crate) use validate::LiveLimits;
