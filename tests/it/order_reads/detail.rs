//! Detail with `expand` and `allowed_actions`, the timeline and the shipments list.

use chrono::Duration;
use serde_json::json;

use super::{assert_order_read_refusals, codes, put_event, spawn};
use crate::helpers::TENANT;

#[tokio::test]
async fn detail_always_has_allowed_actions_and_expands_on_demand() {
    let app = spawn().await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let path = format!("/v1/customer/orders/{}", order.id);

    let (status, body) = app.get(&path, app.auth(&token, TENANT)).await;
    assert_eq!(status, 200, "{body}");
    let actions = body["allowed_actions"].as_object().unwrap();
    let mut names: Vec<_> = actions.keys().cloned().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "apply_coupon",
            "cancel",
            "reorder",
            "replace",
            "return",
            "update_address"
        ]
    );
    assert_eq!(actions["cancel"], json!({"allowed": true}));
    assert_eq!(actions["return"]["allowed"], false);
    assert_eq!(actions["return"]["reason"]["code"], "return.not_eligible");
    assert!(actions["return"]["reason"]["message"].is_string());
    for absent in ["lines", "shipments", "invoices", "events"] {
        assert!(
            body.get(absent).is_none(),
            "{absent} only with expand: {body}"
        );
    }

    let at = order.placed_at + Duration::minutes(5);
    put_event(&app, &order, "evt_r1", "order.updated", "confirmed", at).await;
    put_event(&app, &order, "evt_r2", "risk.scored", "confirmed", at).await;
    let (status, body) = app
        .get(
            &format!("{path}?expand=lines,shipments,invoices,events"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["lines"].as_array().unwrap().len(), order.lines.len());
    assert_eq!(body["shipments"], json!([]));
    let invoices = body["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 1, "{body}");
    assert_eq!(invoices[0]["total_minor"], order.totals.total_minor);
    assert_eq!(invoices[0]["currency"], order.currency.as_str());
    assert_eq!(
        body["events"],
        json!([{"type": "order.updated", "title": "Order updated", "at": at}]),
        "internal events and payloads stay out"
    );
    assert!(!body.to_string().contains("internal_risk_score"));
    assert!(body["allowed_actions"].is_object());

    let (status, body) = app
        .get(
            &format!("{path}?expand=lines,secrets"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation.failed"))
    );
    assert_order_read_refusals(&app, &order, "").await;
}

#[tokio::test]
async fn invoices_expansion_fails_cleanly_while_billing_fails() {
    let app = spawn().await;
    let order = app.order_in("delivered").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let path = format!("/v1/customer/orders/{}", order.id);
    app.set_faults(json!({"service": "billing", "error_rate": 1.0}))
        .await;
    let (status, body) = app
        .get(&format!("{path}?expand=invoices"), app.auth(&token, TENANT))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("invoices.unavailable")),
        "{body}"
    );
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no upstream internals: {body}"
    );
    let (status, _) = app.get(&path, app.auth(&token, TENANT)).await;
    assert_eq!(status, 200, "without expand=invoices Billing is not asked");

    app.set_faults(json!({"service": "billing", "error_rate": 1.0, "error_status": 422}))
        .await;
    let (status, body) = app
        .get(&format!("{path}?expand=invoices"), app.auth(&token, TENANT))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (502, Some("invoices.upstream_error"))
    );
}

#[tokio::test]
async fn timeline_merges_document_and_events_in_time_order() {
    let app = spawn().await;
    let order = app.order_in("delivered").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    put_event(
        &app,
        &order,
        "evt_t1",
        "order.updated",
        "confirmed",
        order.placed_at + Duration::minutes(3),
    )
    .await;
    put_event(
        &app,
        &order,
        "evt_t2",
        "fraud.reviewed",
        "confirmed",
        order.placed_at + Duration::minutes(4),
    )
    .await;
    let path = format!("/v1/customer/orders/{}/timeline", order.id);
    let (status, body) = app.get(&path, app.auth(&token, TENANT)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        codes(&body["data"], "type"),
        [
            "order.placed",
            "order.confirmed",
            "shipment.shipped",
            "shipment.delivered"
        ]
    );
    let data = body["data"].as_array().unwrap();
    assert!(
        data.iter()
            .all(|e| e["title"].as_str().is_some_and(|t| !t.is_empty()))
    );
    assert_eq!(data[0]["at"], json!(order.placed_at));
    assert!(body["next_cursor"].is_null());

    let mut paged = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("{path}?limit=1&cursor={c}"),
            None => format!("{path}?limit=1"),
        };
        let (status, page) = app.get(&q, app.auth(&token, TENANT)).await;
        assert_eq!(status, 200, "{page}");
        paged.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(&paged, data, "pages add up to the whole timeline");

    for (q, status, code) in [
        ("limit=0", 422, "validation.failed"),
        ("limit=101", 422, "validation.failed"),
        ("cursor=%21%21", 400, "request.invalid_cursor"),
    ] {
        let (s, body) = app
            .get(&format!("{path}?{q}"), app.auth(&token, TENANT))
            .await;
        assert_eq!((s, body["code"].as_str()), (status, Some(code)), "{q}");
    }
    assert_order_read_refusals(&app, &order, "/timeline").await;
}

