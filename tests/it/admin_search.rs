//! `POST /v1/admin/orders/search`: every filter family, and/or/not, full text, sort and
//! cursors, aggregations — each checked against the seeded orders — and refusals, auth and
//! tenancy.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use orderdesk::domain::order::{FraudState, Order, OrderStatus};
use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

const PATH: &str = "/v1/admin/orders/search";

/// 120 orders of 6 customers: over four days, in every status, channel and currency.
async fn spawn() -> TestApp {
    helpers::spawn_with(helpers::Options {
        workers: 0,
        customers: 6,
        orders: 120,
        ..Default::default()
    })
    .await
}

fn admin(app: &TestApp) -> String {
    app.agent_token(TENANT, "agt_search", &["cs_agent"])
}

async fn search_as(app: &TestApp, token: &str, tenant: &str, body: &Value) -> (u16, Value) {
    let res = app.post(PATH, app.auth(token, tenant), body).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn search(app: &TestApp, body: Value) -> Value {
    let (status, out) = search_as(app, &admin(app), TENANT, &body).await;
    assert_eq!(status, 200, "{body} → {out}");
    out
}

fn ids_of(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

/// The ids of every order `filter` matches, read page by page.
async fn all_ids(app: &TestApp, mut body: Value) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let page = search(app, body.clone()).await;
        ids.extend(ids_of(&page));
        match page["next_cursor"].as_str() {
            Some(c) => body["cursor"] = json!(c),
            None => return ids,
        }
    }
}

fn seeded(app: &TestApp, keep: impl Fn(&Order) -> bool) -> BTreeSet<String> {
    app.orders
        .iter()
        .filter(|o| keep(o))
        .map(|o| o.id.clone())
        .collect()
}

async fn matched(app: &TestApp, filter: Value) -> BTreeSet<String> {
    let ids = all_ids(app, json!({"filter": filter, "limit": 200})).await;
    ids.into_iter().collect()
}

fn fulfillment(o: &Order) -> &str {
    const PROGRESS: [&str; 4] = [
        "label_created",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ];
    if o.shipments.is_empty() {
        "unfulfilled"
    } else if o.status == OrderStatus::PartiallyShipped {
        "partial"
    } else {
        o.shipments
            .iter()
            .map(|s| s.status.as_str())
            .min_by_key(|s| PROGRESS.iter().position(|p| p == s))
            .unwrap()
    }
}

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
    });
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
            .any(|o| &o.id == id && o.fraud_state.is_none())
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

    let name = all_ids(&app, text("Customer 3")).await;
    let want = seeded(&app, |o| o.shipping_address.name == "Customer 3");
    assert_eq!(name.into_iter().collect::<BTreeSet<_>>(), want);

    let city = all_ids(&app, text("\"Market Street\" paris")).await;
    let want = seeded(&app, |o| o.shipping_address.city == "Paris");
    assert_eq!(city.into_iter().collect::<BTreeSet<_>>(), want);

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
async fn cursors_page_through_every_sort_without_duplicates_or_gaps() {
    let app = spawn().await;
    let filter = json!({"status": {"in": ["confirmed", "delivered", "shipped", "cancelled"]}});
    let keep = |o: &Order| {
        matches!(
            o.status,
            OrderStatus::Confirmed
                | OrderStatus::Delivered
                | OrderStatus::Shipped
                | OrderStatus::Cancelled
        )
    };
    let mut kept: Vec<&Order> = app.orders.iter().filter(|o| keep(o)).collect();
    type Order2 = fn(&&Order, &&Order) -> std::cmp::Ordering;
    let sorts: Vec<(Value, Order2)> = vec![
        (json!([]), |a, b| {
            b.placed_at.cmp(&a.placed_at).then(b.id.cmp(&a.id))
        }),
        (json!([{"field": "total_minor"}]), |a, b| {
            a.totals
                .total_minor
                .cmp(&b.totals.total_minor)
                .then(a.id.cmp(&b.id))
        }),
        (
            json!([{"field": "total_minor", "dir": "desc"}, {"field": "placed_at"}]),
            |a, b| {
                b.totals
                    .total_minor
                    .cmp(&a.totals.total_minor)
                    .then(a.placed_at.cmp(&b.placed_at))
                    .then(a.id.cmp(&b.id))
            },
        ),
    ];
    for (sort, cmp) in sorts {
        kept.sort_by(cmp);
        let want: Vec<String> = kept.iter().map(|o| o.id.clone()).collect();
        let got = all_ids(&app, json!({"filter": filter, "sort": sort, "limit": 7})).await;
        assert_eq!(
            got.iter().collect::<HashSet<_>>().len(),
            got.len(),
            "no duplicates: {sort}"
        );
        assert_eq!(got, want, "{sort}");
    }
    // the issue's example sort, with a page size that divides the total exactly: the last
    // page has no cursor
    let n = kept.len();
    let first = search(&app, json!({"filter": filter, "limit": n})).await;
    assert_eq!(
        (ids_of(&first).len(), &first["next_cursor"]),
        (n, &Value::Null)
    );
}

