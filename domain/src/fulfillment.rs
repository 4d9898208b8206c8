//! How far an order's goods have gone, read from its shipments: the admin order view's
//! `expand=fulfillment` and the `primary_shipment_status` of the customer's order list.

use serde::Serialize;
use utoipa::ToSchema;

use crate::order::{Order, OrderStatus, Shipment};

/// A shipment's statuses from least to most advanced (`Shipment::status`).
pub const SHIPMENT_PROGRESS: [&str; 4] = [
    "label_created",
    "in_transit",
    "out_for_delivery",
    "delivered",
];

/// How advanced a shipment status is; one the progression does not know counts as the least
/// advanced, so it is never hidden behind a known one.
fn progress(status: &str) -> usize {
    SHIPMENT_PROGRESS
        .iter()
        .position(|s| *s == status)
        .map_or(0, |p| p + 1)
}

/// The status a one-line summary of the order shows for its parcels: the least advanced
/// status among its shipments (what the customer still waits for: `in_transit` while one
/// parcel travels and another was delivered; `delivered` once all are); among shipments
/// equally advanced, the most recent one's. `None` when nothing shipped.
pub fn primary_shipment_status(order: &Order) -> Option<&str> {
    order
        .shipments
        .iter()
        .enumerate()
        // least advanced first; then the latest shipped (a later position breaks ties)
        .min_by_key(|(i, s)| (progress(&s.status), std::cmp::Reverse((s.shipped_at, *i))))
        .map(|(_, s)| s.status.as_str())
}

/// `unfulfilled` without a shipment, `partial` while the order is partially shipped, else
/// the least advanced shipment status: the search's `fulfillment_status` (migration 0010).
pub fn fulfillment_status(order: &Order) -> &str {
    match primary_shipment_status(order) {
        None => "unfulfilled",
        Some(_) if order.status == OrderStatus::PartiallyShipped => "partial",
        Some(status) => status,
    }
}

/// One order line: how much of it was ordered and how much shipped so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LineFulfillment {
    pub line_id: String,
    pub sku: String,
    pub ordered: i32,
    pub shipped: i32,
}

/// The order's fulfilment as the read model knows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FulfillmentView {
    /// See [`fulfillment_status`].
    pub status: String,
    pub lines: Vec<LineFulfillment>,
    pub shipments: Vec<Shipment>,
}

impl FulfillmentView {
    pub fn of(order: &Order) -> FulfillmentView {
        let shipped = |line_id: &str| -> i32 {
            order
                .shipments
                .iter()
                .flat_map(|s| &s.lines)
                .filter(|l| l.line_id == line_id)
                .map(|l| l.qty)
                .sum()
        };
        FulfillmentView {
            status: fulfillment_status(order).to_string(),
            lines: order
                .lines
                .iter()
                .map(|l| LineFulfillment {
                    line_id: l.id.clone(),
                    sku: l.sku.clone(),
                    ordered: l.qty,
                    shipped: shipped(&l.id),
                })
                .collect(),
            shipments: order.shipments.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_orders;
    use crate::ids::TenantId;

    fn with_shipments(statuses: &[&str]) -> Order {
        let mut order = demo_orders(&TenantId::new("t"), 1, 8)
            .into_iter()
            .find(|o| !o.shipments.is_empty())
            .unwrap();
        let template = order.shipments[0].clone();
        order.shipments = statuses
            .iter()
            .map(|s| Shipment {
                status: s.to_string(),
                ..template.clone()
            })
            .collect();
        order
    }

    #[test]
    fn the_primary_status_is_the_least_advanced_parcel() {
        assert_eq!(primary_shipment_status(&with_shipments(&[])), None);
        let o = with_shipments(&["delivered", "in_transit"]);
        assert_eq!(primary_shipment_status(&o), Some("in_transit"));
        let o = with_shipments(&["delivered", "delivered"]);
        assert_eq!(primary_shipment_status(&o), Some("delivered"));
        let o = with_shipments(&["delivered", "lost_at_sea"]);
        assert_eq!(primary_shipment_status(&o), Some("lost_at_sea"));
    }

    #[test]
    fn fulfillment_counts_what_shipped_of_each_line() {
        let o = with_shipments(&["in_transit"]);
        let view = FulfillmentView::of(&o);
        assert_eq!(view.shipments.len(), 1);
        let shipped: i32 = view.lines.iter().map(|l| l.shipped).sum();
        let expected: i32 = o.shipments[0].lines.iter().map(|l| l.qty).sum();
        assert_eq!(shipped, expected);
        assert_ne!(view.status, "unfulfilled");
    }
}
