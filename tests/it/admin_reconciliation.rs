//! An order's money reconciled: the order's total, Billing's invoices and Payments' money
//! compared live, each difference named with its cause, and finance's resolutions of them.

use orderdesk::db;
use orderdesk::domain::ids::TenantId;
use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

/// Billing's invoice of the order now totals `total_minor` (the sandbox's control).
async fn set_invoice_total(app: &TestApp, order_id: &str, total_minor: i64) {
    let res = app
        .http
        .put(format!("{}/sandbox/invoices/{order_id}", app.sandbox))
        .header("x-tenant-id", TENANT)
        .json(&json!({ "total_minor": total_minor }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

fn codes(b: &Value) -> Vec<(String, Option<i64>, bool)> {
    b["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["difference_minor"].as_i64(),
                d["resolution"].is_object(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_seeded_mismatch_is_named_and_resolutions_cover_it_until_it_moves() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let total = order.totals.total_minor;
    let finance = app.agent_token(TENANT, "agt_fin", &["finance"]);
    let path = format!("/v1/admin/orders/{}/reconciliation", order.id);
    let reconcile = format!("/v1/admin/orders/{}/reconcile", order.id);

    let (status, b) = app.get(&path, app.auth(&finance, TENANT)).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["balanced"], true, "{b}");
    assert_eq!(b["totals"]["invoiced_minor"], total);
    assert_eq!(b["totals"]["collected_minor"], total);

    // Billing invoiced 5.00 less than the order totals
    set_invoice_total(&app, order.id.as_str(), total - 500).await;
    let (status, b) = app.get(&path, app.auth(&finance, TENANT)).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["balanced"], false);
    assert_eq!(
        codes(&b),
        [
            ("invoice.total_differs".into(), Some(-500), false),
            ("payment.over_collected".into(), Some(500), false),
        ]
    );
    let cause = b["differences"][0]["cause"].as_str().unwrap();
    assert!(cause.contains("not invoiced"), "{cause}");

    // what a resolution takes: a known code, a note, a key; the difference must be there
    let bad = json!({"code": "invoice.lost", "note": " "});
    let (status, e) = app
        .admin_post(&finance, &reconcile, Some("rc-0"), None, bad)
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (422, Some("validation.failed"))
    );
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["code", "note"]);
    let absent = json!({"code": "settlement.differs", "subject": "pay_x", "note": "n/a"});
    let (status, e) = app
        .admin_post(&finance, &reconcile, Some("rc-1"), None, absent)
        .await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["code"], "reconcile.no_such_difference");
    let resolve = json!({"code": "invoice.total_differs", "note": "goodwill discount, credit note to follow",
                         "reference": "FIN-4711"});
    let (status, _) = app
        .admin_post(&finance, &reconcile, None, None, resolve.clone())
        .await;
    assert_eq!(status, 400, "a resolution needs an Idempotency-Key");
    let (status, first) = app
        .admin_post(&finance, &reconcile, Some("rc-2"), None, resolve.clone())
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["resolution"]["difference_minor"], -500);
    assert_eq!(first["resolution"]["resolved_by"], "agent:agt_fin");
    let (status, again) = app
        .admin_post(&finance, &reconcile, Some("rc-2"), None, resolve)
        .await;
    assert_eq!(
        (status, &again),
        (201, &first),
        "replayed, not recorded twice"
    );

    let (_, b) = app.get(&path, app.auth(&finance, TENANT)).await;
    assert_eq!(
        codes(&b),
        [
            ("invoice.total_differs".into(), Some(-500), true),
            ("payment.over_collected".into(), Some(500), false),
        ]
    );
    assert_eq!(b["resolutions"].as_array().unwrap().len(), 1);
    let second = json!({"code": "payment.over_collected", "note": "refund of 5.00 booked"});
    let (status, _) = app
        .admin_post(&finance, &reconcile, Some("rc-3"), None, second)
        .await;
    assert_eq!(status, 201);
    let (_, b) = app.get(&path, app.auth(&finance, TENANT)).await;
    assert_eq!(b["balanced"], true, "{b}");

    // the amounts move: the resolutions no longer cover them
    set_invoice_total(&app, order.id.as_str(), total - 700).await;
    let (_, b) = app.get(&path, app.auth(&finance, TENANT)).await;
    assert_eq!(b["balanced"], false);
    assert!(codes(&b).iter().all(|(_, _, resolved)| !resolved), "{b}");
    assert_eq!(b["resolutions"].as_array().unwrap().len(), 2);

    let mut conn = app.state.db.acquire().await.unwrap();
    let audit = db::audit::list_for_subject(
        &mut conn,
        &TenantId::new(TENANT),
        "order",
        order.id.as_str(),
        0,
        100,
    )
    .await
    .unwrap();
    let reconciled = audit.iter().filter(|e| e.action == "order.reconciled");
    assert_eq!(reconciled.count(), 2);
}

