//! The documents the sandbox stores and answers, as `docs/upstream-contract.md` defines them:
//! the canonical order, the RMA and the carrier's tracking view. orderdesk has its own copy
//! of these shapes (its upstream client reads them); this is the contract seen from the
//! services' side, so neither can change it alone without a test noticing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    OnHold,
    PartiallyShipped,
    Shipped,
    Delivered,
    Cancelled,
    Closed,
}

impl OrderStatus {
    const ALL: [OrderStatus; 8] = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::OnHold,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Closed,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::OnHold => "on_hold",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<OrderStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub qty: i32,
    pub unit_price_minor: i64,
    pub total_minor: i64,
    /// Customs data of the SKU, kept as given (absent when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hs_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub subtotal_minor: i64,
    pub shipping_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount_minor: i64,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub id: String,
    /// `authorized`, `captured`, `partially_refunded`, `refunded` or `voided`.
    pub status: String,
    pub method: String,
    pub amount_minor: i64,
    pub refunded_minor: i64,
    #[serde(default)]
    pub refunds: Vec<Refund>,
    /// Captures of an authorized payment (one, possibly partial); absent for a payment
    /// captured when it was taken, whose captured amount is `amount_minor`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captures: Vec<Capture>,
    /// The payout that settled the payment, once the processor settled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement: Option<Settlement>,
}

impl Payment {
    /// The money taken: the captures' sum, or the whole amount of a payment captured when
    /// it was taken; nothing while it is only authorized (or voided).
    pub fn captured_minor(&self) -> i64 {
        if !self.captures.is_empty() {
            return self.captures.iter().map(|c| c.amount_minor).sum();
        }
        match self.status.as_str() {
            "captured" | "partially_refunded" | "refunded" => self.amount_minor,
            _ => 0,
        }
    }

    /// What can still be refunded: captured and not yet refunded.
    pub fn refundable_minor(&self) -> i64 {
        (self.captured_minor() - self.refunded_minor).max(0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capture {
    pub id: String,
    pub amount_minor: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settlement {
    pub id: String,
    pub settled_at: DateTime<Utc>,
    pub amount_minor: i64,
    pub fee_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipmentLine {
    pub line_id: String,
    pub qty: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    pub id: String,
    pub carrier: String,
    pub tracking_number: String,
    /// `label_created`, `in_transit`, `out_for_delivery` or `delivered`.
    pub status: String,
    pub lines: Vec<ShipmentLine>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub eta: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// The canonical order document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub tenant_id: String,
    pub number: String,
    pub customer_id: String,
    pub email: String,
    pub status: OrderStatus,
    pub currency: String,
    pub placed_at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
    pub totals: Totals,
    pub payments: Vec<Payment>,
    pub shipments: Vec<Shipment>,
    pub shipping_address: Address,
    /// Incremented on every change.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub cancel_reason: Option<String>,
    /// The service's fraud risk assessment of the order, when it made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    /// `review`, `cleared` or `confirmed`; absent when never flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud_state: Option<String>,
    /// What the service stores without acting on it (channel, tags, notes…): kept and
    /// answered as given, so an order read back, changed or sent in an event is whole.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A fraud risk assessment: a score of 0 to 100 and the rules that triggered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Risk {
    pub score: u8,
    #[serde(default)]
    pub rules: Vec<String>,
}

/// `return` (money back) or `exchange` (a replacement ships).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RmaKind {
    Return,
    Exchange,
}

/// One line of an RMA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RmaLine {
    pub line_id: String,
    pub qty: i32,
    pub reason: String,
    /// Exchanges: the SKU that ships instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement_sku: Option<String>,
}

/// A return merchandise authorization of the Returns API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rma {
    pub id: String,
    pub order_id: String,
    pub kind: RmaKind,
    /// `requested` when created; `approved`, then `inspected` (after the first
    /// inspection); also `received`, `closed` or `cancelled`.
    pub status: String,
    pub method: String,
    #[serde(default)]
    pub preferred_refund: Option<String>,
    pub lines: Vec<RmaLine>,
    #[serde(default)]
    pub label_url: Option<String>,
    pub instructions: String,
    pub created_at: DateTime<Utc>,
    /// Set once the return was approved.
    #[serde(default)]
    pub approval: Option<RmaApproval>,
    /// Every inspection of the returned goods, oldest first.
    #[serde(default)]
    pub inspections: Vec<RmaInspection>,
}

/// How an approved return comes back: a label the customer prints, or a courier pickup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RmaApproval {
    /// `label` or `pickup`.
    pub method: String,
    pub approved_at: DateTime<Utc>,
}

/// One inspection of the returned goods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RmaInspection {
    pub id: String,
    /// `new`, `like_new`, `used` or `damaged`.
    pub condition: String,
    pub restockable: bool,
    /// `refund`, `store_credit`, `replace` or `reject`.
    pub disposition: String,
    #[serde(default)]
    pub notes: Option<String>,
    /// Whether this inspection put the returned units back in stock (only the first
    /// restockable one does).
    pub restocked: bool,
    pub inspected_at: DateTime<Utc>,
}

/// One scan of a parcel by its carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub at: DateTime<Utc>,
    /// City and country code, e.g. `Leipzig, DE`.
    pub location: String,
    pub description: String,
    /// The parcel's status after this scan.
    pub status: String,
}

/// A carrier's live view of one parcel (`/tracking/v1/trackings/{tracking_number}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracking {
    pub tracking_number: String,
    pub carrier: String,
    /// `label_created`, `in_transit`, `out_for_delivery` or `delivered`.
    pub status: String,
    pub eta: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Oldest first.
    pub checkpoints: Vec<Checkpoint>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_keeps_the_fields_the_service_does_not_act_on() {
        let doc = serde_json::json!({
            "id": "ord_1", "tenant_id": "t", "number": "1", "customer_id": "c", "email": "e",
            "status": "confirmed", "currency": "EUR", "placed_at": "2026-01-05T09:00:00Z",
            "lines": [], "totals": {"subtotal_minor": 0, "shipping_minor": 0, "tax_minor": 0,
            "total_minor": 0}, "payments": [], "shipments": [],
            "shipping_address": {"name": "n", "line1": "l", "city": "c", "postal_code": "p",
            "country": "DE"}, "version": 1, "updated_at": "2026-01-05T09:00:00Z",
            "channel": "web", "tags": ["vip"], "risk": {"score": 40, "rules": ["high_value"]}
        });
        let order: Order = serde_json::from_value(doc).unwrap();
        assert_eq!(order.risk.as_ref().map(|r| r.score), Some(40));
        let back = serde_json::to_value(&order).unwrap();
        assert_eq!(back["channel"], "web");
        assert_eq!(back["tags"][0], "vip");
        assert_eq!(back["risk"]["rules"][0], "high_value");
    }
}

/// One line of a fulfilment: units of an order line picked at the warehouse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FulfillmentLine {
    pub line_id: String,
    pub qty: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serials: Vec<String>,
}

/// A fulfilment of the Fulfillment service: units of an order reserved at a warehouse,
/// `open` until shipped (its `shipment_id` then names the order's shipment) or cancelled
/// (its units back in the warehouse's stock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fulfillment {
    pub id: String,
    pub order_id: String,
    pub warehouse: String,
    /// `open`, `shipped` or `cancelled`.
    pub status: String,
    pub lines: Vec<FulfillmentLine>,
    pub ship_after: Option<DateTime<Utc>>,
    pub shipment_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
