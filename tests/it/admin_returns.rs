//! Agents reviewing returns: the read with its live inspection history, approve and inspect
//! as jobs at the sandbox's Returns API, the refund or credit an inspection proposes, what
//! the customer sees of it, every refusal (state, body, token, role, tenant), and the
//! sandbox Returns API's own rules (approve once, inspect after approval, restock once).

use orderdesk::domain::order::{Order, OrderStatus};
use orderdesk::domain::settings::TenantSettings;
use orderdesk::seed;
use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, Options, TENANT, TestApp};

const NOTES: &str = "scuffed corner, box intact";

pub(crate) async fn spawn() -> TestApp {
    helpers::spawn_with(Options {
        // demo orders were delivered in early 2026: a long window keeps them returnable
        settings: TenantSettings {
            return_window_days: 3650,
            ..seed::demo_settings()
        },
        ..Default::default()
    })
    .await
}

pub(crate) fn delivered(app: &TestApp) -> Order {
    app.orders
        .iter()
        .find(|o| o.status == OrderStatus::Delivered && o.lines[0].qty >= 2)
        .or_else(|| {
            app.orders
                .iter()
                .find(|o| o.status == OrderStatus::Delivered)
        })
        .expect("a delivered order")
        .clone()
}

/// A customer's return of `qty` units of `order`'s first line, once its RMA exists.
pub(crate) async fn returned(app: &TestApp, order: &Order, qty: i32) -> String {
    let token = app.customer_token(TENANT, &order.customer_id);
    let mut h = app.auth(&token, TENANT);
    h.insert("idempotency-key", "k-return".parse().unwrap());
    let body = json!({
        "lines": [{"line_id": order.lines[0].id, "qty": qty, "reason": "damaged", "comment": "cracked"}],
        "preferred_refund": "card",
        "method": "dropoff",
    });
    let path = format!("/v1/customer/orders/{}/return-request", order.id);
    let res = app.post(&path, h, &body).await;
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().await.unwrap();
    let job = app
        .wait_job(accepted["job"]["id"].as_str().unwrap(), 20)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    accepted["rma_id"].as_str().unwrap().to_string()
}

pub(crate) async fn review(
    app: &TestApp,
    token: &str,
    rma: &str,
    action: &str,
    key: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let path = format!("/v1/admin/returns/{rma}/{action}");
    app.admin_post(token, &path, key, None, body).await
}

async fn admin_get(app: &TestApp, token: &str, tenant: &str, rma: &str) -> (u16, Value) {
    let path = format!("/v1/admin/returns/{rma}");
    app.get(&path, app.auth(token, tenant)).await
}

