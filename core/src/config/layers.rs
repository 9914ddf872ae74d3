//! Layering: one [`Config`] per service, built from every source a deployment has,
//! defined here once for the ops layer, the CLI and the bindings alike.
//!
//! # Documents
//!
//! A document (TOML, YAML or JSON; the caller reads the file) is either one breaker's
//! config (its keys are config fields) or a service map:
//!
//! ```toml
//! environment = "production"        # the overlay used when none is asked for
//!
//! [defaults]                        # every service starts here
//! tier = "standard"                 # a preset: critical, standard, non_critical
//! minimum_calls = 10
//!
//! [services.database]
//! tier = "critical"
//! critical = true                   # the ops layer: its opening alone makes the process unready
//! open = { duration = "30s" }
//!
//! [services.external_api]
//! failure_threshold = 3             # an alias (see ALIASES)
//!
//! [environments.development.defaults]
//! minimum_calls = 2
//! [environments.production.services.database]
//! open = { duration = "60s" }
//! ```
//!
//! # Order
//!
//! Service `S` in environment `E` starts from the base tier's preset, then takes, each
//! later layer winning field by field:
//!
//! 1. `defaults`, then `environments.E.defaults`;
//! 2. the `CIRCUIT_BREAKER_*` variables, then `TRIPGATE_DEFAULTS_*`;
//! 3. `services.S`, then `environments.E.services.S`;
//! 4. `TRIPGATE_<S>_*`;
//! 5. explicit options.
//!
//! A `tier` key first resets the config to that preset, then the rest of its layer
//! applies. Tables merge key by key; a `window` whose `kind` changes is replaced whole.
//! A layer that sets the open duration and not its cap raises `open.max_duration` to it
//! ([`OpenConfig::set_duration`](super::OpenConfig::set_duration)).
//!
//! # Errors
//!
//! Every mistake in every source is reported in one [`Problems`], in line order, each
//! with its source and place (`tripgate.toml:12:3`), service, field as written, value
//! and allowed range.

use super::document::{Document, Overlay};
use super::env::{service_token, Assignment, EnvLayers};
use super::section::{self, Section};
use super::text::{parse_document, SyntaxError};
use super::tree::{plain_key, Key, Node, Value};
use super::{Alias, Config, Format, Location, Problem, Problems, Tier};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::time::Duration;

/// The value of an explicit option.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// Clears an optional rule.
    Null,
    /// A flag.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A string: a duration (`30s`), a name (`count`, `p99`, `off`).
    Str(String),
    /// Text typed by the field that reads it, as an environment variable's value.
    Text(String),
    /// A table, merged key by key.
    Table(Vec<(String, OptionValue)>),
}

macro_rules! option_from {
    ($($t:ty => $v:ident as $as:ty),*) => {$(
        impl From<$t> for OptionValue {
            fn from(x: $t) -> Self {
                OptionValue::$v(x as $as)
            }
        }
    )*};
}
option_from!(bool => Bool as bool, i64 => Int as i64, i32 => Int as i64, u64 => UInt as u64, u32 => UInt as u64, f64 => Float as f64);

impl From<&str> for OptionValue {
    fn from(s: &str) -> Self {
        OptionValue::Str(s.to_string())
    }
}

impl From<String> for OptionValue {
    fn from(s: String) -> Self {
        OptionValue::Str(s)
    }
}

impl From<Duration> for OptionValue {
    fn from(d: Duration) -> Self {
        OptionValue::Str(humantime::format_duration(d).to_string())
    }
}

impl OptionValue {
    fn to_node(&self, at: Option<Location>) -> Node {
        let value = match self {
            OptionValue::Null => Value::Null,
            OptionValue::Bool(b) => Value::Bool(*b),
            OptionValue::Int(i) => Value::Int((*i).into()),
            OptionValue::UInt(u) => Value::Int((*u).into()),
            OptionValue::Float(f) => Value::Float(*f),
            OptionValue::Str(s) => Value::Str(s.clone()),
            OptionValue::Text(s) => Value::Text(s.clone()),
            OptionValue::Table(t) => Value::Map(
                t.iter()
                    .map(|(k, v)| {
                        (
                            Key {
                                name: k.clone(),
                                at,
                            },
                            v.to_node(at),
                        )
                    })
                    .collect(),
            ),
        };
        Node::new(value, at)
    }
}

