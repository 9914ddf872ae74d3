//! Tests of document parsing and layering.

use super::*;
use std::time::Duration;

fn resolve_doc(text: &str, format: Format) -> Result<Resolved, Problems> {
    Layers::new().document(text, format, "doc").resolve()
}

const FIVE_MISTAKES_TOML: &str = r#"
[defaults]
minimum_calls = 0
failure_rate_threshold = 1.5

[services.db]
open = { duration = "5s", jitter = 2.0 }
histogram_precision = 9
window = { kind = "count", size = 10, buckets = 3 }
"#;

const FIVE_MISTAKES_YAML: &str = "
defaults:
  minimum_calls: 0
  failure_rate_threshold: 1.5
services:
  db:
    open:
      duration: 5s
      jitter: 2.0
    histogram_precision: 9
    window: {kind: count, size: 10, buckets: 3}
";

const FIVE_MISTAKES_JSON: &str = r#"{
  "defaults": {
    "minimum_calls": 0,
    "failure_rate_threshold": 1.5
  },
  "services": {
    "db": {
      "open": {"duration": "5s",
               "jitter": 2.0},
      "histogram_precision": 9,
      "window": {"kind": "count", "size": 10, "buckets": 3}
    }
  }
}"#;

#[test]
fn a_document_with_five_mistakes_reports_all_five_in_line_order() {
    for (text, format, lines) in [
        (FIVE_MISTAKES_TOML, Format::Toml, [3, 4, 7, 8, 9]),
        (FIVE_MISTAKES_YAML, Format::Yaml, [3, 4, 9, 10, 11]),
        (FIVE_MISTAKES_JSON, Format::Json, [3, 4, 9, 10, 11]),
    ] {
        let e = resolve_doc(text, format).unwrap_err();
        let got: Vec<(usize, &str)> = e
            .problems
            .iter()
            .map(|p| (p.location.expect("placed").line, p.field.as_str()))
            .collect();
        let fields = [
            "minimum_calls",
            "failure_rate_threshold",
            "open.jitter",
            "histogram_precision",
            "window",
        ];
        assert_eq!(
            got,
            lines.iter().copied().zip(fields).collect::<Vec<_>>(),
            "{format:?}:\n{e}"
        );
        let text = e.to_string();
        assert_eq!(text.lines().count(), 5, "{text}");
        for needle in [
            "doc:3:",
            "invalid minimum_calls = 0: allowed 1..=",
            "invalid failure_rate_threshold = 1.5: allowed 0.0 < t <= 1.0",
            "invalid open.jitter = 2: allowed 0.0..=1.0",
            "invalid histogram_precision = 9: allowed 2..=7",
            "invalid window.buckets = 3: allowed a divisor of window.size (10)",
        ] {
            assert!(text.contains(needle), "{format:?}: {needle} in\n{text}");
        }
        assert!(
            !format!("{e:?}").contains("Problem {"),
            "Debug prints the message"
        );
    }
}

#[test]
fn duplicate_keys_are_refused_in_every_format_with_their_line() {
    let toml = "minimum_calls = 5\nseed = 1\nminimum_calls = 6\n";
    let yaml = "minimum_calls: 5\nopen:\n  duration: 1s\n  duration: 2s\nminimum_calls: 6\n";
    let json = "{\"minimum_calls\": 5,\n \"open\": {\"jitter\": 0.1,\n \"jitter\": 0.2},\n \"minimum_calls\": 6}";
    let e = resolve_doc(toml, Format::Toml).unwrap_err();
    assert_eq!(e.problems[0].location.map(|l| l.line), Some(3), "{e}");
    assert!(e.to_string().contains("duplicate key"), "{e}");
    let e = resolve_doc(yaml, Format::Yaml).unwrap_err();
    let found: Vec<(usize, &str)> = e
        .problems
        .iter()
        .map(|p| (p.location.unwrap().line, p.field.as_str()))
        .collect();
    assert_eq!(found, [(4, "open.duration"), (5, "minimum_calls")], "{e}");
    let e = resolve_doc(json, Format::Json).unwrap_err();
    let found: Vec<(usize, &str)> = e
        .problems
        .iter()
        .map(|p| (p.location.unwrap().line, p.field.as_str()))
        .collect();
    assert_eq!(found, [(3, "open.jitter"), (4, "minimum_calls")], "{e}");
}

#[test]
fn yaml_nan_and_inf_are_reported_as_such() {
    let e = resolve_doc(
        "failure_rate_threshold: .nan\nslow_call_rate_threshold: .inf\n",
        Format::Yaml,
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("invalid failure_rate_threshold = NaN: allowed 0.0 < t <= 1.0"),
        "{text}"
    );
    assert!(
        text.contains("invalid slow_call_rate_threshold = inf: allowed 0.0 < t <= 1.0"),
        "{text}"
    );
    assert!(!text.contains("null"), "{text}");
}

