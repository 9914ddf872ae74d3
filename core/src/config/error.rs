//! [`ConfigError`]: why a config was refused.

use super::Location;
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

/// One mistake in a config source, placed as precisely as known.
#[derive(Clone, PartialEq, Eq)]
pub struct Problem {
    /// The document (a file path, as given), `env NAME` for an environment variable, or
    /// `option NAME` for an explicit option.
    pub source: String,
    /// Where in the document, when the mistake is in one.
    pub location: Option<Location>,
    /// The service the mistake was found in (`defaults` for the defaults), if any.
    pub service: Option<String>,
    /// Dotted path of the field at fault (`open.duration`), empty when unknown.
    pub field: String,
    /// What is wrong: the value, and what is allowed.
    pub message: String,
}

impl fmt::Display for Problem {
    /// `tripgate.toml:12:1: service "database": field minimum_calls: invalid ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(at) = self.location {
            write!(f, ":{at}")?;
        }
        if let Some(s) = &self.service {
            write!(f, ": service {s:?}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": field {}", self.field)?;
        }
        write!(f, ": {}", self.message.trim_end())
    }
}

impl fmt::Debug for Problem {
    /// As [`Display`](fmt::Display): a `main` returning this error prints the message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Problem {}

/// Every mistake found in the config sources, all at once: those in a document first,
/// in line order, then the rest. Nothing of the sources was applied.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Problems {
    /// Every problem found.
    pub problems: Vec<Problem>,
}

impl Problems {
    /// An error with one problem.
    pub fn one(
        source: impl Into<String>,
        service: Option<&str>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Problems {
            problems: vec![Problem {
                source: source.into(),
                location: None,
                service: service.map(str::to_string),
                field: field.into(),
                message: message.into(),
            }],
        }
    }

    /// Orders the problems: those placed in a document first, by source (in the order
    /// first seen), then by place; the order found is kept among equals.
    pub(crate) fn sort(&mut self) {
        let mut sources: Vec<String> = Vec::new();
        for p in &self.problems {
            if !sources.contains(&p.source) {
                sources.push(p.source.clone());
            }
        }
        let rank = |p: &Problem| sources.iter().position(|s| *s == p.source);
        self.problems
            .sort_by_key(|p| (p.location.is_none(), rank(p), p.location));
    }
}

impl fmt::Display for Problems {
    /// One problem a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Problems {
    /// As [`Display`](fmt::Display): a `main` returning this error prints one problem a
    /// line, not the structure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Problems {}
