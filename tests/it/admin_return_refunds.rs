//! A return's refund leg (`POST /v1/admin/returns/{id}/issue-refund`): requested → approved →
//! inspected → refunded to the card or as store credit, exactly once (also through a flaky
//! Payments service), within what was proposed and what the payment can refund, held for a
//! second agent above the threshold; what the customer sees of it; every refusal.

use orderdesk::domain::order::Order;
use orderdesk::domain::settings::TenantSettings;
use orderdesk::seed;
use serde_json::{Value, json};

use crate::admin_returns::{delivered, inspect_body, returned, review, spawn};
use crate::helpers::{self, OTHER_TENANT, Options, TENANT, TestApp};

fn path(rma: &str) -> String {
    format!("/v1/admin/returns/{rma}/issue-refund")
}

/// A billing agent (refunds) and their sudo token.
fn billing(app: &TestApp, agent: &str) -> (String, String) {
    (
        app.agent_token(TENANT, agent, &["billing"]),
        app.sudo_token(TENANT, agent, &["billing"]),
    )
}

/// A return of one unit of `order`'s first line, approved and inspected with `disposition`.
async fn inspected(app: &TestApp, order: &Order, disposition: &str) -> String {
    let rma = returned(app, order, 1).await;
    let lead = app.agent_token(TENANT, "agt_lea", &["cs_lead"]);
    let approve = json!({"reason": "within policy"});
    let first = review(app, &lead, &rma, "approve", Some("a-1"), approve).await;
    app.job_succeeded(first).await;
    let body = inspect_body(disposition);
    let done = review(app, &lead, &rma, "inspect", Some("i-1"), body).await;
    app.job_succeeded(done).await;
    rma
}

async fn customer_return(app: &TestApp, order: &Order, rma: &str) -> Value {
    let token = app.customer_token(TENANT, &order.customer_id);
    let (status, mine) = app
        .get(
            &format!("/v1/customer/returns/{rma}"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{mine}");
    mine
}

#[tokio::test]
async fn a_return_is_refunded_to_the_card_once_and_the_customer_sees_it() {
    let app = spawn().await;
    let order = delivered(&app);
    let payment = order.payments[0].id.clone();
    let price = order.lines[0].unit_price_minor;
    let rma = returned(&app, &order, 1).await;
    let (token, sudo) = billing(&app, "agt_bill");
    let body = json!({"method": "card", "reason": "goods back in stock"});

    // before an inspection there is nothing proposed to pay
    let (status, b) = app
        .admin_post(&token, &path(&rma), Some("r-0"), Some(&sudo), body.clone())
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (409, Some("return.not_inspected")),
        "{b}"
    );
    let rma = {
        // approved and inspected
        let lead = app.agent_token(TENANT, "agt_lea", &["cs_lead"]);
        let approve = json!({"reason": "within policy"});
        let a = review(&app, &lead, &rma, "approve", Some("a-1"), approve).await;
        app.job_succeeded(a).await;
        let i = review(
            &app,
            &lead,
            &rma,
            "inspect",
            Some("i-1"),
            inspect_body("refund"),
        )
        .await;
        app.job_succeeded(i).await;
        rma
    };

    // the plan: all that was proposed, back to the card, no side effect
    let mut dry = body.clone();
    dry["dry_run"] = json!(true);
    let (status, plan) = app
        .admin_post(&token, &path(&rma), None, Some(&sudo), dry)
        .await;
    assert_eq!((status, &plan["allowed"]), (200, &json!(true)), "{plan}");
    assert_eq!(plan["amount_minor"], json!(price));
    assert_eq!(plan["approval_required"], false);
    let steps = plan["steps"].as_array().unwrap();
    assert!(steps.contains(&json!("refund")) && !steps.contains(&json!("store_credit")));
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        0
    );

    // more than proposed
    let mut too_much = body.clone();
    too_much["amount_minor"] = json!(price + 1);
    let (status, b) = app
        .admin_post(&token, &path(&rma), Some("r-big"), Some(&sudo), too_much)
        .await;
    assert_eq!(
        (status, b["code"].as_str(), &b["refundable_minor"]),
        (422, Some("refund.failed.exceeds_refundable"), &json!(price)),
        "{b}"
    );

    let first = app
        .admin_post(&token, &path(&rma), Some("r-1"), Some(&sudo), body.clone())
        .await;
    let accepted = app.job_succeeded(first).await;
    assert_eq!(accepted["job"]["kind"], "refund_return");
    assert_eq!(
        (
            accepted["amount_minor"].as_i64(),
            accepted["payment_id"].as_str()
        ),
        (Some(price), Some(payment.as_str()))
    );
    // the same key: the same answer; another key: refunded already
    let (status, replay) = app
        .admin_post(&token, &path(&rma), Some("r-1"), Some(&sudo), body.clone())
        .await;
    assert_eq!(
        (status, &replay["job"]["id"]),
        (202, &accepted["job"]["id"])
    );
    let (status, b) = app
        .admin_post(&token, &path(&rma), Some("r-2"), Some(&sudo), body.clone())
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (409, Some("return.already_refunded")),
        "{b}"
    );
    let at_payments = app
        .sandbox_get(&format!("/sandbox/payments/{payment}"))
        .await;
    let refunds = at_payments["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "{at_payments}");
    assert_eq!(refunds[0]["amount_minor"], json!(price));
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        1
    );

    // the customer sees the refund, never who issued it or the payment
    let mine = customer_return(&app, &order, &rma).await;
    let refund = &mine["refund"];
    assert_eq!(
        (
            refund["status"].as_str(),
            refund["method"].as_str(),
            refund["amount_minor"].as_i64(),
            refund["currency"].as_str()
        ),
        (
            Some("issued"),
            Some("card"),
            Some(price),
            Some(order.currency.as_str())
        ),
        "{mine}"
    );
    assert!(refund["issued_at"].is_string(), "{mine}");
    let text = mine.to_string();
    assert!(
        !text.contains("agt_bill") && !text.contains(&payment),
        "{mine}"
    );
}