async fn sandbox_rma(app: &TestApp, rma: &str) -> Value {
    let res = app
        .http
        .get(format!("{}/sandbox/returns/{rma}", app.sandbox))
        .header("x-tenant-id", TENANT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn on_hand(app: &TestApp, sku: &str) -> i64 {
    let res = app
        .http
        .get(format!("{}/sandbox/inventory/{sku}", app.sandbox))
        .header("x-tenant-id", TENANT)
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    v["on_hand"].as_i64().unwrap_or(0)
}

pub(crate) fn inspect_body(disposition: &str) -> Value {
    json!({"condition": "like_new", "restockable": true, "disposition": disposition,
           "reason": "goods checked", "notes": NOTES})
}

#[tokio::test]
async fn a_return_is_approved_then_inspected_with_a_proposed_refund_the_customer_sees() {
    let app = spawn().await;
    let order = delivered(&app);
    let rma = returned(&app, &order, 1).await;
    let lead = app.agent_token(TENANT, "agt_lea", &["cs_lead"]);

    let (status, v) = admin_get(&app, &lead, TENANT, &rma).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["customer_id"].as_str()),
        (Some("requested"), Some(order.customer_id.as_str()))
    );
    assert_eq!(v["allowed_actions"], json!(["approve"]));
    assert_eq!(v["rma"]["status"], "requested");
    assert_eq!(v["rma"]["inspections"], json!([]));

    // inspected before approval: refused, and nothing reached the Returns API
    let early = review(
        &app,
        &lead,
        &rma,
        "inspect",
        Some("i-0"),
        inspect_body("refund"),
    )
    .await;
    assert_eq!(
        (early.0, early.1["code"].as_str()),
        (409, Some("return.not_approved"))
    );
    let approve = json!({"reason": "within policy"});
    let (status, v) = review(&app, &lead, &rma, "approve", None, approve.clone()).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("idempotency.key_required"))
    );

    let first = review(&app, &lead, &rma, "approve", Some("a-1"), approve.clone()).await;
    let accepted = app.job_succeeded(first.clone()).await;
    assert_eq!(accepted["job"]["kind"], "approve_return");
    let replay = review(&app, &lead, &rma, "approve", Some("a-1"), approve.clone()).await;
    assert_eq!(
        (replay.0, &replay.1["job"]["id"]),
        (202, &first.1["job"]["id"])
    );
    let upstream = sandbox_rma(&app, &rma).await;
    // the customer chose drop-off: approved with a label
    assert_eq!(
        (
            upstream["status"].as_str(),
            upstream["approval"]["method"].as_str()
        ),
        (Some("approved"), Some("label"))
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "return.approve")
            .await,
        1
    );
    let again = review(&app, &lead, &rma, "approve", Some("a-2"), approve).await;
    assert_eq!(
        (again.0, again.1["code"].as_str()),
        (409, Some("return.already_approved"))
    );

    let sku = &order.lines[0].sku;
    let stock_before = on_hand(&app, sku).await;
    let price = order.lines[0].unit_price_minor;
    let mut dry = inspect_body("store_credit");
    dry["dry_run"] = json!(true);
    let (status, plan) = review(&app, &lead, &rma, "inspect", None, dry).await;
    assert_eq!(
        (status, plan["allowed"].as_bool()),
        (200, Some(true)),
        "{plan}"
    );
    assert_eq!(plan["proposed_settlement"]["kind"], "store_credit");
    assert_eq!(
        plan["proposed_settlement"]["amount"]["amount_minor"],
        json!(price)
    );

    let inspected = review(
        &app,
        &lead,
        &rma,
        "inspect",
        Some("i-1"),
        inspect_body("refund"),
    )
    .await;
    let inspected = app.job_succeeded(inspected).await;
    assert_eq!(inspected["proposed_settlement"]["kind"], "refund");
    assert_eq!(
        inspected["proposed_settlement"]["amount"]["amount_minor"],
        json!(price)
    );
    assert_eq!(on_hand(&app, sku).await, stock_before + 1);

    let (_, v) = admin_get(&app, &lead, TENANT, &rma).await;
    assert_eq!(v["status"], "inspected");
    assert_eq!(v["allowed_actions"], json!(["inspect"]));
    assert_eq!(v["rma"]["inspections"].as_array().unwrap().len(), 1, "{v}");
    let history = &v["rma"]["inspections"][0];
    assert_eq!(
        (history["notes"].as_str(), history["restocked"].as_bool()),
        (Some(NOTES), Some(true))
    );
    assert_eq!(
        v["proposed_settlement"]["amount"]["amount_minor"],
        json!(price)
    );

    // the customer sees approval and inspection, never the inspector's notes
    let token = app.customer_token(TENANT, &order.customer_id);
    let (status, mine) = app
        .get(
            &format!("/v1/customer/returns/{rma}"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(mine["status"], "inspected");
    assert_eq!(mine["approval"]["method"], "label");
    assert_eq!(
        (
            mine["inspection"]["condition"].as_str(),
            mine["inspection"]["disposition"].as_str()
        ),
        (Some("like_new"), Some("refund"))
    );
    assert_eq!(
        mine["proposed_settlement"]["amount"]["amount_minor"],
        json!(price)
    );
    assert!(!mine.to_string().contains(NOTES), "{mine}");
    assert!(mine.get("allowed_actions").is_none() && mine.get("rma").is_none());
}

#[tokio::test]
async fn reviews_refuse_bad_bodies_missing_tokens_wrong_roles_and_other_tenants() {
    let app = spawn().await;
    let order = delivered(&app);
    let rma = returned(&app, &order, 1).await;
    let agent = app.agent_token(TENANT, "agt_ann", &["cs_agent"]);

    for bad in [
        json!({}),
        json!({"reason": "  "}),
        json!({"reason": "ok", "method": "drone"}),
        json!({"reason": "ok", "extra": 1}),
        json!({"reason": "r".repeat(501)}),
        json!({"reason": "nul \u{0} inside"}),
    ] {
        let (status, v) = review(&app, &agent, &rma, "approve", Some("a-bad"), bad).await;
        // a NUL is refused where PostgreSQL meets it: `validation.unstorable_character`
        let code = v["code"].as_str().unwrap_or_default();
        assert!(status == 422 && code.starts_with("validation."), "{v}");
    }
    let warehouse = app.agent_token(TENANT, "agt_wes", &["fulfillment"]);
    for bad in [
        json!({"condition": "broken", "restockable": true, "disposition": "refund", "reason": "x"}),
        json!({"condition": "used", "disposition": "refund", "reason": "x"}),
        json!({"condition": "used", "restockable": true, "disposition": "keep", "reason": "x"}),
        json!({"condition": "used", "restockable": true, "disposition": "refund", "reason": "x",
               "notes": "n".repeat(2001)}),
        json!({"condition": "used", "restockable": true, "disposition": "refund", "reason": "x",
               "notes": "nul \u{0} inside"}),
    ] {
        let (status, v) = review(&app, &warehouse, &rma, "inspect", Some("i-bad"), bad).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (422, Some("validation.failed")),
            "{v}"
        );
    }

    let approve = json!({"reason": "within policy"});
    let res = app
        .post(
            &format!("/v1/admin/returns/{rma}/approve"),
            reqwest::header::HeaderMap::new(),
            &approve,
        )
        .await;
    assert_eq!(res.status(), 401);
    let (status, _) = app
        .get(
            &format!("/v1/admin/returns/{rma}"),
            reqwest::header::HeaderMap::new(),
        )
        .await;
    assert_eq!(status, 401);
    // billing may not approve; a cs_agent may approve but not inspect
    let billing = app.agent_token(TENANT, "agt_bil", &["billing"]);
    let (status, v) = review(
        &app,
        &billing,
        &rma,
        "approve",
        Some("a-3"),
        approve.clone(),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (403, Some("auth.forbidden")),
        "{v}"
    );
    let (status, _) = review(
        &app,
        &agent,
        &rma,
        "inspect",
        Some("i-3"),
        inspect_body("refund"),
    )
    .await;
    assert_eq!(status, 403);

    // another tenant's agent, even an admin, finds no such return
    let other = app.agent_token(OTHER_TENANT, "agt_oth", &["admin"]);
    let (status, v) = admin_get(&app, &other, OTHER_TENANT, &rma).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("return.not_found")),
        "{v}"
    );
    let path = format!("/v1/admin/returns/{rma}/approve");
    let (status, _) = app
        .post_as(
            &other,
            OTHER_TENANT,
            &path,
            Some("a-4"),
            None,
            approve.clone(),
        )
        .await;
    assert_eq!(status, 404);
    for unknown in ["rma_nope".to_string(), "r".repeat(65)] {
        let (status, _) = admin_get(&app, &agent, TENANT, &unknown).await;
        assert_eq!(status, 404);
    }
    // none of the refusals reached the Returns API
    assert_eq!(sandbox_rma(&app, &rma).await["status"], "requested");
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "return.approve")
            .await,
        0
    );
}

