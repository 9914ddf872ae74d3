//! Text formats: a config document (TOML, YAML or JSON) parsed into a located tree,
//! and one [`Config`] parsed from, and printed as, TOML or JSON.
//!
//! Core does no I/O: callers read the file and pass its text. Duplicate keys are
//! refused in every format, each with its line.

use super::tree::{Key, Node, Value};
use super::{yaml, Config, ConfigError, Location};
use serde::de;
use std::path::Path;

/// A config document's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// TOML 1.0.
    Toml,
    /// YAML 1.2 (core schema: `.nan` and `.inf` are floats, `yes` is a string).
    Yaml,
    /// JSON.
    Json,
}

impl Format {
    /// The format a path's extension names: `.yaml`/`.yml` YAML, `.json` JSON, anything
    /// else TOML.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Format::Yaml,
            Some("json") => Format::Json,
            _ => Format::Toml,
        }
    }

    /// The format of `text` read from `path`: by extension, else JSON when the text
    /// starts with `{`, else TOML.
    pub fn detect(path: &Path, text: &str) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Format::Yaml,
            Some("json") => Format::Json,
            Some("toml") => Format::Toml,
            _ if text.trim_start().starts_with('{') => Format::Json,
            _ => Format::Toml,
        }
    }

    /// `TOML`, `YAML` or `JSON`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Toml => "TOML",
            Format::Yaml => "YAML",
            Format::Json => "JSON",
        }
    }
}

/// A mistake found while parsing a document: where, which key, what.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub(crate) at: Option<Location>,
    pub(crate) field: String,
    pub(crate) message: String,
}

/// Parses a document into a located tree. A syntax error stops the parse; duplicate
/// keys are all reported.
pub(crate) fn parse_document(text: &str, format: Format) -> Result<Node, Vec<SyntaxError>> {
    let syntax = |at: Option<Location>, message: String| {
        vec![SyntaxError {
            at,
            field: String::new(),
            message: format!("invalid {}: {}", format.name(), message.trim_end()),
        }]
    };
    let node = match format {
        Format::Toml => toml_tree(text)?,
        Format::Json => {
            // Syntax (and JSON's own rules) by serde_json; the located tree by the YAML
            // reader, JSON being YAML 1.2.
            if let Err(e) = serde_json::from_str::<de::IgnoredAny>(text) {
                // serde_json counts from 1 but says column 0 for an empty text.
                let at = Location {
                    line: e.line().max(1),
                    column: e.column().max(1),
                };
                let msg = e.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                return Err(syntax(Some(at), msg));
            }
            yaml::parse(text)?
        }
        Format::Yaml => yaml::parse(text)?,
    };
    // An empty document is an empty table.
    Ok(match node.value {
        Value::Null => Node::empty_map(),
        _ => node,
    })
}

/// A TOML document as a located tree: toml_edit keeps the span of every key and value.
fn toml_tree(text: &str) -> Result<Node, Vec<SyntaxError>> {
    let doc = toml_edit::ImDocument::parse(text).map_err(|e| {
        vec![SyntaxError {
            at: e.span().map(|s| Location::of(text, s.start)),
            field: String::new(),
            message: format!("invalid TOML: {}", e.message().trim_end()),
        }]
    })?;
    let at = |span: Option<std::ops::Range<usize>>| span.map(|s| Location::of(text, s.start));
    fn table<'a>(
        entries: impl Iterator<Item = (&'a toml_edit::Key, &'a toml_edit::Item)>,
        at: &dyn Fn(Option<std::ops::Range<usize>>) -> Option<Location>,
        here: Option<Location>,
    ) -> Node {
        let map = entries
            .map(|(k, v)| {
                let key_at = at(k.span());
                let key = Key {
                    name: k.get().to_string(),
                    at: key_at,
                };
                (key, item(v, at, key_at))
            })
            .collect();
        Node::new(Value::Map(map), here)
    }
    fn value(
        v: &toml_edit::Value,
        at: &dyn Fn(Option<std::ops::Range<usize>>) -> Option<Location>,
        fallback: Option<Location>,
    ) -> Node {
        use toml_edit::Value as V;
        let here = at(v.span()).or(fallback);
        let value = match v {
            V::String(s) => Value::Str(s.value().clone()),
            V::Integer(i) => Value::Int((*i.value()).into()),
            V::Float(f) => Value::Float(*f.value()),
            V::Boolean(b) => Value::Bool(*b.value()),
            V::Datetime(d) => Value::Str(d.value().to_string()),
            V::Array(a) => Value::Seq(a.iter().map(|v| value(v, at, here)).collect()),
            V::InlineTable(t) => {
                return table(t.iter().filter_map(|(k, _)| t.get_key_value(k)), at, here)
            }
        };
        Node::new(value, here)
    }
    fn item(
        i: &toml_edit::Item,
        at: &dyn Fn(Option<std::ops::Range<usize>>) -> Option<Location>,
        fallback: Option<Location>,
    ) -> Node {
        use toml_edit::Item as I;
        let here = at(i.span()).or(fallback);
        match i {
            I::None => Node::new(Value::Null, here),
            I::Value(v) => value(v, at, here),
            I::Table(t) => table(t.iter().filter_map(|(k, _)| t.get_key_value(k)), at, here),
            I::ArrayOfTables(a) => Node::new(
                Value::Seq(
                    a.iter()
                        .map(|t| {
                            table(
                                t.iter().filter_map(|(k, _)| t.get_key_value(k)),
                                at,
                                at(t.span()),
                            )
                        })
                        .collect(),
                ),
                here,
            ),
        }
    }
    let root = doc.as_table();
    Ok(table(
        root.iter().filter_map(|(k, _)| root.get_key_value(k)),
        &at,
        None,
    ))
}

impl Config {
    /// Parses and validates a TOML document.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = match e.span() {
                Some(span) => {
                    let at = Location::of(text, span.start);
                    (Some(at.line), Some(at.column))
                }
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
