//! What changed in an order's shipments between two versions of the order: the updates a
//! subscriber (email, SMS, push) is told about. A new shipment or a new shipment status is
//! an update; a changed ETA alone is not (carriers revise it many times a day).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{CustomerId, OrderId};
use super::order::{Order, Shipment};

/// The input of the `notify_shipment_update` workflow: one step per channel, each run only
/// when `channels.<channel>` is true (see workflows.toml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentNoticeInput {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub order_number: String,
    pub updates: Vec<ShipmentUpdate>,
    /// The channels subscribed when the news arrived.
    pub channels: std::collections::BTreeMap<String, bool>,
}

impl ShipmentNoticeInput {
    /// The notice of `updates` to `order`'s customer on each of `channels` (those
    /// subscribed now).
    pub fn new<'a>(
        order: &Order,
        updates: Vec<ShipmentUpdate>,
        channels: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        ShipmentNoticeInput {
            order_id: order.id.clone(),
            customer_id: order.customer_id.clone(),
            order_number: order.number.clone(),
            updates,
            // which steps of the workflow apply (their `when`)
            channels: channels
                .into_iter()
                .map(|c| (c.to_string(), true))
                .collect(),
        }
    }
}

/// One shipment's news, as sent to subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentUpdate {
    pub shipment_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub status: String,
    /// A line for the message, e.g. "On its way with DHL".
    pub title: String,
    pub eta: Option<DateTime<Utc>>,
}

/// The customer-facing line for a shipment status.
pub fn title(shipment: &Shipment) -> String {
    match shipment.status.as_str() {
        "label_created" => format!("Label created with {}", shipment.carrier),
        "in_transit" => format!("On its way with {}", shipment.carrier),
        "out_for_delivery" => "Out for delivery".into(),
        "delivered" => "Delivered".into(),
        other => format!("Shipment {}", other.replace('_', " ")),
    }
}

/// The shipments of `after` that are new or have another status than in `before` (no
/// `before`: every shipment is new), in the order of `after`.
pub fn changes(before: Option<&Order>, after: &Order) -> Vec<ShipmentUpdate> {
    after
        .shipments
        .iter()
        .filter(|s| {
            let earlier = before.and_then(|b| b.shipments.iter().find(|e| e.id == s.id));
            earlier.is_none_or(|e| e.status != s.status)
        })
        .map(|s| ShipmentUpdate {
            shipment_id: s.id.clone(),
            carrier: s.carrier.clone(),
            tracking_number: s.tracking_number.clone(),
            status: s.status.clone(),
            title: title(s),
            eta: s.eta,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo as seed;

    fn shipped_order() -> Order {
        seed::demo_orders(&crate::ids::TenantId::new("t"), 4, 40)
            .into_iter()
            .find(|o| !o.shipments.is_empty())
            .expect("a shipped demo order")
    }

    #[test]
    fn a_notice_goes_to_each_subscribed_channel() {
        let order = shipped_order();
        let notice = ShipmentNoticeInput::new(&order, changes(None, &order), ["email", "sms"]);
        assert_eq!(notice.order_number, order.number);
        assert_eq!(notice.updates.len(), order.shipments.len());
        let channels: Vec<_> = notice
            .channels
            .iter()
            .map(|(c, on)| (c.as_str(), *on))
            .collect();
        assert_eq!(channels, [("email", true), ("sms", true)]);
    }

    #[test]
    fn only_new_shipments_and_new_statuses_are_updates() {
        let before = shipped_order();
        assert_eq!(changes(Some(&before), &before), vec![]);

        let mut eta_only = before.clone();
        eta_only.shipments[0].eta = Some(Utc::now());
        assert_eq!(
            changes(Some(&before), &eta_only),
            vec![],
            "an ETA alone is no news"
        );

        let mut moved = before.clone();
        moved.shipments[0].status = "out_for_delivery".into();
        let updates = changes(Some(&before), &moved);
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].shipment_id, before.shipments[0].id);
        assert_eq!(updates[0].title, "Out for delivery");

        let mut unshipped = before.clone();
        unshipped.shipments.clear();
        assert_eq!(
            changes(Some(&unshipped), &before).len(),
            before.shipments.len(),
            "every shipment is new"
        );
        assert_eq!(changes(None, &before).len(), before.shipments.len());
    }
}
