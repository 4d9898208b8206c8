//! The Tracking service (`/tracking/v1/trackings/{tracking_number}`): a carrier's live view
//! of a parcel. Checkpoints are derived from the shipment the sandbox holds (shipped,
//! delivered) and, for places and minutes, from a hash of the tracking number, so the same
//! number in the same state always reads the same. A number no order ships under is a 404
//! `tracking.not_found`, as a carrier answers before its first scan.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};

use super::extract::Tenant;
use super::{SandboxState, store};
use crate::error::{Error, Result};
use crate::wire::{Checkpoint, Tracking};
use crate::wire::{Order, Shipment};

pub fn routes() -> Router<SandboxState> {
    Router::new().route("/v1/trackings/{tracking_number}", get(get_tracking))
}

/// `GET /v1/trackings/{tracking_number}`: the parcel's status, ETA and checkpoints.
async fn get_tracking(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(tracking_number): Path<String>,
) -> Result<Json<Tracking>> {
    let mut conn = s.db.acquire().await?;
    let order = store::tracking::order_with_tracking_number(&mut conn, &tenant, &tracking_number)
        .await?
        .ok_or_else(|| Error::not_found("tracking"))?;
    let shipment = order
        .shipments
        .iter()
        .find(|s| s.tracking_number == tracking_number)
        .ok_or_else(|| Error::not_found("tracking"))?;
    Ok(Json(tracking_of(&order, shipment, Utc::now())))
}

/// Sorting centres a parcel passes through, picked by the tracking number's hash.
const HUBS: [&str; 8] = [
    "Leipzig, DE",
    "Cologne, DE",
    "Lyon, FR",
    "Utrecht, NL",
    "Linz, AT",
    "Milan, IT",
    "Brussels, BE",
    "Hamburg, DE",
];

/// FNV-1a: stable across processes and Rust versions, unlike `DefaultHasher`.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn checkpoint(at: DateTime<Utc>, location: &str, description: &str, status: &str) -> Checkpoint {
    Checkpoint {
        at,
        location: location.into(),
        description: description.into(),
        status: status.into(),
    }
}