#[tokio::test]
async fn a_return_is_paid_as_store_credit_once() {
    let app = spawn().await;
    let order = delivered(&app);
    let price = order.lines[0].unit_price_minor;
    let rma = inspected(&app, &order, "store_credit").await;
    let (token, sudo) = billing(&app, "agt_bill");
    let body = json!({"method": "store_credit", "amount_minor": price, "reason": "as proposed"});
    let mut dry = body.clone();
    dry["dry_run"] = json!(true);
    let (_, plan) = app
        .admin_post(&token, &path(&rma), None, Some(&sudo), dry)
        .await;
    let steps = plan["steps"].as_array().unwrap();
    assert!(steps.contains(&json!("store_credit")) && !steps.contains(&json!("refund")));

    let done = app
        .admin_post(&token, &path(&rma), Some("s-1"), Some(&sudo), body.clone())
        .await;
    let accepted = app.job_succeeded(done).await;
    assert!(accepted.get("payment_id").is_none(), "{accepted}");
    let credits = app
        .sandbox_get(&format!(
            "/sandbox/store-credits?customer_id={}",
            order.customer_id
        ))
        .await;
    assert_eq!(credits["data"].as_array().unwrap().len(), 1, "{credits}");
    assert_eq!(credits["balance_minor"], json!(price));
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        0
    );
    let (status, b) = app
        .admin_post(&token, &path(&rma), Some("s-2"), Some(&sudo), body)
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (409, Some("return.already_refunded"))
    );
    let mine = customer_return(&app, &order, &rma).await;
    assert_eq!(
        (
            mine["refund"]["status"].as_str(),
            mine["refund"]["method"].as_str()
        ),
        (Some("issued"), Some("store_credit")),
        "{mine}"
    );
}

