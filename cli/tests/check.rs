//! `tripgate check` on config files of every shape and format.

use std::path::PathBuf;
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn check(path: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tripgate"))
        .arg("check")
        .arg(path)
        .output()
        .expect("tripgate runs")
}

#[test]
fn a_service_map_with_five_mistakes_lists_all_five_in_line_order() {
    let path = data("ops_five_mistakes.yaml");
    let o = check(&path);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let file = path.display().to_string();
    assert!(err.contains(&format!("{file}: 5 errors")), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    let expected = [
        (4, "minimum_calls", "1..="),
        (9, "failure_rate_threshold", "0.0 < t <= 1.0"),
        (12, "success_threshold", "1..=4095"),
        // Only in the development overlay: every environment is checked.
        (18, "open.jitter", "0.0..=1.0"),
        (21, "histogram_precision", "2..=7"),
    ];
    assert_eq!(lines.len(), expected.len(), "{err}");
    for (line, (n, field, allowed)) in lines.iter().zip(expected) {
        assert!(
            line.contains(&format!("{file}:{n}:"))
                && line.contains(&format!("field `{field}`"))
                && line.contains(allowed),
            "{field} at line {n}: {line}"
        );
    }
}

#[test]
fn json_and_yaml_service_maps_print_every_service() {
    let o = check(&data("ops_services.json"));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("[services.database]"), "{out}");
    assert!(out.contains("critical = true"), "{out}");
    // The alias raised the open duration's cap with it.
    assert!(out.contains("duration = \"10m\""), "{out}");
    assert!(out.contains("max_duration = \"10m\""), "{out}");
}

#[test]
fn duplicate_keys_are_refused_with_their_line() {
    let dir = std::env::temp_dir().join(format!("tripgate-cli-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body, line) in [
        (
            "dup.json",
            "{\"minimum_calls\": 5,\n \"minimum_calls\": 6}",
            2,
        ),
        (
            "dup.yaml",
            "minimum_calls: 5\nseed: 1\nminimum_calls: 6\n",
            3,
        ),
        ("dup.toml", "minimum_calls = 5\nminimum_calls = 6\n", 2),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        let o = check(&path);
        assert!(!o.status.success(), "{name}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("{}:{line}:", path.display())) && err.contains("duplicate key"),
            "{name}: {err}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