#[cfg(unix)]
#[test]
fn non_utf8_variables_are_skipped_unless_they_are_tripgates() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let bad = || OsString::from_vec(vec![b'x', 0xff]);
    let unrelated = Layers::new()
        .env_vars([(bad(), bad()), (OsString::from("HOME"), bad())])
        .env_vars([("TRIPGATE_DEFAULTS_MINIMUM_CALLS", "3")])
        .resolve()
        .unwrap();
    assert_eq!(unrelated.defaults.config.minimum_calls, 3);
    let e = Layers::new()
        .env_vars([(OsString::from("TRIPGATE_DEFAULTS_SEED"), bad())])
        .resolve()
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("env TRIPGATE_DEFAULTS_SEED: the value is not valid UTF-8"),
        "{e}"
    );
    let mut name = b"TRIPGATE_DB_".to_vec();
    name.push(0xff);
    let e = Layers::new()
        .env_vars([(OsString::from_vec(name), OsString::from("1"))])
        .resolve()
        .unwrap_err();
    assert!(e.to_string().starts_with("env TRIPGATE_DB_"), "{e}");
}

#[test]
fn numeric_variables_are_read_exactly_as_the_field_needs() {
    // 2^53 + 1: not an f64.
    let r = Layers::new()
        .env_vars([
            ("TRIPGATE_DEFAULTS_SEED", "9007199254740993"),
            ("TRIPGATE_DEFAULTS_FAILURE_RATE_THRESHOLD", "0.25"),
            ("TRIPGATE_DEFAULTS_CONSECUTIVE_FAILURES", "none"),
            ("UNRELATED", "x"),
        ])
        .resolve()
        .unwrap();
    assert_eq!(r.defaults.config.seed, Some(9_007_199_254_740_993));
    assert_eq!(r.defaults.config.failure_rate_threshold, Some(0.25));
    let e = Layers::new()
        .env_vars([("TRIPGATE_DEFAULTS_SEED", "1.5")])
        .resolve()
        .unwrap_err();
    assert_eq!(e.problems[0].source, "env TRIPGATE_DEFAULTS_SEED");
    assert_eq!(e.problems[0].field, "seed");
}

#[test]
fn aliases_and_the_open_duration_rule() {
    let r = resolve_doc(
        "fail_max = 4\nreset_timeout = 600\nminimum_requests = 7\nfailure_threshold = 0.4\n",
        Format::Toml,
    )
    .unwrap();
    let c = &r.defaults.config;
    assert_eq!(c.consecutive_failures, Some(4));
    assert_eq!(c.failure_rate_threshold, Some(0.4));
    assert_eq!(c.minimum_calls, 7);
    assert_eq!(c.open.duration, Duration::from_secs(600));
    assert_eq!(c.open.max_duration, Duration::from_secs(600), "cap raised");
    // Directly, too; an explicit cap in the same layer is kept (and checked).
    let r = resolve_doc("[open]\nduration = \"10m\"\n", Format::Toml).unwrap();
    assert_eq!(
        r.defaults.config.open.max_duration,
        Duration::from_secs(600)
    );
    let e = resolve_doc(
        "[open]\nduration = \"10m\"\nmax_duration = \"1m\"\n",
        Format::Toml,
    )
    .unwrap_err();
    assert_eq!(e.problems[0].field, "open.max_duration", "{e}");
    // An alias's mistake names the alias as written.
    let e = resolve_doc("success_threshold = 0\n", Format::Toml).unwrap_err();
    assert_eq!(e.problems[0].field, "success_threshold");
    assert!(e.to_string().contains("1..=4095"), "{e}");
}

#[test]
fn layers_apply_in_order() {
    let doc = r#"
environment = "production"
[defaults]
minimum_calls = 8
[services.api]
open = { duration = "20s" }
[environments.development.defaults]
minimum_calls = 2
[environments.production.services.api]
open = { duration = "40s" }
"#;
    let layers = || Layers::new().document(doc, Format::Toml, "doc");
    let r = layers().resolve().unwrap();
    assert_eq!(r.environment.as_deref(), Some("production"));
    assert_eq!(
        r.services["api"].config.open.duration,
        Duration::from_secs(40)
    );
    let r = layers()
        .env_vars([("TRIPGATE_ENV", "development")])
        .resolve()
        .unwrap();
    assert_eq!(r.defaults.config.minimum_calls, 2);
    assert_eq!(
        r.services["api"].config.open.duration,
        Duration::from_secs(20)
    );
    let r = layers()
        .environment(Some("development"))
        .env_vars([("TRIPGATE_API_OPEN__DURATION", "7s")])
        .option("minimum_calls", 9u32)
        .resolve()
        .unwrap();
    assert_eq!(
        r.services["api"].config.open.duration,
        Duration::from_secs(7)
    );
    assert_eq!(r.services["api"].config.minimum_calls, 9);
    // A tier resets what came before it; the base tier is where every service starts.
    let r = Layers::new()
        .tier(Tier::Critical)
        .document(
            "[services.x]\nminimum_calls = 3\n[services.y]\ntier = \"non_critical\"\n",
            Format::Toml,
            "d",
        )
        .resolve()
        .unwrap();
    assert_eq!(r.services["x"].config.failure_rate_threshold, Some(0.3));
    assert_eq!(r.services["x"].tier, Tier::Critical);
    assert_eq!(r.services["y"].config, Config::non_critical());
}

