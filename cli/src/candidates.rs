//! Candidate breaker configs: a tier preset and/or inline overrides of any
//! [`tripgate::Config`] field, or a config file (TOML or JSON) plus overrides.
//!
//! Overrides are merged field by field into the base config (nested tables such as
//! `open` merge key by key; a `window` with a different `kind` replaces the window),
//! then parsed and validated by the engine's own `Config` rules.

use crate::location::{find_key_line, line_col, FileError};
use crate::rng::splitmix64;
use std::collections::BTreeMap;
use std::path::Path;
use tripgate::{Config, Tier};

/// A `[[candidate]]` table as written, each value with its place in the file.
pub type RawCandidate = BTreeMap<String, toml::Spanned<toml::Value>>;

/// The top-level fields of [`tripgate::Config`], the keys a candidate may override.
pub const CONFIG_FIELDS: &[&str] = tripgate::Config::FIELDS;

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

fn merge(base: &mut toml::Value, over: &toml::Value, key: &str) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            let kind_changes =
                key == "window" && o.get("kind").is_some_and(|k| Some(k) != b.get("kind"));
            if kind_changes {
                *b = o.clone();
                return;
            }
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(slot) => merge(slot, v, k),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn de_config(table: &toml::Table) -> Result<Config, String> {
    toml::Value::Table(table.clone())
        .try_into::<Config>()
        .map_err(|e| e.message().trim_end().to_string())
}

/// Resolves the `index`th `[[candidate]]` of a scenario file.
pub fn resolve(
    raw: &RawCandidate,
    index: usize,
    scenario_seed: u64,
    file: &str,
    text: &str,
    dir: &Path,
) -> Result<Candidate, FileError> {
    let table = format!("candidate[{index}]");
    let line_of = |v: &toml::Spanned<toml::Value>| line_col(text, v.span().start).0;
    let err_at = |key: &str, v: &toml::Spanned<toml::Value>, msg: String| {
        FileError::at_line(file, Some(line_of(v)), &format!("{table}.{key}"), msg)
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
    let base = match (&tier, &path) {
        (Some(_), Some(_)) => {
            return Err(err_at(
                "config",
                &raw["config"],
                "give either `tier` or `config`, not both (overrides go beside either)".into(),
            ))
        }
        (Some(t), None) => {
            sources.push(format!("tier {}", t.name()));
            Config::preset(*t)
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
            Config::from_str_auto(&body).map_err(|e| {
                err_at(
                    "config",
                    &raw["config"],
                    format!("in {}: {e}", full.display()),
                )
            })?
        }
        (None, None) => {
            sources.push("defaults (standard tier)".to_string());
            Config::default()
        }
    };
    let mut merged = match toml::Value::try_from(&base) {
        Ok(toml::Value::Table(t)) => t,
        _ => unreachable!("a Config serializes to a table"),
    };
    let mut overrides: Vec<(&String, &toml::Spanned<toml::Value>)> = raw
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "name" | "tier" | "config"))
        .collect();
    overrides.sort_by_key(|(_, v)| v.span().start);
    for (key, value) in &overrides {
        if !CONFIG_FIELDS.contains(&key.as_str()) {
            return Err(err_at(key, value, format!(
                "unknown field `{key}`: a candidate takes name, tier, config, or a tripgate config field ({})",
                CONFIG_FIELDS.join(", ")
            )));
        }
        match merged.get_mut(key.as_str()) {
            Some(slot) => merge(slot, value.get_ref(), key),
            None => {
                merged.insert(key.to_string(), value.get_ref().clone());
            }
        }
        de_config(&merged).map_err(|m| err_at(key, value, m))?;
    }
    if !overrides.is_empty() {
        sources.push(format!(
            "{} override{}",
            overrides.len(),
            if overrides.len() == 1 { "" } else { "s" }
        ));
    }
    let mut config = de_config(&merged).map_err(|m| FileError::at_line(file, None, &table, m))?;
    let errors = config.validate_all();
    if !errors.is_empty() {
        let line_for = |field: &str| {
            let top = field.split('.').next().unwrap_or(field);
            raw.get(top)
                .map(line_of)
                .or_else(|| find_key_line(text, &table, top))
        };
        let first = errors[0].field().to_string();
        let list: Vec<String> = errors
            .iter()
            .map(|e| match line_for(e.field()) {
                Some(l) => format!("{e} (line {l})"),
                None => e.to_string(),
            })
            .collect();
        return Err(FileError::at_line(
            file,
            line_for(&first),
            &format!("{table}.{first}"),
            format!("candidate config is invalid:\n  {}", list.join("\n  ")),
        ));
    }
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

/// A candidate from the command line: a config file (TOML or JSON).
pub fn from_file(path: &Path, index: usize, seed: u64) -> Result<Candidate, String> {
    let body = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let mut config =
        Config::from_str_auto(&body).map_err(|e| format!("{}: {e}", path.display()))?;
    let seed_derived = config.seed.is_none();
    if seed_derived {
        config.seed = Some(derived_seed(seed, index));
    }
    let p = path.display().to_string();
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
