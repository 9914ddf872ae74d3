//! YAML (and JSON, a subset of YAML 1.2) into a located [`Node`] tree, from the
//! parser's events: every key keeps its line and column, a key written twice in one
//! mapping is reported (each time, with its line), and plain scalars are typed by the
//! YAML 1.2 core schema (`.nan` and `.inf` are floats, not null).

use super::text::SyntaxError;
use super::tree::{Key, Node, Value};
use super::Location;
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Parses one YAML document.
pub(crate) fn parse(text: &str) -> Result<Node, Vec<SyntaxError>> {
    let mut builder = Builder {
        // YAML also breaks lines at a lone `\r`.
        last_line: text.bytes().filter(|b| matches!(b, b'\n' | b'\r')).count() + 1,
        ..Builder::default()
    };
    Parser::new_from_str(text)
        .load(&mut builder, false)
        .map_err(|e| {
            let at = builder.location(*e.marker());
            vec![SyntaxError {
                at: Some(at),
                field: String::new(),
                message: format!("invalid YAML: {}", e.info()),
            }]
        })?;
    if !builder.errors.is_empty() {
        return Err(builder.errors);
    }
    Ok(builder.root.unwrap_or_else(Node::empty_map))
}

/// A collection being read, with the pending key of a mapping.
enum Frame {
    Seq(Node, usize),
    Map(Node, usize, Option<Key>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    /// The path of each open collection, for naming a duplicate key.
    path: Vec<String>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    errors: Vec<SyntaxError>,
    /// The text's last line: at the end of the text the parser may name the line after
    /// it (an empty key or value there, or an error).
    last_line: usize,
}

impl Builder {
    /// The place the parser's marker names, within the text.
    fn location(&self, m: Marker) -> Location {
        // The parser counts lines from 1 and columns from 0.
        Location {
            line: m.line().clamp(1, self.last_line.max(1)),
            column: m.col() + 1,
        }
    }

    /// Adds a finished value to the collection it belongs to.
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, _, pending)) => {
                match pending.take() {
                    None => {
                        // A key: YAML keys may be any scalar; config keys are strings.
                        let name = match &node.value {
                            Value::Str(s) => s.clone(),
                            _ => node.to_string(),
                        };
                        if map.get(&name).is_some() {
                            let mut field: Vec<&str> = self
                                .path
                                .iter()
                                .map(String::as_str)
                                .filter(|s| !s.is_empty())
                                .collect();
                            field.push(&name);
                            self.errors.push(SyntaxError {
                            at: node.at,
                            field: field.join("."),
                            message: format!("duplicate key `{name}`: each key may be written once in a table"),
                        });
                        }
                        *pending = Some(Key { name, at: node.at });
                    }
                    Some(key) => {
                        // A duplicate was reported; the first value stays.
                        if map.get(&key.name).is_none() {
                            map.insert(key, node);
                        }
                    }
                }
            }
        }
    }

    fn open(&mut self, frame: Frame) {
        if let Some(Frame::Map(_, _, Some(k))) = self.stack.last() {
            self.path.push(k.name.clone());
        } else if let Some(Frame::Seq(s, _)) = self.stack.last() {
            let n = match &s.value {
                Value::Seq(items) => items.len(),
                _ => 0,
            };
            self.path.push(format!("[{n}]"));
        } else {
            self.path.push(String::new());
        }
        self.stack.push(frame);
    }

    fn close(&mut self) {
        self.path.pop();
        match self.stack.pop() {
            Some(Frame::Seq(node, anchor)) | Some(Frame::Map(node, anchor, _)) => {
                self.push(node, anchor)
            }
            None => {}
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let at = Some(self.location(mark));
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let forced_string = tag.is_some_and(|t| t.suffix == "str");
                let value = if style == TScalarStyle::Plain && !forced_string {
                    resolve_plain(&text)
                } else {
                    Value::Str(text)
                };
                self.push(Node::new(value, at), anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.open(Frame::Seq(Node::new(Value::Seq(Vec::new()), at), anchor))
            }
            Event::MappingStart(anchor, _) => self.open(Frame::Map(
                Node::new(Value::Map(Vec::new()), at),
                anchor,
                None,
            )),
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| Node::new(Value::Null, at));
                self.push(Node { at, ..node }, 0);
            }
            _ => {}
        }
    }
}

/// A plain scalar typed by the YAML 1.2 core schema.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let int =
        if let Some(hex) = text.strip_prefix("0x") {
            i128::from_str_radix(hex, 16).ok()
        } else if let Some(oct) = text.strip_prefix("0o") {
            i128::from_str_radix(oct, 8).ok()
        } else if text.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_digit() || (i == 0 && (b == b'-' || b == b'+') && text.len() > 1)
        }) {
            text.parse::<i128>().ok()
        } else {
            None
        };
    if let Some(i) = int {
        return Value::Int(i);
    }
    let looks_numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && text.bytes().any(|b| b.is_ascii_digit());
    match text.parse::<f64>() {
        Ok(f) if looks_numeric => Value::Float(f),
        _ => Value::Str(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key's place in `node`, depth first.
    fn key_lines(node: &Node, into: &mut Vec<usize>) {
        for (key, value) in node.entries().unwrap_or_default() {
            into.extend(key.at.map(|at| at.line));
            key_lines(value, into);
        }
    }

    #[test]
    fn an_empty_key_at_the_end_of_the_text_is_placed_on_its_last_line() {
        // `?` opens an explicit key; with nothing after it, the parser places the empty
        // (null) key on the line after the text's last.
        let text = "services:\n  cache:\n?  ";
        let root = parse(text).unwrap();
        let mut lines = Vec::new();
        key_lines(&root, &mut lines);
        assert!(lines.len() >= 2, "{root:?}");
        assert!(lines.iter().all(|&l| (1..=3).contains(&l)), "{lines:?}");
    }
}