#[test]
fn a_variable_naming_an_unknown_service_is_reported() {
    let layers = || {
        Layers::new()
            .document("[services.database]\n", Format::Toml, "doc")
            .env_vars([("TRIPGATE_DATABSE_MINIMUM_CALLS", "4")])
    };
    let r = layers().resolve().unwrap();
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0]
            .to_string()
            .contains("no service's name matches DATABSE"),
        "{}",
        r.warnings[0]
    );
    let e = layers().strict(true).resolve().unwrap_err();
    assert_eq!(e.problems[0].source, "env TRIPGATE_DATABSE_MINIMUM_CALLS");
}

#[test]
fn locations_count_lines_and_columns_from_one() {
    let text = "ab\ncdé\nf";
    assert_eq!(Location::of(text, 0), Location { line: 1, column: 1 });
    assert_eq!(Location::of(text, 4), Location { line: 2, column: 2 });
    // Inside a character: back to its start; past the end: the end.
    assert_eq!(Location::of(text, 6), Location { line: 2, column: 3 });
    assert_eq!(Location::of(text, 99), Location { line: 3, column: 2 });
}

#[derive(Debug, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct FleetSection {
    url: String,
    heartbeat: String,
    #[serde(default)]
    quorum: Option<u32>,
}

const WITH_FLEET: &str = r#"
[defaults]
minimum_calls = 8

[fleet]
url = "redis://127.0.0.1:6379/0"
heartbeat = "1s"

[environments.prod.fleet]
heartbeat = "2s"
quorum = 3
"#;

#[test]
fn a_declared_section_is_handed_on_with_its_environment_overlay_laid_over() {
    let layers = || {
        Layers::new()
            .document(WITH_FLEET, Format::Toml, "doc")
            .section("fleet")
    };
    let plain = layers().resolve().unwrap();
    let fleet: FleetSection = plain.sections["fleet"].deserialize().unwrap();
    assert_eq!(fleet.heartbeat, "1s");
    assert_eq!(fleet.quorum, None);
    assert_eq!(plain.defaults.config.minimum_calls, 8);

    let prod = layers().environment(Some("prod")).resolve().unwrap();
    let fleet: FleetSection = prod.sections["fleet"].deserialize().unwrap();
    assert_eq!(
        fleet,
        FleetSection {
            url: "redis://127.0.0.1:6379/0".into(),
            heartbeat: "2s".into(),
            quorum: Some(3),
        }
    );
}

#[test]
fn an_undeclared_section_is_an_unknown_key_and_a_declared_one_is_listed_as_allowed() {
    let err = resolve_doc(WITH_FLEET, Format::Toml).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("doc:5:2: field fleet: unknown top-level key"),
        "{text}"
    );
    assert!(
        text.contains("field environments.prod.fleet: unknown key"),
        "{text}"
    );

    let doc = "[defaults]\nminimum_calls = 8\n[fleat]\nurl = \"x\"\n";
    let err = Layers::new()
        .document(doc, Format::Toml, "doc")
        .section("fleet")
        .resolve()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("allowed environment, defaults, services, environments, fleet"),
        "{err}"
    );
}

#[test]
fn a_section_reports_its_mistakes_at_the_field_and_never_prints_its_values() {
    let doc = "[fleet]\nurl = \"redis://user:hunter2@db\"\nheartbeat = 5\n";
    let resolved = Layers::new()
        .document(doc, Format::Toml, "doc")
        .section("fleet")
        .resolve()
        .unwrap();
    let section = &resolved.sections["fleet"];
    let problem = section.deserialize::<FleetSection>().unwrap_err();
    assert_eq!(problem.field, "fleet");
    assert!(problem.message.contains("expected a string"), "{problem}");
    let at_field = section.problem("heartbeat", "too short");
    assert_eq!(
        at_field.to_string(),
        "doc:3:13: field fleet.heartbeat: too short"
    );
    assert!(section.has("url") && !section.has("quorum"));
    assert!(!format!("{resolved:?}").contains("hunter2"));
}
