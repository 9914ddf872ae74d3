//! Environment-variable overrides.
//!
//! Two families are read, both applied on top of the config file (see
//! [`file`](mod@crate::file) for the full merge order):
//!
//! - `TRIPGATE_<SERVICE>_<FIELD>=value` sets one field of one service. `<SERVICE>` is
//!   the service name upper-cased with every character other than a letter or digit
//!   turned into `_` (`external-api` → `EXTERNAL_API`); `DEFAULTS` targets the
//!   `defaults` section. `<FIELD>` is a field of [`tripgate::Config`] upper-cased, or
//!   `TIER`, `CRITICAL`, or one of the seed aliases (`FAILURE_THRESHOLD`, ...); nested
//!   fields are joined with a double underscore: `TRIPGATE_DATABASE_OPEN__DURATION=10s`,
//!   `TRIPGATE_INVENTORY_WINDOW__KIND=count`. The split between service and field is
//!   made at the longest field name that ends the variable, so service names may hold
//!   underscores (`TRIPGATE_EXTERNAL_API_MINIMUM_CALLS`).
//! - The seeds' `CIRCUIT_BREAKER_FAILURE_THRESHOLD`, `CIRCUIT_BREAKER_RECOVERY_TIMEOUT_SECONDS`,
//!   `CIRCUIT_BREAKER_TIMEOUT_SECONDS` and `CIRCUIT_BREAKER_SUCCESS_THRESHOLD` set the
//!   defaults (every service that does not set the field itself), through the same
//!   mapping as the seed aliases in files.
//!
//! Values are read as `true`/`false`, an integer, a decimal number, `none` (clears an
//! optional rule), or else a string (durations such as `30s`, names such as `count`).
//!
//! `TRIPGATE_ENV` (or `TRIPGATE_ENVIRONMENT`) picks the environment overlay;
//! `TRIPGATE_CONFIG` and `TRIPGATE_ADMIN_ADDR` are reserved for programs (the example
//! service reads them) and are not overrides.

use crate::error::{LoadError, Problem};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Prefix of per-service overrides.
pub const PREFIX: &str = "TRIPGATE_";
/// Variables under [`PREFIX`] that are not overrides.
pub const RESERVED: [&str; 5] = [
    "TRIPGATE_ENV",
    "TRIPGATE_ENVIRONMENT",
    "TRIPGATE_CONFIG",
    "TRIPGATE_ADMIN_ADDR",
    "TRIPGATE_LOG",
];
/// The seeds' variables and the alias key each one sets in the defaults.
pub const SEED_VARS: [(&str, &str); 4] = [
    ("CIRCUIT_BREAKER_FAILURE_THRESHOLD", "failure_threshold"),
    (
        "CIRCUIT_BREAKER_RECOVERY_TIMEOUT_SECONDS",
        "recovery_timeout_seconds",
    ),
    ("CIRCUIT_BREAKER_TIMEOUT_SECONDS", "timeout_seconds"),
    ("CIRCUIT_BREAKER_SUCCESS_THRESHOLD", "success_threshold"),
];

/// A snapshot of the environment variables that matter here. Taken once, so a load
/// sees one consistent set, and tests can pass their own without touching the process
/// environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvVars {
    vars: BTreeMap<String, String>,
}

/// One override, parsed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Override {
    /// The variable's name, for error messages.
    pub var: String,
    /// Field path, lower-case (`["open", "duration"]`).
    pub path: Vec<String>,
    /// The value, typed.
    pub value: Value,
}

impl EnvVars {
    /// No variables.
    pub fn empty() -> Self {
        EnvVars::default()
    }

    /// The `TRIPGATE_*` and `CIRCUIT_BREAKER_*` variables of this process.
    pub fn from_process() -> Self {
        EnvVars::from_pairs(std::env::vars())
    }

    /// The `TRIPGATE_*` and `CIRCUIT_BREAKER_*` variables among `pairs`.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let vars = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| k.starts_with(PREFIX) || k.starts_with("CIRCUIT_BREAKER_"))
            .collect();
        EnvVars { vars }
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The environment named by `TRIPGATE_ENV` or `TRIPGATE_ENVIRONMENT`.
    pub fn environment(&self) -> Option<&str> {
        self.get("TRIPGATE_ENV")
            .or_else(|| self.get("TRIPGATE_ENVIRONMENT"))
            .filter(|s| !s.is_empty())
    }