/// The carrier's view of `s` at `now`: only scans that have happened, oldest first.
fn tracking_of(order: &Order, s: &Shipment, now: DateTime<Utc>) -> Tracking {
    let h = fnv1a(&s.tracking_number);
    let n = HUBS.len() as u64;
    let origin = HUBS[(h % n) as usize];
    let hub = HUBS[((h / n % (n - 1) + h % n + 1) % n) as usize];
    let destination = format!(
        "{}, {}",
        order.shipping_address.city, order.shipping_address.country
    );
    let status = if s.delivered_at.is_some() {
        "delivered".to_string()
    } else {
        s.status.clone()
    };
    let mut checkpoints = Vec::new();
    match s.shipped_at {
        None => checkpoints.push(checkpoint(
            order.updated_at.min(now),
            origin,
            "Shipping label created",
            "label_created",
        )),
        Some(shipped) => {
            let jitter = Duration::minutes(((h >> 16) % 50) as i64);
            let pickup = format!("Picked up by {}", s.carrier);
            let plan = [
                (
                    shipped - Duration::hours(3),
                    origin,
                    "Shipping label created",
                    "label_created",
                ),
                (shipped, origin, pickup.as_str(), "in_transit"),
                (
                    shipped + Duration::hours(5) + jitter,
                    origin,
                    "Departed the sorting centre",
                    "in_transit",
                ),
                (
                    shipped + Duration::hours(20) + jitter,
                    hub,
                    "Arrived at the regional hub",
                    "in_transit",
                ),
                (
                    shipped + Duration::hours(34) + jitter,
                    destination.as_str(),
                    "Arrived at the delivery depot",
                    "in_transit",
                ),
            ];
            let cutoff = match s.delivered_at {
                Some(delivered) => delivered - Duration::hours(4),
                None => now,
            };
            checkpoints.extend(
                plan.into_iter()
                    .filter(|(at, ..)| *at <= cutoff)
                    .map(|(at, place, what, st)| checkpoint(at, place, what, st)),
            );
            let last = checkpoints.last().map(|c| c.at).unwrap_or(shipped);
            if let Some(delivered) = s.delivered_at {
                let out = (delivered - Duration::hours(4)).max(last).min(delivered);
                checkpoints.push(checkpoint(
                    out,
                    &destination,
                    "Out for delivery",
                    "out_for_delivery",
                ));
                checkpoints.push(checkpoint(
                    delivered,
                    &destination,
                    "Delivered",
                    "delivered",
                ));
            } else if s.status == "out_for_delivery" {
                let out = (last + Duration::hours(2)).min(now).max(last);
                checkpoints.push(checkpoint(
                    out,
                    &destination,
                    "Out for delivery",
                    "out_for_delivery",
                ));
            }
        }
    }
    Tracking {
        tracking_number: s.tracking_number.clone(),
        carrier: s.carrier.clone(),
        status,
        eta: s.eta,
        delivered_at: s.delivered_at,
        checkpoints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::OrderStatus;

    /// A one-line order shipped on 2026-01-06 (and delivered two days later when
    /// `status` is delivered), as the seeder writes it.
    fn order_in(status: OrderStatus) -> Order {
        let delivered = status == OrderStatus::Delivered;
        let shipped_at = "2026-01-06T05:00:00Z".parse::<DateTime<Utc>>().unwrap();
        serde_json::from_value(serde_json::json!({
            "id": "ord_000001", "tenant_id": "t", "number": "100001",
            "customer_id": "cus_0001", "email": "cus_0001@example.test",
            "status": status, "currency": "EUR", "placed_at": "2026-01-05T09:00:00Z",
            "lines": [{"id": "lin_000001_1", "sku": "SKU-MUG", "name": "Stoneware mug",
                       "qty": 1, "unit_price_minor": 1499, "total_minor": 1499}],
            "totals": {"subtotal_minor": 1499, "shipping_minor": 499, "tax_minor": 299,
                       "total_minor": 2297},
            "payments": [],
            "shipments": [{
                "id": "shp_000001_1", "carrier": "DHL", "tracking_number": "TRK7000000000",
                "status": if delivered { "delivered" } else { "in_transit" },
                "lines": [{"line_id": "lin_000001_1", "qty": 1}],
                "shipped_at": shipped_at, "eta": shipped_at + Duration::days(3),
                "delivered_at": delivered.then(|| shipped_at + Duration::days(2)),
            }],
            "shipping_address": {"name": "Customer 1", "line1": "1 Market Street",
                "city": "Berlin", "postal_code": "10115", "country": "DE"},
            "version": 1, "updated_at": "2026-01-05T09:00:00Z",
        }))
        .unwrap()
    }

    #[test]
    fn delivered_parcel_ends_delivered_at_the_customer_address() {
        let o = order_in(OrderStatus::Delivered);
        let t = tracking_of(&o, &o.shipments[0], Utc::now());
        assert_eq!(t.status, "delivered");
        let last = t.checkpoints.last().unwrap();
        assert_eq!(
            (last.status.as_str(), last.at),
            ("delivered", o.shipments[0].delivered_at.unwrap())
        );
        assert!(last.location.starts_with(&o.shipping_address.city));
        assert_eq!(t.checkpoints.len(), 7);
        assert!(t.checkpoints.windows(2).all(|w| w[0].at <= w[1].at));
    }

    #[test]
    fn in_transit_parcel_shows_only_past_scans_and_is_deterministic() {
        let o = order_in(OrderStatus::Shipped);
        let s = &o.shipments[0];
        let shipped = s.shipped_at.unwrap();
        let early = tracking_of(&o, s, shipped + Duration::hours(1));
        assert_eq!(early.checkpoints.len(), 2, "{early:?}");
        assert!(
            early
                .checkpoints
                .iter()
                .all(|c| c.at <= shipped + Duration::hours(1))
        );
        let later = tracking_of(&o, s, shipped + Duration::days(3));
        assert_eq!(later.checkpoints.len(), 5);
        assert_eq!(later.status, "in_transit");
        assert_eq!(later, tracking_of(&o, s, shipped + Duration::days(3)));
        let mut other = s.clone();
        other.tracking_number = "TRK-OTHER-1".into();
        let differs = tracking_of(&o, &other, shipped + Duration::days(3));
        assert_ne!(
            differs.checkpoints, later.checkpoints,
            "places and minutes follow the number"
        );
    }
}
