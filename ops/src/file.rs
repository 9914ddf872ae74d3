//! Config files: TOML or YAML (or JSON), shaped like the seeds' ConfigMap.
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
//! critical = true                   # its opening alone makes the pod unready
//! consecutive_failures = 5
//! open = { duration = "30s" }
//!
//! [services.external_api]           # the seeds' keys work too
//! failure_threshold = 3             # integer >= 1: consecutive failures; (0, 1): failure rate
//! recovery_timeout_seconds = 60     # open.duration
//! timeout_seconds = 5               # slow_call_duration
//! success_threshold = 2             # half_open.success_threshold
//!
//! [environments.development.defaults]
//! minimum_calls = 2
//! [environments.production.services.database]
//! open = { duration = "60s" }
//! ```
//!
//! # Merge order
//!
//! The config of service `S` in environment `E` is built as one JSON tree from these
//! layers, later ones winning field by field, and only then deserialized into a
//! [`tripgate::Config`] and checked with [`Config::validate_all`]:
//!
//! 1. `defaults`
//! 2. `environments.E.defaults`
//! 3. the seeds' `CIRCUIT_BREAKER_*` variables
//! 4. `TRIPGATE_DEFAULTS_*` variables
//! 5. `services.S`
//! 6. `environments.E.services.S`
//! 7. `TRIPGATE_<S>_*` variables
//!
//! Before layer 1 the tree is the standard preset. A `tier` key in any layer first
//! resets the whole tree to that preset ([`Config::preset`]), then the rest of the
//! layer applies: "defaults ← tier preset ← service ← environment overlay ←
//! environment variables". Tables merge key by key; a `window` whose `kind` changes is
//! replaced whole. `critical` (default false) is not a breaker field: it marks the
//! service for readiness (see [`health`](crate::health)).
//!
//! # Seed aliases
//!
//! The seeds' four keys may appear in any layer: `failure_threshold` (an integer >= 1
//! sets `consecutive_failures`; a fraction in (0, 1) sets `failure_rate_threshold`),
//! `recovery_timeout_seconds` (`open.duration`, raising `open.max_duration` to match
//! when it would be shorter), `timeout_seconds` (`slow_call_duration`: tripgate does not
//! time calls out, it counts calls at least that slow as slow, which trips only with a
//! `slow_call_rate_threshold`), `success_threshold` (`half_open.success_threshold`).

use crate::env::{service_token, EnvVars, Override};
use crate::error::{LoadError, Problem};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;
use tripgate::{Config, Tier};

/// A config file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML.
    Toml,
    /// YAML (1.2, through `serde_yaml_ng`).
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
}

/// One service's resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// The breaker config, validated.
    pub config: Config,
    /// The last tier named on the way (standard when none was).
    pub tier: Tier,
    /// Whether this breaker opening alone makes the process unready.
    pub critical: bool,
}

impl Default for ServiceSpec {
    fn default() -> Self {
        ServiceSpec {
            config: Config::standard(),
            tier: Tier::Standard,
            critical: false,
        }
    }
}

/// Every service's settings, resolved from one file, one environment and one set of
/// environment variables. Valid as a whole: loading fails if any service is invalid.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where the settings came from (a file path).
    pub source: String,
    /// The environment whose overlay was applied, if any.
    pub environment: Option<String>,
    /// The settings of a service the file does not name.
    pub defaults: ServiceSpec,
    /// The settings of each service named in the file (or in an environment variable).
    pub services: BTreeMap<String, ServiceSpec>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            source: "built-in defaults".to_string(),
            environment: None,
            defaults: ServiceSpec::default(),
            services: BTreeMap::new(),
        }
    }
}

const TOP_KEYS: [&str; 4] = ["environment", "defaults", "services", "environments"];
const EXTRA_KEYS: [&str; 6] = [
    "tier",
    "critical",
    "failure_threshold",
    "recovery_timeout_seconds",
    "timeout_seconds",
    "success_threshold",
];
const RAISE_MAX: &str = "\u{0}raise_max_duration";