/// One breaker's resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    /// The breaker config, validated.
    pub config: Config,
    /// The last tier named on the way (the base tier when none was).
    pub tier: Tier,
    /// The `critical` flag (false unless set): the breaker ignores it; the ops layer's
    /// readiness uses it.
    pub critical: bool,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            config: Config::standard(),
            tier: Tier::Standard,
            critical: false,
        }
    }
}

/// Every service's settings, resolved and valid as a whole.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resolved {
    /// The environment whose overlay was applied, if any.
    pub environment: Option<String>,
    /// The settings of a service the sources do not name.
    pub defaults: ServiceConfig,
    /// The settings of each service named in the document or in a variable.
    pub services: BTreeMap<String, ServiceConfig>,
    /// What was accepted but looks wrong (a variable naming a service the document
    /// does not have, unless [`Layers::strict`]).
    pub warnings: Vec<Problem>,
    /// The declared sections ([`Layers::section`]) the document holds, each with the
    /// environment overlay's table of the same name laid over it (each key it sets
    /// replaces the base's value whole), by name.
    pub sections: BTreeMap<String, Section>,
}

/// The sources of a config, lowest first; [`resolve`](Layers::resolve) builds it.
///
/// ```
/// use tripgate::config::{Format, Layers};
/// use tripgate::Tier;
///
/// let doc = "[defaults]\nminimum_calls = 8\n[services.db]\ntier = \"critical\"\n";
/// let resolved = Layers::new()
///     .document(doc, Format::Toml, "tripgate.toml")
///     .env_vars([("TRIPGATE_DB_SEED", "9007199254740993")])
///     .option("fail_max", 5u32)
///     .resolve()?;
/// let db = &resolved.services["db"];
/// assert_eq!(db.tier, Tier::Critical);
/// assert_eq!(db.config.seed, Some(9007199254740993));
/// assert_eq!(db.config.consecutive_failures, Some(5));
/// assert_eq!(resolved.defaults.config.minimum_calls, 8);
/// # Ok::<(), tripgate::config::Problems>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Layers {
    base: Option<Tier>,
    document: Option<(String, Format, String)>,
    environment: Option<String>,
    vars: Vec<(OsString, OsString)>,
    options: Vec<(String, OptionValue, String, Option<Location>)>,
    strict: bool,
    sections: Vec<String>,
}

/// One entry of a layer: a key as written, its value, its source.
struct Entry {
    key: Key,
    value: Node,
    source: String,
}

/// Where the current value of a field came from.
#[derive(Clone)]
struct Origin {
    source: String,
    at: Option<Location>,
    /// The key as written (an alias, or a dotted path).
    written: String,
}

impl Layers {
    /// No sources yet: resolves to the standard tier.
    pub fn new() -> Layers {
        Layers::default()
    }

    /// The preset every service starts from (standard when not set).
    pub fn tier(mut self, tier: Tier) -> Self {
        self.base = Some(tier);
        self
    }

    /// The document `text`, in `format`; `source` names it in errors (a file path).
    pub fn document(mut self, text: &str, format: Format, source: &str) -> Self {
        self.document = Some((text.to_string(), format, source.to_string()));
        self
    }

    /// The environment overlay to apply; `None` leaves the choice to `TRIPGATE_ENV`,
    /// then the document's `environment` key.
    pub fn environment(mut self, name: Option<&str>) -> Self {
        self.environment = name.map(str::to_string);
        self
    }

    /// The process's environment variables (or any set of them, for tests): those not
    /// tripgate's are ignored, even when not valid UTF-8.
    pub fn env_vars<K: Into<OsString>, V: Into<OsString>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.vars
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// An explicit option, the last layer, for the defaults and every service: a field
    /// (`minimum_calls`, `open.duration`) or an alias (`reset_timeout`).
    pub fn option(self, key: &str, value: impl Into<OptionValue>) -> Self {
        let source = format!("option {key}");
        self.located_option(key, value, &source, None)
    }

    /// An explicit option written at `at` in `source` (errors point there).
    pub fn located_option(
        mut self,
        key: &str,
        value: impl Into<OptionValue>,
        source: &str,
        at: Option<Location>,
    ) -> Self {
        self.options
            .push((key.to_string(), value.into(), source.to_string(), at));
        self
    }

    /// Declares `name` a top-level table of the document (and of its environments)
    /// that another crate reads: it is handed on in [`Resolved::sections`] instead of
    /// being refused as an unknown key.
    pub fn section(mut self, name: &str) -> Self {
        self.sections.push(name.to_string());
        self
    }