#[tokio::test]
async fn a_flaky_returns_api_still_records_exactly_one_inspection() {
    let app = spawn().await;
    let order = delivered(&app);
    let rma = returned(&app, &order, 1).await;
    let lead = app.agent_token(TENANT, "agt_lea", &["cs_lead"]);
    let approve = json!({"reason": "within policy", "method": "pickup"});
    app.set_faults(json!({"service": "fulfillment", "error_rate": 0.3, "lost_response_rate": 0.3}))
        .await;
    let approved = review(&app, &lead, &rma, "approve", Some("a-1"), approve).await;
    let approved = app
        .wait_job(approved.1["job"]["id"].as_str().unwrap(), 60)
        .await;
    // every answer of the Returns API is lost after its effect until the inspection is
    // recorded: the retries must be answered from its memory, not record it again
    app.set_faults(json!({"service": "fulfillment", "lost_response_rate": 1.0}))
        .await;
    let inspected = review(
        &app,
        &lead,
        &rma,
        "inspect",
        Some("i-1"),
        inspect_body("replace"),
    )
    .await;
    assert_eq!(
        inspected.1["proposed_settlement"]["kind"], "none",
        "{}",
        inspected.1
    );
    assert_eq!(
        inspected.1["proposed_settlement"]["amount"]["amount_minor"],
        0
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while app
        .effects_of_kind(TENANT, &order.id, "return.inspect")
        .await
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no inspection reached the sandbox"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.clear_faults().await;
    let inspected = app
        .wait_job(inspected.1["job"]["id"].as_str().unwrap(), 60)
        .await;
    assert_eq!(
        (approved["status"].as_str(), inspected["status"].as_str()),
        (Some("succeeded"), Some("succeeded")),
        "{approved} {inspected}"
    );
    let upstream = sandbox_rma(&app, &rma).await;
    assert_eq!(upstream["approval"]["method"], "pickup");
    assert_eq!(
        upstream["inspections"].as_array().unwrap().len(),
        1,
        "{upstream}"
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "return.approve")
            .await,
        1
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "return.inspect")
            .await,
        1
    );
    let (_, v) = admin_get(&app, &lead, TENANT, &rma).await;
    assert_eq!(v["inspection"]["disposition"], "replace");
    assert_eq!(v["proposed_settlement"]["kind"], "none");
}

