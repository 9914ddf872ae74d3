//! Candidate breaker configs: a tier preset and/or inline overrides of any
//! [`tripgate::Config`] field (or alias), or a config file (TOML, YAML or JSON) plus
//! overrides.
//!
//! Built by the core crate's config layering ([`tripgate::config::Layers`]): the same
//! merge (nested tables such as `open` key by key; a `window` of another `kind`
//! replaced whole), aliases, derived rules and validation as every other config.

use crate::location::{file_errors, FileError};
use crate::rng::splitmix64;
use std::collections::BTreeMap;
use std::path::Path;
use tripgate::config::{Format, Layers, Location, OptionValue};
use tripgate::{Config, Tier};

/// A `[[candidate]]` table as written, each value with its place in the file.
pub type RawCandidate = BTreeMap<String, toml::Spanned<toml::Value>>;

/// A resolved candidate.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Display name, unique within a run.
    pub name: String,
    /// Where the config came from: `tier critical`, `file x.toml + 2 overrides`.
    pub source: String,
    /// The validated config, its `seed` set.
    pub config: Config,
    /// Whether the seed was derived from the scenario seed (rather than written).
    pub seed_derived: bool,
}

/// The jitter seed a candidate gets when its config sets none: derived from the
/// scenario seed and the candidate's position, so every run is reproducible. 63 bits:
/// a config's seed must fit a TOML integer.
pub fn derived_seed(scenario_seed: u64, index: usize) -> u64 {
    splitmix64(scenario_seed ^ splitmix64(index as u64 + 1)) >> 1
}

/// A scenario file's TOML value as an explicit option of the config layering.
fn option_value(v: &toml::Value) -> OptionValue {
    match v {
        toml::Value::String(s) => OptionValue::Str(s.clone()),
        toml::Value::Integer(i) => OptionValue::Int(*i),
        toml::Value::Float(f) => OptionValue::Float(*f),
        toml::Value::Boolean(b) => OptionValue::Bool(*b),
        toml::Value::Datetime(d) => OptionValue::Str(d.to_string()),
        // No config field takes a list: the layering names the field and its type.
        toml::Value::Array(_) => OptionValue::Str(v.to_string()),
        toml::Value::Table(t) => OptionValue::Table(
            t.iter()
                .map(|(k, v)| (k.clone(), option_value(v)))
                .collect(),
        ),
    }
}

/// Resolves the `index`th `[[candidate]]` of a scenario file: the tier preset or the
/// config file, then the candidate's own keys (any config field or alias), through
/// the config layering. Every mistake is listed; the error points at the first.
pub fn resolve(
    raw: &RawCandidate,
    index: usize,
    scenario_seed: u64,
    file: &str,
    text: &str,
    dir: &Path,
) -> Result<Candidate, FileError> {
    let table = format!("candidate[{index}]");
    let at = |v: &toml::Spanned<toml::Value>| Location::of(text, v.span().start);
    let err_at = |key: &str, v: &toml::Spanned<toml::Value>, msg: String| {
        FileError::at_line(file, Some(at(v).line), &format!("{table}.{key}"), msg)
    };
    let string = |key: &str| -> Result<Option<String>, FileError> {
        match raw.get(key) {
            None => Ok(None),
            Some(v) => match v.get_ref() {
                toml::Value::String(s) => Ok(Some(s.clone())),
                other => Err(err_at(
                    key,
                    v,
                    format!("expected a string, found {}", other.type_str()),
                )),
            },
        }
    };
    let name = string("name")?;
    let tier = match (string("tier")?, raw.get("tier")) {
        (Some(t), Some(v)) => Some(Tier::from_name(&t).ok_or_else(|| {
            err_at(
                "tier",
                v,
                format!("unknown tier {t:?}: expected critical, standard or non_critical"),
            )
        })?),
        _ => None,
    };
    let path = string("config")?;
    let mut sources = Vec::new();
    let mut layers = Layers::new();
    match (&tier, &path) {
        (Some(_), Some(_)) => {
            return Err(err_at(
                "config",
                &raw["config"],
                "give either `tier` or `config`, not both (overrides go beside either)".into(),
            ))
        }
        (Some(t), None) => {
            sources.push(format!("tier {}", t.name()));
            layers = layers.tier(*t);
        }
        (None, Some(p)) => {
            let full = dir.join(p);
            let body = std::fs::read_to_string(&full).map_err(|e| {
                err_at(
                    "config",
                    &raw["config"],
                    format!("cannot read {}: {e}", full.display()),
                )
            })?;
            sources.push(format!("file {p}"));
            let format = Format::detect(&full, &body);
            layers = layers.document(&body, format, &full.display().to_string());
        }
        (None, None) => sources.push("defaults (standard tier)".to_string()),
    }
    let mut overrides: Vec<(&String, &toml::Spanned<toml::Value>)> = raw
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "name" | "tier" | "config"))
        .collect();
    overrides.sort_by_key(|(_, v)| v.span().start);
    let overrides_source = format!("{file} {table}");
    for (key, value) in &overrides {
        let value_of = option_value(value.get_ref());
        layers = layers.located_option(key, value_of, &overrides_source, Some(at(value)));
    }
    if !overrides.is_empty() {
        sources.push(format!(
            "{} override{}",
            overrides.len(),
            if overrides.len() == 1 { "" } else { "s" }
        ));
    }
    let resolved = layers.resolve().map_err(|problems| {
        let errors: Vec<FileError> = file_errors(&problems)
            .into_iter()
            .map(|mut e| {
                // An override's source is the scenario file, its field in this table.
                if e.file == overrides_source {
                    e.file = file.to_string();
                    e.field = e.field.map(|f| format!("{table}.{f}"));
                }
                e
            })
            .collect();
        let mut first = errors[0].clone();
        if errors.len() > 1 {
            let list: Vec<String> = errors.iter().map(FileError::to_string).collect();
            first.message = format!("candidate config is invalid:\n  {}", list.join("\n  "));
        }
        first
    })?;
    for w in &resolved.warnings {
        eprintln!("warning: {w}");
    }
    let mut config = resolved.defaults.config;
    let seed_derived = config.seed.is_none();
    if seed_derived {
        config.seed = Some(derived_seed(scenario_seed, index));
    }
    let name = name.unwrap_or_else(|| match (&tier, &path) {
        (Some(t), _) if overrides.is_empty() => t.name().to_string(),
        (_, Some(p)) if overrides.is_empty() => file_stem(p),
        _ => format!("candidate-{}", index + 1),
    });
    Ok(Candidate {
        name,
        source: sources.join(" + "),
        config,
        seed_derived,
    })
}

