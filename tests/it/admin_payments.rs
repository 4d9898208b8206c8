//! Agents and payments: the live read of an order's payments, refunds (exactly once, within
//! what is refundable, two-agent approval above the tenant's threshold) and captures.

use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};
use orderdesk::domain::order::Order;
use orderdesk::domain::settings::TenantSettings;

fn refund_path(payment_id: &str) -> String {
    format!("/v1/admin/payments/{payment_id}/refund")
}

fn capture_path(payment_id: &str) -> String {
    format!("/v1/admin/payments/{payment_id}/capture")
}

/// The payment as the sandbox holds it (read-back, never faulted).
async fn sandbox_payment(app: &TestApp, payment_id: &str) -> Value {
    app.sandbox_get(&format!("/sandbox/payments/{payment_id}"))
        .await
}

/// A billing agent (refunds, captures) and their sudo token.
fn billing(app: &TestApp, agent: &str) -> (String, String) {
    (
        app.agent_token(TENANT, agent, &["billing"]),
        app.sudo_token(TENANT, agent, &["billing"]),
    )
}

fn captured_order(app: &TestApp) -> (Order, String, i64) {
    let order = app.order_in("confirmed").clone();
    let payment = &order.payments[0];
    assert_eq!(payment.status, "captured");
    let (id, amount) = (payment.id.clone(), payment.amount_minor);
    (order, id, amount)
}

#[tokio::test]
async fn a_refund_is_checked_made_once_and_replayed() {
    let app = helpers::spawn().await;
    let (order, pay, amount) = captured_order(&app);
    let (token, sudo) = billing(&app, "agt_bill");
    let path = refund_path(&pay);
    let body = json!({"amount_minor": 1000, "reason": "damaged in transit"});

    // who may ask: a token, the permission, a sudo token of the same agent
    let res = app.post(&path, Default::default(), &body).await;
    assert_eq!(res.status(), 401);
    let cs = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let cs_sudo = app.sudo_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, b) = app
        .admin_post(&cs, &path, Some("r-1"), Some(&cs_sudo), body.clone())
        .await;
    assert_eq!((status, b["code"].as_str()), (403, Some("auth.forbidden")));
    assert_eq!(b["required_permission"], "orders.refund");
    let (status, b) = app
        .admin_post(&token, &path, Some("r-1"), None, body.clone())
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (403, Some("auth.sudo_required"))
    );

    // what it takes: a positive amount and a reason, every bad field named; a key
    let (status, b) = app
        .admin_post(
            &token,
            &path,
            Some("r-1"),
            Some(&sudo),
            json!({"amount_minor": 0, "reason": " "}),
        )
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (422, Some("validation.failed"))
    );
    let fields: Vec<&str> = b["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["amount_minor", "reason"], "{b}");
    let long = json!({"amount_minor": 1, "reason": "x".repeat(501)});
    let (status, _) = app
        .admin_post(&token, &path, Some("r-1"), Some(&sudo), long)
        .await;
    assert_eq!(status, 422);
    let (status, b) = app
        .admin_post(&token, &path, None, Some(&sudo), body.clone())
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (400, Some("idempotency.key_required"))
    );

    // another tenant's payment, or none: 404
    let foreign = app.agent_token(OTHER_TENANT, "agt_foreign", &["billing"]);
    let foreign_sudo = app.sudo_token(OTHER_TENANT, "agt_foreign", &["billing"]);
    let acme_only = &app.orders[20].payments[0].id;
    let (status, b) = app
        .post_as(
            &foreign,
            OTHER_TENANT,
            &refund_path(acme_only),
            Some("r-f"),
            Some(&foreign_sudo),
            body.clone(),
        )
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (404, Some("payment.not_found"))
    );
    let (status, _) = app
        .admin_post(
            &token,
            &refund_path("pay_nope"),
            Some("r-n"),
            Some(&sudo),
            body.clone(),
        )
        .await;
    assert_eq!(status, 404);

    // the dry run says what would happen and does nothing
    let dry = json!({"amount_minor": 1000, "reason": "x", "dry_run": true});
    let (status, plan) = app.admin_post(&token, &path, None, Some(&sudo), dry).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["refundable_minor"], amount);
    assert_eq!(plan["allowed"], true);
    assert_eq!(plan["approval_required"], false);
    assert_eq!(
        plan["steps"],
        json!(["check_refundable", "refund_at_payments", "notify_customer"])
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        0
    );

    let first = app
        .admin_post(&token, &path, Some("r-1"), Some(&sudo), body.clone())
        .await;
    let accepted = app.job_succeeded(first).await;
    let job_id = accepted["job"]["id"].as_str().unwrap();
    let job = app.wait_job(job_id, 20).await;
    let refund_id = job["result"]["refund_id"].as_str().expect("a refund id");
    assert_eq!(job["result"]["amount_minor"], 1000);
    assert_eq!(job["result"]["notified"], true, "{job}");
    let at_payments = sandbox_payment(&app, &pay).await;
    assert_eq!(at_payments["refunds"].as_array().unwrap().len(), 1);
    assert_eq!(at_payments["refunds"][0]["id"], refund_id);
    assert_eq!(at_payments["refunded_minor"], 1000);

    // the same key and body: the first answer; another body under it: 422
    let (status, replay) = app
        .admin_post(&token, &path, Some("r-1"), Some(&sudo), body.clone())
        .await;
    assert_eq!(
        (status, &replay["job"]["id"]),
        (202, &accepted["job"]["id"])
    );
    let (status, b) = app
        .admin_post(
            &token,
            &path,
            Some("r-1"),
            Some(&sudo),
            json!({"amount_minor": 999, "reason": "damaged in transit"}),
        )
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (422, Some("idempotency.key_reused"))
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        1
    );

    // more than is left
    let rest = amount - 1000;
    let too_much = json!({"amount_minor": rest + 1, "reason": "all of it"});
    let (status, b) = app
        .admin_post(&token, &path, Some("r-2"), Some(&sudo), too_much)
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (422, Some("refund.failed.exceeds_refundable")),
        "{b}"
    );
    assert_eq!(b["refundable_minor"], rest);

    // audited on the order, with the reason
    let auditor = app.agent_token(TENANT, "agt_aud", &["auditor"]);
    let (_, audit) = app
        .get(
            &format!("/v1/admin/orders/{}/audit", order.id),
            app.auth(&auditor, TENANT),
        )
        .await;
    let record = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "payment.refund")
        .expect("audited");
    assert_eq!(record["actor_id"], "agt_bill");
    assert_eq!(record["reason"], "damaged in transit");
}