impl Settings {
    /// Reads and resolves the file at `path` (format from its extension). The
    /// environment is `environment`, else `TRIPGATE_ENV`, else the file's
    /// `environment` key, else none.
    pub fn load(
        path: impl AsRef<Path>,
        environment: Option<&str>,
        env: &EnvVars,
    ) -> Result<Settings, LoadError> {
        let path = path.as_ref();
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| LoadError::one(&source, None, "", format!("cannot read: {e}")))?;
        Settings::parse(&text, Format::from_path(path), &source, environment, env)
    }

    /// Resolves a config document held in memory; `source` names it in errors.
    pub fn parse(
        text: &str,
        format: Format,
        source: &str,
        environment: Option<&str>,
        env: &EnvVars,
    ) -> Result<Settings, LoadError> {
        let tree = parse_tree(text, format, source)?;
        Settings::from_tree(tree, source, environment, env)
    }

    /// Settings from environment variables alone (no file).
    pub fn from_env(env: &EnvVars) -> Result<Settings, LoadError> {
        Settings::from_tree(Value::Object(Map::new()), "environment", None, env)
    }

    /// The settings for service `name`: its own, else those of a service matched by
    /// its variable token (`external-api` and `external_api` match), else the defaults.
    pub fn spec(&self, name: &str) -> &ServiceSpec {
        if let Some(s) = self.services.get(name) {
            return s;
        }
        let token = service_token(name);
        self.services
            .iter()
            .find(|(n, _)| service_token(n) == token)
            .map_or(&self.defaults, |(_, s)| s)
    }

    fn from_tree(
        tree: Value,
        source: &str,
        environment: Option<&str>,
        env: &EnvVars,
    ) -> Result<Settings, LoadError> {
        let doc = Document::new(tree, source)?;
        let environment = environment
            .map(str::to_string)
            .or_else(|| env.environment().map(str::to_string))
            .or(doc.environment.clone());
        let overrides = env.overrides(&known_fields())?;
        let r = Resolver {
            doc: &doc,
            source,
            env_name: environment.as_deref(),
            env,
            overrides: &overrides,
        };
        let mut problems = Vec::new();
        let defaults = r.resolve(None).map_err(|p| problems.extend(p)).ok();
        // Services: named in the file, in the chosen overlay, or only in a variable.
        let mut names: Vec<String> = doc.services.keys().cloned().collect();
        if let Some(o) = environment.as_deref().and_then(|e| doc.environments.get(e)) {
            names.extend(o.services.keys().cloned());
        }
        for token in overrides.keys().filter(|t| *t != "DEFAULTS") {
            if !names.iter().any(|n| &service_token(n) == token) {
                names.push(token.to_ascii_lowercase());
            }
        }
        names.sort();
        names.dedup();
        let mut services = BTreeMap::new();
        for name in names {
            match r.resolve(Some(&name)) {
                Ok(spec) => {
                    services.insert(name, spec);
                }
                Err(p) => problems.extend(p),
            }
        }
        match defaults {
            Some(defaults) if problems.is_empty() => Ok(Settings {
                source: source.to_string(),
                environment,
                defaults,
                services,
            }),
            _ => Err(LoadError { problems }),
        }
    }
}

/// The top-level field names a variable may set (lower-case): the config's own
/// fields, `tier`, `critical` and the seed aliases.
pub(crate) fn known_fields() -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for extra in Config::FIELDS.iter().copied().chain(EXTRA_KEYS) {
        if !fields.iter().any(|f| f == extra) {
            fields.push(extra.to_string());
        }
    }
    fields.sort();
    fields
}

