//! [`Section`]: a top-level table of a config document that belongs to another crate
//! (the ops layer's `fleet`, ...). The layering sorts it out of the document, lays the
//! environment overlay's table of the same name over it (each key the overlay sets
//! replaces the base's value whole), and hands it on uninterpreted; its owner reads it
//! with [`Section::deserialize`].

use super::tree::{Node, Value};
use super::{Location, Problem};
use serde::de::DeserializeOwned;
use std::fmt;

/// A table the document holds for another crate, after the environment overlay.
///
/// Its `Debug` names it and its source but never prints its values: a section may hold
/// credentials.
///
/// ```
/// use tripgate::config::{Format, Layers};
///
/// let doc = "[defaults]\nminimum_calls = 8\n[fleet]\nheartbeat = \"1s\"\n\
///            [environments.prod.fleet]\nheartbeat = \"2s\"\n";
/// let resolved = Layers::new()
///     .document(doc, Format::Toml, "tripgate.toml")
///     .section("fleet")
///     .environment(Some("prod"))
///     .resolve()?;
/// #[derive(serde::Deserialize)]
/// struct Fleet { heartbeat: String }
/// let fleet: Fleet = resolved.sections["fleet"].deserialize()?;
/// assert_eq!(fleet.heartbeat, "2s");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct Section {
    name: String,
    source: String,
    node: Node,
}

impl Section {
    pub(crate) fn new(name: &str, source: &str, node: Node) -> Section {
        Section {
            name: name.to_string(),
            source: source.to_string(),
            node,
        }
    }

    /// The section's key (`fleet`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The document it was written in.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Where the table starts in the document, when known.
    pub fn location(&self) -> Option<Location> {
        self.node.at
    }

    /// Whether the table sets `key`.
    pub fn has(&self, key: &str) -> bool {
        self.node.get(key).is_some()
    }

    /// Reads the table as a `T` (a serde type of the owner's). A mistake is reported
    /// as a [`Problem`] naming this section and serde's message (the unknown or
    /// mistyped field).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        self.node
            .deserialize()
            .map_err(|message| self.serde_problem(message))
    }

    /// A problem from serde's `message` about this section (read through another
    /// format after the owner filled in defaults, say): placed at the field it names as
    /// unknown, when it does.
    pub fn serde_problem(&self, message: impl Into<String>) -> Problem {
        let message = message.into();
        let unknown = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(field, _)| field.to_string());
        match unknown {
            Some(field) if self.has(&field) => self.problem(&field, message),
            _ => self.problem("", message),
        }
    }

    /// A problem with `field` of this section (`""`: the section as a whole), placed
    /// at the field when it was written in the document, else at the section.
    pub fn problem(&self, field: &str, message: impl Into<String>) -> Problem {
        let at = field
            .split('.')
            .filter(|s| !s.is_empty())
            .try_fold(&self.node, |n, seg| n.get(seg))
            .and_then(|n| n.at)
            .or(self.node.at);
        Problem {
            source: self.source.clone(),
            location: at,
            service: None,
            field: if field.is_empty() {
                self.name.clone()
            } else {
                format!("{}.{field}", self.name)
            },
            message: message.into(),
        }
    }
}

impl fmt::Debug for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Section")
            .field("name", &self.name)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// `over` laid on `base`: each key `over` sets replaces the base's value whole (a
/// section's owner gives its tables their meaning, so none is merged inside); a value
/// that is not a table replaces the base.
pub(crate) fn overlay(base: Node, over: Node) -> Node {
    match (base.value, over.value) {
        (Value::Map(mut entries), Value::Map(over_entries)) => {
            for (key, value) in over_entries {
                match entries.iter_mut().find(|(k, _)| k.name == key.name) {
                    Some(slot) => *slot = (key, value),
                    None => entries.push((key, value)),
                }
            }
            Node::new(Value::Map(entries), base.at)
        }
        (_, value) => Node::new(value, over.at),
    }
}
