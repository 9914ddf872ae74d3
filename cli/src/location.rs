//! Errors that point into a file, and the dotted field path (`traffic.rate`,
//! `phase[2].kind`) written on a line of a TOML document. Line and column come from
//! [`tripgate::config::Location`], the one place a byte offset becomes them.

use std::fmt;
use tripgate::config::{Location, Problem, Problems};

/// An error at a place in an input file, naming the field when it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file (as given on the command line, or `<embedded default>`).
    pub file: String,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// Dotted path of the field at fault.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl FileError {
    /// An error about the whole file.
    pub fn whole(file: &str, message: impl Into<String>) -> Self {
        FileError {
            file: file.to_string(),
            line: None,
            column: None,
            field: None,
            message: message.into(),
        }
    }

    /// An error at byte `offset` of `text`; the field is read from that line.
    pub fn at_offset(file: &str, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let Location { line, column } = Location::of(text, offset);
        FileError {
            file: file.to_string(),
            line: Some(line),
            column: Some(column),
            field: field_at_line(text, line),
            message: message.into(),
        }
    }

    /// An error on `line` (1-based) about `field`.
    pub fn at_line(
        file: &str,
        line: Option<usize>,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        FileError {
            file: file.to_string(),
            line,
            column: None,
            field: Some(field.to_string()),
            message: message.into(),
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message.trim_end())
    }
}

impl std::error::Error for FileError {}

/// Several errors of one file, in the order found: those shown, and how many more
/// were found but not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileErrors(pub Vec<FileError>, pub usize);

/// Writes `shown` errors of one file, with a count line when there are several and a
/// last line for the `more` left unshown: the one layout of every file's errors.
pub fn write_errors(f: &mut fmt::Formatter<'_>, shown: &[FileError], more: usize) -> fmt::Result {
    let n = shown.len() + more;
    if n > 1 {
        let file = shown.first().map_or("", |e| e.file.as_str());
        writeln!(f, "{file}: {n} errors")?;
    }
    for (i, e) in shown.iter().enumerate() {
        if i > 0 {
            writeln!(f)?;
        }
        if n > 1 {
            write!(f, "error: ")?;
        }
        write!(f, "{e}")?;
    }
    if more > 0 {
        write!(f, "\n... and {more} more not shown")?;
    }
    Ok(())
}

impl fmt::Display for FileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_errors(f, &self.0, self.1)
    }
}

impl std::error::Error for FileErrors {}

impl From<FileError> for FileErrors {
    fn from(e: FileError) -> Self {
        FileErrors(vec![e], 0)
    }
}

impl From<&Problem> for FileError {
    /// A config problem as a file error: its source, place and field; the service (a
    /// service map's) leads the message.
    fn from(p: &Problem) -> Self {
        let message = match p.service.as_deref() {
            Some(s) if s != "defaults" => format!("service {s:?}: {}", p.message),
            _ => p.message.clone(),
        };
        FileError {
            file: p.source.clone(),
            line: p.location.map(|l| l.line),
            column: p.location.map(|l| l.column),
            field: (!p.field.is_empty()).then(|| p.field.clone()),
            message,
        }
    }
}

/// Every problem as a file error, in order.
pub fn file_errors(problems: &Problems) -> Vec<FileError> {
    problems.problems.iter().map(FileError::from).collect()
}

/// The table header in force at each line: `traffic`, `phase[1]`, `candidate[0].open`.
fn header_at(text: &str, line: usize) -> String {
    let mut header = String::new();
    let mut arrays: Vec<(String, usize)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if i + 1 > line {
            break;
        }
        let l = raw.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_string();
            let n = match arrays.iter_mut().find(|(k, _)| *k == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    arrays.push((name.clone(), 0));
                    0
                }
            };
            header = format!("{name}[{n}]");
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.split(']').next()) {
            let name = name.trim();
            // `[candidate.open]` after `[[candidate]]` belongs to the last candidate.
            header = match arrays
                .iter()
                .find(|(k, _)| name.starts_with(&format!("{k}.")))
            {
                Some((k, n)) => format!("{k}[{n}]{}", &name[k.len()..]),
                None => name.to_string(),
            };
        }
    }
    header
}

/// The dotted path of the key assigned on `line` (1-based), if the line assigns one;
/// otherwise the table header in force there.
pub fn field_at_line(text: &str, line: usize) -> Option<String> {
    let raw = text.lines().nth(line.checked_sub(1)?)?;
    let header = header_at(text, line);
    let key = raw
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('[') && !k.contains(' '));
    match (header.is_empty(), key) {
        (true, Some(k)) => Some(k),
        (false, Some(k)) => Some(format!("{header}.{k}")),
        (false, None) => Some(header),
        (true, None) => None,
    }
}

/// The line (1-based) where `key` is assigned inside the table whose header path is
/// `table` (`""` for the top level, `traffic`, `phase[2]`).
pub fn find_key_line(text: &str, table: &str, key: &str) -> Option<usize> {
    let target = if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    };
    (1..=text.lines().count())
        .find(|&l| field_at_line(text, l).as_deref() == Some(&target))
        .or_else(|| {
            // The table itself (for a missing key): its header line.
            (1..=text.lines().count()).find(|&l| {
                let t = text.lines().nth(l - 1).unwrap_or("").trim();
                t.starts_with('[') && header_at(text, l) == table
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "seed = 1\n[traffic]\nrate = 5\n[[phase]]\nkind = \"healthy\"\n[[phase]]\nkind = \"outage\"\n[[candidate]]\ntier = \"critical\"\n[candidate.open]\nduration = \"5s\"\n";

    #[test]
    fn fields_are_named_with_their_tables() {
        assert_eq!(field_at_line(DOC, 1).as_deref(), Some("seed"));
        assert_eq!(field_at_line(DOC, 3).as_deref(), Some("traffic.rate"));
        assert_eq!(field_at_line(DOC, 7).as_deref(), Some("phase[1].kind"));
        assert_eq!(
            field_at_line(DOC, 11).as_deref(),
            Some("candidate[0].open.duration")
        );
        assert_eq!(find_key_line(DOC, "phase[1]", "kind"), Some(7));
        assert_eq!(find_key_line(DOC, "traffic", "concurrency"), Some(2));
    }
}
