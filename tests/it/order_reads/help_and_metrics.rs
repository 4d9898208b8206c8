//! Help entries by order state, and spending metrics per currency.

use std::collections::BTreeMap;

use orderdesk::auth::mint::{MintRequest, mint};
use orderdesk::domain::ids::{CustomerId, TenantId};
use orderdesk::domain::order::{Order, OrderStatus};
use serde_json::{Value, json};

use super::{assert_order_read_refusals, codes, fresh_copy, no_token, put_view, spawn};
use crate::helpers::{OTHER_TENANT, TENANT, TestApp};

async fn faq_ids(app: &TestApp, order: &Order) -> Vec<String> {
    let token = app.customer_token(TENANT, &order.customer_id);
    let (status, body) = app
        .get(
            &format!("/v1/customer/orders/{}/faq", order.id),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let data = body["data"].as_array().unwrap();
    assert!(
        data.iter()
            .all(|e| e["question"].is_string() && e["answer"].is_string())
    );
    codes(&body["data"], "id")
}

#[tokio::test]
async fn faq_follows_the_order_state() {
    let app = spawn().await;
    // seeded in January 2026: the ETA of a shipped order has passed
    let shipped = app.order_in("shipped").clone();
    let ids = faq_ids(&app, &shipped).await;
    assert_eq!(
        ids.first().map(String::as_str),
        Some("delivery_late"),
        "{ids:?}"
    );
    assert!(ids.contains(&"cancel_not_possible".to_string()));
    assert_eq!(ids.last().map(String::as_str), Some("contact_support"));

    let old = faq_ids(&app, app.order_in("delivered")).await;
    assert!(old.contains(&"return_window_closed".to_string()), "{old:?}");
    let fresh = fresh_copy(&app, "delivered", "ord_fresh_delivered", "990002");
    put_view(&app, &fresh).await;
    let recent = faq_ids(&app, &fresh).await;
    assert!(
        recent.contains(&"return_window_open".to_string()),
        "{recent:?}"
    );

    let held = faq_ids(&app, app.order_in("on_hold")).await;
    assert_eq!(held.first().map(String::as_str), Some("on_hold"));
    let cancelled = faq_ids(&app, app.order_in("cancelled")).await;
    assert!(
        cancelled.contains(&"refund_issued".to_string()),
        "{cancelled:?}"
    );

    assert_order_read_refusals(&app, &shipped, "/faq").await;
}

/// What the metrics of `orders` must be, per currency.
fn expected(orders: &[&Order]) -> Value {
    let mut per: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    for o in orders {
        let e = per.entry(o.currency.as_str()).or_default();
        if o.status == OrderStatus::Cancelled {
            e.1 += 1;
        } else {
            e.0 += 1;
            e.2 += o.totals.total_minor - o.payments.iter().map(|p| p.refunded_minor).sum::<i64>();
        }
    }
    let data: Vec<Value> = per
        .into_iter()
        .map(|(currency, (count, cancelled, spend))| {
            let average = if count == 0 {
                0
            } else {
                (2 * spend + count) / (2 * count)
            };
            json!({
                "currency": currency,
                "orders_count": count,
                "cancelled_count": cancelled,
                "total_spend": {"amount_minor": spend, "currency": currency},
                "average_order_value": {"amount_minor": average, "currency": currency},
            })
        })
        .collect();
    json!({ "data": data })
}

#[tokio::test]
async fn metrics_sum_spend_per_currency_without_cancelled_orders() {
    let app = spawn().await;
    let path = "/v1/customer/orders/metrics";
    let customer = app.order_in("cancelled").customer_id.clone();
    let customer = customer.as_str();
    let mut own: Vec<&Order> = app
        .orders
        .iter()
        .filter(|o| o.customer_id == customer)
        .collect();
    // a second currency, so grouping is exercised
    let mut francs = fresh_copy(&app, "delivered", "ord_chf", "990003");
    francs.customer_id = customer.into();
    francs.currency = "CHF".into();
    put_view(&app, &francs).await;
    own.push(&francs);

    let token = app.customer_token(TENANT, customer);
    let (status, body) = app.get(path, app.auth(&token, TENANT)).await;
    assert_eq!(
        status, 200,
        "`metrics` is not taken for an order id: {body}"
    );
    let want = expected(&own);
    assert_eq!(body, want);
    assert_eq!(body["data"].as_array().unwrap().len(), 2);

    let (status, body) = app
        .get(&format!("{path}?currency=CHF"), app.auth(&token, TENANT))
        .await;
    assert_eq!((status, body["data"].as_array().unwrap().len()), (200, 1));
    assert_eq!(body["data"][0]["currency"], "CHF");
    let (status, body) = app
        .get(&format!("{path}?currency=eur"), app.auth(&token, TENANT))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation.failed"))
    );
    let (status, _) = app.get(path, no_token()).await;
    assert_eq!(status, 401);

    // another customer and the same customer id in another tenant see their own numbers
    let other_id = app
        .orders
        .iter()
        .map(|o| o.customer_id.as_str())
        .find(|c| *c != customer)
        .unwrap();
    let other = app.customer_token(TENANT, other_id);
    let (_, body) = app.get(path, app.auth(&other, TENANT)).await;
    let theirs: Vec<&Order> = app
        .orders
        .iter()
        .filter(|o| o.customer_id == other_id)
        .collect();
    assert_eq!(body, expected(&theirs));
    let foreign_orders = orderdesk::seed::demo_orders(&TenantId::new(OTHER_TENANT), 2, 12);
    let foreign: Vec<&Order> = foreign_orders
        .iter()
        .filter(|o| o.customer_id == customer)
        .collect();
    let token = app.customer_token(OTHER_TENANT, customer);
    let (_, body) = app.get(path, app.auth(&token, OTHER_TENANT)).await;
    assert_eq!(body, expected(&foreign));
    assert_ne!(body, want);

    // a guest token counts its one order only
    let one = own
        .iter()
        .find(|o| o.status == OrderStatus::Delivered)
        .unwrap();
    let guest = mint(
        &app.config,
        &MintRequest::customer(&TenantId::new(TENANT), &CustomerId::new(customer)).order(&one.id),
    )
    .unwrap();
    let (_, body) = app.get(path, app.auth(&guest, TENANT)).await;
    assert_eq!(body, expected(&[*one]));
}
