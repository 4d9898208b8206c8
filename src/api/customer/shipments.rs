//! A customer's shipments: the list of an order's shipments (read model) and the live
//! tracking of one parcel (the Tracking service), for the caller's own orders only.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::order_parts::{ShipmentOut, shipment_out, upstream_failure, upstream_knows_none};
use crate::api::auth::Customer;
use crate::api::extract::invalid;
use crate::api::extract::{Path, Strict};
use crate::db;
use crate::domain::ids::OrderId;
use crate::domain::order::{Order, Shipment};
use crate::domain::tracking::{Checkpoint, Tracking, is_valid_tracking_number};
use crate::error::{Error, Result};
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
    Path(Strict(order_id)): Path<Strict<OrderId>>,
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
    #[schema(value_type = String)]
    pub order_id: OrderId,
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
    TrackingNumber(number): TrackingNumber,
) -> Result<Json<TrackingOut>> {
    let (order, shipment) = who.own_shipment(&state, &number).await?;
    let live = match state.upstream.track_shipment(&who.tenant_id, &number).await {
        Ok(tracking) => Some(tracking),
        // not scanned by the carrier yet: the shop's own view
        Err(e) if upstream_knows_none(&e) => None,
        Err(e) => return Err(upstream_failure("tracking", &e)),
    };
    Ok(Json(TrackingOut::new(order.id, shipment, live)))
}

impl TrackingOut {
    /// The shop's view of `shipment` of order `order_id`, updated by the carrier's `live`
    /// view when there is one.
    fn new(order_id: OrderId, shipment: Shipment, live: Option<Tracking>) -> Self {
        let shop = TrackingOut {
            tracking_number: shipment.tracking_number,
            carrier: shipment.carrier,
            status: shipment.status,
            eta: shipment.eta,
            delivered_at: shipment.delivered_at,
            order_id,
            shipment_id: shipment.id,
            live: false,
            checkpoints: vec![],
        };
        match live {
            None => shop,
            Some(t) => TrackingOut {
                live: true,
                status: t.status,
                eta: t.eta.or(shop.eta),
                delivered_at: t.delivered_at.or(shop.delivered_at),
                checkpoints: t.checkpoints,
                ..shop
            },
        }
    }
}

/// A tracking number from the path, checked before any query: 422 unless it has the shape
/// of one (4 to 40 letters, digits or dashes).
pub struct TrackingNumber(pub String);

impl<S: Send + Sync> FromRequestParts<S> for TrackingNumber {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Path(number) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !is_valid_tracking_number(&number) {
            let e = invalid("tracking_number", "4 to 40 letters, digits or dashes");
            return Err(e.into_response());
        }
        Ok(TrackingNumber(number))
    }
}

impl Customer {
    /// The caller's order (a guest: its one order) with the shipment of `tracking_number`;
    /// 404 `shipment.not_found` for anyone else's.
    async fn own_shipment(
        &self,
        state: &AppState,
        tracking_number: &str,
    ) -> Result<(Order, Shipment)> {
        let (tenant, customer) = (&self.tenant_id, &self.customer_id);
        let scope = self.scope_order_id.as_ref();
        let mut conn = state.db.acquire().await?;
        let not_found = || Error::not_found("shipment");
        let order = db::orders::find_by_tracking_number(
            &mut conn,
            tenant,
            customer,
            tracking_number,
            scope,
        )
        .await?
        .ok_or_else(not_found)?;
        let shipment = order
            .shipments
            .iter()
            .find(|s| s.tracking_number == tracking_number)
            .cloned()
            .ok_or_else(not_found)?;
        Ok((order, shipment))
    }
}
