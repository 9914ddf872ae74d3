mod common;

use std::time::Duration;
use tripgate::{Config, Tier, WindowConfig};
use tripgate_ops::file::Format;
use tripgate_ops::{EnvVars, Settings};

const TOML: &str = r#"
environment = "production"

[defaults]
tier = "standard"
minimum_calls = 8

[services.database]
tier = "critical"
critical = true
consecutive_failures = 5
open = { duration = "30s", max_duration = "5m" }

[services.external_api]
failure_threshold = 3
recovery_timeout_seconds = 60
timeout_seconds = 5
success_threshold = 2
window = { kind = "count", size = 50 }

[services.cache]
tier = "non_critical"
failure_threshold = 0.8

[environments.development.defaults]
minimum_calls = 2

[environments.development.services.database]
open = { duration = "5s" }

[environments.production.services.database]
open = { duration = "60s" }
"#;

const YAML: &str = r#"
environment: production
defaults:
  tier: standard
  minimum_calls: 8
services:
  database:
    tier: critical
    critical: true
    consecutive_failures: 5
    open:
      duration: 30s
      max_duration: 5m
  external_api:
    failure_threshold: 3
    recovery_timeout_seconds: 60
    timeout_seconds: 5
    success_threshold: 2
    window:
      kind: count
      size: 50
  cache:
    tier: non_critical
    failure_threshold: 0.8
environments:
  development:
    defaults:
      minimum_calls: 2
    services:
      database:
        open:
          duration: 5s
  production:
    services:
      database:
        open:
          duration: 60s
"#;

