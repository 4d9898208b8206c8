//! Each filter family, `and`/`or`/`not`, full text, and hostile strings in every string field.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use orderdesk::domain::order::{FraudState, Order, OrderStatus};
use serde_json::{Value, json};

use super::{all_ids, fulfillment, ids_of, matched, refused, search, seeded, spawn};

#[tokio::test]
async fn each_filter_family_finds_exactly_the_seeded_orders_it_describes() {
    let app = spawn().await;
    let o = app.orders[9].clone();
    let shipped = app.order_in("shipped").clone();
    let tracking = shipped.shipments[0].tracking_number.clone();
    let sku = o.lines[0].sku.clone();
    let marketplace = app
        .orders
        .iter()
        .find(|o| o.external_ref.is_some())
        .unwrap()
        .clone();
    let (since, until): (DateTime<Utc>, DateTime<Utc>) =
        (app.orders[60].placed_at, app.orders[70].placed_at);
    type Keep = Box<dyn Fn(&Order) -> bool>;
    let cases: Vec<(Value, Keep)> = vec![
        (json!({"customer_id": {"eq": o.customer_id}}), {
            let c = o.customer_id.clone();
            Box::new(move |x| x.customer_id == c)
        }),
        (
            json!({"email": {"in": [o.email, "nobody@example.test"]}}),
            {
                let e = o.email.clone();
                Box::new(move |x| x.email == e)
            },
        ),
        (
            json!({"email": {"contains": "S_0002@EXAMPLE"}}),
            Box::new(|x| x.email == "cus_0002@example.test"),
        ),
        (json!({"id": {"in": [o.id, shipped.id]}}), {
            let (a, b) = (o.id.clone(), shipped.id.clone());
            Box::new(move |x| x.id == a || x.id == b)
        }),
        (json!({"number": {"eq": o.number}}), {
            let n = o.number.clone();
            Box::new(move |x| x.number == n)
        }),
        (
            json!({"status": {"in": ["confirmed", "on_hold"]}}),
            Box::new(|x| matches!(x.status, OrderStatus::Confirmed | OrderStatus::OnHold)),
        ),
        (
            json!({"payment_status": {"eq": "authorized"}}),
            Box::new(|x| x.payments.last().unwrap().status == "authorized"),
        ),
        (
            json!({"fulfillment_status": {"in": ["partial", "in_transit"]}}),
            Box::new(|x| matches!(fulfillment(x), "partial" | "in_transit")),
        ),
        (json!({"external_ref": {"eq": marketplace.external_ref}}), {
            let id = marketplace.id.clone();
            Box::new(move |x| x.id == id)
        }),
        (
            json!({"external_ref": {"exists": false}}),
            Box::new(|x| x.external_ref.is_none()),
        ),
        (json!({"sku": {"contains": sku}}), {
            let s = sku.clone();
            Box::new(move |x| x.lines.iter().any(|l| l.sku == s))
        }),
        (
            json!({"tracking_number": {"in": [tracking, "TRK-NONE"]}}),
            {
                let t = tracking.clone();
                Box::new(move |x| x.shipments.iter().any(|s| s.tracking_number == t))
            },
        ),
        (
            json!({"tracking_number": {"exists": true}}),
            Box::new(|x| !x.shipments.is_empty()),
        ),
        (
            json!({"channel": {"in": ["pos", "app"]}}),
            Box::new(|x| matches!(x.channel.as_deref(), Some("pos" | "app"))),
        ),
        (
            json!({"tags": {"contains": "vip"}}),
            Box::new(|x| x.tags.iter().any(|t| t == "vip")),
        ),
        (
            json!({"tags": {"exists": false}}),
            Box::new(|x| x.tags.is_empty()),
        ),
        (
            json!({"and": [{"currency": {"eq": "EUR"}}, {"total_minor": {"gte": 5000, "lt": 9000}}]}),
            Box::new(|x| x.currency == "EUR" && (5000..9000).contains(&x.totals.total_minor)),
        ),
        (json!({"total_minor": {"eq": o.totals.total_minor}}), {
            let t = o.totals.total_minor;
            Box::new(move |x| x.totals.total_minor == t)
        }),
        (
            json!({"placed_at": {"gte": since, "lt": until}}),
            Box::new(move |x| x.placed_at >= since && x.placed_at < until),
        ),
        (
            json!({"placed_at": {"gt": since, "lte": until}}),
            Box::new(move |x| x.placed_at > since && x.placed_at <= until),
        ),
        (
            json!({"total_minor": {"gt": 5000, "lte": 9000}}),
            Box::new(|x| x.totals.total_minor > 5000 && x.totals.total_minor <= 9000),
        ),
        (
            json!({"sku": {"in": ["SKU-LAMP", "SKU-PEN"]}}),
            Box::new(|x| {
                x.lines
                    .iter()
                    .any(|l| l.sku == "SKU-LAMP" || l.sku == "SKU-PEN")
            }),
        ),
        (
            json!({"updated_at": {"lte": Utc::now() + chrono::Duration::hours(1)}}),
            Box::new(|_| true),
        ),
        (
            json!({"on_hold": {"eq": true}}),
            Box::new(|x| x.status == OrderStatus::OnHold),
        ),
        (
            json!({"fraud_state": {"eq": "review"}}),
            Box::new(|x| x.fraud_state == Some(FraudState::Review)),
        ),
        (
            json!({"fraud_state": {"exists": true}}),
            Box::new(|x| x.fraud_state.is_some()),
        ),
    ];
    for (filter, keep) in cases {
        let want = seeded(&app, keep);
        assert!(!want.is_empty(), "the seed has orders for {filter}");
        assert_eq!(matched(&app, filter.clone()).await, want, "{filter}");
    }
}

