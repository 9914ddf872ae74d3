//! Text formats: a [`Config`] parsed from, and printed as, TOML or JSON.

use super::{Config, ConfigError};

impl Config {
    /// Parses and validates a TOML document.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = match e.span() {
                Some(span) => line_col(text, span.start),
                None => (None, None),
            };
            ConfigError::Parse {
                format: "TOML",
                message: e.message().to_string(),
                line,
                column,
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses and validates a JSON document.
    pub fn from_json_str(text: &str) -> Result<Config, ConfigError> {
        let config: Config = serde_json::from_str(text).map_err(|e| ConfigError::Parse {
            format: "JSON",
            message: e.to_string(),
            line: Some(e.line()),
            column: Some(e.column()),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses JSON when the text starts with `{`, TOML otherwise.
    pub fn from_str_auto(text: &str) -> Result<Config, ConfigError> {
        if text.trim_start().starts_with('{') {
            Config::from_json_str(text)
        } else {
            Config::from_toml_str(text)
        }
    }

    /// The config as TOML, with every default written out (a disabled failure-rate rule
    /// as `failure_rate_threshold = "off"`: TOML has no null, and leaving the key out
    /// would bring the default back).
    pub fn to_toml_string(&self) -> String {
        let text = toml::to_string_pretty(self).expect("a Config always serializes");
        if self.failure_rate_threshold.is_none() {
            format!("failure_rate_threshold = \"off\"\n{text}")
        } else {
            text
        }
    }
}

fn line_col(text: &str, offset: usize) -> (Option<usize>, Option<usize>) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (Some(line), Some(column))
}