fn parse(text: &str, f: Format, env: Option<&str>, vars: &EnvVars) -> Settings {
    Settings::parse(text, f, "tripgate.conf", env, vars).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn yaml_and_toml_give_the_same_config() {
    let t = parse(TOML, Format::Toml, None, &EnvVars::empty());
    let y = parse(YAML, Format::Yaml, None, &EnvVars::empty());
    assert_eq!(t, y);
    for env in ["development", "staging", "production"] {
        assert_eq!(
            parse(TOML, Format::Toml, Some(env), &EnvVars::empty()),
            parse(YAML, Format::Yaml, Some(env), &EnvVars::empty())
        );
    }
    // Same through files, with the format taken from the extension.
    let dir = common::temp_dir("formats");
    std::fs::write(dir.join("a.toml"), TOML).unwrap();
    std::fs::write(dir.join("a.yaml"), YAML).unwrap();
    let a = Settings::load(dir.join("a.toml"), None, &EnvVars::empty()).unwrap();
    let b = Settings::load(dir.join("a.yaml"), None, &EnvVars::empty()).unwrap();
    assert_eq!(a.services, b.services);
    assert_eq!(a.defaults, b.defaults);
}

#[test]
fn tiers_defaults_services_and_seed_keys() {
    let s = parse(TOML, Format::Toml, None, &EnvVars::empty());
    assert_eq!(s.environment.as_deref(), Some("production"));
    // Defaults: standard preset, then minimum_calls.
    let mut expect = Config::standard();
    expect.minimum_calls = 8;
    assert_eq!(s.defaults.config, expect);
    // database: tier critical resets to the preset, then its own fields, then the
    // production overlay.
    let db = s.spec("database");
    assert_eq!(db.tier, Tier::Critical);
    assert!(db.critical);
    assert_eq!(
        db.config.minimum_calls, 20,
        "the tier preset wins over defaults"
    );
    assert_eq!(db.config.failure_rate_threshold, Some(0.3));
    assert_eq!(db.config.consecutive_failures, Some(5));
    assert_eq!(db.config.open.duration, Duration::from_secs(60));
    // external_api: the familiar aliases.
    let api = &s.spec("external_api").config;
    assert_eq!(api.consecutive_failures, Some(3));
    assert_eq!(api.open.duration, Duration::from_secs(60));
    assert_eq!(api.slow_call_duration, Duration::from_secs(5));
    assert_eq!(api.half_open.success_threshold, 2);
    assert_eq!(api.minimum_calls, 8, "no tier: the defaults apply");
    assert_eq!(
        api.window,
        WindowConfig::Count {
            size: 50,
            buckets: None
        }
    );
    // cache: a fractional failure_threshold is a failure rate.
    let cache = &s.spec("cache").config;
    assert_eq!(cache.failure_rate_threshold, Some(0.8));
    assert_eq!(cache.minimum_calls, 5);
    // An unnamed service gets the defaults; names match by token.
    assert_eq!(s.spec("inventory").config, expect);
    assert_eq!(s.spec("external-api").config, *api);
}

#[test]
fn environment_overlays() {
    let dev = parse(TOML, Format::Toml, Some("development"), &EnvVars::empty());
    assert_eq!(dev.environment.as_deref(), Some("development"));
    assert_eq!(dev.defaults.config.minimum_calls, 2);
    assert_eq!(dev.spec("external_api").config.minimum_calls, 2);
    assert_eq!(
        dev.spec("database").config.open.duration,
        Duration::from_secs(5)
    );
    // The tier in services.database still resets below the overlay's defaults.
    assert_eq!(dev.spec("database").config.minimum_calls, 20);
    let staging = parse(TOML, Format::Toml, Some("staging"), &EnvVars::empty());
    assert_eq!(
        staging.spec("database").config.open.duration,
        Duration::from_secs(30)
    );
    // TRIPGATE_ENV picks the overlay when none is passed; an explicit one wins.
    let vars = EnvVars::from_pairs([("TRIPGATE_ENV", "development")]);
    assert_eq!(
        parse(TOML, Format::Toml, None, &vars)
            .defaults
            .config
            .minimum_calls,
        2
    );
    let prod = parse(TOML, Format::Toml, Some("production"), &vars);
    assert_eq!(prod.defaults.config.minimum_calls, 8);
}

#[test]
fn environment_variables_override_any_field() {
    let vars = EnvVars::from_pairs([
        ("TRIPGATE_INVENTORY_MINIMUM_CALLS", "42"),
        ("TRIPGATE_DATABASE_OPEN__DURATION", "90s"),
        ("TRIPGATE_EXTERNAL_API_FAILURE_RATE_THRESHOLD", "0.25"),
        ("TRIPGATE_EXTERNAL_API_CONSECUTIVE_FAILURES", "none"),
        ("TRIPGATE_DEFAULTS_TRACK_IN_FLIGHT", "true"),
        ("TRIPGATE_CACHE_CRITICAL", "true"),
        ("TRIPGATE_CACHE_TIER", "critical"),
        ("TRIPGATE_ENV", "development"),
        ("UNRELATED", "1"),
    ]);
    let s = parse(TOML, Format::Toml, None, &vars);
    // inventory is named only by a variable: defaults (development) + the override.
    let inv = s.spec("inventory");
    assert_eq!(inv.config.minimum_calls, 42);
    assert!(inv.config.track_in_flight);
    assert_eq!(
        s.spec("database").config.open.duration,
        Duration::from_secs(90)
    );
    let api = &s.spec("external_api").config;
    assert_eq!(api.failure_rate_threshold, Some(0.25));
    assert_eq!(api.consecutive_failures, None);
    assert!(s.spec("external_api").config.track_in_flight);
    // database names a tier: the preset resets what the defaults set, variables included.
    assert!(!s.spec("database").config.track_in_flight);
    let cache = s.spec("cache");
    assert!(cache.critical);
    assert_eq!(cache.tier, Tier::Critical);
    assert_eq!(cache.config.failure_rate_threshold, Some(0.3));
}

#[test]
fn the_circuit_breaker_variables_set_the_defaults() {
    let vars = EnvVars::from_pairs([
        ("CIRCUIT_BREAKER_FAILURE_THRESHOLD", "5"),
        ("CIRCUIT_BREAKER_RECOVERY_TIMEOUT_SECONDS", "600"),
        ("CIRCUIT_BREAKER_TIMEOUT_SECONDS", "10"),
        ("CIRCUIT_BREAKER_SUCCESS_THRESHOLD", "3"),
    ]);
    let s = Settings::from_env(&vars).unwrap();
    let c = &s.defaults.config;
    assert_eq!(c.consecutive_failures, Some(5));
    assert_eq!(c.open.duration, Duration::from_secs(600));
    assert!(
        c.open.max_duration >= c.open.duration,
        "max raised to match"
    );
    assert_eq!(c.slow_call_duration, Duration::from_secs(10));
    assert_eq!(c.half_open.success_threshold, 3);
    // A service's own setting beats the defaults' variable.
    let s = parse(TOML, Format::Toml, None, &vars);
    assert_eq!(s.spec("external_api").config.consecutive_failures, Some(3));
    assert_eq!(s.spec("inventory").config.consecutive_failures, Some(5));
}

#[test]
fn errors_name_the_file_the_service_the_field_and_the_range() {
    let bad = TOML.replace(
        "consecutive_failures = 5",
        "consecutive_failures = 5\nminimum_calls = 0",
    );
    let e = Settings::parse(
        &bad,
        Format::Toml,
        "/etc/tripgate/tripgate.toml",
        None,
        &EnvVars::empty(),
    )
    .unwrap_err();
    let p = &e.problems[0];
    assert_eq!(p.source, "/etc/tripgate/tripgate.toml");
    assert_eq!(p.service.as_deref(), Some("database"));
    assert_eq!(p.field, "minimum_calls");
    let text = e.to_string();
    assert!(
        text.contains(
            "/etc/tripgate/tripgate.toml:12:1: service \"database\": field minimum_calls"
        ),
        "{text}"
    );
    assert!(text.contains("1..="), "{text}");

    // Every problem at once.
    let bad = YAML
        .replace("tier: non_critical", "tier: nope")
        .replace("success_threshold: 2", "success_threshold: 0");
    let e = Settings::parse(&bad, Format::Yaml, "cm.yaml", None, &EnvVars::empty()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("service \"cache\": field tier")
            && text.contains("critical, standard, non_critical"),
        "{text}"
    );
    assert!(
        text.contains("service \"external_api\": field success_threshold")
            && text.contains("1..=4095"),
        "{text}"
    );

    // A misspelt field is named with its path.
    let bad = TOML.replace("open = { duration = \"30s\"", "open = { duraton = \"30s\"");
    let e = Settings::parse(&bad, Format::Toml, "f.toml", None, &EnvVars::empty()).unwrap_err();
    assert_eq!(e.problems[0].field, "open.duraton");
    assert!(e.to_string().contains("unknown field `duraton`"), "{e}");

    // A bad variable is named as the source.
    let vars = EnvVars::from_pairs([("TRIPGATE_DATABASE_OPEN__DURATION", "0s")]);
    let e = Settings::parse(TOML, Format::Toml, "f.toml", None, &vars).unwrap_err();
    assert_eq!(e.problems[0].source, "env TRIPGATE_DATABASE_OPEN__DURATION");
    assert_eq!(e.problems[0].field, "open.duration");

    // Syntax errors carry line and column; unknown top-level keys are refused.
    let e = Settings::parse(
        "defaults = [",
        Format::Toml,
        "f.toml",
        None,
        &EnvVars::empty(),
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("f.toml:1:") && e.to_string().contains("invalid TOML"),
        "{e}"
    );
    let e = Settings::parse(
        "servics: {}",
        Format::Yaml,
        "f.yaml",
        None,
        &EnvVars::empty(),
    )
    .unwrap_err();
    assert_eq!(e.problems[0].field, "servics");
}

#[test]
fn a_configmap_with_the_familiar_aliases_loads_as_is() {
    let configmap = r#"
services:
  database:
    failure_threshold: 5
    recovery_timeout_seconds: 30
    timeout_seconds: 10
    success_threshold: 3
  external_api:
    failure_threshold: 3
    recovery_timeout_seconds: 60
    timeout_seconds: 5
    success_threshold: 2
  redis:
    failure_threshold: 10
    recovery_timeout_seconds: 15
    timeout_seconds: 2
    success_threshold: 5
"#;
    let s = Settings::parse(
        configmap,
        Format::Yaml,
        "circuit-breaker.yaml",
        None,
        &EnvVars::empty(),
    )
    .unwrap();
    assert_eq!(s.services.len(), 3);
    assert_eq!(s.spec("redis").config.consecutive_failures, Some(10));
    assert_eq!(
        s.spec("redis").config.open.duration,
        Duration::from_secs(15)
    );
}

#[test]
fn a_file_with_five_mistakes_reports_all_five_in_one_load() {
    let bad = TOML
        .replace("minimum_calls = 8", "minimum_calls = 0")
        .replace("consecutive_failures = 5", "consecutive_failures = 0")
        .replace("success_threshold = 2", "success_threshold = 0")
        .replace("failure_threshold = 0.8", "failure_threshold = 1.5")
        .replace(
            "open = { duration = \"60s\" }",
            "open = { duration = \"60s\", jitter = 3.0 }",
        );
    let dir = common::temp_dir("five");
    let path = dir.join("tripgate.toml");
    std::fs::write(&path, &bad).unwrap();
    let e = Settings::load(&path, None, &EnvVars::empty()).unwrap_err();
    let found: Vec<(usize, &str)> = e
        .problems
        .iter()
        .map(|p| (p.location.expect("placed").line, p.field.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (6, "minimum_calls"),
            (11, "consecutive_failures"),
            (18, "success_threshold"),
            (23, "failure_threshold"),
            (32, "open.jitter"),
        ],
        "{e}"
    );
    let text = e.to_string();
    assert_eq!(text.lines().count(), 5, "{text}");
    let file = path.display().to_string();
    assert!(text.starts_with(&format!("{file}:6:")), "{text}");
    assert!(text.contains("allowed 0.0..=1.0"), "{text}");
    // A main returning the error prints the same lines, not the structure.
    assert_eq!(format!("{e:?}"), text);
}

#[test]
fn json_files_load_like_toml_and_duplicate_keys_are_refused() {
    let json = r#"{"defaults": {"tier": "standard", "minimum_calls": 8},
 "services": {"database": {"tier": "critical", "critical": true}}}"#;
    let s = Settings::parse(json, Format::Json, "t.json", None, &EnvVars::empty()).unwrap();
    assert!(s.spec("database").critical);
    assert_eq!(s.defaults.config.minimum_calls, 8);
    let yaml = "services:\n  database:\n    minimum_calls: 3\n    minimum_calls: 4\n";
    let e = Settings::parse(yaml, Format::Yaml, "t.yaml", None, &EnvVars::empty()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("t.yaml:4:5: field services.database.minimum_calls: duplicate key"),
        "{e}"
    );
}

#[test]
fn a_variable_naming_an_unknown_service_warns_or_is_refused_when_strict() {
    let vars = EnvVars::from_pairs([("TRIPGATE_DATABSE_MINIMUM_CALLS", "4")]);
    let s = parse(TOML, Format::Toml, None, &vars);
    // Applied to a service of that name, and logged.
    assert_eq!(s.spec("databse").config.minimum_calls, 4);
    assert_eq!(s.spec("database").config.minimum_calls, 20);
    let e = Settings::parse(TOML, Format::Toml, "f.toml", None, &vars.strict(true)).unwrap_err();
    assert_eq!(e.problems[0].source, "env TRIPGATE_DATABSE_MINIMUM_CALLS");
    assert!(
        e.to_string().contains("no service's name matches DATABSE"),
        "{e}"
    );
}