    /// Whether a variable naming a service the document does not have is an error
    /// (else a warning in [`Resolved::warnings`], and the service is created). Without
    /// a document, variables name the services and none is unknown.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The environments the document has an overlay for, in document order (none when
    /// it has no document or does not parse).
    pub fn overlays(&self) -> Vec<String> {
        let Some((text, format, source)) = &self.document else {
            return Vec::new();
        };
        match parse_document(text, *format) {
            Ok(tree) => {
                let doc = Document::read(tree, source, &self.sections, &mut Vec::new());
                doc.environments.into_iter().map(|(name, _)| name).collect()
            }
            Err(_) => Vec::new(),
        }
    }

    /// Builds every service's config, or reports every mistake in every source.
    pub fn resolve(&self) -> Result<Resolved, Problems> {
        let mut problems = Vec::new();
        let doc = match &self.document {
            None => Document::default(),
            Some((text, format, source)) => match parse_document(text, *format) {
                Ok(tree) => Document::read(tree, source, &self.sections, &mut problems),
                Err(errors) => {
                    let mut p = Problems {
                        problems: errors.into_iter().map(|e| syntax(source, e)).collect(),
                    };
                    p.sort();
                    return Err(p);
                }
            },
        };
        let env = EnvLayers::read(&self.vars);
        problems.extend(env.problems.iter().cloned());
        let environment = self
            .environment
            .clone()
            .or(env.environment.clone())
            .or(doc.environment.clone());
        let overlay = environment
            .as_deref()
            .and_then(|e| doc.environments.iter().find(|(n, _)| n == e))
            .map(|(_, o)| o);
        let mut names: Vec<String> = doc.services.iter().map(|(k, _)| k.name.clone()).collect();
        if let Some(o) = overlay {
            names.extend(o.services.iter().map(|(k, _)| k.name.clone()));
        }
        let mut warnings = Vec::new();
        for (token, assignments) in &env.by_token {
            if token == "DEFAULTS" || names.iter().any(|n| service_token(n) == *token) {
                continue;
            }
            let var = &assignments[0].var;
            let p = Problem {
                source: format!("env {var}"),
                location: None,
                service: Some(token.to_ascii_lowercase()),
                field: String::new(),
                message: format!(
                    "no service's name matches {token}: services: {}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            };
            if self.document.is_none() {
                // Without a document, variables are the only way to name a service.
                names.push(token.to_ascii_lowercase());
            } else if self.strict {
                problems.push(p);
            } else {
                warnings.push(p);
                names.push(token.to_ascii_lowercase());
            }
        }
        names.sort();
        names.dedup();
        let resolver = Resolver {
            layers: self,
            doc: &doc,
            overlay,
            env: &env,
        };
        let defaults = resolver.resolve(None, &mut problems);
        let mut services = BTreeMap::new();
        for name in names {
            if let Some(s) = resolver.resolve(Some(&name), &mut problems) {
                services.insert(name, s);
            }
        }
        // A mistake in the defaults shows in every service: report it once.
        let mut unique: Vec<Problem> = Vec::new();
        for p in problems {
            let same = |q: &Problem| {
                (&q.source, q.location, &q.field, &q.message)
                    == (&p.source, p.location, &p.field, &p.message)
            };
            if !unique.iter().any(same) {
                unique.push(p);
            }
        }
        let sections = sections(&doc, overlay);
        match defaults {
            Some(defaults) if unique.is_empty() => Ok(Resolved {
                environment,
                defaults,
                services,
                warnings,
                sections,
            }),
            _ => {
                let mut p = Problems { problems: unique };
                p.sort();
                Err(p)
            }
        }
    }
}

/// The document's sections, each with the overlay's table of the same name laid over.
fn sections(doc: &Document, overlay: Option<&Overlay>) -> BTreeMap<String, Section> {
    let mut out: BTreeMap<String, Node> = BTreeMap::new();
    let over = overlay.map_or(&[][..], |o| &o.sections[..]);
    for (key, node) in doc.sections.iter().chain(over) {
        let merged = match out.remove(&key.name) {
            Some(base) => section::overlay(base, node.clone()),
            None => node.clone(),
        };
        out.insert(key.name.clone(), merged);
    }
    out.into_iter()
        .map(|(name, node)| {
            let section = Section::new(&name, &doc.source, node);
            (name, section)
        })
        .collect()
}

fn syntax(source: &str, e: SyntaxError) -> Problem {
    Problem {
        source: source.to_string(),
        location: e.at,
        service: None,
        field: e.field,
        message: e.message,
    }
}

struct Resolver<'a> {
    layers: &'a Layers,
    doc: &'a Document,
    overlay: Option<&'a Overlay>,
    env: &'a EnvLayers,
}

impl Resolver<'_> {
    /// The layers of `service` (the defaults for `None`), lowest first.
    fn layers(&self, service: Option<&str>) -> Vec<Vec<Entry>> {
        let file = |entries: &[(Key, Node)]| -> Vec<Entry> {
            entries
                .iter()
                .map(|(k, v)| Entry {
                    key: k.clone(),
                    value: v.clone(),
                    source: self.doc.source.clone(),
                })
                .collect()
        };
        let vars = |a: Option<&Vec<Assignment>>| -> Vec<Entry> {
            a.into_iter()
                .flatten()
                .map(|a| Entry {
                    key: plain_key(&a.path.join(".")),
                    value: a.value.clone(),
                    source: format!("env {}", a.var),
                })
                .collect()
        };
        let service_of = |services: &[(Key, Vec<(Key, Node)>)], name: &str| {
            services
                .iter()
                .find(|(k, _)| k.name == name)
                .map(|(_, t)| file(t))
                .unwrap_or_default()
        };
        let mut layers = vec![file(&self.doc.defaults)];
        if let Some(o) = self.overlay {
            layers.push(file(&o.defaults));
        }
        layers.push(vars(Some(&self.env.seed)));
        layers.push(vars(self.env.by_token.get("DEFAULTS")));
        if let Some(name) = service {
            layers.push(service_of(&self.doc.services, name));
            if let Some(o) = self.overlay {
                layers.push(service_of(&o.services, name));
            }
            layers.push(vars(self.env.by_token.get(&service_token(name))));
        }
        layers.push(
            self.layers
                .options
                .iter()
                .map(|(k, v, source, at)| Entry {
                    key: Key {
                        name: k.clone(),
                        at: *at,
                    },
                    value: v.to_node(*at),
                    source: source.clone(),
                })
                .collect(),
        );
        layers
    }