#[tokio::test]
async fn shipments_list_carrier_tracking_eta_and_lines() {
    let app = spawn().await;
    let order = app.order_in("partially_shipped").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let path = format!("/v1/customer/orders/{}/shipments", order.id);
    let (status, body) = app.get(&path, app.auth(&token, TENANT)).await;
    assert_eq!(status, 200, "{body}");
    let s = &order.shipments[0];
    let got = &body["data"][0];
    assert_eq!(got["carrier"], s.carrier.as_str());
    assert_eq!(got["tracking_number"], s.tracking_number.as_str());
    assert_eq!(got["status"], "in_transit");
    assert_eq!(got["eta"], json!(s.eta));
    assert_eq!(got["lines"][0]["line_id"], s.lines[0].line_id.as_str());
    assert_eq!(got["lines"][0]["name"], order.lines[0].name.as_str());
    assert_eq!(got["lines"][0]["qty"], s.lines[0].qty);
    assert_eq!(body["data"].as_array().unwrap().len(), 1);

    let unshipped = app.order_in("pending").clone();
    let token2 = app.customer_token(TENANT, &unshipped.customer_id);
    let (status, body) = app
        .get(
            &format!("/v1/customer/orders/{}/shipments", unshipped.id),
            app.auth(&token2, TENANT),
        )
        .await;
    assert_eq!((status, body), (200, json!({"data": []})));
    assert_order_read_refusals(&app, &order, "/shipments").await;
}

#[tokio::test]
async fn openapi_lists_every_order_read() {
    let app = spawn().await;
    let (status, doc) = app.get("/openapi.json", Default::default()).await;
    assert_eq!(status, 200);
    for path in [
        "/v1/customer/orders/metrics",
        "/v1/customer/orders/{order_id}/timeline",
        "/v1/customer/orders/{order_id}/shipments",
        "/v1/customer/orders/{order_id}/faq",
        "/v1/customer/shipments/{tracking_number}/track",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
    // the detail is the list's summary (`allOf`) with its own members
    let detail = &doc["components"]["schemas"]["CustomerOrderOut"];
    let members = std::iter::once(detail)
        .chain(detail["allOf"].as_array().into_iter().flatten())
        .filter_map(|part| part["properties"].as_object());
    let names: Vec<&String> = members.flat_map(|m| m.keys()).collect();
    assert!(names.iter().any(|n| *n == "allowed_actions"), "{detail}");
}

/// The read pool hands a connection back without a ping; one whose read was cancelled
/// (its guard dropped without `done`) still reaches the next borrower clean.
#[tokio::test]
async fn a_read_connection_left_mid_statement_is_clean_for_the_next_borrower() {
    use futures::FutureExt;
    let app = spawn().await;
    let reads = orderdesk::db::reads::ReadPool::beside(&app.state.db, 1);
    let mut conn = reads.acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    conn.done();
    let mut conn = reads.acquire().await.unwrap();
    // a statement whose answer is never read, as a cancelled request leaves it
    let query = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM generate_series(1, 300000)")
        .fetch_one(&mut *conn);
    assert!(query.now_or_never().is_none(), "cannot have answered yet");
    drop(conn);
    let mut conn = reads.acquire().await.unwrap();
    let (same_pid, answer): (i32, i32) = sqlx::query_as("SELECT pg_backend_pid(), 7")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(same_pid, pid, "the one connection was reused");
    assert_eq!(answer, 7, "the next borrower reads its own answer");
    conn.done();
}
