//! An agent's price adjustment (`POST /v1/admin/orders/{id}/adjust-price`): a credit note or
//! an invoice adjustment made once at the sandbox's Billing, bounded by the line's or order's
//! total, shown on the customer's invoice with the balance, and counted by the money
//! reconciliation (a credit note without its refund is `refund.owed`); every refusal.

use serde_json::{Value, json};

use crate::documents::pdf_shows;
use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

fn path(order_id: &str) -> String {
    format!("/v1/admin/orders/{order_id}/adjust-price")
}

fn codes(b: &Value) -> Vec<(String, Option<i64>)> {
    b["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["difference_minor"].as_i64(),
            )
        })
        .collect()
}

/// The customer's invoice PDF of the order, as its download link serves it.
async fn invoice_pdf(app: &TestApp, order_id: &str, customer_id: &str) -> Vec<u8> {
    let token = app.customer_token(TENANT, customer_id);
    let (status, link) = app
        .get(
            &format!("/v1/customer/orders/{order_id}/invoice"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{link}");
    let url = link["url"].as_str().unwrap();
    let url = match url.starts_with('/') {
        true => format!("{}{url}", app.api),
        false => url.to_string(),
    };
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn a_credit_note_is_made_once_shown_on_the_invoice_and_reconciled_with_its_refund() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let line = order.lines[0].clone();
    let payment = order.payments[0].id.clone();
    let token = app.agent_token(TENANT, "agt_bill", &["billing"]);
    let sudo = app.sudo_token(TENANT, "agt_bill", &["billing"]);
    let p = path(order.id.as_str());
    let credit = json!({"kind": "credit", "amount_minor": 300, "line_id": line.id,
                        "reason": "price match"});

    // the plan, with what the line may still be credited
    let mut dry = credit.clone();
    dry["dry_run"] = json!(true);
    let (status, plan) = app.admin_post(&token, &p, None, Some(&sudo), dry).await;
    assert_eq!((status, &plan["allowed"]), (200, &json!(true)), "{plan}");
    assert_eq!(plan["creditable_minor"], json!(line.total_minor));
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "billing.credit_note")
            .await,
        0
    );

    let first = app
        .admin_post(&token, &p, Some("c-1"), Some(&sudo), credit.clone())
        .await;
    let accepted = app.job_succeeded(first).await;
    assert_eq!(accepted["job"]["kind"], "adjust_price");
    let job = app
        .wait_job(accepted["job"]["id"].as_str().unwrap(), 20)
        .await;
    let note = job["result"]["credit_note_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(note.starts_with("cn_"), "{job}");
    let (status, replay) = app
        .admin_post(&token, &p, Some("c-1"), Some(&sudo), credit.clone())
        .await;
    assert_eq!(
        (status, &replay["job"]["id"]),
        (202, &accepted["job"]["id"])
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "billing.credit_note")
            .await,
        1
    );

    // the line's total bounds its credits, the earlier one counted
    let mut rest = credit.clone();
    rest["amount_minor"] = json!(line.total_minor - 300 + 1);
    let (status, b) = app
        .admin_post(&token, &p, Some("c-2"), Some(&sudo), rest)
        .await;
    assert_eq!(
        (status, b["code"].as_str(), &b["creditable_minor"]),
        (
            422,
            Some("adjustment.exceeds_total"),
            &json!(line.total_minor - 300)
        ),
        "{b}"
    );

    // credited but not refunded: the reconciliation names the refund owed
    let finance = app.agent_token(TENANT, "agt_fin", &["finance"]);
    let recon = format!("/v1/admin/orders/{}/reconciliation", order.id);
    let (status, b) = app.get(&recon, app.auth(&finance, TENANT)).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(codes(&b), [("refund.owed".to_string(), Some(300))], "{b}");
    assert_eq!(b["totals"]["credit_notes_minor"], 300);
    assert_eq!(
        b["totals"]["invoiced_minor"],
        json!(order.totals.total_minor - 300)
    );
    let refund = json!({"amount_minor": 300, "reason": "price match"});
    let refunded = app
        .admin_post(
            &token,
            &format!("/v1/admin/payments/{payment}/refund"),
            Some("rf-1"),
            Some(&sudo),
            refund,
        )
        .await;
    app.job_succeeded(refunded).await;
    let (_, b) = app.get(&recon, app.auth(&finance, TENANT)).await;
    assert_eq!(b["balanced"], true, "{b}");

    // a debit of the whole order
    let debit = json!({"kind": "debit", "amount_minor": 150, "reason": "gift wrap"});
    let done = app
        .admin_post(&token, &p, Some("d-1"), Some(&sudo), debit)
        .await;
    let done = app.job_succeeded(done).await;
    let job = app.wait_job(done["job"]["id"].as_str().unwrap(), 20).await;
    let adjustment = job["result"]["adjustment_id"].as_str().unwrap().to_string();
    assert!(adjustment.starts_with("adj_"), "{job}");

    // the customer's invoice shows both and the balance
    let pdf = invoice_pdf(&app, order.id.as_str(), order.customer_id.as_str()).await;
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf_shows(
        &pdf,
        &format!("Credit note {note} ({})", line.sku)
    ));
    assert!(pdf_shows(&pdf, &format!("Adjustment {adjustment}")));
    assert!(pdf_shows(&pdf, "Balance"));
}

