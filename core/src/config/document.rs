//! A config document's shape: one breaker's config (its keys are config fields), or a
//! service map (`environment`, `defaults`, `services`, `environments`, and the
//! sections other crates declared, such as `fleet`). Sorted here, checked for values
//! by the layering (sections by their owners).

use super::tree::{Key, Node, Value};
use super::{Location, Problem};

/// A document, sorted by shape (not yet checked for values).
#[derive(Default)]
pub(crate) struct Document {
    /// The document's name in errors (a file path).
    pub(crate) source: String,
    /// The `environment` key: the overlay used when none is asked for.
    pub(crate) environment: Option<String>,
    /// The defaults table (the whole document, for one breaker's config).
    pub(crate) defaults: Vec<(Key, Node)>,
    /// Each service's table.
    pub(crate) services: Vec<(Key, Vec<(Key, Node)>)>,
    /// Each environment's overlay.
    pub(crate) environments: Vec<(String, Overlay)>,
    /// The declared sections the document holds (see [`Section`](super::Section)).
    pub(crate) sections: Vec<(Key, Node)>,
}

#[derive(Default)]
/// An environment's overlay.
pub(crate) struct Overlay {
    pub(crate) defaults: Vec<(Key, Node)>,
    pub(crate) services: Vec<(Key, Vec<(Key, Node)>)>,
    pub(crate) sections: Vec<(Key, Node)>,
}

const TOP_KEYS: [&str; 4] = ["environment", "defaults", "services", "environments"];

impl Document {
    /// Sorts `tree`; `sections` are the top-level tables declared by other crates.
    pub(crate) fn read(
        tree: Node,
        source: &str,
        sections: &[String],
        problems: &mut Vec<Problem>,
    ) -> Document {
        let mut doc = Document {
            source: source.to_string(),
            ..Document::default()
        };
        let shape = |at: Option<Location>, field: &str, message: String| Problem {
            source: source.to_string(),
            location: at,
            service: None,
            field: field.to_string(),
            message,
        };
        let Value::Map(top) = tree.value else {
            problems.push(shape(
                tree.at,
                "",
                format!("expected a table of settings, found {tree}"),
            ));
            return doc;
        };
        let is_section = |name: &str| sections.iter().any(|s| s == name);
        if !top
            .iter()
            .any(|(k, _)| TOP_KEYS.contains(&k.name.as_str()) || is_section(&k.name))
        {
            // One breaker's config: the whole document is the defaults.
            doc.defaults = top;
            return doc;
        }
        let table = |node: Node, field: &str, problems: &mut Vec<Problem>| match node.value {
            Value::Map(m) => m,
            Value::Null => Vec::new(),
            _ => {
                problems.push(shape(
                    node.at,
                    field,
                    format!("expected a table of settings, found {node}"),
                ));
                Vec::new()
            }
        };
        let tables = |node: Node, field: &str, problems: &mut Vec<Problem>| {
            table(node, field, problems)
                .into_iter()
                .map(|(k, v)| {
                    let t = table(v, &format!("{field}.{}", k.name), problems);
                    (k, t)
                })
                .collect::<Vec<_>>()
        };
        for (key, v) in top {
            match key.name.as_str() {
                "environment" => match v.as_str() {
                    Some(s) => doc.environment = Some(s.to_string()),
                    None => problems.push(shape(key.at, "environment", format!("expected an environment name, found {v}"))),
                },
                "defaults" => doc.defaults = table(v, "defaults", problems),
                "services" => doc.services = tables(v, "services", problems),
                "environments" => {
                    for (env, entries) in tables(v, "environments", problems) {
                        let mut overlay = Overlay::default();
                        for (k, v) in entries {
                            let field = format!("environments.{}.{}", env.name, k.name);
                            match k.name.as_str() {
                                "defaults" => overlay.defaults = table(v, &field, problems),
                                "services" => overlay.services = tables(v, &field, problems),
                                name if is_section(name) => overlay.sections.push((k, v)),
                                _ => problems.push(shape(
                                    k.at,
                                    &field,
                                    format!(
                                        "unknown key: an environment holds {}",
                                        allowed(&["defaults", "services"], sections)
                                    ),
                                )),
                            }
                        }
                        doc.environments.push((env.name, overlay));
                    }
                }
                name if is_section(name) => doc.sections.push((key, v)),
                _ => problems.push(shape(
                    key.at,
                    &key.name,
                    format!(
                        "unknown top-level key: allowed {} (or config fields alone, for one breaker)",
                        allowed(&TOP_KEYS, sections)
                    ),
                )),
            }
        }
        doc
    }
}

/// The keys allowed at a level: `fixed`, then the declared sections.
fn allowed(fixed: &[&str], sections: &[String]) -> String {
    fixed
        .iter()
        .copied()
        .chain(sections.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(", ")
}
