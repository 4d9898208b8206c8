//! `POST /v1/admin/orders/import`: NDJSON order corrections.

use serde_json::{Value, json};

use crate::helpers::{OTHER_TENANT, TENANT, TestApp, spawn};

const PATH: &str = "/v1/admin/orders/import";

async fn import(
    app: &TestApp,
    token: &str,
    tenant: &str,
    query: &str,
    key: Option<&str>,
    body: String,
) -> (u16, Value) {
    import_with_sudo(app, token, tenant, None, query, key, body).await
}

/// POSTs the NDJSON `body` as `token`, with a sudo token and an `Idempotency-Key` when given.
pub(super) async fn import_with_sudo(
    app: &TestApp,
    token: &str,
    tenant: &str,
    sudo: Option<&str>,
    query: &str,
    key: Option<&str>,
    body: String,
) -> (u16, Value) {
    let mut h = app.auth(token, tenant);
    h.insert("content-type", "application/x-ndjson".parse().unwrap());
    if let Some(k) = key {
        h.insert("idempotency-key", k.parse().unwrap());
    }
    if let Some(s) = sudo {
        h.insert("x-admin-auth-sudo", s.parse().unwrap());
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

fn line(order: &str, action: &str) -> String {
    json!({"order_id": order, "action": action, "reason": "inventory recount"}).to_string()
}

/// A dry run names each bad line by number and changes nothing; the same body for real is
/// refused whole with the same list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_dry_run_reports_each_bad_line_by_number() {
    let app = spawn().await;
    let token = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let confirmed = app.order_in("confirmed").id.to_string();
    let body = [
        line(&confirmed, "hold"),
        String::new(),
        "{not json".into(),
        line("ord_nope", "hold"),
        line(&confirmed, "close"),
        line(&confirmed, "legal_hold"),
        json!({"order_id": confirmed, "action": "hold", "reason": "x", "colour": 1}).to_string(),
        line("ord_000001_g", "hold"),
    ]
    .join("\n");
    let (status, out) = import(&app, &token, TENANT, "?dry_run=true", None, body.clone()).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        (out["lines"].as_u64(), out["valid"].as_u64()),
        (Some(7), Some(1)),
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
            (6, "bulk.unsupported_action"),
            (7, "import.invalid_line"),
            (8, "order.not_found"),
        ],
        "{out}"
    );
    let (status, p) = import(&app, &token, TENANT, "", None, body).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("import.invalid_lines")),
        "{p}"
    );
    assert_eq!(p["errors"].as_array().unwrap().len(), 6);
    let view = app.admin_view(&confirmed).await;
    assert_eq!(view["order"]["status"], "confirmed", "nothing was applied");
}

/// A good import becomes a job whose items are its lines; a line whose change does not
/// apply is skipped with its code; the replay answers the same job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_applies_each_line_as_an_item() {
    let app = spawn().await;
    let token = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let confirmed = app.order_in("confirmed").id.to_string();
    let shipped = app.order_in("shipped").id.to_string();
    let body = format!("{}\n{}\n", line(&confirmed, "hold"), line(&shipped, "hold"));
    let (status, job) = import(&app, &token, TENANT, "", Some("imp-1"), body.clone()).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["kind"], "import_orders");
    let id = job["id"].as_str().unwrap();
    let ended = app.wait_job(id, 60).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert_eq!(ended["result"]["items"]["succeeded"], 1, "{ended}");
    assert_eq!(ended["result"]["items"]["skipped"], 1, "{ended}");
    let (_, items) = app
        .get(
            &format!("/v1/admin/jobs/{id}/items?status=skipped"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(items["data"][0]["subject_id"], shipped.as_str(), "{items}");
    assert_eq!(
        items["data"][0]["code"], "order.blocked.already_shipped",
        "{items}"
    );
    assert_eq!(
        app.admin_view(&confirmed).await["order"]["status"],
        "on_hold"
    );
    let (again, replay) = import(&app, &token, TENANT, "", Some("imp-1"), body).await;
    assert_eq!((again, &replay["id"]), (202, &job["id"]));
}

/// Limits, permissions and tenants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_refuses_what_it_must() {
    let app = spawn().await;
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let confirmed = app.order_in("confirmed").id.to_string();
    let long =
        json!({"order_id": confirmed, "action": "hold", "reason": "x".repeat(5000)}).to_string();
    let (status, p) = import(&app, &lead, TENANT, "?dry_run=true", None, long).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("import.line_too_long")),
        "{p}"
    );
    let agent = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, _) = import(
        &app,
        &agent,
        TENANT,
        "?dry_run=true",
        None,
        line(&confirmed, "hold"),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = import(
        &app,
        "",
        TENANT,
        "?dry_run=true",
        None,
        line(&confirmed, "hold"),
    )
    .await;
    assert_eq!(status, 401);
    // another tenant's admin cannot name this tenant's orders
    let other = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
    let (status, out) = import(
        &app,
        &other,
        OTHER_TENANT,
        "?dry_run=true",
        None,
        line(&confirmed, "hold"),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["errors"][0]["code"], "order.not_found", "{out}");
    // one line more than allowed (the whole body is read before the answer)
    let big = format!("{}\n", line(&confirmed, "hold")).repeat(10_001);
    let (status, p) = import(&app, &lead, TENANT, "?dry_run=true", None, big).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("import.too_many_lines")),
        "{p}"
    );
}