#[tokio::test]
async fn the_order_payments_are_read_live_with_refundable_and_settlement() {
    let app = helpers::spawn().await;
    let (order, pay, amount) = captured_order(&app);
    let path = format!("/v1/admin/orders/{}/payments", order.id);
    let (status, _) = app.get(&path, Default::default()).await;
    assert_eq!(status, 401);
    let fulfil = app.agent_token(TENANT, "agt_f", &["fulfillment"]);
    let (status, b) = app.get(&path, app.auth(&fulfil, TENANT)).await;
    assert_eq!((status, b["code"].as_str()), (403, Some("auth.forbidden")));
    let foreign = app.agent_token(OTHER_TENANT, "agt_foreign", &["admin"]);
    let (status, _) = app.get(&path, app.auth(&foreign, OTHER_TENANT)).await;
    assert_eq!(status, 404);

    let res = app
        .http
        .post(format!("{}/sandbox/settlements", app.sandbox))
        .header("x-tenant-id", TENANT)
        .json(&json!({"payment_id": pay, "fee_minor": 29}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let finance = app.agent_token(TENANT, "agt_fin", &["finance"]);
    let (status, b) = app.get(&path, app.auth(&finance, TENANT)).await;
    assert_eq!(status, 200, "{b}");
    let p = &b["data"][0];
    assert_eq!(p["id"], pay.as_str());
    assert_eq!(p["source"], "payments");
    assert_eq!(
        (&p["captured_minor"], &p["refundable_minor"]),
        (&json!(amount), &json!(amount))
    );
    assert_eq!(p["settlement"]["fee_minor"], 29);
    assert_eq!(p["settlement"]["amount_minor"], amount);

    // the Payments service down: the read model's copy, saying so
    app.set_faults(json!({"service": "payments", "error_rate": 1.0}))
        .await;
    let (status, b) = app.get(&path, app.auth(&finance, TENANT)).await;
    app.clear_faults().await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["data"][0]["source"], "read_model");
    assert!(b["data"][0]["error"]["code"].is_string(), "{b}");
}

#[tokio::test]
async fn concurrent_refunds_of_the_whole_amount_make_one() {
    let app = helpers::spawn().await;
    let (order, pay, amount) = captured_order(&app);
    let (token, sudo) = billing(&app, "agt_bill");
    let path = refund_path(&pay);
    let all = json!({"amount_minor": amount, "reason": "order lost"});

    // one key sent twice at once: one refund
    let (a, b) = tokio::join!(
        app.admin_post(&token, &path, Some("same"), Some(&sudo), all.clone()),
        app.admin_post(&token, &path, Some("same"), Some(&sudo), all.clone()),
    );
    assert_eq!((a.0, b.0), (202, 202), "{a:?} {b:?}");
    assert_eq!(a.1["job"]["id"], b.1["job"]["id"]);
    let job = app.wait_job(a.1["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(job["status"], "succeeded", "{job}");

    // two keys for the whole amount at once, on a fresh payment: one 202, one 422
    let other = app.order_in("delivered").clone();
    let other_pay = other.payments[0].id.clone();
    let whole = json!({"amount_minor": other.payments[0].amount_minor, "reason": "order lost"});
    let path = refund_path(&other_pay);
    let (a, b) = tokio::join!(
        app.admin_post(&token, &path, Some("k-a"), Some(&sudo), whole.clone()),
        app.admin_post(&token, &path, Some("k-b"), Some(&sudo), whole.clone()),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [202, 422], "{a:?} {b:?}");
    let (won, lost) = if a.0 == 202 { (a.1, b.1) } else { (b.1, a.1) };
    assert_eq!(lost["code"], "refund.failed.exceeds_refundable");
    assert_eq!(lost["refundable_minor"], 0);
    let job = app.wait_job(won["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(job["status"], "succeeded", "{job}");

    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        1
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &other.id, "payment.refund")
            .await,
        1
    );
    assert_eq!(
        sandbox_payment(&app, &other_pay).await["status"],
        "refunded"
    );
}

#[tokio::test]
async fn a_refund_through_a_flaky_payments_service_is_made_exactly_once() {
    let app = helpers::spawn().await;
    let (order, pay, _) = captured_order(&app);
    let (token, sudo) = billing(&app, "agt_bill");
    app.set_faults(json!({"service": "payments", "error_rate": 0.5, "lost_response_rate": 0.3}))
        .await;
    let (status, b) = app
        .admin_post(
            &token,
            &refund_path(&pay),
            Some("flaky-1"),
            Some(&sudo),
            json!({"amount_minor": 700, "reason": "late delivery"}),
        )
        .await;
    assert_eq!(status, 202, "{b}");
    let job = app.wait_job(b["job"]["id"].as_str().unwrap(), 180).await;
    app.clear_faults().await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let at_payments = sandbox_payment(&app, &pay).await;
    let refunds = at_payments["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "{at_payments}");
    assert_eq!(refunds[0]["id"], job["result"]["refund_id"]);
    assert_eq!(at_payments["refunded_minor"], 700);
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        1
    );
}

#[tokio::test]
async fn a_refund_above_the_threshold_waits_for_another_agent() {
    let settings = TenantSettings {
        refund_approval_threshold_minor: Some(1000),
        ..orderdesk::seed::demo_settings()
    };
    let app = helpers::spawn_with(helpers::Options {
        settings,
        ..Default::default()
    })
    .await;
    let (order, pay, _) = captured_order(&app);
    let ann = app.agent_token(TENANT, "agt_ann", &["cs_lead"]);
    let ann_sudo = app.sudo_token(TENANT, "agt_ann", &["cs_lead"]);
    let bob = app.agent_token(TENANT, "agt_bob", &["cs_lead"]);
    let path = refund_path(&pay);

    let dry = json!({"amount_minor": 1500, "reason": "x", "dry_run": true});
    let (_, plan) = app
        .admin_post(&ann, &path, None, Some(&ann_sudo), dry)
        .await;
    assert_eq!(plan["approval_required"], true, "{plan}");

    let big = json!({"amount_minor": 1500, "reason": "goodwill"});
    let (status, held) = app
        .admin_post(&ann, &path, Some("big-1"), Some(&ann_sudo), big)
        .await;
    assert_eq!(status, 202, "{held}");
    assert_eq!(held["status"], "pending_approval");
    assert_eq!(held["action"], "refund");
    assert!(held.get("job").is_none());
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        0
    );
    let id = held["id"].as_str().unwrap();

    // nobody approves their own; carried out only once approved
    let approve = format!("/v1/admin/approvals/{id}/approve");
    let execute = format!("/v1/admin/approvals/{id}/execute");
    let (status, b) = app.admin_post(&ann, &approve, None, None, json!({})).await;
    assert_eq!(
        (status, b["code"].as_str()),
        (403, Some("approval.own_request"))
    );
    let (status, b) = app.admin_post(&ann, &execute, None, None, json!({})).await;
    assert_eq!(
        (status, b["code"].as_str()),
        (409, Some("approval.not_approved"))
    );
    let (status, b) = app.admin_post(&bob, &approve, None, None, json!({})).await;
    assert_eq!((status, &b["status"]), (200, &json!("approved")), "{b}");

    let (status, done) = app.admin_post(&ann, &execute, None, None, json!({})).await;
    assert_eq!(status, 202, "{done}");
    let job = app.wait_job(done["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["amount_minor"], 1500);
    let (status, b) = app.admin_post(&ann, &execute, None, None, json!({})).await;
    assert_eq!(
        (status, b["code"].as_str()),
        (409, Some("approval.not_approved"))
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        1
    );

    // at or under the threshold: at once
    let small = json!({"amount_minor": 1000, "reason": "shipping fee"});
    let (status, b) = app
        .admin_post(&ann, &path, Some("small-1"), Some(&ann_sudo), small)
        .await;
    assert_eq!(status, 202, "{b}");
    assert!(b["job"]["id"].is_string(), "{b}");
}

#[tokio::test]
async fn an_authorized_payment_is_captured_once_within_its_amount() {
    let app = helpers::spawn().await;
    let order = app.order_in("pending").clone();
    let payment = &order.payments[0];
    assert_eq!(payment.status, "authorized");
    let (pay, amount) = (payment.id.clone(), payment.amount_minor);
    let (token, sudo) = billing(&app, "agt_bill");
    let path = capture_path(&pay);

    // nothing captured: nothing to refund
    let (status, b) = app
        .admin_post(
            &token,
            &refund_path(&pay),
            Some("r-0"),
            Some(&sudo),
            json!({"amount_minor": 1, "reason": "x"}),
        )
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (409, Some("refund.failed.not_captured"))
    );

    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let lead_sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let body = json!({"amount_minor": 1000, "reason": "ships partially"});
    let (status, b) = app
        .admin_post(&lead, &path, Some("c-1"), Some(&lead_sudo), body.clone())
        .await;
    assert_eq!((status, b["code"].as_str()), (403, Some("auth.forbidden")));
    let (status, b) = app
        .admin_post(&token, &path, Some("c-1"), None, body.clone())
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (403, Some("auth.sudo_required"))
    );
    let (status, b) = app
        .admin_post(
            &token,
            &path,
            Some("c-1"),
            Some(&sudo),
            json!({"amount_minor": -5}),
        )
        .await;
    assert_eq!(status, 422, "{b}");

    let over = json!({"amount_minor": amount + 1, "reason": "too much"});
    let (status, b) = app
        .admin_post(&token, &path, Some("c-over"), Some(&sudo), over)
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (422, Some("capture.failed.exceeds_authorized")),
        "{b}"
    );
    assert_eq!(b["capturable_minor"], amount);

    let first = app
        .admin_post(&token, &path, Some("c-1"), Some(&sudo), body.clone())
        .await;
    let accepted = app.job_succeeded(first).await;
    let job = app
        .wait_job(accepted["job"]["id"].as_str().unwrap(), 20)
        .await;
    assert!(job["result"]["capture_id"].is_string(), "{job}");
    let at_payments = sandbox_payment(&app, &pay).await;
    assert_eq!(at_payments["status"], "captured");
    assert_eq!(at_payments["captures"][0]["amount_minor"], 1000);
    let (status, replay) = app
        .admin_post(&token, &path, Some("c-1"), Some(&sudo), body.clone())
        .await;
    assert_eq!(
        (status, &replay["job"]["id"]),
        (202, &accepted["job"]["id"])
    );

    // captured once: a second capture is refused; a refund is bounded by what was captured
    let (status, b) = app
        .admin_post(&token, &path, Some("c-2"), Some(&sudo), body.clone())
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (409, Some("capture.failed.not_authorized"))
    );
    let (status, b) = app
        .admin_post(
            &token,
            &refund_path(&pay),
            Some("r-1"),
            Some(&sudo),
            json!({"amount_minor": 1001, "reason": "x"}),
        )
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (422, Some("refund.failed.exceeds_refundable"))
    );
    assert_eq!(b["refundable_minor"], 1000);
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.capture")
            .await,
        1
    );
}