#[tokio::test]
async fn and_or_not_nest_and_the_issue_example_works_verbatim() {
    let app = spawn().await;
    let example = json!({
        "filter": {"and": [{"status": {"in": ["confirmed", "on_hold"]}},
                           {"placed_at": {"gte": "2026-01-01T00:00:00Z"}},
                           {"not": {"tags": {"contains": "vip"}}}]},
        "text": "Market Street",
        "sort": [{"field": "placed_at", "dir": "desc"}],
        "aggregations": {"by_status": {"terms": "status"},
                         "revenue": {"sum": "total_minor", "by": "currency"},
                         "per_day": {"histogram": "placed_at", "interval": "day"}},
        "limit": 50, "cursor": null
    });
    let out = search(&app, example).await;
    let want = seeded(&app, |o| {
        matches!(o.status, OrderStatus::Confirmed | OrderStatus::OnHold)
            && !o.tags.iter().any(|t| t == "vip")
            && o.shipping_address.line1.contains("Market Street")
    });
    assert!(!want.is_empty(), "the seed has orders for the example");
    assert!(
        want.len() * 4 < app.orders.len(),
        "the text narrows the example"
    );
    assert_eq!(ids_of(&out).into_iter().collect::<BTreeSet<_>>(), want);
    assert_eq!(out["next_cursor"], Value::Null);
    let by_status: BTreeMap<&str, i64> = out["aggregations"]["by_status"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["key"].as_str().unwrap(), b["count"].as_i64().unwrap()))
        .collect();
    let count = |s: OrderStatus| {
        let in_status = seeded(&app, |o| o.status == s);
        want.intersection(&in_status).count() as i64
    };
    assert_eq!(
        by_status,
        BTreeMap::from([
            ("confirmed", count(OrderStatus::Confirmed)),
            ("on_hold", count(OrderStatus::OnHold))
        ])
    );

    let or_not = json!({"or": [{"channel": {"eq": "pos"}},
                               {"not": {"or": [{"currency": {"eq": "EUR"}}, {"tags": {"exists": true}}]}}]});
    let want = seeded(&app, |o| {
        o.channel.as_deref() == Some("pos") || (o.currency != "EUR" && o.tags.is_empty())
    });
    assert_eq!(matched(&app, or_not).await, want);
    // `not` keeps the orders that have no value at all
    let not_in_review = json!({"not": {"fraud_state": {"eq": "review"}}});
    let want = seeded(&app, |o| o.fraud_state != Some(FraudState::Review));
    assert!(want.iter().any(|id| {
        app.orders
            .iter()
            .any(|o| o.id.as_str() == id && o.fraud_state.is_none())
    }));
    assert_eq!(matched(&app, not_in_review).await, want);
}

