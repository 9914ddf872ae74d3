//! `tripgate check`: validates a config file and prints the effective config, or every
//! error with its field, value, allowed range and line.

use crate::location::{find_key_line, line_col, FileError};
use tripgate::Config;

/// The result of checking a config file.
pub enum Checked {
    /// Valid: the effective config as TOML, every default written out.
    Valid(String),
    /// Invalid: every error found.
    Invalid(Vec<FileError>),
}

/// Checks config `text` (JSON when it starts with `{`, TOML otherwise).
pub fn check(text: &str, file: &str) -> Checked {
    let json = text.trim_start().starts_with('{');
    let parsed: Result<Config, FileError> = if json {
        serde_json::from_str(text).map_err(|e| FileError {
            file: file.to_string(),
            line: Some(e.line()),
            column: Some(e.column()),
            field: None,
            message: format!("invalid JSON: {e}"),
        })
    } else {
        toml::from_str(text).map_err(|e| {
            let msg = format!("invalid TOML: {}", e.message().trim_end());
            match e.span() {
                Some(s) => FileError::at_offset(file, text, s.start, msg),
                None => FileError::whole(file, msg),
            }
        })
    };
    let config = match parsed {
        Ok(c) => c,
        Err(e) => return Checked::Invalid(vec![e]),
    };
    let errors = config.validate_all();
    if errors.is_empty() {
        return Checked::Valid(config.to_toml_string());
    }
    Checked::Invalid(
        errors
            .iter()
            .map(|e| {
                let field = e.field();
                let line = if json {
                    let leaf = field.rsplit('.').next().unwrap_or(field);
                    text.find(&format!("\"{leaf}\""))
                        .map(|off| line_col(text, off).0)
                } else {
                    let (table, key) = field.rsplit_once('.').unwrap_or(("", field));
                    find_key_line(text, table, key).or_else(|| find_key_line(text, "", table))
                };
                let message = match e {
                    tripgate::ConfigError::Invalid { value, allowed, .. } => {
                        format!("value {value} is out of range: allowed {allowed}")
                    }
                    other => other.to_string(),
                };
                FileError::at_line(file, line, field, message)
            })
            .collect(),
    )
}

/// The effective config of a tier preset, as TOML.
pub fn tier_toml(name: &str) -> Result<String, String> {
    let tier = tripgate::Tier::from_name(name).ok_or_else(|| {
        format!("unknown tier {name:?}: expected critical, standard or non_critical")
    })?;
    Ok(Config::preset(tier).to_toml_string())
}
