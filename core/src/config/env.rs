//! Environment variables as a config layer. The caller passes the variables in (core
//! reads no environment), as `(OsString, OsString)` pairs:
//!
//! - `TRIPGATE_<SERVICE>_<FIELD>=value` sets one field of one service. `<SERVICE>` is
//!   the service's [`service_token`] (`external-api` → `EXTERNAL_API`); `DEFAULTS`
//!   targets the defaults. `<FIELD>` is a config field upper-cased, `TIER`, `CRITICAL`,
//!   or an [alias](super::ALIASES); nested fields are joined with a double underscore
//!   (`TRIPGATE_DATABASE_OPEN__DURATION=10s`). The split is made at the longest field
//!   name that ends the variable, so service names may hold underscores.
//! - `CIRCUIT_BREAKER_FAILURE_THRESHOLD`, `..._RECOVERY_TIMEOUT_SECONDS`,
//!   `..._TIMEOUT_SECONDS` and `..._SUCCESS_THRESHOLD` set the defaults through the
//!   aliases of the same names.
//! - `TRIPGATE_ENV` (or `TRIPGATE_ENVIRONMENT`) picks the environment overlay;
//!   `TRIPGATE_CONFIG`, `TRIPGATE_ADMIN_ADDR` and `TRIPGATE_LOG` are for programs.
//!
//! A value is text typed by the field that reads it: `7` is exactly a `u64` for the
//! seed and an `f64` for a rate, `none` clears an optional rule, `30s` is a duration.
//! A variable that is not valid UTF-8 is skipped unless it is one of these, which is
//! an error naming it.

use super::tree::{Node, Value};
use super::{Config, Problem, ALIASES};
use std::collections::BTreeMap;
use std::ffi::OsString;

/// Prefix of per-service variables.
pub const ENV_PREFIX: &str = "TRIPGATE_";
/// Prefix of the `CIRCUIT_BREAKER_*` variables.
pub const SEED_PREFIX: &str = "CIRCUIT_BREAKER_";
/// Variables under [`ENV_PREFIX`] that set no field.
pub const RESERVED_VARS: [&str; 6] = [
    "TRIPGATE_ENV",
    "TRIPGATE_ENVIRONMENT",
    "TRIPGATE_CONFIG",
    "TRIPGATE_ADMIN_ADDR",
    "TRIPGATE_LOG",
    "TRIPGATE_REPLICA",
];
/// The `CIRCUIT_BREAKER_*` variables and the alias each one sets in the defaults.
pub const SEED_VARS: [(&str, &str); 4] = [
    ("CIRCUIT_BREAKER_FAILURE_THRESHOLD", "failure_threshold"),
    (
        "CIRCUIT_BREAKER_RECOVERY_TIMEOUT_SECONDS",
        "recovery_timeout_seconds",
    ),
    ("CIRCUIT_BREAKER_TIMEOUT_SECONDS", "timeout_seconds"),
    ("CIRCUIT_BREAKER_SUCCESS_THRESHOLD", "success_threshold"),
];

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

/// Whether a variable of this name is one tripgate reads.
pub(crate) fn is_ours(name: &str) -> bool {
    name.starts_with(ENV_PREFIX) || name.starts_with(SEED_PREFIX)
}

/// One field a variable sets.
#[derive(Debug, Clone)]
pub(crate) struct Assignment {
    /// The variable, for errors.
    pub(crate) var: String,
    /// Field path as written, lower-case (`["open", "duration"]`, `["failure_threshold"]`).
    pub(crate) path: Vec<String>,
    /// The value, as text.
    pub(crate) value: Node,
}

/// The variables, sorted into layers.
#[derive(Debug, Default)]
pub(crate) struct EnvLayers {
    /// The environment overlay asked for.
    pub(crate) environment: Option<String>,
    /// `CIRCUIT_BREAKER_*`, as aliases of the defaults.
    pub(crate) seed: Vec<Assignment>,
    /// `TRIPGATE_<TOKEN>_*` by token (`DEFAULTS`, `DATABASE`).
    pub(crate) by_token: BTreeMap<String, Vec<Assignment>>,
    pub(crate) problems: Vec<Problem>,
}

/// The top-level names a variable may set, lower-case: the config's fields, `tier`,
/// `critical` and the aliases.
pub(crate) fn settable_fields() -> Vec<&'static str> {
    let mut fields: Vec<&str> = Config::FIELDS.to_vec();
    fields.extend(["tier", "critical"]);
    fields.extend(ALIASES.iter().map(|a| a.name));
    fields.sort_unstable();
    fields.dedup();
    fields
}

impl EnvLayers {
    pub(crate) fn read(vars: &[(OsString, OsString)]) -> EnvLayers {
        let mut out = EnvLayers::default();
        let fields = settable_fields();
        let mut sorted: Vec<(String, Option<String>)> = Vec::new();
        for (k, v) in vars {
            let Some(name) = k.to_str() else {
                let lossy = k.to_string_lossy();
                if is_ours(&lossy) {
                    out.problems.push(problem(
                        &lossy,
                        "",
                        "the variable's name is not valid UTF-8".into(),
                    ));
                }
                continue;
            };
            if is_ours(name) {
                sorted.push((name.to_string(), v.to_str().map(str::to_string)));
            }
        }
        sorted.sort();
        for (var, value) in sorted {
            let Some(value) = value else {
                out.problems
                    .push(problem(&var, "", "the value is not valid UTF-8".into()));
                continue;
            };
            let text = Node::new(Value::Text(value.trim().to_string()), None);
            if var == "TRIPGATE_ENV" || var == "TRIPGATE_ENVIRONMENT" {
                if !value.is_empty() && (var == "TRIPGATE_ENV" || out.environment.is_none()) {
                    out.environment = Some(value);
                }
                continue;
            }
            if RESERVED_VARS.contains(&var.as_str()) {
                continue;
            }
            if let Some((_, alias)) = SEED_VARS.iter().find(|(v, _)| *v == var) {
                out.seed.push(Assignment {
                    var,
                    path: vec![alias.to_string()],
                    value: text,
                });
                continue;
            }
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                // Another CIRCUIT_BREAKER_* variable: not ours to judge.
                continue;
            };
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
                let msg = format!(
                    "not a TRIPGATE_<SERVICE>_<FIELD> variable: no known field ends {head:?}; fields: {}",
                    fields.join(", ")
                );
                out.problems.push(problem(&var, "", msg));
                continue;
            };
            let token = head[..head.len() - field.len() - 1].to_string();
            let mut path = vec![field.to_string()];
            if let Some(n) = nested {
                path.extend(n.split("__").map(|s| s.to_ascii_lowercase()));
            }
            out.by_token.entry(token).or_default().push(Assignment {
                var,
                path,
                value: text,
            });
        }
        out
    }
}

fn problem(var: &str, field: &str, message: String) -> Problem {
    Problem {
        source: format!("env {var}"),
        location: None,
        service: None,
        field: field.to_string(),
        message,
    }
}