#[tokio::test]
async fn aggregations_count_sum_and_bucket_every_matching_order() {
    let app = spawn().await;
    let out = search(
        &app,
        json!({
            "filter": {"status": {"in": ["confirmed", "shipped", "delivered", "closed", "on_hold", "pending", "partially_shipped"]}},
            "limit": 1,
            "aggregations": {
                "by_status": {"terms": "status"},
                "by_tag": {"terms": "tags", "size": 1},
                "revenue": {"sum": "total_minor", "by": "currency"},
                "per_day": {"histogram": "placed_at", "interval": "day"},
                "per_month": {"histogram": "placed_at", "interval": "month"}
            }
        }),
    )
    .await;
    let kept: Vec<&Order> = app
        .orders
        .iter()
        .filter(|o| o.status != OrderStatus::Cancelled)
        .collect();
    assert_eq!(
        ids_of(&out).len(),
        1,
        "the page is one order; aggregations are over all"
    );
    let aggs = &out["aggregations"];

    let mut statuses: BTreeMap<String, i64> = BTreeMap::new();
    for o in &kept {
        *statuses.entry(o.status.as_str().to_string()).or_default() += 1;
    }
    let got: BTreeMap<String, i64> = aggs["by_status"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].as_str().unwrap().to_string(),
                b["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, statuses);
    assert_eq!(aggs["by_status"]["other_count"], 0);

    let vip = kept
        .iter()
        .filter(|o| o.tags.iter().any(|t| t == "vip"))
        .count() as i64;
    let gift = kept
        .iter()
        .filter(|o| o.tags.iter().any(|t| t == "gift"))
        .count() as i64;
    let top = &aggs["by_tag"]["buckets"][0];
    assert_eq!(aggs["by_tag"]["buckets"].as_array().unwrap().len(), 1);
    assert_eq!(top["count"].as_i64().unwrap(), vip.max(gift));
    assert_eq!(
        aggs["by_tag"]["other_count"].as_i64().unwrap(),
        vip.min(gift)
    );

    let mut revenue: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for o in &kept {
        let e = revenue.entry(o.currency.clone()).or_default();
        e.0 += o.totals.total_minor;
        e.1 += 1;
    }
    let got: BTreeMap<String, (i64, i64)> = aggs["revenue"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let key = b["key"].as_str().unwrap().to_string();
            (
                key,
                (b["sum"].as_i64().unwrap(), b["count"].as_i64().unwrap()),
            )
        })
        .collect();
    assert_eq!(got, revenue);
    assert!(revenue.len() >= 3, "EUR, USD and GBP: {revenue:?}");

    let mut days: BTreeMap<String, i64> = BTreeMap::new();
    for o in &kept {
        let day = o
            .placed_at
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        *days
            .entry(day.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .or_default() += 1;
    }
    let got: BTreeMap<String, i64> = aggs["per_day"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let at: DateTime<Utc> = b["key"].as_str().unwrap().parse().unwrap();
            (
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                b["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, days);
    assert!(days.len() >= 3, "the seed spans days: {days:?}");
    let month = &aggs["per_month"]["buckets"];
    assert_eq!(month.as_array().unwrap().len(), 1);
    assert_eq!(month[0]["count"].as_i64().unwrap(), kept.len() as i64);
    assert!(
        month[0]["key"]
            .as_str()
            .unwrap()
            .starts_with("2026-01-01T00:00:00")
    );
}

async fn refused(app: &TestApp, body: Value) -> Value {
    let (status, out) = search_as(app, &admin(app), TENANT, &body).await;
    assert_eq!(status, 422, "{body} → {out}");
    out
}

#[tokio::test]
async fn unknown_names_and_oversized_searches_are_422_naming_what_is_wrong() {
    let app = spawn().await;
    let out = refused(
        &app,
        json!({"filter": {"and": [{"colour": {"eq": "red"}}]}}),
    )
    .await;
    assert_eq!(out["code"], "search.unknown_field");
    assert_eq!(out["errors"][0]["field"], "filter.and[0].colour");
    assert!(out["detail"].as_str().unwrap().contains("`colour`"));
    let allowed: Vec<&str> = out["allowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        allowed.contains(&"tracking_number") && allowed.contains(&"not"),
        "{allowed:?}"
    );

    let out = refused(
        &app,
        json!({"filter": {"total_minor": {"between": [1, 2]}}}),
    )
    .await;
    assert_eq!(out["code"], "search.unknown_operator");
    assert_eq!(out["allowed"], json!(["eq", "gte", "lte", "gt", "lt"]));
    let out = refused(&app, json!({"aggregations": {"x": {"avg": "total_minor"}}})).await;
    assert_eq!(
        (&out["code"], &out["allowed"]),
        (
            &json!("search.unknown_aggregation"),
            &json!(["terms", "sum", "histogram"])
        )
    );
    let out = refused(&app, json!({"sort": [{"field": "email"}]})).await;
    assert_eq!(
        out["allowed"],
        json!(["placed_at", "updated_at", "total_minor"])
    );
    let out = refused(&app, json!({"filter": {"status": {"eq": "lost"}}})).await;
    assert_eq!(out["code"], "search.invalid_value");
    assert!(
        out["allowed"]
            .as_array()
            .unwrap()
            .contains(&json!("on_hold"))
    );
    // a member the request does not have is refused by its type, naming the members
    let out = refused(&app, json!({"filtr": {}})).await;
    let detail = out["detail"].as_str().unwrap();
    assert!(
        detail.contains("filtr") && detail.contains("aggregations"),
        "{detail}"
    );

    let mut deep = json!({"status": {"eq": "confirmed"}});
    for _ in 0..8 {
        deep = json!({ "not": deep });
    }
    let many = (0..101)
        .map(|i| json!({"number": {"eq": i.to_string()}}))
        .collect::<Vec<_>>();
    let values = (0..501).map(|i| format!("ord_{i}")).collect::<Vec<_>>();
    for body in [
        json!({"filter": deep}),
        json!({"filter": {"or": many}}),
        json!({"filter": {"id": {"in": values}}}),
        json!({"text": "x".repeat(201)}),
    ] {
        assert_eq!(refused(&app, body).await["code"], "search.too_complex");
    }
    for limit in [0, 201] {
        let out = refused(&app, json!({ "limit": limit })).await;
        assert_eq!(out["errors"][0]["field"], "limit");
    }
}

#[tokio::test]
async fn a_cursor_serves_only_the_search_that_made_it() {
    let app = spawn().await;
    let body = json!({"filter": {"channel": {"eq": "web"}}, "limit": 5});
    let first = search(&app, body.clone()).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let mut next = body.clone();
    next["cursor"] = json!(cursor);
    next["limit"] = json!(3);
    let second = search(&app, next).await;
    assert!(
        ids_of(&first)
            .iter()
            .all(|id| !ids_of(&second).contains(id))
    );

    for other in [
        json!({"filter": {"channel": {"eq": "app"}}, "cursor": cursor}),
        json!({"filter": {"channel": {"eq": "web"}}, "sort": [{"field": "total_minor"}], "cursor": cursor}),
        json!({"filter": {"channel": {"eq": "web"}}, "text": "Paris", "cursor": cursor}),
    ] {
        let out = refused(&app, other).await;
        assert_eq!(
            (&out["code"], &out["errors"][0]["field"]),
            (&json!("search.invalid_cursor"), &json!("cursor"))
        );
    }
    let out = refused(&app, json!({"cursor": "eyJmIjoiMCJ9"})).await;
    assert_eq!(out["code"], "search.invalid_cursor");
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
        // email contains is a LIKE whose wildcards are literal: `_` is in every address,
        // `%` in none
        let want = seeded(&app, |o| o.email.to_lowercase().contains(&h.to_lowercase()));
        assert_eq!(
            matched(&app, json!({"email": {"contains": h}})).await,
            want,
            "email ~ {h}"
        );
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
    }
    assert_eq!(
        all_ids(&app, json!({"limit": 200})).await.len(),
        app.orders.len(),
        "the table is intact"
    );
}

#[tokio::test]
async fn tokens_roles_and_tenants_are_enforced() {
    let app = spawn().await;
    let body = json!({"limit": 200, "aggregations": {"n": {"terms": "currency"}}});
    let res = app
        .http
        .post(format!("{}{PATH}", app.api))
        .header("x-tenant-id", TENANT)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(search_as(&app, "not-a-jwt", TENANT, &body).await.0, 401);
    let customer = app.customer_token(TENANT, &app.orders[0].customer_id);
    assert_eq!(search_as(&app, &customer, TENANT, &body).await.0, 403);
    let auditor = app.agent_token(TENANT, "agt_audit", &["auditor"]);
    let (status, out) = search_as(&app, &auditor, TENANT, &body).await;
    assert_eq!(
        (status, &out["required_permission"]),
        (403, &json!("orders.search"))
    );
    let foreign = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
    assert_eq!(
        search_as(&app, &foreign, TENANT, &body).await.0,
        403,
        "tenant mismatch"
    );

    // each tenant sees its own orders only, in pages and in aggregations
    let (_, mine) = search_as(&app, &admin(&app), TENANT, &body).await;
    let (status, theirs) = search_as(&app, &foreign, OTHER_TENANT, &body).await;
    assert_eq!(status, 200);
    let mine_ids = ids_of(&mine);
    assert_eq!(mine_ids.len(), app.orders.len());
    assert!(mine_ids.iter().all(|id| !id.ends_with("_g")));
    assert!(!ids_of(&theirs).is_empty() && ids_of(&theirs).iter().all(|id| id.ends_with("_g")));
    let total: i64 = mine["aggregations"]["n"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, app.orders.len() as i64);
    let theirs_by_id =
        json!({"filter": {"id": {"in": [ids_of(&theirs)[0]]}}, "text": "Market Street"});
    assert!(ids_of(&search(&app, theirs_by_id).await).is_empty());
}
