//! Sort and cursor pagination: every order once, in order; a cursor only for its own search.

use std::collections::HashSet;

use orderdesk::domain::order::{Order, OrderStatus};
use serde_json::{Value, json};

use super::{all_ids, ids_of, refused, search, spawn};

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
        let want: Vec<String> = kept.iter().map(|o| o.id.to_string()).collect();
        let got = all_ids(&app, json!({"filter": filter, "sort": sort, "limit": 7})).await;
        assert_eq!(
            got.iter().collect::<HashSet<_>>().len(),
            got.len(),
            "no duplicates: {sort}"
        );
        assert_eq!(got, want, "{sort}");
    }
    // the example sort, with a page size that divides the total exactly: the last
    // page has no cursor
    let n = kept.len();
    let first = search(&app, json!({"filter": filter, "limit": n})).await;
    assert_eq!(
        (ids_of(&first).len(), &first["next_cursor"]),
        (n, &Value::Null)
    );
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
