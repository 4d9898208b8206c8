//! Live tracking through the sandbox's Tracking service.

use chrono::Utc;
use orderdesk::auth::mint::{MintRequest, mint};
use orderdesk::domain::ids::TenantId;
use serde_json::json;

use super::{fresh_copy, no_token, put_view, spawn};
use crate::helpers::{OTHER_TENANT, TENANT};

fn track_path(tracking_number: &str) -> String {
    format!("/v1/customer/shipments/{tracking_number}/track")
}

#[tokio::test]
async fn track_shows_checkpoints_of_the_callers_own_parcels_only() {
    let app = spawn().await;
    let delivered = app.order_in("delivered").clone();
    let shipment = &delivered.shipments[0];
    let token = app.customer_token(TENANT, &delivered.customer_id);
    let (status, body) = app
        .get(
            &track_path(&shipment.tracking_number),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["live"], true);
    assert_eq!(body["status"], "delivered");
    assert_eq!(body["order_id"], delivered.id.as_str());
    assert_eq!(body["shipment_id"], shipment.id.as_str());
    assert_eq!(body["carrier"], shipment.carrier.as_str());
    let checkpoints = body["checkpoints"].as_array().unwrap();
    let last = checkpoints.last().unwrap();
    assert_eq!(last["status"], "delivered");
    assert_eq!(last["at"], json!(shipment.delivered_at));
    assert!(
        last["location"]
            .as_str()
            .unwrap()
            .starts_with(&delivered.shipping_address.city)
    );
    assert!(checkpoints.len() >= 3 && checkpoints.iter().all(|c| c["description"].is_string()));
    let (_, again) = app
        .get(
            &track_path(&shipment.tracking_number),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(again, body, "deterministic for a delivered parcel");

    // another customer's parcel
    let theirs = app
        .orders
        .iter()
        .find(|o| o.customer_id != delivered.customer_id && !o.shipments.is_empty())
        .unwrap();
    let (status, body) = app
        .get(
            &track_path(&theirs.shipments[0].tracking_number),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("shipment.not_found"))
    );

    // a guest token sees the parcels of its one order only
    let other_own = app
        .orders
        .iter()
        .find(|o| {
            o.customer_id == delivered.customer_id
                && o.id != delivered.id
                && !o.shipments.is_empty()
        })
        .unwrap();
    let guest = mint(
        &app.config,
        &MintRequest::customer(&TenantId::new(TENANT), &delivered.customer_id).order(&delivered.id),
    )
    .unwrap();
    let (status, _) = app
        .get(
            &track_path(&shipment.tracking_number),
            app.auth(&guest, TENANT),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .get(
            &track_path(&other_own.shipments[0].tracking_number),
            app.auth(&guest, TENANT),
        )
        .await;
    assert_eq!(status, 404);

    for bad in ["no%21", "ab", "x%20y%20z%20w"] {
        let (status, body) = app.get(&track_path(bad), app.auth(&token, TENANT)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("validation.failed")),
            "{bad}"
        );
    }
    let (status, _) = app
        .get(&track_path(&shipment.tracking_number), no_token())
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_fresh_parcel_is_tracked_live_and_invisible_to_other_tenants() {
    let app = spawn().await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let shipment = app.ship_at_sandbox(&order.id).await;
    let tracking_number = shipment.tracking_number.as_str();
    let (status, body) = app
        .get(&track_path(tracking_number), app.auth(&token, TENANT))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["live"].as_bool(), body["status"].as_str()),
        (Some(true), Some("in_transit"))
    );
    assert_eq!(body["carrier"], "UPS");
    let checkpoints = body["checkpoints"].as_array().unwrap();
    assert_eq!(
        checkpoints
            .iter()
            .map(|c| c["status"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["label_created", "in_transit"],
        "only scans that happened: {body}"
    );
    assert!(
        checkpoints
            .iter()
            .all(|c| c["at"].as_str().unwrap() <= Utc::now().to_rfc3339().as_str())
    );

    let foreign = app.customer_token(OTHER_TENANT, &order.customer_id);
    let (status, body) = app
        .get(
            &track_path(tracking_number),
            app.auth(&foreign, OTHER_TENANT),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("shipment.not_found"))
    );
}

#[tokio::test]
async fn carrier_failures_are_problems_not_500s() {
    let app = spawn().await;
    let order = app.order_in("shipped").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let path = track_path(&order.shipments[0].tracking_number);

    app.set_faults(json!({"service": "tracking", "error_rate": 1.0}))
        .await;
    let (status, body) = app.get(&path, app.auth(&token, TENANT)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("tracking.unavailable")),
        "{body}"
    );
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no upstream internals: {body}"
    );

    app.set_faults(json!({"service": "tracking", "error_rate": 1.0, "error_status": 422}))
        .await;
    let (status, body) = app.get(&path, app.auth(&token, TENANT)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (502, Some("tracking.upstream_error"))
    );
    app.clear_faults().await;

    // a parcel the carrier has not scanned yet: the shop's own view, not an error
    let mut unscanned = fresh_copy(&app, "shipped", "ord_unscanned", "990001");
    unscanned.shipments[0].tracking_number = "TRK-NOT-SCANNED-1".into();
    put_view(&app, &unscanned).await;
    let (status, body) = app
        .get(&track_path("TRK-NOT-SCANNED-1"), app.auth(&token, TENANT))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["live"], false);
    assert_eq!(body["status"], "in_transit");
    assert_eq!(body["checkpoints"], json!([]));
    assert_eq!(body["eta"], json!(unscanned.shipments[0].eta));
}