/// A return's credit, paid once, stays paid: a run that ended otherwise (cancelled) after it
/// granted the credit, before the return was marked issued, still counts; and once the
/// return says issued, so does the return when retention deleted the run. Each second
/// issue-refund is 409 and Billing holds one credit.
#[tokio::test]
async fn a_return_paid_once_stays_paid_whatever_became_of_its_run() {
    let app = spawn().await;
    let order = delivered(&app);
    let price = order.lines[0].unit_price_minor;
    let rma = inspected(&app, &order, "store_credit").await;
    let (token, sudo) = billing(&app, "agt_bill");
    let body = json!({"method": "store_credit", "amount_minor": price, "reason": "as proposed"});
    let done = app
        .admin_post(&token, &path(&rma), Some("s-1"), Some(&sudo), body.clone())
        .await;
    app.job_succeeded(done).await;
    let credits = format!("/sandbox/store-credits?customer_id={}", order.customer_id);
    let one_credit = || async {
        let held = app.sandbox_get(&credits).await;
        assert_eq!(held["data"].as_array().unwrap().len(), 1, "{held}");
    };
    let refused = |(status, b): (u16, Value)| {
        assert_eq!(
            (status, b["code"].as_str()),
            (409, Some("return.already_refunded")),
            "{b}"
        );
    };
    let mut conn = app.state.db.acquire().await.unwrap();

    // the credit granted, then the run cancelled before `record_refund`
    sqlx::query(
        "UPDATE runs SET status = 'cancelled' WHERE kind = 'refund_return' AND subject_id = $1",
    )
    .bind(&rma)
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("UPDATE returns SET refund_status = 'pending' WHERE rma_id = $1")
        .bind(&rma)
        .execute(&mut *conn)
        .await
        .unwrap();
    refused(
        app.admin_post(&token, &path(&rma), Some("s-2"), Some(&sudo), body.clone())
            .await,
    );
    one_credit().await;

    // recorded as issued, and the run deleted by retention
    sqlx::query("UPDATE returns SET refund_status = 'issued' WHERE rma_id = $1")
        .bind(&rma)
        .execute(&mut *conn)
        .await
        .unwrap();
    let deleted = orderdesk::db::runs::delete_finished(&mut conn, std::time::Duration::ZERO, 100)
        .await
        .unwrap();
    assert!(deleted > 0);
    let runs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM runs WHERE kind = 'refund_return' AND subject_id = $1",
    )
    .bind(&rma)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(runs, 0);
    refused(
        app.admin_post(&token, &path(&rma), Some("s-3"), Some(&sudo), body.clone())
            .await,
    );
    let mut dry = body;
    dry["dry_run"] = json!(true);
    let (_, plan) = app
        .admin_post(&token, &path(&rma), None, Some(&sudo), dry)
        .await;
    assert_eq!(
        plan["blocked_reasons"][0]["code"],
        json!("return.already_refunded"),
        "{plan}"
    );
    one_credit().await;
}

#[tokio::test]
async fn issue_refund_refuses_bad_bodies_tokens_roles_tenants_and_nothing_proposed() {
    let settings = TenantSettings {
        return_window_days: 3650,
        ..seed::demo_settings()
    };
    let mut no_credit = settings.clone();
    no_credit.capabilities.store_credit = false;
    let app = helpers::spawn_with(Options {
        settings: no_credit,
        ..Default::default()
    })
    .await;
    let order = delivered(&app);
    let rma = inspected(&app, &order, "replace").await;
    let (token, sudo) = billing(&app, "agt_bill");
    let p = path(&rma);
    let body = json!({"method": "card", "reason": "x"});

    let res = app.post(&p, Default::default(), &body).await;
    assert_eq!(res.status(), 401);
    let cs = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let cs_sudo = app.sudo_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, _) = app
        .admin_post(&cs, &p, Some("k"), Some(&cs_sudo), body.clone())
        .await;
    assert_eq!(status, 403);
    let (status, b) = app
        .admin_post(&token, &p, Some("k"), None, body.clone())
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (403, Some("auth.sudo_required"))
    );
    for bad in [
        json!({"method": "card", "reason": ""}),
        json!({"method": "card", "reason": "x", "amount_minor": 0}),
        json!({"method": "cash", "reason": "x"}),
        json!({"method": "card", "reason": "x", "extra": 1}),
    ] {
        let (status, b) = app
            .admin_post(&token, &p, Some("k"), Some(&sudo), bad.clone())
            .await;
        assert_eq!(status, 422, "{bad} → {b}");
    }
    let (status, b) = app
        .admin_post(&token, &p, None, Some(&sudo), body.clone())
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (400, Some("idempotency.key_required"))
    );
    let foreign = app.agent_token(OTHER_TENANT, "agt_foreign", &["billing"]);
    let foreign_sudo = app.sudo_token(OTHER_TENANT, "agt_foreign", &["billing"]);
    let (status, _) = app
        .post_as(
            &foreign,
            OTHER_TENANT,
            &p,
            Some("k"),
            Some(&foreign_sudo),
            body.clone(),
        )
        .await;
    assert_eq!(status, 404);
    let unknown = path("rma_unknown");
    let (status, _) = app
        .admin_post(&token, &unknown, Some("k"), Some(&sudo), body.clone())
        .await;
    assert_eq!(status, 404);

    // a replacement proposes no money; the shop offers no store credit
    let (status, b) = app
        .admin_post(&token, &p, Some("k"), Some(&sudo), body)
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (409, Some("return.nothing_to_refund")),
        "{b}"
    );
    let lead = app.agent_token(TENANT, "agt_lea", &["cs_lead"]);
    let again = review(
        &app,
        &lead,
        &rma,
        "inspect",
        Some("i-2"),
        inspect_body("refund"),
    )
    .await;
    app.job_succeeded(again).await;
    let credit = json!({"method": "store_credit", "reason": "x"});
    let (status, b) = app
        .admin_post(&token, &p, Some("k2"), Some(&sudo), credit)
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (409, Some("return.store_credit_unavailable")),
        "{b}"
    );
}

