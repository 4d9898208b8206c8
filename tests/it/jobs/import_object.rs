//! `POST /v1/admin/orders/import` from a pointer to an object of the tenant's in the
//! exports store (`{"source": {"object": key}}` → `{tenant}/imports/{key}`).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

const PATH: &str = "/v1/admin/orders/import";

/// A test app whose exports store is a directory of its own.
async fn spawn() -> (TestApp, PathBuf) {
    let dir = std::env::temp_dir().join(format!("od-imports-{}", uuid::Uuid::new_v4().simple()));
    let app = helpers::spawn_with(helpers::Options {
        extra_env: vec![(
            "ORDERDESK_EXPORTS_STORE".into(),
            format!("file://{}", dir.display()),
        )],
        ..Default::default()
    })
    .await;
    (app, dir)
}

/// Writes `content` as `tenant`'s import object `key`.
fn put(dir: &Path, tenant: &str, key: &str, content: &[u8]) {
    let path = dir.join(tenant).join("imports").join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// POSTs `body` with `content_type` as `token` of `tenant`.
async fn post(
    app: &TestApp,
    token: &str,
    tenant: &str,
    query: &str,
    key: Option<&str>,
    content_type: &str,
    body: String,
) -> (u16, Value) {
    let mut h = app.auth(token, tenant);
    h.insert("content-type", content_type.parse().unwrap());
    if let Some(k) = key {
        h.insert("idempotency-key", k.parse().unwrap());
    }
    let res = app
        .http
        .post(format!("{}{PATH}{query}", app.api))
        .headers(h)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Imports the object `object` as `token` of `tenant`.
async fn import_object(
    app: &TestApp,
    token: &str,
    tenant: &str,
    query: &str,
    key: Option<&str>,
    object: &str,
) -> (u16, Value) {
    let body = json!({"source": {"object": object}}).to_string();
    post(app, token, tenant, query, key, "application/json", body).await
}

fn line(order: &str, action: &str) -> String {
    json!({"order_id": order, "action": action, "reason": "inventory recount"}).to_string()
}

fn code(out: &Value) -> Option<&str> {
    out["code"].as_str()
}

/// A dry run of an object names each bad line by number (blank lines counted), as a body's
/// does, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_import_dry_run_reports_each_bad_line_by_number() {
    let (app, dir) = spawn().await;
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let confirmed = app.order_in("confirmed").id.to_string();
    let content = [
        line(&confirmed, "hold"),
        String::new(),
        "{not json".into(),
        line("ord_nope", "hold"),
        line(&confirmed, "close"),
    ]
    .join("\n");
    put(&dir, TENANT, "2026/fixes.ndjson", content.as_bytes());
    let (status, out) = import_object(
        &app,
        &lead,
        TENANT,
        "?dry_run=true",
        None,
        "2026/fixes.ndjson",
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        (out["lines"].as_u64(), out["valid"].as_u64()),
        (Some(4), Some(1)),
        "{out}"
    );
    let errors: Vec<(u64, &str)> = out["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [
            (3, "import.invalid_line"),
            (4, "order.not_found"),
            (5, "import.duplicate_order"),
        ],
        "{out}"
    );
    let (status, p) = import_object(&app, &lead, TENANT, "", None, "2026/fixes.ndjson").await;
    assert_eq!(
        (status, code(&p)),
        (422, Some("import.invalid_lines")),
        "{p}"
    );
    let view = app.admin_view(&confirmed).await;
    assert_eq!(view["order"]["status"], "confirmed", "nothing was applied");
}

/// A good object becomes a job whose items are its lines and whose input names the object;
/// the replay under the same key answers the same job, and the same key after the object
/// changed is refused rather than replayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_import_applies_each_line_and_records_its_source() {
    let (app, dir) = spawn().await;
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let confirmed = app.order_in("confirmed").id.to_string();
    let shipped = app.order_in("shipped").id.to_string();
    let content = format!("{}\n{}\n", line(&confirmed, "hold"), line(&shipped, "hold"));
    put(&dir, TENANT, "holds.ndjson", content.as_bytes());
    let (status, job) = import_object(&app, &lead, TENANT, "", Some("obj-1"), "holds.ndjson").await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["kind"], "import_orders");
    let id = job["id"].as_str().unwrap();
    let ended = app.wait_job(id, 60).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert_eq!(ended["result"]["items"]["succeeded"], 1, "{ended}");
    assert_eq!(ended["result"]["items"]["skipped"], 1, "{ended}");
    assert_eq!(
        app.admin_view(&confirmed).await["order"]["status"],
        "on_hold"
    );
    let input: Value = sqlx::query_scalar("SELECT input FROM runs WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        input["source"],
        json!({"object": "holds.ndjson"}),
        "{input}"
    );
    assert_eq!(input["lines"], 2, "{input}");

    let (again, replay) =
        import_object(&app, &lead, TENANT, "", Some("obj-1"), "holds.ndjson").await;
    assert_eq!((again, &replay["id"]), (202, &job["id"]), "{replay}");
    put(
        &dir,
        TENANT,
        "holds.ndjson",
        line(&shipped, "hold").as_bytes(),
    );
    let (status, p) = import_object(&app, &lead, TENANT, "", Some("obj-1"), "holds.ndjson").await;
    assert_eq!(
        (status, code(&p)),
        (422, Some("idempotency.key_reused")),
        "{p}"
    );
}

