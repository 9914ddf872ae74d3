//! Environment-variable overrides: a snapshot of the variables tripgate reads.
//!
//! What they mean is defined once, in the core crate's layering
//! ([`tripgate::config::Layers`]): `TRIPGATE_<SERVICE>_<FIELD>=value` sets one field of
//! one service (`TRIPGATE_DATABASE_OPEN__DURATION=10s`; `DEFAULTS` targets the
//! defaults), the `CIRCUIT_BREAKER_*` variables set the defaults through the aliases of
//! the same names, and `TRIPGATE_ENV` (or `TRIPGATE_ENVIRONMENT`) picks the environment
//! overlay. Values are typed by the field that reads them (a seed is read exactly as a
//! `u64`). A variable naming a service the config file does not have is logged as a
//! warning, or refused with [`EnvVars::strict`].

use std::ffi::{OsStr, OsString};
pub use tripgate::config::{
    service_token, ENV_PREFIX as PREFIX, RESERVED_VARS as RESERVED, SEED_VARS,
};

/// A snapshot of the environment variables that matter here. Taken once, so a load
/// sees one consistent set, and tests can pass their own without touching the process
/// environment. Variables that are not valid UTF-8 are kept (and refused at load) only
/// when their name is one of tripgate's; others are never looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvVars {
    vars: Vec<(OsString, OsString)>,
    strict: bool,
}

fn is_ours(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with(PREFIX) || name.starts_with(tripgate::config::SEED_PREFIX)
}

impl EnvVars {
    /// No variables.
    pub fn empty() -> Self {
        EnvVars::default()
    }

    /// The `TRIPGATE_*` and `CIRCUIT_BREAKER_*` variables of this process.
    pub fn from_process() -> Self {
        EnvVars::from_pairs(std::env::vars_os())
    }

    /// The `TRIPGATE_*` and `CIRCUIT_BREAKER_*` variables among `pairs`.
    pub fn from_pairs<K: Into<OsString>, V: Into<OsString>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut vars: Vec<(OsString, OsString)> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| is_ours(k))
            .collect();
        vars.sort();
        EnvVars {
            vars,
            strict: false,
        }
    }

    /// Whether a variable naming a service the config file does not have is refused
    /// (`true`) or logged as a warning and applied to a new service (`false`, the
    /// default).
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Whether [`strict`](Self::strict) was asked for.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// The value of `name`, if set (and valid UTF-8).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.to_str())
    }

    /// The environment named by `TRIPGATE_ENV` or `TRIPGATE_ENVIRONMENT`.
    pub fn environment(&self) -> Option<&str> {
        self.get("TRIPGATE_ENV")
            .or_else(|| self.get("TRIPGATE_ENVIRONMENT"))
            .filter(|s| !s.is_empty())
    }

    /// The variables, for [`tripgate::config::Layers::env_vars`].
    pub fn pairs(&self) -> impl Iterator<Item = (OsString, OsString)> + '_ {
        self.vars.iter().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_tripgates_variables() {
        let env = EnvVars::from_pairs([
            ("TRIPGATE_DB_MINIMUM_CALLS", "7"),
            ("CIRCUIT_BREAKER_TIMEOUT_SECONDS", "3"),
            ("TRIPGATE_ENV", "staging"),
            ("PATH", "/bin"),
        ]);
        assert_eq!(env.pairs().count(), 3);
        assert_eq!(env.get("TRIPGATE_DB_MINIMUM_CALLS"), Some("7"));
        assert_eq!(env.get("PATH"), None);
        assert_eq!(env.environment(), Some("staging"));
        assert!(!env.is_strict() && env.strict(true).is_strict());
        assert_eq!(service_token("external-api.v2"), "EXTERNAL_API_V2");
    }
}