#[tokio::test]
async fn full_text_finds_names_addresses_and_notes() {
    let app = spawn().await;
    let text = |t: &str| json!({"text": t, "limit": 200});
    let notes = all_ids(&app, text("neighbour")).await;
    let want = seeded(&app, |o| {
        o.notes.iter().any(|n| n.body.contains("neighbour"))
    });
    assert!(!want.is_empty());
    assert_eq!(notes.into_iter().collect::<BTreeSet<_>>(), want);

    let third = &app.orders[2].shipping_address.name;
    let name = all_ids(&app, text(&format!("\"{third}\""))).await;
    let want = seeded(&app, |o| o.shipping_address.name == *third);
    assert!(!want.is_empty() && want.len() < app.orders.len());
    assert_eq!(name.into_iter().collect::<BTreeSet<_>>(), want);

    let city = all_ids(&app, text("\"Rue de Rivoli\" paris")).await;
    let want = seeded(&app, |o| {
        o.shipping_address.city == "Paris" && o.shipping_address.line1.ends_with("Rue de Rivoli")
    });
    assert!(!want.is_empty());
    assert_eq!(city.into_iter().collect::<BTreeSet<_>>(), want);

    // words of any script, matched without regard to case
    let athens = seeded(&app, |o| o.shipping_address.city == "Αθήνα");
    assert!(!athens.is_empty() && athens.len() < app.orders.len());
    for t in ["αθήνα", "ΑΘΉΝΑ", "\"Ερμού 1\""] {
        let found = all_ids(&app, text(t)).await;
        assert_eq!(found.into_iter().collect::<BTreeSet<_>>(), athens, "{t}");
    }

    let with_filter =
        json!({"text": "Berlin", "filter": {"status": {"eq": "delivered"}}, "limit": 200});
    let want = seeded(&app, |o| {
        o.shipping_address.city == "Berlin" && o.status == OrderStatus::Delivered
    });
    assert_eq!(
        all_ids(&app, with_filter)
            .await
            .into_iter()
            .collect::<BTreeSet<_>>(),
        want
    );
    assert!(all_ids(&app, text("zanzibar")).await.is_empty());
}

#[tokio::test]
async fn hostile_strings_are_values_not_sql() {
    let app = spawn().await;
    let hostile = [
        "'; DROP TABLE order_views; --",
        "x' OR '1'='1",
        "%",
        "_",
        "\\",
        "\"Market Street\" OR 1=1 --",
        "$1",
        "ord_000001' --",
        // LIKE's wildcards, literal: `c_s` would match every address, `%@%` too
        "c_s",
        "%@%",
    ];
    let open_fields = [
        "id",
        "number",
        "customer_id",
        "email",
        "external_ref",
        "channel",
    ];
    for h in hostile {
        for field in open_fields {
            assert!(
                matched(&app, json!({ field: {"eq": h} })).await.is_empty(),
                "{field} eq {h}"
            );
            assert!(
                matched(&app, json!({ field: {"in": [h]} }))
                    .await
                    .is_empty(),
                "{field} in {h}"
            );
        }
        for field in ["tags", "sku", "tracking_number"] {
            assert!(
                matched(&app, json!({ field: {"contains": h} }))
                    .await
                    .is_empty(),
                "{field} {h}"
            );
        }
        // email contains is a LIKE whose wildcards are literal; under 3 characters it is
        // refused
        let contains = json!({"email": {"contains": h}});
        if h.chars().count() < 3 {
            let out = refused(&app, json!({ "filter": contains })).await;
            assert_eq!(out["code"], "search.invalid_value", "email ~ {h}");
        } else {
            let want = seeded(&app, |o| o.email.to_lowercase().contains(&h.to_lowercase()));
            assert_eq!(matched(&app, contains).await, want, "email ~ {h}");
        }
        let text = all_ids(
            &app,
            json!({"text": h, "filter": {"tags": {"contains": "none"}}}),
        )
        .await;
        assert!(text.is_empty());
        for field in [
            "status",
            "payment_status",
            "fulfillment_status",
            "fraud_state",
            "currency",
        ] {
            let out = refused(&app, json!({"filter": { field: {"eq": h} }})).await;
            assert_eq!(out["code"], "search.invalid_value", "{field} {h}");
        }
        // an aggregation's name is echoed back, so it is letters, digits, `_` and `-` only
        if h.contains(['\'', '%', '\\', '"', '$']) {
            let out = refused(&app, json!({"aggregations": { h: {"terms": "status"} }})).await;
            assert_eq!(out["code"], "search.invalid_value");
        }
        // names of fields, operators, sorts and aggregated fields are looked up, never spliced
        for body in [
            json!({"filter": { h: {"eq": "x"} }}),
            json!({"filter": {"status": { h: "confirmed" }}}),
            json!({"sort": [{"field": h}]}),
            json!({"aggregations": {"x": {"terms": h}}}),
            json!({"aggregations": {"x": {"histogram": "placed_at", "interval": h}}}),
        ] {
            let out = refused(&app, body.clone()).await;
            assert!(
                out["code"].as_str().unwrap().starts_with("search."),
                "{body}"
            );
        }
        let out = refused(&app, json!({ "cursor": h })).await;
        assert_eq!(out["code"], "search.invalid_cursor");
    }
    assert_eq!(
        all_ids(&app, json!({"limit": 200})).await.len(),
        app.orders.len(),
        "the table is intact"
    );
}
