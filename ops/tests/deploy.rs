//! The deployment files agree with the code: the ConfigMap's tripgate config loads, in
//! every environment, with the Deployment's environment variables.

use std::path::PathBuf;
use tripgate_ops::file::Format;
use tripgate_ops::{EnvVars, Settings};

fn deploy(path: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn the_configmap_holds_a_valid_tripgate_config() {
    let cm: serde_yaml_ng::Value = serde_yaml_ng::from_str(&deploy("k8s/configmap.yaml")).unwrap();
    let text = cm["data"]["tripgate.yaml"]
        .as_str()
        .expect("data.tripgate.yaml");
    let dep: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&deploy("k8s/deployment.yaml")).unwrap();
    let env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        });
    let vars = EnvVars::from_pairs(env);
    for environment in ["development", "staging", "production"] {
        let s = Settings::parse(
            text,
            Format::Yaml,
            "configmap.yaml",
            Some(environment),
            &vars,
        )
        .unwrap_or_else(|e| panic!("{environment}: {e}"));
        for name in ["database", "external_api", "redis"] {
            assert!(s.services.contains_key(name), "{name}");
        }
        assert!(s.spec("database").critical);
        assert_eq!(s.spec("redis").config.open.duration.as_secs(), 15);
    }
}