#[tokio::test]
async fn adjust_price_refuses_bad_bodies_tokens_roles_tenants_and_stale_versions() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let token = app.agent_token(TENANT, "agt_bill", &["billing"]);
    let sudo = app.sudo_token(TENANT, "agt_bill", &["billing"]);
    let p = path(order.id.as_str());
    let body = json!({"kind": "credit", "amount_minor": 100, "reason": "x"});

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
        json!({"kind": "credit", "amount_minor": 0, "reason": "x"}),
        json!({"kind": "credit", "amount_minor": 100, "reason": " "}),
        json!({"kind": "refund", "amount_minor": 100, "reason": "x"}),
        json!({"kind": "credit", "amount_minor": 100, "reason": "x", "line_id": ""}),
        json!({"kind": "credit", "amount_minor": 100, "reason": "x", "extra": true}),
    ] {
        let (status, b) = app
            .admin_post(&token, &p, Some("k"), Some(&sudo), bad.clone())
            .await;
        assert_eq!(status, 422, "{bad} → {b}");
    }
    let unknown_line = json!({"kind": "credit", "amount_minor": 1, "reason": "x",
                              "line_id": "line_nope"});
    let (status, b) = app
        .admin_post(&token, &p, Some("k-l"), Some(&sudo), unknown_line)
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (422, Some("adjustment.unknown_line"))
    );
    let whole = json!({"kind": "credit", "amount_minor": order.totals.total_minor + 1,
                       "reason": "x"});
    let (status, b) = app
        .admin_post(&token, &p, Some("k-w"), Some(&sudo), whole)
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (422, Some("adjustment.exceeds_total"))
    );
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
    let mut stale = body.clone();
    stale["version"] = json!(order.version + 100);
    let (status, b) = app
        .admin_post(&token, &p, Some("k-v"), Some(&sudo), stale)
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (409, Some("order.version_mismatch")),
        "{b}"
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "billing.credit_note")
            .await,
        0
    );
}

#[tokio::test]
async fn a_credit_note_through_a_flaky_billing_service_is_made_exactly_once() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let token = app.agent_token(TENANT, "agt_bill", &["billing"]);
    let sudo = app.sudo_token(TENANT, "agt_bill", &["billing"]);
    // Each attempt makes two calls (the invoice, then the note), each through both faults: at
    // 0.5/0.3 one attempt in eight got through and 25 attempts all failed in ~4 % of runs.
    // At 0.2/0.3 an attempt succeeds ~31 % of the time: all 25 fail in ~1 run in 10^4.
    app.set_faults(json!({"service": "billing", "error_rate": 0.2, "lost_response_rate": 0.3}))
        .await;
    let (status, b) = app
        .admin_post(
            &token,
            &path(order.id.as_str()),
            Some("flaky-1"),
            Some(&sudo),
            json!({"kind": "credit", "amount_minor": 250, "reason": "late delivery"}),
        )
        .await;
    assert_eq!(status, 202, "{b}");
    let job = app.wait_job(b["job"]["id"].as_str().unwrap(), 180).await;
    app.clear_faults().await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "billing.credit_note")
            .await,
        1
    );
}
