//! `allowed_actions` and the actions' own endpoints must never disagree: for every seeded
//! order, under generous, tight and switched-off tenant settings, each action's endpoint is
//! called with a request that is valid apart from eligibility. Where `allowed_actions` says
//! no, the endpoint refuses the real request with 409 and the same code; where it says yes,
//! the endpoint's dry run (or the coupon preview) goes through.

use std::collections::{BTreeMap, BTreeSet};

use orderdesk::domain::ids::TenantId;
use orderdesk::domain::order::Order;
use orderdesk::domain::settings::{Capabilities, TenantSettings};
use serde_json::{Value, json};

use super::spawn;
use crate::helpers::{TENANT, TestApp};

const TEN_YEARS_MINUTES: i64 = 60 * 24 * 365 * 10;

fn variants() -> [(&'static str, TenantSettings); 3] {
    let generous = TenantSettings {
        cancel_window_minutes: TEN_YEARS_MINUTES,
        return_window_days: 3650,
        address_change_window_minutes: TEN_YEARS_MINUTES,
        ..orderdesk::seed::demo_settings()
    };
    let tight = TenantSettings {
        cancel_window_minutes: 1,
        return_window_days: 1,
        address_change_window_minutes: 1,
        ..generous.clone()
    };
    let switched_off = TenantSettings {
        capabilities: Capabilities {
            returns_enabled: false,
            exchanges_enabled: false,
            reorder_enabled: false,
            coupons_enabled: false,
            ..Capabilities::default()
        },
        ..generous.clone()
    };
    [
        ("generous", generous),
        ("tight", tight),
        ("switched_off", switched_off),
    ]
}

/// A line delivered to the customer when there is one (the first line otherwise): a return
/// or exchange of it is refused, if at all, for the order's reasons only.
fn delivered_line(order: &Order) -> (String, String) {
    let line_id = order
        .shipments
        .iter()
        .filter(|s| s.delivered_at.is_some())
        .flat_map(|s| s.lines.iter())
        .map(|l| l.line_id.clone())
        .next()
        .unwrap_or_else(|| order.lines[0].id.clone());
    let sku = order
        .lines
        .iter()
        .find(|l| l.id == line_id)
        .map(|l| l.sku.clone())
        .unwrap();
    (line_id, sku)
}

/// Each action's endpoint and a body valid in every respect but eligibility.
fn calls(order: &Order) -> [(&'static str, &'static str, Value); 6] {
    let (line_id, sku) = delivered_line(order);
    [
        ("cancel", "cancel-request", json!({"dry_run": true})),
        (
            "return",
            "return-request",
            json!({"lines": [{"line_id": line_id, "qty": 1, "reason": "damaged"}],
                "preferred_refund": "card", "method": "dropoff", "dry_run": true}),
        ),
        (
            "replace",
            "replace-request",
            json!({"lines": [{"line_id": line_id, "qty": 1, "reason": "wrong_item",
                "replacement_sku": sku}], "dry_run": true}),
        ),
        ("reorder", "reorder", json!({"dry_run": true})),
        (
            "update_address",
            "update-address",
            json!({"address": {"name": "Ada Lovelace", "line1": "12 Keizersgracht",
                "city": "Amsterdam", "postal_code": "1015 CJ", "country": "NL"},
                "dry_run": true}),
        ),
        ("apply_coupon", "apply-coupon", json!({"code": "WELCOME10"})),
    ]
}

async fn use_settings(app: &TestApp, settings: &TenantSettings) {
    let mut conn = app.state.db.acquire().await.unwrap();
    orderdesk::db::tenants::upsert(&mut conn, &TenantId::new(TENANT), TENANT, settings)
        .await
        .unwrap();
    // as `PATCH /v1/admin/settings` does: the api's next read sees the change at once, not
    // when the change's NOTIFY reaches its cache
    app.state.tenant_settings.invalidate(&TenantId::new(TENANT));
}

#[tokio::test]
async fn allowed_actions_agree_with_every_action_endpoint() {
    let app = spawn().await;
    // action → the codes it was refused with / how often it was allowed
    let mut refused: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut allowed: BTreeMap<&str, usize> = BTreeMap::new();
    for (variant, settings) in variants() {
        use_settings(&app, &settings).await;
        for order in &app.orders {
            let token = app.customer_token(TENANT, &order.customer_id);
            let (status, detail) = app
                .get(
                    &format!("/v1/customer/orders/{}", order.id),
                    app.auth(&token, TENANT),
                )
                .await;
            assert_eq!(status, 200, "{detail}");
            for (action, endpoint, body) in calls(order) {
                let verdict = &detail["allowed_actions"][action];
                let mut h = app.auth(&token, TENANT);
                let key = format!("agree-{variant}-{action}-{}", order.id);
                h.insert("idempotency-key", key.parse().unwrap());
                let path = format!("/v1/customer/orders/{}/{endpoint}", order.id);
                let mut body = body;
                if verdict["allowed"] != true {
                    // the real request, not its dry run: it must be refused outright (no
                    // worker runs in this app, so a wrongly accepted one changes nothing)
                    body.as_object_mut().unwrap().remove("dry_run");
                }
                let res = app.post(&path, h, &body).await;
                let status = res.status().as_u16();
                let answer: Value = res.json().await.unwrap_or(Value::Null);
                let context = format!("{variant} {action} {} ({:?})", order.id, order.status);
                if verdict["allowed"] == true {
                    // a coupon may still not apply to this basket (422 coupon.*): that is
                    // the preview's answer, not an eligibility refusal
                    let coupon_reason = action == "apply_coupon"
                        && status == 422
                        && answer["code"]
                            .as_str()
                            .is_some_and(|c| c.starts_with("coupon."));
                    assert!(
                        status == 200 || coupon_reason,
                        "{context}: allowed, yet the endpoint answered {status} {answer}"
                    );
                    *allowed.entry(action).or_default() += 1;
                } else {
                    assert_eq!(status, 409, "{context}: {answer}");
                    assert_eq!(
                        answer["code"], verdict["reason"]["code"],
                        "{context}: the endpoint and allowed_actions disagree"
                    );
                    let code = answer["code"].as_str().unwrap().to_string();
                    refused.entry(action).or_default().insert(code);
                }
            }
        }
    }

    let expected_refusals: [(&str, &[&str]); 6] = [
        (
            "cancel",
            &[
                "order.blocked.already_shipped",
                "order.blocked.already_cancelled",
                "order.blocked.closed",
                "order.blocked.on_hold",
                "order.blocked.cancel_window_expired",
            ],
        ),
        ("return", &["return.not_eligible", "return.disabled"]),
        ("replace", &["replace.not_eligible", "replace.disabled"]),
        ("reorder", &["reorder.disabled"]),
        (
            "update_address",
            &["address.already_shipped", "address.change_window_expired"],
        ),
        (
            "apply_coupon",
            &["coupon.disabled", "coupon.order_not_open"],
        ),
    ];
    for (action, codes) in expected_refusals {
        let seen = refused.get(action).cloned().unwrap_or_default();
        for code in codes {
            assert!(
                seen.contains(*code),
                "{action}: no order was refused with {code} (seen {seen:?})"
            );
        }
        assert!(
            allowed.get(action).copied().unwrap_or(0) > 0,
            "{action}: no order was allowed, so the allowed side went untested"
        );
    }
}
