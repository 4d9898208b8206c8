//! What a run's steps wrote about the customer is redacted by their erasure, whatever the
//! key it sits under: `apply_at_orders` of an edit keeps whom to tell as `order_email`.

use serde_json::{Value, json};

use super::erase;
use crate::helpers::{self, TENANT};

#[tokio::test]
async fn an_applied_edits_order_email_is_redacted_by_the_erasure() {
    let app = helpers::spawn().await;
    let order = app
        .orders
        .iter()
        .find(|o| o.status.as_str() == "confirmed" && o.shipments.is_empty())
        .expect("a confirmed order, nothing shipped")
        .clone();
    let token = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let address = json!({"name": "Erika Mustermann", "line1": "Hauptstr. 5", "city": "Berlin",
                         "postal_code": "10115", "country": order.shipping_address.country});
    let changes = json!([{"op": "replace", "path": "/shipping_address", "value": address}]);
    let path = format!("/v1/admin/orders/{}/quote", order.id);
    let (status, q) = app
        .admin_post(&token, &path, None, None, json!({ "changes": changes }))
        .await;
    assert_eq!(status, 201, "{q}");
    let apply = format!("/v1/admin/quotes/{}/apply", q["quote_id"].as_str().unwrap());
    let res = app
        .http
        .post(format!("{}{apply}", app.api))
        .headers(app.auth(&token, TENANT))
        .header("idempotency-key", "apply-1")
        .header("if-match", format!("\"{}\"", order.version))
        .header("x-admin-auth-sudo", sudo)
        .json(&json!({"reason": "the customer moved"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let applied: Value = res.json().await.unwrap();
    let job = app
        .wait_job(applied["job"]["id"].as_str().unwrap(), 30)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let steps_of_the_edit = || {
        sqlx::query_scalar::<_, Value>("SELECT steps FROM runs WHERE id = $1::uuid")
            .bind(applied["job"]["id"].as_str().unwrap())
            .fetch_one(&app.state.db)
    };
    let steps = steps_of_the_edit().await.unwrap();
    assert!(steps.to_string().contains(&order.email), "{steps}");

    erase(&app, order.customer_id.as_str()).await;
    let steps = steps_of_the_edit().await.unwrap();
    assert!(!steps.to_string().contains(&order.email), "{steps}");
    assert!(!steps.to_string().contains("Mustermann"), "{steps}");
    let applied = steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "apply_at_orders")
        .expect("the edit's first step");
    assert_eq!(
        applied["output"]["order_email"], "redacted@erased.invalid",
        "{applied}"
    );
}