fn parse_tree(text: &str, format: Format, source: &str) -> Result<Value, LoadError> {
    let syntax = |line: Option<usize>, col: Option<usize>, msg: String, name: &str| {
        let at = match (line, col) {
            (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
            _ => String::new(),
        };
        LoadError::one(
            source,
            None,
            "",
            format!("invalid {name}{at}: {}", msg.trim_end()),
        )
    };
    match format {
        Format::Toml => {
            let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
                let (l, c) = e.span().map_or((None, None), |s| line_col(text, s.start));
                syntax(l, c, e.message().to_string(), "TOML")
            })?;
            serde_json::to_value(table).map_err(|e| syntax(None, None, e.to_string(), "TOML"))
        }
        Format::Yaml => {
            let v: Value = serde_yaml_ng::from_str(text).map_err(|e| {
                let loc = e.location();
                syntax(
                    loc.as_ref().map(|l| l.line()),
                    loc.as_ref().map(|l| l.column()),
                    e.to_string(),
                    "YAML",
                )
            })?;
            // An empty YAML document is null: treat it as an empty table.
            Ok(if v.is_null() {
                Value::Object(Map::new())
            } else {
                v
            })
        }
        Format::Json => serde_json::from_str(text)
            .map_err(|e| syntax(Some(e.line()), Some(e.column()), e.to_string(), "JSON")),
    }
}

fn line_col(text: &str, offset: usize) -> (Option<usize>, Option<usize>) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (Some(line), Some(column))
}

/// An environment's overlay.
#[derive(Default)]
struct Overlay {
    defaults: Map<String, Value>,
    services: BTreeMap<String, Map<String, Value>>,
}

/// The file, checked for shape (not yet for values).
struct Document {
    environment: Option<String>,
    defaults: Map<String, Value>,
    services: BTreeMap<String, Map<String, Value>>,
    environments: BTreeMap<String, Overlay>,
}

fn table(v: Value, source: &str, field: &str) -> Result<Map<String, Value>, Problem> {
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        other => Err(Problem {
            source: source.to_string(),
            service: None,
            field: field.to_string(),
            message: format!("expected a table of settings, found {other}"),
        }),
    }
}

fn tables(
    v: Value,
    source: &str,
    field: &str,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, Map<String, Value>> {
    let mut out = BTreeMap::new();
    match table(v, source, field) {
        Ok(m) => {
            for (name, v) in m {
                match table(v, source, &format!("{field}.{name}")) {
                    Ok(t) => {
                        out.insert(name, t);
                    }
                    Err(p) => problems.push(p),
                }
            }
        }
        Err(p) => problems.push(p),
    }
    out
}

impl Document {
    fn new(tree: Value, source: &str) -> Result<Document, LoadError> {
        let mut problems = Vec::new();
        let top = table(tree, source, "").map_err(|p| LoadError { problems: vec![p] })?;
        let mut doc = Document {
            environment: None,
            defaults: Map::new(),
            services: BTreeMap::new(),
            environments: BTreeMap::new(),
        };
        for (key, v) in top {
            match key.as_str() {
                "environment" => match v {
                    Value::String(s) => doc.environment = Some(s),
                    other => problems.push(Problem {
                        source: source.to_string(),
                        service: None,
                        field: key.clone(),
                        message: format!("expected an environment name, found {other}"),
                    }),
                },
                "defaults" => match table(v, source, "defaults") {
                    Ok(t) => doc.defaults = t,
                    Err(p) => problems.push(p),
                },
                "services" => doc.services = tables(v, source, "services", &mut problems),
                "environments" => {
                    for (env, t) in tables(v, source, "environments", &mut problems) {
                        let mut overlay = Overlay::default();
                        for (k, v) in t {
                            let field = format!("environments.{env}.{k}");
                            match k.as_str() {
                                "defaults" => match table(v, source, &field) {
                                    Ok(t) => overlay.defaults = t,
                                    Err(p) => problems.push(p),
                                },
                                "services" => {
                                    overlay.services = tables(v, source, &field, &mut problems)
                                }
                                _ => problems.push(Problem {
                                    source: source.to_string(),
                                    service: None,
                                    field,
                                    message: "unknown key: an environment holds `defaults` and `services`".into(),
                                }),
                            }
                        }
                        doc.environments.insert(env, overlay);
                    }
                }
                _ => problems.push(Problem {
                    source: source.to_string(),
                    service: None,
                    field: key.clone(),
                    message: format!("unknown top-level key: allowed {}", TOP_KEYS.join(", ")),
                }),
            }
        }
        if problems.is_empty() {
            Ok(doc)
        } else {
            Err(LoadError { problems })
        }
    }
}

struct Resolver<'a> {
    doc: &'a Document,
    source: &'a str,
    env_name: Option<&'a str>,
    env: &'a EnvVars,
    overrides: &'a BTreeMap<String, Vec<Override>>,
}

