//! Why a config file (or an environment variable) was refused.
//!
//! Every [`Problem`] names its source (the file, with line and column, or the
//! environment variable), the service (or `defaults`), the field as written, the value
//! and what is allowed. A [`LoadError`] carries every problem found, so one load or
//! reload reports them all at once, one a line (its `Debug` is its `Display`, so a
//! `main` returning it prints the lines). Both are the core crate's
//! [`tripgate::config::Problem`] and [`tripgate::config::Problems`].

pub use tripgate::config::{Problem, Problems as LoadError};
