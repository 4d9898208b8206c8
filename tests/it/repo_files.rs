//! Files beside the code that must agree with it: the compose file and `.dockerignore` (no
//! Docker engine runs here, so their structure is checked) and the README's generated tables.

use serde_yaml::Value;

fn compose() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml"))
        .unwrap();
    let mut value: Value = serde_yaml::from_str(&text).expect("docker-compose.yml is valid YAML");
    value.apply_merge().expect("its `<<` merge keys resolve");
    value
}

#[test]
fn compose_runs_every_part_from_the_dockerfile() {
    let c = compose();
    let services = c["services"].as_mapping().expect("services");
    for name in [
        "postgres", "redis", "migrate", "seed", "sandbox", "api", "worker-1", "worker-2",
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
    assert_eq!(subcommand("seed"), "seed");
    for svc in ["api", "worker-1", "worker-2", "sandbox", "migrate", "seed"] {
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
    // no database is reachable while the image builds: the checked SQL needs its offline data
    for dir in [".sqlx", ".cargo"] {
        assert!(
            dockerfile.contains(&format!("COPY {dir} ./{dir}")),
            "the Dockerfile copies {dir}"
        );
    }
}

/// Every build reads the checked SQL's offline data (`.sqlx/`, written by
/// `scripts/sqlx-prepare`), so none needs a database.
#[test]
fn builds_check_sql_offline() {
    let root = env!("CARGO_MANIFEST_DIR");
    let config: toml::Value =
        toml::from_str(&std::fs::read_to_string(format!("{root}/.cargo/config.toml")).unwrap())
            .unwrap();
    assert_eq!(config["env"]["SQLX_OFFLINE"].as_str(), Some("true"));
    let queries = std::fs::read_dir(format!("{root}/.sqlx"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("query-") && name.ends_with(".json")
        })
        .count();
    assert!(queries > 0, ".sqlx/ holds the queries' descriptions");
}

/// Every long-running service has a healthcheck, and orderdesk's run `orderdesk healthcheck`
/// (the image has no curl) at a URL the process serves; commands are in exec form, so
/// SIGTERM reaches the process, which gets a grace period to stop cleanly.
#[test]
fn compose_checks_health_and_stops_gracefully() {
    let c = compose();
    for svc in [
        "postgres", "redis", "sandbox", "api", "worker-1", "worker-2",
    ] {
        let check = &c["services"][svc]["healthcheck"];
        let test: Vec<&str> = check["test"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{svc} has a healthcheck in exec form"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(test[0], "CMD", "{svc}: exec form, no shell");
        assert!(
            check["interval"].is_string() && check["retries"].is_u64(),
            "{svc}"
        );
        if svc == "postgres" || svc == "redis" {
            continue;
        }
        assert_eq!(&test[1..3], ["orderdesk", "healthcheck"], "{svc}");
        let url = test.iter().position(|a| *a == "--url").map(|i| test[i + 1]);
        let expected = match svc {
            "api" => None, // the default: the api's health endpoint
            "sandbox" => Some("http://127.0.0.1:8081/sandbox/health"),
            _ => Some("http://127.0.0.1:9464/health"), // the metrics listener's
        };
        assert_eq!(url, expected, "{svc}");
        assert!(c["services"][svc]["stop_grace_period"].is_string(), "{svc}");
        assert!(
            c["services"][svc]["command"].is_sequence(),
            "{svc}: exec form"
        );
    }
    assert_eq!(
        orderdesk::config::DEFAULT_METRICS_ADDR,
        "127.0.0.1:9464",
        "the workers' healthcheck URL follows the metrics listener's default"
    );
    let ignore =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.dockerignore")).unwrap();
    for entry in ["target/", ".git/"] {
        assert!(
            ignore.lines().any(|l| l == entry),
            ".dockerignore lacks {entry}"
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

/// Every `.rs` file below `dir` (relative to the crate), with its text.
fn rust_files(dir: &str) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    out
}

/// Handlers hold an `UpstreamReader`; the client that changes canonical state is reached
/// through `AppState::worker_ctx`, which is public because the worker processes live outside
/// `api/`. This keeps it out of `api/`: a change to canonical state there must be a workflow.
#[test]
fn handlers_never_reach_the_mutating_upstream_client() {
    let files = rust_files("src/api");
    assert!(files.len() > 20, "src/api was read");
    for (path, text) in files {
        for forbidden in [
            "worker_ctx",
            "workflow_upstream",
            "upstream::Upstream;",
            "Upstream::new",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} names `{forbidden}`: handlers reach upstream services only through \
                 UpstreamReader",
                path.display()
            );
        }
    }
}