/// One layer: its settings and where each key came from.
struct Layer {
    map: Map<String, Value>,
    /// The source of every key (a variable's name); `None` means the file.
    origin: HashMap<String, String>,
}

fn env_layer(overrides: Option<&Vec<Override>>) -> Layer {
    let mut map = Map::new();
    let mut origin = HashMap::new();
    for o in overrides.into_iter().flatten() {
        let mut slot = &mut map;
        for (i, seg) in o.path.iter().enumerate() {
            if i + 1 == o.path.len() {
                slot.insert(seg.clone(), o.value.clone());
            } else {
                let entry = slot
                    .entry(seg.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                slot = entry.as_object_mut().expect("just made an object");
            }
        }
        origin.insert(o.path.join("."), format!("env {}", o.var));
    }
    Layer { map, origin }
}

fn preset_tree(tier: Tier) -> Value {
    serde_json::to_value(Config::preset(tier)).expect("a Config always serializes")
}

impl Resolver<'_> {
    fn layers(&self, service: Option<&str>) -> Vec<Layer> {
        let file = |m: &Map<String, Value>| Layer {
            map: m.clone(),
            origin: HashMap::new(),
        };
        let overlay = self.env_name.and_then(|e| self.doc.environments.get(e));
        let mut layers = vec![file(&self.doc.defaults)];
        if let Some(o) = overlay {
            layers.push(file(&o.defaults));
        }
        let (seed, seed_origin) = self.env.seed_layer();
        layers.push(Layer {
            map: seed,
            origin: seed_origin
                .into_iter()
                .map(|(k, v)| (k, format!("env {v}")))
                .collect(),
        });
        layers.push(env_layer(self.overrides.get("DEFAULTS")));
        if let Some(name) = service {
            let token = service_token(name);
            if let Some(s) = self.doc.services.get(name) {
                layers.push(file(s));
            }
            if let Some(s) = overlay.and_then(|o| o.services.get(name)) {
                layers.push(file(s));
            }
            layers.push(env_layer(self.overrides.get(&token)));
        }
        layers
    }

    fn resolve(&self, service: Option<&str>) -> Result<ServiceSpec, Vec<Problem>> {
        let service_label = service.unwrap_or("defaults").to_string();
        let mut problems = Vec::new();
        let mut origin: HashMap<String, String> = HashMap::new();
        let problem = |origin: &HashMap<String, String>, field: &str, message: String| {
            let src = origin
                .iter()
                .filter(|(k, _)| field == k.as_str() || field.starts_with(&format!("{k}.")))
                .max_by_key(|(k, _)| k.len())
                .map_or(self.source.to_string(), |(_, v)| v.clone());
            Problem {
                source: src,
                service: Some(service_label.clone()),
                field: field.to_string(),
                message,
            }
        };
        let mut tier = Tier::Standard;
        let mut critical = false;
        let mut tree = preset_tree(tier);
        let mut raise_max = false;
        for layer in self.layers(service) {
            let mut map = layer.map;
            for k in map.keys() {
                let nested = format!("{k}.");
                origin.retain(|p, _| p != k && !p.starts_with(&nested));
            }
            for (k, src) in &layer.origin {
                origin.insert(k.clone(), src.clone());
            }
            if let Some(t) = map.remove("tier") {
                match t.as_str().and_then(Tier::from_name) {
                    Some(t) => {
                        tier = t;
                        tree = preset_tree(t);
                    }
                    None => problems.push(problem(
                        &origin,
                        "tier",
                        format!("invalid tier {t}: allowed critical, standard, non_critical"),
                    )),
                }
            }
            if let Some(c) = map.remove("critical") {
                match c.as_bool() {
                    Some(c) => critical = c,
                    None => problems.push(problem(
                        &origin,
                        "critical",
                        format!("invalid critical = {c}: allowed true or false"),
                    )),
                }
            }
            if let Err((field, msg)) = translate_aliases(&mut map) {
                problems.push(problem(&origin, &field, msg));
            }
            if map.remove(RAISE_MAX).is_some() {
                raise_max = true;
            }
            merge(&mut tree, Value::Object(map));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut config: Config = match serde_path_to_error::deserialize(&tree) {
            Ok(c) => c,
            Err(e) => {
                let field = e.path().to_string();
                let field = if field == "." { String::new() } else { field };
                let p = problem(&origin, &field, e.into_inner().to_string());
                return Err(vec![p]);
            }
        };
        if raise_max && config.open.max_duration < config.open.duration {
            config.open.max_duration = config.open.duration;
        }
        let errors = config.validate_all();
        if !errors.is_empty() {
            return Err(errors
                .into_iter()
                .map(|e| problem(&origin, e.field(), e.to_string()))
                .collect());
        }
        Ok(ServiceSpec {
            config,
            tier,
            critical,
        })
    }
}

/// Deep merge: tables key by key, anything else replaced. A `window` whose `kind`
/// differs is replaced whole (its fields depend on the kind).
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => {
                        let kind_changes = k == "window"
                            && v.get("kind").is_some()
                            && v.get("kind") != slot.get("kind");
                        if kind_changes {
                            *slot = v;
                        } else {
                            merge(slot, v);
                        }
                    }
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn seconds(v: &Value, field: &str) -> Result<Duration, (String, String)> {
    v.as_f64()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= tripgate::MAX_DURATION.as_secs_f64())
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            (
                field.to_string(),
                format!(
                    "invalid {field} = {v}: allowed a number of seconds in (0, {}]",
                    tripgate::MAX_DURATION.as_secs()
                ),
            )
        })
}