/// A cancellation that refunds and an agent's refund of the same payment never ask Payments
/// for the same money: while the cancellation runs nothing more is refundable, and a
/// cancellation accepted after a refund refunds only what that refund leaves.
#[tokio::test]
async fn a_cancellation_and_an_agents_refund_share_the_money_once() {
    let app = helpers::spawn().await;
    let (token, sudo) = billing(&app, "agt_bill");
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let lead_sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let cancel = json!({"refund": true, "restock": false, "reason": "customer asked"});
    let refund = json!({"amount_minor": 1000, "reason": "goodwill"});

    // a cancellation held up at Orders: the agent's refund is refused, nothing is left
    let (order, pay, amount) = captured_order(&app);
    app.set_faults(json!({"service": "orders", "error_rate": 1.0, "error_status": 503}))
        .await;
    let path = format!("/v1/admin/orders/{}/force-cancel", order.id);
    let (status, cancelling) = app
        .admin_post(&lead, &path, Some("c-1"), Some(&lead_sudo), cancel.clone())
        .await;
    assert_eq!(status, 202, "{cancelling}");
    let (status, b) = app
        .admin_post(
            &token,
            &refund_path(&pay),
            Some("r-1"),
            Some(&sudo),
            refund.clone(),
        )
        .await;
    assert_eq!(
        (status, b["code"].as_str(), b["refundable_minor"].as_i64()),
        (422, Some("refund.failed.exceeds_refundable"), Some(0)),
        "{b}"
    );
    app.clear_faults().await;
    let job = app
        .wait_job(cancelling["job"]["id"].as_str().unwrap(), 40)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(sandbox_payment(&app, &pay).await["refunded_minor"], amount);

    // an agent's refund held up at Payments, then a cancellation: it refunds the rest
    let other = app
        .orders
        .iter()
        .find(|o| {
            o.status.as_str() == "confirmed"
                && o.id != order.id
                && o.payments.len() == 1
                && o.payments[0].status == "captured"
        })
        .unwrap()
        .clone();
    let (pay, amount) = (other.payments[0].id.clone(), other.payments[0].amount_minor);
    app.set_faults(json!({"service": "payments", "error_rate": 1.0, "error_status": 503}))
        .await;
    let (status, refunding) = app
        .admin_post(&token, &refund_path(&pay), Some("r-2"), Some(&sudo), refund)
        .await;
    assert_eq!(status, 202, "{refunding}");
    let path = format!("/v1/admin/orders/{}/force-cancel", other.id);
    let (status, cancelling) = app
        .admin_post(&lead, &path, Some("c-2"), Some(&lead_sudo), cancel)
        .await;
    assert_eq!(status, 202, "{cancelling}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    app.clear_faults().await;
    for job in [&refunding, &cancelling] {
        let job = app.wait_job(job["job"]["id"].as_str().unwrap(), 40).await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
    let payment = sandbox_payment(&app, &pay).await;
    assert_eq!(payment["refunded_minor"], amount, "{payment}");
    let mut refunds: Vec<i64> = payment["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount_minor"].as_i64().unwrap())
        .collect();
    refunds.sort_unstable();
    let mut expected = vec![1000, amount - 1000];
    expected.sort_unstable();
    assert_eq!(refunds, expected, "{payment}");
}

/// A refund held for approval keeps its request (the reason an agent wrote) in `approvals`:
/// the customer's erasure redacts it.
#[tokio::test]
async fn the_erasure_reaches_a_held_refunds_reason() {
    let settings = TenantSettings {
        refund_approval_threshold_minor: Some(1000),
        ..orderdesk::seed::demo_settings()
    };
    let app = helpers::spawn_with(helpers::Options {
        settings,
        ..Default::default()
    })
    .await;
    let (order, pay, _) = captured_order(&app);
    let (token, sudo) = billing(&app, "agt_bill");
    let big = json!({"amount_minor": 1500, "reason": "Erika Mustermann called about a dent"});
    let (status, held) = app
        .admin_post(&token, &refund_path(&pay), Some("held-1"), Some(&sudo), big)
        .await;
    assert_eq!(
        (status, held["status"].as_str()),
        (202, Some("pending_approval")),
        "{held}"
    );
    let held_reasons_naming = || {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM approvals WHERE payload::text LIKE '%Mustermann%'",
        )
        .fetch_one(&app.state.db)
    };
    assert_eq!(held_reasons_naming().await.unwrap(), 1);

    let customer = app.customer_token(TENANT, &order.customer_id);
    let mut h = app.auth(&customer, TENANT);
    h.insert("idempotency-key", "erase-1".parse().unwrap());
    let res = app
        .post("/v1/customer/gdpr/erase-request", h, &json!({}))
        .await;
    let body: Value = res.json().await.unwrap();
    let job = app.wait_job(body["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(held_reasons_naming().await.unwrap(), 0);
}

/// A cancellation that refunds an authorization captured in part refunds what was captured,
/// never the authorized amount (which Payments refuses with 422, compensating for ever).
#[tokio::test]
async fn a_cancellation_refunds_what_a_partial_capture_took() {
    let app = helpers::spawn().await;
    let order = app.order_in("pending").clone();
    let payment = &order.payments[0];
    assert_eq!(payment.status, "authorized");
    assert!(payment.amount_minor > 400, "{payment:?}");
    let pay = payment.id.clone();
    let (token, sudo) = billing(&app, "agt_bill");
    let capture = json!({"amount_minor": 400, "reason": "ships partially"});
    let captured = app
        .admin_post(
            &token,
            &capture_path(&pay),
            Some("c-1"),
            Some(&sudo),
            capture,
        )
        .await;
    app.job_succeeded(captured).await;

    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let lead_sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let path = format!("/v1/admin/orders/{}/force-cancel", order.id);
    let cancel = json!({"refund": true, "restock": false, "reason": "customer asked"});
    let mut dry = cancel.clone();
    dry["dry_run"] = json!(true);
    let (status, plan) = app
        .admin_post(&lead, &path, None, Some(&lead_sudo), dry)
        .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["plan"]["refund_minor"], 400, "{plan}");
    let cancelling = app
        .admin_post(&lead, &path, Some("f-1"), Some(&lead_sudo), cancel)
        .await;
    app.job_succeeded(cancelling).await;
    let at_payments = sandbox_payment(&app, &pay).await;
    assert_eq!(at_payments["refunded_minor"], 400, "{at_payments}");
    let refunds: Vec<i64> = at_payments["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount_minor"].as_i64().unwrap())
        .collect();
    assert_eq!(refunds, vec![400], "{at_payments}");
}