    fn resolve(&self, service: Option<&str>, problems: &mut Vec<Problem>) -> Option<ServiceConfig> {
        let label = service.unwrap_or("defaults").to_string();
        let found = problems.len();
        let mut state = State {
            tier: self.layers.base.unwrap_or(Tier::Standard),
            critical: false,
            tree: Node::empty_map(),
            origins: Vec::new(),
            service: label,
            problems,
        };
        state.tree = Node::of_config(&Config::preset(state.tier));
        for layer in self.layers(service) {
            state.apply_layer(layer);
        }
        let config: Config = match state.tree.deserialize() {
            Ok(c) => c,
            Err(e) => {
                // Every change was checked as it was made: only reachable through a bug.
                let p = state.problem(None, "", e);
                state.problems.push(p);
                return None;
            }
        };
        for e in config.validate_all() {
            let origin = state.origin_of(e.field());
            let p = Problem {
                source: origin
                    .as_ref()
                    .map_or_else(|| self.doc.source.clone(), |o| o.source.clone()),
                location: origin.as_ref().and_then(|o| o.at),
                service: Some(state.service.clone()),
                field: origin.map_or_else(|| e.field().to_string(), |o| o.written),
                message: e.to_string(),
            };
            state.problems.push(p);
        }
        (state.problems.len() == found).then_some(ServiceConfig {
            config,
            tier: state.tier,
            critical: state.critical,
        })
    }
}

/// A service's config being built.
struct State<'p> {
    tier: Tier,
    critical: bool,
    tree: Node,
    /// The source of each field set so far, by dotted path.
    origins: Vec<(String, Origin)>,
    service: String,
    problems: &'p mut Vec<Problem>,
}

