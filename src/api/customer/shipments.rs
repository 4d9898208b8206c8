//! A customer's shipments: the list of an order's shipments (read model) and the live
//! tracking of one parcel (the Tracking service), for the caller's own orders only.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::order_parts::{ShipmentOut, shipment_out, upstream_failure};
use crate::api::auth::Customer;
use crate::db;
use crate::domain::tracking::{Checkpoint, is_valid_tracking_number};
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ShipmentListOut {
    pub data: Vec<ShipmentOut>,
}

/// The order's shipments: carrier, tracking number, status, ETA and the lines in each.
#[utoipa::path(get, path = "/v1/customer/orders/{order_id}/shipments", tag = "customer",
    params(("order_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ShipmentListOut), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn list_shipments(
    State(state): State<AppState>,
    who: Customer,
    Path(order_id): Path<String>,
) -> Result<Json<ShipmentListOut>> {
    let order = who.own_order_read(&state, &order_id, 0).await?.order;
    let data = order
        .shipments
        .iter()
        .map(|s| shipment_out(&order, s))
        .collect();
    Ok(Json(ShipmentListOut { data }))
}

/// A parcel as its carrier sees it now.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrackingOut {
    pub tracking_number: String,
    pub carrier: String,
    /// `label_created`, `in_transit`, `out_for_delivery` or `delivered`.
    pub status: String,
    pub eta: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub order_id: String,
    pub shipment_id: String,
    /// False when the carrier has no scan of the parcel yet: status and ETA are then the
    /// shop's own, and `checkpoints` is empty.
    pub live: bool,
    /// Oldest first.
    pub checkpoints: Vec<Checkpoint>,
}

/// Live tracking of a parcel of one of the caller's orders (any other number is a 404
/// `shipment.not_found`). When the carrier cannot be reached: 503 `tracking.unavailable`
/// (try again) or 502 `tracking.upstream_error`.
#[utoipa::path(get, path = "/v1/customer/shipments/{tracking_number}/track", tag = "customer",
    params(("tracking_number" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = TrackingOut), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 502, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub async fn track_shipment(
    State(state): State<AppState>,
    who: Customer,
    Path(tracking_number): Path<String>,
) -> Result<Json<TrackingOut>> {
    if !is_valid_tracking_number(&tracking_number) {
        return Err(Error::validation(vec![FieldError {
            field: "tracking_number".into(),
            message: "4 to 40 letters, digits or dashes".into(),
        }]));
    }
    let order = {
        let mut conn = state.db.acquire().await?;
        db::orders::find_by_tracking_number(
            &mut conn,
            &who.tenant_id,
            &who.customer_id,
            &tracking_number,
            who.scope_order_id.as_deref(),
        )
        .await?
    };
    let (order, shipment) = order
        .and_then(|o| {
            let s = o
                .shipments
                .iter()
                .find(|s| s.tracking_number == tracking_number)?
                .clone();
            Some((o, s))
        })
        .ok_or_else(|| Error::not_found("shipment"))?;
    let mut out = TrackingOut {
        tracking_number,
        carrier: shipment.carrier,
        status: shipment.status,
        eta: shipment.eta,
        delivered_at: shipment.delivered_at,
        order_id: order.id,
        shipment_id: shipment.id,
        live: false,
        checkpoints: vec![],
    };
    match state
        .upstream
        .track_shipment(&who.tenant_id, &out.tracking_number)
        .await
    {
        Ok(t) => {
            out.live = true;
            out.status = t.status;
            out.eta = t.eta.or(out.eta);
            out.delivered_at = t.delivered_at.or(out.delivered_at);
            out.checkpoints = t.checkpoints;
        }
        // not scanned by the carrier yet: the shop's own view
        Err(e) if !e.is_retryable() && e.problem().status == 404 => {}
        Err(e) => return Err(upstream_failure("tracking", &e)),
    }
    Ok(Json(out))
}
