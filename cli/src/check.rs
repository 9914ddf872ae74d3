//! `tripgate check`: validates a config file — one breaker's config, or a service map
//! (`defaults`, `services`, `environments`) — in TOML, YAML or JSON, and prints the
//! effective config, or every error with its line, field, value and allowed range.
//! A service map is checked in its default environment and in every environment it
//! has an overlay for.

use crate::location::{file_errors, FileError};
use std::path::Path;
use tripgate::config::{Format, Layers, Resolved, ServiceConfig};
use tripgate::Config;

/// The result of checking a config file.
pub enum Checked {
    /// Valid: the effective config as TOML, every default written out.
    Valid(String),
    /// Invalid: every error found.
    Invalid(Vec<FileError>),
}

/// Checks config `text` read from `file` (format from the extension; without a known
/// one, JSON when the text starts with `{`, else TOML).
pub fn check(text: &str, file: &str) -> Checked {
    let format = Format::detect(Path::new(file), text);
    let layers = Layers::new().document(text, format, file);
    let mut errors: Vec<FileError> = Vec::new();
    let mut first = None;
    let environments = layers.overlays();
    let runs = std::iter::once(None).chain(environments.iter().map(|e| Some(e.as_str())));
    for environment in runs {
        let run = match environment {
            None => layers.clone(),
            Some(e) => layers.clone().environment(Some(e)),
        };
        match run.resolve() {
            Ok(r) => {
                first.get_or_insert(r);
            }
            Err(p) => {
                for e in file_errors(&p) {
                    if !errors.contains(&e) {
                        errors.push(e);
                    }
                }
            }
        }
    }
    // In line order, the file's own first (a variable or option has no line).
    errors.sort_by_key(|e| (e.file != file, e.line, e.column));
    match first {
        Some(r) if errors.is_empty() => Checked::Valid(effective(&r, !environments.is_empty())),
        _ => Checked::Invalid(errors),
    }
}

/// The effective settings as TOML: one config, or `[defaults]` and `[services.NAME]`.
fn effective(r: &Resolved, service_map: bool) -> String {
    if r.services.is_empty() && !service_map {
        return r.defaults.config.to_toml_string();
    }
    let mut root = toml::Table::new();
    if let Some(e) = &r.environment {
        root.insert("environment".into(), e.clone().into());
    }
    root.insert("defaults".into(), table(&r.defaults).into());
    let services: toml::Table = r
        .services
        .iter()
        .map(|(name, s)| (name.clone(), table(s).into()))
        .collect();
    root.insert("services".into(), services.into());
    toml::to_string_pretty(&root).expect("settings always serialize")
}

fn table(s: &ServiceConfig) -> toml::Table {
    let mut t = match toml::Value::try_from(&s.config) {
        Ok(toml::Value::Table(t)) => t,
        _ => unreachable!("a Config serializes to a table"),
    };
    if s.config.failure_rate_threshold.is_none() {
        // TOML has no null; leaving the key out would bring the default back.
        t.insert("failure_rate_threshold".into(), "off".into());
    }
    if s.critical {
        t.insert("critical".into(), true.into());
    }
    t
}

/// The effective config of a tier preset, as TOML.
pub fn tier_toml(name: &str) -> Result<String, String> {
    let tier = tripgate::Tier::from_name(name).ok_or_else(|| {
        format!("unknown tier {name:?}: expected critical, standard or non_critical")
    })?;
    Ok(Config::preset(tier).to_toml_string())
}
