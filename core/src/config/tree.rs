//! [`Node`]: a config document parsed but not yet typed, each value and key with its
//! [`Location`]. The layering merges these trees; a [`Config`] is read from the result
//! through [`Node::deserialize`], which serde's derives drive as from any format.

use super::{Config, Location};
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use std::fmt;

/// A value in a document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// Wide enough for every `i64` and `u64` a format can hold.
    Int(i128),
    /// Any float, NaN and infinities included (validation refuses them by field).
    Float(f64),
    Str(String),
    /// The text of an environment variable or an explicit option written as text: typed
    /// by the field that reads it (`7` is exactly a `u64` for a `u64` field, an `f64`
    /// for an `f64` one; `none` clears an optional field).
    Text(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A map key and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) at: Option<Location>,
}

/// A value and where it was written (`None`: not from a document).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) at: Option<Location>,
}

impl Node {
    pub(crate) fn new(value: Value, at: Option<Location>) -> Node {
        Node { value, at }
    }

    pub(crate) fn empty_map() -> Node {
        Node::new(Value::Map(Vec::new()), None)
    }

    /// The tree of `config`, every field written out.
    pub(crate) fn of_config(config: &Config) -> Node {
        let json = serde_json::to_value(config).expect("a Config always serializes");
        Node::of_json(json)
    }

    fn of_json(v: serde_json::Value) -> Node {
        use serde_json::Value as J;
        let value = match v {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(b),
            J::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Value::Int(i.into()),
                (_, Some(u)) => Value::Int(u.into()),
                _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::Str(s),
            J::Array(a) => Value::Seq(a.into_iter().map(Node::of_json).collect()),
            J::Object(m) => Value::Map(
                m.into_iter()
                    .map(|(name, v)| (Key { name, at: None }, Node::of_json(v)))
                    .collect(),
            ),
        };
        Node::new(value, None)
    }

    /// The entries of a map (`None` for any other value).
    pub(crate) fn entries(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    /// The value under `key`, if this is a map holding it.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// Sets `key` in a map (turning any other value into an empty map first).
    pub(crate) fn insert(&mut self, key: Key, node: Node) {
        if !self.is_map() {
            self.value = Value::Map(Vec::new());
        }
        let Value::Map(m) = &mut self.value else {
            unreachable!("just made a map")
        };
        match m.iter_mut().find(|(k, _)| k.name == key.name) {
            Some(slot) => *slot = (key, node),
            None => m.push((key, node)),
        }
    }

    /// The value at a dotted `path` (`["open", "duration"]`).
    pub(crate) fn at_path(&self, path: &[String]) -> Option<&Node> {
        path.iter().try_fold(self, |n, seg| n.get(seg))
    }

    /// Sets the value at `path`, making the maps on the way.
    pub(crate) fn set_path(&mut self, path: &[String], node: Node) {
        let Some((last, parents)) = path.split_last() else {
            *self = node;
            return;
        };
        let mut slot = self;
        for seg in parents {
            if !matches!(slot.get(seg), Some(n) if n.is_map()) {
                slot.insert(plain_key(seg), Node::empty_map());
            }
            let Value::Map(m) = &mut slot.value else {
                unreachable!("just made a map")
            };
            slot = &mut m
                .iter_mut()
                .find(|(k, _)| k.name == *seg)
                .expect("just set")
                .1;
        }
        slot.insert(plain_key(last), node);
    }

    /// The number this holds (an integer, a float, or text that reads as one).
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match &self.value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Text(t) => t.trim().parse().ok(),
            _ => None,
        }
    }

    /// The string this holds (a string, or text).
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) | Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// Reads a `T` from this tree.
    pub(crate) fn deserialize<T: de::DeserializeOwned>(&self) -> Result<T, String> {
        T::deserialize(NodeDe(self)).map_err(|e| e.0)
    }
}

pub(crate) fn plain_key(name: &str) -> Key {
    Key {
        name: name.to_string(),
        at: None,
    }
}

