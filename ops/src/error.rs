//! Why a config file (or an environment override) was refused.
//!
//! Every [`Problem`] names where it came from (the file, or the environment variable),
//! the service (or `defaults`), the field as a dotted path, and what is allowed. A
//! [`LoadError`] carries every problem found, so one reload reports them all at once.

use std::fmt;

/// One thing wrong with a config source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file path, or `env TRIPGATE_X_Y` for an environment variable.
    pub source: String,
    /// The service the problem was found in (`defaults` for the defaults), if any.
    pub service: Option<String>,
    /// Dotted path of the field at fault (`open.duration`), empty when unknown.
    pub field: String,
    /// What is wrong, and what is allowed.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(s) = &self.service {
            write!(f, ": service {s:?}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": field {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A config source that was refused as a whole; nothing of it was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Every problem found, in the order found.
    pub problems: Vec<Problem>,
}

impl LoadError {
    /// An error with one problem.
    pub fn one(
        source: impl Into<String>,
        service: Option<&str>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        LoadError {
            problems: vec![Problem {
                source: source.into(),
                service: service.map(str::to_string),
                field: field.into(),
                message: message.into(),
            }],
        }
    }
}

impl fmt::Display for LoadError {
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

impl std::error::Error for LoadError {}
