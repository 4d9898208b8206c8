//! Parts of a customer's order view beyond its header: shipments with their lines,
//! invoices (from the Billing service) and customer-visible events, and how a failed
//! upstream read is answered.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::ids::{OrderId, TenantId};
use crate::domain::order::{Order, Shipment};
use crate::domain::timeline::EventRecord;
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::upstream::UpstreamError;

/// Units of one order line in a shipment.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShipmentLineOut {
    pub line_id: String,
    pub sku: String,
    pub name: String,
    pub qty: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShipmentOut {
    pub id: String,
    pub carrier: String,
    pub tracking_number: String,
    /// `label_created`, `in_transit`, `out_for_delivery` or `delivered`.
    pub status: String,
    pub shipped_at: Option<DateTime<Utc>>,
    pub eta: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub lines: Vec<ShipmentLineOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceOut {
    pub id: String,
    pub total_minor: i64,
    pub currency: String,
}

/// A customer-visible event of the order (never its payload).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub at: DateTime<Utc>,
}

/// A shipment with its lines named as on the order.
pub fn shipment_out(order: &Order, s: &Shipment) -> ShipmentOut {
    ShipmentOut {
        id: s.id.clone(),
        carrier: s.carrier.clone(),
        tracking_number: s.tracking_number.clone(),
        status: s.status.clone(),
        shipped_at: s.shipped_at,
        eta: s.eta,
        delivered_at: s.delivered_at,
        lines: s
            .lines
            .iter()
            .map(|sl| {
                let line = order.lines.iter().find(|l| l.id == sl.line_id);
                ShipmentLineOut {
                    line_id: sl.line_id.clone(),
                    sku: line.map(|l| l.sku.clone()).unwrap_or_default(),
                    name: line.map(|l| l.name.clone()).unwrap_or_default(),
                    qty: sl.qty,
                }
            })
            .collect(),
    }
}

pub fn events_out(events: &[EventRecord]) -> Vec<EventOut> {
    events
        .iter()
        .filter_map(|e| {
            Some(EventOut {
                title: e.title()?.to_string(),
                kind: e.kind.clone(),
                at: e.occurred_at,
            })
        })
        .collect()
}

/// The order's invoices from the Billing service; one it does not know has none yet.
pub async fn invoices(
    state: &AppState,
    tenant: &TenantId,
    order_id: &OrderId,
) -> Result<Vec<InvoiceOut>> {
    match state.upstream.invoices_of_order(tenant, order_id).await {
        Ok(list) => Ok(list
            .into_iter()
            .map(|i| InvoiceOut {
                id: i.id,
                total_minor: i.total_minor,
                currency: i.currency,
            })
            .collect()),
        Err(e) if upstream_knows_none(&e) => Ok(vec![]),
        Err(e) => Err(upstream_failure("invoices", &e)),
    }
}

/// Whether a failed upstream read means the service knows no such thing (yet): a
/// permanent 404, as opposed to a failure.
pub fn upstream_knows_none(e: &UpstreamError) -> bool {
    !e.is_retryable() && e.problem().status == 404
}

/// A failed upstream read as the customer sees it: 503 `{what}.unavailable` when retrying
/// later may help, 502 `{what}.upstream_error` when not. The upstream's own detail (URLs,
/// codes) is logged, never shown.
pub fn upstream_failure(what: &str, e: &UpstreamError) -> Error {
    let p = e.problem();
    tracing::warn!(what, code = %p.code, status = p.status, detail = %p.detail, "upstream read failed");
    if e.is_retryable() {
        Error::unavailable(
            &format!("{what}.unavailable"),
            format!("{what} cannot be read right now"),
        )
        .with_next_step("try again in a minute")
    } else {
        Error::new(
            StatusCode::BAD_GATEWAY,
            &format!("{what}.upstream_error"),
            format!("{what} could not be read"),
        )
        .with_next_step("try again later or contact support")
    }
}
