//! Checking the fields of a parsed TOML table one by one, collecting every error with
//! its line, its dotted field path, the value and the allowed range, instead of
//! stopping at the first.

use crate::budget::exact;
use crate::location::{find_key_line, FileError};
use std::ops::RangeInclusive;
use std::time::Duration;
use toml::{Table, Value};

/// The fields of one TOML document being checked, and the errors found so far.
pub struct Fields<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<FileError>,
}

fn path(table: &str, key: &str) -> String {
    if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    }
}

impl<'a> Fields<'a> {
    /// Checks fields of `text`, read from `file`.
    pub fn new(file: &'a str, text: &'a str) -> Self {
        Fields {
            file,
            text,
            errors: Vec::new(),
        }
    }

    /// The file name errors carry.
    pub fn file(&self) -> &'a str {
        self.file
    }

    /// The document's text.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// Every error found, in the order found.
    pub fn into_errors(self) -> Vec<FileError> {
        self.errors
    }

    /// Records an error about `key` of `table` (`""`: the top level), at its line.
    pub fn error(&mut self, table: &str, key: &str, message: String) {
        let line = find_key_line(self.text, table, key);
        self.errors.push(FileError::at_line(
            self.file,
            line,
            &path(table, key),
            message,
        ));
    }

    /// Records an error about `field` that has no line (a missing table).
    pub fn error_whole(&mut self, field: &str, message: String) {
        self.errors
            .push(FileError::at_line(self.file, None, field, message));
    }

    /// Records an error found elsewhere.
    pub fn push(&mut self, e: FileError) {
        self.errors.push(e);
    }

    /// Reports every key of `t` not in `allowed`.
    pub fn deny_unknown(&mut self, table: &str, t: &Table, allowed: &[&str]) {
        for key in t.keys().filter(|k| !allowed.contains(&k.as_str())) {
            self.error(
                table,
                key,
                format!("unknown field `{key}`: allowed {}", allowed.join(", ")),
            );
        }
    }

    fn wrong_type(&mut self, table: &str, key: &str, v: &Value, expected: &str) {
        self.error(
            table,
            key,
            format!(
                "value {v} ({}) is of the wrong type: expected {expected}",
                v.type_str()
            ),
        );
    }

    /// The table `key`; reported when it is something else, or missing and `required`.
    pub fn table<'t>(
        &mut self,
        table: &str,
        t: &'t Table,
        key: &str,
        required: bool,
    ) -> Option<&'t Table> {
        match t.get(key) {
            Some(Value::Table(inner)) => Some(inner),
            Some(v) => {
                self.wrong_type(table, key, v, &format!("a table `[{}]`", path(table, key)));
                None
            }
            None => {
                if required {
                    self.error_whole(
                        &path(table, key),
                        format!("missing: a scenario needs a `[{}]` table", path(table, key)),
                    );
                }
                None
            }
        }
    }

    /// The array of tables `key` (`[[key]]`), empty when missing or reported.
    pub fn array_of_tables<'t>(&mut self, table: &str, t: &'t Table, key: &str) -> Vec<&'t Table> {
        match t.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) if items.iter().all(Value::is_table) => {
                items.iter().filter_map(Value::as_table).collect()
            }
            Some(v) => {
                self.wrong_type(table, key, v, &format!("tables `[[{}]]`", path(table, key)));
                Vec::new()
            }
        }
    }

    /// An optional string.
    pub fn string(&mut self, table: &str, t: &Table, key: &str) -> Option<String> {
        match t.get(key)? {
            Value::String(s) => Some(s.clone()),
            v => {
                self.wrong_type(table, key, v, "a string");
                None
            }
        }
    }

    /// An optional whole number in `range`.
    pub fn uint(
        &mut self,
        table: &str,
        t: &Table,
        key: &str,
        range: RangeInclusive<u64>,
    ) -> Option<u64> {
        let v = t.get(key)?;
        let out_of_range = |this: &mut Self| {
            this.error(
                table,
                key,
                format!(
                    "value {v} is out of range: allowed {}..={}",
                    range.start(),
                    range.end()
                ),
            );
            None
        };
        match v {
            Value::Integer(i) => match u64::try_from(*i) {
                Ok(n) if range.contains(&n) => Some(n),
                _ => out_of_range(self),
            },
            v => {
                self.wrong_type(table, key, v, "a whole number");
                None
            }
        }
    }

    /// An optional finite number in `lo..=hi` (`allowed` says so in words).
    pub fn float(
        &mut self,
        table: &str,
        t: &Table,
        key: &str,
        (lo, hi, allowed): (f64, f64, &str),
    ) -> Option<f64> {
        let v = t.get(key)?;
        let x = match v {
            Value::Integer(i) => *i as f64,
            Value::Float(x) => *x,
            v => {
                self.wrong_type(table, key, v, "a number");
                return None;
            }
        };
        if x.is_finite() && (lo..=hi).contains(&x) {
            Some(x)
        } else {
            self.error(
                table,
                key,
                format!("value {v} is out of range: allowed {allowed}"),
            );
            None
        }
    }

    /// An optional duration string (`"250ms"`, `"1m30s"`) in `range`.
    pub fn duration(
        &mut self,
        table: &str,
        t: &Table,
        key: &str,
        range: RangeInclusive<Duration>,
    ) -> Option<Duration> {
        let v = t.get(key)?;
        let allowed = format!(
            "allowed {}..={}",
            exact(*range.start()),
            exact(*range.end())
        );
        let Value::String(s) = v else {
            self.wrong_type(
                table,
                key,
                v,
                &format!("a duration string such as \"250ms\" or \"1m30s\" ({allowed})"),
            );
            return None;
        };
        match humantime::parse_duration(s) {
            Ok(d) if range.contains(&d) => Some(d),
            Ok(_) => {
                self.error(table, key, format!("value {v} is out of range: {allowed}"));
                None
            }
            Err(e) => {
                self.error(
                    table,
                    key,
                    format!("value {v} is not a duration ({e}): {allowed}, written such as \"250ms\" or \"1m30s\""),
                );
                None
            }
        }
    }

    /// An optional name, one of `options`.
    pub fn choice<T: Copy>(
        &mut self,
        table: &str,
        t: &Table,
        key: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let v = t.get(key)?;
        let allowed = options
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ");
        match v {
            Value::String(s) => match options.iter().find(|(n, _)| n == s) {
                Some((_, x)) => Some(*x),
                None => {
                    self.error(
                        table,
                        key,
                        format!("value {v} is not allowed: allowed {allowed}"),
                    );
                    None
                }
            },
            v => {
                self.wrong_type(table, key, v, &format!("one of {allowed}"));
                None
            }
        }
    }
}