#[tokio::test]
async fn reconciliation_is_finance_work_of_one_tenant_and_says_when_upstreams_are_down() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let path = format!("/v1/admin/orders/{}/reconciliation", order.id);
    let reconcile = format!("/v1/admin/orders/{}/reconcile", order.id);
    let body = json!({"code": "payment.short", "note": "n/a"});

    let (status, _) = app.get(&path, Default::default()).await;
    assert_eq!(status, 401);
    let res = app.post(&reconcile, Default::default(), &body).await;
    assert_eq!(res.status(), 401);
    let cs = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, b) = app.get(&path, app.auth(&cs, TENANT)).await;
    assert_eq!((status, b["code"].as_str()), (403, Some("auth.forbidden")));
    assert_eq!(b["required_permission"], "reconcile");
    let (status, _) = app
        .admin_post(&cs, &reconcile, Some("k"), None, body.clone())
        .await;
    assert_eq!(status, 403);

    // an order only the test tenant has (the other tenant's seed is smaller)
    let acme_only = &app.orders[20].id;
    let foreign = app.agent_token(OTHER_TENANT, "agt_foreign", &["admin"]);
    let theirs = format!("/v1/admin/orders/{acme_only}/reconciliation");
    let (status, _) = app.get(&theirs, app.auth(&foreign, OTHER_TENANT)).await;
    assert_eq!(status, 404);
    let theirs = format!("/v1/admin/orders/{acme_only}/reconcile");
    let (status, _) = app
        .post_as(&foreign, OTHER_TENANT, &theirs, Some("k"), None, body)
        .await;
    assert_eq!(status, 404);

    let finance = app.agent_token(TENANT, "agt_fin", &["finance"]);
    app.set_faults(json!({"service": "billing", "error_rate": 1.0}))
        .await;
    let (status, b) = app.get(&path, app.auth(&finance, TENANT)).await;
    app.clear_faults().await;
    assert_eq!(status, 503, "{b}");
    assert_eq!(b["code"], "reconciliation.unavailable");
    let text = b.to_string();
    assert!(
        !text.contains("127.0.0.1") && !text.contains("/billing"),
        "{text}"
    );
}

#[tokio::test]
async fn a_reported_payout_is_linked_once_and_the_reconciliation_compares_it() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let payment = order.payments[0].clone();
    let held = payment.amount_minor - payment.refunded_minor;
    let finance = app.agent_token(TENANT, "agt_fin", &["finance"]);
    let path = format!("/v1/admin/payments/{}/reconcile", payment.id);
    let link = json!({"settlement_id": "po_2026_11_30_001", "amount_minor": held - 100,
                      "fee_minor": 29, "reason": "November payout report"});

    let bad = json!({"settlement_id": " ", "amount_minor": 1, "reason": "r"});
    let (status, e) = app
        .admin_post(&finance, &path, Some("l-0"), None, bad)
        .await;
    assert_eq!(
        (status, e["errors"][0]["field"].as_str()),
        (422, Some("settlement_id"))
    );
    let (status, _) = app
        .admin_post(&finance, &path, None, None, link.clone())
        .await;
    assert_eq!(status, 400, "the key is required");
    let mut dry = link.clone();
    dry["dry_run"] = json!(true);
    let (status, b) = app.admin_post(&finance, &path, None, None, dry).await;
    assert_eq!((status, &b["allowed"]), (200, &json!(true)), "{b}");
    assert_eq!(b["steps"], json!(["link_at_payments"]));

    let accepted = app
        .admin_post(&finance, &path, Some("l-1"), None, link.clone())
        .await;
    let first = app.job_succeeded(accepted).await;
    let (status, again) = app
        .admin_post(&finance, &path, Some("l-1"), None, link)
        .await;
    assert_eq!(status, 202);
    assert_eq!(again["job"]["id"], first["job"]["id"], "replayed");
    let job = app.wait_job(first["job"]["id"].as_str().unwrap(), 5).await;
    assert_eq!(job["result"]["settlement_id"], "po_2026_11_30_001", "{job}");

    // the payout is 1.00 short of what the payment holds: the reconciliation says so
    let recon = format!("/v1/admin/orders/{}/reconciliation", order.id);
    let (status, b) = app.get(&recon, app.auth(&finance, TENANT)).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["totals"]["settled_minor"], held - 100);
    assert_eq!(b["totals"]["fees_minor"], 29);
    let settlement = b["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "settlement.differs")
        .unwrap_or_else(|| panic!("{b}"));
    assert_eq!(settlement["subject"], payment.id.as_str());
    assert_eq!(settlement["difference_minor"], -100);

    // another payout for the same payment is refused
    let other = json!({"settlement_id": "po_other", "amount_minor": 1, "reason": "r"});
    let (status, e) = app
        .admin_post(&finance, &path, Some("l-2"), None, other)
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (409, Some("settlement.failed.already_linked"))
    );

    // who may: finance of the payment's tenant
    let body = json!({"settlement_id": "po_x", "amount_minor": 1, "reason": "r"});
    let res = app.post(&path, Default::default(), &body).await;
    assert_eq!(res.status(), 401);
    let cs = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, _) = app
        .admin_post(&cs, &path, Some("l-3"), None, body.clone())
        .await;
    assert_eq!(status, 403);
    let foreign = app.agent_token(OTHER_TENANT, "agt_foreign", &["admin"]);
    let theirs = format!(
        "/v1/admin/payments/{}/reconcile",
        app.orders[20].payments[0].id
    );
    let (status, _) = app
        .post_as(&foreign, OTHER_TENANT, &theirs, Some("l-4"), None, body)
        .await;
    assert_eq!(status, 404);
}
