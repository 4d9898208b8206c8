//! A failing exports store is told in a job's problem as a fixed sentence: the store's own
//! error (a local path, an endpoint, a response body) goes to the log, not to the admins
//! reading the job nor to a customer polling their erasure.

use serde_json::{Value, json};

use crate::helpers::{self, Options, TENANT};

#[tokio::test]
async fn a_store_that_cannot_be_written_fails_the_export_without_its_path() {
    // the store's directory would be made under a file: it never can be
    let base = std::env::temp_dir().join(format!("od-unwritable-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&base).unwrap();
    std::fs::write(base.join("blocker"), b"a file, not a directory").unwrap();
    let store = base.join("blocker").join("exports");
    let app = helpers::spawn_with(Options {
        extra_env: vec![(
            "ORDERDESK_EXPORTS_STORE".into(),
            format!("file://{}", store.display()),
        )],
        ..Default::default()
    })
    .await;
    let finance = app.agent_token(TENANT, "agt_finance", &["finance"]);
    let (status, accepted) = app
        .admin_post(
            &finance,
            "/v1/admin/orders/exports",
            None,
            None,
            json!({"format": "csv"}),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let job = app
        .wait_job(accepted["job"]["id"].as_str().unwrap(), 60)
        .await;
    assert!(
        matches!(job["status"].as_str(), Some("failed" | "compensated")),
        "{job}"
    );
    let error = &job["error"];
    assert_eq!(error["code"], "export.storage_failed", "{job}");
    let detail = error["detail"].as_str().unwrap();
    assert!(!detail.is_empty());
    let leaks = |v: &Value| v.to_string().contains("od-unwritable");
    assert!(!leaks(error), "{error}");
    let plan = &job["steps"][0];
    assert!(!leaks(&plan["last_error"]), "{plan}");
    let _ = std::fs::remove_dir_all(&base);
}