/// Keys that would leave the tenant's prefix, missing objects (another tenant's included),
/// an object past the size limit, a wrong content type, and who may call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_import_refuses_what_it_must() {
    let (app, dir) = spawn().await;
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let confirmed = app.order_in("confirmed").id.to_string();
    put(
        &dir,
        TENANT,
        "mine.ndjson",
        line(&confirmed, "hold").as_bytes(),
    );
    put(
        &dir,
        OTHER_TENANT,
        "theirs.ndjson",
        line("ord_000001_g", "hold").as_bytes(),
    );

    let other_prefix = format!("../../{OTHER_TENANT}/imports/theirs.ndjson");
    for bad in ["../x", "/abs", "a//b", "a\\b", other_prefix.as_str(), ""] {
        let (status, p) = import_object(&app, &lead, TENANT, "?dry_run=true", None, bad).await;
        assert_eq!(
            (status, code(&p)),
            (422, Some("validation.failed")),
            "{bad}: {p}"
        );
        assert_eq!(p["errors"][0]["field"], "source.object", "{p}");
    }
    let long = "k".repeat(513);
    let (status, p) = import_object(&app, &lead, TENANT, "?dry_run=true", None, &long).await;
    assert_eq!((status, code(&p)), (422, Some("validation.failed")), "{p}");
    for missing in ["nope.ndjson", "theirs.ndjson"] {
        let (status, p) = import_object(&app, &lead, TENANT, "?dry_run=true", None, missing).await;
        assert_eq!(
            (status, code(&p)),
            (422, Some("import.object_not_found")),
            "{missing}: {p}"
        );
        assert!(
            !p["detail"]
                .as_str()
                .unwrap()
                .contains(&dir.display().to_string()),
            "{p}"
        );
    }
    // the other tenant's own admin reaches it under its own prefix
    let other = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
    let (status, p) = import_object(
        &app,
        &other,
        OTHER_TENANT,
        "?dry_run=true",
        None,
        "theirs.ndjson",
    )
    .await;
    assert_eq!((status, p["lines"].as_u64()), (200, Some(1)), "{p}");

    let big = format!("{}\n", line(&confirmed, "hold")).repeat(8 * 1024 * 1024 / 60 + 1);
    assert!(big.len() > 8 * 1024 * 1024);
    put(&dir, TENANT, "big.ndjson", big.as_bytes());
    let (status, p) = import_object(&app, &lead, TENANT, "?dry_run=true", None, "big.ndjson").await;
    assert_eq!(
        (status, code(&p)),
        (422, Some("import.object_too_large")),
        "{p}"
    );

    let pointer = json!({"source": {"object": "mine.ndjson"}}).to_string();
    let (status, p) = post(
        &app,
        &lead,
        TENANT,
        "?dry_run=true",
        None,
        "text/plain",
        pointer.clone(),
    )
    .await;
    assert_eq!(
        (status, code(&p)),
        (415, Some("request.content_type")),
        "{p}"
    );
    let unknown = json!({"source": {"object": "mine.ndjson", "bucket": "x"}}).to_string();
    let (status, p) = post(
        &app,
        &lead,
        TENANT,
        "?dry_run=true",
        None,
        "application/json",
        unknown,
    )
    .await;
    assert_eq!((status, code(&p)), (422, Some("validation.failed")), "{p}");

    let agent = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, _) = import_object(&app, &agent, TENANT, "", None, "mine.ndjson").await;
    assert_eq!(status, 403);
    let (status, _) = import_object(&app, "", TENANT, "", None, "mine.ndjson").await;
    assert_eq!(status, 401);
    assert_eq!(
        app.admin_view(&confirmed).await["order"]["status"],
        "confirmed",
        "nothing was applied"
    );
}

/// A store that cannot be opened is a 503 that names no path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_import_from_a_broken_store_is_unavailable() {
    let app = helpers::spawn_with(helpers::Options {
        extra_env: vec![(
            "ORDERDESK_EXPORTS_STORE".into(),
            "file:///proc/orderdesk-no-such-store".into(),
        )],
        ..Default::default()
    })
    .await;
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let (status, p) = import_object(&app, &lead, TENANT, "?dry_run=true", None, "x.ndjson").await;
    assert_eq!(
        (status, code(&p)),
        (503, Some("import.storage_unavailable")),
        "{p}"
    );
    assert!(!p.to_string().contains("/proc"), "{p}");
}
