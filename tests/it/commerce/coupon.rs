//! `POST /v1/customer/orders/{id}/apply-coupon`: a preview at the Promotions service that
//! changes nothing; every reason a coupon does not apply; bad codes; isolation; outage.

use orderdesk::domain::order::Order;
use serde_json::{Value, json};

use super::{count, post, post_anonymous, stranger};
use crate::helpers::{self, OTHER_TENANT, Options, TENANT, TestApp};

fn path(order: &Order) -> String {
    format!("/v1/customer/orders/{}/apply-coupon", order.id)
}

/// An order that takes coupons (pending or confirmed) and matches `want`.
fn open_order(app: &TestApp, want: impl Fn(&Order) -> bool) -> Order {
    app.orders
        .iter()
        .filter(|o| matches!(o.status.as_str(), "pending" | "confirmed"))
        .find(|o| want(o))
        .expect("a seeded open order of that kind")
        .clone()
}

async fn apply(app: &TestApp, order: &Order, code: Value) -> (u16, Value) {
    let token = app.customer_token(TENANT, &order.customer_id);
    let (s, _, b) = post(
        app,
        &token,
        TENANT,
        &path(order),
        None,
        None,
        &json!({ "code": code }),
    )
    .await;
    (s, b)
}

#[tokio::test]
async fn previews_a_discount_without_using_the_coupon() {
    let app = helpers::spawn_with(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = open_order(&app, |_| true);
    let (s, first) = apply(&app, &order, json!(" welcome10 ")).await;
    assert_eq!(s, 200, "{first}");
    let discount = order.totals.subtotal_minor * 10 / 100;
    assert_eq!(first["code"], "WELCOME10");
    assert_eq!(first["discount_minor"], discount);
    assert_eq!(
        first["totals"]["total_minor"],
        order.totals.total_minor - discount
    );
    assert_eq!(first["totals"]["discount_minor"], discount);
    assert_eq!(first["current_totals"], json!(order.totals));
    assert_eq!(first["consumed"], false);
    let (s, again) = apply(&app, &order, json!("WELCOME10")).await;
    assert_eq!(
        (s, &again),
        (200, &first),
        "a preview can be repeated: nothing was used up"
    );
    assert!(app.effects(TENANT, &order.id).await.is_empty());
    assert_eq!(count(&app, "runs").await, 0);

    let shipped = open_order(&app, |o| o.totals.shipping_minor > 0);
    let (s, b) = apply(&app, &shipped, json!("SHIPFREE")).await;
    assert_eq!(
        (s, b["discount_minor"].as_i64()),
        (200, Some(shipped.totals.shipping_minor)),
        "{b}"
    );
}

#[tokio::test]
async fn says_why_a_coupon_does_not_apply() {
    let app = helpers::spawn_with(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let any = open_order(&app, |_| true);
    let small = open_order(&app, |o| o.totals.subtotal_minor < 25_000);
    let free_shipping = open_order(&app, |o| o.totals.shipping_minor == 0);
    let no_mug = open_order(&app, |o| o.lines.iter().all(|l| l.sku != "SKU-MUG"));
    for (order, code, reason) in [
        (&any, "NOPE2024", "coupon.unknown"),
        (&any, "summer24", "coupon.expired"),
        (&small, "BIG50", "coupon.minimum_not_met"),
        (&free_shipping, "SHIPFREE", "coupon.not_applicable"),
        (&no_mug, "MUGS20", "coupon.not_applicable"),
    ] {
        let (s, b) = apply(&app, order, json!(code)).await;
        assert_eq!((s, b["code"].as_str()), (422, Some(reason)), "{code}: {b}");
        assert!(!b["detail"].as_str().unwrap().is_empty());
        if reason == "coupon.minimum_not_met" {
            assert_eq!(b["minimum_minor"], 25_000, "{b}");
        }
    }
}

#[tokio::test]
async fn refuses_bad_codes_strangers_closed_orders_and_reports_an_outage() {
    let app = helpers::spawn_with(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = open_order(&app, |_| true);
    let token = app.customer_token(TENANT, &order.customer_id);
    for body in [
        json!({}),
        json!({"code": ""}),
        json!({"code": "TEN OFF"}),
        json!({"code": "A".repeat(33)}),
        json!({"code": "WELCOME10", "extra": 1}),
        json!({"code": 10}),
    ] {
        let (s, _, b) = post(&app, &token, TENANT, &path(&order), None, None, &body).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (422, Some("validation.failed")),
            "{body}: {b}"
        );
    }
    let (s, _) = post_anonymous(&app, &path(&order), &json!({"code": "WELCOME10"})).await;
    assert_eq!(s, 401);
    let other = app.customer_token(TENANT, stranger(&app, &order));
    let (s, _, b) = post(
        &app,
        &other,
        TENANT,
        &path(&order),
        None,
        None,
        &json!({"code": "WELCOME10"}),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("order.not_found")));
    let foreign = app.customer_token(OTHER_TENANT, &order.customer_id);
    let (s, _, _) = post(
        &app,
        &foreign,
        OTHER_TENANT,
        &path(&order),
        None,
        None,
        &json!({"code": "WELCOME10"}),
    )
    .await;
    assert_eq!(s, 404);

    let shipped = app.order_in("shipped").clone();
    let (s, b) = apply(&app, &shipped, json!("WELCOME10")).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (409, Some("coupon.order_not_open")),
        "{b}"
    );

    app.set_faults(json!({"service": "promotions", "error_rate": 1.0}))
        .await;
    let (s, b) = apply(&app, &order, json!("WELCOME10")).await;
    app.clear_faults().await;
    assert_eq!(
        (s, b["code"].as_str()),
        (503, Some("coupon.preview_unavailable")),
        "{b}"
    );
}