fn file_stem(p: &str) -> String {
    Path::new(p)
        .file_stem()
        .map_or_else(|| p.to_string(), |s| s.to_string_lossy().into_owned())
}

/// A candidate from the command line: a tier name.
pub fn from_tier(name: &str, index: usize, seed: u64) -> Result<Candidate, String> {
    let tier = Tier::from_name(name).ok_or_else(|| {
        format!("unknown tier {name:?}: expected critical, standard or non_critical")
    })?;
    let mut config = Config::preset(tier);
    config.seed = Some(derived_seed(seed, index));
    Ok(Candidate {
        name: tier.name().to_string(),
        source: format!("tier {}", tier.name()),
        config,
        seed_derived: true,
    })
}

/// A candidate from the command line: a config file (TOML, YAML or JSON; one
/// breaker's config, or a service map whose defaults are taken).
pub fn from_file(path: &Path, index: usize, seed: u64) -> Result<Candidate, String> {
    let p = path.display().to_string();
    let body = std::fs::read_to_string(path).map_err(|e| format!("{p}: cannot read: {e}"))?;
    let resolved = Layers::new()
        .document(&body, Format::detect(path, &body), &p)
        .resolve()
        .map_err(|e| e.to_string())?;
    let mut config = resolved.defaults.config;
    let seed_derived = config.seed.is_none();
    if seed_derived {
        config.seed = Some(derived_seed(seed, index));
    }
    Ok(Candidate {
        name: file_stem(&p),
        source: format!("file {p}"),
        config,
        seed_derived,
    })
}

/// Fails when two candidates share a name (reports would be ambiguous).
pub fn check_unique_names(c: &[Candidate], file: &str) -> Result<(), FileError> {
    for (i, a) in c.iter().enumerate() {
        if c[..i].iter().any(|b| b.name == a.name) {
            return Err(FileError::at_line(
                file,
                None,
                &format!("candidate[{i}].name"),
                format!(
                    "two candidates are named {:?}; give each a distinct `name`",
                    a.name
                ),
            ));
        }
    }
    Ok(())
}

/// Makes names unique by suffixing `-2`, `-3`... (for command-line candidates).
pub fn dedupe_names(c: &mut [Candidate]) {
    for i in 0..c.len() {
        let mut n = 2;
        let base = c[i].name.clone();
        while c[..i].iter().any(|b| b.name == c[i].name) {
            c[i].name = format!("{base}-{n}");
            n += 1;
        }
    }
}