#[tokio::test]
async fn a_return_refund_through_a_flaky_payments_service_is_made_exactly_once() {
    let app = spawn().await;
    let order = delivered(&app);
    let payment = order.payments[0].id.clone();
    let rma = inspected(&app, &order, "refund").await;
    let (token, sudo) = billing(&app, "agt_bill");
    app.set_faults(json!({"service": "payments", "error_rate": 0.5, "lost_response_rate": 0.3}))
        .await;
    let (status, b) = app
        .admin_post(
            &token,
            &path(&rma),
            Some("flaky-1"),
            Some(&sudo),
            json!({"method": "card", "reason": "damaged in transit"}),
        )
        .await;
    assert_eq!(status, 202, "{b}");
    let job = app.wait_job(b["job"]["id"].as_str().unwrap(), 180).await;
    app.clear_faults().await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let at_payments = app
        .sandbox_get(&format!("/sandbox/payments/{payment}"))
        .await;
    let refunds = at_payments["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "{at_payments}");
    assert_eq!(refunds[0]["id"], job["result"]["refund_id"]);
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        1
    );
    let mine = customer_return(&app, &order, &rma).await;
    assert_eq!(mine["refund"]["status"], "issued", "{mine}");
}

#[tokio::test]
async fn a_return_refund_above_the_threshold_waits_for_another_agent() {
    let app = helpers::spawn_with(Options {
        settings: TenantSettings {
            return_window_days: 3650,
            refund_approval_threshold_minor: Some(1),
            ..seed::demo_settings()
        },
        ..Default::default()
    })
    .await;
    let order = delivered(&app);
    let rma = inspected(&app, &order, "refund").await;
    let ann = app.agent_token(TENANT, "agt_ann", &["cs_lead"]);
    let ann_sudo = app.sudo_token(TENANT, "agt_ann", &["cs_lead"]);
    let bob = app.agent_token(TENANT, "agt_bob", &["cs_lead"]);
    let body = json!({"method": "card", "reason": "goodwill"});
    let (status, held) = app
        .admin_post(&ann, &path(&rma), Some("big-1"), Some(&ann_sudo), body)
        .await;
    assert_eq!(status, 202, "{held}");
    assert_eq!(
        (held["status"].as_str(), held["action"].as_str()),
        (Some("pending_approval"), Some("return_refund"))
    );
    let id = held["id"].as_str().unwrap();
    let approve = format!("/v1/admin/approvals/{id}/approve");
    let (status, b) = app.admin_post(&bob, &approve, None, None, json!({})).await;
    assert_eq!(status, 200, "{b}");
    let execute = format!("/v1/admin/approvals/{id}/execute");
    let done = app.admin_post(&ann, &execute, None, None, json!({})).await;
    let done = app.job_succeeded(done).await;
    assert_eq!(done["job"]["kind"], "refund_return");
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        1
    );
}
