//! No Docker engine runs here, so the compose file's structure is checked instead.

use serde_yaml::Value;

fn compose() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml")).unwrap();
    serde_yaml::from_str(&text).expect("docker-compose.yml is valid YAML")
}

#[test]
fn compose_runs_every_part_from_the_dockerfile() {
    let c = compose();
    let services = c["services"].as_mapping().expect("services");
    for name in ["postgres", "redis", "migrate", "sandbox", "api", "worker-1", "worker-2"] {
        assert!(services.contains_key(name), "service {name} missing");
    }
    let subcommand = |svc: &str| c["services"][svc]["command"][0].as_str().unwrap_or_default().to_string();
    assert_eq!(subcommand("api"), "api");
    assert_eq!(subcommand("sandbox"), "sandbox");
    assert_eq!(subcommand("migrate"), "migrate");
    for svc in ["api", "worker-1", "worker-2", "sandbox", "migrate"] {
        assert_eq!(c["services"][svc]["build"].as_str(), Some("."), "{svc} builds from the Dockerfile");
        let env = &c["services"][svc]["environment"];
        assert!(env["DATABASE_URL"].as_str().unwrap().contains("@postgres:"), "{svc} reaches postgres by service name");
        assert!(env["REDIS_URL"].as_str().unwrap().contains("redis:6379"));
    }
    for svc in ["worker-1", "worker-2"] {
        assert_eq!(subcommand(svc), "worker");
        assert!(c["services"][svc]["depends_on"]["redis"].is_mapping());
    }
    let dockerfile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    assert!(dockerfile.contains("ENTRYPOINT [\"orderdesk\"]"));
    assert!(dockerfile.contains("workflows.toml"));
}
