//! [`ConfigError`]: why a config was refused.

use std::fmt;

/// Why a config was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A field holds a value outside its allowed range.
    Invalid {
        /// Dotted path of the field, such as `window.buckets`.
        field: String,
        /// The value given.
        value: String,
        /// What is allowed, such as `1..=4096`.
        allowed: String,
    },
    /// The text is not valid TOML or JSON, or does not fit the schema.
    Parse {
        /// `TOML` or `JSON`.
        format: &'static str,
        /// The parser's message (names the unknown or mistyped field).
        message: String,
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// 1-based column of the error, when known.
        column: Option<usize>,
    },
}

impl ConfigError {
    /// The field at fault (`""` for a parse error the parser could not place).
    pub fn field(&self) -> &str {
        match self {
            ConfigError::Invalid { field, .. } => field,
            ConfigError::Parse { .. } => "",
        }
    }

    pub(crate) fn invalid(
        field: &str,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            field: field.to_string(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid {
                field,
                value,
                allowed,
            } => write!(f, "invalid {field} = {value}: allowed {allowed}"),
            ConfigError::Parse {
                format,
                message,
                line,
                column,
            } => {
                write!(f, "invalid {format}")?;
                if let (Some(l), Some(c)) = (line, column) {
                    write!(f, " at line {l}, column {c}")?;
                }
                write!(f, ": {}", message.trim_end())
            }
        }
    }
}

impl std::error::Error for ConfigError {}
