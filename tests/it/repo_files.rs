//! Files beside the code that must agree with it: the compose file (no Docker engine runs here,
//! so its structure is checked) and the README's generated tables.

use serde_yaml::Value;

fn compose() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml"))
        .unwrap();
    serde_yaml::from_str(&text).expect("docker-compose.yml is valid YAML")
}

#[test]
fn compose_runs_every_part_from_the_dockerfile() {
    let c = compose();
    let services = c["services"].as_mapping().expect("services");
    for name in [
        "postgres", "redis", "migrate", "sandbox", "api", "worker-1", "worker-2",
    ] {
        assert!(services.contains_key(name), "service {name} missing");
    }
    let subcommand = |svc: &str| {
        c["services"][svc]["command"][0]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(subcommand("api"), "api");
    assert_eq!(subcommand("sandbox"), "sandbox");
    assert_eq!(subcommand("migrate"), "migrate");
    for svc in ["api", "worker-1", "worker-2", "sandbox", "migrate"] {
        assert_eq!(
            c["services"][svc]["build"].as_str(),
            Some("."),
            "{svc} builds from the Dockerfile"
        );
        let env = &c["services"][svc]["environment"];
        assert!(
            env["DATABASE_URL"].as_str().unwrap().contains("@postgres:"),
            "{svc} reaches postgres by service name"
        );
        assert!(env["REDIS_URL"].as_str().unwrap().contains("redis:6379"));
    }
    for svc in ["worker-1", "worker-2"] {
        assert_eq!(subcommand(svc), "worker");
        assert!(c["services"][svc]["depends_on"]["redis"].is_mapping());
    }
    let dockerfile =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    assert!(dockerfile.contains("ENTRYPOINT [\"orderdesk\"]"));
    assert!(dockerfile.contains("workflows.toml"));
    // cargo refuses to build a workspace whose members are missing from the image
    let manifest: toml::Value = toml::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap(),
    )
    .unwrap();
    let members = manifest["workspace"]["members"]
        .as_array()
        .expect("members");
    assert!(!members.is_empty());
    for m in members.iter().filter_map(|m| m.as_str()) {
        assert!(
            dockerfile.contains(&format!("COPY {m} ./{m}")),
            "the Dockerfile copies workspace member {m}"
        );
    }
}

#[test]
fn readme_roles_table_is_the_one_in_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- roles:begin -->\n")
        .expect("roles:begin marker")
        + "<!-- roles:begin -->\n".len();
    let end = readme.find("<!-- roles:end -->").expect("roles:end marker");
    let in_readme = readme[start..end].trim();
    let generated = orderdesk::auth::permissions_markdown();
    assert_eq!(
        in_readme,
        generated.trim(),
        "README's roles table is stale; paste permissions_markdown() between the markers"
    );
}
