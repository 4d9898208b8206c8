//! Personal data and the search: its audit record keeps who searched and which orders were
//! shown, not what was searched for (a name, an address, an e-mail); an erased customer's
//! orders are found by none of their personal data.

use orderdesk::domain::ids::{RunId, TenantId};
use serde_json::json;

use super::{admin, all_ids, ids_of, matched, search_as, spawn};
use crate::helpers::TENANT;

#[tokio::test]
async fn a_search_is_audited_with_the_orders_shown_and_not_what_was_searched() {
    let app = spawn().await;
    let o = app.orders[3].clone();
    let name = o.shipping_address.name.clone();
    let body = json!({
        "text": format!("\"{name}\""),
        "filter": {"or": [{"email": {"contains": o.email}}, {"external_ref": {"eq": "MKT-SECRET"}}]},
        "limit": 5
    });
    let (status, out) = search_as(&app, &admin(&app), TENANT, &body).await;
    assert_eq!(status, 200, "{out}");
    let shown = ids_of(&out);
    assert!(!shown.is_empty());

    let mut conn = app.state.db.acquire().await.unwrap();
    let rows: Vec<(String, String, Option<serde_json::Value>, String)> = sqlx::query_as(
        "SELECT actor_id, subject_type, after,
                concat_ws(' ', reason, before::text, after::text, subject_id, on_behalf_of)
         FROM audit_log WHERE tenant_id = $1 AND action = 'orders.searched'",
    )
    .bind(TENANT)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    let (actor, subject_type, after, text) = &rows[0];
    assert_eq!(
        (actor.as_str(), subject_type.as_str()),
        ("agt_search", "tenant")
    );
    assert_eq!(after.as_ref().unwrap(), &json!({ "order_ids": shown }));
    for searched in [name.as_str(), o.email.as_str(), "MKT-SECRET"] {
        assert!(
            !text.contains(searched),
            "the audit keeps `{searched}`: {text}"
        );
    }
}

#[tokio::test]
async fn an_erased_customers_orders_are_found_by_none_of_their_personal_data() {
    let app = spawn().await;
    let noted = app.orders.iter().find(|o| !o.notes.is_empty()).unwrap();
    let customer = noted.customer_id.clone();
    let theirs: Vec<&orderdesk::domain::order::Order> = app
        .orders
        .iter()
        .filter(|o| o.customer_id == customer)
        .collect();
    let name = format!("\"{}\"", noted.shipping_address.name);
    let line1 = format!("\"{}\"", noted.shipping_address.line1);
    let before = all_ids(&app, json!({"text": name, "limit": 200})).await;
    assert_eq!(before.len(), theirs.len(), "found by name before");

    let mut conn = app.state.db.acquire().await.unwrap();
    orderdesk::db::gdpr::anonymise_customer(
        &mut conn,
        &TenantId::new(TENANT),
        &customer,
        RunId::from_uuid(uuid::Uuid::nil()),
        None,
    )
    .await
    .unwrap();
    drop(conn);

    for text in [name.as_str(), line1.as_str(), "neighbour"] {
        let found = all_ids(&app, json!({"text": text, "limit": 200})).await;
        assert!(
            theirs.iter().all(|o| !found.contains(&o.id.to_string())),
            "`{text}` still finds an erased order"
        );
    }
    assert!(
        matched(&app, json!({"email": {"eq": noted.email}}))
            .await
            .is_empty()
    );
    // the orders themselves are still there
    let by_customer = matched(&app, json!({"customer_id": {"eq": customer}})).await;
    assert_eq!(by_customer.len(), theirs.len());
}
