//! The tenant's capabilities, the caller's quota, and the connectors (probed health and an
//! order's re-sync as a run).

use serde_json::json;

use crate::helpers::{self, OTHER_TENANT, TENANT};

#[tokio::test]
async fn connectors_report_their_health_without_naming_a_host() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let ops = app.agent_token(TENANT, "agt_ops", &["cs_agent"]);
    let (status, list) = app
        .get("/v1/admin/connectors", app.auth(&ops, TENANT))
        .await;
    assert_eq!(status, 200, "{list}");
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 8);
    for c in data {
        assert_eq!(c["health"], "up", "{c}");
        assert!(c["latency_ms"].as_u64().is_some(), "{c}");
        assert_eq!(c["resync"], c["id"] == "orders", "{c}");
    }
    let text = list.to_string();
    assert!(
        !text.contains("127.0.0.1") && !text.contains("http"),
        "{text}"
    );
    let auditor = app.agent_token(TENANT, "agt_a", &["auditor"]);
    let (status, _) = app
        .get("/v1/admin/connectors", app.auth(&auditor, TENANT))
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn the_orders_connector_resyncs_an_order_as_a_run() {
    let app = helpers::spawn().await;
    let finance = app.agent_token(TENANT, "agt_fin", &["finance"]);
    let order = app.order_in("confirmed").id.to_string();
    let body = json!({"order_id": order});
    let path = "/v1/admin/connectors/orders/run";

    // the read model drifts from the Orders service; the re-sync brings it back
    sqlx::query(
        "UPDATE order_views SET doc = jsonb_set(doc, '{version}', '0'), version = 0 WHERE id = $1",
    )
    .bind(&order)
    .execute(&app.state.db)
    .await
    .unwrap();
    let (status, body_) = app
        .admin_post(&finance, path, None, None, body.clone())
        .await;
    assert_eq!(
        (status, body_["code"].as_str()),
        (400, Some("idempotency.key_required"))
    );
    let (status, run) = app
        .admin_post(&finance, path, Some("s-1"), None, body.clone())
        .await;
    assert_eq!(status, 202, "{run}");
    let job = app.wait_job(run["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let version: i64 = sqlx::query_scalar("SELECT version FROM order_views WHERE id = $1")
        .bind(&order)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(
        version > 0,
        "the read model holds the Orders service's version again"
    );
    let (status, replay) = app
        .admin_post(&finance, path, Some("s-1"), None, body.clone())
        .await;
    assert_eq!((status, &replay["job"]["id"]), (202, &run["job"]["id"]));

    let (status, b) = app
        .admin_post(
            &finance,
            "/v1/admin/connectors/payments/run",
            Some("s-2"),
            None,
            body.clone(),
        )
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (422, Some("connector.resync_unsupported"))
    );
    let (status, _) = app
        .admin_post(
            &finance,
            "/v1/admin/connectors/mainframe/run",
            Some("s-3"),
            None,
            body.clone(),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .admin_post(
            &finance,
            path,
            Some("s-4"),
            None,
            json!({"order_id": "ord_nope", "also": 1}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .admin_post(
            &finance,
            path,
            Some("s-5"),
            None,
            json!({"order_id": "ord_999999"}),
        )
        .await;
    assert_eq!(status, 404);
    let foreign = app.agent_token(OTHER_TENANT, "agt_x", &["admin"]);
    let mut h = app.auth(&foreign, OTHER_TENANT);
    h.insert("idempotency-key", "s-6".parse().unwrap());
    let res = app.post(path, h, &body).await;
    assert_eq!(res.status(), 404);
    let cs = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, b) = app.admin_post(&cs, path, Some("s-7"), None, body).await;
    assert_eq!(
        (status, b["required_permission"].as_str()),
        (403, Some("reconcile"))
    );
}

#[tokio::test]
async fn an_agent_reads_the_tenants_capabilities_and_its_own_quota() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let agent = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, caps) = app
        .get("/v1/admin/capabilities", app.auth(&agent, TENANT))
        .await;
    assert_eq!(status, 200, "{caps}");
    assert_eq!(caps["customer"]["returns_enabled"], true);
    assert_eq!(caps["approvals_required_for"], json!([]));
    assert_eq!(caps["impersonation_available"], true);
    let (status, first) = app
        .get("/v1/admin/rate-limits", app.auth(&agent, TENANT))
        .await;
    assert_eq!(status, 200, "{first}");
    let (_, second) = app
        .get("/v1/admin/rate-limits", app.auth(&agent, TENANT))
        .await;
    assert_eq!(first["limit"], 1200);
    assert!(
        second["remaining"].as_u64() < first["remaining"].as_u64(),
        "each request counts: {first} {second}"
    );
    let (status, _) = app.get("/v1/admin/rate-limits", Default::default()).await;
    assert_eq!(status, 401);
}