/// POSTs `body` to the sandbox's Returns API as the test tenant, with `key`.
async fn returns_api(app: &TestApp, path: &str, key: &str, body: Value) -> (u16, Value) {
    let res = app
        .http
        .post(format!("{}/fulfillment/v1/returns/{path}", app.sandbox))
        .header("x-tenant-id", TENANT)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_returns_api_approves_once_inspects_after_approval_and_restocks_once() {
    let app = spawn().await;
    let order = delivered(&app);
    let rma = returned(&app, &order, 1).await;
    let inspection = json!({"condition": "new", "restockable": true, "disposition": "refund"});

    let (status, v) = returns_api(
        &app,
        &format!("{rma}/inspections"),
        "s-0",
        inspection.clone(),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (409, Some("return.not_approved")),
        "{v}"
    );
    let (status, v) = returns_api(
        &app,
        &format!("{rma}/approve"),
        "s-1",
        json!({"method": "drone"}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    let (status, v) = returns_api(
        &app,
        "rma_unknown/approve",
        "s-2",
        json!({"method": "label"}),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("return.not_found")),
        "{v}"
    );

    let approve = json!({"method": "label"});
    let (status, first) =
        returns_api(&app, &format!("{rma}/approve"), "s-3", approve.clone()).await;
    assert_eq!(
        (status, first["status"].as_str()),
        (200, Some("approved")),
        "{first}"
    );
    let (status, replay) =
        returns_api(&app, &format!("{rma}/approve"), "s-3", approve.clone()).await;
    assert_eq!((status, &replay["approval"]), (200, &first["approval"]));
    let (status, v) = returns_api(&app, &format!("{rma}/approve"), "s-4", approve).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (409, Some("return.already_approved")),
        "{v}"
    );

    let sku = &order.lines[0].sku;
    let before = on_hand(&app, sku).await;
    let (status, v) = returns_api(
        &app,
        &format!("{rma}/inspections"),
        "s-5",
        inspection.clone(),
    )
    .await;
    assert_eq!(
        (status, v["status"].as_str()),
        (201, Some("inspected")),
        "{v}"
    );
    let (status, v) = returns_api(&app, &format!("{rma}/inspections"), "s-6", inspection).await;
    assert_eq!(status, 201, "{v}");
    let restocked: Vec<_> = v["inspections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["restocked"].as_bool().unwrap())
        .collect();
    assert_eq!(restocked, [true, false]);
    assert_eq!(on_hand(&app, sku).await, before + 1);
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "return.approve")
            .await,
        1
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "return.inspect")
            .await,
        2
    );
}

#[tokio::test]
async fn an_erasure_redacts_the_inspectors_notes_and_the_customers_comments() {
    let app = spawn().await;
    let order = delivered(&app);
    let rma = returned(&app, &order, 1).await;
    let lead = app.agent_token(TENANT, "agt_lea", &["cs_lead"]);
    let approve = json!({"reason": "within policy"});
    app.job_succeeded(review(&app, &lead, &rma, "approve", Some("a-e"), approve).await)
        .await;
    let inspect = review(
        &app,
        &lead,
        &rma,
        "inspect",
        Some("i-e"),
        inspect_body("refund"),
    )
    .await;
    app.job_succeeded(inspect).await;
    let written = |sql: &'static str| {
        let app = &app;
        let rma = rma.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(TENANT)
                .bind(&rma)
                .bind(NOTES)
                .fetch_one(&app.state.db)
                .await
                .unwrap()
        }
    };
    const IN_RETURNS: &str = "SELECT count(*) FROM returns WHERE tenant_id = $1 AND rma_id = $2
        AND (inspection->>'notes' = $3 OR lines::text LIKE '%cracked%')";
    const IN_RUNS: &str = "SELECT count(*) FROM runs WHERE tenant_id = $1 AND subject_id = $2
        AND (input::text LIKE '%' || $3 || '%' OR result::text LIKE '%' || $3 || '%')";
    assert_eq!(
        written(IN_RETURNS).await,
        1,
        "the notes and comment are there"
    );
    assert!(
        written(IN_RUNS).await >= 1,
        "the inspection's run holds the notes"
    );

    let mut conn = app.state.db.acquire().await.unwrap();
    let tenant = orderdesk::domain::ids::TenantId::new(TENANT);
    let run = orderdesk::domain::ids::RunId::from_uuid(uuid::Uuid::now_v7());
    orderdesk::db::gdpr::anonymise_customer(&mut conn, &tenant, &order.customer_id, run, None)
        .await
        .unwrap();
    assert_eq!(written(IN_RETURNS).await, 0, "erased from the return");
    assert_eq!(written(IN_RUNS).await, 0, "erased from the runs");
}