    /// The seeds' `CIRCUIT_BREAKER_*` variables as an object of alias keys, with the
    /// variable that set each key.
    pub(crate) fn seed_layer(&self) -> (Map<String, Value>, Vec<(String, String)>) {
        let mut map = Map::new();
        let mut origin = Vec::new();
        for (var, key) in SEED_VARS {
            if let Some(v) = self.get(var) {
                map.insert(key.to_string(), parse_value(v));
                origin.push((key.to_string(), var.to_string()));
            }
        }
        (map, origin)
    }

    /// Every `TRIPGATE_<SERVICE>_<FIELD>` override, by service token (`DATABASE`,
    /// `DEFAULTS`). `fields` are the known top-level field names, lower-case.
    pub(crate) fn overrides(
        &self,
        fields: &[String],
    ) -> Result<BTreeMap<String, Vec<Override>>, LoadError> {
        let mut out: BTreeMap<String, Vec<Override>> = BTreeMap::new();
        let mut problems = Vec::new();
        for (var, value) in &self.vars {
            let Some(rest) = var.strip_prefix(PREFIX) else {
                continue;
            };
            if RESERVED.contains(&var.as_str()) {
                continue;
            }
            let (head, nested) = match rest.split_once("__") {
                Some((h, n)) => (h, Some(n)),
                None => (rest, None),
            };
            let field = fields
                .iter()
                .filter(|f| {
                    let up = f.to_ascii_uppercase();
                    head.len() > up.len() + 1
                        && head.ends_with(&up)
                        && head.as_bytes()[head.len() - up.len() - 1] == b'_'
                })
                .max_by_key(|f| f.len());
            let Some(field) = field else {
                problems.push(Problem {
                    source: format!("env {var}"),
                    service: None,
                    field: String::new(),
                    message: format!(
                        "not a TRIPGATE_<SERVICE>_<FIELD> override: no known field ends {head:?}; fields: {}",
                        fields.join(", ")
                    ),
                });
                continue;
            };
            let token = head[..head.len() - field.len() - 1].to_string();
            let mut path = vec![field.clone()];
            if let Some(n) = nested {
                path.extend(n.split("__").map(|s| s.to_ascii_lowercase()));
            }
            out.entry(token).or_default().push(Override {
                var: var.clone(),
                path,
                value: parse_value(value),
            });
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(LoadError { problems })
        }
    }
}

/// The token a service name is matched against in variable names: upper-case, every
/// character other than an ASCII letter or digit turned into `_`.
pub fn service_token(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Reads a variable's text as a typed value.
pub(crate) fn parse_value(text: &str) -> Value {
    let t = text.trim();
    match t {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        "none" | "null" => return Value::Null,
        _ => {}
    }
    if let Ok(i) = t.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = t.parse::<f64>() {
        if f.is_finite() {
            return Value::from(f);
        }
    }
    Value::String(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<String> {
        [
            "minimum_calls",
            "open",
            "tier",
            "timeout_seconds",
            "recovery_timeout_seconds",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn splits_service_and_field_at_the_longest_field() {
        let env = EnvVars::from_pairs([
            ("TRIPGATE_EXTERNAL_API_MINIMUM_CALLS", "7"),
            ("TRIPGATE_DB_OPEN__DURATION", "10s"),
            ("TRIPGATE_X_RECOVERY_TIMEOUT_SECONDS", "3"),
            ("TRIPGATE_ENV", "staging"),
            ("PATH", "/bin"),
        ]);
        let o = env.overrides(&fields()).unwrap();
        assert_eq!(o["EXTERNAL_API"][0].path, ["minimum_calls"]);
        assert_eq!(o["EXTERNAL_API"][0].value, Value::from(7));
        assert_eq!(o["DB"][0].path, ["open", "duration"]);
        assert_eq!(o["DB"][0].value, Value::from("10s"));
        assert_eq!(o["X"][0].path, ["recovery_timeout_seconds"]);
        assert_eq!(env.environment(), Some("staging"));
        assert_eq!(o.len(), 3);
    }

    #[test]
    fn unknown_fields_are_named() {
        let env = EnvVars::from_pairs([("TRIPGATE_DB_MINIMUM_CALL", "7")]);
        let e = env.overrides(&fields()).unwrap_err();
        assert!(
            e.to_string().starts_with("env TRIPGATE_DB_MINIMUM_CALL"),
            "{e}"
        );
    }

    #[test]
    fn values_are_typed() {
        assert_eq!(parse_value("0.5"), Value::from(0.5));
        assert_eq!(parse_value("none"), Value::Null);
        assert_eq!(parse_value("false"), Value::Bool(false));
        assert_eq!(service_token("external-api.v2"), "EXTERNAL_API_V2");
    }
}