fn duration_value(d: Duration) -> Value {
    Value::String(humantime::format_duration(d).to_string())
}

fn nested(map: &mut Map<String, Value>, table: &str, key: &str, v: Value) {
    let slot = map
        .entry(table.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
        .expect("just made an object")
        .insert(key.to_string(), v);
}

/// Rewrites the seeds' keys into config fields.
fn translate_aliases(map: &mut Map<String, Value>) -> Result<(), (String, String)> {
    if let Some(v) = map.remove("failure_threshold") {
        let f = v.as_f64().unwrap_or(f64::NAN);
        if f >= 1.0 && f.fract() == 0.0 && f <= 1e9 {
            map.insert("consecutive_failures".into(), Value::from(f as u64));
        } else if f > 0.0 && f < 1.0 {
            map.insert("failure_rate_threshold".into(), Value::from(f));
        } else {
            return Err((
                "failure_threshold".into(),
                format!("invalid failure_threshold = {v}: allowed an integer 1..=1000000000 (consecutive failures) or a fraction in (0, 1) (failure rate)"),
            ));
        }
    }
    if let Some(v) = map.remove("recovery_timeout_seconds") {
        let d = seconds(&v, "recovery_timeout_seconds")?;
        nested(map, "open", "duration", duration_value(d));
        map.insert(RAISE_MAX.into(), Value::Bool(true));
    }
    if let Some(v) = map.remove("timeout_seconds") {
        let d = seconds(&v, "timeout_seconds")?;
        map.insert("slow_call_duration".into(), duration_value(d));
    }
    if let Some(v) = map.remove("success_threshold") {
        let n = v
            .as_u64()
            .filter(|n| (1..=u64::from(tripgate::MAX_HALF_OPEN_PERMITS)).contains(n));
        let Some(n) = n else {
            return Err((
                "success_threshold".into(),
                format!(
                    "invalid success_threshold = {v}: allowed 1..={}",
                    tripgate::MAX_HALF_OPEN_PERMITS
                ),
            ));
        };
        nested(map, "half_open", "success_threshold", Value::from(n));
    }
    Ok(())
}