impl State<'_> {
    fn problem(&self, origin: Option<&Origin>, field: &str, message: String) -> Problem {
        Problem {
            source: origin.map_or_else(String::new, |o| o.source.clone()),
            location: origin.and_then(|o| o.at),
            service: Some(self.service.clone()),
            field: origin.map_or_else(|| field.to_string(), |o| o.written.clone()),
            message,
        }
    }

    /// Where `field` (a dotted path) was last set: by itself or by a table holding it.
    fn origin_of(&self, field: &str) -> Option<Origin> {
        self.origins
            .iter()
            .filter(|(p, _)| field == p || field.starts_with(&format!("{p}.")))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, o)| o.clone())
    }

    fn apply_layer(&mut self, layer: Vec<Entry>) {
        // A tier first resets everything below it.
        for e in layer.iter().filter(|e| e.key.name == "tier") {
            let origin = origin(e, "tier");
            match e.value.as_str().and_then(Tier::from_name) {
                Some(t) => {
                    self.tier = t;
                    self.tree = Node::of_config(&Config::preset(t));
                    self.origins.clear();
                }
                None => {
                    let msg = format!(
                        "invalid tier {}: allowed critical, standard, non_critical",
                        e.value
                    );
                    let p = self.problem(Some(&origin), "tier", msg);
                    self.problems.push(p);
                }
            }
        }
        let mut set: Vec<String> = Vec::new();
        for e in layer.iter().filter(|e| e.key.name != "tier") {
            let name = e.key.name.as_str();
            if name == "critical" {
                let flag = match &e.value.value {
                    Value::Bool(b) => Some(*b),
                    Value::Text(t) => t.parse().ok(),
                    _ => None,
                };
                match flag {
                    Some(c) => self.critical = c,
                    None => {
                        let msg = format!("invalid critical = {}: allowed true or false", e.value);
                        let p = self.problem(Some(&origin(e, name)), name, msg);
                        self.problems.push(p);
                    }
                }
                continue;
            }
            let path: Vec<String> = name.split('.').map(str::to_string).collect();
            let (path, value) = match Alias::find(name) {
                Some(alias) => match alias.translate(&e.value) {
                    Ok(t) => t,
                    Err(msg) => {
                        let p = self.problem(Some(&origin(e, name)), name, msg);
                        self.problems.push(p);
                        continue;
                    }
                },
                None => (path, e.value.clone()),
            };
            let written = if path.join(".") == name {
                None
            } else {
                Some(name)
            };
            self.apply(&path, value, e, written, &mut set);
        }
        // The derived rule: a layer that sets the open duration and not its cap
        // raises the cap to it.
        let sets = |p: &str| {
            set.iter()
                .any(|s| s == p || p.starts_with(&format!("{s}.")))
        };
        if sets("open.duration") && !sets("open.max_duration") {
            if let Ok(mut config) = self.tree.deserialize::<Config>() {
                let before = config.open.max_duration;
                config.open.set_duration(config.open.duration);
                if config.open.max_duration != before {
                    let max = Node::new(
                        Value::Str(
                            humantime::format_duration(config.open.max_duration).to_string(),
                        ),
                        None,
                    );
                    self.tree
                        .set_path(&["open".into(), "max_duration".into()], max);
                    if let Some(o) = self.origin_of("open.duration") {
                        self.origins.push(("open.max_duration".into(), o));
                    }
                }
            }
        }
    }

    /// Sets `path` to `value`: a table into a table key by key, anything else (or a
    /// window of another kind) whole, each change checked against the schema.
    fn apply(
        &mut self,
        path: &[String],
        value: Node,
        e: &Entry,
        written: Option<&str>,
        set: &mut Vec<String>,
    ) {
        let dotted = path.join(".");
        let existing_is_map = matches!(self.tree.at_path(path), Some(n) if n.is_map());
        let window_kind_changes = dotted == "window"
            && value.get("kind").is_some()
            && value.get("kind").map(|k| k.as_str())
                != self
                    .tree
                    .at_path(path)
                    .and_then(|w| w.get("kind"))
                    .map(|k| k.as_str());
        if let (Value::Map(entries), true, false) =
            (&value.value, existing_is_map, window_kind_changes)
        {
            for (k, v) in entries {
                let mut sub = path.to_vec();
                sub.push(k.name.clone());
                let entry = Entry {
                    key: Key {
                        name: format!("{}.{}", written.unwrap_or(&dotted), k.name),
                        at: k.at.or(e.key.at),
                    },
                    value: v.clone(),
                    source: e.source.clone(),
                };
                self.apply(&sub, v.clone(), &entry, None, set);
            }
            return;
        }
        let origin = origin(e, written.unwrap_or(&e.key.name));
        let mut trial = self.tree.clone();
        trial.set_path(path, value);
        match trial.deserialize::<Config>() {
            Ok(_) => {
                self.tree = trial;
                let nested = format!("{dotted}.");
                self.origins
                    .retain(|(p, _)| *p != dotted && !p.starts_with(&nested));
                self.origins.push((dotted.clone(), origin));
                set.push(dotted);
            }
            Err(msg) => {
                let p = self.problem(Some(&origin), &dotted, msg);
                self.problems.push(p);
            }
        }
    }
}

fn origin(e: &Entry, written: &str) -> Origin {
    Origin {
        source: e.source.clone(),
        at: e.key.at.or(e.value.at),
        written: written.to_string(),
    }
}
