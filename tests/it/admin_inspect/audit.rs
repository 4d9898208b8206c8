//! `GET /v1/admin/orders/{order_id}/audit`: filters, paging, correlation ids, and the
//! access record each read leaves.

use orderdesk::db::audit::{Actor, Entry};
use orderdesk::domain::ids::TenantId;
use serde_json::{Value, json};

use super::{access_records, get_as, refuses_without_a_valid_token, spawn};
use crate::helpers::{OTHER_TENANT, TENANT, TestApp};

/// Records `action` by `actor` on the order, with a correlation id.
async fn record(app: &TestApp, order_id: &str, actor: &str, action: &str, correlation: &str) {
    let mut conn = app.state.db.acquire().await.unwrap();
    let actor = Actor {
        kind: "agent",
        id: actor.into(),
        correlation_id: Some(correlation.into()),
        ..Actor::default()
    };
    let entry = Entry {
        action,
        subject_type: "order",
        subject_id: order_id,
        reason: None,
        before: None,
        after: None,
        personal_data_of: None,
    };
    orderdesk::db::audit::record(&mut conn, &TenantId::new(TENANT), &actor, &entry)
        .await
        .unwrap();
}

fn actions(body: &Value) -> Vec<&str> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn filters_by_actor_action_and_prefix_and_time_with_correlation_ids() {
    let app = spawn().await;
    let order = app.order_in("confirmed").id.to_string();
    // under `case.`, a prefix no read of this test records anything under
    record(&app, &order, "agt_a", "case.opened", "cor_1").await;
    record(&app, &order, "agt_b", "case.noted", "cor_1").await;
    record(&app, &order, "agt_a", "return.requested", "cor_2").await;
    let base = format!("/v1/admin/orders/{order}/audit");

    let (status, body) = get_as(&app, &["auditor"], &format!("{base}?actor=agt_a")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(actions(&body), ["case.opened", "return.requested"]);
    assert_eq!(body["data"][0]["correlation_id"], "cor_1");
    assert_eq!(body["data"][1]["correlation_id"], "cor_2");

    let (_, body) = get_as(&app, &["auditor"], &format!("{base}?action=case.*")).await;
    assert_eq!(actions(&body), ["case.opened", "case.noted"]);
    let (_, body) = get_as(&app, &["auditor"], &format!("{base}?action=case.noted")).await;
    assert_eq!(actions(&body), ["case.noted"]);
    let (_, body) = get_as(&app, &["auditor"], &format!("{base}?action=case.note")).await;
    assert_eq!(actions(&body), Vec::<&str>::new(), "exact, not a prefix");

    let future = "2999-01-01T00:00:00Z";
    let (_, body) = get_as(&app, &["auditor"], &format!("{base}?from={future}")).await;
    assert_eq!(actions(&body), Vec::<&str>::new());
    let (_, body) = get_as(
        &app,
        &["auditor"],
        &format!("{base}?to={future}&actor=agt_b"),
    )
    .await;
    assert_eq!(actions(&body), ["case.noted"]);
}

#[tokio::test]
async fn pages_by_cursor_and_each_read_is_recorded() {
    let app = spawn().await;
    let order = app.order_in("confirmed").id.to_string();
    for i in 0..5 {
        record(&app, &order, "agt_a", &format!("order.step_{i}"), "cor").await;
    }
    let base = format!("/v1/admin/orders/{order}/audit?action=order.*&limit=2");
    let (mut seen, mut cursor) = (vec![], None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("{base}&cursor={c}"),
            None => base.clone(),
        };
        let (status, body) = get_as(&app, &["auditor"], &path).await;
        assert_eq!(status, 200, "{body}");
        seen.extend(actions(&body).into_iter().map(str::to_string));
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    // the reads' own records (`order.audit_viewed`) are not under `order.step`, but match `order.*`
    let steps: Vec<_> = seen
        .iter()
        .filter(|a| a.starts_with("order.step_"))
        .collect();
    assert_eq!(steps.len(), 5, "{seen:?}");
    let recorded = access_records(&app, "order.audit_viewed").await;
    assert!(recorded.len() >= 3, "{recorded:?}");
    assert!(recorded[0]["audit_ids"].as_array().unwrap().len() == 2);
}

#[tokio::test]
async fn bad_filters_are_422_naming_each_field() {
    let app = spawn().await;
    let order = app.order_in("confirmed").id.to_string();
    let base = format!("/v1/admin/orders/{order}/audit");
    for (q, field) in [
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("action=Order.Viewed", "action"),
        ("action=*", "action"),
        ("action=order*", "action"),
        ("actor=", "actor"),
        ("limit=0", "limit"),
    ] {
        let (status, body) = get_as(&app, &["auditor"], &format!("{base}?{q}")).await;
        assert_eq!(status, 422, "{q}: {body}");
        assert_eq!(body["code"], "validation.failed", "{q}");
        assert_eq!(body["errors"][0]["field"], field, "{q}: {body}");
    }
    let (status, body) = get_as(&app, &["auditor"], &format!("{base}?from=x&action=%20")).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["errors"].as_array().unwrap().len(),
        2,
        "every bad field: {body}"
    );
}

#[tokio::test]
async fn tokens_and_other_tenants() {
    let app = spawn().await;
    let order = app.order_in("confirmed").id.to_string();
    let path = format!("/v1/admin/orders/{order}/audit?action=order.*");
    refuses_without_a_valid_token(&app, &path).await;
    let foreign = app.agent_token(OTHER_TENANT, "agt_foreign", &["admin"]);
    let (status, body) = app.get(&path, app.auth(&foreign, OTHER_TENANT)).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = get_as(&app, &["cs_agent"], &path).await;
    assert_eq!(
        (status, body["required_permission"].clone()),
        (403, json!("audit.read"))
    );
}
