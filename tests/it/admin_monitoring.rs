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
        let resyncs = c["id"] == "orders" || c["id"] == "fulfillment";
        assert_eq!(c["resync"], resyncs, "{c}");
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

/// The read model's shipments of `order` (tracking numbers), its version and its derived
/// fulfilment status.
async fn read_model_shipments(app: &helpers::TestApp, order: &str) -> (Vec<String>, i64, String) {
    let (tracking, version, status): (serde_json::Value, i64, String) = sqlx::query_as(
        "SELECT tracking_numbers, version, fulfillment_status FROM order_views
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(TENANT)
    .bind(order)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    let tracking = serde_json::from_value(tracking).unwrap();
    (tracking, version, status)
}

#[tokio::test]
async fn the_fulfillment_connector_resyncs_an_orders_shipments_as_a_run() {
    let app = helpers::spawn().await;
    let finance = app.agent_token(TENANT, "agt_fin", &["finance"]);
    let order = app.order_in("shipped").clone();
    let id = order.id.to_string();
    let expected: Vec<String> = order
        .shipments
        .iter()
        .map(|s| s.tracking_number.clone())
        .collect();
    assert!(!expected.is_empty(), "a shipped order has shipments");
    let (before, version, _) = read_model_shipments(&app, &id).await;
    assert_eq!(before, expected);

    // the read model lost the order's shipments; the Fulfillment service still has them
    sqlx::query(
        "UPDATE order_views SET doc = jsonb_set(doc, '{shipments}', '[]') WHERE tenant_id = $1 AND id = $2",
    )
    .bind(TENANT)
    .bind(&id)
    .execute(&app.state.db)
    .await
    .unwrap();
    let (drifted, _, status) = read_model_shipments(&app, &id).await;
    assert_eq!((drifted.len(), status.as_str()), (0, "unfulfilled"));

    let path = "/v1/admin/connectors/fulfillment/run";
    let body = json!({"order_id": id});
    let (status, run) = app
        .admin_post(&finance, path, Some("fs-1"), None, body.clone())
        .await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(
        (run["connector"].as_str(), run["job"]["kind"].as_str()),
        (Some("fulfillment"), Some("resync_fulfillment"))
    );
    let job = app.wait_job(run["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let (after, after_version, status) = read_model_shipments(&app, &id).await;
    assert_eq!(after, expected, "the shipments are back");
    assert_ne!(status, "unfulfilled");
    assert_eq!(
        after_version, version,
        "the order's version is the Orders service's"
    );
    let (_, view) = app
        .get(
            &format!("/v1/admin/orders/{id}"),
            app.auth(&finance, TENANT),
        )
        .await;
    assert_eq!(
        view["order"]["shipments"][0]["tracking_number"],
        expected[0].as_str()
    );
    let (status, replay) = app
        .admin_post(&finance, path, Some("fs-1"), None, body.clone())
        .await;
    assert_eq!((status, &replay["job"]["id"]), (202, &run["job"]["id"]));
    let (status, reused) = app
        .admin_post(
            &finance,
            path,
            Some("fs-1"),
            None,
            json!({"order_id": "ord_000001"}),
        )
        .await;
    assert_eq!(
        (status, reused["code"].as_str()),
        (422, Some("idempotency.key_reused"))
    );
    let (status, bad) = app
        .admin_post(&finance, path, Some("fs-2"), None, json!({"order": id}))
        .await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (422, Some("validation.failed"))
    );
    let res = app
        .http
        .post(format!("{}{path}", app.api))
        .header("x-tenant-id", TENANT)
        .header("idempotency-key", "fs-3")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let foreign = app.agent_token(OTHER_TENANT, "agt_x", &["admin"]);
    let mut h = app.auth(&foreign, OTHER_TENANT);
    h.insert("idempotency-key", "fs-4".parse().unwrap());
    let res = app.post(path, h, &body).await;
    assert_eq!(res.status(), 404, "another tenant's order");
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
    assert_eq!(
        caps["refund_approval_threshold_minor"],
        serde_json::Value::Null
    );
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

#[tokio::test]
async fn order_metrics_count_the_period_by_day() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let finance = app.agent_token(TENANT, "agt_fin", &["finance"]);
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Duration::days(365);
    let path = format!("/v1/admin/metrics/orders?from={from}&to={today}");
    let (status, m) = app.get(&path, app.auth(&finance, TENANT)).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["days"].as_array().unwrap().len(), 366);
    let start = from.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let in_range: Vec<_> = app.orders.iter().filter(|o| o.placed_at >= start).collect();
    let placed: i64 = m["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["orders_placed"].as_i64().unwrap())
        .sum();
    // the other tenant's orders (seeded too) are not among them
    assert_eq!(placed, in_range.len() as i64);
    assert_eq!(m["totals"]["orders_placed"], placed);
    let cancelled = in_range
        .iter()
        .filter(|o| o.status.as_str() == "cancelled")
        .count() as i64;
    assert_eq!(m["totals"]["orders_cancelled"], cancelled);
    if placed > 0 {
        let rate = m["totals"]["cancellation_rate"].as_f64().unwrap();
        assert!((rate - cancelled as f64 / placed as f64).abs() < 1e-9);
    }
    let (status, d) = app
        .get("/v1/admin/metrics/orders", app.auth(&finance, TENANT))
        .await;
    assert_eq!(
        (status, d["days"].as_array().map(Vec::len)),
        (200, Some(30))
    );
    for bad in [
        "from=2026-02-01&to=2026-01-01",
        "from=2020-01-01&to=2026-01-01",
        "from=yesterday",
    ] {
        let (status, body) = app
            .get(
                &format!("/v1/admin/metrics/orders?{bad}"),
                app.auth(&finance, TENANT),
            )
            .await;
        assert!(status == 422 || status == 400, "{bad}: {status} {body}");
    }
    // days chrono reads but no date arithmetic or PostgreSQL can take: 422, not a panic or 500
    for bad in [
        "from=-5000-01-01&to=-5000-01-02",
        "to=-262143-01-01",
        "from=-262143-01-01&to=-262143-01-01",
        "to=%2B20000-01-01",
        "from=1969-12-31&to=1970-01-01",
    ] {
        let (status, body) = app
            .get(
                &format!("/v1/admin/metrics/orders?{bad}"),
                app.auth(&finance, TENANT),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("validation.failed")),
            "{bad}: {body}"
        );
    }
}

#[tokio::test]
async fn alerts_name_what_needs_attention() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let ops = app.agent_token(TENANT, "agt_ops", &["cs_agent"]);
    let (status, quiet) = app.get("/v1/admin/alerts", app.auth(&ops, TENANT)).await;
    assert_eq!(status, 200, "{quiet}");
    assert!(
        !quiet["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "holds.overdue"),
        "{quiet}"
    );
    // a hold past its expiry that nothing released (no worker runs here)
    let order = app.order_in("confirmed").id.to_string();
    sqlx::query(
        "INSERT INTO order_holds (tenant_id, id, order_id, reason, placed_by, expires_at, place_run_id)
         VALUES ($1, gen_random_uuid(), $2, 'check', 'agent:agt_x', now() - interval '10 minutes', gen_random_uuid())",
    )
    .bind(TENANT)
    .bind(&order)
    .execute(&app.state.db)
    .await
    .unwrap();
    let (_, loud) = app.get("/v1/admin/alerts", app.auth(&ops, TENANT)).await;
    let overdue = loud["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "holds.overdue")
        .unwrap_or_else(|| panic!("{loud}"));
    assert_eq!(overdue["count"], 1);
    assert!(overdue["oldest_at"].is_string());
    let foreign = app.agent_token(OTHER_TENANT, "agt_x", &["admin"]);
    let (_, other) = app
        .get("/v1/admin/alerts", app.auth(&foreign, OTHER_TENANT))
        .await;
    assert!(!other.to_string().contains("holds.overdue"), "{other}");
    let auditor = app.agent_token(TENANT, "agt_a", &["auditor"]);
    let (status, _) = app
        .get("/v1/admin/alerts", app.auth(&auditor, TENANT))
        .await;
    assert_eq!(status, 403);
    for path in [
        "/v1/admin/alerts",
        "/v1/admin/metrics/orders",
        "/v1/admin/connectors",
    ] {
        let (status, _) = app.get(path, Default::default()).await;
        assert_eq!(status, 401, "{path} without a token");
        let (status, _) = app.get(path, app.auth("not-a-token", TENANT)).await;
        assert_eq!(status, 401, "{path} with a wrong token");
    }
}