impl fmt::Display for Node {
    /// The value as written in a message: `0.5`, `"abc"`, `NaN`, `a table`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) | Value::Text(s) => write!(f, "{s:?}"),
            Value::Seq(_) => f.write_str("a list"),
            Value::Map(_) => f.write_str("a table"),
        }
    }
}

/// A deserialization error: serde's message, naming the unknown or mistyped field.
#[derive(Debug)]
struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

#[derive(Clone, Copy)]
struct NodeDe<'a>(&'a Node);

impl<'de> IntoDeserializer<'de, DeError> for NodeDe<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl NodeDe<'_> {
    /// Text read as what it looks like, for a field that takes any type.
    fn visit_text<'de, V: Visitor<'de>>(t: &str, v: V) -> Result<V::Value, DeError> {
        let t = t.trim();
        if let Ok(b) = t.parse::<bool>() {
            v.visit_bool(b)
        } else if let Ok(i) = t.parse::<i64>() {
            v.visit_i64(i)
        } else if let Ok(u) = t.parse::<u64>() {
            v.visit_u64(u)
        } else if let Ok(f) = t.parse::<f64>() {
            v.visit_f64(f)
        } else {
            v.visit_str(t)
        }
    }

    /// Text read exactly as the number type the field needs.
    fn text_as<'de, T: std::str::FromStr, V: Visitor<'de>>(
        &self,
        v: V,
        visit: impl FnOnce(V, T) -> Result<V::Value, DeError>,
    ) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Text(t) => match t.trim().parse::<T>() {
                Ok(x) => visit(v, x),
                Err(_) => Err(de::Error::invalid_value(
                    de::Unexpected::Str(t),
                    &std::any::type_name::<T>(),
                )),
            },
            _ => self.deserialize_any_inner(v),
        }
    }

    fn deserialize_any_inner<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Int(i) => match (i64::try_from(*i), u64::try_from(*i)) {
                (Ok(x), _) => v.visit_i64(x),
                (_, Ok(x)) => v.visit_u64(x),
                _ => v.visit_i128(*i),
            },
            Value::Float(x) => v.visit_f64(*x),
            Value::Str(s) => v.visit_str(s),
            Value::Text(t) => Self::visit_text(t, v),
            Value::Seq(items) => {
                let mut seq = SeqDeserializer::new(items.iter().map(NodeDe));
                let out = v.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(out)
            }
            Value::Map(entries) => {
                let mut map =
                    MapDeserializer::new(entries.iter().map(|(k, n)| (k.name.as_str(), NodeDe(n))));
                let out = v.visit_map(&mut map)?;
                map.end()?;
                Ok(out)
            }
        }
    }
}

macro_rules! exact_number {
    ($($method:ident => $ty:ty, $visit:ident;)*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            self.text_as::<$ty, V>(v, |v, x| v.$visit(x))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_any_inner(v)
    }

    exact_number! {
        deserialize_u8 => u64, visit_u64;
        deserialize_u16 => u64, visit_u64;
        deserialize_u32 => u64, visit_u64;
        deserialize_u64 => u64, visit_u64;
        deserialize_i8 => i64, visit_i64;
        deserialize_i16 => i64, visit_i64;
        deserialize_i32 => i64, visit_i64;
        deserialize_i64 => i64, visit_i64;
        deserialize_f32 => f64, visit_f64;
        deserialize_f64 => f64, visit_f64;
        deserialize_bool => bool, visit_bool;
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Text(t) => v.visit_str(t.trim()),
            _ => self.deserialize_any_inner(v),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Null => v.visit_none(),
            Value::Text(t) if matches!(t.trim(), "none" | "null") => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    /// A unit variant named by a string (`initial_state = "open"`); any other shape
    /// goes the generic way, which refuses it with the expected enum.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Str(s) => v.visit_enum(s.as_str().into_deserializer()),
            Value::Text(t) => v.visit_enum(t.trim().into_deserializer()),
            _ => self.deserialize_any_inner(v),
        }
    }

    forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}
